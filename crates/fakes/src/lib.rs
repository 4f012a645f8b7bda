//! Fake external services for tests and benchmarks, each a real HTTP server
//! on 127.0.0.1 with state and fault injection: Binance spot + Simple Earn,
//! the Telegram Bot API, and the GitHub REST API. Never used by the binary.

pub mod binance;
pub mod github;
mod serve;
pub mod telegram;
