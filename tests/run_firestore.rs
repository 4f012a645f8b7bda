//! `tradecycle run` with its state in Google's Firestore emulator (started
//! by scripts/test.sh; one test starts a private one it can kill): the
//! store being down at load and at save, two concurrent runs, and a
//! Telegram outage, each through the built binary.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::live::Live;
use common::*;
use serde_json::{Value, json};
use tradecycle::adapters::store::firestore::{DocRef, FirestoreConfig, FirestoreStore};
use tradecycle::ports::StateStore;
use tradecycle_fakes::binance::{Fault, FaultKind};
use tradecycle_fakes::telegram::FakeTelegram;

const TOKEN: &str = "123456:fake-telegram-token";
const CHAT: i64 = 777;

/// A fake Telegram kept alive on its own runtime while the binary runs.
struct Telegram {
    fake: FakeTelegram,
    _rt: tokio::runtime::Runtime,
}

impl Telegram {
    fn start() -> Telegram {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let fake = rt.block_on(FakeTelegram::start(TOKEN));
        fake.add_chat(CHAT);
        Telegram { fake, _rt: rt }
    }
}

/// Environment of a Firestore-backed run: its own collections on `host`.
fn firestore_env(host: &str, name: &str, telegram: &Telegram) -> Vec<(String, String)> {
    let collection = unique(name);
    vec![
        ("TRADECYCLE_STORE".into(), "firestore".into()),
        ("FIRESTORE_EMULATOR_HOST".into(), host.into()),
        ("GOOGLE_CLOUD_PROJECT".into(), "demo-tradecycle-test".into()),
        ("TRADECYCLE_FIRESTORE_TIMEOUT_SECS".into(), "2".into()),
        ("TRADECYCLE_STATE_COLLECTION".into(), collection.clone()),
        ("STRATEGY_ARTIFACT_FIRESTORE_COLLECTION".into(), format!("{collection}_pool")),
        ("TRADECYCLE_HEARTBEAT_COLLECTION".into(), format!("{collection}_health")),
        ("TG_TOKEN".into(), TOKEN.into()),
        ("GLOBAL_TELEGRAM_CHAT_ID".into(), CHAT.to_string()),
        ("TELEGRAM_API_URL".into(), telegram.fake.url()),
    ]
}

fn get<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
    &env.iter().find(|(k, _)| k == name).unwrap().1
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Publishes the fixture's pool (dated today) as the upstream document and
/// writes `state` as the state document, natively, through our own store
/// (a store that never loaded may create a document).
fn seed_firestore(host: &str, env: &[(String, String)], live: &Live, state: &Value) {
    let write = |collection: &str, document: &str, doc: Value| {
        let mut config = FirestoreConfig::new(Some("demo-tradecycle-test".into()));
        config.emulator_host = Some(host.to_string());
        config.state = DocRef::new(collection, document);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(FirestoreStore::new(config).save(&doc)).expect("seed write");
    };
    let pool = common::live::fresh_pool(&live.fixtures, live.now);
    write(get(env, "STRATEGY_ARTIFACT_FIRESTORE_COLLECTION"), "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL", pool);
    write(get(env, "TRADECYCLE_STATE_COLLECTION"), "MULTI_ASSET_STATE", state.clone());
}

#[test]
fn a_firestore_backed_live_cycle_trades_and_saves() {
    let host = emulator_host();
    let telegram = Telegram::start();
    let live = Live::new("cycle_replay");
    let env = firestore_env(&host, "ok", &telegram);
    seed_firestore(&host, &env, &live, &live.fixtures.initial_state);
    let run = live.run(&["--live", "--run-id", "fs-1"], &pairs(&env));
    assert_eq!(run.code, 0, "{}\n{}", run.stderr, run.stdout);
    let r = run.json();
    assert_eq!(r["pool"]["source"], "fresh_upstream");
    assert!(r["pool"]["label"].as_str().unwrap().starts_with("firestore:"));
    assert!(r["state_writes"].as_array().unwrap().iter().all(|w| w["status"] == "written"));
    assert!(!live.fake.orders().is_empty());
    // Every event went out: a burst is coalesced into fewer messages.
    assert!(r["notifications"].as_array().unwrap().iter().all(|n| n["status"] == "sent"), "{}", r["notifications"]);
    assert!(!telegram.fake.messages().is_empty());
    // A second run finds the lease free again and its state as saved.
    let again = live.run(&["--live", "--run-id", "fs-2"], &pairs(&env));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.json()["intents"].as_array().unwrap().iter().all(|i| i.get("client_order_id").is_none()));
}

