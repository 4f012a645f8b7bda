//! The workflow heartbeat: is the cycle workflow actually running? Reads
//! recent runs of the cycle workflow from the GitHub API and classifies them
//! as healthy / parked / deferred / alert by the rules of behaviour.md §10.3,
//! so a single late dispatch is not an incident but a failed run or a
//! cadence gone quiet is. A cycle that exits 5 (`attention`: finished, needs
//! a look) is a successful workflow run here — `cycle.yml` passes the step
//! with warnings and the cycle alerted its items itself — so the heartbeat
//! does not repeat those alerts; errors and aborts are failed runs.
//!
//! Runs sitting `queued` longer than `RUNTIME_HEARTBEAT_MAX_QUEUED_MINUTES`
//! (a self-hosted runner offline) are an alert of their own.
//!
//! Alerts are durable: the conditions of an assessment move an alert book
//! kept in the state store (`--store` / `TRADECYCLE_STORE`, else the file
//! store [`DEFAULT_STORE`]), so a condition that persists is told once,
//! reminded every `ALERT_REMIND_HOURS` and cleared once — not every hour.
//!
//! [`assess`] is pure (runs + now + settings → assessment); [`fetch_runs`]
//! is the GitHub side with its retry policy; [`run`] moves the book and
//! notifies; [`command`] wires them to the store and the exit code.

pub mod assess;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use assess::{
    Assessment, Health, HeartbeatSettings, KEY_QUEUED, KEY_UNHEALTHY, Query, RunSummary, SCHEMA, WorkflowRun, assess,
    conditions, merge_runs, summary_line, unavailable,
};

use crate::adapters::github::{Answer, GitHubClient, Pause, TokioPause};
use crate::cli::HeartbeatArgs;
use crate::commands::durable_alerts::{self, advance_and_notify, book_key, load_book, save_book};
use crate::commands::watchdog::open_store;
use crate::commands::{exit, telegram_notifier, usage, write_file};
use crate::config::env::{boolean, int, positive_f64, positive_int, value};
use crate::config::settings::lang;
use crate::config::{ConfigError, Env, process_env};
use crate::domain::alerts::{AlertBook, Change, Transition};
use crate::notify::event::Lang;
use crate::notify::messages::prefix;
use crate::ports::Notifier;
use crate::secret::Secret;

/// Where the alert book lives when no state store is configured.
pub const DEFAULT_STORE: &str = "file:artifacts/heartbeat/state.json";

