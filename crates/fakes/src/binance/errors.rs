//! Binance-shaped error answers: `{"code": -1013, "msg": "..."}` with the
//! HTTP status Binance pairs with each code. Messages are Binance's own
//! wording (errors.md), because clients match on them.

use serde_json::json;

/// One error answer: HTTP status, Binance code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: i64,
    pub msg: String,
}

impl ApiError {
    pub fn new(status: u16, code: i64, msg: impl Into<String>) -> Self {
        ApiError { status, code, msg: msg.into() }
    }

    /// A 400 with the given code: Binance's status for client errors.
    pub fn bad(code: i64, msg: impl Into<String>) -> Self {
        ApiError::new(400, code, msg)
    }

    pub fn body(&self) -> String {
        json!({"code": self.code, "msg": self.msg}).to_string()
    }

    pub fn mandatory(param: &str) -> Self {
        ApiError::bad(-1102, format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed."))
    }

    pub fn one_of(a: &str, b: &str) -> Self {
        ApiError::bad(-1102, format!("Param '{a}' or '{b}' must be sent, but both were empty/null!"))
    }

    pub fn not_required(param: &str) -> Self {
        ApiError::bad(-1106, format!("Parameter '{param}' sent when not required."))
    }

    pub fn invalid_value(param: &str) -> Self {
        ApiError::bad(-1130, format!("Data sent for parameter '{param}' is not valid."))
    }

    /// What Binance answers when a DECIMAL parameter is not a plain decimal.
    pub fn illegal_decimal(param: &str) -> Self {
        ApiError::bad(
            -1100,
            format!(
                "Illegal characters found in parameter '{param}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."
            ),
        )
    }

    pub fn illegal_long(param: &str) -> Self {
        ApiError::bad(
            -1100,
            format!("Illegal characters found in parameter '{param}'; legal range is '^-?[0-9]{{1,20}}$'."),
        )
    }

    pub fn precision(param: &str) -> Self {
        ApiError::bad(-1111, format!("Parameter '{param}' has too much precision."))
    }

    pub fn invalid_symbol() -> Self {
        ApiError::bad(-1121, "Invalid symbol.")
    }

    pub fn filter(name: &str) -> Self {
        ApiError::bad(-1013, format!("Filter failure: {name}"))
    }

    pub fn rejected(msg: &str) -> Self {
        ApiError::bad(-2010, msg)
    }

    pub fn insufficient_balance() -> Self {
        ApiError::rejected("Account has insufficient balance for requested action.")
    }

    pub fn no_such_order() -> Self {
        ApiError::bad(-2013, "Order does not exist.")
    }

    pub fn key_format() -> Self {
        ApiError::new(401, -2014, "API-key format invalid.")
    }

    pub fn rejected_key() -> Self {
        ApiError::new(401, -2015, "Invalid API-key, IP, or permissions for action.")
    }

    pub fn bad_signature() -> Self {
        ApiError::bad(-1022, "Signature for this request is not valid.")
    }

    pub fn outside_recv_window() -> Self {
        ApiError::bad(-1021, "Timestamp for this request is outside of the recvWindow.")
    }

    pub fn ahead_of_server() -> Self {
        ApiError::bad(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    }

    pub fn too_much_weight(limit: u32) -> Self {
        ApiError::new(
            429,
            -1003,
            format!(
                "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
            ),
        )
    }

    pub fn banned(until_ms: i64) -> Self {
        ApiError::new(
            418,
            -1003,
            format!(
                "Way too much request weight used; IP banned until {until_ms}. Please use WebSocket Streams for live updates to avoid bans."
            ),
        )
    }

    pub fn backend_timeout() -> Self {
        ApiError::new(
            408,
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        )
    }

    pub fn unsupported() -> Self {
        ApiError::bad(-1020, "This operation is not supported.")
    }
}
