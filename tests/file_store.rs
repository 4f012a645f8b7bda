//! The file store: the same compare-and-set, lease and heartbeat rules as
//! the Firestore store, plus atomic replacement on disk.

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tradecycle::adapters::store::file::{FileStore, FileUpstream};
use tradecycle::ports::{LeaseOutcome, PortError, StateStore, UpstreamSource};
use tradecycle::upstream::ladder::FetchOutcome;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn reference_state() -> Value {
    let path = common::reference_fixtures().join("initial_state_snapshot.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn state_round_trips_exactly_and_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/state.json");
    let store = FileStore::new(&path);
    assert_eq!(store.load().await.unwrap(), None);

    let doc = json!({
        "daily_equity_base": 0.0, "count": 7, "ok": true, "none": null,
        "list": [[1, 2], {"a": 1.5}], "decimal": "0.00012345",
        "nested": {"deep": {"deeper": []}},
    });
    store.save(&doc).await.unwrap();
    let loaded = FileStore::new(&path).load().await.unwrap().unwrap();
    assert_eq!(loaded, doc);
    assert_eq!(loaded["daily_equity_base"].to_string(), "0.0");
    // Plain JSON on disk, for an operator's eyes and tools.
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(on_disk, doc);

    let reference = reference_state();
    store.save(&reference).await.unwrap();
    store.save(&reference).await.unwrap();
    assert_eq!(FileStore::new(&path).load().await.unwrap(), Some(reference));
}

#[tokio::test]
async fn a_concurrent_writer_is_detected_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let first = FileStore::new(&path);
    let second = FileStore::new(&path);
    first.save(&json!({"v": 1})).await.unwrap();

    first.load().await.unwrap();
    second.load().await.unwrap();
    second.save(&json!({"v": "second"})).await.unwrap();
    let err = first.save(&json!({"v": "first"})).await.unwrap_err();
    assert!(matches!(err, PortError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    assert_eq!(FileStore::new(&path).load().await.unwrap(), Some(json!({"v": "second"})));

    first.load().await.unwrap();
    first.save(&json!({"v": "first, after reload"})).await.unwrap();
}

#[tokio::test]
async fn a_hand_edit_or_a_first_save_race_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let a = FileStore::new(&path);
    let b = FileStore::new(&path);
    assert_eq!(a.load().await.unwrap(), None);
    assert_eq!(b.load().await.unwrap(), None);
    a.save(&json!({"by": "a"})).await.unwrap();
    assert!(matches!(b.save(&json!({"by": "b"})).await, Err(PortError::Conflict(_))));
    // Never loaded: may only create.
    assert!(matches!(FileStore::new(&path).save(&json!({})).await, Err(PortError::Conflict(_))));

    std::fs::write(&path, "{\"edited\": true}").unwrap();
    assert!(matches!(a.save(&json!({"by": "a again"})).await, Err(PortError::Conflict(_))));
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(a.save(&json!({"by": "a again"})).await, Err(PortError::Conflict(_))), "a deletion too");
}

#[tokio::test]
async fn a_corrupt_file_is_a_clear_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, "{\"daily_equity_base\": 1.0,").unwrap();
    let err = FileStore::new(&path).load().await.unwrap_err();
    assert!(matches!(err, PortError::Definitive(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()) && msg.contains("not valid JSON"), "{msg}");
}

#[test]
fn concurrent_writers_lose_no_update_and_leave_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    block_on(FileStore::new(&path).save(&json!({"counter": 0}))).unwrap();
    // Large enough that writes take a moment and overlap.
    let pad = "x".repeat(64 * 1024);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            let pad = pad.clone();
            std::thread::spawn(move || {
                let store = FileStore::new(&path);
                let mut won = 0;
                for _ in 0..20 {
                    // Every read sees a whole document, never a torn one.
                    let current = block_on(store.load()).expect("always valid JSON").expect("present");
                    let counter = current["counter"].as_i64().unwrap();
                    match block_on(store.save(&json!({"counter": counter + 1, "pad": pad}))) {
                        Ok(()) => won += 1,
                        Err(PortError::Conflict(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Each successful save was based on the latest document: none was lost.
    let last = block_on(FileStore::new(&path).load()).unwrap().unwrap();
    assert_eq!(last["counter"].as_i64().unwrap(), won);
    assert!(won >= 20, "someone wins every round: {won}");
    assert_eq!(names(dir.path()), ["state.json", "state.lock"]);
}

#[tokio::test]
async fn the_lease_goes_to_one_run_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paper.json");
    let a = FileStore::new(&path);
    let b = FileStore::new(&path);
    let now = Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap();
    let ttl = Duration::from_secs(900);

    assert_eq!(a.acquire_lease("run-a", now, ttl).await.unwrap(), LeaseOutcome::Acquired);
    let lease: Value = serde_json::from_str(&std::fs::read_to_string(a.lease_path()).unwrap()).unwrap();
    assert_eq!(lease["owner"], "run-a");
    assert_eq!(lease["expires_at"], "2026-03-15T09:15:00Z");
    assert_eq!(a.lease_path(), dir.path().join("paper.lease.json"));

    let held = b.acquire_lease("run-b", now, ttl).await.unwrap();
    assert_eq!(held, LeaseOutcome::Held { owner: "run-a".into(), expires_at: now + chrono::Duration::seconds(900) });
    assert_eq!(a.acquire_lease("run-a", now, ttl).await.unwrap(), LeaseOutcome::Acquired, "the holder may retry");
}

#[test]
fn concurrent_acquirers_get_exactly_one_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let now = Utc::now();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                block_on(FileStore::new(&path).acquire_lease(&format!("run-{i}"), now, Duration::from_secs(60)))
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == LeaseOutcome::Acquired).count(), 1, "{outcomes:?}");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_only_the_owner_releases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let a = FileStore::new(&path);
    let b = FileStore::new(&path);
    let t0 = Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap();
    let ttl = Duration::from_secs(60);
    assert_eq!(a.acquire_lease("crashed-run", t0, ttl).await.unwrap(), LeaseOutcome::Acquired);
    let later = t0 + chrono::Duration::seconds(61);
    assert_eq!(b.acquire_lease("next-run", later, ttl).await.unwrap(), LeaseOutcome::Acquired);

    a.release_lease("crashed-run").await.unwrap();
    let held = a.acquire_lease("crashed-run", later, ttl).await.unwrap();
    assert!(matches!(held, LeaseOutcome::Held { ref owner, .. } if owner == "next-run"), "{held:?}");

    b.release_lease("next-run").await.unwrap();
    assert!(!b.lease_path().exists());
    b.release_lease("next-run").await.unwrap();
    assert_eq!(a.acquire_lease("crashed-run", later, ttl).await.unwrap(), LeaseOutcome::Acquired);
    assert_eq!(names(dir.path()), ["state.lease.json", "state.lock"], "no temp files");
}

#[tokio::test]
async fn an_unreadable_lease_is_never_guessed_at() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("state.json"));
    std::fs::write(store.lease_path(), "garbage").unwrap();
    let err = store.acquire_lease("r", Utc::now(), Duration::from_secs(60)).await.unwrap_err();
    assert!(matches!(err, PortError::Definitive(_)), "{err:?}");
    assert!(err.to_string().contains("state.lease.json"), "{err}");
}

