//! `tradecycle dispatch` against the fake GitHub API on 127.0.0.1: success
//! on the first try, transient failures retried with the configured growing
//! delays, configuration and permission failures failing at once, refused
//! connections retried and then alerted — through the library (exact delays,
//! recorded alerts) and through the binary (exit codes, messages, the real
//! Telegram notifier against the fake Bot API).

mod common;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::Recorder;
use serde_json::json;
use tradecycle::adapters::github::{GitHubClient, Pause};
use tradecycle::commands::dispatch::{self, DispatchConfig, parse_env_file};
use tradecycle::notify::event::Lang;
use tradecycle::ports::Clock;
use tradecycle_fakes::github::{FakeGitHub, Reply, refused_url};
use tradecycle_fakes::telegram::FakeTelegram;

const GH_TOKEN: &str = "ghp_FAKE0123456789abcdefDoNotPrint";
const TG_TOKEN: &str = "123456789:TEST-dispatch_token-do-not-print";
const CHAT: i64 = 777;

impl Recorder {
    fn sent(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Records the waits without waiting.
#[derive(Default)]
struct Pauses(Mutex<Vec<Duration>>);

impl Pause for Pauses {
    async fn pause(&self, delay: Duration) {
        self.0.lock().unwrap().push(delay);
    }
}

impl Pauses {
    fn secs(&self) -> Vec<u64> {
        self.0.lock().unwrap().iter().map(Duration::as_secs).collect()
    }
}

struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-15T10:17:03Z").unwrap().with_timezone(&Utc)
    }
}

fn config(api_url: &str, extra: &str) -> DispatchConfig {
    let text = format!(
        "GITHUB_TOKEN={GH_TOKEN}\nREPO=owner/repo\nWORKFLOW=cycle.yml\nREF=main\nGITHUB_API_URL={api_url}\n{extra}"
    );
    DispatchConfig::from_env(&parse_env_file(&text).unwrap()).unwrap()
}

fn client(cfg: &DispatchConfig) -> GitHubClient {
    GitHubClient::new(&cfg.api_url, cfg.token.clone(), Duration::from_secs(5), Duration::from_secs(10)).unwrap()
}

/// Runs the library's whole command; returns (exit code, waits, alerts, log).
async fn run_lib(cfg: &DispatchConfig) -> (u8, Vec<u64>, Vec<String>, Vec<String>) {
    let (pauses, alerts) = (Pauses::default(), Recorder::default());
    let mut log = Vec::new();
    let code =
        dispatch::run(cfg, &client(cfg), &pauses, Some(&alerts), Lang::En, "vps-test", &Fixed, &mut |l| log.push(l))
            .await;
    (code, pauses.secs(), alerts.sent(), log)
}

fn alert(attempts: &str, reason: &str, response: &str) -> String {
    format!(
        "🤖 tradecycle:\n\
         🚨 [Dispatch Failed] the cycle workflow was not started\n\
         Host: vps-test\n\
         Repo: owner/repo\n\
         Workflow: cycle.yml\n\
         Ref: main\n\
         Time (UTC): 2026-03-15 10:17:03\n\
         Reason: {reason}\n\
         Attempts: {attempts}\n\
         Response: {response}"
    )
}

#[tokio::test]
async fn dispatched_on_the_first_try() {
    let gh = FakeGitHub::start().await;
    let cfg = config(&gh.url(), "VALIDATE_ONLY=true\n");
    let (code, waits, alerts, log) = run_lib(&cfg).await;
    assert_eq!((code, waits, alerts), (0, vec![], vec![]));
    assert_eq!(log, ["dispatched repo=owner/repo workflow=cycle.yml ref=main attempt=1/4"]);
    let sent = gh.dispatches();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/repos/owner/repo/actions/workflows/cycle.yml/dispatches")
    );
    assert_eq!(r.json(), json!({"ref": "main", "inputs": {"validate_only": "true"}}));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {GH_TOKEN}").as_str()));
    assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("user-agent").unwrap().starts_with("tradecycle/"));
}

