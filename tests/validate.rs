//! `tradecycle validate` end to end: the built binary against real local
//! servers only — the fake Binance, the fake Telegram Bot API and Google's
//! Firestore emulator (FIRESTORE_EMULATOR_HOST, started by scripts/test.sh).
//! Each test has its own Firestore collections, so they run in parallel on
//! one emulator. Nothing here reaches the internet or a metadata server: the
//! binary runs with a cleared environment, every URL points at 127.0.0.1,
//! and with the emulator set no Google credentials are looked up.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use firestore::{FirestoreDb, FirestoreDbOptions};
use serde_json::{Value, json};
use tradecycle_fakes::binance::{ApiRestrictions, FakeBinance, FakeBinanceConfig};
use tradecycle_fakes::telegram::FakeTelegram;

use common::{Run, emulator_host, fixture_set, project, tradecycle, unique};

const TOKEN: &str = "123456789:AAF7-g0gYncWnm5IyfZlpPRqRRv6kNAGlao";
const CHAT: i64 = -1001234567890;
const OUR_POOL: &str = "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL";
const PUBLISHER_POOL: &str = "CRYPTO_LEADER_ROTATION_LIVE_POOL";

/// A TCP port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Writes a document the way another program (the publisher) would.
async fn write_doc(collection: &str, document: &str, value: &Value) {
    emulator_host();
    let db = FirestoreDb::with_options(FirestoreDbOptions::new(project())).await.expect("emulator client");
    let _: Value = db
        .fluent()
        .update()
        .in_col(collection)
        .document_id(document)
        .object(value)
        .execute()
        .await
        .expect("write to the emulator");
}

/// The fixture's upstream pool dated today.
fn fresh_pool() -> Value {
    let fixtures = fixture_set("cycle_replay");
    common::live::fresh_pool(&fixtures, Utc::now())
}

/// Fakes, Firestore collections and the environment of one test. By
/// default everything is in order: `validate` exits 0.
struct Setup {
    binance: FakeBinance,
    telegram: FakeTelegram,
    state_collection: String,
    pool_collection: String,
    env: Vec<(String, String)>,
}

impl Setup {
    /// A state document and a fresh pool document in place.
    async fn new(name: &str) -> Setup {
        let setup = Setup::bare(name, FakeBinanceConfig::default()).await;
        write_doc(&setup.state_collection, "MULTI_ASSET_STATE", &json!({"daily_equity_base": 1000.5})).await;
        write_doc(&setup.pool_collection, OUR_POOL, &fresh_pool()).await;
        setup
    }

