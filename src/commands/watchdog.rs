//! The cycle's own liveness record and the watchdog that checks it. Every
//! cycle ends by writing a small record (status, time, run id, last error)
//! to the state store under its service name; `tradecycle watchdog` reads it
//! and fails when it is missing or older than the allowed age — the check
//! that still works when GitHub, cron or the runner is what broke.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::adapters::store::file::FileStore;
use crate::adapters::store::firestore::{FirestoreConfig, FirestoreStore};
use crate::adapters::store::select::StoreSpec;
use crate::cli::WatchdogArgs;
use crate::commands::run::AnyStore;
use crate::commands::{exit, usage};
use crate::config::env::value;
use crate::config::run_config::store_spec;
use crate::config::{Env, Settings, process_env};
use crate::ports::{PortError, StateStore};

/// The watchdog's own variable (`SERVICE_NAME` is `run`'s).
pub use crate::config::variables::WATCHDOG as VARIABLES;

pub use crate::config::run_config::{DEFAULT_SERVICE, service_name};

/// `--max-age` / `WATCHDOG_MAX_AGE_SECONDS` when unset: an hourly cycle
/// plus a quarter of an hour of slack (the reference's 4500 s).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(4500);

/// Longest `last_error` kept in the record and printed.
const ERROR_LIMIT_CHARS: usize = 500;

/// The record a cycle writes: `status` (`ok`, `attention`, `error`,
/// `aborted`: the report's status), `timestamp` (RFC 3339 UTC), `run_id`,
/// `last_error` (the first error, or for `attention` the first item
/// prefixed `attention: `; null when none) and the program version. The
/// watchdog judges freshness only: a finished cycle of any status is alive.
pub fn heartbeat_record(status: &str, now: DateTime<Utc>, run_id: &str, last_error: Option<&str>) -> Value {
    json!({
        "status": status,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "run_id": run_id,
        "last_error": last_error.map(|e| e.chars().take(ERROR_LIMIT_CHARS).collect::<String>()),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Writes this cycle's record. The caller decides what a failure means
/// (a warning in the report: a cycle's trades do not depend on it).
pub async fn write_cycle_heartbeat(
    store: &impl StateStore,
    service: &str,
    status: &str,
    now: DateTime<Utc>,
    run_id: &str,
    last_error: Option<&str>,
) -> Result<(), PortError> {
    store.write_heartbeat(service, &heartbeat_record(status, now, run_id, last_error)).await
}

/// The watchdog's verdict and the line it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    pub line: String,
}

/// Fresh means `now − timestamp ≤ max_age` (a timestamp in the future,
/// clock skew, counts as age 0). Missing, unreadable or stale is a FAIL.
pub fn check(record: Option<&Value>, service: &str, now: DateTime<Utc>, max_age: Duration) -> Verdict {
    let max_secs = max_age.as_secs();
    let Some(record) = record else {
        return Verdict {
            ok: false,
            line: format!("FAIL missing heartbeat service={service} max_age_seconds={max_secs}"),
        };
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
    match parsed {
        None => Verdict { ok: false, line: format!("FAIL {details} (unreadable timestamp)") },
        Some(t) => {
            let age = (now - t).num_seconds().max(0);
            let ok = age as u64 <= max_secs;
            Verdict { ok, line: format!("{} {details} age_seconds={age}", if ok { "OK" } else { "FAIL" }) }
        }
    }
}

/// Reads the record through the store and checks it; a store that cannot
/// be read is a FAIL too (the watchdog exists for bad days).
pub async fn run(store: &impl StateStore, service: &str, now: DateTime<Utc>, max_age: Duration) -> Verdict {
    match store.read_heartbeat(service).await {
        Ok(record) => check(record.as_ref(), service, now, max_age),
        Err(e) => Verdict {
            ok: false,
            line: format!(
                "FAIL cannot read heartbeat service={service} max_age_seconds={}: {}",
                max_age.as_secs(),
                one_line(&e.to_string())
            ),
        },
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

/// `tradecycle watchdog`: one line, OK or FAIL; exit 0 fresh, 1 not.
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
    let service = args.service.clone().unwrap_or_else(|| service_name(&env));
    let verdict = match open_store(args.store.as_deref(), &env).await {
        Ok(store) => run(&store, &service, Utc::now(), max_age).await,
        Err(e) => return usage(e),
    };
    println!("{}", verdict.line);
    if verdict.ok { exit::OK } else { exit::ERROR }
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

    #[test]
    fn record_shape() {
        let r = heartbeat_record("error", at("2026-03-15T10:17:00Z"), "gha-1-1", Some("state save failed"));
        assert_eq!(
            r,
            json!({"status": "error", "timestamp": "2026-03-15T10:17:00Z", "run_id": "gha-1-1",
                   "last_error": "state save failed", "version": env!("CARGO_PKG_VERSION")})
        );
        assert_eq!(heartbeat_record("ok", at("2026-03-15T10:17:00Z"), "r", None)["last_error"], Value::Null);
        let long = "e".repeat(2000);
        assert_eq!(heartbeat_record("error", Utc::now(), "r", Some(&long))["last_error"].as_str().unwrap().len(), 500);
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
        let rec = |t: &str| heartbeat_record("ok", at(t), "run-7", None);
        let v = check(Some(&rec("2026-03-15T10:45:00Z")), "tradecycle", now, max);
        assert_eq!(
            v,
            Verdict {
                ok: true,
                line: "OK status=ok timestamp=2026-03-15T10:45:00Z run_id=run-7 last_error=none max_age_seconds=4500 age_seconds=4500".into()
            }
        );
        let v = check(Some(&rec("2026-03-15T10:44:59Z")), "tradecycle", now, max);
        assert_eq!(
            v.line,
            "FAIL status=ok timestamp=2026-03-15T10:44:59Z run_id=run-7 last_error=none max_age_seconds=4500 age_seconds=4501"
        );
        assert!(!v.ok);
        // Clock skew: a record from the future is fresh.
        assert!(check(Some(&rec("2026-03-15T12:05:00Z")), "tradecycle", now, max).line.ends_with("age_seconds=0"));
        assert_eq!(
            check(None, "acct-a", now, max),
            Verdict { ok: false, line: "FAIL missing heartbeat service=acct-a max_age_seconds=4500".into() }
        );
        let odd = json!({"status": "ok", "timestamp": "yesterday", "run_id": 5, "last_error": "a\nb"});
        assert_eq!(
            check(Some(&odd), "tradecycle", now, max),
            Verdict {
                ok: false,
                line: "FAIL status=ok timestamp=yesterday run_id=5 last_error=a b max_age_seconds=4500 (unreadable timestamp)"
                    .into()
            }
        );
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
        write_cycle_heartbeat(&store, "acct-a", "ok", now, "run-1", None).await.unwrap();
        let read = store.read_heartbeat("acct-a").await.unwrap();
        assert_eq!(read, Some(heartbeat_record("ok", now, "run-1", None)));
        assert_eq!(store.read_heartbeat("acct-b").await.unwrap(), None, "namespaced by service");
        assert!(check(read.as_ref(), "acct-a", now + chrono::Duration::minutes(10), DEFAULT_MAX_AGE).ok);
    }
}
