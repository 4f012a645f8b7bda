//! The fault matrix (binance-and-pitfalls.md §5) against the fake Binance
//! over HTTP, through the built binary: whatever goes wrong, no order is
//! placed twice and the state ends up telling the truth.

mod common;

use std::time::{Duration, Instant};

use common::live::{Live, fills_for, intent};
use common::strs;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tradecycle_fakes::binance::{Fault, FaultKind};

const ORDER: &str = "/api/v3/order";

fn attempts_for(live: &Live, symbol: &str) -> usize {
    live.fake.order_attempts().iter().filter(|a| a.symbol.as_deref() == Some(symbol)).count()
}

fn ok_run(live: &Live, run_id: &str) -> Value {
    let run = live.run(&["--live", "--run-id", run_id], &[]);
    assert_eq!(run.code, 0, "stderr: {}\nstdout: {}", run.stderr, run.stdout);
    run.json()
}

/// A cycle that finished but needs a look: exit 5, status `attention`,
/// each item also a warning.
fn attention_run(live: &Live, run_id: &str) -> Value {
    let run = live.run(&["--live", "--run-id", run_id], &[]);
    assert_eq!(run.code, 5, "stderr: {}\nstdout: {}", run.stderr, run.stdout);
    let r = run.json();
    assert_eq!(r["status"], "attention");
    assert!(r["errors"].as_array().unwrap().is_empty(), "{}", r["errors"]);
    for item in r["attention"].as_array().unwrap() {
        assert!(r["warnings"].as_array().unwrap().contains(item), "{item} is also a warning");
    }
    r
}

#[test]
fn order_filled_but_answered_500_is_found_by_client_id() {
    let live = Live::new("cycle_replay");
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::execute_then_500()).symbol("XRPUSDT"));
    let r = ok_run(&live, "f-500");
    let xrp = intent(&r, "trend_buy", "XRPUSDT");
    assert_eq!(xrp["status"], "filled");
    assert_eq!(xrp["fill"]["executed_qty"], xrp["quantity"]);
    assert_eq!((attempts_for(&live, "XRPUSDT"), fills_for(&live, "XRPUSDT")), (1, 1));
    assert_eq!(live.state()["XRPUSDT"]["is_holding"], true);
}

/// The XRP fill's fee as the exchange charged it (in XRP, the base asset).
fn xrp_fee(live: &Live) -> (String, Decimal) {
    let order = live.fake.orders().into_iter().find(|o| o.symbol == "XRPUSDT").expect("an XRP order");
    let fill = &order.fills[0];
    (fill.commission_asset.clone(), fill.commission)
}

fn decimal(v: &Value) -> Decimal {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()).parse().unwrap_or_else(|_| panic!("{v}"))
}

/// Whether a run rebased its daily bases on a balance change it did not book.
fn booked_a_flow(r: &Value) -> bool {
    r["state_writes"].as_array().unwrap().iter().any(|w| w["reason"] == "external_balance_flow_rebase")
}

#[test]
fn a_fill_found_by_lookup_is_booked_with_its_fee_and_the_next_run_sees_no_flow() {
    let live = Live::new("cycle_replay");
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::execute_then_500()).symbol("XRPUSDT"));
    let r = ok_run(&live, "fee-500");
    let xrp = intent(&r, "trend_buy", "XRPUSDT");
    assert_eq!(xrp["status"], "filled");
    let (asset, fee) = xrp_fee(&live);
    assert_eq!(asset, "XRP");
    let booked = &xrp["fill"]["commissions"];
    assert_eq!((booked.as_array().unwrap().len(), &booked[0]["asset"]), (1, &json!("XRP")), "{xrp}");
    assert_eq!(decimal(&booked[0]["amount"]), fee);
    assert_eq!(live.fake.request_count("/api/v3/myTrades"), 1, "one read of the order's trades");
    assert!(strs(&r["warnings"]).iter().all(|w| !w.contains("fee could not be read")), "{}", r["warnings"]);
    // The fee (worth more than the flow tolerance) is in the books already.
    let next = ok_run(&live, "fee-500-next");
    assert!(!booked_a_flow(&next), "{}", next["log_lines"]);
}

