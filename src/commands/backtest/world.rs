//! The simulated world a backtest's cycles run in, as data: the price
//! history read from `--data`, the market a cycle at time T may see, the
//! trend pool active at T, and the trading rules of each symbol. Separate
//! from the loop (`engine.rs`) because this is where "no look-ahead" is
//! decided, in one small function ([`History::market_at`]).
//!
//! No look-ahead: a cycle at T sees only candles that closed before T (open
//! time + interval ≤ T), daily ones for the indicators (cut to the lookback
//! the live adapter fetches) and, for its reference price, the close of the
//! last finished candle of the cadence (`1d` or `1h` files). Live, Binance
//! also returns the still-open daily candle; the backtest leaves it out on
//! purpose, since its values are only known once it has closed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

use crate::adapters::kline_files::{kline_path, read_klines};
use crate::domain::rules::SymbolRules;
use crate::domain::snapshot::Kline;
use crate::history::Interval;
use crate::indicators::{BTC_LOOKBACK_DAYS, TREND_LOOKBACK_DAYS};
use crate::paper::exchange::KlineWindows;
use crate::paper::fixture::FixtureSet;
use crate::strategy::cycle::{BNB_SYMBOL, BTC_SYMBOL};
use crate::upstream::ladder::{FetchOutcome, FreshSource};

/// Binance's minimum notional for USDT pairs, used for a symbol whose
/// rules the embedded fixture set does not carry.
const DEFAULT_MIN_NOTIONAL: Decimal = dec!(5);

/// Every candle of every symbol found in the data directory.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// `<SYMBOL>-1d.csv` of each symbol, oldest first (shared with the
    /// simulated exchange, which shows each cycle its part).
    pub daily: Arc<BTreeMap<String, Vec<Kline>>>,
    /// `<SYMBOL>-1h.csv` of each symbol (hourly cadence only).
    pub hourly: BTreeMap<String, Vec<Kline>>,
    pub cadence: Interval,
}

/// What a cycle at T may see.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarketAt {
    /// Reference price of each symbol with a finished candle before T.
    pub prices: BTreeMap<String, Decimal>,
    /// Finished daily candles of each symbol, cut to the live lookback.
    pub klines: KlineWindows,
}

impl History {
    /// Reads every `*-1d.csv` of `dir` (and the `-1h.csv` files at hourly
    /// cadence). BTCUSDT and BNBUSDT are required: the DCA sleeve and the
    /// fee fuel trade them. Errors name the file.
    pub fn load(dir: &Path, cadence: Interval) -> Result<History, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("--data {}: {e}", dir.display()))?;
        let mut symbols: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix("-1d.csv")).map(str::to_string))
            .collect();
        symbols.sort();
        for required in [BTC_SYMBOL, BNB_SYMBOL] {
            if !symbols.iter().any(|s| s == required) {
                return Err(format!(
                    "--data: {} is missing (fetch it with `tradecycle backtest fetch --symbols {required} --interval 1d`)",
                    kline_path(dir, required, Interval::Day).display()
                ));
            }
        }
        let (mut daily, mut hourly) = (BTreeMap::new(), BTreeMap::new());
        for symbol in symbols {
            if cadence == Interval::Hour {
                let path = kline_path(dir, &symbol, Interval::Hour);
                if !path.exists() {
                    return Err(format!("--cadence 1h: {} is missing", path.display()));
                }
                hourly.insert(symbol.clone(), read_klines(&path)?);
            }
            daily.insert(symbol.clone(), read_klines(&kline_path(dir, &symbol, Interval::Day))?);
        }
        Ok(History { daily: Arc::new(daily), hourly, cadence })
    }

    /// The market a cycle at `now` sees: nothing that had not closed yet.
    pub fn market_at(&self, now: DateTime<Utc>) -> MarketAt {
        let now_ms = now.timestamp_millis();
        let mut market = MarketAt { prices: BTreeMap::new(), klines: KlineWindows::new(Arc::clone(&self.daily)) };
        for (symbol, daily) in self.daily.iter() {
            let closed = finished(daily, Interval::Day, now_ms);
            let lookback = if symbol == BTC_SYMBOL { BTC_LOOKBACK_DAYS } else { TREND_LOOKBACK_DAYS } as usize;
            let priced = match self.cadence {
                Interval::Day => closed,
                Interval::Hour => self.hourly.get(symbol).map_or(&[][..], |h| finished(h, Interval::Hour, now_ms)),
            };
            let Some(last) = priced.last() else { continue };
            market.prices.insert(symbol.clone(), price_of(last.close));
            market.klines.show(symbol, closed.len().saturating_sub(lookback)..closed.len());
        }
        market
    }

    /// Every symbol with data.
    pub fn symbols(&self) -> impl Iterator<Item = &String> {
        self.daily.keys()
    }
}

