//! Trading pairs: what `exchangeInfo` lists for a symbol and how a MARKET
//! order is checked against its filters (filters.md: LOT_SIZE,
//! MARKET_LOT_SIZE, NOTIONAL, legacy MIN_NOTIONAL), plus the asset
//! precision behind `-1111`.
//!
//! Filters are kept as the JSON Binance sends, so the raw escape hatch and
//! the convenience constructor are checked by the same code.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::errors::ApiError;
use super::fmt8;

/// One symbol of `exchangeInfo` and the rules the fake applies to it.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolSpec {
    pub symbol: String,
    pub base_asset: String,
    pub quote_asset: String,
    /// `TRADING` unless set otherwise; anything else rejects orders with
    /// -2010 "Market is closed.".
    pub status: String,
    /// More decimals than this in `quantity` is `-1111`.
    pub base_asset_precision: u32,
    /// More decimals than this in `quoteOrderQty` is `-1111`.
    pub quote_asset_precision: u32,
    pub quote_order_qty_market_allowed: bool,
    /// The `filters` array exactly as served.
    pub filters: Vec<Value>,
    /// Base quantity the book can fill for one MARKET order; `None` means
    /// unlimited. A larger order fills partly and ends `EXPIRED`, as on
    /// Binance; a quote-quantity order on a book thinner than the minimum
    /// quantity is rejected.
    pub book_depth: Option<Decimal>,
    /// When set, served as the whole `exchangeInfo` entry instead of the
    /// generated one (its `filters` are then the ones applied).
    pub raw_entry: Option<Value>,
}

impl SymbolSpec {
    /// A trading symbol with filters shaped like BTCUSDT's: tick 0.01,
    /// LOT_SIZE step 0.00001 (min 0.00001, max 9000), MARKET_LOT_SIZE
    /// without a step, NOTIONAL min 5 applied to market orders.
    pub fn new(symbol: &str, base: &str, quote: &str) -> Self {
        let step = Decimal::new(1, 5);
        SymbolSpec {
            symbol: symbol.to_string(),
            base_asset: base.to_string(),
            quote_asset: quote.to_string(),
            status: "TRADING".to_string(),
            base_asset_precision: 8,
            quote_asset_precision: 8,
            quote_order_qty_market_allowed: true,
            filters: vec![
                price_filter(Decimal::new(1, 2), Decimal::from(1_000_000), Decimal::new(1, 2)),
                lot_filter("LOT_SIZE", step, Decimal::from(9000), step),
                lot_filter("MARKET_LOT_SIZE", Decimal::ZERO, Decimal::from(9000), Decimal::ZERO),
                notional_filter(Decimal::from(5), Decimal::from(9_000_000), true, false),
            ],
            book_depth: None,
            raw_entry: None,
        }
    }

    /// The usual convenience: LOT_SIZE step (and minimum) and the NOTIONAL
    /// minimum.
    pub fn with_step_and_min_notional(mut self, step: Decimal, min_notional: Decimal) -> Self {
        self = self.lot(step, Decimal::from(9000), step);
        self.notional(min_notional, Decimal::from(9_000_000), true, false)
    }

    pub fn lot(self, min_qty: Decimal, max_qty: Decimal, step: Decimal) -> Self {
        self.replace_filter(lot_filter("LOT_SIZE", min_qty, max_qty, step))
    }

    pub fn market_lot(self, min_qty: Decimal, max_qty: Decimal, step: Decimal) -> Self {
        self.replace_filter(lot_filter("MARKET_LOT_SIZE", min_qty, max_qty, step))
    }

    pub fn notional(self, min: Decimal, max: Decimal, apply_min_to_market: bool, apply_max_to_market: bool) -> Self {
        self.replace_filter(notional_filter(min, max, apply_min_to_market, apply_max_to_market))
    }

    /// Adds the legacy MIN_NOTIONAL filter (kept alongside NOTIONAL unless
    /// that is removed with [`SymbolSpec::without_filter`]).
    pub fn legacy_min_notional(self, min: Decimal, apply_to_market: bool) -> Self {
        self.replace_filter(json!({
            "filterType": "MIN_NOTIONAL",
            "minNotional": fmt8(min),
            "applyToMarket": apply_to_market,
            "avgPriceMins": 5,
        }))
    }

