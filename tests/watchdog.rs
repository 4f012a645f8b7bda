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
    write_cycle_heartbeat(&store, "acct-a", "ok", "live", written, "gha-7-1", None).await.unwrap();

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

// ---- durable alerts through Telegram ------------------------------------------

const TG_TOKEN: &str = "123456789:TEST-watchdog_token-do-not-print";
const CHAT: i64 = 616;

fn at(s: &str) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// `watchdog --now NOW` on the file store with the fake Telegram.
fn watchdog_at(state: &Path, now: &str, tg: &str) -> common::Run {
    let chat = CHAT.to_string();
    let store = store_arg(state);
    let env = [
        ("TRADECYCLE_STORE", store.as_str()),
        ("SERVICE_NAME", "acct-a"),
        ("TG_TOKEN", TG_TOKEN),
        ("GLOBAL_TELEGRAM_CHAT_ID", chat.as_str()),
        ("TELEGRAM_API_URL", tg),
    ];
    let r = watchdog(&["--now", now], &env);
    assert!(!r.stdout.contains(TG_TOKEN) && !r.stderr.contains(TG_TOKEN), "token printed");
    r
}

// The binary runs blocking while the fake Telegram answers on another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_record_alerts_once_reminds_after_the_interval_and_clears_once() {
    let tg = tradecycle_fakes::telegram::FakeTelegram::start(TG_TOKEN).await;
    tg.add_chat(CHAT);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let store = FileStore::new(&state);
    write_cycle_heartbeat(&store, "acct-a", "ok", "live", at("2026-03-15T10:00:00Z"), "r1", None).await.unwrap();

    // Two hours later the record is stale: FAIL, exit 1, one SEV-1 message.
    let r = watchdog_at(&state, "2026-03-15T12:00:00Z", &tg.url());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.starts_with("FAIL status=ok timestamp=2026-03-15T10:00:00Z run_id=r1 "), "{}", r.stdout);
    assert_eq!(r.stderr, "alert heartbeat_stale raised: sent\n");
    let sent = tg.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].text,
        "🤖 tradecycle:\n🚨 [Alert Raised] SEV-1 heartbeat_stale\nScope: service acct-a\n\
         Reason: the newest heartbeat record (run r1, 2026-03-15T10:00:00Z) is 7200 s old, more than 4500 s\n\
         First Seen: 2026-03-15T12:00:00Z\nRunbook: RUNBOOK.md › Watchdog alerts"
    );

    // Still stale ten minutes later: exit 1 again, no second message.
    let r = watchdog_at(&state, "2026-03-15T12:10:00Z", &tg.url());
    assert_eq!((r.code, r.stderr.as_str()), (1, ""));
    assert_eq!(tg.messages().len(), 1);

    // ALERT_REMIND_HOURS (24 h) after the raise: one reminder.
    let r = watchdog_at(&state, "2026-03-16T12:00:00Z", &tg.url());
    assert_eq!(r.code, 1);
    let sent = tg.messages();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].text.contains("🔁 [Alert Still Open] SEV-1 heartbeat_stale"), "{}", sent[1].text);
    assert!(sent[1].text.contains("First Seen: 2026-03-15T12:00:00Z"), "{}", sent[1].text);

    // A cycle writes a fresh ok record: OK, exit 0, one clear; then quiet.
    write_cycle_heartbeat(&store, "acct-a", "ok", "live", at("2026-03-16T12:30:00Z"), "r2", None).await.unwrap();
    let r = watchdog_at(&state, "2026-03-16T12:35:00Z", &tg.url());
    assert_eq!(r.code, 0, "{}", r.stdout);
    let sent = tg.messages();
    assert_eq!(sent.len(), 3);
    assert!(sent[2].text.starts_with("🤖 tradecycle:\n✅ [Alert Cleared] SEV-1 heartbeat_stale\n"), "{}", sent[2].text);
    let r = watchdog_at(&state, "2026-03-16T12:40:00Z", &tg.url());
    assert_eq!((r.code, tg.messages().len()), (0, 3));

    // The book is its own record beside the heartbeat, never the state document.
    assert!(!state.exists(), "the watchdog never writes the cycle's state");
    let book: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state.heartbeat.alerts.watchdog.acct-a.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(book["alerts"]["heartbeat_stale"]["state"], "cleared");
    assert_eq!(book["alerts"]["heartbeat_stale"]["count"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_record_of_an_aborted_cycle_fails_and_alerts() {
    let tg = tradecycle_fakes::telegram::FakeTelegram::start(TG_TOKEN).await;
    tg.add_chat(CHAT);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let store = FileStore::new(&state);
    let t = at("2026-03-15T10:00:00Z");
    write_cycle_heartbeat(&store, "acct-a", "aborted", "live", t, "r1", Some("preflight: the API key can withdraw"))
        .await
        .unwrap();
    let r = watchdog_at(&state, "2026-03-15T10:05:00Z", &tg.url());
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stdout,
        "FAIL status=aborted timestamp=2026-03-15T10:00:00Z run_id=r1 last_error=preflight: the API key can withdraw \
         max_age_seconds=4500 age_seconds=300 (last cycle aborted)\n"
    );
    let sent = tg.messages();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].text.contains(
            "🚨 [Alert Raised] SEV-2 cycle_failed\nScope: service acct-a\n\
             Reason: the last cycle (run r1, mode live) ended aborted (1 failed in a row): preflight: the API key can withdraw\n"
        ),
        "{}",
        sent[0].text
    );
    // Two more failed cycles: the third in a row escalates to SEV-1.
    write_cycle_heartbeat(&store, "acct-a", "error", "live", t, "r2", Some("x")).await.unwrap();
    let r = watchdog_at(&state, "2026-03-15T10:05:00Z", &tg.url());
    assert_eq!((r.code, tg.messages().len()), (1, 1));
    write_cycle_heartbeat(&store, "acct-a", "aborted", "live", t, "r3", Some("y")).await.unwrap();
    watchdog_at(&state, "2026-03-15T10:05:00Z", &tg.url());
    let sent = tg.messages();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].text.contains("⏫ [Alert Escalated] SEV-1 cycle_failed"), "{}", sent[1].text);
}

