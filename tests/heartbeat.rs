//! `tradecycle heartbeat` against the fake GitHub API: the run listings
//! read with the reference's retry policy (Retry-After, growing delays,
//! no retry on other errors), the repository-wide fallback, and the whole
//! command end to end through the binary with the fake Telegram.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::Recorder;
use serde_json::{Value, json};
use tradecycle::adapters::github::{GitHubClient, Pause};
use tradecycle::commands::heartbeat::{self, Health, HeartbeatConfig};
use tradecycle::config::Env;
use tradecycle::domain::alerts::AlertBook;
use tradecycle::notify::event::Lang;
use tradecycle::secret::Secret;
use tradecycle_fakes::github::{FakeGitHub, Reply, refused_url, run};
use tradecycle_fakes::telegram::FakeTelegram;

const GH_TOKEN: &str = "ghs_FAKEheartbeat0123456789DoNotPrint";
const TG_TOKEN: &str = "123456789:TEST-heartbeat_token-do-not-print";
const CHAT: i64 = 515;
const NOW: &str = "2026-03-15T12:00:00Z";

#[derive(Default)]
struct Pauses(Mutex<Vec<Duration>>);

impl Pause for Pauses {
    async fn pause(&self, delay: Duration) {
        self.0.lock().unwrap().push(delay);
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW).unwrap().with_timezone(&Utc)
}

