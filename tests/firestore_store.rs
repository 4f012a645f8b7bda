//! The Firestore store through the real adapter against Google's Cloud
//! Firestore emulator on 127.0.0.1 (started by scripts/test.sh). Every test
//! uses its own collections, so they run in parallel on one emulator.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{emulator_host, project, unique};
use firestore::gcloud_sdk::google::firestore::v1::value::ValueType;
use firestore::{FirestoreDb, FirestoreDbOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tradecycle::adapters::store::firestore::{DocRef, FirestoreConfig, FirestoreStore, FirestoreUpstream};
use tradecycle::ports::{LeaseOutcome, PortError, StateStore, UpstreamSource};
use tradecycle::upstream::ladder::FetchOutcome;

/// Generous enough for a loaded 2-core machine, small enough to notice a hang.
const TIMEOUT: Duration = Duration::from_secs(5);

fn config(name: &str) -> FirestoreConfig {
    let collection = unique(name);
    let mut c = FirestoreConfig::new(Some(project()));
    c.emulator_host = Some(emulator_host());
    c.timeout = TIMEOUT;
    c.state = DocRef::new(collection.clone(), "MULTI_ASSET_STATE");
    c.lease = DocRef::new(collection.clone(), "MULTI_ASSET_STATE_LEASE");
    c.heartbeat_collection = format!("{collection}_health");
    c.upstream = DocRef::new(format!("{collection}_pool"), "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL");
    c
}

/// A client that is not ours, writing and reading with the firestore
/// crate's own serde mapping, as another program (the reference) would.
async fn other_client() -> FirestoreDb {
    emulator_host();
    FirestoreDb::with_options(FirestoreDbOptions::new(project())).await.expect("emulator client")
}

async fn write_foreign(doc: &DocRef, value: &Value) {
    let db = other_client().await;
    let _: Value = db
        .fluent()
        .update()
        .in_col(&doc.collection)
        .document_id(&doc.document)
        .object(value)
        .execute()
        .await
        .expect("foreign write");
}

fn reference_state() -> Value {
    let path = common::reference_fixtures().join("initial_state_snapshot.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture readable")).expect("fixture is JSON")
}

fn rich_document() -> Value {
    json!({
        "BTCUSDT": {"holding_qty": 0.015, "avg_cost": 61234.5},
        "daily_equity_base": 10234.123456789,
        "whole_float": 3.0,
        "count": 42,
        "negative": -17,
        "is_circuit_broken": false,
        "trading_paused": true,
        "nothing": null,
        "rotation_pool_symbols": ["ETHUSDT", "SOLUSDT"],
        "mixed": [1, 2.5, "three", true, null, {"deep": {"deeper": [{"x": 1}]}}],
        "empty_list": [],
        "empty_map": {},
        "pending_orders": {
            "tc-26031509-trend_buy-ETHUSDT": {
                "client_order_id": "tc-26031509-trend_buy-ETHUSDT",
                "quantity": "0.12340000",
                "price": "3456.78000000000001",
                "status": "pending"
            }
        }
    })
}

#[tokio::test]
async fn state_round_trips_exactly() {
    let store = FirestoreStore::new(config("round_trip"));
    assert_eq!(store.load().await.unwrap(), None, "a new collection has no state");
    let doc = rich_document();
    store.save(&doc).await.unwrap();

    let fresh = FirestoreStore::new(store.config().clone());
    let loaded = fresh.load().await.unwrap().expect("saved document");
    assert_eq!(loaded, doc);
    // Kinds survive: a float stays a float, an integer an integer, a Decimal a string.
    assert_eq!(loaded["whole_float"].to_string(), "3.0");
    assert_eq!(loaded["count"].to_string(), "42");
    assert_eq!(loaded["pending_orders"]["tc-26031509-trend_buy-ETHUSDT"]["price"], json!("3456.78000000000001"));

    // Saving again continues from the store's own write.
    let mut next = doc.clone();
    next["count"] = json!(43);
    store.save(&next).await.unwrap();
    store.save(&next).await.unwrap();
    assert_eq!(fresh.load().await.unwrap(), Some(next));
}