/// The candles of `klines` that closed at or before `now_ms`.
fn finished(klines: &[Kline], interval: Interval, now_ms: i64) -> &[Kline] {
    let end = klines.partition_point(|k| k.open_time + interval.millis() <= now_ms);
    &klines[..end]
}

/// A CSV close as a decimal (its shortest exact text, so `0.1` is 0.1).
pub fn price_of(close: f64) -> Decimal {
    Decimal::from_str(&close.to_string()).unwrap_or_default().normalize()
}

/// Where the trend pool comes from during the run.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolPlan {
    /// Neither flag: the upstream is missing, so the ladder falls back to
    /// the built-in static universe (or a last-known-good it recorded).
    Static,
    /// `--pool FILE`: one payload, republished at every cycle (its
    /// `as_of_date` is set to the cycle's day, so it never goes stale).
    Fixed { label: String, payload: Value },
    /// `--pool-history FILE`: each payload is the upstream document from
    /// its `as_of_date` until the next one's; before the first, none.
    Dated { label: String, payloads: Vec<(NaiveDate, Value)> },
}

impl PoolPlan {
    /// Reads `--pool` or `--pool-history`; errors name the flag and file.
    pub fn load(pool: Option<&Path>, pool_history: Option<&Path>) -> Result<PoolPlan, String> {
        let read = |flag: &str, path: &Path| -> Result<Value, String> {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{flag} {}: not valid JSON: {e}", path.display()))
        };
        match (pool, pool_history) {
            (Some(_), Some(_)) => Err("--pool and --pool-history cannot be used together".into()),
            (None, None) => Ok(PoolPlan::Static),
            (Some(path), None) => Ok(PoolPlan::Fixed { label: label(path), payload: read("--pool", path)? }),
            (None, Some(path)) => {
                let Value::Array(items) = read("--pool-history", path)? else {
                    return Err(format!("--pool-history {}: expected a JSON array of payloads", path.display()));
                };
                let mut payloads = Vec::new();
                for (i, item) in items.into_iter().enumerate() {
                    let day = item
                        .get("as_of_date")
                        .and_then(Value::as_str)
                        .and_then(|d| NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d").ok())
                        .ok_or_else(|| {
                            format!("--pool-history {}: payload {i} has no as_of_date YYYY-MM-DD", path.display())
                        })?;
                    payloads.push((day, item));
                }
                payloads.sort_by_key(|(day, _)| *day);
                Ok(PoolPlan::Dated { label: label(path), payloads })
            }
        }
    }

    /// The upstream document a cycle at `now` reads (`None`: no upstream
    /// configured, as without Firestore and without an upstream file).
    pub fn fresh_at(&self, now: DateTime<Utc>) -> Option<FreshSource> {
        let today = now.date_naive();
        match self {
            PoolPlan::Static => None,
            PoolPlan::Fixed { label, payload } => {
                let mut payload = payload.clone();
                if let Some(obj) = payload.as_object_mut() {
                    obj.insert("as_of_date".into(), Value::String(today.to_string()));
                }
                Some(FreshSource { label: label.clone(), outcome: FetchOutcome::Found(payload) })
            }
            PoolPlan::Dated { label, payloads } => {
                let active = payloads.iter().rev().find(|(day, _)| *day <= today);
                let outcome = active.map_or(FetchOutcome::Missing, |(_, p)| FetchOutcome::Found(p.clone()));
                Some(FreshSource { label: label.clone(), outcome })
            }
        }
    }

    /// How the summary names it.
    pub fn describe(&self) -> String {
        match self {
            PoolPlan::Static => "static universe".into(),
            PoolPlan::Fixed { label, .. } | PoolPlan::Dated { label, .. } => label.clone(),
        }
    }
}

fn label(path: &Path) -> String {
    format!("backtest:{}", path.display())
}

/// Rules of every symbol with data: the embedded fixture set's (Binance's
/// real filters for the major pairs), otherwise a 0.0001 step and a 5 USDT
/// minimum notional.
pub fn symbol_rules<'a>(
    defaults: &FixtureSet,
    symbols: impl Iterator<Item = &'a String>,
) -> BTreeMap<String, SymbolRules> {
    symbols
        .map(|s| {
            let rules = defaults
                .rules
                .get(s)
                .cloned()
                .unwrap_or_else(|| SymbolRules { min_notional: Some(DEFAULT_MIN_NOTIONAL), ..SymbolRules::default() });
            (s.clone(), rules)
        })
        .collect()
}

