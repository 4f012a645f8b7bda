//! [`TelegramConfig::from_env`]: the Telegram settings read from the
//! environment — the bot token (`TG_TOKEN`), the chat
//! (`GLOBAL_TELEGRAM_CHAT_ID`, alias `TG_CHAT_ID`), the API URL
//! (`TELEGRAM_API_URL`) and the request timeout. Telegram is optional; half
//! a configuration is an error, never a silent "no alerts". The adapter
//! keeps the plain struct; the checks of each value live here with the
//! reading.

use std::time::Duration;

use super::env::{ConfigError, Env, display, get, value};
use crate::adapters::telegram::{ChatTarget, DEFAULT_TIMEOUT, TelegramConfig};
use crate::secret::Secret;

/// Longest accepted `TELEGRAM_TIMEOUT_SECONDS`: a cycle must not hang on alerts.
const MAX_TIMEOUT_SECS: u64 = 120;

impl TelegramConfig {
    /// `None` when neither token nor chat is set (Telegram off); an error
    /// naming the missing one when only one is, or naming a malformed one.
    /// Error texts never contain the token.
    pub fn from_env(env: &Env) -> Result<Option<TelegramConfig>, ConfigError> {
        let token = value(env, "TG_TOKEN");
        let chat = get(env, "GLOBAL_TELEGRAM_CHAT_ID").map(|(var, v)| (display("GLOBAL_TELEGRAM_CHAT_ID", var), v));
        let (token, (chat_var, chat)) = match (token, chat) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(ConfigError(
                    "GLOBAL_TELEGRAM_CHAT_ID: not set, but TG_TOKEN is; set both for Telegram or neither".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError(
                    "TG_TOKEN: not set, but GLOBAL_TELEGRAM_CHAT_ID (or TG_CHAT_ID) is; set both for Telegram or neither"
                        .into(),
                ));
            }
            (Some(t), Some(c)) => (t, c),
        };
        if !looks_like_token(token) {
            // Never echo the value: it is a credential, even when malformed.
            return Err(ConfigError(
                "TG_TOKEN: expected a bot token like 123456789:AA… (digits, a colon, letters/digits/_/-); value not shown"
                    .into(),
            ));
        }
        let chat = parse_chat(chat).map_err(|why| ConfigError(format!("{chat_var}: {why}")))?;
        let api_url = match value(env, "TELEGRAM_API_URL") {
            None => None,
            Some(v) => Some(parse_api_url(v).map_err(|why| ConfigError(format!("TELEGRAM_API_URL: {why}")))?),
        };
        let timeout = match value(env, "TELEGRAM_TIMEOUT_SECONDS") {
            None => DEFAULT_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(s) if (1..=MAX_TIMEOUT_SECS).contains(&s) => Duration::from_secs(s),
                _ => {
                    return Err(ConfigError(format!(
                        "TELEGRAM_TIMEOUT_SECONDS: expected whole seconds from 1 to {MAX_TIMEOUT_SECS}, got '{v}'"
                    )));
                }
            },
        };
        Ok(Some(TelegramConfig { token: Secret::new(token), chat, api_url, timeout }))
    }
}

/// `<bot id>:<secret>` as BotFather issues them. Anything else would also
/// end up verbatim in the request path, where `/`, `?` or `#` break it.
fn looks_like_token(token: &str) -> bool {
    let Some((id, secret)) = token.split_once(':') else { return false };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && !secret.is_empty()
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn parse_chat(value: &str) -> Result<ChatTarget, String> {
    if let Ok(id) = value.parse::<i64>() {
        return if id == 0 { Err("0 is not a chat id".into()) } else { Ok(ChatTarget::Id(id)) };
    }
    match value.strip_prefix('@') {
        Some(name) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            Ok(ChatTarget::Channel(value.to_string()))
        }
        _ => Err(format!("expected a numeric chat id (e.g. -1001234567890) or @channelname, got '{value}'")),
    }
}

