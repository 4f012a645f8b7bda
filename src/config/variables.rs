//! Every environment variable the program reads, in one table: name, old
//! alias, default, meaning. The README and RUNBOOK tables are checked
//! against it (`tests/docs.rs`), and [`super::env::get`] takes aliases from
//! it. Grouped by the part of the program that reads each variable, so the
//! operations-only ones can be told apart (`tests/workflows.rs`).

/// One documented variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// An older name still accepted; the new name wins when both are set.
    pub alias: Option<&'static str>,
    pub default: &'static str,
    pub meaning: &'static str,
}

impl Variable {
    pub const fn new(name: &'static str, default: &'static str, meaning: &'static str) -> Variable {
        Variable { name, alias: None, default, meaning }
    }

    pub const fn aliased(
        name: &'static str,
        alias: &'static str,
        default: &'static str,
        meaning: &'static str,
    ) -> Variable {
        Variable { name, alias: Some(alias), default, meaning }
    }
}

/// Read by the cycle's settings ([`super::Settings`]) and logging.
pub const CYCLE: &[Variable] = &[
    Variable::aliased(
        "STRATEGY_ARTIFACT_FILE",
        "TREND_POOL_FILE",
        "unset",
        "local upstream payload file tried before artifacts/live_pool_legacy.json (alias TREND_POOL_FILE)",
    ),
    Variable::aliased(
        "STRATEGY_ARTIFACT_FIRESTORE_COLLECTION",
        "TREND_POOL_FIRESTORE_COLLECTION",
        "strategy",
        "collection of the upstream pool document (alias TREND_POOL_FIRESTORE_COLLECTION)",
    ),
    Variable::aliased(
        "STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT",
        "TREND_POOL_FIRESTORE_DOCUMENT",
        "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL",
        "upstream pool document (alias TREND_POOL_FIRESTORE_DOCUMENT)",
    ),
    Variable::aliased(
        "STRATEGY_ARTIFACT_MAX_AGE_DAYS",
        "TREND_POOL_MAX_AGE_DAYS",
        "45",
        "an upstream payload older than this is stale (alias TREND_POOL_MAX_AGE_DAYS)",
    ),
    Variable::aliased(
        "STRATEGY_ARTIFACT_ACCEPTABLE_MODES",
        "TREND_POOL_ACCEPTABLE_MODES",
        "core_major",
        "comma-separated payload modes accepted (alias TREND_POOL_ACCEPTABLE_MODES)",
    ),
    Variable::aliased(
        "STRATEGY_ARTIFACT_EXPECTED_SIZE",
        "TREND_POOL_EXPECTED_SIZE",
        "5",
        "number of symbols an upstream payload must carry (alias TREND_POOL_EXPECTED_SIZE)",
    ),
    Variable::aliased(
        "STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED",
        "TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED",
        "false",
        "allow new trend buys while the pool comes from a fallback rung (alias TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED)",
    ),
    Variable::new(
        "STRATEGY_ARTIFACT_LKG_MAX_AGE_DAYS",
        "90",
        "last-known-good payloads older than this are refused and the ladder moves on",
    ),
    Variable::new("BTC_STATUS_REPORT_INTERVAL_HOURS", "24", "hours between BTC status reports (clamped to 1..24)"),
    Variable::new("NOTIFY_LANG", "en", "language of Telegram messages: en or zh"),
    Variable::new(
        "ALERT_REMIND_HOURS",
        "24",
        "hours between reminders of a durable alert that stays open (at least 1)",
    ),
    Variable::new(
        "UPSTREAM_STALE_ALERT_CYCLES",
        "3",
        "cycles in a row without a fresh upstream pool before the upstream_stale alert is raised (at least 1)",
    ),
    Variable::new(
        "PENDING_QUARANTINE_HOURS",
        "24",
        "a pending order still unresolved this many hours after it was written is quarantined (at least 1)",
    ),
    Variable::new(
        "POSITION_MISMATCH_MIN_USDT",
        "10",
        "live, dry and paper runs: an exchange holding and the state differing by more than this (USDT) raise SEV-1 position_mismatch",
    ),
    Variable::new("TRADECYCLE_PAUSE", "false", "kill switch: sells and risk reduction run, no buys"),
    Variable::new("MAX_NOTIONAL_PER_ORDER_USDT", "unset", "buys larger than this are shrunk to it"),
    Variable::new(
        "MAX_ORDERS_PER_RUN",
        "10",
        "orders beyond this count in one run are skipped (sells are planned first); paper runs: no cap unless set",
    ),
    Variable::new(
        "TRADECYCLE_ACK_MANY_ORDERS",
        "false",
        "lifts the MAX_ORDERS_PER_RUN cap of live and dry runs (acknowledges planning more orders than it)",
    ),
    Variable::new(
        "TRADECYCLE_LOG",
        "warn",
        "log filter for stderr (e.g. info prints the cycle's log lines as they happen)",
    ),
    Variable::new(
        "TRADECYCLE_LOG_FORMAT",
        "text",
        "log lines on stderr: text (colour only on a terminal) or json, one object per line with severity, time and message for Cloud Logging (same as --log-format)",
    ),
];