    /// Nothing in Firestore yet.
    async fn bare(name: &str, binance: FakeBinanceConfig) -> Setup {
        let binance = FakeBinance::start(binance);
        let telegram = FakeTelegram::start(TOKEN).await;
        telegram.add_chat(CHAT);
        let state_collection = unique(name);
        let pool_collection = format!("{state_collection}_pool");
        let env = [
            ("TRADECYCLE_STORE", "firestore".to_string()),
            ("FIRESTORE_EMULATOR_HOST", emulator_host()),
            ("GOOGLE_CLOUD_PROJECT", project()),
            ("TRADECYCLE_FIRESTORE_TIMEOUT_SECS", "5".to_string()),
            ("TRADECYCLE_STATE_COLLECTION", state_collection.clone()),
            ("STRATEGY_ARTIFACT_FIRESTORE_COLLECTION", pool_collection.clone()),
            ("BINANCE_BASE_URL", binance.url()),
            ("BINANCE_API_KEY", binance.api_key()),
            ("BINANCE_API_SECRET", binance.api_secret()),
            ("TELEGRAM_API_URL", telegram.url()),
            ("TG_TOKEN", TOKEN.to_string()),
            ("GLOBAL_TELEGRAM_CHAT_ID", CHAT.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Setup { binance, telegram, state_collection, pool_collection, env }
    }

    fn set(&mut self, key: &str, value: &str) {
        self.unset(key);
        self.env.push((key.to_string(), value.to_string()));
    }

    fn unset(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    fn restrictions(&self, f: impl FnOnce(&mut ApiRestrictions)) {
        let mut r = ApiRestrictions::default();
        f(&mut r);
        self.binance.set_api_restrictions(r);
    }

    /// `tradecycle validate <args>`, off the runtime thread so the fake
    /// Telegram (served by this test's runtime) can answer meanwhile.
    async fn validate(&self, args: &[&str]) -> Run {
        let args: Vec<String> = std::iter::once("validate").chain(args.iter().copied()).map(String::from).collect();
        let env = self.env.clone();
        let run = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            tradecycle(&args, &env)
        })
        .await
        .expect("the binary ran");
        self.assert_no_secrets(&run);
        run
    }

    /// `validate --json <args>`: (exit code, name → status, the JSON).
    async fn json(&self, args: &[&str]) -> (i32, Vec<(String, String)>, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.validate(&all).await;
        let v = run.json();
        assert_eq!(v["schema"], "tradecycle.validate.v1");
        assert_eq!(v["exit_code"], run.code, "{}", run.stdout);
        let statuses = v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string()))
            .collect();
        (run.code, statuses, v)
    }

    /// No credential in the environment appears in the output, whole or
    /// (the bot token's secret half) in part.
    fn assert_no_secrets(&self, run: &Run) {
        let mut secrets = vec![self.binance.api_key(), self.binance.api_secret(), TOKEN.to_string()];
        secrets.push(TOKEN.split_once(':').unwrap().1.to_string());
        for (k, v) in &self.env {
            if ["BINANCE_API_KEY", "BINANCE_API_SECRET", "TG_TOKEN"].contains(&k.as_str()) {
                secrets.push(v.clone());
                if let Some((_, tail)) = v.split_once(':') {
                    secrets.push(tail.to_string());
                }
            }
        }
        for s in secrets {
            assert!(!run.stdout.contains(&s), "stdout shows a secret ({s}):\n{}", run.stdout);
            assert!(!run.stderr.contains(&s), "stderr shows a secret ({s}):\n{}", run.stderr);
        }
    }
}

/// The line of one check in the text output.
fn line<'a>(run: &'a Run, name: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{}", run.stdout))
}

fn status_of<'a>(statuses: &'a [(String, String)], name: &str) -> &'a str {
    statuses.iter().find(|(n, _)| n == name).map(|(_, s)| s.as_str()).unwrap_or_else(|| panic!("no check {name}"))
}

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name}"))
}

const ALL: [&str; 9] = [
    "config",
    "google_credentials",
    "state",
    "upstream_pool",
    "binance_time",
    "binance_key",
    "binance_permissions",
    "telegram_bot",
    "telegram_chat",
];

#[tokio::test]
async fn all_good_exits_0_with_one_ok_line_per_check_and_sends_nothing() {
    let s = Setup::new("all_good").await;
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), ALL.len() + 1, "{}", run.stdout);
    for name in ALL {
        assert!(line(&run, name).starts_with("✓ "), "{}", run.stdout);
    }
    assert!(line(&run, "state").contains(&format!("{}/MULTI_ASSET_STATE readable", s.state_collection)));
    assert!(line(&run, "upstream_pool").contains("5 symbols as of"), "{}", run.stdout);
    assert!(line(&run, "telegram_bot").contains("@tradecycle_fake_bot"), "{}", run.stdout);
    assert!(line(&run, "binance_permissions").contains("reading yes, spot trading yes, withdrawals no"));
    assert!(lines.last().unwrap().starts_with("ready for dry-run"), "{}", run.stdout);
    assert!(s.telegram.messages().is_empty(), "validate sends nothing without --send-test");
    assert!(s.binance.orders().is_empty() && s.binance.order_attempts().is_empty());
    assert!(s.binance.earn_calls().is_empty());
}

