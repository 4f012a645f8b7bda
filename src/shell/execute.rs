//! Sending intents to a real (or paper) exchange and classifying what
//! happened (design.md §3.2): an order POST is sent exactly once; a definitive
//! refusal is `Rejected`, and a call that cannot have executed (rate
//! limited, network failure before sending, auth) is `NotSent` with its
//! class ([`Outcome::of_port_error`]); an ambiguous answer (5xx, timeout,
//! -1006/-1007) is resolved by looking the order up by its client order id with bounded
//! backoff (a fill found so has its fee read from the order's trades), and
//! what stays unknown is `Unresolved` — reported, alerted and reconciled
//! first by the next run, never re-sent blindly. Every wait goes
//! through the executor's [`Clock`] (the wall clock unless a test gives it a
//! virtual one with [`ExchangeExecutor::with_clock`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::domain::intent::{Fill, Intent, IntentKind};
use crate::ports::{Clock, Exchange, OrderReport, OrderRequest, PortError, SystemClock};
use crate::shell::runner::Executor;
use crate::strategy::cycle::Outcome;
use crate::strategy::reconcile;

/// Timing of the bounded waits; tests shrink them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecutionPolicy {
    /// Lookups by client order id after an ambiguous answer.
    pub query_attempts: u32,
    /// First delay between lookups; doubles each time, capped at 8 s.
    pub query_backoff: Duration,
    /// Polls of the spot balance after an Earn redeem (the first at once).
    pub redeem_polls: u32,
    /// First delay between those polls; doubles each time up to `redeem_poll_cap`.
    pub redeem_poll_interval: Duration,
    pub redeem_poll_cap: Duration,
}

impl Default for ExecutionPolicy {
    fn default() -> Self {
        // About 30 s of lookups (Binance's query path can lag a just-placed
        // order for a moment) and up to about 20 s of waiting for a redeem,
        // polled 0.25, 0.5, 1, 2, 2, ... s apart (a credit usually lands
        // within a second; each poll costs 20 weight).
        ExecutionPolicy {
            query_attempts: 5,
            query_backoff: Duration::from_secs(1),
            redeem_polls: 12,
            redeem_poll_interval: Duration::from_millis(250),
            redeem_poll_cap: Duration::from_secs(2),
        }
    }
}

impl ExecutionPolicy {
    /// The default waits multiplied by `TRADECYCLE_WAIT_SCALE` (tests use a
    /// small scale; operators normally leave it at 1). The redeem polls never
    /// come closer than 250 ms: a credit takes a moment however small the
    /// scale, and the wait ends as soon as the money is on spot anyway.
    pub fn scaled(scale: f64) -> Self {
        let d = ExecutionPolicy::default();
        ExecutionPolicy {
            query_backoff: d.query_backoff.mul_f64(scale),
            redeem_poll_cap: d.redeem_poll_cap.mul_f64(scale).max(d.redeem_poll_interval),
            ..d
        }
    }
}

pub struct ExchangeExecutor<'a, E> {
    exchange: &'a E,
    policy: ExecutionPolicy,
    clock: &'a dyn Clock,
    /// For the run report (see [`Executor::take_warnings`]).
    warnings: Vec<String>,
}

impl<'a, E: Exchange> ExchangeExecutor<'a, E> {
    /// Waits on the wall clock.
    pub fn new(exchange: &'a E, policy: ExecutionPolicy) -> Self {
        ExchangeExecutor { exchange, policy, clock: &SystemClock, warnings: Vec::new() }
    }

    /// Waits on `clock` instead (give it the `CycleRun`'s clock).
    pub fn with_clock(self, clock: &'a dyn Clock) -> Self {
        ExchangeExecutor { clock, ..self }
    }

    async fn order(&mut self, intent: &Intent) -> Outcome {
        let Some(client_order_id) = intent.client_order_id.clone() else {
            return Outcome::Skipped("order without a client order id".into());
        };
        let req = OrderRequest {
            symbol: intent.symbol().to_string(),
            side: intent.kind.side().unwrap_or(crate::domain::intent::Side::Buy),
            quantity: intent.quantity,
            quote_order_qty: if intent.quantity.is_none() { intent.amount } else { None },
            client_order_id,
        };
        let sent_at = chrono::Utc::now();
        match self.exchange.place_order(&req).await {
            Ok(report) => outcome_of(report),
            Err(PortError::Ambiguous(why)) => self.resolve(&req, sent_at, why).await,
            // The adapter reports the others only when the order cannot
            // have executed: refused (`Rejected`) or not sent, by class.
            Err(e) => Outcome::of_port_error(e),
        }
    }

    /// One Simple Earn move. Refused as too frequent (-6009, e.g. right
    /// after an earlier run's move: the limit is per account), it was not
    /// executed, so it is sent once more after Binance's 3 s.
    async fn earn(&self, intent: &Intent) -> Outcome {
        let product = intent.product_id.as_deref().unwrap_or("");
        let amount = intent.amount.unwrap_or_default();
        let mut retried = false;
        loop {
            let result = match intent.kind {
                IntentKind::EarnSubscribe => self.exchange.earn_subscribe(product, amount).await,
                _ => self.exchange.earn_redeem(product, amount).await,
            };
            return match result {
                Ok(()) => Outcome::EarnDone,
                Err(PortError::Retryable(_)) if !retried => {
                    retried = true;
                    self.clock.sleep(crate::shell::runner::EARN_MOVE_SPACING).await;
                    continue;
                }
                Err(e) => Outcome::of_port_error(e),
            };
        }
    }

