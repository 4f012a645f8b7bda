//! Two `run --live` processes for one account at once, through the built
//! binary with the file store (the Firestore variant is in
//! tests/run_firestore.rs): started in the same millisecond, 0.1 s and
//! 0.3 s apart, with the same run id (two schedulers firing in the same
//! second). Exactly one trades; the other touches nothing and exits 4.

mod common;

use std::time::{Duration, Instant};

use common::live::Live;
use serde_json::Value;
use tradecycle_fakes::binance::{Fault, FaultKind};

#[test]
fn two_live_runs_at_once_one_trades_the_other_exits_4_file_store() {
    for gap_ms in [0, 100, 300] {
        let live = Live::new("cycle_replay");
        // A slow exchange keeps the first run inside its cycle (holding the
        // lease) while the second one starts.
        live.fake.set_latency(Duration::from_millis(150));
        let runs = live.race(Duration::from_millis(gap_ms), &[]);
        live.assert_one_traded(&runs, &format!("{gap_ms} ms apart"));
        assert!(live.state()["pending_orders"].as_object().unwrap().is_empty());
    }
}

/// The scenario: a run outlives its lease while one of its orders
/// is in flight; the next run takes the account over. It must keep the
/// in-flight entry (not drop it as "never placed" and send the same client
/// id again), and the slow run must send nothing after losing the lease.
#[test]
fn a_run_that_outlives_its_lease_is_fenced_and_its_in_flight_order_is_not_sent_again() {
    let live = Live::new("cycle_replay");
    // A's XRP order reaches the exchange only after 5 s (then executes).
    live.fake.inject(Fault::new("POST", "/api/v3/order", FaultKind::Delay(Duration::from_secs(5))).symbol("XRPUSDT"));
    let ttl = [("TRADECYCLE_LEASE_TTL_SECS", "1")];
    let mut slow = live.spawn(&["--live", "--run-id", "slow"], &[ttl[0], ("BINANCE_TIMEOUT_SECS", "30")]);
    // A wrote the XRP order ahead (and renewed its lease just before).
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let pending = std::fs::read_to_string(live.state_path())
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|s| s["pending_orders"].as_object().cloned())
            .unwrap_or_default();
        if let Some(id) = pending.keys().find(|k| k.ends_with("-tb-XRPUSDT")) {
            break id.clone();
        }
        assert!(Instant::now() < deadline, "A never wrote its XRP order ahead");
        std::thread::sleep(Duration::from_millis(10));
    };
    // Its one-second lease runs out while the order is still in flight.
    std::thread::sleep(Duration::from_millis(1200));
    let next = live.run(&["--live", "--run-id", "next"], &ttl);
    let r = next.json();
    assert_eq!(r["reconciled"][0]["client_order_id"], id.as_str(), "{}", r["reconciled"]);
    assert_eq!(r["reconciled"][0]["outcome"], "kept", "{}", r["reconciled"]);
    assert_eq!(next.code, 5, "kept order needs attention: {}", next.stderr);
    assert_eq!(slow.wait().unwrap().code(), Some(1));
    let a = common::live::read_json(&live.artifacts().join("report-slow.json"));
    assert!(a["errors"].as_array().unwrap().iter().any(|e| e["stage"] == "lease_lost"), "{}", a["errors"]);
    let xrp = live.fake.orders().iter().filter(|o| o.client_order_id == id).count();
    assert_eq!(xrp, 1, "the client id executed once");
    let mut ids: Vec<String> = live.fake.orders().iter().map(|o| o.client_order_id.clone()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no order twice: {ids:?}");
}
