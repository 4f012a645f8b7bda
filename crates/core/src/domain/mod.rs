//! Pure domain types: money rules, state document, pool, market data,
//! intents and the execution report. No IO, no clock.

pub mod alerts;
pub mod baseline;
pub mod client_order_id;
pub mod exit;
pub mod intent;
pub mod pause;
pub mod pool;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod state;

/// "a string", "an object", ... for messages about unexpected JSON.
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
