//! The pure half of `validate`: each observation (a read, an answer, a
//! missing setting) turned into a [`Check`] with the setting to fix. No IO:
//! the gathering is in `mod.rs`, so every verdict is unit-tested here.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::render::Check;
use crate::adapters::store::file::UPSTREAM_FILE_VAR;
use crate::adapters::store::firestore::DocRef;
use crate::adapters::store::firestore::config::{CREDENTIALS_VAR, EMULATOR_HOST_VAR};
use crate::notify::event::Lang;
use crate::ports::{ApiRestrictions, PortError};
use crate::upstream::payload::{ContractSettings, validate_payload};

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

pub(crate) const CREDENTIALS_FIX: &str = "GOOGLE_APPLICATION_CREDENTIALS (a service-account key or workload-identity file) \
                               and the account's Firestore role (roles/datastore.user)";
pub(crate) const PROJECT_FIX: &str = "GOOGLE_CLOUD_PROJECT (or GCP_PROJECT_ID), TRADECYCLE_FIRESTORE_DATABASE";

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

pub(crate) const BINANCE_NETWORK_FIX: &str =
    "BINANCE_BASE_URL (unset = https://api.binance.com), or this machine's network";
pub(crate) const CLOCK_FIX: &str = "this machine's clock (turn on NTP time sync, e.g. timedatectl set-ntp true)";

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

pub(crate) const TELEGRAM_NETWORK_FIX: &str =
    "TELEGRAM_API_URL (unset = https://api.telegram.org), or this machine's network";
pub(crate) const CHAT_FIX: &str =
    "GLOBAL_TELEGRAM_CHAT_ID (the chat's numeric id or @channel; the bot must be a member)";

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::validate::Status;
    use chrono::TimeZone;
    use serde_json::json;

    fn restrictions(read: bool, trade: bool, withdraw: bool) -> ApiRestrictions {
        ApiRestrictions {
            enable_reading: read,
            enable_spot_and_margin_trading: trade,
            enable_withdrawals: Some(withdraw),
            ip_restrict: true,
        }
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
}