#[tokio::test]
async fn documents_we_write_are_native_firestore_values() {
    let store = FirestoreStore::new(config("native"));
    store.load().await.unwrap();
    let doc = rich_document();
    store.save(&doc).await.unwrap();

    let db = other_client().await;
    let state = &store.config().state;
    let raw = db.fluent().select().by_id_in(&state.collection).one(&state.document).await.unwrap().unwrap();
    let kind = |k: &str| raw.fields[k].value_type.clone().unwrap();
    assert!(matches!(kind("daily_equity_base"), ValueType::DoubleValue(f) if f == 10234.123456789));
    assert!(matches!(kind("count"), ValueType::IntegerValue(42)));
    assert!(matches!(kind("is_circuit_broken"), ValueType::BooleanValue(false)));
    assert!(matches!(kind("nothing"), ValueType::NullValue(_)));
    assert!(matches!(kind("rotation_pool_symbols"), ValueType::ArrayValue(a) if a.values.len() == 2));
    assert!(matches!(kind("BTCUSDT"), ValueType::MapValue(m) if m.fields.len() == 2));

    // Another client's own mapping reads back what we wrote.
    let theirs: Value = FirestoreDb::deserialize_doc_to(&raw).unwrap();
    assert_eq!(theirs["BTCUSDT"], doc["BTCUSDT"]);
    assert_eq!(theirs["rotation_pool_symbols"], doc["rotation_pool_symbols"]);
    assert_eq!(theirs["pending_orders"], doc["pending_orders"]);
}

#[tokio::test]
async fn a_reference_written_document_loads_unchanged() {
    let cfg = config("reference");
    let reference = reference_state();
    write_foreign(&cfg.state, &reference).await;

    let store = FirestoreStore::new(cfg);
    let loaded = store.load().await.unwrap().expect("reference document");
    assert_eq!(loaded, reference);
    assert_eq!(loaded["daily_equity_base"].to_string(), "0.0", "a Python float stays a float");

    // And it can be saved back over (compare-and-set against what we loaded).
    store.save(&loaded).await.unwrap();
}