#[tokio::test]
async fn heartbeats_are_sibling_files_per_service() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("state.json"));
    assert_eq!(store.read_heartbeat("cycle").await.unwrap(), None);
    let record = json!({"status": "ok", "at": "2026-03-15T09:00:05Z", "run_id": "r1", "last_error": null});
    store.write_heartbeat("cycle", &record).await.unwrap();
    store.write_heartbeat("cycle", &json!({"status": "error"})).await.unwrap();
    store.write_heartbeat("dispatch", &record).await.unwrap();
    assert_eq!(store.read_heartbeat("cycle").await.unwrap(), Some(json!({"status": "error"})));
    assert_eq!(store.read_heartbeat("dispatch").await.unwrap(), Some(record));
    assert!(dir.path().join("state.heartbeat.cycle.json").is_file());
    assert!(matches!(store.write_heartbeat("../escape", &json!({})).await, Err(PortError::Definitive(_))));
    assert_eq!(names(dir.path()), ["state.heartbeat.cycle.json", "state.heartbeat.dispatch.json"]);
}

#[tokio::test]
async fn the_upstream_file_is_found_missing_or_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.json");
    let upstream = FileUpstream::new(&path);
    assert_eq!(upstream.label(), format!("upstream-file:{}", path.display()));
    assert_eq!(upstream.fetch().await, FetchOutcome::Missing);

    let payload = std::fs::read_to_string(common::reference_fixtures().join("pool_input_snapshot.json")).unwrap();
    std::fs::write(&path, &payload).unwrap();
    assert_eq!(upstream.fetch().await, FetchOutcome::Found(serde_json::from_str(&payload).unwrap()));

    std::fs::write(&path, "{not json").unwrap();
    assert!(matches!(upstream.fetch().await, FetchOutcome::Failed(m) if m.contains("pool.json")));

    let env = [("STRATEGY_ARTIFACT_UPSTREAM_FILE".to_string(), path.display().to_string())].into_iter().collect();
    assert_eq!(FileUpstream::from_env(&env).unwrap().label(), upstream.label());
    assert!(FileUpstream::from_env(&Default::default()).is_none());
}

#[tokio::test]
async fn only_the_holder_renews_the_lease_even_after_it_ran_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let (a, b) = (FileStore::new(&path), FileStore::new(&path));
    let t0 = Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap();
    let ttl = Duration::from_secs(60);
    assert!(!a.renew_lease("run-a", t0, ttl).await.unwrap(), "no lease: nothing to renew");
    assert!(!a.lease_path().exists(), "renewing never creates a lease");
    assert_eq!(a.acquire_lease("run-a", t0, ttl).await.unwrap(), LeaseOutcome::Acquired);
    // Past its expiry but not taken over: still the holder's to extend.
    let t1 = t0 + chrono::Duration::seconds(90);
    assert!(a.renew_lease("run-a", t1, ttl).await.unwrap());
    let lease: Value = serde_json::from_str(&std::fs::read_to_string(a.lease_path()).unwrap()).unwrap();
    assert_eq!((lease["owner"].as_str(), lease["expires_at"].as_str()), (Some("run-a"), Some("2026-03-15T09:02:30Z")));
    assert_eq!(lease["acquired_at"], "2026-03-15T09:00:00Z");
    let held = b.acquire_lease("run-b", t1 + chrono::Duration::seconds(30), ttl).await.unwrap();
    assert!(matches!(held, LeaseOutcome::Held { ref owner, .. } if owner == "run-a"), "{held:?}");
    // Taken over once it ran out: the old holder cannot renew any more.
    let t2 = t1 + chrono::Duration::seconds(61);
    assert_eq!(b.acquire_lease("run-b", t2, ttl).await.unwrap(), LeaseOutcome::Acquired);
    assert!(!a.renew_lease("run-a", t2, ttl).await.unwrap());
    assert!(b.renew_lease("run-b", t2, ttl).await.unwrap());
}
