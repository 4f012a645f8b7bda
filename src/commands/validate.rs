//! `tradecycle validate`: checks, without trading or writing anything, that
//! what a cycle needs is in place — the state store (Firestore with its
//! Google credentials, or the state file), the upstream pool document, the
//! Binance key (a signed call, its permissions, the server clock) and
//! Telegram (`getMe`, `getChat`, and with `--send-test` one message).
//!
//! Shape (design.md §2): the IO half ([`validate`]) only gathers
//! observations through the same adapters and builders `run` uses; the pure
//! half turns each observation into a [`Check`] (status, what was found,
//! the setting to fix), decides the exit code and renders text or JSON.
//!
//! Exit codes follow the README: 0 when nothing needed for the configured
//! mode failed (warnings and skipped checks allowed), 1 when a check
//! failed, 2 when a setting cannot be used as given (a configuration
//! error, as `run` would exit 2 on it). Every check still runs where it
//! can, so one invocation lists every problem.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{Env, Settings};
use crate::adapters::binance::{BinanceClient, BinanceConfig};
use crate::notify::event::Lang;
use crate::ports::{ApiRestrictions, Exchange, Notifier, PortError, StateStore, UpstreamSource};
use crate::commands::run::AnyNotifier;
use crate::secret::Secret;
use crate::adapters::store::file::{FileStore, FileUpstream, UPSTREAM_FILE_VAR};
use crate::adapters::store::firestore::config::{CREDENTIALS_VAR, EMULATOR_HOST_VAR};
use crate::adapters::store::firestore::{Connection, DocRef, FirestoreConfig, FirestoreStore, value};
use crate::adapters::store::select::StoreSpec;
use crate::upstream::payload::{ContractSettings, validate_payload};

/// `schema` of the JSON output.
pub const SCHEMA: &str = "tradecycle.validate.v1";

/// The document name the upstream publisher writes by default, while we
/// (like the reference) read `CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL`
/// (behaviour.md §3.1, "naming mismatch").
pub const PUBLISHER_POOL_DOCUMENT: &str = "CRYPTO_LEADER_ROTATION_LIVE_POOL";

/// A server clock this far from ours is worth a warning (the signing
/// offset hides it from Binance, not from our daily boundaries).
pub const SKEW_WARN_MS: i64 = 1000;

/// Check names, in output order.
pub mod names {
    pub const CONFIG: &str = "config";
    pub const GOOGLE_CREDENTIALS: &str = "google_credentials";
    pub const STATE: &str = "state";
    pub const UPSTREAM_POOL: &str = "upstream_pool";
    pub const BINANCE_TIME: &str = "binance_time";
    pub const BINANCE_KEY: &str = "binance_key";
    pub const BINANCE_PERMISSIONS: &str = "binance_permissions";
    pub const TELEGRAM_BOT: &str = "telegram_bot";
    pub const TELEGRAM_CHAT: &str = "telegram_chat";
    pub const TELEGRAM_SEND: &str = "telegram_send";
}
use names::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, but something deserves attention; does not change the exit code.
    Warn,
    Fail,
    /// Not checked: not configured, or an earlier check it depends on failed.
    Skipped,
}

impl Status {
    fn symbol(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Skipped => "-",
        }
    }
}

/// One line of the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// The setting (variable, flag, or account setting) to change.
    pub fix: Option<String>,
    /// The failure is a setting that cannot be used as given: exit 2.
    #[serde(skip)]
    pub config_error: bool,
}

impl Check {
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, status: Status::Ok, detail: detail.into(), fix: None, config_error: false }
    }
    pub fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, status: Status::Warn, detail: detail.into(), fix: Some(fix.into()), config_error: false }
    }
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, status: Status::Fail, detail: detail.into(), fix: Some(fix.into()), config_error: false }
    }
    pub fn skipped(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, status: Status::Skipped, detail: detail.into(), fix: None, config_error: false }
    }
    /// A configuration error; the fix is the variable its message starts with.
    pub fn config(name: &'static str, message: impl Into<String>) -> Check {
        let message = message.into();
        let fix = setting_named_in(&message).unwrap_or_else(|| "the setting named above".into());
        Check { name, status: Status::Fail, detail: message, fix: Some(fix), config_error: true }
    }
}

/// The variable (or flag) an error message starts with, as our
/// configuration errors do ("NAME: ...", "NAME is not set").
fn setting_named_in(message: &str) -> Option<String> {
    let first = message.split([':', ' ']).next()?;
    let is_var = first.len() > 2 && first.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let is_flag = first.len() > 2 && first.starts_with("--");
    (is_var || is_flag).then(|| first.to_string())
}

/// What `validate` was asked (flags plus the environment).
#[derive(Debug, Clone)]
pub struct ValidateRequest {
    pub live: bool,
    pub allow_withdrawal_key: bool,
    pub send_test: bool,
    pub store: Option<String>,
    pub env: Env,
}

/// The result: every check in order, and the mode they were judged for.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub live: bool,
    pub checks: Vec<Check>,
}

