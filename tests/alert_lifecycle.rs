//! The durable alerts of conditions the cycle observes itself, driven
//! through the binary (issue 11: "each condition raises once, reminds on
//! schedule, clears once"). The book's rules are unit-tested in
//! `domain/alerts.rs` and the pool alert's whole life in `tests/alerts.rs`;
//! here each remaining condition is produced by running the program —
//! a latched breaker on a paper account, a refused Earn redeem on the fake
//! Binance — and followed from raise to clear.

mod common;

use common::live::Live;
use common::paper_run;
use serde_json::Value;
use tradecycle_fakes::binance::{Fault, FaultKind};
use tradecycle_fakes::telegram::FakeTelegram;

const REDEEM: &str = "/sapi/v1/simple-earn/flexible/redeem";
const TG_TOKEN: &str = "123456:fake-telegram-token";
const TG_CHAT: i64 = 778;

/// `(key, change)` of every alert the report lists, raised then open then
/// cleared.
fn alerts(r: &Value) -> Vec<(String, String)> {
    ["raised", "open", "cleared"]
        .iter()
        .flat_map(|list| r["alerts"][list].as_array().unwrap().iter())
        .map(|a| (a["key"].as_str().unwrap().to_string(), a["change"].as_str().unwrap().to_string()))
        .collect()
}

/// The alert messages of the run (`alert_raised`, `alert_reminder`, ...).
fn alert_messages(r: &Value) -> Vec<String> {
    r["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["event"].as_str().filter(|e| e.starts_with("alert_")).map(str::to_string))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, c)| (k.to_string(), c.to_string())).collect()
}

/// One paper cycle of the `breaker_latched` fixture set at `now`.
fn paper(dir: &std::path::Path, now: &str) -> Value {
    let r = paper_run(dir, "breaker_latched", now, &[], &[("ALERT_REMIND_HOURS", "2")]);
    assert!(matches!(r.code, 0 | 5), "exit {}: {}", r.code, r.stderr);
    r.json()
}

#[test]
fn a_latched_breaker_is_raised_once_reminded_on_schedule_and_cleared_by_the_next_day() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture's state latched the breaker earlier on 2026-03-15.
    let r = paper(dir.path(), "2026-03-15T05:00:00Z");
    assert_eq!(alerts(&r), pairs(&[("breaker_latched", "raised")]), "{:#}", r["alerts"]);
    assert_eq!(r["alerts"]["raised"][0]["severity"], "SEV-2");
    assert_eq!(r["alerts"]["raised"][0]["runbook"], "Circuit breaker fired");
    assert_eq!(alert_messages(&r), ["alert_raised"]);

    let r = paper(dir.path(), "2026-03-15T06:00:00Z");
    assert_eq!(alerts(&r), pairs(&[("breaker_latched", "still_open")]));
    assert_eq!(alert_messages(&r), Vec::<String>::new(), "one message per condition, not one per cycle");

    // ALERT_REMIND_HOURS=2 after the raise at 05:00.
    let r = paper(dir.path(), "2026-03-15T07:00:00Z");
    assert_eq!(alerts(&r), pairs(&[("breaker_latched", "reminded")]));
    assert_eq!(alert_messages(&r), ["alert_reminder"]);
    assert_eq!(r["alerts"]["open"][0]["count"], 3, "seen by three cycles");

    // The next UTC day resets the latch.
    let r = paper(dir.path(), "2026-03-16T00:00:00Z");
    assert_eq!(alerts(&r), pairs(&[("breaker_latched", "cleared")]), "{:#}", r["alerts"]);
    assert_eq!(alert_messages(&r), ["alert_cleared"]);
    let r = paper(dir.path(), "2026-03-16T01:00:00Z");
    assert_eq!(alerts(&r), Vec::<(String, String)>::new(), "cleared once");
}

#[test]
fn a_refused_redeem_and_the_buys_it_starves_are_raised_once_and_cleared_once_when_earn_answers_again() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let telegram = rt.block_on(FakeTelegram::start(TG_TOKEN));
    telegram.add_chat(TG_CHAT);
    let url = telegram.url();
    let chat = TG_CHAT.to_string();
    let env = [("TG_TOKEN", TG_TOKEN), ("GLOBAL_TELEGRAM_CHAT_ID", chat.as_str()), ("TELEGRAM_API_URL", url.as_str())];
    let live = Live::new("settled_account");
    let refused = FaultKind::error(400, -6008, "Product not in redeem status");
    live.fake.inject(Fault::new("POST", REDEEM, refused).times(10));

    let starved = [
        ("earn_refused:USDT", "raised"),
        ("buy_skipped_funds:ADAUSDT", "raised"),
        ("buy_skipped_funds:XRPUSDT", "raised"),
    ];
    let r = live.run(&["--live", "--run-id", "refused-1"], &env).json();
    assert_eq!(alerts(&r), pairs(&starved), "{:#}", r["alerts"]);
    assert!(r["alerts"]["raised"].as_array().unwrap().iter().all(|a| a["severity"] == "SEV-2"));
    assert_eq!(alert_messages(&r), ["alert_raised"; 3]);
    let sent = telegram.messages().iter().map(|m| m.text.clone()).collect::<Vec<_>>().join("\n");
    assert!(sent.contains("earn_refused:USDT") && sent.contains("buy_skipped_funds:ADAUSDT"), "{sent}");

    // Still refused: the book knows, nobody is told again.
    let r = live.run(&["--live", "--run-id", "refused-2"], &env).json();
    let open: Vec<(&str, &str)> = starved.iter().map(|(k, _)| (*k, "still_open")).collect();
    assert_eq!(alerts(&r), pairs(&open), "{:#}", r["alerts"]);
    assert_eq!(alert_messages(&r), Vec::<String>::new());

    // Earn answers again: the redeem goes through, the buys are made, and
    // each alert clears with one message.
    live.fake.clear_faults();
    let r = live.run(&["--live", "--run-id", "refused-3"], &env).json();
    let cleared: Vec<(&str, &str)> = starved.iter().map(|(k, _)| (*k, "cleared")).collect();
    assert_eq!(alerts(&r), pairs(&cleared), "{:#}", r["alerts"]);
    assert_eq!(alert_messages(&r), ["alert_cleared"; 3]);
    assert_eq!(r["status"], "ok", "{:#}", r["attention"]);
}
