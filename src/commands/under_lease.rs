//! The operator commands that edit the state document (`pause`, `resume`,
//! `orders resolve`) hold the run lease while they load, change and save
//! it, so they never race a cycle's own read-modify-write: a cycle holding
//! the lease means exit 4 and nothing changed.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::commands::exit;
use crate::ports::{LeaseOutcome, StateStore};
use crate::shell::lease::lease_owner;

/// How long a command holds the lease: a load and a save take moments, and
/// a command that dies holding it must not keep cycles out (exit 4) for a
/// cycle's own 15 minutes.
const COMMAND_LEASE_TTL: Duration = Duration::from_secs(60);

/// Takes the run lease as `command`, runs `edit` and releases the lease;
/// `edit`'s exit code, or 4 when a cycle holds the lease.
pub async fn under_lease<S, F, Fut>(store: &S, command: &str, now: DateTime<Utc>, edit: F) -> u8
where
    S: StateStore,
    F: FnOnce() -> Fut,
    Fut: Future<Output = u8>,
{
    let owner = lease_owner(command);
    match store.acquire_lease(&owner, now, COMMAND_LEASE_TTL).await {
        Ok(LeaseOutcome::Acquired) => {}
        Ok(LeaseOutcome::Held { owner, expires_at }) => {
            eprintln!(
                "error: a cycle ({owner}) holds the run lease until {}; nothing changed, run this again once it ends",
                expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            return exit::LEASE_HELD;
        }
        Err(e) => {
            eprintln!("error: cannot take the run lease in the state store: {e}; nothing changed");
            return exit::ERROR;
        }
    }
    let code = edit().await;
    if let Err(e) = store.release_lease(&owner).await {
        eprintln!("warning: could not release the run lease ({e}); it expires by itself");
    }
    code
}
