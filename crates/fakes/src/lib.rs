//! Fake external services for tests and benchmarks, each a real HTTP server
//! on 127.0.0.1 with state and fault injection: Binance spot + Simple Earn,
//! the Telegram Bot API, the GitHub REST API, and a Prometheus Pushgateway.
//! Never used by the binary.

pub mod binance;
pub mod github;
pub mod pushgateway;
mod serve;
pub mod telegram;
