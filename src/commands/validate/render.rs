//! What `validate` found: each [`Check`] (status, what was found, the
//! setting to fix), the exit code they add up to, and the result rendered as
//! text or JSON with every secret masked. Separate from the checks so the
//! output format and its exit code read in one place.

use serde::Serialize;
use serde_json::{Value, json};

use crate::commands::exit;
use crate::config::Env;
use crate::secret::Secret;

/// `schema` of the JSON output.
pub const SCHEMA: &str = "tradecycle.validate.v1";

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
pub(crate) fn setting_named_in(message: &str) -> Option<String> {
    let first = message.split([':', ' ']).next()?;
    let is_var = first.len() > 2 && first.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let is_flag = first.len() > 2 && first.starts_with("--");
    (is_var || is_flag).then(|| first.to_string())
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
            exit::USAGE
        } else if self.checks.iter().any(|c| c.status == Status::Fail) {
            exit::ERROR
        } else {
            exit::OK
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
    pub(crate) fn redacted(mut self, secrets: &[Secret]) -> Validation {
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
pub(crate) fn secrets(env: &Env) -> Vec<Secret> {
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

#[cfg(test)]
mod tests {
    use super::super::names::*;
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_setting_is_read_from_configuration_messages() {
        assert_eq!(setting_named_in("BINANCE_API_KEY is not set").as_deref(), Some("BINANCE_API_KEY"));
        assert_eq!(setting_named_in("NOTIFY_LANG: unsupported").as_deref(), Some("NOTIFY_LANG"));
        assert_eq!(setting_named_in("--store: unknown store 's3'").as_deref(), Some("--store"));
        assert_eq!(setting_named_in("something else"), None);
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