#[test]
fn pause_and_resume_work_on_firestore_and_a_paused_live_cycle_buys_nothing() {
    let host = emulator_host();
    let telegram = Telegram::start();
    let live = Live::new("cycle_replay");
    let env = firestore_env(&host, "pause", &telegram);
    seed_firestore(&host, &env, &live, &live.fixtures.initial_state);
    let paused = tradecycle(&["pause", "--reason", "exchange incident"], &pairs(&env));
    assert_eq!(paused.code, 0, "{}", paused.stderr);
    let run = live.run(&["--live", "--run-id", "fs-paused"], &pairs(&env));
    assert!(matches!(run.code, 0 | 5), "{}\n{}", run.stderr, run.stdout);
    let r = run.json();
    assert_eq!(r["paused"]["by"], "operator");
    assert_eq!(r["paused"]["reason"], "exchange incident");
    assert!(live.fake.orders().is_empty(), "cycle_replay only buys: a paused cycle sends no order");
    assert_eq!(r["state_after"]["paused"]["reason"], "exchange incident", "the cycle's save keeps the pause");

    let resumed = tradecycle(&["resume"], &pairs(&env));
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout.trim(), "resumed: lifted the pause by operator: exchange incident");
    let run = live.run(&["--live", "--run-id", "fs-resumed"], &pairs(&env));
    assert_eq!(run.code, 0, "{}\n{}", run.stderr, run.stdout);
    assert!(run.json().get("paused").is_none());
    assert!(!live.fake.orders().is_empty(), "buys again after resume");
}

#[test]
fn firestore_down_at_load_aborts_before_trading_with_exit_3_and_an_alert() {
    let telegram = Telegram::start();
    let live = Live::new("cycle_replay");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let env = firestore_env(&closed, "down", &telegram);
    let started = Instant::now();
    let run = live.run(&["--live", "--run-id", "fs-down"], &pairs(&env));
    assert_eq!(run.code, 3, "{}\n{}", run.stderr, run.stdout);
    assert!(started.elapsed() < Duration::from_secs(20), "fails fast");
    let r = run.json();
    assert_eq!(r["status"], "aborted");
    assert_eq!(r["errors"][0]["stage"], "state_load");
    assert!(live.fake.order_attempts().is_empty(), "nothing traded");
    assert_eq!(events(&r), ["state_load_failed"]);
    let sent = telegram.fake.messages();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text.contains("nothing was traded"), "{}", sent[0].text);
}

