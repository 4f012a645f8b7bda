//! Upstream trend pool: turning whatever the publisher (or a fallback) gave
//! us into a validated [`PoolResolution`](crate::domain::pool::PoolResolution).
//!
//! Pure code only (behaviour.md §3.2–§3.6): the shell fetches the Firestore
//! document, the last-known-good payload from state and the local files, and
//! hands their outcomes to [`ladder::resolve_ladder`]; the clock is a
//! parameter. Every message starts with a stable snake_case code and `": "`
//! (see [`payload::codes`] and [`ladder::codes`]), so machines match the code
//! and operators read the sentence.

pub mod ladder;
pub mod payload;

pub use ladder::{
    FetchOutcome, FreshSource, LadderInputs, LocalCandidate, resolve_injected, resolve_ladder, static_payload,
};
pub use payload::{ContractSettings, Validation, message_code, validate_payload};
