//! The pending ledger as the operator sees and settles it (issue 11):
//! `tradecycle orders list` rows and `tradecycle orders resolve`. Separate
//! from `reconcile` because here a person, not the exchange, says what became
//! of an order; a fill still goes through the one fill booking
//! ([`reconcile::book_settled`]), so positions and the balance snapshot move
//! exactly as when a run finds the fill itself. Pure: `now` and the operator
//! are parameters.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::reconcile;
use crate::domain::intent::{Fill, IntentKind, Side};
use crate::domain::state::{OPERATOR_ACTIONS_KEPT, OperatorAction, StateDoc};

/// One ledger entry as `orders list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerRow {
    pub client_order_id: String,
    pub symbol: String,
    pub side: Side,
    pub kind: IntentKind,
    pub quantity: Option<Decimal>,
    pub quote_amount: Option<Decimal>,
    pub price: Decimal,
    pub status: String,
    /// When it was written (RFC 3339) and by which run.
    pub created_at: String,
    pub run_id: String,
    /// Whole hours since it was written (`None`: unreadable write time).
    pub age_hours: Option<i64>,
    pub quarantine_reason: Option<String>,
}

/// The ledger, in ledger order.
pub fn rows(state: &StateDoc, now: DateTime<Utc>) -> Vec<LedgerRow> {
    state
        .pending_orders
        .values()
        .map(|o| LedgerRow {
            client_order_id: o.client_order_id.to_string(),
            symbol: o.symbol.clone(),
            side: o.side,
            kind: o.kind,
            quantity: o.quantity,
            quote_amount: o.quote_amount,
            price: o.price,
            status: o.status.clone(),
            created_at: o.created_at.clone(),
            run_id: o.run_id.clone(),
            age_hours: reconcile::written_at(o).map(|t| (now - t).num_hours()),
            quarantine_reason: o.quarantine_reason.clone(),
        })
        .collect()
}

/// What the operator says became of an order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolution {
    /// It executed `qty` at an average `price` (USDT).
    Filled { qty: Decimal, price: Decimal },
    /// It never reached the exchange, or ended without a fill.
    NotPlaced,
}

/// `QTY@PRICE`, both positive decimals (e.g. `729.3@2.4`).
pub fn parse_fill(s: &str) -> Result<Resolution, String> {
    let bad = || format!("--filled: expected QTY@PRICE with positive decimals, e.g. 729.3@2.4, got '{s}'");
    let (qty, price) = s.split_once('@').ok_or_else(bad)?;
    let positive = |v: &str| v.trim().parse::<Decimal>().ok().filter(|d| *d > Decimal::ZERO);
    match (positive(qty), positive(price)) {
        (Some(qty), Some(price)) => Ok(Resolution::Filled { qty, price }),
        _ => Err(bad()),
    }
}

