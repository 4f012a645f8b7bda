//! The cycle's own liveness record and the watchdog that checks it. Every
//! cycle (dry-run, paper or live) ends by writing a small record (status,
//! mode, time, run id, first error and the last ten runs) to the state
//! store under its service name; `tradecycle watchdog` reads it and fails
//! when it is missing, older than the allowed age, or records a failed
//! (`error`) or `aborted` cycle — the check that still works when GitHub,
//! cron or the runner is what broke. It also alerts through Telegram,
//! durably: `heartbeat_stale` (SEV-1) and `cycle_failed` (SEV-2, SEV-1 after
//! [`FAILURES_FOR_SEV1`] failed cycles in a row) are raised once, reminded
//! every `ALERT_REMIND_HOURS` and cleared once, with the book kept in its
//! own record next to the heartbeat (`durable_alerts`).
//!
//! A dry-run record counts as liveness: it is the cycle running. Accounts
//! are told apart by the service name (`SERVICE_NAME`), so one account's
//! watchdog never reads another's record.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::adapters::store::file::FileStore;
use crate::adapters::store::firestore::{FirestoreConfig, FirestoreStore};
use crate::adapters::store::select::StoreSpec;
use crate::cli::WatchdogArgs;
use crate::commands::durable_alerts::{advance_and_notify, book_key, load_book, message, save_book};
use crate::commands::run::AnyStore;
use crate::commands::{exit, telegram_notifier, usage};
use crate::config::env::{int, value};
use crate::config::run_config::store_spec;
use crate::config::settings::lang;
use crate::config::{Env, Settings, process_env};
use crate::domain::alerts::{Condition, Severity};
use crate::ports::{PortError, StateStore};

/// The watchdog's own variable (`SERVICE_NAME` is `run`'s).
pub use crate::config::variables::WATCHDOG as VARIABLES;

pub use crate::config::run_config::{DEFAULT_SERVICE, service_name};

/// `--max-age` / `WATCHDOG_MAX_AGE_SECONDS` when unset: an hourly cycle
/// plus a quarter of an hour of slack (the reference's 4500 s).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(4500);

/// Longest `last_error` kept in the record and printed.
const ERROR_LIMIT_CHARS: usize = 500;

/// Runs kept in the record's `history`, newest first.
pub const HISTORY_KEPT: usize = 10;

/// Failed cycles in a row (newest first in the history) that make
/// `cycle_failed` SEV-1: one failure can be a passing outage (SEV-2: the
/// next cycle retries with risk controls intact), three hourly failures
/// mean nothing has traded or been watched for hours.
pub const FAILURES_FOR_SEV1: usize = 3;

/// The RUNBOOK.md section the watchdog's alerts point to.
pub const RUNBOOK_SECTION: &str = "Watchdog alerts";

/// Statuses of a cycle that did not finish its work.
fn failed_status(status: &str) -> bool {
    matches!(status, "error" | "aborted")
}

/// One run as the record's `history` keeps it.
fn history_entry(status: &str, mode: &str, now: DateTime<Utc>, run_id: &str, first_error: Option<&str>) -> Value {
    json!({
        "run_id": run_id,
        "mode": mode,
        "status": status,
        "at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "first_error": first_error.map(|e| e.chars().take(ERROR_LIMIT_CHARS).collect::<String>()),
    })
}

/// The record a cycle writes: `status` (`ok`, `attention`, `error`,
/// `aborted`: the report's status), `mode` (`dry_run`, `paper`, `live`),
/// `timestamp` (RFC 3339 UTC), `run_id`, `last_error` (the first error, or
/// for `attention` the first item prefixed `attention: `; null when none),
/// the program version and `history`: this run and the ones before it,
/// newest first, at most [`HISTORY_KEPT`].
pub fn heartbeat_record(
    status: &str,
    mode: &str,
    now: DateTime<Utc>,
    run_id: &str,
    last_error: Option<&str>,
    earlier: Option<&Value>,
) -> Value {
    let mut history = vec![history_entry(status, mode, now, run_id, last_error)];
    history.extend(earlier_history(earlier).into_iter().take(HISTORY_KEPT - 1));
    json!({
        "status": status,
        "mode": mode,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "run_id": run_id,
        "last_error": last_error.map(|e| e.chars().take(ERROR_LIMIT_CHARS).collect::<String>()),
        "version": env!("CARGO_PKG_VERSION"),
        "history": history,
    })
}

