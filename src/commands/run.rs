//! `tradecycle run`: one cycle against Binance (dry-run by default, `--live`
//! to trade) or against the paper exchange (`--paper`). Builds the adapters
//! the configuration asks for, checks the key before trading live, runs the
//! cycle, writes the report to `artifacts/` and the heartbeat record.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::shell::runner::{CycleRun, Executor, PoolInput, SavePolicy, Suppress};
use crate::config::{ConfigError, Env, Settings};
use crate::domain::intent::{Commission, Intent};
use crate::domain::report::{Mode, Report, Status};
use crate::domain::snapshot::{AssetBalance, MarketData};
use crate::adapters::binance::{BinanceClient, BinanceConfig};
use crate::paper::exchange::SimExchange;
use crate::shell::execute::{ExchangeExecutor, ExecutionPolicy};
use crate::paper::fixture::{FixtureSet, POOL_FILE};
use crate::adapters::log_notifier::LogNotifier;
use crate::adapters::telegram::{TelegramConfig, TelegramNotifier};
use crate::paper::account::PaperAccount;
use crate::ports::{
    ApiRestrictions, Clock, Exchange, LeaseOutcome, ManualClock, MarketRequest, Notifier, OrderReport, OrderRequest,
    PortError, StateStore, SystemClock, UpstreamSource,
};
use crate::adapters::store::file::{FileStore, FileUpstream};
use crate::adapters::store::firestore::{FirestoreConfig, FirestoreStore};
use crate::adapters::store::select::StoreSpec;
use crate::strategy::cycle::Outcome;
use crate::upstream::ladder::{FetchOutcome, FreshSource};

/// Variables read by `run`.
pub const VARIABLES: &[crate::config::Variable] = &[
    crate::config::Variable {
        name: "TRADECYCLE_LIVE",
        default: "false",
        meaning: "trade for real (same as --live); otherwise run is a dry-run",
    },
    crate::config::Variable {
        name: "SERVICE_NAME",
        default: "tradecycle",
        meaning: "service name of the heartbeat record (one per account)",
    },
    crate::config::Variable {
        name: "TRADECYCLE_LEASE_TTL_SECS",
        default: "900",
        meaning: "how long a run holds the lease before another run may take it over (a crashed run blocks the account this long)",
    },
    crate::config::Variable {
        name: "TRADECYCLE_WAIT_SCALE",
        default: "1",
        meaning: "multiplies every wait of a live run (order lookups, redeem polls, save retries); tests use 0.01",
    },
];

/// How long a run may hold the lease before another run may take it over.
pub const LEASE_TTL: Duration = Duration::from_secs(15 * 60);

/// What `run` was asked to do (parsed flags plus the environment).
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub live: bool,
    pub paper: bool,
    /// Paper mode's fixture set directory; `None` is the embedded default.
    pub fixtures: Option<PathBuf>,
    pub paper_dir: PathBuf,
    pub synthetic_klines: bool,
    pub store: Option<String>,
    pub allow_withdrawal_key: bool,
    pub run_id: Option<String>,
    pub now: Option<DateTime<Utc>>,
    pub artifacts_dir: PathBuf,
    pub env: Env,
}

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

pub(crate) fn truthy(env: &Env, name: &str) -> Result<bool, RunSetupError> {
    match env.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v.is_empty() => Ok(false),
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" | "y" | "on" => Ok(true),
            "0" | "false" | "no" | "n" | "off" => Ok(false),
            _ => Err(setup(format!("{name}: expected true/false (1/0, yes/no, on/off), got '{v}'"))),
        },
    }
}

pub fn mode_of(req: &RunRequest) -> Result<Mode, RunSetupError> {
    let live = req.live || truthy(&req.env, "TRADECYCLE_LIVE")?;
    match (req.paper, live) {
        (true, true) => Err(setup("--paper and --live (or TRADECYCLE_LIVE=1) cannot be combined")),
        (true, false) => Ok(Mode::Paper),
        (false, true) => Ok(Mode::Live),
        (false, false) => Ok(Mode::DryRun),
    }
}

/// The stores a run can use.
pub enum AnyStore {
    File(FileStore),
    Firestore(Box<FirestoreStore>),
}

