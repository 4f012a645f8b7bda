//! `tradecycle run --live` end to end against the fake Binance over HTTP:
//! the orders the exchange received, the state after, the report, and that
//! the same cycle on the paper exchange plans exactly the same.

mod common;

use common::live::{Live, read_json};
use common::*;
use rust_decimal::Decimal;
use serde_json::Value;
use tradecycle_fakes::binance::ApiRestrictions;

fn filled_orders(report: &Value) -> Vec<(String, String, String)> {
    report["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i.get("client_order_id").is_some())
        .map(|i| {
            let fill = &i["fill"];
            (
                i["client_order_id"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
                fill["executed_qty"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn live_cycle_trades_on_the_exchange_and_saves_what_it_filled() {
    let live = Live::new("cycle_replay");
    let run = live.run(&["--live", "--run-id", "live-1"], &[]);
    assert_eq!(run.code, 0, "stderr: {}\nstdout: {}", run.stderr, run.stdout);
    let r = run.json();
    if std::env::var("SHOW").is_ok() {
        eprintln!("{}", run.stdout);
    }
    assert_eq!(r["mode"], "live");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["pool"]["source"], "fresh_upstream");
    assert!(r["pool"]["label"].as_str().unwrap().starts_with("upstream-file:"));

    // Every order the exchange executed is a filled intent with the same id
    // and quantity, and nothing was sent twice.
    let orders = live.fake.orders();
    let mine = filled_orders(&r);
    assert!(!orders.is_empty());
    assert_eq!(orders.len(), mine.len(), "{mine:?}");
    for o in &orders {
        let found = mine.iter().find(|(id, _, _)| *id == o.client_order_id).expect("order has an intent");
        assert_eq!(found.1, "filled");
        assert_eq!(found.2.parse::<Decimal>().unwrap(), o.executed_qty, "{}", o.client_order_id);
    }
    let mut ids: Vec<&str> = orders.iter().map(|o| o.client_order_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), orders.len());
    let attempts = live.fake.order_attempts();
    assert_eq!(attempts.len(), orders.len(), "no order POST was retried");

    // The state on disk is what the report says, with an empty ledger.
    let state = live.state();
    assert_eq!(&state, r["state_after"].as_object().map(|_| &r["state_after"]).unwrap());
    assert_eq!(state["pending_orders"], serde_json::json!({}));
    for (symbol, _) in r["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "trend_buy")
        .map(|i| (i["symbol"].as_str().unwrap(), ()))
    {
        assert_eq!(state[symbol]["is_holding"], true, "{symbol}");
    }
    // Real fills: the exchange charged its 0.1% fee in the bought coin.
    let bought = r["intents"].as_array().unwrap().iter().find(|i| i["kind"] == "trend_buy").unwrap();
    let base = bought["asset"].as_str().unwrap();
    let qty: Decimal = bought["quantity"].as_str().unwrap().parse().unwrap();
    assert_eq!(live.fake.balance(base).free, qty - (qty * Decimal::new(1, 3)).round_dp(8));

    // The report landed in artifacts/, and the heartbeat record next to the state.
    let saved = read_json(&live.artifacts().join("report-live-1.json"));
    assert_eq!(saved, r);
    let beat = read_json(&live.dir.path().join("state.heartbeat.tradecycle.json"));
    assert_eq!(beat["status"], "ok");
    assert_eq!(beat["run_id"], "live-1");
}

#[test]
fn the_paper_exchange_plans_exactly_what_live_does() {
    let live = Live::new("cycle_replay");
    let r = live.run(&["--live", "--run-id", "live-2"], &[]).json();
    let paper_dir = live.dir.path().join("paper");
    let fixtures = live.fresh_fixture_copy();
    let now = r["now"].as_str().unwrap();
    let paper = tradecycle(
        &[
            "run",
            "--paper",
            "--synthetic-klines",
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--paper-dir",
            paper_dir.to_str().unwrap(),
            "--now",
            now,
            "--artifacts",
            live.artifacts().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(paper.code, 0, "{}", paper.stderr);
    let p = paper.json();
    let strip = |r: &Value| -> Vec<(String, String, String, String, String)> { intents(r) };
    assert_eq!(strip(&p), strip(&r));
    assert_eq!(p["selected_candidates"], r["selected_candidates"]);
    assert_eq!(p["equity"]["total_usdt"], r["equity"]["total_usdt"]);
}

#[test]
fn dry_run_reads_the_exchange_but_sends_and_writes_nothing() {
    let live = Live::new("cycle_replay");
    let before = live.state();
    let run = live.run(&["--run-id", "dry-1"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["mode"], "dry_run");
    assert!(live.fake.order_attempts().is_empty());
    assert!(live.fake.earn_calls().is_empty());
    assert_eq!(live.state(), before, "state untouched");
    assert!(r["intents"].as_array().unwrap().iter().all(|i| i["status"] == "suppressed"));
    assert!(r["state_writes"].as_array().unwrap().iter().all(|w| w["status"] == "suppressed"));
    assert!(!live.dir.path().join("state.lease.json").exists());
}

#[test]
fn the_same_slot_run_twice_sends_nothing_new() {
    let live = Live::new("cycle_replay");
    assert_eq!(live.run(&["--live", "--run-id", "slot-a"], &[]).code, 0);
    let sent = live.fake.order_attempts().len();
    let second = live.run(&["--live", "--run-id", "slot-b"], &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(live.fake.order_attempts().len(), sent, "{}", second.stdout);
}

#[test]
fn a_key_that_can_withdraw_is_refused_unless_allowed() {
    let live = Live::new("cycle_replay");
    live.fake.set_api_restrictions(ApiRestrictions { enable_withdrawals: true, ..Default::default() });
    let run = live.run(&["--live"], &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["errors"][0]["stage"], "preflight");
    assert!(report["errors"][0]["message"].as_str().unwrap().contains("--allow-withdrawal-key"));
    assert!(live.fake.order_attempts().is_empty());
    let allowed = live.run(&["--live", "--allow-withdrawal-key"], &[]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert!(!live.fake.order_attempts().is_empty());
}

#[test]
fn a_key_whose_withdrawal_permission_is_not_reported_is_refused_unless_allowed() {
    let live = Live::new("cycle_replay");
    live.fake.set_api_restrictions(ApiRestrictions { omit_enable_withdrawals: true, ..Default::default() });
    let run = live.run(&["--live"], &[]);
    assert_eq!(run.code, 3, "fail closed: {}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "aborted");
    assert_eq!(report["errors"][0]["stage"], "preflight");
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("Binance did not say whether the API key can withdraw"), "{message}");
    assert!(message.contains("--allow-withdrawal-key"), "{message}");
    assert!(live.fake.order_attempts().is_empty());
    let allowed = live.run(&["--live", "--allow-withdrawal-key"], &[]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
}

#[test]
fn two_runs_with_the_same_run_id_keep_both_reports() {
    let live = Live::new("cycle_replay");
    let first = live.run(&["--run-id", "same-id"], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = live.run(&["--run-id", "same-id"], &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let (one, two) = (live.artifacts().join("report-same-id.json"), live.artifacts().join("report-same-id.2.json"));
    assert!(second.stderr.contains("a report for run id same-id already exists"), "{}", second.stderr);
    assert_eq!(read_json(&one), first.json(), "the first report is not overwritten");
    assert_eq!(read_json(&two), second.json());
    let mut names: Vec<String> = std::fs::read_dir(live.artifacts())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    // Each run's evidence bundle too, the second beside the first.
    let want = ["report-same-id.2.json", "report-same-id.json", "same-id", "same-id.2"];
    assert_eq!(names, want, "no temp file left behind");
}

#[test]
fn secrets_never_appear_in_output_reports_or_state() {
    let live = Live::new("cycle_replay");
    let run = live.run(&["--live", "--run-id", "s-1"], &[("TRADECYCLE_LOG", "debug")]);
    assert_eq!(run.code, 0);
    // And a failing run, whose errors echo what the exchange said.
    let bad = live.run(&["--live", "--run-id", "s-2"], &[("BINANCE_API_SECRET", "not-the-secret-at-all-123")]);
    assert_ne!(bad.code, 0);
    let mut everything = format!("{}{}{}{}", run.stdout, run.stderr, bad.stdout, bad.stderr);
    for entry in std::fs::read_dir(live.artifacts()).unwrap() {
        let path = entry.unwrap().path();
        // The evidence bundles (artifacts/<run_id>/) are read file by file.
        let files = if path.is_dir() {
            std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).collect()
        } else {
            vec![path]
        };
        for file in files {
            everything.push_str(&std::fs::read_to_string(file).unwrap());
        }
    }
    everything.push_str(&std::fs::read_to_string(live.state_path()).unwrap());
    for secret in [live.fake.api_key(), live.fake.api_secret(), "not-the-secret-at-all-123".to_string()] {
        assert!(!everything.contains(&secret), "{secret} leaked");
    }
    assert!(!everything.contains("signature="), "signed query leaked");
}
