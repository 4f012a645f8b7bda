//! Step 5 of the runbook: what the cycle asks the exchange for, and turning
//! the answer into the BTC snapshot and trend indicators the plan needs.
//! Separate from the runner because this is the shell's only work on
//! market data: the runbook just asks for a reading.

use std::collections::BTreeMap;

use crate::domain::pool::Universe;
use crate::domain::report::Status;
use crate::domain::snapshot::{BtcSnapshot, Indicators, MarketData, Series};
use crate::domain::state::StateDoc;
use crate::indicators::{SignalMemo, Windows};
use crate::ports::{Exchange, MarketRequest, Notifier, StateStore};
use crate::shell::effects::Executor;
use crate::shell::runner::{Shell, Stop};
use crate::strategy::cycle::{BNB_SYMBOL, BTC_SYMBOL, USDT, conditions};

/// The market as this cycle read it: the exchange's answer and the signals
/// computed from its series.
pub(super) struct MarketReading {
    pub market: MarketData,
    pub btc: BtcSnapshot,
    pub indicators: BTreeMap<String, Indicators>,
}

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// Reads the market for every symbol the state still holds and the
    /// official pool. An unreadable market aborts the cycle; missing BTC
    /// signals stop it; a symbol without indicators is a warning (it cannot
    /// be selected), as is an exchange without Simple Earn.
    pub(super) async fn read_market(&mut self, state: &StateDoc, official: &Universe) -> Result<MarketReading, Stop> {
        let runtime = state.runtime_universe(official);
        let request = market_request(&runtime, official);
        let market = self
            .run
            .exchange
            .market_data(&request)
            .await
            .map_err(|e| (Status::Aborted, "exchange", format!("could not read market data: {e}")))?;
        if let Some(why) = &market.earn_unavailable {
            self.report
                .warnings
                .push(format!("Simple Earn is unavailable on this exchange; the cycle runs without it: {why}"));
        }
        let fresh = SignalMemo::default();
        let memo = self.run.memo.unwrap_or(&fresh);
        let windows = self.run.settings.strategy.params.windows();
        let (btc, mut indicators) =
            signals(&market, official, memo, &windows).map_err(|e| (Status::Error, "snapshot", e))?;
        let stale = stale_series(&market.series, self.run.now);
        for (symbol, newest) in &stale {
            self.observed.push(conditions::market_data_stale(symbol, *newest));
            // No new entry on prices that stopped: a symbol the state does
            // not hold loses its indicators (it cannot be selected); a held
            // one keeps them, so its sells and stops still run.
            if !holds(state, symbol) && indicators.remove(symbol).is_some() {
                self.report.warnings.push(format!(
                    "{symbol}: daily klines stale (newest older than {} days); no new entry this cycle",
                    conditions::MARKET_STALE_AFTER_DAYS
                ));
            }
        }
        let said = |s: &String| stale.iter().any(|(stale, _)| stale == s);
        for symbol in official.keys().filter(|s| !indicators.contains_key(*s) && !said(s)) {
            self.report.warnings.push(format!("{symbol}: no indicators this cycle; it cannot be selected"));
        }
        Ok(MarketReading { market, btc, indicators })
    }
}

/// Whether the trend sleeve holds `symbol` (in the pool or retired).
fn holds(state: &StateDoc, symbol: &str) -> bool {
    state.positions.get(symbol).is_some_and(|p| p.is_holding) || state.retired.contains_key(symbol)
}

/// The symbols whose daily series is stale at `now`, with the open time
/// (ms) of their newest candle: BTC, then every pool symbol read. Injected
/// series (replays, paper fixtures) carry no candles and are never stale.
fn stale_series(series: &Series, now: chrono::DateTime<chrono::Utc>) -> Vec<(String, Option<i64>)> {
    let Series::Klines { btc, symbols } = series else { return Vec::new() };
    let newest = |klines: &[crate::domain::snapshot::Kline]| klines.iter().map(|k| k.open_time).max();
    std::iter::once((BTC_SYMBOL.to_string(), newest(btc)))
        .chain(symbols.iter().map(|(s, k)| (s.clone(), newest(k))))
        .filter(|(_, open)| conditions::market_is_stale(*open, now))
        .collect()
}

/// Everything the cycle reads from the exchange for this universe.
pub fn market_request(runtime: &Universe, official: &Universe) -> MarketRequest {
    let mut assets: Vec<String> = vec![USDT.into(), "BTC".into(), "BNB".into()];
    let mut symbols: Vec<String> = vec![BTC_SYMBOL.into(), BNB_SYMBOL.into()];
    for (symbol, base) in runtime {
        if !assets.contains(base) {
            assets.push(base.clone());
        }
        if !symbols.contains(symbol) {
            symbols.push(symbol.clone());
        }
    }
    let kline_symbols = official.keys().filter(|s| s.as_str() != BTC_SYMBOL).cloned().collect();
    MarketRequest { assets, symbols, kline_symbols }
}

/// BTC snapshot and trend indicators (official pool only: retired symbols
/// get none, which is how they are liquidated, behaviour.md §12.5),
/// through `memo` (what earlier cycles of a backtest already computed).
fn signals(
    market: &MarketData,
    official: &Universe,
    memo: &SignalMemo,
    windows: &Windows,
) -> Result<(BtcSnapshot, BTreeMap<String, Indicators>), String> {
    match &market.series {
        Series::Injected { btc, indicators } => {
            let btc = btc.clone().ok_or("BTC indicators insufficient: the snapshot has no btc_snapshot")?;
            let ind = indicators
                .iter()
                .filter(|(s, _)| official.contains_key(*s))
                .map(|(s, i)| (s.clone(), i.clone()))
                .collect();
            Ok((btc, ind))
        }
        Series::Klines { btc, symbols } => {
            let price = market
                .prices
                .get(BTC_SYMBOL)
                .and_then(rust_decimal::prelude::ToPrimitive::to_f64)
                .ok_or("BTC indicators insufficient: no BTCUSDT price")?;
            let btc =
                memo.btc_snapshot(BTC_SYMBOL, btc, price).map_err(|e| format!("BTC indicators insufficient: {e}"))?;
            let ind = symbols
                .iter()
                .filter(|(s, _)| official.contains_key(*s))
                .filter_map(|(s, k)| memo.daily_indicators(s, k, windows).map(|i| (s.clone(), i)))
                .collect();
            Ok((btc, ind))
        }
    }
}