    pub fn tick(self, tick: Decimal) -> Self {
        self.replace_filter(price_filter(tick, Decimal::from(1_000_000), tick))
    }

    pub fn without_filter(mut self, filter_type: &str) -> Self {
        self.filters.retain(|f| f.get("filterType").and_then(Value::as_str) != Some(filter_type));
        self
    }

    /// Replaces the whole `filters` array with raw Binance JSON.
    pub fn raw_filters(mut self, filters: Vec<Value>) -> Self {
        self.filters = filters;
        self
    }

    /// Serves `entry` verbatim as this symbol's `exchangeInfo` entry.
    pub fn raw_entry(mut self, entry: Value) -> Self {
        if let Some(filters) = entry.get("filters").and_then(Value::as_array) {
            self.filters = filters.clone();
        }
        self.raw_entry = Some(entry);
        self
    }

    pub fn precision(mut self, base: u32, quote: u32) -> Self {
        self.base_asset_precision = base;
        self.quote_asset_precision = quote;
        self
    }

    pub fn book_depth(mut self, base_qty: Decimal) -> Self {
        self.book_depth = Some(base_qty);
        self
    }

    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_string();
        self
    }

    fn replace_filter(mut self, filter: Value) -> Self {
        let kind = filter.get("filterType").cloned();
        match self.filters.iter_mut().find(|f| f.get("filterType") == kind.as_ref()) {
            Some(existing) => *existing = filter,
            None => self.filters.push(filter),
        }
        self
    }

    /// The symbol's `exchangeInfo` entry.
    pub fn entry(&self) -> Value {
        if let Some(raw) = &self.raw_entry {
            return raw.clone();
        }
        json!({
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base_asset,
            "baseAssetPrecision": self.base_asset_precision,
            "quoteAsset": self.quote_asset,
            "quotePrecision": self.quote_asset_precision,
            "quoteAssetPrecision": self.quote_asset_precision,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": true,
            "ocoAllowed": true,
            "otoAllowed": true,
            "quoteOrderQtyMarketAllowed": self.quote_order_qty_market_allowed,
            "allowTrailingStop": true,
            "cancelReplaceAllowed": true,
            "amendAllowed": true,
            "isSpotTradingAllowed": true,
            "isMarginTradingAllowed": false,
            "filters": self.filters,
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"],
        })
    }

    fn lots(&self) -> impl Iterator<Item = (&'static str, Lot)> + '_ {
        self.filters.iter().filter_map(|f| match f.get("filterType").and_then(Value::as_str) {
            Some("LOT_SIZE") => Some(("LOT_SIZE", Lot::read(f))),
            Some("MARKET_LOT_SIZE") => Some(("MARKET_LOT_SIZE", Lot::read(f))),
            _ => None,
        })
    }

    /// The step a quote-quantity order's base quantity is floored to: the
    /// coarser of the two lot filters' steps, else the base precision.
    pub fn market_step(&self) -> Decimal {
        self.lots()
            .map(|(_, l)| l.step)
            .filter(|s| *s > Decimal::ZERO)
            .max()
            .unwrap_or_else(|| Decimal::new(1, self.base_asset_precision))
    }

    /// The largest minimum quantity of the lot filters, with the filter
    /// name for the liquidity message.
    pub fn min_qty(&self) -> (&'static str, Decimal) {
        self.lots().map(|(n, l)| (n, l.min)).max_by_key(|(_, m)| *m).unwrap_or(("LOT_SIZE", Decimal::ZERO))
    }

    /// Checks a MARKET order's base quantity and notional against the
    /// filters, in the order they are listed.
    pub fn check_market(&self, qty: Decimal, notional: Decimal) -> Result<(), ApiError> {
        for filter in &self.filters {
            let kind = filter.get("filterType").and_then(Value::as_str).unwrap_or("");
            let failed = match kind {
                "LOT_SIZE" | "MARKET_LOT_SIZE" => !Lot::read(filter).allows(qty),
                "NOTIONAL" => {
                    let min = num(filter, "minNotional");
                    let max = num(filter, "maxNotional");
                    let apply_min = flag(filter, "applyMinToMarket", true);
                    let apply_max = flag(filter, "applyMaxToMarket", false);
                    (apply_min && notional < min) || (apply_max && max > Decimal::ZERO && notional > max)
                }
                "MIN_NOTIONAL" => flag(filter, "applyToMarket", true) && notional < num(filter, "minNotional"),
                _ => false,
            };
            if failed {
                return Err(ApiError::filter(kind));
            }
        }
        Ok(())
    }
}

