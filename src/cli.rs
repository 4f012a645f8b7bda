//! Command-line definitions (clap). Parsing only: no IO here.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tradecycle",
    version,
    about = "Runs one crypto trading cycle per invocation against a Binance spot account.",
    long_about = "Runs one crypto trading cycle per invocation against a Binance spot account and exits.\n\n\
                  Exit codes: 0 ok, 1 cycle error, 2 usage or configuration error, 3 aborted before trading,\n\
                  4 another cycle holds the run lease."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a full dry cycle on fixed fixture inputs: no network, no clock, nothing sent or written.
    Replay(ReplayArgs),
    /// Run one cycle: a dry-run against Binance by default, real trading with --live, or on the
    /// in-process paper exchange with --paper (no credentials needed).
    Run(RunArgs),
    /// Check credentials and reachability without trading or writing: the state store (Firestore and
    /// its Google credentials, or the state file), the upstream pool document, the Binance key, its
    /// permissions and the server clock, and Telegram.
    #[command(long_about = "Check credentials and reachability without trading or writing anything.\n\n\
        Checks: the configuration; Google credentials and Firestore (the state document and the upstream pool \
        document; a pool published under CRYPTO_LEADER_ROTATION_LIVE_POOL instead of our name is reported with the \
        variable to set) or, with a file store, the state file; Binance (server clock against this machine's, a \
        signed call with the key, the key's permissions: reading, spot trading, withdrawals); Telegram (getMe, \
        getChat, and with --send-test one test message). Read access suffices without --live; with --live (or \
        TRADECYCLE_LIVE=1) the key must be allowed to trade and must not be able to withdraw.\n\n\
        Prints one line per check (✓ ok, ! warning, ✗ failed, - skipped) with the setting to fix, or JSON with \
        --json. Secrets are never printed.\n\n\
        Exit codes: 0 everything needed for the mode is fine (warnings allowed), 1 a check failed, \
        2 usage or configuration error (a variable that cannot be used as given).")]
    Validate(ValidateArgs),
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Judge for live trading (also TRADECYCLE_LIVE=1): the key must trade and must not withdraw.
    #[arg(long)]
    pub live: bool,
    /// Accept a key that can withdraw, as `run --live --allow-withdrawal-key` would (then only a warning).
    #[arg(long)]
    pub allow_withdrawal_key: bool,
    /// State store to check: file:PATH or firestore (also TRADECYCLE_STORE).
    #[arg(long, value_name = "STORE")]
    pub store: Option<String>,
    /// Also send one test message to the Telegram chat.
    #[arg(long)]
    pub send_test: bool,
    /// Print the checks as JSON (schema tradecycle.validate.v1) instead of one line each.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Trade for real (also TRADECYCLE_LIVE=1). Without it, run reads Binance and suppresses every side effect.
    #[arg(long)]
    pub live: bool,
    /// Trade on the simulated exchange seeded from --fixtures; state and account persist under --paper-dir.
    #[arg(long, conflicts_with = "live")]
    pub paper: bool,
    /// Fixture set that seeds paper mode.
    #[arg(long, value_name = "DIR", default_value = "fixtures/cycle_replay", requires = "paper")]
    pub fixtures: PathBuf,
    /// Where paper mode keeps its account and state between runs.
    #[arg(long, value_name = "DIR", default_value = "artifacts/paper", requires = "paper")]
    pub paper_dir: PathBuf,
    /// Paper mode: compute indicators from synthetic daily klines instead of the fixture's injected ones.
    #[arg(long, requires = "paper")]
    pub synthetic_klines: bool,
    /// State store: file:PATH or firestore (also TRADECYCLE_STORE).
    #[arg(long, value_name = "STORE")]
    pub store: Option<String>,
    /// Trade live even though the API key can withdraw funds.
    #[arg(long)]
    pub allow_withdrawal_key: bool,
    /// Run id (default: the UTC time, e.g. 20260315T000000Z).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Cycle time for paper mode (RFC 3339); default: the paper account's clock.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time, requires = "paper")]
    pub now: Option<DateTime<Utc>>,
    /// Directory of the report (report-<run_id>.json) and recovery files.
    #[arg(long, value_name = "DIR", default_value = "artifacts")]
    pub artifacts: PathBuf,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The full execution report as JSON.
    Json,
    /// A short human summary.
    Text,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Fixture set directory (the four snapshot files and an optional replay_config.json).
    #[arg(long, value_name = "DIR", default_value = "fixtures/cycle_replay")]
    pub fixtures: PathBuf,
    /// Cycle time (RFC 3339); overrides replay_config.json's now_utc. Default 2026-03-15T00:00:00Z.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
    /// Run id recorded in the report; overrides replay_config.json's run_id. Default replay-cycle.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Also write the JSON report to this file (parent directories are created).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-03-15T00:00:00Z: {e}"))
}
