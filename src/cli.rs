//! Command-line definitions (clap). Parsing only: no IO here.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

pub use crate::shell::logging::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "tradecycle",
    version,
    about = "Runs one crypto trading cycle per invocation against a Binance spot account.",
    long_about = "Runs one crypto trading cycle per invocation against a Binance spot account and exits.\n\n\
                  Exit codes: 0 ok, 1 cycle error, 2 usage or configuration error, 3 aborted before trading,\n\
                  4 another cycle holds the run lease, 5 finished but needs attention, 6 stopped by SIGTERM/SIGINT\n\
                  (the order in flight finished and saved, the rest skipped)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines on stderr as text or as JSON lines for Cloud Logging (filter: TRADECYCLE_LOG)
    /// [env: TRADECYCLE_LOG_FORMAT; default: text].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a full dry cycle on fixed fixture inputs: no network, no clock, nothing sent or written.
    Replay(ReplayArgs),
    /// Run one cycle: a dry-run against Binance by default, real trading with --live, or on the
    /// in-process paper exchange with --paper (no credentials needed).
    Run(RunArgs),
    /// Fire the cycle workflow through GitHub's workflow_dispatch API (what the VPS cron runs).
    #[command(
        long_about = "Fire the cycle workflow through GitHub's workflow_dispatch API (what the VPS cron runs).\n\n\
        Settings come from an env file of KEY=VALUE lines (a variable set in the process environment wins \
        over the file; without --env-file the default file may be absent): GITHUB_TOKEN, REPO (owner/name), WORKFLOW \
        (e.g. cycle.yml), REF (branch), optional VALIDATE_ONLY and LIVE (workflow inputs), \
        DISPATCH_MAX_ATTEMPTS (4), DISPATCH_RETRY_BASE_SECONDS (15; the wait before attempt k+1 is base*k), \
        GITHUB_API_URL, and TG_TOKEN + GLOBAL_TELEGRAM_CHAT_ID for the failure alert.\n\n\
        Network errors and HTTP 500/502/503/504 are retried; any 4xx fails at once. Success is HTTP 204.\n\n\
        Exit codes: 0 dispatched (or --check passed), 1 dispatch failed (one Telegram alert sent), \
        2 configuration error."
    )]
    Dispatch(DispatchArgs),
    /// Check that the cycle workflow ran recently (GitHub Actions run history); alert when it did not.
    #[command(
        long_about = "Check that the cycle workflow ran recently (GitHub Actions run history); alert when it did not.\n\n\
        Classifies the runs as healthy (a recent success), parked (the latest run is still queued or running), \
        deferred (no recent success, fewer missed intervals than allowed) or alert (the latest recent run failed, \
        nothing ever succeeded, too many intervals missed, or runs queued longer than \
        RUNTIME_HEARTBEAT_MAX_QUEUED_MINUTES), prints the assessment as JSON and raises a durable Telegram alert \
        (once, reminded every ALERT_REMIND_HOURS, cleared once; the book in --store / TRADECYCLE_STORE, default \
        file:artifacts/heartbeat/state.json). Reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL and the RUNTIME_HEARTBEAT_* \
        variables (see README).\n\n\
        Exit codes: 0 healthy/parked/deferred (or alert with --no-fail), 1 alert or GitHub unavailable, \
        2 configuration error."
    )]
    Heartbeat(HeartbeatArgs),
    /// Check that the last cycle's heartbeat record in the state store is fresh.
    #[command(long_about = "Check that the last cycle's heartbeat record in the state store is fresh.\n\n\
        Prints one line, OK or FAIL, with the record's status, timestamp, run id and last error. Alerts Telegram \
        durably (raise once, remind every ALERT_REMIND_HOURS, clear once): heartbeat_stale, cycle_failed.\n\n\
        Exit codes: 0 fresh, 1 missing, stale, unreadable or the last cycle ended error/aborted, \
        2 configuration error.")]
    Watchdog(WatchdogArgs),
    /// One screen of operator truth: positions (state vs exchange), pending and quarantined orders, open
    /// alerts, pause, pool, breaker, the last runs and the metrics file's age.
    #[command(long_about = "One screen of operator truth from the state store and, when BINANCE_API_KEY and \
        BINANCE_API_SECRET are set, the exchange (read-only): positions (state vs exchange spot+Earn), pending and \
        quarantined orders, open alerts by severity, whether new risk is paused and why, the pool's source and age, \
        the circuit breaker, the last runs (heartbeat record) and the metrics file's age.\n\n\
        Exit codes: 0 the screen was assembled (even with alerts open), 1 the state store cannot be read, \
        2 configuration error.")]
    Status(StatusArgs),
    /// Render a cycle report as a GitHub job summary (Markdown) or workflow annotations.
    Summary(SummaryArgs),
    /// Show the pending order ledger, or settle one entry by hand (see RUNBOOK "Quarantined order").
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// The exchange's holdings against the state, and settling a position mismatch by hand (see RUNBOOK
    /// "Position mismatch").
    #[command(subcommand)]
    Positions(PositionsCommand),
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
    /// Pause new risk (no buys, no Earn-funded entries) from the next cycle; sells and risk reduction still run.
    #[command(
        long_about = "Pause new risk from the next cycle on: nothing is bought; sells, stops and risk reduction \
        still run. The pause is kept in the state store (`paused`: reason, by, since) until `tradecycle resume`, and \
        every report and job summary says why new risk is paused. Takes the run lease first, so it never races a \
        cycle. A SEV-1 alert pauses new risk by itself while it is open (RUNBOOK \"Containment\").\n\n\
        Exit codes: 0 paused, 1 the state store failed, 2 usage or configuration error, 4 a cycle holds the run \
        lease (nothing changed; run it again when the cycle ends)."
    )]
    Pause(PauseArgs),
    /// Lift the operator's pause and acknowledge the SEV-1 alerts open now.
    #[command(long_about = "Lift the operator's pause (`tradecycle pause`, or `trading_paused: true` in an older \
        state document). SEV-1 alerts open at this moment are acknowledged and stop pausing new risk until they \
        clear; one that clears and comes back, or any other SEV-1, pauses again. TRADECYCLE_PAUSE, an environment \
        variable, is not touched: unset it yourself. Takes the run lease first, so it never races a cycle.\n\n\
        Exit codes: 0 resumed (or nothing to resume), 1 the state store failed, 2 usage or configuration error, \
        4 a cycle holds the run lease (nothing changed).")]
    Resume(ResumeArgs),
    /// Backtests: `backtest --data DIR --from DATE --to DATE` runs the live cycle over the kline history
    /// (also spelt `backtest run ...`), `backtest fetch` downloads it.
    Backtest(Box<BacktestArgs>),
    /// Check a run's evidence bundle (artifacts/<run_id>/: report, settings, build, alerts, SHA256SUMS).
    #[command(subcommand)]
    Evidence(EvidenceCommand),
}

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// Why new risk is paused; shown in every report until `resume`.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// State store: file:PATH or firestore (also TRADECYCLE_STORE).
    #[arg(long, value_name = "STORE")]
    pub store: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// State store: file:PATH or firestore (also TRADECYCLE_STORE).
    #[arg(long, value_name = "STORE")]
    pub store: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DispatchArgs {
    /// The env file with the dispatch settings [default: ~/.config/tradecycle/dispatch.env].
    #[arg(long, value_name = "FILE", env = "TRADECYCLE_DISPATCH_ENV")]
    pub env_file: Option<PathBuf>,
    /// Send the workflow input validate_only=true (check credentials, no cycle).
    #[arg(long)]
    pub validate_only: bool,
    /// Send the workflow input live=true (a live cycle; the workflow default is a dry run).
    #[arg(long)]
    pub live: bool,
    /// Only read and check the settings, print them (token hidden) and exit; nothing is sent.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, clap::Args)]
pub struct HeartbeatArgs {
    /// Runs created this many hours ago or later count as recent [env: RUNTIME_HEARTBEAT_LOOKBACK_HOURS, default 2.5].
    #[arg(long, value_name = "HOURS")]
    pub lookback_hours: Option<String>,
    /// Exit 0 even on alert (the alert is still sent) [env: RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT=false].
    #[arg(long)]
    pub no_fail: bool,
    /// Also write the assessment JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Where the durable alert book is kept: file:PATH or firestore
    /// [env: TRADECYCLE_STORE, default file:artifacts/heartbeat/state.json].
    #[arg(long, value_name = "file:PATH|firestore")]
    pub store: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct WatchdogArgs {
    /// Oldest acceptable record: seconds or a duration such as 75m or 1h15m [env: WATCHDOG_MAX_AGE_SECONDS, default 4500].
    #[arg(long, value_name = "SECONDS|DURATION")]
    pub max_age: Option<String>,
    /// Where the record is: file:PATH or firestore [env: TRADECYCLE_STORE].
    #[arg(long, value_name = "file:PATH|firestore")]
    pub store: Option<String>,
    /// Service whose record to read [env: SERVICE_NAME, default tradecycle].
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Judge the record as of this time (RFC 3339; default now): for drills and tests.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print the status as JSON (schema tradecycle.status.v1) instead of the text screen.
    #[arg(long)]
    pub json: bool,
    /// State store: file:PATH or firestore [env: TRADECYCLE_STORE].
    #[arg(long, value_name = "file:PATH|firestore")]
    pub store: Option<String>,
    /// Service whose heartbeat record (last runs) to show [env: SERVICE_NAME, default tradecycle].
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// The metrics file whose age to show [env: TRADECYCLE_METRICS_FILE].
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    /// A Markdown job summary (for $GITHUB_STEP_SUMMARY).
    Markdown,
    /// GitHub workflow commands (::warning:: / ::error::), one per line.
    Annotations,
}

#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// The execution report (artifacts/report-<run_id>.json).
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    #[arg(long, value_enum, default_value_t = SummaryFormat::Markdown)]
    pub format: SummaryFormat,
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
    /// Fixture set directory that seeds paper mode [default: the cycle_replay set built into the binary].
    #[arg(long, value_name = "DIR", requires = "paper")]
    pub fixtures: Option<PathBuf>,
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
    /// Write the run's Prometheus metrics to this file, atomically, for node_exporter's textfile
    /// collector [env: TRADECYCLE_METRICS_FILE].
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// Push the run's Prometheus metrics to this Pushgateway (group job=tradecycle, service=SERVICE_NAME)
    /// [env: TRADECYCLE_PUSHGATEWAY_URL].
    #[arg(long, value_name = "URL")]
    pub pushgateway: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Recompute every digest of a run's evidence bundle (artifacts/<run_id>/) against its SHA256SUMS.
    #[command(long_about = "Recompute every digest of a run's evidence bundle (artifacts/<run_id>/) against its \
        SHA256SUMS and print one line per file.\n\n\
        Exit codes: 0 every file matches, 1 a file differs, is missing or is not listed (named on its line), \
        2 DIR is not an evidence bundle (no directory, no readable SHA256SUMS).")]
    Verify {
        /// The bundle directory, e.g. artifacts/20260315T000000Z.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
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
    /// Fixture set directory (the four snapshot files and an optional replay_config.json)
    /// [default: the cycle_replay set built into the binary].
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
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

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// The pending order ledger: client id, symbol, side, quantity or amount, status, when and by which
    /// run it was written, its age and why it is quarantined.
    #[command(long_about = "The pending order ledger from the state store: client id, symbol, side, quantity \
        (or quote amount), status (pending, unresolved, quarantined), when and by which run it was written, its \
        age and why it is quarantined. Reads only; takes no lease.\n\n\
        Exit codes: 0 listed (also when empty), 1 the store cannot be read, 2 configuration error.")]
    List(OrdersListArgs),
    /// Settle one ledger entry by hand after checking it on Binance: --filled QTY@PRICE or --not-placed.
    #[command(long_about = "Settle one ledger entry by hand, after checking the client order id in Binance's \
        order history.\n\n\
        --filled QTY@PRICE books the fill (base quantity executed at the average price in USDT, no commission) \
        exactly as a run books a fill it finds itself: position, action history, balance snapshot. --not-placed \
        removes the entry (the order never executed). Either way the entry, who (--by) and when are recorded in \
        the state's operator_actions, and the next run neither books it again nor waits for it.\n\n\
        Takes the run lease, so it never races a cycle.\n\n\
        Exit codes: 0 settled, 1 the store cannot be read or written, 2 unknown client id or bad arguments, \
        4 a cycle holds the run lease (try again after it).")]
    Resolve(OrdersResolveArgs),
}

#[derive(Debug, clap::Args)]
pub struct OrdersListArgs {
    /// State store: file:PATH or firestore [env: TRADECYCLE_STORE].
    #[arg(long, value_name = "file:PATH|firestore")]
    pub store: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("outcome").required(true).args(["filled", "not_placed"])))]
