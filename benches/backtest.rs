//! Backtest speed and memory (issue 12) on generated kline files: a
//! five-symbol pool plus BTC and BNB over four years at daily cadence, the
//! same over one year at hourly cadence (8,760 cycles), and a 100-symbol
//! pool over four years at daily cadence.
//!
//! In-process: plan (read the files) + run + summary + the five output
//! files, as `backtest run --output` does. Whole process: the binary on the
//! same files, wall time and peak RSS (`wait4`). The built-in static
//! universe has 11 symbols, so the 100-symbol pool is a `--pool` payload
//! (a backtest checks a payload against its own `pool_size`).
//!
//! Run with `cargo bench --bench backtest`. Targets: 0.5 s, 2 s and 5 s;
//! peak memory under 200 MiB. `BACKTEST_BENCH_DATA=DIR` writes the data
//! there and keeps it (for `/usr/bin/time -v` by hand).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate, TimeZone, Utc};
use rust_decimal_macros::dec;
use serde_json::json;
use tradecycle::cli::{BacktestRunArgs, Format};
use tradecycle::commands::backtest::outputs::write_all;
use tradecycle::commands::backtest::run::{plan, summary_of};
use tradecycle::history::Interval;

/// The binary's allocator (`src/main.rs`), so in-process runs measure what
/// `backtest run` does.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The first generated day; cycles start `WARMUP` days later (the BTC
/// snapshot needs about 565 days of history).
const DAY0: (i32, u32, u32) = (2020, 1, 1);
const WARMUP: i64 = 600;
const FOUR_YEARS: i64 = 1461;
const STATIC: [&str; 11] = [
    "ETHUSDT", "SOLUSDT", "XRPUSDT", "LINKUSDT", "AVAXUSDT", "ADAUSDT", "DOGEUSDT", "TRXUSDT", "ATOMUSDT", "LTCUSDT",
    "BCHUSDT",
];

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(DAY0.0, DAY0.1, DAY0.2).unwrap() + Days::days(n)
}

/// Price level of a generated symbol: the real pairs start near their
/// real prices, since their trading rules are Binance's real filters (a
/// 0.1 XRP step at an XRP price of 2,000 USDT would leave 200 USDT unsold
/// after every exit, which no real account sees); made-up symbols get the
/// default rules and any level.
fn start_price(symbol: &str, k: usize) -> f64 {
    match symbol {
        "BTCUSDT" => 30_000.0,
        "ETHUSDT" => 2_000.0,
        "BNBUSDT" => 300.0,
        "BCHUSDT" => 300.0,
        "SOLUSDT" => 100.0,
        "LTCUSDT" => 80.0,
        "AVAXUSDT" => 30.0,
        "LINKUSDT" => 15.0,
        "ATOMUSDT" => 10.0,
        "XRPUSDT" => 0.5,
        "ADAUSDT" => 0.4,
        "DOGEUSDT" => 0.1,
        "TRXUSDT" => 0.08,
        _ => 10.0 + 97.0 * k as f64,
    }
}

/// Closes of `symbol` (the `k`th generated): a drift and a wave, both
/// depending on `k`, at `steps` points `step_days` apart, to 8 significant
/// digits.
fn closes(symbol: &str, k: usize, steps: usize, step_days: f64) -> Vec<f64> {
    let (p0, drift, amp, period) = (
        start_price(symbol, k),
        0.0005 + 0.0002 * (k % 7) as f64,
        0.1 + 0.02 * (k % 5) as f64,
        60.0 + 13.0 * (k % 11) as f64,
    );
    (0..steps)
        .map(|i| {
            let x = i as f64 * step_days;
            let p = p0 * (drift * x + amp * (2.0 * std::f64::consts::PI * x / period).sin()).exp();
            let scale = 10f64.powi(7 - p.log10().floor() as i32);
            (p * scale).round() / scale
        })
        .collect()
}

