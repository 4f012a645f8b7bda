//! `tradecycle backtest --data ...` (the same as `backtest run --data
//! ...`): the live cycle over generated kline files. A known price path
//! with hand-checked equity, fees and drawdown; no look-ahead;
//! byte-identical outputs, with or without `run`; a backtest day equals a
//! replay of the same inputs; bad flags name the flag.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

use common::history::{date, day0, wave, write_series};
use common::{Run, tradecycle};
use tradecycle::commands::backtest::engine::Backtest;
use tradecycle::commands::backtest::world::{History, PoolPlan};
use tradecycle::commands::replay::{ReplayOptions, replay_loaded};
use tradecycle::config::{Env, Settings};
use tradecycle::domain::intent::{Intent, IntentKind};
use tradecycle::domain::report::Report;
use tradecycle::history::Interval;
use tradecycle::paper::exchange::FillCosts;
use tradecycle::paper::fixture::{PoolSource, ReplayConfig};
use tradecycle::upstream::ladder::FetchOutcome;

/// BTC rising 0.3% a day: the regime is on and Ahr999 far above the DCA
/// gate, so neither the DCA sleeve nor (with the static, degraded pool)
/// the trend sleeve buys anything.
fn rising_btc(days: usize) -> Vec<f64> {
    (0..days).map(|i| (20_000.0 * 1.003f64.powi(i as i32) * 100.0).round() / 100.0).collect()
}

fn trending_market(dir: &Path, days: usize) {
    write_series(dir, "BTCUSDT", &wave(20_000.0, 0.002, 0.15, 180.0, days));
    write_series(dir, "BNBUSDT", &wave(300.0, 0.001, 0.05, 90.0, days));
    write_series(dir, "ETHUSDT", &wave(1_500.0, 0.0025, 0.2, 120.0, days));
    write_series(dir, "SOLUSDT", &wave(20.0, 0.003, 0.3, 100.0, days));
    write_series(dir, "XRPUSDT", &wave(0.4, 0.001, 0.25, 150.0, days));
}

const POOL: &str = "fixtures/cycle_replay/pool_input_snapshot.json";

