//! Durable operator alerts (issue 11): the alert book kept in the state
//! document under `alerts`, and the pure step that moves it from one cycle
//! to the next. A condition the cycle observes is keyed (`pool_degraded`,
//! `order_unresolved:<client id>`, ...); the book remembers when each key
//! was first and last seen, how often, whether it is open, and when the
//! operator was last told — so a condition that persists is announced once,
//! reminded at most every `ALERT_REMIND_HOURS`, and announced again only
//! when it escalates or clears. Separate from the state codec because the
//! transitions are their own rules, unit-tested here.

use chrono::{DateTime, Duration, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// How long a cleared alert stays in the book (first seen, count) after
/// it was last observed. Keys name single orders and symbols, so without a
/// limit they would pile up in the state document (Firestore caps one
/// document at 1 MiB); a key seen again later simply raises anew.
pub const CLEARED_RETENTION_DAYS: i64 = 30;

/// How bad a condition is; ordered so that "up" is `>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Observability or configuration.
    #[serde(rename = "SEV-3")]
    Sev3,
    /// Trading degraded, risk controls active.
    #[serde(rename = "SEV-2")]
    Sev2,
    /// Risk of loss or uncontrolled exposure.
    #[serde(rename = "SEV-1")]
    Sev1,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV-1",
            Severity::Sev2 => "SEV-2",
            Severity::Sev3 => "SEV-3",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Raised,
    Cleared,
}

/// One condition this cycle observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Stable key, e.g. `pool_degraded` or `earn_refused:USDT`.
    pub key: String,
    pub severity: Severity,
    /// What it concerns: `upstream pool`, a symbol, an asset, `state store`.
    pub scope: String,
    pub reason: String,
    /// The RUNBOOK.md section (its heading text) that says what to do.
    pub runbook: String,
}

/// One key's record in the book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub severity: Severity,
    pub scope: String,
    pub reason: String,
    pub runbook: String,
    /// When the current (or last) episode was first seen.
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Cycles that observed it, over every episode.
    pub count: u64,
    pub state: AlertState,
    /// When the operator was last told; `None` while a message is owed
    /// (e.g. the raise could not be delivered).
    #[serde(default)]
    pub last_notified: Option<DateTime<Utc>>,
}

/// The alert book, by key, in first-raised order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertBook(pub IndexMap<String, Alert>);

/// What happened to a key this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Not open before (new, or cleared earlier): a new episode.
    Raised,
    /// Still open, at a higher severity.
    Escalated,
    /// Still open, and the operator was last told `remind` ago or more.
    Reminded,
    /// Open before, not observed now.
    Cleared,
    /// Still open; nothing to say.
    StillOpen,
}

impl Change {
    /// Whether this change is worth a message.
    pub fn notifies(self) -> bool {
        self != Change::StillOpen
    }
}

/// A key's change this cycle, with its record after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub key: String,
    pub change: Change,
    pub alert: Alert,
}

impl AlertBook {
    /// The book after a cycle that observed `observed` at `now`, and each
    /// key's change (observed keys in their order, then the cleared ones).
    /// Pure: the same inputs give the same book.
    pub fn advance(
        &self,
        observed: &[Condition],
        now: DateTime<Utc>,
        remind: Duration,
    ) -> (AlertBook, Vec<Transition>) {
        let mut book = self.clone();
        let mut transitions: Vec<Transition> = Vec::new();
        for condition in observed {
            if transitions.iter().any(|t| t.key == condition.key) {
                continue; // one observation per key and cycle
            }
            transitions.push(book.observe(condition, now, remind));
        }
        for (key, alert) in book.0.iter_mut() {
            if alert.state == AlertState::Raised && !observed.iter().any(|c| &c.key == key) {
                alert.state = AlertState::Cleared;
                alert.last_notified = Some(now);
                transitions.push(Transition { key: key.clone(), change: Change::Cleared, alert: alert.clone() });
            }
        }
        let retention = Duration::days(CLEARED_RETENTION_DAYS);
        book.0.retain(|_, alert| alert.state == AlertState::Raised || now - alert.last_seen < retention);
        (book, transitions)
    }

