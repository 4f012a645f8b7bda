//! `tradecycle run`: one cycle against Binance (dry-run by default, `--live`
//! to trade) or against the paper exchange (`--paper`). Resolves the
//! configuration first ([`RunConfig`]), builds the adapters it asks for,
//! checks the key before trading live, runs the cycle, writes the report to
//! `artifacts/` and the heartbeat record, then the run's metrics and its
//! evidence bundle (`outputs`).

pub mod any;
mod outputs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::config::run_config::{LEASE_TTL, RunRequest};
pub use any::{AnyExchange, AnyExecutor, AnyNotifier, AnyStore};

use crate::adapters::binance::BinanceClient;
use crate::adapters::log_notifier::LogNotifier;
use crate::adapters::store::file::FileStore;
use crate::adapters::store::firestore::FirestoreStore;
use crate::adapters::telegram::{TelegramConfig, TelegramNotifier};
use crate::cli::RunArgs;
use crate::commands::{emit, exit};
use crate::config::run_config::{ExchangeConfig, StoreConfig};
use crate::config::{ConfigError, RunConfig, process_env};
use crate::domain::report::{Mode, Report, Status};
use crate::domain::snapshot::AssetBalance;
use crate::paper::account::PaperAccount;
use crate::paper::exchange::SimExchange;
use crate::paper::fixture::{FixtureSet, POOL_FILE};
use crate::ports::{Clock, Exchange, ManualClock, StateStore, SystemClock, UpstreamSource};
use crate::shell::execute::{ExchangeExecutor, ExecutionPolicy};
use crate::shell::observed::record_preflight_alert;
use crate::shell::runner::{CycleRun, PoolInput, SavePolicy, Suppress};
use crate::upstream::ladder::{FetchOutcome, FreshSource};

/// Why a run could not start (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunSetupError(pub String);

impl From<ConfigError> for RunSetupError {
    fn from(e: ConfigError) -> Self {
        RunSetupError(e.0)
    }
}

fn setup(msg: impl Into<String>) -> RunSetupError {
    RunSetupError(msg.into())
}

