//! `tradecycle summary` on real reports: a replay of a degraded-pool
//! fixture set rendered as the GitHub job summary and annotations, and the
//! errors for a missing or foreign file.

mod common;

use common::replay::Replay;

fn tradecycle(args: &[&str]) -> (i32, String, String) {
    let run = common::tradecycle(args, &[]);
    (run.code, run.stdout, run.stderr)
}

#[test]
fn summarises_a_degraded_replay() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report-x.json");
    let report = report.to_str().unwrap();
    Replay::fixture("degraded_static").args(["--output", report]).output();

    let (code, md, _) = tradecycle(&["summary", "--report", report]);
    assert_eq!(code, 0);
    // Alerts come first (issue 11): the static pool is raised.
    assert!(md.starts_with("## ✅ tradecycle cycle: ok (replay)\n\n### Alerts\n\n\
        | Alert | Severity | Key | Scope | Reason | First seen | Runbook |\n| --- | --- | --- | --- | --- | --- | --- |\n\
        | 🚨 raised | SEV-2 | `pool_static` | upstream pool | the upstream pool came from static (static:built_in); new trend entries are paused unless STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED=1 | 2026-03-15T00:00:00Z | Upstream pool stale or malformed |\n\
        \n| | |\n| --- | --- |\n| Run | `fixture-degraded_static` at 2026-03-15T00:00:00Z |\n| Pool source | ⚠️ degraded: `static` (static:built_in) |\n"), "{md}");
    assert!(
        md.contains(
            "\n### Trades\n\n| Kind | Symbol / asset | Quantity / amount | Filled (quote) | Status | Reason |\n"
        ),
        "{md}"
    );
    assert!(md.contains("\n| earn_subscribe | USDT | 1900 | — | suppressed | maintain_usdt_buffer |\n"), "{md}");
    assert!(md.contains("\n- trend / `trend_buy_paused_degraded_mode`\n"), "{md}");
    assert!(md.contains("\n### Warnings\n\n- ⚠️ degraded pool: source static (static:built_in); new trend entries are paused unless allowed: "), "{md}");

    let (code, annotations, _) = tradecycle(&["summary", "--report", report, "--format", "annotations"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = annotations.lines().collect();
    assert_eq!(lines.len(), 1, "{annotations}");
    assert!(lines[0].starts_with("::warning title=Degraded pool::degraded pool: source static (static:built_in); "));

    // A healthy replay raises no annotation.
    let healthy = dir.path().join("healthy.json");
    let healthy = healthy.to_str().unwrap();
    Replay::default().args(["--output", healthy]).output();
    let (code, annotations, _) = tradecycle(&["summary", "--report", healthy, "--format", "annotations"]);
    assert_eq!((code, annotations.as_str()), (0, ""));
}

#[test]
fn refuses_what_is_not_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let (code, _, stderr) = tradecycle(&["summary", "--report", missing.to_str().unwrap()]);
    assert_eq!(
        (code, stderr),
        (2, format!("error: cannot read the report {}: No such file or directory (os error 2)\n", missing.display()))
    );
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"schema": "qsl.runtime_heartbeat_assessment.v1"}"#).unwrap();
    let (code, _, stderr) = tradecycle(&["summary", "--report", other.to_str().unwrap()]);
    assert_eq!(
        (code, stderr),
        (
            2,
            format!(
                "error: {}: not a tradecycle.report.v1 report (schema qsl.runtime_heartbeat_assessment.v1)\n",
                other.display()
            )
        )
    );
    std::fs::write(&other, "not json").unwrap();
    let (code, _, stderr) = tradecycle(&["summary", "--report", other.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with(&format!("error: {} is not JSON: ", other.display())), "{stderr}");
}
