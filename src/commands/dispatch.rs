//! The cron side of the trigger model: fire the cycle workflow through
//! GitHub's `workflow_dispatch` API with bounded retries of transient
//! failures only, and alert once when it finally fails (behaviour.md §10.2).
//!
//! Configuration comes from an env file (`KEY=VALUE` lines, as the VPS
//! installer writes them) so cron needs no environment of its own. The
//! retry policy is pure data here; [`command`] supplies the
//! HTTP client, the waiting and the notifier.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use std::path::{Path, PathBuf};

use crate::adapters::github::TokioPause;
use crate::adapters::github::{
    Answer, DEFAULT_API_URL, GitHubClient, Pause, RESPONSE_EXCERPT_BYTES, excerpt, valid_repo,
};
use crate::cli::DispatchArgs;
use crate::commands::{exit, telegram_notifier, usage};
use crate::config::env::value;
use crate::config::settings::lang;
use crate::config::{ConfigError, Env, process_env};
use crate::notify::event::Lang;
use crate::notify::messages::prefix;
use crate::ports::SystemClock;
use crate::ports::{Clock, Notifier};
use crate::secret::Secret;

/// `DISPATCH_MAX_ATTEMPTS` when unset.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
/// `DISPATCH_RETRY_BASE_SECONDS` when unset: waits of 15 s, 30 s, 45 s.
pub const DEFAULT_RETRY_BASE_SECONDS: u64 = 15;
/// Connection and whole-request deadlines of one attempt (the reference's curl flags).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The variables `dispatch` reads (its section of the one table).
pub use crate::config::variables::DISPATCH as VARIABLES;

/// Workflow inputs the env file (or a flag) may set, by env-file key.
const INPUTS: &[(&str, &str)] = &[("VALIDATE_ONLY", "validate_only"), ("LIVE", "live")];

/// Everything one dispatch needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchConfig {
    pub token: Secret,
    /// `owner/name`.
    pub repo: String,
    /// Workflow file name (`cycle.yml`) or id.
    pub workflow: String,
    /// Branch or tag the workflow runs on.
    pub git_ref: String,
    /// Workflow inputs to send; absent ones take the workflow's defaults.
    pub inputs: BTreeMap<String, bool>,
    pub max_attempts: u32,
    /// The wait before attempt k+1 is `retry_base · k`.
    pub retry_base: Duration,
    pub api_url: String,
}

