//! `tradecycle orders list` / `orders resolve` and the age rule that
//! quarantines a stale pending order (issue 11), through the built binary
//! against the fake Binance and the file store. The quarantined entry is
//! produced by running a live cycle whose order lookups Binance refuses.

mod common;

use common::live::{Live, fills_for, intent};
use common::{Run, gates, strs, tradecycle};
use serde_json::{Value, json};
use tradecycle_fakes::binance::{Fault, FaultKind};

const ORDER: &str = "/api/v3/order";

fn run_with_code(live: &Live, run_id: &str, code: i32) -> Value {
    let run = live.run(&["--live", "--run-id", run_id], &[]);
    assert_eq!(run.code, code, "stderr: {}\nstdout: {}", run.stderr, run.stdout);
    run.json()
}

/// `tradecycle orders <args>` on the live setup's state file.
fn orders(live: &Live, args: &[&str]) -> Run {
    let store = format!("file:{}", live.state_path().display());
    let mut all = vec!["orders"];
    all.extend_from_slice(args);
    tradecycle(&all, &[("TRADECYCLE_STORE", store.as_str())])
}

fn xrp_buy_id() -> String {
    format!("tc-{}-tb-XRPUSDT", chrono::Utc::now().format("%y%m%d%H"))
}

fn with_pending(live: &Live, id: &str, created_at: chrono::DateTime<chrono::Utc>, status: &str) {
    let mut state = live.state();
    state["pending_orders"] = json!({ id: {"client_order_id": id, "kind": "trend_buy", "symbol": "XRPUSDT",
        "side": "BUY", "quantity": "729.3", "price": "2.4", "run_id": "earlier",
        "created_at": created_at.to_rfc3339(), "status": status} });
    std::fs::write(live.state_path(), state.to_string()).unwrap();
}

/// A live cycle leaves the XRP buy quarantined: Binance refuses to look it
/// up (as for a delisted symbol). Returns the setup and the client id.
fn quarantined_xrp_buy() -> (Live, String) {
    let live = Live::new("cycle_replay");
    let id = xrp_buy_id();
    with_pending(&live, &id, chrono::Utc::now(), "pending");
    let delisted =
        |path: &str| Fault::new("GET", path, FaultKind::error(400, -1121, "Invalid symbol.")).symbol("XRPUSDT");
    live.fake.inject(delisted(ORDER).times(100));
    live.fake.inject(delisted("/api/v3/allOrders").times(100));
    let r = run_with_code(&live, "quarantine", 5);
    assert_eq!(r["reconciled"][0]["outcome"], "quarantined", "{}", r["reconciled"]);
    (live, id)
}

#[test]
fn an_order_unresolved_for_the_configured_hours_is_quarantined_and_blocks_only_its_symbol() {
    let live = Live::new("cycle_replay");
    let id = xrp_buy_id();
    with_pending(&live, &id, chrono::Utc::now() - chrono::Duration::hours(25), "unresolved");
    // Binance's order endpoints are down for XRP (every retry too): the
    // order stays unknown, as it has for 25 hours.
    let down = |path: &str| Fault::new("GET", path, FaultKind::error(503, -1001, "Internal error.")).symbol("XRPUSDT");
    live.fake.inject(down(ORDER).times(100));
    live.fake.inject(down("/api/v3/allOrders").times(100));
    let r = run_with_code(&live, "stale", 5);
    assert_eq!(r["reconciled"][0]["outcome"], "quarantined", "{}", r["reconciled"]);
    let entry = &live.state()["pending_orders"][&id];
    assert_eq!(entry["status"], "quarantined");
    assert!(
        entry["quarantine_reason"].as_str().unwrap().starts_with("unresolved for 25 h since it was written at "),
        "{entry}"
    );
    // No longer every buy waits: only XRP is blocked.
    assert!(!gates(&r).contains(&"unresolved_order_pending".to_string()), "{:?}", gates(&r));
    let blocked: Vec<&Value> =
        r["gates"].as_array().unwrap().iter().filter(|g| g["gate"] == "order_quarantined").collect();
    assert_eq!(blocked.len(), 1, "{}", r["gates"]);
    assert_eq!(blocked[0]["symbol"], "XRPUSDT");
    assert_eq!(intent(&r, "trend_buy", "ADAUSDT")["status"], "filled", "{}", r["intents"]);
    assert_eq!(r["alerts"]["raised"][0]["key"], format!("order_quarantined:{id}"), "{}", r["alerts"]);
}

#[test]
fn an_order_unresolved_for_less_than_the_configured_hours_is_kept_unresolved() {
    let live = Live::new("cycle_replay");
    let id = xrp_buy_id();
    with_pending(&live, &id, chrono::Utc::now() - chrono::Duration::hours(23), "unresolved");
    let down = |path: &str| Fault::new("GET", path, FaultKind::error(503, -1001, "Internal error.")).symbol("XRPUSDT");
    live.fake.inject(down(ORDER).times(100));
    live.fake.inject(down("/api/v3/allOrders").times(100));
    let r = run_with_code(&live, "young", 5);
    assert_eq!(r["reconciled"][0]["outcome"], "kept", "{}", r["reconciled"]);
    assert_eq!(live.state()["pending_orders"][&id]["status"], "unresolved");
    assert!(gates(&r).contains(&"unresolved_order_pending".to_string()), "{:?}", gates(&r));
}