/// minQty / maxQty / stepSize of a lot filter; zero disables a bound.
#[derive(Debug, Clone, Copy)]
struct Lot {
    min: Decimal,
    max: Decimal,
    step: Decimal,
}

impl Lot {
    fn read(f: &Value) -> Lot {
        Lot { min: num(f, "minQty"), max: num(f, "maxQty"), step: num(f, "stepSize") }
    }

    /// filters.md: `quantity >= minQty`, `quantity <= maxQty`,
    /// `(quantity - minQty) % stepSize == 0`.
    fn allows(&self, qty: Decimal) -> bool {
        if qty < self.min || (self.max > Decimal::ZERO && qty > self.max) {
            return false;
        }
        self.step <= Decimal::ZERO || ((qty - self.min) % self.step).is_zero()
    }
}

fn num(f: &Value, field: &str) -> Decimal {
    match f.get(field) {
        Some(Value::String(s)) => Decimal::from_str(s.trim()).unwrap_or_default(),
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string()).unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

fn flag(f: &Value, field: &str, default: bool) -> bool {
    f.get(field).and_then(Value::as_bool).unwrap_or(default)
}

fn price_filter(min: Decimal, max: Decimal, tick: Decimal) -> Value {
    json!({"filterType": "PRICE_FILTER", "minPrice": fmt8(min), "maxPrice": fmt8(max), "tickSize": fmt8(tick)})
}

fn lot_filter(kind: &str, min: Decimal, max: Decimal, step: Decimal) -> Value {
    json!({"filterType": kind, "minQty": fmt8(min), "maxQty": fmt8(max), "stepSize": fmt8(step)})
}

fn notional_filter(min: Decimal, max: Decimal, apply_min: bool, apply_max: bool) -> Value {
    json!({
        "filterType": "NOTIONAL",
        "minNotional": fmt8(min),
        "applyMinToMarket": apply_min,
        "maxNotional": fmt8(max),
        "applyMaxToMarket": apply_max,
        "avgPriceMins": 5,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn lot_step_is_measured_from_min_qty() {
        let s = SymbolSpec::new("BTCUSDT", "BTC", "USDT").lot(d("0.001"), d("10"), d("0.001"));
        assert!(s.check_market(d("0.002"), d("100")).is_ok());
        assert_eq!(s.check_market(d("0.0025"), d("100")).unwrap_err().msg, "Filter failure: LOT_SIZE");
        assert_eq!(s.check_market(d("11"), d("100")).unwrap_err().msg, "Filter failure: LOT_SIZE");
        assert_eq!(s.check_market(d("0.002"), d("4.99")).unwrap_err().msg, "Filter failure: NOTIONAL");
    }

    #[test]
    fn legacy_min_notional_applies_only_to_market_when_asked() {
        let s = SymbolSpec::new("X", "A", "B").without_filter("NOTIONAL").legacy_min_notional(d("10"), true);
        assert_eq!(s.check_market(d("1"), d("9")).unwrap_err().msg, "Filter failure: MIN_NOTIONAL");
        let off = SymbolSpec::new("X", "A", "B").without_filter("NOTIONAL").legacy_min_notional(d("10"), false);
        assert!(off.check_market(d("1"), d("9")).is_ok());
    }

    #[test]
    fn market_step_is_the_coarser_lot_step() {
        let s =
            SymbolSpec::new("X", "A", "B").lot(d("0.01"), d("100"), d("0.01")).market_lot(d("0"), d("50"), d("0.1"));
        assert_eq!(s.market_step(), d("0.1"));
        let no_step = SymbolSpec::new("X", "A", "B").without_filter("LOT_SIZE").without_filter("MARKET_LOT_SIZE");
        assert_eq!(no_step.market_step(), d("0.00000001"));
    }
}
