//! No order twice, through the built binary against the fake Binance
//! (design.md §3.2, §3.18): the pending ledger fails closed on an entry it
//! cannot read, an order that cannot be looked up is quarantined instead of
//! stopping every later cycle, and a lookup by client id only accepts the
//! order that was meant (ids repeat per hour slot and are free again once
//! an order filled, which the fake models as Binance does).

mod common;

use common::live::{Live, fills_for, intent};
use common::{events, gates, strs};
use serde_json::{Value, json};
use tradecycle_fakes::binance::{Fault, FaultKind};

const ORDER: &str = "/api/v3/order";

/// A live run that must finish with `code`; its report.
fn run_with_code(live: &Live, run_id: &str, code: i32) -> Value {
    let run = live.run(&["--live", "--run-id", run_id], &[]);
    assert_eq!(run.code, code, "stderr: {}\nstdout: {}", run.stderr, run.stdout);
    run.json()
}

/// This hour's client id of the XRP trend buy (what a run now would send).
fn xrp_buy_id() -> String {
    format!("tc-{}-tb-XRPUSDT", chrono::Utc::now().format("%y%m%d%H"))
}

/// A pending XRPUSDT trend buy as a run writes it ahead.
fn xrp_pending(id: &str, run_id: &str, created_at: &str) -> Value {
    json!({"client_order_id": id, "kind": "trend_buy", "symbol": "XRPUSDT", "side": "BUY", "quantity": "729.3",
           "price": "2.4", "run_id": run_id, "created_at": created_at, "status": "pending"})
}

fn with_pending(live: &Live, id: &str, entry: Value) {
    let mut state = live.state();
    state["pending_orders"] = json!({ id: entry });
    std::fs::write(live.state_path(), state.to_string()).unwrap();
}

#[test]
fn an_unreadable_pending_entry_is_kept_unchanged_blocks_buys_and_says_how_to_fix_it() {
    let live = Live::new("cycle_replay");
    let id = xrp_buy_id();
    // A hand edit turned the price into a number: the entry no longer parses.
    let mut entry = xrp_pending(&id, "earlier", &chrono::Utc::now().to_rfc3339());
    entry["price"] = json!(2.4);
    with_pending(&live, &id, entry.clone());
    let r = run_with_code(&live, "unreadable", 5);
    assert_eq!(r["status"], "attention");
    let attention = strs(&r["attention"]);
    assert!(
        attention
            .iter()
            .any(|a| a.contains(&format!("pending_orders.{id}")) && a.contains("TRADECYCLE_STATE_DOCUMENT")),
        "{attention:?}"
    );
    // Told once by its durable alert (order_unreadable:<id>), not by a per-cycle order_attention.
    assert!(events(&r).contains(&"alert_raised".to_string()), "{:?}", events(&r));
    assert!(!events(&r).contains(&"order_attention".to_string()), "{:?}", events(&r));
    assert_eq!(r["alerts"]["raised"][0]["key"], format!("order_unreadable:{id}"));
    // No new risk: the same-hour XRP buy is not placed a second time.
    assert_eq!(fills_for(&live, "XRPUSDT"), 0);
    assert!(gates(&r).contains(&"unresolved_order_pending".to_string()), "{:?}", gates(&r));
    assert!(r["intents"].as_array().unwrap().iter().all(|i| i["kind"] != "trend_buy" && i["kind"] != "dca_buy"));
    // Written back exactly as it was.
    assert_eq!(live.state()["pending_orders"], json!({ &id: entry }));
}

#[test]
fn an_order_that_cannot_be_looked_up_is_quarantined_and_blocks_only_its_symbol() {
    let live = Live::new("cycle_replay");
    let id = xrp_buy_id();
    with_pending(&live, &id, xrp_pending(&id, "earlier", &chrono::Utc::now().to_rfc3339()));
    // The exchange refuses every lookup of XRPUSDT (as for a delisted symbol).
    let delisted = || Fault::new("GET", ORDER, FaultKind::error(400, -1121, "Invalid symbol.")).symbol("XRPUSDT");
    live.fake.inject(delisted().times(100));
    live.fake.inject(
        Fault::new("GET", "/api/v3/allOrders", FaultKind::error(400, -1121, "Invalid symbol."))
            .symbol("XRPUSDT")
            .times(100),
    );
    let r = run_with_code(&live, "quarantine-1", 5);
    assert_eq!(r["reconciled"][0]["outcome"], "quarantined", "{}", r["reconciled"]);
    assert_eq!(live.state()["pending_orders"][&id]["status"], "quarantined");
    assert!(events(&r).contains(&"order_attention".to_string()));
    assert!(strs(&r["attention"]).iter().any(|a| a.contains("quarantined")), "{}", r["attention"]);
    // Only XRP is blocked: the other buys still trade.
    let blocked: Vec<&Value> =
        r["gates"].as_array().unwrap().iter().filter(|g| g["gate"] == "order_quarantined").collect();
    assert_eq!(blocked.len(), 1, "{}", r["gates"]);
    assert_eq!(blocked[0]["symbol"], "XRPUSDT");
    assert_eq!(fills_for(&live, "XRPUSDT"), 0);
    assert!(intent(&r, "trend_buy", "ADAUSDT")["status"] == "filled", "{}", r["intents"]);

    // The next cycle still runs (no abort), keeps it, and does not alert again.
    let r2 = run_with_code(&live, "quarantine-2", 5);
    assert_eq!(r2["reconciled"][0]["outcome"], "quarantined");
    assert!(!events(&r2).contains(&"order_attention".to_string()), "{:?}", events(&r2));
    assert_eq!(live.state()["pending_orders"][&id]["status"], "quarantined");
}

