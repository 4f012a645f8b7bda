//! The live Binance spot adapter: a thin signed REST client on reqwest
//! behind [`crate::ports::Exchange`].
//!
//! | file          | what it holds                                              |
//! |---------------|------------------------------------------------------------|
//! | `client.rs`   | HTTP, signing, server-time offset, weight, retries         |
//! | `classify.rs` | failure → outcome table, header parsing, secret scrubbing  |
//! | `query.rs`    | query strings as sent, HMAC-SHA256                         |
//! | `market.rs`   | the concurrent start-of-cycle snapshot                     |
//! | `orders.rs`   | MARKET orders, lookups by client order id, their fees      |
//! | `earn.rs`     | Simple Earn flexible subscribe / redeem                    |
//! | `history.rs`  | kline pages for backtest downloads, as dump CSV lines      |
//! | `wire.rs`     | response shapes and their conversion                       |
//! | `join.rs`     | running many requests at once without spawning             |

mod classify;
mod client;
mod earn;
pub mod history;
mod join;
mod market;
mod orders;
mod query;
mod wire;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::domain::intent::Commission;
use crate::domain::snapshot::MarketData;
use crate::ports::{ApiRestrictions, Exchange, ExchangeHealth, MarketRequest, OrderReport, OrderRequest, PortError};
use crate::secret::Secret;

use client::{API_WEIGHT_LIMIT, Transport};
use query::Query;

pub const DEFAULT_BASE_URL: &str = "https://api.binance.com";
/// Binance's spot testnet (no Simple Earn, no `/sapi` at all).
pub const TESTNET_URL: &str = "https://testnet.binance.vision";

/// How to reach Binance. `Debug` never shows the key or secret. Read from
/// the environment by `BinanceConfig::from_env` (`src/config/binance.rs`).
#[derive(Debug, Clone)]
pub struct BinanceConfig {
    /// `https://api.binance.com` unless `BINANCE_BASE_URL` says otherwise.
    pub base_url: String,
    pub api_key: Secret,
    pub api_secret: Secret,
    /// Whole-request timeout; a POST that times out is `Ambiguous`.
    pub timeout: Duration,
    pub recv_window_ms: u64,
    /// Requests in flight at once.
    pub max_in_flight: usize,
    /// Retries of a failed read (reads only; writes are never retried).
    pub read_retries: usize,
    /// First backoff between read retries, doubled each time, unless the
    /// server sent `Retry-After`.
    pub retry_base: Duration,
    /// Binance's spot testnet (`BINANCE_TESTNET`, or the testnet's URL): it
    /// has no Simple Earn and no key-permission endpoint, so Earn answering
    /// 404 is "unavailable" (a warning) instead of a failed snapshot.
    pub testnet: bool,
}

impl BinanceConfig {
    /// Production defaults for the given credentials.
    pub fn new(api_key: Secret, api_secret: Secret) -> Self {
        BinanceConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key,
            api_secret,
            timeout: Duration::from_secs(10),
            recv_window_ms: 5000,
            // Binance limits request weight per minute, not concurrency: a
            // 100-symbol snapshot is ~210 requests and ~450 of the 6000
            // weight, so letting most of it fly at once keeps the cycle a
            // few round trips long whatever the pool size.
            max_in_flight: 128,
            read_retries: 3,
            retry_base: Duration::from_millis(500),
            testnet: false,
        }
    }
}

/// Counters of this client's traffic, for the run report and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Requests put on the wire (retries included).
    pub requests_sent: u64,
    /// Read retries plus `-1021` resends.
    pub retries: u64,
    /// Server-time measurements.
    pub time_syncs: u64,
    /// Last `X-MBX-USED-WEIGHT-1M` seen (0 before any).
    pub used_weight_1m: u64,
    pub max_used_weight_1m: u64,
    /// Last `X-SAPI-USED-IP-WEIGHT-1M` seen (Simple Earn, API restrictions).
    pub sapi_used_ip_weight_1m: u64,
    pub max_sapi_used_ip_weight_1m: u64,
    /// Binance's clock minus ours (ms), as last measured for signing
    /// (first signed call, or a `-1021` resync); `None` before that.
    pub clock_offset_ms: Option<i64>,
}

pub struct BinanceClient {
    transport: Transport,
    testnet: bool,
}

impl BinanceClient {
    pub fn new(config: BinanceConfig) -> Result<Self, PortError> {
        let testnet = config.testnet;
        let transport = Transport::new(config).map_err(PortError::Definitive)?;
        Ok(BinanceClient { transport, testnet })
    }

    /// Whether this is Binance's spot testnet (see [`BinanceConfig::testnet`]).
    pub fn is_testnet(&self) -> bool {
        self.testnet
    }

    /// `GET /api/v3/ping`: Binance is reachable.
    pub async fn ping(&self) -> Result<(), PortError> {
        self.transport.public::<serde_json::Value>("/api/v3/ping", &Query::new()).await?;
        Ok(())
    }

    /// Server clock minus ours in milliseconds (positive: Binance is
    /// ahead), measured now; later signed calls use this offset.
    pub async fn server_time_skew_ms(&self) -> Result<i64, PortError> {
        Ok(self.transport.resync_time().await?)
    }

    pub fn stats(&self) -> RequestStats {
        self.transport.stats()
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

impl Exchange for BinanceClient {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError> {
        let data = market::snapshot(&self.transport, req, now_ms(), self.testnet).await?;
        let stats = self.stats();
        tracing::debug!(
            requests = stats.requests_sent,
            retries = stats.retries,
            weight = stats.max_used_weight_1m,
            sapi_weight = stats.max_sapi_used_ip_weight_1m,
            "binance snapshot read"
        );
        Ok(data)
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<OrderReport, PortError> {
        Ok(orders::place(&self.transport, order).await?)
    }

    async fn query_order(&self, symbol: &str, client_order_id: &str) -> Result<Option<OrderReport>, PortError> {
        Ok(orders::query(&self.transport, symbol, client_order_id).await?)
    }

    async fn orders_since(&self, symbol: &str, since: DateTime<Utc>) -> Result<Vec<OrderReport>, PortError> {
        Ok(orders::since(&self.transport, symbol, since.timestamp_millis()).await?)
    }

    async fn order_commissions(&self, symbol: &str, order_id: i64) -> Result<Vec<Commission>, PortError> {
        Ok(orders::commissions(&self.transport, symbol, order_id).await?)
    }

    async fn earn_subscribe(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        Ok(earn::subscribe(&self.transport, product_id, amount).await?)
    }

    async fn earn_redeem(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        Ok(earn::redeem(&self.transport, product_id, amount).await?)
    }

    async fn spot_free(&self, asset: &str) -> Result<Decimal, PortError> {
        Ok(market::spot_free(&self.transport, asset).await?)
    }

    async fn api_restrictions(&self) -> Result<ApiRestrictions, PortError> {
        let r: wire::Restrictions =
            self.transport.signed_get("/sapi/v1/account/apiRestrictions", &Query::new()).await?;
        Ok(r.into())
    }

    fn health(&self) -> ExchangeHealth {
        let stats = self.stats();
        ExchangeHealth {
            max_used_weight: (stats.max_used_weight_1m > 0).then_some((stats.max_used_weight_1m, API_WEIGHT_LIMIT)),
            clock_offset_ms: stats.clock_offset_ms,
            requests_sent: Some(stats.requests_sent),
        }
    }

    fn start_health_window(&self) {
        self.transport.reset_weight_maxima();
    }
}