/// Reads of the run listings: attempts, and the longest wait between them.
pub const READ_ATTEMPTS: u32 = 4;
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// Deadline of one GitHub read (the reference's).
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Longest alert text sent (Telegram's limit is 4096).
pub const ALERT_LIMIT_CHARS: usize = 3900;

/// The variables `heartbeat` reads (its section of the one table).
pub use crate::config::variables::HEARTBEAT as VARIABLES;

/// What `tradecycle heartbeat` reads from its environment (and flags).
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatConfig {
    pub repo: String,
    pub workflow: String,
    pub branch: String,
    pub name: String,
    pub runs_to_scan: u32,
    pub fail_on_alert: bool,
    pub settings: HeartbeatSettings,
    pub api_url: String,
    /// This heartbeat run's own page, for the alert (`GITHUB_SERVER_URL` + `GITHUB_RUN_ID`).
    pub run_url: Option<String>,
    /// `ALERT_REMIND_HOURS`: how often an alert that stays open is repeated.
    pub remind: chrono::Duration,
}

impl HeartbeatConfig {
    /// Settings from the environment (`RUNTIME_HEARTBEAT_*`, the reference's
    /// names, so repository variables carry over), defaults as in §10.3.
    pub fn from_env(env: &Env) -> Result<HeartbeatConfig, ConfigError> {
        let text = |k: &str| crate::config::env::text(env, k);
        let repo = text("GITHUB_REPOSITORY").ok_or_else(|| ConfigError("GITHUB_REPOSITORY: not set".into()))?;
        if !crate::adapters::github::valid_repo(&repo) {
            return Err(ConfigError(format!("GITHUB_REPOSITORY: expected owner/name, got '{repo}'")));
        }
        let workflow = text("RUNTIME_HEARTBEAT_WORKFLOW").unwrap_or_else(|| "cycle.yml".into());
        if !crate::adapters::github::valid_segment(&workflow) {
            return Err(ConfigError(format!(
                "RUNTIME_HEARTBEAT_WORKFLOW: expected a workflow file name such as cycle.yml, got '{workflow}'"
            )));
        }
        let runs_to_scan = positive_int(env, "RUNTIME_HEARTBEAT_RUNS_TO_SCAN")?.unwrap_or(30);
        if runs_to_scan > 100 {
            return Err(ConfigError(format!(
                "RUNTIME_HEARTBEAT_RUNS_TO_SCAN: at most 100 (GitHub's page size), got '{runs_to_scan}'"
            )));
        }
        let fail_on_alert = boolean(env, "RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT", true)?;
        let api_url = text("GITHUB_API_URL").unwrap_or_else(|| crate::adapters::github::DEFAULT_API_URL.into());
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(ConfigError(format!("GITHUB_API_URL: expected an http(s) URL, got '{api_url}'")));
        }
        let run_url = match (text("GITHUB_SERVER_URL"), text("GITHUB_RUN_ID")) {
            (Some(server), Some(id)) => Some(format!("{}/{repo}/actions/runs/{id}", server.trim_end_matches('/'))),
            _ => None,
        };
        let expected_interval_hours = positive_f64(env, "RUNTIME_HEARTBEAT_EXPECTED_INTERVAL_HOURS")?.unwrap_or(1.0);
        Ok(HeartbeatConfig {
            branch: text("RUNTIME_HEARTBEAT_BRANCH").unwrap_or_else(|| "main".into()),
            name: text("RUNTIME_HEARTBEAT_NAME").unwrap_or_else(|| "tradecycle cycle".into()),
            runs_to_scan: runs_to_scan as u32,
            fail_on_alert,
            settings: HeartbeatSettings {
                lookback_hours: positive_f64(env, "RUNTIME_HEARTBEAT_LOOKBACK_HOURS")?.unwrap_or(2.5),
                expected_interval_hours,
                max_consecutive_misses: positive_int(env, "RUNTIME_HEARTBEAT_MAX_CONSECUTIVE_MISSES")?.unwrap_or(2),
                max_queued_minutes: positive_f64(env, "RUNTIME_HEARTBEAT_MAX_QUEUED_MINUTES")?
                    .unwrap_or(expected_interval_hours * 60.0),
            },
            remind: chrono::Duration::hours(int(env, "ALERT_REMIND_HOURS", 24)?.max(1)),
            api_url: api_url.trim_end_matches('/').to_string(),
            run_url,
            repo,
            workflow,
        })
    }
}

/// A GitHub read with the reference's retry policy: up to
/// [`READ_ATTEMPTS`] attempts, retrying 429/500/502/503/504 and network
/// errors after `Retry-After` (clamped to 0..30 s) or `2^(k−1)` s (capped at
/// 30 s); any other status fails at once.
pub async fn get_json(
    client: &GitHubClient,
    path: &str,
    query: &[(&str, String)],
    pause: &impl Pause,
    log: &mut dyn FnMut(String),
) -> Result<Value, String> {
    let mut attempt = 1;
    loop {
        let answer = client.get(path, query).await;
        let (problem, retry_after) = match answer {
            Answer::Status { code: 200..=299, body, .. } => {
                return serde_json::from_str(&body).map_err(|e| format!("GET {path}: the answer is not JSON: {e}"));
            }
            Answer::Status { code: code @ (429 | 500 | 502 | 503 | 504), body, retry_after } => {
                (format!("HTTP {code}: {}", body.trim()), retry_after)
            }
            Answer::Status { code, body, .. } => return Err(format!("GET {path}: HTTP {code}: {}", body.trim())),
            Answer::Network(e) => (format!("network error: {e}"), None),
        };
        if attempt >= READ_ATTEMPTS {
            return Err(format!("GET {path}: {problem} (after {attempt} attempts)"));
        }
        let delay = retry_delay(retry_after, attempt);
        log(format!(
            "GitHub API request failed ({problem}); retrying in {}s (attempt {}/{READ_ATTEMPTS})",
            delay.as_secs_f64(),
            attempt + 1
        ));
        pause.pause(delay).await;
        attempt += 1;
    }
}

