//! Step 7 of the runbook, one intent at a time: an order or a Simple
//! Earn move is fenced by the lease, written ahead to the pending ledger,
//! performed by the [`Executor`] (or recorded as suppressed) and its
//! outcome applied to the cycle. Separate from the runner because this is
//! where "nothing lost, nothing done twice" is kept for each side effect.

use std::time::Duration;

use rust_decimal::Decimal;

use crate::domain::intent::{Intent, IntentKind, NotSentClass};
use crate::ports::{Exchange, Notifier, StateStore};
use crate::shell::runner::Shell;
use crate::strategy::cycle::{Cycle, Outcome};

/// Performs intents for real (paper or live). Replay and dry-run never get here.
#[allow(async_fn_in_trait)]
pub trait Executor {
    async fn perform(&mut self, intent: &Intent) -> Outcome;
    /// After an Earn redeem: waits (bounded) until spot shows `need` of
    /// `asset`; returns the spot free balance last seen, if any.
    async fn await_funds(&mut self, asset: &str, need: Decimal) -> Option<Decimal>;
    /// Warnings for the run report gathered while performing (e.g. a fill's
    /// fee that could not be read); taken after each intent.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// The executor of modes that suppress every side effect.
pub struct Suppress;

impl Executor for Suppress {
    async fn perform(&mut self, _: &Intent) -> Outcome {
        Outcome::Suppressed
    }

    async fn await_funds(&mut self, _: &str, _: Decimal) -> Option<Decimal> {
        None
    }
}

/// Binance's Simple Earn limit: one subscribe or redeem per 3 s per account.
pub const EARN_MOVE_SPACING: Duration = Duration::from_secs(3);

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// Executes one intent: an Earn move through [`Shell::earn_move`]; an
    /// order after a fallback redeem if spot is still short (the planned
    /// redeem normally covered it), written ahead to the ledger, sent, and
    /// its outcome applied. An order spot cannot fund is skipped with a
    /// reason, an alert and the operator's attention.
    pub(super) async fn execute(&mut self, cycle: &mut Cycle, intent: Intent) {
        if let Some(signal) = crate::shell::stop::requested() {
            self.report.stopped(format!("{signal} received: the intents after it were skipped"));
            let why = crate::shell::stop::SKIP_REASON;
            let skipped = if self.suppress() {
                Outcome::Skipped(why.into())
            } else {
                Outcome::not_sent(NotSentClass::Stopped, why)
            };
            cycle.apply(intent, skipped);
            self.flush(cycle).await;
            return;
        }
        if !intent.kind.is_order() {
            self.earn_move(cycle, intent).await;
            return;
        }
        if let Some(redeem) = cycle.funding_for(&intent) {
            self.earn_move(cycle, redeem).await;
        }
        match cycle.check_funded(&intent) {
            Err(why) => cycle.skip_unfunded(intent, why),
            Ok(()) => {
                let outcome = self.perform(cycle, &intent).await;
                cycle.apply(intent, outcome);
            }
        }
        self.flush(cycle).await;
    }

    /// One Simple Earn move. A second move in the run first waits out
    /// [`EARN_MOVE_SPACING`] on the clock. After a confirmed redeem it waits
    /// (bounded, in the executor) for the money to reach spot; what has not
    /// arrived is booked as in transit and saved at once. A process that
    /// dies between the redeem's answer and that save leaves the money in
    /// flight unrecorded: the next run reads it as a withdrawal only if the
    /// credit is still not on spot when that run starts.
    pub(super) async fn earn_move(&mut self, cycle: &mut Cycle, intent: Intent) {
        let live = !self.suppress();
        if live && let Some(last) = self.last_earn_move {
            let ready = last + chrono::Duration::from_std(EARN_MOVE_SPACING).unwrap_or_default();
            if let Ok(wait) = (ready - self.run.clock.now()).to_std()
                && !wait.is_zero()
            {
                self.run.clock.sleep(wait).await;
            }
        }
        let redeem = (intent.kind == IntentKind::EarnRedeem)
            .then(|| (intent.asset.clone(), cycle.spot_free(&intent.asset) + intent.amount.unwrap_or_default()));
        // A live redeem is written ahead like an order: if the process dies
        // before its answer, the next run still knows money may be in flight.
        let ahead = (live && redeem.is_some()).then(|| cycle.write_ahead_redeem(&intent));
        if ahead.is_some() && !self.save_state(&cycle.state, &format!("write_ahead:earn_redeem:{}", intent.asset)).await
        {
            cycle.redeem_answered(&intent.asset, ahead.flatten(), &Outcome::Suppressed);
            cycle.apply(
                intent,
                Outcome::not_sent(NotSentClass::WriteAheadFailed, "the write-ahead save failed; redeem not sent"),
            );
            self.flush(cycle).await;
            return;
        }
        let outcome = self.perform(cycle, &intent).await;
        if let Some(previous) = ahead {
            cycle.redeem_answered(&intent.asset, previous, &outcome);
        }
        if live {
            self.last_earn_move = Some(self.run.clock.now());
        }
        let redeemed = matches!(outcome, Outcome::EarnDone);
        cycle.apply(intent, outcome);
        if redeemed && let Some((asset, expected)) = redeem {
            let seen = self.run.executor.await_funds(&asset, expected).await;
            cycle.note_redeem_arrival(&asset, seen);
        }
        self.flush(cycle).await;
    }

    /// Sends one intent, or records it as suppressed. The run lease is
    /// renewed first (a run that lost it sends nothing). An order is then
    /// written ahead to the state's pending ledger; if that save fails, or an
    /// order with the same client id is still pending, it is not sent.
    async fn perform(&mut self, cycle: &mut Cycle, intent: &Intent) -> Outcome {
        if self.suppress() {
            return Outcome::Suppressed;
        }
        if let Some(why) = &self.lease.lost {
            return Outcome::not_sent(NotSentClass::LeaseLost, format!("not sent: {why}"));
        }
        if let Some(id) = intent.client_order_id.as_deref()
            && cycle.state.pending_orders.contains_key(id)
        {
            return Outcome::not_sent(
                NotSentClass::AlreadyPending,
                format!("order {id} is still pending from an earlier attempt; not sent again"),
            );
        }
        // Every side effect (orders and Earn moves) first re-checks the fence.
        let lease_until = match self.fence().await {
            Ok(until) => until,
            Err(why) => return Outcome::not_sent(NotSentClass::LeaseLost, format!("not sent: {why}")),
        };
        if let Some(id) = intent.client_order_id.as_deref() {
            cycle.write_ahead(intent, &self.run.run_id);
            if let Some(entry) = cycle.state.pending_orders.get_mut(id) {
                entry.lease_until = lease_until;
            }
            if !self.save_state(&cycle.state, &format!("write_ahead:{id}")).await {
                cycle.state.pending_orders.shift_remove(id);
                return Outcome::not_sent(
                    NotSentClass::WriteAheadFailed,
                    "the write-ahead save failed; order not sent",
                );
            }
            // Only send while the lease written into the entry still holds:
            // after that a next run may take over and drop the entry.
            if lease_until.is_some_and(|until| self.lease_now() >= until) {
                return Outcome::not_sent(
                    NotSentClass::LeaseLost,
                    "the run lease ran out before the order could be sent; not sent",
                );
            }
        }
        let outcome = self.run.executor.perform(intent).await;
        self.report.warnings.append(&mut self.run.executor.take_warnings());
        outcome
    }
}
