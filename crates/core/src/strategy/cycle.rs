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

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal_macros::dec;
use serde_json::{Value, json};

use super::StrategySettings;
use super::allocation::{AccountValues, Budgets};
use super::booking::{self, FillDay, OrderFacts};
use super::daily::{self, CIRCUIT_BREAKER_PNL};
use super::dca;
use super::earn::{self, BufferMove};
use super::log_lines::LogLines;
use super::rotation::{self, Candidate, round_to};
use crate::domain::intent::{Fill, Intent, IntentKind, IntentStatus, Side};
use crate::domain::pool::{PoolResolution, Universe};
use crate::domain::report::{EquityReport, Gate};
use crate::domain::rules::{QtyReject, SymbolRules};
use crate::domain::snapshot::{AssetBalance, BtcSnapshot, Indicators};
use crate::domain::state::{
    EarnInTransit, PENDING_QUARANTINED, PendingOrder, StateDoc, TrendPosition, UnconfirmedRedeem,
};
use crate::notify::event::{Event, SellReason, StatusReport};

pub const USDT: &str = "USDT";
pub const BTC_SYMBOL: &str = "BTCUSDT";
pub const BNB_SYMBOL: &str = "BNBUSDT";
/// BNB fee fuel: top up when worth less than this...
pub const FUEL_MIN_USDT: Decimal = dec!(10);
/// ...by buying this much.
pub const FUEL_TOP_UP_USDT: Decimal = dec!(15);
/// A trend buy needs a budget above this.
pub const MIN_TREND_BUY_USDT: f64 = 15.0;
/// Circuit-breaker sells skip positions worth this or less.
pub const MIN_BREAKER_SELL_USDT: f64 = 10.0;
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