impl StateStore for AnyStore {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        match self {
            AnyStore::File(s) => s.load().await,
            AnyStore::Firestore(s) => s.load().await,
        }
    }
    async fn save(&self, doc: &Value) -> Result<(), PortError> {
        match self {
            AnyStore::File(s) => s.save(doc).await,
            AnyStore::Firestore(s) => s.save(doc).await,
        }
    }
    async fn acquire_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<LeaseOutcome, PortError> {
        match self {
            AnyStore::File(s) => s.acquire_lease(owner, now, ttl).await,
            AnyStore::Firestore(s) => s.acquire_lease(owner, now, ttl).await,
        }
    }
    async fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        match self {
            AnyStore::File(s) => s.renew_lease(owner, now, ttl).await,
            AnyStore::Firestore(s) => s.renew_lease(owner, now, ttl).await,
        }
    }
    async fn release_lease(&self, owner: &str) -> Result<(), PortError> {
        match self {
            AnyStore::File(s) => s.release_lease(owner).await,
            AnyStore::Firestore(s) => s.release_lease(owner).await,
        }
    }
    async fn write_heartbeat(&self, service: &str, record: &Value) -> Result<(), PortError> {
        match self {
            AnyStore::File(s) => s.write_heartbeat(service, record).await,
            AnyStore::Firestore(s) => s.write_heartbeat(service, record).await,
        }
    }
    async fn read_heartbeat(&self, service: &str) -> Result<Option<Value>, PortError> {
        match self {
            AnyStore::File(s) => s.read_heartbeat(service).await,
            AnyStore::Firestore(s) => s.read_heartbeat(service).await,
        }
    }
}

/// The exchanges a run can use.
pub enum AnyExchange {
    Sim(Box<SimExchange>),
    Binance(Box<BinanceClient>),
}

impl Exchange for AnyExchange {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError> {
        match self {
            AnyExchange::Sim(x) => x.market_data(req).await,
            AnyExchange::Binance(x) => x.market_data(req).await,
        }
    }
    async fn place_order(&self, order: &OrderRequest) -> Result<OrderReport, PortError> {
        match self {
            AnyExchange::Sim(x) => x.place_order(order).await,
            AnyExchange::Binance(x) => x.place_order(order).await,
        }
    }
    async fn query_order(&self, symbol: &str, id: &str) -> Result<Option<OrderReport>, PortError> {
        match self {
            AnyExchange::Sim(x) => x.query_order(symbol, id).await,
            AnyExchange::Binance(x) => x.query_order(symbol, id).await,
        }
    }
    async fn orders_since(&self, symbol: &str, since: DateTime<Utc>) -> Result<Vec<OrderReport>, PortError> {
        match self {
            AnyExchange::Sim(x) => x.orders_since(symbol, since).await,
            AnyExchange::Binance(x) => x.orders_since(symbol, since).await,
        }
    }
    async fn order_commissions(&self, symbol: &str, order_id: i64) -> Result<Vec<Commission>, PortError> {
        match self {
            AnyExchange::Sim(x) => x.order_commissions(symbol, order_id).await,
            AnyExchange::Binance(x) => x.order_commissions(symbol, order_id).await,
        }
    }
    async fn earn_subscribe(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        match self {
            AnyExchange::Sim(x) => x.earn_subscribe(product_id, amount).await,
            AnyExchange::Binance(x) => x.earn_subscribe(product_id, amount).await,
        }
    }
    async fn earn_redeem(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        match self {
            AnyExchange::Sim(x) => x.earn_redeem(product_id, amount).await,
            AnyExchange::Binance(x) => x.earn_redeem(product_id, amount).await,
        }
    }
    async fn spot_free(&self, asset: &str) -> Result<Decimal, PortError> {
        match self {
            AnyExchange::Sim(x) => x.spot_free(asset).await,
            AnyExchange::Binance(x) => x.spot_free(asset).await,
        }
    }
    async fn api_restrictions(&self) -> Result<ApiRestrictions, PortError> {
        match self {
            AnyExchange::Sim(x) => x.api_restrictions().await,
            AnyExchange::Binance(x) => x.api_restrictions().await,
        }
    }
}