    /// Records one observation of `condition` without clearing anything
    /// else: for a condition found after the cycle's book moved on (a
    /// state save that failed).
    pub fn observe(&mut self, condition: &Condition, now: DateTime<Utc>, remind: Duration) -> Transition {
        let change = match self.0.get_mut(&condition.key) {
            Some(alert) if alert.state == AlertState::Raised => {
                let up = condition.severity > alert.severity;
                let owed = alert.last_notified.is_none_or(|at| now - at >= remind);
                alert.severity = condition.severity;
                alert.scope.clone_from(&condition.scope);
                alert.reason.clone_from(&condition.reason);
                alert.runbook.clone_from(&condition.runbook);
                alert.last_seen = now;
                alert.count += 1;
                let change = if up {
                    Change::Escalated
                } else if owed {
                    Change::Reminded
                } else {
                    Change::StillOpen
                };
                if change.notifies() {
                    alert.last_notified = Some(now);
                }
                change
            }
            earlier => {
                let count = earlier.map_or(0, |a| a.count);
                self.0.insert(
                    condition.key.clone(),
                    Alert {
                        severity: condition.severity,
                        scope: condition.scope.clone(),
                        reason: condition.reason.clone(),
                        runbook: condition.runbook.clone(),
                        first_seen: now,
                        last_seen: now,
                        count: count + 1,
                        state: AlertState::Raised,
                        last_notified: Some(now),
                    },
                );
                Change::Raised
            }
        };
        Transition { key: condition.key.clone(), change, alert: self.0[&condition.key].clone() }
    }

    /// A message about `key` could not be delivered: an open alert owes
    /// one again, so the next cycle reminds (a clear is not repeated).
    pub fn undelivered(&mut self, key: &str) {
        if let Some(alert) = self.0.get_mut(key).filter(|a| a.state == AlertState::Raised) {
            alert.last_notified = None;
        }
    }

    /// Open alerts, by key.
    pub fn open(&self) -> impl Iterator<Item = (&String, &Alert)> {
        self.0.iter().filter(|(_, a)| a.state == AlertState::Raised)
    }

