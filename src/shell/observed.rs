//! Alert conditions only the shell can see (issue 11): what the exchange
//! adapter noticed about the connection (used request weight, clock
//! offset), a Binance refusal of the API key, and the durable alert of a
//! cycle that aborted. Separate from the runner because these are IO
//! facts turned into conditions by the pure functions of
//! `strategy::cycle::conditions`, and because an aborted cycle records its
//! alert by its own narrow edit of the stored document.
//!
//! The abort path: a cycle that stopped before `advance_alerts` observed
//! nothing about the other conditions, so it must not clear them. It
//! re-reads the stored document under the lease, records only its own
//! condition in the `alerts` key ([`AlertBook::observe`], which clears
//! nothing) and, after the messages went out, saves that document back.
//! What if it dies here? Before the save nothing was written: the next run
//! observes the condition again and raises it again (a repeated message,
//! never a lost one). After the save the alert is durable; a message
//! Telegram did not take is saved as owed and sent as a reminder.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::domain::alerts::{AlertBook, AlertsReport, Condition, Transition};
use crate::domain::report::{DeliveryStatus, NotificationRecord, Report, StateWrite, WriteStatus};
use crate::notify::event::{AlertNotice, Event};
use crate::notify::messages;
use crate::ports::{Exchange, ExchangeHealth, LeaseOutcome, Notifier, PortError, StateStore};
use crate::shell::effects::Executor;
use crate::shell::runner::Shell;
use crate::strategy::cycle::conditions;

/// What `PortError::Auth` reads as in an error message: aborts carry the
/// adapter's error as text, and this is how an auth refusal shows in it.
const AUTH_MARKER: &str = "authentication failed: ";

/// Whether an abort's message is Binance refusing the API key.
pub fn is_auth_refusal(message: &str) -> bool {
    message.contains(AUTH_MARKER)
}

/// The conditions the exchange's connection facts raise this run.
pub fn health_conditions(health: ExchangeHealth) -> Vec<Condition> {
    let skew = health.clock_offset_ms.and_then(conditions::clock_skew);
    let weight = health.max_used_weight.and_then(|(used, limit)| conditions::request_weight_high(used, limit));
    skew.into_iter().chain(weight).collect()
}

/// The condition an abort at `stage` with `message` keeps in the book, if
/// any: today only Binance refusing the key.
pub fn abort_condition(stage: &str, message: &str) -> Option<Condition> {
    is_auth_refusal(message).then(|| conditions::binance_auth(&stage_name(stage), message))
}

fn stage_name(stage: &str) -> String {
    match stage {
        "exchange" => "the market read".into(),
        "reconcile" => "the reconciliation of pending orders".into(),
        "preflight" => "the preflight key check".into(),
        other => format!("the {other} step"),
    }
}

/// Records `observed` in the `alerts` key of the stored document `doc`,
/// clearing nothing else, and returns each key's change. Every other key
/// of the document stays as it was.
pub fn observe_in_document(
    doc: &mut Value,
    observed: &[Condition],
    now: DateTime<Utc>,
    remind: chrono::Duration,
) -> Vec<Transition> {
    let mut book = AlertBook::from_json(doc.get("alerts"));
    let transitions = observed.iter().map(|c| book.observe(c, now, remind)).collect();
    if !doc.is_object() {
        *doc = Value::Object(Default::default());
    }
    doc["alerts"] = json!(book);
    transitions
}

/// Marks `key`'s message as owed in a document's `alerts` (its message was
/// not delivered): the next run sends it as a reminder.
pub fn mark_undelivered(doc: &mut Value, key: &str) {
    let mut book = AlertBook::from_json(doc.get("alerts"));
    book.undelivered(key);
    doc["alerts"] = json!(book);
}

