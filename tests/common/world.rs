//! A test world for crash-point and many-cycle tests: the faithful fake
//! Binance (crates/fakes) behind the real `BinanceClient`, an in-memory state
//! store, and the real shell (`CycleRun` with `ExchangeExecutor`), all in
//! process so a cycle can be killed at any call and the next one run at an
//! injected `now`.
//!
//! Every call the shell makes through a port is a numbered *step* of a
//! [`Tripwire`]. Armed at a step, the wrapper stops there — before the call,
//! or after it took effect but before its answer returns — and the test
//! drops the cycle's future: the in-process equivalent of killing the
//! process at that point. [`World::cycle`] is the ONE place a `CycleRun` is
//! built, so adapting to a clock/sleep port is a one-place change.
//!
//! [`World::check`] holds the invariants both test files assert after every
//! cycle (no client id filled twice, no own trade booked as a flow, state
//! equal to the exchange's balances, equity conserved).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;
use tradecycle::adapters::binance::{BinanceClient, BinanceConfig};
use tradecycle::adapters::store::memory::MemoryStore;
use tradecycle::commands::run::LEASE_TTL;
use tradecycle::config::{Env, Settings};
use tradecycle::domain::intent::Commission;
use tradecycle::domain::report::{Mode, Report, Status};
use tradecycle::domain::snapshot::MarketData;
use tradecycle::indicators::{BTC_LOOKBACK_DAYS, TREND_LOOKBACK_DAYS};
use tradecycle::ports::{
    ApiRestrictions, Exchange, ManualClock, MarketRequest, Notifier, OrderReport, OrderRequest, PortError,
};
use tradecycle::shell::execute::{ExchangeExecutor, ExecutionPolicy};
use tradecycle::shell::runner::{CycleRun, PoolInput, SavePolicy};
use tradecycle_fakes::binance::{FakeBinanceConfig, Kline};

use super::live::{Live, fresh_pool};
use super::store::{HookedStore, StoreHook};

/// Where an armed step stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The call is never made (the process died just before it).
    Before,
    /// The call took effect, its answer never reaches the shell.
    After,
}

/// Counts the shell's port calls, records their labels and stops the cycle
/// at the armed one. Also injects store save failures.
#[derive(Default)]
pub struct Tripwire {
    steps: Mutex<Vec<String>>,
    armed: Mutex<Option<(usize, When)>>,
    fired: tokio::sync::Notify,
    /// `(saves to let through first, failures to answer then)`.
    save_failures: Mutex<Option<(usize, usize)>>,
}

impl Tripwire {
    /// Labels of every step so far (across runs).
    pub fn steps(&self) -> Vec<String> {
        self.steps.lock().unwrap().clone()
    }

    pub fn step_count(&self) -> usize {
        self.steps.lock().unwrap().len()
    }

    /// Stops the cycle at absolute step number `step` (see [`Self::step_count`]).
    pub fn arm(&self, step: usize, when: When) {
        *self.armed.lock().unwrap() = Some((step, when));
    }

    pub fn disarm(&self) {
        *self.armed.lock().unwrap() = None;
    }

    /// The save after `skip` more successful saves fails `times` times
    /// (transiently, as a store outage does).
    pub fn fail_saves(&self, skip: usize, times: usize) {
        *self.save_failures.lock().unwrap() = Some((skip, times));
    }

    fn save_fails(&self) -> bool {
        let mut f = self.save_failures.lock().unwrap();
        match f.as_mut() {
            Some((0, 0)) | None => false,
            Some((0, times)) => {
                *times -= 1;
                true
            }
            Some((skip, _)) => {
                *skip -= 1;
                false
            }
        }
    }

    /// Runs `call` as the next step, unless the wire is armed there.
    async fn guard<T>(&self, label: String, call: impl Future<Output = T>) -> T {
        let index = {
            let mut steps = self.steps.lock().unwrap();
            steps.push(label);
            steps.len() - 1
        };
        let armed = *self.armed.lock().unwrap();
        match armed {
            Some((step, When::Before)) if step == index => {}
            Some((step, When::After)) if step == index => {
                let _ = call.await;
            }
            _ => return call.await,
        }
        self.fired.notify_one();
        std::future::pending().await
    }
}

/// The real Binance adapter, each call a step.
pub struct TripExchange {
    pub inner: BinanceClient,
    trip: Arc<Tripwire>,
}

