//! Subcommand dispatch: turns parsed arguments into work and an exit code.
//! One file per subcommand; the exit codes of every command are the table in
//! [`exit`] (re-exported from the core, where the report's status maps to it).

pub mod backtest;
pub mod dispatch;
pub mod durable_alerts;
pub mod evidence;
pub mod heartbeat;
pub mod orders;
pub mod pause;
pub mod positions;
pub mod replay;
pub mod run;
pub mod status;
pub mod summary;
pub mod under_lease;
pub mod validate;
pub mod watchdog;

use std::io::Write;
use std::path::Path;

pub use crate::domain::exit;

use crate::adapters::telegram::{TelegramConfig, TelegramNotifier};
use crate::cli::{Cli, Command, Format};
use crate::config::Env;
use crate::domain::report::Report;

pub fn run_cli(cli: Cli) -> u8 {
    // An empty TRADECYCLE_LOG_FORMAT (an unset workflow variable) is text.
    let format = match cli.log_format {
        Some(format) => format,
        None => match crate::shell::logging::format_from_env(std::env::var("TRADECYCLE_LOG_FORMAT").ok().as_deref()) {
            Ok(format) => format,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        },
    };
    crate::shell::logging::init(format);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            crate::shell::logging::error_line(&format!("error: cannot start the async runtime: {e}"));
            return exit::ERROR;
        }
    };
    // Only a cycle has an order to finish before stopping; the other
    // commands end at once on a signal. `summary` and `evidence` never drive
    // the runtime, so they keep the default handling.
    if !matches!(cli.command, Command::Summary(_) | Command::Evidence(_)) {
        let listener = {
            let _inside = runtime.enter();
            crate::shell::stop::listen(matches!(cli.command, Command::Run(_)))
        };
        runtime.spawn(listener);
    }
    match cli.command {
        Command::Replay(args) => runtime.block_on(replay::command(args)),
        Command::Run(args) => runtime.block_on(run::command(args)),
        Command::Dispatch(args) => runtime.block_on(dispatch::command(args)),
        Command::Heartbeat(args) => runtime.block_on(heartbeat::command(args)),
        Command::Watchdog(args) => runtime.block_on(watchdog::command(args)),
        Command::Summary(args) => summary::command(args),
        Command::Validate(args) => runtime.block_on(validate::command(args)),
        Command::Pause(args) => runtime.block_on(pause::pause(args)),
        Command::Resume(args) => runtime.block_on(pause::resume(args)),
        Command::Orders(args) => runtime.block_on(orders::command(args)),
        Command::Status(args) => runtime.block_on(status::command(args)),
        Command::Backtest(args) => runtime.block_on(backtest::command(*args)),
        Command::Evidence(args) => evidence::command(args),
        Command::Positions(args) => runtime.block_on(positions::command(args)),
    }
}

/// A usage or configuration error of an operations command: the message on
/// stderr, exit 2.
pub(crate) fn usage(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    exit::USAGE
}

/// An operations command that could not do its work (the store, the
/// exchange): the message on stderr, exit 1.
pub(crate) fn failed(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    exit::ERROR
}

/// Who an operator action is recorded as: `--by`, else `$USER`, else
/// `operator`.
pub(crate) fn operator_name(by: Option<&str>, env: &Env) -> String {
    by.map(str::to_string).or_else(|| env.get("USER").cloned()).unwrap_or_else(|| "operator".to_string())
}

/// The Telegram notifier when `TG_TOKEN` and the chat are set, `None` when
/// neither is; half a configuration is an error.
pub(crate) fn telegram_notifier(env: &Env) -> Result<Option<TelegramNotifier>, String> {
    match TelegramConfig::from_env(env).map_err(|e| e.0)? {
        None => Ok(None),
        Some(cfg) => TelegramNotifier::new(&cfg).map(Some).map_err(|e| e.to_string()),
    }
}

/// Prints the report (JSON or text) and writes it to `output`; returns the exit code.
/// (The cycle's log lines went to the log as they were produced.)
pub(crate) fn emit(report: &Report, output: Option<&Path>, format: Format) -> u8 {
    let json = match serde_json::to_string_pretty(report) {
        Ok(j) => j,
        Err(e) => {
            crate::shell::logging::error_line(&format!("error: cannot serialise the report: {e}"));
            return exit::ERROR;
        }
    };
    if let Some(path) = output
        && let Err(e) = write_file(path, &json)
    {
        crate::shell::logging::error_line(&format!("error: cannot write the report to {}: {e}", path.display()));
        return exit::ERROR;
    }
    let body = match format {
        Format::Json => json,
        Format::Text => report.to_text(),
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{body}").is_err() {
        return exit::ERROR;
    }
    for e in &report.errors {
        crate::shell::logging::error_line(&format!("error [{}]: {}", e.stage, e.message));
    }
    report.exit_code()
}

/// Writes `text` and a newline atomically, creating parent directories.
pub(crate) fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    crate::shell::artifacts::write_atomic(path, text)
}
