//! `backtest run --faults SEED`: deterministic fault injection. Each cycle
//! gets a [`CycleFaults`] drawn from the seed and the cycle's index, and
//! the exchange and the store the cycle is handed are wrapped
//! ([`FaultyExchange`], [`FaultyStore`]) so that, at random but always the
//! same for a seed:
//!
//! - an order fills on the simulated exchange but its answer is lost
//!   (`Ambiguous`), and looking it up fails for the rest of the cycle, so
//!   the live shell has to reconcile it by lookup in the next cycle;
//! - an Earn move is refused, or a redeem is slow (its USDT arrives only
//!   after a few balance polls, or after the cycle);
//! - a state save is refused by the store;
//! - the cycle crashes at one of its port calls (before the call, or right
//!   after it took effect): the wrapper never answers and fires
//!   [`CycleFaults::crashed`]; the engine drops the cycle's future there,
//!   as a killed process, and the next cycle starts from what the store
//!   last saved (the same tripwire as `tests/crash_points.rs`).
//!
//! The live shell is untouched: only these wrappers misbehave.
//!
//! The generator is SplitMix64 (Steele, Lea & Flood 2014), written out
//! here: ten lines, no dependency, and its stream for a seed can never
//! change under us with a crate upgrade (the same seed must give the same
//! bytes for good, which `rand`'s `StdRng` does not promise).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::adapters::store::memory::MemoryStore;
use crate::domain::intent::Commission;
use crate::domain::snapshot::MarketData;
use crate::paper::exchange::SimExchange;
use crate::ports::{
    ApiRestrictions, Exchange, LeaseOutcome, MarketRequest, OrderReport, OrderRequest, PortError, StateStore,
};

/// Chances, in per mille, that each kind of fault is injected.
const AMBIGUOUS_PER_MILLE: u64 = 200; // of order placements
const EARN_REFUSED_PER_MILLE: u64 = 100; // of Earn moves
const EARN_SLOW_PER_MILLE: u64 = 200; // of the redeems not refused
const SAVE_REFUSED_PER_MILLE: u64 = 30; // of state saves
const CRASH_PER_MILLE: u64 = 20; // of cycles
/// A crash is armed at one of the cycle's first calls (a cycle with fewer
/// calls runs to its end).
const CRASH_STEPS: u64 = 24;
/// Balance polls a slow redeem's USDT takes to arrive.
const SLOW_REDEEM_POLLS: u32 = 2;

/// The kinds of fault, as the summary counts them.
pub const KINDS: [&str; 5] = ["ambiguous", "crash", "earn_refused", "earn_slow", "save_refused"];

/// SplitMix64: a 64-bit state moved by a fixed odd constant, each output
/// a bijective mix of the state.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// True with a chance of `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next_u64() % 1000 < per_mille
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `--faults SEED` and the test-only sabotage switch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    pub seed: u64,
    /// `--test-double-book`: after the first cycle with a fill, that fill
    /// is written to the simulator's fill log twice (see
    /// [`SimExchange::double_book_last_fill`]); the run must stop on it.
    pub double_book: bool,
}

/// One cycle's faults: its own generator (from the seed and the cycle's
/// index, so a cycle's draws do not depend on how many the previous one
/// made), the crash point, and what was injected.
pub struct CycleFaults {
    rng: Mutex<SplitMix64>,
    crash_at: Option<(usize, bool)>,
    steps: AtomicUsize,
    counts: Mutex<BTreeMap<&'static str, usize>>,
    /// Orders whose answer was lost: their lookups fail this cycle.
    lost: Mutex<BTreeSet<String>>,
    /// Slow redeems: product, amount, balance polls until they land.
    in_transit: Mutex<Vec<(String, Decimal, u32)>>,
    /// Fired when the cycle reaches its crash point.
    pub crashed: tokio::sync::Notify,
}

