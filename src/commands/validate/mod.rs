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

mod checks;
mod render;

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use checks::names::*;
pub use checks::*;
pub use render::*;

use crate::adapters::binance::{BinanceClient, BinanceConfig};
use crate::adapters::store::file::{FileStore, FileUpstream, UPSTREAM_FILE_VAR};
use crate::adapters::store::firestore::config::CREDENTIALS_VAR;
use crate::adapters::store::firestore::{Connection, DocRef, FirestoreConfig, FirestoreStore, value};
use crate::adapters::store::select::StoreSpec;
use crate::adapters::telegram::TelegramConfig;
use crate::cli::ValidateArgs;
use crate::commands::exit;
use crate::commands::run::{AnyNotifier, notifier};
use crate::config::run_config::{live_from_env, store_spec};
use crate::config::{Env, Settings, process_env};
use crate::ports::{Exchange, Notifier, StateStore, UpstreamSource};

/// What `validate` was asked (flags plus the environment).
#[derive(Debug, Clone)]
pub struct ValidateRequest {
    pub live: bool,
    pub allow_withdrawal_key: bool,
    pub send_test: bool,
    pub store: Option<String>,
    pub env: Env,
}

/// `validate`: the checks on stdout (text or JSON); the exit code says
/// whether the configured mode is ready (0), a check failed (1) or a
/// setting is unusable (2).
pub async fn command(args: ValidateArgs) -> u8 {
    let req = ValidateRequest {
        live: args.live,
        allow_withdrawal_key: args.allow_withdrawal_key,
        send_test: args.send_test,
        store: args.store,
        env: process_env(),
    };
    let result = validate(req).await;
    let body = if args.json {
        match serde_json::to_string_pretty(&result.to_json()) {
            Ok(j) => j,
            Err(e) => {
                crate::shell::logging::error_line(&format!("error: cannot serialise the checks: {e}"));
                return exit::ERROR;
            }
        }
    } else {
        result.to_text()
    };
    if writeln!(std::io::stdout().lock(), "{body}").is_err() {
        return exit::ERROR;
    }
    result.exit_code()
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
    // The same part resolvers as `RunConfig::resolve`, each error kept, so
    // one invocation lists every unusable setting.
    let live = match live_from_env(&req.env) {
        Ok(v) => req.live || v,
        Err(e) => {
            errors.push(e.0);
            // Judge the key as strictly as live trading would.
            true
        }
    };
    let settings = Settings::from_env(&req.env).map_err(|e| errors.push(e.0)).ok();
    let store = match store_spec(req.store.as_deref(), &req.env) {
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
    let notifier = match TelegramConfig::from_env(env)
        .map_err(|e| e.0)
        .and_then(|c| notifier(c.as_ref()).map_err(|e| e.0))
    {
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
            let mut out = vec![Check::config(TELEGRAM_BOT, e), Check::skipped(TELEGRAM_CHAT, NOT_CHECKED_CONFIG)];
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

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn request(pairs: &[(&str, &str)]) -> ValidateRequest {
        ValidateRequest { live: false, allow_withdrawal_key: false, send_test: false, store: None, env: env(pairs) }
    }

    /// `{:?}` of the request (as a stray `tracing::debug!(?req)` would)
    /// shows no credential; config's redaction test covers the rest.
    #[test]
    fn debug_of_the_request_shows_no_secret() {
        use crate::config::redaction::{assert_no_secret_in, env_with_every_secret};
        let env = env_with_every_secret();
        let validate = ValidateRequest { live: true, allow_withdrawal_key: false, send_test: false, store: None, env };
        assert_no_secret_in(&[format!("{validate:?}")]);
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
}
