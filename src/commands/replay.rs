//! `tradecycle replay`: one cycle on a fixture set, always dry, with a
//! fixed clock. Nothing is sent, written or notified; the report says what
//! would have been.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

use crate::adapters::log_notifier::LogNotifier;
use crate::adapters::store::memory::MemoryStore;
use crate::cli::ReplayArgs;
use crate::commands::{emit, exit};
use crate::config::{ConfigError, Env, Settings, process_env};
use crate::domain::report::{Mode, Report};
use crate::paper::exchange::SimExchange;
use crate::paper::fixture::{FixtureError, FixtureSet, PoolSource};
use crate::ports::SystemClock;
use crate::shell::runner::{CycleRun, PoolInput, SavePolicy, Suppress};
use crate::upstream::ladder::{FetchOutcome, FreshSource};

pub const DEFAULT_RUN_ID: &str = "replay-cycle";

pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).single().expect("valid constant time")
}

/// Why a replay could not start (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("{file}: env: {source}")]
    Config { file: String, source: ConfigError },
}

pub struct ReplayOptions<'a> {
    /// The fixture set directory; `None` is the embedded default set.
    pub fixtures: Option<&'a Path>,
    pub now: Option<DateTime<Utc>>,
    pub run_id: Option<String>,
    /// The process environment; `replay_config.json`'s `env` overrides it.
    pub env: Env,
}

/// `tradecycle replay`: the report on stdout (and in `--output`); exit 2
/// when the fixture set or its settings cannot be used.
pub async fn command(args: ReplayArgs) -> u8 {
    let opts =
        ReplayOptions { fixtures: args.fixtures.as_deref(), now: args.now, run_id: args.run_id, env: process_env() };
    let report = match replay(opts).await {
        Ok(r) => r,
        Err(e) => {
            crate::shell::logging::error_line(&format!("error: {e}"));
            return exit::USAGE;
        }
    };
    emit(&report, args.output.as_deref(), args.format)
}

pub async fn replay(opts: ReplayOptions<'_>) -> Result<Report, ReplayError> {
    let fixtures = FixtureSet::load_or_default(opts.fixtures)?;
    replay_loaded(fixtures, opts).await
}

/// Replays an already loaded fixture set: no IO at all (the benchmark's
/// "pure cycle").
pub async fn replay_loaded(fixtures: FixtureSet, opts: ReplayOptions<'_>) -> Result<Report, ReplayError> {
    let cfg = fixtures.config.clone();
    let mut env = opts.env;
    env.extend(cfg.env.clone());
    let settings = Settings::from_env(&env).map_err(|source| ReplayError::Config {
        file: fixtures.dir.join(crate::paper::fixture::CONFIG_FILE).display().to_string(),
        source,
    })?;
    let now = opts.now.or(cfg.now_utc).unwrap_or_else(default_now);
    let run_id = opts.run_id.or(cfg.run_id).unwrap_or_else(|| DEFAULT_RUN_ID.to_string());
    let pool = match cfg.pool_source.unwrap_or(PoolSource::Injected) {
        PoolSource::Injected => PoolInput::Injected(fixtures.pool_input.clone()),
        PoolSource::Firestore => PoolInput::Ladder {
            fresh: Some(FreshSource {
                label: format!("firestore:{}/{}", settings.firestore_collection, settings.firestore_document),
                outcome: if fixtures.pool_input.is_null() {
                    FetchOutcome::Missing
                } else {
                    FetchOutcome::Found(fixtures.pool_input.clone())
                },
            }),
            // Local fallback files are looked up inside the fixture set so it is self-contained.
            local_root: fixtures.dir.clone(),
        },
    };
    let store = MemoryStore::new(Some(fixtures.initial_state.clone()));
    let exchange = SimExchange::new(fixtures);
    let run = CycleRun {
        mode: Mode::Replay,
        now,
        // Replay suppresses every Earn move, so nothing ever waits.
        clock: &SystemClock,
        run_id,
        settings: &settings,
        exchange: &exchange,
        store: &store,
        notifier: &LogNotifier,
        executor: Suppress,
        pool,
        lease_ttl: None,
        save_policy: SavePolicy::default(),
        artifacts_dir: None,
        memo: None,
    };
    Ok(run.run().await)
}