#[test]
fn a_fee_that_cannot_be_read_is_a_warning_and_the_fill_still_counts() {
    let live = Live::new("cycle_replay");
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::execute_then_500()).symbol("XRPUSDT"));
    live.fake.inject(Fault::new("GET", "/api/v3/myTrades", FaultKind::error(500, -1000, "An unknown error")).times(10));
    let r = ok_run(&live, "fee-unread");
    let xrp = intent(&r, "trend_buy", "XRPUSDT");
    assert_eq!(xrp["status"], "filled");
    assert!(xrp["fill"]["commissions"].as_array().is_none_or(Vec::is_empty), "booked without a fee: {xrp}");
    let id = xrp["client_order_id"].as_str().unwrap();
    let warning = format!("XRPUSDT order {id} filled, but its fee could not be read");
    assert!(strs(&r["warnings"]).iter().any(|w| w.starts_with(&warning)), "{}", r["warnings"]);
    assert_eq!(live.state()["XRPUSDT"]["is_holding"], true);
    // As the warning says: the fee booked late shows up as a flow next run.
    assert!(booked_a_flow(&ok_run(&live, "fee-unread-next")));
}

#[test]
fn order_filled_but_answered_a_non_json_400_is_found_by_client_id() {
    // A proxy's HTML 400 says nothing about the order: it is looked up,
    // not booked as a refusal while the exchange holds the fill.
    let live = Live::new("cycle_replay");
    let html = "<html><body><h1>400 Bad Request</h1></body></html>".to_string();
    let fault = FaultKind::ExecuteThenRawReply { status: 400, body: html };
    live.fake.inject(Fault::new("POST", ORDER, fault).symbol("XRPUSDT"));
    let r = ok_run(&live, "f-400html");
    let xrp = intent(&r, "trend_buy", "XRPUSDT");
    assert_eq!(xrp["status"], "filled", "{xrp}");
    assert_eq!(xrp["fill"]["executed_qty"], xrp["quantity"]);
    assert_eq!((attempts_for(&live, "XRPUSDT"), fills_for(&live, "XRPUSDT")), (1, 1));
    assert_eq!(live.state()["XRPUSDT"]["is_holding"], true);
    assert_eq!(live.state()["pending_orders"], json!({}));
}

#[test]
fn timeout_after_execution_is_resolved_by_lookup() {
    let live = Live::new("cycle_replay");
    // The client gives up after BINANCE_TIMEOUT_SECS=2; the fake answers after 4.
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::ExecuteThenHang(Duration::from_secs(4))).symbol("XRPUSDT"));
    let r = ok_run(&live, "f-timeout");
    assert_eq!(intent(&r, "trend_buy", "XRPUSDT")["status"], "filled");
    assert_eq!((attempts_for(&live, "XRPUSDT"), fills_for(&live, "XRPUSDT")), (1, 1));
}

#[test]
fn backend_timeout_1007_after_execution_is_filled() {
    let live = Live::new("cycle_replay");
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::execute_then_timeout_1007()).symbol("XRPUSDT"));
    let r = ok_run(&live, "f-1007x");
    assert_eq!(intent(&r, "trend_buy", "XRPUSDT")["status"], "filled");
    assert_eq!(fills_for(&live, "XRPUSDT"), 1);
}

