//! Two `run --live` processes for one account at once, through the built
//! binary with the file store (the Firestore variant is in
//! tests/run_firestore.rs): started in the same millisecond, 0.1 s and
//! 0.3 s apart, with the same run id (two schedulers firing in the same
//! second). Exactly one trades; the other touches nothing and exits 4.

mod common;

use std::time::Duration;

use common::live::Live;

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
