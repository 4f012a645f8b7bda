//! [`RunConfig`]: everything `run` needs, resolved from its flags and the
//! environment once, before any IO — the mode, the store and its Firestore
//! settings, the Binance and Telegram settings, the upstream file, the lease
//! and the waits (ripgrep's low-level args → high-level args). `validate`
//! resolves through the same part functions, so it judges exactly what a
//! run would use, and reports each part's error next to its check.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::env::{ConfigError, Env, boolean, value};
use super::settings::Settings;
use crate::adapters::binance::BinanceConfig;
use crate::adapters::store::file::FileUpstream;
use crate::adapters::store::firestore::FirestoreConfig;
use crate::adapters::store::select::StoreSpec;
use crate::adapters::telegram::TelegramConfig;
use crate::domain::report::Mode;

/// How long a run may hold the lease before another run may take it over
/// (`TRADECYCLE_LEASE_TTL_SECS` when unset).
pub const LEASE_TTL: Duration = Duration::from_secs(15 * 60);

/// `SERVICE_NAME` when unset: the namespace of the heartbeat record.
pub const DEFAULT_SERVICE: &str = "tradecycle";

const LIVE_VAR: &str = "TRADECYCLE_LIVE";

/// What `run` was asked on the command line, with the environment it sees.
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

/// Where the run keeps its state.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreConfig {
    File(PathBuf),
    Firestore(Box<FirestoreConfig>),
}

/// What the run trades on.
#[derive(Debug, Clone)]
pub enum ExchangeConfig {
    Binance(Box<BinanceConfig>),
    /// The simulated exchange seeded from a fixture set; the account
    /// persists under `dir`.
    Paper {
        fixtures: Option<PathBuf>,
        dir: PathBuf,
        synthetic_klines: bool,
    },
}

/// Everything one run needs, resolved.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub mode: Mode,
    pub settings: Settings,
    pub store: StoreConfig,
    pub exchange: ExchangeConfig,
    /// The fresh rung of the upstream ladder when the store is a file
    /// (`STRATEGY_ARTIFACT_UPSTREAM_FILE`); Firestore reads its own document.
    pub upstream_file: Option<FileUpstream>,
    /// `None`: notifications go to the log only (and always in paper mode).
    pub telegram: Option<TelegramConfig>,
    pub lease_ttl: Duration,
    /// Multiplies every wait of a live run (`TRADECYCLE_WAIT_SCALE`).
    pub wait_scale: f64,
    /// The heartbeat record's name (`SERVICE_NAME`).
    pub service_name: String,
    pub allow_withdrawal_key: bool,
    pub run_id: Option<String>,
    pub now: Option<DateTime<Utc>>,
    pub artifacts_dir: PathBuf,
}

impl RunConfig {
    /// Resolves every setting of a run; the first unusable one is the error
    /// (exit 2), named as the operator must fix it. Reads no network; the
    /// only file read is the Google credentials file's project id.
    pub fn resolve(req: &RunRequest) -> Result<RunConfig, ConfigError> {
        let env = &req.env;
        let mode = mode_of(req.paper, req.live || live_from_env(env)?)?;
        let mut settings = Settings::from_env(env)?;
        settings.strategy.max_orders_per_run = max_orders_per_run(mode, settings.strategy.max_orders_per_run, env)?;
        let spec = store_spec(req.store.as_deref(), env)?;
        let (store, exchange, upstream_file, telegram) = if mode == Mode::Paper {
            let store = match spec {
                Some(StoreSpec::File(path)) => StoreConfig::File(path),
                None => StoreConfig::File(req.paper_dir.join("state.json")),
                Some(StoreSpec::Firestore) => {
                    return Err(ConfigError("--paper keeps its state in a file: use --store file:PATH".into()));
                }
            };
            let exchange = ExchangeConfig::Paper {
                fixtures: req.fixtures.clone(),
                dir: req.paper_dir.clone(),
                synthetic_klines: req.synthetic_klines,
            };
            (store, exchange, None, None)
        } else {
            let spec = spec.ok_or_else(|| {
                ConfigError(
                    "no state store configured: pass --store firestore or --store file:PATH (or set TRADECYCLE_STORE)"
                        .into(),
                )
            })?;
            let binance = ExchangeConfig::Binance(Box::new(BinanceConfig::from_env(env)?));
            let (store, upstream_file) = match spec {
                StoreSpec::Firestore => {
                    (StoreConfig::Firestore(Box::new(FirestoreConfig::from_env(env, &settings)?)), None)
                }
                // Without Firestore the fresh rung is the upstream file, if any.
                StoreSpec::File(path) => (StoreConfig::File(path), FileUpstream::from_env(env)),
            };
            (store, binance, upstream_file, TelegramConfig::from_env(env)?)
        };
        Ok(RunConfig {
            mode,
            settings,
            store,
            exchange,
            upstream_file,
            telegram,
            lease_ttl: lease_ttl(env)?,
            wait_scale: wait_scale(env)?,
            service_name: service_name(env),
            allow_withdrawal_key: req.allow_withdrawal_key,
            run_id: req.run_id.clone(),
            now: req.now,
            artifacts_dir: req.artifacts_dir.clone(),
        })
    }
}

