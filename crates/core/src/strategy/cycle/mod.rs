//! One cycle's plan, step by step, over a working copy of the balances and
//! the state document.
//!
//! The shell asks for the next intents (`plan_*`), executes them (or, in
//! replay and dry-run, records them as suppressed with an estimated fill),
//! and feeds each outcome back with [`Cycle::apply`] before asking for the
//! next step, because later steps depend on what earlier ones really did
//! (sells fund buys; the post-trade valuation drives DCA and the Earn
//! buffer). Saves and notifications are queued as [`Effect`]s for the shell.
//!
//! Simple Earn is planned per cycle, not per order (design.md §3.16):
//! [`Cycle::plan_earn_funding`] rehearses the whole cycle on a copy with
//! estimated fills and returns at most one redeem per asset, to run before
//! the first order; the buffer step at the end then makes at most one more
//! move. A redeem that has not reached spot yet is booked as `locked` in the
//! working balances and kept in the state's `earn_in_transit` ledger, so it
//! still counts as owned (no false withdrawal in the flow check) but is
//! never spent.
//!
//! The `impl Cycle` is spread over files by concern: this file holds the
//! types, the constructor and the small helpers every step uses;
//! [`day_open`] the fuel top-up, the day's opening and the breaker;
//! [`trend`] rotation; [`btc_core`] DCA; [`earn_moves`] Simple Earn and the
//! money in transit; [`apply`] the write-ahead and how outcomes are booked;
//! [`outcome`] the outcome types; [`conditions`] the alert conditions the
//! cycle observed.

mod apply;
mod btc_core;
pub mod conditions;
mod day_open;
mod earn_moves;
mod outcome;
mod trend;

pub use outcome::Outcome;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde_json::{Value, json};

use super::StrategySettings;
use super::allocation::{AccountValues, Budgets};
use super::daily::{self};
use super::earn::{self};
use super::log_lines::LogLines;
use super::parity::{self, PositionMismatch};
use super::rotation::{self, Candidate, round_to};
use crate::domain::client_order_id::ClientOrderId;
use crate::domain::intent::Intent;
use crate::domain::pool::{PoolResolution, Universe};
use crate::domain::report::{EquityReport, Gate};
use crate::domain::rules::SymbolRules;
use crate::domain::snapshot::{AssetBalance, BtcSnapshot, Indicators};
use crate::domain::state::{PENDING_QUARANTINED, StateDoc};
use crate::notify::event::{Event, StatusReport};

pub const USDT: &str = "USDT";
pub const BTC_SYMBOL: &str = "BTCUSDT";
pub const BNB_SYMBOL: &str = "BNBUSDT";
/// A redeem not seen on spot after this long is taken as gone (and the next
/// flow check books it as the withdrawal it then is). Binance's standard
/// redemption lands the next day by 08:00 UTC, at most ~32 h later.
pub const EARN_IN_TRANSIT_MAX_HOURS: i64 = 48;

/// Everything the planner starts from.
#[derive(Debug, Clone)]
pub struct CycleInputs {
    pub now: DateTime<Utc>,
    pub settings: StrategySettings,
    /// Normalised against `official`, pool metadata already recorded.
    pub state: StateDoc,
    pub official: Universe,
    pub resolution: PoolResolution,
    pub balances: BTreeMap<String, AssetBalance>,
    pub prices: BTreeMap<String, Decimal>,
    pub rules: BTreeMap<String, SymbolRules>,
    pub earn_products: BTreeMap<String, String>,
    pub btc: BtcSnapshot,
    pub indicators: BTreeMap<String, Indicators>,
}

/// A side effect the shell must perform (or record as suppressed), in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Save(String),
    Notify(Event),
}

/// What the day looks like before trading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayPlan {
    /// Circuit breaker already latched today: the trend sleeve sits out.
    Latched,
    /// The breaker fires now.
    Breaker,
    Trade,
}

