//! A stateful fake of Binance spot + Simple Earn on 127.0.0.1, for
//! end-to-end tests of the real adapter: signed requests are verified,
//! MARKET orders are checked against the symbol's filters and fill against
//! seeded balances, Earn moves money, every response carries the weight
//! headers, and faults (5xx after a fill, dropped connections, -1007,
//! -1021, 429/418, invisible orders, late redeems) are injected on command.
//!
//! ```no_run
//! use rust_decimal_macros::dec;
//! use tradecycle_fakes::binance::{Fault, FaultKind, FakeBinance, FakeBinanceConfig, SymbolSpec};
//!
//! let fake = FakeBinance::start(FakeBinanceConfig::default());
//! fake.add_symbol(SymbolSpec::new("BTCUSDT", "BTC", "USDT").with_step_and_min_notional(dec!(0.00001), dec!(5)));
//! fake.set_price("BTCUSDT", dec!(50000));
//! fake.set_balance("USDT", dec!(1000), dec!(0));
//! fake.inject(Fault::new("POST", "/api/v3/order", FaultKind::execute_then_500()));
//! // ... point the adapter at fake.url() with fake.api_key()/api_secret() ...
//! assert_eq!(fake.orders().len(), 0);
//! ```
//!
//! Files: `config` (settings), `state` (the account and the logs),
//! `symbols` (exchangeInfo entries and filters), `klines` (rows, paging,
//! synthetic series), `signing` (parameters, HMAC, timestamps), `faults`,
//! `errors` (Binance error bodies), `handlers/` (endpoints), `server`
//! (routes, weights, the request pipeline).

mod config;
mod errors;
mod faults;
mod handlers;
mod klines;
mod server;
mod signing;
mod state;
mod symbols;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::watch;

pub use config::FakeBinanceConfig;
pub use errors::ApiError;
pub use faults::{Fault, FaultKind};
pub use klines::{DAY_MS, Kline, SplitMix64, SyntheticKlines};
pub use server::ROUTES;
pub use signing::{hmac_hex, signature_payload};
pub use state::{
    ApiRestrictions, AttemptOutcome, Balance, EarnCall, EarnCallKind, EarnProduct, FillRecord, OrderAttempt,
    OrderRecord, RequestRecord, Side,
};
pub use symbols::SymbolSpec;

use server::{Shared, lock, now_ms};
use state::State;

/// Binance's 8-decimal number strings ("0.00100000").
pub(crate) fn fmt8(d: Decimal) -> String {
    format!("{:.8}", d)
}

