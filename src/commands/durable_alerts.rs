//! The durable alert book of the operations commands that watch the cycle
//! from outside (`watchdog`, `heartbeat`): the core [`AlertBook`] kept in
//! its own small record of the state store (the heartbeat slot under a key
//! of its own), never in the cycle's state document — so a watcher never
//! races the cycle's lease or overwrites its state. Moving the book is the
//! core's pure `advance`; this module loads it, sends one message per
//! change worth one (raise, escalation, reminder, clear) and saves it.
//! Separate from both commands because both keep their alerts this way.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::domain::alerts::{AlertBook, Condition, Transition};
use crate::notify::alert_messages::render;
use crate::notify::event::{AlertNotice, Lang};
use crate::notify::messages::prefix;
use crate::ports::{Notifier, StateStore};

/// Schema of the stored book record.
pub const BOOK_SCHEMA: &str = "tradecycle.alert_book.v1";

/// The store key (heartbeat slot) of a watcher's book, e.g.
/// `alerts.watchdog.tradecycle`: letters, digits, `-`, `_`, `.` only, as
/// both stores accept for a heartbeat name.
pub fn book_key(watcher: &str, subject: &str) -> String {
    let clean: String =
        subject.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("alerts.{watcher}.{clean}")
}

/// Reads the book; a missing record is an empty book.
pub async fn load_book(store: &impl StateStore, key: &str) -> Result<AlertBook, String> {
    let record = store.read_heartbeat(key).await.map_err(|e| format!("cannot read the alert book {key}: {e}"))?;
    Ok(AlertBook::from_json(record.as_ref().and_then(|r| r.get("alerts"))))
}

pub async fn save_book(store: &impl StateStore, key: &str, book: &AlertBook, now: DateTime<Utc>) -> Result<(), String> {
    let record = json!({
        "schema": BOOK_SCHEMA,
        "updated_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "alerts": serde_json::to_value(book).unwrap_or(Value::Null),
    });
    store.write_heartbeat(key, &record).await.map_err(|e| format!("cannot write the alert book {key}: {e}"))
}

/// The text of one change's message.
pub fn message(t: &Transition, lang: Lang) -> String {
    format!("{}:\n{}", prefix(lang), render(&AlertNotice::of(t), lang))
}

/// Moves `book` by what was observed now and sends the messages owed,
/// each as `text` renders it (e.g. [`message`]). An undelivered message
/// (or no notifier at all) leaves an open alert owing one, so the next run
/// reminds. Returns the book to save, the transitions and the log lines.
pub async fn advance_and_notify(
    book: &AlertBook,
    observed: &[Condition],
    now: DateTime<Utc>,
    remind: Duration,
    notifier: Option<&impl Notifier>,
    text: impl Fn(&Transition) -> String,
) -> (AlertBook, Vec<Transition>, Vec<String>) {
    let (mut book, transitions) = book.advance(observed, now, remind);
    let mut log = Vec::new();
    for t in transitions.iter().filter(|t| t.change.notifies()) {
        let what = format!("alert {} {:?}", t.key, t.change).to_lowercase();
        let sent = match notifier {
            None => Err("telegram not configured (TG_TOKEN, GLOBAL_TELEGRAM_CHAT_ID)".to_string()),
            Some(n) => n.send(&text(t)).await.map_err(|e| e.to_string()),
        };
        match sent {
            Ok(()) => log.push(format!("{what}: sent")),
            Err(e) => {
                book.undelivered(&t.key);
                log.push(format!("warning: {what}: not sent: {e}"));
            }
        }
    }
    (book, transitions, log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::store::memory::MemoryStore;
    use crate::domain::alerts::{Change, Severity};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Sent(Mutex<Vec<String>>);
    impl Notifier for Sent {
        async fn send(&self, text: &str) -> Result<(), crate::ports::PortError> {
            self.0.lock().unwrap().push(text.to_string());
            Ok(())
        }
    }

    fn stale() -> Condition {
        Condition {
            key: "heartbeat_stale".into(),
            severity: Severity::Sev1,
            scope: "service acct".into(),
            reason: "no record".into(),
            runbook: "Watchdog alerts".into(),
        }
    }

    fn en(t: &Transition) -> String {
        message(t, Lang::En)
    }

    #[test]
    fn keys_are_store_safe() {
        assert_eq!(book_key("watchdog", "acct-a"), "alerts.watchdog.acct-a");
        assert_eq!(book_key("heartbeat", "owner/repo cycle.yml"), "alerts.heartbeat.owner_repo_cycle.yml");
    }

    #[tokio::test]
    async fn raise_once_then_quiet_then_clear_and_the_book_round_trips() {
        let store = MemoryStore::default();
        let sent = Sent::default();
        let t0 = DateTime::parse_from_rfc3339("2026-03-15T12:00:00Z").unwrap().with_timezone(&Utc);
        let remind = Duration::hours(24);
        let key = book_key("watchdog", "acct");
        let book = load_book(&store, &key).await.unwrap();
        let (book, ts, _) = advance_and_notify(&book, &[stale()], t0, remind, Some(&sent), en).await;
        assert_eq!(ts[0].change, Change::Raised);
        save_book(&store, &key, &book, t0).await.unwrap();
        let book = load_book(&store, &key).await.unwrap();
        let (book, ts, _) =
            advance_and_notify(&book, &[stale()], t0 + Duration::hours(1), remind, Some(&sent), en).await;
        assert_eq!(ts[0].change, Change::StillOpen);
        let (_, ts, _) = advance_and_notify(&book, &[], t0 + Duration::hours(2), remind, Some(&sent), en).await;
        assert_eq!(ts[0].change, Change::Cleared);
        let sent = sent.0.into_inner().unwrap();
        assert_eq!(sent.len(), 2);
        assert!(sent[0].starts_with("🤖 tradecycle:\n🚨 [Alert Raised] SEV-1 heartbeat_stale\n"), "{}", sent[0]);
        assert!(sent[1].contains("✅ [Alert Cleared] SEV-1 heartbeat_stale"), "{}", sent[1]);
    }

    #[tokio::test]
    async fn without_a_notifier_the_alert_stays_owed() {
        let t0 = Utc::now();
        let none: Option<&Sent> = None;
        let (book, _, log) =
            advance_and_notify(&AlertBook::default(), &[stale()], t0, Duration::hours(24), none, en).await;
        assert_eq!(book.0["heartbeat_stale"].last_notified, None);
        assert_eq!(
            log,
            [
                "warning: alert heartbeat_stale raised: not sent: telegram not configured (TG_TOKEN, GLOBAL_TELEGRAM_CHAT_ID)"
            ]
        );
    }
}