#[derive(Clone)]
pub struct Cycle {
    pub now: DateTime<Utc>,
    settings: StrategySettings,
    pub state: StateDoc,
    official: Universe,
    runtime: Universe,
    resolution: PoolResolution,
    book: BTreeMap<String, AssetBalance>,
    prices: BTreeMap<String, Decimal>,
    prices_f: BTreeMap<String, f64>,
    rules: BTreeMap<String, SymbolRules>,
    earn_products: BTreeMap<String, String>,
    btc: BtcSnapshot,
    indicators: BTreeMap<String, Indicators>,
    pub execution_pool: Vec<String>,
    pub candidates: Vec<Candidate>,
    today_utc: String,
    today_id: String,
    buffer_target: Decimal,
    pre_trade: Option<(AccountValues, Budgets)>,
    pnl: (f64, f64),
    sold_this_cycle: BTreeSet<String>,
    /// Assets whose Earn move failed this cycle: no further Earn move of
    /// them is tried (each would wait 3 s to be refused the same way).
    earn_refused: BTreeSet<String>,
    /// Symbols whose buy was skipped this cycle for lack of funds.
    buys_skipped_for_funds: BTreeSet<String>,
    orders_planned: usize,
    unresolved: bool,
    /// Symbols with no new risk this cycle (sells run), with the gate that
    /// says why: a quarantined order, a position mismatch, an ignored
    /// holding.
    blocked: BTreeMap<String, &'static str>,
    /// Exchange holdings the state disagrees with ([`super::parity`]).
    pub position_mismatches: Vec<PositionMismatch>,
    /// Ledger entries this cycle wrote ahead: the only ones its outcomes
    /// may remove (an entry reconciliation kept is never deleted here).
    written_ahead: BTreeSet<ClientOrderId>,
    pub breaker_triggered: bool,
    pub intents: Vec<Intent>,
    pub gates: Vec<Gate>,
    pub log_lines: LogLines,
    pub warnings: Vec<String>,
    /// What needs an operator's look although the cycle finished (each
    /// becomes a report warning too, and turns `ok` into `attention`).
    pub attention: Vec<String>,
    effects: Vec<Effect>,
}

fn dec_f(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap_or_default()
}

fn f_dec(x: Decimal) -> f64 {
    x.to_f64().unwrap_or(0.0)
}

fn money(x: f64) -> String {
    dec_f(x).round_dp(8).normalize().to_string()
}

fn gate_detail_round(x: f64) -> f64 {
    round_to(x, 4)
}

impl Cycle {
    /// Fails closed when a held position cannot be valued or BTC cannot be priced.
    pub fn new(inputs: CycleInputs) -> Result<Cycle, String> {
        let CycleInputs {
            now,
            settings,
            state,
            official,
            resolution,
            balances,
            prices,
            rules,
            earn_products,
            btc,
            indicators,
        } = inputs;
        let mut official = official;
        // BTC is the DCA core; it must never also be a trend position.
        official.shift_remove(BTC_SYMBOL);
        let runtime = state.runtime_universe(&official);
        let prices_f: BTreeMap<String, f64> =
            prices.iter().filter(|(_, p)| **p > Decimal::ZERO).map(|(s, p)| (s.clone(), f_dec(*p))).collect();
        if !prices_f.contains_key(BTC_SYMBOL) {
            return Err(format!("no usable price for {BTC_SYMBOL}; cannot value the BTC core"));
        }
        let mut warnings = Vec::new();
        for (symbol, base) in &runtime {
            let held = balances.get(base).is_some_and(|b| b.total() > Decimal::ZERO);
            if !prices_f.contains_key(symbol) {
                if held || state.position(symbol).is_holding {
                    return Err(format!(
                        "no usable price for held {symbol}; refusing to trade on an incomplete valuation"
                    ));
                }
                warnings.push(format!("no usable price for {symbol}; it cannot be traded this cycle"));
            }
        }
        let usdt_total = balances.get(USDT).map(AssetBalance::total).unwrap_or_default();
        // Orders left unresolved by an earlier run, and ledger entries that
        // cannot be read, block new risk until someone knows what became of
        // them; a quarantined order blocks only its own symbol.
        let mut attention = Vec::new();
        let mut blocked = BTreeMap::new();
        let mut unresolved = false;
        for (id, order) in &state.pending_orders {
            if order.status == PENDING_QUARANTINED {
                blocked.insert(order.symbol.clone(), "order_quarantined");
                attention.push(format!(
                    "order {id} is quarantined ({}): no new {} risk until it is resolved; check it on Binance, \
                     then run `tradecycle orders resolve {id} --filled QTY@PRICE` or `--not-placed`",
                    order.quarantine_reason.as_deref().unwrap_or("it cannot be looked up on the exchange"),
                    order.symbol
                ));
            } else {
                unresolved = true;
                attention.push(format!(
                    "order {id} from an earlier run is still unresolved: no buys or Earn moves this cycle"
                ));
            }
        }
        for (id, entry) in &state.unreadable_pending {
            unresolved = true;
            attention.push(entry.advice(id));
        }
        let position_mismatches = settings
            .position_mismatch_min_usdt
            .map(|min| {
                let fuel = parity::fuel_usdt(&settings.params);
                parity::compare_with_fuel(&state, &runtime, &balances, &prices, min, fuel)
            })
            .unwrap_or_default();
        for m in &position_mismatches {
            blocked.entry(m.symbol.clone()).or_insert("position_mismatch");
        }
        for symbol in state.ignored_positions.keys() {
            blocked.entry(symbol.clone()).or_insert("position_ignored");
        }
        let mut cycle = Cycle {
            now,
            today_utc: now.format("%Y-%m-%d").to_string(),
            today_id: now.format("%Y%m%d").to_string(),
            buffer_target: earn::buffer_target(usdt_total, &settings.params).round_dp(8).normalize(),
            settings,
            state,
            official,
            runtime,
            resolution,
            book: balances,
            prices,
            prices_f,
            rules,
            earn_products,
            btc,
            indicators,
            execution_pool: Vec::new(),
            candidates: Vec::new(),
            pre_trade: None,
            pnl: (0.0, 0.0),
            sold_this_cycle: BTreeSet::new(),
            earn_refused: BTreeSet::new(),
            buys_skipped_for_funds: BTreeSet::new(),
            orders_planned: 0,
            unresolved,
            blocked,
            position_mismatches,
            written_ahead: BTreeSet::new(),
            breaker_triggered: false,
            intents: Vec::new(),
            gates: Vec::new(),
            log_lines: LogLines::default(),
            warnings,
            attention,
            effects: Vec::new(),
        };
        cycle.settle_earn_in_transit();
        cycle.log_pool_source();
        let r = &cycle.resolution;
        let (version, as_of, degraded) = (r.payload.version.clone(), r.payload.as_of_date.clone(), r.degraded());
        cycle.execution_pool = rotation::lock_execution_pool(
            &mut cycle.state,
            &cycle.official,
            &version,
            &as_of,
            cycle.settings.pool_size.max(1),
            !degraded,
            now,
        );
        if cycle.btc_trend_inputs_ok() {
            cycle.candidates = rotation::select_candidates(
                &cycle.execution_pool,
                &cycle.indicators,
                &cycle.prices_f,
                &cycle.btc,
                cycle.settings.params.top_n,
            );
        }
        Ok(cycle)
    }

