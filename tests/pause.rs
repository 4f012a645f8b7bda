//! `tradecycle pause` / `resume` against the file store, driven through the
//! binary with paper cycles (issue 11, containment): a pause stops every buy
//! but not the sells, resume buys again, and neither races a cycle's lease.

mod common;

use common::{gates, intents, paper_run, tradecycle};
use serde_json::Value;

fn paper(dir: &std::path::Path, fixtures: &str, now: &str) -> Value {
    paper_with(dir, fixtures, now, &[])
}

fn paper_with(dir: &std::path::Path, fixtures: &str, now: &str, env: &[(&str, &str)]) -> Value {
    let r = paper_run(dir, fixtures, now, &[], env);
    assert!(matches!(r.code, 0 | 5), "exit {}: {}", r.code, r.stderr);
    r.json()
}

fn store(dir: &std::path::Path) -> String {
    format!("file:{}", dir.join("state.json").display())
}

fn kinds(report: &Value) -> Vec<String> {
    intents(report).into_iter().map(|(kind, symbol, ..)| format!("{kind} {symbol}")).collect()
}

#[test]
fn pause_stops_every_buy_of_the_next_cycle_and_resume_buys_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let p = tradecycle(&["pause", "--reason", "exchange incident", "--store", &s], &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert!(p.stdout.contains("reason: exchange incident"), "{}", p.stdout);

    let r = paper(dir.path(), "cycle_replay", "2026-03-15T00:00:00Z");
    assert_eq!(r["paused"]["by"], "operator");
    assert_eq!(r["paused"]["reason"], "exchange incident");
    assert!(r["paused"]["since"].is_string());
    assert!(kinds(&r).iter().all(|k| !k.contains("buy")), "{:?}", kinds(&r));
    assert!(gates(&r).contains(&"paused".to_string()));
    let state: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(state["trading_paused"], true, "the pause survives the cycle's save");
    assert_eq!(state["paused"]["reason"], "exchange incident");

    let q = tradecycle(&["resume", "--store", &s], &[]);
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert_eq!(q.stdout.trim(), "resumed: lifted the pause by operator: exchange incident");

    let r = paper(dir.path(), "cycle_replay", "2026-03-15T01:00:00Z");
    assert!(r.get("paused").is_none());
    assert!(kinds(&r).iter().any(|k| k.starts_with("trend_buy")), "{:?}", kinds(&r));
}

#[test]
fn the_kill_switch_and_an_older_trading_paused_state_still_sell_and_resume_lifts_the_state_one() {
    let dir = tempfile::tempdir().unwrap();
    let r = paper_with(dir.path(), "paused", "2026-03-15T00:00:00Z", &[("TRADECYCLE_PAUSE", "1")]);
    assert_eq!(r["paused"]["by"], "env:TRADECYCLE_PAUSE");
    assert!(kinds(&r).contains(&"trend_sell XRPUSDT".to_string()), "{:?}", kinds(&r));
    assert!(kinds(&r).iter().all(|k| !k.contains("buy")), "{:?}", kinds(&r));

    // The hand edit the RUNBOOK used to describe: an older document's flag.
    let path = dir.path().join("state.json");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(state.get("paused").is_none(), "the kill switch is not written to the state");
    state["trading_paused"] = Value::Bool(true);
    std::fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();
    let r = paper(dir.path(), "paused", "2026-03-15T01:00:00Z");
    assert_eq!(r["paused"]["by"], "operator");
    assert_eq!(r["paused"]["reason"], "trading_paused is set in the state document");
    assert!(kinds(&r).iter().all(|k| !k.contains("buy")), "{:?}", kinds(&r));

    let q = tradecycle(&["resume", "--store", &store(dir.path())], &[]);
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert_eq!(q.stdout.trim(), "resumed: lifted the pause by operator: trading_paused is set in the state document");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(state["trading_paused"], false);
    let r = paper(dir.path(), "paused", "2026-03-15T02:00:00Z");
    assert!(r.get("paused").is_none());
    assert!(kinds(&r).iter().any(|k| k.contains("buy")), "{:?}", kinds(&r));
}

#[test]
fn pause_and_resume_leave_the_state_alone_while_a_cycle_holds_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{\"trading_paused\": false}").unwrap();
    std::fs::write(
        dir.path().join("state.lease.json"),
        r#"{"owner": "20260315T000000Z/cycle", "expires_at": "2099-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    for args in [vec!["pause", "--reason", "x"], vec!["resume"]] {
        let s = store(dir.path());
        let r = tradecycle(&[args.as_slice(), &["--store", &s]].concat(), &[]);
        assert_eq!(r.code, 4, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("a cycle (20260315T000000Z/cycle"), "{}", r.stderr);
        assert!(r.stderr.contains("holds the run lease until"), "{}", r.stderr);
        assert_eq!(std::fs::read_to_string(&state).unwrap(), "{\"trading_paused\": false}");
    }
}

#[test]
fn pause_needs_a_reason_and_a_store() {
    let r = tradecycle(&["pause", "--reason", "  ", "--store", "file:/nonexistent/x.json"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--reason"), "{}", r.stderr);
    let r = tradecycle(&["resume"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no state store configured"), "{}", r.stderr);
}

#[test]
fn an_open_sev1_alert_pauses_new_risk_until_it_clears() {
    let dir = tempfile::tempdir().unwrap();
    let r = paper_with(dir.path(), "cycle_replay", "2026-03-15T00:00:00Z", &[("TRADECYCLE_PAUSE", "1")]);
    assert!(kinds(&r).iter().all(|k| !k.contains("buy")), "{:?}", kinds(&r));
    // The book as a run whose save failed leaves it for the next one.
    let path = dir.path().join("state.json");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state["alerts"] = serde_json::json!({"state_save_failed": {
        "severity": "SEV-1", "scope": "state store", "reason": "the state could not be saved",
        "runbook": "State save failed", "first_seen": "2026-03-15T00:30:00Z", "last_seen": "2026-03-15T00:30:00Z",
        "count": 1, "state": "raised", "last_notified": "2026-03-15T00:30:00Z"}});
    std::fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();

    let r = paper(dir.path(), "cycle_replay", "2026-03-15T01:00:00Z");
    assert_eq!(r["paused"]["by"], "alert:state_save_failed");
    assert_eq!(r["paused"]["since"], "2026-03-15T00:30:00Z");
    assert!(kinds(&r).iter().all(|k| !k.contains("buy")), "{:?}", kinds(&r));
    // This cycle saved fine: the condition clears, and with it the pause.
    assert_eq!(r["alerts"]["cleared"][0]["key"], "state_save_failed");
    let r = paper(dir.path(), "cycle_replay", "2026-03-15T02:00:00Z");
    assert!(r.get("paused").is_none());
    assert!(kinds(&r).iter().any(|k| k.starts_with("trend_buy")), "{:?}", kinds(&r));
}