impl Exchange for TripExchange {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError> {
        self.trip.guard("market_data".into(), self.inner.market_data(req)).await
    }
    async fn place_order(&self, order: &OrderRequest) -> Result<OrderReport, PortError> {
        self.trip.guard(format!("place_order:{}", order.client_order_id), self.inner.place_order(order)).await
    }
    async fn query_order(&self, symbol: &str, id: &str) -> Result<Option<OrderReport>, PortError> {
        self.trip.guard(format!("query_order:{id}"), self.inner.query_order(symbol, id)).await
    }
    async fn orders_since(&self, symbol: &str, since: DateTime<Utc>) -> Result<Vec<OrderReport>, PortError> {
        self.trip.guard(format!("orders_since:{symbol}"), self.inner.orders_since(symbol, since)).await
    }
    async fn order_commissions(&self, symbol: &str, order_id: i64) -> Result<Vec<Commission>, PortError> {
        self.trip.guard(format!("order_commissions:{symbol}"), self.inner.order_commissions(symbol, order_id)).await
    }
    async fn earn_subscribe(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        self.trip.guard(format!("earn_subscribe:{amount}"), self.inner.earn_subscribe(product_id, amount)).await
    }
    async fn earn_redeem(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        self.trip.guard(format!("earn_redeem:{amount}"), self.inner.earn_redeem(product_id, amount)).await
    }
    async fn spot_free(&self, asset: &str) -> Result<Decimal, PortError> {
        self.trip.guard(format!("spot_free:{asset}"), self.inner.spot_free(asset)).await
    }
    async fn api_restrictions(&self) -> Result<ApiRestrictions, PortError> {
        self.trip.guard("api_restrictions".into(), self.inner.api_restrictions()).await
    }
    fn health(&self) -> tradecycle::ports::ExchangeHealth {
        self.inner.health()
    }
    fn start_health_window(&self) {
        self.inner.start_health_window()
    }
}

/// The in-memory store (same compare-and-set and lease rules as the real
/// ones), each call a step; saves can be made to fail.
pub type TripStore = HookedStore<MemoryStore, Arc<Tripwire>>;

impl StoreHook<MemoryStore> for Arc<Tripwire> {
    async fn around<T>(&self, label: &str, call: impl Future<Output = T>) -> T {
        self.guard(label.to_string(), call).await
    }
    fn refuse_save(&self) -> Option<PortError> {
        self.save_fails().then(|| PortError::Retryable("store unavailable (injected)".into()))
    }
}

/// Keeps the messages (as Telegram would deliver them), each send a step.
pub struct TripNotifier {
    pub sent: Mutex<Vec<String>>,
    trip: Arc<Tripwire>,
}

impl Notifier for TripNotifier {
    async fn send(&self, text: &str) -> Result<(), PortError> {
        let deliver = async {
            self.sent.lock().unwrap().push(text.to_string());
            Ok(())
        };
        self.trip.guard("notify".into(), deliver).await
    }
}

pub struct World {
    /// The fake Binance seeded from a fixture set, and a temp dir.
    pub live: Live,
    pub trip: Arc<Tripwire>,
    pub exchange: TripExchange,
    pub store: TripStore,
    pub notifier: TripNotifier,
    pub settings: Settings,
    /// Prices the fake serves now (the fake has no getter for them).
    pub prices: BTreeMap<String, Decimal>,
    /// Trend symbols of the pool (everything but BTCUSDT and BNBUSDT).
    pub trend_symbols: Vec<String>,
    pub pool: Value,
    /// Daily closes served per symbol, oldest first (the last one is
    /// today's open candle).
    pub closes: BTreeMap<String, Vec<f64>>,
    /// The shell's and the fake's Earn time (see [`World::settled`]).
    pub clock: Arc<ManualClock>,
    runs: usize,
}

/// Daily rows served per trend symbol: the newest 240 of the series
/// tests/common/live.rs seeds (420 days), enough for every indicator (the
/// longest window is SMA200), so the indicators are the same while each
/// cycle moves a third less kline data.
pub const TREND_ROWS: usize = 240;
/// BTC: the newest 600 of 700 rows (its 365 z-scores need 564).
pub const BTC_ROWS: usize = 600;

/// USDT on spot, in Flexible Earn, and BNB fuel, of issue 8's "settled account".
pub const SETTLED_SPOT_USDT: i64 = 300;
pub const SETTLED_EARN_USDT: i64 = 9_700;

