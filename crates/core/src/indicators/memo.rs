//! Per-row indicator values kept between the cycles of one backtest, so a
//! cycle computes only the rows that closed since the last one: each
//! symbol's long moving average (trend persistence looks back 90 rows on
//! it) and BTC's z-score (the sell trigger looks back 365 rows on it).
//! Without it, each cycle would redo 200-row windows over every row of
//! the 420–700 days it reads.
//!
//! A row's value does not depend on which slice it is read through, as
//! long as the slice holds the row's whole window: the same closes, in the
//! same order, go through the same function. A row of a slice whose window
//! starts before the slice has no value, as when the slice is computed on
//! its own. So the numbers are those of [`super::daily_indicators`] and
//! [`super::btc_snapshot`], bit for bit (tested below).
//!
//! Every use checks the klines against what the memo holds (the open time
//! and close of every row they share, bit for bit: everything kept here is
//! computed from closes alone); klines that differ replace the memo's
//! rows, so a memo never hands out values of other data. A live
//! cycle reads the market once, so it starts from an empty memo.
//!
//! BTC's last complete row is kept too, with the rows it was found on: an
//! hourly backtest asks 24 times a day about the same daily klines, and
//! only the price, applied last, differs (its sell trigger sorts 365
//! z-scores).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use super::{
    BtcRow, BtcSeries, BtcSeriesError, LONG_WINDOW, Windows, btc_snapshot, daily_indicators, indicators_from,
    last_complete_row, rolling_mean, zscore_at,
};
use crate::domain::snapshot::{BtcSnapshot, Indicators, Kline};

/// The memo of one run: symbol → its rows. Shared by reference with the
/// cycle, hence the lock.
#[derive(Debug, Default)]
pub struct SignalMemo {
    series: Mutex<HashMap<String, Rows>>,
}

/// One symbol's rows as far as they are known, with the values computed
/// over them.
#[derive(Debug, Default)]
struct Rows {
    /// The moving average's window the values were computed with.
    window: usize,
    /// Whether z-scores are kept (BTC only).
    with_zscore: bool,
    open_times: Vec<i64>,
    closes: Vec<f64>,
    ma: Vec<Option<f64>>,
    zscore: Vec<Option<f64>>,
    /// BTC's last complete row and the rows it was found on (it comes
    /// from the closes alone; the price is applied afterwards).
    last_btc: Option<(Range<usize>, Result<BtcRow, BtcSeriesError>)>,
}

impl SignalMemo {
    /// [`super::daily_indicators`] of `symbol`'s klines.
    pub fn daily_indicators(&self, symbol: &str, klines: &[Kline], windows: &Windows) -> Option<Indicators> {
        let Ok(mut series) = self.series.lock() else { return daily_indicators(klines, windows) };
        let rows = rows_of(&mut series, symbol);
        let offset = rows.align(klines, windows.sma_long, false);
        let closes = &rows.closes[offset..offset + klines.len()];
        indicators_from(klines, closes, windows, &|i| rows.at(&rows.ma, offset, i))
    }

    /// [`super::btc_snapshot`] of `symbol`'s (BTCUSDT's) klines.
    pub fn btc_snapshot(&self, symbol: &str, klines: &[Kline], btc_price: f64) -> Result<BtcSnapshot, BtcSeriesError> {
        let Ok(mut series) = self.series.lock() else { return btc_snapshot(klines, btc_price) };
        let rows = rows_of(&mut series, symbol);
        let offset = rows.align(klines, LONG_WINDOW, true);
        let span = offset..offset + klines.len();
        let row = match &rows.last_btc {
            Some((last, row)) if *last == span => row.clone(),
            _ => {
                let view = |values: &[Option<f64>]| (0..klines.len()).map(|i| rows.at(values, offset, i)).collect();
                let series =
                    BtcSeries { closes: &rows.closes[span.clone()], ma200: view(&rows.ma), zscore: view(&rows.zscore) };
                let row = last_complete_row(klines, &series);
                rows.last_btc = Some((span, row.clone()));
                row
            }
        };
        Ok(row?.snapshot(btc_price))
    }
}

/// `symbol`'s rows, empty the first time.
fn rows_of<'m>(series: &'m mut HashMap<String, Rows>, symbol: &str) -> &'m mut Rows {
    if !series.contains_key(symbol) {
        series.insert(symbol.to_string(), Rows::default());
    }
    series.get_mut(symbol).expect("inserted above")
}