/// The runs an earlier record knows, newest first: its `history`, or for a
/// record written before there was one, the record itself.
fn earlier_history(earlier: Option<&Value>) -> Vec<Value> {
    let Some(record) = earlier.filter(|r| r.is_object()) else { return Vec::new() };
    if let Some(history) = record.get("history").and_then(Value::as_array) {
        return history.clone();
    }
    let text = |k: &str| record.get(k).and_then(Value::as_str);
    vec![json!({
        "run_id": text("run_id"),
        "mode": text("mode"),
        "status": text("status"),
        "at": text("timestamp"),
        "first_error": text("last_error").filter(|e| !e.trim().is_empty()),
    })]
}

/// Writes this cycle's record on top of the earlier one's history. The
/// caller decides what a failure means (a warning in the report: a
/// cycle's trades do not depend on it). An unreadable earlier record only
/// loses the history.
pub async fn write_cycle_heartbeat(
    store: &impl StateStore,
    service: &str,
    status: &str,
    mode: &str,
    now: DateTime<Utc>,
    run_id: &str,
    last_error: Option<&str>,
) -> Result<(), PortError> {
    let earlier = store.read_heartbeat(service).await.ok().flatten();
    let record = heartbeat_record(status, mode, now, run_id, last_error, earlier.as_ref());
    store.write_heartbeat(service, &record).await
}

/// The watchdog's verdict, the line it prints and the alert conditions it
/// observed (empty when healthy).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub ok: bool,
    pub line: String,
    pub conditions: Vec<Condition>,
}

fn stale(service: &str, reason: String) -> Condition {
    Condition {
        key: "heartbeat_stale".into(),
        severity: Severity::Sev1,
        scope: format!("service {service}"),
        reason,
        runbook: RUNBOOK_SECTION.into(),
    }
}

/// `cycle_failed` for a record whose newest run failed: SEV-1 once
/// [`FAILURES_FOR_SEV1`] runs in a row failed.
fn cycle_failed(record: &Value, service: &str) -> Option<Condition> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let status = text(record, "status");
    if !failed_status(&status) {
        return None;
    }
    let history = record.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
    let in_a_row = history.iter().take_while(|h| failed_status(&text(h, "status"))).count().max(1);
    let severity = if in_a_row >= FAILURES_FOR_SEV1 { Severity::Sev1 } else { Severity::Sev2 };
    let error = one_line(&text(record, "last_error"));
    let mode = record.get("mode").and_then(Value::as_str).unwrap_or("unknown");
    Some(Condition {
        key: "cycle_failed".into(),
        severity,
        scope: format!("service {service}"),
        reason: format!(
            "the last cycle (run {}, mode {mode}) ended {status} ({in_a_row} failed in a row): {}",
            text(record, "run_id"),
            if error.is_empty() { "no error recorded".to_string() } else { error }
        ),
        runbook: RUNBOOK_SECTION.into(),
    })
}