#[tokio::test]
async fn json_output_parses_with_the_expected_statuses() {
    let s = Setup::new("json").await;
    let (code, statuses, v) = s.json(&[]).await;
    assert_eq!(code, 0);
    assert_eq!(statuses.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ALL);
    assert!(statuses.iter().all(|(_, s)| s == "ok"), "{statuses:?}");
    assert_eq!(v["mode"], "dry-run");
    assert_eq!(v["ok"], true);
    for c in v["checks"].as_array().unwrap() {
        assert!(c["detail"].as_str().is_some_and(|d| !d.is_empty()), "{c}");
        assert!(c["fix"].is_null(), "{c}");
    }

    // Live with the emulator: ready, with a warning that the state would live on an emulator.
    let (code, statuses, v) = s.json(&["--live"]).await;
    assert_eq!(code, 0);
    assert_eq!(v["mode"], "live");
    assert_eq!(status_of(&statuses, "google_credentials"), "warn");
    assert_eq!(status_of(&statuses, "binance_permissions"), "ok");
}

#[tokio::test]
async fn a_wrong_binance_key_or_secret_fails_and_names_both_variables() {
    let mut s = Setup::new("wrong_key").await;
    s.set("BINANCE_API_KEY", "wrong-key-value-123");
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let key = line(&run, "binance_key");
    assert!(key.starts_with("✗ "), "{key}");
    assert!(key.contains("fix: BINANCE_API_KEY / BINANCE_API_SECRET"), "{key}");
    assert!(line(&run, "binance_permissions").starts_with("- "), "{}", run.stdout);
    assert!(line(&run, "binance_time").starts_with("✓ "), "the public clock check still passes");

    let mut s = Setup::new("wrong_secret").await;
    s.set("BINANCE_API_SECRET", "wrong-secret-value-456");
    let (code, statuses, v) = s.json(&[]).await;
    assert_eq!(code, 1);
    assert_eq!(status_of(&statuses, "binance_key"), "fail");
    assert!(check(&v, "binance_key")["fix"].as_str().unwrap().contains("BINANCE_API_SECRET"));
}

