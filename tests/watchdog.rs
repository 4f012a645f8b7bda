//! `tradecycle watchdog` through the file store: a fresh record passes, a
//! stale or missing one fails with exit 1, an unreadable one fails too, and
//! bad settings exit 2. Records come from the library's writer and in the
//! shape `run` writes them.

use std::path::Path;

use chrono::{Duration, Utc};
use serde_json::json;
use tradecycle::adapters::store::file::FileStore;
use tradecycle::commands::watchdog::write_cycle_heartbeat;
use tradecycle::ports::StateStore;

mod common;

fn watchdog(args: &[&str], env: &[(&str, &str)]) -> common::Run {
    let args: Vec<&str> = std::iter::once("watchdog").chain(args.iter().copied()).collect();
    common::tradecycle(&args, env)
}

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn store_arg(path: &Path) -> String {
    format!("file:{}", path.display())
}

#[tokio::test]
async fn fresh_record_passes_stale_fails() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let store = FileStore::new(&state);
    let written = Utc::now() - Duration::minutes(10);
    write_cycle_heartbeat(&store, "acct-a", "ok", written, "gha-7-1", None).await.unwrap();

    let r = watchdog(&["--store", &store_arg(&state), "--service", "acct-a", "--max-age", "75m"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let prefix = format!(
        "OK status=ok timestamp={} run_id=gha-7-1 last_error=none max_age_seconds=4500 age_seconds=",
        ts(written)
    );
    assert!(r.stdout.starts_with(&prefix), "{}", r.stdout);
    let age: i64 = r.stdout[prefix.len()..].trim().parse().unwrap();
    assert!((600..=660).contains(&age), "{age}");

    // The same record against a 5-minute limit is stale.
    let r = watchdog(&["--store", &store_arg(&state), "--service", "acct-a", "--max-age", "300"], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.starts_with(&format!(
            "FAIL status=ok timestamp={} run_id=gha-7-1 last_error=none max_age_seconds=300 age_seconds=",
            ts(written)
        )),
        "{}",
        r.stdout
    );

    // Settings from the environment: store, service, limit.
    let r = watchdog(
        &[],
        &[("TRADECYCLE_STORE", &store_arg(&state)), ("SERVICE_NAME", "acct-a"), ("WATCHDOG_MAX_AGE_SECONDS", "1h")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(" max_age_seconds=3600 "), "{}", r.stdout);
}

#[tokio::test]
async fn reads_the_record_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let store = FileStore::new(&state);
    let written = Utc::now() - Duration::hours(2);
    // run.rs's shape: empty last_error when there was none, cycle_time extra.
    let record = json!({"status": "error", "timestamp": ts(written), "cycle_time": ts(written),
                        "run_id": "20260315T100000Z", "last_error": "state_save: conflict\nretry failed"});
    store.write_heartbeat("tradecycle", &record).await.unwrap();
    let r = watchdog(&["--store", &store_arg(&state)], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.starts_with(&format!(
            "FAIL status=error timestamp={} run_id=20260315T100000Z last_error=state_save: conflict retry failed max_age_seconds=4500 age_seconds=",
            ts(written)
        )),
        "{}",
        r.stdout
    );
    let fresh = json!({"status": "ok", "timestamp": ts(Utc::now()), "run_id": "r2", "last_error": ""});
    store.write_heartbeat("tradecycle", &fresh).await.unwrap();
    let r = watchdog(&["--store", &store_arg(&state)], &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(" run_id=r2 last_error=none "), "{}", r.stdout);
}

#[test]
fn missing_or_unreadable_record_fails() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let r = watchdog(&["--store", &store_arg(&state), "--service", "acct-b"], &[]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "FAIL missing heartbeat service=acct-b max_age_seconds=4500\n"));

    let store = FileStore::new(&state);
    std::fs::write(store.heartbeat_path("acct-b"), "{not json").unwrap();
    let r = watchdog(&["--store", &store_arg(&state), "--service", "acct-b"], &[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("FAIL cannot read heartbeat service=acct-b max_age_seconds=4500: "), "{}", r.stdout);
}

/// Arguments, environment, expected stderr.
type Case = (&'static [&'static str], &'static [(&'static str, &'static str)], &'static str);

#[test]
fn bad_settings_exit_2() {
    let cases: [Case; 5] = [
        (
            &[],
            &[],
            "error: no state store configured: pass --store firestore or --store file:PATH (or set TRADECYCLE_STORE)\n",
        ),
        (
            &["--store", "s3://x"],
            &[],
            "error: --store: unknown store 's3://x': expected file:PATH (e.g. file:state/paper.json) or firestore\n",
        ),
        (
            &["--store", "file:/tmp/x.json", "--max-age", "0"],
            &[],
            "error: --max-age: expected seconds or a duration such as 4500, 75m or 1h15m, got '0'\n",
        ),
        (
            &["--store", "file:/tmp/x.json"],
            &[("WATCHDOG_MAX_AGE_SECONDS", "soon")],
            "error: WATCHDOG_MAX_AGE_SECONDS: expected seconds or a duration such as 4500, 75m or 1h15m, got 'soon'\n",
        ),
        (&["--store", "file:/tmp/x.json", "--service", "../etc"], &[], ""),
    ];
    for (args, env, stderr) in cases {
        let r = watchdog(args, env);
        if stderr.is_empty() {
            // An invalid service name is the store's refusal: a FAIL line.
            assert_eq!(r.code, 1, "{}", r.stdout);
            assert!(r.stdout.starts_with("FAIL cannot read heartbeat service=../etc "), "{}", r.stdout);
            continue;
        }
        assert_eq!((r.code, r.stderr.as_str(), r.stdout.as_str()), (2, stderr, ""), "{args:?}");
    }
}
