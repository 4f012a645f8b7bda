//! Exchange adapters behind the [`crate::ports::Exchange`] trait.

pub mod binance;
pub mod sim;