#[tokio::test]
async fn a_key_that_can_withdraw_is_a_warning_for_dry_runs_and_a_failure_for_live() {
    let s = Setup::new("withdraw").await;
    s.restrictions(|r| r.enable_withdrawals = true);

    let (code, statuses, v) = s.json(&[]).await;
    assert_eq!(code, 0);
    assert_eq!(status_of(&statuses, "binance_permissions"), "warn");
    assert!(check(&v, "binance_permissions")["detail"].as_str().unwrap().contains("withdrawals yes"));

    let run = s.validate(&["--live"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let perms = line(&run, "binance_permissions");
    assert!(perms.starts_with("✗ ") && perms.contains("run --live refuses it"), "{perms}");
    assert!(perms.contains("disable Withdrawals") && perms.contains("--allow-withdrawal-key"), "{perms}");

    let (code, statuses, _) = s.json(&["--live", "--allow-withdrawal-key"]).await;
    assert_eq!(code, 0);
    assert_eq!(status_of(&statuses, "binance_permissions"), "warn");
}

#[tokio::test]
async fn a_key_without_spot_trading_fails_only_for_live() {
    let s = Setup::new("no_trading").await;
    s.restrictions(|r| r.enable_spot_and_margin_trading = false);

    let run = s.validate(&["--live"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let perms = line(&run, "binance_permissions");
    assert!(perms.starts_with("✗ ") && perms.contains("spot trading no"), "{perms}");
    assert!(perms.contains("enable Spot & Margin Trading"), "{perms}");

    let (code, statuses, _) = s.json(&[]).await;
    assert_eq!(code, 0, "read access suffices without --live");
    assert_eq!(status_of(&statuses, "binance_permissions"), "warn");

    // TRADECYCLE_LIVE=1 asks for live just like the flag.
    let mut s = s;
    s.set("TRADECYCLE_LIVE", "1");
    let (code, statuses, v) = s.json(&[]).await;
    assert_eq!((code, v["mode"].as_str()), (1, Some("live")));
    assert_eq!(status_of(&statuses, "binance_permissions"), "fail");
}

#[tokio::test]
async fn server_clock_skew_warns_above_1s_and_fails_beyond_the_recv_window() {
    let s = Setup::bare("skew", FakeBinanceConfig { time_skew_ms: 8000, ..Default::default() }).await;
    write_doc(&s.state_collection, "MULTI_ASSET_STATE", &json!({"x": 1})).await;
    write_doc(&s.pool_collection, OUR_POOL, &fresh_pool()).await;
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let time = line(&run, "binance_time");
    assert!(time.starts_with("✗ ") && time.contains("ahead of this machine's by"), "{time}");
    assert!(time.contains("beyond the 5000 ms recvWindow") && time.contains("fix: this machine's clock"), "{time}");
    // The signing offset still gets signed calls through.
    assert!(line(&run, "binance_key").starts_with("✓ "), "{}", run.stdout);

    s.binance.set_time_skew_ms(-2500);
    let (code, statuses, _) = s.json(&[]).await;
    assert_eq!(code, 0);
    assert_eq!(status_of(&statuses, "binance_time"), "warn");
}

#[tokio::test]
async fn binance_unreachable_fails_and_names_the_base_url() {
    let mut s = Setup::new("binance_down").await;
    s.set("BINANCE_BASE_URL", &format!("http://127.0.0.1:{}", closed_port()));
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(line(&run, "binance_time").contains("fix: BINANCE_BASE_URL"), "{}", run.stdout);
    assert!(line(&run, "binance_key").starts_with("- "), "{}", run.stdout);
}

#[tokio::test]
async fn a_wrong_telegram_token_fails_and_names_tg_token() {
    let mut s = Setup::new("tg_token").await;
    s.set("TG_TOKEN", "987654321:WrongTokenWrongTokenWrongToken_123");
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let bot = line(&run, "telegram_bot");
    assert!(bot.starts_with("✗ ") && bot.contains("fix: TG_TOKEN"), "{bot}");
    assert!(line(&run, "telegram_chat").starts_with("- "), "{}", run.stdout);
}

#[tokio::test]
async fn an_unknown_chat_fails_and_names_global_telegram_chat_id() {
    let mut s = Setup::new("tg_chat").await;
    s.set("GLOBAL_TELEGRAM_CHAT_ID", "-1009999999999");
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(line(&run, "telegram_bot").starts_with("✓ "), "{}", run.stdout);
    let chat = line(&run, "telegram_chat");
    assert!(chat.starts_with("✗ ") && chat.contains("chat not found"), "{chat}");
    assert!(chat.contains("fix: GLOBAL_TELEGRAM_CHAT_ID"), "{chat}");

    // --send-test does not try a chat that is known not to work.
    let (code, statuses, _) = s.json(&["--send-test"]).await;
    assert_eq!(code, 1);
    assert_eq!(status_of(&statuses, "telegram_send"), "skipped");
    assert!(s.telegram.messages().is_empty());
}

#[tokio::test]
async fn private_chats_and_groups_are_recognised() {
    let mut s = Setup::new("chat_kinds").await;
    for (id, kind) in [(42_i64, "private chat"), (-4242, "group \"tradecycle alerts\"")] {
        s.telegram.add_chat(id);
        s.set("GLOBAL_TELEGRAM_CHAT_ID", &id.to_string());
        let run = s.validate(&[]).await;
        assert_eq!(run.code, 0, "{}", run.stdout);
        let chat = line(&run, "telegram_chat");
        assert!(chat.starts_with("✓ ") && chat.contains(&format!("{kind} (getChat)")), "{chat}");
    }
}

#[tokio::test]
async fn send_test_delivers_exactly_one_message() {
    let s = Setup::new("send_test").await;
    let run = s.validate(&["--send-test"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(line(&run, "telegram_send").starts_with("✓ "), "{}", run.stdout);
    let messages = s.telegram.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].chat_id, CHAT);
    assert!(messages[0].text.starts_with("tradecycle validate: test message"), "{}", messages[0].text);
    assert!(messages[0].text.contains("no action needed"), "{}", messages[0].text);
    let sends = s.telegram.requests().iter().filter(|r| r.method.eq_ignore_ascii_case("sendmessage")).count();
    assert_eq!(sends, 1);
}

#[tokio::test]
async fn telegram_not_configured_is_skipped_and_says_notifications_are_only_logged() {
    let mut s = Setup::new("tg_off").await;
    s.unset("TG_TOKEN");
    s.unset("GLOBAL_TELEGRAM_CHAT_ID");
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let bot = line(&run, "telegram_bot");
    assert!(bot.starts_with("- ") && bot.contains("notifications will only be logged"), "{bot}");
    assert!(s.telegram.requests().is_empty());

    // Asking for a test message without Telegram is a failure of what was asked.
    let (code, statuses, _) = s.json(&["--send-test"]).await;
    assert_eq!(code, 1);
    assert_eq!(status_of(&statuses, "telegram_send"), "fail");
}

#[tokio::test]
async fn a_pool_under_the_publishers_name_fails_and_names_the_variable_to_set() {
    let s = Setup::bare("publisher_name", FakeBinanceConfig::default()).await;
    write_doc(&s.state_collection, "MULTI_ASSET_STATE", &json!({"x": 1})).await;
    write_doc(&s.pool_collection, PUBLISHER_POOL, &fresh_pool()).await;
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let pool = line(&run, "upstream_pool");
    assert!(pool.starts_with("✗ "), "{pool}");
    assert!(pool.contains(&format!("{}/{OUR_POOL} does not exist", s.pool_collection)), "{pool}");
    assert!(pool.contains(&format!("{}/{PUBLISHER_POOL} does", s.pool_collection)), "{pool}");
    assert!(pool.contains("fix: STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT=CRYPTO_LEADER_ROTATION_LIVE_POOL"), "{pool}");

    // Following the advice fixes it.
    let mut s = s;
    s.set("STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT", PUBLISHER_POOL);
    let (code, statuses, _) = s.json(&[]).await;
    assert_eq!(code, 0);
    assert_eq!(status_of(&statuses, "upstream_pool"), "ok");
}

#[tokio::test]
async fn missing_state_and_pool_documents_are_warnings() {
    let s = Setup::bare("first_run", FakeBinanceConfig::default()).await;
    let (code, statuses, v) = s.json(&[]).await;
    assert_eq!(code, 0, "{v}");
    assert_eq!(status_of(&statuses, "state"), "warn");
    assert!(check(&v, "state")["fix"].as_str().unwrap().contains("TRADECYCLE_STATE_DOCUMENT"));
    assert_eq!(status_of(&statuses, "upstream_pool"), "warn");
    assert!(check(&v, "upstream_pool")["detail"].as_str().unwrap().contains("pauses new trend entries"));
}

#[tokio::test]
async fn emulator_down_fails_fast_and_names_the_setting() {
    let mut s = Setup::new("emulator_down").await;
    let host = format!("127.0.0.1:{}", closed_port());
    s.set("FIRESTORE_EMULATOR_HOST", &host);
    // The default limit, so that "fast" does not come from a short timeout.
    s.unset("TRADECYCLE_FIRESTORE_TIMEOUT_SECS");
    let started = Instant::now();
    let run = s.validate(&[]).await;
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let state = line(&run, "state");
    assert!(
        state.starts_with("✗ ")
            && state.contains(&format!("fix: FIRESTORE_EMULATOR_HOST (nothing usable answers at {host})")),
        "{state}"
    );
    assert!(line(&run, "upstream_pool").starts_with("- "), "{}", run.stdout);
    // Binance and Telegram are still checked.
    assert!(line(&run, "binance_key").starts_with("✓ "), "{}", run.stdout);
    assert!(line(&run, "telegram_chat").starts_with("✓ "), "{}", run.stdout);
}

#[tokio::test]
async fn a_file_store_is_checked_without_google() {
    let mut s = Setup::new("file_store").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    s.unset("TRADECYCLE_STORE");
    // Even a dead emulator address is not contacted with a file store.
    s.set("FIRESTORE_EMULATOR_HOST", &format!("127.0.0.1:{}", closed_port()));
    let store = format!("file:{}", path.display());

    let (code, statuses, v) = s.json(&["--store", &store]).await;
    assert_eq!(code, 0, "{v}");
    assert_eq!(status_of(&statuses, "google_credentials"), "skipped");
    assert_eq!(status_of(&statuses, "state"), "ok");
    assert!(check(&v, "state")["detail"].as_str().unwrap().contains("does not exist yet"));
    assert_eq!(status_of(&statuses, "upstream_pool"), "warn");
    assert_eq!(check(&v, "upstream_pool")["fix"], "STRATEGY_ARTIFACT_UPSTREAM_FILE");

    std::fs::write(&path, "{\"daily_equity_base\": 1}").unwrap();
    let upstream = dir.path().join("pool.json");
    std::fs::write(&upstream, fresh_pool().to_string()).unwrap();
    s.set("STRATEGY_ARTIFACT_UPSTREAM_FILE", upstream.to_str().unwrap());
    let (code, statuses, _) = s.json(&["--store", &store]).await;
    assert_eq!(code, 0);
    assert_eq!(status_of(&statuses, "state"), "ok");
    assert_eq!(status_of(&statuses, "upstream_pool"), "ok");

    std::fs::write(&path, "{not json").unwrap();
    let run = s.validate(&["--store", &store]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(line(&run, "state").contains("fix: --store file:PATH / TRADECYCLE_STORE"), "{}", run.stdout);
}

#[tokio::test]
async fn configuration_errors_exit_2_name_the_variable_and_the_rest_is_still_checked() {
    let mut s = Setup::new("config").await;
    s.set("NOTIFY_LANG", "fr");
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    let config = line(&run, "config");
    assert!(config.starts_with("✗ ") && config.contains("fix: NOTIFY_LANG"), "{config}");
    assert!(line(&run, "binance_key").starts_with("✓ "), "{}", run.stdout);

    let mut s = Setup::new("no_store").await;
    s.unset("TRADECYCLE_STORE");
    let run = s.validate(&[]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(line(&run, "config").contains("--store firestore"), "{}", run.stdout);

    s.set("TRADECYCLE_STORE", "firestore");
    s.set("BINANCE_BASE_URL", "ftp://example.invalid");
    let (code, statuses, v) = s.json(&[]).await;
    assert_eq!(code, 2);
    assert_eq!(status_of(&statuses, "binance_time"), "fail");
    assert_eq!(check(&v, "binance_time")["fix"], "BINANCE_BASE_URL");

    s.set("BINANCE_BASE_URL", &s.binance.url());
    s.set("TG_TOKEN", "not a token at all");
    let (code, statuses, v) = s.json(&[]).await;
    assert_eq!(code, 2);
    assert_eq!(status_of(&statuses, "telegram_bot"), "fail");
    assert_eq!(check(&v, "telegram_bot")["fix"], "TG_TOKEN");

    // A bad flag is a usage error too.
    assert_eq!(s.validate(&["--nope"]).await.code, 2);
}

#[tokio::test]
async fn secrets_never_appear_even_with_everything_failing_and_debug_logs() {
    let mut s = Setup::new("secrets").await;
    s.set("TRADECYCLE_LOG", "trace");
    s.set("BINANCE_API_SECRET", "wrong-secret-but-secret-anyway");
    s.set("TG_TOKEN", "987654321:AnotherSecretTokenValue_xyz");
    s.set("GLOBAL_TELEGRAM_CHAT_ID", "42");
    let run = s.validate(&["--send-test", "--live"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let run = s.validate(&["--json", "--send-test"]).await;
    assert_eq!(run.code, 1);
    // Setup::validate has checked stdout and stderr of both runs.
}

#[test]
fn help_lists_the_flags_and_exit_codes() {
    let run = tradecycle(&["validate", "--help"], &[]);
    assert_eq!(run.code, 0);
    for flag in ["--live", "--allow-withdrawal-key", "--store", "--send-test", "--json"] {
        assert!(run.stdout.contains(flag), "{flag} missing from:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("Exit codes: 0"), "{}", run.stdout);
}