/// Telegram when configured, otherwise the log.
pub enum AnyNotifier {
    Telegram(Box<TelegramNotifier>),
    Log(LogNotifier),
}

impl Notifier for AnyNotifier {
    async fn send(&self, text: &str) -> Result<(), PortError> {
        match self {
            AnyNotifier::Telegram(n) => n.send(text).await,
            AnyNotifier::Log(n) => n.send(text).await,
        }
    }
}

/// Suppressing (dry-run) or trading (paper, live).
pub enum AnyExecutor<'a> {
    Suppress(Suppress),
    Exchange(ExchangeExecutor<'a, AnyExchange>),
}

impl Executor for AnyExecutor<'_> {
    async fn perform(&mut self, intent: &Intent) -> Outcome {
        match self {
            AnyExecutor::Suppress(x) => x.perform(intent).await,
            AnyExecutor::Exchange(x) => x.perform(intent).await,
        }
    }
    async fn await_funds(&mut self, asset: &str, need: Decimal) -> Option<Decimal> {
        match self {
            AnyExecutor::Suppress(x) => x.await_funds(asset, need).await,
            AnyExecutor::Exchange(x) => x.await_funds(asset, need).await,
        }
    }
    fn take_warnings(&mut self) -> Vec<String> {
        match self {
            AnyExecutor::Suppress(x) => x.take_warnings(),
            AnyExecutor::Exchange(x) => x.take_warnings(),
        }
    }
}

/// Everything a run needs, built from the request.
struct Prepared {
    mode: Mode,
    settings: Settings,
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
    let p = prepare(&req).await?;
    let Prepared { mode, settings, now, run_id, exchange, store, notifier, pool, paper } = p;

    // The spot testnet has no key-permission endpoint, and its funds are
    // not real: the live preflight is skipped there, with a warning.
    let testnet = matches!(&exchange, AnyExchange::Binance(b) if b.is_testnet());
    if mode == Mode::Live
        && !testnet
        && let Some(report) = preflight(&exchange, &run_id, now, req.allow_withdrawal_key).await
    {
        return Ok(report);
    }
    let scale = wait_scale(&req.env)?;
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
        settings: &settings,
        exchange: &exchange,
        store: &store,
        notifier: &notifier,
        executor,
        pool,
        lease_ttl: Some(lease_ttl(&req.env)?),
        save_policy: SavePolicy { backoff: defaults.backoff.mul_f64(scale), ..defaults },
        artifacts_dir: Some(req.artifacts_dir.clone()),
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
        if report.exit_code() != 4 {
            account.advance(sim.balances());
            if let Err(e) = account.save(&path) {
                report.fail(Status::Error, "paper_account", e);
            }
        }
    }
    if !mode.suppresses_side_effects() && report.exit_code() != 4 {
        write_heartbeat(&store, &req.env, &mut report).await;
    }
    Ok(report)
}

fn lease_ttl(env: &Env) -> Result<Duration, RunSetupError> {
    match env.get("TRADECYCLE_LEASE_TTL_SECS").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(LEASE_TTL),
        Some(v) => v.parse::<u64>().ok().filter(|s| *s > 0).map(Duration::from_secs).ok_or_else(|| {
            setup(format!("TRADECYCLE_LEASE_TTL_SECS: expected a positive whole number of seconds, got '{v}'"))
        }),
    }
}

fn wait_scale(env: &Env) -> Result<f64, RunSetupError> {
    match env.get("TRADECYCLE_WAIT_SCALE").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(1.0),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| (0.0..=10.0).contains(s))
            .ok_or_else(|| setup(format!("TRADECYCLE_WAIT_SCALE: expected a number between 0 and 10, got '{v}'"))),
    }
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

/// The record `tradecycle watchdog` checks: written after every paper or
/// live cycle that was not refused by the lease.
async fn write_heartbeat(store: &AnyStore, env: &Env, report: &mut Report) {
    let status = serde_json::to_value(report.status).ok().and_then(|v| v.as_str().map(str::to_string));
    // Status `attention` carries its first item, so the watchdog's line
    // says what needs a look.
    let last_error = report.errors.first().map(|e| format!("{}: {}", e.stage, e.message));
    let last_error = last_error.or_else(|| report.attention.first().map(|a| format!("attention: {a}")));
    let written = crate::commands::watchdog::write_cycle_heartbeat(
        store,
        &crate::commands::watchdog::service_name(env),
        &status.unwrap_or_default(),
        Utc::now(),
        &report.run_id,
        last_error.as_deref(),
    )
    .await;
    if let Err(e) = written {
        report.warnings.push(format!("could not write the heartbeat record: {e}"));
    }
}