/// Read by Telegram (`adapters/telegram`).
pub const TELEGRAM: &[Variable] = &[
    Variable::new("TG_TOKEN", "unset", "Telegram bot token (secret); unset with no chat: no Telegram"),
    Variable::aliased(
        "GLOBAL_TELEGRAM_CHAT_ID",
        "TG_CHAT_ID",
        "unset",
        "chat that receives notifications: numeric id or @channel (alias TG_CHAT_ID)",
    ),
    Variable::new(
        "TELEGRAM_API_URL",
        "https://api.telegram.org",
        "Bot API base URL (tests, self-hosted Bot API server)",
    ),
    Variable::new("TELEGRAM_TIMEOUT_SECONDS", "10", "deadline of one Telegram request, in seconds (1..120)"),
];

/// Read by the Binance adapter (`adapters/binance`).
pub const BINANCE: &[Variable] = &[
    Variable::new("BINANCE_API_KEY", "unset", "Binance API key (secret; reads for dry-run, trading for --live)"),
    Variable::new("BINANCE_API_SECRET", "unset", "Binance API secret (secret)"),
    Variable::new(
        "BINANCE_BASE_URL",
        "https://api.binance.com",
        "Binance REST base URL (tests point it at a local fake)",
    ),
    Variable::new(
        "BINANCE_TESTNET",
        "false",
        "Binance's spot testnet (set by itself when BINANCE_BASE_URL is https://testnet.binance.vision): Simple Earn answering 404 is a warning, Earn unavailable; --live skips the key-permission preflight the testnet lacks",
    ),
    Variable::new("BINANCE_MAX_IN_FLIGHT", "128", "Binance requests in flight at once during the market snapshot"),
    Variable::new(
        "BINANCE_TIMEOUT_SECS",
        "10",
        "deadline of one Binance request; an order without an answer by then is looked up by its client id",
    ),
];

/// Read by `run` ([`super::RunConfig`]).
pub const RUN: &[Variable] = &[
    Variable::new("TRADECYCLE_LIVE", "false", "trade for real (same as --live); otherwise run is a dry-run"),
    Variable::new("SERVICE_NAME", "tradecycle", "service name of the heartbeat record (one per account)"),
    Variable::new(
        "TRADECYCLE_LEASE_TTL_SECS",
        "900",
        "how long a run holds the lease before another run may take it over (a crashed run blocks the account this long)",
    ),
    Variable::new(
        "TRADECYCLE_WAIT_SCALE",
        "1",
        "multiplies every wait of a live run (order lookups, redeem polls, save retries); tests use 0.01",
    ),
    Variable::new(
        "TRADECYCLE_METRICS_FILE",
        "unset",
        "write the run's Prometheus metrics to this file, atomically (node_exporter textfile collector); --metrics-file wins",
    ),
    Variable::new(
        "TRADECYCLE_PUSHGATEWAY_URL",
        "unset",
        "push the run's Prometheus metrics to this Pushgateway, grouped by job and service; --pushgateway wins",
    ),
];

/// Read by the state stores and the upstream file (`adapters/store`).
pub const STORE: &[Variable] = &[
    Variable::new(
        "TRADECYCLE_STORE",
        "unset",
        "state store: file:PATH or firestore (--store wins); --paper defaults to file:artifacts/paper/state.json",
    ),
    Variable::new(
        "TRADECYCLE_STATE_COLLECTION",
        "strategy",
        "Firestore collection of the state document (and the lease)",
    ),
    Variable::new("TRADECYCLE_STATE_DOCUMENT", "MULTI_ASSET_STATE", "Firestore state document"),
    Variable::new("TRADECYCLE_LEASE_DOCUMENT", "MULTI_ASSET_STATE_LEASE", "Firestore run-lease document"),
    Variable::new(
        "TRADECYCLE_HEARTBEAT_COLLECTION",
        "tradecycle_health",
        "Firestore collection of heartbeat records, one document per service",
    ),
    Variable::new("TRADECYCLE_FIRESTORE_TIMEOUT_SECS", "10", "limit on each Firestore call, connecting included"),
    Variable::new("TRADECYCLE_FIRESTORE_DATABASE", "(default)", "Firestore database id"),
    Variable::new(
        "STRATEGY_ARTIFACT_UPSTREAM_FILE",
        "unset",
        "upstream pool payload file: the fresh rung when Firestore is not the store",
    ),
    Variable::aliased(
        "GOOGLE_CLOUD_PROJECT",
        "GCP_PROJECT_ID",
        "unset",
        "Google Cloud project (alias GCP_PROJECT_ID); else the credentials file's project_id, then the metadata server",
    ),
    Variable::new(
        "GOOGLE_APPLICATION_CREDENTIALS",
        "unset",
        "service-account key or workload-identity (external_account) file",
    ),
    Variable::new("FIRESTORE_EMULATOR_HOST", "unset", "host:port of a Firestore emulator; no credentials are used"),
];

/// Read by `watchdog` (`SERVICE_NAME` is in [`RUN`]).
pub const WATCHDOG: &[Variable] = &[Variable::new(
    "WATCHDOG_MAX_AGE_SECONDS",
    "4500",
    "`watchdog`: oldest acceptable heartbeat record, seconds or e.g. 75m (same as --max-age)",
)];

