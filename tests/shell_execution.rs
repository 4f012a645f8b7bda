//! The shell's execution path (write-ahead ledger, outcome classification,
//! reconciliation on the next run) driven through `CycleRun` with the
//! simulated exchange and the in-memory store. The same behaviours are
//! tested against the fake Binance server over HTTP in tests/live_*.rs.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::store::{FailSavesFrom, HookedStore, TakeLeaseAfter};
use common::world::rt;
use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tradecycle::adapters::log_notifier::LogNotifier;
use tradecycle::adapters::store::memory::MemoryStore;
use tradecycle::config::{Env, Settings};
use tradecycle::domain::intent::{Commission, IntentStatus};
use tradecycle::domain::report::{Mode, Report};
use tradecycle::domain::snapshot::MarketData;
use tradecycle::paper::exchange::SimExchange;
use tradecycle::paper::fixture::FixtureSet;
use tradecycle::ports::{
    ApiRestrictions, Exchange, LeaseOutcome, ManualClock, MarketRequest, OrderReport, OrderRequest, PortError,
    StateStore,
};
use tradecycle::shell::execute::{ExchangeExecutor, ExecutionPolicy};
use tradecycle::shell::runner::{CycleRun, PoolInput, SavePolicy};

/// Fault to inject on the next order whose client id contains `needle`.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Execute, then answer as if the connection died.
    ExecuteThenAmbiguous,
    /// Answer ambiguously without executing.
    AmbiguousNotExecuted,
}

/// The simulated exchange with scripted order faults, counting POSTs.
struct Faulty {
    sim: SimExchange,
    fault: Mutex<Option<(String, Fault)>>,
    posts: AtomicUsize,
    ids: Mutex<Vec<String>>,
}

impl Faulty {
    fn new(sim: SimExchange) -> Self {
        Faulty { sim, fault: Mutex::new(None), posts: AtomicUsize::new(0), ids: Mutex::new(Vec::new()) }
    }
    fn inject(&self, needle: &str, fault: Fault) {
        *self.fault.lock().unwrap() = Some((needle.to_string(), fault));
    }
}