/// `Retry-After` clamped to 0..30 s, else `2^(attempt−1)` s capped at 30 s.
pub fn retry_delay(retry_after: Option<f64>, attempt: u32) -> Duration {
    let max = MAX_RETRY_DELAY.as_secs_f64();
    let secs = match retry_after {
        Some(s) => s.clamp(0.0, max),
        None => 2f64.powi(attempt.saturating_sub(1).min(16) as i32).min(max),
    };
    Duration::from_secs_f64(secs)
}

fn runs_of(value: &Value) -> Vec<WorkflowRun> {
    value
        .get("workflow_runs")
        .and_then(Value::as_array)
        .map(|runs| runs.iter().filter_map(|r| serde_json::from_value(r.clone()).ok()).collect())
        .unwrap_or_default()
}

/// The cycle workflow's runs on the branch, plus (best effort) the
/// repository-wide listing filtered to the same workflow file, which
/// sometimes shows runs the per-workflow listing has not indexed yet.
pub async fn fetch_runs(
    cfg: &HeartbeatConfig,
    client: &GitHubClient,
    pause: &impl Pause,
    log: &mut dyn FnMut(String),
) -> Result<Vec<WorkflowRun>, String> {
    let query = [("branch", cfg.branch.clone()), ("per_page", cfg.runs_to_scan.to_string())];
    let path = format!("/repos/{}/actions/workflows/{}/runs", cfg.repo, cfg.workflow);
    let mut runs = runs_of(&get_json(client, &path, &query, pause, log).await?);
    let path = format!("/repos/{}/actions/runs", cfg.repo);
    match get_json(client, &path, &query, pause, log).await {
        Ok(v) => {
            let paths = workflow_paths(&cfg.workflow);
            runs.extend(runs_of(&v).into_iter().filter(|r| r.path.as_ref().is_some_and(|p| paths.contains(p))));
        }
        Err(e) => log(format!("repository-level run lookup skipped: {e}")),
    }
    Ok(merge_runs(runs))
}

/// The `path` values a repository-wide listing uses for this workflow.
fn workflow_paths(workflow: &str) -> Vec<String> {
    vec![workflow.to_string(), format!(".github/workflows/{workflow}")]
}

/// The whole command after configuration: fetch, assess, print the
/// assessment JSON and a summary line through `out`, move the alert `book`
/// by the assessment's conditions and send what it owes (a raise, a
/// reminder, a clear). Returns the assessment, the book to save and the
/// exit code (1 while alerting when `fail_on_alert`, else 0 — whether or
/// not a message was due). An undelivered message is logged and owed.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    cfg: &HeartbeatConfig,
    client: &GitHubClient,
    pause: &impl Pause,
    notifier: Option<&impl Notifier>,
    lang: Lang,
    now: DateTime<Utc>,
    book: &AlertBook,
    out: &mut dyn FnMut(String),
    log: &mut dyn FnMut(String),
) -> (Assessment, AlertBook, u8) {
    let assessment = match fetch_runs(cfg, client, pause, log).await {
        Ok(runs) => assess(runs, now, &cfg.settings),
        Err(e) => unavailable(now, &cfg.settings, &e),
    };
    out(serde_json::to_string_pretty(&assessment).unwrap_or_default());
    out(summary_line(&assessment));
    let observed = conditions(&assessment, &issue(&assessment, cfg, lang), &queued_issue(&assessment, lang));
    let text = |t: &Transition| match (t.change, t.key.as_str()) {
        (Change::Cleared, _) => durable_alerts::message(t, lang),
        (_, KEY_QUEUED) => render_alert(queued_issue(&assessment, lang), &assessment, cfg, lang),
        _ => alert_text(&assessment, cfg, lang),
    };
    let (book, _, lines) = advance_and_notify(book, &observed, now, cfg.remind, notifier, text).await;
    lines.into_iter().for_each(&mut *log);
    let code = if assessment.status.alerts() && cfg.fail_on_alert { exit::ERROR } else { exit::OK };
    (assessment, book, code)
}