impl Rows {
    /// Makes these rows hold `klines` (extending them, or starting over
    /// when they differ) and returns the index of `klines[0]` among them.
    fn align(&mut self, klines: &[Kline], window: usize, with_zscore: bool) -> usize {
        let Some(first) = klines.first() else { return 0 };
        let found = (self.window == window && self.with_zscore == with_zscore)
            .then(|| self.open_times.binary_search(&first.open_time).ok())
            .flatten();
        let offset = match found {
            Some(offset) if self.holds(offset, klines) => offset,
            _ => {
                *self = Rows { window, with_zscore, ..Rows::default() };
                0
            }
        };
        let known = (self.open_times.len() - offset).min(klines.len());
        for kline in &klines[known..] {
            self.push(kline);
        }
        offset
    }

    /// Whether the rows from `offset` on are the first rows of `klines`:
    /// the same open times and closes (what every value kept here comes
    /// from), as bit patterns (a NaN matches itself).
    fn holds(&self, offset: usize, klines: &[Kline]) -> bool {
        self.open_times[offset..]
            .iter()
            .zip(&self.closes[offset..])
            .zip(klines)
            .all(|((open_time, close), k)| *open_time == k.open_time && close.to_bits() == k.close.to_bits())
    }

    fn push(&mut self, kline: &Kline) {
        self.open_times.push(kline.open_time);
        self.closes.push(kline.close);
        let t = self.closes.len() - 1;
        let ma = rolling_mean(&self.closes, t, self.window);
        self.ma.push(ma);
        if self.with_zscore {
            self.zscore.push(zscore_at(&self.closes, t, ma, self.window));
        }
    }

    /// The value of row `i` of a slice that starts at row `offset`: none
    /// when its window starts before the slice.
    fn at(&self, values: &[Option<f64>], offset: usize, i: usize) -> Option<f64> {
        if i + 1 < self.window { None } else { values.get(offset + i).copied().flatten() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    /// A wavy series with a flat stretch (z-scores missing there).
    fn klines(days: usize) -> Vec<Kline> {
        (0..days)
            .map(|i| {
                let x = i as f64;
                let close = if (300..320).contains(&i) { 500.0 } else { 400.0 + 90.0 * (x / 37.0).sin() + x * 0.3 };
                Kline {
                    open_time: i as i64 * DAY_MS,
                    open: close,
                    high: close * 1.01,
                    low: close * 0.99,
                    close,
                    volume: 7.0,
                }
            })
            .collect()
    }

    #[test]
    fn sliding_windows_give_the_fresh_numbers_bit_for_bit() {
        let all = klines(1400);
        let memo = SignalMemo::default();
        let windows = Windows::default();
        let other = Windows { sma_short: 10, sma_medium: 30, sma_long: 150, atr: 7 };
        for end in (560..all.len()).step_by(7) {
            let btc = &all[end.saturating_sub(700)..end];
            let trend = &all[end.saturating_sub(420)..end];
            assert_eq!(memo.btc_snapshot("BTCUSDT", btc, 450.0), btc_snapshot(btc, 450.0), "BTC at {end}");
            // The same klines again (an hourly cycle): only the price differs.
            assert_eq!(memo.btc_snapshot("BTCUSDT", btc, 380.0), btc_snapshot(btc, 380.0), "BTC at {end}");
            assert_eq!(memo.daily_indicators("ETHUSDT", trend, &windows), daily_indicators(trend, &windows), "{end}");
            // Another window on the same symbol starts its rows over.
            assert_eq!(memo.daily_indicators("SOLUSDT", trend, &other), daily_indicators(trend, &other));
            assert_eq!(memo.daily_indicators("SOLUSDT", trend, &windows), daily_indicators(trend, &windows));
        }
    }

    #[test]
    fn changed_history_replaces_the_rows() {
        let memo = SignalMemo::default();
        let windows = Windows::default();
        let mut all = klines(900);
        let first = memo.daily_indicators("ETHUSDT", &all[400..820], &windows);
        assert_eq!(first, daily_indicators(&all[400..820], &windows));
        // A candle the memo has seen changes: the memo must not serve the
        // old rows.
        all[700].close *= 1.5;
        let changed = &all[401..821];
        assert_eq!(memo.daily_indicators("ETHUSDT", changed, &windows), daily_indicators(changed, &windows));
        // So does a changed volume (the answer kept for the slice uses it).
        let mut quiet = changed.to_vec();
        quiet[419].volume *= 3.0;
        assert_eq!(memo.daily_indicators("ETHUSDT", &quiet, &windows), daily_indicators(&quiet, &windows));
        assert_ne!(daily_indicators(&quiet, &windows), daily_indicators(changed, &windows));
        // A slice that starts before the rows held also starts over.
        assert_eq!(memo.daily_indicators("ETHUSDT", &all[..420], &windows), daily_indicators(&all[..420], &windows));
        assert_eq!(memo.daily_indicators("ETHUSDT", &[], &windows), None);
    }
}