/// A directory that never holds a pool file: the ladder's local rung finds
/// nothing there, so a backtest never picks up a pool lying around.
pub fn no_local_pool(data: &Path) -> PathBuf {
    data.join(".tradecycle-backtest-no-local-pool")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn k(day: i64, close: f64) -> Kline {
        Kline { open_time: day * 86_400_000, open: close, high: close, low: close, close, volume: 1.0 }
    }

    #[test]
    fn a_cycle_sees_only_candles_that_closed_before_it() {
        let history = History {
            daily: Arc::new(BTreeMap::from([(
                "BTCUSDT".to_string(),
                (0..5).map(|d| k(d, 100.0 + d as f64)).collect(),
            )])),
            hourly: BTreeMap::new(),
            cadence: Interval::Day,
        };
        // Day 3 00:00: candles of days 0..=2 have closed; day 3's has not.
        let at = Utc.timestamp_millis_opt(3 * 86_400_000).unwrap();
        let m = history.market_at(at);
        assert_eq!(m.klines.get("BTCUSDT").unwrap().len(), 3);
        assert_eq!(m.prices["BTCUSDT"], dec!(102));
        // One millisecond earlier day 2 is still open.
        let m = history.market_at(at - chrono::Duration::milliseconds(1));
        assert_eq!((m.klines.get("BTCUSDT").unwrap().len(), m.prices["BTCUSDT"]), (2, dec!(101)));
        assert!(history.market_at(Utc.timestamp_millis_opt(0).unwrap()).prices.is_empty());
    }

    #[test]
    fn dated_pools_are_active_from_their_day() {
        let p = |d: &str| serde_json::json!({ "as_of_date": d });
        let plan = PoolPlan::Dated {
            label: "x".into(),
            payloads: vec![
                (NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(), p("2025-01-01")),
                (NaiveDate::from_ymd_opt(2025, 2, 1).unwrap(), p("2025-02-01")),
            ],
        };
        let at = |m, d| plan.fresh_at(Utc.with_ymd_and_hms(2025, m, d, 0, 0, 0).unwrap()).unwrap().outcome;
        assert_eq!(at(1, 31), FetchOutcome::Found(p("2025-01-01")));
        assert_eq!(at(2, 1), FetchOutcome::Found(p("2025-02-01")));
        let before = plan.fresh_at(Utc.with_ymd_and_hms(2024, 12, 31, 0, 0, 0).unwrap()).unwrap();
        assert_eq!(before.outcome, FetchOutcome::Missing);
        let fixed = PoolPlan::Fixed { label: "y".into(), payload: p("2020-01-01") };
        assert_eq!(
            fixed.fresh_at(Utc.with_ymd_and_hms(2025, 3, 4, 5, 0, 0).unwrap()).unwrap().outcome,
            FetchOutcome::Found(p("2025-03-04"))
        );
    }
}