/// The alert message (at most [`ALERT_LIMIT_CHARS`] chars).
pub fn alert_text(a: &Assessment, cfg: &HeartbeatConfig, lang: Lang) -> String {
    render_alert(issue(a, cfg, lang), a, cfg, lang)
}

/// What is wrong with runs stuck in `queued`, one line.
fn queued_issue(a: &Assessment, lang: Lang) -> String {
    let oldest = a.oldest_queued.as_ref().and_then(|r| r.created_at.clone()).unwrap_or_else(|| "?".into());
    let limit = a.query.max_queued_minutes;
    if lang == Lang::Zh {
        format!("{} 次运行排队超过 {limit} 分钟（最早创建于 {oldest}）：自托管 runner 可能离线", a.queued_too_long)
    } else {
        format!(
            "{} run(s) queued longer than {limit} minutes (oldest created at {oldest}): is the self-hosted runner offline?",
            a.queued_too_long
        )
    }
}

/// What is wrong, one line (the alert's Issue and the durable alert's reason).
fn issue(a: &Assessment, cfg: &HeartbeatConfig, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let pick = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let s = &cfg.settings;
    match a.reason {
        "latest_runtime_completed_unsuccessfully" => {
            let c = a.latest_run.as_ref().and_then(|r| r.conclusion.clone()).unwrap_or_else(|| "<none>".into());
            if zh {
                format!("最近一次周期运行以 conclusion={c} 结束")
            } else {
                format!("latest cycle run completed with conclusion={c}")
            }
        }
        "no_successful_runtime_run_observed" => {
            pick("no successful cycle run found", "没有找到任何成功的周期运行").to_string()
        }
        "consecutive_runtime_dispatches_missing" => {
            if zh {
                format!("已连续错过 {} 次调度（阈值 {}）", a.consecutive_misses, s.max_consecutive_misses)
            } else {
                format!(
                    "{} expected dispatches missed since the last success (threshold {})",
                    a.consecutive_misses, s.max_consecutive_misses
                )
            }
        }
        "runtime_runs_queued" => queued_issue(a, lang),
        "recent_success" | "runtime_dispatch_pending" | "awaiting_dispatch_confirmation" => {
            pick("none", "无").to_string()
        }
        _ => {
            let e = a.error.clone().unwrap_or_default();
            if zh {
                format!("无法查询 GitHub Actions：{e}")
            } else {
                format!("GitHub Actions could not be queried: {e}")
            }
        }
    }
}