impl Exchange for Faulty {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError> {
        self.sim.market_data(req).await
    }
    async fn place_order(&self, order: &OrderRequest) -> Result<OrderReport, PortError> {
        self.posts.fetch_add(1, Ordering::SeqCst);
        self.ids.lock().unwrap().push(order.client_order_id.to_string());
        let fault = {
            let mut f = self.fault.lock().unwrap();
            match f.as_ref() {
                Some((needle, kind)) if order.client_order_id.contains(needle.as_str()) => {
                    let kind = *kind;
                    *f = None;
                    Some(kind)
                }
                _ => None,
            }
        };
        match fault {
            Some(Fault::ExecuteThenAmbiguous) => {
                self.sim.place_order(order).await?;
                Err(PortError::Ambiguous("HTTP 500 after sending".into()))
            }
            Some(Fault::AmbiguousNotExecuted) => Err(PortError::Ambiguous("-1007 timeout waiting for backend".into())),
            None => self.sim.place_order(order).await,
        }
    }
    async fn query_order(&self, symbol: &str, id: &str) -> Result<Option<OrderReport>, PortError> {
        self.sim.query_order(symbol, id).await
    }
    async fn orders_since(
        &self,
        symbol: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<OrderReport>, PortError> {
        self.sim.orders_since(symbol, since).await
    }
    async fn order_commissions(&self, symbol: &str, order_id: i64) -> Result<Vec<Commission>, PortError> {
        self.sim.order_commissions(symbol, order_id).await
    }
    async fn earn_subscribe(&self, p: &str, a: Decimal) -> Result<(), PortError> {
        self.sim.earn_subscribe(p, a).await
    }
    async fn earn_redeem(&self, p: &str, a: Decimal) -> Result<(), PortError> {
        self.sim.earn_redeem(p, a).await
    }
    async fn spot_free(&self, asset: &str) -> Result<Decimal, PortError> {
        self.sim.spot_free(asset).await
    }
    async fn api_restrictions(&self) -> Result<ApiRestrictions, PortError> {
        self.sim.api_restrictions().await
    }
}

/// A store whose saves fail (transiently) from the n-th save on.
fn flaky_store(fail_from: usize) -> HookedStore<MemoryStore, FailSavesFrom> {
    HookedStore::memory(fixtures().initial_state, FailSavesFrom::new(fail_from))
}

fn fast() -> ExecutionPolicy {
    ExecutionPolicy {
        query_attempts: 3,
        query_backoff: Duration::from_millis(1),
        redeem_polls: 2,
        redeem_poll_interval: Duration::from_millis(1),
        redeem_poll_cap: Duration::from_millis(1),
    }
}

fn fixtures() -> FixtureSet {
    fixture_set("cycle_replay")
}

async fn run_once<S: StateStore>(
    exchange: &Faulty,
    store: &S,
    run_id: &str,
    artifacts: Option<&std::path::Path>,
) -> Report {
    let f = fixtures();
    let settings = Settings::from_env(&Env::new()).unwrap();
    let now = f.config.now_utc.unwrap();
    // Every wait (Earn spacing, lookups, redeem polls) on a virtual clock.
    let clock = ManualClock::new(now);
    CycleRun {
        mode: Mode::Paper,
        now,
        clock: &clock,
        run_id: run_id.to_string(),
        settings: &settings,
        exchange,
        store,
        notifier: &LogNotifier,
        executor: ExchangeExecutor::new(exchange, fast()).with_clock(&clock),
        pool: PoolInput::Injected(f.pool_input.clone()),
        lease_ttl: Some(Duration::from_secs(900)),
        save_policy: SavePolicy { attempts: 2, backoff: Duration::from_millis(1) },
        artifacts_dir: artifacts.map(|p| p.to_path_buf()),
        memo: None,
    }
    .run()
    .await
}

fn statuses(r: &Report) -> Vec<(String, String)> {
    let v = serde_json::to_value(&r.intents).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap().to_string(), i["status"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn ledger_entries_are_written_ahead_and_cleared_after_fills() {
    rt().block_on(async {
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        let store = MemoryStore::new(Some(fixtures().initial_state));
        let r = run_once(&exchange, &store, "run-1", None).await;
        assert_eq!(r.exit_code(), 0, "{:?}", r.errors);
        let writes: Vec<String> = r.state_writes.iter().map(|w| w.reason.clone()).collect();
        let eth = writes.iter().position(|w| w == "write_ahead:tc-26031500-tb-ETHUSDT").expect("written ahead");
        assert_eq!(writes[eth + 1], "trend_buy:ETHUSDT");
        // Between write-ahead and fill the stored document holds the entry.
        let ahead = &store.writes()[eth];
        assert_eq!(ahead["pending_orders"]["tc-26031500-tb-ETHUSDT"]["status"], "pending");
        assert_eq!(ahead["pending_orders"]["tc-26031500-tb-ETHUSDT"]["quantity"], "0.6116");
        let last = store.writes().last().unwrap().clone();
        assert_eq!(last["pending_orders"], json!({}));
        assert!(statuses(&r).iter().all(|(_, s)| s == "filled"), "{:?}", statuses(&r));
        // Real fills: the paper exchange took a 0.1% fee in ETH.
        assert_eq!(last["ETHUSDT"]["is_holding"], true);
        assert_eq!(exchange.posts.load(Ordering::SeqCst), 4, "fuel, ETH, SOL, BTC");
    });
}

#[test]
fn order_filled_but_answered_ambiguously_is_found_by_client_id_once() {
    rt().block_on(async {
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        exchange.inject("tb-ETHUSDT", Fault::ExecuteThenAmbiguous);
        let store = MemoryStore::new(Some(fixtures().initial_state));
        let r = run_once(&exchange, &store, "run-1", None).await;
        let eth = r.intents.iter().find(|i| i.symbol() == "ETHUSDT").unwrap();
        assert_eq!(serde_json::to_value(eth.status).unwrap(), "filled");
        assert_eq!(eth.fill.as_ref().unwrap().executed_qty, Decimal::new(6116, 4));
        // The lookup carries no fee: it is read from the order's trades.
        let fee = Commission { asset: "ETH".into(), amount: Decimal::new(6116, 7) };
        assert_eq!(eth.fill.as_ref().unwrap().commissions, vec![fee]);
        assert_eq!(exchange.posts.load(Ordering::SeqCst), 4, "exactly one POST per order");
        assert_eq!(r.exit_code(), 0);
    });
}

#[test]
fn unknown_outcome_is_kept_pending_and_dropped_by_the_next_run_without_a_duplicate() {
    rt().block_on(async {
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        exchange.inject("tb-ETHUSDT", Fault::AmbiguousNotExecuted);
        let store = MemoryStore::new(Some(fixtures().initial_state));
        let r = run_once(&exchange, &store, "run-1", None).await;
        let got = statuses(&r);
        // The cycle's one redeem, the fuel, then the ETH buy.
        assert_eq!(got[2], ("trend_buy".into(), "unresolved".into()));
        // Nothing else adds risk while an order is unknown; sells would still run.
        assert!(!got.iter().any(|(k, _)| k == "dca_buy" || k.starts_with("earn_subscribe")), "{got:?}");
        assert!(r.notifications.iter().any(|n| n.event == "order_unresolved"));
        let saved = store.writes().last().unwrap().clone();
        assert_eq!(saved["pending_orders"]["tc-26031500-tb-ETHUSDT"]["status"], "unresolved");

        // Next run, same slot: the order is unknown to the exchange, so it is
        // dropped, and only then may the cycle plan it again.
        let r2 = run_once(&exchange, &store, "run-2", None).await;
        assert_eq!(r2.reconciled.len(), 1);
        assert_eq!(r2.reconciled[0].outcome, "dropped");
        let ids = exchange.ids.lock().unwrap().clone();
        let eth: Vec<&String> = ids.iter().filter(|id| id.ends_with("tb-ETHUSDT")).collect();
        assert_eq!(eth.len(), 2, "sent once by run 1 (never executed) and once by run 2: {ids:?}");
        let r2_eth = r2.intents.iter().find(|i| i.symbol() == "ETHUSDT").unwrap();
        assert_eq!(serde_json::to_value(r2_eth.status).unwrap(), "filled");
        assert_eq!(r2.state_after.as_ref().unwrap()["pending_orders"], json!({}));
    });
}

#[test]
fn crash_after_send_is_settled_by_the_next_run() {
    rt().block_on(async {
        // Run 1's ETH order executed but the run died before saving: model it
        // as an ambiguous answer whose lookups all fail, leaving the entry pending.
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        let store = MemoryStore::new(Some(fixtures().initial_state));
        let mut doc = fixtures().initial_state;
        exchange
            .sim
            .place_order(&OrderRequest {
                symbol: "ETHUSDT".into(),
                side: tradecycle::domain::intent::Side::Buy,
                quantity: Some(Decimal::new(6116, 4)),
                quote_order_qty: None,
                client_order_id: "tc-26031500-tb-ETHUSDT".parse().unwrap(),
            })
            .await
            .unwrap();
        doc["pending_orders"] = json!({"tc-26031500-tb-ETHUSDT": {
            "client_order_id": "tc-26031500-tb-ETHUSDT", "kind": "trend_buy", "symbol": "ETHUSDT", "side": "BUY",
            "quantity": "0.6116", "price": "3200", "run_id": "run-1", "created_at": "2026-03-15T00:00:02Z", "status": "pending"}});
        store.external_write(doc);
        let posts_before = exchange.posts.load(Ordering::SeqCst);
        let r = run_once(&exchange, &store, "run-2", None).await;
        assert_eq!(r.reconciled[0].outcome, "settled", "{:?}", r.reconciled);
        let after = r.state_after.as_ref().unwrap();
        assert_eq!(after["ETHUSDT"]["is_holding"], true);
        assert_eq!(after["trend_action_history"]["ETHUSDT"]["action"], "buy");
        let eth_buys = r.intents.iter().filter(|i| i.symbol() == "ETHUSDT").count();
        assert_eq!(eth_buys, 0, "ETH is held now: not bought again");
        assert!(exchange.posts.load(Ordering::SeqCst) > posts_before, "the rest of the plan still trades");
    });
}

#[test]
fn failed_write_ahead_means_the_order_is_not_sent_and_state_goes_to_a_recovery_file() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        // Save 1: pool metadata, save 2: fuel write-ahead, save 3: fuel fill; then the store dies.
        let store = flaky_store(4);
        let r = run_once(&exchange, &store, "run-x", Some(dir.path())).await;
        assert_eq!(r.exit_code(), 1);
        assert_eq!(exchange.posts.load(Ordering::SeqCst), 1, "only the fuel order, saved ahead, was sent");
        let skipped: Vec<_> = r
            .intents
            .iter()
            .filter(|i| i.error.as_deref() == Some("the write-ahead save failed; order not sent"))
            .collect();
        assert!(!skipped.is_empty());
        assert!(r.errors.iter().any(|e| e.stage == "state_save"));
        let path = dir.path().join("state-recovery-run-x.json");
        assert_eq!(r.recovery_file.as_deref(), Some(path.to_str().unwrap()));
        let recovered: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(recovered["pending_orders"], json!({}), "no order was left half-sent");
        assert!(r.notifications.iter().any(|n| n.event == "state_save_failed"));

        // A second run with the same id keeps the first recovery file.
        let first = std::fs::read_to_string(&path).unwrap();
        let store = flaky_store(1);
        let again = run_once(&Faulty::new(SimExchange::new(fixtures())), &store, "run-x", Some(dir.path())).await;
        let second = dir.path().join("state-recovery-run-x.2.json");
        assert_eq!(again.recovery_file.as_deref(), Some(second.to_str().unwrap()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first, "the first run's recovery file is intact");
        assert!(std::fs::read_to_string(&second).unwrap().contains("pending_orders"));
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 2, "the two recovery files and no temp file");
    });
}