/// An aborted cycle's alert, read from the store and waiting for its
/// messages to go out before it is saved.
pub(super) struct AbortAlerts {
    pub doc: Value,
    /// Outbox index and key of each queued message.
    pub queued: Vec<(usize, String)>,
}

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// The shell-observed conditions for `advance_alerts`: what earlier
    /// steps noted (lease takeover, stale market data) and the exchange's
    /// connection facts so far.
    pub(super) fn shell_conditions(&self) -> Vec<Condition> {
        let mut found = self.observed.clone();
        found.extend(health_conditions(self.run.exchange.health()));
        found
    }

    /// The report's `request_weight_used`: the highest used weight the
    /// exchange reported this run.
    pub(super) fn note_request_weight(&mut self) {
        if let Some((used, _)) = self.run.exchange.health().max_used_weight {
            self.report.request_weight_used = Some(u32::try_from(used).unwrap_or(u32::MAX));
        }
    }

    /// For an abort that has a durable condition, after the state was
    /// loaded, in a run that may save: records the condition in the stored
    /// book (re-read now: earlier steps may have saved) and queues its
    /// message, if it has one to say. `false` when the abort keeps its
    /// per-run message instead.
    pub(super) async fn record_abort_alert(&mut self, stage: &str, message: &str) -> bool {
        let Some(condition) = abort_condition(stage, message) else { return false };
        if !self.state_loaded || self.suppress() || self.lease.lost.is_some() {
            return false;
        }
        let mut doc = match self.run.store.load().await {
            Ok(doc) => doc.unwrap_or_else(|| Value::Object(Default::default())),
            Err(e) => {
                self.report.warnings.push(format!("the {} alert could not be recorded: {e}", condition.key));
                return false;
            }
        };
        let transitions = observe_in_document(&mut doc, &[condition], self.run.now, self.remind_interval());
        self.report.alerts = AlertsReport::of(&transitions);
        let mut queued = Vec::new();
        for t in transitions.iter().filter(|t| t.change.notifies()) {
            queued.push((self.outbox.len(), t.key.clone()));
            self.outbox.push(Event::Alert(AlertNotice::of(t)));
        }
        self.abort_alerts = Some(AbortAlerts { doc, queued });
        true
    }

    /// Saves the aborted cycle's alert once its messages went out
    /// (`delivered`, by outbox index): an undelivered one stays owed. Only
    /// while the lease still holds.
    pub(super) async fn save_abort_alert(&mut self, delivered: &[DeliveryStatus]) {
        let Some(AbortAlerts { mut doc, queued }) = self.abort_alerts.take() else { return };
        for (index, key) in queued {
            if delivered.get(index) == Some(&DeliveryStatus::Failed) {
                mark_undelivered(&mut doc, &key);
            }
        }
        if self.fence().await.is_err() {
            return;
        }
        let reason = "alerts_after_abort".to_string();
        match self.run.store.save(&doc).await {
            Ok(()) => self.report.state_writes.push(StateWrite { reason, status: WriteStatus::Written }),
            Err(e) => {
                let kind = if matches!(e, PortError::Conflict(_)) { "changed under this run" } else { "failed" };
                self.report.warnings.push(format!("saving the alert of the aborted cycle {kind}: {e}"));
                self.report.state_writes.push(StateWrite { reason, status: WriteStatus::Failed });
            }
        }
    }
}

/// How long the preflight's alert edit holds the run lease: a load, the
/// messages and a save.
const PREFLIGHT_LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// A live run refused at the preflight, before any cycle loaded the state:
/// when the refusal has a durable condition (Binance refused the key), the
/// run takes the lease as a cycle would, records the condition in the
/// stored `alerts` (clearing nothing), sends its message if it has one to
/// say, saves, and releases the lease. A lease held by a running cycle, or
/// a state that cannot be loaded, leaves the report as it was (with a
/// warning): that cycle meets the same key, and a state that cannot be read
/// cannot hold an alert.
pub async fn record_preflight_alert<S: StateStore, N: Notifier>(
    store: &S,
    notifier: &N,
    settings: &crate::config::Settings,
    now: DateTime<Utc>,
    report: &mut Report,
) {
    let Some(condition) = report.errors.first().and_then(|e| abort_condition("preflight", &e.message)) else {
        return;
    };
    let owner = crate::shell::lease::lease_owner(&report.run_id);
    match store.acquire_lease(&owner, now, PREFLIGHT_LEASE_TTL).await {
        Ok(LeaseOutcome::Acquired) => {}
        Ok(LeaseOutcome::Held { owner, .. }) => {
            report.warnings.push(format!("the {} alert was not recorded: {owner} holds the run lease", condition.key));
            return;
        }
        Err(e) => {
            report.warnings.push(format!("the {} alert was not recorded: the run lease: {e}", condition.key));
            return;
        }
    }
    record_under_lease(store, notifier, settings, now, condition, report).await;
    if let Err(e) = store.release_lease(&owner).await {
        report.warnings.push(format!("could not release the run lease: {e}; it expires on its own"));
    }
}