#[test]
fn firestore_down_at_save_retries_writes_a_recovery_file_and_sends_no_order() {
    let telegram = Telegram::start();
    let live = Live::new("cycle_replay");
    // A private emulator this test may kill.
    let state_dir = tempfile::tempdir().unwrap();
    let start = Command::new("scripts/firestore-emulator.sh")
        .arg("start")
        .current_dir(root())
        .env("FIRESTORE_EMULATOR_STATE_DIR", state_dir.path())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(start.status.success(), "private emulator did not start");
    let host =
        String::from_utf8(start.stdout).unwrap().trim().trim_start_matches("FIRESTORE_EMULATOR_HOST=").to_string();
    let stop = || {
        Command::new("scripts/firestore-emulator.sh")
            .arg("stop")
            .current_dir(root())
            .env("FIRESTORE_EMULATOR_STATE_DIR", state_dir.path())
            .stderr(Stdio::null())
            .status()
            .unwrap()
    };
    let env = firestore_env(&host, "save", &telegram);
    // A pending order makes the run look it up first; the exchange answers
    // slowly, and meanwhile the store goes away.
    let mut state = live.fixtures.initial_state.clone();
    state["pending_orders"] = json!({"tc-26010100-tb-XRPUSDT": {
        "client_order_id": "tc-26010100-tb-XRPUSDT", "kind": "trend_buy", "symbol": "XRPUSDT", "side": "BUY",
        "quantity": "10", "price": "2.4", "run_id": "old", "created_at": "2026-01-01T00:00:00Z", "status": "pending"}});
    seed_firestore(&host, &env, &live, &state);
    live.fake.inject(Fault::new("GET", "/api/v3/order", FaultKind::Delay(Duration::from_secs(6))));
    let mut env_with_patience = pairs(&env);
    env_with_patience.push(("BINANCE_TIMEOUT_SECS", "30"));
    let mut child = live.spawn(&["--live", "--run-id", "fs-save"], &env_with_patience);
    std::thread::sleep(Duration::from_secs(3));
    assert!(stop().success());
    let status = child.wait().unwrap();
    let report = common::live::read_json(&live.artifacts().join("report-fs-save.json"));
    assert_eq!(status.code(), Some(1), "{report}");
    assert_eq!(report["status"], "error");
    assert!(report["errors"].as_array().unwrap().iter().any(|e| e["stage"] == "state_save"));
    let saves = report["state_writes"].as_array().unwrap();
    assert!(saves.iter().all(|w| w["status"] == "failed"), "{saves:?}");
    assert!(live.fake.order_attempts().is_empty(), "no write-ahead, no order");
    let recovery = live.artifacts().join("state-recovery-fs-save.json");
    assert_eq!(report["recovery_file"], recovery.display().to_string());
    let recovered = common::live::read_json(&recovery);
    assert_eq!(recovered["pending_orders"], json!({}), "the stale entry was reconciled (dropped) in memory");
    assert_eq!(recovered["trend_pool_source"], "fresh_upstream");
    assert!(events(&report).contains(&"state_save_failed".to_string()));
    assert!(telegram.fake.messages().iter().any(|m| m.text.contains(&recovery.display().to_string())));
}

#[test]
fn two_concurrent_runs_one_gets_the_lease_the_other_exits_4() {
    let host = emulator_host();
    let telegram = Telegram::start();
    let live = Live::new("cycle_replay");
    let env = firestore_env(&host, "lease", &telegram);
    seed_firestore(&host, &env, &live, &live.fixtures.initial_state);
    // Slow exchange: the first run holds the lease for a while.
    live.fake.set_latency(Duration::from_millis(300));
    let mut first = live.spawn(&["--live", "--run-id", "first"], &pairs(&env));
    std::thread::sleep(Duration::from_millis(1500));
    let second = live.run(&["--live", "--run-id", "second"], &pairs(&env));
    assert_eq!(second.code, 4, "{}\n{}", second.stderr, second.stdout);
    let r = second.json();
    assert!(r["errors"][0]["message"].as_str().unwrap().starts_with("another cycle (first/"), "{}", r["errors"]);
    assert!(r["state_writes"].as_array().unwrap().is_empty() && r["intents"].as_array().unwrap().is_empty());
    assert!(r["notifications"].as_array().unwrap().is_empty(), "the running cycle reports for itself");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    let ids: Vec<String> = live.fake.orders().iter().map(|o| o.client_order_id.clone()).collect();
    let mut unique_ids = ids.clone();
    unique_ids.sort();
    unique_ids.dedup();
    assert_eq!(ids.len(), unique_ids.len(), "no order twice: {ids:?}");
}

#[test]
fn a_telegram_outage_leaves_the_cycle_ok_with_a_warning() {
    let host = emulator_host();
    let telegram = Telegram::start();
    telegram.fake.set_outage(true);
    let live = Live::new("cycle_replay");
    let env = firestore_env(&host, "tg", &telegram);
    seed_firestore(&host, &env, &live, &live.fixtures.initial_state);
    let run = live.run(&["--live", "--run-id", "tg-out"], &pairs(&env));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["status"], "ok");
    assert!(strs(&r["warnings"]).iter().any(|w| w.starts_with("notification ") && w.contains("not delivered")));
    assert!(r["notifications"].as_array().unwrap().iter().all(|n| n["status"] == "failed"));
    assert!(!live.fake.orders().is_empty(), "trading was not affected");
}