#[test]
fn unknown_outcome_stays_pending_is_alerted_and_the_next_run_places_it_once() {
    let live = Live::new("cycle_replay");
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::timeout_1007()).symbol("XRPUSDT"));
    // The cycle finishes, but an order of unknown outcome needs a look: exit 5.
    let run = live.run(&["--live", "--run-id", "f-1007"], &[]);
    assert_eq!(run.code, 5, "stderr: {}\nstdout: {}", run.stderr, run.stdout);
    let r = run.json();
    assert_eq!(r["status"], "attention");
    assert!(strs(&r["attention"]).iter().any(|a| a.contains("outcome unknown")), "{}", r["attention"]);
    let xrp = intent(&r, "trend_buy", "XRPUSDT");
    assert_eq!(xrp["status"], "unresolved");
    assert!(
        xrp["error"].as_str().unwrap().contains("after 5 lookups by client order id the order is not found"),
        "{xrp}"
    );
    assert!(r["notifications"].as_array().unwrap().iter().any(|n| n["event"] == "order_unresolved"));
    let id = xrp["client_order_id"].as_str().unwrap();
    assert_eq!(live.state()["pending_orders"][id]["status"], "unresolved");
    // Nothing adds risk while it is unknown.
    assert!(r["intents"].as_array().unwrap().iter().all(|i| i["kind"] != "dca_buy" && i["kind"] != "earn_subscribe"));
    assert_eq!(fills_for(&live, "XRPUSDT"), 0);

    let r2 = ok_run(&live, "f-1007-next");
    assert_eq!(r2["reconciled"][0]["client_order_id"], id);
    assert_eq!(r2["reconciled"][0]["outcome"], "dropped");
    assert_eq!(intent(&r2, "trend_buy", "XRPUSDT")["status"], "filled");
    assert_eq!((attempts_for(&live, "XRPUSDT"), fills_for(&live, "XRPUSDT")), (2, 1));
    assert_eq!(live.state()["pending_orders"], json!({}));
}

#[test]
fn timestamp_rejected_once_resyncs_and_trades() {
    let live = Live::new("cycle_replay");
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::InvalidTimestamp).symbol("XRPUSDT"));
    let r = ok_run(&live, "f-1021");
    assert_eq!(intent(&r, "trend_buy", "XRPUSDT")["status"], "filled");
    // Rejected before execution, then sent once more after the resync.
    assert_eq!((attempts_for(&live, "XRPUSDT"), fills_for(&live, "XRPUSDT")), (2, 1));
    assert!(live.fake.request_count("/api/v3/time") >= 2, "offset measured again");
}

#[test]
fn rate_limited_reads_wait_for_retry_after() {
    let live = Live::new("cycle_replay");
    live.fake.inject(Fault::new("GET", "/api/v3/avgPrice", FaultKind::RateLimited { retry_after_secs: 1 }).times(2));
    let started = Instant::now();
    let r = ok_run(&live, "f-429");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited for Retry-After");
    assert_eq!(r["status"], "ok");
    let limited = live.fake.requests().iter().filter(|q| q.path == "/api/v3/avgPrice" && q.status == Some(429)).count();
    assert_eq!(limited, 2);
}

#[test]
fn insufficient_balance_is_rejected_once_and_alerted() {
    let live = Live::new("cycle_replay");
    let fault = FaultKind::error(400, -2010, "Account has insufficient balance for requested action.");
    live.fake.inject(Fault::new("POST", ORDER, fault).symbol("XRPUSDT"));
    let r = attention_run(&live, "f-2010");
    let xrp = intent(&r, "trend_buy", "XRPUSDT");
    assert_eq!(xrp["status"], "rejected");
    assert_eq!(
        r["attention"],
        json!([format!(
            "trend_buy XRPUSDT ({}) not executed: {}",
            xrp["client_order_id"].as_str().unwrap(),
            xrp["error"].as_str().unwrap()
        )])
    );
    // The watchdog's record says the same.
    let beat = common::live::read_json(&live.dir.path().join("state.heartbeat.tradecycle.json"));
    assert_eq!(beat["status"], "attention");
    assert_eq!(beat["last_error"], format!("attention: {}", r["attention"][0].as_str().unwrap()));
    assert!(xrp["error"].as_str().unwrap().contains("-2010"), "{xrp}");
    assert_eq!(attempts_for(&live, "XRPUSDT"), 1, "never retried");
    assert!(r["notifications"].as_array().unwrap().iter().any(|n| n["event"] == "trend_buy_failed"));
    let state = live.state();
    assert_eq!(state["XRPUSDT"]["is_holding"], false);
    assert_eq!(state["pending_orders"], json!({}));
}

