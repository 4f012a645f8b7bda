//! Pure domain types: money rules, state document, pool, market data,
//! intents and the execution report. No IO, no clock.

pub mod intent;
pub mod pool;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod state;