impl Validation {
    /// 2 on a configuration error, else 1 on any failure, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.checks.iter().any(|c| c.status == Status::Fail && c.config_error) {
            2
        } else if self.checks.iter().any(|c| c.status == Status::Fail) {
            1
        } else {
            0
        }
    }

    fn mode(&self) -> &'static str {
        if self.live { "live" } else { "dry-run" }
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "schema": SCHEMA,
            "mode": self.mode(),
            "ok": self.exit_code() == 0,
            "exit_code": self.exit_code(),
            "checks": self.checks,
        })
    }

    /// One line per check (`✓`, `!`, `✗`, `-`), the fix on failures and
    /// warnings, and a closing summary line.
    pub fn to_text(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!("{} {:<width$}  {}", c.status.symbol(), c.name, c.detail));
            if let (Some(fix), Status::Fail | Status::Warn) = (&c.fix, c.status) {
                out.push_str(&format!(" — fix: {fix}"));
            }
            out.push('\n');
        }
        let verdict = match self.exit_code() {
            0 => "ready",
            1 => "NOT ready",
            _ => "NOT ready (configuration error)",
        };
        out.push_str(&format!(
            "{} for {}: {} ok, {} warning(s), {} failed, {} skipped",
            verdict,
            self.mode(),
            self.count(Status::Ok),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Skipped),
        ));
        out
    }

    /// Masks every given secret in every text, whatever produced it: the
    /// adapters already scrub their errors, this makes sure of it.
    fn redacted(mut self, secrets: &[Secret]) -> Validation {
        for c in &mut self.checks {
            for s in secrets {
                c.detail = s.redact(&c.detail);
                c.fix = c.fix.as_deref().map(|f| s.redact(f));
            }
        }
        self
    }
}

