//! What the exchange told us at the start of a cycle: balances, prices, rules,
//! and the daily series the indicators are computed from.
//!
//! Money is `Decimal`; indicator values are `f64` because they only feed
//! scores and comparisons, never an amount sent to the exchange.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::rules::SymbolRules;

/// One asset's holdings: spot free, spot locked and Simple Earn flexible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetBalance {
    pub free: Decimal,
    pub locked: Decimal,
    pub earn: Decimal,
}

impl AssetBalance {
    /// Everything the account owns of the asset (what equity is valued on).
    pub fn total(&self) -> Decimal {
        self.free + self.locked + self.earn
    }

    /// What can be sold right now once Earn is redeemed; locked funds never count.
    pub fn sellable(&self) -> Decimal {
        self.free + self.earn
    }
}

/// One daily candle as Binance returns it (`GET /api/v3/klines`, interval 1d).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Kline {
    /// Open time in milliseconds since the epoch.
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Base-asset volume.
    pub volume: f64,
}

/// Daily indicators of one trend symbol (behaviour.md §5.6).
///
/// Fields are optional because injected snapshots (replay, paper) may omit
/// some; the strategy reports which ones were missing instead of guessing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Indicators {
    pub close: Option<f64>,
    pub sma20: Option<f64>,
    pub sma60: Option<f64>,
    pub sma200: Option<f64>,
    pub roc20: Option<f64>,
    pub roc60: Option<f64>,
    pub roc120: Option<f64>,
    pub vol20: Option<f64>,
    pub atr14: Option<f64>,
    pub avg_quote_vol_30: Option<f64>,
    pub avg_quote_vol_90: Option<f64>,
    pub avg_quote_vol_180: Option<f64>,
    pub trend_persist_90: Option<f64>,
    pub age_days: Option<u32>,
}

/// BTC regime and valuation inputs (behaviour.md §5.5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BtcSnapshot {
    pub ma200: Option<f64>,
    pub zscore: Option<f64>,
    pub geom200: Option<f64>,
    pub sell_trigger: Option<f64>,
    pub ma200_slope: Option<f64>,
    /// Price over the 200-day geometric mean (the reference's "ahr999").
    pub ahr999: Option<f64>,
    pub btc_roc20: Option<f64>,
    pub btc_roc60: Option<f64>,
    pub btc_roc120: Option<f64>,
    pub regime_on: Option<bool>,
}

impl BtcSnapshot {
    /// The three momentum values candidate selection needs, if all are present.
    pub fn momentum(&self) -> Option<(f64, f64, f64)> {
        Some((self.btc_roc20?, self.btc_roc60?, self.btc_roc120?))
    }
}

/// Where the daily series came from: computed from klines, or injected whole
/// (replay fixtures and paper mode without klines).
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    Klines { btc: Vec<Kline>, symbols: BTreeMap<String, Vec<Kline>> },
    Injected { btc: Option<BtcSnapshot>, indicators: BTreeMap<String, Indicators> },
}

/// Everything read from the exchange before planning.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketData {
    /// By asset (`USDT`, `BTC`, `ETH`, ...).
    pub balances: BTreeMap<String, AssetBalance>,
    /// Five-minute average price by symbol.
    pub prices: BTreeMap<String, Decimal>,
    /// Exchange filters by symbol; a symbol without an entry uses the
    /// reference's fallback (floor to 4 decimals).
    pub rules: BTreeMap<String, SymbolRules>,
    /// Simple Earn flexible product id by asset.
    pub earn_products: BTreeMap<String, String>,
    pub series: Series,
    /// Why Simple Earn was left out (the spot testnet has none), if it was.
    pub earn_unavailable: Option<String>,
}

impl MarketData {
    pub fn balance(&self, asset: &str) -> AssetBalance {
        self.balances.get(asset).copied().unwrap_or_default()
    }
}
