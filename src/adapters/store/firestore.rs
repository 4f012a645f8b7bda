//! The Firestore state store (design.md §1, §4): the state document
//! (`strategy/MULTI_ASSET_STATE` by default) saved compare-and-set on its
//! update time, the run lease as its own document taken and released with
//! preconditions, per-service heartbeats, and the upstream pool document as
//! the ladder's fresh rung.

pub mod client;
pub mod config;
pub mod value;

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use firestore::gcloud_sdk::google::firestore::v1::value::ValueType;
use firestore::gcloud_sdk::google::firestore::v1::{Document, Value as FsValue};
use firestore::gcloud_sdk::prost_types::Timestamp;
use serde_json::Value;

pub use self::client::Connection;
use self::client::Expect;
pub use self::config::{DocRef, FirestoreConfig};
use crate::ports::{LeaseOutcome, PortError, StateStore, UpstreamSource};
use crate::upstream::ladder::FetchOutcome;

/// What this store last knew of the state document: the precondition of
/// its next save.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// Not loaded yet or not there: a save may only create it.
    Absent,
    At(Timestamp),
}

struct Tracking {
    seen: Seen,
    /// The last save failed in transit: it may have been applied anyway.
    in_doubt: Option<Value>,
}

pub struct FirestoreStore {
    conn: Connection,
    tracking: Mutex<Tracking>,
}

impl FirestoreStore {
    /// Does no IO; the first call connects.
    pub fn new(config: FirestoreConfig) -> Self {
        FirestoreStore::with_connection(Connection::new(config))
    }

    /// A second store on the same connection (e.g. a fresh view of the
    /// state with its own compare-and-set token).
    pub fn with_connection(conn: Connection) -> Self {
        FirestoreStore { conn, tracking: Mutex::new(Tracking { seen: Seen::Absent, in_doubt: None }) }
    }

    /// The upstream pool document on this store's connection.
    pub fn upstream(&self) -> FirestoreUpstream {
        FirestoreUpstream { conn: self.conn.clone(), doc: self.conn.config().upstream.clone() }
    }

    pub fn config(&self) -> &FirestoreConfig {
        self.conn.config()
    }

    fn track<T>(&self, f: impl FnOnce(&mut Tracking) -> T) -> T {
        let mut guard = self.tracking.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// After a lost compare-and-set: did our own earlier write, whose
    /// answer was lost, land? If the document now holds exactly what that
    /// write carried, adopt its update time and return what it carried.
    async fn settle_doubt(&self) -> Result<Option<Value>, PortError> {
        let Some(sent) = self.track(|t| t.in_doubt.take()) else { return Ok(None) };
        let state = &self.config().state;
        match self.conn.get(state).await? {
            Some(doc) if value::fields_to_json(&doc.fields) == sent => {
                let at = update_time(&doc, state)?;
                self.track(|t| t.seen = Seen::At(at));
                Ok(Some(sent))
            }
            _ => Ok(None),
        }
    }

    async fn put_state(
        &self,
        doc: &Value,
        fields: &std::collections::HashMap<String, FsValue>,
    ) -> Result<(), PortError> {
        let state = &self.config().state;
        let expect = match self.track(|t| t.seen.clone()) {
            Seen::Absent => Expect::Absent,
            Seen::At(ts) => Expect::UpdatedAt(ts),
        };
        match self.conn.put(state, fields.clone(), expect).await {
            Ok(stored) => {
                let at = update_time(&stored, state)?;
                self.track(|t| {
                    t.seen = Seen::At(at);
                    t.in_doubt = None;
                });
                Ok(())
            }
            Err(PortError::Retryable(msg)) => {
                self.track(|t| t.in_doubt = Some(doc.clone()));
                Err(PortError::Retryable(msg))
            }
            Err(e) => Err(e),
        }
    }
}

impl StateStore for FirestoreStore {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        let state = &self.config().state;
        let doc = self.conn.get(state).await?;
        let (seen, json) = match doc {
            None => (Seen::Absent, None),
            Some(doc) => (Seen::At(update_time(&doc, state)?), Some(value::fields_to_json(&doc.fields))),
        };
        self.track(|t| {
            t.seen = seen;
            t.in_doubt = None;
        });
        Ok(json)
    }

    async fn save(&self, doc: &Value) -> Result<(), PortError> {
        let state = &self.config().state;
        let fields = value::document_fields(doc).map_err(|e| PortError::Definitive(format!("saving {state}: {e}")))?;
        match self.put_state(doc, &fields).await {
            Err(PortError::Conflict(msg)) => {
                if let Some(landed) = self.settle_doubt().await? {
                    // Our earlier write landed after all; this save continues from it.
                    return if landed == *doc { Ok(()) } else { self.put_state(doc, &fields).await };
                }
                Err(PortError::Conflict(format!(
                    "the state document {state} changed since this run loaded it (another writer?); \
                     not overwriting it ({msg})"
                )))
            }
            other => other,
        }
    }

