//! Step 1 of the runbook and the fence that holds until the run ends:
//! taking the run lease, renewing it before every side effect, and
//! releasing it at the end (design.md §3.18). Separate from the runner because the lease is the one
//! piece of state a run shares with every other run of the account.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use crate::domain::report::Status;
use crate::notify::event::Event;
use crate::ports::{Exchange, LeaseOutcome, Notifier, StateStore};
use crate::shell::effects::Executor;
use crate::shell::runner::{Shell, Stop};
use crate::strategy::cycle::conditions;

/// The run lease's owner: the run id (by default a timestamp to the second,
/// which two runs started in the same second share) made unique per
/// process and per cycle, so two runs can never both "hold" the lease.
pub fn lease_owner(run_id: &str) -> String {
    static CYCLES: AtomicU64 = AtomicU64::new(0);
    // RandomState is keyed from the OS's randomness once per process.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(CYCLES.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("{run_id}/{:016x}", h.finish())
}

/// This run's hold on the run lease (design.md §3.18).
pub(super) struct Lease {
    pub owner: String,
    /// Why the run no longer holds it: from then on nothing is sent or saved.
    pub lost: Option<String>,
}

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// Takes the run lease; a lease another run left behind expired (it
    /// died before releasing it) is taken over and noted as the
    /// `lease_takeover` condition of this cycle.
    pub(super) async fn take_lease(&mut self) -> Result<bool, Stop> {
        let Some(ttl) = self.run.lease_ttl.filter(|_| !self.suppress()) else { return Ok(false) };
        // Read before taking: the take overwrites the holder. Only an
        // observation, so a store that cannot say does not stop the run.
        let before = match self.run.store.lease_holder().await {
            Ok(holder) => holder,
            Err(e) => {
                self.report.warnings.push(format!("could not read who held the run lease before this run: {e}"));
                None
            }
        };
        match self.run.store.acquire_lease(&self.lease.owner, self.run.now, ttl).await {
            Ok(LeaseOutcome::Acquired) => {
                if conditions::is_takeover(before.as_ref(), &self.lease.owner, self.run.now)
                    && let Some((previous, expired_at)) = before
                {
                    self.observed.push(conditions::lease_takeover(&previous, expired_at));
                }
                Ok(true)
            }
            Ok(LeaseOutcome::Held { owner, expires_at }) => Err((
                Status::Aborted,
                "lease",
                format!(
                    "another cycle ({owner}) holds the run lease until {}; not trading",
                    expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )),
            Err(e) => Err((Status::Aborted, "state_load", format!("could not take the run lease: {e}"))),
        }
    }

    /// Releases the lease this run took (`leased`) and still holds; one that
    /// cannot be released is a warning: it expires on its own.
    pub(super) async fn release_lease(&mut self, leased: bool) {
        if leased
            && self.lease.lost.is_none()
            && let Err(e) = self.run.store.release_lease(&self.lease.owner).await
        {
            self.report.warnings.push(format!("could not release the run lease: {e}; it expires on its own"));
        }
    }

    /// The cycle's clock for the lease: its (possibly injected) start plus
    /// the real time elapsed since.
    pub(super) fn lease_now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap_or(chrono::Duration::zero());
        self.run.now + elapsed
    }

    /// Renews the run lease before a write-ahead; returns until when it now
    /// holds (`None` when this run takes no lease). A lease taken over, or
    /// one that cannot be renewed, is lost for good: the report says why,
    /// the operator is alerted, and nothing more is sent or saved.
    pub(super) async fn fence(&mut self) -> Result<Option<DateTime<Utc>>, String> {
        let Some(ttl) = self.run.lease_ttl else { return Ok(None) };
        let now = self.lease_now();
        let why = match self.run.store.renew_lease(&self.lease.owner, now, ttl).await {
            Ok(true) => return Ok(crate::adapters::store::lease_expiry(now, ttl).ok()),
            Ok(false) => format!(
                "this run ({}) lost the run lease to another cycle; it sends and saves nothing more",
                self.lease.owner
            ),
            Err(e) => format!("the run lease could not be renewed ({e}); this run sends and saves nothing more"),
        };
        self.report.fail(Status::Error, "lease_lost", why.clone());
        self.outbox.push(Event::OrderAttention { detail: why.clone() });
        self.lease.lost = Some(why.clone());
        Err(why)
    }
}
