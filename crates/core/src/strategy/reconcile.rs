//! Settling orders an earlier run wrote ahead but did not finish (design.md
//! §1 step 3): each pending entry is looked up on the exchange by its client
//! order id before anything is planned, so a crash between sending and
//! saving never leads to the same order twice.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::booking::{self, FillDay, OrderFacts};
use crate::boundary::OrderReport;
use crate::domain::intent::{Fill, Side};
use crate::domain::pool::infer_base_asset;
use crate::domain::state::{PENDING_QUARANTINED, PendingOrder, StateDoc};

/// What became of one pending order.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// It executed: the state now reflects the fill.
    Settled { executed_qty: Decimal, quote_qty: Decimal },
    /// It never executed (unknown to the exchange, or ended without a fill).
    Dropped(String),
    /// Still open or unknowable: it stays in the ledger and blocks new risk.
    Kept(String),
}

/// How far the exchange's clock may lag ours when an order's creation time
/// is compared with the moment it was written ahead.
pub const CLOCK_TOLERANCE_SECS: i64 = 120;

/// Why `report`, found under a client id, is not the order that was meant
/// (`None` when it is): client ids repeat per hour slot and are free again
/// once an order filled, so the id alone can point at an older order
/// (design.md §3.2, binance-and-pitfalls.md §3.4). `not_before` is when the
/// meant order was written ahead (or sent).
pub fn mismatch(symbol: &str, side: Side, not_before: DateTime<Utc>, report: &OrderReport) -> Option<String> {
    if report.symbol != symbol {
        return Some(format!("the order found under this id is for {}, not {symbol}", report.symbol));
    }
    if let Some(other) = report.side.filter(|s| *s != side) {
        return Some(format!("the order found under this id is a {other:?}, not a {side:?}"));
    }
    match report.time {
        Some(t) if t < not_before - chrono::Duration::seconds(CLOCK_TOLERANCE_SECS) => Some(format!(
            "the order found under this id ({}) was placed at {}, before this one was written ({}): an older order reusing the id",
            report.order_id,
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            not_before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        _ => None,
    }
}

/// When the pending entry was written (its `created_at`), if readable.
pub fn written_at(order: &PendingOrder) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&order.created_at).ok().map(|t| t.with_timezone(&Utc))
}

/// `PENDING_QUARANTINE_HOURS` when unset: an entry unresolved this long
/// after it was written is quarantined (issue 11).
pub const DEFAULT_QUARANTINE_HOURS: i64 = 24;

/// Quarantines `order` (kept, status `quarantined`, with its reason) when it
/// is still unresolved `max_age` or longer after it was written; returns the
/// reason when it did so now. An entry already quarantined, or whose write
/// time cannot be read, is left as it is (the latter already blocks risk).
pub fn quarantine_if_stale(order: &mut PendingOrder, now: DateTime<Utc>, max_age: chrono::Duration) -> Option<String> {
    if order.status == PENDING_QUARANTINED {
        return None;
    }
    let written = written_at(order)?;
    if now - written < max_age {
        return None;
    }
    let reason = format!(
        "unresolved for {} h since it was written at {} (PENDING_QUARANTINE_HOURS={})",
        (now - written).num_hours(),
        written.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        max_age.num_hours()
    );
    quarantine(order, &reason);
    Some(reason)
}

/// Marks `order` quarantined for `reason`: it stays in the ledger and blocks
/// new risk in its symbol only until an operator resolves it.
pub fn quarantine(order: &mut PendingOrder, reason: &str) {
    order.status = PENDING_QUARANTINED.to_string();
    order.quarantine_reason = Some(reason.to_string());
}

/// How long after its writer's lease ran out an order may still reach the
/// exchange and execute: Binance refuses a request older than its
/// `recvWindow`, at most 60 s.
pub const SEND_GRACE_SECS: i64 = 60;

/// Why an entry the exchange does not know must still be kept: the run
/// that wrote it held the lease until `lease_until`, and until then (plus
/// the time a request can be in flight) it may still be sending the order
/// (design.md §3.18).
fn writer_may_still_send(order: &PendingOrder, now: DateTime<Utc>) -> Option<String> {
    let until = order.lease_until.filter(|t| *t + chrono::Duration::seconds(SEND_GRACE_SECS) >= now)?;
    Some(format!(
        "not on the exchange yet, but run {} held the lease until {} and may still be sending it; kept",
        order.run_id,
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))
}