#[tokio::test]
async fn transient_failures_are_retried_with_growing_delays() {
    let gh = FakeGitHub::start().await;
    gh.script_dispatch([
        Reply::error(503, "Service Unavailable"),
        Reply::error(502, "Bad Gateway"),
        Reply::no_content(),
    ]);
    let cfg = config(&gh.url(), "");
    let (code, waits, alerts, log) = run_lib(&cfg).await;
    assert_eq!((code, waits, alerts), (0, vec![15, 30], vec![]), "waits are base·k: 15 s, then 30 s");
    assert_eq!(
        log,
        [
            "dispatch attempt=1/4 failed repo=owner/repo workflow=cycle.yml ref=main: HTTP 503; retrying in 15s",
            "dispatch attempt=2/4 failed repo=owner/repo workflow=cycle.yml ref=main: HTTP 502; retrying in 30s",
            "dispatched repo=owner/repo workflow=cycle.yml ref=main attempt=3/4",
        ]
    );
    assert_eq!(gh.dispatches().iter().map(|r| r.status).collect::<Vec<_>>(), [503, 502, 204]);
}

#[tokio::test]
async fn transient_failures_that_never_clear_alert_after_the_last_attempt() {
    let gh = FakeGitHub::start().await;
    gh.script_dispatch(std::iter::repeat_n(Reply::error(504, "Gateway Timeout"), 5));
    let cfg = config(&gh.url(), "DISPATCH_MAX_ATTEMPTS=3\nDISPATCH_RETRY_BASE_SECONDS=7\n");
    let (code, waits, alerts, _) = run_lib(&cfg).await;
    assert_eq!((code, waits), (1, vec![7, 14]));
    assert_eq!(gh.dispatches().len(), 3);
    let body = Reply::error(504, "Gateway Timeout").body;
    assert!(body.contains("\"message\":\"Gateway Timeout\""));
    assert_eq!(alerts, [alert("3/3", "HTTP 504, still failing after 3 attempts", &body)]);
}

#[tokio::test]
async fn configuration_and_permission_failures_are_not_retried() {
    for (status, message) in [
        (401, "Bad credentials"),
        (403, "Resource not accessible by personal access token"),
        (404, "Not Found"),
        (422, "No ref found for: main"),
    ] {
        let gh = FakeGitHub::start().await;
        gh.script_dispatch([Reply::error(status, message), Reply::no_content()]);
        let cfg = config(&gh.url(), "");
        let (code, waits, alerts, log) = run_lib(&cfg).await;
        assert_eq!((code, waits), (1, vec![]), "{status}");
        assert_eq!(gh.dispatches().len(), 1, "{status} is not retried");
        let reason = format!("HTTP {status}: configuration or permission error, not retried");
        assert_eq!(
            log,
            [
                format!("dispatch failed repo=owner/repo workflow=cycle.yml ref=main attempt=1/4: {reason}"),
                "alert sent".into()
            ]
        );
        assert_eq!(alerts, [alert("1/4", &reason, &Reply::error(status, message).body)], "{status}");
    }
}

#[tokio::test]
async fn the_response_quoted_in_the_alert_is_at_most_800_bytes() {
    let gh = FakeGitHub::start().await;
    gh.script_dispatch([Reply::raw(422, &"é".repeat(1000))]);
    let (code, _, alerts, _) = run_lib(&config(&gh.url(), "")).await;
    assert_eq!(code, 1);
    let response = alerts[0].rsplit_once("Response: ").unwrap().1;
    assert_eq!(response, "é".repeat(400));
}

#[tokio::test]
async fn refused_connections_are_retried_then_alerted() {
    let cfg = config(&refused_url(), "");
    let (code, waits, alerts, log) = run_lib(&cfg).await;
    assert_eq!((code, waits), (1, vec![15, 30, 45]));
    assert_eq!(log.len(), 5);
    assert_eq!(log[4], "alert sent");
    assert!(
        log[3].starts_with("dispatch failed repo=owner/repo workflow=cycle.yml ref=main attempt=4/4: network error: ")
    );
    assert!(log[3].ends_with(", still failing after 4 attempts"), "{}", log[3]);
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].contains("\nReason: network error: "), "{}", alerts[0]);
    assert!(alerts[0].contains("\nAttempts: 4/4\n"), "{}", alerts[0]);
    assert!(!alerts.concat().contains(GH_TOKEN));
}

