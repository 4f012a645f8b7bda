//! `tradecycle status` through the built binary, on state produced by
//! running the program: a live cycle against the fake Binance that leaves a
//! quarantined order (and its SEV-1 alert), `tradecycle pause`, the
//! exchange's quantities beside the state's, the exit codes, and one case
//! on the Firestore emulator (started by scripts/test.sh).

mod common;

use common::live::Live;
use common::{Run, tradecycle};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tradecycle_fakes::binance::{EarnProduct, Fault, FaultKind};

const ORDER: &str = "/api/v3/order";

fn status(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["status"];
    all.extend_from_slice(args);
    tradecycle(&all, env)
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The live setup's environment, with or without the Binance credentials.
fn live_env(live: &Live, credentials: bool) -> Vec<(String, String)> {
    live.env().into_iter().filter(|(k, _)| credentials || !k.starts_with("BINANCE_API")).collect()
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A live cycle leaves the XRP buy quarantined: Binance refuses to look it
/// up (as for a delisted symbol). Returns the setup and the client id.
fn quarantined_xrp_buy() -> (Live, String) {
    let live = Live::new("cycle_replay");
    let id = format!("tc-{}-tb-XRPUSDT", chrono::Utc::now().format("%y%m%d%H"));
    let mut state = live.state();
    state["pending_orders"] = json!({ &id: {"client_order_id": &id, "kind": "trend_buy", "symbol": "XRPUSDT",
        "side": "BUY", "quantity": "729.3", "price": "2.4", "run_id": "earlier",
        "created_at": chrono::Utc::now().to_rfc3339(), "status": "pending"} });
    std::fs::write(live.state_path(), state.to_string()).unwrap();
    let delisted =
        |path: &str| Fault::new("GET", path, FaultKind::error(400, -1121, "Invalid symbol.")).symbol("XRPUSDT");
    live.fake.inject(delisted(ORDER).times(100));
    live.fake.inject(delisted("/api/v3/allOrders").times(100));
    let run = live.run(&["--live", "--run-id", "quarantine"], &[]);
    assert_eq!(run.code, 5, "stderr: {}\nstdout: {}", run.stderr, run.stdout);
    assert_eq!(run.json()["reconciled"][0]["outcome"], "quarantined");
    live.fake.clear_faults();
    (live, id)
}

#[test]
fn json_after_a_live_cycle_that_quarantined_an_order() {
    let (live, id) = quarantined_xrp_buy();
    // What the exchange holds of XRP: spot free + locked + Simple Earn.
    live.fake.set_balance("XRP", Decimal::new(700, 0), Decimal::new(3, 1));
    live.fake.set_earn_product(EarnProduct::new("XRP", "XRP001"));
    live.fake.set_earn_position("XRP", "XRP001", Decimal::new(29, 0));
    let env = live_env(&live, true);
    let r = status(&["--json"], &pairs(&env));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        keys(&v),
        [
            "schema",
            "observed_at",
            "service",
            "store",
            "attention",
            "pause",
            "positions",
            "orders",
            "alerts",
            "pool",
            "circuit_breaker",
            "runs",
            "metrics_file"
        ]
    );
    assert_eq!(v["schema"], "tradecycle.status.v1");
    assert_eq!(v["service"], "tradecycle");
    assert_eq!(v["store"], format!("file:{}", live.state_path().display()));

    // The quarantined order, as `orders list --json` shows it.
    assert_eq!(v["orders"].as_array().unwrap().len(), 1);
    let order = &v["orders"][0];
    assert_eq!((order["client_order_id"].as_str(), order["status"].as_str()), (Some(id.as_str()), Some("quarantined")));
    assert_eq!((order["symbol"].as_str(), order["quantity"].as_str()), (Some("XRPUSDT"), Some("729.3")));

    // Its SEV-1 alert, first, with first/last seen and count; it blocks only
    // XRP, so new risk is not paused (what the next cycle would decide).
    let alert = &v["alerts"][0];
    assert_eq!(
        keys(alert),
        ["key", "severity", "source", "scope", "reason", "runbook", "first_seen", "last_seen", "count"]
    );
    assert_eq!(alert["key"], format!("order_quarantined:{id}"));
    assert_eq!(
        (alert["severity"].as_str(), alert["source"].as_str(), alert["count"].as_u64()),
        (Some("SEV-1"), Some("cycle"), Some(1))
    );
    assert_eq!(v["pause"], json!({"paused": false, "by": null, "reason": null, "since": null}));
    assert!(v["attention"].as_array().unwrap().contains(&json!("1 quarantined order(s)")), "{}", v["attention"]);

    // Positions: the state's side and the exchange's quantity.
    assert_eq!(v["positions"]["exchange"], "checked");
    let rows = v["positions"]["rows"].as_array().unwrap();
    assert_eq!(
        keys(&rows[0]),
        ["symbol", "asset", "sleeve", "state_holding", "state_quantity", "entry_price", "exchange_quantity", "parity"]
    );
    let xrp = rows.iter().find(|p| p["symbol"] == "XRPUSDT").expect("XRP row");
    assert_eq!((xrp["sleeve"].as_str(), xrp["exchange_quantity"].as_str()), (Some("pool"), Some("729.3")));
    assert_eq!(xrp["parity"], "in_flight", "its quarantined order is still in the ledger");
    let btc = rows.iter().find(|p| p["sleeve"] == "btc_core").expect("BTC core row");
    let spot = live.fake.balance("BTC");
    assert_eq!(btc["exchange_quantity"].as_str(), Some((spot.free + spot.locked).normalize().to_string().as_str()));
    assert_eq!(btc["state_quantity"], live.state()["BTCUSDT"]["holding_qty"]);

    // The pool and breaker the cycle recorded; the run it reported.
    assert_eq!(v["pool"]["source"], "fresh_upstream");
    assert_eq!(v["pool"]["age_hours"], 0);
    assert_eq!(v["circuit_breaker"], json!({"latched": false}));
    let last = &v["runs"]["history"][0];
    assert_eq!(
        (last["run_id"].as_str(), last["mode"].as_str(), last["status"].as_str()),
        (Some("quarantine"), Some("live"), Some("attention"))
    );
    assert_eq!(v["metrics_file"], json!({"path": null, "state": "not_configured", "age_seconds": null}));
}

#[test]
fn text_after_pause_names_the_reason_and_without_credentials_the_exchange_is_not_checked() {
    let (live, id) = quarantined_xrp_buy();
    let env = live_env(&live, false);
    let p = tradecycle(&["pause", "--reason", "exchange incident"], &pairs(&env));
    assert_eq!(p.code, 0, "{}", p.stderr);
    let metrics = live.artifacts().join("metrics.prom");
    std::fs::write(&metrics, "tradecycle_paused 1\n").unwrap();
    let mut env = pairs(&env);
    let metrics_path = metrics.display().to_string();
    env.push(("TRADECYCLE_METRICS_FILE", &metrics_path));
    let r = status(&[], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = &r.stdout;
    assert!(text.starts_with("tradecycle status — service tradecycle — store file:"), "{text}");
    assert!(text.contains("\nNEEDS A LOOK:\n  ! new risk is paused by operator: exchange incident\n"), "{text}");
    assert!(
        text.contains("\nPause: new risk PAUSED by operator, since ") && text.contains(": exchange incident (sells"),
        "{text}"
    );
    assert!(text.contains("\nPositions (exchange: not checked):\n"), "{text}");
    assert!(text.contains(&format!("\n  {id} XRPUSDT Buy qty 729.3 @ 2.4 quarantined written ")), "{text}");
    assert!(text.contains(&format!("\n  SEV-1 order_quarantined:{id} [cycle] ")), "{text}");
    assert!(text.contains(" quarantine live attention"), "{text}");
    assert!(text.contains(&format!("\nMetrics file: {metrics_path}, written ")), "{text}");
    // --json agrees, and a missing metrics file is "absent".
    std::fs::remove_file(&metrics).unwrap();
    let v = status(&["--json"], &env).json();
    assert_eq!(
        (v["pause"]["by"].as_str(), v["pause"]["reason"].as_str()),
        (Some("operator"), Some("exchange incident"))
    );
    assert_eq!(v["metrics_file"]["state"], "absent");
    // The kill switch: the operator's pause still comes first, as in the cycle.
    env.push(("TRADECYCLE_PAUSE", "1"));
    assert_eq!(status(&["--json"], &env).json()["pause"]["by"], "operator");
}

#[test]
fn exit_codes_config_errors_name_the_setting_and_an_unreadable_store_is_named() {
    let r = status(&[], &[]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "error: no state store configured: pass --store firestore or --store file:PATH (or set TRADECYCLE_STORE)\n"
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let store = format!("file:{}", state.display());
    let r = status(&["--store", &store], &[("BINANCE_API_KEY", "k")]);
    assert_eq!((r.code, r.stderr.as_str()), (2, "error: BINANCE_API_SECRET is not set\n"));
    let r = status(&["--store", &store], &[("TRADECYCLE_PAUSE", "maybe")]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: TRADECYCLE_PAUSE: "), "{}", r.stderr);
    // An empty store is a screen (nothing has run yet), not an error.
    let r = status(&["--store", &store, "--json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["attention"].as_array().unwrap().contains(&json!("no heartbeat record: no cycle has reported")));
    // A state document that cannot be read: exit 1, the store named.
    std::fs::write(&state, "{not json").unwrap();
    let r = status(&["--store", &store], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with(&format!("error: state store {store}: cannot read the state document: ")),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn on_the_firestore_emulator_after_a_cycle_and_a_pause() {
    let host = common::emulator_host();
    let live = Live::new("cycle_replay");
    let collection = common::unique("status");
    let env: Vec<(String, String)> = vec![
        ("TRADECYCLE_STORE".into(), "firestore".into()),
        ("FIRESTORE_EMULATOR_HOST".into(), host.clone()),
        ("GOOGLE_CLOUD_PROJECT".into(), common::project()),
        ("TRADECYCLE_FIRESTORE_TIMEOUT_SECS".into(), "2".into()),
        ("TRADECYCLE_STATE_COLLECTION".into(), collection.clone()),
        ("STRATEGY_ARTIFACT_FIRESTORE_COLLECTION".into(), format!("{collection}_pool")),
        ("TRADECYCLE_HEARTBEAT_COLLECTION".into(), format!("{collection}_health")),
    ];
    seed_pool(&host, &format!("{collection}_pool"), &live);
    let run = live.run(&["--run-id", "fs-dry"], &pairs(&env));
    assert!(matches!(run.code, 0 | 5), "{}\n{}", run.stderr, run.stdout);
    let p = tradecycle(&["pause", "--reason", "drill"], &pairs(&env));
    assert_eq!(p.code, 0, "{}", p.stderr);
    let r = status(&["--json"], &pairs(&env));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["store"], "firestore");
    assert_eq!((v["pause"]["by"].as_str(), v["pause"]["reason"].as_str()), (Some("operator"), Some("drill")));
    let last = &v["runs"]["history"][0];
    assert_eq!((last["run_id"].as_str(), last["mode"].as_str()), (Some("fs-dry"), Some("dry_run")));
    assert_eq!(v["positions"]["exchange"], "not checked");

    // A day later the watchdog finds the record stale: its alert book is
    // kept in the heartbeat collection and shows on the screen as its own.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let w = tradecycle(&["watchdog", "--now", &tomorrow], &pairs(&env));
    assert_eq!(w.code, 1, "{}", w.stdout);
    let v = status(&["--json"], &pairs(&env)).json();
    let alert = &v["alerts"][0];
    assert_eq!(
        (alert["key"].as_str(), alert["severity"].as_str(), alert["source"].as_str()),
        (Some("heartbeat_stale"), Some("SEV-1"), Some("watchdog"))
    );
    assert_eq!(alert["count"], 1);
}

/// Publishes the fixture's pool (dated today) as the upstream document.
fn seed_pool(host: &str, collection: &str, live: &Live) {
    use tradecycle::adapters::store::firestore::{DocRef, FirestoreConfig, FirestoreStore};
    use tradecycle::ports::StateStore;
    let mut config = FirestoreConfig::new(Some(common::project()));
    config.emulator_host = Some(host.to_string());
    config.state = DocRef::new(collection, "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let pool = common::live::fresh_pool(&live.fixtures, live.now);
    rt.block_on(FirestoreStore::new(config).save(&pool)).expect("seed write");
}
