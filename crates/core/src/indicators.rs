//! Daily indicators computed from Binance daily klines: the per-symbol trend
//! inputs (behaviour.md §5.6) and the BTC regime and valuation snapshot
//! (behaviour.md §5.5).
//!
//! Pure functions over klines that were already fetched; fetching, retries
//! and logging belong to the exchange code. The reference computes these with
//! pandas rolling windows, so the helpers here follow pandas' rules: a window
//! only yields a value once it is full, standard deviations are sample
//! (n − 1) ones, and the quantile interpolates linearly. Per-symbol values
//! are computed for the last row only; BTC computes MA200 and the z-score for
//! every row once, because the slope and the sell trigger look back on them.
//!
//! A value that comes out non-finite (for example after a zero or NaN close)
//! counts as missing, so bad data gives `None` / `Insufficient`, never a
//! made-up number.
//!
//! The trend symbols' windows are parameters ([`Windows`], from the
//! strategy's parameters; the reference's 20 / 60 / 200 and 14 by
//! default). BTC's windows stay fixed: its valuation (ahr999) is defined on
//! the 200-day geometric mean. [`SignalMemo`] keeps the per-row values
//! between the cycles of one backtest (`memo.rs`).

mod memo;

pub use memo::SignalMemo;

use crate::domain::snapshot::{BtcSnapshot, Indicators, Kline};

/// Days of daily klines fetched per trend symbol (the reference's
/// "420 days ago UTC").
pub const TREND_LOOKBACK_DAYS: u32 = 420;

/// Days of BTCUSDT daily klines fetched for the BTC snapshot (the reference's
/// "700 days ago UTC").
pub const BTC_LOOKBACK_DAYS: u32 = 700;

/// Window of BTC's long moving average (MA200, std200, geom200) and the
/// trend symbols' long SMA by default.
const LONG_WINDOW: usize = 200;
/// Rate-of-change lags used by both the trend symbols and BTC.
const ROC_SHORT: usize = 20;
const ROC_MEDIUM: usize = 60;
const ROC_LONG: usize = 120;
const VOL_WINDOW: usize = 20;
const QUOTE_VOL_WINDOWS: [usize; 3] = [30, 90, 180];
const PERSIST_WINDOW: usize = 90;

/// Lag of the MA200 slope (`ma200_t / ma200_{t−20} − 1`).
const MA_SLOPE_LAG: usize = 20;
/// Number of z-scores the sell trigger's quantile is taken over.
const SELL_TRIGGER_WINDOW: usize = 365;
const SELL_TRIGGER_QUANTILE: f64 = 0.95;
/// The sell trigger never drops below this z-score.
const SELL_TRIGGER_FLOOR: f64 = 2.5;
/// Rows BTC history needs: 200 closes for the first z-score, then 364 more
/// rows so that 365 z-scores exist.
const BTC_MIN_ROWS: usize = LONG_WINDOW + SELL_TRIGGER_WINDOW - 1;

/// Why no BTC snapshot could be computed from the daily klines.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BtcSeriesError {
    #[error("BTC daily klines are empty")]
    Empty,
    #[error(
        "BTC daily history too short for indicators: {rows} rows (need {need}), \
         last open time {last_open_time}",
        need = BTC_MIN_ROWS
    )]
    Insufficient { rows: usize, last_open_time: i64 },
}

/// Windows (rows of daily klines) of a trend symbol's moving averages and
/// ATR. The indicator fields keep their default windows' names (`sma20`,
/// `sma60`, `sma200`, `atr14`), which reports and fixtures carry; with other
/// windows they hold the short, medium and long SMA and the ATR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub sma_short: usize,
    pub sma_medium: usize,
    pub sma_long: usize,
    pub atr: usize,
}

impl Default for Windows {
    fn default() -> Self {
        Windows { sma_short: 20, sma_medium: 60, sma_long: LONG_WINDOW, atr: 14 }
    }
}

/// Indicators of one trend symbol from its daily klines (behaviour.md §5.6),
/// taken on the last row, which is the current, still open day.
///
/// `None` when the klines are empty or any value is missing or non-finite on
/// the last row. The long SMA needs a full window, so fewer rows than
/// `windows.sma_long` always give `None`.
pub fn daily_indicators(klines: &[Kline], windows: &Windows) -> Option<Indicators> {
    let closes: Vec<f64> = klines.iter().map(|k| k.close).collect();
    indicators_from(klines, &closes, windows, &|row| rolling_mean(&closes, row, windows.sma_long))
}