impl World {
    /// The "settled account" of issue 8 §1: 300 USDT spot, 9,700 USDT in
    /// Flexible Earn, 0.1 BNB, nothing else, on the `cycle_replay` pool
    /// (five symbols, synthetic daily klines ending today) and its empty
    /// initial state.
    pub fn settled() -> World {
        let live = Live::with_config("cycle_replay", FakeBinanceConfig::default());
        // One virtual clock for the shell, the executor and the fake's Simple
        // Earn rules (1 call per 3 s, credits after a delay): the waits they
        // impose are real rules but cost no real time.
        let clock = Arc::new(ManualClock::new(live.fixtures.config.now_utc.expect("fixture now")));
        let source = clock.clone();
        live.fake.set_time_source(move || source.now_ms());
        for asset in live.fake.balances().keys() {
            live.fake.set_balance(asset, Decimal::ZERO, Decimal::ZERO);
        }
        live.fake.set_balance("USDT", Decimal::from(SETTLED_SPOT_USDT), Decimal::ZERO);
        live.fake.set_balance("BNB", Decimal::new(1, 1), Decimal::ZERO);
        live.fake.set_earn_position("USDT", "USDT001", Decimal::from(SETTLED_EARN_USDT));
        let trip = Arc::new(Tripwire::default());
        let mut env = Env::new();
        env.insert("BINANCE_API_KEY".into(), live.fake.api_key());
        env.insert("BINANCE_API_SECRET".into(), live.fake.api_secret());
        env.insert("BINANCE_BASE_URL".into(), live.fake.url());
        env.insert("BINANCE_TIMEOUT_SECS".into(), "2".into());
        let client = BinanceClient::new(BinanceConfig::from_env(&env).expect("binance config")).expect("client");
        let prices = live.fixtures.prices.clone();
        let trend_symbols = super::strs(&live.fixtures.pool_input["symbols"]);
        let pool = fresh_pool(&live.fixtures, live.fixtures.config.now_utc.expect("fixture now"));
        let store = TripStore::memory(live.fixtures.initial_state.clone(), trip.clone());
        let mut closes = BTreeMap::new();
        for (symbol, price) in &prices {
            let (seeded, served) =
                if symbol == "BTCUSDT" { (BTC_LOOKBACK_DAYS, BTC_ROWS) } else { (TREND_LOOKBACK_DAYS, TREND_ROWS) };
            let price = price.to_f64().expect("price");
            let series = tradecycle::paper::account::synthetic_klines(symbol, price, seeded as usize, Utc::now());
            let tail = series[series.len() - served..].iter().map(|k| k.close).collect::<Vec<f64>>();
            closes.insert(symbol.clone(), tail);
        }
        let world = World {
            exchange: TripExchange { inner: client, trip: trip.clone() },
            store,
            notifier: TripNotifier { sent: Mutex::new(Vec::new()), trip: trip.clone() },
            settings: Settings::from_env(&Env::new()).expect("default settings"),
            prices,
            trend_symbols,
            pool,
            trip,
            live,
            closes,
            clock,
            runs: 0,
        };
        for (symbol, closes) in &world.closes {
            world.set_daily_closes(symbol, closes);
        }
        world
    }

    /// The fixture's `now` (2026-03-15T00:00:00Z): the first cycle's time.
    pub fn start(&self) -> DateTime<Utc> {
        self.live.fixtures.config.now_utc.expect("fixture now")
    }

