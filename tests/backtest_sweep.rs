//! `tradecycle backtest run --set KEY=VALUE` and `--sweep KEY=V1,V2,...`
//! over generated kline files: an override moves the outcome the way it
//! should, bad keys and values exit 2 naming them, every sweep row equals
//! the single run with the same `--set`, and the sweep's output is
//! byte-identical run to run.

mod common;

use std::path::Path;

use chrono::Duration;
use serde_json::Value;

use common::history::{date, day0, wave, write_series};
use common::{Run, tradecycle};

const POOL: &str = "fixtures/cycle_replay/pool_input_snapshot.json";

/// Daily candles for a market the trend sleeve trades (it holds SOL
/// from day 692 to 736 when run from day 600), waves of different periods.
fn market(dir: &Path) -> Vec<(&'static str, Vec<f64>)> {
    let days = 760;
    let series = vec![
        ("BTCUSDT", wave(20_000.0, 0.002, 0.15, 180.0, days)),
        ("BNBUSDT", wave(300.0, 0.001, 0.05, 90.0, days)),
        ("ETHUSDT", wave(1_500.0, 0.0025, 0.2, 120.0, days)),
        ("SOLUSDT", wave(20.0, 0.003, 0.3, 100.0, days)),
        ("XRPUSDT", wave(0.4, 0.001, 0.25, 150.0, days)),
    ];
    for (symbol, closes) in &series {
        write_series(dir, symbol, closes);
    }
    series
}

/// Hourly candles for days 710 and 711, flat at each symbol's day-710
/// close, except SOL, which falls 30% from day 711 06:00 on. An hourly run
/// of day 711 enters the trend at 00:00 (SOL among the picks) and sees
/// the sleeve's day PnL far below -5% from the 07:00 cycle on.
fn crash_day(dir: &Path, series: &[(&str, Vec<f64>)]) {
    let start = day0() + Duration::days(710);
    for (symbol, closes) in series {
        let mut text = String::new();
        for h in 0..48i64 {
            let close = if *symbol == "SOLUSDT" && h >= 30 { closes[710] * 0.7 } else { closes[710] };
            let t = start.timestamp_millis() + h * 3_600_000;
            text += &format!(
                "{t},{close},{close},{close},{close},{},{},1,1,1,1,0
",
                4e7 / close,
                t + 3_599_999
            );
        }
        std::fs::write(dir.join(format!("{symbol}-1h.csv")), text).unwrap();
    }
}

/// `tradecycle backtest run --data DATA` + `extra`.
fn tradecycle_run(data: &Path, extra: &[&str]) -> Run {
    let data = data.display().to_string();
    let mut args = vec!["backtest", "run", "--data", data.as_str()];
    args.extend_from_slice(extra);
    tradecycle(&args, &[])
}

/// The daily run from day 600 to 759 on the static pool, + `extra`.
fn run(data: &Path, extra: &[&str]) -> Run {
    let (from, to) = (date(600), date(759));
    tradecycle_run(data, &[&["--from", from.as_str(), "--to", to.as_str(), "--pool", POOL][..], extra].concat())
}

fn ok(run: &Run) -> Value {
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn a_larger_breaker_threshold_avoids_the_breaker_days() {
    let data = tempfile::tempdir().unwrap();
    let series = market(data.path());
    crash_day(data.path(), &series);
    let day = date(711);
    let hourly = ["--from", &day, "--to", &day, "--cadence", "1h", "--pool", POOL, "--format", "json"];
    let default = ok(&tradecycle_run(data.path(), &hourly));
    let loose = ok(&tradecycle_run(data.path(), &[&hourly[..], &["--set", "circuit_breaker_pnl=-0.5"]].concat()));
    // Default (-5%): the breaker fires once and sells both trend holdings.
    assert_eq!(default["circuit_breaker_days"], 1);
    assert_eq!(default["trades_by_kind"]["breaker_sell"], 2);
    assert_eq!(default["trades_by_kind"].get("trend_sell"), None);
    // -50%: no breaker day; the crashed SOL leaves through the trend's own
    // exit rules instead.
    assert_eq!(loose["circuit_breaker_days"], 0);
    assert_eq!(loose["trades_by_kind"].get("breaker_sell"), None);
    assert_eq!(loose["trades_by_kind"]["trend_sell"], 1);
    assert_eq!(default["trades_by_kind"]["trend_buy"], loose["trades_by_kind"]["trend_buy"]);
}

#[test]
fn bad_keys_and_values_exit_2_naming_the_key() {
    let data = tempfile::tempdir().unwrap();
    market(data.path());
    let known = "known keys: top_n, atr_multiplier, min_trend_buy_usdt, sma_short_days, sma_medium_days, \
                 sma_long_days, atr_days, circuit_breaker_pnl,";
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "atr=3"], "--set atr=3: unknown key \"atr\"; known keys: top_n, atr_multiplier,"),
        (&["--set", "atr_multiplier"], "--set atr_multiplier: expected KEY=VALUE"),
        (&["--set", "top_n=two"], "--set top_n=two: top_n: cannot parse \"two\" as usize"),
        (&["--set", "top_n=0"], "--set top_n=0: top_n must be >= 1, got 0"),
        (&["--set", "circuit_breaker_pnl=0.05"], "circuit_breaker_pnl must be > -1 and < 0, got 0.05"),
        (&["--set", "earn_buffer_max_usdt=20"], "--set: earn_buffer_max_usdt (20) must not be below"),
        (&["--set", "sma_long_days=421"], "--set sma_long_days=421: sma_long_days must be >= 1 and <= 420, got 421"),
        (&["--sweep", "atr=1,2"], "--sweep atr=1,2: unknown key \"atr\""),
        (&["--sweep", "top_n=1,0"], "--sweep top_n=1,0: top_n must be >= 1, got 0"),
        (&["--sweep", "top_n=1,01"], "--sweep top_n=1,01: top_n=1 is listed twice"),
        (&["--sweep", "top_n=1,2", "--sweep", "top_n=3"], "--sweep top_n is given twice"),
        (&["--sweep", "top_n=1,2", "--set", "top_n=3"], "--sweep top_n is also given to --set"),
        (&["--sweep", "earn_buffer_max_usdt=20,400"], "--sweep earn_buffer_max_usdt=20: earn_buffer_max_usdt (20)"),
    ];
    for (flags, expected) in cases {
        let r = run(data.path(), flags);
        assert_eq!(r.code, 2, "{flags:?}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{flags:?}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{flags:?}");
    }
    let r = run(data.path(), &["--set", "nope=1"]);
    assert!(r.stderr.contains(known), "{}", r.stderr);
}

