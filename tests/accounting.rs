//! Daily accounting across runs, driven through the real shell (`CycleRun`)
//! with the simulated exchange: a run that loses its final save, or whose
//! store dies right after a fill was saved, must leave a state from which
//! the next run reads its own trades as trades — no external flow, no false
//! circuit breaker (issue 8 §2.2, design.md §3.17).

mod common;

use std::time::Duration;

use common::store::{FailSavesFrom, HookedStore};
use common::world::rt;
use common::*;
use serde_json::Value;
use tradecycle::adapters::log_notifier::LogNotifier;
use tradecycle::adapters::store::memory::MemoryStore;
use tradecycle::config::{Env, Settings};
use tradecycle::domain::report::{Mode, Report};
use tradecycle::paper::exchange::SimExchange;
use tradecycle::paper::fixture::FixtureSet;
use tradecycle::ports::{ManualClock, StateStore};
use tradecycle::shell::execute::{ExchangeExecutor, ExecutionPolicy};
use tradecycle::shell::runner::{CycleRun, PoolInput, SavePolicy};

/// A store whose saves fail from the n-th save on (n counted over its whole
/// life), as when the database goes away or the process is killed: what was
/// stored before stays, nothing after it lands.
fn dying_store(doc: Value, fail_from: usize) -> HookedStore<MemoryStore, FailSavesFrom> {
    HookedStore::memory(doc, FailSavesFrom::new(fail_from))
}

fn fixtures() -> FixtureSet {
    fixture_set("cycle_replay")
}

/// One paper cycle (real fills with fees on the simulated exchange) at
/// `hours` after the fixture's midnight.
async fn run_at<S: StateStore>(exchange: &SimExchange, store: &S, hours: i64, run_id: &str) -> Report {
    let f = fixtures();
    let settings = Settings::from_env(&Env::new()).unwrap();
    let policy = ExecutionPolicy {
        query_attempts: 2,
        query_backoff: Duration::from_millis(1),
        redeem_polls: 2,
        redeem_poll_interval: Duration::from_millis(1),
        redeem_poll_cap: Duration::from_millis(1),
    };
    let now = f.config.now_utc.unwrap() + chrono::Duration::hours(hours);
    // Earn spacing waits cost no real time.
    let clock = ManualClock::new(now);
    CycleRun {
        mode: Mode::Paper,
        now,
        run_id: run_id.to_string(),
        settings: &settings,
        exchange,
        store,
        notifier: &LogNotifier,
        clock: &clock,
        executor: ExchangeExecutor::new(exchange, policy).with_clock(&clock),
        pool: PoolInput::Injected(f.pool_input.clone()),
        lease_ttl: Some(Duration::from_secs(900)),
        save_policy: SavePolicy { attempts: 1, backoff: Duration::from_millis(1) },
        artifacts_dir: None,
        memo: None,
    }
    .run()
    .await
}

fn writes(r: &Report) -> Vec<String> {
    r.state_writes.iter().map(|w| w.reason.clone()).collect()
}

/// The next run the same day reads its predecessor's trades as trades.
fn assert_no_false_flow_or_breaker(next: &Report) {
    assert_eq!(next.exit_code(), 0, "{:?}", next.errors);
    assert!(!writes(next).contains(&"external_balance_flow_rebase".to_string()), "{:?}", writes(next));
    assert!(!next.log_lines.iter().any(|l| l.contains("External balance flow")), "{:#?}", next.log_lines);
    assert!(!next.circuit_breaker_triggered);
    assert!(next.intents.iter().all(|i| i.kind.side().is_none() || i.reason != "daily_circuit_breaker"));
    let equity = next.equity.as_ref().unwrap();
    // The sleeve holds what it bought at the prices it paid, less the 0.1 % fee.
    assert!(
        equity.trend_daily_pnl > -0.002 && equity.trend_daily_pnl <= 0.0,
        "trend daily PnL {} (a booked flow reads about -0.5)",
        equity.trend_daily_pnl
    );
}

#[test]
fn a_lost_final_save_leaves_no_flow_and_no_breaker_for_the_next_run() {
    rt().block_on(async {
        // How many saves a clean first cycle makes: the last is the final one.
        let clean =
            run_at(&SimExchange::new(fixtures()), &MemoryStore::new(Some(fixtures().initial_state)), 0, "c").await;
        let saves = clean.state_writes.len();
        assert_eq!(writes(&clean).last().map(String::as_str), Some("cycle_complete"));

        let exchange = SimExchange::new(fixtures());
        let store = dying_store(fixtures().initial_state, saves);
        let first = run_at(&exchange, &store, 0, "run-1").await;
        assert_eq!(first.exit_code(), 1, "the final save failed");
        assert_eq!(first.state_writes.last().map(|w| w.reason.as_str()), Some("cycle_complete"));
        let bought: Vec<&str> = first.intents.iter().filter(|i| i.fill.is_some()).map(|i| i.symbol()).collect();
        assert_eq!(bought, ["BNBUSDT", "ETHUSDT", "SOLUSDT", "BTCUSDT"]);

        store.hook.heal();
        let next = run_at(&exchange, &store, 1, "run-2").await;
        assert_no_false_flow_or_breaker(&next);
        assert!(next.intents.iter().all(|i| !i.kind.is_order()), "everything was bought already");
    });
}

#[test]
fn a_store_lost_right_after_a_fill_save_leaves_no_flow_and_no_breaker() {
    rt().block_on(async {
        let clean =
            run_at(&SimExchange::new(fixtures()), &MemoryStore::new(Some(fixtures().initial_state)), 0, "c").await;
        let eth_saved = writes(&clean).iter().position(|w| w == "trend_buy:ETHUSDT").expect("ETH fill save");

        // Everything up to and including the ETH fill save lands; nothing after.
        let exchange = SimExchange::new(fixtures());
        let store = dying_store(fixtures().initial_state, eth_saved + 2);
        let first = run_at(&exchange, &store, 0, "run-1").await;
        assert_eq!(first.exit_code(), 1);
        let stored = store.inner.writes().last().unwrap().clone();
        assert_eq!(stored["ETHUSDT"]["is_holding"], true);
        assert!(stored["last_balance_snapshot"]["ETH"].as_f64().unwrap() > 0.0, "the snapshot includes the buy");

        store.hook.heal();
        let next = run_at(&exchange, &store, 1, "run-2").await;
        assert_no_false_flow_or_breaker(&next);
        let traded: Vec<&str> = next.intents.iter().filter(|i| i.fill.is_some()).map(|i| i.symbol()).collect();
        assert!(traded.contains(&"SOLUSDT"), "the rest of the plan runs: {traded:?}");
        assert!(!traded.contains(&"ETHUSDT"), "ETH is not bought twice: {traded:?}");
    });
}