#[test]
fn two_live_runs_at_once_one_trades_the_other_exits_4_firestore() {
    let host = emulator_host();
    let telegram = Telegram::start();
    for gap_ms in [0, 100, 300] {
        let live = Live::new("cycle_replay");
        let env = firestore_env(&host, &format!("race{gap_ms}"), &telegram);
        seed_firestore(&host, &env, &live, &live.fixtures.initial_state);
        live.fake.set_latency(Duration::from_millis(150));
        let runs = live.race(Duration::from_millis(gap_ms), &pairs(&env));
        live.assert_one_traded(&runs, &format!("{gap_ms} ms apart"));
    }
}

/// The state document as the emulator holds it.
fn firestore_state(host: &str, env: &[(String, String)]) -> Value {
    let mut config = FirestoreConfig::new(Some("demo-tradecycle-test".into()));
    config.emulator_host = Some(host.to_string());
    config.state = DocRef::new(get(env, "TRADECYCLE_STATE_COLLECTION"), "MULTI_ASSET_STATE");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(FirestoreStore::new(config).load()).expect("state read").expect("a state document")
}

#[test]
fn orders_list_and_resolve_work_on_the_firestore_state() {
    let host = emulator_host();
    let telegram = Telegram::start();
    let live = Live::new("cycle_replay");
    let env = firestore_env(&host, "orders", &telegram);
    let id = format!("tc-{}-tb-XRPUSDT", chrono::Utc::now().format("%y%m%d%H"));
    let mut state = live.fixtures.initial_state.clone();
    state["pending_orders"] = json!({ &id: {"client_order_id": id, "kind": "trend_buy", "symbol": "XRPUSDT",
        "side": "BUY", "quantity": "729.3", "price": "2.4", "run_id": "earlier",
        "created_at": chrono::Utc::now().to_rfc3339(), "status": "pending"} });
    seed_firestore(&host, &env, &live, &state);
    // Binance refuses to look the order up (as for a delisted symbol): the cycle quarantines it.
    let delisted =
        |path: &str| Fault::new("GET", path, FaultKind::error(400, -1121, "Invalid symbol.")).symbol("XRPUSDT");
    live.fake.inject(delisted("/api/v3/order").times(100));
    live.fake.inject(delisted("/api/v3/allOrders").times(100));
    let run = live.run(&["--live", "--run-id", "fs-quarantine"], &pairs(&env));
    assert_eq!(run.code, 5, "{}\n{}", run.stderr, run.stdout);

    let list = tradecycle(&["orders", "list", "--json"], &pairs(&env));
    assert_eq!(list.code, 0, "{}", list.stderr);
    let rows = list.json();
    assert_eq!(rows[0]["client_order_id"], id.as_str(), "{rows}");
    assert_eq!(rows[0]["status"], "quarantined");

    let done = tradecycle(&["orders", "resolve", &id, "--filled", "729.3@2.5", "--by", "bob"], &pairs(&env));
    assert_eq!(done.code, 0, "{}", done.stderr);
    let after = firestore_state(&host, &env);
    assert_eq!(after["pending_orders"], json!({}));
    assert_eq!(after["XRPUSDT"]["entry_price"], 2.5);
    assert_eq!(after["operator_actions"][0]["by"], "bob");

    // The next cycle finds nothing to settle and sends no XRP order.
    let next = live.run(&["--live", "--run-id", "fs-after"], &pairs(&env));
    assert_eq!(next.code, 0, "{}\n{}", next.stderr, next.stdout);
    assert_eq!(next.json()["reconciled"], json!([]));
    assert_eq!(common::live::fills_for(&live, "XRPUSDT"), 0);
    assert_eq!(firestore_state(&host, &env)["operator_actions"].as_array().unwrap().len(), 1);
}