    /// The book as the state document holds it, entry by entry: one
    /// hand-edited record must not lose the others.
    pub fn from_json(value: Option<&serde_json::Value>) -> AlertBook {
        AlertBook(
            value
                .and_then(serde_json::Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(key, v)| serde_json::from_value(v.clone()).ok().map(|a| (key.clone(), a)))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One alert as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEntry {
    pub key: String,
    pub severity: Severity,
    pub change: Change,
    pub scope: String,
    pub reason: String,
    pub runbook: String,
    /// RFC 3339.
    pub first_seen: String,
    pub count: u64,
}

/// The report's `alerts`: raised this cycle, still open (escalated,
/// reminded or unchanged), cleared this cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertsReport {
    pub raised: Vec<AlertEntry>,
    pub open: Vec<AlertEntry>,
    pub cleared: Vec<AlertEntry>,
}

impl AlertsReport {
    pub fn of(transitions: &[Transition]) -> AlertsReport {
        let mut report = AlertsReport::default();
        for t in transitions {
            report.add(t);
        }
        report
    }

    /// Files one transition under `raised`, `open` or `cleared`.
    pub fn add(&mut self, t: &Transition) {
        let entry = AlertEntry {
            key: t.key.clone(),
            severity: t.alert.severity,
            change: t.change,
            scope: t.alert.scope.clone(),
            reason: t.alert.reason.clone(),
            runbook: t.alert.runbook.clone(),
            first_seen: rfc3339(t.alert.first_seen),
            count: t.alert.count,
        };
        match t.change {
            Change::Raised => self.raised.push(entry),
            Change::Cleared => self.cleared.push(entry),
            Change::Escalated | Change::Reminded | Change::StillOpen => self.open.push(entry),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.raised.is_empty() && self.open.is_empty() && self.cleared.is_empty()
    }
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap() + Duration::hours(i64::from(hour))
    }

    fn pool(severity: Severity) -> Condition {
        Condition {
            key: "pool_degraded".into(),
            severity,
            scope: "upstream pool".into(),
            reason: "pool from last_known_good".into(),
            runbook: "Upstream pool stale or malformed".into(),
        }
    }

    const DAY: Duration = Duration::hours(24);

    fn changes(transitions: &[Transition]) -> Vec<(String, Change)> {
        transitions.iter().map(|t| (t.key.clone(), t.change)).collect()
    }

    fn key(change: Change) -> Vec<(String, Change)> {
        vec![("pool_degraded".to_string(), change)]
    }

    #[test]
    fn a_new_condition_is_raised_and_recorded() {
        let (book, t) = AlertBook::default().advance(&[pool(Severity::Sev2)], at(0), DAY);
        assert_eq!(changes(&t), key(Change::Raised));
        assert_eq!(
            book.0["pool_degraded"],
            Alert {
                severity: Severity::Sev2,
                scope: "upstream pool".into(),
                reason: "pool from last_known_good".into(),
                runbook: "Upstream pool stale or malformed".into(),
                first_seen: at(0),
                last_seen: at(0),
                count: 1,
                state: AlertState::Raised,
                last_notified: Some(at(0)),
            }
        );
    }

    #[test]
    fn a_persisting_condition_is_not_announced_every_cycle_and_reminds_after_the_interval() {
        let (mut book, _) = AlertBook::default().advance(&[pool(Severity::Sev2)], at(0), DAY);
        for hour in 1..24 {
            let (next, t) = book.advance(&[pool(Severity::Sev2)], at(hour), DAY);
            assert_eq!(changes(&t), key(Change::StillOpen), "hour {hour}");
            book = next;
        }
        assert_eq!(book.0["pool_degraded"].count, 24);
        assert_eq!(book.0["pool_degraded"].last_seen, at(23));
        assert_eq!(book.0["pool_degraded"].last_notified, Some(at(0)));
        let (book, t) = book.advance(&[pool(Severity::Sev2)], at(24), DAY);
        assert_eq!(changes(&t), key(Change::Reminded));
        assert_eq!(book.0["pool_degraded"].last_notified, Some(at(24)));
        assert_eq!(book.0["pool_degraded"].first_seen, at(0), "a reminder is the same episode");
        let (_, t) = book.advance(&[pool(Severity::Sev2)], at(25), DAY);
        assert_eq!(changes(&t), key(Change::StillOpen));
    }

    #[test]
    fn escalation_notifies_and_a_lower_severity_does_not() {
        let (book, _) = AlertBook::default().advance(&[pool(Severity::Sev3)], at(0), DAY);
        let (book, t) = book.advance(&[pool(Severity::Sev2)], at(1), DAY);
        assert_eq!(changes(&t), key(Change::Escalated));
        assert_eq!(book.0["pool_degraded"].severity, Severity::Sev2);
        assert_eq!(book.0["pool_degraded"].last_notified, Some(at(1)));
        let (book, t) = book.advance(&[pool(Severity::Sev3)], at(2), DAY);
        assert_eq!(changes(&t), key(Change::StillOpen));
        assert_eq!(book.0["pool_degraded"].severity, Severity::Sev3);
        let (_, t) = book.advance(&[pool(Severity::Sev1)], at(3), DAY);
        assert_eq!(changes(&t), key(Change::Escalated));
    }

    #[test]
    fn clearing_notifies_once() {
        let (book, _) = AlertBook::default().advance(&[pool(Severity::Sev2)], at(0), DAY);
        let (book, t) = book.advance(&[], at(1), DAY);
        assert_eq!(changes(&t), key(Change::Cleared));
        assert_eq!(book.0["pool_degraded"].state, AlertState::Cleared);
        assert_eq!(book.0["pool_degraded"].last_seen, at(0), "last seen is when it was last observed");
        let (book, t) = book.advance(&[], at(2), DAY);
        assert_eq!(changes(&t), vec![]);
        let (_, t) = book.advance(&[], at(50), DAY);
        assert_eq!(changes(&t), vec![], "a cleared alert never reminds");
    }

    #[test]
    fn a_cleared_alert_leaves_the_book_after_the_retention_period() {
        let (book, _) = AlertBook::default().advance(&[pool(Severity::Sev2)], at(0), DAY);
        let (book, _) = book.advance(&[], at(1), DAY);
        let last_kept = 24 * CLEARED_RETENTION_DAYS as u32 - 1;
        let (book, t) = book.advance(&[], at(last_kept), DAY);
        assert_eq!(book.0["pool_degraded"].state, AlertState::Cleared, "kept while younger than the retention");
        assert_eq!(changes(&t), vec![]);
        let (book, t) = book.advance(&[], at(last_kept + 1), DAY);
        assert!(!book.0.contains_key("pool_degraded"), "dropped {CLEARED_RETENTION_DAYS} days after last seen");
        assert_eq!(changes(&t), vec![], "dropping says nothing");
        let (book, t) = book.advance(&[pool(Severity::Sev2)], at(last_kept + 2), DAY);
        assert_eq!(changes(&t), key(Change::Raised));
        assert_eq!(book.0["pool_degraded"].count, 1, "a new history");
    }

    #[test]
    fn a_cleared_key_raised_again_is_a_new_raise_and_keeps_its_count() {
        let (book, _) = AlertBook::default().advance(&[pool(Severity::Sev2)], at(0), DAY);
        let (book, _) = book.advance(&[pool(Severity::Sev2)], at(1), DAY);
        let (book, _) = book.advance(&[], at(2), DAY);
        let (book, t) = book.advance(&[pool(Severity::Sev2)], at(3), DAY);
        assert_eq!(changes(&t), key(Change::Raised));
        let alert = &book.0["pool_degraded"];
        assert_eq!((alert.count, alert.first_seen, alert.state), (3, at(3), AlertState::Raised));
    }

    #[test]
    fn an_undelivered_raise_is_owed_and_sent_as_a_reminder_next_cycle() {
        let (mut book, _) = AlertBook::default().advance(&[pool(Severity::Sev2)], at(0), DAY);
        book.undelivered("pool_degraded");
        assert_eq!(book.0["pool_degraded"].last_notified, None);
        let (_, t) = book.advance(&[pool(Severity::Sev2)], at(1), DAY);
        assert_eq!(changes(&t), key(Change::Reminded));
    }

    #[test]
    fn keys_are_independent_and_observed_once_per_cycle() {
        let funds = Condition {
            key: "buy_skipped_funds:ETHUSDT".into(),
            severity: Severity::Sev2,
            scope: "ETHUSDT".into(),
            reason: "insufficient free USDT".into(),
            runbook: "Cycle needs attention (exit 5)".into(),
        };
        let (book, t) =
            AlertBook::default().advance(&[pool(Severity::Sev2), funds.clone(), pool(Severity::Sev1)], at(0), DAY);
        assert_eq!(
            changes(&t),
            vec![("pool_degraded".into(), Change::Raised), ("buy_skipped_funds:ETHUSDT".into(), Change::Raised)]
        );
        let (_, t) = book.advance(&[funds], at(1), DAY);
        assert_eq!(
            changes(&t),
            vec![("buy_skipped_funds:ETHUSDT".into(), Change::StillOpen), ("pool_degraded".into(), Change::Cleared)]
        );
    }

    #[test]
    fn the_book_round_trips_through_json_with_severity_names() {
        let (book, t) = AlertBook::default().advance(&[pool(Severity::Sev1)], at(0), DAY);
        let value = serde_json::to_value(&book).unwrap();
        assert_eq!(value["pool_degraded"]["severity"], "SEV-1");
        assert_eq!(value["pool_degraded"]["state"], "raised");
        assert_eq!(value["pool_degraded"]["first_seen"], "2026-03-29T00:00:00Z");
        assert_eq!(serde_json::from_value::<AlertBook>(value).unwrap(), book);
        let report = serde_json::to_value(AlertsReport::of(&t)).unwrap();
        assert_eq!(report["raised"][0]["key"], "pool_degraded");
        assert_eq!(report["raised"][0]["change"], "raised");
        assert_eq!(report["open"], serde_json::json!([]));
    }
}