#[test]
fn filter_failure_is_rejected_without_retry() {
    let live = Live::new("cycle_replay");
    live.fake
        .inject(Fault::new("POST", ORDER, FaultKind::error(400, -1013, "Filter failure: NOTIONAL")).symbol("BTCUSDT"));
    let r = attention_run(&live, "f-1013");
    let dca = intent(&r, "dca_buy", "BTCUSDT");
    assert_eq!(dca["status"], "rejected");
    assert_eq!(r["attention"].as_array().unwrap().len(), 1, "{}", r["attention"]);
    assert_eq!(attempts_for(&live, "BTCUSDT"), 1);
    assert_eq!(live.state()["dca_last_buy_date"], "", "a rejected DCA buy does not count");
}

#[test]
fn killed_between_write_ahead_and_send_the_next_run_drops_the_entry_and_sends_once() {
    let live = Live::new("cycle_replay");
    // What a run killed right after its write-ahead save leaves behind.
    let id = format!("tc-{}-tb-XRPUSDT", chrono::Utc::now().format("%y%m%d%H"));
    let mut state = live.state();
    state["pending_orders"] = json!({ &id: {
        "client_order_id": id, "kind": "trend_buy", "symbol": "XRPUSDT", "side": "BUY", "quantity": "729.3",
        "price": "2.4", "run_id": "killed", "created_at": chrono::Utc::now().to_rfc3339(), "status": "pending"}});
    std::fs::write(live.state_path(), state.to_string()).unwrap();
    let r = ok_run(&live, "after-kill");
    assert_eq!(r["reconciled"][0]["outcome"], "dropped");
    assert_eq!((attempts_for(&live, "XRPUSDT"), fills_for(&live, "XRPUSDT")), (1, 1));
}