impl DispatchConfig {
    /// Reads the settings from an env file's variables. Every missing
    /// required variable is named; values are never quoted back (the token
    /// is one of them).
    pub fn from_env(env: &Env) -> Result<DispatchConfig, ConfigError> {
        let get = |k: &str| value(env, k);
        let missing: Vec<&str> =
            ["GITHUB_TOKEN", "REPO", "WORKFLOW", "REF"].into_iter().filter(|k| get(k).is_none()).collect();
        if !missing.is_empty() {
            return Err(ConfigError(missing.iter().map(|k| format!("{k}: not set")).collect::<Vec<_>>().join("; ")));
        }
        let (token, repo, workflow, git_ref) = (
            get("GITHUB_TOKEN").unwrap_or_default(),
            get("REPO").unwrap_or_default(),
            get("WORKFLOW").unwrap_or_default(),
            get("REF").unwrap_or_default(),
        );
        if !valid_repo(repo) {
            return Err(ConfigError(format!("REPO: expected owner/name, got '{repo}'")));
        }
        if !crate::adapters::github::valid_segment(workflow) {
            return Err(ConfigError(format!(
                "WORKFLOW: expected a workflow file name such as cycle.yml, got '{workflow}'"
            )));
        }
        if git_ref.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError(format!("REF: expected a branch or tag name, got '{git_ref}'")));
        }
        let max_attempts = match get("DISPATCH_MAX_ATTEMPTS") {
            None => DEFAULT_MAX_ATTEMPTS,
            Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0 && !v.starts_with(['0', '+'])).ok_or_else(|| {
                ConfigError(format!("DISPATCH_MAX_ATTEMPTS: expected a positive whole number, got '{v}'"))
            })?,
        };
        let retry_base = match get("DISPATCH_RETRY_BASE_SECONDS") {
            None => DEFAULT_RETRY_BASE_SECONDS,
            Some(v) => v.parse::<u64>().ok().filter(|_| !v.starts_with('+')).ok_or_else(|| {
                ConfigError(format!("DISPATCH_RETRY_BASE_SECONDS: expected a non-negative whole number, got '{v}'"))
            })?,
        };
        let api_url = get("GITHUB_API_URL").unwrap_or(DEFAULT_API_URL).trim_end_matches('/').to_string();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(ConfigError(format!("GITHUB_API_URL: expected an http(s) URL, got '{api_url}'")));
        }
        let mut inputs = BTreeMap::new();
        for (key, input) in INPUTS {
            if get(key).is_some() {
                inputs.insert(input.to_string(), crate::config::env::boolean(env, key, false)?);
            }
        }
        Ok(DispatchConfig {
            token: Secret::new(token),
            repo: repo.to_string(),
            workflow: workflow.to_string(),
            git_ref: git_ref.to_string(),
            inputs,
            max_attempts,
            retry_base: Duration::from_secs(retry_base),
            api_url,
        })
    }

    /// The request body: `{"ref": ..., "inputs": {...}}`, inputs as the
    /// strings `"true"`/`"false"` (what the Actions UI sends for booleans).
    pub fn body(&self) -> Value {
        let inputs: serde_json::Map<String, Value> =
            self.inputs.iter().map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect();
        json!({"ref": self.git_ref, "inputs": inputs})
    }

    /// The wait after failed attempt `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        self.retry_base.saturating_mul(attempt)
    }
}

/// The env file's variables with the process environment's on top: a
/// variable set in the process wins, as dotenv tools do, so one run can
/// override the file (`LIVE=false tradecycle dispatch`). An empty process
/// variable counts as unset and leaves the file's value. Returns the merged
/// variables and the names of the settings `dispatch` reads that came from
/// the process (values are never returned separately: one is the token).
pub fn overlay_process_env(file: Env, process: Env) -> (Env, Vec<String>) {
    let mut merged = file;
    let mut from_process = Vec::new();
    for (key, value) in process.into_iter().filter(|(_, v)| !v.trim().is_empty()) {
        if reads(&key) {
            from_process.push(key.clone());
        }
        merged.insert(key, value);
    }
    (merged, from_process)
}

/// Whether `dispatch` reads `key` (its own settings and the alert's).
fn reads(key: &str) -> bool {
    VARIABLES.iter().any(|v| v.name == key && key != "TRADECYCLE_DISPATCH_ENV")
        || ["TG_TOKEN", "TG_CHAT_ID", "GLOBAL_TELEGRAM_CHAT_ID", "NOTIFY_LANG"].contains(&key)
        || key.starts_with("TELEGRAM_")
}

/// Parses an env file: `KEY=VALUE` lines, an optional `export ` prefix,
/// values bare, `'single'` (literal) or `"double"` quoted (with `\"`, `\\`,
/// `\$` and `` \` `` escapes), blank lines and `#` comments. A later line
/// wins, as when the shell sources the file. Errors name the line but never
/// quote it: it may hold the token.
pub fn parse_env_file(text: &str) -> Result<Env, ConfigError> {
    let mut env = Env::new();
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((key, value)) = line.split_once('=') else {
            return Err(ConfigError(format!("line {n}: expected KEY=VALUE")));
        };
        let key = key.trim_end();
        let valid_key = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(ConfigError(format!("line {n}: expected KEY=VALUE with a variable name as KEY")));
        }
        let value = parse_value(value.trim_start()).map_err(|e| ConfigError(format!("line {n} ({key}): {e}")))?;
        env.insert(key.to_string(), value);
    }
    Ok(env)
}

