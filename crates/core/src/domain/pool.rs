//! The trend coin pool: the accepted upstream payload, where it came from,
//! and the ordered universe the cycle trades.

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Value, json};

/// Ordered `symbol -> base asset` map (order = upstream ranking order).
pub type Universe = IndexMap<String, String>;

/// Base asset of a `XXXUSDT` symbol when no metadata says otherwise.
pub fn infer_base_asset(symbol: &str) -> String {
    symbol.strip_suffix("USDT").unwrap_or(symbol).to_string()
}

/// A validated, normalised upstream payload: what is stored as
/// last-known-good (behaviour.md §3.3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamPayload {
    /// `YYYY-MM-DD`, or empty for the static fallback.
    pub as_of_date: String,
    pub version: String,
    pub mode: String,
    /// Symbols in upstream order with their base assets.
    pub symbols: Universe,
    pub source_project: String,
}

impl UpstreamPayload {
    pub fn symbol_list(&self) -> Vec<String> {
        self.symbols.keys().cloned().collect()
    }

    /// The normalised document shape the reference stores in
    /// `trend_pool_last_good_payload`.
    pub fn to_value(&self) -> Value {
        let map: serde_json::Map<String, Value> =
            self.symbols.iter().map(|(s, base)| (s.clone(), json!({ "base_asset": base }))).collect();
        json!({
            "as_of_date": self.as_of_date,
            "version": self.version,
            "mode": self.mode,
            "pool_size": self.symbols.len(),
            "symbols": self.symbol_list(),
            "symbol_map": map,
            "source_project": self.source_project,
        })
    }
}

/// Which rung of the degraded ladder supplied the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    FreshUpstream,
    LastKnownGood,
    LocalFile,
    Static,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::FreshUpstream => "fresh_upstream",
            SourceKind::LastKnownGood => "last_known_good",
            SourceKind::LocalFile => "local_file",
            SourceKind::Static => "static",
        }
    }

    pub fn is_degraded(self) -> bool {
        self != SourceKind::FreshUpstream
    }
}

/// The outcome of pool resolution (behaviour.md §3.5 "resolution object").
#[derive(Debug, Clone, PartialEq)]
pub struct PoolResolution {
    pub source_kind: SourceKind,
    /// e.g. `firestore:strategy/CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL`,
    /// `state:last_known_good`, `file:<path>`, `static:built_in`.
    pub source_label: String,
    pub is_fresh: bool,
    /// Every message of the ladder, in the order they arose.
    pub messages: Vec<String>,
    /// Validation errors of the winning rung (normally empty).
    pub errors: Vec<String>,
    pub loaded_at: DateTime<Utc>,
    pub payload: UpstreamPayload,
}

impl PoolResolution {
    pub fn degraded(&self) -> bool {
        self.source_kind.is_degraded()
    }
}