/// Position parity on Firestore: a ghost balance raises the alert, `positions
/// adopt` takes it into the Firestore state, the next cycle clears it.
#[test]
fn positions_adopt_works_on_the_firestore_state() {
    let host = emulator_host();
    let telegram = Telegram::start();
    let live = Live::new("cycle_replay");
    live.fake.set_balance("ADA", rust_decimal::Decimal::from(50), rust_decimal::Decimal::ZERO);
    let env = firestore_env(&host, "positions", &telegram);
    seed_firestore(&host, &env, &live, &live.fixtures.initial_state);
    let run = live.run(&["--live", "--run-id", "fs-ghost"], &pairs(&env));
    assert_eq!(run.code, 0, "{}\n{}", run.stderr, run.stdout);
    assert_eq!(run.json()["alerts"]["raised"][0]["key"], "position_mismatch:ADAUSDT");

    // The command reads Binance as `run` does, and the Firestore state.
    let mut both = live.env();
    both.extend(env.iter().cloned());
    let adopt = tradecycle(&["positions", "adopt", "ADAUSDT", "--by", "carol"], &pairs(&both));
    assert_eq!(adopt.code, 0, "{}", adopt.stderr);
    let after = firestore_state(&host, &env);
    assert_eq!(after["ADAUSDT"]["is_holding"], true);
    assert_eq!(after["ADAUSDT"]["entry_price"], 0.9);
    assert_eq!(after["operator_actions"][0]["action"], "position_adopted");
    assert_eq!(after["operator_actions"][0]["by"], "carol");

    let next = live.run(&["--live", "--run-id", "fs-adopted"], &pairs(&env));
    assert_eq!(next.code, 0, "{}\n{}", next.stderr, next.stdout);
    assert_eq!(next.json()["alerts"]["cleared"][0]["key"], "position_mismatch:ADAUSDT");
}

/// Binance refusing the key keeps a durable SEV-1 alert in the Firestore
/// state: raised once by a cycle that aborted at its market read (an edit
/// of `alerts` alone, under the lease), kept silently by a run refused at
/// the preflight (before any cycle loaded the state), cleared by the next
/// good run.
#[test]
fn a_refused_key_is_a_durable_alert_in_the_firestore_state() {
    let host = emulator_host();
    let telegram = Telegram::start();
    let live = Live::new("cycle_replay");
    let env = firestore_env(&host, "auth", &telegram);
    seed_firestore(&host, &env, &live, &live.fixtures.initial_state);
    assert_eq!(live.run(&["--live", "--run-id", "auth-ok"], &pairs(&env)).code, 0);
    let before = firestore_state(&host, &env);
    let sent_before = telegram.fake.messages().len();

    // The account read of the market snapshot is refused with -2015.
    let refused = FaultKind::error(401, -2015, "Invalid API-key, IP, or permissions for action.");
    live.fake.inject(Fault::new("GET", "/api/v3/account", refused));
    let run = live.run(&["--live", "--run-id", "auth-market"], &pairs(&env));
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["errors"][0]["stage"], "exchange");
    assert_eq!(r["alerts"]["raised"][0]["key"], "binance_auth");
    let events: Vec<&str> =
        r["notifications"].as_array().unwrap().iter().map(|n| n["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["alert_raised"], "the alert replaces the per-run api_error message");
    let state = firestore_state(&host, &env);
    assert_eq!(state["alerts"]["binance_auth"]["state"], "raised");
    assert_eq!(state["positions"], before["positions"]);
    assert_eq!(state["daily_equity_base"], before["daily_equity_base"]);
    let sent: Vec<String> = telegram.fake.messages()[sent_before..].iter().map(|m| m.text.clone()).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("🚨 [Alert Raised] SEV-1 binance_auth"), "{}", sent[0]);

    // The key rotated on Binance: the preflight refuses it; nothing is said.
    let original_key = live.fake.api_key();
    live.fake.set_api_key("rotated-key");
    let mut old_key = pairs(&env);
    old_key.push(("BINANCE_API_KEY", original_key.as_str()));
    let run = live.run(&["--live", "--run-id", "auth-preflight"], &old_key);
    assert_eq!(run.code, 3);
    let r = run.json();
    assert_eq!(r["errors"][0]["stage"], "preflight");
    assert_eq!(r["alerts"]["open"][0]["key"], "binance_auth");
    assert_eq!(r["notifications"], json!([]));
    assert_eq!(firestore_state(&host, &env)["alerts"]["binance_auth"]["count"], 2);
    assert_eq!(telegram.fake.messages().len(), sent_before + 1);

    // Fixed: the next run clears it.
    live.fake.set_api_key(&original_key);
    let run = live.run(&["--live", "--run-id", "auth-fixed"], &pairs(&env));
    assert_ne!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.json()["alerts"]["cleared"][0]["key"], "binance_auth");
    assert_eq!(firestore_state(&host, &env)["alerts"]["binance_auth"]["state"], "cleared");
}