impl CycleFaults {
    pub fn new(plan: &FaultPlan, cycle: u64) -> Self {
        let mut rng = SplitMix64::new(mix(plan.seed ^ mix(cycle)));
        let crash_at = rng
            .chance(CRASH_PER_MILLE)
            .then(|| ((rng.next_u64() % CRASH_STEPS) as usize, rng.next_u64().is_multiple_of(2)));
        CycleFaults {
            rng: Mutex::new(rng),
            crash_at,
            steps: AtomicUsize::new(0),
            counts: Mutex::new(BTreeMap::new()),
            lost: Mutex::new(BTreeSet::new()),
            in_transit: Mutex::new(Vec::new()),
            crashed: tokio::sync::Notify::new(),
        }
    }

    /// What was injected this cycle, by kind.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, kind: &'static str) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(kind).or_default() += 1;
        }
    }

    fn roll(&self, per_mille: u64) -> bool {
        self.rng.lock().map(|mut r| r.chance(per_mille)).unwrap_or(false)
    }

    /// Runs `call` as the cycle's next port call, unless the crash point
    /// is here: then (after the call took effect, for an "after" crash)
    /// it fires [`Self::crashed`] and never answers.
    async fn step<T>(&self, call: impl Future<Output = T>) -> T {
        let index = self.steps.fetch_add(1, Ordering::SeqCst);
        match self.crash_at {
            Some((at, after)) if at == index => {
                if after {
                    let _ = call.await;
                }
                self.count("crash");
                self.crashed.notify_one();
                std::future::pending().await
            }
            _ => call.await,
        }
    }

    /// Credits what is still in transit (a redeem lands, whether or not
    /// the cycle lived to see it), before the next cycle.
    pub async fn settle(&self, sim: &SimExchange) {
        let pending = self.in_transit.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        for (product, amount, _) in pending {
            let _ = sim.earn_redeem(&product, amount).await;
        }
    }

    /// One balance poll: redeems whose wait is over land now.
    async fn poll_transit(&self, sim: &SimExchange) {
        let arrived: Vec<(String, Decimal)> = match self.in_transit.lock() {
            Ok(mut pending) => {
                pending.iter_mut().for_each(|p| p.2 = p.2.saturating_sub(1));
                let (done, wait): (Vec<_>, Vec<_>) = pending.drain(..).partition(|p| p.2 == 0);
                *pending = wait;
                done.into_iter().map(|(product, amount, _)| (product, amount)).collect()
            }
            Err(_) => Vec::new(),
        };
        for (product, amount) in arrived {
            let _ = sim.earn_redeem(&product, amount).await;
        }
    }
}

/// The simulated exchange as a faulty cycle sees it.
pub struct FaultyExchange<'a> {
    pub inner: &'a SimExchange,
    pub faults: &'a CycleFaults,
}

impl FaultyExchange<'_> {
    fn lost(&self, client_order_id: &str) -> bool {
        self.faults.lost.lock().map(|l| l.contains(client_order_id)).unwrap_or(false)
    }
}

