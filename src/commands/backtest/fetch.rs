//! `tradecycle backtest fetch`: downloads klines from Binance's public
//! endpoint into `DATA/<SYMBOL>-<interval>.csv`, page by page, resuming
//! after the last candle already on disk.
//!
//! What it guarantees: only finished candles are written (the open one
//! would be stored with its values so far and never corrected); a row is
//! never written twice (each page is filtered to candles after the file's
//! last one); every page is appended and synced before the next request,
//! so a killed fetch loses at most an unfinished line, which the next
//! fetch cuts off and downloads again (`adapters::kline_files`). Request
//! weight stays under 80% of Binance's per-minute limit: when the last
//! answer's `X-MBX-USED-WEIGHT-1M` says the next request would cross it,
//! the fetch waits for the next minute (waits are multiplied by
//! `TRADECYCLE_WAIT_SCALE`, as the cycle's are). A 429's `Retry-After` is
//! honoured by the Binance transport itself.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};

use crate::adapters::binance::history::{API_WEIGHT_LIMIT, FetchedKline, KLINE_PAGE_LIMIT, KLINES_WEIGHT};
use crate::adapters::binance::{BinanceClient, BinanceConfig};
use crate::adapters::kline_files::{AppendFile, kline_path};
use crate::cli::BacktestFetchArgs;
use crate::commands::{exit, usage};
use crate::config::run_config::wait_scale;
use crate::config::{Env, process_env};
use crate::history::{CsvRow, Interval};
use crate::ports::{Clock, SystemClock};

/// Share of the weight limit the fetch stays under.
const WEIGHT_SHARE: f64 = 0.8;
/// Binance counts weight per calendar minute.
const MINUTE_MS: i64 = 60_000;
/// Waited past the minute boundary, for clock differences with Binance.
const BOUNDARY_MARGIN_MS: i64 = 1_000;
const DAY_MS: i64 = 86_400_000;

/// What to download, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchPlan {
    pub symbols: Vec<String>,
    pub interval: Interval,
    /// Open time of the first candle wanted (ms).
    pub from_ms: i64,
    /// Last millisecond of the `--to` day: candles opening up to it.
    pub end_ms: i64,
}

impl FetchPlan {
    /// The flags as a plan; an error names the flag to fix.
    pub fn new(symbols: &[String], interval: Interval, from: NaiveDate, to: NaiveDate) -> Result<Self, String> {
        if to < from {
            return Err(format!("--to {to} is before --from {from}"));
        }
        let mut unique: Vec<String> = Vec::new();
        for s in symbols {
            if !unique.contains(s) {
                unique.push(s.clone());
            }
        }
        if unique.is_empty() {
            return Err("--symbols: give at least one symbol, e.g. BTCUSDT".into());
        }
        Ok(FetchPlan { symbols: unique, interval, from_ms: midnight_ms(from), end_ms: midnight_ms(to) + DAY_MS - 1 })
    }
}

fn midnight_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis())
}

/// How long to wait before the next request so that it keeps the minute's
/// weight under 80% of the limit, given the weight the last answer
/// reported; `None` when it fits. The wait runs to the next minute.
pub fn weight_wait(used: u64, now_ms: i64) -> Option<Duration> {
    let ceiling = (API_WEIGHT_LIMIT as f64 * WEIGHT_SHARE) as u64;
    if used + KLINES_WEIGHT <= ceiling {
        return None;
    }
    let to_boundary = MINUTE_MS - now_ms.rem_euclid(MINUTE_MS) + BOUNDARY_MARGIN_MS;
    Some(Duration::from_millis(to_boundary as u64))
}

/// Where the next page starts, or `None` when this one was the last: it was
/// short, reached `end`, or did not move forward.
pub fn next_page_start(page_len: usize, last_open: Option<i64>, start: i64, end: i64) -> Option<i64> {
    let last = last_open?;
    (page_len >= KLINE_PAGE_LIMIT && last >= start && last < end).then_some(last + 1)
}

/// The candles of a page worth writing: finished by `now_ms` and each
/// opening after the row before it, starting from the file's last row (so
/// nothing is written twice, and the file stays in order whatever a page
/// holds). Stops at the first unfinished one; everything after it is
/// unfinished too.
pub fn rows_to_write<'a>(page: &'a [FetchedKline], after: Option<&CsvRow>, now_ms: i64) -> Vec<(CsvRow, &'a str)> {
    let mut last_open = after.map_or(i64::MIN, |r| r.kline.open_time);
    let mut rows = Vec::with_capacity(page.len());
    for k in page.iter().take_while(|k| k.row.close_time < now_ms) {
        if k.row.kline.open_time > last_open {
            last_open = k.row.kline.open_time;
            rows.push((k.row, k.line.as_str()));
        }
    }
    rows
}