fn parse_value(v: &str) -> Result<String, &'static str> {
    let (value, rest) = if let Some(body) = v.strip_prefix('\'') {
        let end = body.find('\'').ok_or("unterminated single quote")?;
        (body[..end].to_string(), &body[end + 1..])
    } else if let Some(body) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i);
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\' | '$' | '`'))) => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => return Err("unterminated double quote"),
                },
                c => out.push(c),
            }
        }
        let end = end.ok_or("unterminated double quote")?;
        (out, &body[end + 1..])
    } else {
        // A bare value ends at a ` #` comment, as in the shell.
        let bare = match v.find(" #").or_else(|| v.find("\t#")) {
            Some(i) => &v[..i],
            None => v,
        };
        return Ok(bare.trim_end().to_string());
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') { Ok(value) } else { Err("unexpected text after the closing quote") }
}

/// How one attempt's answer is treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Dispatched,
    /// Worth another attempt: network error, 500/502/503/504.
    Transient(String),
    /// Retrying cannot help (401/403/404/422, any other 4xx, unexpected
    /// statuses): fail at once.
    Permanent(String),
}

pub fn classify(answer: &Answer) -> Verdict {
    match answer {
        Answer::Status { code: 204, .. } => Verdict::Dispatched,
        Answer::Status { code: code @ (500 | 502 | 503 | 504), .. } => Verdict::Transient(format!("HTTP {code}")),
        Answer::Status { code: code @ 400..=499, .. } => {
            Verdict::Permanent(format!("HTTP {code}: configuration or permission error, not retried"))
        }
        // A 2xx other than 204 may or may not have queued a run: never retried.
        Answer::Status { code, .. } => Verdict::Permanent(format!("HTTP {code}: unexpected answer, not retried")),
        Answer::Network(e) => Verdict::Transient(format!("network error: {e}")),
    }
}

/// How the whole dispatch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchOutcome {
    Dispatched {
        attempts: u32,
    },
    Failed {
        attempts: u32,
        reason: String,
        /// The last answer's body (or network error), at most 800 bytes.
        response: String,
    },
}

/// Fires the workflow, retrying transient failures with waits of
/// `base · k` after attempt k. Progress lines go to `log` as they happen
/// (cron appends them to its log file). The token never appears in them.
pub async fn dispatch(
    cfg: &DispatchConfig,
    client: &GitHubClient,
    pause: &impl Pause,
    log: &mut dyn FnMut(String),
) -> DispatchOutcome {
    let body = cfg.body();
    let n = cfg.max_attempts;
    let target = format!("repo={} workflow={} ref={}", cfg.repo, cfg.workflow, cfg.git_ref);
    let mut attempt = 1;
    loop {
        let answer = client.dispatch(&cfg.repo, &cfg.workflow, &body).await;
        let response = match &answer {
            Answer::Status { body, .. } => excerpt(body, RESPONSE_EXCERPT_BYTES),
            Answer::Network(e) => excerpt(e, RESPONSE_EXCERPT_BYTES),
        };
        match classify(&answer) {
            Verdict::Dispatched => {
                log(format!("dispatched {target} attempt={attempt}/{n}"));
                return DispatchOutcome::Dispatched { attempts: attempt };
            }
            Verdict::Permanent(reason) => {
                log(format!("dispatch failed {target} attempt={attempt}/{n}: {reason}"));
                return DispatchOutcome::Failed { attempts: attempt, reason, response };
            }
            Verdict::Transient(reason) if attempt >= n => {
                let reason = format!("{reason}, still failing after {attempt} attempts");
                log(format!("dispatch failed {target} attempt={attempt}/{n}: {reason}"));
                return DispatchOutcome::Failed { attempts: attempt, reason, response };
            }
            Verdict::Transient(reason) => {
                let delay = cfg.delay_after(attempt);
                log(format!(
                    "dispatch attempt={attempt}/{n} failed {target}: {reason}; retrying in {}s",
                    delay.as_secs()
                ));
                pause.pause(delay).await;
                attempt += 1;
            }
        }
    }
}

