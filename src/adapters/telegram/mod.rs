//! Telegram delivery through teloxide: plain-text `sendMessage` to one chat,
//! flood control (429 `retry_after`) honoured once, every failure classified
//! as a [`PortError`] whose text never contains the bot token.
//!
//! The shell turns these errors into report warnings (design.md §3.12); this
//! adapter only has to be honest about what happened and quick about it.

use std::future::Future;
use std::time::Duration;

use teloxide::requests::{Request, Requester};
use teloxide::types::{ChatId, Recipient};
use teloxide::{ApiError, Bot, RequestError};

pub mod config;

use crate::ports::{Notifier, PortError};
use crate::secret::Secret;
pub use config::{ChatTarget, DEFAULT_TIMEOUT, TelegramConfig};

/// Longest flood-control wait honoured. Telegram's `retry_after` is exact, so
/// a longer one is not waited out partially: the message fails at once
/// rather than holding the cycle (and the run lease) for minutes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Longest piece of an unexpected response body quoted in an error.
const RAW_QUOTE_LIMIT: usize = 200;

pub struct TelegramNotifier {
    bot: Bot,
    chat: Recipient,
    /// Kept only to scrub it out of error texts (teloxide's network errors
    /// quote the request URL, which holds `bot<token>`).
    token: Secret,
    timeout: Duration,
    max_retry_after: Duration,
}

/// One attempt's failure, before the flood-control decision.
enum Failure {
    RetryAfter(Duration),
    Port(PortError),
}

impl TelegramNotifier {
    pub fn new(config: &TelegramConfig) -> Result<TelegramNotifier, PortError> {
        // teloxide's own client settings (keep-alive tuned for its long
        // polling), with our deadline instead of its 17 s.
        let client = teloxide::net::default_reqwest_settings()
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .timeout(config.timeout)
            .build()
            .map_err(|e| PortError::Definitive(format!("cannot build the Telegram HTTP client: {e}")))?;
        let mut bot = Bot::with_client(config.token.expose(), client);
        if let Some(url) = &config.api_url {
            let url = reqwest::Url::parse(url)
                .map_err(|e| PortError::Definitive(format!("TELEGRAM_API_URL is not a valid URL: {e}")))?;
            bot = bot.set_api_url(url);
        }
        let chat = match &config.chat {
            ChatTarget::Id(id) => Recipient::Id(ChatId(*id)),
            ChatTarget::Channel(name) => Recipient::ChannelUsername(name.clone()),
        };
        Ok(TelegramNotifier {
            bot,
            chat,
            token: config.token.clone(),
            timeout: config.timeout,
            max_retry_after: MAX_RETRY_AFTER,
        })
    }

    /// Overrides [`MAX_RETRY_AFTER`] (tests).
    pub fn with_max_retry_after(mut self, max: Duration) -> TelegramNotifier {
        self.max_retry_after = max;
        self
    }

    /// `getMe`: the bot's username, proving the token works (`validate`).
    pub async fn get_me(&self) -> Result<String, PortError> {
        let me = self.call(|| self.bot.get_me().send()).await?;
        me.user
            .username
            .clone()
            .ok_or_else(|| PortError::Definitive("Telegram getMe answered without a username".into()))
    }

    /// `getChat`: the configured chat exists and the bot can see it (a bot
    /// that is not a member gets "chat not found"), without posting
    /// anything (`validate`). Returns a short description of the chat.
    pub async fn get_chat(&self) -> Result<String, PortError> {
        let info = self.call(|| self.bot.get_chat(self.chat.clone()).send()).await?;
        let kind = if info.is_private() {
            "private chat"
        } else if info.is_supergroup() {
            "supergroup"
        } else if info.is_group() {
            "group"
        } else {
            "channel"
        };
        Ok(match info.title().or(info.username()) {
            Some(name) => format!("{kind} \"{name}\""),
            None => kind.to_string(),
        })
    }

    /// One request, with at most one flood-control wait and retry.
    async fn call<T, F, Fut>(&self, request: F) -> Result<T, PortError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        let first = match self.attempt(request()).await {
            Ok(v) => return Ok(v),
            Err(Failure::Port(e)) => return Err(self.scrub(e)),
            Err(Failure::RetryAfter(wait)) => wait,
        };
        if first > self.max_retry_after {
            return Err(PortError::Retryable(format!(
                "rate limited by Telegram for {}s, longer than the {}s a run waits",
                first.as_secs(),
                self.max_retry_after.as_secs()
            )));
        }
        tracing::info!(target: "tradecycle::notify", "Telegram flood control: retrying in {}s", first.as_secs());
        tokio::time::sleep(first).await;
        match self.attempt(request()).await {
            Ok(v) => Ok(v),
            Err(Failure::Port(e)) => Err(self.scrub(e)),
            Err(Failure::RetryAfter(again)) => Err(PortError::Retryable(format!(
                "rate limited by Telegram: still refused after waiting {}s (retry after {}s)",
                first.as_secs(),
                again.as_secs()
            ))),
        }
    }

    /// One request under our deadline. teloxide sleeps 10 s before reading a
    /// 5xx body, which the client's own timeout does not cover; this does.
    async fn attempt<T>(&self, request: impl Future<Output = Result<T, RequestError>>) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, request).await {
            Err(_) => Err(Failure::Port(PortError::Retryable(format!(
                "no answer from Telegram within {}s (unreachable, or failing with 5xx)",
                self.timeout.as_secs_f64()
            )))),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(e)),
        }
    }

    fn scrub(&self, e: PortError) -> PortError {
        let r = |s: String| self.token.redact(&s);
        match e {
            PortError::Definitive(s) => PortError::Definitive(r(s)),
            PortError::Ambiguous(s) => PortError::Ambiguous(r(s)),
            PortError::Retryable(s) => PortError::Retryable(r(s)),
            PortError::Auth(s) => PortError::Auth(r(s)),
            PortError::Conflict(s) => PortError::Conflict(r(s)),
        }
    }
}