#[tokio::test]
async fn a_concurrent_writer_is_detected_not_overwritten() {
    let cfg = config("cas");
    let first = FirestoreStore::new(cfg.clone());
    let second = FirestoreStore::new(cfg.clone());
    first.save(&json!({"v": 1})).await.unwrap();

    first.load().await.unwrap();
    second.load().await.unwrap();
    second.save(&json!({"v": "second"})).await.unwrap();
    let err = first.save(&json!({"v": "first"})).await.unwrap_err();
    assert!(matches!(err, PortError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains(&cfg.state.to_string()), "{err}");
    assert_eq!(FirestoreStore::new(cfg.clone()).load().await.unwrap(), Some(json!({"v": "second"})));

    // Reloading gives a fresh token.
    first.load().await.unwrap();
    first.save(&json!({"v": "first, after reload"})).await.unwrap();
}

#[tokio::test]
async fn two_first_saves_race_for_creation() {
    let cfg = config("create_race");
    let a = FirestoreStore::new(cfg.clone());
    let b = FirestoreStore::new(cfg.clone());
    assert_eq!(a.load().await.unwrap(), None);
    assert_eq!(b.load().await.unwrap(), None);
    a.save(&json!({"by": "a"})).await.unwrap();
    assert!(matches!(b.save(&json!({"by": "b"})).await, Err(PortError::Conflict(_))));
    // A store that never loaded may only create, never overwrite.
    let c = FirestoreStore::new(cfg);
    assert!(matches!(c.save(&json!({"by": "c"})).await, Err(PortError::Conflict(_))));
}

#[tokio::test]
async fn the_lease_goes_to_one_run_at_a_time() {
    let cfg = config("lease");
    let a = FirestoreStore::new(cfg.clone());
    let b = FirestoreStore::new(cfg.clone());
    let now = Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap();
    let ttl = Duration::from_secs(900);

    assert_eq!(a.acquire_lease("run-a", now, ttl).await.unwrap(), LeaseOutcome::Acquired);
    let held = b.acquire_lease("run-b", now + chrono::Duration::seconds(30), ttl).await.unwrap();
    assert_eq!(held, LeaseOutcome::Held { owner: "run-a".into(), expires_at: now + chrono::Duration::seconds(900) });
    // The holder retrying its own acquire keeps it.
    assert_eq!(a.acquire_lease("run-a", now, ttl).await.unwrap(), LeaseOutcome::Acquired);
}

#[tokio::test]
async fn concurrent_acquirers_get_exactly_one_lease() {
    let cfg = config("lease_race");
    let now = Utc::now();
    let stores: Vec<FirestoreStore> = (0..4).map(|_| FirestoreStore::new(cfg.clone())).collect();
    let attempts = stores
        .iter()
        .enumerate()
        .map(|(i, s)| async move { s.acquire_lease(&format!("run-{i}"), now, Duration::from_secs(60)).await });
    let outcomes = futures_join_all(attempts).await;
    let acquired = outcomes.iter().filter(|o| matches!(o, Ok(LeaseOutcome::Acquired))).count();
    assert_eq!(acquired, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    let cfg = config("lease_expired");
    let a = FirestoreStore::new(cfg.clone());
    let b = FirestoreStore::new(cfg.clone());
    let t0 = Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap();
    assert_eq!(a.acquire_lease("crashed-run", t0, Duration::from_secs(60)).await.unwrap(), LeaseOutcome::Acquired);
    let later = t0 + chrono::Duration::seconds(61);
    assert_eq!(b.acquire_lease("next-run", later, Duration::from_secs(60)).await.unwrap(), LeaseOutcome::Acquired);
    // The crashed run waking up cannot take it back, nor release it.
    a.release_lease("crashed-run").await.unwrap();
    let held = a.acquire_lease("crashed-run", later, Duration::from_secs(60)).await.unwrap();
    assert!(matches!(held, LeaseOutcome::Held { ref owner, .. } if owner == "next-run"), "{held:?}");
}

#[tokio::test]
async fn only_the_owner_releases_the_lease() {
    let cfg = config("lease_release");
    let a = FirestoreStore::new(cfg.clone());
    let b = FirestoreStore::new(cfg.clone());
    let now = Utc::now();
    let ttl = Duration::from_secs(600);
    assert_eq!(a.acquire_lease("run-a", now, ttl).await.unwrap(), LeaseOutcome::Acquired);
    b.release_lease("run-b").await.unwrap();
    assert!(matches!(b.acquire_lease("run-b", now, ttl).await.unwrap(), LeaseOutcome::Held { .. }));
    a.release_lease("run-a").await.unwrap();
    assert_eq!(b.acquire_lease("run-b", now, ttl).await.unwrap(), LeaseOutcome::Acquired);
    // Releasing a lease that is gone is fine.
    b.release_lease("run-b").await.unwrap();
    b.release_lease("run-b").await.unwrap();
}

#[tokio::test]
async fn heartbeats_are_per_service() {
    let store = FirestoreStore::new(config("heartbeat"));
    assert_eq!(store.read_heartbeat("cycle").await.unwrap(), None);
    let record = json!({"status": "ok", "at": "2026-03-15T09:00:05Z", "run_id": "r1", "last_error": null});
    store.write_heartbeat("cycle", &record).await.unwrap();
    let second = json!({"status": "error", "at": "2026-03-15T10:00:05Z", "run_id": "r2", "last_error": "boom"});
    store.write_heartbeat("cycle", &second).await.unwrap();
    store.write_heartbeat("dispatch", &record).await.unwrap();
    assert_eq!(store.read_heartbeat("cycle").await.unwrap(), Some(second));
    assert_eq!(store.read_heartbeat("dispatch").await.unwrap(), Some(record));
    assert!(matches!(store.write_heartbeat("a/b", &json!({})).await, Err(PortError::Definitive(_))));
}

#[tokio::test]
async fn the_upstream_document_is_found_or_missing() {
    let cfg = config("upstream");
    let upstream = FirestoreUpstream::new(cfg.clone());
    assert_eq!(upstream.label(), format!("firestore:{}", cfg.upstream));
    assert_eq!(upstream.fetch().await, FetchOutcome::Missing);

    let pool_path = common::reference_fixtures().join("pool_input_snapshot.json");
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(pool_path).unwrap()).unwrap();
    let payload = if payload.is_object() { payload } else { json!({"payload": payload}) };
    write_foreign(&cfg.upstream, &payload).await;
    assert_eq!(upstream.fetch().await, FetchOutcome::Found(payload.clone()));
    // The store hands out the same source.
    assert_eq!(FirestoreStore::new(cfg).upstream().fetch().await, FetchOutcome::Found(payload));
}

/// A port nobody listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_emulator_that_is_down_fails_fast_and_retryable() {
    let mut cfg = config("down");
    cfg.emulator_host = Some(format!("127.0.0.1:{}", closed_port().await));
    cfg.timeout = Duration::from_secs(2);
    let store = FirestoreStore::new(cfg.clone());

    let started = Instant::now();
    let err = store.load().await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err:?}");
    assert!(err.to_string().contains("FIRESTORE_EMULATOR_HOST"), "{err}");
    let err = store.save(&json!({"v": 1})).await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err:?}");
    assert!(matches!(
        store.acquire_lease("r", Utc::now(), Duration::from_secs(60)).await,
        Err(PortError::Retryable(_))
    ));
    assert!(matches!(store.upstream().fetch().await, FetchOutcome::Failed(_)));
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_bounded_by_the_timeout() {
    // Accepts TCP connections (the kernel does) but never speaks HTTP/2.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = config("silent");
    cfg.emulator_host = Some(silent.local_addr().unwrap().to_string());
    cfg.timeout = Duration::from_secs(1);
    let store = FirestoreStore::new(cfg);

    let started = Instant::now();
    let err = store.load().await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err:?}");
    let err = store.save(&json!({"v": 1})).await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    drop(silent);
}