/// Settles ledger entry `id` as `how`, recording who did it and when;
/// returns the recorded action. An id not in the ledger is an error that
/// says where to look.
pub fn resolve(
    state: &mut StateDoc,
    id: &str,
    how: Resolution,
    by: &str,
    now: DateTime<Utc>,
) -> Result<OperatorAction, String> {
    let entry = state.pending_orders.shift_remove(id).ok_or_else(|| {
        format!("no pending order '{id}' in the ledger; `tradecycle orders list` shows the client ids it holds")
    })?;
    let (action, detail) = match how {
        Resolution::Filled { qty, price } => {
            // The operator's numbers are all there is: no commission is known.
            let fill = Fill { executed_qty: qty, quote_qty: qty * price, commissions: vec![], estimated: false };
            reconcile::book_settled(state, &entry, &fill, now);
            ("order_filled", format!("filled {} @ {}", qty.normalize(), price.normalize()))
        }
        Resolution::NotPlaced => ("order_not_placed", "not placed".to_string()),
    };
    let done = OperatorAction {
        at: now,
        by: by.to_string(),
        action: action.to_string(),
        client_order_id: id.to_string(),
        detail,
        entry: Some(entry),
    };
    state.operator_actions.push(done.clone());
    let excess = state.operator_actions.len().saturating_sub(OPERATOR_ACTIONS_KEPT);
    state.operator_actions.drain(..excess);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::state::{PENDING_QUARANTINED, PendingOrder, TrendPosition};
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    const ID: &str = "tc-26031510-tb-ETHUSDT";

    fn state() -> StateDoc {
        let mut s = StateDoc { last_reset_date: "2026-03-16".into(), ..Default::default() };
        s.positions.insert("ETHUSDT".into(), TrendPosition::default());
        s.last_balance_snapshot.insert("USDT".into(), 5000.0);
        let order = PendingOrder {
            client_order_id: ID.parse().unwrap(),
            kind: IntentKind::TrendBuy,
            symbol: "ETHUSDT".into(),
            side: Side::Buy,
            quantity: Some(dec!(0.5)),
            quote_amount: None,
            price: dec!(3200),
            run_id: "r1".into(),
            created_at: "2026-03-15T10:00:05Z".into(),
            status: PENDING_QUARANTINED.into(),
            lease_until: None,
            quarantine_reason: Some("unresolved for 24 h".into()),
        };
        s.pending_orders.insert(order.client_order_id.clone(), order);
        s
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 16, 12, 0, 0).unwrap()
    }

    #[test]
    fn rows_show_the_entry_its_age_and_why_it_is_quarantined() {
        let rows = rows(&state(), now());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].client_order_id, ID);
        assert_eq!(rows[0].age_hours, Some(25));
        assert_eq!(rows[0].quarantine_reason.as_deref(), Some("unresolved for 24 h"));
    }

    #[test]
    fn a_fill_by_hand_is_booked_like_a_fill_found_by_lookup() {
        let mut by_hand = state();
        let done = resolve(&mut by_hand, ID, Resolution::Filled { qty: dec!(0.5), price: dec!(3100) }, "ops", now());
        assert_eq!(done.unwrap().detail, "filled 0.5 @ 3100");

        let mut looked_up = state();
        let entry = looked_up.pending_orders.shift_remove(ID).unwrap();
        let fill = Fill { executed_qty: dec!(0.5), quote_qty: dec!(1550), commissions: vec![], estimated: false };
        reconcile::book_settled(&mut looked_up, &entry, &fill, now());

        assert!(by_hand.pending_orders.is_empty());
        assert_eq!(by_hand.position("ETHUSDT"), TrendPosition::holding(3100.0));
        assert_eq!(by_hand.last_balance_snapshot, looked_up.last_balance_snapshot);
        assert_eq!(by_hand.trend_action_history, looked_up.trend_action_history);
        assert_eq!(by_hand.operator_actions.len(), 1);
        assert_eq!(by_hand.operator_actions[0].by, "ops");
        assert_eq!(by_hand.operator_actions[0].at, now());
        assert_eq!(by_hand.operator_actions[0].action, "order_filled");
    }

    #[test]
    fn not_placed_removes_the_entry_and_books_nothing() {
        let mut s = state();
        let before = (s.positions.clone(), s.last_balance_snapshot.clone());
        resolve(&mut s, ID, Resolution::NotPlaced, "ops", now()).unwrap();
        assert!(s.pending_orders.is_empty());
        assert_eq!((s.positions.clone(), s.last_balance_snapshot.clone()), before);
        assert_eq!(s.operator_actions[0].action, "order_not_placed");
        assert_eq!(s.operator_actions[0].entry.as_ref().unwrap().client_order_id.to_string(), ID);
    }

    #[test]
    fn an_unknown_id_is_refused_and_changes_nothing() {
        let mut s = state();
        let err = resolve(&mut s, "tc-26031510-tb-SOLUSDT", Resolution::NotPlaced, "ops", now()).unwrap_err();
        assert_eq!(
            err,
            "no pending order 'tc-26031510-tb-SOLUSDT' in the ledger; `tradecycle orders list` shows the client ids it holds"
        );
        assert_eq!(s.pending_orders.len(), 1);
        assert!(s.operator_actions.is_empty());
    }

    #[test]
    fn a_fill_is_quantity_at_price() {
        assert_eq!(parse_fill("729.3@2.4"), Ok(Resolution::Filled { qty: dec!(729.3), price: dec!(2.4) }));
        for bad in ["729.3", "0@2", "1@-2", "x@1", ""] {
            assert!(parse_fill(bad).unwrap_err().starts_with("--filled: expected QTY@PRICE"), "{bad}");
        }
    }

    #[test]
    fn operator_actions_round_trip_and_only_the_last_are_kept() {
        let mut s = state();
        for _ in 0..OPERATOR_ACTIONS_KEPT + 2 {
            let mut again = state();
            resolve(&mut again, ID, Resolution::NotPlaced, "ops", now()).unwrap();
            s.operator_actions.extend(again.operator_actions);
        }
        resolve(&mut s, ID, Resolution::NotPlaced, "last", now()).unwrap();
        assert_eq!(s.operator_actions.len(), OPERATOR_ACTIONS_KEPT);
        assert_eq!(s.operator_actions.last().unwrap().by, "last");
        let back = StateDoc::normalize(&s.to_value(), &crate::domain::pool::Universe::new());
        assert_eq!(back.operator_actions, s.operator_actions);
    }
}