/// How an executed (or suppressed) intent ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Replay / dry-run: not sent; the estimated fill is applied as if real.
    Suppressed,
    /// The exchange's own record of the fill.
    Filled(Fill),
    /// An Earn subscribe/redeem the exchange confirmed.
    EarnDone,
    /// Definitive refusal (never retried).
    Rejected(String),
    /// Sent but the outcome is unknown.
    Unresolved(String),
    /// Not sent.
    Skipped(String),
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
    orders_planned: usize,
    unresolved: bool,
    /// Symbols with a quarantined order: no new risk in them (sells run).
    quarantined: BTreeSet<String>,
    /// Ledger entries this cycle wrote ahead: the only ones its outcomes
    /// may remove (an entry reconciliation kept is never deleted here).
    written_ahead: BTreeSet<String>,
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
        let mut quarantined = BTreeSet::new();
        let mut unresolved = false;
        for (id, order) in &state.pending_orders {
            if order.status == PENDING_QUARANTINED {
                quarantined.insert(order.symbol.clone());
                attention.push(format!(
                    "order {id} is quarantined (it cannot be looked up on the exchange): no new {} risk until it is \
                     resolved; check it on Binance and remove pending_orders.{id} from the state document",
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
        let mut cycle = Cycle {
            now,
            today_utc: now.format("%Y-%m-%d").to_string(),
            today_id: now.format("%Y%m%d").to_string(),
            buffer_target: earn::buffer_target(usdt_total).round_dp(8).normalize(),
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
            orders_planned: 0,
            unresolved,
            quarantined,
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
            cycle.candidates =
                rotation::select_candidates(&cycle.execution_pool, &cycle.indicators, &cycle.prices_f, &cycle.btc);
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
        self.equity_report(&v, &Budgets::compute(&v))
    }

    fn count_order(&mut self, symbol: &str) -> bool {
        if let Some(max) = self.settings.max_orders_per_run
            && self.orders_planned >= max
        {
            self.gate("cycle", "max_orders_per_run", Some(symbol), json!({ "max_orders_per_run": max }));
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

    // ----- funding and outcomes -----------------------------------------

    /// A Simple Earn redeem that must run before `intent` because spot does
    /// not hold enough of what it spends or sells (behaviour.md §7.4).
    /// The cycle's planned redeem normally covers it already; this is the
    /// fallback when real fills cost more than the rehearsal estimated. Money
    /// still in transit from Earn counts as coming, so it is not redeemed twice.
    pub fn funding_for(&self, intent: &Intent) -> Option<Intent> {
        let (asset, need) = intent.requirement()?;
        let bal = self.bal(&asset);
        if bal.free + self.in_transit(&asset) >= need || bal.earn <= Decimal::ZERO || self.earn_refused.contains(&asset)
        {
            return None;
        }
        let product = self.earn_products.get(&asset)?;
        let amount = ((need - bal.free) * dec!(1.001)).min(bal.earn).round_dp(8).normalize();
        Some(
            Intent::earn(IntentKind::EarnRedeem, &asset, product, amount, "asset_availability")
                .with_detail("for", intent.client_order_id.clone().unwrap_or_default()),
        )
    }

    /// The cycle's Simple Earn redeems, decided once before the first order
    /// (design.md §3.16). The whole cycle is rehearsed on a copy with
    /// estimated fills and no Earn moves, in the shell's order (app.rs
    /// `cycle`: fuel, the day's sells, trend buys, DCA buy, DCA trim), noting
    /// per asset the most any spend lacked on spot at its turn. Sells come
    /// before buys in that order, so their proceeds already count toward
    /// the buys; only what is still missing is redeemed. One redeem per asset
    /// covers it and, for USDT, also refills the spot buffer when the
    /// rehearsal ends below its target, so the buffer step after trading
    /// normally holds or subscribes: one Earn move before, at most one after.
    /// Money an earlier redeem still has in transit counts as coming: it is
    /// not redeemed a second time (the spends it was for wait for it).
    pub fn plan_earn_funding(&self) -> Vec<Intent> {
        let mut rehearsal = self.clone();
        let mut lacking: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut spend = |c: &mut Cycle, intent: Intent| {
            if let Some((asset, need)) = intent.requirement() {
                let lack = need - c.bal(&asset).free;
                let worst = lacking.entry(asset).or_default();
                *worst = (*worst).max(lack);
            }
            c.apply(intent, Outcome::Suppressed);
        };
        if let Some(fuel) = rehearsal.plan_fuel() {
            spend(&mut rehearsal, fuel);
        }
        match rehearsal.open_day() {
            DayPlan::Latched => {}
            DayPlan::Breaker => {
                for sell in rehearsal.plan_breaker_sells() {
                    spend(&mut rehearsal, sell);
                }
                rehearsal.latch_breaker();
            }
            DayPlan::Trade => {
                for sell in rehearsal.plan_trend_sells() {
                    spend(&mut rehearsal, sell);
                }
                for buy in rehearsal.plan_trend_buys() {
                    spend(&mut rehearsal, buy);
                }
            }
        }
        if let Some(buy) = rehearsal.plan_dca_buy() {
            spend(&mut rehearsal, buy);
        }
        if let Some(trim) = rehearsal.plan_dca_trim() {
            spend(&mut rehearsal, trim);
        }
        // The buffer step runs unless an unresolved order blocks Earn moves.
        let buffer_runs = !self.unresolved && self.earn_products.contains_key(USDT);
        if buffer_runs {
            lacking.entry(USDT.to_string()).or_default();
        }
        let mut out = Vec::new();
        for (asset, deepest) in lacking {
            let Some(product) = self.earn_products.get(&asset) else { continue };
            let target = (asset == USDT && buffer_runs).then_some(self.buffer_target);
            let coming = self.in_transit(&asset);
            let (deepest, end_free) = (deepest - coming, rehearsal.bal(&asset).free + coming);
            if let Some(amount) = earn::redeem_before_trading(deepest, end_free, target, self.bal(&asset).earn) {
                out.push(
                    Intent::earn(IntentKind::EarnRedeem, &asset, product, amount, "cycle_funding")
                        .with_detail("spend_shortfall", f_dec(deepest.max(Decimal::ZERO).round_dp(8)))
                        .with_detail("spot_after_plan", f_dec(end_free.round_dp(8))),
                );
            }
        }
        out
    }

    /// Whether spot now holds what `intent` needs; `Err` says what is short.
    pub fn check_funded(&self, intent: &Intent) -> Result<(), String> {
        let Some((asset, need)) = intent.requirement() else { return Ok(()) };
        let free = self.bal(&asset).free;
        if free >= need {
            return Ok(());
        }
        let mut why = format!("insufficient free {asset}: need {}, spot has {}", need.normalize(), free.normalize());
        let coming = self.in_transit(&asset);
        if coming > Decimal::ZERO {
            why.push_str(&format!(" ({} more redeemed from Earn, not on spot yet)", coming.normalize()));
        }
        Err(why)
    }

    /// Records an order not sent because spot lacked what it needs: a
    /// skipped intent, an alert, and a reason for the operator's attention.
    pub fn skip_unfunded(&mut self, mut intent: Intent, why: String) {
        let symbol = intent.symbol().to_string();
        self.attention.push(format!("{} {symbol} skipped: {why}", intent.kind.as_str()));
        self.notify(Event::SkippedForFunds { symbol, detail: why.clone() });
        intent.status = IntentStatus::Skipped;
        intent.error = Some(why);
        self.intents.push(intent);
    }

    /// Spot free of `asset` in the working balances.
    pub fn spot_free(&self, asset: &str) -> Decimal {
        self.bal(asset).free
    }

    /// Money redeemed from Earn that has not reached spot yet.
    fn in_transit(&self, asset: &str) -> Decimal {
        self.state.earn_in_transit.get(asset).map_or(Decimal::ZERO, |t| t.amount)
    }

    /// After a confirmed redeem: `seen` is the spot free the exchange showed
    /// once the shell stopped waiting (`None`: not looked, e.g. dry-run).
    /// What has not arrived is booked as locked and recorded in the state's
    /// `earn_in_transit` ledger (saved at once), so neither this run nor the
    /// next reads it as a withdrawal, and nothing spends it before it lands.
    pub fn note_redeem_arrival(&mut self, asset: &str, seen: Option<Decimal>) {
        let Some(seen) = seen else { return };
        let expected = self.bal(asset).free;
        let (seen, missing) = (seen.normalize(), (expected - seen).max(Decimal::ZERO).normalize());
        self.bal_mut(asset).free = seen;
        if missing.is_zero() {
            return;
        }
        self.bal_mut(asset).locked += missing;
        let since = self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let entry = self.state.earn_in_transit.entry(asset.to_string()).or_insert(EarnInTransit {
            amount: Decimal::ZERO,
            spot_free_seen: seen,
            since,
            unconfirmed: None,
        });
        entry.amount = (entry.amount + missing).normalize();
        entry.spot_free_seen = seen;
        self.warnings.push(format!(
            "{} {asset} redeemed from Earn had not reached spot when the cycle stopped waiting; \
             recorded as in transit",
            missing.normalize()
        ));
        self.save(format!("earn_in_transit:{asset}"));
    }

    /// Start of a cycle: settles what the ledger says was in transit. Spot
    /// free above what the last run saw is the credit arriving; the rest is
    /// still coming and is booked as locked (owned, not spendable). An entry
    /// older than [`EARN_IN_TRANSIT_MAX_HOURS`] is dropped with a warning:
    /// the flow check then books the missing money as a withdrawal.
    fn settle_earn_in_transit(&mut self) {
        let ledger = std::mem::take(&mut self.state.earn_in_transit);
        for (asset, mut entry) in ledger {
            if let Some(sent) = entry.unconfirmed.take() {
                // Whatever left Earn since the redeem was written ahead is
                // what it moved; nothing left if it was never sent.
                let left = (sent.earn_before - self.bal(&asset).earn).max(Decimal::ZERO).min(sent.amount);
                entry.amount = (entry.amount + left).normalize();
            }
            let free = self.bal(&asset).free;
            let arrived = (free - entry.spot_free_seen).max(Decimal::ZERO).min(entry.amount);
            entry.amount = (entry.amount - arrived).normalize();
            entry.spot_free_seen = free.normalize();
            if entry.amount.is_zero() {
                continue;
            }
            let since = DateTime::parse_from_rfc3339(&entry.since).map(|t| t.with_timezone(&Utc));
            let expired = since.map_or(true, |t| self.now - t > chrono::Duration::hours(EARN_IN_TRANSIT_MAX_HOURS));
            if expired {
                self.attention.push(format!(
                    "{} {asset} redeemed from Earn at {} never reached spot; no longer counted as owned",
                    entry.amount.normalize(),
                    entry.since
                ));
                continue;
            }
            self.bal_mut(&asset).locked += entry.amount;
            self.state.earn_in_transit.insert(asset, entry);
        }
    }

    /// Records a live redeem in the `earn_in_transit` ledger before it is
    /// sent, with the Earn balance it leaves from, so that a run dying
    /// between sending it and seeing its answer leaves the next run a record
    /// (settled in [`Cycle::settle_earn_in_transit`]). Returns the entry it
    /// replaced, for [`Cycle::redeem_answered`].
    pub fn write_ahead_redeem(&mut self, intent: &Intent) -> Option<EarnInTransit> {
        let asset = intent.asset.clone();
        let previous = self.state.earn_in_transit.get(&asset).cloned();
        let mut entry = previous.clone().unwrap_or_else(|| EarnInTransit {
            amount: Decimal::ZERO,
            spot_free_seen: self.bal(&asset).free.normalize(),
            since: self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            unconfirmed: None,
        });
        entry.unconfirmed = Some(UnconfirmedRedeem {
            amount: intent.amount.unwrap_or_default(),
            earn_before: self.bal(&asset).earn.normalize(),
        });
        self.state.earn_in_transit.insert(asset, entry);
        previous
    }

    /// The written-ahead redeem got an answer: the ledger goes back to what
    /// it was before (a confirmed redeem is then booked by
    /// [`Cycle::note_redeem_arrival`]). An unknown outcome keeps the record
    /// for the next run.
    pub fn redeem_answered(&mut self, asset: &str, previous: Option<EarnInTransit>, outcome: &Outcome) {
        if matches!(outcome, Outcome::Unresolved(_)) {
            return;
        }
        match previous {
            Some(entry) => self.state.earn_in_transit.insert(asset.to_string(), entry),
            None => self.state.earn_in_transit.shift_remove(asset),
        };
    }

    /// Records an order in the pending ledger before it is sent (design.md
    /// §3.2): the shell saves the state with it, and sends only if that save
    /// succeeded. [`Cycle::apply`] settles the entry.
    pub fn write_ahead(&mut self, intent: &Intent, run_id: &str) {
        let Some(id) = intent.client_order_id.clone() else { return };
        let entry = PendingOrder {
            client_order_id: id.clone(),
            kind: intent.kind,
            symbol: intent.symbol().to_string(),
            side: intent.kind.side().unwrap_or(Side::Buy),
            quantity: intent.quantity,
            quote_amount: intent.amount,
            price: intent.price.unwrap_or_default(),
            run_id: run_id.to_string(),
            created_at: self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            status: "pending".to_string(),
            lease_until: None,
        };
        self.written_ahead.insert(id.clone());
        self.state.pending_orders.insert(id, entry);
    }

    /// This cycle will send nothing more: its entries left in the ledger no
    /// longer carry its lease (the next run may settle or drop them at once).
    pub fn done_sending(&mut self) {
        for id in &self.written_ahead {
            if let Some(entry) = self.state.pending_orders.get_mut(id) {
                entry.lease_until = None;
            }
        }
    }

    /// Applies the outcome of an intent produced by this cycle and records it.
    pub fn apply(&mut self, mut intent: Intent, outcome: Outcome) {
        // Only an entry this cycle wrote ahead is settled here: a same-slot
        // intent skipped because an earlier run's entry is still pending
        // must leave that entry alone.
        if let Some(id) = intent.client_order_id.as_ref().filter(|id| self.written_ahead.contains(*id)) {
            if matches!(outcome, Outcome::Unresolved(_)) {
                if let Some(p) = self.state.pending_orders.get_mut(id) {
                    p.status = "unresolved".to_string();
                }
            } else {
                self.state.pending_orders.shift_remove(id);
            }
        }
        match outcome {
            Outcome::Suppressed => {
                intent.status = IntentStatus::Suppressed;
                if intent.kind.is_order() {
                    let fill = intent.estimated_fill();
                    if let Some(f) = &fill {
                        self.apply_fill(&intent, f);
                    }
                    intent.fill = fill;
                } else {
                    self.apply_earn(&intent);
                }
            }
            Outcome::Filled(fill) => {
                intent.status = IntentStatus::Filled;
                self.apply_fill(&intent, &fill);
                intent.fill = Some(fill);
            }
            Outcome::EarnDone => {
                intent.status = IntentStatus::Filled;
                self.apply_earn(&intent);
            }
            Outcome::Rejected(why) => {
                intent.status = IntentStatus::Rejected;
                self.failed(&intent, &why);
                intent.error = Some(why);
            }
            Outcome::Unresolved(why) => {
                intent.status = IntentStatus::Unresolved;
                self.unresolved = true;
                if let Some(id) = &intent.client_order_id {
                    // Persist the ledger entry's new status right away.
                    self.save(format!("unresolved:{id}"));
                }
                if intent.kind.is_order() {
                    self.notify(Event::OrderUnresolved {
                        symbol: intent.symbol().to_string(),
                        client_order_id: intent.client_order_id.clone().unwrap_or_default(),
                    });
                } else {
                    self.failed(&intent, &format!("outcome unknown: {why}"));
                }
                self.attention.push(format!(
                    "{} outcome unknown: {why}",
                    intent.client_order_id.as_deref().unwrap_or("earn move")
                ));
                intent.error = Some(why);
            }
            Outcome::Skipped(why) => {
                intent.status = IntentStatus::Skipped;
                self.failed(&intent, &why);
                intent.error = Some(why);
            }
        }
        self.intents.push(intent);
    }

    fn failed(&mut self, intent: &Intent, why: &str) {
        let symbol = intent.symbol().to_string();
        let error = why.to_string();
        // A refused or skipped order or Earn move needs an operator's look
        // (design.md §3.19): the run's status becomes `attention`.
        let kind = intent.kind.as_str();
        if intent.kind.is_order() {
            let id = intent.client_order_id.as_deref().map(|id| format!(" ({id})")).unwrap_or_default();
            self.attention.push(format!("{kind} {symbol}{id} not executed: {why}"));
        } else {
            let amount = intent.amount.unwrap_or_default().normalize();
            self.attention.push(format!("{kind} of {amount} {} failed: {why}", intent.asset));
        }
        let event = match intent.kind {
            IntentKind::TrendBuy => Event::TrendBuyFailed { symbol, error },
            IntentKind::TrendSell => Event::TrendSellFailed { symbol, reason: sell_reason_of(intent), error },
            IntentKind::BreakerSell => Event::CircuitBreakerSellFailed { symbol, error },
            IntentKind::DcaBuy => Event::DcaBuyFailed { error },
            IntentKind::DcaSell => Event::DcaTrimFailed { error },
            IntentKind::FuelBuy => Event::FuelTopUpFailed { error },
            IntentKind::EarnRedeem => Event::RedeemFailed { asset: intent.asset.clone(), error },
            IntentKind::EarnSubscribe => {
                self.log_lines.push(format!("⚠️ USDT Earn buffer maintenance failed: {why}"));
                let amount = intent.amount.unwrap_or_default().normalize().to_string();
                Event::SubscribeFailed { asset: intent.asset.clone(), amount, error }
            }
        };
        if !intent.kind.is_order() {
            // A refused Earn move leaves money where the plan did not want
            // it; it is not tried again this cycle.
            self.earn_refused.insert(intent.asset.clone());
        }
        self.notify(event);
    }

    fn apply_earn(&mut self, intent: &Intent) {
        let amount = intent.amount.unwrap_or_default();
        let b = self.bal_mut(&intent.asset);
        match intent.kind {
            IntentKind::EarnSubscribe => {
                b.free -= amount;
                b.earn += amount;
            }
            IntentKind::EarnRedeem => {
                let moved = amount.min(b.earn);
                b.earn -= moved;
                b.free += moved;
                if intent.reason == "asset_availability" {
                    self.log_lines.push(format!("🔄 Spot {} short: redeeming {} from Earn", intent.asset, amount));
                }
            }
            _ => {}
        }
    }

    /// Books a fill (state and snapshot through [`booking::book_fill`], the
    /// same function reconciliation uses), moves the working balances by it,
    /// and queues the save and notification of its step.
    fn apply_fill(&mut self, intent: &Intent, fill: &Fill) {
        let symbol = intent.symbol().to_string();
        let facts = OrderFacts {
            kind: intent.kind,
            symbol: &symbol,
            base: &intent.asset,
            ordered_qty: intent.quantity,
            planned_price: intent.price,
        };
        let today_id = self.today_id.clone();
        let deltas =
            booking::book_fill(&mut self.state, &facts, fill, FillDay { day_id: &today_id, counts_today: true });
        // Not clamped at zero: the Earn funding rehearsal
        // (`plan_earn_funding`) spends beyond spot on purpose and reads the
        // shortfall from the negative balance.
        for (asset, delta) in deltas {
            self.bal_mut(&asset).free += delta;
        }
        let price = fill.average_price().or(intent.price).map(f_dec).unwrap_or(0.0);
        let qty = fill.executed_qty.normalize().to_string();
        match intent.kind {
            IntentKind::TrendBuy => {
                self.save(format!("trend_buy:{symbol}"));
                let d = &intent.detail;
                let num = |k: &str| d.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                self.notify(Event::TrendBuy {
                    symbol,
                    price,
                    budget: num("budget"),
                    weight: num("weight"),
                    relative_score: num("relative_score"),
                    quantity: qty,
                });
            }
            IntentKind::TrendSell | IntentKind::BreakerSell => {
                self.sold_this_cycle.insert(symbol.clone());
                if intent.kind == IntentKind::TrendSell {
                    self.save(format!("trend_sell:{symbol}"));
                    self.notify(Event::TrendSell { symbol, reason: sell_reason_of(intent), price, quantity: qty });
                }
            }
            IntentKind::DcaBuy => {
                self.save("btc_dca_buy");
                let ratio = Budgets::compute(&self.values()).btc_target_ratio;
                let ahr = intent.detail.get("ahr999").and_then(Value::as_f64).unwrap_or(0.0);
                self.notify(Event::DcaBuy { ahr999: ahr, btc_target_ratio: ratio, quantity: qty });
            }
            IntentKind::DcaSell => {
                self.save("btc_dca_sell");
                let d = &intent.detail;
                let num = |k: &str| d.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                self.notify(Event::DcaTrim { zscore: num("zscore"), sell_pct: num("sell_pct"), quantity: qty });
            }
            IntentKind::FuelBuy => {
                self.log_lines.push(format!(
                    "🔧 BNB top-up completed: {} BNB for {} USDT",
                    qty,
                    fill.quote_qty.normalize()
                ));
            }
            IntentKind::EarnSubscribe | IntentKind::EarnRedeem => {}
        }
    }

    // ----- steps ---------------------------------------------------------

    /// BNB fee fuel top-up (behaviour.md §5.2 step 4), a `quoteOrderQty` buy.
    pub fn plan_fuel(&mut self) -> Option<Intent> {
        let bnb_price = self.price_dec(BNB_SYMBOL)?;
        let value = self.bal("BNB").total() * bnb_price;
        if value >= FUEL_MIN_USDT || self.bal(USDT).total() < FUEL_TOP_UP_USDT {
            return None;
        }
        if self.settings.paused {
            self.gate("fuel", "paused", Some(BNB_SYMBOL), Value::Null);
            return None;
        }
        if self.unresolved {
            self.gate("fuel", "unresolved_order_pending", Some(BNB_SYMBOL), Value::Null);
            return None;
        }
        if let Err(e) = self.rules_for(BNB_SYMBOL).check_notional(FUEL_TOP_UP_USDT) {
            self.gate("fuel", "fuel_below_min_notional", Some(BNB_SYMBOL), json!(e.to_string()));
            return None;
        }
        if !self.count_order(BNB_SYMBOL) {
            return None;
        }
        let mut intent = Intent::order(
            self.now,
            IntentKind::FuelBuy,
            BNB_SYMBOL,
            "BNB",
            Decimal::ZERO,
            bnb_price,
            "bnb_fuel_top_up",
        );
        intent.quantity = None;
        intent.amount = Some(FUEL_TOP_UP_USDT);
        Some(intent.with_detail("bnb_value_usdt", f_dec(value.round_dp(4))))
    }

    /// Daily reset, external flows, PnL and the breaker decision, on the
    /// pre-trade valuation.
    pub fn open_day(&mut self) -> DayPlan {
        let values = self.values();
        let budgets = Budgets::compute(&values);
        self.pre_trade = Some((values, budgets));
        let (e, t) = (values.total(), values.trend);
        let today = self.today_utc.clone();
        let reset = daily::open_day(&mut self.state, &today, e, t);
        if let Some(reason) = reset {
            self.save(reason);
        }
        // `previous` is the last run's closing snapshot moved by every fill
        // booked since (a settled pending order, this run's fuel buy), so
        // the difference is only what came in or went out from outside.
        // From here on each fill moves the new snapshot the same way.
        let current = self.balance_snapshot();
        let previous = std::mem::replace(&mut self.state.last_balance_snapshot, current.clone());
        if reset != Some("daily_reset") && !previous.is_empty() {
            let trend_assets: BTreeSet<&String> = self.runtime.values().collect();
            let prices = &self.prices_f;
            let runtime = &self.runtime;
            let flows = daily::external_flows(
                &previous,
                &current,
                |asset| {
                    if asset == USDT {
                        return Some(1.0);
                    }
                    let symbol = runtime.iter().find(|(_, b)| b.as_str() == asset).map(|(s, _)| s.clone());
                    prices.get(&symbol.unwrap_or_else(|| format!("{asset}USDT"))).copied()
                },
                |asset| trend_assets.iter().any(|a| a.as_str() == asset),
            );
            if !flows.is_empty() {
                daily::apply_flows(&mut self.state, &flows);
                let list: Vec<String> =
                    flows.iter().map(|f| format!("{} {:+.2} USDT", f.asset, f.value_usdt)).collect();
                self.log_lines.push(format!(
                    "🔁 External balance flow since last cycle: {}; daily bases adjusted",
                    list.join(", ")
                ));
                self.save("external_balance_flow_rebase");
            }
        }
        self.pnl = daily::daily_pnl(&self.state, e, t);
        self.log_portfolio(&values, &budgets);
        if self.state.is_circuit_broken {
            self.log_lines.insert(
                0,
                format!("🧯 Circuit breaker latched today (equity ${e:.2}): trend sleeve idle; BTC DCA and Earn buffer continue"),
            );
            self.gate("trend", "circuit_breaker_latched", None, Value::Null);
            DayPlan::Latched
        } else if self.pnl.1 <= CIRCUIT_BREAKER_PNL {
            DayPlan::Breaker
        } else {
            DayPlan::Trade
        }
    }

    /// Post-cycle balances per asset (totals incl. Earn), the reference's
    /// `last_balance_snapshot` shape.
    fn balance_snapshot(&self) -> IndexMap<String, f64> {
        let mut snap = IndexMap::new();
        let round8 = |d: Decimal| f_dec(d.round_dp(8));
        snap.insert(USDT.to_string(), round8(self.bal(USDT).total()));
        snap.insert("BTC".to_string(), round8(self.bal("BTC").total()));
        for base in self.runtime.values() {
            snap.insert(base.clone(), round8(self.bal(base).total()));
        }
        snap
    }

    fn log_portfolio(&mut self, v: &AccountValues, b: &Budgets) {
        let gate = if self.btc.regime_on == Some(true) { "ON" } else { "OFF" };
        let opt = |x: Option<f64>, p: usize| x.map(|v| format!("{v:.p$}")).unwrap_or_else(|| "n/a".into());
        self.log_lines.extend([
            "━━━━━━━━━ 📦 Portfolio snapshot ━━━━━━━━━".to_string(),
            format!("💰 Total equity: ${:.2} (daily {:+.1}%)", v.total(), self.pnl.0 * 100.0),
            format!("🪙 BTC core target: {:.0}% | ${:.2}", b.btc_target_ratio * 100.0, v.dca),
            format!(
                "🔥 Trend sleeve target: {:.0}% | ${:.2} (daily {:+.1}%)",
                b.trend_target_ratio * 100.0,
                v.trend,
                self.pnl.1 * 100.0
            ),
            format!("⛽ BNB fuel: ${:.2}", v.fuel),
            format!("🚦 BTC gate: {gate} | Ahr999={} Z={}", opt(self.btc.ahr999, 2), opt(self.btc.zscore, 1)),
            "━".repeat(30),
        ]);
    }

    /// Liquidation of the trend sleeve by the circuit breaker (§6.7).
    pub fn plan_breaker_sells(&mut self) -> Vec<Intent> {
        self.breaker_triggered = true;
        let mut out = Vec::new();
        for (symbol, base) in self.runtime.clone() {
            let Some(price) = self.price_dec(&symbol) else { continue };
            let sellable = self.sellable(&base, price);
            let value = f_dec(sellable * price);
            if value <= MIN_BREAKER_SELL_USDT {
                if self.bal(&base).total() > Decimal::ZERO {
                    self.gate(
                        "trend",
                        "circuit_breaker_sell_below_min_position",
                        Some(&symbol),
                        json!({ "position_value_usdt": gate_detail_round(value) }),
                    );
                }
                if self.state.position(&symbol).is_holding {
                    self.state.set_position(&symbol, TrendPosition::default());
                }
                continue;
            }
            match self.rules_for(&symbol).fit_market_qty(sellable, price) {
                Ok(qty) if self.count_order(&symbol) => out.push(
                    Intent::order(
                        self.now,
                        IntentKind::BreakerSell,
                        &symbol,
                        &base,
                        qty,
                        price,
                        "daily_circuit_breaker",
                    )
                    .with_detail("position_value_usdt", gate_detail_round(value)),
                ),
                Ok(_) => {}
                Err(e) => {
                    self.notify(Event::CircuitBreakerSellSkipped { symbol: symbol.clone(), detail: e.to_string() });
                    self.gate("trend", "circuit_breaker_sell_unfit", Some(&symbol), json!(e.to_string()));
                }
            }
        }
        out
    }

    /// Latches the breaker after its sells ran.
    pub fn latch_breaker(&mut self) {
        self.state.is_circuit_broken = true;
        self.save("daily_circuit_breaker");
        self.notify(Event::CircuitBreaker { pnl: self.pnl.1 });
        self.log_lines.push(format!(
            "🧯 Circuit breaker fired: trend sleeve daily PnL {:+.2}% ≤ {:.0}%; trend sleeve liquidated",
            self.pnl.1 * 100.0,
            CIRCUIT_BREAKER_PNL * 100.0
        ));
    }

    /// What can be sold of `base`: free + Earn, never locked, minus the BNB
    /// fee reserve when BNB itself is a trend symbol.
    fn sellable(&self, base: &str, price: Decimal) -> Decimal {
        let mut q = self.bal(base).sellable();
        if base == "BNB" && price > Decimal::ZERO {
            q -= (FUEL_MIN_USDT * dec!(1.2) / price).round_dp(8);
        }
        q.max(Decimal::ZERO)
    }

    /// Trend sells (§6.4 reasons, §7.5 execution), in runtime-universe order.
    pub fn plan_trend_sells(&mut self) -> Vec<Intent> {
        self.log_lines.push(if self.execution_pool.is_empty() {
            "🎯 No execution pool".to_string()
        } else {
            format!("🎯 {}", self.execution_pool.join(", "))
        });
        if !self.btc_trend_inputs_ok() {
            self.gate("trend", "btc_snapshot_incomplete", None, json!("regime_on or BTC momentum missing"));
            self.warnings
                .push("BTC snapshot lacks regime_on or momentum: trend rotation skipped (no sells, no buys)".into());
            return Vec::new();
        }
        if self.candidates.is_empty() {
            let reasons =
                rotation::candidate_filter_reasons(&self.execution_pool, &self.indicators, &self.prices_f, &self.btc);
            self.gate(
                "trend",
                "trend_no_selected_candidate",
                None,
                json!({ "active_trend_pool_size": self.execution_pool.len(), "candidate_filter_reasons": reasons }),
            );
        }
        let mut out = Vec::new();
        for (symbol, base) in self.runtime.clone() {
            let Some(price) = self.price(&symbol) else { continue };
            let mut pos = self.state.position(&symbol);
            if !pos.is_holding {
                continue;
            }
            let ind = self.indicators.get(&symbol).filter(|_| self.official.contains_key(&symbol));
            let reason = rotation::sell_reason(&mut pos.highest_price, price, ind, self.is_candidate(&symbol));
            self.state.set_position(&symbol, pos);
            let Some(reason) = reason else { continue };
            if self.state.acted_today(&symbol, "sell", &self.today_id) {
                self.log_lines.push(format!("⏭️ {symbol}: already sold today, skipping duplicate sell"));
                continue;
            }
            let price_d = self.price_dec(&symbol).unwrap_or_default();
            let sellable = self.sellable(&base, price_d);
            match self.rules_for(&symbol).fit_market_qty(sellable, price_d) {
                Ok(qty) => {
                    if !self.count_order(&symbol) {
                        continue;
                    }
                    let mut intent =
                        Intent::order(self.now, IntentKind::TrendSell, &symbol, &base, qty, price_d, reason.code());
                    if let SellReason::AtrStop { stop_price } = reason {
                        intent = intent.with_detail("stop_price", round_to(stop_price, 8));
                    }
                    out.push(intent);
                }
                Err(QtyReject::Zero { .. }) if sellable.is_zero() => {
                    // Held in state but nothing on the account (sold by hand):
                    // the position is gone, say so once and stop tracking it.
                    self.state.set_position(&symbol, TrendPosition::default());
                    self.notify(Event::TrendSellSkipped {
                        symbol: symbol.clone(),
                        reason,
                        detail: "no sellable balance; position marked flat".into(),
                    });
                    self.gate("trend", "trend_sell_nothing_to_sell", Some(&symbol), Value::Null);
                }
                Err(e) => {
                    // Dust below the exchange minimum cannot be sold; stop
                    // treating it as a position instead of failing every hour.
                    self.state.set_position(&symbol, TrendPosition::default());
                    self.gate(
                        "trend",
                        "trend_sell_dust",
                        Some(&symbol),
                        json!({ "reason": reason.code(), "detail": e.to_string() }),
                    );
                }
            }
        }
        out
    }

    /// Trend buys (§6.4 planning, §7.6 sizing) from the post-sell valuation.
    pub fn plan_trend_buys(&mut self) -> Vec<Intent> {
        if !self.btc_trend_inputs_ok() {
            return Vec::new();
        }
        if self.candidates.is_empty() {
            return Vec::new();
        }
        let budgets = Budgets::compute(&self.values());
        let allow = self.new_entries_allowed() && self.btc_valuation().is_some();
        if self.settings.paused {
            self.gate("trend", "paused", None, Value::Null);
        }
        let eligible: Vec<Candidate> = if allow {
            self.candidates
                .iter()
                .filter(|c| {
                    let s = c.symbol.as_str();
                    let above = match (self.indicators.get(s), self.price(s)) {
                        (Some(i), Some(p)) => rotation::TrendInputs::from(i).is_ok_and(|t| t.above_all_smas(p)),
                        _ => false,
                    };
                    !self.state.position(s).is_holding && above && !self.sold_this_cycle.contains(s)
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        if eligible.is_empty() {
            self.gate(
                "trend",
                "trend_no_eligible_buy",
                None,
                json!({ "selected_candidate_count": self.candidates.len(), "allow_new_trend_entries": allow }),
            );
        }
        let refs: Vec<&Candidate> = eligible.iter().collect();
        let mut out = Vec::new();
        for (symbol, budget) in rotation::split_budget(budgets.trend_usdt_pool, &refs) {
            let c = eligible.iter().find(|c| c.symbol == symbol).cloned().expect("budget symbols come from eligible");
            if budget <= MIN_TREND_BUY_USDT {
                self.gate(
                    "trend",
                    "trend_buy_below_min_budget",
                    Some(&symbol),
                    json!({ "budget_usdt": gate_detail_round(budget) }),
                );
                continue;
            }
            if self.state.acted_today(&symbol, "buy", &self.today_id) {
                self.gate("trend", "trend_buy_duplicate_cooldown", Some(&symbol), Value::Null);
                self.log_lines.push(format!("⏭️ {symbol}: already bought today, skipping duplicate buy"));
                continue;
            }
            if self.unresolved {
                self.gate("trend", "unresolved_order_pending", Some(&symbol), Value::Null);
                continue;
            }
            if self.quarantined.contains(&symbol) {
                self.gate("trend", "order_quarantined", Some(&symbol), Value::Null);
                continue;
            }
            let base = self.base_of(&symbol);
            let price = self.price_dec(&symbol).unwrap_or_default();
            match self.buy_quantity(&symbol, budget, price) {
                Ok((qty, capped)) => {
                    if !self.count_order(&symbol) {
                        continue;
                    }
                    let mut intent =
                        Intent::order(self.now, IntentKind::TrendBuy, &symbol, &base, qty, price, "rotation_entry")
                            .with_detail("budget", round_to(budget, 8))
                            .with_detail("weight", round_to(c.weight, 8))
                            .with_detail("relative_score", round_to(c.relative_score, 8));
                    if capped {
                        intent = intent.with_detail("capped_by", "MAX_NOTIONAL_PER_ORDER_USDT");
                    }
                    out.push(intent);
                }
                Err(e) => {
                    self.gate(
                        "trend",
                        "trend_buy_zero_order_size",
                        Some(&symbol),
                        json!({ "budget_usdt": gate_detail_round(budget), "detail": e.to_string() }),
                    );
                    self.notify(Event::TrendBuySkipped { symbol: symbol.clone(), detail: e.to_string() });
                }
            }
        }
        out
    }

    /// Quantity for a buy of `budget` USDT: 98.5% of it at the reference
    /// price, capped by `MAX_NOTIONAL_PER_ORDER_USDT`, fitted to the rules.
    fn buy_quantity(&self, symbol: &str, budget: f64, price: Decimal) -> Result<(Decimal, bool), QtyReject> {
        let rules = self.rules_for(symbol);
        if price <= Decimal::ZERO {
            return Err(QtyReject::BadPrice { price });
        }
        let mut wanted = dec_f(budget) * dec_f(dca::BUY_SIZING_FACTOR) / price;
        let mut capped = false;
        if let Some(cap) = self.settings.max_notional_per_order
            && wanted * price > cap
        {
            wanted = cap / price;
            capped = true;
        }
        rules.fit_market_qty(wanted, price).map(|q| (q, capped))
    }

    /// Logs the trend holdings after trading.
    pub fn log_holdings(&mut self) {
        let held: Vec<String> = self.runtime.keys().filter(|s| self.state.position(s).is_holding).cloned().collect();
        self.log_lines.push(if held.is_empty() {
            "💤 No trend holdings".to_string()
        } else {
            format!("📌 {}", held.join(", "))
        });
    }

    /// ahr999, zscore and sell_trigger, all present (fail closed otherwise,
    /// design.md §3.11).
    fn btc_valuation(&self) -> Option<(f64, f64, f64)> {
        Some((self.btc.ahr999?, self.btc.zscore?, self.btc.sell_trigger?))
    }

    /// BTC DCA buy (§6.5 steps 1-5) on the post-trade valuation.
    pub fn plan_dca_buy(&mut self) -> Option<Intent> {
        let v = self.values();
        let b = Budgets::compute(&v);
        if b.dca_usdt_pool <= dca::MIN_SLEEVE_USDT && v.dca <= dca::MIN_SLEEVE_USDT {
            self.gate(
                "btc_dca",
                "btc_dca_pool_too_small",
                None,
                json!({ "dca_usdt_pool": gate_detail_round(b.dca_usdt_pool), "dca_val": gate_detail_round(v.dca) }),
            );
            return None;
        }
        let Some((ahr, z, trigger)) = self.btc_valuation() else {
            self.gate("btc_dca", "btc_snapshot_incomplete", None, json!("ahr999, zscore or sell_trigger missing"));
            self.warnings
                .push("BTC snapshot lacks ahr999, zscore or sell_trigger: no BTC DCA and no new trend entries".into());
            return None;
        };
        self.log_lines
            .push(format!("🧭 BTC accumulation radar: Ahr999={ahr:.3} | Z-Score={z:.2} (threshold {trigger:.2})"));
        let m = dca::buy_multiplier(ahr);
        if m <= 0.0 {
            self.gate("btc_dca", "btc_dca_buy_valuation_gate_off", None, json!({ "ahr999": gate_detail_round(ahr) }));
            return None;
        }
        if b.dca_usdt_pool <= dca::MIN_BUY_POOL_USDT {
            self.gate(
                "btc_dca",
                "btc_dca_buy_below_min_budget",
                None,
                json!({ "dca_usdt_pool": gate_detail_round(b.dca_usdt_pool) }),
            );
            return None;
        }
        if self.state.dca_last_buy_date == self.today_id {
            self.gate("btc_dca", "btc_dca_buy_duplicate_cooldown", None, Value::Null);
            return None;
        }
        if self.settings.paused {
            self.gate("btc_dca", "paused", Some(BTC_SYMBOL), Value::Null);
            return None;
        }
        if self.unresolved {
            self.gate("btc_dca", "unresolved_order_pending", Some(BTC_SYMBOL), Value::Null);
            return None;
        }
        if self.quarantined.contains(BTC_SYMBOL) {
            self.gate("btc_dca", "order_quarantined", Some(BTC_SYMBOL), Value::Null);
            return None;
        }
        let budget = b.dca_usdt_pool.min(b.btc_base_order_usdt * m);
        let price = self.price_dec(BTC_SYMBOL)?;
        match self.buy_quantity(BTC_SYMBOL, budget, price) {
            Ok((qty, capped)) if self.count_order(BTC_SYMBOL) => {
                let mut i =
                    Intent::order(self.now, IntentKind::DcaBuy, BTC_SYMBOL, "BTC", qty, price, "btc_dca_accumulate")
                        .with_detail("budget", round_to(budget, 8))
                        .with_detail("ahr999", ahr)
                        .with_detail("multiplier", m);
                if capped {
                    i = i.with_detail("capped_by", "MAX_NOTIONAL_PER_ORDER_USDT");
                }
                Some(i)
            }
            Ok(_) => None,
            Err(e) => {
                self.gate(
                    "btc_dca",
                    "btc_dca_buy_zero_order_size",
                    None,
                    json!({ "budget_usdt": gate_detail_round(budget), "detail": e.to_string() }),
                );
                self.notify(Event::DcaBuySkipped { detail: e.to_string() });
                None
            }
        }
    }

    /// BTC trim on a high z-score (§6.5 steps 6-7), after any DCA buy.
    pub fn plan_dca_trim(&mut self) -> Option<Intent> {
        let (_, z, trigger) = self.btc_valuation()?;
        if z <= trigger {
            return None;
        }
        let v = self.values();
        if v.dca <= dca::MIN_TRIM_POSITION_USDT {
            self.gate(
                "btc_dca",
                "btc_dca_sell_below_min_position",
                None,
                json!({ "dca_val": gate_detail_round(v.dca), "zscore": gate_detail_round(z) }),
            );
            return None;
        }
        if self.state.dca_last_sell_date == self.today_id {
            self.gate("btc_dca", "btc_dca_sell_duplicate_cooldown", None, json!({ "zscore": gate_detail_round(z) }));
            return None;
        }
        let pct = dca::trim_fraction(z);
        let price = self.price_dec(BTC_SYMBOL)?;
        let wanted = self.bal("BTC").sellable() * dec_f(pct);
        match self.rules_for(BTC_SYMBOL).fit_market_qty(wanted, price) {
            Ok(qty) if self.count_order(BTC_SYMBOL) => Some(
                Intent::order(self.now, IntentKind::DcaSell, BTC_SYMBOL, "BTC", qty, price, "btc_dca_trim")
                    .with_detail("sell_pct", pct)
                    .with_detail("zscore", z),
            ),
            Ok(_) => None,
            Err(e) => {
                self.gate("btc_dca", "btc_dca_sell_zero_order_size", None, json!(e.to_string()));
                self.notify(Event::DcaTrimSkipped { detail: e.to_string() });
                None
            }
        }
    }

    /// USDT Flexible-Earn buffer (§6.6) on the working spot USDT (design.md §3.8).
    pub fn plan_earn_buffer(&mut self) -> Option<Intent> {
        if self.unresolved {
            self.gate("earn", "unresolved_order_pending", None, Value::Null);
            return None;
        }
        let Some(product) = self.earn_products.get(USDT).cloned() else {
            self.gate("earn", "earn_no_usdt_product", None, Value::Null);
            return None;
        };
        if self.earn_refused.contains(USDT) {
            self.gate("earn", "earn_move_failed_this_cycle", None, Value::Null);
            return None;
        }
        let coming = self.in_transit(USDT);
        if coming > Decimal::ZERO {
            // Spot is about to grow by what is still in transit: moving
            // money now would churn it; the next run balances the buffer.
            self.gate("earn", "earn_redeem_in_transit", None, json!({ "in_transit_usdt": f_dec(coming) }));
            return None;
        }
        let usdt = self.bal(USDT);
        match earn::buffer_move(usdt.free.max(Decimal::ZERO), self.buffer_target, usdt.earn) {
            BufferMove::Subscribe(amount) => {
                self.log_lines.push(format!(
                    "📥 Cash buffer: subscribing {:.2} USDT above the {} USDT target to Earn",
                    amount, self.buffer_target
                ));
                Some(Intent::earn(IntentKind::EarnSubscribe, USDT, &product, amount, "maintain_usdt_buffer"))
            }
            BufferMove::Redeem(amount) => {
                self.log_lines.push(format!(
                    "📤 Cash buffer: redeeming {:.2} USDT from Earn to reach the {} USDT target",
                    amount, self.buffer_target
                ));
                Some(Intent::earn(IntentKind::EarnRedeem, USDT, &product, amount, "maintain_usdt_buffer"))
            }
            BufferMove::Hold => None,
        }
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
        let b = Budgets::compute(&v);
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

fn sell_reason_of(intent: &Intent) -> SellReason {
    match intent.reason.as_str() {
        "missing_indicators" => SellReason::MissingIndicators,
        "below_sma60" => SellReason::BelowSma60,
        "atr_stop" => {
            SellReason::AtrStop { stop_price: intent.detail.get("stop_price").and_then(Value::as_f64).unwrap_or(0.0) }
        }
        "daily_circuit_breaker" => SellReason::DailyCircuitBreaker,
        _ => SellReason::RotatedOut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intent::Commission;
    use crate::domain::pool::{SourceKind, UpstreamPayload};
    use crate::domain::rules::LotRule;
    use chrono::TimeZone;

    fn universe() -> Universe {
        [("ETHUSDT", "ETH"), ("SOLUSDT", "SOL")].iter().map(|(s, b)| (s.to_string(), b.to_string())).collect()
    }

    fn ind(sma: (f64, f64, f64), roc: (f64, f64, f64), vol: f64, atr: f64) -> Indicators {
        Indicators {
            sma20: Some(sma.0),
            sma60: Some(sma.1),
            sma200: Some(sma.2),
            roc20: Some(roc.0),
            roc60: Some(roc.1),
            roc120: Some(roc.2),
            vol20: Some(vol),
            atr14: Some(atr),
            ..Default::default()
        }
    }

    fn inputs(usdt_free: Decimal, usdt_earn: Decimal) -> CycleInputs {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap();
        let official = universe();
        let payload = UpstreamPayload {
            as_of_date: "2026-03-01".into(),
            version: "2026-03-01-core_major".into(),
            mode: "core_major".into(),
            symbols: official.clone(),
            source_project: "test".into(),
        };
        let resolution = PoolResolution {
            source_kind: SourceKind::FreshUpstream,
            source_label: "test".into(),
            is_fresh: true,
            messages: vec![],
            errors: vec![],
            loaded_at: now,
            payload,
        };
        let mut balances = BTreeMap::new();
        balances.insert(USDT.to_string(), AssetBalance { free: usdt_free, locked: Decimal::ZERO, earn: usdt_earn });
        balances.insert("BNB".to_string(), AssetBalance { free: dec!(1), ..Default::default() });
        let prices: BTreeMap<String, Decimal> =
            [("ETHUSDT", dec!(3200)), ("SOLUSDT", dec!(180)), ("BTCUSDT", dec!(80000)), ("BNBUSDT", dec!(600))]
                .into_iter()
                .map(|(s, p)| (s.to_string(), p))
                .collect();
        let step = |s: Decimal| SymbolRules {
            lot: Some(LotRule { min_qty: Decimal::ZERO, max_qty: Decimal::ZERO, step_size: s }),
            min_notional: Some(dec!(5)),
            ..Default::default()
        };
        let rules = [("ETHUSDT", step(dec!(0.0001))), ("SOLUSDT", step(dec!(0.001))), ("BTCUSDT", step(dec!(0.00001)))]
            .into_iter()
            .map(|(s, r)| (s.to_string(), r))
            .collect();
        let indicators = [
            ("ETHUSDT", ind((3050.0, 2900.0, 2600.0), (0.12, 0.22, 0.35), 0.035, 95.0)),
            ("SOLUSDT", ind((170.0, 160.0, 140.0), (0.09, 0.2, 0.4), 0.045, 7.0)),
        ]
        .into_iter()
        .map(|(s, i)| (s.to_string(), i))
        .collect();
        CycleInputs {
            now,
            settings: StrategySettings::default(),
            state: StateDoc::normalize(&json!({}), &official),
            official,
            resolution,
            balances,
            prices,
            rules,
            earn_products: [(USDT.to_string(), "USDT001".to_string())].into_iter().collect(),
            btc: BtcSnapshot {
                zscore: Some(1.0),
                sell_trigger: Some(2.5),
                ahr999: Some(0.7),
                btc_roc20: Some(0.04),
                btc_roc60: Some(0.08),
                btc_roc120: Some(0.12),
                regime_on: Some(true),
                ..Default::default()
            },
            indicators,
        }
    }

    #[test]
    fn real_fill_with_commissions_updates_book_state_and_base() {
        let mut c = Cycle::new(inputs(dec!(2000), Decimal::ZERO)).unwrap();
        assert_eq!(c.open_day(), DayPlan::Trade);
        assert!(c.plan_trend_sells().is_empty());
        let buys = c.plan_trend_buys();
        let eth = buys[0].clone();
        assert_eq!(eth.symbol(), "ETHUSDT");
        let fill = Fill {
            executed_qty: dec!(0.3),
            quote_qty: dec!(963),
            commissions: vec![
                Commission { asset: "ETH".into(), amount: dec!(0.0003) },
                Commission { asset: "BNB".into(), amount: dec!(0.001) },
            ],
            estimated: false,
        };
        let base_before = c.state.daily_trend_equity_base;
        assert_eq!(c.drain_effects(), vec![Effect::Save("daily_reset".into())]);
        c.apply(eth, Outcome::Filled(fill));
        assert_eq!(c.bal(USDT).free, dec!(1037));
        assert_eq!(c.bal("ETH").free, dec!(0.2997));
        assert_eq!(c.bal("BNB").free, dec!(0.999));
        let pos = c.state.position("ETHUSDT");
        assert!(pos.is_holding);
        assert_eq!(pos.entry_price, 3210.0, "entry is the real average fill price");
        assert_eq!(c.state.daily_trend_equity_base, base_before + 963.0);
        assert_eq!(c.intents[0].status, IntentStatus::Filled);
        let effects = c.drain_effects();
        assert_eq!(effects[0], Effect::Save("trend_buy:ETHUSDT".into()));
        assert!(matches!(effects[1], Effect::Notify(Event::TrendBuy { .. })));
    }

    #[test]
    fn rejected_buy_changes_nothing_and_alerts() {
        let mut c = Cycle::new(inputs(dec!(2000), Decimal::ZERO)).unwrap();
        c.open_day();
        let eth = c.plan_trend_buys().remove(0);
        c.drain_effects();
        c.apply(eth, Outcome::Rejected("-2010 insufficient balance".into()));
        assert_eq!(c.bal(USDT).free, dec!(2000));
        assert!(!c.state.position("ETHUSDT").is_holding);
        assert_eq!(c.intents[0].error.as_deref(), Some("-2010 insufficient balance"));
        assert!(matches!(&c.drain_effects()[..], [Effect::Notify(Event::TrendBuyFailed { .. })]));
        assert_eq!(
            c.attention,
            ["trend_buy ETHUSDT (tc-26031510-tb-ETHUSDT) not executed: -2010 insufficient balance"]
        );
    }

    fn pending(id: &str, symbol: &str, status: &str) -> PendingOrder {
        PendingOrder {
            client_order_id: id.into(),
            kind: IntentKind::TrendBuy,
            symbol: symbol.into(),
            side: Side::Buy,
            quantity: Some(dec!(0.5)),
            quote_amount: None,
            price: dec!(3200),
            run_id: "earlier".into(),
            created_at: "2026-03-15T09:00:00Z".into(),
            status: status.into(),
            lease_until: None,
        }
    }

    #[test]
    fn a_quarantined_order_blocks_new_risk_only_in_its_symbol() {
        let mut i = inputs(dec!(5000), Decimal::ZERO);
        let id = "tc-26031509-tb-ETHUSDT";
        i.state.pending_orders.insert(id.into(), pending(id, "ETHUSDT", PENDING_QUARANTINED));
        let mut c = Cycle::new(i).unwrap();
        assert_eq!(c.attention.len(), 1);
        assert!(c.attention[0].starts_with(&format!("order {id} is quarantined")), "{}", c.attention[0]);
        c.open_day();
        let buys: Vec<String> = c.plan_trend_buys().iter().map(|b| b.symbol().to_string()).collect();
        assert_eq!(buys, ["SOLUSDT"]);
        assert!(c.plan_dca_buy().is_some(), "BTC is not blocked");
        let gates: Vec<(&str, Option<&str>)> = c.gates.iter().map(|g| (g.gate.as_str(), g.symbol.as_deref())).collect();
        assert_eq!(gates, [("order_quarantined", Some("ETHUSDT"))]);
    }

    #[test]
    fn an_unreadable_ledger_entry_blocks_all_new_risk_and_needs_attention() {
        let raw = json!({"pending_orders": {"tc-26031509-tb-ETHUSDT": {"client_order_id": "tc-26031509-tb-ETHUSDT",
            "kind": "trend_buy", "symbol": "ETHUSDT", "side": "BUY", "price": 3200, "run_id": "r",
            "created_at": "2026-03-15T09:00:00Z", "status": "pending"}}});
        let mut i = inputs(dec!(5000), Decimal::ZERO);
        i.state = StateDoc::normalize(&raw, &universe());
        let mut c = Cycle::new(i).unwrap();
        assert_eq!(c.attention.len(), 1);
        assert!(c.attention[0].contains("pending_orders.tc-26031509-tb-ETHUSDT"), "{}", c.attention[0]);
        c.open_day();
        assert!(c.plan_trend_buys().is_empty());
        assert!(c.plan_dca_buy().is_none());
        // Still in the document, unchanged, after the cycle.
        assert_eq!(c.state.to_value()["pending_orders"], raw["pending_orders"]);
    }

    #[test]
    fn an_outcome_only_settles_the_entry_this_cycle_wrote_ahead() {
        let mut i = inputs(dec!(5000), Decimal::ZERO);
        let id = "tc-26031510-tb-ETHUSDT";
        // Kept by reconciliation (an earlier run of this slot may still send it).
        i.state.pending_orders.insert(id.into(), pending(id, "ETHUSDT", "pending"));
        let mut c = Cycle::new(i).unwrap();
        let mut j = inputs(dec!(5000), Decimal::ZERO);
        j.state.pending_orders.clear();
        let mut fresh = Cycle::new(j).unwrap();
        fresh.open_day();
        let eth = fresh.plan_trend_buys().remove(0);
        assert_eq!(eth.client_order_id.as_deref(), Some(id));
        c.apply(eth.clone(), Outcome::Skipped(format!("order {id} is still pending from an earlier attempt")));
        assert_eq!(c.state.pending_orders[id].run_id, "earlier", "a skipped same-slot intent leaves it alone");
        c.write_ahead(&eth, "this-run");
        c.apply(eth, Outcome::Rejected("-2010".into()));
        assert!(c.state.pending_orders.is_empty(), "its own entry is settled");
    }

    #[test]
    fn unresolved_order_stops_further_buys_and_the_earn_buffer() {
        let mut c = Cycle::new(inputs(dec!(5000), Decimal::ZERO)).unwrap();
        c.open_day();
        let eth = c.plan_trend_buys().remove(0);
        c.apply(eth, Outcome::Unresolved("HTTP 503".into()));
        assert!(c.plan_dca_buy().is_none());
        assert!(c.plan_earn_buffer().is_none());
        let gates: Vec<&str> = c.gates.iter().map(|g| g.gate.as_str()).collect();
        assert_eq!(gates, ["unresolved_order_pending", "unresolved_order_pending"]);
        assert!(
            c.drain_effects()
                .iter()
                .any(|e| matches!(e, Effect::Notify(Event::OrderUnresolved { client_order_id, .. })
                if client_order_id == "tc-26031510-tb-ETHUSDT"))
        );
    }

    #[test]
    fn buy_short_of_spot_usdt_is_funded_from_earn_or_skipped() {
        let mut c = Cycle::new(inputs(dec!(100), dec!(1900))).unwrap();
        c.open_day();
        let eth = c.plan_trend_buys().remove(0);
        let redeem = c.funding_for(&eth).expect("redeem planned");
        assert_eq!(redeem.kind, IntentKind::EarnRedeem);
        let need = eth.requirement().unwrap().1;
        assert_eq!(redeem.amount, Some(((need - dec!(100)) * dec!(1.001)).round_dp(8).normalize()));
        assert!(c.check_funded(&eth).is_err());
        c.apply(redeem, Outcome::EarnDone);
        assert!(c.check_funded(&eth).is_ok());

        // Without Earn to draw from, the order is skipped with the shortfall.
        let c = Cycle::new(inputs(dec!(100), Decimal::ZERO)).unwrap();
        let sol = Intent::order(c.now, IntentKind::TrendBuy, "SOLUSDT", "SOL", dec!(1), dec!(180), "x");
        assert!(c.funding_for(&sol).is_none());
        assert_eq!(c.check_funded(&sol).unwrap_err(), "insufficient free USDT: need 180, spot has 100");
    }

    /// The shell's step order on estimated fills (replay), the planned
    /// redeem first; returns the intents' (kind, size) and the cycle.
    fn replay_steps(c: &mut Cycle) -> Vec<(IntentKind, Decimal)> {
        for redeem in c.plan_earn_funding() {
            c.apply(redeem, Outcome::Suppressed);
        }
        let run = |c: &mut Cycle, i: Intent| match c.check_funded(&i) {
            Ok(()) => c.apply(i, Outcome::Suppressed),
            Err(why) => c.skip_unfunded(i, why),
        };
        if let Some(f) = c.plan_fuel() {
            run(c, f);
        }
        assert_eq!(c.open_day(), DayPlan::Trade);
        for i in c.plan_trend_sells().into_iter().chain(c.plan_trend_buys()) {
            run(c, i);
        }
        for step in [Cycle::plan_dca_buy, Cycle::plan_dca_trim, Cycle::plan_earn_buffer] {
            if let Some(i) = step(c) {
                run(c, i);
            }
        }
        c.intents.iter().map(|i| (i.kind, i.quantity.or(i.amount).unwrap_or_default())).collect()
    }

    #[test]
    fn one_redeem_before_trading_funds_every_buy_and_ends_at_the_buffer_target() {
        let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
        let steps = replay_steps(&mut c);
        let kinds: Vec<IntentKind> = steps.iter().map(|s| s.0).collect();
        assert_eq!(
            kinds,
            [IntentKind::EarnRedeem, IntentKind::TrendBuy, IntentKind::TrendBuy, IntentKind::DcaBuy],
            "one redeem, no fallback redeem, no buffer move: {steps:?}"
        );
        assert!(c.intents.iter().all(|i| i.status == IntentStatus::Suppressed));
        assert!(c.attention.is_empty(), "{:?}", c.attention);
        // Spot ends exactly at the target: 5% of 10,000 capped at 300.
        assert_eq!(c.bal(USDT).free, dec!(300));
        let spent: Decimal = c.intents[1..].iter().filter_map(|i| i.requirement()).map(|r| r.1).sum();
        assert_eq!(steps[0].1, spent, "300 on spot pays for the buffer; Earn pays every buy");
    }

    #[test]
    fn nothing_is_redeemed_when_spot_covers_the_cycle_and_the_buffer() {
        let c = Cycle::new(inputs(dec!(20000), dec!(500))).unwrap();
        assert!(c.plan_earn_funding().is_empty());
        // An unresolved order blocks buys and the buffer: nothing to fund.
        let mut i = inputs(dec!(10), dec!(9700));
        i.state.pending_orders.insert(
            "tc-x".into(),
            serde_json::from_value(json!({
                "client_order_id": "tc-x", "kind": "trend_buy", "symbol": "ETHUSDT", "side": "BUY",
                "price": "3200", "run_id": "r", "created_at": "2026-03-15T09:00:00Z", "status": "unresolved"
            }))
            .unwrap(),
        );
        assert!(Cycle::new(i).unwrap().plan_earn_funding().is_empty());
    }

    #[test]
    fn a_refused_earn_move_asks_for_attention_alerts_and_is_not_retried() {
        let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
        let redeem = c.plan_earn_funding().remove(0);
        c.apply(redeem, Outcome::Rejected("rejected: -6009 Request frequency too high".into()));
        assert_eq!(c.attention, ["earn_redeem of 7800.52 USDT failed: rejected: -6009 Request frequency too high"]);
        assert!(matches!(&c.drain_effects()[..], [Effect::Notify(Event::RedeemFailed { .. })]));
        c.open_day();
        let eth = c.plan_trend_buys().remove(0);
        assert!(c.funding_for(&eth).is_none(), "no second redeem after a refusal");
        let why = c.check_funded(&eth).unwrap_err();
        c.skip_unfunded(eth, why.clone());
        assert_eq!(c.attention[1], format!("trend_buy ETHUSDT skipped: {why}"));
        assert!(
            c.drain_effects()
                .iter()
                .any(|e| matches!(e, Effect::Notify(Event::SkippedForFunds { symbol, .. }) if symbol == "ETHUSDT"))
        );
        assert!(c.plan_earn_buffer().is_none());
        assert_eq!(c.gates.last().unwrap().gate, "earn_move_failed_this_cycle");
    }

    #[test]
    fn a_redeem_short_of_spot_is_in_transit_until_the_next_run_sees_it_arrive() {
        let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
        let redeem = c.plan_earn_funding().remove(0);
        let amount = redeem.amount.unwrap();
        c.apply(redeem, Outcome::EarnDone);
        c.drain_effects();
        // Only 1000 of it had landed when the shell stopped waiting.
        c.note_redeem_arrival(USDT, Some(dec!(1300)));
        let entry = c.state.earn_in_transit[USDT].clone();
        assert_eq!((entry.amount, entry.spot_free_seen), (amount - dec!(1000), dec!(1300)));
        assert_eq!(c.drain_effects(), [Effect::Save("earn_in_transit:USDT".into())]);
        let book = c.bal(USDT);
        assert_eq!((book.free, book.locked, book.total()), (dec!(1300), amount - dec!(1000), dec!(10000)));
        c.open_day();
        assert!(c.plan_earn_buffer().is_none(), "no Earn move while money is in transit");
        c.finish();
        let saved = c.state.to_value();
        assert_eq!(saved["last_balance_snapshot"]["USDT"], 10000.0, "owned, in transit");

        // Next run, an hour later: half of the rest has arrived.
        let rest = amount - dec!(1000);
        let mut next = inputs(dec!(1300) + rest / dec!(2), dec!(9700) - amount);
        next.now += chrono::Duration::hours(1);
        next.state = StateDoc::normalize(&saved, &universe());
        let c2 = Cycle::new(next.clone()).unwrap();
        assert_eq!(c2.state.earn_in_transit[USDT].amount, rest / dec!(2));
        assert_eq!(c2.bal(USDT).total(), dec!(10000), "no flow: the flow check sees what was saved");
        assert!(c2.plan_earn_funding().is_empty(), "what is on its way is not redeemed twice");

        // A day later and still missing: it no longer counts, with a warning.
        next.now += chrono::Duration::hours(EARN_IN_TRANSIT_MAX_HOURS);
        let c3 = Cycle::new(next).unwrap();
        assert!(c3.state.earn_in_transit.is_empty());
        assert_eq!(c3.bal(USDT).total(), dec!(10000) - rest / dec!(2));
        assert!(c3.attention[0].contains("never reached spot"), "{:?}", c3.attention);
    }

    #[test]
    fn a_redeem_written_ahead_counts_at_the_next_run_only_for_what_left_earn() {
        let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
        let redeem = c.plan_earn_funding().remove(0);
        let amount = redeem.amount.unwrap();
        assert_eq!(c.write_ahead_redeem(&redeem), None);
        // The process dies here, after the save, with or without the send.
        let saved = c.state.to_value();
        assert_eq!(saved["earn_in_transit"][USDT]["unconfirmed"]["earn_before"], json!("9700"));
        let next_run = |spot: Decimal, earn: Decimal| {
            let mut next = inputs(spot, earn);
            next.now += chrono::Duration::minutes(20);
            next.state = StateDoc::normalize(&saved, &universe());
            Cycle::new(next).unwrap()
        };

        // Sent, still on its way: owned, locked, no flow, not redeemed again.
        let sent = next_run(dec!(300), dec!(9700) - amount);
        assert_eq!(sent.state.earn_in_transit[USDT].amount, amount);
        assert_eq!(sent.state.earn_in_transit[USDT].unconfirmed, None);
        assert_eq!(sent.bal(USDT).total(), dec!(10000));
        assert!(sent.plan_earn_funding().is_empty(), "what is on its way is not redeemed twice");
        // Sent and arrived: nothing left to track.
        assert!(next_run(dec!(300) + amount, dec!(9700) - amount).state.earn_in_transit.is_empty());
        // Never sent: nothing left Earn, nothing is in transit.
        let never = next_run(dec!(300), dec!(9700));
        assert!(never.state.earn_in_transit.is_empty());
        assert_eq!(never.bal(USDT).total(), dec!(10000));

        // An answer (confirmed or refused) restores the ledger as it was.
        c.redeem_answered(USDT, None, &Outcome::Rejected("-6009".into()));
        assert!(c.state.earn_in_transit.is_empty());
        let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
        let previous = c.write_ahead_redeem(&redeem);
        c.redeem_answered(USDT, previous, &Outcome::Unresolved("timeout".into()));
        assert!(c.state.earn_in_transit[USDT].unconfirmed.is_some(), "an unknown outcome is kept for the next run");
    }

    #[test]
    fn dust_holding_is_marked_flat_instead_of_failing_every_hour() {
        let mut i = inputs(dec!(1000), Decimal::ZERO);
        i.balances.insert("SOL".into(), AssetBalance { free: dec!(0.01), ..Default::default() });
        i.state.set_position("SOLUSDT", TrendPosition::holding(170.0));
        i.btc.regime_on = Some(false);
        let mut c = Cycle::new(i).unwrap();
        c.open_day();
        assert!(c.plan_trend_sells().is_empty());
        assert!(!c.state.position("SOLUSDT").is_holding);
        assert!(c.gates.iter().any(|g| g.gate == "trend_sell_dust" && g.symbol.as_deref() == Some("SOLUSDT")));
    }

    #[test]
    fn locked_funds_are_never_sold() {
        let mut i = inputs(dec!(1000), Decimal::ZERO);
        i.balances.insert("ETH".into(), AssetBalance { free: dec!(0.5), locked: dec!(0.25), earn: dec!(0.1) });
        i.state.set_position("ETHUSDT", TrendPosition::holding(3000.0));
        i.btc.regime_on = Some(false);
        let mut c = Cycle::new(i).unwrap();
        c.open_day();
        let sells = c.plan_trend_sells();
        assert_eq!(sells[0].quantity, Some(dec!(0.6)), "free 0.5 + Earn 0.1, not the locked 0.25");
        let redeem = c.funding_for(&sells[0]);
        assert!(redeem.is_none(), "no ETH Earn product known: nothing to redeem with");
    }

    #[test]
    fn unpriced_holding_refuses_to_plan() {
        let mut i = inputs(dec!(1000), Decimal::ZERO);
        i.balances.insert("SOL".into(), AssetBalance { free: dec!(3), ..Default::default() });
        i.prices.remove("SOLUSDT");
        assert_eq!(
            Cycle::new(i).err().unwrap(),
            "no usable price for held SOLUSDT; refusing to trade on an incomplete valuation"
        );
    }

    /// The next cycle of the same account: the state as the previous one
    /// left it (what its saves carried) and the balances its fills left.
    fn next_cycle(prev: &Cycle, hour: u32, eth_price: Decimal) -> Cycle {
        let mut i = inputs(Decimal::ZERO, Decimal::ZERO);
        i.now = Utc.with_ymd_and_hms(2026, 3, 15, hour, 0, 0).unwrap();
        i.state = prev.state.clone();
        i.balances = prev.book.clone();
        i.prices.insert("ETHUSDT".into(), eth_price);
        Cycle::new(i).unwrap()
    }

    fn saved_reasons(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Save(r) => Some(r.clone()),
                Effect::Notify(_) => None,
            })
            .collect()
    }

    #[test]
    fn the_save_after_a_fill_carries_a_snapshot_with_it_so_the_next_run_books_no_flow() {
        let mut c = Cycle::new(inputs(dec!(2000), Decimal::ZERO)).unwrap();
        assert_eq!(c.open_day(), DayPlan::Trade);
        let eth = c.plan_trend_buys().remove(0);
        let fill = Fill {
            executed_qty: dec!(0.3),
            quote_qty: dec!(963),
            commissions: vec![Commission { asset: "ETH".into(), amount: dec!(0.0003) }],
            estimated: false,
        };
        c.drain_effects();
        c.apply(eth, Outcome::Filled(fill));
        assert_eq!(saved_reasons(&c.drain_effects()), ["trend_buy:ETHUSDT"]);
        // What that save carries: the balances after the fill.
        assert_eq!(c.state.last_balance_snapshot, c.balance_snapshot());
        assert_eq!(c.state.last_balance_snapshot["USDT"], 1037.0);
        assert_eq!(c.state.last_balance_snapshot["ETH"], 0.2997);

        // The run dies here (no final save); the next one the same day sees
        // its own buy in the balances and in the saved snapshot alike.
        let mut next = next_cycle(&c, 11, dec!(3200));
        assert_eq!(next.open_day(), DayPlan::Trade);
        assert!(saved_reasons(&next.drain_effects()).is_empty(), "no flow rebase, no reset");
        assert_eq!(next.state.daily_trend_equity_base, 963.0);
        // 0.2997 ETH at 3200 = 959.04 against 963 spent: the fee, not −50 %.
        assert!((next.pnl.1 - (959.04 - 963.0) / 963.0).abs() < 1e-9, "{:?}", next.pnl);
    }

    #[test]
    fn a_fuel_buy_before_the_day_opens_is_not_mistaken_for_a_withdrawal() {
        let mut i = inputs(dec!(2000), Decimal::ZERO);
        i.balances.insert("BNB".into(), AssetBalance { free: dec!(0.001), ..Default::default() });
        i.state.last_reset_date = "2026-03-15".into();
        i.state.daily_trend_pnl_basis = daily::PNL_BASIS.into();
        i.state.daily_equity_base = 2000.6;
        i.state.last_balance_snapshot =
            [("USDT", 2000.0), ("BTC", 0.0), ("ETH", 0.0), ("SOL", 0.0)].map(|(a, q)| (a.to_string(), q)).into();
        let mut c = Cycle::new(i).unwrap();
        let fuel = c.plan_fuel().expect("BNB worth 0.6 USDT needs fuel");
        let fill = Fill { executed_qty: dec!(0.025), quote_qty: dec!(15), commissions: vec![], estimated: false };
        c.apply(fuel, Outcome::Filled(fill));
        assert_eq!(c.state.last_balance_snapshot["USDT"], 1985.0);
        assert_eq!(c.open_day(), DayPlan::Trade);
        assert!(saved_reasons(&c.drain_effects()).is_empty(), "the fuel buy is no external flow");
        assert_eq!(c.state.daily_equity_base, 2000.6);
    }

    #[test]
    fn fuel_is_not_bought_while_an_order_is_unresolved() {
        let mut i = inputs(dec!(2000), Decimal::ZERO);
        i.balances.insert("BNB".into(), AssetBalance { free: dec!(0.001), ..Default::default() });
        let mut c = Cycle::new(i.clone()).unwrap();
        assert!(c.plan_fuel().is_some(), "fuel is due");
        let mut c2 = Cycle::new(i).unwrap();
        let buy = Intent::order(c2.now, IntentKind::TrendBuy, "ETHUSDT", "ETH", dec!(0.1), dec!(3200), "x");
        c2.write_ahead(&buy, "r0");
        let mut i = inputs(dec!(2000), Decimal::ZERO);
        i.balances.insert("BNB".into(), AssetBalance { free: dec!(0.001), ..Default::default() });
        i.state.pending_orders = c2.state.pending_orders.clone();
        let mut c = Cycle::new(i).unwrap();
        assert_eq!(c.plan_fuel(), None);
        assert_eq!(c.gates.last().map(|g| g.gate.as_str()), Some("unresolved_order_pending"));
        assert_eq!(c.gates.last().and_then(|g| g.symbol.as_deref()), Some(BNB_SYMBOL));
    }

    #[test]
    fn a_partially_filled_trend_sell_keeps_the_rest_of_the_position() {
        let mut i = inputs(dec!(1000), Decimal::ZERO);
        i.balances.insert("ETH".into(), AssetBalance { free: dec!(0.5), ..Default::default() });
        i.state.set_position("ETHUSDT", TrendPosition::holding(3000.0));
        i.btc.regime_on = Some(false);
        let mut c = Cycle::new(i).unwrap();
        c.open_day();
        let sell = c.plan_trend_sells().remove(0);
        assert_eq!(sell.quantity, Some(dec!(0.5)));
        let fill = Fill { executed_qty: dec!(0.2), quote_qty: dec!(640), commissions: vec![], estimated: false };
        c.apply(sell, Outcome::Filled(fill));
        assert!(c.state.position("ETHUSDT").is_holding, "0.3 ETH is still held");
        assert_eq!(c.bal("ETH").free, dec!(0.3));
        assert_eq!(c.bal(USDT).free, dec!(1640));
        assert!(!c.state.acted_today("ETHUSDT", "sell", "20260315"), "the rest may be sold next cycle");
    }

    #[test]
    fn a_losing_atr_stop_exit_does_not_fire_the_breaker_on_the_next_cycle() {
        // 10:00, first run of the day: 0.3125 ETH worth 1000 USDT, peak 3400.
        let mut i = inputs(dec!(2000), Decimal::ZERO);
        i.balances.insert("ETH".into(), AssetBalance { free: dec!(0.3125), ..Default::default() });
        i.state.set_position("ETHUSDT", TrendPosition { is_holding: true, entry_price: 3300.0, highest_price: 3400.0 });
        let mut c = Cycle::new(i).unwrap();
        assert_eq!(c.open_day(), DayPlan::Trade);
        assert_eq!(c.state.daily_trend_equity_base, 1000.0);
        assert!(c.plan_trend_sells().is_empty(), "3200 is above the 3162.5 stop");
        c.finish();

        // 11:00: ETH at 3136 (−2 %) falls through the stop and is sold.
        let mut c = next_cycle(&c, 11, dec!(3136));
        assert_eq!(c.open_day(), DayPlan::Trade);
        assert!((c.pnl.1 + 0.02).abs() < 1e-9);
        let sell = c.plan_trend_sells().remove(0);
        assert_eq!((sell.reason.as_str(), sell.quantity), ("atr_stop", Some(dec!(0.3125))));
        let fill = Fill {
            executed_qty: dec!(0.3125),
            quote_qty: dec!(980),
            commissions: vec![Commission { asset: USDT.into(), amount: dec!(0.98) }],
            estimated: false,
        };
        c.apply(sell, Outcome::Filled(fill));
        assert!(!c.state.position("ETHUSDT").is_holding);
        c.finish();

        // 12:00: nothing left in the sleeve; the day reads the realised
        // (979.02 − 1000) / 1000, not (0 − 20) / 20 = −100 %.
        let mut c = next_cycle(&c, 12, dec!(3136));
        assert_eq!(c.open_day(), DayPlan::Trade);
        assert!((c.pnl.1 - (979.02 - 1000.0) / 1000.0).abs() < 1e-9, "{:?}", c.pnl);
        assert!(!c.breaker_triggered);
    }

    #[test]
    fn btcusdt_in_the_upstream_pool_keeps_the_dca_record_and_is_no_trend_position() {
        let mut i = inputs(dec!(2000), Decimal::ZERO);
        i.official.insert(BTC_SYMBOL.into(), "BTC".into());
        i.state = StateDoc::normalize(&json!({"BTCUSDT": {"holding_qty": 0.01, "avg_cost": 70000.0}}), &i.official);
        i.balances.insert("BTC".into(), AssetBalance { free: dec!(0.01), ..Default::default() });
        let mut c = Cycle::new(i).unwrap();
        c.open_day();
        assert_eq!(c.values().trend, 0.0, "BTC is valued once, in the DCA sleeve");
        let buy = Intent::order(c.now, IntentKind::DcaBuy, BTC_SYMBOL, "BTC", dec!(0.001), dec!(80000), "x");
        let fill = Fill { executed_qty: dec!(0.001), quote_qty: dec!(80), commissions: vec![], estimated: false };
        c.apply(buy, Outcome::Filled(fill));
        c.finish();
        let saved = c.state.to_value();
        assert!((saved["BTCUSDT"]["holding_qty"].as_f64().unwrap() - 0.011).abs() < 1e-12, "{}", saved["BTCUSDT"]);
        assert!((saved["BTCUSDT"]["avg_cost"].as_f64().unwrap() - 780.0 / 0.011).abs() < 1e-6);
        assert!(saved["BTCUSDT"].get("is_holding").is_none());
    }

    mod props {
        use super::*;
        use crate::boundary::{OrderReport, OrderStatus};
        use crate::strategy::reconcile;
        use proptest::prelude::*;

        const KINDS: [(IntentKind, &str, &str); 6] = [
            (IntentKind::TrendBuy, "ETHUSDT", "ETH"),
            (IntentKind::TrendSell, "ETHUSDT", "ETH"),
            (IntentKind::BreakerSell, "SOLUSDT", "SOL"),
            (IntentKind::DcaBuy, "BTCUSDT", "BTC"),
            (IntentKind::DcaSell, "BTCUSDT", "BTC"),
            (IntentKind::FuelBuy, "BNBUSDT", "BNB"),
        ];

        proptest! {
            /// A fill books the same state whether the cycle that sent the
            /// order learns of it or a later run's reconciliation does.
            #[test]
            fn a_fill_books_the_same_state_through_the_cycle_and_reconciliation(
                kind in 0usize..6, qty_units in 1u64..100_000, filled_pct in 1u64..=100,
                slippage_bp in 9_800u64..10_200, fee_asset in 0usize..4, fee_units in 0u64..1_000,
            ) {
                let (kind, symbol, base) = KINDS[kind];
                let mut i = inputs(dec!(100000), Decimal::ZERO);
                for (asset, qty) in [("ETH", dec!(20)), ("SOL", dec!(300)), ("BTC", dec!(1.5))] {
                    i.balances.insert(asset.into(), AssetBalance { free: qty, ..Default::default() });
                }
                i.state.btc = crate::domain::state::BtcHolding { holding_qty: 1.5, avg_cost: 60000.0 };
                i.state.set_position("ETHUSDT", TrendPosition::holding(3000.0));
                i.state.set_position("SOLUSDT", TrendPosition::holding(170.0));
                let mut cycle = Cycle::new(i).unwrap();
                cycle.open_day();
                let before = cycle.state.clone();

                let price = cycle.price_dec(symbol).unwrap();
                let ordered = Decimal::new(qty_units as i64, 5);
                let mut intent = Intent::order(cycle.now, kind, symbol, base, ordered, price, "prop");
                if kind == IntentKind::FuelBuy {
                    intent.quantity = None;
                    intent.amount = Some(FUEL_TOP_UP_USDT);
                }
                let executed = match intent.quantity {
                    Some(q) => (q * Decimal::from(filled_pct) / dec!(100)).round_dp(5),
                    None => (FUEL_TOP_UP_USDT / price).round_dp(5),
                };
                prop_assume!(executed > Decimal::ZERO);
                let quote = (executed * price * Decimal::from(slippage_bp) / dec!(10000)).round_dp(8);
                let fee_asset = [base, USDT, "BNB", "ETH"][fee_asset];
                let commissions = if fee_units == 0 {
                    vec![]
                } else {
                    vec![Commission { asset: fee_asset.into(), amount: Decimal::new(fee_units as i64, 6) }]
                };
                let fill = Fill { executed_qty: executed, quote_qty: quote, commissions: commissions.clone(), estimated: false };

                // Path 1: the cycle sends it (write-ahead, fill, apply).
                cycle.write_ahead(&intent, "r1");
                let pending = cycle.state.pending_orders.values().next().unwrap().clone();
                cycle.apply(intent, Outcome::Filled(fill));

                // Path 2: the run died after sending; the next run settles it.
                let mut settled = before.clone();
                settled.pending_orders.insert(pending.client_order_id.clone(), pending.clone());
                let report = OrderReport {
                    symbol: symbol.into(),
                    client_order_id: pending.client_order_id.clone(),
                    order_id: 1,
                    status: OrderStatus::Filled,
                    executed_qty: executed,
                    cummulative_quote_qty: quote,
                    commissions,
                    side: None,
                    time: None,
                };
                let later = cycle.now + chrono::Duration::minutes(55);
                let got = reconcile::settle(&mut settled, &pending, Some(&report), later);
                prop_assert!(matches!(got, reconcile::Settlement::Settled { .. }), "{got:?}");
                prop_assert_eq!(&cycle.state, &settled);

                // And the snapshot the saves carry is what the balances show.
                let shown = cycle.balance_snapshot();
                for (asset, q) in &cycle.state.last_balance_snapshot {
                    prop_assert!((q - shown[asset]).abs() < 1e-9, "{asset}: {q} vs {}", shown[asset]);
                }
            }
        }

        proptest! {
            /// Whatever the balances and prices, no planned sell exceeds what
            /// can be sold (free + Earn, never locked) and no buy spends more
            /// than the cash it was given.
            #[test]
            fn orders_never_exceed_balances(
                eth_free in 0u64..5_000_000, eth_locked in 0u64..5_000_000, eth_earn in 0u64..5_000_000,
                sol_free in 0u64..50_000_000, usdt in 0u64..100_000_000, price_scale in 1u32..2000,
                regime in any::<bool>(),
            ) {
                let mut i = inputs(Decimal::new(usdt as i64, 2), Decimal::ZERO);
                i.balances.insert("ETH".into(), AssetBalance {
                    free: Decimal::new(eth_free as i64, 6),
                    locked: Decimal::new(eth_locked as i64, 6),
                    earn: Decimal::new(eth_earn as i64, 6),
                });
                i.balances.insert("SOL".into(), AssetBalance { free: Decimal::new(sol_free as i64, 6), ..Default::default() });
                i.prices.insert("ETHUSDT".into(), Decimal::new(price_scale as i64 * 10, 0));
                i.state.set_position("ETHUSDT", TrendPosition::holding(3000.0));
                i.state.set_position("SOLUSDT", TrendPosition::holding(150.0));
                i.btc.regime_on = Some(regime);
                let Ok(mut c) = Cycle::new(i) else { return Ok(()) };
                c.open_day();
                for sell in c.plan_trend_sells() {
                    let b = c.bal(&sell.asset);
                    prop_assert!(sell.quantity.unwrap() <= b.free + b.earn, "{sell:?} vs {b:?}");
                    c.apply(sell, Outcome::Suppressed);
                }
                let cash = c.bal(USDT).total();
                let mut spent = Decimal::ZERO;
                for buy in c.plan_trend_buys() {
                    spent += buy.requirement().unwrap().1;
                    c.apply(buy, Outcome::Suppressed);
                }
                prop_assert!(spent <= cash, "spent {spent} of {cash}");
            }
        }
    }
}