/// `DATA/<symbol>-<interval>.csv` in Binance's layout from `start_ms` on.
fn write_klines(dir: &Path, symbol: &str, interval: &str, start_ms: i64, step_ms: i64, closes: &[f64]) {
    let mut text = String::with_capacity(closes.len() * 96);
    for (i, close) in closes.iter().enumerate() {
        let open = if i == 0 { *close } else { closes[i - 1] };
        let t = start_ms + i as i64 * step_ms;
        let (high, low) = (open.max(*close) * 1.01, open.min(*close) * 0.99);
        text += &format!("{t},{open},{high},{low},{close},{:.4},{},1,1,1,1,0\n", 1e9 / close, t + step_ms - 1);
    }
    std::fs::write(dir.join(format!("{symbol}-{interval}.csv")), text).unwrap();
}

fn pool_file(dir: &Path, symbols: &[String]) -> PathBuf {
    let map: serde_json::Map<String, serde_json::Value> =
        symbols.iter().map(|s| (s.clone(), json!({ "base_asset": s.trim_end_matches("USDT") }))).collect();
    let payload = json!({"as_of_date": day(WARMUP).to_string(), "version": "bench", "mode": "core_major",
                         "pool_size": symbols.len(), "symbols": symbols, "symbol_map": map,
                         "source_project": "bench"});
    let path = dir.join(format!("pool-{}.json", symbols.len()));
    std::fs::write(&path, payload.to_string()).unwrap();
    path
}

/// BTC, BNB and `pool` daily over the warm-up and four years; hourly files
/// too when `hourly` (from the day before the first cycle, one year).
fn write_data(dir: &Path, pool: &[String], hourly: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let t0 = Utc.with_ymd_and_hms(DAY0.0, DAY0.1, DAY0.2, 0, 0, 0).unwrap().timestamp_millis();
    let days = (WARMUP + FOUR_YEARS + 1) as usize;
    let all: Vec<String> = ["BTCUSDT", "BNBUSDT"].iter().map(|s| s.to_string()).chain(pool.iter().cloned()).collect();
    for (k, symbol) in all.iter().enumerate() {
        let k = if symbol == "BTCUSDT" { 300 } else { k };
        write_klines(dir, symbol, "1d", t0, 86_400_000, &closes(symbol, k, days, 1.0));
        if hourly {
            let start = t0 + (WARMUP - 1) * 86_400_000;
            let offset = (WARMUP - 1) as f64;
            let c: Vec<f64> =
                closes(symbol, k, (WARMUP as usize + 367) * 24, 1.0 / 24.0).split_off(offset as usize * 24);
            write_klines(dir, symbol, "1h", start, 3_600_000, &c);
        }
    }
}

struct Case {
    name: &'static str,
    data: PathBuf,
    pool: Option<PathBuf>,
    cadence: Interval,
    days: i64,
    target: Duration,
}

impl Case {
    fn args(&self, pool: Option<PathBuf>, output: &Path) -> BacktestRunArgs {
        BacktestRunArgs {
            data: self.data.clone(),
            from: day(WARMUP),
            to: day(WARMUP + self.days - 1),
            pool,
            pool_history: None,
            cadence: self.cadence,
            initial_usdt: dec!(10000),
            fee_rate: dec!(0.001),
            slippage_bps: dec!(5),
            earn_apr: dec!(0.04),
            output: Some(output.to_path_buf()),
            format: Format::Text,
            faults: None,
            test_double_book: false,
            set: Vec::new(),
            sweep: Vec::new(),
        }
    }
}

