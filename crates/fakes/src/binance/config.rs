//! Settings of a fake Binance: credentials, fees, clock skew, latency and
//! the limits it enforces. All but the credentials can also be changed
//! while it runs through [`super::FakeBinance`]'s setters.

use std::time::Duration;

use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct FakeBinanceConfig {
    /// Expected in `X-MBX-APIKEY` on SIGNED endpoints.
    pub api_key: String,
    /// HMAC key for `signature`.
    pub api_secret: String,
    /// Taker commission rate, charged in the received asset (default 0.001).
    pub taker_fee: Decimal,
    /// Fraction MARKET fills move against the taker: buys fill at
    /// `price × (1 + slippage)`, sells at `price × (1 − slippage)`.
    pub slippage: Decimal,
    /// Server time minus wall clock, in ms (positive: the server is ahead).
    pub time_skew_ms: i64,
    /// Added to every request before it is answered.
    pub latency: Duration,
    /// How long after the call a redeem reaches spot (Binance answers
    /// `success` before the money is there). Default 800 ms; `None`: at once.
    pub redeem_credit_delay: Option<Duration>,
    /// REQUEST_WEIGHT per minute for `/api`; above it requests get 429.
    pub weight_limit: u32,
    /// IP weight per minute for `/sapi`; above it requests get 429.
    pub sapi_ip_weight_limit: u32,
    /// `/api` weight other clients of the same IP already used this
    /// minute: added to what `X-MBX-USED-WEIGHT-1M` reports and counted
    /// against the limit (Binance counts weight per IP, not per client).
    pub weight_used_elsewhere: u32,
    /// Simple Earn subscribe and redeem: at most one call per 3 s per
    /// account, counted across both endpoints (Binance documents "1/3s per
    /// account"; sharing the budget is the strict reading, so a client that
    /// passes here passes there). A faster call answers -6009. `None` turns
    /// the limit off.
    pub earn_min_interval: Option<Duration>,
    /// Enforce Simple Earn's 00:10–23:50 UTC subscribe/redeem window
    /// (-6007 outside). Off by default so tests do not depend on the hour.
    pub earn_daily_window: bool,
    /// Behave like Binance's spot testnet, which has no `/sapi` endpoints
    /// (Simple Earn, API key restrictions): they answer 404.
    pub spot_testnet: bool,
}

impl Default for FakeBinanceConfig {
    fn default() -> Self {
        FakeBinanceConfig {
            api_key: "fake-binance-api-key".to_string(),
            api_secret: "fake-binance-api-secret".to_string(),
            taker_fee: Decimal::new(1, 3),
            slippage: Decimal::ZERO,
            time_skew_ms: 0,
            latency: Duration::ZERO,
            redeem_credit_delay: Some(Duration::from_millis(800)),
            weight_limit: 6000,
            sapi_ip_weight_limit: 12_000,
            weight_used_elsewhere: 0,
            earn_min_interval: Some(Duration::from_secs(3)),
            earn_daily_window: false,
            spot_testnet: false,
        }
    }
}
