//! Endpoint logic: each handler runs under the state lock on already
//! authenticated parameters and returns a JSON answer or a Binance error.

pub mod account;
pub mod earn;
pub mod market;
pub mod orders;

use std::time::Duration;

use serde_json::Value;

use super::errors::ApiError;
use super::signing::Params;
use super::state::State;

/// What a handler gets besides the state.
pub struct Ctx<'a> {
    pub params: &'a Params,
    /// Wall clock, ms.
    pub now_ms: i64,
    /// Server clock (wall clock + skew), ms; what responses report.
    pub server_ms: i64,
    /// The Earn clock (wall clock unless a test installed a virtual one), ms:
    /// Simple Earn's rate limit, credit delays and call log follow it.
    pub earn_ms: i64,
    /// A redeem credit delay injected by a fault for this request.
    pub redeem_delay: Option<Duration>,
}

/// A successful answer.
pub struct Reply {
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
    /// The order this request created, for order-level faults.
    pub order_id: Option<i64>,
}

impl Reply {
    pub fn json(body: Value) -> Self {
        Reply { body, headers: Vec::new(), order_id: None }
    }
}

pub type Handler = fn(&mut State, &Ctx<'_>) -> Result<Reply, ApiError>;

/// `limit` as Binance reads it: a default, at least 1, silently capped.
pub fn limit_param(params: &Params, default: i64, max: i64) -> Result<usize, ApiError> {
    let limit = params.long("limit")?.unwrap_or(default);
    if limit < 1 {
        return Err(ApiError::invalid_value("limit"));
    }
    Ok(usize::try_from(limit.min(max)).unwrap_or(0))
}