// ---- the binary -------------------------------------------------------------

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `tradecycle dispatch <args>` with only PATH and HOME set; async so
/// the fake servers on this test's runtime keep answering meanwhile.
async fn tradecycle(home: &Path, args: &[&str]) -> Run {
    tradecycle_with(home, args, &[]).await
}

/// As [`tradecycle`], with `env` in the process environment too.
async fn tradecycle_with(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradecycle"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("binary runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stdout.contains(GH_TOKEN) && !run.stderr.contains(GH_TOKEN), "token printed: {}", run.stderr);
    assert!(!run.stdout.contains(TG_TOKEN) && !run.stderr.contains(TG_TOKEN), "token printed: {}", run.stderr);
    run
}

/// Writes `~/.config/tradecycle/dispatch.env` (mode 600) under `home`.
fn env_file(home: &Path, text: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = home.join(".config/tradecycle");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dispatch.env");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn settings(gh_url: &str, tg_url: &str, extra: &str) -> String {
    format!(
        "# written by scripts/install-cron.sh\n\
         export GITHUB_TOKEN='{GH_TOKEN}'\n\
         export REPO='owner/repo'\n\
         export WORKFLOW='cycle.yml'\n\
         export REF='main'\n\
         export GITHUB_API_URL='{gh_url}'\n\
         export TG_TOKEN='{TG_TOKEN}'\n\
         export GLOBAL_TELEGRAM_CHAT_ID='{CHAT}'\n\
         export TELEGRAM_API_URL='{tg_url}'\n\
         {extra}"
    )
}

async fn telegram() -> FakeTelegram {
    let tg = FakeTelegram::start(TG_TOKEN).await;
    tg.add_chat(CHAT);
    tg
}

#[tokio::test]
async fn binary_dispatches_with_the_default_env_file() {
    let (gh, tg, home) = (FakeGitHub::start().await, telegram().await, tempfile::tempdir().unwrap());
    env_file(home.path(), &settings(&gh.url(), &tg.url(), ""));
    let run = tradecycle(home.path(), &["dispatch", "--live"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.trim_end().ends_with(" dispatched repo=owner/repo workflow=cycle.yml ref=main attempt=1/4"),
        "{}",
        run.stderr
    );
    assert_eq!(gh.dispatches()[0].json(), json!({"ref": "main", "inputs": {"live": "true"}}));
    assert!(tg.messages().is_empty());
}

#[tokio::test]
async fn binary_retries_a_503_with_zero_base_delay() {
    let (gh, tg, home) = (FakeGitHub::start().await, telegram().await, tempfile::tempdir().unwrap());
    gh.script_dispatch([Reply::error(503, "Service Unavailable")]);
    let path = env_file(home.path(), &settings(&gh.url(), &tg.url(), "DISPATCH_RETRY_BASE_SECONDS=0\n"));
    let run = tradecycle(home.path(), &["dispatch", "--env-file", path.to_str().unwrap()]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(
        "dispatch attempt=1/4 failed repo=owner/repo workflow=cycle.yml ref=main: HTTP 503; retrying in 0s\n"
    ));
    assert_eq!(gh.dispatches().iter().map(|r| r.status).collect::<Vec<_>>(), [503, 204]);
    assert!(tg.messages().is_empty());
}

#[tokio::test]
async fn binary_alerts_telegram_once_on_permanent_failures() {
    for status in [401, 404, 422] {
        let (gh, tg, home) = (FakeGitHub::start().await, telegram().await, tempfile::tempdir().unwrap());
        gh.script_dispatch([Reply::error(status, "nope")]);
        env_file(home.path(), &settings(&gh.url(), &tg.url(), ""));
        let run = tradecycle(home.path(), &["dispatch"]).await;
        assert_eq!(run.code, 1, "{status}: {}", run.stderr);
        assert_eq!(gh.dispatches().len(), 1);
        let messages = tg.messages();
        assert_eq!(messages.len(), 1, "{status}");
        assert_eq!(messages[0].chat_id, CHAT);
        let text = &messages[0].text;
        assert!(
            text.starts_with("🤖 tradecycle:\n🚨 [Dispatch Failed] the cycle workflow was not started\nHost: "),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "\nReason: HTTP {status}: configuration or permission error, not retried\nAttempts: 1/4\n"
            )),
            "{text}"
        );
        assert!(run.stderr.contains(" alert sent\n"), "{}", run.stderr);
    }
}

