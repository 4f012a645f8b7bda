//! The binary outside the repository and under a process supervisor: the
//! embedded default fixture set, log lines on a pipe (no colour codes,
//! JSON for Cloud Logging, streamed as they happen), and a graceful stop on
//! SIGTERM mid-cycle against the fake Binance.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::live::{Live, read_json};
use common::*;
use rust_decimal::Decimal;
use serde_json::Value;
use tradecycle_fakes::binance::{EarnCallKind, FakeBinanceConfig};

/// `tradecycle <args>` started in `dir` with only PATH and `env` set.
fn command_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradecycle"));
    cmd.args(args).current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = command_in(dir, args, env).output().expect("binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn replay_outside_the_repository_prints_the_same_report_as_inside() {
    let empty = tempfile::tempdir().unwrap();
    let outside = run_in(empty.path(), &["replay"], &[]);
    assert_eq!(outside.code, 0, "stderr: {}", outside.stderr);
    let inside = tradecycle(&["replay", "--fixtures", "fixtures/cycle_replay"], &[]);
    assert_eq!(inside.code, 0, "stderr: {}", inside.stderr);
    assert_eq!(outside.stdout, inside.stdout);
    assert_eq!(outside.json()["run_id"], "fixture-cycle_replay");
    // Nothing was read from, or written to, the empty directory.
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);

    // --fixtures still reads a directory, and names it when it is missing.
    let missing = run_in(empty.path(), &["replay", "--fixtures", "fixtures/cycle_replay"], &[]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("fixtures/cycle_replay: fixture directory not found"), "{}", missing.stderr);
}

#[test]
fn paper_runs_outside_the_repository_and_carry_their_account() {
    let empty = tempfile::tempdir().unwrap();
    let first = run_in(empty.path(), &["run", "--paper"], &[]);
    assert_eq!(first.code, 0, "stderr: {}", first.stderr);
    let r = first.json();
    assert_eq!((r["mode"].as_str(), r["status"].as_str()), (Some("paper"), Some("ok")));
    assert_eq!(r["run_id"], "paper-20260315T000000Z");
    assert!(r["intents"].as_array().unwrap().iter().any(|i| i["status"] == "filled"), "{}", first.stdout);
    assert!(empty.path().join("artifacts/report-paper-20260315T000000Z.json").is_file());
    let account = read_json(&empty.path().join("artifacts/paper/account.json"));
    assert_eq!(account["step"], 1);
    assert_eq!(account["fixtures"], "fixtures/cycle_replay");

    let second = run_in(empty.path(), &["run", "--paper"], &[]);
    assert_eq!(second.code, 0, "stderr: {}", second.stderr);
    assert_eq!(second.json()["run_id"], "paper-20260315T010000Z", "the paper clock moved on an hour");
}