#[test]
fn list_shows_the_quarantined_entry_in_text_and_json() {
    let (live, id) = quarantined_xrp_buy();
    let text = orders(&live, &["list"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.starts_with(&format!("{id} XRPUSDT Buy qty 729.3 @ 2.4 quarantined written ")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(" by run earlier age 0 h quarantined: the exchange refuses to look it up"),
        "{}",
        text.stdout
    );

    let rows: Value = serde_json::from_str(&orders(&live, &["list", "--json"]).stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    let row = &rows[0];
    assert_eq!((row["client_order_id"].as_str(), row["symbol"].as_str()), (Some(id.as_str()), Some("XRPUSDT")));
    assert_eq!((row["side"].as_str(), row["quantity"].as_str()), (Some("BUY"), Some("729.3")));
    assert_eq!(
        (row["status"].as_str(), row["run_id"].as_str(), row["age_hours"].as_i64()),
        (Some("quarantined"), Some("earlier"), Some(0))
    );
}

#[test]
fn resolve_filled_books_it_once_and_the_next_run_does_not_book_it_again() {
    let (live, id) = quarantined_xrp_buy();
    let before = live.state();
    let done = orders(&live, &["resolve", &id, "--filled", "729.3@2.5", "--by", "alice"]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stdout.starts_with(&format!("resolved {id}: filled 729.3 @ 2.5 (by alice at ")), "{}", done.stdout);
    let after = live.state();
    assert_eq!(after["pending_orders"], json!({}));
    assert_eq!(after["XRPUSDT"]["is_holding"], true);
    assert_eq!(after["XRPUSDT"]["entry_price"], 2.5);
    let action = &after["operator_actions"][0];
    assert_eq!((action["by"].as_str(), action["action"].as_str()), (Some("alice"), Some("order_filled")));
    assert_eq!(action["client_order_id"], id.as_str());
    assert_eq!(action["entry"]["status"], "quarantined");
    // The one fill booking moved the snapshot: XRP received, USDT paid.
    let snap = |s: &Value, a: &str| s["last_balance_snapshot"][a].as_f64().unwrap_or(0.0);
    assert!((snap(&after, "XRP") - snap(&before, "XRP") - 729.3).abs() < 1e-9, "{}", after["last_balance_snapshot"]);
    assert!(
        (snap(&before, "USDT") - snap(&after, "USDT") - 1823.25).abs() < 1e-6,
        "{}",
        after["last_balance_snapshot"]
    );

    let r = run_with_code(&live, "after-resolve", 0);
    assert_eq!(r["reconciled"], json!([]), "nothing left to settle");
    assert_eq!(fills_for(&live, "XRPUSDT"), 0, "no XRP order was sent");
    let next = live.state();
    assert_eq!(next["XRPUSDT"]["entry_price"], 2.5);
    assert_eq!(next["operator_actions"].as_array().unwrap().len(), 1);
    assert!(!strs(&r["attention"]).iter().any(|a| a.contains(&id)), "{}", r["attention"]);
}

#[test]
fn resolve_not_placed_drops_it_and_the_symbol_trades_again() {
    let (live, id) = quarantined_xrp_buy();
    let done = orders(&live, &["resolve", &id, "--not-placed"]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stdout.starts_with(&format!("resolved {id}: not placed (by operator at ")), "{}", done.stdout);
    let after = live.state();
    assert_eq!(after["pending_orders"], json!({}));
    assert_eq!(after["operator_actions"][0]["action"], "order_not_placed");

    let r = run_with_code(&live, "after-drop", 0);
    assert!(!gates(&r).contains(&"order_quarantined".to_string()), "{:?}", gates(&r));
    assert_eq!(intent(&r, "trend_buy", "XRPUSDT")["status"], "filled", "{}", r["intents"]);
}

#[test]
fn resolve_refuses_an_unknown_id_and_changes_nothing() {
    let (live, _) = quarantined_xrp_buy();
    let before = live.state();
    let run = orders(&live, &["resolve", "tc-26010100-tb-SOLUSDT", "--not-placed"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr.trim(),
        "error: no pending order 'tc-26010100-tb-SOLUSDT' in the ledger; `tradecycle orders list` shows the client ids it holds"
    );
    assert_eq!(live.state(), before);
    let bad = orders(&live, &["resolve", "tc-26010100-tb-SOLUSDT", "--filled", "12"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--filled: expected QTY@PRICE"), "{}", bad.stderr);
}

#[test]
fn resolve_waits_for_a_cycle_holding_the_lease() {
    let (live, id) = quarantined_xrp_buy();
    let before = live.state();
    // The lease file a running cycle holds (file store: <stem>.lease.json).
    let until = (chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339();
    let lease = live.state_path().with_file_name("state.lease.json");
    std::fs::write(&lease, json!({"owner": "cycle-in-progress/1", "expires_at": until}).to_string()).unwrap();
    let run = orders(&live, &["resolve", &id, "--not-placed"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("error: a cycle (cycle-in-progress/1) holds the run lease until "),
        "{}",
        run.stderr
    );
    assert_eq!(live.state(), before);
}