#[tokio::test]
async fn binary_retries_refused_connections_then_alerts() {
    let (tg, home) = (telegram().await, tempfile::tempdir().unwrap());
    env_file(
        home.path(),
        &settings(&refused_url(), &tg.url(), "DISPATCH_MAX_ATTEMPTS=3\nDISPATCH_RETRY_BASE_SECONDS=0\n"),
    );
    let run = tradecycle(home.path(), &["dispatch"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr.matches("; retrying in 0s").count(), 2, "{}", run.stderr);
    let messages = tg.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].text.contains("\nReason: network error: "), "{}", messages[0].text);
    assert!(messages[0].text.contains(", still failing after 3 attempts\nAttempts: 3/3\n"), "{}", messages[0].text);
}

#[tokio::test]
async fn binary_failure_without_telegram_still_exits_1() {
    let (gh, home) = (FakeGitHub::start().await, tempfile::tempdir().unwrap());
    gh.script_dispatch([Reply::error(403, "Forbidden")]);
    env_file(
        home.path(),
        &format!("GITHUB_TOKEN={GH_TOKEN}\nREPO=o/r\nWORKFLOW=cycle.yml\nREF=main\nGITHUB_API_URL={}\n", gh.url()),
    );
    let run = tradecycle(home.path(), &["dispatch"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(" telegram not configured (TG_TOKEN, GLOBAL_TELEGRAM_CHAT_ID): alert not sent\n"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn binary_configuration_errors_exit_2_naming_the_variable() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join(".config/tradecycle/dispatch.env");
    let run = tradecycle(home.path(), &["dispatch"]).await;
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the dispatch env file {}: No such file or directory (os error 2) \
             (or set GITHUB_TOKEN, REPO, WORKFLOW and REF in the environment)\n",
            missing.display()
        )
    );
    let cases = [
        ("REPO=o/r\nWORKFLOW=cycle.yml\nREF=main\n", "GITHUB_TOKEN: not set"),
        (&format!("GITHUB_TOKEN={GH_TOKEN}\nWORKFLOW=cycle.yml\n") as &str, "REPO: not set; REF: not set"),
        (
            &format!("GITHUB_TOKEN={GH_TOKEN}\nREPO=o/r\nWORKFLOW=cycle.yml\nREF=main\nDISPATCH_MAX_ATTEMPTS=0\n"),
            "DISPATCH_MAX_ATTEMPTS: expected a positive whole number, got '0'",
        ),
        (
            &format!(
                "GITHUB_TOKEN={GH_TOKEN}\nREPO=o/r\nWORKFLOW=cycle.yml\nREF=main\nDISPATCH_RETRY_BASE_SECONDS=-1\n"
            ),
            "DISPATCH_RETRY_BASE_SECONDS: expected a non-negative whole number, got '-1'",
        ),
        (
            &format!("GITHUB_TOKEN={GH_TOKEN}\nREPO=o/r\nWORKFLOW=cycle.yml\nREF=main\nTG_TOKEN={TG_TOKEN}\n"),
            "GLOBAL_TELEGRAM_CHAT_ID: not set, but TG_TOKEN is; set both for Telegram or neither",
        ),
        (&format!("GITHUB_TOKEN='{GH_TOKEN}\n"), "line 1 (GITHUB_TOKEN): unterminated single quote"),
    ];
    for (text, message) in cases {
        let path = env_file(home.path(), text);
        let run = tradecycle(home.path(), &["dispatch"]).await;
        assert_eq!((run.code, run.stderr), (2, format!("error: {}: {message}\n", path.display())));
    }
}

#[tokio::test]
async fn binary_check_prints_the_settings_without_the_token() {
    let (gh, tg, home) = (FakeGitHub::start().await, telegram().await, tempfile::tempdir().unwrap());
    let path = env_file(home.path(), &settings(&gh.url(), &tg.url(), "VALIDATE_ONLY=1\n"));
    let run = tradecycle(home.path(), &["dispatch", "--check"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "env file: {}\nrepo: owner/repo\nworkflow: cycle.yml\nref: main\ninputs: {{\"validate_only\":\"true\"}}\n\
             attempts: 4, retry base: 15s\napi: {}\ntoken: set (not shown)\nfailure alert: telegram\n",
            path.display(),
            gh.url()
        )
    );
    assert!(gh.requests().is_empty() && tg.requests().is_empty(), "--check sends nothing");
}

#[tokio::test]
async fn binary_warns_when_the_env_file_is_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let (gh, home) = (FakeGitHub::start().await, tempfile::tempdir().unwrap());
    let path = env_file(
        home.path(),
        &format!("GITHUB_TOKEN={GH_TOKEN}\nREPO=o/r\nWORKFLOW=cycle.yml\nREF=main\nGITHUB_API_URL={}\n", gh.url()),
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = tradecycle(home.path(), &["dispatch"]).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.starts_with(&format!(
            "warning: {} is readable by other users (mode 644); it holds a token: chmod 600 it\n",
            path.display()
        )),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn binary_process_environment_wins_over_the_env_file() {
    let (gh, tg, home) = (FakeGitHub::start().await, telegram().await, tempfile::tempdir().unwrap());
    let path = env_file(home.path(), &settings(&gh.url(), &tg.url(), "LIVE=true\nVALIDATE_ONLY=true\n"));
    // REF and LIVE from the process win; an empty VALIDATE_ONLY counts as
    // unset and leaves the file's value.
    let process = [("REF", "release"), ("LIVE", "false"), ("VALIDATE_ONLY", "")];
    let check = tradecycle_with(home.path(), &["dispatch", "--check"], &process).await;
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.starts_with(&format!(
            "env file: {}\nfrom the process environment (wins over the file): LIVE, REF\nrepo: owner/repo\n\
             workflow: cycle.yml\nref: release\ninputs: {{\"live\":\"false\",\"validate_only\":\"true\"}}\n",
            path.display()
        )),
        "{}",
        check.stdout
    );
    let run = tradecycle_with(home.path(), &["dispatch"], &process).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        gh.dispatches()[0].json(),
        json!({"ref": "release", "inputs": {"live": "false", "validate_only": "true"}})
    );
    assert!(tg.messages().is_empty());
}

