//! The pure half of the workflow heartbeat: recent runs of the cycle
//! workflow + now + thresholds → an [`Assessment`] (healthy / parked /
//! deferred / alert) by the rules of behaviour.md §10.3, plus runs sitting
//! `queued` longer than allowed (a self-hosted runner offline), and the
//! durable alert conditions an assessment stands for ([`conditions`]).
//! Separate from the command so the rules read on their own and are tested
//! without GitHub.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::alerts::{Condition, Severity};

pub const SCHEMA: &str = "tradecycle.heartbeat_assessment.v1";

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
    /// A run `queued` longer than this means no runner picks it up
    /// (default: one expected interval).
    pub max_queued_minutes: f64,
}

impl Default for HeartbeatSettings {
    fn default() -> Self {
        HeartbeatSettings {
            lookback_hours: 2.5,
            expected_interval_hours: 1.0,
            max_consecutive_misses: 2,
            max_queued_minutes: 60.0,
        }
    }
}

/// Key of the alert for a failed, missing or unreadable cycle workflow.
pub const KEY_UNHEALTHY: &str = "workflow_unhealthy";
/// Key of the alert for runs stuck in `queued`.
pub const KEY_QUEUED: &str = "workflow_runs_queued";
/// The RUNBOOK.md section both point to.
pub const RUNBOOK_SECTION: &str = "Workflow heartbeat alerts";

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
    pub max_queued_minutes: f64,
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
    /// Runs `queued` longer than `max_queued_minutes`, and the oldest one.
    pub queued_too_long: u64,
    pub oldest_queued: Option<RunSummary>,
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
/// the reference's, so log searches and dashboards carry over. Then, if
/// none of those alerts, any run `queued` longer than `max_queued_minutes`
/// is an alert of its own (`runtime_runs_queued`): the dispatches arrive
/// but no runner takes them.
pub fn assess(runs: Vec<WorkflowRun>, now: DateTime<Utc>, settings: &HeartbeatSettings) -> Assessment {
    let runs = merge_runs(runs);
    let mut a = classify(&runs, now, settings);
    let limit = now - chrono::Duration::milliseconds((settings.max_queued_minutes * 60_000.0) as i64);
    let stuck: Vec<&WorkflowRun> = runs
        .iter()
        .filter(|r| r.status.as_deref() == Some("queued") && r.created().is_some_and(|t| t < limit))
        .collect();
    a.queued_too_long = stuck.len() as u64;
    a.oldest_queued = stuck.last().map(|r| RunSummary::from(*r));
    if a.queued_too_long > 0 && !a.status.alerts() {
        a.status = Health::Alert;
        a.reason = "runtime_runs_queued";
    }
    a
}

/// The durable alert conditions of an assessment: `workflow_runs_queued`
/// while runs sit queued too long, `workflow_unhealthy` for any other
/// alert (failed run, missed dispatches, nothing succeeded, GitHub
/// unreadable). Both SEV-2: the workflow heartbeat watches GitHub's side;
/// the watchdog's `heartbeat_stale` (SEV-1) is the authority on whether
/// the cycle runs at all.
pub fn conditions(a: &Assessment, issue: &str, queued_issue: &str) -> Vec<Condition> {
    let condition = |key: &str, reason: &str| Condition {
        key: key.into(),
        severity: Severity::Sev2,
        scope: "cycle workflow".into(),
        reason: reason.into(),
        runbook: RUNBOOK_SECTION.into(),
    };
    let mut out = Vec::new();
    if a.status.alerts() && a.reason != "runtime_runs_queued" {
        out.push(condition(KEY_UNHEALTHY, issue));
    }
    if a.queued_too_long > 0 {
        out.push(condition(KEY_QUEUED, queued_issue));
    }
    out
}

/// The §10.3 rules on merged runs.
fn classify(runs: &[WorkflowRun], now: DateTime<Utc>, settings: &HeartbeatSettings) -> Assessment {
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
            max_queued_minutes: settings.max_queued_minutes,
            runs_returned: runs.len(),
            recent_runs,
        },
        latest_run: latest.map(RunSummary::from),
        latest_success: latest_success.map(RunSummary::from),
        consecutive_misses: 0,
        queued_too_long: 0,
        oldest_queued: None,
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
            max_queued_minutes: settings.max_queued_minutes,
            runs_returned: 0,
            recent_runs: 0,
        },
        latest_run: None,
        latest_success: None,
        consecutive_misses: 0,
        queued_too_long: 0,
        oldest_queued: None,
        error: Some(error.to_string()),
    }
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
pub(super) mod tests {
    use super::*;