fn ago(minutes: i64) -> String {
    (now() - chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn config(url: &str) -> HeartbeatConfig {
    let env: Env = [("GITHUB_REPOSITORY", "owner/repo"), ("GITHUB_API_URL", url)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    HeartbeatConfig::from_env(&env).unwrap()
}

struct Outcome {
    status: Health,
    reason: &'static str,
    code: u8,
    waits: Vec<Duration>,
    alerts: Vec<String>,
    printed: Vec<String>,
    log: Vec<String>,
    book: AlertBook,
}

async fn run_lib(cfg: &HeartbeatConfig) -> Outcome {
    run_lib_with(cfg, &AlertBook::default(), now()).await
}

/// One heartbeat through the library with this alert book, at `at`.
async fn run_lib_with(cfg: &HeartbeatConfig, book: &AlertBook, at: DateTime<Utc>) -> Outcome {
    let client =
        GitHubClient::new(&cfg.api_url, Secret::new(GH_TOKEN), Duration::from_secs(5), Duration::from_secs(10))
            .unwrap();
    let (pauses, alerts) = (Pauses::default(), Recorder::default());
    let (mut printed, mut log) = (Vec::new(), Vec::new());
    let (a, book, code) =
        heartbeat::run(cfg, &client, &pauses, Some(&alerts), Lang::En, at, book, &mut |l| printed.push(l), &mut |l| {
            log.push(l)
        })
        .await;
    Outcome {
        status: a.status,
        reason: a.reason,
        code,
        waits: pauses.0.into_inner().unwrap(),
        alerts: alerts.0.into_inner().unwrap(),
        printed,
        log,
        book,
    }
}

#[tokio::test]
async fn reads_the_workflow_listing_with_branch_and_page_size() {
    let gh = FakeGitHub::start().await;
    gh.set_workflow_runs("cycle.yml", vec![run(12, "completed", Some("success"), &ago(20))]);
    let o = run_lib(&config(&gh.url())).await;
    assert_eq!((o.status, o.reason, o.code), (Health::Healthy, "recent_success", 0));
    assert!(o.alerts.is_empty());
    let reqs = gh.requests();
    assert_eq!(reqs[0].path, "/repos/owner/repo/actions/workflows/cycle.yml/runs");
    assert_eq!(reqs[0].query, [("branch".to_string(), "main".to_string()), ("per_page".into(), "30".into())].into());
    assert_eq!(reqs[0].header("authorization"), Some(format!("Bearer {GH_TOKEN}").as_str()));
    assert_eq!(reqs[0].header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(reqs[1].path, "/repos/owner/repo/actions/runs");
    // The repository listing is unset (404): skipped, not fatal.
    assert_eq!(o.log.len(), 1);
    assert!(
        o.log[0].starts_with("repository-level run lookup skipped: GET /repos/owner/repo/actions/runs: HTTP 404: ")
    );
    let printed: Value = serde_json::from_str(&o.printed[0]).unwrap();
    assert_eq!(printed["status"], "healthy");
    assert_eq!(printed["latest_success"]["run_number"], 12);
    assert_eq!(
        o.printed[1],
        format!("heartbeat OK: run=12 created_at={} url=https://github.com/owner/repo/actions/runs/12", ago(20))
    );
}

#[tokio::test]
async fn a_503_with_retry_after_0_is_retried_once_without_waiting() {
    let gh = FakeGitHub::start().await;
    gh.set_workflow_runs("cycle.yml", vec![run(12, "completed", Some("success"), &ago(20))]);
    gh.script_runs([Reply::error(503, "Service Unavailable").with_header("retry-after", "0")]);
    let o = run_lib(&config(&gh.url())).await;
    assert_eq!((o.status, o.code), (Health::Healthy, 0));
    assert_eq!(o.waits, [Duration::ZERO]);
    assert!(o.log[0].starts_with("GitHub API request failed (HTTP 503: "), "{}", o.log[0]);
    assert!(o.log[0].ends_with("); retrying in 0s (attempt 2/4)"), "{}", o.log[0]);
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 200, 404]);
}

#[tokio::test]
async fn a_long_retry_after_is_clamped_to_30_seconds_and_429_is_retried() {
    let gh = FakeGitHub::start().await;
    gh.set_workflow_runs("cycle.yml", vec![run(12, "completed", Some("success"), &ago(20))]);
    gh.script_runs([
        Reply::error(429, "slow down").with_header("retry-after", "120"),
        Reply::error(502, "Bad Gateway"),
    ]);
    let o = run_lib(&config(&gh.url())).await;
    assert_eq!((o.status, o.code), (Health::Healthy, 0));
    assert_eq!(o.waits, [Duration::from_secs(30), Duration::from_secs(2)]);
}

#[tokio::test]
async fn a_403_is_not_retried_and_makes_the_check_unavailable() {
    let gh = FakeGitHub::start().await;
    gh.script_runs([Reply::error(403, "Resource not accessible by integration")]);
    let o = run_lib(&config(&gh.url())).await;
    assert_eq!((o.status, o.reason, o.code), (Health::Unavailable, "github_actions_query_unavailable", 1));
    assert!(o.waits.is_empty());
    assert_eq!(gh.requests().len(), 1);
    assert_eq!(o.alerts.len(), 1);
    assert!(
        o.alerts[0].contains(
            "Issue: GitHub Actions could not be queried: GET /repos/owner/repo/actions/workflows/cycle.yml/runs: HTTP 403: "
        ),
        "{}",
        o.alerts[0]
    );
    assert_eq!(o.printed[1], "heartbeat UNAVAILABLE: reason=github_actions_query_unavailable consecutive_misses=0");
}

#[tokio::test]
async fn network_errors_are_retried_four_times_with_1_2_4_second_waits() {
    let o = run_lib(&config(&refused_url())).await;
    assert_eq!((o.status, o.code), (Health::Unavailable, 1));
    assert_eq!(o.waits, [1, 2, 4].map(Duration::from_secs));
    assert_eq!(o.alerts.len(), 1);
    assert!(o.alerts[0].contains("(after 4 attempts)"), "{}", o.alerts[0]);
    assert!(!o.alerts[0].contains(GH_TOKEN));
}

#[tokio::test]
async fn the_repository_listing_finds_a_success_the_workflow_listing_missed() {
    let gh = FakeGitHub::start().await;
    gh.set_workflow_runs("cycle.yml", vec![run(10, "completed", Some("success"), &ago(300))]);
    let mut other = run(99, "completed", Some("failure"), &ago(1));
    other["path"] = json!(".github/workflows/ci.yml");
    gh.set_repository_runs(vec![other, run(11, "completed", Some("success"), &ago(30))]);
    let o = run_lib(&config(&gh.url())).await;
    assert_eq!((o.status, o.reason, o.code), (Health::Healthy, "recent_success", 0));
    assert!(o.alerts.is_empty(), "no Telegram when healthy");
}

#[tokio::test]
async fn each_state_from_recorded_run_lists() {
    let cases: [(Vec<Value>, Health, &str, u64, u8); 6] = [
        (vec![run(3, "completed", Some("success"), &ago(10))], Health::Healthy, "recent_success", 0, 0),
        (
            vec![run(4, "in_progress", None, &ago(5)), run(3, "completed", Some("success"), &ago(180))],
            Health::Parked,
            "runtime_dispatch_pending",
            0,
            0,
        ),
        (
            vec![run(3, "completed", Some("success"), &ago(160))],
            Health::Alert,
            "consecutive_runtime_dispatches_missing",
            2,
            1,
        ),
        (
            vec![run(4, "completed", Some("failure"), &ago(10)), run(3, "completed", Some("success"), &ago(70))],
            Health::Alert,
            "latest_runtime_completed_unsuccessfully",
            0,
            1,
        ),
        (vec![], Health::Alert, "no_successful_runtime_run_observed", 0, 1),
        (
            vec![run(5, "completed", Some("success"), &ago(100))],
            Health::Deferred,
            "awaiting_dispatch_confirmation",
            1,
            0,
        ),
    ];
    for (runs, status, reason, misses, code) in cases {
        let gh = FakeGitHub::start().await;
        gh.set_workflow_runs("cycle.yml", runs);
        let mut cfg = config(&gh.url());
        // Deferred needs a lookback shorter than the time since the success.
        cfg.settings.lookback_hours = 1.5;
        let o = run_lib(&cfg).await;
        let printed: Value = serde_json::from_str(&o.printed[0]).unwrap();
        assert_eq!((o.status, o.reason, o.code), (status, reason, code), "{reason}");
        assert_eq!(printed["consecutive_misses"], misses, "{reason}");
        assert_eq!(o.alerts.len(), usize::from(status == Health::Alert), "{reason}");
    }
    // Alerts do not fail the command when told not to.
    let gh = FakeGitHub::start().await;
    gh.set_workflow_runs("cycle.yml", vec![]);
    let mut cfg = config(&gh.url());
    cfg.fail_on_alert = false;
    let o = run_lib(&cfg).await;
    assert_eq!((o.status, o.code, o.alerts.len()), (Health::Alert, 0, 1));
}

/// Runs dispatched but never picked up (the self-hosted runner is offline):
/// the alert is raised once, stays quiet while the runs sit queued, reminds
/// after ALERT_REMIND_HOURS, and clears once when the runs complete.
#[tokio::test]
async fn runs_queued_past_the_interval_alert_once_remind_and_clear_once() {
    let gh = FakeGitHub::start().await;
    // As seen at `base`: the oldest run queued 75 min, a success 85 min ago.
    let queued = |base: DateTime<Utc>| {
        let ago = |m: i64| (base - chrono::Duration::minutes(m)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        vec![
            run(31, "queued", None, &ago(15)),
            run(30, "queued", None, &ago(75)),
            run(29, "completed", Some("success"), &ago(85)),
        ]
    };
    gh.set_workflow_runs("cycle.yml", queued(now()));
    let cfg = config(&gh.url());
    let o = run_lib_with(&cfg, &AlertBook::default(), now()).await;
    assert_eq!((o.status, o.reason, o.code), (Health::Alert, "runtime_runs_queued", 1));
    assert_eq!(o.alerts.len(), 1, "{:?}", o.alerts);
    assert!(
        o.alerts[0].contains(&format!(
            "Issue: 1 run(s) queued longer than 60 minutes (oldest created at {}): is the self-hosted runner offline?",
            ago(75)
        )),
        "{}",
        o.alerts[0]
    );
    assert_eq!(o.log.last().unwrap(), "alert workflow_runs_queued raised: sent");
    let open = &o.book.0[heartbeat::KEY_QUEUED];
    assert_eq!((open.severity.as_str(), open.count), ("SEV-2", 1));

    // Ten minutes later the runs still sit queued: no second message, still exit 1.
    let later = now() + chrono::Duration::minutes(10);
    let o = run_lib_with(&cfg, &o.book, later).await;
    assert_eq!((o.reason, o.code, o.alerts.len()), ("runtime_runs_queued", 1, 0));
    assert_eq!(o.book.0[heartbeat::KEY_QUEUED].count, 2);

    // ALERT_REMIND_HOURS (24) after the raise, the runner still offline: one reminder.
    let day_later = now() + chrono::Duration::hours(24);
    gh.set_workflow_runs("cycle.yml", queued(day_later));
    let o = run_lib_with(&cfg, &o.book, day_later).await;
    assert_eq!(o.alerts.len(), 1);
    assert!(o.alerts[0].contains("Issue: 1 run(s) queued longer than 60 minutes"), "{}", o.alerts[0]);

    // The runner is back: the runs complete, one clear message, then silence.
    gh.set_workflow_runs(
        "cycle.yml",
        vec![run(31, "completed", Some("success"), &ago(15)), run(30, "completed", Some("success"), &ago(75))],
    );
    let o = run_lib_with(&cfg, &o.book, now()).await;
    assert_eq!((o.status, o.code), (Health::Healthy, 0));
    assert_eq!(o.book.open().count(), 0);
    assert_eq!(o.alerts.len(), 1);
    assert!(
        o.alerts[0].starts_with("🤖 tradecycle:\n✅ [Alert Cleared] SEV-2 workflow_runs_queued\n"),
        "{}",
        o.alerts[0]
    );
    assert!(o.alerts[0].ends_with("\nRunbook: RUNBOOK.md › Workflow heartbeat alerts"), "{}", o.alerts[0]);
    let o = run_lib_with(&cfg, &o.book, now()).await;
    assert!(o.alerts.is_empty());
}

// ---- the binary -------------------------------------------------------------

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn tradecycle(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradecycle"));
    cmd.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("binary runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for token in [GH_TOKEN, TG_TOKEN] {
        assert!(!run.stdout.contains(token) && !run.stderr.contains(token), "token printed");
    }
    run
}

/// Real-clock time `minutes` ago (the binary reads the wall clock).
fn real_ago(minutes: i64) -> String {
    (Utc::now() - chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn env<'a>(gh: &'a str, tg: &'a str, chat: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GITHUB_TOKEN", GH_TOKEN),
        ("GITHUB_REPOSITORY", "owner/repo"),
        ("GITHUB_API_URL", gh),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "4242"),
        ("TG_TOKEN", TG_TOKEN),
        ("GLOBAL_TELEGRAM_CHAT_ID", chat),
        ("TELEGRAM_API_URL", tg),
    ]
}

/// [`env`] with the alert book's store.
fn env_in<'a>(gh: &'a str, tg: &'a str, chat: &'a str, store: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut e = env(gh, tg, chat);
    e.push(("TRADECYCLE_STORE", store));
    e
}

#[tokio::test]
async fn end_to_end_healthy_then_alert_through_the_binary() {
    let gh = FakeGitHub::start().await;
    let tg = FakeTelegram::start(TG_TOKEN).await;
    tg.add_chat(CHAT);
    let (gh_url, tg_url, chat) = (gh.url(), tg.url(), CHAT.to_string());
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out/assessment.json");
    let store = format!("file:{}", dir.path().join("state.json").display());

    gh.set_workflow_runs("cycle.yml", vec![run(21, "completed", Some("success"), &real_ago(15))]);
    let r = tradecycle(&["heartbeat", "--output", output.to_str().unwrap()], &env_in(&gh_url, &tg_url, &chat, &store))
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (json, line) = r.stdout.trim_end().rsplit_once('\n').unwrap();
    let printed: Value = serde_json::from_str(json).unwrap();
    assert_eq!((printed["status"].as_str(), printed["reason"].as_str()), (Some("healthy"), Some("recent_success")));
    assert!(line.starts_with("heartbeat OK: run=21 "), "{line}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(written, printed);
    assert!(tg.messages().is_empty());

    gh.set_workflow_runs(
        "cycle.yml",
        vec![run(22, "completed", Some("failure"), &real_ago(5)), run(21, "completed", Some("success"), &real_ago(65))],
    );
    let r = tradecycle(&["heartbeat"], &env_in(&gh_url, &tg_url, &chat, &store)).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.ends_with("heartbeat ALERT: reason=latest_runtime_completed_unsuccessfully consecutive_misses=0\n")
    );
    let messages = tg.messages();
    assert_eq!(messages.len(), 1);
    let text = &messages[0].text;
    assert!(
        text.starts_with(
            "🤖 tradecycle:\n⚠️ [Workflow Heartbeat] tradecycle cycle\nLookback: 2.5 hours\n\
             Issue: latest cycle run completed with conclusion=failure\nLatest run: #22 status=completed conclusion=failure"
        ),
        "{text}"
    );
    assert!(text.ends_with("\nHeartbeat run: https://github.com/owner/repo/actions/runs/4242"), "{text}");

    // The same failure an hour later (the next heartbeat): still exit 1,
    // no second message — the alert book in the store remembers it.
    let r = tradecycle(&["heartbeat"], &env_in(&gh_url, &tg_url, &chat, &store)).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(tg.messages().len(), 1);
    let book: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state.heartbeat.alerts.heartbeat.owner_repo.cycle.yml.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(book["alerts"]["workflow_unhealthy"]["count"], 2, "{book}");

    // --no-fail: the exit code is 0 while the alert stays open.
    let r = tradecycle(&["heartbeat", "--no-fail"], &env_in(&gh_url, &tg_url, &chat, &store)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(tg.messages().len(), 1);

    // A 3-minute lookback from the flag leaves the failure out: the last
    // success is 65 min old, one interval missed, below the threshold of 2.
    let r = tradecycle(&["heartbeat", "--lookback-hours", "0.05"], &env_in(&gh_url, &tg_url, &chat, &store)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.ends_with("heartbeat DEFERRED: reason=awaiting_dispatch_confirmation consecutive_misses=1\n"));
    let messages = tg.messages();
    assert_eq!(messages.len(), 2, "deferred clears the alert, once");
    assert!(messages[1].text.contains("✅ [Alert Cleared] SEV-2 workflow_unhealthy"), "{}", messages[1].text);
}

/// Environment, arguments, expected stderr.
type Case = (&'static [(&'static str, &'static str)], &'static [&'static str], &'static str);

#[tokio::test]
async fn binary_configuration_errors_exit_2() {
    let cases: [Case; 5] = [
        (&[("GITHUB_TOKEN", GH_TOKEN)], &["heartbeat"], "error: GITHUB_REPOSITORY: not set\n"),
        (&[("GITHUB_REPOSITORY", "o/r")], &["heartbeat"], "error: GITHUB_TOKEN: not set\n"),
        (
            &[("GITHUB_TOKEN", GH_TOKEN), ("GITHUB_REPOSITORY", "o/r"), ("RUNTIME_HEARTBEAT_RUNS_TO_SCAN", "0")],
            &["heartbeat"],
            "error: RUNTIME_HEARTBEAT_RUNS_TO_SCAN: expected a positive whole number, got '0'\n",
        ),
        (
            &[("GITHUB_TOKEN", GH_TOKEN), ("GITHUB_REPOSITORY", "o/r")],
            &["heartbeat", "--lookback-hours=-1"],
            "error: --lookback-hours: expected a positive number, got '-1'\n",
        ),
        (
            &[("GITHUB_TOKEN", GH_TOKEN), ("GITHUB_REPOSITORY", "o/r"), ("GLOBAL_TELEGRAM_CHAT_ID", "5")],
            &["heartbeat"],
            "error: TG_TOKEN: not set, but GLOBAL_TELEGRAM_CHAT_ID (or TG_CHAT_ID) is; set both for Telegram or neither\n",
        ),
    ];
    for (env, args, stderr) in cases {
        let r = tradecycle(args, env).await;
        assert_eq!((r.code, r.stderr.as_str(), r.stdout.as_str()), (2, stderr, ""));
    }
}