/// `tradecycle backtest --data DATA --output OUT` + `extra`.
fn backtest(data: &Path, out: &Path, extra: &[&str]) -> Run {
    let (data, out) = (data.display().to_string(), out.display().to_string());
    let mut args = vec!["backtest", "--data", data.as_str(), "--output", out.as_str()];
    args.extend_from_slice(extra);
    tradecycle(&args, &[])
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[test]
fn a_known_price_path_gives_hand_checked_equity_fees_and_drawdown() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // 600 days of BTC (the snapshot needs ~565); BNB at 600, except the
    // candles of days 585 and 586 that close at 900. The cycle at day N
    // 00:00 prices with day N − 1's close, so cycles 6 and 7 (days 586 and
    // 587) see 900.
    write_series(data.path(), "BTCUSDT", &rising_btc(600));
    let bnb: Vec<f64> = (0..600).map(|i| if i == 585 || i == 586 { 900.0 } else { 600.0 }).collect();
    write_series(data.path(), "BNBUSDT", &bnb);
    let run = backtest(
        data.path(),
        out.path(),
        &[
            "--from",
            &date(580),
            "--to",
            &date(589),
            "--initial-usdt",
            "10000",
            "--slippage-bps",
            "10",
            "--earn-apr",
            "0.0365",
        ],
    );
    ok(&run);
    let trades = csv_rows(&read(out.path(), "trades.csv"));
    // Day 580: the BNB fee fuel is bought, then the spare USDT goes to Earn;
    // nothing else all period (no trend entries on the static pool, DCA
    // gated off by the valuation).
    let kinds: Vec<&str> = trades.iter().map(|t| t[1].as_str()).collect();
    assert_eq!(kinds, ["fuel_buy", "earn_subscribe"], "{trades:?}");
    let fuel = &trades[0];
    assert_eq!((fuel[2].as_str(), fuel[3].as_str()), ("BNBUSDT", "BUY"));
    let (q, price, fee) = (d(&fuel[4]), d(&fuel[5]), d(&fuel[6]));
    // A 15 USDT quote buy filled 10 bps above 600: 0.024 BNB (step 0.001)
    // for 0.024 × 600.6 = 14.4144 USDT; the fee is 0.1% of that, 25% off,
    // paid in BNB at the reference price: 14.4144 × 0.00075 / 600 =
    // 0.00001802 BNB (8 decimals), worth 0.010812 USDT.
    assert_eq!((q, price, fee), (dec!(0.024), dec!(600.6), dec!(0.010812)));
    let bnb_held = dec!(0.024) - dec!(0.00001802);
    let subscribed = d(&trades[1][4]);
    // Everything but the 300 USDT spot reserve goes to Earn.
    assert_eq!(subscribed, dec!(10000) - dec!(14.4144) - dec!(300));
    let usdt_free = dec!(10000) - dec!(14.4144) - subscribed;

    let equity = csv_rows(&read(out.path(), "equity.csv"));
    assert_eq!(equity.len(), 10);
    let row = |i: usize| -> Vec<Decimal> { equity[i][1..].iter().map(|v| d(v)).collect() };
    // Earn grows 0.0365 / 365 = 0.01% per daily cycle, compounding, from
    // the end of cycle 0: cycle n has seen n accruals.
    let mut earn = subscribed;
    for i in 0..10 {
        if i > 0 {
            earn += (earn * dec!(0.0001)).round_dp(8);
        }
        let bnb_price = if i == 6 || i == 7 { dec!(900) } else { dec!(600) };
        let cash = (usdt_free + bnb_held * bnb_price).round_dp(8);
        assert_eq!(
            row(i),
            vec![(cash + earn).normalize(), dec!(0), dec!(0), cash.normalize(), earn.normalize()],
            "cycle {i}"
        );
    }
    // By hand: 10000 − 14.4144 + (0.024 − 0.00001802) × 600 = 9999.974788.
    assert_eq!(row(0)[0], dec!(9999.974788));
    // Drawdown: BNB back from 900 to 600 (day 588) after the day-587 peak.
    let summary: Value = serde_json::from_str(&read(out.path(), "summary.json")).unwrap();
    let (peak, trough) = (row(7)[0], row(8)[0]);
    assert_eq!(peak - trough, (bnb_held * dec!(300)).round_dp(8) - (row(8)[4] - row(7)[4]));
    let depth = ((peak - trough) / peak).round_dp(6);
    assert_eq!(summary["max_drawdown"].as_f64().unwrap().to_string(), depth.normalize().to_string());
    assert_eq!(summary["max_drawdown_peak"], format!("{}T00:00:00Z", date(587)));
    assert_eq!(summary["max_drawdown_trough"], format!("{}T00:00:00Z", date(588)));
    assert_eq!(d(summary["fees_paid"].as_str().unwrap()), fee);
    assert_eq!(d(summary["turnover"].as_str().unwrap()), dec!(14.4144));
    assert_eq!(summary["schema"], "tradecycle.backtest.v1");
    assert_eq!(summary["cycles"], 10);
    assert_eq!(summary["failed_cycles"], 0);
    assert_eq!(summary["trades_by_kind"], serde_json::json!({"earn_subscribe": 1, "fuel_buy": 1}));
    assert_eq!(summary["days_in_market"], serde_json::json!({"trend": 0, "btc": 0, "earn": 10}));
    // BTC buy and hold: 10000 USDT of BTC at day 579's close, held to day 588's.
    let btc = rising_btc(600);
    let held = dec!(10000) / Decimal::try_from(btc[579]).unwrap() * Decimal::try_from(btc[588]).unwrap();
    assert_eq!(
        d(summary["benchmark_btc_buy_and_hold"]["final_equity"].as_str().unwrap()),
        held.round_dp(8).normalize()
    );
    // The text table on stdout says the same.
    assert!(run.stdout.contains("cycles                10 (0 failed)"), "{}", run.stdout);
    assert!(run.stdout.contains("trades                earn_subscribe 1, fuel_buy 1"), "{}", run.stdout);
}

/// Writes `DATA/<symbol>-1h.csv`: one candle per close, from `start` on.
fn write_hourly(dir: &Path, symbol: &str, start: DateTime<Utc>, closes: &[f64]) {
    let mut text = String::new();
    for (i, close) in closes.iter().enumerate() {
        let t = start.timestamp_millis() + i as i64 * 3_600_000;
        text += &format!("{t},{close},{close},{close},{close},1000,{},1,1,1,1,0\n", t + 3_599_999);
    }
    std::fs::write(dir.join(format!("{symbol}-1h.csv")), text).unwrap();
}