fn in_process(case: &Case, out: &Path, iterations: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut samples = Vec::new();
    let mut cycles = 0;
    for _ in 0..iterations {
        let start = Instant::now();
        let backtest = plan(&case.args(case.pool.clone(), out)).expect("flags");
        let loaded = start.elapsed();
        let outcome = rt.block_on(backtest.run(|_, _| {})).expect("run");
        let summary = summary_of(&backtest, &outcome);
        write_all(out, &summary, &outcome.cycles, &outcome.trades).expect("outputs");
        samples.push((start.elapsed(), loaded));
        assert_eq!(summary.failed_cycles, 0, "{:?}", summary.first_failure);
        assert_eq!(outcome.invariant_broken, None);
        assert!(
            summary.inputs.pool.contains(if case.pool.is_some() { "pool-" } else { "static" }),
            "{}",
            summary.inputs.pool
        );
        cycles = summary.cycles;
    }
    samples.sort();
    let (best, median) = (samples[0], samples[samples.len() / 2]);
    println!(
        "{:<26} {cycles:>5} cycles  in-process min {:>8.3?} median {:>8.3?} (reading files {:>7.3?})  {:>6.1} µs/cycle  target {:?}{}",
        case.name,
        best.0,
        median.0,
        median.1,
        median.0.as_secs_f64() * 1e6 / cycles as f64,
        case.target,
        if median.0 <= case.target { "" } else { "  MISSED" }
    );
}

/// Wall time and peak RSS (KiB) of one `backtest run` process. The RSS is
/// an upper bound: a forked child counts the bench's own pages until it
/// execs (`/usr/bin/time -v` on the binary gives the process's own).
fn whole_process(case: &Case, out: &Path) -> (Duration, i64) {
    let (data, out) = (case.data.display().to_string(), out.display().to_string());
    let (from, to) = (day(WARMUP).to_string(), day(WARMUP + case.days - 1).to_string());
    let cadence = if case.cadence == Interval::Hour { "1h" } else { "1d" };
    let mut args = vec!["backtest", "run", "--data", &data, "--from", &from, "--to", &to, "--cadence", cadence];
    args.extend(["--output", &out, "--slippage-bps", "5", "--earn-apr", "0.04"]);
    let pool = case.pool.as_ref().map(|p| p.display().to_string());
    if let Some(p) = &pool {
        args.extend(["--pool", p]);
    }
    let start = Instant::now();
    // Reaped by `wait4` below, which also reports this child's own peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_tradecycle"))
        .args(&args)
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 only writes into the status and the struct we own.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as i32);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "backtest run failed: {status}");
    (wall, usage.ru_maxrss)
}

fn main() {
    let kept = std::env::var_os("BACKTEST_BENCH_DATA").map(PathBuf::from);
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = kept.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let five: Vec<String> = ["ETHUSDT", "SOLUSDT", "LINKUSDT", "XRPUSDT", "ADAUSDT"].map(String::from).to_vec();
    let hundred: Vec<String> =
        STATIC.iter().map(|s| s.to_string()).chain((STATIC.len()..100).map(|i| format!("C{i:03}USDT"))).collect();
    let started = Instant::now();
    write_data(&root.join("five"), &five, true);
    write_data(&root.join("hundred"), &hundred, false);
    let (pool5, pool100) = (pool_file(&root, &five), pool_file(&root, &hundred));
    println!("generated data in {:.1?} under {}", started.elapsed(), root.display());

    let cases = [
        Case {
            name: "5 + BTC/BNB, 4 y daily",
            data: root.join("five"),
            pool: Some(pool5.clone()),
            cadence: Interval::Day,
            days: FOUR_YEARS,
            target: Duration::from_millis(500),
        },
        Case {
            name: "5 + BTC/BNB, 1 y hourly",
            data: root.join("five"),
            pool: Some(pool5),
            cadence: Interval::Hour,
            days: 365,
            target: Duration::from_secs(2),
        },
        Case {
            name: "100 symbols, 4 y daily",
            data: root.join("hundred"),
            pool: Some(pool100),
            cadence: Interval::Day,
            days: FOUR_YEARS,
            target: Duration::from_secs(5),
        },
    ];
    let out = root.join("out");
    for case in &cases {
        in_process(case, &out, 3);
    }
    for case in &cases {
        let (wall, rss) = whole_process(case, &out);
        println!("{:<26} whole process {wall:>8.3?}  peak RSS at most {:>6.1} MiB", case.name, rss as f64 / 1024.0);
    }
}