/// `tradecycle run`: the report always lands in `artifacts/`, and on stdout
/// (and in `--output`); exit 2 when the run could not start.
pub async fn command(args: RunArgs) -> u8 {
    let started = std::time::Instant::now();
    let req = RunRequest {
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
    let config = match RunConfig::resolve(&req) {
        Ok(config) => config,
        Err(e) => return setup_failed(e.into()),
    };
    let mut report = match run_resolved(&config).await {
        Ok(report) => report,
        Err(e) => return setup_failed(e),
    };
    // Metrics and evidence of every run that did something: a run refused
    // by the lease must not overwrite the running one's.
    if report.exit_code() != exit::LEASE_HELD {
        let sinks = outputs::MetricsSinks::of(args.metrics_file.clone(), args.pushgateway.clone(), &req.env);
        outputs::write_metrics(&mut report, &sinks, &config.service_name, started.elapsed()).await;
        outputs::write_evidence(&mut report, &config, &req.env);
    }
    // The report always lands in artifacts/, whatever else was asked, and
    // never over the report of an earlier run with the same id.
    let stem = report_stem(&report.run_id);
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

fn setup_failed(e: RunSetupError) -> u8 {
    crate::shell::logging::error_line(&format!("error: {e}"));
    exit::USAGE
}

/// The adapters and inputs of one run, built from its [`RunConfig`].
struct Prepared {
    now: DateTime<Utc>,
    run_id: String,
    exchange: AnyExchange,
    store: AnyStore,
    notifier: AnyNotifier,
    pool: PoolInput,
    paper: Option<(PaperAccount, PathBuf)>,
}

/// Runs one cycle as requested; `Err` means it could not start (exit 2).
pub async fn run(req: RunRequest) -> Result<Report, RunSetupError> {
    run_resolved(&RunConfig::resolve(&req)?).await
}

/// Runs one cycle of a resolved configuration; `Err` means it could not start.
pub async fn run_resolved(config: &RunConfig) -> Result<Report, RunSetupError> {
    let Prepared { now, run_id, exchange, store, notifier, pool, paper } = prepare(config).await?;
    let mode = config.mode;

    // The spot testnet has no key-permission endpoint, and its funds are
    // not real: the live preflight is skipped there, with a warning.
    let testnet = matches!(&exchange, AnyExchange::Binance(b) if b.is_testnet());
    if mode == Mode::Live
        && !testnet
        && let Some(mut report) = preflight(&exchange, &run_id, now, config.allow_withdrawal_key).await
    {
        // The state is not loaded yet: a refused key's durable alert is
        // recorded by its own narrow edit under the lease (shell/observed.rs).
        record_preflight_alert(&store, &notifier, &config.settings, now, &mut report).await;
        return Ok(report);
    }
    let scale = config.wait_scale;
    // Paper trades on an in-process exchange without Binance's Earn limit or
    // credit delay: its waits need no real time.
    let paper_clock = ManualClock::new(now);
    let clock: &dyn Clock = if paper.is_some() { &paper_clock } else { &SystemClock };
    let executor = if mode.suppresses_side_effects() {
        AnyExecutor::Suppress(Suppress)
    } else {
        AnyExecutor::Exchange(ExchangeExecutor::new(&exchange, ExecutionPolicy::scaled(scale)).with_clock(clock))
    };
    let defaults = SavePolicy::default();
    let mut report = CycleRun {
        mode,
        now,
        clock,
        run_id: run_id.clone(),
        settings: &config.settings,
        exchange: &exchange,
        store: &store,
        notifier: &notifier,
        executor,
        pool,
        lease_ttl: Some(config.lease_ttl),
        save_policy: SavePolicy { backoff: defaults.backoff.mul_f64(scale), ..defaults },
        artifacts_dir: Some(config.artifacts_dir.clone()),
        memo: None,
    }
    .run()
    .await;
    if mode == Mode::Live && testnet {
        report.warnings.push(
            "Binance spot testnet (BINANCE_TESTNET): the key's permissions were not checked (the testnet has no apiRestrictions)"
                .into(),
        );
    }

    if let (Some((mut account, path)), AnyExchange::Sim(sim)) = (paper, &exchange) {
        // A run refused by the lease changed nothing: the clock stays.
        if report.exit_code() != exit::LEASE_HELD {
            account.advance(sim.balances());
            if let Err(e) = account.save(&path) {
                report.fail(Status::Error, "paper_account", e);
            }
        }
    }
    if mode != Mode::Replay && report.exit_code() != exit::LEASE_HELD {
        write_heartbeat(&store, &config.service_name, &mut report).await;
    }
    Ok(report)
}

/// Refuses to trade live with a key that can withdraw (unless explicitly
/// allowed) or cannot trade; returns the aborted report if so.
async fn preflight(exchange: &AnyExchange, run_id: &str, now: DateTime<Utc>, allow_withdrawal: bool) -> Option<Report> {
    let abort = |message: String| {
        let mut r = Report::new(run_id, Mode::Live, &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        r.fail(Status::Aborted, "preflight", message);
        Some(r)
    };
    match exchange.api_restrictions().await {
        Err(e) => abort(format!("could not read the API key's permissions: {e}")),
        Ok(r) if r.enable_withdrawals == Some(true) && !allow_withdrawal => abort(
            "the API key can withdraw funds; use a trade-only key, or pass --allow-withdrawal-key to accept the risk"
                .into(),
        ),
        // Fail closed: an answer without the field is not a trade-only key.
        Ok(r) if r.may_withdraw() && !allow_withdrawal => abort(
            "Binance did not say whether the API key can withdraw (no enableWithdrawals in \
             GET /sapi/v1/account/apiRestrictions); check the key in Binance API Management, or pass \
             --allow-withdrawal-key to accept the risk"
                .into(),
        ),
        Ok(r) if !r.enable_spot_and_margin_trading => {
            abort("the API key is not allowed to trade spot (enable Spot & Margin Trading for it)".into())
        }
        Ok(_) => None,
    }
}

/// The record `tradecycle watchdog` checks: written after every dry-run,
/// paper or live cycle that was not refused by the lease (a dry run is the
/// cycle running: it counts as liveness; the record says its mode).
async fn write_heartbeat(store: &AnyStore, service: &str, report: &mut Report) {
    let status = serde_json::to_value(report.status).ok().and_then(|v| v.as_str().map(str::to_string));
    // Status `attention` carries its first item, so the watchdog's line
    // says what needs a look.
    let last_error = report.errors.first().map(|e| format!("{}: {}", e.stage, e.message));
    let last_error = last_error.or_else(|| report.attention.first().map(|a| format!("attention: {a}")));
    let mode = serde_json::to_value(report.mode).ok().and_then(|v| v.as_str().map(str::to_string));
    let written = crate::commands::watchdog::write_cycle_heartbeat(
        store,
        service,
        &status.unwrap_or_default(),
        &mode.unwrap_or_default(),
        Utc::now(),
        &report.run_id,
        last_error.as_deref(),
    )
    .await;
    if let Err(e) = written {
        report.warnings.push(format!("could not write the heartbeat record: {e}"));
    }
}

/// Builds the adapters the configuration asks for; reads the upstream
/// document (the only IO before the cycle itself).
async fn prepare(config: &RunConfig) -> Result<Prepared, RunSetupError> {
    let binance = match &config.exchange {
        ExchangeConfig::Binance(binance) => binance,
        ExchangeConfig::Paper { fixtures, dir, synthetic_klines } => {
            return prepare_paper(config, fixtures.as_deref(), dir, *synthetic_klines).await;
        }
    };
    let now = config.now.unwrap_or_else(Utc::now);
    let run_id = config.run_id.clone().unwrap_or_else(|| now.format("%Y%m%dT%H%M%SZ").to_string());
    let binance = BinanceClient::new(binance.as_ref().clone()).map_err(|e| setup(e.to_string()))?;
    let (store, fresh) = match &config.store {
        StoreConfig::Firestore(firestore) => {
            let store = FirestoreStore::new(firestore.as_ref().clone());
            let upstream = store.upstream();
            let fresh = FreshSource { label: upstream.label(), outcome: upstream.fetch().await };
            (AnyStore::Firestore(Box::new(store)), Some(fresh))
        }
        StoreConfig::File(path) => {
            // Without Firestore the fresh rung is the upstream file, if any;
            // nothing contacts Google.
            let fresh = match &config.upstream_file {
                Some(u) => Some(FreshSource { label: u.label(), outcome: u.fetch().await }),
                None => None,
            };
            (AnyStore::File(FileStore::new(path)), fresh)
        }
    };
    Ok(Prepared {
        now,
        run_id,
        exchange: AnyExchange::Binance(Box::new(binance)),
        store,
        notifier: notifier(config.telegram.as_ref())?,
        pool: PoolInput::Ladder { fresh, local_root: PathBuf::from(".") },
        paper: None,
    })
}

/// Telegram when configured, otherwise the log.
pub(crate) fn notifier(telegram: Option<&TelegramConfig>) -> Result<AnyNotifier, RunSetupError> {
    Ok(match telegram {
        Some(config) => {
            AnyNotifier::Telegram(Box::new(TelegramNotifier::new(config).map_err(|e| setup(e.to_string()))?))
        }
        None => AnyNotifier::Log(LogNotifier),
    })
}

/// Paper mode: the fixture set's market, the carried paper account, the
/// file store under the paper directory (seeded with the fixture's state),
/// the fixture's pool file as the upstream document, and log-only
/// notifications.
async fn prepare_paper(
    config: &RunConfig,
    fixtures: Option<&Path>,
    dir: &Path,
    synthetic_klines: bool,
) -> Result<Prepared, RunSetupError> {
    let state_path = match &config.store {
        StoreConfig::File(path) => path,
        // RunConfig::resolve already refuses this; said again rather than assumed.
        StoreConfig::Firestore(_) => return Err(setup("--paper keeps its state in a file: use --store file:PATH")),
    };
    let fixtures = FixtureSet::load_or_default(fixtures).map_err(|e| setup(e.to_string()))?;
    let account_path = dir.join("account.json");
    let start = fixtures.config.now_utc.unwrap_or_else(crate::commands::replay::default_now);
    let account = match PaperAccount::load(&account_path).map_err(setup)? {
        Some(a) => a,
        None => PaperAccount::seed(&fixtures, start),
    };
    let now = config.now.unwrap_or(account.now);
    let run_id = config.run_id.clone().unwrap_or_else(|| format!("paper-{}", now.format("%Y%m%dT%H%M%SZ")));
    let store = FileStore::new(state_path);
    seed_state(&store, &fixtures.initial_state).await?;
    let pool_path = fixtures.dir.join(POOL_FILE);
    let fresh = FreshSource {
        label: format!("paper:{}", pool_path.display()),
        outcome: if fixtures.pool_input.is_null() {
            FetchOutcome::Missing
        } else {
            FetchOutcome::Found(fixtures.pool_input.clone())
        },
    };
    let local_root = fixtures.dir.clone();
    let balances: BTreeMap<String, AssetBalance> = account.balances.clone();
    let prices = account.prices.clone();
    let mut sim = SimExchange::with_account(fixtures, balances, prices);
    if synthetic_klines {
        sim = sim.with_synthetic_klines(now);
    }
    Ok(Prepared {
        now,
        run_id,
        exchange: AnyExchange::Sim(Box::new(sim)),
        store: AnyStore::File(store),
        notifier: AnyNotifier::Log(LogNotifier),
        pool: PoolInput::Ladder { fresh: Some(fresh), local_root },
        paper: Some((account, account_path)),
    })
}

/// A paper store starts from the fixture's state document.
async fn seed_state(store: &FileStore, initial: &Value) -> Result<(), RunSetupError> {
    let existing = store.load().await.map_err(|e| setup(format!("paper state: {e}")))?;
    if existing.is_none() && !initial.is_null() {
        store.save(initial).await.map_err(|e| setup(format!("paper state: {e}")))?;
    }
    Ok(())
}

/// The report's file name without `.json`: `artifacts/report-<run_id>.json`
/// (`report-<run_id>.2.json` when a run with the same id already left one).
pub fn report_stem(run_id: &str) -> String {
    format!("report-{run_id}")
}