/// `MAX_ORDERS_PER_RUN` of a live run when unset: a live cycle rarely
/// needs more, and a bug or a bad pool that plans a burst of orders should
/// stop at a handful (the trading-loop runbook's multi-order guard).
pub const LIVE_MAX_ORDERS_PER_RUN: usize = 10;

/// The order cap of this run: a live run — and a dry run, which shows what
/// live would do — is capped at `MAX_ORDERS_PER_RUN` (default
/// [`LIVE_MAX_ORDERS_PER_RUN`]) unless `TRADECYCLE_ACK_MANY_ORDERS`
/// acknowledges more; a paper run only at an explicit setting.
fn max_orders_per_run(mode: Mode, set: Option<usize>, env: &Env) -> Result<Option<usize>, ConfigError> {
    if mode == Mode::Paper {
        return Ok(set);
    }
    let acknowledged = boolean(env, "TRADECYCLE_ACK_MANY_ORDERS", false)?;
    Ok(if acknowledged { None } else { Some(set.unwrap_or(LIVE_MAX_ORDERS_PER_RUN)) })
}

/// `TRADECYCLE_LIVE` (the `--live` flag is the caller's).
pub fn live_from_env(env: &Env) -> Result<bool, ConfigError> {
    boolean(env, LIVE_VAR, false).map_err(|_| {
        // The value is quoted lowercased, as it always has been here.
        let v = value(env, LIVE_VAR).unwrap_or_default().to_ascii_lowercase();
        ConfigError(format!("{LIVE_VAR}: expected true/false (1/0, yes/no, on/off), got '{v}'"))
    })
}

/// Paper, live or dry-run; paper and live together are a usage error.
pub fn mode_of(paper: bool, live: bool) -> Result<Mode, ConfigError> {
    match (paper, live) {
        (true, true) => Err(ConfigError("--paper and --live (or TRADECYCLE_LIVE=1) cannot be combined".into())),
        (true, false) => Ok(Mode::Paper),
        (false, true) => Ok(Mode::Live),
        (false, false) => Ok(Mode::DryRun),
    }
}

/// `--store`, else `TRADECYCLE_STORE`, else `None` (the mode's default).
pub fn store_spec(flag: Option<&str>, env: &Env) -> Result<Option<StoreSpec>, ConfigError> {
    StoreSpec::resolve(flag, env).map_err(|e| ConfigError(e.0))
}

/// `TRADECYCLE_LEASE_TTL_SECS`, default [`LEASE_TTL`].
pub fn lease_ttl(env: &Env) -> Result<Duration, ConfigError> {
    match value(env, "TRADECYCLE_LEASE_TTL_SECS") {
        None => Ok(LEASE_TTL),
        Some(v) => v.parse::<u64>().ok().filter(|s| *s > 0).map(Duration::from_secs).ok_or_else(|| {
            ConfigError(format!("TRADECYCLE_LEASE_TTL_SECS: expected a positive whole number of seconds, got '{v}'"))
        }),
    }
}

