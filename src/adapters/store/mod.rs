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

use crate::config::Variable;

/// Variables read by the state stores.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "TRADECYCLE_STORE",
        default: "unset",
        meaning: "state store: file:PATH or firestore (--store wins); --paper defaults to file:artifacts/paper/state.json",
    },
    Variable {
        name: "TRADECYCLE_STATE_COLLECTION",
        default: "strategy",
        meaning: "Firestore collection of the state document (and the lease)",
    },
    Variable { name: "TRADECYCLE_STATE_DOCUMENT", default: "MULTI_ASSET_STATE", meaning: "Firestore state document" },
    Variable {
        name: "TRADECYCLE_LEASE_DOCUMENT",
        default: "MULTI_ASSET_STATE_LEASE",
        meaning: "Firestore run-lease document",
    },
    Variable {
        name: "TRADECYCLE_HEARTBEAT_COLLECTION",
        default: "tradecycle_health",
        meaning: "Firestore collection of heartbeat records, one document per service",
    },
    Variable {
        name: "TRADECYCLE_FIRESTORE_TIMEOUT_SECS",
        default: "10",
        meaning: "limit on each Firestore call, connecting included",
    },
    Variable { name: "TRADECYCLE_FIRESTORE_DATABASE", default: "(default)", meaning: "Firestore database id" },
    Variable {
        name: "STRATEGY_ARTIFACT_UPSTREAM_FILE",
        default: "unset",
        meaning: "upstream pool payload file: the fresh rung when Firestore is not the store",
    },
    Variable {
        name: "GOOGLE_CLOUD_PROJECT",
        default: "unset",
        meaning: "Google Cloud project (alias GCP_PROJECT_ID); else the credentials file's project_id, then the metadata server",
    },
    Variable {
        name: "GOOGLE_APPLICATION_CREDENTIALS",
        default: "unset",
        meaning: "service-account key or workload-identity (external_account) file",
    },
    Variable {
        name: "FIRESTORE_EMULATOR_HOST",
        default: "unset",
        meaning: "host:port of a Firestore emulator; no credentials are used",
    },
];
