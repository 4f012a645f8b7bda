//! Backtest history data (issue 12, "Data"): the kline CSV files as read
//! from disk, and `tradecycle backtest fetch` through the built binary
//! against the fake Binance: paging, resume, repair of a half-written last
//! line, the weight limit, 429 Retry-After, and bad flags.

mod common;

use std::path::Path;

use common::{Run, tradecycle};
use rust_decimal::Decimal;
use tradecycle::adapters::kline_files::read_klines;
use tradecycle::domain::snapshot::Kline as CoreKline;
use tradecycle_fakes::binance::{DAY_MS, FakeBinance, FakeBinanceConfig, Fault, FaultKind, Kline, SyntheticKlines};

const KLINES: &str = "/api/v3/klines";
/// Open time of 2024-06-30, the last candle of the fixed series.
const LAST_OPEN: i64 = 1_719_705_600_000;
const HOUR_MS: i64 = 3_600_000;

/// 2500 finished daily candles ending 2024-06-30 (first: 2017-08-27).
fn daily_series(fake: &FakeBinance, symbol: &str) -> Vec<Kline> {
    let series = SyntheticKlines::new(2500, Decimal::from(4000)).seed(3).volatility(0.04).ending_at(LAST_OPEN);
    fake.set_synthetic_klines(symbol, &series)
}

/// The fake's candle as the dump line `fetch` must write.
fn csv_line(k: &Kline) -> String {
    let row = k.to_row();
    let cells: Vec<String> =
        row.as_array().unwrap().iter().map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string)).collect();
    cells.join(",")
}

fn csv_text(klines: &[Kline]) -> String {
    klines.iter().map(|k| csv_line(k) + "\n").collect()
}

fn fetch(fake: &FakeBinance, data: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let url = fake.url();
    let data = data.display().to_string();
    let mut all = vec!["backtest", "fetch", "--data", data.as_str()];
    all.extend_from_slice(args);
    let mut vars = vec![("BINANCE_BASE_URL", url.as_str()), ("TRADECYCLE_WAIT_SCALE", "0.001")];
    vars.extend_from_slice(env);
    tradecycle(&all, &vars)
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
}

