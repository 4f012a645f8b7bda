//! The backtest loop: one live cycle per cadence step over the period.
//! Each cycle is the same [`CycleRun`] `tradecycle run` builds, with a
//! [`ManualClock`] at the cycle's time, a [`MemoryStore`] seeded with the
//! state the previous cycle saved, a notifier that sends nothing, and the
//! paper [`SimExchange`] set to what the history shows at that moment
//! (`world.rs`) with the run's fill costs, in mode `backtest` (no 7-day
//! baseline), sharing the run's [`SignalMemo`] so a cycle computes only
//! the indicator rows that closed since the last one. Between cycles
//! Simple Earn accrues its interest. What each cycle left becomes a
//! [`CycleRecord`] and its executed intents [`TradeRecord`]s, which the
//! core turns into the summary.
//!
//! `--set` changes `settings.strategy.params` before the run (`run.rs`);
//! `--sweep` runs copies of one `Backtest` with different parameters
//! (`sweep.rs`).
//!
//! [`Backtest::run_checked`] adds fault injection (`faults.rs` wraps the
//! exchange and the store handed to each cycle; a crashed cycle's future
//! is dropped and the next one starts from what the store last saved) and
//! checks the invariants after every cycle (`invariants.rs`).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::adapters::store::memory::MemoryStore;
use crate::config::Settings;
use crate::domain::intent::{Intent, IntentKind, IntentStatus};
use crate::domain::report::{Mode, Report, Status};
use crate::domain::snapshot::AssetBalance;
use crate::history::Interval;
use crate::indicators::SignalMemo;
use crate::paper::exchange::{FillCosts, SimExchange};
use crate::paper::fixture::FixtureSet;
use crate::ports::{Exchange, ManualClock, Notifier, PortError, StateStore};
use crate::shell::execute::{ExchangeExecutor, ExecutionPolicy};
use crate::shell::runner::{CycleRun, PoolInput, SavePolicy};
use crate::strategy::cycle::{BTC_SYMBOL, USDT};
use crate::upstream::ladder::FreshSource;
use tradecycle_core::backtest::{CycleRecord, TradeRecord};

use super::faults::{CycleFaults, FaultPlan, FaultyExchange, FaultyStore, KINDS};
use super::invariants::{AfterCycle, check};
use super::world::{History, MarketAt, PoolPlan, no_local_pool, symbol_rules};

/// Hours in the year Simple Earn's APR is spread over.
const HOURS_PER_YEAR: i64 = 8760;

/// Notifications go nowhere in a backtest (they stay in each cycle's
/// report); nothing is logged either.
pub struct Silent;

impl Notifier for Silent {
    async fn send(&self, _text: &str) -> Result<(), PortError> {
        Ok(())
    }
}

/// One backtest, ready to run.
pub struct Backtest {
    pub history: History,
    pub pool: PoolPlan,
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    pub initial_usdt: Decimal,
    pub costs: FillCosts,
    /// Simple Earn's yearly rate (0.05 = 5%), accrued after every cycle.
    pub earn_apr: Decimal,
    pub settings: Settings,
    /// `--data`: the ladder's local rung looks under it and finds nothing.
    pub data_dir: PathBuf,
}

/// What one cycle started from: enough to replay it.
pub struct CycleStart<'a> {
    pub now: DateTime<Utc>,
    /// The state document the previous cycle left (`None` before the first).
    pub state: Option<&'a Value>,
    pub balances: &'a BTreeMap<String, AssetBalance>,
    pub market: &'a MarketAt,
    pub fresh: Option<&'a FreshSource>,
    pub fixtures: &'a FixtureSet,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub cycles: Vec<CycleRecord>,
    pub trades: Vec<TradeRecord>,
    /// With `--faults`: how many of each kind were injected (every kind
    /// listed, zeros included).
    pub faults: BTreeMap<String, usize>,
    /// The invariant that stopped the run: seed, cycle time, name, detail.
    pub invariant_broken: Option<String>,
}