/// [`daily_indicators`] with the long SMA of each row given (`long_sma`;
/// trend persistence looks back on it), so a memo can supply it.
/// `closes` are the klines' closes.
fn indicators_from(
    klines: &[Kline],
    closes: &[f64],
    windows: &Windows,
    long_sma: &dyn Fn(usize) -> Option<f64>,
) -> Option<Indicators> {
    let last = klines.len().checked_sub(1)?;
    let [qv_short, qv_medium, qv_long] = QUOTE_VOL_WINDOWS;
    // Only the rows the windows reach: the same values, in the same order,
    // as over the whole series. The reference multiplies close by base
    // volume; it does not use the kline's own quote-volume column.
    let reach = |len: usize| klines.len().saturating_sub(len);
    let quote_volumes: Vec<f64> = klines[reach(qv_long)..].iter().map(|k| k.close * k.volume).collect();
    let avg_quote_vol = |len| rolling_mean(&quote_volumes, quote_volumes.len() - 1, len);
    let sma = |len| rolling_mean(closes, last, len);

    Some(Indicators {
        close: Some(finite(*closes.get(last)?)?),
        sma20: Some(sma(windows.sma_short)?),
        sma60: Some(sma(windows.sma_medium)?),
        sma200: Some(long_sma(last)?),
        roc20: Some(rate_of_change(closes, last, ROC_SHORT)?),
        roc60: Some(rate_of_change(closes, last, ROC_MEDIUM)?),
        roc120: Some(rate_of_change(closes, last, ROC_LONG)?),
        vol20: Some(return_volatility(closes, last, VOL_WINDOW)?),
        atr14: Some(average_true_range(klines, windows.atr)?),
        avg_quote_vol_30: Some(avg_quote_vol(qv_short)?),
        avg_quote_vol_90: Some(avg_quote_vol(qv_medium)?),
        avg_quote_vol_180: Some(avg_quote_vol(qv_long)?),
        trend_persist_90: Some(trend_persistence(closes, last, PERSIST_WINDOW, long_sma)?),
        age_days: Some(u32::try_from(klines.len()).ok()?),
    })
}

/// BTC regime and valuation snapshot from BTCUSDT daily klines
/// (behaviour.md §5.5).
///
/// `btc_price` is the live five-minute average price: `ahr999` is
/// `btc_price / geom200` and `regime_on` is
/// `btc_price > ma200 && ma200_slope > 0`. As in the reference, the values
/// come from the last row on which every indicator exists, which is the last
/// row unless the newest klines hold bad data.
///
/// A `btc_price` that is not a positive finite number cannot be valued, so
/// `ahr999` is then `None` and `regime_on` is `Some(false)`, the side that
/// opens no new trend positions. Every other field is always `Some`.
pub fn btc_snapshot(klines: &[Kline], btc_price: f64) -> Result<BtcSnapshot, BtcSeriesError> {
    let closes: Vec<f64> = klines.iter().map(|k| k.close).collect();
    Ok(last_complete_row(klines, &BtcSeries::new(&closes))?.snapshot(btc_price))
}

/// The last row of `series` (the klines' rows) on which every indicator
/// exists.
fn last_complete_row(klines: &[Kline], series: &BtcSeries) -> Result<BtcRow, BtcSeriesError> {
    let last = klines.last().ok_or(BtcSeriesError::Empty)?;
    (0..series.closes.len())
        .rev()
        .find_map(|t| series.row(t))
        .ok_or(BtcSeriesError::Insufficient { rows: klines.len(), last_open_time: last.open_time })
}

/// The BTC series that later rows look back on: MA200 (for the slope) and
/// the z-score (for the sell trigger's 365-row quantile). Computed once for
/// every row so that searching for the last complete row stays linear in the
/// number of rows times the window length.
struct BtcSeries<'a> {
    closes: &'a [f64],
    ma200: Vec<Option<f64>>,
    zscore: Vec<Option<f64>>,
}

