//! A state store held in memory: replay's store and a test double. It
//! implements the same compare-and-set and lease rules as the real stores.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ports::{LeaseOutcome, PortError, StateStore};

#[derive(Default)]
struct Inner {
    /// Shared with the last entry of `writes`: a save copies the document
    /// once (backtests save every cycle).
    doc: Option<Arc<Value>>,
    /// Bumped on every write; saves must match what was last seen.
    version: u64,
    seen: u64,
    writes: Vec<Arc<Value>>,
    lease: Option<(String, DateTime<Utc>)>,
    heartbeats: Vec<(String, Value)>,
}

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// A store whose document is `doc` (`None` or JSON null: missing).
    pub fn new(doc: Option<Value>) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner { doc: doc.filter(|d| !d.is_null()).map(Arc::new), ..Default::default() }),
        }
    }

    /// Every document saved, in order.
    pub fn writes(&self) -> Vec<Value> {
        self.inner.lock().map(|i| i.writes.iter().map(|w| Value::clone(w)).collect()).unwrap_or_default()
    }

    /// The document the store holds, taking the store apart (what a
    /// restart would load).
    pub fn into_doc(self) -> Option<Value> {
        let mut inner = self.inner.into_inner().ok()?;
        inner.writes.clear();
        inner.doc.map(|doc| Arc::try_unwrap(doc).unwrap_or_else(|shared| Value::clone(&shared)))
    }

    /// Simulates another writer changing the document behind our back.
    pub fn external_write(&self, doc: Value) {
        if let Ok(mut i) = self.inner.lock() {
            i.doc = Some(Arc::new(doc));
            i.version += 1;
        }
    }

    /// Simulates another run taking the lease over (e.g. after it expired).
    pub fn take_over_lease(&self, owner: &str, expires_at: DateTime<Utc>) {
        if let Ok(mut i) = self.inner.lock() {
            i.lease = Some((owner.to_string(), expires_at));
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T, PortError>) -> Result<T, PortError> {
        let mut inner = self.inner.lock().map_err(|_| PortError::Retryable("memory store lock poisoned".into()))?;
        f(&mut inner)
    }
}

impl StateStore for MemoryStore {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        self.with(|i| {
            i.seen = i.version;
            Ok(i.doc.as_deref().cloned())
        })
    }

    async fn save(&self, doc: &Value) -> Result<(), PortError> {
        self.with(|i| {
            if i.seen != i.version {
                return Err(PortError::Conflict("the state document changed since it was loaded".into()));
            }
            i.version += 1;
            i.seen = i.version;
            let doc = Arc::new(doc.clone());
            i.writes.push(Arc::clone(&doc));
            i.doc = Some(doc);
            Ok(())
        })
    }

    async fn acquire_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<LeaseOutcome, PortError> {
        self.with(|i| {
            if let Some((holder, expires_at)) = &i.lease
                && holder != owner
                && *expires_at > now
            {
                return Ok(LeaseOutcome::Held { owner: holder.clone(), expires_at: *expires_at });
            }
            let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15));
            i.lease = Some((owner.to_string(), now + ttl));
            Ok(LeaseOutcome::Acquired)
        })
    }

    async fn lease_holder(&self) -> Result<Option<(String, DateTime<Utc>)>, PortError> {
        self.with(|i| Ok(i.lease.clone()))
    }

    async fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        self.with(|i| match &mut i.lease {
            Some((holder, expires_at)) if holder == owner => {
                *expires_at = super::lease_expiry(now, ttl)?;
                Ok(true)
            }
            _ => Ok(false),
        })
    }

    async fn release_lease(&self, owner: &str) -> Result<(), PortError> {
        self.with(|i| {
            if i.lease.as_ref().is_some_and(|(holder, _)| holder == owner) {
                i.lease = None;
            }
            Ok(())
        })
    }

    async fn write_heartbeat(&self, service: &str, record: &Value) -> Result<(), PortError> {
        self.with(|i| {
            i.heartbeats.retain(|(s, _)| s != service);
            i.heartbeats.push((service.to_string(), record.clone()));
            Ok(())
        })
    }

    async fn read_heartbeat(&self, service: &str) -> Result<Option<Value>, PortError> {
        self.with(|i| Ok(i.heartbeats.iter().find(|(s, _)| s == service).map(|(_, v)| v.clone())))
    }
}
