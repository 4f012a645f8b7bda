//! The start of the trading day: the BNB fuel top-up that runs first, the
//! daily reset with its external-flow check and PnL, and the circuit breaker
//! that fires on it (its sells and its latch).

use std::collections::BTreeSet;

use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{BNB_SYMBOL, Cycle, DayPlan, USDT, f_dec, gate_detail_round};
use crate::domain::intent::{Intent, IntentKind};
use crate::domain::state::TrendPosition;
use crate::notify::event::Event;
use crate::strategy::allocation::{AccountValues, Budgets};
use crate::strategy::daily;

impl Cycle {
    /// BNB fee fuel top-up (behaviour.md §5.2 step 4), a `quoteOrderQty` buy.
    pub fn plan_fuel(&mut self) -> Option<Intent> {
        let bnb_price = self.price_dec(BNB_SYMBOL)?;
        let value = self.bal("BNB").total() * bnb_price;
        let (fuel_min, top_up) = (self.settings.params.fuel_min_usdt, self.settings.params.fuel_top_up_usdt);
        if value >= fuel_min || self.bal(USDT).total() < top_up {
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
        if let Err(e) = self.rules_for(BNB_SYMBOL).check_notional(top_up) {
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
        intent.amount = Some(top_up);
        Some(intent.with_detail("bnb_value_usdt", f_dec(value.round_dp(4))))
    }

    /// Daily reset, external flows, PnL and the breaker decision, on the
    /// pre-trade valuation.
    pub fn open_day(&mut self) -> DayPlan {
        let values = self.values();
        let budgets = Budgets::compute(&values, &self.settings.params);
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
        } else if self.pnl.1 <= self.settings.params.circuit_breaker_pnl {
            DayPlan::Breaker
        } else {
            DayPlan::Trade
        }
    }

    /// Post-cycle balances per asset (totals incl. Earn), the reference's
    /// `last_balance_snapshot` shape.
    pub(super) fn balance_snapshot(&self) -> IndexMap<String, f64> {
        let mut snap = IndexMap::new();
        let round8 = |d: Decimal| f_dec(d.round_dp(8));
        snap.insert(USDT.to_string(), round8(self.bal(USDT).total()));
        snap.insert("BTC".to_string(), round8(self.bal("BTC").total()));
        for base in self.runtime.values() {
            snap.insert(base.clone(), round8(self.bal(base).total()));
        }
        snap
    }

    pub(super) fn log_portfolio(&mut self, v: &AccountValues, b: &Budgets) {
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
            // The operator's own holding is never traded (`positions ignore`).
            if self.state.ignored_positions.contains_key(&symbol) {
                continue;
            }
            let Some(price) = self.price_dec(&symbol) else { continue };
            let sellable = self.sellable(&base, price);
            let value = f_dec(sellable * price);
            if value <= self.settings.params.min_breaker_sell_usdt {
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
            self.settings.params.circuit_breaker_pnl * 100.0
        ));
    }
}