    // ----- small helpers -------------------------------------------------

    fn price(&self, symbol: &str) -> Option<f64> {
        self.prices_f.get(symbol).copied()
    }

    fn price_dec(&self, symbol: &str) -> Option<Decimal> {
        self.prices.get(symbol).copied().filter(|p| *p > Decimal::ZERO)
    }

    fn base_of(&self, symbol: &str) -> String {
        self.runtime.get(symbol).cloned().unwrap_or_else(|| crate::domain::pool::infer_base_asset(symbol))
    }

    fn bal(&self, asset: &str) -> AssetBalance {
        self.book.get(asset).copied().unwrap_or_default()
    }

    fn bal_mut(&mut self, asset: &str) -> &mut AssetBalance {
        self.book.entry(asset.to_string()).or_default()
    }

    fn rules_for(&self, symbol: &str) -> SymbolRules {
        self.rules.get(symbol).cloned().unwrap_or_default()
    }

    fn gate(&mut self, sleeve: &str, gate: &str, symbol: Option<&str>, detail: Value) {
        self.gates.push(Gate { sleeve: sleeve.into(), gate: gate.into(), symbol: symbol.map(str::to_string), detail });
    }

    fn save(&mut self, reason: impl Into<String>) {
        self.effects.push(Effect::Save(reason.into()));
    }

    fn notify(&mut self, event: Event) {
        self.effects.push(Effect::Notify(event));
    }

    /// Saves and notifications queued since the last call, in order.
    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    fn btc_trend_inputs_ok(&self) -> bool {
        self.btc.regime_on.is_some() && self.btc.momentum().is_some()
    }

    fn is_candidate(&self, symbol: &str) -> bool {
        self.candidates.iter().any(|c| c.symbol == symbol)
    }

    /// Current valuation from the working balances.
    pub fn values(&self) -> AccountValues {
        let value = |asset: &str, symbol: &str| f_dec(self.bal(asset).total()) * self.price(symbol).unwrap_or(0.0);
        let trend: f64 = self.runtime.iter().map(|(s, base)| value(base, s)).sum();
        // BNB in the trend pool is valued there; don't count it twice as fuel.
        let fuel = if self.runtime.contains_key(BNB_SYMBOL) { 0.0 } else { value("BNB", BNB_SYMBOL) };
        AccountValues { cash: f_dec(self.bal(USDT).total()), fuel, trend, dca: value("BTC", BTC_SYMBOL) }
    }

    /// The account's total value before this cycle traded (USDT), once the
    /// day has opened.
    pub fn pre_trade_total(&self) -> Option<f64> {
        self.pre_trade.map(|(values, _)| values.total())
    }