/// Read by `dispatch` (and `GITHUB_TOKEN` / `GITHUB_API_URL`, which `heartbeat` reads too).
pub const DISPATCH: &[Variable] = &[
    Variable::new(
        "TRADECYCLE_DISPATCH_ENV",
        "~/.config/tradecycle/dispatch.env",
        "the env file `dispatch` reads (same as --env-file)",
    ),
    Variable::new(
        "GITHUB_TOKEN",
        "unset",
        "GitHub token (secret): `dispatch` needs Actions write on the repository, `heartbeat` Actions read",
    ),
    Variable::new("REPO", "unset", "`dispatch`: the repository, owner/name"),
    Variable::new("WORKFLOW", "unset", "`dispatch`: the workflow file to fire, e.g. cycle.yml"),
    Variable::new("REF", "unset", "`dispatch`: the branch or tag the workflow runs on"),
    Variable::new(
        "VALIDATE_ONLY",
        "unset",
        "`dispatch`: workflow input validate_only (true/false); unset leaves the workflow default, false",
    ),
    Variable::new(
        "LIVE",
        "unset",
        "`dispatch`: workflow input live (true/false); unset leaves the workflow default, false (dry run)",
    ),
    Variable::new(
        "DISPATCH_MAX_ATTEMPTS",
        "4",
        "`dispatch`: attempts when GitHub fails transiently (network, 500/502/503/504)",
    ),
    Variable::new(
        "DISPATCH_RETRY_BASE_SECONDS",
        "15",
        "`dispatch`: the wait before attempt k+1 is this times k (15 s, 30 s, 45 s)",
    ),
    Variable::new(
        "GITHUB_API_URL",
        "https://api.github.com",
        "GitHub REST API root for `dispatch` and `heartbeat` (GitHub Enterprise, tests)",
    ),
];

/// Read by `heartbeat` (the reference's names, so repository variables carry over).
pub const HEARTBEAT: &[Variable] = &[
    Variable::new("GITHUB_REPOSITORY", "unset", "`heartbeat`: the repository, owner/name (set by GitHub Actions)"),
    Variable::new("RUNTIME_HEARTBEAT_WORKFLOW", "cycle.yml", "`heartbeat`: the workflow whose runs are checked"),
    Variable::new("RUNTIME_HEARTBEAT_BRANCH", "main", "`heartbeat`: the branch whose runs count"),
    Variable::new("RUNTIME_HEARTBEAT_NAME", "tradecycle cycle", "`heartbeat`: name in the alert"),
    Variable::new("RUNTIME_HEARTBEAT_LOOKBACK_HOURS", "2.5", "`heartbeat`: runs created this recently are recent"),
    Variable::new(
        "RUNTIME_HEARTBEAT_EXPECTED_INTERVAL_HOURS",
        "1",
        "`heartbeat`: the dispatch cadence; missed intervals are counted in it",
    ),
    Variable::new(
        "RUNTIME_HEARTBEAT_MAX_CONSECUTIVE_MISSES",
        "2",
        "`heartbeat`: missed intervals since the last success that make an alert",
    ),
    Variable::new("RUNTIME_HEARTBEAT_RUNS_TO_SCAN", "30", "`heartbeat`: runs read per listing (at most 100)"),
    Variable::new(
        "RUNTIME_HEARTBEAT_MAX_QUEUED_MINUTES",
        "unset",
        "`heartbeat`: a run queued longer than this (default: one expected interval) alerts `workflow_runs_queued` (runner offline)",
    ),
    Variable::new(
        "RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT",
        "true",
        "`heartbeat`: exit 1 on alert (false: alert, exit 0)",
    ),
    Variable::new(
        "GITHUB_SERVER_URL",
        "unset",
        "`heartbeat`: with GITHUB_RUN_ID, the link to the heartbeat run in the alert (set by GitHub Actions)",
    ),
    Variable::new("GITHUB_RUN_ID", "unset", "`heartbeat`: see GITHUB_SERVER_URL (set by GitHub Actions)"),
];
/// The whole table, section by section.
const SECTIONS: &[&[Variable]] = &[CYCLE, TELEGRAM, BINANCE, RUN, STORE, WATCHDOG, DISPATCH, HEARTBEAT];

/// Every variable of every part, for documentation checks.
pub fn all_variables() -> impl Iterator<Item = &'static Variable> {
    SECTIONS.iter().flat_map(|section| section.iter())
}

/// The older name of `name`, if it has one.
pub fn alias_of(name: &str) -> Option<&'static str> {
    all_variables().find(|v| v.name == name).and_then(|v| v.alias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for v in all_variables() {
            assert!(seen.insert(v.name), "{} twice", v.name);
            if let Some(alias) = v.alias {
                assert!(seen.insert(alias), "{alias} twice");
            }
        }
        assert_eq!(alias_of("GLOBAL_TELEGRAM_CHAT_ID"), Some("TG_CHAT_ID"));
        assert_eq!(alias_of("TG_TOKEN"), None);
    }
}