/// Fresh means `now − timestamp ≤ max_age` (a timestamp in the future,
/// clock skew, counts as age 0). Missing, unreadable or stale is a FAIL
/// (`heartbeat_stale`); so is a fresh record of a cycle that ended `error`
/// or `aborted` (`cycle_failed`). A record of any mode counts.
pub fn check(record: Option<&Value>, service: &str, now: DateTime<Utc>, max_age: Duration) -> Verdict {
    let max_secs = max_age.as_secs();
    let Some(record) = record else {
        let line = format!("FAIL missing heartbeat service={service} max_age_seconds={max_secs}");
        let reason = format!("no heartbeat record for service {service}");
        return Verdict { ok: false, line, conditions: vec![stale(service, reason)] };
    };
    let field = |k: &str| match record.get(k) {
        None | Some(Value::Null) => "none".to_string(),
        // `run` writes an empty last_error when there was none.
        Some(Value::String(s)) if s.trim().is_empty() => "none".to_string(),
        Some(Value::String(s)) => one_line(s),
        Some(v) => one_line(&v.to_string()),
    };
    let timestamp = record.get("timestamp").and_then(Value::as_str);
    let parsed = timestamp.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    let details = format!(
        "status={} timestamp={} run_id={} last_error={} max_age_seconds={max_secs}",
        field("status"),
        field("timestamp"),
        field("run_id"),
        field("last_error"),
    );
    let failed = cycle_failed(record, service);
    let Some(t) = parsed else {
        let reason = format!("the heartbeat record's timestamp is unreadable: {}", field("timestamp"));
        let conditions = std::iter::once(stale(service, reason)).chain(failed).collect();
        return Verdict { ok: false, line: format!("FAIL {details} (unreadable timestamp)"), conditions };
    };
    let age = (now - t).num_seconds().max(0);
    let fresh = age as u64 <= max_secs;
    let mut conditions = Vec::new();
    if !fresh {
        let reason = format!(
            "the newest heartbeat record (run {}, {}) is {age} s old, more than {max_secs} s",
            field("run_id"),
            field("timestamp")
        );
        conditions.push(stale(service, reason));
    }
    let suffix = if failed.is_some() { format!(" (last cycle {})", field("status")) } else { String::new() };
    conditions.extend(failed);
    let ok = conditions.is_empty();
    Verdict { ok, line: format!("{} {details} age_seconds={age}{suffix}", if ok { "OK" } else { "FAIL" }), conditions }
}

/// Reads the record through the store and checks it; a store that cannot
/// be read is a FAIL too (the watchdog exists for bad days).
pub async fn run(store: &impl StateStore, service: &str, now: DateTime<Utc>, max_age: Duration) -> Verdict {
    match store.read_heartbeat(service).await {
        Ok(record) => check(record.as_ref(), service, now, max_age),
        Err(e) => {
            let error = one_line(&e.to_string());
            Verdict {
                ok: false,
                line: format!(
                    "FAIL cannot read heartbeat service={service} max_age_seconds={}: {error}",
                    max_age.as_secs(),
                ),
                conditions: vec![stale(service, format!("the heartbeat record cannot be read: {error}"))],
            }
        }
    }
}

/// Record values on one line: the watchdog's output is grepped.
fn one_line(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    flat.chars().take(ERROR_LIMIT_CHARS).collect()
}

/// `4500`, `4500s`, `75m`, `1h15m`, `2h`, `1d`: a positive duration.
pub fn parse_max_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("expected seconds or a duration such as 4500, 75m or 1h15m, got '{s}'");
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return if secs > 0 { Ok(Duration::from_secs(secs)) } else { Err(bad()) };
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|x| total.checked_add(x)).ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// `tradecycle watchdog`: one line, OK or FAIL; exit 0 healthy, 1 not
/// (stale, missing, unreadable, or the last cycle failed), 2 on a
/// configuration error. Then the durable alerts move and Telegram hears
/// of each raise, reminder and clear.
pub async fn command(args: WatchdogArgs) -> u8 {
    let env = process_env();
    let max_age = match (&args.max_age, value(&env, "WATCHDOG_MAX_AGE_SECONDS")) {
        (Some(flag), _) => match parse_max_age(flag) {
            Ok(d) => d,
            Err(e) => return usage(format!("--max-age: {e}")),
        },
        (None, Some(v)) => match parse_max_age(v) {
            Ok(d) => d,
            Err(e) => return usage(format!("WATCHDOG_MAX_AGE_SECONDS: {e}")),
        },
        (None, None) => DEFAULT_MAX_AGE,
    };
    let alerting = match Alerting::from_env(&env) {
        Ok(a) => a,
        Err(e) => return usage(e),
    };
    let service = args.service.clone().unwrap_or_else(|| service_name(&env));
    let store = match open_store(args.store.as_deref(), &env).await {
        Ok(store) => store,
        Err(e) => return usage(e),
    };
    let now = args.now.unwrap_or_else(Utc::now);
    let verdict = run(&store, &service, now, max_age).await;
    println!("{}", verdict.line);
    for line in alerting.move_book(&store, &book_key("watchdog", &service), &verdict.conditions, now).await {
        eprintln!("{line}");
    }
    if verdict.ok { exit::OK } else { exit::ERROR }
}

