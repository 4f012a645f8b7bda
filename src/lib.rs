//! tradecycle: one crypto trading cycle per invocation against a Binance
//! spot account. See README.md for the map from concepts to files.

pub mod app;
pub mod artifacts;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod exchange;
pub mod execute;
pub mod fixture;
pub mod github;
pub mod heartbeat;
pub mod indicators;
pub mod logging;
pub mod notify;
pub mod ops;
pub mod paper;
pub mod ports;
pub mod replay;
pub mod run;
pub mod secret;
pub mod stop;
pub mod store;
pub mod strategy;
pub mod summary;
pub mod upstream;
pub mod validate;
pub mod watchdog;
pub use commands::run_cli;
