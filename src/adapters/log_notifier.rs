//! A notifier that only logs, one line per message: used where no Telegram
//! is configured, so a run's notifications still show in its log.

use crate::ports::{Notifier, PortError};

pub struct LogNotifier;

impl Notifier for LogNotifier {
    async fn send(&self, text: &str) -> Result<(), PortError> {
        tracing::info!(target: "tradecycle::notify", "{}", text.replace('\n', " | "));
        Ok(())
    }
}