/// How a watcher alerts: Telegram (if configured), its language and the
/// reminder interval.
pub(crate) struct Alerting {
    notifier: Option<crate::adapters::telegram::TelegramNotifier>,
    lang: crate::notify::event::Lang,
    remind: chrono::Duration,
}

impl Alerting {
    pub(crate) fn from_env(env: &Env) -> Result<Alerting, String> {
        let hours = int(env, "ALERT_REMIND_HOURS", 24).map_err(|e| e.0)?.max(1);
        Ok(Alerting {
            notifier: telegram_notifier(env)?,
            lang: lang(env).map_err(|e| e.0)?,
            remind: chrono::Duration::hours(hours),
        })
    }

    /// Loads the book under `key`, moves it by `observed`, notifies and
    /// saves; the log lines. A book that cannot be read is treated as
    /// empty, so the alert is sent (better twice than never on a day the
    /// store itself is failing).
    pub(crate) async fn move_book(
        &self,
        store: &impl StateStore,
        key: &str,
        observed: &[Condition],
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let mut log = Vec::new();
        let book = load_book(store, key).await.unwrap_or_else(|e| {
            log.push(format!("warning: {e}"));
            Default::default()
        });
        let text = |t: &crate::domain::alerts::Transition| message(t, self.lang);
        let (book, _, sent) = advance_and_notify(&book, observed, now, self.remind, self.notifier.as_ref(), text).await;
        log.extend(sent);
        if let Err(e) = save_book(store, key, &book, now).await {
            log.push(format!("warning: {e}"));
        }
        log
    }
}