#[test]
fn piped_stderr_has_no_colour_codes() {
    let run = tradecycle(&["replay"], &[("TRADECYCLE_LOG", "info")]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(run.stderr.contains("INFO"), "{}", run.stderr);
    assert!(run.stderr.contains("Trend pool source: fresh_upstream"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "ESC in piped stderr: {:?}", run.stderr);
}

/// Every stderr line is a JSON object with Cloud Logging's fields.
fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .inspect(|v| {
            assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
            assert!(v["message"].is_string(), "{v}");
        })
        .collect()
}

#[test]
fn json_log_format_writes_one_cloud_logging_object_per_line() {
    let by_flag = tradecycle(&["--log-format", "json", "replay"], &[("TRADECYCLE_LOG", "info")]);
    let by_env = tradecycle(&["replay"], &[("TRADECYCLE_LOG", "info"), ("TRADECYCLE_LOG_FORMAT", "json")]);
    for run in [&by_flag, &by_env] {
        assert_eq!(run.code, 0, "stderr: {}", run.stderr);
        let lines = json_lines(&run.stderr);
        let report = run.json();
        let logged: Vec<&str> = lines.iter().map(|l| l["message"].as_str().unwrap()).collect();
        let cycle_lines: Vec<&str> =
            report["log_lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert!(!cycle_lines.is_empty());
        for line in &cycle_lines {
            assert!(logged.contains(line), "{line:?} not logged: {logged:?}");
        }
        assert!(lines.iter().all(|l| l["severity"] == "INFO"), "{lines:?}");
    }
    // Errors for the operator are JSON entries too, of severity ERROR.
    let failed = tradecycle(&["--log-format", "json", "replay", "--fixtures", "no/such/dir"], &[]);
    assert_eq!(failed.code, 2);
    let lines = json_lines(&failed.stderr);
    assert_eq!(lines.len(), 1, "{}", failed.stderr);
    assert_eq!(lines[0]["severity"], "ERROR");
    assert_eq!(lines[0]["message"], "error: no/such/dir: fixture directory not found");
    let bad = tradecycle(&["replay"], &[("TRADECYCLE_LOG_FORMAT", "xml")]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert_eq!(bad.stderr, "error: TRADECYCLE_LOG_FORMAT: expected text or json, got 'xml'\n");
    // An unset workflow variable arrives empty: text.
    let empty = tradecycle(&["replay"], &[("TRADECYCLE_LOG", "info"), ("TRADECYCLE_LOG_FORMAT", "")]);
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert!(empty.stderr.contains(" INFO ") && !empty.stderr.starts_with('{'), "{}", empty.stderr);
}

/// Live against a slow fake: each request waits `latency`, so the cycle
/// takes seconds and can be signalled part-way.
fn slow_live(latency: Duration) -> Live {
    Live::with_config("cycle_replay", FakeBinanceConfig { latency, ..Default::default() })
}

fn spawn_live(live: &Live, run_id: &str) -> Child {
    let artifacts = live.artifacts();
    let env = live.env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.push(("TRADECYCLE_LOG", "info"));
    let args = ["run", "--live", "--run-id", run_id, "--artifacts", artifacts.to_str().unwrap()];
    command_in(&root(), &args, &pairs).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

fn order_posts(live: &Live) -> usize {
    live.fake.requests().iter().filter(|r| r.method == "POST" && r.path == "/api/v3/order").count()
}

/// Waits (bounded, so a hang fails instead of blocking the suite) until `done`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, sig: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
}

#[test]
fn a_killed_run_has_already_logged_its_early_lines() {
    let live = slow_live(Duration::from_millis(300));
    let mut child = spawn_live(&live, "killed");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut line = String::new();
    while !seen.iter().any(|l: &String| l.contains("Trend pool source: fresh_upstream")) {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "stderr ended first: {seen:?}");
        seen.push(line.clone());
    }
    // The line came while the cycle was still running (its orders, 300 ms
    // each at this fake, were still to come).
    assert!(child.try_wait().unwrap().is_none(), "the run already ended: {seen:?}");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by the signal, not exited");
    assert!(!live.artifacts().join("report-killed.json").exists(), "the report comes only at the end");
}

#[test]
fn sigterm_mid_cycle_finishes_the_order_in_flight_saves_and_exits_6() {
    // The default fake (Earn pacing and all); only slow, so the first order
    // is still waiting for its answer when the signal arrives.
    let live = slow_live(Duration::from_millis(500));
    let child = spawn_live(&live, "sigterm");
    wait_until("the first order to reach the exchange", || order_posts(&live) >= 1);
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "stderr: {stderr}");
    assert!(stderr.contains("SIGTERM received: finishing the order in flight"), "{stderr}");

    // Exactly the order in flight was sent, and it filled.
    assert_eq!(order_posts(&live), 1);
    let orders = live.fake.orders();
    assert_eq!(orders.len(), 1);
    // The cycle's one funding redeem comes before any order; nothing after
    // the stop (no buffer subscribe, no further redeem).
    let earn = live.fake.earn_calls();
    assert!(
        earn.len() <= 1 && earn.iter().all(|c| c.kind == EarnCallKind::Redeem),
        "no Earn move after the stop: {earn:?}"
    );

    // The report: on stdout and in artifacts/, status stopped, the order
    // filled, every later intent skipped for the stop.
    let report = read_json(&live.artifacts().join("report-sigterm.json"));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), report);
    assert_eq!(report["status"], "stopped");
    assert!(strs(&report["warnings"]).contains(&"SIGTERM received: the intents after it were skipped".to_string()));
    let intents = report["intents"].as_array().unwrap();
    let sent = intents.iter().position(|i| i["client_order_id"] == orders[0].client_order_id.as_str()).unwrap();
    assert_eq!(intents[sent]["status"], "filled", "{}", intents[sent]);
    let later = &intents[sent + 1..];
    assert!(!later.is_empty(), "the cycle had more to do");
    for i in later {
        assert_eq!((i["status"].as_str(), i["error"].as_str()), (Some("skipped"), Some(tradecycle::shell::stop::SKIP_REASON)));
    }

    // The state on disk is the cycle's final state: the fill is booked and
    // nothing is left pending.
    let state = live.state();
    assert_eq!(state, report["state_after"]);
    assert!(state["pending_orders"].as_object().is_none_or(|p| p.is_empty()), "{}", state["pending_orders"]);
    assert!(report["state_writes"].as_array().unwrap().iter().all(|w| w["status"] == "written"));
}