/// `(startTime, HTTP status)` of every klines request, in order.
fn kline_requests(fake: &FakeBinance) -> Vec<(i64, Option<u16>)> {
    fake.requests()
        .iter()
        .filter(|r| r.path == KLINES)
        .map(|r| {
            let start = r.query.split('&').find_map(|p| p.strip_prefix("startTime=")).unwrap().parse().unwrap();
            (start, r.status)
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

// ---- reading files -------------------------------------------------------

const MS_ROWS: &str = "1704067200000,42283.58,44184.10,42180.77,44179.55,27174.29903,1704153599999,\
                       1189678093.93598,1100573,14478.56735,633967695.08052,0\n\
                       1704153600000,44179.55,45879.63,44148.34,44946.91,65146.40661,1704239999999,\
                       2926675934.65263,2101567,32880.13418,1477283026.50355,0\n";

#[test]
fn dump_files_in_milliseconds_and_in_microseconds_with_crlf_read_as_the_same_klines() {
    let dir = tempfile::tempdir().unwrap();
    let ms = dir.path().join("BTCUSDT-1d.csv");
    let us = dir.path().join("BTCUSDT-1h.csv");
    std::fs::write(&ms, MS_ROWS).unwrap();
    let micros = MS_ROWS
        .replace("1704067200000,", "1704067200000000,")
        .replace("1704153599999,", "1704153599999999,")
        .replace("1704153600000,", "1704153600000000,")
        .replace("1704239999999,", "1704239999999999,")
        .replace('\n', "\r\n");
    std::fs::write(&us, micros).unwrap();
    let want = vec![
        CoreKline {
            open_time: 1_704_067_200_000,
            open: 42283.58,
            high: 44184.10,
            low: 42180.77,
            close: 44179.55,
            volume: 27174.29903,
        },
        CoreKline {
            open_time: 1_704_153_600_000,
            open: 44179.55,
            high: 45879.63,
            low: 44148.34,
            close: 44946.91,
            volume: 65146.40661,
        },
    ];
    assert_eq!(read_klines(&ms).unwrap(), want);
    assert_eq!(read_klines(&us).unwrap(), want);
}

#[test]
fn a_malformed_row_is_an_error_naming_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ETHUSDT-1d.csv");
    std::fs::write(&path, MS_ROWS.replace("44946.91", "44946,91")).unwrap();
    assert_eq!(
        read_klines(&path).unwrap_err(),
        format!("{}, line 2: expected 12 comma-separated columns, found 13", path.display())
    );
    let missing = dir.path().join("XRPUSDT-1d.csv");
    assert!(read_klines(&missing).unwrap_err().starts_with(&format!("cannot read {}: ", missing.display())));
}

// ---- fetch ---------------------------------------------------------------

#[test]
fn fetch_pages_across_more_than_1000_klines_and_writes_every_row_once() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let series = daily_series(&fake, "BTCUSDT");
    let dir = tempfile::tempdir().unwrap();
    let run = fetch(
        &fake,
        dir.path(),
        &["--symbols", "btcusdt", "--interval", "1d", "--from", "2017-01-01", "--to", "2024-06-30"],
        &[],
    );
    ok(&run);
    let path = dir.path().join("BTCUSDT-1d.csv");
    assert_eq!(read(&path), csv_text(&series));
    assert_eq!(read_klines(&path).unwrap().len(), 2500);
    let first = series[0].open_time;
    // 2017-01-01 (before the first candle), then after the 1000th and 2000th.
    assert_eq!(
        kline_requests(&fake),
        [(1_483_228_800_000, Some(200)), (first + 999 * DAY_MS + 1, Some(200)), (first + 1999 * DAY_MS + 1, Some(200))]
    );
    assert_eq!(
        run.stdout.trim(),
        format!("BTCUSDT 1d: 2500 new candles, 2017-08-27 to 2024-06-30, in {}", path.display())
    );
    assert_eq!(run.stderr, "", "no progress bar or notes off a terminal");
}

#[test]
fn fetch_resumes_after_an_earlier_fetch_without_duplicate_or_gap() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let series = daily_series(&fake, "BTCUSDT");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BTCUSDT-1d.csv");
    let args = |to: &'static str| ["--symbols", "BTCUSDT", "--interval", "1d", "--from", "2017-01-01", "--to", to];
    ok(&fetch(&fake, dir.path(), &args("2020-12-31"), &[]));
    let until_2021 = series.iter().filter(|k| k.open_time < 1_609_459_200_000).count();
    assert_eq!(read(&path), csv_text(&series[..until_2021]));
    let before = kline_requests(&fake).len();

    let run = fetch(&fake, dir.path(), &args("2024-06-30"), &[]);
    ok(&run);
    assert_eq!(read(&path), csv_text(&series));
    // It asked from the candle after the last one on disk, not from --from.
    assert_eq!(kline_requests(&fake)[before].0, 1_609_459_200_000);
    assert!(
        run.stdout.starts_with(&format!("BTCUSDT 1d: {} new candles, 2021-01-01 to 2024-06-30", 2500 - until_2021))
    );

    let again = fetch(&fake, dir.path(), &args("2024-06-30"), &[]);
    ok(&again);
    assert_eq!(read(&path), csv_text(&series), "a third fetch adds nothing");
    assert_eq!(again.stdout.trim(), format!("BTCUSDT 1d: up to date, last candle 2024-06-30 in {}", path.display()));
}

#[test]
fn a_half_written_last_line_from_a_killed_fetch_is_cut_and_fetched_again() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let series = daily_series(&fake, "ETHUSDT");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ETHUSDT-1d.csv");
    let args = |to: &'static str| ["--symbols", "ETHUSDT", "--interval", "1d", "--from", "2017-01-01", "--to", to];
    ok(&fetch(&fake, dir.path(), &args("2019-12-31"), &[]));
    // The process died while writing the next row: half of it, no newline.
    let done = series.iter().filter(|k| k.open_time < 1_577_836_800_000).count();
    let next = csv_line(&series[done]);
    let mut text = read(&path);
    text.push_str(&next[..next.len() / 2]);
    std::fs::write(&path, &text).unwrap();

    let run = fetch(&fake, dir.path(), &args("2024-06-30"), &[]);
    ok(&run);
    assert_eq!(read(&path), csv_text(&series));
    assert_eq!(
        run.stderr.trim(),
        format!(
            "ETHUSDT: cut an unfinished last line ({} bytes) of {}; fetching it again",
            next.len() / 2,
            path.display()
        )
    );
}