/// The store named by `--store` or `TRADECYCLE_STORE` (no default: the
/// watchdog must read where the cycle writes).
pub(crate) async fn open_store(flag: Option<&str>, env: &Env) -> Result<AnyStore, String> {
    let spec = store_spec(flag, env).map_err(|e| e.0)?.ok_or_else(|| {
        "no state store configured: pass --store firestore or --store file:PATH (or set TRADECYCLE_STORE)".to_string()
    })?;
    Ok(match spec {
        StoreSpec::File(path) => AnyStore::File(FileStore::new(path)),
        StoreSpec::Firestore => {
            let settings = Settings::from_env(env).map_err(|e| e.0)?;
            let config = FirestoreConfig::from_env(env, &settings).map_err(|e| e.0)?;
            AnyStore::Firestore(Box::new(FirestoreStore::new(config)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::store::memory::MemoryStore;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn record(status: &str, t: &str) -> Value {
        heartbeat_record(status, "live", at(t), "run-7", None, None)
    }

    #[test]
    fn record_shape() {
        let r =
            heartbeat_record("error", "live", at("2026-03-15T10:17:00Z"), "gha-1-1", Some("state save failed"), None);
        assert_eq!(
            r,
            json!({"status": "error", "mode": "live", "timestamp": "2026-03-15T10:17:00Z", "run_id": "gha-1-1",
                   "last_error": "state save failed", "version": env!("CARGO_PKG_VERSION"),
                   "history": [{"run_id": "gha-1-1", "mode": "live", "status": "error",
                                "at": "2026-03-15T10:17:00Z", "first_error": "state save failed"}]})
        );
        assert_eq!(record("ok", "2026-03-15T10:17:00Z")["last_error"], Value::Null);
        let long = "e".repeat(2000);
        let r = heartbeat_record("error", "live", Utc::now(), "r", Some(&long), None);
        assert_eq!(r["last_error"].as_str().unwrap().len(), 500);
        assert_eq!(r["history"][0]["first_error"].as_str().unwrap().len(), 500);
    }

    #[test]
    fn history_keeps_the_last_ten_newest_first_and_adopts_an_old_record() {
        // A record written before there was a history becomes its first entry.
        let old = json!({"status": "ok", "timestamp": "2026-03-15T09:00:00Z", "run_id": "r0", "last_error": ""});
        let mut r = heartbeat_record("attention", "dry_run", at("2026-03-15T10:00:00Z"), "r1", None, Some(&old));
        assert_eq!(
            r["history"],
            json!([{"run_id": "r1", "mode": "dry_run", "status": "attention", "at": "2026-03-15T10:00:00Z", "first_error": null},
                   {"run_id": "r0", "mode": null, "status": "ok", "at": "2026-03-15T09:00:00Z", "first_error": null}])
        );
        for i in 2..=14 {
            r = heartbeat_record("ok", "live", at("2026-03-15T10:00:00Z"), &format!("r{i}"), None, Some(&r));
        }
        let ids: Vec<&str> = r["history"].as_array().unwrap().iter().map(|h| h["run_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["r14", "r13", "r12", "r11", "r10", "r9", "r8", "r7", "r6", "r5"]);
    }

    #[test]
    fn service_name_defaults() {
        assert_eq!(service_name(&Env::new()), "tradecycle");
        let env: Env = [("SERVICE_NAME".to_string(), " account-b ".to_string())].into();
        assert_eq!(service_name(&env), "account-b");
    }

    #[test]
    fn freshness_boundaries() {
        let now = at("2026-03-15T12:00:00Z");
        let max = Duration::from_secs(4500);
        let v = check(Some(&record("ok", "2026-03-15T10:45:00Z")), "tradecycle", now, max);
        assert_eq!(
            (v.ok, v.line.as_str(), v.conditions.len()),
            (
                true,
                "OK status=ok timestamp=2026-03-15T10:45:00Z run_id=run-7 last_error=none max_age_seconds=4500 age_seconds=4500",
                0
            )
        );
        let v = check(Some(&record("ok", "2026-03-15T10:44:59Z")), "tradecycle", now, max);
        assert_eq!(
            v.line,
            "FAIL status=ok timestamp=2026-03-15T10:44:59Z run_id=run-7 last_error=none max_age_seconds=4500 age_seconds=4501"
        );
        assert!(!v.ok);
        assert_eq!(
            v.conditions,
            [Condition {
                key: "heartbeat_stale".into(),
                severity: Severity::Sev1,
                scope: "service tradecycle".into(),
                reason: "the newest heartbeat record (run run-7, 2026-03-15T10:44:59Z) is 4501 s old, more than 4500 s"
                    .into(),
                runbook: "Watchdog alerts".into(),
            }]
        );
        // Clock skew: a record from the future is fresh.
        assert!(
            check(Some(&record("ok", "2026-03-15T12:05:00Z")), "tradecycle", now, max).line.ends_with("age_seconds=0")
        );
        let v = check(None, "acct-a", now, max);
        assert_eq!((v.ok, v.line.as_str()), (false, "FAIL missing heartbeat service=acct-a max_age_seconds=4500"));
        assert_eq!(v.conditions[0].reason, "no heartbeat record for service acct-a");
        let odd = json!({"status": "ok", "timestamp": "yesterday", "run_id": 5, "last_error": "a\nb"});
        let v = check(Some(&odd), "tradecycle", now, max);
        assert_eq!(
            (v.ok, v.line.as_str()),
            (
                false,
                "FAIL status=ok timestamp=yesterday run_id=5 last_error=a b max_age_seconds=4500 (unreadable timestamp)"
            )
        );
        assert_eq!(v.conditions[0].key, "heartbeat_stale");
    }

    #[test]
    fn a_fresh_record_of_a_failed_cycle_fails_and_three_in_a_row_are_sev1() {
        let now = at("2026-03-15T12:00:00Z");
        let max = DEFAULT_MAX_AGE;
        let t = at("2026-03-15T11:50:00Z");
        let first = heartbeat_record("aborted", "live", t, "r1", Some("preflight: key can withdraw"), None);
        let v = check(Some(&first), "acct", now, max);
        assert!(!v.ok);
        assert!(v.line.starts_with("FAIL status=aborted "), "{}", v.line);
        assert!(v.line.ends_with(" age_seconds=600 (last cycle aborted)"), "{}", v.line);
        assert_eq!(v.conditions.len(), 1);
        let c = &v.conditions[0];
        assert_eq!((c.key.as_str(), c.severity), ("cycle_failed", Severity::Sev2));
        assert_eq!(
            c.reason,
            "the last cycle (run r1, mode live) ended aborted (1 failed in a row): preflight: key can withdraw"
        );
        let second = heartbeat_record("error", "live", t, "r2", Some("state_save: conflict"), Some(&first));
        assert_eq!(check(Some(&second), "acct", now, max).conditions[0].severity, Severity::Sev2);
        let third = heartbeat_record("error", "live", t, "r3", None, Some(&second));
        let c = &check(Some(&third), "acct", now, max).conditions[0];
        assert_eq!(c.severity, Severity::Sev1);
        assert_eq!(c.reason, "the last cycle (run r3, mode live) ended error (3 failed in a row): no error recorded");
        // An ok run in between resets the count; attention is not a failure.
        let ok = heartbeat_record("attention", "live", t, "r4", None, Some(&third));
        assert!(check(Some(&ok), "acct", now, max).ok);
        let again = heartbeat_record("error", "live", t, "r5", None, Some(&ok));
        assert_eq!(check(Some(&again), "acct", now, max).conditions[0].severity, Severity::Sev2);
    }

    #[test]
    fn max_age_syntax() {
        assert_eq!(parse_max_age("4500"), Ok(Duration::from_secs(4500)));
        assert_eq!(parse_max_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_max_age("75m"), Ok(Duration::from_secs(4500)));
        assert_eq!(parse_max_age("1h15m"), Ok(Duration::from_secs(4500)));
        assert_eq!(parse_max_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_max_age("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "0", "0m", "-5", "5x", "h", "1h5", "1.5h"] {
            assert_eq!(
                parse_max_age(bad),
                Err(format!("expected seconds or a duration such as 4500, 75m or 1h15m, got '{bad}'")),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn written_record_is_what_the_watchdog_reads() {
        let store = MemoryStore::default();
        let now = at("2026-03-15T12:00:00Z");
        write_cycle_heartbeat(&store, "acct-a", "ok", "paper", now, "run-1", None).await.unwrap();
        let read = store.read_heartbeat("acct-a").await.unwrap();
        assert_eq!(read, Some(heartbeat_record("ok", "paper", now, "run-1", None, None)));
        assert_eq!(store.read_heartbeat("acct-b").await.unwrap(), None, "namespaced by service");
        assert!(check(read.as_ref(), "acct-a", now + chrono::Duration::minutes(10), DEFAULT_MAX_AGE).ok);
        // The next run's record carries this one in its history.
        write_cycle_heartbeat(&store, "acct-a", "error", "paper", now, "run-2", Some("x")).await.unwrap();
        let read = store.read_heartbeat("acct-a").await.unwrap().unwrap();
        assert_eq!(read["history"][1]["run_id"], "run-1");
    }
}