    /// THE one place a cycle of this world is built.
    pub fn cycle(&self, now: DateTime<Utc>, run_id: &str) -> CycleRunOf<'_> {
        CycleRun {
            mode: Mode::Live,
            now,
            run_id: run_id.to_string(),
            settings: &self.settings,
            exchange: &self.exchange,
            store: &self.store,
            notifier: &self.notifier,
            clock: &*self.clock,
            // Production's waits: on the virtual clock they cost no real time.
            executor: ExchangeExecutor::new(&self.exchange, ExecutionPolicy::default()).with_clock(&*self.clock),
            pool: PoolInput::Injected(self.pool.clone()),
            // Production's lease time: a killed cycle blocks the account this long.
            lease_ttl: Some(LEASE_TTL),
            save_policy: SavePolicy { attempts: 2, backoff: Duration::from_millis(1) },
            artifacts_dir: Some(self.live.artifacts()),
            memo: None,
        }
    }

    /// Runs one cycle at `now`; `None` when the armed tripwire killed it.
    pub async fn run(&mut self, now: DateTime<Utc>) -> Option<Report> {
        self.runs += 1;
        // The virtual clock only moves forward: to the cycle's `now`, or
        // on from where the previous cycle's waits left it.
        let behind = now.timestamp_millis() - self.clock.now_ms();
        if behind > 0 {
            self.clock.advance(Duration::from_millis(behind.unsigned_abs()));
        }
        let run_id = format!("w{}-{}", self.runs, now.format("%Y%m%dT%H%M%SZ"));
        let trip = self.trip.clone();
        let cycle = self.cycle(now, &run_id).run();
        let outcome = tokio::select! {
            report = cycle => Some(report),
            _ = trip.fired.notified() => None,
        };
        self.trip.disarm();
        outcome
    }

    /// Serves `price` for `symbol` (avgPrice and MARKET fills).
    pub fn set_price(&mut self, symbol: &str, price: Decimal) {
        self.live.fake.set_price(symbol, price);
        self.prices.insert(symbol.to_string(), price);
    }

    /// Replaces a symbol's daily klines by `closes` (oldest first; the last
    /// one is today's open candle) ending at the wall clock's day, which is
    /// where the adapter asks for them.
    pub fn set_daily_closes(&self, symbol: &str, closes: &[f64]) {
        let day = 86_400_000_i64;
        let last_open = Utc::now().timestamp_millis() / day * day;
        let dec = |x: f64| Decimal::from_str(&format!("{x:.8}")).expect("finite price");
        let rows = closes
            .iter()
            .enumerate()
            .map(|(i, &close)| {
                let open = if i == 0 { close } else { closes[i - 1] };
                Kline::daily(
                    last_open - (closes.len() - 1 - i) as i64 * day,
                    dec(open),
                    dec(open.max(close) * 1.01),
                    dec(open.min(close) * 0.99),
                    dec(close),
                    dec(1.0e8 / close),
                )
            })
            .collect();
        self.live.fake.set_klines(symbol, rows);
    }

    /// The state document as last saved.
    pub fn saved_state(&self) -> Value {
        self.store.inner.writes().last().cloned().unwrap_or_else(|| self.live.fixtures.initial_state.clone())
    }

    /// Everything the account owns, valued in USDT at the prices served now:
    /// spot (free + locked), Flexible Earn, redeems still in transit and the
    /// funding wallet.
    pub fn account_value(&self) -> Decimal {
        let fake = &self.live.fake;
        let mut qty: BTreeMap<String, Decimal> = BTreeMap::new();
        for (asset, b) in fake.balances() {
            *qty.entry(asset).or_default() += b.free + b.locked;
        }
        for (asset, product) in &self.live.fixtures.earn_products {
            *qty.entry(asset.clone()).or_default() += fake.earn_position(product) + fake.funding_balance(asset);
        }
        for (asset, amount, _) in fake.pending_redeem_credits() {
            *qty.entry(asset).or_default() += amount;
        }
        qty.iter().map(|(asset, q)| *q * self.price_of(asset)).sum()
    }

    /// USDT price of one unit of `asset` (USDT itself is 1).
    pub fn price_of(&self, asset: &str) -> Decimal {
        if asset == "USDT" {
            return Decimal::ONE;
        }
        self.prices.get(&format!("{asset}USDT")).copied().unwrap_or_default()
    }

    /// Fees paid on the fills from index `from` on, valued in USDT.
    pub fn fees_since(&self, from: usize) -> Decimal {
        self.live.fake.fills().iter().skip(from).map(|f| f.commission * self.price_of(&f.commission_asset)).sum()
    }

    /// The invariants every cycle must keep; returns what is broken (empty
    /// when all hold). `report` is the cycle that just ran (`None`: killed).
    pub fn check(&self, report: Option<&Report>) -> Vec<String> {
        let mut broken = Vec::new();
        broken.extend(self.no_client_id_filled_twice());
        if let Some(r) = report {
            broken.extend(no_own_trade_booked_as_flow(r));
            broken.extend(self.equity_matches_account(r));
        }
        broken.extend(self.state_matches_balances());
        broken
    }

    /// An order id that executed twice on the exchange (Binance reuses ids
    /// once an order is no longer open, so the ledger is the only guard).
    pub fn no_client_id_filled_twice(&self) -> Vec<String> {
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for o in self.live.fake.orders().iter().filter(|o| o.executed_qty > Decimal::ZERO) {
            *count.entry(o.client_order_id.clone()).or_default() += 1;
        }
        count.into_iter().filter(|(_, n)| *n > 1).map(|(id, n)| format!("client id {id} filled {n} times")).collect()
    }

    /// The saved state against the exchange: a trend position is held
    /// exactly when the account holds its coin (worth ≥ 5 USDT, Binance's
    /// usual minimum notional), the BTC DCA record matches the BTC balance,
    /// and no order is left pending after a finished cycle.
    pub fn state_matches_balances(&self) -> Vec<String> {
        let state = self.saved_state();
        let mut broken = Vec::new();
        for symbol in &self.trend_symbols {
            let base = symbol.strip_suffix("USDT").unwrap_or(symbol);
            let b = self.live.fake.balance(base);
            let worth = (b.free + b.locked) * self.price_of(base);
            let held = state[symbol.as_str()]["is_holding"].as_bool().unwrap_or(false);
            let owned = worth >= Decimal::from(5);
            if held != owned {
                broken.push(format!(
                    "{symbol}: state is_holding={held} but the account holds {} {base} (worth {} USDT)",
                    (b.free + b.locked).normalize(),
                    worth.round_dp(2)
                ));
            }
        }
        let btc = self.live.fake.balance("BTC");
        let btc_qty = (btc.free + btc.locked).to_f64().unwrap_or_default();
        let recorded = state["BTCUSDT"]["holding_qty"].as_f64().unwrap_or(0.0);
        if (btc_qty - recorded).abs() > 1e-8 {
            broken.push(format!("BTCUSDT: state holding_qty={recorded} but the account holds {btc_qty} BTC"));
        }
        broken
    }

    /// The equity the cycle reported (valued after trading, at the prices
    /// it read) against what the account really holds at those prices:
    /// money in transit from Earn, a fee the shell did not see or a fill it
    /// missed shows up here. Within 0.05 USDT of rounding.
    pub fn equity_matches_account(&self, r: &Report) -> Vec<String> {
        let Some(total) = r.equity.as_ref().and_then(|e| e.total_usdt.parse::<Decimal>().ok()) else {
            return Vec::new();
        };
        let actual = self.account_value();
        if (total - actual).abs() > Decimal::new(5, 2) {
            vec![format!(
                "reported equity {} USDT but the account is worth {} USDT",
                total.round_dp(4),
                actual.round_dp(4)
            )]
        } else {
            Vec::new()
        }
    }

    /// Checks cash conservation over one cycle at fixed prices: the account
    /// lost exactly the fees it paid (within 0.01 USDT of rounding).
    pub fn conserved(&self, value_before: Decimal, fills_before: usize) -> Vec<String> {
        let after = self.account_value();
        let fees = self.fees_since(fills_before);
        let gap = after - (value_before - fees);
        if gap.abs() > Decimal::new(1, 2) {
            vec![format!(
                "equity not conserved: before {} − fees {} ≠ after {} (gap {})",
                value_before.round_dp(4),
                fees.round_dp(4),
                after.round_dp(4),
                gap.round_dp(4)
            )]
        } else {
            Vec::new()
        }
    }
}

