//! The workflow heartbeat: is the cycle workflow actually running? Reads
//! recent runs of the cycle workflow from the GitHub API and classifies them
//! as healthy / parked / deferred / alert by the rules of behaviour.md §10.3,
//! so a single late dispatch is not an incident but a failed run or a
//! cadence gone quiet is. A cycle that exits 5 (`attention`: finished, needs
//! a look) is a successful workflow run here — `cycle.yml` passes the step
//! with warnings and the cycle alerted its items itself — so the heartbeat
//! does not repeat those alerts; errors and aborts are failed runs.
//!
//! [`assess`] is pure (runs + now + settings → assessment); [`fetch_runs`]
//! is the GitHub side with its retry policy; `commands.rs` wires them to the
//! notifier and the exit code.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{ConfigError, Env, Variable};
use crate::adapters::github::{Answer, GitHubClient, Pause};
use crate::notify::event::Lang;
use crate::notify::messages::prefix;
use crate::ports::Notifier;

pub const SCHEMA: &str = "tradecycle.heartbeat_assessment.v1";

/// Reads of the run listings: attempts, and the longest wait between them.
pub const READ_ATTEMPTS: u32 = 4;
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// Deadline of one GitHub read (the reference's).
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Longest alert text sent (Telegram's limit is 4096).
pub const ALERT_LIMIT_CHARS: usize = 3900;

/// The variables `heartbeat` reads (the reference's names, so repository
/// variables carry over).
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "GITHUB_REPOSITORY",
        default: "unset",
        meaning: "`heartbeat`: the repository, owner/name (set by GitHub Actions)",
    },
    Variable {
        name: "RUNTIME_HEARTBEAT_WORKFLOW",
        default: "cycle.yml",
        meaning: "`heartbeat`: the workflow whose runs are checked",
    },
    Variable { name: "RUNTIME_HEARTBEAT_BRANCH", default: "main", meaning: "`heartbeat`: the branch whose runs count" },
    Variable { name: "RUNTIME_HEARTBEAT_NAME", default: "tradecycle cycle", meaning: "`heartbeat`: name in the alert" },
    Variable {
        name: "RUNTIME_HEARTBEAT_LOOKBACK_HOURS",
        default: "2.5",
        meaning: "`heartbeat`: runs created this recently are recent",
    },
    Variable {
        name: "RUNTIME_HEARTBEAT_EXPECTED_INTERVAL_HOURS",
        default: "1",
        meaning: "`heartbeat`: the dispatch cadence; missed intervals are counted in it",
    },
    Variable {
        name: "RUNTIME_HEARTBEAT_MAX_CONSECUTIVE_MISSES",
        default: "2",
        meaning: "`heartbeat`: missed intervals since the last success that make an alert",
    },
    Variable {
        name: "RUNTIME_HEARTBEAT_RUNS_TO_SCAN",
        default: "30",
        meaning: "`heartbeat`: runs read per listing (at most 100)",
    },
    Variable {
        name: "RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT",
        default: "true",
        meaning: "`heartbeat`: exit 1 on alert (false: alert, exit 0)",
    },
    Variable {
        name: "GITHUB_SERVER_URL",
        default: "unset",
        meaning: "`heartbeat`: with GITHUB_RUN_ID, the link to the heartbeat run in the alert (set by GitHub Actions)",
    },
    Variable {
        name: "GITHUB_RUN_ID",
        default: "unset",
        meaning: "`heartbeat`: see GITHUB_SERVER_URL (set by GitHub Actions)",
    },
];

/// One run as GitHub lists it; every field optional because the check must
/// survive odd payloads rather than crash in the middle of an incident.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct WorkflowRun {
    pub id: Option<u64>,
    pub run_number: Option<u64>,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub html_url: Option<String>,
    pub path: Option<String>,
}

impl WorkflowRun {
    fn created(&self) -> Option<DateTime<Utc>> {
        self.created_at.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
    }

    fn completed(&self) -> bool {
        self.status.as_deref() == Some("completed")
    }

    fn succeeded(&self) -> bool {
        self.completed() && self.conclusion.as_deref() == Some("success")
    }
}

/// The thresholds (reference defaults: 2.5 h, 1 h, 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeartbeatSettings {
    /// Runs created this recently count as "recent".
    pub lookback_hours: f64,
    /// The dispatch cadence.
    pub expected_interval_hours: f64,
    /// Missed intervals since the last success that make an alert.
    pub max_consecutive_misses: u64,
}