impl Notifier for TelegramNotifier {
    /// Plain text (no parse mode: our messages are not escaped Markdown/HTML).
    async fn send(&self, text: &str) -> Result<(), PortError> {
        self.call(|| self.bot.send_message(self.chat.clone(), text).send()).await.map(|_| ())
    }
}

/// Sorts a teloxide error into what the caller can do about it.
fn classify(e: RequestError) -> Failure {
    let port = match e {
        RequestError::RetryAfter(s) => return Failure::RetryAfter(s.duration()),
        RequestError::Api(ApiError::InvalidToken) => {
            PortError::Auth("Telegram refused the bot token (TG_TOKEN): Unauthorized".into())
        }
        RequestError::Api(ApiError::ChatNotFound) => PortError::Definitive(
            "Telegram: chat not found (check GLOBAL_TELEGRAM_CHAT_ID and that the bot is a member of the chat)".into(),
        ),
        RequestError::Api(ApiError::Unknown(description)) => {
            // Descriptions Telegram sends with 4xx codes are final; anything
            // else (5xx "Internal Server Error", "Bad Gateway", a bare "Too
            // Many Requests") may pass.
            let definitive = ["Bad Request", "Forbidden", "Unauthorized", "Not Found", "Conflict"]
                .iter()
                .any(|p| description.starts_with(p));
            let text = format!("Telegram: {description}");
            if definitive { PortError::Definitive(text) } else { PortError::Retryable(text) }
        }
        RequestError::Api(known) => PortError::Definitive(format!("Telegram: {known}")),
        RequestError::MigrateToChatId(_) => PortError::Definitive(
            "Telegram: the group was upgraded to a supergroup; set GLOBAL_TELEGRAM_CHAT_ID to its new id".into(),
        ),
        RequestError::Network(e) => PortError::Retryable(format!("network error talking to Telegram: {}", chain(&*e))),
        RequestError::InvalidJson { raw, .. } => {
            let quoted: String = raw.chars().take(RAW_QUOTE_LIMIT).collect();
            PortError::Retryable(format!("Telegram answered something that is not a Bot API response: {quoted:?}"))
        }
        RequestError::Io(e) => PortError::Retryable(format!("I/O error talking to Telegram: {e}")),
    };
    Failure::Port(port)
}

/// An error with its causes ("error sending request: connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::Seconds;

    fn port(f: Failure) -> PortError {
        match f {
            Failure::Port(p) => p,
            Failure::RetryAfter(d) => panic!("unexpected retry after {d:?}"),
        }
    }

    #[test]
    fn classifies_telegram_answers() {
        assert!(matches!(
            classify(RequestError::RetryAfter(Seconds::from_seconds(3))),
            Failure::RetryAfter(d) if d == Duration::from_secs(3)
        ));
        assert!(matches!(port(classify(RequestError::Api(ApiError::InvalidToken))), PortError::Auth(_)));
        assert!(matches!(port(classify(RequestError::Api(ApiError::ChatNotFound))), PortError::Definitive(_)));
        assert!(matches!(port(classify(RequestError::Api(ApiError::BotBlocked))), PortError::Definitive(_)));
        let unknown = |d: &str| port(classify(RequestError::Api(ApiError::Unknown(d.into()))));
        assert!(matches!(unknown("Bad Request: message is too long"), PortError::Definitive(_)));
        assert!(matches!(unknown("Internal Server Error"), PortError::Retryable(_)));
        assert!(matches!(unknown("Too Many Requests: retry later"), PortError::Retryable(_)));
    }

    #[test]
    fn scrubs_the_token_from_every_kind() {
        let token = "123456:SECRET-token_value";
        let n = TelegramNotifier::new(&TelegramConfig {
            token: Secret::new(token),
            chat: ChatTarget::Id(1),
            api_url: Some("http://127.0.0.1:9".into()),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        let url = format!("error sending request for url (http://127.0.0.1:9/bot{token}/SendMessage)");
        for e in [
            PortError::Retryable(url.clone()),
            PortError::Auth(url.clone()),
            PortError::Definitive(url.clone()),
            PortError::Ambiguous(url.clone()),
            PortError::Conflict(url.clone()),
        ] {
            let text = n.scrub(e).to_string();
            assert!(!text.contains(token) && text.contains("bot***"), "{text}");
        }
    }
}