/// The whole command after configuration: dispatch, and on final failure
/// one alert through `notifier` (none configured: only logged). An alert
/// that cannot be delivered is logged and changes nothing else. Returns the
/// exit code: 0 dispatched, 1 failed.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    cfg: &DispatchConfig,
    client: &GitHubClient,
    pause: &impl Pause,
    notifier: Option<&impl Notifier>,
    lang: Lang,
    host: &str,
    clock: &impl Clock,
    log: &mut dyn FnMut(String),
) -> u8 {
    let (attempts, reason, response) = match dispatch(cfg, client, pause, log).await {
        DispatchOutcome::Dispatched { .. } => return exit::OK,
        DispatchOutcome::Failed { attempts, reason, response } => (attempts, reason, response),
    };
    let text = alert_text(cfg, host, clock.now(), attempts, &reason, &response, lang);
    match notifier {
        None => log("telegram not configured (TG_TOKEN, GLOBAL_TELEGRAM_CHAT_ID): alert not sent".into()),
        Some(n) => match n.send(&text).await {
            Ok(()) => log("alert sent".into()),
            Err(e) => log(format!("warning: alert not delivered: {}", cfg.token.redact(&e.to_string()))),
        },
    }
    exit::ERROR
}

/// The one Telegram alert of a failed dispatch: title, host, repo,
/// workflow, ref, UTC time, reason, attempts and the response excerpt.
pub fn alert_text(
    cfg: &DispatchConfig,
    host: &str,
    now: DateTime<Utc>,
    attempts: u32,
    reason: &str,
    response: &str,
    lang: Lang,
) -> String {
    let zh = lang == Lang::Zh;
    let pick = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let response = if response.trim().is_empty() { "(empty)".to_string() } else { cfg.token.redact(response) };
    let lines = [
        pick("🚨 [Dispatch Failed] the cycle workflow was not started", "🚨 [调度失败] 交易周期工作流未能启动")
            .to_string(),
        format!("{}: {host}", pick("Host", "主机")),
        format!("{}: {}", pick("Repo", "仓库"), cfg.repo),
        format!("{}: {}", pick("Workflow", "工作流"), cfg.workflow),
        format!("{}: {}", pick("Ref", "分支"), cfg.git_ref),
        format!("{}: {}", pick("Time (UTC)", "时间 (UTC)"), now.format("%Y-%m-%d %H:%M:%S")),
        format!("{}: {}", pick("Reason", "原因"), cfg.token.redact(reason)),
        format!("{}: {attempts}/{}", pick("Attempts", "尝试次数"), cfg.max_attempts),
        format!("{}: {response}", pick("Response", "响应")),
    ];
    format!("{}:\n{}", prefix(lang), lines.join("\n"))
}

/// This machine's name for the alert (`/proc`, then `HOSTNAME`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Where `dispatch` looks for its settings without `--env-file`.
pub const DEFAULT_DISPATCH_ENV: &str = ".config/tradecycle/dispatch.env";

