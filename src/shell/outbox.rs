//! The outbox: notifications wait here during a cycle and go out together,
//! one message each or coalesced, so a burst cannot trip Telegram's flood
//! control. Separate from the runner because delivery never changes the
//! trading outcome (design.md §3.12): it only adds records and warnings to
//! the report.

use crate::domain::report::{DeliveryStatus, NotificationRecord};
use crate::notify::messages;
use crate::ports::{Exchange, Notifier, PortError, StateStore};
use crate::shell::effects::Executor;
use crate::shell::runner::Shell;

/// Up to this many notifications of one cycle go out as separate messages;
/// more are coalesced, so a burst cannot trip Telegram's flood control.
pub const MAX_SEPARATE_MESSAGES: usize = 3;

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// Sends the queued notifications: one message each when there are at
    /// most [`MAX_SEPARATE_MESSAGES`], otherwise coalesced into as few
    /// messages as fit. Each event's record gets the status of the message
    /// that carried it; a failure is a warning, never a change of outcome
    /// (design.md §3.12). Returns each event's status, in order.
    pub(super) async fn deliver(&mut self) -> Vec<DeliveryStatus> {
        let events = std::mem::take(&mut self.outbox);
        let lang = self.run.settings.lang;
        let name = messages::strategy_display_name(lang);
        let bodies: Vec<String> = events.iter().map(|e| messages::render(e, lang, name)).collect();
        let mut outcomes: Vec<(DeliveryStatus, Option<String>)> =
            vec![(DeliveryStatus::Suppressed, None); events.len()];
        if !self.suppress() && !events.is_empty() {
            let batches: Vec<(usize, String)> = if events.len() <= MAX_SEPARATE_MESSAGES {
                bodies.iter().map(|b| (1, b.clone())).collect()
            } else {
                messages::coalesce_batches(&bodies, lang)
            };
            let mut first = 0usize;
            // After an outage, a rate limit or a refused token the next
            // message would fail the same way, each after a full timeout.
            let mut gave_up: Option<String> = None;
            for (count, body) in batches {
                let outcome = match &gave_up {
                    Some(why) => (DeliveryStatus::Failed, Some(why.clone())),
                    None => match self.run.notifier.send(&format!("{}:\n{body}", messages::prefix(lang))).await {
                        Ok(()) => (DeliveryStatus::Sent, None),
                        Err(e) => {
                            if matches!(e, PortError::Retryable(_) | PortError::Auth(_)) {
                                gave_up = Some(format!("not attempted after an earlier message failed: {e}"));
                            }
                            (DeliveryStatus::Failed, Some(e.to_string()))
                        }
                    },
                };
                outcomes[first..first + count].fill(outcome);
                first += count;
            }
        }
        let mut statuses = Vec::with_capacity(events.len());
        for ((event, text), (status, error)) in events.iter().zip(bodies).zip(outcomes) {
            if let Some(e) = &error {
                self.report.warnings.push(format!("notification {} not delivered: {e}", event.name()));
            }
            self.report.notifications.push(NotificationRecord { event: event.name().to_string(), status, text, error });
            statuses.push(status);
        }
        statuses
    }
}