#[test]
fn reconciliation_does_not_settle_an_older_order_that_reused_the_id() {
    let live = Live::new("cycle_replay");
    run_with_code(&live, "first", 0);
    assert_eq!(fills_for(&live, "XRPUSDT"), 1);
    let id = xrp_buy_id();
    // A later write-ahead of the same id (same hour) that was never sent:
    // the exchange's order under this id is the first run's, placed before.
    let mut state = live.fixtures.initial_state.clone();
    let later = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    state["pending_orders"] = json!({ &id: xrp_pending(&id, "later", &later) });
    std::fs::write(live.state_path(), state.to_string()).unwrap();
    let run = live.run(&["--live", "--run-id", "second"], &[]);
    let r = run.json();
    let rec = &r["reconciled"][0];
    assert_eq!(rec["outcome"], "dropped", "{rec}");
    assert!(rec["detail"].as_str().unwrap().contains("an older order reusing the id"), "{rec}");
}

#[test]
fn an_ambiguous_order_is_not_taken_for_an_older_filled_order_with_the_same_id() {
    let live = Live::new("cycle_replay");
    // The first order under this hour's id is half an hour old (the fake's
    // clock runs 30 min behind for it; the client syncs to server time).
    live.fake.set_time_skew_ms(-30 * 60 * 1000);
    run_with_code(&live, "first", 0);
    live.fake.set_time_skew_ms(0);
    assert_eq!(fills_for(&live, "XRPUSDT"), 1);
    // Same hour, the state reset (so the XRP buy is planned again with the
    // same id); this time the order is lost without executing.
    std::fs::write(live.state_path(), live.fixtures.initial_state.to_string()).unwrap();
    // The account forgets the first run's XRP and ADA as the state did;
    // kept, they would be ghost positions that block their buys.
    live.fake.set_balance("XRP", rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ZERO);
    live.fake.set_balance("ADA", rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ZERO);
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::timeout_1007()).symbol("XRPUSDT"));
    let r = run_with_code(&live, "second", 5);
    let xrp = intent(&r, "trend_buy", "XRPUSDT");
    assert_eq!(xrp["status"], "unresolved", "the first run's fill is not this order's: {xrp}");
    assert_eq!(fills_for(&live, "XRPUSDT"), 1);
    assert_eq!(live.state()["pending_orders"][xrp_buy_id()]["status"], "unresolved");
}

#[test]
fn a_pending_order_that_cannot_be_looked_up_right_now_is_kept_and_the_cycle_goes_on() {
    let live = Live::new("cycle_replay");
    let id = xrp_buy_id();
    with_pending(&live, &id, xrp_pending(&id, "earlier", &chrono::Utc::now().to_rfc3339()));
    // Binance's order endpoints are down for this symbol (every retry too).
    let down = |path: &str| Fault::new("GET", path, FaultKind::error(503, -1001, "Internal error.")).symbol("XRPUSDT");
    live.fake.inject(down(ORDER).times(100));
    live.fake.inject(down("/api/v3/allOrders").times(100));
    let r = run_with_code(&live, "lookup-down", 5);
    assert_eq!(r["reconciled"][0]["outcome"], "kept", "{}", r["reconciled"]);
    assert_eq!(live.state()["pending_orders"][&id]["status"], "pending");
    // Not aborted: the cycle ran, but no new risk while the order is unknown.
    assert!(gates(&r).contains(&"unresolved_order_pending".to_string()), "{:?}", gates(&r));
    assert!(r["intents"].as_array().unwrap().iter().all(|i| i["kind"] != "trend_buy" && i["kind"] != "dca_buy"));
    assert!(strs(&r["attention"]).iter().any(|a| a.contains(&id)), "{}", r["attention"]);
}