impl Default for HeartbeatSettings {
    fn default() -> Self {
        HeartbeatSettings { lookback_hours: 2.5, expected_interval_hours: 1.0, max_consecutive_misses: 2 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// A run succeeded within the lookback.
    Healthy,
    /// The latest run is still queued or running.
    Parked,
    /// No recent success, but fewer intervals missed than the threshold.
    Deferred,
    Alert,
    /// GitHub could not be asked (treated like an alert).
    Unavailable,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Parked => "parked",
            Health::Deferred => "deferred",
            Health::Alert => "alert",
            Health::Unavailable => "unavailable",
        }
    }

    /// Whether the operator must be told.
    pub fn alerts(self) -> bool {
        matches!(self, Health::Alert | Health::Unavailable)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query {
    pub lookback_hours: f64,
    pub expected_interval_hours: f64,
    pub max_consecutive_misses: u64,
    pub runs_returned: usize,
    pub recent_runs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run_number: Option<u64>,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub html_url: Option<String>,
}

impl From<&WorkflowRun> for RunSummary {
    fn from(r: &WorkflowRun) -> Self {
        RunSummary {
            run_number: r.run_number,
            status: r.status.clone(),
            conclusion: r.conclusion.clone(),
            created_at: r.created_at.clone(),
            updated_at: r.updated_at.clone(),
            html_url: r.html_url.clone(),
        }
    }
}

/// The printed verdict (an audit trail of the query and the decision).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub schema: &'static str,
    pub observed_at: String,
    pub status: Health,
    pub reason: &'static str,
    pub query: Query,
    pub latest_run: Option<RunSummary>,
    pub latest_success: Option<RunSummary>,
    pub consecutive_misses: u64,
    /// Why GitHub could not be read (`unavailable` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Deduplicates by id (then run number, then URL), newest `created_at`
/// first; runs without a readable time sort last.
pub fn merge_runs(runs: impl IntoIterator<Item = WorkflowRun>) -> Vec<WorkflowRun> {
    let mut unique: Vec<(String, WorkflowRun)> = Vec::new();
    for (i, run) in runs.into_iter().enumerate() {
        let key = run
            .id
            .map(|id| format!("id:{id}"))
            .or_else(|| run.run_number.map(|n| format!("n:{n}")))
            .or_else(|| run.html_url.clone())
            .unwrap_or_else(|| format!("#{i}"));
        match unique.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = run,
            None => unique.push((key, run)),
        }
    }
    let mut runs: Vec<WorkflowRun> = unique.into_iter().map(|(_, r)| r).collect();
    // Stable: equal times keep the listing's order.
    runs.sort_by_key(|r| std::cmp::Reverse(r.created()));
    runs
}

/// Classifies the runs (behaviour.md §10.3), first matching rule wins:
/// 1. the latest run is recent, completed and not successful → alert;
/// 2. a recent run succeeded → healthy;
/// 3. the latest run is recent and not completed → parked;
/// 4. no run ever succeeded → alert;
/// 5. `floor(hours since the last success / interval)` misses: below the
///    threshold → deferred, else alert.
///
/// "Recent" is created at or after `now − lookback`. The reason codes are
/// the reference's, so log searches and dashboards carry over.
pub fn assess(runs: Vec<WorkflowRun>, now: DateTime<Utc>, settings: &HeartbeatSettings) -> Assessment {
    let runs = merge_runs(runs);
    let since = now - chrono::Duration::milliseconds((settings.lookback_hours * 3_600_000.0) as i64);
    let is_recent = |r: &WorkflowRun| r.created().is_some_and(|t| t >= since);
    let latest = runs.first();
    let latest_success = runs.iter().find(|r| r.succeeded());
    let recent_runs = runs.iter().filter(|r| is_recent(r)).count();
    let recent_success = runs.iter().any(|r| is_recent(r) && r.succeeded());
    let mut a = Assessment {
        schema: SCHEMA,
        observed_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        status: Health::Healthy,
        reason: "recent_success",
        query: Query {
            lookback_hours: settings.lookback_hours,
            expected_interval_hours: settings.expected_interval_hours,
            max_consecutive_misses: settings.max_consecutive_misses,
            runs_returned: runs.len(),
            recent_runs,
        },
        latest_run: latest.map(RunSummary::from),
        latest_success: latest_success.map(RunSummary::from),
        consecutive_misses: 0,
        error: None,
    };
    let latest_recent = latest.filter(|r| is_recent(r));
    if latest_recent.is_some_and(|r| r.completed() && !r.succeeded()) {
        a.status = Health::Alert;
        a.reason = "latest_runtime_completed_unsuccessfully";
        return a;
    }
    if recent_success {
        return a;
    }
    if latest_recent.is_some_and(|r| !r.completed()) {
        a.status = Health::Parked;
        a.reason = "runtime_dispatch_pending";
        return a;
    }
    let Some(success_at) = latest_success.and_then(WorkflowRun::created) else {
        a.status = Health::Alert;
        a.reason = "no_successful_runtime_run_observed";
        return a;
    };
    let elapsed_hours = ((now - success_at).num_milliseconds().max(0) as f64) / 3_600_000.0;
    a.consecutive_misses = (elapsed_hours / settings.expected_interval_hours).floor() as u64;
    if a.consecutive_misses < settings.max_consecutive_misses {
        a.status = Health::Deferred;
        a.reason = "awaiting_dispatch_confirmation";
    } else {
        a.status = Health::Alert;
        a.reason = "consecutive_runtime_dispatches_missing";
    }
    a
}

/// The assessment when GitHub could not be read at all.
pub fn unavailable(now: DateTime<Utc>, settings: &HeartbeatSettings, error: &str) -> Assessment {
    Assessment {
        schema: SCHEMA,
        observed_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        status: Health::Unavailable,
        reason: "github_actions_query_unavailable",
        query: Query {
            lookback_hours: settings.lookback_hours,
            expected_interval_hours: settings.expected_interval_hours,
            max_consecutive_misses: settings.max_consecutive_misses,
            runs_returned: 0,
            recent_runs: 0,
        },
        latest_run: None,
        latest_success: None,
        consecutive_misses: 0,
        error: Some(error.to_string()),
    }
}

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
}