#[test]
fn without_telegram_the_alert_is_logged_as_not_sent_and_stays_owed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let r = watchdog(&["--store", &store_arg(&state), "--service", "acct-c"], &[]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "warning: alert heartbeat_stale raised: not sent: telegram not configured (TG_TOKEN, GLOBAL_TELEGRAM_CHAT_ID)\n"
    );
    let book: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state.heartbeat.alerts.watchdog.acct-c.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(book["alerts"]["heartbeat_stale"]["last_notified"], serde_json::Value::Null);
}

/// A dry run (no --live) against the fake Binance writes the record too,
/// with its mode; it counts as liveness for the same service only.
#[test]
fn a_dry_run_writes_a_heartbeat_record_with_its_mode() {
    let live = common::live::Live::new("cycle_replay");
    let r = live.run(&["--run-id", "dry-1"], &[]);
    assert!(matches!(r.code, 0 | 5), "exit {}: {}", r.code, r.stderr);
    assert_eq!(r.json()["mode"], "dry_run");
    let path = FileStore::new(live.state_path()).heartbeat_path("tradecycle");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!((record["mode"].as_str(), record["run_id"].as_str()), (Some("dry_run"), Some("dry-1")));
    assert_eq!(record["history"][0]["mode"], "dry_run");
    assert_eq!(record["history"].as_array().unwrap().len(), 1);
    let store = store_arg(&live.state_path());
    let r = watchdog(&["--store", &store], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.starts_with("OK status="), "{}", r.stdout);
    // Another account's watchdog is not fooled by it.
    let r = watchdog(&["--store", &store, "--service", "acct-live"], &[]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "FAIL missing heartbeat service=acct-live max_age_seconds=4500\n"));
}