#[tokio::test]
async fn binary_runs_from_the_environment_alone_without_the_default_file() {
    let (gh, home) = (FakeGitHub::start().await, tempfile::tempdir().unwrap());
    let url = gh.url();
    let process = [
        ("GITHUB_TOKEN", GH_TOKEN),
        ("REPO", "owner/repo"),
        ("WORKFLOW", "cycle.yml"),
        ("REF", "main"),
        ("GITHUB_API_URL", url.as_str()),
    ];
    let run = tradecycle_with(home.path(), &["dispatch"], &process).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(gh.dispatches()[0].json(), json!({"ref": "main", "inputs": {}}));

    // A file asked for by name must exist.
    let missing = home.path().join("nope.env");
    let run = tradecycle_with(home.path(), &["dispatch", "--env-file", missing.to_str().unwrap()], &process).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("cannot read the dispatch env file {}", missing.display())), "{}", run.stderr);
    assert_eq!(gh.dispatches().len(), 1);
}

#[tokio::test]
async fn binary_exits_at_once_on_sigterm_while_waiting_to_retry() {
    let (gh, home) = (FakeGitHub::start().await, tempfile::tempdir().unwrap());
    gh.script_dispatch([Reply::error(503, "Service Unavailable")]);
    // An hour between attempts: only the signal can end this run soon.
    let text = settings(&gh.url(), "http://127.0.0.1:9", "DISPATCH_RETRY_BASE_SECONDS=3600\n");
    let path = env_file(home.path(), &text);
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradecycle"))
        .args(["dispatch", "--env-file", path.to_str().unwrap()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    for _ in 0..6000 {
        if !gh.dispatches().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(gh.dispatches().len(), 1, "the first attempt reached GitHub");
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().await.unwrap();
    // Nothing to finish: it ends as an unhandled SIGTERM would (128 + 15).
    assert_eq!(out.status.code(), Some(143), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(gh.dispatches().len(), 1);
}
