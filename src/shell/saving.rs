//! Step 8 of the runbook, and every save before it: performing the saves
//! the cycle queued, saving the state document with retries, and writing
//! the recovery file when a save failed for good (design.md §3.13).
//! Separate from the runner because every step saves through here, and a
//! run that lost its lease must save nothing.

use std::time::Duration;

use crate::domain::report::{StateWrite, Status, WriteStatus};
use crate::domain::state::StateDoc;
use crate::notify::event::{AlertNotice, Event};
use crate::ports::{Exchange, Notifier, PortError, StateStore};
use crate::shell::effects::Executor;
use crate::shell::runner::Shell;
use crate::strategy::cycle::{Cycle, Effect, conditions};

/// How hard a state save is tried before the run gives up on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SavePolicy {
    pub attempts: u32,
    /// First retry delay; doubles per attempt.
    pub backoff: Duration,
}

impl Default for SavePolicy {
    fn default() -> Self {
        SavePolicy { attempts: 4, backoff: Duration::from_millis(500) }
    }
}

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// Performs the saves the cycle queued, in order, and moves its
    /// notifications to the outbox.
    pub(super) async fn flush(&mut self, cycle: &mut Cycle) {
        for effect in cycle.drain_effects() {
            match effect {
                Effect::Save(reason) => {
                    self.save_state(&cycle.state, &reason).await;
                }
                Effect::Notify(event) => self.outbox.push(event),
            }
        }
    }

    /// Saves the state (retrying transient failures with backoff; a
    /// concurrent writer is never overwritten). Returns whether it was saved.
    pub(super) async fn save_state(&mut self, state: &StateDoc, reason: &str) -> bool {
        if self.suppress() {
            self.report.state_writes.push(StateWrite { reason: reason.to_string(), status: WriteStatus::Suppressed });
            return true;
        }
        if let Some(why) = self.lease.lost.clone() {
            self.report.fail(Status::Error, "state_save", format!("state ({reason}) not saved: {why}"));
            self.report.state_writes.push(StateWrite { reason: reason.to_string(), status: WriteStatus::Failed });
            return false;
        }
        let doc = state.to_value();
        let mut delay = self.run.save_policy.backoff;
        let mut attempt = 1;
        let result = loop {
            match self.run.store.save(&doc).await {
                Err(PortError::Retryable(e)) if attempt < self.run.save_policy.attempts => {
                    tracing::warn!("state save ({reason}) failed, retrying in {delay:?}: {e}");
                    self.run.clock.sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => break other,
            }
        };
        let status = match result {
            Ok(()) => WriteStatus::Written,
            Err(e) => {
                self.report.fail(
                    Status::Error,
                    "state_save",
                    format!("saving state ({reason}) failed after {attempt} attempt(s): {e}"),
                );
                WriteStatus::Failed
            }
        };
        self.report.state_writes.push(StateWrite { reason: reason.to_string(), status });
        status == WriteStatus::Written
    }

    /// Writes the state that could not be saved to
    /// `artifacts/state-recovery-<run_id>.json` and queues the alert.
    pub(super) fn write_recovery(&mut self) {
        self.raise_state_save_failed();
        let (Some(dir), Some(state)) = (self.run.artifacts_dir.clone(), self.final_state.as_ref()) else { return };
        let stem = format!("state-recovery-{}", self.run.run_id);
        let text = serde_json::to_string_pretty(&state.to_value()).unwrap_or_default();
        // Atomic, and never over an earlier run's recovery file (same run id).
        let shown = match crate::shell::artifacts::write_new(&dir, &stem, &text) {
            Ok(path) => {
                self.report.recovery_file = Some(path.display().to_string());
                path.display().to_string()
            }
            Err(e) => {
                let shown = dir.join(format!("{stem}.json")).display().to_string();
                self.report.warnings.push(format!("could not write the recovery file {shown}: {e}"));
                shown
            }
        };
        let stage = self.report.errors.iter().find(|e| e.stage == "state_save");
        let error = stage.map(|e| e.message.clone()).unwrap_or_default();
        self.outbox.push(Event::StateSaveFailed { error, path: shown });
    }

    /// Raises `state_save_failed` in the state that could not be saved,
    /// before it goes to the recovery file: restoring that file and the
    /// next saved run then clear it. The report and a message carry it now.
    /// A run whose last save went through left a good state behind: its
    /// earlier failure is told by the `StateSaveFailed` message alone, as
    /// an alert it would stay open in a file nobody needs to restore.
    fn raise_state_save_failed(&mut self) {
        if self.report.state_writes.last().map(|w| w.status) != Some(WriteStatus::Failed) {
            return;
        }
        let remind = self.remind_interval();
        let now = self.run.now;
        let Some(state) = self.final_state.as_mut() else { return };
        let stage = self.report.errors.iter().find(|e| e.stage == "state_save");
        let reason = format!(
            "the state document could not be saved ({}); the state in the recovery file is the true one",
            stage.map(|e| e.message.as_str()).unwrap_or("unknown error")
        );
        let transition = state.alerts.observe(&conditions::state_save_failed(reason), now, remind);
        self.report.alerts.add(&transition);
        if transition.change.notifies() {
            self.outbox.push(Event::Alert(AlertNotice::of(&transition)));
        }
    }
}
