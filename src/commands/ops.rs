//! The shell of the operations subcommands (`dispatch`, `heartbeat`,
//! `watchdog`, `summary`): read files and the environment, build the real
//! adapters (GitHub client, Telegram notifier, state store), call the
//! library functions, print, and turn the outcome into an exit code.

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::cli::{DispatchArgs, HeartbeatArgs, SummaryArgs, SummaryFormat, WatchdogArgs};
use crate::commands::{EXIT_USAGE, write_file};
use crate::config::{Env, Settings, process_env};
use crate::commands::dispatch::{self, DispatchConfig};
use crate::adapters::github::{GitHubClient, TokioPause};
use crate::commands::heartbeat::{self, HeartbeatConfig};
use crate::notify::event::Lang;
use crate::notify::messages::parse_lang;
use crate::adapters::telegram::{TelegramConfig, TelegramNotifier};
use crate::ports::SystemClock;
use crate::commands::run::AnyStore;
use crate::secret::Secret;
use crate::adapters::store::file::FileStore;
use crate::adapters::store::firestore::{FirestoreConfig, FirestoreStore};
use crate::adapters::store::select::StoreSpec;
use crate::summary;
use crate::commands::watchdog;

/// Where `dispatch` looks for its settings without `--env-file`.
pub const DEFAULT_DISPATCH_ENV: &str = ".config/tradecycle/dispatch.env";

fn usage(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

/// A log line for cron's log file: UTC time first.
fn log_line(line: String) {
    eprintln!("{} {line}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
}

fn lang_of(env: &Env) -> Result<Lang, String> {
    match env.get("NOTIFY_LANG").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(Lang::En),
        Some(v) => parse_lang(v).map_err(|e| format!("NOTIFY_LANG: {e}")),
    }
}

/// The Telegram notifier when `TG_TOKEN` and the chat are set, `None` when
/// neither is; half a configuration is an error.
fn telegram(env: &Env) -> Result<Option<TelegramNotifier>, String> {
    match TelegramConfig::from_env(env).map_err(|e| e.0)? {
        None => Ok(None),
        Some(cfg) => TelegramNotifier::new(&cfg).map(Some).map_err(|e| e.to_string()),
    }
}

pub async fn dispatch_command(args: DispatchArgs) -> u8 {
    let (path, explicit) = match args.env_file {
        Some(p) => (p, true),
        None => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => (PathBuf::from(home).join(DEFAULT_DISPATCH_ENV), false),
            None => return usage("HOME is not set: pass --env-file"),
        },
    };
    // The default file may be absent when the environment carries the
    // settings (a container); a file asked for by name must exist.
    let unreadable = |e: &std::io::Error| format!("cannot read the dispatch env file {}: {e}", path.display());
    let (text, missing) = match std::fs::read_to_string(&path) {
        Ok(t) => (t, None),
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => (String::new(), Some(unreadable(&e))),
        Err(e) => return usage(unreadable(&e)),
    };
    if !text.is_empty() {
        warn_if_readable_by_others(&path);
    }
    let file = match dispatch::parse_env_file(&text) {
        Ok(env) => env,
        Err(e) => return usage(format!("{}: {e}", path.display())),
    };
    let (mut env, from_process) = dispatch::overlay_process_env(file, process_env());
    if args.validate_only {
        env.insert("VALIDATE_ONLY".into(), "true".into());
    }
    if args.live {
        env.insert("LIVE".into(), "true".into());
    }
    let cfg = match (DispatchConfig::from_env(&env), missing) {
        (Ok(c), _) => c,
        (Err(_), Some(missing)) => {
            return usage(format!("{missing} (or set GITHUB_TOKEN, REPO, WORKFLOW and REF in the environment)"));
        }
        (Err(e), None) => return usage(format!("{}: {e}", path.display())),
    };
    let lang = match lang_of(&env) {
        Ok(l) => l,
        Err(e) => return usage(format!("{}: {e}", path.display())),
    };
    let notifier = match telegram(&env) {
        Ok(n) => n,
        Err(e) => return usage(format!("{}: {e}", path.display())),
    };
    if args.check {
        println!("env file: {}", path.display());
        if !from_process.is_empty() {
            println!("from the process environment (wins over the file): {}", from_process.join(", "));
        }
        println!("repo: {}", cfg.repo);
        println!("workflow: {}", cfg.workflow);
        println!("ref: {}", cfg.git_ref);
        println!("inputs: {}", cfg.body()["inputs"]);
        println!("attempts: {}, retry base: {}s", cfg.max_attempts, cfg.retry_base.as_secs());
        println!("api: {}", cfg.api_url);
        println!("token: set (not shown)");
        println!("failure alert: {}", if notifier.is_some() { "telegram" } else { "none (telegram not configured)" });
        return 0;
    }
    let client = match GitHubClient::new(
        &cfg.api_url,
        cfg.token.clone(),
        dispatch::CONNECT_TIMEOUT,
        dispatch::REQUEST_TIMEOUT,
    ) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let host = dispatch::host_name();
    dispatch::run(&cfg, &client, &TokioPause, notifier.as_ref(), lang, &host, &SystemClock, &mut log_line).await
}

