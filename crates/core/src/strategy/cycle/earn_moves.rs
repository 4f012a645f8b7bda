//! Simple Earn around the cycle's orders (design.md §3.16): funding an
//! order from Earn, the one redeem planned before trading, the buffer move
//! after it, and the `earn_in_transit` ledger that keeps a redeem not yet on
//! spot counted as owned but never spent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};

use super::{Cycle, DayPlan, EARN_IN_TRANSIT_MAX_HOURS, Outcome, USDT, f_dec};
use crate::domain::intent::{Intent, IntentKind, IntentStatus, Side};
use crate::domain::state::{EarnInTransit, UnconfirmedRedeem};
use crate::notify::event::Event;
use crate::strategy::earn::{self, BufferMove};

impl Cycle {
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
                .with_detail("for", intent.client_order_id.as_deref().unwrap_or_default()),
        )
    }

    /// The cycle's Simple Earn redeems, decided once before the first order
    /// (design.md §3.16). The whole cycle is rehearsed on a copy with
    /// estimated fills and no Earn moves, in the shell's order (`shell/runner.rs`
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
            if let Some(amount) =
                earn::redeem_before_trading(deepest, end_free, target, self.bal(&asset).earn, &self.settings.params)
            {
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
        if intent.kind.side() == Some(Side::Buy) {
            self.buys_skipped_for_funds.insert(symbol.clone());
        }
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
    pub(super) fn in_transit(&self, asset: &str) -> Decimal {
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
    pub(super) fn settle_earn_in_transit(&mut self) {
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
        match earn::buffer_move(
            usdt.free.max(Decimal::ZERO),
            self.buffer_target,
            usdt.earn,
            self.settings.params.earn_buffer_band_usdt,
        ) {
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
}