#[test]
fn hourly_cadence_prices_each_cycle_at_the_last_finished_hour() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let btc = rising_btc(600);
    write_series(data.path(), "BTCUSDT", &btc);
    write_series(data.path(), "BNBUSDT", &[600.0; 600]);
    // 48 hours from day 579 00:00: BNB closes at 600 + hour index, BTC flat.
    let start = day0() + Duration::days(579);
    write_hourly(data.path(), "BNBUSDT", start, &(0..48).map(|j| 600.0 + j as f64).collect::<Vec<_>>());
    write_hourly(data.path(), "BTCUSDT", start, &[btc[579]; 48]);
    let run = backtest(
        data.path(),
        out.path(),
        &["--from", &date(580), "--to", &date(580), "--cadence", "1h", "--slippage-bps", "10"],
    );
    ok(&run);
    let equity = csv_rows(&read(out.path(), "equity.csv"));
    assert_eq!(equity.len(), 24);
    assert_eq!(equity[5][0], format!("{}T05:00:00Z", date(580)));
    // The 00:00 cycle prices BNB with the 23:00 candle of day 579 (index 23).
    let trades = csv_rows(&read(out.path(), "trades.csv"));
    assert_eq!((trades[0][1].as_str(), d(&trades[0][5])), ("fuel_buy", dec!(623) * dec!(1.001)));
    // Every later cycle values the fuel at the hour that just closed.
    let bnb_held = d(&trades[0][4]) - d(&trades[0][6]) / dec!(623);
    let usdt_free = d(&equity[0][4]) - (bnb_held * dec!(623)).round_dp(8);
    for (h, row) in equity.iter().enumerate() {
        let bnb_price = Decimal::from(623 + h as i64);
        assert_eq!(d(&row[4]), (usdt_free + bnb_held * bnb_price).round_dp(8).normalize(), "hour {h}");
    }
}

#[test]
fn too_little_btc_history_fails_cycles_and_says_why() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_series(data.path(), "BTCUSDT", &rising_btc(100));
    write_series(data.path(), "BNBUSDT", &[600.0; 100]);
    let run = backtest(data.path(), out.path(), &["--from", &date(50), "--to", &date(51), "--format", "json"]);
    ok(&run);
    let s = run.json();
    assert_eq!((s["cycles"].as_u64(), s["failed_cycles"].as_u64()), (Some(2), Some(2)));
    let why = s["first_failure"].as_str().unwrap();
    assert!(why.starts_with(&format!("{}T00:00:00Z: snapshot: BTC indicators insufficient", date(50))), "{why}");
    assert_eq!(read(out.path(), "trades.csv"), "time,kind,symbol,side,quantity,price,fee,reason\n");
}

