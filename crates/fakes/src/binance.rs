//! Fake binance server (to be written).