async fn prepare(req: &RunRequest) -> Result<Prepared, RunSetupError> {
    let mode = mode_of(req)?;
    let settings = Settings::from_env(&req.env)?;
    let spec = StoreSpec::resolve(req.store.as_deref(), &req.env).map_err(|e| setup(e.0))?;
    if mode == Mode::Paper {
        return prepare_paper(req, settings, spec).await;
    }
    let spec = spec.ok_or_else(|| {
        setup("no state store configured: pass --store firestore or --store file:PATH (or set TRADECYCLE_STORE)")
    })?;
    let now = req.now.unwrap_or_else(Utc::now);
    let run_id = req.run_id.clone().unwrap_or_else(|| now.format("%Y%m%dT%H%M%SZ").to_string());
    let binance = BinanceClient::new(BinanceConfig::from_env(&req.env)?).map_err(|e| setup(e.to_string()))?;
    let (store, fresh) = match spec {
        StoreSpec::Firestore => {
            let config = FirestoreConfig::from_env(&req.env, &settings)?;
            let store = FirestoreStore::new(config);
            let upstream = store.upstream();
            let fresh = FreshSource { label: upstream.label(), outcome: upstream.fetch().await };
            (AnyStore::Firestore(Box::new(store)), Some(fresh))
        }
        StoreSpec::File(path) => {
            // Without Firestore the fresh rung is the upstream file, if any;
            // nothing contacts Google.
            let fresh = match FileUpstream::from_env(&req.env) {
                Some(u) => Some(FreshSource { label: u.label(), outcome: u.fetch().await }),
                None => None,
            };
            (AnyStore::File(FileStore::new(path)), fresh)
        }
    };
    Ok(Prepared {
        mode,
        settings,
        now,
        run_id,
        exchange: AnyExchange::Binance(Box::new(binance)),
        store,
        notifier: notifier(&req.env)?,
        pool: PoolInput::Ladder { fresh, local_root: PathBuf::from(".") },
        paper: None,
    })
}

pub(crate) fn notifier(env: &Env) -> Result<AnyNotifier, RunSetupError> {
    Ok(match TelegramConfig::from_env(env)? {
        Some(config) => {
            AnyNotifier::Telegram(Box::new(TelegramNotifier::new(&config).map_err(|e| setup(e.to_string()))?))
        }
        None => AnyNotifier::Log(LogNotifier),
    })
}

/// Paper mode: the fixture set's market, the carried paper account, the
/// file store under the paper directory (seeded with the fixture's state),
/// the fixture's pool file as the upstream document, and log-only
/// notifications.
async fn prepare_paper(
    req: &RunRequest,
    settings: Settings,
    spec: Option<StoreSpec>,
) -> Result<Prepared, RunSetupError> {
    let fixtures = FixtureSet::load_or_default(req.fixtures.as_deref()).map_err(|e| setup(e.to_string()))?;
    let account_path = req.paper_dir.join("account.json");
    let start = fixtures.config.now_utc.unwrap_or_else(crate::commands::replay::default_now);
    let account = match PaperAccount::load(&account_path).map_err(setup)? {
        Some(a) => a,
        None => PaperAccount::seed(&fixtures, start),
    };
    let now = req.now.unwrap_or(account.now);
    let run_id = req.run_id.clone().unwrap_or_else(|| format!("paper-{}", now.format("%Y%m%dT%H%M%SZ")));
    let store = match spec {
        Some(StoreSpec::File(path)) => FileStore::new(path),
        None => FileStore::new(req.paper_dir.join("state.json")),
        Some(StoreSpec::Firestore) => return Err(setup("--paper keeps its state in a file: use --store file:PATH")),
    };
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
    if req.synthetic_klines {
        sim = sim.with_synthetic_klines(now);
    }
    Ok(Prepared {
        mode: Mode::Paper,
        settings,
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