#[test]
fn nothing_after_a_day_changes_what_the_run_did_up_to_it() {
    let days = 800;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    trending_market(a.path(), days);
    trending_market(b.path(), days);
    // In b, every candle after day 700 is shifted: 40% higher.
    let cut: usize = 700;
    for symbol in ["BTCUSDT", "BNBUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"] {
        let path = b.path().join(format!("{symbol}-1d.csv"));
        let text: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .enumerate()
            .map(|(i, line)| {
                if i <= cut {
                    return format!("{line}\n");
                }
                let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
                for price in &mut f[1..=4] {
                    *price = (price.parse::<f64>().unwrap() * 1.4).to_string();
                }
                f.join(",") + "\n"
            })
            .collect();
        std::fs::write(&path, text).unwrap();
    }
    let (out_a, out_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let flags = ["--from", &date(600), "--to", &date(760), "--pool", POOL, "--slippage-bps", "5"];
    ok(&backtest(a.path(), out_a.path(), &flags));
    ok(&backtest(b.path(), out_b.path(), &flags));
    // The cycle of day 701 00:00 is the last one that sees only days ≤ 700.
    let last_same = format!("{}T00:00:00Z", date(cut as i64 + 1));
    let upto = |text: String| -> Vec<String> {
        text.lines().skip(1).filter(|l| l[..20] <= *last_same).map(str::to_string).collect()
    };
    let (eq_a, eq_b) = (read(out_a.path(), "equity.csv"), read(out_b.path(), "equity.csv"));
    assert_eq!(upto(eq_a.clone()).len(), cut + 2 - 600);
    assert_eq!(upto(eq_a.clone()), upto(eq_b.clone()));
    let (tr_a, tr_b) = (read(out_a.path(), "trades.csv"), read(out_b.path(), "trades.csv"));
    assert!(
        upto(tr_a.clone()).iter().any(|l| l.contains("trend_")),
        "the period up to the cut trades the trend: {tr_a}"
    );
    assert_eq!(upto(tr_a), upto(tr_b));
    // ...and the shift does change what comes after (the test can fail).
    assert_ne!(eq_a, eq_b);
}

#[test]
fn the_same_inputs_give_byte_identical_outputs() {
    let data = tempfile::tempdir().unwrap();
    trending_market(data.path(), 760);
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let flags = ["--from", &date(580), "--to", &date(759), "--pool", POOL, "--earn-apr", "0.05", "--slippage-bps", "3"];
    let out2 = two.path().display().to_string();
    let data_dir = data.path().display().to_string();
    let r1 = backtest(data.path(), one.path(), &flags);
    // The same run spelt with the `run` subcommand.
    let r2 = tradecycle(&[&["backtest", "run", "--data", &data_dir, "--output", &out2][..], &flags].concat(), &[]);
    ok(&r1);
    // No progress line and no cycle log on a stderr that is not a terminal.
    assert_eq!(r1.stderr, "");
    assert_eq!(r1.stdout, r2.stdout);
    for name in ["summary.json", "equity.csv", "trades.csv", "equity.svg", "report.html"] {
        assert_eq!(
            std::fs::read(one.path().join(name)).unwrap(),
            std::fs::read(two.path().join(name)).unwrap(),
            "{name}"
        );
    }
    assert!(read(one.path(), "trades.csv").lines().count() > 10, "a run with trades");
    // The JSON format prints summary.json itself.
    let json = backtest(data.path(), two.path(), &[&flags[..], &["--format", "json"]].concat());
    assert_eq!(json.stdout, read(one.path(), "summary.json"));
    // Run flags and a subcommand do not mix.
    let mixed = tradecycle(&["backtest", "--data", &data_dir, "fetch", "--symbols", "BTCUSDT"], &[]);
    assert_eq!(mixed.code, 2);
    assert!(mixed.stderr.contains("the subcommand 'fetch' cannot be used with '--data <DIR>'"), "{}", mixed.stderr);
}

/// Comparable parts of an intent (replay suppresses what the backtest fills).
fn planned(intents: &[Intent]) -> Vec<Value> {
    intents
        .iter()
        .map(|i| {
            serde_json::json!({
                "kind": i.kind, "symbol": i.symbol, "asset": i.asset, "quantity": i.quantity,
                "amount": i.amount, "price": i.price, "reason": i.reason, "client_order_id": i.client_order_id,
            })
        })
        .collect()
}

#[tokio::test]
async fn a_backtest_day_and_a_replay_of_its_inputs_plan_the_same_intents() {
    let data = tempfile::tempdir().unwrap();
    trending_market(data.path(), 760);
    let backtest = Backtest {
        history: History::load(data.path(), Interval::Day).unwrap(),
        pool: PoolPlan::load(Some(Path::new(&format!("{}/{POOL}", env!("CARGO_MANIFEST_DIR")))), None).unwrap(),
        from: NaiveDate::parse_from_str(&date(580), "%Y-%m-%d").unwrap(),
        to: NaiveDate::parse_from_str(&date(700), "%Y-%m-%d").unwrap(),
        initial_usdt: dec!(10000),
        // Replay cannot see fills: it assumes every order fills its planned
        // quantity at the reference price without fees (and a quote buy
        // loses 0.5%), and plans the rest of the cycle on that. A backtest
        // without fees and slippage fills exactly so; fuel buys (quote
        // buys) are left out of the comparison below.
        costs: FillCosts { fee_rate: dec!(0), slippage_bps: dec!(0), bnb_discount: false, spend_filled_quote: true },
        earn_apr: dec!(0),
        settings: Settings::from_env(&Env::new()).unwrap(),
        data_dir: data.path().to_path_buf(),
    };
    // Every cycle with a trend order is replayed from exactly what it started with.
    let mut replays: Vec<(tradecycle::paper::fixture::FixtureSet, Report)> = Vec::new();
    backtest
        .run(|start, report| {
            let trend_order =
                report.intents.iter().any(|i| i.symbol.as_deref().is_some_and(|s| s != "BTCUSDT" && s != "BNBUSDT"));
            if !trend_order || report.intents.iter().any(|i| i.kind == IntentKind::FuelBuy) {
                return;
            }
            let btc_price = start.market.prices["BTCUSDT"].to_string().parse::<f64>().unwrap();
            let mut f = start.fixtures.clone();
            f.balances = start.balances.clone();
            f.prices = start.market.prices.clone();
            f.initial_state = start.state.cloned().unwrap_or(Value::Null);
            f.pool_input = match start.fresh.map(|s| &s.outcome) {
                Some(FetchOutcome::Found(p)) => p.clone(),
                _ => Value::Null,
            };
            f.btc = Some(
                tradecycle::indicators::btc_snapshot(start.market.klines.get("BTCUSDT").unwrap(), btc_price).unwrap(),
            );
            f.indicators = start
                .market
                .klines
                .iter()
                .filter_map(|(s, k)| {
                    tradecycle::indicators::daily_indicators(k, &Default::default()).map(|i| (s.clone(), i))
                })
                .collect::<BTreeMap<_, _>>();
            f.config = ReplayConfig {
                now_utc: Some(start.now),
                run_id: Some(report.run_id.clone()),
                pool_source: Some(PoolSource::Firestore),
                env: BTreeMap::new(),
            };
            replays.push((f, report.clone()));
        })
        .await
        .unwrap();
    assert!(replays.len() >= 2, "the period has trend trades: {}", replays.len());
    for (fixtures, report) in replays {
        let replayed =
            replay_loaded(fixtures, ReplayOptions { fixtures: None, now: None, run_id: None, env: Env::new() })
                .await
                .unwrap();
        assert_eq!(planned(&replayed.intents), planned(&report.intents), "cycle {}", report.now);
    }
}

#[test]
fn bad_flags_name_the_flag_and_exit_2() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_series(data.path(), "BTCUSDT", &rising_btc(10));
    let cases: &[(&[&str], &str)] = &[
        (&["--from", "2023-01-05", "--to", "2023-01-02"], "--to 2023-01-02 is before --from 2023-01-05"),
        (&["--from", "2023-01-02", "--to", "2023-01-05", "--fee-rate=-0.1"], "--fee-rate must not be negative"),
        (
            &["--from", "2023-01-02", "--to", "2023-01-05", "--initial-usdt", "0"],
            "--initial-usdt must be greater than 0",
        ),
        (&["--from", "2023-01-02", "--to", "2023-01-05", "--slippage-bps=-1"], "--slippage-bps must not be negative"),
        (&["--from", "2023-01-02", "--to", "2023-01-05", "--cadence", "2h"], "--cadence"),
        (&["--from", "2023-01-02", "--to", "2023-13-05"], "--to"),
        (&["--from", "2023-01-02", "--to", "2023-01-05"], "BNBUSDT-1d.csv is missing"),
        (&["--from", "2023-01-02", "--to", "2023-01-05", "--pool", "a.json", "--pool-history", "b.json"], "--pool"),
    ];
    for (flags, expected) in cases {
        let run = backtest(data.path(), out.path(), flags);
        assert_eq!(run.code, 2, "{flags:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{flags:?}: {}", run.stderr);
    }
    write_series(data.path(), "BNBUSDT", &[600.0; 10]);
    let run = backtest(data.path(), out.path(), &["--from", "2023-01-02", "--to", "2023-01-05", "--cadence", "1h"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--cadence 1h:") && run.stderr.contains("BNBUSDT-1h.csv is missing"), "{}", run.stderr);
    let pool = data.path().join("pools.json");
    std::fs::write(&pool, "{}").unwrap();
    let flags = ["--from", "2023-01-02", "--to", "2023-01-05", "--pool-history", pool.to_str().unwrap()];
    let run = backtest(data.path(), out.path(), &flags);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--pool-history") && run.stderr.contains("expected a JSON array"), "{}", run.stderr);
}