/// The alert layout around one issue line.
fn render_alert(issue: String, a: &Assessment, cfg: &HeartbeatConfig, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let pick = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let s = &cfg.settings;
    let mut lines = vec![
        format!("{} {}", pick("⚠️ [Workflow Heartbeat]", "⚠️ [工作流心跳]"), cfg.name),
        format!("{}: {} {}", pick("Lookback", "回看"), s.lookback_hours, pick("hours", "小时")),
        format!("{}: {issue}", pick("Issue", "问题")),
    ];
    let run_line = |r: &RunSummary| {
        format!(
            "#{} status={} conclusion={} created_at={} {}",
            r.run_number.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
            r.status.as_deref().unwrap_or("?"),
            r.conclusion.as_deref().unwrap_or("none"),
            r.created_at.as_deref().unwrap_or("?"),
            r.html_url.as_deref().unwrap_or(""),
        )
        .trim_end()
        .to_string()
    };
    if let Some(r) = &a.latest_run {
        lines.push(format!("{}: {}", pick("Latest run", "最近运行"), run_line(r)));
    }
    if let Some(r) = &a.latest_success {
        lines.push(format!("{}: {}", pick("Latest success", "最近成功"), run_line(r)));
    }
    if let Some(url) = &cfg.run_url {
        lines.push(format!("{}: {url}", pick("Heartbeat run", "心跳运行")));
    }
    let text = format!("{}:\n{}", prefix(lang), lines.join("\n"));
    text.chars().take(ALERT_LIMIT_CHARS).collect()
}

