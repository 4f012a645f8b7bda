//! Configuration: every setting resolved from flags and the environment
//! once, before any IO.
//!
//! | file            | what it holds                                               |
//! |-----------------|-------------------------------------------------------------|
//! | `variables.rs`  | the one table of every variable: name, alias, default, meaning |
//! | `env.rs`        | [`Env`] and the typed getters (the one way to read a variable) |
//! | `settings.rs`   | [`Settings`]: the cycle's strategy and upstream settings    |
//! | `run_config.rs` | [`RunConfig`]: everything `run` needs, shared with `validate` |
//! | `binance.rs`    | `BinanceConfig::from_env`: the `BINANCE_*` variables         |
//! | `telegram.rs`   | `TelegramConfig::from_env`: token, chat, API URL, timeout    |
//! | `store.rs`      | `StoreSpec::resolve` (`--store`) and `FileUpstream::from_env` |
//! | `firestore.rs`  | `FirestoreConfig::from_env`: documents, project, emulator     |
//! | `redaction.rs`  | tests: nothing built from the environment prints a secret     |
//!
//! The adapters hold their plain config structs; the `from_env` reading
//! them lives here, so no adapter depends on config.

mod binance;
pub mod env;
mod firestore;
#[cfg(test)]
pub(crate) mod redaction;
pub mod run_config;
pub mod settings;
mod store;
mod telegram;
pub mod variables;

pub use env::{ConfigError, Env, process_env};
pub use run_config::RunConfig;
pub use settings::Settings;
pub use variables::{Variable, all_variables};