/// A running fake. Cheap to query from the test while requests are in
/// flight; stops when dropped.
pub struct FakeBinance {
    url: String,
    shared: Shared,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeBinance {
    /// Binds 127.0.0.1 on a free port and serves from a thread of its own
    /// (so it works from plain `#[test]`s and `#[tokio::test]`s alike).
    ///
    /// # Panics
    /// When no loopback port can be bound or the thread cannot start —
    /// test setup failures with nothing to recover.
    pub fn start(config: FakeBinanceConfig) -> FakeBinance {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for the fake Binance");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address of the fake Binance");
        let shared: Shared = Arc::new(Mutex::new(State::new(config)));
        let (tx, rx) = watch::channel(false);
        let server_state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-binance".to_string())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(server::serve(listener, server_state, rx));
                    // Connections still sleeping in a fault are dropped here.
                    runtime.shutdown_background();
                }
            })
            .expect("start the fake Binance thread");
        FakeBinance { url: format!("http://{addr}"), shared, shutdown: Some(tx), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn api_key(&self) -> String {
        self.state().config.api_key.clone()
    }

    pub fn api_secret(&self) -> String {
        self.state().config.api_secret.clone()
    }

    /// Stops serving; open connections are closed. Also done on drop.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        let mut st = lock(&self.shared);
        st.settle_due_credits();
        st
    }

    // ---- seeding -------------------------------------------------------

    pub fn set_balance(&self, asset: &str, free: Decimal, locked: Decimal) {
        self.state().balances.insert(asset.to_string(), Balance { free, locked });
    }

    /// Adds or replaces a symbol (see [`SymbolSpec`] for the convenience
    /// and raw-JSON constructors).
    pub fn add_symbol(&self, spec: SymbolSpec) {
        self.state().symbols.insert(spec.symbol.clone(), spec);
    }

    /// The average price `avgPrice` serves and MARKET orders fill at.
    pub fn set_price(&self, symbol: &str, price: Decimal) {
        self.state().prices.insert(symbol.to_string(), price);
    }

    /// Daily klines, sorted by open time on the way in.
    pub fn set_klines(&self, symbol: &str, mut rows: Vec<Kline>) {
        rows.sort_by_key(|k| k.open_time);
        self.state().klines.insert(symbol.to_string(), rows);
    }

    /// Candles of any interval Binance names (`1d`, `1h`, ...), sorted by
    /// open time on the way in; `1d` is the same series as [`Self::set_klines`].
    pub fn set_klines_for(&self, symbol: &str, interval: &str, mut rows: Vec<Kline>) {
        if interval == "1d" {
            return self.set_klines(symbol, rows);
        }
        rows.sort_by_key(|k| k.open_time);
        self.state().interval_klines.insert((symbol.to_string(), interval.to_string()), rows);
    }

    /// Raw Binance kline rows (`[[openTime, "open", ...], ...]`); rows that
    /// do not parse are an error naming their index.
    pub fn set_klines_raw(&self, symbol: &str, rows: &Value) -> Result<(), String> {
        let list = rows.as_array().ok_or("klines must be a JSON array")?;
        let parsed = list
            .iter()
            .enumerate()
            .map(|(i, r)| Kline::from_row(r).ok_or_else(|| format!("kline row {i} is malformed: {r}")))
            .collect::<Result<Vec<_>, _>>()?;
        self.set_klines(symbol, parsed);
        Ok(())
    }

    /// Seeds a deterministic synthetic series; returns it for assertions.
    pub fn set_synthetic_klines(&self, symbol: &str, series: &SyntheticKlines) -> Vec<Kline> {
        let rows = series.generate(now_ms());
        self.set_klines(symbol, rows.clone());
        rows
    }

    /// Adds or replaces a Simple Earn flexible product.
    pub fn set_earn_product(&self, product: EarnProduct) {
        self.state().earn_products.insert(product.product_id.clone(), product);
    }

    /// Sets a flexible Earn holding, creating a default product for it when
    /// `product_id` is new.
    pub fn set_earn_position(&self, asset: &str, product_id: &str, amount: Decimal) {
        let mut st = self.state();
        st.earn_products.entry(product_id.to_string()).or_insert_with(|| EarnProduct::new(asset, product_id));
        st.earn_positions.insert(product_id.to_string(), amount);
    }

    pub fn set_api_restrictions(&self, restrictions: ApiRestrictions) {
        self.state().restrictions = restrictions;
    }

    /// Delay added to every request (e.g. 50 ms for benchmarks).
    pub fn set_latency(&self, latency: Duration) {
        self.state().config.latency = latency;
    }

    /// Server time minus wall clock, in ms.
    pub fn set_time_skew_ms(&self, skew_ms: i64) {
        self.state().config.time_skew_ms = skew_ms;
    }

    pub fn set_taker_fee(&self, fee: Decimal) {
        self.state().config.taker_fee = fee;
    }

    pub fn set_slippage(&self, slippage: Decimal) {
        self.state().config.slippage = slippage;
    }

    /// `None`: redeems reach spot at once; `Some(d)`: `d` after the call
    /// (default 800 ms, like Binance's "a moment later").
    pub fn set_redeem_credit_delay(&self, delay: Option<Duration>) {
        self.state().config.redeem_credit_delay = delay;
    }

    /// `None` turns off Simple Earn's one-call-per-3-s-per-account limit
    /// (a test that does so says why).
    pub fn set_earn_min_interval(&self, interval: Option<Duration>) {
        self.state().config.earn_min_interval = interval;
    }

    /// Makes Simple Earn follow `now_ms` (ms since the epoch) instead of the
    /// wall clock: its rate limit, redeem credit delays and the Earn call log.
    /// Give it the same virtual clock the client sleeps on, and 3 s of
    /// spacing cost no real time. Signed-request timestamps stay on the wall
    /// clock.
    pub fn set_time_source(&self, now_ms: impl Fn() -> i64 + Send + Sync + 'static) {
        self.state().time_source = Some(state::TimeSource(Arc::new(now_ms)));
    }

    pub fn set_weight_limit(&self, limit: u32) {
        self.state().config.weight_limit = limit;
    }

    /// The key the fake accepts from now on: a client still signing with
    /// the old one is refused with -2015 (a key revoked or rotated).
    pub fn set_api_key(&self, key: &str) {
        self.state().config.api_key = key.to_string();
    }

    /// `/api` weight other clients of the same IP used this minute: every
    /// answer's `X-MBX-USED-WEIGHT-1M` reports it on top of this client's.
    pub fn set_weight_used_elsewhere(&self, weight: u32) {
        self.state().config.weight_used_elsewhere = weight;
    }

    /// Queues a fault; faults apply in the order queued.
    pub fn inject(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    // ---- inspection ----------------------------------------------------

    /// Spot balance of `asset` (zero when never seen).
    pub fn balance(&self, asset: &str) -> Balance {
        self.state().balances.get(asset).copied().unwrap_or_default()
    }

    pub fn balances(&self) -> BTreeMap<String, Balance> {
        self.state().balances.clone()
    }

    /// Funding wallet (redeems with `destAccount=FUND` land here).
    pub fn funding_balance(&self, asset: &str) -> Decimal {
        self.state().funding.get(asset).copied().unwrap_or_default()
    }

    /// Flexible Earn holding of one product.
    pub fn earn_position(&self, product_id: &str) -> Decimal {
        self.state().earn_positions.get(product_id).copied().unwrap_or_default()
    }

    /// Redeemed amounts not yet credited: (asset, amount, due ms on the Earn clock).
    pub fn pending_redeem_credits(&self) -> Vec<(String, Decimal, i64)> {
        self.state().pending_credits.iter().map(|c| (c.asset.clone(), c.amount, c.due_ms)).collect()
    }

    /// Orders executed, oldest first.
    pub fn orders(&self) -> Vec<OrderRecord> {
        self.state().orders.clone()
    }

    /// Every `POST /api/v3/order` received, including rejected ones.
    pub fn order_attempts(&self) -> Vec<OrderAttempt> {
        self.state().attempts.clone()
    }

    /// Every trade, oldest first.
    pub fn fills(&self) -> Vec<FillRecord> {
        self.state().orders.iter().flat_map(|o| o.fills.clone()).collect()
    }

    pub fn earn_calls(&self) -> Vec<EarnCall> {
        self.state().earn_calls.clone()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state().requests.clone()
    }

    /// Requests received per path (any method).
    pub fn request_counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in &self.state().requests {
            *out.entry(r.path.clone()).or_insert(0) += 1;
        }
        out
    }

    pub fn request_count(&self, path: &str) -> usize {
        self.state().requests.iter().filter(|r| r.path == path).count()
    }

    /// `/api` REQUEST_WEIGHT used in the current minute.
    pub fn used_weight(&self) -> u32 {
        self.state().weight.current(now_ms(), 60_000)
    }

    /// `/sapi` IP weight used in the current minute.
    pub fn used_sapi_weight(&self) -> u32 {
        self.state().sapi_weight.current(now_ms(), 60_000)
    }

    /// Faults still queued (with shots left).
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.state().faults.clone()
    }

    /// The fake's clock (wall clock + skew), ms.
    pub fn server_time_ms(&self) -> i64 {
        self.state().server_time(now_ms())
    }
}

impl Drop for FakeBinance {
    fn drop(&mut self) {
        self.shutdown();
    }
}
