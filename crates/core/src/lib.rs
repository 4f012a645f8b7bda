//! tradecycle-core: the functional core of tradecycle. Everything here is
//! pure: inputs (state, balances, market data, pool, `now`) in, decisions
//! (intents, new state, notifications, the report) out. No IO, no clock,
//! no async runtime; the binary crate's shell does those and calls in.
//!
//! Layering inside the core, lowest first (an arrow never points back up):
//! `domain` (money rules, state document and pending ledger, intents,
//! report) ← `boundary` (what crosses the shell's ports) ← `indicators`,
//! `upstream` (pool validation and ladder) ← `notify` (events and their
//! texts) ← `strategy` (the cycle planner) ← `summary` (the report as a
//! job summary). `history` (kline CSV text for backtests) stands beside
//! `indicators`, on `domain` only; `backtest` (statistics and the summary of a
//! run over history) stands on nothing but chrono and decimals.

pub mod backtest;
pub mod boundary;
pub mod domain;
pub mod history;
pub mod indicators;
pub mod notify;
pub mod strategy;
pub mod summary;
pub mod upstream;