#[test]
fn the_spot_testnet_runs_dry_and_live_cycles_without_simple_earn() {
    let live = Live::with_config("cycle_replay", FakeBinanceConfig { spot_testnet: true, ..Default::default() });
    // Testnet accounts hold their USDT on spot (there is no Earn to fund from).
    live.fake.set_balance("USDT", Decimal::from(10_000), Decimal::ZERO);
    let testnet = [("BINANCE_TESTNET", "1")];
    let unavailable = "Simple Earn is unavailable on this exchange; the cycle runs without it: \
                       GET /sapi/v1/simple-earn/flexible/";

    // Not known to be the testnet: the 404 fails the snapshot, naming the setting.
    let refused = live.run(&["--run-id", "tn-prod"], &[]);
    assert_eq!(refused.code, 3, "stderr: {}", refused.stderr);
    let error = refused.json()["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(error.contains("HTTP 404") && error.contains("set BINANCE_TESTNET=1"), "{error}");

    let dry = live.run(&["--run-id", "tn-dry"], &testnet);
    assert_eq!(dry.code, 0, "stderr: {}\nstdout: {}", dry.stderr, dry.stdout);
    let r = dry.json();
    assert_eq!((r["mode"].as_str(), r["status"].as_str()), (Some("dry_run"), Some("ok")));
    assert!(strs(&r["warnings"]).iter().any(|w| w.starts_with(unavailable)), "{}", r["warnings"]);
    assert!(r["intents"].as_array().unwrap().iter().all(|i| i["status"] == "suppressed"));
    assert!(r["intents"].as_array().unwrap().iter().all(|i| !i["kind"].as_str().unwrap().starts_with("earn")));

    let run = live.run(&["--live", "--run-id", "tn-live"], &testnet);
    assert_eq!(run.code, 0, "stderr: {}\nstdout: {}", run.stderr, run.stdout);
    let r = run.json();
    assert_eq!((r["mode"].as_str(), r["status"].as_str()), (Some("live"), Some("ok")));
    let warnings = strs(&r["warnings"]);
    assert!(warnings.iter().any(|w| w.starts_with(unavailable)), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("the key's permissions were not checked")), "{warnings:?}");
    let filled = r["intents"].as_array().unwrap().iter().filter(|i| i["status"] == "filled").count();
    assert!(filled >= 2, "{}", run.stdout);
    assert_eq!(live.fake.orders().len(), filled);
    assert!(live.fake.earn_calls().is_empty());
    let requests = live.fake.requests();
    assert!(!requests.iter().any(|q| q.path == "/sapi/v1/account/apiRestrictions"), "preflight skipped");
    assert!(requests.iter().filter(|q| q.path.starts_with("/sapi/")).all(|q| q.status == Some(404)));
    assert!(live.state()["pending_orders"].as_object().is_none_or(|p| p.is_empty()));
}