pub async fn command(args: BacktestFetchArgs) -> u8 {
    let plan = match FetchPlan::new(&args.symbols, args.interval, args.from, args.to) {
        Ok(plan) => plan,
        Err(e) => return usage(e),
    };
    let env = process_env();
    let (client, scale) = match client_from_env(&env) {
        Ok(setup) => setup,
        Err(e) => return usage(e),
    };
    let fetcher = Fetcher { client: &client, clock: &SystemClock, wait_scale: scale, progress: progress_bar() };
    let mut code = exit::OK;
    for symbol in &plan.symbols {
        match fetcher.symbol(&plan, symbol, &args.data).await {
            Ok(line) => fetcher.say(&line, false),
            Err(e) => {
                fetcher.say(
                    &format!(
                        "error: {symbol}: {e} (rows written so far are kept; run the same command again to resume)"
                    ),
                    true,
                );
                code = exit::ERROR;
            }
        }
    }
    fetcher.progress.finish_and_clear();
    code
}

fn client_from_env(env: &Env) -> Result<(BinanceClient, f64), String> {
    let config = BinanceConfig::public_from_env(env).map_err(|e| e.0)?;
    let scale = wait_scale(env).map_err(|e| e.0)?;
    let client = BinanceClient::new(config).map_err(|e| e.to_string())?;
    Ok((client, scale))
}

/// A bar on a terminal; hidden otherwise (tests, CI logs, cron mail).
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} candles {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

struct Fetcher<'a> {
    client: &'a BinanceClient,
    clock: &'a dyn Clock,
    wait_scale: f64,
    progress: ProgressBar,
}

impl Fetcher<'_> {
    /// A line on stdout (results) or stderr (notes, errors), under the bar.
    fn say(&self, line: &str, to_stderr: bool) {
        self.progress.suspend(|| if to_stderr { eprintln!("{line}") } else { println!("{line}") });
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Brings one symbol's file up to `--to` (or to the last finished
    /// candle); returns the line that says what was done.
    async fn symbol(&self, plan: &FetchPlan, symbol: &str, dir: &Path) -> Result<String, String> {
        let interval = plan.interval;
        let path = kline_path(dir, symbol, interval);
        let mut file = AppendFile::open(&path)?;
        if file.dropped_bytes > 0 {
            let n = file.dropped_bytes;
            self.say(
                &format!("{symbol}: cut an unfinished last line ({n} bytes) of {}; fetching it again", path.display()),
                true,
            );
        }
        // Resume right after the last candle on disk, even when that is
        // before --from: a gap inside a file would go unnoticed. A file is
        // only ever extended forwards (its start is not moved to --from).
        let mut start = file.last.map_or(plan.from_ms, |r| r.close_time + 1);
        let end = plan.end_ms;
        let expected = if start <= end { ((end - start) / interval.millis() + 1) as u64 } else { 0 };
        self.progress.set_prefix(symbol.to_string());
        self.progress.set_position(0);
        self.progress.set_length(expected);
        let mut written = 0usize;
        let mut first_written = None;
        while start <= end {
            self.respect_weight(symbol).await;
            let page = match self.client.kline_page(symbol, interval, start, end).await {
                Ok(page) => page,
                Err(e) => {
                    file.remove_if_empty();
                    return Err(e.to_string());
                }
            };
            let now = self.now_ms();
            let rows = rows_to_write(&page, file.last.as_ref(), now);
            file.append(&rows)?;
            written += rows.len();
            first_written = first_written.or(rows.first().map(|r| r.0.kline.open_time));
            self.progress.inc(rows.len() as u64);
            let unfinished = page.iter().any(|k| k.row.close_time >= now);
            match next_page_start(page.len(), page.last().map(|k| k.row.kline.open_time), start, end) {
                Some(next) if !unfinished => start = next,
                _ => break,
            }
        }
        let at = path.display();
        Ok(match (first_written, file.last) {
            (Some(first), Some(last)) => format!(
                "{symbol} {interval}: {written} new candles, {} to {}, in {at}",
                shown(first, interval),
                shown(last.kline.open_time, interval)
            ),
            (None, Some(last)) => {
                format!(
                    "{symbol} {interval}: up to date, last candle {} in {at}",
                    shown(last.kline.open_time, interval)
                )
            }
            (_, None) => {
                let line = format!("{symbol} {interval}: no finished candles from --from to --to; {at} not written");
                file.remove_if_empty();
                line
            }
        })
    }

    /// Waits for the next minute when the next request would take the
    /// minute's weight past 80% of the limit.
    async fn respect_weight(&self, symbol: &str) {
        let used = self.client.used_weight_1m();
        if let Some(wait) = weight_wait(used, self.now_ms()) {
            self.say(
                &format!(
                    "{symbol}: request weight {used} of {API_WEIGHT_LIMIT} used this minute; waiting {} s for the next minute",
                    wait.as_secs_f64().ceil()
                ),
                true,
            );
            self.clock.sleep(wait.mul_f64(self.wait_scale)).await;
        }
    }
}