/// The daily run's sweep grid: atr_multiplier varies slowest.
const GRID: [&str; 4] = ["--sweep", "atr_multiplier=0.5,2.5", "--sweep", "top_n=1,3"];

#[test]
fn every_sweep_row_equals_the_single_run_with_its_set() {
    let data = tempfile::tempdir().unwrap();
    market(data.path());
    let rows = ok(&run(data.path(), &[&GRID[..], &["--format", "json"]].concat()));
    let rows = rows.as_array().unwrap();
    let combos = [("0.5", "1"), ("0.5", "3"), ("2.5", "1"), ("2.5", "3")];
    assert_eq!(rows.len(), combos.len());
    for (row, (atr, top)) in rows.iter().zip(combos) {
        assert_eq!(row["params"], serde_json::json!({"atr_multiplier": atr, "top_n": top}));
        let sets = [&format!("atr_multiplier={atr}"), &format!("top_n={top}")];
        let single = ok(&run(data.path(), &["--format", "json", "--set", sets[0], "--set", sets[1]]));
        for key in ["final_equity", "cagr", "max_drawdown", "sharpe_daily", "fees_paid", "circuit_breaker_days"] {
            assert_eq!(row[key], single[key], "{atr} {top} {key}");
        }
        let trades: u64 = single["trades_by_kind"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
        assert_eq!(row["trades"], trades, "{atr} {top}");
    }
    // The parameters matter on this market (the comparison can fail):
    // top_n at the same ATR multiple, the ATR multiple at the same top_n.
    assert_ne!(rows[2]["final_equity"], rows[3]["final_equity"]);
    assert_ne!(rows[1]["final_equity"], rows[3]["final_equity"]);
    // The row with atr_multiplier at its default (2.5) is the run that sets top_n alone.
    let plain = ok(&run(data.path(), &["--format", "json", "--set", "top_n=3"]));
    assert_eq!(rows[3]["final_equity"], plain["final_equity"]);
}

#[test]
fn the_trend_indicator_windows_are_parameters() {
    let data = tempfile::tempdir().unwrap();
    market(data.path());
    let grid = ["--sweep", "sma_short_days=5,20", "--sweep", "sma_medium_days=30,60", "--format", "json"];
    let rows = ok(&run(data.path(), &grid));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    // Shorter averages let the trend in, and out below the medium one, on
    // other days.
    assert_ne!(rows[1]["final_equity"], rows[3]["final_equity"], "sma_short_days");
    assert_ne!(rows[2]["final_equity"], rows[3]["final_equity"], "sma_medium_days");
    // The defaults' row is the plain run.
    let plain = ok(&run(data.path(), &["--format", "json"]));
    assert_eq!(rows[3]["params"], serde_json::json!({"sma_short_days": "20", "sma_medium_days": "60"}));
    assert_eq!(rows[3]["final_equity"], plain["final_equity"]);
}

#[test]
fn the_sweep_output_is_byte_identical_and_in_grid_order() {
    let data = tempfile::tempdir().unwrap();
    market(data.path());
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let with_output = |dir: &Path| {
        let out = dir.display().to_string();
        run(data.path(), &[&GRID[..], &["--output", out.as_str()]].concat())
    };
    let (a, b) = (with_output(one.path()), with_output(two.path()));
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.stderr, "");
    assert_eq!(a.stdout, b.stdout);
    let csv = std::fs::read_to_string(one.path().join("sweep.csv")).unwrap();
    assert_eq!(csv, std::fs::read_to_string(two.path().join("sweep.csv")).unwrap());
    // Only sweep.csv is written.
    let mut names: Vec<String> =
        std::fs::read_dir(one.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["sweep.csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "atr_multiplier,top_n,final_equity,cagr,max_drawdown,sharpe_daily,trades,fees_paid,circuit_breaker_days,failed_cycles"
    );
    let keys: Vec<&str> = lines[1..].iter().map(|l| &l[..l.match_indices(',').nth(1).unwrap().0]).collect();
    assert_eq!(keys, ["0.5,1", "0.5,3", "2.5,1", "2.5,3"]);
    // The text table: a header and one row per combination, same order.
    let table: Vec<&str> = a.stdout.lines().collect();
    assert_eq!(table.len(), 5);
    assert!(table[0].starts_with("atr_multiplier  top_n  final equity  CAGR"), "{}", a.stdout);
    assert!(table[1].starts_with("0.5             1      "), "{}", a.stdout);
    assert!(table[4].starts_with("2.5             3      "), "{}", a.stdout);
}