/// Every §5.5 indicator of one row, all present.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BtcRow {
    ma200: f64,
    zscore: f64,
    geom200: f64,
    sell_trigger: f64,
    ma200_slope: f64,
    roc20: f64,
    roc60: f64,
    roc120: f64,
}

impl<'a> BtcSeries<'a> {
    fn new(closes: &'a [f64]) -> Self {
        let ma200: Vec<Option<f64>> = (0..closes.len()).map(|t| rolling_mean(closes, t, LONG_WINDOW)).collect();
        let zscore = ma200.iter().enumerate().map(|(t, ma)| zscore_at(closes, t, *ma, LONG_WINDOW)).collect();
        Self { closes, ma200, zscore }
    }

    /// Row `t` if every indicator exists on it; cheap checks come first so
    /// that the quantile is only taken for otherwise complete rows.
    fn row(&self, t: usize) -> Option<BtcRow> {
        let ma200 = (*self.ma200.get(t)?)?;
        let zscore = (*self.zscore.get(t)?)?;
        let ma200_past = (*self.ma200.get(t.checked_sub(MA_SLOPE_LAG)?)?)?;
        let ma200_slope = finite(ma200 / ma200_past - 1.0)?;
        let roc20 = rate_of_change(self.closes, t, ROC_SHORT)?;
        let roc60 = rate_of_change(self.closes, t, ROC_MEDIUM)?;
        let roc120 = rate_of_change(self.closes, t, ROC_LONG)?;
        let geom200 = geometric_mean(window(self.closes, t, LONG_WINDOW)?)?;
        let sell_trigger = self.sell_trigger(t)?;
        Some(BtcRow { ma200, zscore, geom200, sell_trigger, ma200_slope, roc20, roc60, roc120 })
    }

    /// `max(2.5, Q_0.95)` of the 365 z-scores ending at row `t`; like a
    /// pandas rolling window it needs all 365 of them.
    fn sell_trigger(&self, t: usize) -> Option<f64> {
        let start = (t + 1).checked_sub(SELL_TRIGGER_WINDOW)?;
        let zscores: Vec<f64> = self.zscore.get(start..=t)?.iter().copied().collect::<Option<_>>()?;
        let quantile = quantile_linear(&zscores, SELL_TRIGGER_QUANTILE)?;
        Some(quantile.max(SELL_TRIGGER_FLOOR))
    }
}

impl BtcRow {
    fn snapshot(self, btc_price: f64) -> BtcSnapshot {
        let price_usable = btc_price.is_finite() && btc_price > 0.0;
        // geom200 is positive and finite (see `geometric_mean`), but the
        // quotient can still overflow for absurd prices.
        let ahr999 = price_usable.then(|| btc_price / self.geom200).and_then(finite);
        let regime_on = price_usable && btc_price > self.ma200 && self.ma200_slope > 0.0;
        BtcSnapshot {
            ma200: Some(self.ma200),
            zscore: Some(self.zscore),
            geom200: Some(self.geom200),
            sell_trigger: Some(self.sell_trigger),
            ma200_slope: Some(self.ma200_slope),
            ahr999,
            btc_roc20: Some(self.roc20),
            btc_roc60: Some(self.roc60),
            btc_roc120: Some(self.roc120),
            regime_on: Some(regime_on),
        }
    }
}

/// The z-score of row `t`'s close against the `len` closes ending there,
/// whose mean is `ma`.
fn zscore_at(closes: &[f64], t: usize, ma: Option<f64>, len: usize) -> Option<f64> {
    let std = rolling_sample_std(closes, t, len)?;
    finite((closes.get(t)? - ma?) / std)
}

/// `Some(x)` when `x` is a usable number; infinities and NaN count as missing.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The `len` values ending at index `end` (inclusive), or `None` while the
/// window is not full yet (pandas' default `min_periods`).
fn window(values: &[f64], end: usize, len: usize) -> Option<&[f64]> {
    let start = end.checked_add(1)?.checked_sub(len)?;
    values.get(start..=end)
}

/// Mean of the `len` values ending at `end`.
fn rolling_mean(values: &[f64], end: usize, len: usize) -> Option<f64> {
    mean(window(values, end, len)?)
}