async fn record_under_lease<S: StateStore, N: Notifier>(
    store: &S,
    notifier: &N,
    settings: &crate::config::Settings,
    now: DateTime<Utc>,
    condition: Condition,
    report: &mut Report,
) {
    let mut doc = match store.load().await {
        Ok(doc) => doc.unwrap_or_else(|| Value::Object(Default::default())),
        Err(e) => {
            report.warnings.push(format!("the {} alert was not recorded: {e}", condition.key));
            return;
        }
    };
    let remind = chrono::Duration::hours(settings.alert_remind_hours);
    let transitions = observe_in_document(&mut doc, &[condition], now, remind);
    report.alerts = AlertsReport::of(&transitions);
    let lang = settings.lang;
    for t in transitions.iter().filter(|t| t.change.notifies()) {
        let event = Event::Alert(AlertNotice::of(t));
        let text = messages::render(&event, lang, messages::strategy_display_name(lang));
        let sent = notifier.send(&format!("{}:\n{text}", messages::prefix(lang))).await;
        let (status, error) = match sent {
            Ok(()) => (DeliveryStatus::Sent, None),
            Err(e) => {
                mark_undelivered(&mut doc, &t.key);
                report.warnings.push(format!("notification {} not delivered: {e}", event.name()));
                (DeliveryStatus::Failed, Some(e.to_string()))
            }
        };
        report.notifications.push(NotificationRecord { event: event.name().to_string(), status, text, error });
    }
    let reason = "alerts_after_abort".to_string();
    match store.save(&doc).await {
        Ok(()) => report.state_writes.push(StateWrite { reason, status: WriteStatus::Written }),
        Err(e) => {
            report.warnings.push(format!("saving the alert of the refused preflight failed: {e}"));
            report.state_writes.push(StateWrite { reason, status: WriteStatus::Failed });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 29, 8, 0, 0).unwrap()
    }

    #[test]
    fn an_auth_refusal_is_recognised_by_the_port_errors_text() {
        let message = format!("could not read market data: {}", PortError::Auth("-2015 Invalid API-key".into()));
        assert!(is_auth_refusal(&message));
        let c = abort_condition("exchange", &message).expect("a durable condition");
        assert_eq!(c.key, "binance_auth");
        assert!(c.reason.starts_with("Binance refused the API key during the market read"), "{}", c.reason);
        let other = format!("could not read market data: {}", PortError::Retryable("timeout".into()));
        assert_eq!(abort_condition("exchange", &other), None);
    }

    #[test]
    fn health_raises_skew_and_weight_only_beyond_their_limits() {
        let keys = |h: ExchangeHealth| health_conditions(h).into_iter().map(|c| c.key).collect::<Vec<_>>();
        assert_eq!(keys(ExchangeHealth::default()), Vec::<String>::new());
        assert_eq!(
            keys(ExchangeHealth {
                max_used_weight: Some((5000, 6000)),
                clock_offset_ms: Some(2000),
                ..Default::default()
            }),
            ["clock_skew", "request_weight_high"]
        );
        assert_eq!(
            keys(ExchangeHealth {
                max_used_weight: Some((4000, 6000)),
                clock_offset_ms: Some(500),
                ..Default::default()
            }),
            Vec::<String>::new()
        );
    }

    #[test]
    fn observing_in_the_document_touches_only_alerts_and_clears_nothing() {
        let day = chrono::Duration::hours(24);
        let pool = Condition {
            key: "pool_degraded".into(),
            severity: crate::domain::alerts::Severity::Sev2,
            scope: "upstream pool".into(),
            reason: "r".into(),
            runbook: conditions::RUNBOOK_POOL.into(),
        };
        let (book, _) = AlertBook::default().advance(&[pool], now(), day);
        let mut doc = json!({"daily_equity_base": 1234.5, "alerts": book, "pending_orders": {"x": {"odd": true}}});
        let auth = conditions::binance_auth("the market read", "authentication failed: -2015");
        let t = observe_in_document(&mut doc, &[auth], now() + chrono::Duration::hours(1), day);
        assert_eq!(t.len(), 1);
        assert_eq!(doc["daily_equity_base"], 1234.5);
        assert_eq!(doc["pending_orders"], json!({"x": {"odd": true}}));
        assert_eq!(doc["alerts"]["pool_degraded"]["state"], "raised", "not observed is not cleared here");
        assert_eq!(doc["alerts"]["binance_auth"]["state"], "raised");
        mark_undelivered(&mut doc, "binance_auth");
        assert_eq!(doc["alerts"]["binance_auth"]["last_notified"], Value::Null);
    }
}
