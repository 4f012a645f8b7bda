//! The rolling 7-day baseline (issue 11, "Anomaly against a rolling
//! baseline") through the binary: hourly paper cycles build it in the
//! state, a deposit far outside it raises one SEV-3 `anomaly:equity_change`,
//! and the next ordinary cycle clears it.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::paper_run;
use serde_json::Value;

const START: &str = "2026-03-15T00:00:00Z";

/// One paper cycle `hour` hours after [`START`] on the account in `dir`.
fn paper(dir: &std::path::Path, hour: i64) -> Value {
    let now = START.parse::<DateTime<Utc>>().unwrap() + Duration::hours(hour);
    let r = paper_run(dir, "cycle_replay", &now.to_rfc3339(), &[], &[]);
    assert!(matches!(r.code, 0 | 5), "exit {}: {}", r.code, r.stderr);
    r.json()
}

/// The keys of `report.alerts.<change>` that are anomalies, with severity.
fn anomalies(report: &Value, change: &str) -> Vec<(String, String)> {
    report["alerts"][change]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["key"].as_str().unwrap().to_string(), a["severity"].as_str().unwrap().to_string()))
        .filter(|(key, _)| key.starts_with("anomaly:"))
        .collect()
}

fn state(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap()
}

#[test]
fn a_deposit_far_outside_the_baseline_raises_one_sev3_anomaly_and_the_next_cycle_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    // A day of hourly equity changes (25 cycles): the baseline's minimum.
    // Equity moves with the paper walk (at most 1.5 % an hour), inside the
    // 2 % floor.
    for hour in 0..25 {
        let r = paper(dir.path(), hour);
        assert!(!anomalies(&r, "raised").iter().any(|(k, _)| k == "anomaly:equity_change"), "hour {hour}: {r:#}");
    }
    let baseline = state(dir.path())["baseline"].as_array().unwrap().clone();
    assert_eq!(baseline.len(), 25, "one sample per cycle");
    assert_eq!(baseline[0]["at"], "2026-03-15T00:00:00Z");
    assert!(baseline[0]["planned"].as_u64().unwrap() > 0, "the first cycle buys: {:#}", baseline[0]);
    assert!(baseline.iter().all(|s| s.get("requests").is_none()), "the paper exchange sends no requests");

    // The operator deposits: USDT on the paper account triples.
    let account_path = dir.path().join("account.json");
    let mut account: Value = serde_json::from_str(&std::fs::read_to_string(&account_path).unwrap()).unwrap();
    let usdt = &mut account["balances"]["USDT"]["free"];
    let tripled = usdt.as_str().unwrap().parse::<f64>().unwrap() * 3.0 + 1000.0;
    *usdt = Value::String(format!("{tripled:.2}"));
    std::fs::write(&account_path, serde_json::to_string_pretty(&account).unwrap()).unwrap();

    let r = paper(dir.path(), 25);
    let raised = anomalies(&r, "raised");
    assert!(raised.contains(&("anomaly:equity_change".into(), "SEV-3".into())), "{:#}", r["alerts"]);
    let entry = r["alerts"]["raised"].as_array().unwrap().iter().find(|a| a["key"] == "anomaly:equity_change").unwrap();
    assert_eq!(entry["runbook"], "Anomaly against the baseline");
    assert!(entry["reason"].as_str().unwrap().contains("equity change per cycle"), "{entry:#}");
    assert_eq!(r["paused"], Value::Null, "an anomaly only adds a hint: it pauses nothing");

    let r = paper(dir.path(), 26);
    assert!(anomalies(&r, "cleared").iter().any(|(k, _)| k == "anomaly:equity_change"), "{:#}", r["alerts"]);
    assert_eq!(state(dir.path())["baseline"].as_array().unwrap().len(), 27);
}