impl Backtest {
    /// The cycle times: every day's midnight (`1d`) or every hour (`1h`)
    /// from `from` through `to`.
    pub fn cycle_times(&self) -> Vec<DateTime<Utc>> {
        let step = Duration::milliseconds(self.history.cadence.millis());
        let start = self.from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let end = (self.to + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        std::iter::successors(Some(start), |t| Some(*t + step)).take_while(|t| *t < end).collect()
    }

    /// The simulated exchange's fixed part: the embedded fixture set's
    /// Earn products and rules, the run's starting USDT.
    fn fixtures(&self) -> Result<FixtureSet, String> {
        let mut f = FixtureSet::embedded_default().map_err(|e| e.to_string())?;
        f.dir = self.data_dir.clone();
        f.rules = symbol_rules(&f, self.history.symbols());
        f.balances =
            BTreeMap::from([(USDT.to_string(), AssetBalance { free: self.initial_usdt, ..Default::default() })]);
        f.prices = BTreeMap::new();
        f.initial_state = Value::Null;
        f.pool_input = Value::Null;
        f.btc = None;
        f.indicators = BTreeMap::new();
        f.config = Default::default();
        Ok(f)
    }

    /// Runs every cycle; `observe` sees each cycle's start and its report
    /// (progress, tests).
    pub async fn run(&self, observe: impl FnMut(&CycleStart, &Report)) -> Result<Outcome, String> {
        self.run_checked(None, observe).await
    }

    /// Runs every cycle, with `faults` injected when given, and checks the
    /// invariants after each; the first broken one ends the run (the
    /// outcome holds the cycles so far and `invariant_broken`). A crashed
    /// cycle has no report, so `observe` does not see it.
    pub async fn run_checked(
        &self,
        faults: Option<FaultPlan>,
        mut observe: impl FnMut(&CycleStart, &Report),
    ) -> Result<Outcome, String> {
        let fixtures = self.fixtures()?;
        let mut sim = SimExchange::new(fixtures.clone()).with_costs(self.costs);
        let earn_rate = earn_rate_per_step(self.earn_apr, self.history.cadence);
        let mut state: Option<Value> = None;
        let mut outcome = Outcome::default();
        if faults.is_some() {
            outcome.faults = KINDS.iter().map(|k| (k.to_string(), 0)).collect();
        }
        let mut double_book = faults.is_some_and(|f| f.double_book);
        let memo = SignalMemo::default();
        let mut filled_ids = HashSet::new();
        for (index, now) in self.cycle_times().into_iter().enumerate() {
            let market = self.history.market_at(now);
            sim.set_market(market.prices.clone(), market.klines.clone());
            let balances = sim.balances();
            let fills_before = sim.fill_count();
            let fresh = self.pool.fresh_at(now);
            let store = MemoryStore::new(state.clone());
            let (report, injected) = match &faults {
                None => (Some(self.cycle(now, &sim, &store, fresh.clone(), &memo).await), BTreeMap::new()),
                Some(plan) => {
                    let f = CycleFaults::new(plan, index as u64);
                    let exchange = FaultyExchange { inner: &sim, faults: &f };
                    let faulty_store = FaultyStore { inner: &store, faults: &f };
                    // The crash point never answers: the cycle's future is
                    // dropped there, as a killed process.
                    let report = tokio::select! {
                        biased;
                        r = self.cycle(now, &exchange, &faulty_store, fresh.clone(), &memo) => Some(r),
                        _ = f.crashed.notified() => None,
                    };
                    f.settle(&sim).await;
                    (report, f.counts())
                }
            };
            for (kind, n) in &injected {
                *outcome.faults.entry(kind.to_string()).or_default() += n;
            }
            let after = sim.balances();
            match &report {
                Some(report) => {
                    let start = CycleStart {
                        now,
                        state: state.as_ref(),
                        balances: &balances,
                        market: &market,
                        fresh: fresh.as_ref(),
                        fixtures: &fixtures,
                    };
                    observe(&start, report);
                    outcome.cycles.push(cycle_record(now, report, &after, &market.prices));
                    outcome.trades.extend(report.intents.iter().filter_map(|i| trade_record(now, i, &market.prices)));
                }
                None => outcome.cycles.push(crashed_record(now, &after, &market.prices)),
            }
            // A restart reads what the store last saved, crash or not.
            state = store.into_doc();
            if double_book && sim.fill_count() > fills_before {
                sim.double_book_last_fill();
                double_book = false;
            }
            let fills = sim.fills_since(fills_before);
            let checked = AfterCycle {
                report: report.as_ref(),
                faulted: !injected.is_empty(),
                before: &balances,
                after: &after,
                earlier_ids: &filled_ids,
                fills: &fills,
                state: state.as_ref(),
                prices: &market.prices,
                rules: &fixtures.rules,
            };
            if let Some(broken) = check(&checked) {
                let seed = faults.map_or_else(|| "none".to_string(), |f| f.seed.to_string());
                outcome.invariant_broken = Some(format!(
                    "invariant {} broken at cycle {} (seed {seed}): {}",
                    broken.invariant,
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    broken.detail
                ));
                break;
            }
            filled_ids.extend(fills.into_iter().map(|f| f.client_order_id));
            sim.accrue_earn(earn_rate);
        }
        Ok(outcome)
    }

    /// One live cycle at `now`.
    async fn cycle<X: Exchange, S: StateStore>(
        &self,
        now: DateTime<Utc>,
        sim: &X,
        store: &S,
        fresh: Option<FreshSource>,
        memo: &SignalMemo,
    ) -> Report {
        let clock = ManualClock::new(now);
        CycleRun {
            mode: Mode::Backtest,
            now,
            clock: &clock,
            run_id: format!("backtest-{}", now.format("%Y%m%dT%H%M%SZ")),
            settings: &self.settings,
            exchange: sim,
            store,
            notifier: &Silent,
            executor: ExchangeExecutor::new(sim, ExecutionPolicy::default()).with_clock(&clock),
            pool: PoolInput::Ladder { fresh, local_root: no_local_pool(&self.data_dir) },
            lease_ttl: None,
            save_policy: SavePolicy::default(),
            artifacts_dir: None,
            memo: Some(memo),
        }
        .run()
        .await
    }
}

/// Price of `asset` in USDT at this cycle (USDT itself is 1).
fn usdt_price(asset: &str, prices: &BTreeMap<String, Decimal>) -> Option<Decimal> {
    if asset == USDT { Some(Decimal::ONE) } else { prices.get(&format!("{asset}{USDT}")).copied() }
}

/// The cycle's closing valuation from the simulated account, by sleeve:
/// BTC is the DCA sleeve, USDT in Simple Earn is `earn`, spot USDT and the
/// BNB fee fuel are `cash`, every other asset is the trend sleeve.
pub fn cycle_record(
    now: DateTime<Utc>,
    report: &Report,
    balances: &BTreeMap<String, AssetBalance>,
    prices: &BTreeMap<String, Decimal>,
) -> CycleRecord {
    let (mut trend, mut btc, mut cash, mut earn) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (asset, b) in balances {
        let price = usdt_price(asset, prices).unwrap_or_default();
        match asset.as_str() {
            USDT => {
                cash += b.free + b.locked;
                earn += b.earn;
            }
            "BTC" => btc += b.total() * price,
            "BNB" => cash += b.total() * price,
            _ => trend += b.total() * price,
        }
    }
    let r = |d: Decimal| d.round_dp(8).normalize();
    let count = |status: IntentStatus| report.intents.iter().filter(|i| i.status == status).count();
    CycleRecord {
        time: now,
        total: r(trend + btc + cash + earn),
        trend: r(trend),
        btc: r(btc),
        cash: r(cash),
        earn: r(earn),
        btc_price: prices.get(BTC_SYMBOL).copied().unwrap_or_default(),
        breaker: report.circuit_breaker_triggered,
        rejected: count(IntentStatus::Rejected),
        skipped: count(IntentStatus::Skipped),
        failure: match report.status {
            Status::Ok | Status::Attention => None,
            _ => Some(
                report
                    .errors
                    .first()
                    .map_or_else(|| format!("{:?}", report.status), |e| format!("{}: {}", e.stage, e.message)),
            ),
        },
    }
}

/// A cycle that crashed (an injected fault): valued like any other, with
/// the crash as its failure.
fn crashed_record(
    now: DateTime<Utc>,
    balances: &BTreeMap<String, AssetBalance>,
    prices: &BTreeMap<String, Decimal>,
) -> CycleRecord {
    let mut report = Report::new("", Mode::Backtest, "");
    report.status = Status::Error;
    let record = cycle_record(now, &report, balances, prices);
    CycleRecord { failure: Some("crash: the cycle was killed (injected fault)".into()), ..record }
}

/// An executed intent as a trade row; `None` for anything not executed.
pub fn trade_record(now: DateTime<Utc>, intent: &Intent, prices: &BTreeMap<String, Decimal>) -> Option<TradeRecord> {
    if intent.status != IntentStatus::Filled {
        return None;
    }
    let kind = serde_json::to_value(intent.kind).ok()?.as_str()?.to_string();
    let r = |d: Decimal| d.round_dp(8).normalize();
    if matches!(intent.kind, IntentKind::EarnSubscribe | IntentKind::EarnRedeem) {
        let amount = intent.amount.unwrap_or_default();
        return Some(TradeRecord {
            time: now,
            kind,
            symbol: intent.asset.clone(),
            side: String::new(),
            quantity: r(amount),
            price: usdt_price(&intent.asset, prices).unwrap_or_default(),
            fee: Decimal::ZERO,
            reason: intent.reason.clone(),
            notional: Decimal::ZERO,
        });
    }
    let fill = intent.fill.as_ref()?;
    let price = fill.average_price().unwrap_or_default();
    let fee: Decimal = fill
        .commissions
        .iter()
        .map(|c| {
            // At the cycle's reference price, whatever the asset.
            let unit = usdt_price(&c.asset, prices).unwrap_or(price);
            c.amount * unit
        })
        .sum();
    let side = match intent.kind {
        IntentKind::TrendBuy | IntentKind::DcaBuy | IntentKind::FuelBuy => "BUY",
        _ => "SELL",
    };
    Some(TradeRecord {
        time: now,
        kind,
        symbol: intent.symbol.clone().unwrap_or_default(),
        side: side.into(),
        quantity: r(fill.executed_qty),
        price,
        fee: r(fee),
        reason: intent.reason.clone(),
        notional: r(fill.quote_qty),
    })
}

/// The share of the APR one cadence step earns.
pub fn earn_rate_per_step(apr: Decimal, cadence: Interval) -> Decimal {
    apr * Decimal::from(cadence.millis() / 3_600_000) / Decimal::from(HOURS_PER_YEAR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn earn_interest_per_step() {
        assert_eq!(earn_rate_per_step(dec!(0.0876), Interval::Hour), dec!(0.00001));
        assert_eq!(earn_rate_per_step(dec!(0.0876), Interval::Day), dec!(0.00024));
    }
}
