//! Bad input and bad configuration: a clear message naming the file or
//! variable, the right exit code, never a panic.

mod common;

use common::*;
use serde_json::json;

fn default_copy() -> tempfile::TempDir {
    copy_fixtures(&root().join("fixtures/cycle_replay"))
}

fn assert_clean_failure(run: &Run, code: i32, needle: &str) {
    assert_eq!(run.code, code, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stderr.contains(needle), "stderr lacks {needle:?}: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn missing_fixture_directory() {
    let run = tradecycle(&["replay", "--fixtures", "fixtures/does-not-exist"], &[]);
    assert_clean_failure(&run, 2, "fixtures/does-not-exist: fixture directory not found");
    assert!(run.stdout.is_empty());
}

#[test]
fn missing_fixture_file_is_named() {
    let dir = default_copy();
    std::fs::remove_file(dir.path().join("market_data_snapshot.json")).unwrap();
    let run = replay_dir(dir.path(), &[]);
    assert_clean_failure(&run, 2, "market_data_snapshot.json: cannot read");
}

#[test]
fn malformed_json_is_named() {
    let dir = default_copy();
    std::fs::write(dir.path().join("account_balances_snapshot.json"), "{\"spot_balances\": ").unwrap();
    let run = replay_dir(dir.path(), &[]);
    assert_clean_failure(&run, 2, "account_balances_snapshot.json: not valid JSON");
}

#[test]
fn zero_price_names_the_field() {
    let dir = default_copy();
    edit_json(&dir.path().join("account_balances_snapshot.json"), |v| v["avg_prices"]["ETHUSDT"] = json!("0"));
    let run = replay_dir(dir.path(), &[]);
    assert_clean_failure(
        &run,
        2,
        "account_balances_snapshot.json: avg_prices.ETHUSDT must be a positive price, got \"0\"",
    );
}

#[test]
fn non_numeric_indicator_names_the_field() {
    let dir = default_copy();
    edit_json(&dir.path().join("market_data_snapshot.json"), |v| {
        v["trend_indicators"]["SOLUSDT"]["sma60"] = json!("high")
    });
    let run = replay_dir(dir.path(), &[]);
    assert_clean_failure(&run, 2, "trend_indicators.SOLUSDT.sma60 must be a number or null, got \"high\"");
}

#[test]
fn missing_indicators_are_reported_and_the_symbol_is_skipped() {
    let dir = default_copy();
    edit_json(&dir.path().join("market_data_snapshot.json"), |v| {
        v["trend_indicators"].as_object_mut().unwrap().remove("ETHUSDT");
        v["trend_indicators"]["SOLUSDT"]["atr14"] = json!(null);
    });
    let run = replay_dir(dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    assert!(strs(&r["warnings"]).contains(&"ETHUSDT: no indicators this cycle; it cannot be selected".to_string()));
    // SOL lacks atr14 and ETH has nothing: LINK is the only candidate left.
    assert_eq!(strs(&r["selected_candidates"]), ["LINKUSDT"]);
    let bought: Vec<String> = intents(&r).into_iter().filter(|i| i.0 == "trend_buy").map(|i| i.1).collect();
    assert_eq!(bought, ["LINKUSDT"]);
}

#[test]
fn held_position_without_a_price_stops_the_cycle_before_trading() {
    let dir = default_copy();
    edit_json(&dir.path().join("account_balances_snapshot.json"), |v| {
        v["spot_balances"]["ETH"] = json!({"free": "1.5", "locked": "0"});
        v["avg_prices"].as_object_mut().unwrap().remove("ETHUSDT");
    });
    let run = replay_dir(dir.path(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["status"], "error");
    assert_eq!(r["errors"][0]["stage"], "plan");
    assert_eq!(
        r["errors"][0]["message"],
        "no usable price for held ETHUSDT; refusing to trade on an incomplete valuation"
    );
    assert!(r["intents"].as_array().unwrap().is_empty());
    assert_eq!(r["notifications"][0]["event"], "system_crash");
}

#[test]
fn missing_btc_snapshot_is_a_cycle_error() {
    let dir = default_copy();
    edit_json(&dir.path().join("market_data_snapshot.json"), |v| v["btc_snapshot"] = json!(null));
    let run = replay_dir(dir.path(), &[]);
    assert_eq!(run.code, 1);
    let r = run.json();
    assert_eq!(r["errors"][0]["stage"], "snapshot");
    assert!(r["errors"][0]["message"].as_str().unwrap().starts_with("BTC indicators insufficient"));
    assert!(r["intents"].as_array().unwrap().is_empty());
}

#[test]
fn incomplete_btc_valuation_fails_closed() {
    let dir = default_copy();
    edit_json(&dir.path().join("market_data_snapshot.json"), |v| v["btc_snapshot"]["ahr999"] = json!(null));
    let r = replay_dir(dir.path(), &[]).json();
    assert_eq!(r["status"], "ok");
    let kinds: Vec<String> = intents(&r).into_iter().map(|i| i.0).collect();
    assert!(!kinds.iter().any(|k| k == "trend_buy" || k == "dca_buy"), "{kinds:?}");
    assert!(gates(&r).contains(&"btc_snapshot_incomplete".to_string()));
}

#[test]
fn invalid_injected_pool_is_a_cycle_error_naming_the_rule() {
    let dir = default_copy();
    edit_json(&dir.path().join("pool_input_snapshot.json"), |v| v["as_of_date"] = json!("2025-12-01"));
    let run = replay_dir(dir.path(), &[]);
    assert_eq!(run.code, 1);
    let r = run.json();
    assert_eq!(r["status"], "error");
    assert_eq!(r["errors"][0]["stage"], "pool");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("stale: 104 days old (max 45)"), "{}", r["errors"]);
    assert!(r["intents"].as_array().unwrap().is_empty());
}

#[test]
fn unknown_env_value_in_replay_config_names_the_variable() {
    let dir = default_copy();
    edit_json(&dir.path().join("replay_config.json"), |v| v["env"] = json!({"NOTIFY_LANG": "fr"}));
    let run = replay_dir(dir.path(), &[]);
    assert_clean_failure(&run, 2, "replay_config.json: env: NOTIFY_LANG: unsupported NOTIFY_LANG value \"fr\"");
}

#[test]
fn bad_process_env_value_names_the_variable() {
    let run = tradecycle(&["replay"], &[("TRADECYCLE_PAUSE", "maybe")]);
    assert_clean_failure(&run, 2, "TRADECYCLE_PAUSE: expected true/false");
}

#[test]
fn bad_replay_config_values() {
    let dir = default_copy();
    edit_json(&dir.path().join("replay_config.json"), |v| v["pool_source"] = json!("s3"));
    assert_clean_failure(&replay_dir(dir.path(), &[]), 2, "pool_source must be 'injected' or 'firestore', got 's3'");
    edit_json(&dir.path().join("replay_config.json"), |v| {
        v["pool_source"] = json!("injected");
        v["now_utc"] = json!("yesterday");
    });
    assert_clean_failure(&replay_dir(dir.path(), &[]), 2, "now_utc must be an RFC 3339 time, got 'yesterday'");
}

#[test]
fn bad_now_flag_is_a_usage_error() {
    let run = tradecycle(&["replay", "--now", "2026-13-01"], &[]);
    assert_clean_failure(&run, 2, "expected an RFC 3339 time");
}

#[test]
fn state_file_must_be_an_object() {
    let dir = default_copy();
    std::fs::write(dir.path().join("initial_state_snapshot.json"), "[1, 2]").unwrap();
    assert_clean_failure(
        &replay_dir(dir.path(), &[]),
        2,
        "initial_state_snapshot.json: the state document must be an object",
    );
}