    pub(in crate::commands::heartbeat) fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    pub(in crate::commands::heartbeat) const NOW: &str = "2026-03-15T12:00:00Z";

    /// A run created `minutes_ago` before NOW.
    pub(in crate::commands::heartbeat) fn run(
        id: u64,
        status: &str,
        conclusion: Option<&str>,
        minutes_ago: i64,
    ) -> WorkflowRun {
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

    pub(in crate::commands::heartbeat) fn ok(id: u64, minutes_ago: i64) -> WorkflowRun {
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
    fn runs_queued_past_the_limit_alert_and_are_their_own_condition() {
        // Queued 59 min: still parked. 61 min: the runner is not taking it.
        assert_eq!(
            default_verdict(vec![run(6, "queued", None, 59), ok(5, 200)]),
            (Health::Parked, "runtime_dispatch_pending", 0)
        );
        let a = assess(
            vec![run(7, "queued", None, 30), run(6, "queued", None, 61), ok(5, 100)],
            at(NOW),
            &HeartbeatSettings::default(),
        );
        assert_eq!((a.status, a.reason, a.queued_too_long), (Health::Alert, "runtime_runs_queued", 1));
        assert_eq!(a.oldest_queued.as_ref().and_then(|r| r.run_number), Some(6));
        let keys = |a: &Assessment| conditions(a, "i", "q").into_iter().map(|c| c.key).collect::<Vec<_>>();
        assert_eq!(keys(&a), [KEY_QUEUED]);
        // Even after a recent success: a run queued that long means the next ones will be too.
        let a = assess(vec![run(7, "queued", None, 90), ok(5, 20)], at(NOW), &HeartbeatSettings::default());
        assert_eq!((a.status, a.reason), (Health::Alert, "runtime_runs_queued"));
        // Another alert keeps its reason; both conditions are observed.
        let a = assess(
            vec![run(8, "completed", Some("failure"), 5), run(7, "queued", None, 90)],
            at(NOW),
            &HeartbeatSettings::default(),
        );
        assert_eq!(a.reason, "latest_runtime_completed_unsuccessfully");
        assert_eq!(keys(&a), [KEY_UNHEALTHY, KEY_QUEUED]);
        let c = &conditions(&a, "issue text", "q")[0];
        assert_eq!(
            (c.severity, c.reason.as_str(), c.runbook.as_str()),
            (Severity::Sev2, "issue text", RUNBOOK_SECTION)
        );
        // The limit is a setting; in-progress runs are never "queued".
        let s = HeartbeatSettings { max_queued_minutes: 120.0, ..Default::default() };
        assert_eq!(verdict(vec![run(7, "queued", None, 90), ok(5, 20)], s).0, Health::Healthy);
        assert_eq!(default_verdict(vec![run(7, "in_progress", None, 90), ok(5, 20)]).0, Health::Healthy);
        assert!(keys(&assess(vec![ok(5, 20)], at(NOW), &HeartbeatSettings::default())).is_empty());
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
        let s = HeartbeatSettings {
            lookback_hours: 1.0,
            expected_interval_hours: 4.0,
            max_consecutive_misses: 1,
            max_queued_minutes: 240.0,
        };
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
                          "max_queued_minutes": 60.0, "runs_returned": 1, "recent_runs": 1},
                "latest_run": {"run_number": 7, "status": "completed", "conclusion": "success",
                               "created_at": "2026-03-15T11:30:00Z", "updated_at": null,
                               "html_url": "https://github.com/o/r/actions/runs/7"},
                "latest_success": {"run_number": 7, "status": "completed", "conclusion": "success",
                                   "created_at": "2026-03-15T11:30:00Z", "updated_at": null,
                                   "html_url": "https://github.com/o/r/actions/runs/7"},
                "consecutive_misses": 0,
                "queued_too_long": 0,
                "oldest_queued": null
            })
        );
        assert_eq!(
            summary_line(&a),
            "heartbeat OK: run=7 created_at=2026-03-15T11:30:00Z url=https://github.com/o/r/actions/runs/7"
        );
    }
}
