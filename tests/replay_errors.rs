//! Bad input and bad configuration: a clear message naming the file or
//! variable, the right exit code, never a panic.

mod common;

use common::replay::Replay;
use common::*;
use serde_json::json;

/// A temporary copy of the default set, to break.
fn default_copy() -> Replay {
    Replay::fixture("cycle_replay")
}

/// Expects exit code `code` and `needle` in stderr (the builder also
/// checks that nothing panicked).
#[track_caller]
fn fails(replay: Replay, code: i32, needle: &str) -> Run {
    replay.code(code).stderr(needle).output()
}

#[test]
fn missing_fixture_directory() {
    let run = fails(Replay::fixture("does-not-exist"), 2, "fixtures/does-not-exist: fixture directory not found");
    assert!(run.stdout.is_empty());
}

#[test]
fn missing_fixture_file_is_named() {
    fails(default_copy().remove("market_data_snapshot.json"), 2, "market_data_snapshot.json: cannot read");
}

#[test]
fn malformed_json_is_named() {
    let replay = default_copy().write("account_balances_snapshot.json", "{\"spot_balances\": ");
    fails(replay, 2, "account_balances_snapshot.json: not valid JSON");
}

#[test]
fn zero_price_names_the_field() {
    let replay = default_copy().edit("account_balances_snapshot.json", |v| v["avg_prices"]["ETHUSDT"] = json!("0"));
    fails(replay, 2, "account_balances_snapshot.json: avg_prices.ETHUSDT must be a positive price, got \"0\"");
}

#[test]
fn non_numeric_indicator_names_the_field() {
    let replay =
        default_copy().edit("market_data_snapshot.json", |v| v["trend_indicators"]["SOLUSDT"]["sma60"] = json!("high"));
    fails(replay, 2, "trend_indicators.SOLUSDT.sma60 must be a number or null, got \"high\"");
}

#[test]
fn missing_indicators_are_reported_and_the_symbol_is_skipped() {
    let r = default_copy()
        .edit("market_data_snapshot.json", |v| {
            v["trend_indicators"].as_object_mut().unwrap().remove("ETHUSDT");
            v["trend_indicators"]["SOLUSDT"]["atr14"] = json!(null);
        })
        .run();
    assert!(strs(&r["warnings"]).contains(&"ETHUSDT: no indicators this cycle; it cannot be selected".to_string()));
    // SOL lacks atr14 and ETH has nothing: LINK is the only candidate left.
    assert_eq!(strs(&r["selected_candidates"]), ["LINKUSDT"]);
    let bought: Vec<String> = intents(&r).into_iter().filter(|i| i.0 == "trend_buy").map(|i| i.1).collect();
    assert_eq!(bought, ["LINKUSDT"]);
}

#[test]
fn held_position_without_a_price_stops_the_cycle_before_trading() {
    let r = default_copy()
        .edit("account_balances_snapshot.json", |v| {
            v["spot_balances"]["ETH"] = json!({"free": "1.5", "locked": "0"});
            v["avg_prices"].as_object_mut().unwrap().remove("ETHUSDT");
        })
        .code(1)
        .status("error")
        .intents([])
        .run();
    assert_eq!(r["errors"][0]["stage"], "plan");
    assert_eq!(
        r["errors"][0]["message"],
        "no usable price for held ETHUSDT; refusing to trade on an incomplete valuation"
    );
    assert_eq!(r["notifications"][0]["event"], "system_crash");
}

#[test]
fn missing_btc_snapshot_is_a_cycle_error() {
    let r =
        default_copy().edit("market_data_snapshot.json", |v| v["btc_snapshot"] = json!(null)).code(1).intents([]).run();
    assert_eq!(r["errors"][0]["stage"], "snapshot");
    assert!(r["errors"][0]["message"].as_str().unwrap().starts_with("BTC indicators insufficient"));
}

#[test]
fn incomplete_btc_valuation_fails_closed() {
    let r = default_copy()
        .edit("market_data_snapshot.json", |v| v["btc_snapshot"]["ahr999"] = json!(null))
        .status("ok")
        .run();
    let kinds: Vec<String> = intents(&r).into_iter().map(|i| i.0).collect();
    assert!(!kinds.iter().any(|k| k == "trend_buy" || k == "dca_buy"), "{kinds:?}");
    assert!(gates(&r).contains(&"btc_snapshot_incomplete".to_string()));
}

#[test]
fn invalid_injected_pool_is_a_cycle_error_naming_the_rule() {
    let r = default_copy()
        .edit("pool_input_snapshot.json", |v| v["as_of_date"] = json!("2025-12-01"))
        .code(1)
        .status("error")
        .intents([])
        .run();
    assert_eq!(r["errors"][0]["stage"], "pool");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("stale: 104 days old (max 45)"), "{}", r["errors"]);
}

#[test]
fn unknown_env_value_in_replay_config_names_the_variable() {
    let replay = default_copy().edit("replay_config.json", |v| v["env"] = json!({"NOTIFY_LANG": "fr"}));
    fails(replay, 2, "replay_config.json: env: NOTIFY_LANG: unsupported NOTIFY_LANG value \"fr\"");
}

#[test]
fn bad_process_env_value_names_the_variable() {
    fails(Replay::default().env("TRADECYCLE_PAUSE", "maybe"), 2, "TRADECYCLE_PAUSE: expected true/false");
}

#[test]
fn bad_replay_config_values() {
    let replay = default_copy().edit("replay_config.json", |v| v["pool_source"] = json!("s3"));
    fails(replay, 2, "pool_source must be 'injected' or 'firestore', got 's3'");
    let replay = default_copy().edit("replay_config.json", |v| v["now_utc"] = json!("yesterday"));
    fails(replay, 2, "now_utc must be an RFC 3339 time, got 'yesterday'");
}

#[test]
fn bad_now_flag_is_a_usage_error() {
    fails(Replay::default().args(["--now", "2026-13-01"]), 2, "expected an RFC 3339 time");
}

#[test]
fn state_file_must_be_an_object() {
    let replay = default_copy().write("initial_state_snapshot.json", "[1, 2]");
    fails(replay, 2, "initial_state_snapshot.json: the state document must be an object");
}
