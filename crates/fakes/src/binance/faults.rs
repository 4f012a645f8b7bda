//! Faults injected on command: a queue of one-shot or N-shot rules, each
//! matched by method + path (and optionally symbol or client order id),
//! describing how the next matching requests go wrong. The first matching
//! rule with shots left applies; one rule per request.

use std::time::Duration;

use super::errors::ApiError;
use super::signing::Params;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answer with this status and Binance error without executing.
    Error(ApiError),
    /// Answer with this status and raw body (e.g. an HTML 502 page)
    /// without executing.
    RawReply { status: u16, body: String },
    /// Execute the request, then answer with this error instead of the
    /// result (5xx, or -1007 "execution status unknown").
    ExecuteThenError(ApiError),
    /// Execute the request, then answer with this status and raw body.
    ExecuteThenRawReply { status: u16, body: String },
    /// Execute the request, then close the connection without answering.
    ExecuteThenDrop,
    /// Execute the request, then hold the answer for this long (past the
    /// client's timeout) before sending the real result.
    ExecuteThenHang(Duration),
    /// Close the connection without executing or answering.
    Drop,
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// HTTP 429, code -1003, with `Retry-After` in seconds; not executed.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 418 (IP ban), code -1003, with `Retry-After`; not executed.
    IpBanned { retry_after_secs: u64 },
    /// -1021 "outside of the recvWindow", whatever the timestamp.
    InvalidTimestamp,
    /// Execute the order normally, but keep it invisible to the next
    /// `queries` order lookups (they answer -2013, as Binance's
    /// "Memory => Database" data source can right after a fill).
    HideOrder { queries: u32 },
    /// Execute the redeem normally, but credit spot only after this delay.
    DelayRedeemCredit(Duration),
}

impl FaultKind {
    /// HTTP status and Binance error, not executed.
    pub fn error(status: u16, code: i64, msg: &str) -> Self {
        FaultKind::Error(ApiError::new(status, code, msg))
    }

    /// Executes, then answers HTTP 500 with an HTML body (what a gateway
    /// in front of Binance sends; not JSON).
    pub fn execute_then_500() -> Self {
        FaultKind::ExecuteThenRawReply {
            status: 500,
            body: "<html><body><h1>500 Internal Server Error</h1></body></html>".to_string(),
        }
    }

    /// Executes, then answers -1007 "Send status unknown; execution status
    /// unknown." (HTTP 408).
    pub fn execute_then_timeout_1007() -> Self {
        FaultKind::ExecuteThenError(ApiError::backend_timeout())
    }

    /// Answers -1007 (HTTP 408) without executing.
    pub fn timeout_1007() -> Self {
        FaultKind::Error(ApiError::backend_timeout())
    }

    /// Whether the request is executed before the fault shows.
    pub fn executes(&self) -> bool {
        matches!(
            self,
            FaultKind::ExecuteThenError(_)
                | FaultKind::ExecuteThenRawReply { .. }
                | FaultKind::ExecuteThenDrop
                | FaultKind::ExecuteThenHang(_)
                | FaultKind::Delay(_)
                | FaultKind::HideOrder { .. }
                | FaultKind::DelayRedeemCredit(_)
        )
    }
}

/// One rule of the fault queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub method: String,
    pub path: String,
    /// Only requests with this `symbol` parameter.
    pub symbol: Option<String>,
    /// Only requests with this `newClientOrderId` or `origClientOrderId`.
    pub client_order_id: Option<String>,
    /// How many matching requests it applies to.
    pub times: u32,
    pub kind: FaultKind,
}

impl Fault {
    /// A one-shot fault on `method path`, e.g. `Fault::new("POST",
    /// "/api/v3/order", FaultKind::execute_then_500())`.
    pub fn new(method: &str, path: &str, kind: FaultKind) -> Self {
        Fault {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            symbol: None,
            client_order_id: None,
            times: 1,
            kind,
        }
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    pub fn symbol(mut self, symbol: &str) -> Self {
        self.symbol = Some(symbol.to_string());
        self
    }

    pub fn client_order_id(mut self, id: &str) -> Self {
        self.client_order_id = Some(id.to_string());
        self
    }

    fn matches(&self, method: &str, path: &str, params: &Params) -> bool {
        let coid = params.get("newClientOrderId").or_else(|| params.get("origClientOrderId"));
        self.times > 0
            && self.method == method
            && self.path == path
            && self.symbol.as_deref().is_none_or(|s| params.get("symbol") == Some(s))
            && self.client_order_id.as_deref().is_none_or(|c| coid == Some(c))
    }
}

/// Takes one shot of the first matching fault, dropping spent rules.
pub fn take(queue: &mut Vec<Fault>, method: &str, path: &str, params: &Params) -> Option<FaultKind> {
    let i = queue.iter().position(|f| f.matches(method, path, params))?;
    let fault = &mut queue[i];
    fault.times -= 1;
    let kind = fault.kind.clone();
    if fault.times == 0 {
        queue.remove(i);
    }
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_shot_faults_match_by_symbol_and_run_out() {
        let mut q = vec![
            Fault::new("post", "/api/v3/order", FaultKind::Drop).symbol("ETHUSDT"),
            Fault::new("POST", "/api/v3/order", FaultKind::InvalidTimestamp).times(2),
        ];
        let btc = Params::parse("symbol=BTCUSDT", "").unwrap();
        let eth = Params::parse("symbol=ETHUSDT", "").unwrap();
        assert_eq!(take(&mut q, "POST", "/api/v3/order", &btc), Some(FaultKind::InvalidTimestamp));
        assert_eq!(take(&mut q, "POST", "/api/v3/order", &eth), Some(FaultKind::Drop));
        assert_eq!(take(&mut q, "POST", "/api/v3/order", &eth), Some(FaultKind::InvalidTimestamp));
        assert_eq!(take(&mut q, "POST", "/api/v3/order", &eth), None);
        assert!(q.is_empty());
        assert_eq!(take(&mut q, "GET", "/api/v3/order", &eth), None);
    }
}