    /// Looks an ambiguous order up until the exchange gives a final answer.
    /// A fill found this way comes without its fee, which is read next (if
    /// that fails, the fill is booked without it and the report says so).
    async fn resolve(&mut self, req: &OrderRequest, sent_at: DateTime<Utc>, why: String) -> Outcome {
        match self.find(req, sent_at, why).await {
            Ok(mut report) => {
                if let Some(warning) = read_commissions(self.exchange, &mut report).await {
                    self.warnings.push(warning);
                }
                outcome_of(report)
            }
            Err(unresolved) => unresolved,
        }
    }

    /// The exchange's final record of an ambiguous order, or `Unresolved`.
    /// Only an order matching the request (symbol, side, placed no earlier
    /// than it was sent) counts: the id may also name an older, filled order.
    async fn find(&self, req: &OrderRequest, sent_at: DateTime<Utc>, why: String) -> Result<OrderReport, Outcome> {
        let mut delay = self.policy.query_backoff;
        let mut last = String::from("not found");
        let other = |r: &OrderReport| reconcile::mismatch(&req.symbol, req.side, sent_at, r);
        for _ in 0..self.policy.query_attempts {
            self.clock.sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(8));
            match self.exchange.query_order(&req.symbol, &req.client_order_id).await {
                Ok(Some(report)) => match other(&report) {
                    Some(mismatch) => last = mismatch,
                    None if report.status.is_final() => return Ok(report),
                    None => last = format!("still {:?}", report.status),
                },
                Ok(None) => last = "not found".into(),
                Err(e) => last = e.to_string(),
            }
        }
        // Second look: the order list, in case the lookup path lags.
        // The exchange's order times are wall-clock times.
        let since = chrono::Utc::now() - chrono::Duration::minutes(10);
        if let Ok(orders) = self.exchange.orders_since(&req.symbol, since).await
            && let Some(report) =
                orders.into_iter().rev().find(|o| o.client_order_id == req.client_order_id && other(o).is_none())
            && report.status.is_final()
        {
            return Ok(report);
        }
        Err(Outcome::Unresolved(format!(
            "{why}; after {} lookups by client order id the order is {last}",
            self.policy.query_attempts
        )))
    }
}

/// Completes a report learnt from a lookup (which carries no commissions)
/// with its fees from the order's trades, so the fill is booked net of
/// them. When they cannot be read, the report stays as it is and the
/// returned warning says so: a fee booked late shows up as a small external
/// flow next run, which is better than blocking the cycle over it.
pub async fn read_commissions<E: Exchange>(exchange: &E, report: &mut OrderReport) -> Option<String> {
    // Only a final fill is booked; one still open is looked at again later.
    if !report.status.is_final() || report.executed_qty <= Decimal::ZERO || !report.commissions.is_empty() {
        return None;
    }
    match exchange.order_commissions(&report.symbol, report.order_id).await {
        Ok(commissions) => {
            report.commissions = commissions;
            None
        }
        Err(e) => Some(format!(
            "{} order {} filled, but its fee could not be read ({e}); booked without it, so the next run may \
             count the fee as an external flow",
            report.symbol, report.client_order_id
        )),
    }
}

/// An order report as an outcome: whatever executed counts, even when a
/// thin book expired the rest of a market order.
fn outcome_of(report: OrderReport) -> Outcome {
    if report.executed_qty > Decimal::ZERO {
        let mut commissions = report.commissions;
        for c in &mut commissions {
            c.amount = c.amount.normalize();
        }
        Outcome::Filled(Fill {
            executed_qty: report.executed_qty.normalize(),
            quote_qty: report.cummulative_quote_qty.normalize(),
            commissions,
            estimated: false,
        })
    } else if report.status.is_final() {
        Outcome::Rejected(format!("order ended {:?} without a fill", report.status))
    } else {
        Outcome::Unresolved(format!("order is {:?} with nothing executed", report.status))
    }
}

impl<E: Exchange> Executor for ExchangeExecutor<'_, E> {
    async fn perform(&mut self, intent: &Intent) -> Outcome {
        if !intent.kind.is_order() {
            return self.earn(intent).await;
        }
        self.order(intent).await
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    async fn await_funds(&mut self, asset: &str, need: Decimal) -> Option<Decimal> {
        let mut seen = None;
        let mut delay = self.policy.redeem_poll_interval;
        for attempt in 0..self.policy.redeem_polls.max(1) {
            if attempt > 0 {
                self.clock.sleep(delay).await;
                delay = (delay * 2).min(self.policy.redeem_poll_cap);
            }
            if let Ok(free) = self.exchange.spot_free(asset).await {
                seen = Some(free);
                if free >= need {
                    break;
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OrderStatus;
    use rust_decimal_macros::dec;

    fn report(status: OrderStatus, qty: Decimal) -> OrderReport {
        OrderReport {
            symbol: "ETHUSDT".into(),
            client_order_id: "id".parse().unwrap(),
            order_id: 1,
            status,
            executed_qty: qty,
            cummulative_quote_qty: qty * dec!(3000),
            commissions: vec![],
            side: None,
            time: None,
        }
    }

    #[test]
    fn partial_fill_counts_and_empty_final_orders_are_rejections() {
        assert!(
            matches!(outcome_of(report(OrderStatus::Filled, dec!(1))), Outcome::Filled(f) if f.quote_qty == dec!(3000))
        );
        assert!(
            matches!(outcome_of(report(OrderStatus::Expired, dec!(0.4))), Outcome::Filled(f) if f.executed_qty == dec!(0.4))
        );
        assert_eq!(
            outcome_of(report(OrderStatus::Rejected, dec!(0))),
            Outcome::Rejected("order ended Rejected without a fill".into())
        );
        assert!(matches!(outcome_of(report(OrderStatus::New, dec!(0))), Outcome::Unresolved(_)));
    }
}
