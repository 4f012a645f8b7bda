//! `tradecycle backtest run --faults SEED`: a year at hourly cadence with
//! lost order answers, refused and slow Earn moves, refused saves and
//! crashes keeps every invariant; a double-booked fill stops the run
//! naming the seed and the cycle; the same seed gives the same bytes.

mod common;

use std::path::Path;

use serde_json::Value;

use common::history::{self, DAY_MS, day0, wave};
use common::{Run, tradecycle};

const HOUR_MS: i64 = 3_600_000;
const POOL: &str = "fixtures/cycle_replay/pool_input_snapshot.json";
/// Daily history before the first cycle: the BTC snapshot needs ~565 days.
const WARMUP_DAYS: usize = 580;

fn date(day: usize) -> String {
    history::date(day as i64)
}

/// `<SYMBOL>-1d.csv` from the daily closes and `<SYMBOL>-1h.csv` walking
/// linearly from each day's open to its close, from day `hourly_from` on.
fn write_symbol(dir: &Path, symbol: &str, closes: &[f64], hourly_from: usize) {
    let (mut daily, mut hourly) = (String::new(), String::new());
    for (i, close) in closes.iter().enumerate() {
        let open = if i == 0 { *close } else { closes[i - 1] };
        let t = day0().timestamp_millis() + i as i64 * DAY_MS;
        let (high, low) = (open.max(*close) * 1.01, open.min(*close) * 0.99);
        daily += &format!("{t},{open},{high},{low},{close},{},{},1,1,1,1,0\n", 1e9 / close, t + DAY_MS - 1);
        if i >= hourly_from {
            for h in 0..24 {
                let p = ((open + (close - open) * (h + 1) as f64 / 24.0) * 1e4).round() / 1e4;
                let th = t + h * HOUR_MS;
                hourly += &format!("{th},{p},{p},{p},{p},1000,{},1,1,1,1,0\n", th + HOUR_MS - 1);
            }
        }
    }
    std::fs::write(dir.join(format!("{symbol}-1d.csv")), daily).unwrap();
    std::fs::write(dir.join(format!("{symbol}-1h.csv")), hourly).unwrap();
}

/// BTC, the BNB fee fuel and one trend coin of the pool (a small pool
/// keeps a year of hourly cycles quick in debug), `days` long; hourly
/// candles from the day before the first cycle.
fn market(dir: &Path, days: usize) {
    let from = WARMUP_DAYS - 1;
    write_symbol(dir, "BTCUSDT", &wave(20_000.0, 0.002, 0.15, 180.0, days), from);
    write_symbol(dir, "BNBUSDT", &wave(300.0, 0.001, 0.05, 90.0, days), from);
    write_symbol(dir, "ETHUSDT", &wave(1_500.0, 0.0025, 0.2, 60.0, days), from);
}

fn backtest(data: &Path, out: &Path, extra: &[&str]) -> Run {
    let (data, out) = (data.display().to_string(), out.display().to_string());
    let mut args = vec!["backtest", "run", "--data", data.as_str(), "--output", out.as_str()];
    args.extend_from_slice(extra);
    tradecycle(&args, &[])
}

