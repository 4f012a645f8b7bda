//! The alert conditions a finished cycle observed (issue 11), read from
//! what the cycle already knows: the pool's source, the pending ledger,
//! the Earn moves refused and the buys skipped for funds, the breaker. The
//! alert book in the state then moves on from them
//! ([`crate::domain::alerts`]). Separate from the steps that produce these
//! facts because it only reads them.

use chrono::Duration;

use super::Cycle;
use crate::domain::alerts::{Condition, Severity, Transition};
use crate::domain::pool::SourceKind;
use crate::domain::state::PENDING_QUARANTINED;

/// RUNBOOK.md headings the alert messages point to (`tests/alerts.rs`
/// checks each exists).
pub const RUNBOOK_POOL: &str = "Upstream pool stale or malformed";
pub const RUNBOOK_UNRESOLVED: &str = "Unresolved order";
pub const RUNBOOK_QUARANTINED: &str = "Quarantined order";
pub const RUNBOOK_UNREADABLE: &str = "Unreadable pending order entry";
pub const RUNBOOK_ATTENTION: &str = "Cycle needs attention (exit 5)";
pub const RUNBOOK_BREAKER: &str = "Circuit breaker fired";
pub const RUNBOOK_STATE_SAVE: &str = "State save failed";

fn condition(key: String, severity: Severity, scope: &str, reason: String, runbook: &str) -> Condition {
    Condition { key, severity, scope: scope.to_string(), reason, runbook: runbook.to_string() }
}

impl Cycle {
    /// What this cycle observed that the operator must hear about, in a
    /// stable order (pool, ledger, Earn, funds, breaker).
    pub fn conditions(&self) -> Vec<Condition> {
        let mut found = Vec::new();
        let source = self.resolution.source_kind;
        let pool_reason = format!(
            "the upstream pool came from {} ({}); new trend entries are paused unless \
             STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED=1",
            source.as_str(),
            self.resolution.source_label
        );
        match source {
            SourceKind::FreshUpstream => {}
            SourceKind::LastKnownGood | SourceKind::LocalFile => {
                found.push(condition(
                    "pool_degraded".into(),
                    Severity::Sev2,
                    "upstream pool",
                    pool_reason,
                    RUNBOOK_POOL,
                ));
            }
            SourceKind::Static => {
                found.push(condition("pool_static".into(), Severity::Sev2, "upstream pool", pool_reason, RUNBOOK_POOL));
            }
        }
        for (id, order) in &self.state.pending_orders {
            if order.status == PENDING_QUARANTINED {
                let why = order.quarantine_reason.as_deref().unwrap_or("it cannot be looked up on the exchange");
                let reason = format!("order {id} is quarantined ({why}); no new risk in its symbol");
                found.push(condition(
                    format!("order_quarantined:{id}"),
                    Severity::Sev1,
                    &order.symbol,
                    reason,
                    RUNBOOK_QUARANTINED,
                ));
            } else {
                let reason = format!("the outcome of order {id} is unknown; no buys or Earn moves until it is settled");
                found.push(condition(
                    format!("order_unresolved:{id}"),
                    Severity::Sev2,
                    &order.symbol,
                    reason,
                    RUNBOOK_UNRESOLVED,
                ));
            }
        }
        for id in self.state.unreadable_pending.keys() {
            let reason = format!("pending_orders.{id} in the state document cannot be read; no new risk until fixed");
            found.push(condition(format!("order_unreadable:{id}"), Severity::Sev1, id, reason, RUNBOOK_UNREADABLE));
        }
        for asset in &self.earn_refused {
            let reason = format!("a Simple Earn move of {asset} failed this cycle; the money stays where it was");
            found.push(condition(format!("earn_refused:{asset}"), Severity::Sev2, asset, reason, RUNBOOK_ATTENTION));
        }
        for symbol in &self.buys_skipped_for_funds {
            let reason = format!("a buy of {symbol} was skipped: spot did not hold the funds it needs");
            found.push(condition(
                format!("buy_skipped_funds:{symbol}"),
                Severity::Sev2,
                symbol,
                reason,
                RUNBOOK_ATTENTION,
            ));
        }
        found.extend(crate::strategy::parity::conditions(&self.position_mismatches));
        if self.state.is_circuit_broken {
            let reason = "the daily circuit breaker is latched: the trend sleeve trades nothing today \
                          (BTC DCA and the Earn buffer continue)"
                .to_string();
            found.push(condition("breaker_latched".into(), Severity::Sev2, "trend sleeve", reason, RUNBOOK_BREAKER));
        }
        found
    }

    /// Moves the state's alert book on by this cycle's conditions plus the
    /// shell's `extra` ones; returns each key's change.
    pub fn advance_alerts(&mut self, extra: &[Condition], remind: Duration) -> Vec<Transition> {
        let mut observed = self.conditions();
        observed.extend_from_slice(extra);
        let (book, transitions) = self.state.alerts.advance(&observed, self.now, remind);
        self.state.alerts = book;
        transitions
    }
}

/// The condition the shell observes when the state could not be saved.
pub fn state_save_failed(reason: String) -> Condition {
    condition("state_save_failed".into(), Severity::Sev1, "state store", reason, RUNBOOK_STATE_SAVE)
}