fn positive_f64(env: &Env, name: &str, default: f64) -> Result<f64, ConfigError> {
    match env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| ConfigError(format!("{name}: expected a positive number, got '{v}'"))),
    }
}

fn positive_int(env: &Env, name: &str, default: u64) -> Result<u64, ConfigError> {
    match env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|x| *x > 0)
            .ok_or_else(|| ConfigError(format!("{name}: expected a positive whole number, got '{v}'"))),
    }
}

impl HeartbeatConfig {
    /// Settings from the environment (`RUNTIME_HEARTBEAT_*`, the reference's
    /// names, so repository variables carry over), defaults as in §10.3.
    pub fn from_env(env: &Env) -> Result<HeartbeatConfig, ConfigError> {
        let text = |k: &str| env.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
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
        let runs_to_scan = positive_int(env, "RUNTIME_HEARTBEAT_RUNS_TO_SCAN", 30)?;
        if runs_to_scan > 100 {
            return Err(ConfigError(format!(
                "RUNTIME_HEARTBEAT_RUNS_TO_SCAN: at most 100 (GitHub's page size), got '{runs_to_scan}'"
            )));
        }
        let fail_on_alert = crate::config::boolean(env, "RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT", true)?;
        let api_url = text("GITHUB_API_URL").unwrap_or_else(|| crate::adapters::github::DEFAULT_API_URL.into());
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(ConfigError(format!("GITHUB_API_URL: expected an http(s) URL, got '{api_url}'")));
        }
        let run_url = match (text("GITHUB_SERVER_URL"), text("GITHUB_RUN_ID")) {
            (Some(server), Some(id)) => Some(format!("{}/{repo}/actions/runs/{id}", server.trim_end_matches('/'))),
            _ => None,
        };
        Ok(HeartbeatConfig {
            branch: text("RUNTIME_HEARTBEAT_BRANCH").unwrap_or_else(|| "main".into()),
            name: text("RUNTIME_HEARTBEAT_NAME").unwrap_or_else(|| "tradecycle cycle".into()),
            runs_to_scan: runs_to_scan as u32,
            fail_on_alert,
            settings: HeartbeatSettings {
                lookback_hours: positive_f64(env, "RUNTIME_HEARTBEAT_LOOKBACK_HOURS", 2.5)?,
                expected_interval_hours: positive_f64(env, "RUNTIME_HEARTBEAT_EXPECTED_INTERVAL_HOURS", 1.0)?,
                max_consecutive_misses: positive_int(env, "RUNTIME_HEARTBEAT_MAX_CONSECUTIVE_MISSES", 2)?,
            },
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
/// assessment JSON and a summary line through `out`, alert on `alert` /
/// `unavailable`. Returns the assessment and the exit code (1 on alert when
/// `fail_on_alert`, else 0). An undelivered alert is logged, nothing more.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    cfg: &HeartbeatConfig,
    client: &GitHubClient,
    pause: &impl Pause,
    notifier: Option<&impl Notifier>,
    lang: Lang,
    now: DateTime<Utc>,
    out: &mut dyn FnMut(String),
    log: &mut dyn FnMut(String),
) -> (Assessment, u8) {
    let assessment = match fetch_runs(cfg, client, pause, log).await {
        Ok(runs) => assess(runs, now, &cfg.settings),
        Err(e) => unavailable(now, &cfg.settings, &e),
    };
    out(serde_json::to_string_pretty(&assessment).unwrap_or_default());
    out(summary_line(&assessment));
    if !assessment.status.alerts() {
        return (assessment, 0);
    }
    let text = alert_text(&assessment, cfg, lang);
    log(text.clone());
    match notifier {
        None => log("telegram not configured (TG_TOKEN, GLOBAL_TELEGRAM_CHAT_ID): alert not sent".into()),
        Some(n) => match n.send(&text).await {
            Ok(()) => log("alert sent".into()),
            Err(e) => log(format!("warning: alert not delivered: {e}")),
        },
    }
    let code = if cfg.fail_on_alert { 1 } else { 0 };
    (assessment, code)
}

/// The alert message (at most [`ALERT_LIMIT_CHARS`] chars).
pub fn alert_text(a: &Assessment, cfg: &HeartbeatConfig, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let pick = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let s = &cfg.settings;
    let issue = match a.reason {
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
        _ => {
            let e = a.error.clone().unwrap_or_default();
            if zh {
                format!("无法查询 GitHub Actions：{e}")
            } else {
                format!("GitHub Actions could not be queried: {e}")
            }
        }
    };
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

/// The one-line summary printed after the JSON.
pub fn summary_line(a: &Assessment) -> String {
    match a.status {
        Health::Healthy => {
            let r = a.latest_success.as_ref();
            format!(
                "heartbeat OK: run={} created_at={} url={}",
                r.and_then(|r| r.run_number).map(|n| n.to_string()).unwrap_or_default(),
                r.and_then(|r| r.created_at.clone()).unwrap_or_default(),
                r.and_then(|r| r.html_url.clone()).unwrap_or_default()
            )
        }
        status => format!(
            "heartbeat {}: reason={} consecutive_misses={}",
            status.as_str().to_uppercase(),
            a.reason,
            a.consecutive_misses
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const NOW: &str = "2026-03-15T12:00:00Z";

    /// A run created `minutes_ago` before NOW.
    fn run(id: u64, status: &str, conclusion: Option<&str>, minutes_ago: i64) -> WorkflowRun {
        let created = at(NOW) - chrono::Duration::minutes(minutes_ago);
        WorkflowRun {
            id: Some(id),
            run_number: Some(id),
            status: Some(status.into()),
            conclusion: conclusion.map(str::to_string),
            created_at: Some(created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            updated_at: None,
            html_url: Some(format!("https://github.com/o/r/actions/runs/{id}")),
            path: Some(".github/workflows/cycle.yml".into()),
        }
    }

    fn ok(id: u64, minutes_ago: i64) -> WorkflowRun {
        run(id, "completed", Some("success"), minutes_ago)
    }

    fn verdict(runs: Vec<WorkflowRun>, s: HeartbeatSettings) -> (Health, &'static str, u64) {
        let a = assess(runs, at(NOW), &s);
        (a.status, a.reason, a.consecutive_misses)
    }

    fn default_verdict(runs: Vec<WorkflowRun>) -> (Health, &'static str, u64) {
        verdict(runs, HeartbeatSettings::default())
    }

    #[test]
    fn healthy_when_a_recent_run_succeeded() {
        assert_eq!(default_verdict(vec![ok(3, 20), ok(2, 80)]), (Health::Healthy, "recent_success", 0));
        // A queued run after a recent success is still healthy.
        assert_eq!(default_verdict(vec![run(4, "queued", None, 1), ok(3, 61)]), (Health::Healthy, "recent_success", 0));
        // The lookback is inclusive: a success exactly 2.5 h ago counts.
        assert_eq!(default_verdict(vec![ok(1, 150)]), (Health::Healthy, "recent_success", 0));
    }

    #[test]
    fn a_recent_failed_latest_run_alerts_at_once() {
        for conclusion in ["failure", "cancelled", "timed_out"] {
            assert_eq!(
                default_verdict(vec![run(5, "completed", Some(conclusion), 10), ok(4, 70)]),
                (Health::Alert, "latest_runtime_completed_unsuccessfully", 0),
                "{conclusion}"
            );
        }
        // ... but a failure older than the lookback is judged by the cadence.
        assert_eq!(
            default_verdict(vec![run(5, "completed", Some("failure"), 151), ok(4, 155)]),
            (Health::Alert, "consecutive_runtime_dispatches_missing", 2)
        );
    }

    #[test]
    fn parked_while_the_latest_recent_run_is_in_progress() {
        for status in ["queued", "in_progress", "waiting", "pending"] {
            assert_eq!(
                default_verdict(vec![run(6, status, None, 5), ok(5, 200)]),
                (Health::Parked, "runtime_dispatch_pending", 0),
                "{status}"
            );
        }
        // A stuck run older than the lookback is not "pending" any more.
        assert_eq!(
            default_verdict(vec![run(6, "in_progress", None, 151), ok(5, 200)]),
            (Health::Alert, "consecutive_runtime_dispatches_missing", 3)
        );
    }

    #[test]
    fn alert_when_nothing_ever_succeeded() {
        assert_eq!(default_verdict(vec![]), (Health::Alert, "no_successful_runtime_run_observed", 0));
        assert_eq!(
            default_verdict(vec![run(1, "completed", Some("failure"), 300)]),
            (Health::Alert, "no_successful_runtime_run_observed", 0)
        );
    }

    #[test]
    fn misses_count_whole_intervals_since_the_last_success() {
        // The reference's own cases: lookback 1 h; 1.5 h since success → deferred
        // with 1 miss; 2.1 h → alert with 2.
        let s = HeartbeatSettings { lookback_hours: 1.0, ..Default::default() };
        assert_eq!(verdict(vec![ok(1, 90)], s), (Health::Deferred, "awaiting_dispatch_confirmation", 1));
        assert_eq!(verdict(vec![ok(1, 126)], s), (Health::Alert, "consecutive_runtime_dispatches_missing", 2));
        // Exact boundaries: 119 min is one miss, 120 min two.
        assert_eq!(verdict(vec![ok(1, 119)], s), (Health::Deferred, "awaiting_dispatch_confirmation", 1));
        assert_eq!(verdict(vec![ok(1, 120)], s), (Health::Alert, "consecutive_runtime_dispatches_missing", 2));
        // Just outside the lookback but within one interval: zero misses.
        let s = HeartbeatSettings { lookback_hours: 0.5, ..Default::default() };
        assert_eq!(verdict(vec![ok(1, 31)], s), (Health::Deferred, "awaiting_dispatch_confirmation", 0));
        // Other thresholds.
        let s = HeartbeatSettings { lookback_hours: 1.0, expected_interval_hours: 4.0, max_consecutive_misses: 1 };
        assert_eq!(verdict(vec![ok(1, 239)], s), (Health::Deferred, "awaiting_dispatch_confirmation", 0));
        assert_eq!(verdict(vec![ok(1, 240)], s), (Health::Alert, "consecutive_runtime_dispatches_missing", 1));
    }

    #[test]
    fn runs_are_deduplicated_and_sorted_newest_first() {
        let mut late = ok(2, 10);
        late.created_at = Some("not a time".into());
        let merged = merge_runs(vec![ok(1, 300), late.clone(), ok(3, 5), run(1, "completed", Some("failure"), 300)]);
        let ids: Vec<_> = merged.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![Some(3), Some(1), Some(2)]);
        assert_eq!(merged[1].conclusion.as_deref(), Some("failure"), "a duplicate id keeps the later copy");
        // A run without a readable time is never recent.
        assert_eq!(default_verdict(vec![late]), (Health::Alert, "no_successful_runtime_run_observed", 0));
    }

    #[test]
    fn assessment_json() {
        let a = assess(vec![ok(7, 30)], at(NOW), &HeartbeatSettings::default());
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({
                "schema": "tradecycle.heartbeat_assessment.v1",
                "observed_at": "2026-03-15T12:00:00Z",
                "status": "healthy",
                "reason": "recent_success",
                "query": {"lookback_hours": 2.5, "expected_interval_hours": 1.0, "max_consecutive_misses": 2,
                          "runs_returned": 1, "recent_runs": 1},
                "latest_run": {"run_number": 7, "status": "completed", "conclusion": "success",
                               "created_at": "2026-03-15T11:30:00Z", "updated_at": null,
                               "html_url": "https://github.com/o/r/actions/runs/7"},
                "latest_success": {"run_number": 7, "status": "completed", "conclusion": "success",
                                   "created_at": "2026-03-15T11:30:00Z", "updated_at": null,
                                   "html_url": "https://github.com/o/r/actions/runs/7"},
                "consecutive_misses": 0
            })
        );
        assert_eq!(
            summary_line(&a),
            "heartbeat OK: run=7 created_at=2026-03-15T11:30:00Z url=https://github.com/o/r/actions/runs/7"
        );
    }

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
