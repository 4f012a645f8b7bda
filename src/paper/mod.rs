//! Trading without Binance: fixture sets (the inputs of `replay` and
//! paper runs), the simulated exchange that serves them, and the paper
//! account that keeps its balances between runs.

pub mod account;
pub mod exchange;
pub mod fixture;