#[test]
fn a_malformed_existing_file_stops_the_fetch_and_is_left_alone() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    daily_series(&fake, "BTCUSDT");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BTCUSDT-1d.csv");
    let broken = MS_ROWS.replace("1100573", "many");
    std::fs::write(&path, &broken).unwrap();
    let run = fetch(
        &fake,
        dir.path(),
        &["--symbols", "BTCUSDT", "--interval", "1d", "--from", "2024-01-01", "--to", "2024-06-30"],
        &[],
    );
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "error: BTCUSDT: {}, line 1: column 9 (trades): 'many' is not a whole number (rows written so far are \
             kept; run the same command again to resume)",
            path.display()
        )
    );
    assert_eq!(read(&path), broken);
    assert!(kline_requests(&fake).is_empty());
}

#[test]
fn only_finished_candles_are_written_and_hourly_files_are_their_own() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    // Today's candle is still open: it must not be stored.
    let daily = fake.set_synthetic_klines("BTCUSDT", &SyntheticKlines::new(30, Decimal::from(60_000)));
    let hour0 = LAST_OPEN - 1499 * HOUR_MS;
    let hourly: Vec<Kline> = (0..1500)
        .map(|i| {
            let p = Decimal::from(3000 + i % 17);
            Kline::candle(hour0 + i * HOUR_MS, HOUR_MS, [p, p + Decimal::TEN, p - Decimal::TEN, p], Decimal::from(7))
        })
        .collect();
    fake.set_klines_for("ETHUSDT", "1h", hourly.clone());
    let dir = tempfile::tempdir().unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();

    let run = fetch(
        &fake,
        dir.path(),
        &["--symbols", "BTCUSDT", "--interval", "1d", "--from", "2000-01-01", "--to", &today],
        &[],
    );
    ok(&run);
    assert_eq!(read(&dir.path().join("BTCUSDT-1d.csv")), csv_text(&daily[..29]));

    let run = fetch(
        &fake,
        dir.path(),
        &["--symbols", "ETHUSDT", "--interval", "1h", "--from", "2024-01-01", "--to", "2024-06-30"],
        &[],
    );
    ok(&run);
    assert_eq!(read(&dir.path().join("ETHUSDT-1h.csv")), csv_text(&hourly));
    assert!(
        run.stdout.contains("ETHUSDT 1h: 1500 new candles, 2024-04-28 13:00 to 2024-06-30 00:00"),
        "{}",
        run.stdout
    );
}

#[test]
fn fetch_waits_for_the_next_minute_before_crossing_80_percent_of_the_weight_limit() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let series = daily_series(&fake, "BTCUSDT");
    // Other programs on the same IP keep the minute's weight at 4800 of 6000:
    // after each answer the next request would cross 80 %.
    fake.set_weight_used_elsewhere(4800);
    let dir = tempfile::tempdir().unwrap();
    let run = fetch(
        &fake,
        dir.path(),
        &["--symbols", "BTCUSDT", "--interval", "1d", "--from", "2017-01-01", "--to", "2024-06-30"],
        &[],
    );
    ok(&run);
    assert_eq!(read(&dir.path().join("BTCUSDT-1d.csv")), csv_text(&series));
    let waits: Vec<&str> = run.stderr.lines().filter(|l| l.contains("waiting")).collect();
    assert_eq!(waits.len(), 2, "one wait before each page after the first: {}", run.stderr);
    for line in waits {
        let used: u64 = line
            .strip_prefix("BTCUSDT: request weight ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(used > 4798, "{line}");
        assert!(line.contains(" of 6000 used this minute; waiting "), "{line}");
    }
    assert!(kline_requests(&fake).iter().all(|(_, status)| *status == Some(200)));
}