/// `TRADECYCLE_WAIT_SCALE`, 0 to 10, default 1.
pub fn wait_scale(env: &Env) -> Result<f64, ConfigError> {
    match value(env, "TRADECYCLE_WAIT_SCALE") {
        None => Ok(1.0),
        Some(v) => v.parse::<f64>().ok().filter(|s| (0.0..=10.0).contains(s)).ok_or_else(|| {
            ConfigError(format!("TRADECYCLE_WAIT_SCALE: expected a number between 0 and 10, got '{v}'"))
        }),
    }
}

/// The service name the heartbeat record is stored under (`SERVICE_NAME`,
/// default `tradecycle`); one per account when several share a store.
pub fn service_name(env: &Env) -> String {
    value(env, "SERVICE_NAME").unwrap_or(DEFAULT_SERVICE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::UpstreamSource;

    fn request(flags: impl FnOnce(&mut RunRequest), pairs: &[(&str, &str)]) -> RunRequest {
        let mut req = RunRequest {
            live: false,
            paper: false,
            fixtures: None,
            paper_dir: "artifacts/paper".into(),
            synthetic_klines: false,
            store: None,
            allow_withdrawal_key: false,
            run_id: None,
            now: None,
            artifacts_dir: "artifacts".into(),
            env: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        flags(&mut req);
        req
    }

    const KEYS: [(&str, &str); 3] =
        [("BINANCE_API_KEY", "k"), ("BINANCE_API_SECRET", "s"), ("TRADECYCLE_STORE", "file:/tmp/state.json")];

    fn err(req: RunRequest) -> String {
        RunConfig::resolve(&req).unwrap_err().0
    }

    #[test]
    fn a_live_run_is_capped_at_ten_orders_unless_more_are_acknowledged() {
        let cap = |live: bool, extra: &[(&str, &str)]| {
            let env = [KEYS.as_slice(), extra].concat();
            RunConfig::resolve(&request(|r| r.live = live, &env)).unwrap().settings.strategy.max_orders_per_run
        };
        assert_eq!(cap(true, &[]), Some(LIVE_MAX_ORDERS_PER_RUN));
        assert_eq!(LIVE_MAX_ORDERS_PER_RUN, 10);
        assert_eq!(cap(true, &[("MAX_ORDERS_PER_RUN", "25")]), Some(25));
        assert_eq!(cap(true, &[("TRADECYCLE_ACK_MANY_ORDERS", "1")]), None);
        assert_eq!(cap(true, &[("MAX_ORDERS_PER_RUN", "3"), ("TRADECYCLE_ACK_MANY_ORDERS", "yes")]), None);
        // A dry run shows what live would do, cap included.
        assert_eq!(cap(false, &[]), Some(LIVE_MAX_ORDERS_PER_RUN));
        assert_eq!(cap(false, &[("TRADECYCLE_ACK_MANY_ORDERS", "1")]), None);
        let paper = |extra: &[(&str, &str)]| {
            RunConfig::resolve(&request(|r| r.paper = true, extra)).unwrap().settings.strategy.max_orders_per_run
        };
        assert_eq!(paper(&[]), None, "paper trades only on the simulated exchange");
        assert_eq!(paper(&[("MAX_ORDERS_PER_RUN", "4")]), Some(4));
        assert_eq!(
            err(request(|r| r.live = true, &[KEYS.as_slice(), &[("TRADECYCLE_ACK_MANY_ORDERS", "many")]].concat())),
            "TRADECYCLE_ACK_MANY_ORDERS: expected true/false (1/0, yes/no, on/off), got 'many'"
        );
    }

    #[test]
    fn the_mode_comes_from_the_flags_and_tradecycle_live() {
        let mode = |req: RunRequest| RunConfig::resolve(&req).unwrap().mode;
        assert_eq!(mode(request(|_| {}, &KEYS)), Mode::DryRun);
        assert_eq!(mode(request(|r| r.live = true, &KEYS)), Mode::Live);
        let live_env = [KEYS.as_slice(), &[("TRADECYCLE_LIVE", "yes")]].concat();
        assert_eq!(mode(request(|_| {}, &live_env)), Mode::Live);
        assert_eq!(mode(request(|r| r.paper = true, &[])), Mode::Paper);
        assert_eq!(
            err(request(|r| r.paper = true, &[("TRADECYCLE_LIVE", "1")])),
            "--paper and --live (or TRADECYCLE_LIVE=1) cannot be combined"
        );
        assert_eq!(
            err(request(|_| {}, &[("TRADECYCLE_LIVE", " Perhaps ")])),
            "TRADECYCLE_LIVE: expected true/false (1/0, yes/no, on/off), got 'perhaps'"
        );
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let with = |pair: (&'static str, &'static str)| request(|_| {}, &[KEYS.as_slice(), &[pair]].concat());
        assert_eq!(
            err(with(("TRADECYCLE_WAIT_SCALE", "11"))),
            "TRADECYCLE_WAIT_SCALE: expected a number between 0 and 10, got '11'"
        );
        assert_eq!(
            err(with(("TRADECYCLE_LEASE_TTL_SECS", "0"))),
            "TRADECYCLE_LEASE_TTL_SECS: expected a positive whole number of seconds, got '0'"
        );
        assert_eq!(
            err(with(("TRADECYCLE_PAUSE", "maybe"))),
            "TRADECYCLE_PAUSE: expected true/false (1/0, yes/no, on/off), got 'maybe'"
        );
        assert_eq!(
            err(with(("TRADECYCLE_STORE", "s3"))),
            "TRADECYCLE_STORE: unknown store 's3': expected file:PATH (e.g. file:state/paper.json) or firestore"
        );
        assert!(err(with(("TG_TOKEN", "123:abc"))).starts_with("GLOBAL_TELEGRAM_CHAT_ID: not set, but TG_TOKEN is"));
    }

    #[test]
    fn paper_needs_no_credentials_and_keeps_its_state_in_a_file() {
        let c = RunConfig::resolve(&request(|r| r.paper = true, &[("TG_TOKEN", "half a config")])).unwrap();
        assert_eq!(c.store, StoreConfig::File("artifacts/paper/state.json".into()));
        assert!(matches!(c.exchange, ExchangeConfig::Paper { .. }));
        assert!(c.telegram.is_none(), "paper only logs its notifications");
        assert_eq!((c.lease_ttl, c.wait_scale, c.service_name.as_str()), (LEASE_TTL, 1.0, "tradecycle"));
        let c = RunConfig::resolve(&request(|r| r.paper = true, &[("TRADECYCLE_STORE", "file:/p.json")])).unwrap();
        assert_eq!(c.store, StoreConfig::File("/p.json".into()));
        assert_eq!(
            err(request(|r| r.paper = true, &[("TRADECYCLE_STORE", "firestore")])),
            "--paper keeps its state in a file: use --store file:PATH"
        );
    }

    #[test]
    fn live_and_dry_runs_need_a_store_and_the_keys() {
        assert_eq!(
            err(request(|r| r.live = true, &[])),
            "no state store configured: pass --store firestore or --store file:PATH (or set TRADECYCLE_STORE)"
        );
        let store = [("TRADECYCLE_STORE", "file:/s.json")];
        assert_eq!(err(request(|r| r.live = true, &store)), "BINANCE_API_KEY is not set");
        assert_eq!(err(request(|_| {}, &[store[0], ("BINANCE_API_KEY", "k")])), "BINANCE_API_SECRET is not set");
        let c = RunConfig::resolve(&request(
            |r| r.live = true,
            &[KEYS.as_slice(), &[("STRATEGY_ARTIFACT_UPSTREAM_FILE", "/up.json"), ("SERVICE_NAME", "acct2")]].concat(),
        ))
        .unwrap();
        assert!(matches!(&c.exchange, ExchangeConfig::Binance(b) if b.api_key.expose() == "k"));
        assert_eq!(c.upstream_file.map(|u| u.label()), Some("upstream-file:/up.json".to_string()));
        assert_eq!(c.service_name, "acct2");
    }
}
