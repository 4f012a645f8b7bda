//! How an executed (or suppressed) intent ended, and the class of that
//! ending the report keeps: what a port error from the exchange means for
//! an intent is decided here, once, for orders and Earn moves alike.

use crate::boundary::PortError;
use crate::domain::intent::{Fill, NotSentClass, OutcomeClass};

/// How an executed (or suppressed) intent ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Replay / dry-run: not sent; the estimated fill is applied as if real.
    Suppressed,
    /// The exchange's own record of the fill.
    Filled(Fill),
    /// An Earn subscribe/redeem the exchange confirmed.
    EarnDone,
    /// Definitive refusal by the exchange (never retried).
    Rejected(String),
    /// Sent but the outcome is unknown.
    Unresolved(String),
    /// Not sent, by a decision before the exchange was involved.
    Skipped(String),
    /// Meant for the exchange but not executed, for a reason of `class`.
    NotSent { class: NotSentClass, why: String },
}

impl Outcome {
    /// Not executed, for `class`.
    pub fn not_sent(class: NotSentClass, why: impl Into<String>) -> Outcome {
        Outcome::NotSent { class, why: why.into() }
    }

    /// What a failed exchange call means for its intent. `Ambiguous` is
    /// `Unresolved` here; for an order the shell first looks it up by its
    /// client order id and comes here only for the other errors. The
    /// adapters report `Retryable`, `Auth` and `Conflict` only when nothing
    /// can have executed, so those are "not sent", not refusals.
    pub fn of_port_error(error: PortError) -> Outcome {
        let why = error.to_string();
        match error {
            PortError::Definitive(_) => Outcome::Rejected(why),
            PortError::Ambiguous(detail) => Outcome::Unresolved(detail),
            PortError::Retryable(_) => Outcome::not_sent(NotSentClass::Retryable, why),
            PortError::Auth(_) => Outcome::not_sent(NotSentClass::Auth, why),
            PortError::Conflict(_) => Outcome::not_sent(NotSentClass::Conflict, why),
        }
    }

    /// The report's `outcome` of an intent: none for replay/dry-run and for
    /// skips decided before the exchange was involved.
    pub fn class(&self) -> Option<OutcomeClass> {
        match self {
            Outcome::Suppressed | Outcome::Skipped(_) => None,
            Outcome::Filled(_) | Outcome::EarnDone => Some(OutcomeClass::Executed),
            Outcome::Rejected(_) => Some(OutcomeClass::Rejected),
            Outcome::Unresolved(_) => Some(OutcomeClass::Unresolved),
            Outcome::NotSent { class, .. } => Some(OutcomeClass::NotSent(*class)),
        }
    }
}