/// The credentials in the environment, for [`Validation::redacted`]; the
/// secret half of the bot token on its own too.
fn secrets(env: &Env) -> Vec<Secret> {
    let mut out = Vec::new();
    for name in ["BINANCE_API_KEY", "BINANCE_API_SECRET", "TG_TOKEN"] {
        if let Some(v) = env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            out.push(Secret::new(v));
            if let Some((_, tail)) = v.split_once(':') {
                out.push(Secret::new(tail));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Configuration (pure)
// ---------------------------------------------------------------------------

/// What the environment and flags resolve to before any IO.
struct Plan {
    live: bool,
    settings: Option<Settings>,
    store: Option<StoreSpec>,
    check: Check,
}

fn plan(req: &ValidateRequest) -> Plan {
    let mut errors: Vec<String> = Vec::new();
    let live = match crate::commands::run::truthy(&req.env, "TRADECYCLE_LIVE") {
        Ok(v) => req.live || v,
        Err(e) => {
            errors.push(e.0);
            // Judge the key as strictly as live trading would.
            true
        }
    };
    let settings = Settings::from_env(&req.env).map_err(|e| errors.push(e.0)).ok();
    let store = match StoreSpec::resolve(req.store.as_deref(), &req.env) {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            errors.push(
                "TRADECYCLE_STORE: no state store configured; pass --store firestore or --store file:PATH \
                 (or set TRADECYCLE_STORE)"
                    .into(),
            );
            None
        }
        Err(e) => {
            errors.push(e.0);
            None
        }
    };
    let check = if errors.is_empty() {
        config_summary(live, settings.as_ref(), store.as_ref())
    } else {
        let fixes: Vec<String> = errors.iter().filter_map(|e| setting_named_in(e)).collect();
        Check {
            name: CONFIG,
            status: Status::Fail,
            detail: errors.join("; "),
            fix: Some(if fixes.is_empty() { "the settings named above".into() } else { fixes.join(", ") }),
            config_error: true,
        }
    };
    Plan { live, settings, store, check }
}

fn config_summary(live: bool, settings: Option<&Settings>, store: Option<&StoreSpec>) -> Check {
    let mode = if live {
        "live (the key must trade and must not withdraw)"
    } else {
        "dry-run (read access suffices; --live checks for trading)"
    };
    let store = store.map(|s| s.to_string()).unwrap_or_default();
    let mut detail = format!("mode {mode}, store {store}");
    if let Some(s) = settings {
        if let Some(n) = s.strategy.max_notional_per_order {
            detail.push_str(&format!(", MAX_NOTIONAL_PER_ORDER_USDT {n}"));
        }
        if let Some(n) = s.strategy.max_orders_per_run {
            detail.push_str(&format!(", MAX_ORDERS_PER_RUN {n}"));
        }
        if s.strategy.paused {
            return Check::warn(
                CONFIG,
                format!("{detail}; the kill switch is on: sells and risk reduction only, no buys"),
                "TRADECYCLE_PAUSE (unset it to trade normally)",
            );
        }
    }
    Check::ok(CONFIG, detail)
}

// ---------------------------------------------------------------------------
// Evaluations (pure): observation -> Check
// ---------------------------------------------------------------------------

/// Where Google credentials come from (nothing secret: the file's type,
/// its service account's e-mail, and its path).
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialSource {
    Emulator(String),
    File {
        path: String,
        kind: Option<String>,
        account: Option<String>,
    },
    /// Application Default Credentials without a file: gcloud's user
    /// credentials, or the metadata server on Google Cloud.
    Ambient,
}

impl CredentialSource {
    fn describe(&self) -> String {
        match self {
            CredentialSource::Emulator(host) => format!("the Firestore emulator at {host} ({EMULATOR_HOST_VAR})"),
            CredentialSource::File { path, kind, account } => {
                let kind = match kind.as_deref() {
                    Some("service_account") => "service-account key",
                    Some("external_account") => "workload-identity (external_account) file",
                    Some("authorized_user") => "user credentials file",
                    _ => "credentials file",
                };
                match account {
                    Some(a) => format!("{kind} {path} ({a}) from {CREDENTIALS_VAR}"),
                    None => format!("{kind} {path} from {CREDENTIALS_VAR}"),
                }
            }
            CredentialSource::Ambient => {
                format!(
                    "application default credentials ({CREDENTIALS_VAR} unset: gcloud login or the metadata server)"
                )
            }
        }
    }
}

const CREDENTIALS_FIX: &str = "GOOGLE_APPLICATION_CREDENTIALS (a service-account key or workload-identity file) \
                               and the account's Firestore role (roles/datastore.user)";
const PROJECT_FIX: &str = "GOOGLE_CLOUD_PROJECT (or GCP_PROJECT_ID), TRADECYCLE_FIRESTORE_DATABASE";

/// Judged from the first Firestore read (the state document): that is
/// where credentials are actually resolved and presented.
pub fn credentials_check(
    source: &CredentialSource,
    project: Option<&str>,
    live: bool,
    first_read: &Result<Option<Value>, PortError>,
) -> Check {
    let project = project.unwrap_or("from the metadata server");
    if let CredentialSource::Emulator(host) = source {
        let detail = format!("not needed: {}", source.describe());
        return match first_read {
            Ok(_) if live => Check::warn(
                GOOGLE_CREDENTIALS,
                format!("{detail}; live trading would keep its state on an emulator"),
                format!("{EMULATOR_HOST_VAR} (unset it for production; now {host})"),
            ),
            _ => Check::ok(GOOGLE_CREDENTIALS, detail),
        };
    }
    match first_read {
        Ok(_) => Check::ok(GOOGLE_CREDENTIALS, format!("{}, project {project}: accepted", source.describe())),
        Err(PortError::Auth(msg)) => {
            let fix = if msg.contains("project id") { PROJECT_FIX } else { CREDENTIALS_FIX };
            Check::fail(GOOGLE_CREDENTIALS, format!("{}: {msg}", source.describe()), fix)
        }
        Err(_) => Check::skipped(
            GOOGLE_CREDENTIALS,
            format!("{}: not confirmed, Firestore could not be read (see {STATE})", source.describe()),
        ),
    }
}

/// The Firestore state document.
pub fn firestore_state_check(doc: &DocRef, emulator: Option<&str>, read: &Result<Option<Value>, PortError>) -> Check {
    match read {
        Ok(Some(v)) => Check::ok(STATE, format!("firestore {doc} readable ({})", fields(v))),
        Ok(None) => Check::warn(
            STATE,
            format!(
                "firestore {doc} does not exist: the first run starts from an empty state (right for a new \
                 account; if this account has traded before, the name is probably wrong)"
            ),
            "TRADECYCLE_STATE_COLLECTION / TRADECYCLE_STATE_DOCUMENT",
        ),
        Err(e) => {
            let fix = match (e, emulator) {
                (PortError::Auth(msg), _) if msg.contains("project id") => PROJECT_FIX.to_string(),
                (PortError::Auth(_), _) => CREDENTIALS_FIX.to_string(),
                (PortError::Definitive(_), _) => PROJECT_FIX.to_string(),
                (_, Some(host)) => format!("{EMULATOR_HOST_VAR} (nothing usable answers at {host})"),
                (_, None) => format!("network access to firestore.googleapis.com; {PROJECT_FIX}"),
            };
            Check::fail(STATE, format!("firestore {doc} not readable: {e}"), fix)
        }
    }
}

/// The state file: absent is fine (the first run creates it).
pub fn file_state_check(path: &Path, read: &Result<Option<Value>, PortError>) -> Check {
    let path = path.display();
    match read {
        Ok(Some(v)) => Check::ok(STATE, format!("file {path} readable ({})", fields(v))),
        Ok(None) => Check::ok(STATE, format!("file {path} does not exist yet: the first run creates it")),
        Err(e) => Check::fail(
            STATE,
            format!("file {path} not readable: {e}"),
            "--store file:PATH / TRADECYCLE_STORE (the path), or restore the file",
        ),
    }
}

fn fields(v: &Value) -> String {
    match v.as_object().map_or(0, |o| o.len()) {
        1 => "1 field".into(),
        n => format!("{n} fields"),
    }
}

/// One read of an upstream pool source.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRead {
    /// `firestore:strategy/...` or `upstream-file:/path`.
    pub label: String,
    /// The document, `None` when it does not exist, or the error text.
    pub outcome: Result<Option<Value>, String>,
}

/// The upstream pool source. `read` is `None` when nothing is configured
/// (a file store without `STRATEGY_ARTIFACT_UPSTREAM_FILE`); `publisher`
/// is the read of [`PUBLISHER_POOL_DOCUMENT`] in the same collection, made
/// only when ours is missing. A missing or refused pool is a warning: the
/// cycle still runs on a fallback rung. Ours missing while the
/// publisher's exists is a failure: that is a naming error with a known
/// fix, and left alone the cycle never sees a fresh pool.
pub fn pool_check(
    read: Option<&PoolRead>,
    publisher: Option<&PoolRead>,
    contract: &ContractSettings,
    allow_new_entries_on_degraded: bool,
    now: DateTime<Utc>,
    fix_vars: &str,
) -> Check {
    let fallback = if allow_new_entries_on_degraded {
        "the cycle falls back to last-known-good / local file / static pool (new trend entries continue: \
         STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED)"
    } else {
        "the cycle falls back to last-known-good / local file / static pool and pauses new trend entries"
    };
    let Some(read) = read else {
        return Check::warn(
            UPSTREAM_POOL,
            format!("no upstream pool source with a file store; {fallback}"),
            UPSTREAM_FILE_VAR,
        );
    };
    match &read.outcome {
        Ok(Some(raw)) => {
            let v = validate_payload(raw, &read.label, now, contract, true);
            if v.ok {
                let age = v.age_days.map(|d| format!(", {d} days old")).unwrap_or_default();
                Check::ok(
                    UPSTREAM_POOL,
                    format!(
                        "{}: {} symbols as of {} (mode {}{age})",
                        read.label,
                        v.payload.symbols.len(),
                        v.payload.as_of_date,
                        v.payload.mode
                    ),
                )
            } else {
                Check::warn(
                    UPSTREAM_POOL,
                    format!("{} is there but the cycle would refuse it: {}; {fallback}", read.label, v.error_text()),
                    "the publisher (a current pool), or STRATEGY_ARTIFACT_MAX_AGE_DAYS / \
                     STRATEGY_ARTIFACT_ACCEPTABLE_MODES / STRATEGY_ARTIFACT_EXPECTED_SIZE",
                )
            }
        }
        Ok(None) => match publisher {
            Some(PoolRead { label, outcome: Ok(Some(_)) }) => Check::fail(
                UPSTREAM_POOL,
                format!(
                    "{} does not exist, but {label} does: that is the publisher's default name, ours differs \
                     (behaviour.md §3.1), so the cycle would never see a fresh pool",
                    read.label
                ),
                format!("STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT={PUBLISHER_POOL_DOCUMENT}"),
            ),
            _ => Check::warn(UPSTREAM_POOL, format!("{} does not exist; {fallback}", read.label), fix_vars),
        },
        Err(e) => Check::warn(UPSTREAM_POOL, format!("{} not readable: {e}; {fallback}", read.label), fix_vars),
    }
}

const BINANCE_NETWORK_FIX: &str = "BINANCE_BASE_URL (unset = https://api.binance.com), or this machine's network";
const CLOCK_FIX: &str = "this machine's clock (turn on NTP time sync, e.g. timedatectl set-ntp true)";

/// Reachability and the server clock (`GET /api/v3/time`).
pub fn time_check(skew: &Result<i64, PortError>, base_url: &str, recv_window_ms: u64) -> Check {
    match skew {
        Err(e) => Check::fail(BINANCE_TIME, format!("cannot reach Binance at {base_url}: {e}"), BINANCE_NETWORK_FIX),
        Ok(ms) => {
            let what = format!("Binance at {base_url}: server clock {} this machine's by {} ms", ahead(*ms), ms.abs());
            if ms.unsigned_abs() > recv_window_ms {
                Check::fail(BINANCE_TIME, format!("{what}, beyond the {recv_window_ms} ms recvWindow"), CLOCK_FIX)
            } else if ms.abs() > SKEW_WARN_MS {
                Check::warn(BINANCE_TIME, format!("{what}, more than {SKEW_WARN_MS} ms"), CLOCK_FIX)
            } else {
                Check::ok(BINANCE_TIME, what)
            }
        }
    }
}

fn ahead(ms: i64) -> &'static str {
    if ms >= 0 { "ahead of" } else { "behind" }
}