pub struct OrdersResolveArgs {
    /// The ledger entry's client order id (as `orders list` shows it).
    pub client_id: String,
    /// It executed: base quantity @ average price in USDT, e.g. 729.3@2.4.
    #[arg(long, value_name = "QTY@PRICE")]
    pub filled: Option<String>,
    /// It never executed (not on Binance, or ended without a fill).
    #[arg(long)]
    pub not_placed: bool,
    /// Who settles it, recorded in the state [default: $USER, else operator].
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// State store: file:PATH or firestore [env: TRADECYCLE_STORE].
    #[arg(long, value_name = "file:PATH|firestore")]
    pub store: Option<String>,
}

/// `tradecycle backtest ...`: `tradecycle backtest --data DIR ...` runs a
/// backtest (the same as `backtest run --data DIR ...`); `backtest fetch`
/// downloads the history.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BacktestArgs {
    #[command(subcommand)]
    pub command: Option<BacktestCommand>,
    #[command(flatten)]
    pub run: Option<BacktestRunArgs>,
}

#[derive(Debug, Subcommand)]
pub enum BacktestCommand {
    /// Download daily or hourly klines from Binance's public API into DATA/<SYMBOL>-<interval>.csv.
    #[command(long_about = "Download daily or hourly klines from Binance's public klines endpoint (no API key) \
        into DATA/<SYMBOL>-1d.csv or DATA/<SYMBOL>-1h.csv, in the 12-column layout of Binance's public data dumps \
        (times in milliseconds), the files `tradecycle backtest` reads.\n\n\
        Resumes: an existing file is extended after its last candle (only ever forwards), never duplicated; an \
        unfinished last line left by a killed fetch is dropped and fetched again. Only finished candles are written. Keeps under 80% of \
        Binance's request weight per minute (waiting for the next minute when needed) and honours Retry-After. \
        BINANCE_BASE_URL selects the API (default https://api.binance.com). A progress bar is shown when stderr is \
        a terminal.\n\n\
        Exit codes: 0 every file is complete, 1 Binance or the disk failed (rows written so far are kept; run the \
        same command again to resume), 2 usage or configuration error.")]
    Fetch(BacktestFetchArgs),
    /// Run the live cycle over history: one cycle per day (or hour) against a simulated exchange.
    #[command(long_about = "Run the strategy over history with the live cycle code: each cycle is the same \
        cycle `tradecycle run` performs, with a simulated clock at the cycle's time, an in-memory state carried \
        from cycle to cycle, no notifications, and a simulated exchange driven by the kline files of --data \
        (DATA/<SYMBOL>-1d.csv, and DATA/<SYMBOL>-1h.csv for --cadence 1h; BTCUSDT and BNBUSDT are required; \
        `tradecycle backtest fetch` downloads them). `tradecycle backtest --data DIR ...` is the same as \
        `tradecycle backtest run --data DIR ...`.\n\n\
        No look-ahead: a cycle at time T sees only candles that closed before T; its price is the close of the \
        last finished candle of the cadence. The BTC snapshot needs about 565 days of BTCUSDT before --from (MA200 and \
        a 365-day z-score window); until then cycles fail and trade nothing (summary: failed_cycles, first_failure). Orders follow Binance's LOT_SIZE, \
        MARKET_LOT_SIZE and NOTIONAL rules (the major pairs' real filters, otherwise a 0.0001 step and 5 USDT \
        minimum), pay --fee-rate (25% less, in BNB, while the BNB fee fuel covers it) and fill --slippage-bps \
        worse than the price; USDT in Simple Earn earns --earn-apr. The strategy runs with its default settings \
        but what --set and --sweep change (the environment does not reach a backtest).\n\n\
        Pool: --pool FILE is one upstream payload used all period (republished every cycle); --pool-history FILE \
        is a JSON array of payloads, each the upstream document from its as_of_date on; without either, the \
        built-in static universe. A payload may hold any number of symbols (it is checked against its own \
        pool_size).\n\n\
        Outputs (--output DIR): summary.json (schema tradecycle.backtest.v1), equity.csv \
        (time,total,trend,btc,cash,earn), trades.csv (time,kind,symbol,side,quantity,price,fee,reason; fee in \
        USDT), equity.svg and report.html. The same inputs give byte-identical files. stdout gets the summary (--format text or json).\n\n\
        Exit codes: 0 the run completed, 1 the outputs could not be written, 2 usage error or unreadable input.")]
    Run(BacktestRunArgs),
}

#[derive(Debug, clap::Args)]
pub struct BacktestRunArgs {
    /// Directory of the kline CSV files.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// First day (UTC), YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: chrono::NaiveDate,
    /// Last day (UTC), YYYY-MM-DD, inclusive.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: chrono::NaiveDate,
    /// One upstream pool payload for the whole period.
    #[arg(long, value_name = "FILE", conflicts_with = "pool_history")]
    pub pool: Option<PathBuf>,
    /// A JSON array of upstream pool payloads, each active from its as_of_date.
    #[arg(long, value_name = "FILE")]
    pub pool_history: Option<PathBuf>,
    /// One cycle a day (at 00:00 UTC) or an hour.
    #[arg(long, value_name = "1d|1h", value_parser = parse_interval, default_value = "1d")]
    pub cadence: crate::history::Interval,
    /// USDT in the account at the start.
    #[arg(long, value_name = "N", default_value = "10000")]
    pub initial_usdt: rust_decimal::Decimal,
    /// Taker fee rate (0.001 = 0.1%).
    #[arg(long, value_name = "RATE", default_value = "0.001")]
    pub fee_rate: rust_decimal::Decimal,
    /// Fills this many basis points worse than the cycle's price.
    #[arg(long, value_name = "N", default_value = "0")]
    pub slippage_bps: rust_decimal::Decimal,
    /// Simple Earn's yearly rate on USDT (0.05 = 5%).
    #[arg(long, value_name = "RATE", default_value = "0")]
    pub earn_apr: rust_decimal::Decimal,
    /// Write summary.json, equity.csv, trades.csv, equity.svg and report.html into this directory.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// What stdout gets: the summary table or summary.json (with --sweep: one row per combination).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Inject faults (lost order answers, refused and slow Earn moves,
    /// refused saves, crashes), deterministically from this seed.
    #[arg(long, value_name = "SEED")]
    pub faults: Option<u64>,
    /// Test only: books one fill twice, to see the invariant check stop the run.
    #[arg(long, hide = true, requires = "faults")]
    pub test_double_book: bool,
    /// Override one strategy parameter (a `StrategyParams` field, e.g. atr_multiplier=3 or
    /// sma_long_days=150; an unknown key lists them all); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run every combination of these values (repeatable: the grid is the product) in parallel and print
    /// one row each; --output gets sweep.csv.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub sweep: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct BacktestFetchArgs {
    /// Symbols to download, comma-separated, e.g. BTCUSDT,ETHUSDT.
    #[arg(long, value_name = "S1,S2", required = true, value_delimiter = ',', value_parser = parse_symbol)]
    pub symbols: Vec<String>,
    /// Candle interval: 1d or 1h.
    #[arg(long, value_name = "1d|1h", value_parser = parse_interval)]
    pub interval: crate::history::Interval,
    /// First day (UTC), YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: chrono::NaiveDate,
    /// Last day (UTC), YYYY-MM-DD, inclusive.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: chrono::NaiveDate,
    /// Directory of the CSV files (created if missing).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| "expected a date YYYY-MM-DD (UTC)".to_string())
}

fn parse_interval(text: &str) -> Result<crate::history::Interval, String> {
    text.parse()
}

/// A Binance symbol, upper-cased: letters and digits only.
fn parse_symbol(text: &str) -> Result<String, String> {
    let symbol = text.trim().to_ascii_uppercase();
    if symbol.is_empty() || !symbol.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("expected symbols of letters and digits, e.g. BTCUSDT,ETHUSDT".into());
    }
    Ok(symbol)
}

#[derive(Debug, Subcommand)]
pub enum PositionsCommand {
    /// Per pool, retired and BTC symbol: what the state holds, what the exchange holds (spot + Earn), and
    /// whether they agree.
    #[command(long_about = "Per pool, retired and BTC symbol: what the state believes (held, flat, or BTC's \
        recorded quantity), what the exchange holds (spot free + locked + Simple Earn), and the status: ok, \
        mismatch (worth more than POSITION_MISMATCH_MIN_USDT), ignored, or in_flight (an order in the ledger). \
        Reads the state store and Binance (credentials as `run` reads them); takes no lease, changes nothing.\n\n\
        Exit codes: 0 listed, 1 the store or Binance cannot be read, 2 configuration error.")]
    List(PositionsListArgs),
    /// Take the exchange's quantity (spot + Earn) of SYMBOL into the state at the current price.
    #[command(long_about = "Take the exchange's quantity of SYMBOL (spot free + locked + Simple Earn) into the \
        state at the current average price: a trend symbol becomes held at that entry price (flat when the \
        exchange holds none), BTCUSDT's DCA record takes the quantity (its average cost moves by the added part \
        at that price). Recorded with who (--by) and when in the state's operator_actions. The \
        position_mismatch alert clears on the next cycle, the quantities then agreeing.\n\n\
        Takes the run lease, so it never races a cycle.\n\n\
        Exit codes: 0 adopted, 1 the store or Binance failed, 2 bad arguments (e.g. an ignored symbol), 4 a cycle \
        holds the run lease (try again after it).")]
    Adopt(PositionsSymbolArgs),
    /// SYMBOL's holding is the operator's own: never compared, never bought or sold by the cycle.
    #[command(long_about = "Declare SYMBOL's holding the operator's own: the cycle never buys or sells it (a pool \
        symbol is not entered, the circuit breaker does not sell it) and the position comparison skips it. \
        Kept in the state under ignored_positions with who (--by) and when, until `positions unignore`. BTCUSDT \
        (the DCA core), BNBUSDT (fee fuel) and a symbol the state holds cannot be ignored.\n\n\
        Takes the run lease. Exit codes: 0 ignored, 1 the store failed, 2 bad arguments, 4 a cycle holds the \
        run lease.")]
    Ignore(PositionsSymbolArgs),
    /// Compare and trade SYMBOL again.
    Unignore(PositionsSymbolArgs),
}

#[derive(Debug, clap::Args)]
pub struct PositionsListArgs {
    /// State store: file:PATH or firestore [env: TRADECYCLE_STORE].
    #[arg(long, value_name = "file:PATH|firestore")]
    pub store: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct PositionsSymbolArgs {
    /// The symbol, e.g. SOLUSDT.
    pub symbol: String,
    /// Who did it, recorded in the state [default: $USER, else operator].
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// State store: file:PATH or firestore [env: TRADECYCLE_STORE].
    #[arg(long, value_name = "file:PATH|firestore")]
    pub store: Option<String>,
}
