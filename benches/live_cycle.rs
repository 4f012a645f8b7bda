//! A live dry-run cycle against the fake Binance with 50 ms of latency per
//! request, for pools of 5, 50 and 100 symbols: wall time, requests and
//! request weight, with the default concurrency and with one request at a
//! time (design.md §6).
//!
//! Then a live cycle of a settled account (300 USDT on spot, 9,700 in
//! Flexible Earn, 0.1 BNB) against the faithful fake (Earn: one call per 3 s
//! per account, credits 800 ms late): one redeem, the buys, one subscribe.
//!
//! Run with `cargo bench --bench live_cycle`. Targets: 5 symbols in under 10
//! round trips (500 ms); 100 symbols in under 2× the 5-symbol time; the
//! settled account within one Earn wait (about 3 s) plus a handful of round
//! trips.

use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::json;
use tradecycle::commands::run::{RunRequest, run};
use tradecycle::indicators::{BTC_LOOKBACK_DAYS, TREND_LOOKBACK_DAYS};
use tradecycle_fakes::binance::{FakeBinance, FakeBinanceConfig, Kline, SymbolSpec};

const LATENCY: Duration = Duration::from_millis(50);

fn dec(x: f64) -> Decimal {
    format!("{x:.8}").parse().expect("finite")
}

fn seed(fake: &FakeBinance, symbols: &[String]) {
    let now = Utc::now();
    fake.set_balance("USDT", Decimal::new(10_000, 0), Decimal::ZERO);
    seed_market(fake, symbols, now);
}

fn seed_market(fake: &FakeBinance, symbols: &[String], now: chrono::DateTime<Utc>) {
    let all = symbols.iter().cloned().chain(["BTCUSDT".to_string(), "BNBUSDT".to_string()]);
    for (i, symbol) in all.enumerate() {
        let base = symbol.trim_end_matches("USDT");
        let price = 10.0 + i as f64;
        fake.add_symbol(
            SymbolSpec::new(&symbol, base, "USDT").with_step_and_min_notional(Decimal::new(1, 3), Decimal::new(5, 0)),
        );
        fake.set_price(&symbol, dec(price));
        let days = if symbol == "BTCUSDT" { BTC_LOOKBACK_DAYS } else { TREND_LOOKBACK_DAYS } as usize;
        let rows = tradecycle::paper::account::synthetic_klines(&symbol, price, days, now)
            .into_iter()
            .map(|k| Kline::daily(k.open_time, dec(k.open), dec(k.high), dec(k.low), dec(k.close), dec(k.volume)))
            .collect();
        fake.set_klines(&symbol, rows);
    }
}

struct Sample {
    wall: Duration,
    requests: usize,
    weight: u32,
    sapi_weight: u32,
    /// (kind, amount, ms since the cycle's first Earn call) per Earn call.
    earn_calls: Vec<(String, String, i64)>,
    intents: Vec<String>,
}

fn one_cycle(rt: &tokio::runtime::Runtime, pool_size: usize, in_flight: usize) -> Sample {
    // A dry run makes no Earn calls: the fake's defaults apply.
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let symbols: Vec<String> = (0..pool_size).map(|i| format!("C{i:03}USDT")).collect();
    seed(&fake, &symbols);
    cycle_on(rt, &fake, &symbols, in_flight, false)
}

/// A settled account's live cycle: its buys fill 0.5% under the planned
/// price, so spot ends above the buffer and the cycle subscribes once.
fn settled_cycle(rt: &tokio::runtime::Runtime) -> Sample {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    let symbols: Vec<String> = (0..5).map(|i| format!("C{i:03}USDT")).collect();
    fake.set_balance("USDT", Decimal::new(300, 0), Decimal::ZERO);
    fake.set_balance("BNB", Decimal::new(1, 1), Decimal::ZERO);
    fake.set_earn_position("USDT", "USDT001", Decimal::new(9_700, 0));
    seed_market(&fake, &symbols, Utc::now());
    fake.set_slippage(Decimal::new(-5, 3));
    cycle_on(rt, &fake, &symbols, 128, true)
}