impl Exchange for FaultyExchange<'_> {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError> {
        self.faults.step(self.inner.market_data(req)).await
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<OrderReport, PortError> {
        self.faults
            .step(async {
                let ambiguous = self.faults.roll(AMBIGUOUS_PER_MILLE);
                let answer = self.inner.place_order(order).await;
                match answer {
                    Ok(_) if ambiguous => {
                        self.faults.count("ambiguous");
                        if let Ok(mut lost) = self.faults.lost.lock() {
                            lost.insert(order.client_order_id.as_str().to_string());
                        }
                        Err(PortError::Ambiguous("injected: the order's answer was lost (timeout)".into()))
                    }
                    answer => answer,
                }
            })
            .await
    }

    async fn query_order(&self, symbol: &str, client_order_id: &str) -> Result<Option<OrderReport>, PortError> {
        self.faults
            .step(async {
                if self.lost(client_order_id) {
                    return Err(PortError::Retryable("injected: the lookup timed out".into()));
                }
                self.inner.query_order(symbol, client_order_id).await
            })
            .await
    }

    async fn orders_since(&self, symbol: &str, since: DateTime<Utc>) -> Result<Vec<OrderReport>, PortError> {
        self.faults
            .step(async {
                let orders = self.inner.orders_since(symbol, since).await?;
                // The order list lags too: a lost order is not in it yet.
                Ok(orders.into_iter().filter(|o| !self.lost(o.client_order_id.as_str())).collect())
            })
            .await
    }

    async fn order_commissions(&self, symbol: &str, order_id: i64) -> Result<Vec<Commission>, PortError> {
        self.faults.step(self.inner.order_commissions(symbol, order_id)).await
    }

    async fn earn_subscribe(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        self.faults
            .step(async {
                if self.faults.roll(EARN_REFUSED_PER_MILLE) {
                    self.faults.count("earn_refused");
                    return Err(PortError::Definitive("injected: Earn subscription refused".into()));
                }
                self.inner.earn_subscribe(product_id, amount).await
            })
            .await
    }

    async fn earn_redeem(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        self.faults
            .step(async {
                if self.faults.roll(EARN_REFUSED_PER_MILLE) {
                    self.faults.count("earn_refused");
                    return Err(PortError::Definitive("injected: Earn redemption refused".into()));
                }
                if self.faults.roll(EARN_SLOW_PER_MILLE) {
                    self.faults.count("earn_slow");
                    if let Ok(mut pending) = self.faults.in_transit.lock() {
                        pending.push((product_id.to_string(), amount, SLOW_REDEEM_POLLS));
                    }
                    return Ok(());
                }
                self.inner.earn_redeem(product_id, amount).await
            })
            .await
    }

    async fn spot_free(&self, asset: &str) -> Result<Decimal, PortError> {
        self.faults
            .step(async {
                self.faults.poll_transit(self.inner).await;
                self.inner.spot_free(asset).await
            })
            .await
    }

    async fn api_restrictions(&self) -> Result<ApiRestrictions, PortError> {
        self.faults.step(self.inner.api_restrictions()).await
    }
}

/// The cycle's in-memory store as a faulty cycle sees it.
pub struct FaultyStore<'a> {
    pub inner: &'a MemoryStore,
    pub faults: &'a CycleFaults,
}

impl StateStore for FaultyStore<'_> {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        self.faults.step(self.inner.load()).await
    }

    async fn save(&self, doc: &Value) -> Result<(), PortError> {
        self.faults
            .step(async {
                if self.faults.roll(SAVE_REFUSED_PER_MILLE) {
                    self.faults.count("save_refused");
                    return Err(PortError::Retryable("injected: the store refused the save".into()));
                }
                self.inner.save(doc).await
            })
            .await
    }

    async fn acquire_lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        ttl: std::time::Duration,
    ) -> Result<LeaseOutcome, PortError> {
        self.faults.step(self.inner.acquire_lease(owner, now, ttl)).await
    }

    async fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: std::time::Duration) -> Result<bool, PortError> {
        self.faults.step(self.inner.renew_lease(owner, now, ttl)).await
    }

    async fn lease_holder(&self) -> Result<Option<(String, DateTime<Utc>)>, PortError> {
        self.inner.lease_holder().await
    }

    async fn release_lease(&self, owner: &str) -> Result<(), PortError> {
        self.faults.step(self.inner.release_lease(owner)).await
    }

    async fn write_heartbeat(&self, service: &str, record: &Value) -> Result<(), PortError> {
        self.faults.step(self.inner.write_heartbeat(service, record)).await
    }

    async fn read_heartbeat(&self, service: &str) -> Result<Option<Value>, PortError> {
        self.inner.read_heartbeat(service).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_gives_the_published_stream() {
        // The reference implementation's first outputs for seed 0.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn a_cycle_draws_the_same_faults_for_the_same_seed() {
        let plan = FaultPlan { seed: 42, double_book: false };
        let draws = |cycle| {
            let f = CycleFaults::new(&plan, cycle);
            (f.crash_at, (0..20).map(|_| f.roll(500)).collect::<Vec<_>>())
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7).1, draws(8).1);
    }
}
