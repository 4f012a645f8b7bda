//! The data that crosses the shell's ports: what is asked of the exchange
//! and the state store, and how they answer (orders, lease, failures).
//! The traits themselves live in the binary's `ports.rs`, next to the
//! async runtime; the planning code only needs these values.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::client_order_id::ClientOrderId;
use crate::domain::intent::{Commission, Side};

/// What one cycle reads from the exchange, fetched together so an adapter
/// can fan the requests out concurrently.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarketRequest {
    /// Assets whose spot and Earn balances are needed.
    pub assets: Vec<String>,
    /// Symbols whose average price and trading rules are needed.
    pub symbols: Vec<String>,
    /// Trend symbols whose daily klines are needed (the official pool);
    /// BTCUSDT's longer series is always fetched as well.
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
    /// A compare-and-set write lost: someone else changed the document.
    #[error("conflict: {0}")]
    Conflict(String),
}

/// A MARKET order: by base `quantity`, or (buys only) by `quote_order_qty`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub symbol: String,
    pub side: Side,
    pub quantity: Option<Decimal>,
    pub quote_order_qty: Option<Decimal>,
    /// Sent as `newClientOrderId`; the lookup key after an ambiguous answer.
    pub client_order_id: ClientOrderId,
}

/// Binance order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    New,
    PendingNew,
    PartiallyFilled,
    Filled,
    Canceled,
    PendingCancel,
    Rejected,
    Expired,
    ExpiredInMatch,
}

impl OrderStatus {
    /// No further fills can happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
                | OrderStatus::ExpiredInMatch
        )
    }
}

/// The exchange's record of an order (the FULL response, or a query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReport {
    pub symbol: String,
    /// Validated when the exchange's answer is read.
    pub client_order_id: ClientOrderId,
    pub order_id: i64,
    pub status: OrderStatus,
    pub executed_qty: Decimal,
    pub cummulative_quote_qty: Decimal,
    /// From the FULL response's `fills`; empty when learnt from a query.
    pub commissions: Vec<Commission>,
    /// `side`, when the exchange said (a lookup checks it against the intent).
    #[serde(default)]
    pub side: Option<Side>,
    /// When the exchange created the order (`time` / `transactTime`): client
    /// ids repeat per hour slot and are free again after a fill, so a lookup
    /// by id can find an older order than the one written ahead.
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
}

/// `GET /sapi/v1/account/apiRestrictions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRestrictions {
    pub enable_reading: bool,
    pub enable_spot_and_margin_trading: bool,
    /// `None` when Binance's answer did not say: treated as "can withdraw"
    /// (fail closed), never as "cannot".
    pub enable_withdrawals: Option<bool>,
    pub ip_restrict: bool,
}

impl ApiRestrictions {
    /// Whether the key may be able to withdraw: yes, or not reported.
    pub fn may_withdraw(&self) -> bool {
        self.enable_withdrawals != Some(false)
    }
}

/// Outcome of trying to take the run lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired,
    /// Someone else holds an unexpired lease.
    Held {
        owner: String,
        expires_at: DateTime<Utc>,
    },
}
