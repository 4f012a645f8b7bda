//! Feeding outcomes back into the cycle: the pending-ledger write-ahead,
//! applying an outcome or a fill to the working balances and the state, and
//! the alerts a refused or skipped intent raises.

use serde_json::Value;

use super::{Cycle, Outcome, f_dec};
use crate::domain::intent::{Fill, Intent, IntentKind, IntentStatus, Side};
use crate::domain::state::PendingOrder;
use crate::notify::event::{Event, SellReason};
use crate::strategy::allocation::Budgets;
use crate::strategy::booking::{self, FillDay, OrderFacts};

impl Cycle {
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
            quarantine_reason: None,
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
        intent.outcome = outcome.class();
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
                        client_order_id: intent.client_order_id.as_deref().unwrap_or_default().to_string(),
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
            Outcome::Skipped(why) | Outcome::NotSent { why, .. } => {
                intent.status = IntentStatus::Skipped;
                self.failed(&intent, &why);
                intent.error = Some(why);
            }
        }
        self.intents.push(intent);
    }

    pub(super) fn failed(&mut self, intent: &Intent, why: &str) {
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

    pub(super) fn apply_earn(&mut self, intent: &Intent) {
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
    pub(super) fn apply_fill(&mut self, intent: &Intent, fill: &Fill) {
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
                let ratio = Budgets::compute(&self.values(), &self.settings.params).btc_target_ratio;
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
