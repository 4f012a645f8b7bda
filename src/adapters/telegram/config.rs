//! Telegram settings: the bot token (a [`Secret`]), the chat, the Bot API
//! URL (for tests and self-hosted Bot API servers) and the request timeout.
//! Reading them from the environment (`TG_TOKEN`, `GLOBAL_TELEGRAM_CHAT_ID`
//! ...) is config's job: `TelegramConfig::from_env` in `src/config/telegram.rs`.

use std::time::Duration;

use crate::secret::Secret;

/// Per-request deadline when `TELEGRAM_TIMEOUT_SECONDS` is unset (the reference's).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTarget {
    /// A user, group or supergroup (`-100…`) id.
    Id(i64),
    /// A public channel, `@name`.
    Channel(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TelegramConfig {
    pub token: Secret,
    pub chat: ChatTarget,
    /// Bot API base URL without a trailing slash; `None` is api.telegram.org.
    pub api_url: Option<String>,
    /// Deadline of one request (a 429 wait comes on top).
    pub timeout: Duration,
}