/// The key and secret, through one signed call.
pub fn key_check(restrictions: &Result<ApiRestrictions, PortError>) -> Check {
    match restrictions {
        Ok(_) => Check::ok(BINANCE_KEY, "signed request accepted (GET /sapi/v1/account/apiRestrictions)"),
        Err(PortError::Auth(msg)) => Check::fail(
            BINANCE_KEY,
            format!("Binance refused the key: {msg}"),
            "BINANCE_API_KEY / BINANCE_API_SECRET (a matching pair; an IP-restricted key must list this \
             machine's address)",
        ),
        Err(e) => Check::fail(BINANCE_KEY, format!("the signed request did not complete: {e}"), BINANCE_NETWORK_FIX),
    }
}

/// What the key may do, judged for the mode: reading always; spot trading
/// for live; withdrawals refused for live unless `--allow-withdrawal-key`
/// (a warning otherwise), like `run --live`'s preflight.
pub fn permissions_check(r: &ApiRestrictions, live: bool, allow_withdrawal_key: bool) -> Check {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let found = format!(
        "reading {}, spot trading {}, withdrawals {}, IP-restricted {}",
        yes(r.enable_reading),
        yes(r.enable_spot_and_margin_trading),
        r.enable_withdrawals.map_or("not reported", yes),
        yes(r.ip_restrict)
    );
    let mut failures: Vec<(&str, &str)> = Vec::new();
    let mut warnings: Vec<(&str, &str)> = Vec::new();
    if !r.enable_reading {
        failures.push(("the key cannot read the account", "enable Reading for the key (Binance API Management)"));
    }
    if live && !r.enable_spot_and_margin_trading {
        failures.push((
            "live trading needs spot trading",
            "enable Spot & Margin Trading for the key (Binance API Management)",
        ));
    }
    if r.may_withdraw() {
        // Not reported counts as "can withdraw" (fail closed), said as such.
        let (note, refused, accepted) = if r.enable_withdrawals.is_some() {
            (
                "the key can withdraw funds",
                "the key can withdraw funds: run --live refuses it",
                "the key can withdraw funds (accepted by --allow-withdrawal-key)",
            )
        } else {
            (
                "Binance did not report whether the key can withdraw",
                "Binance did not report whether the key can withdraw: run --live refuses it",
                "Binance did not report whether the key can withdraw (accepted by --allow-withdrawal-key)",
            )
        };
        let fix =
            "disable Withdrawals for the key (a trade-only key), or pass --allow-withdrawal-key to accept the risk";
        match (live, allow_withdrawal_key) {
            (true, false) => failures.push((refused, fix)),
            (true, true) => warnings.push((accepted, fix)),
            (false, _) => warnings.push((note, "disable Withdrawals for the key before trading live")),
        }
    }
    if !live && !r.enable_spot_and_margin_trading {
        warnings
            .push(("no spot trading: fine for dry-runs, run --live would refuse it", "enable Spot & Margin Trading"));
    }
    let join = |items: &[(&str, &str)]| {
        let notes: Vec<&str> = items.iter().map(|(n, _)| *n).collect();
        let fixes: Vec<&str> = items.iter().map(|(_, f)| *f).collect();
        (notes.join("; "), fixes.join("; "))
    };
    if !failures.is_empty() {
        let (notes, fixes) = join(&failures);
        Check::fail(BINANCE_PERMISSIONS, format!("{found}: {notes}"), fixes)
    } else if !warnings.is_empty() {
        let (notes, fixes) = join(&warnings);
        Check::warn(BINANCE_PERMISSIONS, format!("{found}: {notes}"), fixes)
    } else {
        Check::ok(BINANCE_PERMISSIONS, found)
    }
}

