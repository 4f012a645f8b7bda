//! tradecycle: one crypto trading cycle per invocation against a Binance
//! spot account. README.md maps concepts to files.
//!
//! Layering, top to bottom (an arrow never points back up):
//! - `cli` parses arguments; `commands` turns them into work and an exit code.
//! - `config` resolves every setting from the environment once, before any IO.
//! - `shell` runs the cycle as the runbook tells it: lease, reads, the core's
//!   plan, execution, saving, notifications, artifacts.
//! - `adapters` (Binance, state stores, Telegram, GitHub) and `paper`
//!   (fixture sets, the simulated exchange) implement `ports`.
//! - `tradecycle_core` (re-exported below) is the pure core: domain, strategy,
//!   upstream, indicators, notification texts, the report.

pub mod adapters;
pub mod cli;
pub mod commands;
pub mod config;
pub mod paper;
pub mod ports;
pub mod secret;
pub mod shell;

pub use commands::run_cli;
/// Kline CSV parsing for backtests (issue 12).
pub use tradecycle_core::history;
pub use tradecycle_core::{boundary, domain, indicators, notify, strategy, summary, upstream};
