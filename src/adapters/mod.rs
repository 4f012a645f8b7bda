//! The outside world behind `ports`: Binance, the state stores (Firestore,
//! file, memory), Telegram and the log, GitHub.

pub mod binance;
pub mod github;
pub mod log_notifier;
pub mod store;
pub mod telegram;
