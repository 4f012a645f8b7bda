//! Subcommand dispatch: turns parsed arguments into work and an exit code.

use std::io::Write;
use std::path::Path;

use crate::cli::{Cli, Command, Format, ReplayArgs, RunArgs, ValidateArgs};
use crate::config::process_env;
use crate::domain::report::Report;
use crate::replay::{ReplayOptions, replay};

/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;

pub fn run_cli(cli: Cli) -> u8 {
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match cli.command {
        Command::Replay(args) => runtime.block_on(replay_command(args)),
        Command::Run(args) => runtime.block_on(run_command(args)),
        Command::Dispatch(args) => runtime.block_on(crate::ops::dispatch_command(args)),
        Command::Heartbeat(args) => runtime.block_on(crate::ops::heartbeat_command(args)),
        Command::Watchdog(args) => runtime.block_on(crate::ops::watchdog_command(args)),
        Command::Summary(args) => crate::ops::summary_command(args),
        Command::Validate(args) => runtime.block_on(validate_command(args)),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRADECYCLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

async fn replay_command(args: ReplayArgs) -> u8 {
    let opts = ReplayOptions { fixtures: &args.fixtures, now: args.now, run_id: args.run_id, env: process_env() };
    let report = match replay(opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    emit(&report, args.output.as_deref(), args.format)
}

async fn run_command(args: RunArgs) -> u8 {
    let req = crate::run::RunRequest {
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
    let report = match crate::run::run(req).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    // The report always lands in artifacts/, whatever else was asked, and
    // never over the report of an earlier run with the same id.
    let stem = crate::run::report_stem(&report.run_id);
    let written = serde_json::to_string_pretty(&report)
        .map_err(std::io::Error::other)
        .and_then(|j| crate::artifacts::write_new(&args.artifacts, &stem, &j));
    match written {
        Ok(path) if path.file_stem().and_then(|s| s.to_str()) != Some(stem.as_str()) => {
            eprintln!("warning: a report for run id {} already exists; this one is {}", report.run_id, path.display())
        }
        Ok(_) => {}
        Err(e) => eprintln!("error: cannot write the report to {}: {e}", args.artifacts.join(stem + ".json").display()),
    }
    emit(&report, args.output.as_deref(), args.format)
}

/// `validate`: the checks on stdout (text or JSON); the exit code says
/// whether the configured mode is ready (0), a check failed (1) or a
/// setting is unusable (2).
async fn validate_command(args: ValidateArgs) -> u8 {
    let req = crate::validate::ValidateRequest {
        live: args.live,
        allow_withdrawal_key: args.allow_withdrawal_key,
        send_test: args.send_test,
        store: args.store,
        env: process_env(),
    };
    let result = crate::validate::validate(req).await;
    let body = if args.json {
        match serde_json::to_string_pretty(&result.to_json()) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("error: cannot serialise the checks: {e}");
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
fn emit(report: &Report, output: Option<&Path>, format: Format) -> u8 {
    for line in &report.log_lines {
        tracing::info!("{line}");
    }
    let json = match serde_json::to_string_pretty(report) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: cannot serialise the report: {e}");
            return 1;
        }
    };
    if let Some(path) = output
        && let Err(e) = write_file(path, &json)
    {
        eprintln!("error: cannot write the report to {}: {e}", path.display());
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
        eprintln!("error [{}]: {}", e.stage, e.message);
    }
    report.exit_code()
}

/// Writes `text` and a newline atomically, creating parent directories.
pub(crate) fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    crate::artifacts::write_atomic(path, text)
}