/// Sample standard deviation of the `len` values ending at `end`.
fn rolling_sample_std(values: &[f64], end: usize, len: usize) -> Option<f64> {
    sample_std(window(values, end, len)?)
}

/// Arithmetic mean. A window of identical values returns that value exactly,
/// as pandas does: summing and dividing can be off by an ulp, which would turn
/// the z-score of a flat window from 0/0 (missing) into float noise.
fn mean(values: &[f64]) -> Option<f64> {
    let first = *values.first()?;
    if values.iter().all(|&v| v == first) {
        return finite(first);
    }
    finite(values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample standard deviation (divides by n − 1, pandas' default).
fn sample_std(values: &[f64]) -> Option<f64> {
    let denominator = values.len().checked_sub(1).filter(|&d| d > 0)? as f64;
    let mean = mean(values)?;
    let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    finite((squares / denominator).sqrt())
}

/// `exp(mean(ln c))`. A close of zero or below has no logarithm, so such a
/// window has no geometric mean; requiring a positive result also keeps
/// `price / geom200` finite.
fn geometric_mean(values: &[f64]) -> Option<f64> {
    let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
    finite(mean(&logs)?.exp()).filter(|&g| g > 0.0)
}

/// `c_t / c_{t−lag} − 1`.
fn rate_of_change(closes: &[f64], t: usize, lag: usize) -> Option<f64> {
    let past = *closes.get(t.checked_sub(lag)?)?;
    finite(closes.get(t)? / past - 1.0)
}

/// Sample standard deviation of the `len` daily simple returns ending at row
/// `t`. Row 0 has no return, so the window must start at row 1 or later.
fn return_volatility(closes: &[f64], t: usize, len: usize) -> Option<f64> {
    let first = (t + 1).checked_sub(len).filter(|&i| i >= 1)?;
    let returns: Vec<f64> = closes.get(first - 1..=t)?.windows(2).map(|pair| pair[1] / pair[0] - 1.0).collect();
    sample_std(&returns)
}

/// Mean true range of the last `len` rows. The first row of the series has
/// no previous close, so its true range is `high − low`.
fn average_true_range(klines: &[Kline], len: usize) -> Option<f64> {
    let start = klines.len().checked_sub(len)?;
    let ranges: Vec<f64> =
        (start..klines.len()).map(|row| true_range(&klines[row], row.checked_sub(1).map(|p| &klines[p]))).collect();
    mean(&ranges)
}

/// `max(h − l, |h − c_prev|, |l − c_prev|)`. `f64::max` skips a NaN operand,
/// as pandas' row-wise max does.
fn true_range(kline: &Kline, prev: Option<&Kline>) -> f64 {
    let range = kline.high - kline.low;
    match prev {
        None => range,
        Some(prev) => range.max((kline.high - prev.close).abs()).max((kline.low - prev.close).abs()),
    }
}

/// Fraction of the `len` rows ending at `t` whose close is above that row's
/// long SMA (`long_sma`). Rows too early to have one count as "not above"
/// (pandas compares against NaN, which is false), so a young series scores
/// low.
fn trend_persistence(closes: &[f64], t: usize, len: usize, long_sma: &dyn Fn(usize) -> Option<f64>) -> Option<f64> {
    let start = (t + 1).checked_sub(len)?;
    let rows = closes.get(start..=t)?;
    let above = rows.iter().zip(start..).filter(|&(&close, row)| long_sma(row).is_some_and(|sma| close > sma)).count();
    finite(above as f64 / len as f64)
}

/// Quantile with linear interpolation between the two nearest order
/// statistics, at position `q·(n−1)` in the sorted values (pandas' default,
/// computed with the same expression as its rolling quantile).
fn quantile_linear(values: &[f64], q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q * sorted.len().checked_sub(1)? as f64;
    let lower = position.floor() as usize;
    let low = *sorted.get(lower)?;
    // q = 1 puts the position on the last value, which has no upper neighbour.
    let high = sorted.get(lower + 1).copied().unwrap_or(low);
    finite(low + (high - low) * (position - lower as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    /// The trend indicators with the default windows.
    fn daily(klines: &[Kline]) -> Option<Indicators> {
        daily_indicators(klines, &Windows::default())
    }

    /// Kline `i` with the given close, a range of 2 around it and volume 2.
    fn kline(i: usize, close: f64) -> Kline {
        Kline { open_time: DAY_MS * i as i64, open: close, high: close + 1.0, low: close - 1.0, close, volume: 2.0 }
    }

    fn klines_from(closes: &[f64]) -> Vec<Kline> {
        closes.iter().enumerate().map(|(i, &c)| kline(i, c)).collect()
    }

    /// Closes `start, start + 1, ...`.
    fn linear_closes(start: f64, rows: usize) -> Vec<f64> {
        (0..rows).map(|i| start + i as f64).collect()
    }

    fn assert_near(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("value should be present");
        assert!((actual - expected).abs() < 1e-9, "actual {actual}, expected {expected}");
    }

    fn naive_mean(values: &[f64]) -> f64 {
        let mut sum = 0.0;
        for v in values {
            sum += v;
        }
        sum / values.len() as f64
    }

    fn naive_sample_std(values: &[f64]) -> f64 {
        let m = naive_mean(values);
        let mut squares = 0.0;
        for v in values {
            squares += (v - m) * (v - m);
        }
        (squares / (values.len() - 1) as f64).sqrt()
    }

    // ---- daily_indicators -------------------------------------------------

    #[test]
    fn linear_series_has_closed_form_indicators() {
        // c_i = 100 + i over 250 rows, so c_t = 349 and every window mean of
        // the last k closes is c_t − (k − 1)/2.
        let closes = linear_closes(100.0, 250);
        let ind = daily(&klines_from(&closes)).expect("indicators");
        let c = 349.0;

        assert_near(ind.close, c);
        assert_near(ind.sma20, c - 9.5);
        assert_near(ind.sma60, c - 29.5);
        assert_near(ind.sma200, c - 99.5);
        assert_near(ind.roc20, 20.0 / (c - 20.0));
        assert_near(ind.roc60, 60.0 / (c - 60.0));
        assert_near(ind.roc120, 120.0 / (c - 120.0));
        // Quote volume is close × 2.
        assert_near(ind.avg_quote_vol_30, 2.0 * (c - 14.5));
        assert_near(ind.avg_quote_vol_90, 2.0 * (c - 44.5));
        assert_near(ind.avg_quote_vol_180, 2.0 * (c - 89.5));
        // Step 1 with high/low at ±1: every true range is exactly 2.
        assert_near(ind.atr14, 2.0);
        // A rising series is above its SMA200 on every row that has one: of
        // the last 90 rows (160..=249) that is rows 199..=249, i.e. 51.
        assert_near(ind.trend_persist_90, 51.0 / 90.0);
        assert_eq!(ind.age_days, Some(250));

        let returns: Vec<f64> = (230..250).map(|i| closes[i] / closes[i - 1] - 1.0).collect();
        assert_near(ind.vol20, naive_sample_std(&returns));
    }

    #[test]
    fn vol20_of_alternating_returns_is_closed_form() {
        // Returns alternate +10 % / −10 %: mean 0, so the sample variance of
        // 20 of them is 20 · 0.01 / 19.
        let mut closes = vec![100.0];
        for i in 1..250 {
            let factor = if i % 2 == 0 { 1.1 } else { 0.9 };
            closes.push(closes[i - 1] * factor);
        }
        let ind = daily(&klines_from(&closes)).expect("indicators");
        assert_near(ind.vol20, (20.0 * 0.01 / 19.0_f64).sqrt());
    }

    #[test]
    fn atr_is_a_simple_mean_of_constant_ranges() {
        // Flat close 100; the last 7 rows have a range of 10, the rest 2. A
        // simple 14-row mean gives (7·10 + 7·2)/14 = 6 exactly; Wilder
        // smoothing would not.
        let rows = 250;
        let klines: Vec<Kline> = (0..rows)
            .map(|i| {
                let half = if i >= rows - 7 { 5.0 } else { 1.0 };
                Kline { high: 100.0 + half, low: 100.0 - half, ..kline(i, 100.0) }
            })
            .collect();
        let ind = daily(&klines).expect("indicators");
        assert_near(ind.atr14, 6.0);
    }

    #[test]
    fn atr_uses_the_gap_to_the_previous_close() {
        // Step 5 with high/low at ±1: |h_t − c_{t−1}| = 6 beats h − l = 2.
        let closes: Vec<f64> = (0..250).map(|i| 1000.0 + 5.0 * i as f64).collect();
        let ind = daily(&klines_from(&closes)).expect("indicators");
        assert_near(ind.atr14, 6.0);
    }

    #[test]
    fn first_row_true_range_is_high_minus_low() {
        let first = Kline { high: 10.0, low: 7.0, ..kline(0, 50.0) };
        assert_eq!(true_range(&first, None), 3.0);
        assert_eq!(average_true_range(&[first], 1), Some(3.0));
    }

    #[test]
    fn trend_persist_90_counts_rows_above_sma200() {
        // Flat at 100 with a spike to 200 on every third row of the last 90
        // (30 spikes). A spike is above its SMA200 (at most 100 + 30·100/200);
        // a flat row is never above (the SMA is 100 or more).
        let rows = 300;
        let closes: Vec<f64> = (0..rows).map(|i| if i >= rows - 90 && i % 3 == 0 { 200.0 } else { 100.0 }).collect();
        let ind = daily(&klines_from(&closes)).expect("indicators");
        assert_near(ind.trend_persist_90, 30.0 / 90.0);
    }

    #[test]
    fn exactly_200_rows_is_enough_and_earlier_rows_count_as_not_above() {
        // Only the last row has an SMA200, so one of 90 rows counts.
        let ind = daily(&klines_from(&linear_closes(100.0, 200))).expect("indicators");
        assert_near(ind.trend_persist_90, 1.0 / 90.0);
        assert_eq!(ind.age_days, Some(200));
    }

    #[test]
    fn short_or_empty_series_gives_none() {
        assert_eq!(daily(&[]), None);
        assert_eq!(daily(&klines_from(&linear_closes(100.0, 199))), None);
    }

    #[test]
    fn non_finite_values_give_none_instead_of_garbage() {
        let base = linear_closes(100.0, 250);

        // A zero close 60 rows back makes roc60 infinite.
        let mut zero_close = base.clone();
        zero_close[249 - 60] = 0.0;
        assert_eq!(daily(&klines_from(&zero_close)), None);

        let mut nan_last = base.clone();
        nan_last[249] = f64::NAN;
        assert_eq!(daily(&klines_from(&nan_last)), None);

        let mut klines = klines_from(&base);
        klines[240].volume = f64::INFINITY;
        assert_eq!(daily(&klines), None);
    }

    // ---- quantile ------------------------------------------------------------

    #[test]
    fn quantile_interpolates_linearly_like_pandas() {
        // pandas: Series([5, 1, 4, 2, 3]).quantile(0.95) == 4.8
        assert_near(quantile_linear(&[5.0, 1.0, 4.0, 2.0, 3.0], 0.95), 4.8);
        assert_near(quantile_linear(&[5.0, 1.0, 4.0, 2.0, 3.0], 0.5), 3.0);
        assert_near(quantile_linear(&[5.0, 1.0, 4.0, 2.0, 3.0], 1.0), 5.0);
        assert_near(quantile_linear(&[7.0], 0.95), 7.0);
        assert_eq!(quantile_linear(&[], 0.95), None);
        assert_eq!(quantile_linear(&[1.0, f64::NAN], 0.95), None);
    }

    // ---- btc_snapshot --------------------------------------------------------

    #[test]
    fn btc_empty_series_is_an_error() {
        assert_eq!(btc_snapshot(&[], 100.0), Err(BtcSeriesError::Empty));
    }

    #[test]
    fn btc_needs_564_rows() {
        let short = klines_from(&linear_closes(1000.0, 563));
        let err = btc_snapshot(&short, 2000.0).unwrap_err();
        assert_eq!(err, BtcSeriesError::Insufficient { rows: 563, last_open_time: 562 * DAY_MS });
        assert_eq!(
            err.to_string(),
            format!(
                "BTC daily history too short for indicators: 563 rows (need 564), \
                 last open time {}",
                562 * DAY_MS
            )
        );

        let enough = klines_from(&linear_closes(1000.0, 564));
        assert!(btc_snapshot(&enough, 2000.0).is_ok());
    }

    #[test]
    fn btc_linear_series_has_closed_forms_and_floor_trigger() {
        // c_i = 1000 + i. Over any 200 consecutive closes c_t − ma200 = 99.5
        // and the sample variance is 200·201/12, so every z-score is
        // 99.5/√3350 ≈ 1.72 and the 95 % quantile is below the 2.5 floor.
        let closes = linear_closes(1000.0, 600);
        let c = closes[599];
        let price = c + 10.0;
        let snap = btc_snapshot(&klines_from(&closes), price).expect("snapshot");

        let ma200 = c - 99.5;
        assert_near(snap.ma200, ma200);
        assert_near(snap.zscore, 99.5 / 3350.0_f64.sqrt());
        assert_near(snap.sell_trigger, 2.5);
        assert_near(snap.ma200_slope, ma200 / (ma200 - 20.0) - 1.0);
        assert_near(snap.btc_roc20, 20.0 / (c - 20.0));
        assert_near(snap.btc_roc60, 60.0 / (c - 60.0));
        assert_near(snap.btc_roc120, 120.0 / (c - 120.0));

        let logs: Vec<f64> = closes[400..].iter().map(|v| v.ln()).collect();
        let geom200 = naive_mean(&logs).exp();
        assert_near(snap.geom200, geom200);
        assert_near(snap.ahr999, price / geom200);
        assert_eq!(snap.regime_on, Some(true));
    }

    #[test]
    fn btc_sell_trigger_above_floor_matches_naive_quantile() {
        // Gentle wave around 100 with a +40 spike every 10th row: about 10 %
        // of the z-scores are spikes near 3, so the 95 % quantile is one of
        // them and above 2.5.
        let closes: Vec<f64> = (0..700)
            .map(|i| {
                let wave = 100.0 + 3.0 * (i as f64 * 0.7).sin();
                if i % 10 == 0 { wave + 40.0 } else { wave }
            })
            .collect();
        let snap = btc_snapshot(&klines_from(&closes), 100.0).expect("snapshot");

        let naive_z = |t: usize| {
            let w = &closes[t - 199..=t];
            (closes[t] - naive_mean(w)) / naive_sample_std(w)
        };
        let mut zs: Vec<f64> = (700 - 365..700).map(naive_z).collect();
        zs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let position = 0.95 * 364.0;
        let lower = position as usize;
        let fraction = position - lower as f64;
        let quantile = zs[lower] + (zs[lower + 1] - zs[lower]) * fraction;

        assert!(quantile > 2.5, "fixture should exceed the floor: {quantile}");
        assert_near(snap.sell_trigger, quantile);
        assert_near(snap.zscore, naive_z(699));
    }

    #[test]
    fn btc_regime_is_off_when_price_below_ma200_or_ma_falling() {
        let rising = klines_from(&linear_closes(1000.0, 600));
        let below = btc_snapshot(&rising, 1000.0).expect("snapshot");
        assert_eq!(below.regime_on, Some(false));

        // Falling series: the slope is negative even with a price far above.
        let falling: Vec<f64> = (0..600).map(|i| 2000.0 - i as f64).collect();
        let snap = btc_snapshot(&klines_from(&falling), 5000.0).expect("snapshot");
        assert!(snap.ma200_slope.expect("slope") < 0.0);
        assert_eq!(snap.regime_on, Some(false));
    }

    #[test]
    fn btc_uses_the_last_complete_row() {
        // A NaN close on the newest row leaves that row incomplete; the
        // reference then reports the previous row.
        let closes = linear_closes(1000.0, 600);
        let mut klines = klines_from(&closes);
        klines.push(kline(600, f64::NAN));
        let expected = btc_snapshot(&klines[..600], 1700.0).expect("snapshot");
        assert_eq!(btc_snapshot(&klines, 1700.0), Ok(expected));

        // 564 rows of which only 563 are good: nothing is complete.
        let mut short = klines_from(&linear_closes(1000.0, 563));
        short.push(kline(563, f64::NAN));
        assert_eq!(
            btc_snapshot(&short, 1700.0),
            Err(BtcSeriesError::Insufficient { rows: 564, last_open_time: 563 * DAY_MS })
        );
    }

    #[test]
    fn btc_flat_series_has_no_zscore() {
        // Zero deviation makes every z-score 0/0, so no row is complete.
        let flat = klines_from(&[100.0; 600]);
        assert!(matches!(btc_snapshot(&flat, 100.0), Err(BtcSeriesError::Insufficient { rows: 600, .. })));
    }

    #[test]
    fn btc_unusable_price_leaves_ahr999_missing_and_regime_off() {
        let klines = klines_from(&linear_closes(1000.0, 600));
        for price in [f64::NAN, f64::INFINITY, 0.0, -5.0] {
            let snap = btc_snapshot(&klines, price).expect("snapshot");
            assert_eq!(snap.ahr999, None, "price {price}");
            assert_eq!(snap.regime_on, Some(false), "price {price}");
            assert!(snap.geom200.is_some());
        }
    }

    // ---- robustness ------------------------------------------------------------

    mod robustness {
        use super::*;
        use proptest::prelude::*;

        /// Mostly ordinary prices, sometimes zero, negative or non-finite.
        fn value() -> impl Strategy<Value = f64> {
            prop_oneof![
                40 => 1.0..1e6_f64,
                1 => Just(0.0),
                1 => -1e3..0.0_f64,
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
            ]
        }

        fn klines(max_rows: usize) -> impl Strategy<Value = Vec<Kline>> {
            prop::collection::vec((value(), value(), value(), value()), 0..max_rows).prop_map(|rows| {
                rows.into_iter()
                    .enumerate()
                    .map(|(i, (high, low, close, volume))| Kline {
                        open_time: DAY_MS * i as i64,
                        open: close,
                        high,
                        low,
                        close,
                        volume,
                    })
                    .collect()
            })
        }

        /// Positive prices and volumes only, with `min..max` rows.
        fn clean_klines(min: usize, max: usize) -> impl Strategy<Value = Vec<Kline>> {
            prop::collection::vec((1.0..1e6_f64, 0.0..0.1_f64, 0.0..1e4_f64), min..max).prop_map(|rows| {
                rows.into_iter()
                    .enumerate()
                    .map(|(i, (close, spread, volume))| Kline {
                        open_time: DAY_MS * i as i64,
                        open: close,
                        high: close * (1.0 + spread),
                        low: close * (1.0 - spread),
                        close,
                        volume,
                    })
                    .collect()
            })
        }

        fn all_finite(values: &[Option<f64>]) -> bool {
            values.iter().all(|v| v.is_some_and(f64::is_finite))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn daily_indicators_never_panic_and_are_finite(klines in klines(260)) {
                if let Some(i) = daily(&klines) {
                    prop_assert!(all_finite(&[
                        i.close, i.sma20, i.sma60, i.sma200, i.roc20, i.roc60, i.roc120,
                        i.vol20, i.atr14, i.avg_quote_vol_30, i.avg_quote_vol_90,
                        i.avg_quote_vol_180, i.trend_persist_90,
                    ]));
                    prop_assert_eq!(i.age_days, Some(klines.len() as u32));
                }
            }

            #[test]
            fn btc_snapshot_never_panics_and_is_finite(
                klines in klines(700),
                price in value(),
            ) {
                if let Ok(s) = btc_snapshot(&klines, price) {
                    prop_assert!(all_finite(&[
                        s.ma200, s.zscore, s.geom200, s.sell_trigger, s.ma200_slope,
                        s.btc_roc20, s.btc_roc60, s.btc_roc120,
                    ]));
                    prop_assert!(s.sell_trigger.is_some_and(|t| t >= 2.5));
                    prop_assert!(s.regime_on.is_some());
                }
            }

            #[test]
            fn clean_daily_history_always_gives_indicators(klines in clean_klines(200, 260)) {
                let i = daily(&klines);
                prop_assert!(i.is_some());
            }

            #[test]
            fn clean_btc_history_always_gives_a_full_snapshot(
                klines in clean_klines(564, 700),
                price in 1.0..1e6_f64,
            ) {
                let s = btc_snapshot(&klines, price);
                prop_assert!(s.is_ok());
                if let Ok(s) = s {
                    prop_assert!(s.ahr999.is_some_and(f64::is_finite));
                    prop_assert_eq!(s.regime_on.is_some(), true);
                }
            }
        }
    }
}
