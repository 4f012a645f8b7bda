//! Subcommand dispatch: turns parsed arguments into work and an exit code.

pub mod dispatch;
pub mod heartbeat;
pub mod ops;
pub mod replay;
pub mod run;
pub mod validate;
pub mod watchdog;

use std::io::Write;
use std::path::Path;

use crate::cli::{Cli, Command, Format, ReplayArgs, RunArgs, ValidateArgs};
use crate::config::process_env;
use crate::domain::report::Report;
use replay::{ReplayOptions, replay};

/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;

pub fn run_cli(cli: Cli) -> u8 {
    // An empty TRADECYCLE_LOG_FORMAT (an unset workflow variable) is text.
    let format = match cli.log_format {
        Some(format) => format,
        None => match crate::shell::logging::format_from_env(std::env::var("TRADECYCLE_LOG_FORMAT").ok().as_deref()) {
            Ok(format) => format,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        },
    };
    crate::shell::logging::init(format);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            crate::shell::logging::error_line(&format!("error: cannot start the async runtime: {e}"));
            return 1;
        }
    };
    // Only a cycle has an order to finish before stopping; the other
    // commands end at once on a signal. `summary` never drives the runtime,
    // so it keeps the default handling.
    if !matches!(cli.command, Command::Summary(_)) {
        let listener = {
            let _inside = runtime.enter();
            crate::shell::stop::listen(matches!(cli.command, Command::Run(_)))
        };
        runtime.spawn(listener);
    }
    match cli.command {
        Command::Replay(args) => runtime.block_on(replay_command(args)),
        Command::Run(args) => runtime.block_on(run_command(args)),
        Command::Dispatch(args) => runtime.block_on(crate::commands::ops::dispatch_command(args)),
        Command::Heartbeat(args) => runtime.block_on(crate::commands::ops::heartbeat_command(args)),
        Command::Watchdog(args) => runtime.block_on(crate::commands::ops::watchdog_command(args)),
        Command::Summary(args) => crate::commands::ops::summary_command(args),
        Command::Validate(args) => runtime.block_on(validate_command(args)),
    }
}

async fn replay_command(args: ReplayArgs) -> u8 {
    let opts =
        ReplayOptions { fixtures: args.fixtures.as_deref(), now: args.now, run_id: args.run_id, env: process_env() };
    let report = match replay(opts).await {
        Ok(r) => r,
        Err(e) => {
            crate::shell::logging::error_line(&format!("error: {e}"));
            return EXIT_USAGE;
        }
    };
    emit(&report, args.output.as_deref(), args.format)
}

async fn run_command(args: RunArgs) -> u8 {
    let req = crate::commands::run::RunRequest {
        live: args.live,
        paper: args.paper,
        fixtures: args.fixtures,
        paper_dir: args.paper_dir,
        synthetic_klines: args.synthetic_klines,
        store: args.store,
        allow_withdrawal_key: args.allow_withdrawal_key,
        run_id: args.run_id,
        now: args.now,
        artifacts_dir: args.artifacts.clone(),
        env: process_env(),
    };
    let report = match crate::commands::run::run(req).await {
        Ok(r) => r,
        Err(e) => {
            crate::shell::logging::error_line(&format!("error: {e}"));
            return EXIT_USAGE;
        }
    };
    // The report always lands in artifacts/, whatever else was asked, and
    // never over the report of an earlier run with the same id.
    let stem = crate::commands::run::report_stem(&report.run_id);
    let written = serde_json::to_string_pretty(&report)
        .map_err(std::io::Error::other)
        .and_then(|j| crate::shell::artifacts::write_new(&args.artifacts, &stem, &j));
    match written {
        Ok(path) if path.file_stem().and_then(|s| s.to_str()) != Some(stem.as_str()) => {
            eprintln!("warning: a report for run id {} already exists; this one is {}", report.run_id, path.display())
        }
        Ok(_) => {}
        Err(e) => crate::shell::logging::error_line(&format!(
            "error: cannot write the report to {}: {e}",
            args.artifacts.join(stem + ".json").display()
        )),
    }
    emit(&report, args.output.as_deref(), args.format)
}

/// `validate`: the checks on stdout (text or JSON); the exit code says
/// whether the configured mode is ready (0), a check failed (1) or a
/// setting is unusable (2).
async fn validate_command(args: ValidateArgs) -> u8 {
    let req = crate::commands::validate::ValidateRequest {
        live: args.live,
        allow_withdrawal_key: args.allow_withdrawal_key,
        send_test: args.send_test,
        store: args.store,
        env: process_env(),
    };
    let result = crate::commands::validate::validate(req).await;
    let body = if args.json {
        match serde_json::to_string_pretty(&result.to_json()) {
            Ok(j) => j,
            Err(e) => {
                crate::shell::logging::error_line(&format!("error: cannot serialise the checks: {e}"));
                return 1;
            }
        }
    } else {
        result.to_text()
    };
    if writeln!(std::io::stdout().lock(), "{body}").is_err() {
        return 1;
    }
    result.exit_code()
}

/// Prints the report (JSON or text) and writes it to `output`; returns the exit code.
/// (The cycle's log lines went to the log as they were produced.)
fn emit(report: &Report, output: Option<&Path>, format: Format) -> u8 {
    let json = match serde_json::to_string_pretty(report) {
        Ok(j) => j,
        Err(e) => {
            crate::shell::logging::error_line(&format!("error: cannot serialise the report: {e}"));
            return 1;
        }
    };
    if let Some(path) = output
        && let Err(e) = write_file(path, &json)
    {
        crate::shell::logging::error_line(&format!("error: cannot write the report to {}: {e}", path.display()));
        return 1;
    }
    let body = match format {
        Format::Json => json,
        Format::Text => report.to_text(),
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{body}").is_err() {
        return 1;
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
