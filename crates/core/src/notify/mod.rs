//! Operator notifications as data: the events a cycle raises and their
//! rendering in English and Chinese. Delivery (Telegram, the log) is the
//! shell's, in the binary's `adapters/`.

pub mod alert_messages;
pub mod event;
pub mod messages;
