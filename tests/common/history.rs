//! Generated kline history for the backtest tests: day 0, dates as the
//! CLI takes them, daily CSV files in Binance's dump layout, and price
//! waves that make the trend sleeve enter and leave.

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};

pub const DAY_MS: i64 = 86_400_000;

/// Day 0 of every generated series.
pub fn day0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap()
}

/// Day `day` after [`day0`] as `YYYY-MM-DD`.
pub fn date(day: i64) -> String {
    (day0() + Duration::days(day)).date_naive().to_string()
}

/// Writes `DATA/<symbol>-1d.csv` with one candle per close (day 0 on),
/// open = previous close, a 1% range and about 1e9 USDT traded a day.
pub fn write_series(dir: &Path, symbol: &str, closes: &[f64]) {
    let mut text = String::new();
    for (i, close) in closes.iter().enumerate() {
        let open = if i == 0 { *close } else { closes[i - 1] };
        let t = day0().timestamp_millis() + i as i64 * DAY_MS;
        let (high, low) = (open.max(*close) * 1.01, open.min(*close) * 0.99);
        let volume = 1e9 / close;
        text += &format!("{t},{open},{high},{low},{close},{volume},{},1,1,1,1,0\n", t + DAY_MS - 1);
    }
    std::fs::write(dir.join(format!("{symbol}-1d.csv")), text).unwrap();
}

/// Waves of different periods around a drift: the trend sleeve enters and
/// leaves.
pub fn wave(p0: f64, drift: f64, amp: f64, period: f64, days: usize) -> Vec<f64> {
    (0..days)
        .map(|i| {
            let x = i as f64;
            let p = p0 * (drift * x + amp * (2.0 * std::f64::consts::PI * x / period).sin()).exp();
            (p * 1e4).round() / 1e4
        })
        .collect()
}
