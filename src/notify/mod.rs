//! Operator notifications: events as data, their rendering, and delivery.

pub mod event;
pub mod log;
pub mod messages;
pub mod telegram;
pub mod telegram_config;
