//! Daily klines: the row shape of `GET /api/v3/klines`, Binance's
//! `startTime` / `endTime` / `limit` selection (so a paging client can be
//! tested), and a deterministic synthetic series for seeding. Other
//! intervals (`1h` for backtests) are seeded with [`Kline::candle`].

use std::str::FromStr;

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

use super::fmt8;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// One candle; `close_time` is `open_time + interval - 1` as on Binance.
#[derive(Debug, Clone, PartialEq)]
pub struct Kline {
    pub open_time: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub close_time: i64,
    pub quote_volume: Decimal,
    pub trades: u64,
    pub taker_buy_base_volume: Decimal,
    pub taker_buy_quote_volume: Decimal,
}

impl Kline {
    /// A daily candle opening at `open_time` (ms, UTC midnight).
    pub fn daily(open_time: i64, open: Decimal, high: Decimal, low: Decimal, close: Decimal, volume: Decimal) -> Self {
        Kline::candle(open_time, DAY_MS, [open, high, low, close], volume)
    }

    /// A candle of `interval_ms` (e.g. an hour) opening at `open_time`;
    /// `prices` are open, high, low, close.
    pub fn candle(open_time: i64, interval_ms: i64, prices: [Decimal; 4], volume: Decimal) -> Self {
        let [open, high, low, close] = prices;
        let quote_volume = (volume * (open + close) / Decimal::TWO).round_dp(8);
        Kline {
            open_time,
            open,
            high,
            low,
            close,
            volume,
            close_time: open_time + interval_ms - 1,
            quote_volume,
            trades: 1000,
            taker_buy_base_volume: (volume / Decimal::TWO).round_dp(8),
            taker_buy_quote_volume: (quote_volume / Decimal::TWO).round_dp(8),
        }
    }

    /// Binance's row: an array of ints and 8-decimal strings.
    pub fn to_row(&self) -> Value {
        json!([
            self.open_time,
            fmt8(self.open),
            fmt8(self.high),
            fmt8(self.low),
            fmt8(self.close),
            fmt8(self.volume),
            self.close_time,
            fmt8(self.quote_volume),
            self.trades,
            fmt8(self.taker_buy_base_volume),
            fmt8(self.taker_buy_quote_volume),
            "0"
        ])
    }

    /// Reads a raw Binance row (numbers may be strings or JSON numbers).
    pub fn from_row(row: &Value) -> Option<Kline> {
        let cells = row.as_array()?;
        let int = |i: usize| -> Option<i64> {
            let v = cells.get(i)?;
            v.as_i64().or_else(|| v.as_str()?.parse().ok())
        };
        let dec = |i: usize| -> Option<Decimal> {
            match cells.get(i)? {
                Value::String(s) => Decimal::from_str(s).ok(),
                Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
                _ => None,
            }
        };
        let open_time = int(0)?;
        Some(Kline {
            open_time,
            open: dec(1)?,
            high: dec(2)?,
            low: dec(3)?,
            close: dec(4)?,
            volume: dec(5).unwrap_or_default(),
            close_time: int(6).unwrap_or(open_time + DAY_MS - 1),
            quote_volume: dec(7).unwrap_or_default(),
            trades: int(8).and_then(|t| u64::try_from(t).ok()).unwrap_or(0),
            taker_buy_base_volume: dec(9).unwrap_or_default(),
            taker_buy_quote_volume: dec(10).unwrap_or_default(),
        })
    }
}

/// Binance's selection: with `startTime` the first `limit` candles opening
/// at or after it (and at or before `endTime`); with only `endTime` the
/// last `limit` candles opening at or before it; with neither the most
/// recent `limit`. `rows` must be sorted by open time.
pub fn select(rows: &[Kline], start: Option<i64>, end: Option<i64>, limit: usize) -> &[Kline] {
    let from = start.map_or(0, |s| rows.partition_point(|k| k.open_time < s));
    let to = end.map_or(rows.len(), |e| rows.partition_point(|k| k.open_time <= e));
    if from >= to {
        return &[];
    }
    let window = &rows[from..to];
    if start.is_some() { &window[..window.len().min(limit)] } else { &window[window.len().saturating_sub(limit)..] }
}

/// A deterministic random walk of daily candles ending with today's (still
/// open) candle, like the series Binance serves. Same seed, same candles.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticKlines {
    pub days: usize,
    pub start_price: Decimal,
    /// Mean daily log return, e.g. `0.002` for a slow uptrend.
    pub daily_trend: f64,
    /// Standard deviation of the daily log return, e.g. `0.03`.
    pub daily_volatility: f64,
    pub seed: u64,
    /// Decimals prices are rounded to (2 for USDT pairs).
    pub price_decimals: u32,
    /// Open time of the last candle; `None` means today's UTC midnight.
    pub last_open_time: Option<i64>,
}

impl SyntheticKlines {
    pub fn new(days: usize, start_price: Decimal) -> Self {
        SyntheticKlines {
            days,
            start_price,
            daily_trend: 0.0,
            daily_volatility: 0.02,
            seed: 1,
            price_decimals: 2,
            last_open_time: None,
        }
    }