/// The world's `CycleRun` type.
pub type CycleRunOf<'a> = CycleRun<'a, TripExchange, TripStore, TripNotifier, ExchangeExecutor<'a, TripExchange>>;

/// Our world has no deposits or withdrawals: any rebase is an own trade
/// (or money in transit) mistaken for a flow.
pub fn no_own_trade_booked_as_flow(r: &Report) -> Vec<String> {
    let mut broken = Vec::new();
    if r.state_writes.iter().any(|w| w.reason == "external_balance_flow_rebase") {
        let line = r.log_lines.iter().find(|l| l.contains("External balance flow")).cloned().unwrap_or_default();
        broken.push(format!("an own trade was booked as an external flow: {line}"));
    }
    broken
}

/// Issue 8 §2.7: an order or Earn move that was refused, skipped or left
/// unresolved needs an operator's look, so the cycle cannot end `ok`, and
/// some message must have gone out (which event carries it is the
/// notifier's business, not checked here).
pub fn nothing_hides_behind_ok(r: &Report) -> Vec<String> {
    use tradecycle::domain::intent::IntentStatus;
    let troubled: Vec<String> = intent_summary(r)
        .into_iter()
        .zip(&r.intents)
        .filter(|(_, i)| matches!(i.status, IntentStatus::Rejected | IntentStatus::Skipped | IntentStatus::Unresolved))
        .map(|(s, _)| s)
        .collect();
    let mut broken = Vec::new();
    if troubled.is_empty() {
        return broken;
    }
    if r.status == Status::Ok {
        broken.push(format!("status ok although {troubled:?} need a look"));
    }
    if r.notifications.is_empty() {
        broken.push(format!("no alert for {troubled:?}"));
    }
    broken
}

/// Statuses of a report's intents, `kind:symbol-or-asset:status`.
pub fn intent_summary(r: &Report) -> Vec<String> {
    let v = serde_json::to_value(&r.intents).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    let what = i.get("symbol").or_else(|| i.get("asset")).and_then(Value::as_str).unwrap_or("");
                    format!("{}:{}:{}", i["kind"].as_str().unwrap_or(""), what, i["status"].as_str().unwrap_or(""))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A single-threaded runtime with timers (the shell's save backoff and
/// the executor's waits are `tokio::time::sleep`s).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}
