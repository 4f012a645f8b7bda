//! The trend sleeve's steps: rotation sells, sized trend buys, and the
//! holdings line logged after trading.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};

use super::{Cycle, dec_f, gate_detail_round};
use crate::domain::intent::{Intent, IntentKind};
use crate::domain::rules::QtyReject;
use crate::domain::state::TrendPosition;
use crate::notify::event::{Event, SellReason};
use crate::strategy::allocation::Budgets;
use crate::strategy::rotation::{self, Candidate, round_to};

impl Cycle {
    /// What can be sold of `base`: free + Earn, never locked, minus the BNB
    /// fee reserve when BNB itself is a trend symbol.
    pub(super) fn sellable(&self, base: &str, price: Decimal) -> Decimal {
        let mut q = self.bal(base).sellable();
        if base == "BNB" && price > Decimal::ZERO {
            q -= (self.settings.params.fuel_min_usdt * dec!(1.2) / price).round_dp(8);
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
            let reason = rotation::sell_reason(
                &mut pos.highest_price,
                price,
                ind,
                self.is_candidate(&symbol),
                self.settings.params.atr_multiplier,
            );
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
        let budgets = Budgets::compute(&self.values(), &self.settings.params);
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
            if budget <= self.settings.params.min_trend_buy_usdt {
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
            if let Some(why) = self.blocked.get(&symbol).copied() {
                self.gate("trend", why, Some(&symbol), Value::Null);
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

    /// Quantity for a buy of `budget` USDT: `buy_sizing_factor` (98.5%) of it at the reference
    /// price, capped by `MAX_NOTIONAL_PER_ORDER_USDT`, fitted to the rules.
    pub(super) fn buy_quantity(&self, symbol: &str, budget: f64, price: Decimal) -> Result<(Decimal, bool), QtyReject> {
        let rules = self.rules_for(symbol);
        if price <= Decimal::ZERO {
            return Err(QtyReject::BadPrice { price });
        }
        let mut wanted = dec_f(budget) * dec_f(self.settings.params.buy_sizing_factor) / price;
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
}
