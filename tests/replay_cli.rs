//! The `replay` command's surface: defaults, flags, output files, formats.

mod common;

use common::replay::Replay;
use common::*;

#[test]
fn defaults_to_our_fixture_set_and_its_clock() {
    let r = Replay::default().run();
    assert_eq!(r["schema"], "tradecycle.report.v1");
    assert_eq!(r["run_id"], "fixture-cycle_replay");
    assert_eq!(r["now"], "2026-03-15T00:00:00Z");
    assert_eq!(r["mode"], "replay");
}

#[test]
fn now_and_run_id_flags_override_the_config() {
    let r = Replay::default().args(["--now", "2026-03-16T09:30:00Z", "--run-id", "manual"]).run();
    assert_eq!(r["now"], "2026-03-16T09:30:00Z");
    assert_eq!(r["run_id"], "manual");
    // Client order ids follow the schedule slot (the UTC hour) of --now.
    // (Intent 0 is the cycle's Earn redeem, 1 the BNB fuel buy.)
    assert_eq!(r["intents"][2]["client_order_id"], "tc-26031609-tb-ETHUSDT");
}

#[test]
fn output_file_holds_the_same_report_and_text_format_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/report.json");
    let run = Replay::default().args(["--format", "text", "--output", out.to_str().unwrap()]).output();
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file, Replay::default().run());
    let text = run.stdout;
    assert!(text.starts_with("tradecycle replay run fixture-cycle_replay at 2026-03-15T00:00:00Z: ok\n"), "{text}");
    assert!(text.contains("candidates: ETHUSDT, SOLUSDT"), "{text}");
    assert!(text.contains("  - trend_buy 0.6116 ETHUSDT [suppressed] rotation_entry"), "{text}");
}

#[test]
fn chinese_notifications_with_notify_lang_zh() {
    let r = Replay::default().env("NOTIFY_LANG", "zh").run();
    let texts: Vec<String> =
        r["notifications"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap().to_string()).collect();
    assert!(texts[0].contains("趋势买入"), "{texts:?}");
    assert!(texts.last().unwrap().contains("💓 加密状态"), "{texts:?}");
}

#[test]
fn legacy_env_alias_is_honoured_in_replay() {
    // degraded_last_known_good pauses buys; the old variable name re-enables them.
    let r = Replay::fixture("degraded_last_known_good").env("TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED", "1").run();
    let bought: Vec<String> = intents(&r).into_iter().filter(|i| i.0 == "trend_buy").map(|i| i.1).collect();
    assert_eq!(bought, ["ETHUSDT", "SOLUSDT"]);
}

#[test]
fn help_lists_the_exit_codes_and_flags() {
    let run = tradecycle(&["--help"], &[]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("3 aborted before trading"), "{}", run.stdout);
    let run = Replay::default().args(["--help"]).output();
    for flag in ["--fixtures", "--now", "--run-id", "--output", "--format"] {
        assert!(run.stdout.contains(flag), "{flag} missing from {}", run.stdout);
    }
}

#[test]
fn caps_from_the_environment_shrink_buys() {
    let r = Replay::default().env("MAX_NOTIONAL_PER_ORDER_USDT", "500").env("MAX_ORDERS_PER_RUN", "2").code(5).run();
    let got = intents(&r);
    // fuel buy + ETH buy are the two orders allowed; ETH is shrunk to 500 USDT.
    assert_eq!(got[1].0, "trend_buy");
    assert_eq!(got[1].2, "0.1562");
    assert_eq!(r["intents"][1]["detail"]["capped_by"], "MAX_NOTIONAL_PER_ORDER_USDT");
    let orders = got.iter().filter(|i| !i.0.starts_with("earn_")).count();
    assert_eq!(orders, 2, "{got:?}");
    assert!(gates(&r).contains(&"max_orders_per_run".to_string()));
    assert_eq!(r["status"], "attention", "skipping past the order cap needs a look");
    assert!(
        r["attention"][0].as_str().unwrap().ends_with(
            "skipped: 2 orders already planned this run (MAX_ORDERS_PER_RUN; TRADECYCLE_ACK_MANY_ORDERS=1 allows more)"
        ),
        "{}",
        r["attention"]
    );
}
