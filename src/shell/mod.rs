//! The imperative shell around the core. `runner` is the runbook of one
//! cycle; each of its steps lives in a file named after it (`lease`, `pool`,
//! `reconcile`, `market`, `effects`, `saving`, `outbox`, `baseline`). Beside it: order
//! execution against an exchange (`execute`), artifacts, stopping on a
//! signal, and logging. After the cycle: its metrics (`metrics`) and its
//! evidence bundle (`evidence`, `build_info`).

pub mod artifacts;
mod baseline;
pub mod build_info;
mod effects;
pub mod evidence;
pub mod execute;
pub mod lease;
pub mod logging;
mod market;
pub mod metrics;
pub mod observed;
mod outbox;
mod pool;
mod reconcile;
pub mod runner;
mod saving;
pub mod stop;