fn summary(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

fn count(v: &Value, kind: &str) -> u64 {
    v["faults"]["injected"][kind].as_u64().unwrap_or_else(|| panic!("no {kind} count: {}", v["faults"]))
}

#[test]
fn a_year_hourly_with_faults_keeps_every_invariant() {
    let data = tempfile::tempdir().unwrap();
    market(data.path(), WARMUP_DAYS + 366);
    let out = tempfile::tempdir().unwrap();
    let (from, to) = (date(WARMUP_DAYS), date(WARMUP_DAYS + 364));
    let flags =
        ["--from", &from, "--to", &to, "--cadence", "1h", "--pool", POOL, "--earn-apr", "0.05", "--faults", "12"];
    let run = backtest(data.path(), out.path(), &flags);
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let s = summary(out.path());
    assert_eq!(s["cycles"], 365 * 24);
    assert_eq!(s["invariant_broken"], Value::Null);
    assert_eq!(s["faults"]["seed"], 12);
    // Every kind was really injected (seed 12 gave 42 lost answers, 29
    // crashes, 11 refused and 31 slow Earn moves, 584 refused saves), and
    // the crashes are the only cycles that failed.
    for kind in ["ambiguous", "crash", "earn_refused", "earn_slow", "save_refused"] {
        assert!(count(&s, kind) > 0, "no {kind} injected: {}", s["faults"]);
    }
    assert_eq!(s["failed_cycles"].as_u64().unwrap(), count(&s, "crash"), "{s}");
    assert!(s["trades_by_kind"]["trend_buy"].as_u64().unwrap_or(0) > 0, "the trend sleeve traded: {s}");
    assert!(s["trades_by_kind"]["dca_buy"].as_u64().unwrap_or(0) > 0, "the DCA sleeve traded: {s}");
}

#[test]
fn the_same_seed_gives_byte_identical_outputs_and_another_seed_other_faults() {
    let data = tempfile::tempdir().unwrap();
    market(data.path(), WARMUP_DAYS + 32);
    let (one, two, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (from, to) = (date(WARMUP_DAYS), date(WARMUP_DAYS + 29));
    let flags = ["--from", &from, "--to", &to, "--cadence", "1h", "--pool", POOL, "--faults", "3"];
    let run = backtest(data.path(), one.path(), &flags);
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let again = backtest(data.path(), two.path(), &flags);
    assert_eq!(run.stdout, again.stdout);
    for name in ["summary.json", "equity.csv", "trades.csv"] {
        assert_eq!(
            std::fs::read(one.path().join(name)).unwrap(),
            std::fs::read(two.path().join(name)).unwrap(),
            "{name}"
        );
    }
    let s = summary(one.path());
    assert!(count(&s, "ambiguous") + count(&s, "crash") > 0, "faults were injected: {}", s["faults"]);
    let flags = [&flags[..8], &["--faults", "4"]].concat();
    let run = backtest(data.path(), other.path(), &flags);
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert_ne!(summary(other.path())["faults"], s["faults"]);
}

#[test]
fn a_double_booked_fill_stops_the_run_naming_the_seed_the_cycle_and_the_invariant() {
    let data = tempfile::tempdir().unwrap();
    market(data.path(), WARMUP_DAYS + 3);
    let out = tempfile::tempdir().unwrap();
    let (from, to) = (date(WARMUP_DAYS), date(WARMUP_DAYS + 1));
    let flags = ["--from", &from, "--to", &to, "--pool", POOL, "--faults", "7", "--test-double-book"];
    let run = backtest(data.path(), out.path(), &flags);
    assert_eq!(run.code, 1, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    // The first cycle buys (the fuel at least), so it is the one caught.
    let expected =
        format!("invariant client_id_filled_once broken at cycle {from}T00:00:00Z (seed 7): client order id ");
    assert!(run.stderr.contains(&format!("error: {expected}")), "{}", run.stderr);
    let s = summary(out.path());
    let broken = s["invariant_broken"].as_str().unwrap();
    assert!(broken.starts_with(&expected) && broken.ends_with(" filled 2 times"), "{broken}");
    assert_eq!(s["cycles"], 1, "the run stopped at the broken cycle");
    assert_eq!(run.stdout, "");
}

#[test]
fn without_faults_the_invariants_hold_and_the_summary_has_no_fault_fields() {
    let data = tempfile::tempdir().unwrap();
    market(data.path(), WARMUP_DAYS + 62);
    let out = tempfile::tempdir().unwrap();
    let flags = ["--from", &date(WARMUP_DAYS), "--to", &date(WARMUP_DAYS + 60), "--pool", POOL];
    let run = backtest(data.path(), out.path(), &flags);
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let s = summary(out.path());
    assert!(s.get("faults").is_none() && s.get("invariant_broken").is_none(), "{s}");
    assert!(s["trades_by_kind"]["trend_buy"].as_u64().unwrap_or(0) > 0, "trades were checked: {s}");
    // The test-only switch needs --faults.
    let run = backtest(data.path(), out.path(), &[&flags[..], &["--test-double-book"]].concat());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--faults"), "{}", run.stderr);
}
