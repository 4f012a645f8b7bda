//! Paper trading: the simulated exchange's account carried from run to run
//! (balances, prices, a step counter and the simulated clock), so a
//! newcomer can run real cycles without credentials and watch the state
//! evolve. Each run advances the clock by one hour and moves every price by
//! a small deterministic step, so stops and rotations eventually fire.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::domain::snapshot::{AssetBalance, Kline};
use crate::paper::fixture::FixtureSet;

/// Largest hourly price move of the walk (±1.5%).
const MAX_STEP: Decimal = dec!(0.015);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperAccount {
    /// The fixture set the account was seeded from.
    pub fixtures: PathBuf,
    /// Runs completed so far.
    pub step: u64,
    /// Simulated time of the next run.
    pub now: DateTime<Utc>,
    pub balances: BTreeMap<String, AssetBalance>,
    pub prices: BTreeMap<String, Decimal>,
}

impl PaperAccount {
    /// A fresh account from a fixture set, starting at its clock.
    pub fn seed(fixtures: &FixtureSet, start: DateTime<Utc>) -> PaperAccount {
        PaperAccount {
            fixtures: fixtures.dir.clone(),
            step: 0,
            now: start,
            balances: fixtures.balances.clone(),
            prices: fixtures.prices.clone(),
        }
    }

    /// Reads the account file; `Ok(None)` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<PaperAccount>, String> {
        match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: cannot read the paper account: {e}", path.display())),
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{}: not a paper account file: {e}", path.display())),
        }
    }

    /// Writes the account atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("json.tmp");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&tmp, text + "\n")
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: cannot write the paper account: {e}", path.display()))
    }

    /// After a run: keep its balances, move the clock an hour and every
    /// price one step of the walk.
    pub fn advance(&mut self, balances: BTreeMap<String, AssetBalance>) {
        self.balances = balances;
        self.step += 1;
        self.now += Duration::hours(1);
        let step = self.step;
        for (symbol, price) in self.prices.iter_mut() {
            let moved = *price * (Decimal::ONE + walk_step(symbol, step));
            *price = moved.round_dp(8).normalize();
        }
    }
}

/// A deterministic move in [-MAX_STEP, +MAX_STEP] for `symbol` at `step`
/// (FNV-1a of both), so paper runs are reproducible.
pub fn walk_step(symbol: &str, step: u64) -> Decimal {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in symbol.bytes().chain(step.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // 0..=2000 → -1000..=1000 thousandths of MAX_STEP.
    let unit = Decimal::from((hash % 2001) as i64 - 1000) / dec!(1000);
    unit * MAX_STEP
}

/// Daily klines for `days` days ending at `end` whose last close is
/// `price`: a gentle uptrend (0.2%/day) with deterministic noise, so the
/// live indicator code has a realistic series to work on in paper mode.
pub fn synthetic_klines(symbol: &str, price: f64, days: usize, end: DateTime<Utc>) -> Vec<Kline> {
    let mut closes = vec![price; days];
    for i in (1..days).rev() {
        let noise = walk_step(symbol, i as u64).to_string().parse::<f64>().unwrap_or(0.0) * 2.0;
        closes[i - 1] = closes[i] / (1.0 + 0.002 + noise);
    }
    // Eight decimals, like prices on the wire, so a series served over HTTP
    // by a fake exchange parses back to exactly these numbers.
    let r8 = |x: f64| (x * 1e8).round() / 1e8;
    let day_ms = 86_400_000_i64;
    let last_open = end.timestamp_millis() / day_ms * day_ms;
    closes
        .iter()
        .enumerate()
        .map(|(i, &close)| {
            let open = if i == 0 { close } else { closes[i - 1] };
            Kline {
                open_time: last_open - (days - 1 - i) as i64 * day_ms,
                open: r8(open),
                high: r8(open.max(close) * 1.01),
                low: r8(open.min(close) * 0.99),
                close: r8(close),
                volume: r8(1.0e8 / close),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn synthetic_series_ends_at_the_price_and_feeds_the_indicators() {
        let end = Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap();
        let k = synthetic_klines("BTCUSDT", 80_000.0, 700, end);
        assert_eq!(k.len(), 700);
        assert_eq!(k.last().unwrap().close, 80_000.0);
        assert_eq!(k.last().unwrap().open_time, end.timestamp_millis());
        assert!(k.windows(2).all(|w| w[1].open_time - w[0].open_time == 86_400_000));
        assert!(k.iter().all(|r| r.low <= r.open.min(r.close) && r.high >= r.open.max(r.close)));
        let btc = crate::indicators::btc_snapshot(&k, 80_000.0).unwrap();
        assert_eq!(btc.regime_on, Some(true), "the uptrend keeps the regime on: {btc:?}");
        assert!(
            crate::indicators::daily_indicators(&synthetic_klines("ETHUSDT", 3200.0, 420, end), &Default::default())
                .is_some()
        );
    }

    #[test]
    fn walk_is_deterministic_and_bounded() {
        for step in 0..500 {
            let a = walk_step("ETHUSDT", step);
            assert_eq!(a, walk_step("ETHUSDT", step));
            assert!(a.abs() <= MAX_STEP, "{a}");
        }
        assert_ne!(walk_step("ETHUSDT", 1), walk_step("SOLUSDT", 1));
    }

    #[test]
    fn advance_moves_clock_step_and_prices_and_round_trips() {
        let start = Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap();
        let mut acct = PaperAccount {
            fixtures: PathBuf::from("fixtures/x"),
            step: 0,
            now: start,
            balances: BTreeMap::new(),
            prices: [("ETHUSDT".to_string(), dec!(3200))].into_iter().collect(),
        };
        let mut usdt = BTreeMap::new();
        usdt.insert("USDT".to_string(), AssetBalance { free: dec!(10), ..Default::default() });
        acct.advance(usdt.clone());
        assert_eq!(acct.step, 1);
        assert_eq!(acct.now, start + Duration::hours(1));
        assert_eq!(acct.balances, usdt);
        assert_eq!(
            acct.prices["ETHUSDT"],
            (dec!(3200) * (Decimal::ONE + walk_step("ETHUSDT", 1))).round_dp(8).normalize()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paper/account.json");
        acct.save(&path).unwrap();
        assert_eq!(PaperAccount::load(&path).unwrap(), Some(acct));
        assert_eq!(PaperAccount::load(&dir.path().join("none.json")).unwrap(), None);
        std::fs::write(&path, "{").unwrap();
        assert!(PaperAccount::load(&path).unwrap_err().contains("not a paper account file"));
    }
}
