//! A notifier that only logs: used where no Telegram is configured.

use crate::ports::{Notifier, PortError};

pub struct LogNotifier;

impl Notifier for LogNotifier {
    async fn send(&self, text: &str) -> Result<(), PortError> {
        tracing::info!(target: "tradecycle::notify", "{}", text.replace('\n', " | "));
        Ok(())
    }
}