    pub fn trend(mut self, daily_trend: f64) -> Self {
        self.daily_trend = daily_trend;
        self
    }

    pub fn volatility(mut self, daily_volatility: f64) -> Self {
        self.daily_volatility = daily_volatility;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn decimals(mut self, price_decimals: u32) -> Self {
        self.price_decimals = price_decimals;
        self
    }

    pub fn ending_at(mut self, last_open_time: i64) -> Self {
        self.last_open_time = Some(last_open_time - last_open_time.rem_euclid(DAY_MS));
        self
    }

    /// The candles, oldest first. `now_ms` fixes "today" when
    /// `last_open_time` is not set.
    pub fn generate(&self, now_ms: i64) -> Vec<Kline> {
        let last = self.last_open_time.unwrap_or(now_ms - now_ms.rem_euclid(DAY_MS));
        let first = last - DAY_MS * (self.days as i64 - 1);
        let mut rng = SplitMix64(self.seed);
        let dp = self.price_decimals;
        let tick = Decimal::new(1, dp);
        let mut open = self.start_price.round_dp(dp).max(tick);
        let mut out = Vec::with_capacity(self.days);
        for day in 0..self.days {
            let ret = self.daily_trend + self.daily_volatility * rng.normal();
            let close = to_price(open.to_f64().unwrap_or(0.0) * ret.exp(), dp, RoundingStrategy::MidpointAwayFromZero)
                .max(tick);
            let wick_up = 1.0 + rng.unit() * self.daily_volatility / 2.0;
            let wick_down = 1.0 - rng.unit() * self.daily_volatility / 2.0;
            let top = open.max(close);
            let bottom = open.min(close);
            // Rounded outwards, then clamped: high >= max(open, close) and
            // low <= min(open, close) hold exactly.
            let high =
                to_price(top.to_f64().unwrap_or(0.0) * wick_up, dp, RoundingStrategy::ToPositiveInfinity).max(top);
            let low =
                to_price(bottom.to_f64().unwrap_or(0.0) * wick_down.max(0.0), dp, RoundingStrategy::ToNegativeInfinity)
                    .min(bottom)
                    .max(tick.min(bottom));
            let volume = to_price(100.0 + rng.unit() * 900.0, 8, RoundingStrategy::MidpointAwayFromZero);
            out.push(Kline::daily(first + DAY_MS * day as i64, open, high, low, close, volume));
            open = close;
        }
        out
    }
}

fn to_price(v: f64, dp: u32, strategy: RoundingStrategy) -> Decimal {
    Decimal::from_f64(v).unwrap_or_default().round_dp_with_strategy(dp, strategy)
}

/// A small, fixed PRNG so seeded series (and seeded test scripts) never
/// change between releases.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo) as u64) as usize
    }

    /// Approximately standard normal (Irwin–Hall with 12 terms).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: i64) -> Vec<Kline> {
        (0..n)
            .map(|i| Kline::daily(i * DAY_MS, Decimal::ONE, Decimal::ONE, Decimal::ONE, Decimal::ONE, Decimal::ONE))
            .collect()
    }

    #[test]
    fn selects_like_binance() {
        let r = rows(10);
        assert_eq!(select(&r, None, None, 3).iter().map(|k| k.open_time / DAY_MS).collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(
            select(&r, Some(2 * DAY_MS), None, 3).iter().map(|k| k.open_time / DAY_MS).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        // A start inside a day begins with the next candle.
        assert_eq!(
            select(&r, Some(2 * DAY_MS + 1), None, 2).iter().map(|k| k.open_time / DAY_MS).collect::<Vec<_>>(),
            [3, 4]
        );
        assert_eq!(
            select(&r, None, Some(4 * DAY_MS), 2).iter().map(|k| k.open_time / DAY_MS).collect::<Vec<_>>(),
            [3, 4]
        );
        assert_eq!(
            select(&r, Some(DAY_MS), Some(3 * DAY_MS), 100).iter().map(|k| k.open_time / DAY_MS).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(select(&r, Some(20 * DAY_MS), None, 5).is_empty());
        assert!(select(&r, Some(5 * DAY_MS), Some(DAY_MS), 5).is_empty());
    }

    #[test]
    fn synthetic_series_is_deterministic_and_well_formed() {
        let now = 1_700_000_000_000;
        let g = SyntheticKlines::new(400, Decimal::from(30_000)).trend(0.001).volatility(0.04).seed(7);
        let a = g.generate(now);
        assert_eq!(a, g.generate(now));
        assert_ne!(a, g.clone().seed(8).generate(now));
        assert_eq!(a.len(), 400);
        assert_eq!(a.last().unwrap().open_time, now - now % DAY_MS);
        for (i, k) in a.iter().enumerate() {
            assert!(k.high >= k.open.max(k.close) && k.low <= k.open.min(k.close) && k.low > Decimal::ZERO);
            if i > 0 {
                assert_eq!(k.open, a[i - 1].close);
                assert_eq!(k.open_time, a[i - 1].open_time + DAY_MS);
            }
        }
        let row = a[0].to_row();
        assert_eq!(Kline::from_row(&row).unwrap(), a[0]);
    }
}