#[test]
fn a_second_concurrent_run_is_refused_by_the_lease() {
    rt().block_on(async {
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        let store = MemoryStore::new(Some(fixtures().initial_state));
        let now = fixtures().config.now_utc.unwrap();
        assert_eq!(
            store.acquire_lease("other-run", now, Duration::from_secs(600)).await.unwrap(),
            LeaseOutcome::Acquired
        );
        let r = run_once(&exchange, &store, "run-2", None).await;
        assert_eq!(r.exit_code(), 4);
        assert!(
            r.errors[0].message.starts_with("another cycle (other-run) holds the run lease until"),
            "{}",
            r.errors[0].message
        );
        assert_eq!(exchange.posts.load(Ordering::SeqCst), 0);
        assert!(store.writes().is_empty(), "touching nothing");
    });
}

#[test]
fn the_same_slot_run_twice_places_no_order_twice() {
    rt().block_on(async {
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        let store = MemoryStore::new(Some(fixtures().initial_state));
        let first = run_once(&exchange, &store, "run-1", None).await;
        assert_eq!(first.exit_code(), 0);
        let posts = exchange.posts.load(Ordering::SeqCst);
        let second = run_once(&exchange, &store, "run-1b", None).await;
        assert_eq!(second.exit_code(), 0, "{:?}", second.errors);
        assert_eq!(exchange.posts.load(Ordering::SeqCst), posts, "{:?}", statuses(&second));
        assert!(second.intents.iter().all(|i| !i.kind.is_order()));
    });
}