/// Forwards TCP to the emulator; while `hold` is set, answers are held
/// back (not lost), as on a network that stalls after the request went out.
async fn stalling_proxy(target: String, hold: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&target).await else { continue };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            });
            let hold = hold.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match server_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    while hold.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_save_whose_answer_was_lost_is_not_a_false_conflict() {
    let mut cfg = config("lost_answer");
    let hold = Arc::new(AtomicBool::new(false));
    cfg.emulator_host = Some(stalling_proxy(emulator_host(), hold.clone()).await);
    cfg.timeout = Duration::from_secs(2);
    let store = FirestoreStore::new(cfg.clone());
    store.load().await.unwrap();
    store.save(&json!({"v": 1})).await.unwrap();

    // The write reaches Firestore, its answer does not reach us in time.
    hold.store(true, Ordering::SeqCst);
    let err = store.save(&json!({"v": 2})).await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err:?}");
    hold.store(false, Ordering::SeqCst);
    let mut direct = cfg.clone();
    direct.emulator_host = Some(emulator_host());
    let observer = FirestoreStore::new(direct);
    assert_eq!(observer.load().await.unwrap(), Some(json!({"v": 2})), "the stalled write was applied");

    // The shell retries the same save: it landed the first time, so this is not a conflict.
    store.save(&json!({"v": 2})).await.unwrap();
    store.save(&json!({"v": 3})).await.unwrap();
    assert_eq!(observer.load().await.unwrap(), Some(json!({"v": 3})));
}

/// `futures::join_all` without the dependency: the attempts run concurrently
/// on this task.
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in pinned.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    results.into_iter().map(|r| r.expect("completed")).collect()
}

#[tokio::test]
async fn only_the_holder_renews_the_lease_even_after_it_ran_out() {
    let cfg = config("lease_renew");
    let a = FirestoreStore::new(cfg.clone());
    let b = FirestoreStore::new(cfg.clone());
    let t0 = Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap();
    let ttl = Duration::from_secs(60);
    assert!(!a.renew_lease("run-a", t0, ttl).await.unwrap(), "no lease: nothing to renew");
    assert_eq!(a.acquire_lease("run-a", t0, ttl).await.unwrap(), LeaseOutcome::Acquired);
    let t1 = t0 + chrono::Duration::seconds(90);
    assert!(a.renew_lease("run-a", t1, ttl).await.unwrap(), "ran out, but nobody took it over");
    let held = b.acquire_lease("run-b", t1 + chrono::Duration::seconds(30), ttl).await.unwrap();
    assert_eq!(held, LeaseOutcome::Held { owner: "run-a".into(), expires_at: t1 + chrono::Duration::seconds(60) });
    let t2 = t1 + chrono::Duration::seconds(61);
    assert_eq!(b.acquire_lease("run-b", t2, ttl).await.unwrap(), LeaseOutcome::Acquired);
    assert!(!a.renew_lease("run-a", t2, ttl).await.unwrap(), "taken over: lost for good");
    assert!(b.renew_lease("run-b", t2, ttl).await.unwrap());
}
