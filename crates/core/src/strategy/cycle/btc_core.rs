//! The BTC core: DCA buy and z-score trim, planned on the post-trade
//! valuation and fail-closed on a BTC snapshot without its valuation inputs.

use serde_json::{Value, json};

use super::{BTC_SYMBOL, Cycle, dec_f, gate_detail_round};
use crate::domain::intent::{Intent, IntentKind};
use crate::notify::event::Event;
use crate::strategy::allocation::Budgets;
use crate::strategy::dca;
use crate::strategy::rotation::round_to;

impl Cycle {
    /// ahr999, zscore and sell_trigger, all present (fail closed otherwise,
    /// design.md §3.11).
    pub(super) fn btc_valuation(&self) -> Option<(f64, f64, f64)> {
        Some((self.btc.ahr999?, self.btc.zscore?, self.btc.sell_trigger?))
    }

    /// BTC DCA buy (§6.5 steps 1-5) on the post-trade valuation.
    pub fn plan_dca_buy(&mut self) -> Option<Intent> {
        let v = self.values();
        let b = Budgets::compute(&v, &self.settings.params);
        let min_sleeve = self.settings.params.dca_min_sleeve_usdt;
        if b.dca_usdt_pool <= min_sleeve && v.dca <= min_sleeve {
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
        let m = dca::buy_multiplier(ahr, &self.settings.params);
        if m <= 0.0 {
            self.gate("btc_dca", "btc_dca_buy_valuation_gate_off", None, json!({ "ahr999": gate_detail_round(ahr) }));
            return None;
        }
        if b.dca_usdt_pool <= self.settings.params.dca_min_buy_pool_usdt {
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
        if let Some(why) = self.blocked.get(BTC_SYMBOL).copied() {
            self.gate("btc_dca", why, Some(BTC_SYMBOL), Value::Null);
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
        if v.dca <= self.settings.params.dca_min_trim_position_usdt {
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
        let pct = dca::trim_fraction(z, &self.settings.params);
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
}