#[test]
fn a_429_with_retry_after_is_waited_out_and_the_page_asked_again() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let series = daily_series(&fake, "BTCUSDT");
    fake.inject(Fault::new("GET", KLINES, FaultKind::RateLimited { retry_after_secs: 1 }));
    let dir = tempfile::tempdir().unwrap();
    let run = fetch(
        &fake,
        dir.path(),
        &["--symbols", "BTCUSDT", "--interval", "1d", "--from", "2017-01-01", "--to", "2024-06-30"],
        &[],
    );
    ok(&run);
    assert_eq!(read(&dir.path().join("BTCUSDT-1d.csv")), csv_text(&series));
    let requests: Vec<_> = fake.requests().into_iter().filter(|r| r.path == KLINES).collect();
    let statuses: Vec<_> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(429), Some(200), Some(200), Some(200)]);
    assert_eq!(requests[0].query, requests[1].query, "the same page again");
    assert!(requests[1].at_ms - requests[0].at_ms >= 1000, "Retry-After: 1 was honoured");
}

#[test]
fn bad_flags_name_the_flag_and_exit_2() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let args = |symbols: &'static str, interval: &'static str, from: &'static str, to: &'static str| {
        ["--symbols", symbols, "--interval", interval, "--from", from, "--to", to]
    };
    let cases = [
        (
            args("BTCUSDT", "1d", "2024-13-01", "2024-12-31"),
            "invalid value '2024-13-01' for '--from <DATE>': expected a date YYYY-MM-DD (UTC)",
        ),
        (
            args("BTCUSDT", "1d", "2024-01-01", "31/12/2024"),
            "invalid value '31/12/2024' for '--to <DATE>': expected a date YYYY-MM-DD (UTC)",
        ),
        (args("BTCUSDT", "1d", "2024-02-01", "2024-01-01"), "error: --to 2024-01-01 is before --from 2024-02-01"),
        (
            args("BTCUSDT", "4h", "2024-01-01", "2024-01-02"),
            "invalid value '4h' for '--interval <1d|1h>': expected 1d or 1h, got '4h'",
        ),
        (
            args("BTC-USDT", "1d", "2024-01-01", "2024-01-02"),
            "for '--symbols <S1,S2>': expected symbols of letters and digits",
        ),
    ];
    for (case, want) in cases {
        let run = fetch(&fake, dir.path(), &case, &[]);
        assert_eq!(run.code, 2, "{case:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{case:?}: {}", run.stderr);
    }
    assert!(kline_requests(&fake).is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn a_symbol_binance_does_not_know_fails_naming_it_and_leaves_no_file() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let series = daily_series(&fake, "BTCUSDT");
    let dir = tempfile::tempdir().unwrap();
    let run = fetch(
        &fake,
        dir.path(),
        &["--symbols", "BTCUSDX,BTCUSDT", "--interval", "1d", "--from", "2017-01-01", "--to", "2024-06-30"],
        &[],
    );
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: BTCUSDX: rejected: Binance does not know this symbol (check --symbols) (rows written so far"
        ),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("BTCUSDX-1d.csv").exists());
    assert!(!run.stdout.contains("BTCUSDX"), "{}", run.stdout);
    // The other symbols are still fetched.
    assert_eq!(read(&dir.path().join("BTCUSDT-1d.csv")), csv_text(&series));
}

#[test]
fn a_period_without_finished_candles_writes_no_file() {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    daily_series(&fake, "BTCUSDT");
    let dir = tempfile::tempdir().unwrap();
    let run = fetch(
        &fake,
        dir.path(),
        &["--symbols", "BTCUSDT", "--interval", "1d", "--from", "2024-07-01", "--to", "2024-07-31"],
        &[],
    );
    ok(&run);
    let path = dir.path().join("BTCUSDT-1d.csv");
    assert_eq!(
        run.stdout.trim(),
        format!("BTCUSDT 1d: no finished candles from --from to --to; {} not written", path.display())
    );
    assert!(!path.exists());
    assert_eq!(kline_requests(&fake), [(1_719_792_000_000, Some(200))]);
}
