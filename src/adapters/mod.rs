//! The outside world behind `ports`: Binance, the state stores (Firestore,
//! file, memory), Telegram and the log, GitHub; and the kline CSV files
//! backtests read.

pub mod binance;
pub mod github;
pub mod kline_files;
pub mod log_notifier;
pub mod store;
pub mod telegram;