/// An absolute http(s) URL; the trailing slash is dropped because the
/// client appends `/bot<token>/<method>` as path segments.
fn parse_api_url(value: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(value).map_err(|e| format!("not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("expected an http:// or https:// URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query string or fragment".into());
    }
    Ok(value.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:AAF7-g0gYncWnm5IyfZlpPRqRRv6kNAGlao";

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        TelegramConfig::from_env(&env(pairs)).unwrap_err().0
    }

    #[test]
    fn off_when_neither_is_set() {
        assert_eq!(TelegramConfig::from_env(&Env::new()).unwrap(), None);
        assert_eq!(TelegramConfig::from_env(&env(&[("TG_TOKEN", " "), ("TG_CHAT_ID", "")])).unwrap(), None);
        // The URL alone does not switch Telegram on.
        assert_eq!(TelegramConfig::from_env(&env(&[("TELEGRAM_API_URL", "http://127.0.0.1:1")])).unwrap(), None);
    }

    #[test]
    fn defaults_and_alias() {
        let c =
            TelegramConfig::from_env(&env(&[("TG_TOKEN", TOKEN), ("TG_CHAT_ID", "-1001234567890")])).unwrap().unwrap();
        assert_eq!(c.token.expose(), TOKEN);
        assert_eq!(c.chat, ChatTarget::Id(-1001234567890));
        assert_eq!(c.api_url, None);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(!format!("{c:?}").contains(TOKEN));
    }

    #[test]
    fn the_new_chat_name_wins() {
        let c = TelegramConfig::from_env(&env(&[
            ("TG_TOKEN", TOKEN),
            ("TG_CHAT_ID", "111"),
            ("GLOBAL_TELEGRAM_CHAT_ID", "@alerts_channel"),
            ("TELEGRAM_API_URL", "http://127.0.0.1:8081/"),
            ("TELEGRAM_TIMEOUT_SECONDS", "3"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.chat, ChatTarget::Channel("@alerts_channel".into()));
        assert_eq!(c.api_url.as_deref(), Some("http://127.0.0.1:8081"));
        assert_eq!(c.timeout, Duration::from_secs(3));
    }

    #[test]
    fn half_a_configuration_names_the_missing_variable() {
        assert!(err(&[("TG_TOKEN", TOKEN)]).starts_with("GLOBAL_TELEGRAM_CHAT_ID: not set, but TG_TOKEN is"));
        assert!(err(&[("GLOBAL_TELEGRAM_CHAT_ID", "42")]).starts_with("TG_TOKEN: not set"));
        assert!(err(&[("TG_CHAT_ID", "42")]).starts_with("TG_TOKEN: not set"));
    }

    #[test]
    fn malformed_values_name_the_variable_and_hide_the_token() {
        let e = err(&[("TG_TOKEN", "not a token/secret-value"), ("TG_CHAT_ID", "42")]);
        assert!(e.starts_with("TG_TOKEN: expected a bot token"), "{e}");
        assert!(!e.contains("secret-value"));
        assert_eq!(
            err(&[("TG_TOKEN", TOKEN), ("TG_CHAT_ID", "alerts")]),
            "TG_CHAT_ID (alias of GLOBAL_TELEGRAM_CHAT_ID): expected a numeric chat id (e.g. -1001234567890) or @channelname, got 'alerts'"
        );
        assert!(err(&[("TG_TOKEN", TOKEN), ("GLOBAL_TELEGRAM_CHAT_ID", "0")]).starts_with("GLOBAL_TELEGRAM_CHAT_ID:"));
        assert!(
            err(&[("TG_TOKEN", TOKEN), ("TG_CHAT_ID", "1"), ("TELEGRAM_API_URL", "ftp://x")])
                .starts_with("TELEGRAM_API_URL: expected an http")
        );
        assert!(
            err(&[("TG_TOKEN", TOKEN), ("TG_CHAT_ID", "1"), ("TELEGRAM_API_URL", "127.0.0.1:80")])
                .starts_with("TELEGRAM_API_URL:")
        );
        assert_eq!(
            err(&[("TG_TOKEN", TOKEN), ("TG_CHAT_ID", "1"), ("TELEGRAM_TIMEOUT_SECONDS", "0")]),
            "TELEGRAM_TIMEOUT_SECONDS: expected whole seconds from 1 to 120, got '0'"
        );
    }
}