/// `tradecycle heartbeat`: the assessment JSON and a summary line on
/// stdout; exit 1 on alert (unless told not to), 2 on a configuration error.
pub async fn command(args: HeartbeatArgs) -> u8 {
    let env = process_env();
    let mut cfg = match HeartbeatConfig::from_env(&env) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    if let Some(h) = &args.lookback_hours {
        match h.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => cfg.settings.lookback_hours = x,
            _ => return usage(format!("--lookback-hours: expected a positive number, got '{h}'")),
        }
    }
    if args.no_fail {
        cfg.fail_on_alert = false;
    }
    let Some(token) = value(&env, "GITHUB_TOKEN") else {
        return usage("GITHUB_TOKEN: not set");
    };
    let lang = match lang(&env) {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let notifier = match telegram_notifier(&env) {
        Ok(n) => n,
        Err(e) => return usage(e),
    };
    let client = match GitHubClient::new(&cfg.api_url, Secret::new(token), READ_TIMEOUT, READ_TIMEOUT) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let store_flag = args.store.clone().or_else(|| value(&env, "TRADECYCLE_STORE").map(str::to_string));
    let store = match open_store(Some(store_flag.as_deref().unwrap_or(DEFAULT_STORE)), &env).await {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let key = book_key("heartbeat", &format!("{}.{}", cfg.repo, cfg.workflow));
    let book = load_book(&store, &key).await.unwrap_or_else(|e| {
        eprintln!("warning: {e}");
        AlertBook::default()
    });
    let now = Utc::now();
    let (assessment, book, code) = run(
        &cfg,
        &client,
        &TokioPause,
        notifier.as_ref(),
        lang,
        now,
        &book,
        &mut |line| println!("{line}"),
        &mut |line| eprintln!("{line}"),
    )
    .await;
    if let Err(e) = save_book(&store, &key, &book, now).await {
        eprintln!("warning: {e}");
    }
    if let Some(path) = &args.output {
        let json = serde_json::to_string_pretty(&assessment).unwrap_or_default();
        if let Err(e) = write_file(path, &json) {
            eprintln!("error: cannot write the assessment to {}: {e}", path.display());
            return exit::ERROR;
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    // The run builders of the assessment's tests.
    use super::assess::tests::{NOW, at, ok, run};

    #[test]
    fn retry_delays() {
        assert_eq!(retry_delay(None, 1), Duration::from_secs(1));
        assert_eq!(retry_delay(None, 2), Duration::from_secs(2));
        assert_eq!(retry_delay(None, 3), Duration::from_secs(4));
        assert_eq!(retry_delay(None, 9), Duration::from_secs(30));
        assert_eq!(retry_delay(Some(0.0), 1), Duration::ZERO);
        assert_eq!(retry_delay(Some(-5.0), 1), Duration::ZERO);
        assert_eq!(retry_delay(Some(120.0), 1), Duration::from_secs(30));
        assert_eq!(retry_delay(Some(2.5), 3), Duration::from_millis(2500));
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn config_from_env() {
        let c = HeartbeatConfig::from_env(&env(&[("GITHUB_REPOSITORY", "o/r")])).unwrap();
        assert_eq!(
            (c.workflow.as_str(), c.branch.as_str(), c.runs_to_scan, c.fail_on_alert, c.settings),
            ("cycle.yml", "main", 30, true, HeartbeatSettings::default())
        );
        assert_eq!((c.api_url.as_str(), c.run_url), ("https://api.github.com", None));
        let c = HeartbeatConfig::from_env(&env(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_RUN_ID", "99"),
            ("RUNTIME_HEARTBEAT_LOOKBACK_HOURS", "1.5"),
            ("RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT", "false"),
        ]))
        .unwrap();
        assert_eq!(c.settings.lookback_hours, 1.5);
        assert!(!c.fail_on_alert);
        assert_eq!(c.run_url.as_deref(), Some("https://github.com/o/r/actions/runs/99"));
        let err = |pairs: &[(&str, &str)]| HeartbeatConfig::from_env(&env(pairs)).unwrap_err().0;
        assert_eq!(err(&[]), "GITHUB_REPOSITORY: not set");
        assert_eq!(
            err(&[("GITHUB_REPOSITORY", "o/r"), ("RUNTIME_HEARTBEAT_LOOKBACK_HOURS", "0")]),
            "RUNTIME_HEARTBEAT_LOOKBACK_HOURS: expected a positive number, got '0'"
        );
        assert_eq!(
            err(&[("GITHUB_REPOSITORY", "o/r"), ("RUNTIME_HEARTBEAT_MAX_CONSECUTIVE_MISSES", "-1")]),
            "RUNTIME_HEARTBEAT_MAX_CONSECUTIVE_MISSES: expected a positive whole number, got '-1'"
        );
        assert_eq!(
            err(&[("GITHUB_REPOSITORY", "o/r"), ("RUNTIME_HEARTBEAT_EXPECTED_INTERVAL_HOURS", "nan")]),
            "RUNTIME_HEARTBEAT_EXPECTED_INTERVAL_HOURS: expected a positive number, got 'nan'"
        );
    }

    #[test]
    fn alert_texts() {
        let cfg = HeartbeatConfig::from_env(&env(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_RUN_ID", "99"),
        ]))
        .unwrap();
        let a = assess(vec![run(8, "completed", Some("failure"), 10), ok(7, 70)], at(NOW), &cfg.settings);
        assert_eq!(
            alert_text(&a, &cfg, Lang::En),
            "🤖 tradecycle:\n\
             ⚠️ [Workflow Heartbeat] tradecycle cycle\n\
             Lookback: 2.5 hours\n\
             Issue: latest cycle run completed with conclusion=failure\n\
             Latest run: #8 status=completed conclusion=failure created_at=2026-03-15T11:50:00Z https://github.com/o/r/actions/runs/8\n\
             Latest success: #7 status=completed conclusion=success created_at=2026-03-15T10:50:00Z https://github.com/o/r/actions/runs/7\n\
             Heartbeat run: https://github.com/o/r/actions/runs/99"
        );
        let a = assess(vec![ok(7, 200)], at(NOW), &cfg.settings);
        assert!(
            alert_text(&a, &cfg, Lang::En)
                .contains("Issue: 3 expected dispatches missed since the last success (threshold 2)")
        );
        assert!(alert_text(&a, &cfg, Lang::Zh).contains("问题: 已连续错过 3 次调度（阈值 2）"));
        let a = assess(vec![], at(NOW), &cfg.settings);
        assert!(alert_text(&a, &cfg, Lang::En).contains("Issue: no successful cycle run found\nHeartbeat run:"));
        let a = unavailable(at(NOW), &cfg.settings, &"x".repeat(5000));
        let text = alert_text(&a, &cfg, Lang::En);
        assert_eq!(text.chars().count(), ALERT_LIMIT_CHARS);
        assert!(text.contains("Issue: GitHub Actions could not be queried: xxx"));
    }
}
