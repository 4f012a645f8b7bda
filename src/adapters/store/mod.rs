//! State stores behind the [`crate::ports::StateStore`] trait: Firestore
//! (live), a local JSON file (paper and local runs), memory (replay and
//! tests); [`select`] parses which one a run uses.

pub mod file;
pub mod firestore;
pub mod memory;
pub mod select;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ports::PortError;

/// When a lease taken at `now` for `ttl` runs out (an absurd ttl is an
/// error, not a panic).
pub(crate) fn lease_expiry(now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>, PortError> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .ok_or_else(|| PortError::Definitive(format!("lease ttl {ttl:?} is out of range")))
}