const TELEGRAM_NETWORK_FIX: &str = "TELEGRAM_API_URL (unset = https://api.telegram.org), or this machine's network";
const CHAT_FIX: &str = "GLOBAL_TELEGRAM_CHAT_ID (the chat's numeric id or @channel; the bot must be a member)";

pub fn bot_check(me: &Result<String, PortError>) -> Check {
    match me {
        Ok(name) => Check::ok(TELEGRAM_BOT, format!("bot @{name} (getMe)")),
        Err(e @ PortError::Auth(_)) => {
            Check::fail(TELEGRAM_BOT, e.to_string(), "TG_TOKEN (the token BotFather issued)")
        }
        Err(e) => Check::fail(TELEGRAM_BOT, format!("getMe failed: {e}"), TELEGRAM_NETWORK_FIX),
    }
}

pub fn chat_check(chat: &Result<String, PortError>) -> Check {
    match chat {
        Ok(what) => Check::ok(TELEGRAM_CHAT, format!("{what} (getChat)")),
        Err(e @ PortError::Retryable(_)) => {
            Check::fail(TELEGRAM_CHAT, format!("getChat failed: {e}"), TELEGRAM_NETWORK_FIX)
        }
        Err(e) => Check::fail(TELEGRAM_CHAT, format!("getChat failed: {e}"), CHAT_FIX),
    }
}

pub fn send_check(sent: &Result<(), PortError>) -> Check {
    match sent {
        Ok(()) => Check::ok(TELEGRAM_SEND, "test message delivered"),
        Err(e @ PortError::Retryable(_)) => {
            Check::fail(TELEGRAM_SEND, format!("sendMessage failed: {e}"), TELEGRAM_NETWORK_FIX)
        }
        Err(e) => Check::fail(TELEGRAM_SEND, format!("sendMessage failed: {e}"), CHAT_FIX),
    }
}

/// The `--send-test` message.
pub fn test_message(lang: Lang, now: DateTime<Utc>) -> String {
    let at = now.format("%Y-%m-%d %H:%M:%S UTC");
    match lang {
        Lang::En => {
            format!("tradecycle validate: test message ({at}). Telegram alerts reach this chat; no action needed.")
        }
        Lang::Zh => format!("tradecycle validate 测试消息（{at}）：Telegram 通知可送达此聊天，无需任何操作。"),
    }
}

// ---------------------------------------------------------------------------
// IO: gather observations
// ---------------------------------------------------------------------------

/// Runs every check; never trades, never writes state, sends nothing
/// unless `send_test`.
pub async fn validate(req: ValidateRequest) -> Validation {
    let plan = plan(&req);
    let now = Utc::now();
    let (store, binance, telegram) = tokio::join!(
        store_checks(&plan, &req.env, now),
        binance_checks(plan.live, req.allow_withdrawal_key, &req.env),
        telegram_checks(&plan, req.send_test, &req.env, now),
    );
    let mut checks = vec![plan.check.clone()];
    checks.extend(store);
    checks.extend(binance);
    checks.extend(telegram);
    Validation { live: plan.live, checks }.redacted(&secrets(&req.env))
}

const NOT_CHECKED_CONFIG: &str = "not checked: fix the configuration error first";

async fn store_checks(plan: &Plan, env: &Env, now: DateTime<Utc>) -> Vec<Check> {
    let (Some(settings), Some(spec)) = (&plan.settings, &plan.store) else {
        return vec![
            Check::skipped(GOOGLE_CREDENTIALS, NOT_CHECKED_CONFIG),
            Check::skipped(STATE, NOT_CHECKED_CONFIG),
            Check::skipped(UPSTREAM_POOL, NOT_CHECKED_CONFIG),
        ];
    };
    match spec {
        StoreSpec::Firestore => firestore_checks(env, settings, plan.live, now).await,
        StoreSpec::File(path) => file_checks(path, env, settings, now).await,
    }
}

async fn firestore_checks(env: &Env, settings: &Settings, live: bool, now: DateTime<Utc>) -> Vec<Check> {
    let config = match FirestoreConfig::from_env(env, settings) {
        Ok(c) => c,
        Err(e) => {
            let on_credentials = e.0.starts_with(CREDENTIALS_VAR);
            let (first, second) = if on_credentials {
                (Check::config(GOOGLE_CREDENTIALS, e.0), Check::skipped(STATE, NOT_CHECKED_CONFIG))
            } else {
                (Check::skipped(GOOGLE_CREDENTIALS, NOT_CHECKED_CONFIG), Check::config(STATE, e.0))
            };
            return vec![first, second, Check::skipped(UPSTREAM_POOL, NOT_CHECKED_CONFIG)];
        }
    };
    let source = credential_source(&config, env);
    // One connection for all reads; the state store only reads here.
    let conn = Connection::new(config.clone());
    let state = FirestoreStore::with_connection(conn.clone()).load().await;
    let mut checks = vec![
        credentials_check(&source, config.project_id.as_deref(), live, &state),
        firestore_state_check(&config.state, config.emulator_host.as_deref(), &state),
    ];
    if state.is_err() {
        checks.push(Check::skipped(UPSTREAM_POOL, format!("not checked: Firestore not readable (see {STATE})")));
        return checks;
    }
    let upstream = firestore_read(&conn, &config.upstream).await;
    let publisher = match &upstream.outcome {
        Ok(None) if config.upstream.document != PUBLISHER_POOL_DOCUMENT => {
            let doc = DocRef::new(config.upstream.collection.clone(), PUBLISHER_POOL_DOCUMENT);
            Some(firestore_read(&conn, &doc).await)
        }
        _ => None,
    };
    checks.push(pool_check(
        Some(&upstream),
        publisher.as_ref(),
        &settings.contract,
        settings.strategy.allow_new_entries_on_degraded,
        now,
        "STRATEGY_ARTIFACT_FIRESTORE_COLLECTION / STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT (where the publisher writes)",
    ));
    checks
}

