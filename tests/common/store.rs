//! `HookedStore`: one `StateStore` wrapper for tests that need a store to
//! misbehave. It delegates every method to an inner store and lets a
//! [`StoreHook`] step in: wrap each call (the crash-point tripwire), refuse
//! a save (an outage), or act after a save landed (another run taking the
//! lease). The usual hooks are here ([`FailSavesFrom`], [`TakeLeaseAfter`]);
//! the tripwire's lives with it in `world.rs`.

#![allow(async_fn_in_trait)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tradecycle::adapters::store::memory::MemoryStore;
use tradecycle::ports::{LeaseOutcome, PortError, StateStore};

/// What a test changes about a store; every method defaults to "nothing".
pub trait StoreHook<S> {
    /// Renewals go to the inner store's own `renew_lease`. Off, they go
    /// through `acquire_lease` (the port's default for stores that cannot
    /// tell "still ours" from "free"), and so through [`Self::around`] as
    /// an `acquire_lease` call.
    const INNER_RENEW: bool = false;

    /// Runs one call to the inner store, named by `label`.
    async fn around<T>(&self, label: &str, call: impl Future<Output = T>) -> T {
        let _ = label;
        call.await
    }

    /// Asked once per save, before it: `Some` answers the save with that
    /// error instead of saving.
    fn refuse_save(&self) -> Option<PortError> {
        None
    }

    /// Called after a save landed in `inner`.
    fn saved(&self, inner: &S) {
        let _ = inner;
    }
}

/// A store `inner` whose calls `hook` may change.
pub struct HookedStore<S, H> {
    pub inner: S,
    pub hook: H,
}

impl<H> HookedStore<MemoryStore, H> {
    /// An in-memory store holding `doc`, behind `hook`.
    pub fn memory(doc: Value, hook: H) -> Self {
        HookedStore { inner: MemoryStore::new(Some(doc)), hook }
    }
}

impl<S: StateStore, H: StoreHook<S>> StateStore for HookedStore<S, H> {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        self.hook.around("load", self.inner.load()).await
    }
    async fn save(&self, doc: &Value) -> Result<(), PortError> {
        // Asked before the call, so a save a hook stops before it is made
        // still counts as refused.
        let refused = self.hook.refuse_save();
        let save = async {
            if let Some(error) = refused {
                return Err(error);
            }
            self.inner.save(doc).await?;
            self.hook.saved(&self.inner);
            Ok(())
        };
        self.hook.around("save", save).await
    }
    async fn acquire_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<LeaseOutcome, PortError> {
        self.hook.around("acquire_lease", self.inner.acquire_lease(owner, now, ttl)).await
    }
    async fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        if H::INNER_RENEW {
            self.hook.around("renew_lease", self.inner.renew_lease(owner, now, ttl)).await
        } else {
            Ok(self.acquire_lease(owner, now, ttl).await? == LeaseOutcome::Acquired)
        }
    }
    /// Not a hooked call: it only reads who holds the lease.
    async fn lease_holder(&self) -> Result<Option<(String, DateTime<Utc>)>, PortError> {
        self.inner.lease_holder().await
    }
    async fn release_lease(&self, owner: &str) -> Result<(), PortError> {
        self.hook.around("release_lease", self.inner.release_lease(owner)).await
    }
    async fn write_heartbeat(&self, service: &str, record: &Value) -> Result<(), PortError> {
        self.hook.around("write_heartbeat", self.inner.write_heartbeat(service, record)).await
    }
    /// Not a hooked call: the cycle never reads a heartbeat (the watchdog does).
    async fn read_heartbeat(&self, service: &str) -> Result<Option<Value>, PortError> {
        self.inner.read_heartbeat(service).await
    }
}

/// Saves fail (transiently, as when the database goes away or the process
/// is killed) from the n-th save on, n counted over the store's whole life,
/// failed saves included: what was stored before stays, nothing after lands.
pub struct FailSavesFrom {
    from: AtomicUsize,
    saves: AtomicUsize,
}

impl FailSavesFrom {
    pub fn new(from: usize) -> Self {
        FailSavesFrom { from: AtomicUsize::new(from), saves: AtomicUsize::new(0) }
    }

    /// The store is back: every save from now on lands.
    pub fn heal(&self) {
        self.from.store(usize::MAX, Ordering::SeqCst);
    }
}

impl<S> StoreHook<S> for FailSavesFrom {
    fn refuse_save(&self) -> Option<PortError> {
        let n = self.saves.fetch_add(1, Ordering::SeqCst) + 1;
        (n >= self.from.load(Ordering::SeqCst)).then(|| PortError::Retryable("store unavailable".into()))
    }
}

/// Right after the `after`-th save lands, another run (`owner`) takes the
/// lease until `until`, as a run does once this one's lease ran out.
pub struct TakeLeaseAfter {
    pub after: usize,
    pub owner: &'static str,
    pub until: DateTime<Utc>,
    pub saves: AtomicUsize,
}

impl StoreHook<MemoryStore> for TakeLeaseAfter {
    const INNER_RENEW: bool = true;

    fn saved(&self, inner: &MemoryStore) {
        if self.saves.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            inner.take_over_lease(self.owner, self.until);
        }
    }
}