    fn equity_report(&self, values: &AccountValues, budgets: &Budgets) -> EquityReport {
        let (pre_v, _) = self.pre_trade.unwrap_or((*values, *budgets));
        EquityReport {
            total_usdt: money(values.total()),
            trend_usdt: money(values.trend),
            dca_usdt: money(values.dca),
            cash_usdt: money(values.cash),
            fuel_usdt: money(values.fuel),
            btc_target_ratio: round_to(budgets.btc_target_ratio, 8),
            trend_usdt_pool: money(budgets.trend_usdt_pool),
            dca_usdt_pool: money(budgets.dca_usdt_pool),
            daily_pnl: round_to(self.pnl.0, 8),
            trend_daily_pnl: round_to(self.pnl.1, 8),
            pre_trade_total_usdt: money(pre_v.total()),
            pre_trade_trend_usdt: money(pre_v.trend),
        }
    }

    /// Equity as of now (post-trade once trading ran).
    pub fn equity(&self) -> EquityReport {
        let v = self.values();
        self.equity_report(&v, &Budgets::compute(&v, &self.settings.params))
    }

    fn count_order(&mut self, symbol: &str) -> bool {
        if let Some(max) = self.settings.max_orders_per_run
            && self.orders_planned >= max
        {
            self.gate("cycle", "max_orders_per_run", Some(symbol), json!({ "max_orders_per_run": max }));
            // The multi-order guard: planning past the cap is worth a look
            // (a burst of orders is more often a bug or a bad pool than a plan).
            self.attention.push(format!(
                "{symbol} skipped: {max} orders already planned this run (MAX_ORDERS_PER_RUN; \
                 TRADECYCLE_ACK_MANY_ORDERS=1 allows more)"
            ));
            return false;
        }
        self.orders_planned += 1;
        true
    }

    fn log_pool_source(&mut self) {
        let r = &self.resolution;
        let p = &r.payload;
        let or = |s: &str, d: &str| if s.is_empty() { d.to_string() } else { s.to_string() };
        let mut lines = vec![format!(
            "📡 Trend pool source: {} | mode={} | version={} | as_of={} | project={}",
            r.source_kind.as_str(),
            or(&p.mode, "unknown"),
            or(&p.version, "unknown"),
            or(&p.as_of_date, "n/a"),
            or(&p.source_project, "unknown"),
        )];
        let skip = r.messages.len().saturating_sub(3);
        lines.extend(r.messages.iter().skip(skip).map(|m| format!("   · {m}")));
        let degraded = r.degraded();
        let kind = r.source_kind.as_str();
        self.log_lines.extend(lines);
        if degraded && !self.settings.allow_new_entries_on_degraded {
            self.log_lines.push("⏸️ Upstream pool is degraded: pausing new trend buys".into());
            self.gate("trend", "trend_buy_paused_degraded_mode", None, json!(kind));
        }
    }

    fn new_entries_allowed(&self) -> bool {
        (!self.resolution.degraded() || self.settings.allow_new_entries_on_degraded) && !self.settings.paused
    }

    /// The periodic status report if this run is the first after a boundary
    /// (design.md §3.14): `(bucket, event)`. Call [`Cycle::status_delivered`]
    /// once it was actually delivered.
    pub fn status_report(&self) -> Option<(String, Event)> {
        let bucket = daily::status_bucket(self.now, self.settings.status_report_interval_hours);
        if bucket == self.state.last_btc_status_report_bucket {
            return None;
        }
        let v = self.values();
        let b = Budgets::compute(&v, &self.settings.params);
        let holdings = self.runtime.keys().filter(|s| self.state.position(s).is_holding).cloned().collect();
        let report = StatusReport {
            total_equity: v.total(),
            trend_equity: v.trend,
            trend_daily_pnl: daily::daily_pnl(&self.state, v.total(), v.trend).1,
            btc_price: self.price(BTC_SYMBOL).unwrap_or(0.0),
            regime_on: self.btc.regime_on == Some(true),
            ahr999: self.btc.ahr999,
            zscore: self.btc.zscore,
            sell_trigger: self.btc.sell_trigger,
            btc_target_ratio: b.btc_target_ratio,
            holdings,
        };
        Some((bucket, Event::StatusReport(report)))
    }

    pub fn status_delivered(&mut self, bucket: String) {
        self.state.last_btc_status_report_bucket = bucket;
    }

    /// Closing snapshot and the final save; returns the post-trade equity.
    pub fn finish(&mut self) -> EquityReport {
        // What spot shows without the money still in transit: next run's
        // measure of whether it arrived.
        for (asset, entry) in self.state.earn_in_transit.iter_mut() {
            entry.spot_free_seen = self.book.get(asset).map_or(Decimal::ZERO, |b| b.free).normalize();
        }
        self.state.last_balance_snapshot = self.balance_snapshot();
        self.save("cycle_complete");
        self.equity()
    }

    /// Selected candidate symbols, in rank order.
    pub fn candidate_symbols(&self) -> Vec<String> {
        self.candidates.iter().map(|c| c.symbol.clone()).collect()
    }
}

#[cfg(test)]
mod tests;