/// Runs a live cycle whose XRP order the exchange fills but does not answer,
/// kills the process once the fill happened (between send and save), and
/// waits for the dead run's one-second lease to expire.
fn crash_after_the_xrp_fill(live: &Live, run_id: &str) {
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::ExecuteThenHang(Duration::from_secs(30))).symbol("XRPUSDT"));
    let mut child = live
        .spawn(&["--live", "--run-id", run_id], &[("BINANCE_TIMEOUT_SECS", "60"), ("TRADECYCLE_LEASE_TTL_SECS", "1")]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while fills_for(live, "XRPUSDT") == 0 {
        assert!(Instant::now() < deadline, "the order never reached the exchange");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
fn killed_between_send_and_save_the_next_run_settles_without_a_duplicate() {
    let live = Live::new("cycle_replay");
    crash_after_the_xrp_fill(&live, "doomed");
    let state = live.state();
    let pending = state["pending_orders"].as_object().expect("ledger").clone();
    assert_eq!(pending.len(), 1, "the write-ahead entry survived the kill: {state}");

    let r = ok_run(&live, "after-crash");
    assert_eq!(r["reconciled"][0]["outcome"], "settled", "{}", r["reconciled"]);
    // Settled from a lookup, with its fee read from the trades: no flow.
    assert!(!booked_a_flow(&r), "{}", r["log_lines"]);
    assert_eq!((attempts_for(&live, "XRPUSDT"), fills_for(&live, "XRPUSDT")), (1, 1));
    let state = live.state();
    assert_eq!(state["XRPUSDT"]["is_holding"], true);
    assert_eq!(state["pending_orders"], json!({}));
    assert!(r["intents"].as_array().unwrap().iter().all(|i| i["symbol"] != "XRPUSDT"), "not bought again");
}

#[test]
fn a_redeem_slow_to_arrive_skips_the_buys_it_was_funding_and_asks_for_attention() {
    let live = Live::new("cycle_replay");
    let slow = FaultKind::DelayRedeemCredit(Duration::from_secs(60));
    live.fake.inject(Fault::new("POST", "/sapi/v1/simple-earn/flexible/redeem", slow));
    let run = live.run(&["--live", "--run-id", "f-redeem"], &[]);
    assert_eq!(run.code, 5, "finished, needs a look: {}", run.stderr);
    let r = run.json();
    assert_eq!(r["status"], "attention");
    let redeem = r["intents"].as_array().unwrap().iter().find(|i| i["kind"] == "earn_redeem").expect("a redeem");
    assert_eq!((&redeem["status"], &redeem["reason"]), (&json!("filled"), &json!("cycle_funding")));
    let ada = intent(&r, "trend_buy", "ADAUSDT");
    assert_eq!(ada["status"], "skipped");
    let why = ada["error"].as_str().unwrap();
    assert!(why.starts_with("insufficient free USDT") && why.ends_with("not on spot yet)"), "{why}");
    let needs_look = r["attention"].as_array().unwrap();
    assert!(needs_look.iter().any(|a| a.as_str().unwrap().starts_with("trend_buy ADAUSDT")), "{needs_look:?}");
    assert_eq!(attempts_for(&live, "ADAUSDT"), 0);
    assert!(r["attention"].as_array().unwrap().iter().any(|a| a.as_str().unwrap().starts_with("trend_buy ADAUSDT")));
    // Told by its durable alert (raised once), not by a per-cycle skipped_for_funds message.
    assert!(!r["notifications"].as_array().unwrap().iter().any(|n| n["event"] == "skipped_for_funds"));
    let alert =
        r["notifications"].as_array().unwrap().iter().find(|n| {
            n["event"] == "alert_raised" && n["text"].as_str().unwrap().contains("buy_skipped_funds:ADAUSDT")
        });
    assert_eq!(alert.map(|n| &n["status"]), Some(&json!("sent")), "{}", r["notifications"]);
    // The money in flight is recorded, and no Earn move churns it meanwhile.
    let state = live.state();
    assert_eq!(state["earn_in_transit"]["USDT"]["amount"], redeem["amount"]);
    assert_eq!(state["ADAUSDT"]["is_holding"], false);
    assert_eq!(live.fake.earn_calls().len(), 1, "no subscribe while the redeem is in transit");
}

fn no_such_order() -> FaultKind {
    FaultKind::error(400, -2013, "Order does not exist.")
}

#[test]
fn an_order_the_lookup_cannot_see_yet_is_found_in_the_order_list() {
    let live = Live::new("cycle_replay");
    live.fake.inject(Fault::new("POST", ORDER, FaultKind::execute_then_500()).symbol("XRPUSDT"));
    live.fake.inject(Fault::new("GET", ORDER, no_such_order()).times(10));
    let r = ok_run(&live, "f-list");
    assert_eq!(intent(&r, "trend_buy", "XRPUSDT")["status"], "filled");
    assert!(live.fake.request_count("/api/v3/allOrders") >= 1);
    assert_eq!((attempts_for(&live, "XRPUSDT"), fills_for(&live, "XRPUSDT")), (1, 1));
}

#[test]
fn reconciliation_settles_from_the_order_list_when_the_lookup_misses() {
    let live = Live::new("cycle_replay");
    crash_after_the_xrp_fill(&live, "doomed-2");
    live.fake.inject(Fault::new("GET", ORDER, no_such_order()).times(5));
    let r = ok_run(&live, "after-crash-2");
    assert_eq!(r["reconciled"][0]["outcome"], "settled", "{}", r["reconciled"]);
    assert_eq!(fills_for(&live, "XRPUSDT"), 1, "not bought again");
    assert_eq!(live.state()["XRPUSDT"]["is_holding"], true);
}