/// A log line for cron's log file: UTC time first.
fn log_line(line: String) {
    eprintln!("{} {line}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
}

/// `tradecycle dispatch`: reads the env file (the process environment wins),
/// then fires the workflow, or with `--check` prints the settings.
pub async fn command(args: DispatchArgs) -> u8 {
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
    let file = match parse_env_file(&text) {
        Ok(env) => env,
        Err(e) => return usage(format!("{}: {e}", path.display())),
    };
    let (mut env, from_process) = overlay_process_env(file, process_env());
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
    let lang = match lang(&env) {
        Ok(l) => l,
        Err(e) => return usage(format!("{}: {e}", path.display())),
    };
    let notifier = match telegram_notifier(&env) {
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
        return exit::OK;
    }
    let client = match GitHubClient::new(&cfg.api_url, cfg.token.clone(), CONNECT_TIMEOUT, REQUEST_TIMEOUT) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let host = host_name();
    run(&cfg, &client, &TokioPause, notifier.as_ref(), lang, &host, &SystemClock, &mut log_line).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const BASE: &[(&str, &str)] =
        &[("GITHUB_TOKEN", "ghp_secret_value"), ("REPO", "owner/repo"), ("WORKFLOW", "cycle.yml"), ("REF", "main")];

    /// `{:?}` of the settings (as a stray `tracing::debug!(?config)` would)
    /// shows no credential; config's redaction test covers the rest.
    #[test]
    fn debug_of_the_config_shows_no_secret() {
        use crate::config::redaction::{assert_no_secret_in, env_with_every_secret};
        assert_no_secret_in(&[format!("{:?}", DispatchConfig::from_env(&env_with_every_secret()).unwrap())]);
    }

    #[test]
    fn env_file_syntax() {
        let text = "# dispatch settings\n\
                    \n\
                    GITHUB_TOKEN=ghp_abc\n\
                    export REPO='owner/repo'\n\
                    export\tWORKFLOW=\"cycle.yml\"  # the workflow\n\
                    REF = main # trailing comment\n\
                    QUOTED=\"a \\\"b\\\" \\$HOME \\n\"\n\
                    SINGLE='it has # and \"'\n\
                    EMPTY=\n\
                    REF=release\n\
                    exported=1\n";
        let env = parse_env_file(text).unwrap();
        assert_eq!(env["GITHUB_TOKEN"], "ghp_abc");
        assert_eq!(env["REPO"], "owner/repo");
        assert_eq!(env["WORKFLOW"], "cycle.yml");
        assert_eq!(env["REF"], "release", "a later line wins");
        assert_eq!(env["QUOTED"], "a \"b\" $HOME \\n");
        assert_eq!(env["SINGLE"], "it has # and \"");
        assert_eq!(env["EMPTY"], "");
        assert_eq!(env["exported"], "1");
        assert_eq!(env.len(), 8);
    }

    #[test]
    fn env_file_errors_name_the_line_not_the_value() {
        let err = |t: &str| parse_env_file(t).unwrap_err().0;
        assert_eq!(err("A=1\nGITHUB_TOKEN='ghp_secret\n"), "line 2 (GITHUB_TOKEN): unterminated single quote");
        assert_eq!(err("GITHUB_TOKEN=\"ghp_secret\n"), "line 1 (GITHUB_TOKEN): unterminated double quote");
        assert_eq!(err("TOKEN='a'b\n"), "line 1 (TOKEN): unexpected text after the closing quote");
        assert_eq!(err("ghp_secret\n"), "line 1: expected KEY=VALUE");
        assert_eq!(err("1A=x\n"), "line 1: expected KEY=VALUE with a variable name as KEY");
        assert_eq!(err("A B=x\n"), "line 1: expected KEY=VALUE with a variable name as KEY");
    }

    #[test]
    fn config_defaults_and_inputs() {
        let cfg = DispatchConfig::from_env(&env(BASE)).unwrap();
        assert_eq!(cfg.max_attempts, 4);
        assert_eq!(cfg.retry_base, Duration::from_secs(15));
        assert_eq!(cfg.api_url, "https://api.github.com");
        assert_eq!(cfg.body(), json!({"ref": "main", "inputs": {}}));
        assert_eq!(
            [1, 2, 3].map(|k| cfg.delay_after(k).as_secs()),
            [15, 30, 45],
            "the wait before attempt k+1 is base·k"
        );
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("VALIDATE_ONLY", "yes"),
            ("LIVE", "false"),
            ("DISPATCH_MAX_ATTEMPTS", "2"),
            ("DISPATCH_RETRY_BASE_SECONDS", "0"),
            ("GITHUB_API_URL", "http://127.0.0.1:9/"),
        ]);
        let cfg = DispatchConfig::from_env(&env(&pairs)).unwrap();
        assert_eq!(cfg.body(), json!({"ref": "main", "inputs": {"live": "false", "validate_only": "true"}}));
        assert_eq!(cfg.max_attempts, 2);
        assert_eq!(cfg.retry_base, Duration::ZERO);
        assert_eq!(cfg.api_url, "http://127.0.0.1:9");
        assert_eq!(format!("{cfg:?}").matches("ghp_secret_value").count(), 0, "Debug never shows the token");
    }

    #[test]
    fn config_errors_name_the_variable() {
        let err = |extra: &[(&str, &str)], drop: &[&str]| {
            let mut e = env(BASE);
            for k in drop {
                e.remove(*k);
            }
            e.extend(env(extra));
            DispatchConfig::from_env(&e).unwrap_err().0
        };
        assert_eq!(err(&[], &["GITHUB_TOKEN"]), "GITHUB_TOKEN: not set");
        assert_eq!(err(&[("REF", " ")], &["REPO"]), "REPO: not set; REF: not set");
        assert_eq!(err(&[("REPO", "justname")], &[]), "REPO: expected owner/name, got 'justname'");
        assert_eq!(
            err(&[("WORKFLOW", "../x.yml")], &[]),
            "WORKFLOW: expected a workflow file name such as cycle.yml, got '../x.yml'"
        );
        for bad in ["0", "-1", "abc", "01", "+3", "1.5"] {
            assert_eq!(
                err(&[("DISPATCH_MAX_ATTEMPTS", bad)], &[]),
                format!("DISPATCH_MAX_ATTEMPTS: expected a positive whole number, got '{bad}'")
            );
        }
        for bad in ["-1", "x", "1.5", "+2"] {
            assert_eq!(
                err(&[("DISPATCH_RETRY_BASE_SECONDS", bad)], &[]),
                format!("DISPATCH_RETRY_BASE_SECONDS: expected a non-negative whole number, got '{bad}'")
            );
        }
        assert_eq!(err(&[("LIVE", "maybe")], &[]), "LIVE: expected true/false (1/0, yes/no, on/off), got 'maybe'");
        assert_eq!(
            err(&[("GITHUB_API_URL", "ftp://x")], &[]),
            "GITHUB_API_URL: expected an http(s) URL, got 'ftp://x'"
        );
    }

    #[test]
    fn classification() {
        let status = |code| Answer::Status { code, body: String::new(), retry_after: None };
        assert_eq!(classify(&status(204)), Verdict::Dispatched);
        for code in [500, 502, 503, 504] {
            assert_eq!(classify(&status(code)), Verdict::Transient(format!("HTTP {code}")));
        }
        for code in [400, 401, 403, 404, 422, 429] {
            assert_eq!(
                classify(&status(code)),
                Verdict::Permanent(format!("HTTP {code}: configuration or permission error, not retried"))
            );
        }
        for code in [200, 201, 301, 501, 505] {
            assert_eq!(
                classify(&status(code)),
                Verdict::Permanent(format!("HTTP {code}: unexpected answer, not retried"))
            );
        }
        assert_eq!(
            classify(&Answer::Network("connection refused".into())),
            Verdict::Transient("network error: connection refused".into())
        );
    }

    #[test]
    fn alert_text_lists_everything_and_hides_the_token() {
        let cfg = DispatchConfig::from_env(&env(BASE)).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-03-15T00:17:03Z").unwrap().with_timezone(&Utc);
        let text = alert_text(
            &cfg,
            "vps-1",
            now,
            1,
            "HTTP 401: configuration or permission error, not retried",
            "{\"message\":\"Bad credentials\",\"token\":\"ghp_secret_value\"}",
            Lang::En,
        );
        assert_eq!(
            text,
            "🤖 tradecycle:\n\
             🚨 [Dispatch Failed] the cycle workflow was not started\n\
             Host: vps-1\n\
             Repo: owner/repo\n\
             Workflow: cycle.yml\n\
             Ref: main\n\
             Time (UTC): 2026-03-15 00:17:03\n\
             Reason: HTTP 401: configuration or permission error, not retried\n\
             Attempts: 1/4\n\
             Response: {\"message\":\"Bad credentials\",\"token\":\"***\"}"
        );
        let zh = alert_text(&cfg, "vps-1", now, 4, "HTTP 503", "", Lang::Zh);
        assert!(zh.starts_with("🤖 tradecycle 加密量化:\n🚨 [调度失败]"), "{zh}");
        assert!(zh.ends_with("尝试次数: 4/4\n响应: (empty)"), "{zh}");
    }
}
