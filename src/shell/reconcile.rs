//! Step 3 of the runbook: settling the orders an earlier run wrote ahead
//! but did not finish, before anything new is planned (design.md §3.2).
//! Separate from the runner because it talks to the exchange about the
//! past run, not this one; the settling itself is pure (core
//! `strategy::reconcile`).

use crate::domain::report::Reconciliation;
use crate::domain::state::{PENDING_QUARANTINED, PendingOrder, StateDoc};
use crate::notify::event::Event;
use crate::ports::{Exchange, Notifier, OrderReport, PortError, StateStore};
use crate::shell::effects::Executor;
use crate::shell::runner::{Shell, Stop};
use crate::strategy::reconcile::{self, Settlement};

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// Looks every pending order up on the exchange and settles it. An
    /// order found under its id must match the entry (symbol, side, placed
    /// no earlier than written); an order the exchange refuses to look up
    /// (e.g. a delisted symbol) is quarantined, and one that cannot be
    /// looked up right now is kept: neither stops the cycle (sells and the
    /// breaker still run), both block new risk and need attention. One kept
    /// for `PENDING_QUARANTINE_HOURS` since it was written is quarantined
    /// too, so it blocks only its own symbol from then on. A fill
    /// found by lookup has its fee read from the order's trades before it
    /// is booked; if that read fails it is booked without it, with a warning.
    pub(super) async fn reconcile(&mut self, state: &mut StateDoc) -> Result<(), Stop> {
        // An unreadable ledger entry is told by its durable alert
        // (`order_unreadable:<key>`), not every cycle (the report's
        // attention list still names it).
        let pending: Vec<PendingOrder> = state.pending_orders.values().cloned().collect();
        for order in pending {
            let (kind, detail) = match self.look_up(&order).await {
                Ok((mut found, note)) => {
                    if let Some(report) = found.as_mut()
                        && let Some(warning) = crate::shell::execute::read_commissions(self.run.exchange, report).await
                    {
                        self.report.warnings.push(warning);
                    }
                    let outcome = reconcile::settle(state, &order, found.as_ref(), self.run.now);
                    let (kind, why) = match &outcome {
                        Settlement::Settled { executed_qty, quote_qty } => (
                            "settled",
                            format!("executed {} for {} USDT", executed_qty.normalize(), quote_qty.normalize()),
                        ),
                        Settlement::Dropped(why) => ("dropped", why.clone()),
                        Settlement::Kept(why) => match self.quarantine_if_stale(state, &order) {
                            Some(stale) => ("quarantined", format!("{why}; {stale}")),
                            None => ("kept", why.clone()),
                        },
                    };
                    (kind, note.map(|n| format!("{why} ({n})")).unwrap_or(why))
                }
                Err(PortError::Definitive(e)) => {
                    let detail = quarantined_detail(&order, &format!("cannot be looked up on the exchange: {e}"));
                    if let Some(entry) = state.pending_orders.get_mut(&order.client_order_id)
                        && entry.status != PENDING_QUARANTINED
                    {
                        // Alerted once, when it is quarantined; each later run
                        // reports it as an attention item.
                        reconcile::quarantine(entry, &format!("the exchange refuses to look it up: {e}"));
                        self.outbox.push(Event::OrderAttention { detail: detail.clone() });
                    }
                    ("quarantined", detail)
                }
                Err(e) => {
                    let why = format!("could not be looked up this run ({e}); kept, no new risk this cycle");
                    match self.quarantine_if_stale(state, &order) {
                        Some(stale) => ("quarantined", format!("{why}; {stale}")),
                        None => ("kept", why),
                    }
                }
            };
            self.report.reconciled.push(Reconciliation {
                client_order_id: order.client_order_id.clone(),
                symbol: order.symbol.clone(),
                outcome: kind.to_string(),
                detail,
            });
        }
        if !self.report.reconciled.is_empty() {
            self.save_state(state, "reconcile_pending_orders").await;
        }
        Ok(())
    }

    /// Applies the age rule (`PENDING_QUARANTINE_HOURS`) to an entry this
    /// run kept; when it quarantines it now, alerts once and says why.
    fn quarantine_if_stale(&mut self, state: &mut StateDoc, order: &PendingOrder) -> Option<String> {
        let max_age = chrono::Duration::hours(self.run.settings.pending_quarantine_hours);
        let entry = state.pending_orders.get_mut(&order.client_order_id)?;
        let why = reconcile::quarantine_if_stale(entry, self.run.now, max_age)?;
        let detail = quarantined_detail(order, &why);
        self.outbox.push(Event::OrderAttention { detail: detail.clone() });
        Some(detail)
    }

    /// The exchange's record of a pending order: by client id, else from
    /// the order list; an order under the same id that is not this one
    /// (an older order reusing the id) does not count. Also says why a
    /// found order was passed over.
    async fn look_up(&self, order: &PendingOrder) -> Result<(Option<OrderReport>, Option<String>), PortError> {
        let written = reconcile::written_at(order).unwrap_or(self.run.now);
        let other = |r: &OrderReport| reconcile::mismatch(&order.symbol, order.side, written, r);
        let mut passed_over = None;
        if let Some(report) = self.run.exchange.query_order(&order.symbol, &order.client_order_id).await? {
            match other(&report) {
                None => return Ok((Some(report), None)),
                Some(why) => passed_over = Some(why),
            }
        }
        // The order list since shortly before the order was written ahead:
        // a lookup by client id can miss an order the list already shows.
        // Binance's order list reaches one day back at most.
        let since = written.max(self.run.now - chrono::Duration::hours(23)) - chrono::Duration::minutes(1);
        let orders = self.run.exchange.orders_since(&order.symbol, since).await?;
        let found = orders.into_iter().rev().find(|o| o.client_order_id == order.client_order_id && other(o).is_none());
        Ok((found, passed_over))
    }
}

/// What the operator reads when `order` is quarantined for `why`: what
/// it blocks and how to settle it.
fn quarantined_detail(order: &PendingOrder, why: &str) -> String {
    format!(
        "order {id} ({symbol}) {why}; quarantined: kept in the ledger, no new {symbol} risk until it is resolved \
         (check it on Binance, then `tradecycle orders resolve {id} --filled QTY@PRICE` or `--not-placed`)",
        id = order.client_order_id,
        symbol = order.symbol,
    )
}
