//! The imperative shell around the core: the cycle runner (lease, reads,
//! plan, execution, saving, notifications), order execution, artifacts,
//! stopping on a signal, and logging.

pub mod artifacts;
pub mod execute;
pub mod logging;
pub mod runner;
pub mod stop;
