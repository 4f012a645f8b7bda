//! How an executed (or suppressed) intent ended, and the class of that
//! ending the report keeps.

use crate::domain::intent::Fill;

/// How an executed (or suppressed) intent ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Replay / dry-run: not sent; the estimated fill is applied as if real.
    Suppressed,
    /// The exchange's own record of the fill.
    Filled(Fill),
    /// An Earn subscribe/redeem the exchange confirmed.
    EarnDone,
    /// Definitive refusal (never retried).
    Rejected(String),
    /// Sent but the outcome is unknown.
    Unresolved(String),
    /// Not sent.
    Skipped(String),
}