/// A candle's open time as a date (daily) or date and hour (hourly), UTC.
fn shown(open_ms: i64, interval: Interval) -> String {
    let format = match interval {
        Interval::Day => "%Y-%m-%d",
        Interval::Hour => "%Y-%m-%d %H:00",
    };
    DateTime::from_timestamp_millis(open_ms).map_or_else(|| open_ms.to_string(), |t| t.format(format).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse_row;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_plan_covers_whole_utc_days_and_names_the_flag_at_fault() {
        let syms = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string(), "BTCUSDT".to_string()];
        let plan = FetchPlan::new(&syms, Interval::Day, day("2024-01-01"), day("2024-01-02")).unwrap();
        assert_eq!(plan.symbols, ["BTCUSDT", "ETHUSDT"]);
        assert_eq!((plan.from_ms, plan.end_ms), (1_704_067_200_000, 1_704_239_999_999));
        assert_eq!(
            FetchPlan::new(&syms, Interval::Day, day("2024-02-01"), day("2024-01-01")).unwrap_err(),
            "--to 2024-01-01 is before --from 2024-02-01"
        );
    }

    #[test]
    fn weight_waits_for_the_next_minute_only_near_eighty_percent() {
        let now = 1_704_067_230_000; // 30 s into a minute
        assert_eq!(weight_wait(0, now), None);
        assert_eq!(weight_wait(4798, now), None);
        assert_eq!(weight_wait(4799, now), Some(Duration::from_millis(31_000)));
        assert_eq!(weight_wait(5990, now + 29_500), Some(Duration::from_millis(1_500)));
    }

    #[test]
    fn paging_continues_only_after_a_full_page_that_did_not_reach_the_end() {
        assert_eq!(next_page_start(1000, Some(500), 0, 10_000), Some(501));
        assert_eq!(next_page_start(999, Some(500), 0, 10_000), None);
        assert_eq!(next_page_start(1000, Some(10_000), 0, 10_000), None);
        assert_eq!(next_page_start(1000, None, 0, 10_000), None);
        assert_eq!(next_page_start(1000, Some(5), 6, 10_000), None, "a page that went backwards");
    }

    #[test]
    fn only_finished_candles_after_the_last_row_are_written() {
        let line = |open: i64| format!("{open},1,2,0.5,1.5,10,{},15,3,5,7.5,0", open + DAY_MS - 1);
        let page: Vec<FetchedKline> = (0..4)
            .map(|i| {
                let l = line(i * DAY_MS);
                FetchedKline { row: parse_row(&l).unwrap(), line: l }
            })
            .collect();
        let after = page[0].row;
        // Day 3 closes at 4 days - 1 ms: still open at 3.5 days.
        let rows = rows_to_write(&page, Some(&after), 3 * DAY_MS + DAY_MS / 2);
        assert_eq!(rows.iter().map(|r| r.0.kline.open_time / DAY_MS).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(rows_to_write(&page, None, 10 * DAY_MS).len(), 4);
        // A page repeating or going back never puts the file out of order.
        let muddled = [page[1].clone(), page[1].clone(), page[0].clone(), page[2].clone()];
        let rows = rows_to_write(&muddled, None, 10 * DAY_MS);
        assert_eq!(rows.iter().map(|r| r.0.kline.open_time / DAY_MS).collect::<Vec<_>>(), [1, 2]);
    }
}