async fn firestore_read(conn: &Connection, doc: &DocRef) -> PoolRead {
    let outcome = match conn.get(doc).await {
        Ok(found) => Ok(found.map(|d| value::fields_to_json(&d.fields))),
        Err(e) => Err(e.to_string()),
    };
    PoolRead { label: format!("firestore:{doc}"), outcome }
}

/// Reads only the credentials file's `type` and `client_email` (never its
/// key material); `FirestoreConfig::from_env` already found it readable.
fn credential_source(config: &FirestoreConfig, env: &Env) -> CredentialSource {
    if let Some(host) = &config.emulator_host {
        return CredentialSource::Emulator(host.clone());
    }
    let Some(path) = env.get(CREDENTIALS_VAR).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return CredentialSource::Ambient;
    };
    let json: Option<Value> = std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str).map(str::to_string);
    CredentialSource::File { path: path.to_string(), kind: field("type"), account: field("client_email") }
}

async fn file_checks(path: &Path, env: &Env, settings: &Settings, now: DateTime<Utc>) -> Vec<Check> {
    let state = FileStore::new(path).load().await;
    let upstream = match FileUpstream::from_env(env) {
        None => None,
        Some(source) => {
            let outcome = match source.fetch().await {
                crate::upstream::ladder::FetchOutcome::Found(v) => Ok(Some(v)),
                crate::upstream::ladder::FetchOutcome::Missing => Ok(None),
                crate::upstream::ladder::FetchOutcome::Failed(e) => Err(e),
            };
            Some(PoolRead { label: source.label(), outcome })
        }
    };
    vec![
        Check::skipped(
            GOOGLE_CREDENTIALS,
            format!("not used: the state store is file:{} (Firestore is --store firestore)", path.display()),
        ),
        file_state_check(path, &state),
        pool_check(
            upstream.as_ref(),
            None,
            &settings.contract,
            settings.strategy.allow_new_entries_on_degraded,
            now,
            UPSTREAM_FILE_VAR,
        ),
    ]
}

async fn binance_checks(live: bool, allow_withdrawal_key: bool, env: &Env) -> Vec<Check> {
    // The three checks in their fixed order, `first` in its place and the
    // ones after it (which depend on it) skipped.
    let skip_rest = |first: Check, why: &str| -> Vec<Check> {
        [BINANCE_TIME, BINANCE_KEY, BINANCE_PERMISSIONS]
            .into_iter()
            .map(|name| if name == first.name { first.clone() } else { Check::skipped(name, why) })
            .collect()
    };
    let mut config = match BinanceConfig::from_env(env) {
        Ok(c) => c,
        Err(e) => {
            let name = if e.0.starts_with("BINANCE_API_") { BINANCE_KEY } else { BINANCE_TIME };
            return skip_rest(Check::config(name, e.0), NOT_CHECKED_CONFIG);
        }
    };
    // Interactive: one retry of a failed read is enough to ride out a blip.
    config.read_retries = config.read_retries.min(1);
    let base_url = config.base_url.clone();
    let recv_window = config.recv_window_ms;
    let client = match BinanceClient::new(config) {
        Ok(c) => c,
        Err(e) => return skip_rest(Check::config(BINANCE_TIME, format!("BINANCE_BASE_URL: {e}")), NOT_CHECKED_CONFIG),
    };
    let skew = client.server_time_skew_ms().await;
    let time = time_check(&skew, &base_url, recv_window);
    if skew.is_err() {
        return skip_rest(time, "not checked: Binance not reachable");
    }
    let restrictions = client.api_restrictions().await;
    let key = key_check(&restrictions);
    let permissions = match &restrictions {
        Ok(r) => permissions_check(r, live, allow_withdrawal_key),
        Err(_) => {
            Check::skipped(BINANCE_PERMISSIONS, format!("not checked: the key was not accepted (see {BINANCE_KEY})"))
        }
    };
    vec![time, key, permissions]
}