/// The env file holds a token: say so when others can read it.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {} is readable by other users (mode {:o}); it holds a token: chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
}

pub async fn heartbeat_command(args: HeartbeatArgs) -> u8 {
    let env = process_env();
    let mut cfg = match HeartbeatConfig::from_env(&env) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    if let Some(h) = &args.lookback_hours {
        match h.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => cfg.settings.lookback_hours = x,
            _ => return usage(format!("--lookback-hours: expected a positive number, got '{h}'")),
        }
    }
    if args.no_fail {
        cfg.fail_on_alert = false;
    }
    let Some(token) = env.get("GITHUB_TOKEN").map(|t| t.trim()).filter(|t| !t.is_empty()) else {
        return usage("GITHUB_TOKEN: not set");
    };
    let lang = match lang_of(&env) {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let notifier = match telegram(&env) {
        Ok(n) => n,
        Err(e) => return usage(e),
    };
    let client =
        match GitHubClient::new(&cfg.api_url, Secret::new(token), heartbeat::READ_TIMEOUT, heartbeat::READ_TIMEOUT) {
            Ok(c) => c,
            Err(e) => return usage(e),
        };
    let (assessment, code) = heartbeat::run(
        &cfg,
        &client,
        &TokioPause,
        notifier.as_ref(),
        lang,
        Utc::now(),
        &mut |line| println!("{line}"),
        &mut |line| eprintln!("{line}"),
    )
    .await;
    if let Some(path) = &args.output {
        let json = serde_json::to_string_pretty(&assessment).unwrap_or_default();
        if let Err(e) = write_file(path, &json) {
            eprintln!("error: cannot write the assessment to {}: {e}", path.display());
            return 1;
        }
    }
    code
}

pub async fn watchdog_command(args: WatchdogArgs) -> u8 {
    let env = process_env();
    let max_age = match (&args.max_age, env.get("WATCHDOG_MAX_AGE_SECONDS").map(|v| v.trim()).filter(|v| !v.is_empty()))
    {
        (Some(flag), _) => match watchdog::parse_max_age(flag) {
            Ok(d) => d,
            Err(e) => return usage(format!("--max-age: {e}")),
        },
        (None, Some(v)) => match watchdog::parse_max_age(v) {
            Ok(d) => d,
            Err(e) => return usage(format!("WATCHDOG_MAX_AGE_SECONDS: {e}")),
        },
        (None, None) => watchdog::DEFAULT_MAX_AGE,
    };
    let service = args.service.clone().unwrap_or_else(|| watchdog::service_name(&env));
    let verdict = match open_store(args.store.as_deref(), &env).await {
        Ok(store) => watchdog::run(&store, &service, Utc::now(), max_age).await,
        Err(e) => return usage(e),
    };
    println!("{}", verdict.line);
    if verdict.ok { 0 } else { 1 }
}

/// The store named by `--store` or `TRADECYCLE_STORE` (no default: the
/// watchdog must read where the cycle writes).
async fn open_store(flag: Option<&str>, env: &Env) -> Result<AnyStore, String> {
    let spec = StoreSpec::resolve(flag, env).map_err(|e| e.0)?.ok_or_else(|| {
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

pub fn summary_command(args: SummaryArgs) -> u8 {
    let text = match std::fs::read_to_string(&args.report) {
        Ok(t) => t,
        Err(e) => return usage(format!("cannot read the report {}: {e}", args.report.display())),
    };
    let report: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return usage(format!("{} is not JSON: {e}", args.report.display())),
    };
    if let Err(e) = summary::check_schema(&report) {
        return usage(format!("{}: {e}", args.report.display()));
    }
    match args.format {
        SummaryFormat::Markdown => print!("{}", summary::markdown(&report)),
        SummaryFormat::Annotations => {
            for line in summary::annotations(&report) {
                println!("{line}");
            }
        }
    }
    0
}