/// Applies the exchange's record of `order` (`None`: the exchange does not
/// know it) to `state`, removing or keeping the ledger entry.
pub fn settle(
    state: &mut StateDoc,
    order: &PendingOrder,
    report: Option<&OrderReport>,
    now: DateTime<Utc>,
) -> Settlement {
    let id = &order.client_order_id;
    let Some(report) = report else {
        if let Some(why) = writer_may_still_send(order, now) {
            return Settlement::Kept(why);
        }
        state.pending_orders.shift_remove(id);
        return Settlement::Dropped("the exchange has no order with this client id: it was never placed".into());
    };
    if !report.status.is_final() {
        return Settlement::Kept(format!("order is still {:?} on the exchange", report.status));
    }
    state.pending_orders.shift_remove(id);
    if report.executed_qty <= Decimal::ZERO {
        return Settlement::Dropped(format!("order ended {:?} without a fill", report.status));
    }
    let fill = Fill {
        executed_qty: report.executed_qty,
        quote_qty: report.cummulative_quote_qty,
        commissions: report.commissions.clone(),
        estimated: false,
    };
    book_settled(state, order, &fill, now);
    Settlement::Settled { executed_qty: report.executed_qty, quote_qty: report.cummulative_quote_qty }
}

/// Books `fill` of the ledger entry `order` (already removed from the
/// ledger) through the one fill booking, on the day it was planned: the
/// path of a fill found by lookup and of one an operator enters by hand.
pub fn book_settled(state: &mut StateDoc, order: &PendingOrder, fill: &Fill, now: DateTime<Utc>) {
    // The day the order was planned: the duplicate guards are per UTC day.
    let day = DateTime::parse_from_rfc3339(&order.created_at).map(|t| t.with_timezone(&Utc)).unwrap_or(now);
    let day_id = day.format("%Y%m%d").to_string();
    // A fill of an earlier day is already in the valuation today was reset from.
    let counts_today = day.format("%Y-%m-%d").to_string() == state.last_reset_date;
    let base =
        state.retired.get(&order.symbol).map(|(_, b)| b.clone()).unwrap_or_else(|| infer_base_asset(&order.symbol));
    let facts = OrderFacts {
        kind: order.kind,
        symbol: &order.symbol,
        base: &base,
        ordered_qty: order.quantity,
        planned_price: Some(order.price).filter(|p| *p > Decimal::ZERO),
    };
    // The crashed run's last save predates this fill; booking it moves the
    // snapshot too, so the trade is not mistaken for a deposit or withdrawal.
    booking::book_fill(state, &facts, fill, FillDay { day_id: &day_id, counts_today });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boundary::OrderStatus;
    use crate::domain::intent::{Commission, IntentKind, Side};
    use crate::domain::state::TrendPosition;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn pending(kind: IntentKind, symbol: &str, side: Side) -> PendingOrder {
        PendingOrder {
            client_order_id: format!("tc-26031510-{}-{symbol}", kind.code()).parse().unwrap(),
            kind,
            symbol: symbol.into(),
            side,
            quantity: Some(dec!(0.5)),
            quote_amount: None,
            price: dec!(3200),
            run_id: "r1".into(),
            created_at: "2026-03-15T10:00:05Z".into(),
            status: "pending".into(),
            lease_until: None,
            quarantine_reason: None,
        }
    }

    fn report(status: OrderStatus, qty: Decimal, quote: Decimal) -> OrderReport {
        OrderReport {
            symbol: "ETHUSDT".into(),
            client_order_id: "x".parse().unwrap(),
            order_id: 7,
            status,
            executed_qty: qty,
            cummulative_quote_qty: quote,
            commissions: vec![],
            side: None,
            time: None,
        }
    }

    fn state_with(p: &PendingOrder) -> StateDoc {
        let mut s = StateDoc { last_reset_date: "2026-03-15".into(), ..Default::default() };
        s.positions.insert("ETHUSDT".into(), TrendPosition::default());
        s.pending_orders.insert(p.client_order_id.clone(), p.clone());
        s.last_balance_snapshot.insert("USDT".into(), 2000.0);
        s.last_balance_snapshot.insert("ETH".into(), 0.0);
        s
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 11, 0, 0).unwrap()
    }

    #[test]
    fn a_lookup_only_accepts_the_order_that_was_meant() {
        let written = Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 5).unwrap();
        let mut r = report(OrderStatus::Filled, dec!(0.5), dec!(1605));
        assert_eq!(mismatch("ETHUSDT", Side::Buy, written, &r), None, "side and time unknown: accepted");
        r.side = Some(Side::Buy);
        // Within the clock tolerance of the moment it was written.
        r.time = Some(written - chrono::Duration::seconds(CLOCK_TOLERANCE_SECS));
        assert_eq!(mismatch("ETHUSDT", Side::Buy, written, &r), None);
        r.time = Some(written - chrono::Duration::minutes(30));
        let why = mismatch("ETHUSDT", Side::Buy, written, &r).unwrap();
        assert!(why.contains("an older order reusing the id"), "{why}");
        r.time = None;
        assert_eq!(
            mismatch("ETHUSDT", Side::Sell, written, &r).as_deref(),
            Some("the order found under this id is a Buy, not a Sell")
        );
        assert_eq!(
            mismatch("SOLUSDT", Side::Buy, written, &r).as_deref(),
            Some("the order found under this id is for ETHUSDT, not SOLUSDT")
        );
    }

    #[test]
    fn an_unknown_order_is_kept_while_its_writer_may_still_send_it() {
        let mut p = pending(IntentKind::TrendBuy, "ETHUSDT", Side::Buy);
        p.lease_until = Some(now() + chrono::Duration::seconds(1));
        let mut s = state_with(&p);
        let got = settle(&mut s, &p, None, now());
        assert!(matches!(&got, Settlement::Kept(why) if why.contains("may still be sending it")), "{got:?}");
        assert_eq!(s.pending_orders.len(), 1);
        // Nor right after: a request sent just before may still be in flight.
        p.lease_until = Some(now() - chrono::Duration::seconds(SEND_GRACE_SECS));
        assert!(matches!(settle(&mut s, &p, None, now()), Settlement::Kept(_)));
        // Once that lease ran out (and any request with it) it was never placed.
        p.lease_until = Some(now() - chrono::Duration::seconds(SEND_GRACE_SECS + 1));
        assert!(matches!(settle(&mut s, &p, None, now()), Settlement::Dropped(_)));
        assert!(s.pending_orders.is_empty());
    }

    #[test]
    fn filled_buy_is_settled_into_the_position() {
        let p = pending(IntentKind::TrendBuy, "ETHUSDT", Side::Buy);
        let mut s = state_with(&p);
        let got = settle(&mut s, &p, Some(&report(OrderStatus::Filled, dec!(0.5), dec!(1605))), now());
        assert_eq!(got, Settlement::Settled { executed_qty: dec!(0.5), quote_qty: dec!(1605) });
        assert!(s.pending_orders.is_empty());
        assert_eq!(s.positions["ETHUSDT"], TrendPosition::holding(3210.0));
        assert!(s.acted_today("ETHUSDT", "buy", "20260315"));
        assert_eq!(s.daily_trend_equity_base, 1605.0);
        assert_eq!(s.last_balance_snapshot["USDT"], 395.0);
        assert_eq!(s.last_balance_snapshot["ETH"], 0.5);
    }

    #[test]
    fn unknown_order_is_dropped_and_open_order_kept() {
        let p = pending(IntentKind::TrendBuy, "ETHUSDT", Side::Buy);
        let mut s = state_with(&p);
        assert!(matches!(settle(&mut s, &p, None, now()), Settlement::Dropped(_)));
        assert!(s.pending_orders.is_empty());
        assert!(!s.positions["ETHUSDT"].is_holding);

        let mut s = state_with(&p);
        assert!(matches!(
            settle(&mut s, &p, Some(&report(OrderStatus::New, dec!(0), dec!(0))), now()),
            Settlement::Kept(_)
        ));
        assert_eq!(s.pending_orders.len(), 1);
        let expired = report(OrderStatus::Expired, dec!(0), dec!(0));
        assert_eq!(
            settle(&mut s, &p, Some(&expired), now()),
            Settlement::Dropped("order ended Expired without a fill".into())
        );
    }

    #[test]
    fn dca_buy_and_trim_set_their_daily_guards() {
        let p = pending(IntentKind::DcaBuy, "BTCUSDT", Side::Buy);
        let mut s = state_with(&p);
        settle(&mut s, &p, Some(&report(OrderStatus::Filled, dec!(0.001), dec!(80))), now());
        assert_eq!(s.dca_last_buy_date, "20260315");
        assert_eq!(s.btc.holding_qty, 0.001);
        assert_eq!(s.btc.avg_cost, 80000.0);
        let p = pending(IntentKind::DcaSell, "BTCUSDT", Side::Sell);
        s.pending_orders.insert(p.client_order_id.clone(), p.clone());
        settle(&mut s, &p, Some(&report(OrderStatus::Filled, dec!(0.0004), dec!(32))), now());
        assert_eq!(s.dca_last_sell_date, "20260315");
        assert!((s.btc.holding_qty - 0.0006).abs() < 1e-12);
    }

    #[test]
    fn partially_filled_then_expired_market_order_settles_what_executed() {
        let p = pending(IntentKind::TrendSell, "ETHUSDT", Side::Sell);
        let mut s = state_with(&p);
        s.positions.insert("ETHUSDT".into(), TrendPosition::holding(3000.0));
        s.last_balance_snapshot.insert("ETH".into(), 0.5);
        let r = report(OrderStatus::Expired, dec!(0.2), dec!(640));
        assert_eq!(
            settle(&mut s, &p, Some(&r), now()),
            Settlement::Settled { executed_qty: dec!(0.2), quote_qty: dec!(640) }
        );
        // 0.3 of the 0.5 ordered is still held: the position stays open and
        // today's sell guard stays clear so the next cycle can sell the rest.
        assert_eq!(s.positions["ETHUSDT"], TrendPosition::holding(3000.0));
        assert!(!s.acted_today("ETHUSDT", "sell", "20260315"));
        assert_eq!(s.daily_trend_sell_proceeds, 640.0);
        assert!((s.last_balance_snapshot["ETH"] - 0.3).abs() < 1e-12);
        assert_eq!(s.last_balance_snapshot["USDT"], 2640.0);
    }

    #[test]
    fn dca_buy_with_its_commission_in_btc_books_the_btc_received() {
        let p = pending(IntentKind::DcaBuy, "BTCUSDT", Side::Buy);
        let mut s = state_with(&p);
        s.last_balance_snapshot.insert("BTC".into(), 0.0);
        let mut r = report(OrderStatus::Filled, dec!(0.001), dec!(80));
        r.commissions = vec![Commission { asset: "BTC".into(), amount: dec!(0.000001) }];
        settle(&mut s, &p, Some(&r), now());
        assert_eq!(s.btc.holding_qty, 0.000999);
        assert!((s.btc.avg_cost - 80.0 / 0.000999).abs() < 1e-6);
        assert_eq!(s.last_balance_snapshot["BTC"], 0.000999);
        assert_eq!(s.last_balance_snapshot["USDT"], 1920.0);
    }

    #[test]
    fn an_unresolved_order_is_quarantined_at_the_configured_age_not_a_minute_before() {
        let day = chrono::Duration::hours(DEFAULT_QUARANTINE_HOURS);
        let written = Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 5).unwrap();
        let mut order = pending(IntentKind::TrendBuy, "ETHUSDT", Side::Buy);
        order.status = "unresolved".into();

        let almost = written + chrono::Duration::hours(23) + chrono::Duration::minutes(59);
        assert_eq!(quarantine_if_stale(&mut order, almost, day), None);
        assert_eq!((order.status.as_str(), order.quarantine_reason.as_deref()), ("unresolved", None));

        let reason = quarantine_if_stale(&mut order, written + day, day);
        let expected = "unresolved for 24 h since it was written at 2026-03-15T10:00:05Z (PENDING_QUARANTINE_HOURS=24)";
        assert_eq!(reason.as_deref(), Some(expected));
        assert_eq!((order.status.as_str(), order.quarantine_reason.as_deref()), (PENDING_QUARANTINED, Some(expected)));

        // Already quarantined: not again (it was alerted once).
        assert_eq!(quarantine_if_stale(&mut order, written + day * 2, day), None);
    }

    #[test]
    fn the_age_rule_follows_the_configured_hours() {
        let written = Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 5).unwrap();
        let mut order = pending(IntentKind::TrendBuy, "ETHUSDT", Side::Buy);
        let six = chrono::Duration::hours(6);
        assert_eq!(quarantine_if_stale(&mut order, written + chrono::Duration::hours(5), six), None);
        assert!(quarantine_if_stale(&mut order, written + six, six).is_some());
        assert_eq!(order.status, PENDING_QUARANTINED);
    }
}