async fn telegram_checks(plan: &Plan, send_test: bool, env: &Env, now: DateTime<Utc>) -> Vec<Check> {
    let notifier = match crate::commands::run::notifier(env) {
        Ok(AnyNotifier::Telegram(n)) => n,
        Ok(AnyNotifier::Log(_)) => {
            let mut out = vec![
                Check::skipped(
                    TELEGRAM_BOT,
                    "not configured (TG_TOKEN and GLOBAL_TELEGRAM_CHAT_ID unset): notifications will only be logged",
                ),
                Check::skipped(TELEGRAM_CHAT, "not configured"),
            ];
            if send_test {
                out.push(Check::fail(
                    TELEGRAM_SEND,
                    "--send-test: Telegram is not configured, nothing to send with",
                    "TG_TOKEN and GLOBAL_TELEGRAM_CHAT_ID",
                ));
            }
            return out;
        }
        Err(e) => {
            let mut out = vec![Check::config(TELEGRAM_BOT, e.0), Check::skipped(TELEGRAM_CHAT, NOT_CHECKED_CONFIG)];
            if send_test {
                out.push(Check::skipped(TELEGRAM_SEND, NOT_CHECKED_CONFIG));
            }
            return out;
        }
    };
    let me = notifier.get_me().await;
    let mut out = vec![bot_check(&me)];
    if me.is_err() {
        out.push(Check::skipped(TELEGRAM_CHAT, format!("not checked: the bot is not usable (see {TELEGRAM_BOT})")));
        if send_test {
            out.push(Check::skipped(TELEGRAM_SEND, "not sent: the bot is not usable"));
        }
        return out;
    }
    let chat = notifier.get_chat().await;
    out.push(chat_check(&chat));
    if send_test {
        if chat.is_ok() {
            let lang = plan.settings.as_ref().map(|s| s.lang).unwrap_or_default();
            out.push(send_check(&notifier.send(&test_message(lang, now)).await));
        } else {
            out.push(Check::skipped(TELEGRAM_SEND, format!("not sent: the chat is not usable (see {TELEGRAM_CHAT})")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn request(pairs: &[(&str, &str)]) -> ValidateRequest {
        ValidateRequest { live: false, allow_withdrawal_key: false, send_test: false, store: None, env: env(pairs) }
    }

    fn restrictions(read: bool, trade: bool, withdraw: bool) -> ApiRestrictions {
        ApiRestrictions {
            enable_reading: read,
            enable_spot_and_margin_trading: trade,
            enable_withdrawals: Some(withdraw),
            ip_restrict: true,
        }
    }

    #[test]
    fn the_setting_is_read_from_configuration_messages() {
        assert_eq!(setting_named_in("BINANCE_API_KEY is not set").as_deref(), Some("BINANCE_API_KEY"));
        assert_eq!(setting_named_in("NOTIFY_LANG: unsupported").as_deref(), Some("NOTIFY_LANG"));
        assert_eq!(setting_named_in("--store: unknown store 's3'").as_deref(), Some("--store"));
        assert_eq!(setting_named_in("something else"), None);
    }

    #[test]
    fn configuration_errors_are_exit_2_and_name_the_variable() {
        let p = plan(&request(&[("NOTIFY_LANG", "fr"), ("TRADECYCLE_STORE", "firestore")]));
        assert_eq!(p.check.status, Status::Fail);
        assert!(p.check.config_error);
        assert_eq!(p.check.fix.as_deref(), Some("NOTIFY_LANG"));
        let v = Validation { live: false, checks: vec![p.check] };
        assert_eq!(v.exit_code(), 2);

        let p = plan(&request(&[]));
        assert!(p.check.detail.contains("no state store configured"), "{}", p.check.detail);
        assert_eq!(p.check.fix.as_deref(), Some("TRADECYCLE_STORE"));

        let p = plan(&request(&[("TRADECYCLE_LIVE", "perhaps"), ("TRADECYCLE_STORE", "file:x.json")]));
        assert!(p.live, "an unreadable TRADECYCLE_LIVE is judged as live");
        assert_eq!(p.check.fix.as_deref(), Some("TRADECYCLE_LIVE"));
    }

    #[test]
    fn the_environment_can_ask_for_live_and_the_kill_switch_warns() {
        let p = plan(&request(&[("TRADECYCLE_LIVE", "1"), ("TRADECYCLE_STORE", "file:x.json")]));
        assert!(p.live);
        assert_eq!(p.check.status, Status::Ok);
        let p = plan(&request(&[("TRADECYCLE_PAUSE", "1"), ("TRADECYCLE_STORE", "file:x.json")]));
        assert_eq!(p.check.status, Status::Warn);
        assert!(p.check.fix.as_deref().unwrap().starts_with("TRADECYCLE_PAUSE"));
    }

    #[test]
    fn permissions_depend_on_the_mode() {
        let status = |r, live, allow| permissions_check(&r, live, allow).status;
        assert_eq!(status(restrictions(true, true, false), true, false), Status::Ok);
        assert_eq!(status(restrictions(true, false, false), false, false), Status::Warn);
        assert_eq!(status(restrictions(true, false, false), true, false), Status::Fail);
        assert_eq!(status(restrictions(true, true, true), false, false), Status::Warn);
        assert_eq!(status(restrictions(true, true, true), true, false), Status::Fail);
        assert_eq!(status(restrictions(true, true, true), true, true), Status::Warn);
        assert_eq!(status(restrictions(false, true, false), false, false), Status::Fail);
        let c = permissions_check(&restrictions(true, true, true), true, false);
        assert!(c.fix.unwrap().contains("--allow-withdrawal-key"));
        assert!(c.detail.starts_with("reading yes, spot trading yes, withdrawals yes"), "{}", c.detail);
    }

    #[test]
    fn unreported_withdrawals_fail_live_like_a_key_that_can_withdraw() {
        let silent = ApiRestrictions { enable_withdrawals: None, ..restrictions(true, true, false) };
        let c = permissions_check(&silent, true, false);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.starts_with("reading yes, spot trading yes, withdrawals not reported"), "{}", c.detail);
        assert!(c.detail.contains("Binance did not report whether the key can withdraw: run --live refuses it"));
        assert_eq!(permissions_check(&silent, true, true).status, Status::Warn);
        assert_eq!(permissions_check(&silent, false, false).status, Status::Warn);
    }

    #[test]
    fn clock_skew_thresholds() {
        assert_eq!(time_check(&Ok(300), "u", 5000).status, Status::Ok);
        assert_eq!(time_check(&Ok(-1500), "u", 5000).status, Status::Warn);
        let c = time_check(&Ok(-7000), "u", 5000);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("behind this machine's by 7000 ms, beyond the 5000 ms recvWindow"), "{}", c.detail);
        let c = time_check(&Err(PortError::Retryable("GET /api/v3/time: could not connect".into())), "u", 5000);
        assert_eq!(c.fix.as_deref(), Some(BINANCE_NETWORK_FIX));
    }

    #[test]
    fn a_refused_key_names_both_variables() {
        let c = key_check(&Err(PortError::Auth("code -2015".into())));
        assert_eq!(c.status, Status::Fail);
        assert!(c.fix.unwrap().starts_with("BINANCE_API_KEY / BINANCE_API_SECRET"));
    }

    fn pool(as_of: &str) -> Value {
        json!({
            "as_of_date": as_of,
            "mode": "core_major",
            "version": format!("{as_of}-core_major"),
            "symbols": ["ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT"],
            "symbol_map": {"ETHUSDT": {"base_asset": "ETH"}, "SOLUSDT": {"base_asset": "SOL"},
                "BNBUSDT": {"base_asset": "BNB"}, "XRPUSDT": {"base_asset": "XRP"}, "ADAUSDT": {"base_asset": "ADA"}},
        })
    }

    #[test]
    fn pool_outcomes() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap();
        let contract = ContractSettings::default();
        let read = |outcome| PoolRead { label: "firestore:strategy/OURS".into(), outcome };
        let check = |r: &PoolRead, p: Option<&PoolRead>| pool_check(Some(r), p, &contract, false, now, "VARS");

        let good = check(&read(Ok(Some(pool("2026-03-01")))), None);
        assert_eq!(good.status, Status::Ok, "{}", good.detail);
        assert!(good.detail.contains("5 symbols as of 2026-03-01"), "{}", good.detail);

        let stale = check(&read(Ok(Some(pool("2025-01-01")))), None);
        assert_eq!(stale.status, Status::Warn);

        let missing = check(&read(Ok(None)), None);
        assert_eq!((missing.status, missing.fix.as_deref()), (Status::Warn, Some("VARS")));

        let publisher = PoolRead {
            label: "firestore:strategy/CRYPTO_LEADER_ROTATION_LIVE_POOL".into(),
            outcome: Ok(Some(pool("2026-03-01"))),
        };
        let misnamed = check(&read(Ok(None)), Some(&publisher));
        assert_eq!(misnamed.status, Status::Fail);
        assert_eq!(
            misnamed.fix.as_deref(),
            Some("STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT=CRYPTO_LEADER_ROTATION_LIVE_POOL")
        );
        assert!(misnamed.detail.contains("CRYPTO_LEADER_ROTATION_LIVE_POOL does"), "{}", misnamed.detail);

        let absent_too = PoolRead { outcome: Ok(None), ..publisher };
        assert_eq!(check(&read(Ok(None)), Some(&absent_too)).status, Status::Warn);

        let none = pool_check(None, None, &contract, false, now, UPSTREAM_FILE_VAR);
        assert_eq!((none.status, none.fix.as_deref()), (Status::Warn, Some(UPSTREAM_FILE_VAR)));
    }

    #[test]
    fn state_outcomes() {
        let doc = DocRef::new("strategy", "MULTI_ASSET_STATE");
        assert_eq!(firestore_state_check(&doc, None, &Ok(Some(json!({"a": 1})))).status, Status::Ok);
        let missing = firestore_state_check(&doc, None, &Ok(None));
        assert_eq!(missing.status, Status::Warn);
        let down = firestore_state_check(&doc, Some("127.0.0.1:9"), &Err(PortError::Retryable("x".into())));
        assert!(down.fix.unwrap().starts_with("FIRESTORE_EMULATOR_HOST"));
        assert_eq!(file_state_check(Path::new("s.json"), &Ok(None)).status, Status::Ok);
    }

    #[test]
    fn credentials_are_judged_by_the_first_read() {
        let file = CredentialSource::File {
            path: "/k.json".into(),
            kind: Some("service_account".into()),
            account: Some("bot@p.iam.gserviceaccount.com".into()),
        };
        let ok = credentials_check(&file, Some("p"), false, &Ok(None));
        assert_eq!(ok.status, Status::Ok);
        assert!(ok.detail.contains("service-account key /k.json (bot@p.iam.gserviceaccount.com)"), "{}", ok.detail);
        let refused = credentials_check(&file, Some("p"), false, &Err(PortError::Auth("denied".into())));
        assert_eq!((refused.status, refused.fix.as_deref()), (Status::Fail, Some(CREDENTIALS_FIX)));
        let no_project = credentials_check(
            &CredentialSource::Ambient,
            None,
            false,
            &Err(PortError::Auth("no Google Cloud project id: set".into())),
        );
        assert_eq!(no_project.fix.as_deref(), Some(PROJECT_FIX));
        let unreachable = credentials_check(&file, Some("p"), false, &Err(PortError::Retryable("down".into())));
        assert_eq!(unreachable.status, Status::Skipped);
        let emulator = CredentialSource::Emulator("127.0.0.1:1".into());
        assert_eq!(credentials_check(&emulator, None, false, &Ok(None)).status, Status::Ok);
        assert_eq!(credentials_check(&emulator, None, true, &Ok(None)).status, Status::Warn);
    }

    #[test]
    fn text_has_one_line_per_check_with_the_fix_and_a_summary() {
        let v = Validation {
            live: true,
            checks: vec![
                Check::ok(CONFIG, "mode live"),
                Check::fail(BINANCE_KEY, "refused", "BINANCE_API_KEY / BINANCE_API_SECRET"),
                Check::skipped(TELEGRAM_BOT, "not configured"),
            ],
        };
        let text = v.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "✓ config        mode live");
        assert_eq!(lines[1], "✗ binance_key   refused — fix: BINANCE_API_KEY / BINANCE_API_SECRET");
        assert_eq!(lines[2], "- telegram_bot  not configured");
        assert_eq!(lines[3], "NOT ready for live: 1 ok, 0 warning(s), 1 failed, 1 skipped");
        assert_eq!(v.exit_code(), 1);
        let j = v.to_json();
        assert_eq!(j["exit_code"], 1);
        assert_eq!(j["checks"][1]["status"], "fail");
        assert_eq!(j["checks"][2]["fix"], Value::Null);
    }

    #[test]
    fn secrets_are_masked_everywhere() {
        let e = env(&[("BINANCE_API_KEY", "KEYVALUE123"), ("TG_TOKEN", "123:SECRETPART")]);
        let v = Validation {
            live: false,
            checks: vec![Check::fail(BINANCE_KEY, "saw KEYVALUE123 and SECRETPART", "KEYVALUE123")],
        }
        .redacted(&secrets(&e));
        let text = v.to_text();
        assert!(!text.contains("KEYVALUE123") && !text.contains("SECRETPART"), "{text}");
    }
}