fn cycle_on(
    rt: &tokio::runtime::Runtime,
    fake: &FakeBinance,
    symbols: &[String],
    in_flight: usize,
    live: bool,
) -> Sample {
    let pool_size = symbols.len();
    fake.set_latency(LATENCY);
    let dir = tempfile::tempdir().expect("tempdir");
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let pool = json!({"as_of_date": today, "version": format!("{today}-core_major"), "mode": "core_major",
                      "pool_size": pool_size, "symbols": symbols, "source_project": "bench"});
    std::fs::write(dir.path().join("upstream.json"), pool.to_string()).expect("write pool");
    let env: tradecycle::config::Env = [
        ("BINANCE_BASE_URL", fake.url()),
        ("BINANCE_API_KEY", fake.api_key()),
        ("BINANCE_API_SECRET", fake.api_secret()),
        ("BINANCE_MAX_IN_FLIGHT", in_flight.to_string()),
        ("STRATEGY_ARTIFACT_UPSTREAM_FILE", dir.path().join("upstream.json").display().to_string()),
        ("STRATEGY_ARTIFACT_EXPECTED_SIZE", pool_size.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let req = RunRequest {
        live,
        paper: false,
        fixtures: Default::default(),
        paper_dir: Default::default(),
        synthetic_klines: false,
        store: Some(format!("file:{}", dir.path().join("state.json").display())),
        allow_withdrawal_key: false,
        run_id: Some("bench".into()),
        now: None,
        artifacts_dir: dir.path().join("artifacts"),
        env,
    };
    let started = Instant::now();
    let report = rt.block_on(run(req)).expect("run starts");
    let wall = started.elapsed();
    assert_eq!(report.exit_code(), 0, "{:?} {:?}", report.errors, report.warnings);
    let calls = fake.earn_calls();
    let first = calls.first().map_or(0, |c| c.at_ms);
    let earn_calls = calls
        .iter()
        .map(|c| (format!("{:?}", c.kind), c.amount.unwrap_or_default().to_string(), c.at_ms - first))
        .collect();
    let intents = serde_json::to_value(&report.intents)
        .expect("intents")
        .as_array()
        .expect("list")
        .iter()
        .map(|i| format!("{} {}", i["kind"].as_str().unwrap_or(""), i["status"].as_str().unwrap_or("")))
        .collect();
    Sample {
        wall,
        requests: fake.requests().len(),
        weight: fake.used_weight(),
        sapi_weight: fake.used_sapi_weight(),
        earn_calls,
        intents,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    println!("dry-run cycle against the fake Binance, {} ms per request", LATENCY.as_millis());
    let mut base = None;
    for &in_flight in &[128usize, 1] {
        println!("BINANCE_MAX_IN_FLIGHT={in_flight}");
        for &pool in &[5usize, 50, 100] {
            let runs: Vec<Sample> = (0..3).map(|_| one_cycle(&rt, pool, in_flight)).collect();
            let best = runs.iter().min_by_key(|s| s.wall).expect("runs");
            let rtt = best.wall.as_secs_f64() / LATENCY.as_secs_f64();
            if in_flight == 128 && pool == 5 {
                base = Some(best.wall);
            }
            let ratio = base.map(|b| best.wall.as_secs_f64() / b.as_secs_f64()).unwrap_or(1.0);
            println!(
                "  {pool:>3} symbols: {:>7.0} ms ({rtt:>5.1} round trips, {ratio:>5.2}x the 5-symbol time), {} requests, weight {}",
                best.wall.as_secs_f64() * 1000.0,
                best.requests,
                best.weight
            );
        }
    }
    println!("live cycle of a settled account (300 USDT spot, 9,700 in Earn), 5 symbols");
    let s = settled_cycle(&rt);
    println!(
        "  {:>7.0} ms ({:>5.1} round trips), {} requests, weight {} (/api) + {} (/sapi)",
        s.wall.as_secs_f64() * 1000.0,
        s.wall.as_secs_f64() / LATENCY.as_secs_f64(),
        s.requests,
        s.weight,
        s.sapi_weight
    );
    println!("  intents: {}", s.intents.join(", "));
    println!("  Earn calls (kind, amount, ms after the first): {:?}", s.earn_calls);
}
