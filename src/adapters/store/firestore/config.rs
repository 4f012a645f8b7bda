//! Where the Firestore store reads and writes: the documents, the project,
//! the emulator, the call timeout, and the variables that name them (also
//! quoted in the client's errors). Read from the environment by
//! `FirestoreConfig::from_env` in `src/config/firestore.rs`, without any
//! network access: nothing talks to Google (or a metadata server) until the
//! store is used.

use std::time::Duration;

pub const STATE_COLLECTION_VAR: &str = "TRADECYCLE_STATE_COLLECTION";
pub const STATE_DOCUMENT_VAR: &str = "TRADECYCLE_STATE_DOCUMENT";
pub const LEASE_DOCUMENT_VAR: &str = "TRADECYCLE_LEASE_DOCUMENT";
pub const HEARTBEAT_COLLECTION_VAR: &str = "TRADECYCLE_HEARTBEAT_COLLECTION";
pub const TIMEOUT_VAR: &str = "TRADECYCLE_FIRESTORE_TIMEOUT_SECS";
pub const DATABASE_VAR: &str = "TRADECYCLE_FIRESTORE_DATABASE";
pub const EMULATOR_HOST_VAR: &str = "FIRESTORE_EMULATOR_HOST";
pub const CREDENTIALS_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// Read in this order; the credentials file's `project_id` comes after.
pub const PROJECT_VARS: [&str; 2] = ["GOOGLE_CLOUD_PROJECT", "GCP_PROJECT_ID"];

pub const DEFAULT_STATE_COLLECTION: &str = "strategy";
pub const DEFAULT_STATE_DOCUMENT: &str = "MULTI_ASSET_STATE";
/// The lease document is `<state document>_LEASE` in the state collection.
pub const LEASE_SUFFIX: &str = "_LEASE";
pub const DEFAULT_HEARTBEAT_COLLECTION: &str = "tradecycle_health";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_DATABASE: &str = "(default)";
/// Project used against the emulator when none is configured (the
/// `demo-` prefix is the emulator convention for "no real project").
pub const EMULATOR_PROJECT: &str = "demo-tradecycle";

/// One document: `collection/document` at the database root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRef {
    pub collection: String,
    pub document: String,
}

impl DocRef {
    pub fn new(collection: impl Into<String>, document: impl Into<String>) -> Self {
        DocRef { collection: collection.into(), document: document.into() }
    }
}

impl std::fmt::Display for DocRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.collection, self.document)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FirestoreConfig {
    /// `None`: ask the metadata server when first connecting (on Google Cloud).
    pub project_id: Option<String>,
    pub database_id: String,
    /// `host:port` of the emulator; no credentials are looked up then.
    pub emulator_host: Option<String>,
    /// Bound on every single call (connecting included), so that a dead
    /// endpoint fails fast; the shell retries saves with backoff.
    pub timeout: Duration,
    pub state: DocRef,
    pub lease: DocRef,
    /// Heartbeats go to `<collection>/<service>`.
    pub heartbeat_collection: String,
    /// The upstream pool document (`STRATEGY_ARTIFACT_FIRESTORE_*`).
    pub upstream: DocRef,
}

impl FirestoreConfig {
    /// Defaults for a project; tests start from this and point elsewhere.
    pub fn new(project_id: Option<String>) -> Self {
        FirestoreConfig {
            project_id,
            database_id: DEFAULT_DATABASE.into(),
            emulator_host: None,
            timeout: DEFAULT_TIMEOUT,
            state: DocRef::new(DEFAULT_STATE_COLLECTION, DEFAULT_STATE_DOCUMENT),
            lease: DocRef::new(DEFAULT_STATE_COLLECTION, format!("{DEFAULT_STATE_DOCUMENT}{LEASE_SUFFIX}")),
            heartbeat_collection: DEFAULT_HEARTBEAT_COLLECTION.into(),
            upstream: DocRef::new("strategy", "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL"),
        }
    }
}

/// A Firestore collection or document id: one path segment.
pub fn valid_id(v: &str) -> Result<(), String> {
    if v.is_empty() || v == "." || v == ".." || v.contains('/') {
        return Err(format!("'{v}' is not a Firestore id (one path segment, no '/')"));
    }
    if v.len() >= 4 && v.starts_with("__") && v.ends_with("__") {
        return Err(format!("'{v}': Firestore reserves ids of the form __id__"));
    }
    if v.len() > 1500 {
        return Err("a Firestore id is at most 1500 bytes".to_string());
    }
    Ok(())
}