    async fn acquire_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<LeaseOutcome, PortError> {
        let lease = &self.config().lease;
        let fields = lease_fields(owner, now, super::lease_expiry(now, ttl)?);
        // Each round reads the lease and writes conditionally on what it
        // read; losing a race means someone else wrote it, so read again.
        for _ in 0..3 {
            let expect = match self.conn.get(lease).await? {
                None => Expect::Absent,
                Some(doc) => {
                    let (holder, expires_at) = read_lease(&doc, lease)?;
                    if holder != owner && expires_at > now {
                        return Ok(LeaseOutcome::Held { owner: holder, expires_at });
                    }
                    // Expired, or already ours (a retried acquire): take it over.
                    Expect::UpdatedAt(update_time(&doc, lease)?)
                }
            };
            match self.conn.put(lease, fields.clone(), expect).await {
                Ok(_) => return Ok(LeaseOutcome::Acquired),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PortError::Retryable(format!("taking the run lease {lease}: it kept changing under us; try again")))
    }

    async fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        let lease = &self.config().lease;
        let Some(doc) = self.conn.get(lease).await? else { return Ok(false) };
        let (holder, _) = read_lease(&doc, lease)?;
        if holder != owner {
            return Ok(false);
        }
        let acquired_at = match doc.fields.get("acquired_at").and_then(|v| v.value_type.as_ref()) {
            Some(ValueType::TimestampValue(ts)) => DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32),
            _ => None,
        };
        let fields = lease_fields(owner, acquired_at.unwrap_or(now), super::lease_expiry(now, ttl)?);
        // Conditional on the version just read: a takeover in between wins.
        match self.conn.put(lease, fields, Expect::UpdatedAt(update_time(&doc, lease)?)).await {
            Ok(_) => Ok(true),
            Err(PortError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn lease_holder(&self) -> Result<Option<(String, DateTime<Utc>)>, PortError> {
        let lease = &self.config().lease;
        match self.conn.get(lease).await? {
            None => Ok(None),
            Some(doc) => read_lease(&doc, lease).map(Some),
        }
    }

    async fn release_lease(&self, owner: &str) -> Result<(), PortError> {
        let lease = &self.config().lease;
        let Some(doc) = self.conn.get(lease).await? else { return Ok(()) };
        let (holder, _) = read_lease(&doc, lease)?;
        if holder != owner {
            return Ok(());
        }
        match self.conn.delete(lease, Expect::UpdatedAt(update_time(&doc, lease)?)).await {
            // Taken over since we read it (it had expired): no longer ours to delete.
            Err(PortError::Conflict(_)) => Ok(()),
            other => other,
        }
    }

    async fn write_heartbeat(&self, service: &str, record: &Value) -> Result<(), PortError> {
        let doc = self.heartbeat_doc(service)?;
        let fields =
            value::document_fields(record).map_err(|e| PortError::Definitive(format!("heartbeat {doc}: {e}")))?;
        self.conn.put(&doc, fields, Expect::Anything).await.map(|_| ())
    }

    async fn read_heartbeat(&self, service: &str) -> Result<Option<Value>, PortError> {
        let doc = self.heartbeat_doc(service)?;
        Ok(self.conn.get(&doc).await?.map(|d| value::fields_to_json(&d.fields)))
    }
}

impl FirestoreStore {
    fn heartbeat_doc(&self, service: &str) -> Result<DocRef, PortError> {
        config::valid_id(service).map_err(|e| PortError::Definitive(format!("heartbeat service name: {e}")))?;
        Ok(DocRef::new(self.config().heartbeat_collection.clone(), service))
    }
}

/// The upstream pool document (`STRATEGY_ARTIFACT_FIRESTORE_COLLECTION` /
/// `_DOCUMENT`), read as-is; the ladder validates it.
#[derive(Clone)]
pub struct FirestoreUpstream {
    conn: Connection,
    doc: DocRef,
}

impl FirestoreUpstream {
    pub fn new(config: FirestoreConfig) -> Self {
        let doc = config.upstream.clone();
        FirestoreUpstream { conn: Connection::new(config), doc }
    }
}

impl UpstreamSource for FirestoreUpstream {
    fn label(&self) -> String {
        format!("firestore:{}", self.doc)
    }

    async fn fetch(&self) -> FetchOutcome {
        match self.conn.get(&self.doc).await {
            Ok(Some(doc)) => FetchOutcome::Found(value::fields_to_json(&doc.fields)),
            Ok(None) => FetchOutcome::Missing,
            Err(e) => FetchOutcome::Failed(e.to_string()),
        }
    }
}

fn update_time(doc: &Document, at: &DocRef) -> Result<Timestamp, PortError> {
    doc.update_time
        .ok_or_else(|| PortError::Retryable(format!("{at}: Firestore returned the document without an update time")))
}

fn lease_fields(
    owner: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> std::collections::HashMap<String, FsValue> {
    let ts = |t: DateTime<Utc>| FsValue {
        value_type: Some(ValueType::TimestampValue(Timestamp {
            seconds: t.timestamp(),
            nanos: t.timestamp_subsec_micros() as i32 * 1000,
        })),
    };
    [
        ("owner".to_string(), FsValue { value_type: Some(ValueType::StringValue(owner.to_string())) }),
        ("acquired_at".to_string(), ts(now)),
        // A Firestore timestamp, so an operator can put a TTL policy on it.
        ("expires_at".to_string(), ts(expires_at)),
    ]
    .into_iter()
    .collect()
}

/// `(owner, expires_at)` of a lease document; a timestamp or an RFC 3339
/// string is accepted for `expires_at`.
fn read_lease(doc: &Document, at: &DocRef) -> Result<(String, DateTime<Utc>), PortError> {
    let owner = match doc.fields.get("owner").and_then(|v| v.value_type.as_ref()) {
        Some(ValueType::StringValue(s)) => s.clone(),
        _ => String::new(),
    };
    let expires_at = match doc.fields.get("expires_at").and_then(|v| v.value_type.as_ref()) {
        Some(ValueType::TimestampValue(ts)) => DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32),
        Some(ValueType::StringValue(s)) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)),
        _ => None,
    };
    match expires_at {
        Some(t) if !owner.is_empty() => Ok((owner, t)),
        // Never guess: a lease we cannot read might be someone's live lease.
        _ => Err(PortError::Definitive(format!(
            "the run lease document {at} has no valid owner/expires_at; if no cycle is running, delete it"
        ))),
    }
}
