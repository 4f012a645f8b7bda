//! The imperative shell around the core. `runner` is the runbook of one
//! cycle; each of its steps lives in a file named after it (`lease`, `pool`,
//! `reconcile`, `market`, `effects`, `saving`, `outbox`). Beside it: order
//! execution against an exchange (`execute`), artifacts, stopping on a
//! signal, and logging.

pub mod artifacts;
mod effects;
pub mod execute;
pub mod lease;
pub mod logging;
mod market;
pub mod observed;
mod outbox;
mod pool;
mod reconcile;
pub mod runner;
mod saving;
pub mod stop;
