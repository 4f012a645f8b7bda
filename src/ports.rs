//! The shell's boundaries: what the cycle needs from the exchange, the
//! state store, the notifier and the clock. Adapters live in `exchange/`,
//! `store/` and `notify/`; tests may substitute their own.

#![allow(async_fn_in_trait)]

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::snapshot::MarketData;

/// What one cycle reads from the exchange, fetched together so an adapter
/// can fan the requests out concurrently.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarketRequest {
    /// Assets whose spot and Earn balances are needed.
    pub assets: Vec<String>,
    /// Symbols whose average price and trading rules are needed.
    pub symbols: Vec<String>,
    /// Trend symbols whose daily klines are needed (the official pool).
    pub kline_symbols: Vec<String>,
}

/// A failure talking to an external system, classified for the caller.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PortError {
    /// The request was refused and will be refused again (bad input, filters, funds).
    #[error("rejected: {0}")]
    Definitive(String),
    /// The request may or may not have taken effect (5xx, timeout, -1006/-1007).
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
    /// Safe to retry later (rate limit, network error on a read).
    #[error("temporarily unavailable: {0}")]
    Retryable(String),
    /// Credentials are missing, wrong or lack a permission.
    #[error("authentication failed: {0}")]
    Auth(String),
}

pub trait Exchange {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError>;
}

pub trait StateStore {
    /// The raw state document; `None` when it does not exist yet.
    async fn load(&self) -> Result<Option<Value>, PortError>;
    async fn save(&self, doc: &Value) -> Result<(), PortError>;
}

pub trait Notifier {
    async fn send(&self, text: &str) -> Result<(), PortError>;
}

pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