/// A memory store whose lease another run takes over right after the
/// `after`-th save (as a run does once this one's lease ran out).
fn lease_thief(after: usize) -> HookedStore<MemoryStore, TakeLeaseAfter> {
    let later = fixtures().config.now_utc.unwrap() + chrono::Duration::hours(1);
    let hook = TakeLeaseAfter { after, owner: "next-run/0", until: later, saves: AtomicUsize::new(0) };
    HookedStore::memory(fixtures().initial_state, hook)
}

#[test]
fn two_runs_with_the_same_run_id_do_not_both_hold_the_lease() {
    rt().block_on(async {
        // Run ids default to the start time in seconds: two runs started in
        // the same second share one. The lease owner must still differ.
        let (a, b) = (
            tradecycle::shell::runner::lease_owner("20260315T000000Z"),
            tradecycle::shell::runner::lease_owner("20260315T000000Z"),
        );
        assert_ne!(a, b);
        assert!(a.starts_with("20260315T000000Z/"), "{a}");
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        let store = MemoryStore::new(Some(fixtures().initial_state));
        let now = fixtures().config.now_utc.unwrap();
        assert_eq!(store.acquire_lease(&a, now, Duration::from_secs(600)).await.unwrap(), LeaseOutcome::Acquired);
        let r = run_once(&exchange, &store, "20260315T000000Z", None).await;
        assert_eq!(r.exit_code(), 4, "{:?}", r.errors);
        assert_eq!(exchange.posts.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn a_run_that_lost_the_lease_sends_and_saves_nothing_more() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        // Save 1: pool metadata, 2: the funding redeem's write-ahead, 3: the
        // fuel buy's write-ahead; then the lease is taken over.
        let store = lease_thief(3);
        let r = run_once(&exchange, &store, "slow-run", Some(dir.path())).await;
        assert_eq!(exchange.posts.load(Ordering::SeqCst), 1, "only the order written ahead before the loss");
        assert_eq!(r.exit_code(), 1);
        let lost = r.errors.iter().find(|e| e.stage == "lease_lost").expect("says why");
        assert!(lost.message.contains("lost the run lease to another cycle"), "{}", lost.message);
        let not_sent: Vec<_> =
            r.intents.iter().filter(|i| i.kind.is_order() && i.status == IntentStatus::Skipped).collect();
        assert!(!not_sent.is_empty());
        assert!(not_sent.iter().all(|i| i.error.as_deref().unwrap().starts_with("not sent: ")), "{not_sent:?}");
        // Save 4 books the fuel fill (the loss is noticed at the next
        // write-ahead); after that nothing is saved over the new holder's state.
        let writes = store.inner.writes();
        assert_eq!(writes.len(), 4);
        assert_eq!(writes[3]["pending_orders"], json!({}));
        assert!(r.notifications.iter().any(|n| n.event == "order_attention"));
        assert!(r.recovery_file.is_some(), "the unsaved state is kept for the operator");
        // The new holder's lease is left alone.
        let now = fixtures().config.now_utc.unwrap();
        assert!(matches!(
            store.inner.acquire_lease("third", now, Duration::from_secs(1)).await.unwrap(),
            LeaseOutcome::Held { owner, .. } if owner == "next-run/0"
        ));
    });
}

#[test]
fn a_pending_entry_is_kept_while_its_writer_may_still_send_it_and_never_deleted_by_the_same_slot_intent() {
    rt().block_on(async {
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        let now = fixtures().config.now_utc.unwrap();
        // Run A wrote its fuel order ahead and holds the lease for another
        // ten minutes: it may be about to send it. The exchange has not seen it.
        let fuel = "tc-26031500-fb-BNBUSDT";
        let mut doc = fixtures().initial_state;
        doc["pending_orders"] = json!({ fuel: {
            "client_order_id": fuel, "kind": "fuel_buy", "symbol": "BNBUSDT", "side": "BUY",
            "quote_amount": "15", "price": "600", "run_id": "run-a", "created_at": "2026-03-15T00:00:00Z",
            "status": "pending", "lease_until": (now + chrono::Duration::minutes(10)).to_rfc3339()}});
        let store = MemoryStore::new(Some(doc));
        let r = run_once(&exchange, &store, "run-b", None).await;
        assert_eq!(r.reconciled[0].outcome, "kept", "{:?}", r.reconciled);
        assert!(r.reconciled[0].detail.contains("may still be sending it"), "{}", r.reconciled[0].detail);
        let ids = exchange.ids.lock().unwrap().clone();
        assert!(!ids.iter().any(|id| id == fuel), "not sent a second time: {ids:?}");
        // The same-slot fuel intent was skipped; the entry stays.
        let after = r.state_after.as_ref().unwrap();
        assert_eq!(after["pending_orders"][fuel]["run_id"], "run-a", "{}", after["pending_orders"]);
        assert_eq!(store.writes().last().unwrap()["pending_orders"][fuel]["status"], "pending");
        assert_eq!(r.exit_code(), 5, "an unresolved order needs attention");
    });
}

#[test]
fn entries_a_finished_run_leaves_pending_no_longer_carry_its_lease() {
    rt().block_on(async {
        let exchange = Faulty::new(SimExchange::new(fixtures()));
        exchange.inject("tb-ETHUSDT", Fault::AmbiguousNotExecuted);
        let store = MemoryStore::new(Some(fixtures().initial_state));
        let r = run_once(&exchange, &store, "run-1", None).await;
        let writes = store.writes();
        let ahead =
            writes.iter().find(|w| w["pending_orders"].get("tc-26031500-tb-ETHUSDT").is_some()).expect("written ahead");
        let until = ahead["pending_orders"]["tc-26031500-tb-ETHUSDT"]["lease_until"].as_str().expect("lease_until");
        let until = chrono::DateTime::parse_from_rfc3339(until).unwrap();
        let now = fixtures().config.now_utc.unwrap();
        assert!(
            until >= now + chrono::Duration::seconds(899) && until <= now + chrono::Duration::seconds(960),
            "{until}"
        );
        // The run is over: nothing of it can still be in flight.
        let last = writes.last().unwrap();
        assert_eq!(last["pending_orders"]["tc-26031500-tb-ETHUSDT"]["status"], "unresolved");
        assert!(last["pending_orders"]["tc-26031500-tb-ETHUSDT"].get("lease_until").is_none(), "{last}");
        assert_eq!(r.exit_code(), 5);
    });
}
