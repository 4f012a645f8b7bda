//! The shell's boundaries, as traits: what the cycle needs from the
//! exchange, the state store, the upstream pool source, the notifier and
//! the clock. Adapters live in `adapters/` and `paper/`; tests may
//! substitute their own. The values crossing these traits are plain data in
//! the core crate (`tradecycle_core::boundary`), re-exported here.
//!
//! The two clocks, the wall clock and the manual clock tests share with the
//! fake exchange, stay beside [`Clock`]: `commands` and `shell` both use
//! them, and keeping them here means this file never re-exports from a
//! layer above it.

#![allow(async_fn_in_trait)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

pub use tradecycle_core::boundary::*;

use crate::domain::intent::Commission;
use crate::domain::snapshot::MarketData;
use crate::upstream::ladder::FetchOutcome;

pub trait Exchange {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError>;
    /// Sends a MARKET order once. Never retried by the adapter.
    async fn place_order(&self, order: &OrderRequest) -> Result<OrderReport, PortError>;
    /// Looks an order up by its client order id; `None` when the exchange
    /// does not know it (-2013).
    async fn query_order(&self, symbol: &str, client_order_id: &str) -> Result<Option<OrderReport>, PortError>;
    /// Orders of `symbol` placed at or after `since` (`GET /api/v3/allOrders`,
    /// at most one day back): the second look when a lookup by client id
    /// finds nothing, since the query path can lag a fresh order.
    async fn orders_since(&self, symbol: &str, since: DateTime<Utc>) -> Result<Vec<OrderReport>, PortError>;
    /// The commissions of one order's trades, summed per asset (`GET
    /// /api/v3/myTrades` with `orderId`, weight 5): a lookup of the order
    /// carries none, and a fill booked without its fee would read as an
    /// external flow next run. An order without trades has none.
    async fn order_commissions(&self, symbol: &str, order_id: i64) -> Result<Vec<Commission>, PortError>;
    /// Simple Earn flexible subscribe (`autoSubscribe=false`). Never retried.
    async fn earn_subscribe(&self, product_id: &str, amount: Decimal) -> Result<(), PortError>;
    /// Simple Earn flexible redeem to spot. Never retried.
    async fn earn_redeem(&self, product_id: &str, amount: Decimal) -> Result<(), PortError>;
    /// Spot free balance of one asset (to see a redeem arrive).
    async fn spot_free(&self, asset: &str) -> Result<Decimal, PortError>;
    async fn api_restrictions(&self) -> Result<ApiRestrictions, PortError>;
    /// What the adapter noticed about the connection so far this run (used
    /// weight, clock offset), for the alerts and the report; an exchange
    /// that tracks nothing reports nothing.
    fn health(&self) -> ExchangeHealth {
        ExchangeHealth::default()
    }
    /// A run starts: `health` reports this run's highest used weight from
    /// here on (a client that outlives one run, as in tests, starts over).
    fn start_health_window(&self) {}
}

/// The connection facts an exchange adapter tracks during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExchangeHealth {
    /// The highest `X-MBX-USED-WEIGHT-1M` seen this run and the per-minute
    /// limit it counts against; `None` before any answer carried it.
    pub max_used_weight: Option<(u64, u64)>,
    /// The exchange's clock minus ours, in ms, as last measured.
    pub clock_offset_ms: Option<i64>,
    /// Requests put on the wire so far, retries included (the baseline's
    /// request signal); `None` for an exchange without real traffic.
    pub requests_sent: Option<u64>,
}

pub trait StateStore {
    /// The raw state document; `None` when it does not exist yet.
    async fn load(&self) -> Result<Option<Value>, PortError>;
    /// Writes the whole document, compare-and-set against what this store
    /// last loaded or saved: a concurrent writer is `PortError::Conflict`.
    async fn save(&self, doc: &Value) -> Result<(), PortError>;
    /// Takes the run lease (no two cycles of one account at once); an
    /// expired lease may be taken over.
    async fn acquire_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<LeaseOutcome, PortError>;
    /// Extends the lease to `now + ttl` if `owner` still holds it (even if
    /// it ran out meanwhile, as long as nobody took it over); `false` when
    /// it was taken over or removed: the run has lost its fence and must
    /// send nothing more (design.md §3.18). Stores that cannot tell
    /// "still ours" from "free" fall back to taking it again.
    async fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        Ok(self.acquire_lease(owner, now, ttl).await? == LeaseOutcome::Acquired)
    }
    /// Who holds the run lease right now and until when (expired or not),
    /// without taking it: a run that finds an expired lease of another
    /// owner is taking over from a run that died (`lease_takeover`). A
    /// store that cannot tell answers `None`.
    async fn lease_holder(&self) -> Result<Option<(String, DateTime<Utc>)>, PortError> {
        Ok(None)
    }
    /// Releases the lease if `owner` still holds it.
    async fn release_lease(&self, owner: &str) -> Result<(), PortError>;
    /// Writes this service's heartbeat record (status, time, run id, last error).
    async fn write_heartbeat(&self, service: &str, record: &Value) -> Result<(), PortError>;
    async fn read_heartbeat(&self, service: &str) -> Result<Option<Value>, PortError>;
}

/// The fresh-upstream rung of the pool ladder (Firestore document or a file).
pub trait UpstreamSource {
    /// e.g. `firestore:strategy/CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL`.
    fn label(&self) -> String;
    async fn fetch(&self) -> FetchOutcome;
}

pub trait Notifier {
    /// Delivers one message; rate limits are honoured inside the adapter.
    async fn send(&self, text: &str) -> Result<(), PortError>;
}

/// A future a [`Clock`] returns from `sleep` (boxed so `&dyn Clock` works).
pub type Sleep<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// Time as the shell sees it: what time it is, and waiting. Every wait of a
/// cycle (Simple Earn's 3 s spacing, waiting for a redeem to reach spot,
/// lookups after an ambiguous answer) goes through `sleep`, so a test that
/// injects a [`ManualClock`] runs those waits in no real time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Waits `duration`; the default sleeps with tokio.
    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The wall clock; `sleep` really sleeps.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A virtual clock for tests: it stands still until slept on or advanced,
/// and `sleep` moves it forward at once. Share it (`Arc`) with the fake
/// exchange's time source (`FakeBinance::set_time_source(move ||
/// clock.now_ms())`) so the fake's Simple Earn limit and credit delays
/// follow the same time.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: std::sync::atomic::AtomicI64,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock { now_ms: std::sync::atomic::AtomicI64::new(start.timestamp_millis()) }
    }

    /// Milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.now_ms.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn advance(&self, duration: Duration) {
        let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        self.now_ms.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}
