//! Configuration: every setting resolved from flags and the environment
//! once, before any IO.
//!
//! | file            | what it holds                                               |
//! |-----------------|-------------------------------------------------------------|
//! | `variables.rs`  | the one table of every variable: name, alias, default, meaning |
//! | `env.rs`        | [`Env`] and the typed getters (the one way to read a variable) |
//! | `settings.rs`   | [`Settings`]: the cycle's strategy and upstream settings    |
//! | `run_config.rs` | [`RunConfig`]: everything `run` needs, shared with `validate` |

pub mod env;
pub mod run_config;
pub mod settings;
pub mod variables;

pub use env::{ConfigError, Env, process_env};
pub use run_config::RunConfig;
pub use settings::Settings;
pub use variables::{Variable, all_variables};
