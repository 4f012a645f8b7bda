//! Position parity (issue 11, "ghost positions"): what the exchange holds
//! (spot free + locked + Simple Earn) per pool symbol, retired symbol and
//! the BTC core, against what the state believes. A difference worth more
//! than `POSITION_MISMATCH_MIN_USDT` is a [`PositionMismatch`]: a SEV-1
//! `position_mismatch:<SYMBOL>` alert that blocks new entries in that
//! symbol only, until the operator settles it with `tradecycle positions
//! adopt` ([`adopt`]) or `ignore` ([`ignore`]), or the quantities agree
//! again.
//!
//! What the state believes, per kind of position:
//! - a trend symbol (pool or retired) is held or flat; the state keeps no
//!   quantity of it (a trend sell sells the whole balance). Flat while the
//!   exchange holds more than the threshold's worth is a ghost; held while
//!   the exchange holds none of it is a position the state has lost. The
//!   state side of a held one is the quantity the last cycle closed with
//!   (`last_balance_snapshot`), when on record.
//! - BTC: `BTCUSDT.holding_qty`, maintained from DCA fills. Only a
//!   shortfall is a mismatch (the state believes in BTC the exchange does
//!   not hold): BTC above it is valued, bought and trimmed as the DCA core
//!   anyway, and accounts older than the record hold BTC it never counted.
//!
//! Not compared: USDT; BNB up to what the fee-fuel top-up can leave (the
//! state does not track fuel; `fuel_min_usdt` + `fuel_top_up_usdt`); a
//! symbol with an order in the ledger or an asset with an Earn redeem in
//! transit (its quantity is in flight, and has its own alert); a symbol the
//! operator ignores; a symbol without a price.
//!
//! Pure and separate from the cycle so `tradecycle status` and
//! `tradecycle positions list` can show the same comparison.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::Serialize;

use super::StrategyParams;
use super::cycle::{BNB_SYMBOL, BTC_SYMBOL, USDT};
use crate::domain::alerts::{Condition, Severity};
use crate::domain::pool::{Universe, infer_base_asset};
pub use crate::domain::report::PositionMismatch;
use crate::domain::snapshot::AssetBalance;
use crate::domain::state::{IgnoredPosition, OPERATOR_ACTIONS_KEPT, OperatorAction, StateDoc, TrendPosition};

/// `POSITION_MISMATCH_MIN_USDT`'s default.
pub const DEFAULT_MIN_USDT: Decimal = Decimal::TEN;
/// The RUNBOOK.md heading the alert points to.
pub const RUNBOOK_POSITION_MISMATCH: &str = "Position mismatch";
/// The alert key's prefix; the symbol follows.
pub const KEY_PREFIX: &str = "position_mismatch:";

/// The SEV-1 alert condition of one mismatch.
pub fn condition(m: &PositionMismatch) -> Condition {
    let base = infer_base_asset(&m.symbol);
    let state = match m.state_qty {
        Some(q) if q.is_zero() => "holds no position".to_string(),
        Some(q) => format!("believes it holds {} {base}", q.normalize()),
        None => "believes it holds a position (quantity not on record)".to_string(),
    };
    let reason = format!(
        "the exchange holds {} {base} but the state {state}: a difference worth {} USDT; no new entries in {} \
             until the quantities agree or `tradecycle positions adopt|ignore {}`",
        m.exchange_qty.normalize(),
        m.value_usdt.round_dp(2).normalize(),
        m.symbol,
        m.symbol
    );
    Condition {
        key: format!("{KEY_PREFIX}{}", m.symbol),
        severity: Severity::Sev1,
        scope: m.symbol.clone(),
        reason,
        runbook: RUNBOOK_POSITION_MISMATCH.to_string(),
    }
}

/// The alert conditions of `mismatches`, in their order.
pub fn conditions(mismatches: &[PositionMismatch]) -> Vec<Condition> {
    mismatches.iter().map(condition).collect()
}

fn dec(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap_or_default().round_dp(8).normalize()
}

/// The symbols compared: the runtime universe (pool and retired, symbol →
/// base asset) and the BTC core.
fn compared(universe: &Universe) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        universe.iter().filter(|(s, _)| s.as_str() != BTC_SYMBOL).map(|(s, b)| (s.clone(), b.clone())).collect();
    out.push((BTC_SYMBOL.to_string(), "BTC".to_string()));
    out
}

/// Why `symbol` is left out of the comparison, if it is.
fn excluded(state: &StateDoc, symbol: &str, base: &str) -> bool {
    base == USDT
        || state.ignored_positions.contains_key(symbol)
        || state.pending_orders.values().any(|o| o.symbol == symbol)
        || state.earn_in_transit.contains_key(base)
}

/// The quantity of `base` that counts as a position: all of it, except
/// BNB's fee fuel (`fuel_usdt`: the most fuel the cycle keeps).
fn position_qty(base: &str, total: Decimal, price: Decimal, fuel_usdt: Decimal) -> Decimal {
    if base == "BNB" && price > Decimal::ZERO {
        return (total - fuel_usdt / price).max(Decimal::ZERO);
    }
    total
}

/// The fuel allowance of the default strategy: the operator commands that
/// compare holdings (`positions`, `status`) have no `--set`.
fn default_fuel_usdt() -> Decimal {
    fuel_usdt(&StrategyParams::default())
}

/// The most BNB fee fuel the cycle keeps (a top-up when just under the minimum).
pub fn fuel_usdt(p: &StrategyParams) -> Decimal {
    p.fuel_min_usdt + p.fuel_top_up_usdt
}

/// Compares the exchange's holdings with the state (see the module header);
/// mismatches in the universe's order, BTC last.
pub fn compare(
    state: &StateDoc,
    universe: &Universe,
    balances: &BTreeMap<String, AssetBalance>,
    prices: &BTreeMap<String, Decimal>,
    min_usdt: Decimal,
) -> Vec<PositionMismatch> {
    compare_with_fuel(state, universe, balances, prices, min_usdt, default_fuel_usdt())
}

/// [`compare`] with the fuel allowance of the cycle's own parameters.
pub fn compare_with_fuel(
    state: &StateDoc,
    universe: &Universe,
    balances: &BTreeMap<String, AssetBalance>,
    prices: &BTreeMap<String, Decimal>,
    min_usdt: Decimal,
    fuel_usdt: Decimal,
) -> Vec<PositionMismatch> {
    let mut out = Vec::new();
    for (symbol, base) in compared(universe) {
        if excluded(state, &symbol, &base) {
            continue;
        }
        let Some(price) = prices.get(&symbol).copied().filter(|p| *p > Decimal::ZERO) else { continue };
        let total = balances.get(&base).map(AssetBalance::total).unwrap_or_default();
        let exchange_qty = position_qty(&base, total, price, fuel_usdt);
        let found = if symbol == BTC_SYMBOL {
            let believed = dec(state.btc.holding_qty.max(0.0));
            let short = believed - exchange_qty;
            (short * price > min_usdt).then(|| (Some(believed), short * price))
        } else if state.position(&symbol).is_holding {
            let on_record = state.last_balance_snapshot.get(&base).map(|q| dec(*q));
            exchange_qty.is_zero().then(|| (on_record, on_record.unwrap_or_default() * price))
        } else {
            (exchange_qty * price > min_usdt).then_some((Some(Decimal::ZERO), exchange_qty * price))
        };
        if let Some((state_qty, value)) = found {
            out.push(PositionMismatch {
                symbol,
                state_qty,
                exchange_qty: total.normalize(),
                value_usdt: value.round_dp(8).normalize(),
            });
        }
    }
    out
}

/// One symbol of the comparison as the operator's commands show it
/// (`tradecycle positions list`, `tradecycle status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParityRow {
    pub symbol: String,
    /// `held`, `flat` or BTC's recorded quantity.
    pub state: String,
    /// Spot free + locked + Simple Earn.
    pub exchange_qty: Decimal,
    /// `ok`, `mismatch`, `ignored` or `in_flight` (an order in the ledger).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<PositionMismatch>,
}

/// The universe the operator's commands compare without an upstream pool:
/// the symbols the state knows (pool and retired), symbol → base asset.
pub fn state_universe(state: &StateDoc) -> Universe {
    state.runtime_universe(&state.positions.keys().map(|s| (s.clone(), infer_base_asset(s))).collect())
}

/// Every compared symbol (the universe's, BTC last) with its status; the
/// mismatches are exactly [`compare`]'s.
pub fn rows(
    state: &StateDoc,
    universe: &Universe,
    balances: &BTreeMap<String, AssetBalance>,
    prices: &BTreeMap<String, Decimal>,
    min_usdt: Decimal,
) -> Vec<ParityRow> {
    let mismatches = compare(state, universe, balances, prices, min_usdt);
    compared(universe)
        .into_iter()
        .map(|(symbol, base)| {
            let held = if symbol == BTC_SYMBOL {
                format!("{} BTC", dec(state.btc.holding_qty))
            } else if state.position(&symbol).is_holding {
                "held".to_string()
            } else {
                "flat".to_string()
            };
            let mismatch = mismatches.iter().find(|m| m.symbol == symbol).cloned();
            let status = if state.ignored_positions.contains_key(&symbol) {
                "ignored"
            } else if state.pending_orders.values().any(|o| o.symbol == symbol) {
                "in_flight"
            } else if mismatch.is_some() {
                "mismatch"
            } else {
                "ok"
            };
            let exchange_qty = balances.get(&base).map(AssetBalance::total).unwrap_or_default().normalize();
            ParityRow { symbol, state: held, exchange_qty, status, mismatch }
        })
        .collect()
}

/// What `tradecycle positions adopt` did, for its output and the record.
fn record(state: &mut StateDoc, action: &str, detail: String, by: &str, now: DateTime<Utc>) -> OperatorAction {
    let done = OperatorAction {
        at: now,
        by: by.to_string(),
        action: action.to_string(),
        client_order_id: String::new(),
        detail,
        entry: None,
    };
    state.operator_actions.push(done.clone());
    let excess = state.operator_actions.len().saturating_sub(OPERATOR_ACTIONS_KEPT);
    state.operator_actions.drain(..excess);
    done
}

/// `tradecycle positions adopt`: takes the exchange's quantity of
/// `symbol` into the state at `price`, as a fill would have booked it (a
/// trend position held at `price`; BTC's record at the exchange quantity,
/// its average cost moved by the added quantity at `price`). The balance
/// snapshot and the day's guards are not touched: the quantity was already
/// on the account, so it is no trade and no inflow. Nothing held on the
/// exchange makes the position flat.
pub fn adopt(
    state: &mut StateDoc,
    symbol: &str,
    exchange_qty: Decimal,
    price: Decimal,
    by: &str,
    now: DateTime<Utc>,
) -> Result<OperatorAction, String> {
    if price <= Decimal::ZERO {
        return Err(format!("no usable price for {symbol}; cannot adopt it"));
    }
    if state.ignored_positions.contains_key(symbol) {
        return Err(format!("{symbol} is ignored; run `tradecycle positions unignore {symbol}` first"));
    }
    let base = infer_base_asset(symbol);
    let p = price.to_f64().unwrap_or(0.0);
    let before = if symbol == BTC_SYMBOL {
        let btc = &mut state.btc;
        let (held, got) = (btc.holding_qty.max(0.0), exchange_qty.to_f64().unwrap_or(0.0));
        let before = format!("{}", dec(held));
        if got <= 0.0 {
            btc.avg_cost = 0.0;
        } else if got > held {
            btc.avg_cost = (btc.avg_cost * held + (got - held) * p) / got;
        }
        btc.holding_qty = got.max(0.0);
        before
    } else {
        let pos = state.position(symbol);
        let before = if pos.is_holding { "held" } else { "flat" };
        if exchange_qty.is_zero() {
            state.set_position(symbol, TrendPosition::default());
        } else if !pos.is_holding {
            state.set_position(symbol, TrendPosition::holding(p));
        }
        before.to_string()
    };
    let detail =
        format!("{symbol}: state {before} -> {} {base} @ {} USDT", exchange_qty.normalize(), price.normalize());
    Ok(record(state, "position_adopted", detail, by, now))
}

/// `tradecycle positions ignore`: the holding of `symbol` is the
/// operator's own, never traded. BTC is the DCA core and cannot be ignored;
/// a position the state holds must be adopted (or sold) instead.
pub fn ignore(state: &mut StateDoc, symbol: &str, by: &str, now: DateTime<Utc>) -> Result<OperatorAction, String> {
    if symbol == BTC_SYMBOL {
        return Err(format!("{BTC_SYMBOL} is the BTC DCA core and cannot be ignored; adopt it instead"));
    }
    if symbol == BNB_SYMBOL {
        return Err(format!("{BNB_SYMBOL} holds the fee fuel the cycle tops up; it cannot be ignored"));
    }
    if symbol == USDT || !symbol.ends_with(USDT) {
        return Err(format!("{symbol}: only a USDT symbol such as SOLUSDT can be ignored"));
    }
    if state.position(symbol).is_holding {
        return Err(format!(
            "the state holds a {symbol} position; the cycle trades it: adopt the exchange quantity or let it be sold, \
             then ignore"
        ));
    }
    state.ignored_positions.insert(symbol.to_string(), IgnoredPosition { by: by.to_string(), at: now });
    Ok(record(state, "position_ignored", format!("{symbol}: ignored"), by, now))
}

/// `tradecycle positions unignore`: the symbol is compared and traded again.
pub fn unignore(state: &mut StateDoc, symbol: &str, by: &str, now: DateTime<Utc>) -> Result<OperatorAction, String> {
    if state.ignored_positions.shift_remove(symbol).is_none() {
        return Err(format!("{symbol} is not ignored; `tradecycle positions list` shows the ignored symbols"));
    }
    Ok(record(state, "position_unignored", format!("{symbol}: compared and traded again"), by, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client_order_id::ClientOrderId;
    use crate::domain::intent::{IntentKind, Side};
    use crate::domain::state::{EarnInTransit, PendingOrder};
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap()
    }

    fn universe() -> Universe {
        [("ETHUSDT", "ETH"), ("SOLUSDT", "SOL"), ("BNBUSDT", "BNB")]
            .iter()
            .map(|(s, b)| (s.to_string(), b.to_string()))
            .collect()
    }

    fn prices() -> BTreeMap<String, Decimal> {
        [("ETHUSDT", dec!(3200)), ("SOLUSDT", dec!(180)), ("BNBUSDT", dec!(600)), ("BTCUSDT", dec!(80000))]
            .iter()
            .map(|(s, p)| (s.to_string(), *p))
            .collect()
    }

    fn bal(free: Decimal, locked: Decimal, earn: Decimal) -> AssetBalance {
        AssetBalance { free, locked, earn }
    }

    fn balances(rows: &[(&str, AssetBalance)]) -> BTreeMap<String, AssetBalance> {
        rows.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

    fn flat_state() -> StateDoc {
        let mut s = StateDoc::default();
        for symbol in universe().keys() {
            s.positions.insert(symbol.clone(), TrendPosition::default());
        }
        s
    }

    fn run(state: &StateDoc, b: &BTreeMap<String, AssetBalance>) -> Vec<PositionMismatch> {
        compare(state, &universe(), b, &prices(), DEFAULT_MIN_USDT)
    }

    #[test]
    fn a_ghost_balance_in_a_flat_symbol_counts_spot_locked_and_earn() {
        let b = balances(&[("SOL", bal(dec!(2), dec!(0.5), dec!(0.5))), ("USDT", bal(dec!(5000), dec!(0), dec!(0)))]);
        let m = run(&flat_state(), &b);
        assert_eq!(
            m,
            vec![PositionMismatch {
                symbol: "SOLUSDT".into(),
                state_qty: Some(dec!(0)),
                exchange_qty: dec!(3),
                value_usdt: dec!(540),
            }]
        );
        let c = condition(&m[0]);
        assert_eq!(
            (c.key.as_str(), c.severity, c.scope.as_str()),
            ("position_mismatch:SOLUSDT", Severity::Sev1, "SOLUSDT")
        );
        assert_eq!(
            c.reason,
            "the exchange holds 3 SOL but the state holds no position: a difference worth 540 USDT; no new entries \
             in SOLUSDT until the quantities agree or `tradecycle positions adopt|ignore SOLUSDT`"
        );
        assert_eq!(c.runbook, "Position mismatch");
    }

    #[test]
    fn dust_up_to_the_threshold_is_not_a_position() {
        // 10 USDT exactly is not more than the threshold; a satoshi more is.
        let b = balances(&[("SOL", bal(dec!(0.05555555), dec!(0), dec!(0)))]);
        assert_eq!(run(&flat_state(), &b), vec![]);
        let b = balances(&[("SOL", bal(dec!(0.0556), dec!(0), dec!(0)))]);
        assert_eq!(run(&flat_state(), &b)[0].value_usdt, dec!(10.008));
        assert_eq!(compare(&flat_state(), &universe(), &b, &prices(), dec!(11)), vec![]);
    }

    #[test]
    fn a_held_position_the_exchange_lacks_is_a_mismatch_with_the_last_closing_quantity() {
        let mut s = flat_state();
        s.positions.insert("ETHUSDT".into(), TrendPosition::holding(3000.0));
        s.last_balance_snapshot.insert("ETH".into(), 0.25);
        let m = run(&s, &balances(&[]));
        assert_eq!(
            m,
            vec![PositionMismatch {
                symbol: "ETHUSDT".into(),
                state_qty: Some(dec!(0.25)),
                exchange_qty: dec!(0),
                value_usdt: dec!(800),
            }]
        );
        assert!(
            condition(&m[0]).reason.starts_with("the exchange holds 0 ETH but the state believes it holds 0.25 ETH")
        );
        // Held and on the exchange (any quantity): they agree.
        assert_eq!(run(&s, &balances(&[("ETH", bal(dec!(0.001), dec!(0), dec!(0)))])), vec![]);
        s.last_balance_snapshot.clear();
        assert_eq!(run(&s, &balances(&[]))[0].state_qty, None);
    }

    #[test]
    fn btc_is_a_mismatch_only_when_the_state_believes_in_more_than_the_exchange_holds() {
        let mut s = flat_state();
        s.btc.holding_qty = 0.01;
        let b = balances(&[("BTC", bal(dec!(0.0098), dec!(0), dec!(0.0001)))]);
        assert_eq!(run(&s, &b), vec![], "8 USDT short is not more than the threshold");
        let b = balances(&[("BTC", bal(dec!(0.0098), dec!(0), dec!(0)))]);
        assert_eq!(run(&s, &b)[0].value_usdt, dec!(16));
        assert_eq!(run(&s, &b)[0].exchange_qty, dec!(0.0098));
        // More BTC than the record: the DCA core's, not a mismatch.
        assert_eq!(run(&s, &balances(&[("BTC", bal(dec!(0.5), dec!(0), dec!(0)))])), vec![]);
    }

    #[test]
    fn bnb_fee_fuel_usdt_ignored_and_in_flight_symbols_are_not_compared() {
        // BNB in the pool: up to 25 USDT of it is fee fuel.
        let b = balances(&[("BNB", bal(dec!(0.04), dec!(0), dec!(0))), ("USDT", bal(dec!(9000), dec!(0), dec!(0)))]);
        assert_eq!(run(&flat_state(), &b), vec![]);
        let b = balances(&[("BNB", bal(dec!(0.1), dec!(0), dec!(0)))]);
        let m = run(&flat_state(), &b);
        assert_eq!((m[0].symbol.as_str(), m[0].exchange_qty, m[0].value_usdt), ("BNBUSDT", dec!(0.1), dec!(35)));

        let sol = balances(&[("SOL", bal(dec!(3), dec!(0), dec!(0)))]);
        let mut s = flat_state();
        s.ignored_positions.insert("SOLUSDT".into(), IgnoredPosition { by: "ops".into(), at: now() });
        assert_eq!(run(&s, &sol), vec![]);

        let mut s = flat_state();
        let id: ClientOrderId = "tc-26031510-tb-SOLUSDT".parse().unwrap();
        s.pending_orders.insert(
            id.clone(),
            PendingOrder {
                client_order_id: id,
                kind: IntentKind::TrendBuy,
                symbol: "SOLUSDT".into(),
                side: Side::Buy,
                quantity: Some(dec!(3)),
                quote_amount: None,
                price: dec!(180),
                run_id: "r1".into(),
                created_at: "2026-03-15T10:00:00Z".into(),
                status: "unresolved".into(),
                lease_until: None,
                quarantine_reason: None,
            },
        );
        assert_eq!(run(&s, &sol), vec![]);

        // A BTC redeem on its way to spot: the record is not short.
        let mut s = flat_state();
        s.btc.holding_qty = 0.01;
        let btc = balances(&[("BTC", bal(dec!(0.005), dec!(0), dec!(0)))]);
        assert_eq!(run(&s, &btc)[0].symbol, "BTCUSDT");
        s.earn_in_transit.insert(
            "BTC".into(),
            EarnInTransit {
                amount: dec!(0.005),
                spot_free_seen: dec!(0),
                since: "2026-03-15T09:00:00Z".into(),
                unconfirmed: None,
            },
        );
        assert_eq!(run(&s, &btc), vec![]);
    }

    #[test]
    fn adopt_holds_a_ghost_at_the_price_and_records_who_and_when() {
        let mut s = flat_state();
        let done = adopt(&mut s, "SOLUSDT", dec!(3), dec!(180), "alice", now()).unwrap();
        assert_eq!(s.positions["SOLUSDT"], TrendPosition::holding(180.0));
        assert_eq!((done.action.as_str(), done.by.as_str(), done.at), ("position_adopted", "alice", now()));
        assert_eq!(done.detail, "SOLUSDT: state flat -> 3 SOL @ 180 USDT");
        assert_eq!(s.operator_actions, vec![done]);
        assert!(s.last_balance_snapshot.is_empty(), "no trade, no inflow");
        let b = balances(&[("SOL", bal(dec!(3), dec!(0), dec!(0)))]);
        assert_eq!(run(&s, &b), vec![], "they agree now");

        // Nothing on the exchange: the lost position goes flat.
        adopt(&mut s, "SOLUSDT", dec!(0), dec!(180), "alice", now()).unwrap();
        assert!(!s.positions["SOLUSDT"].is_holding);
    }

    #[test]
    fn adopt_btc_takes_the_quantity_and_averages_the_added_part_at_the_price() {
        let mut s = flat_state();
        s.btc.holding_qty = 0.01;
        s.btc.avg_cost = 60000.0;
        adopt(&mut s, "BTCUSDT", dec!(0.02), dec!(80000), "ops", now()).unwrap();
        assert_eq!(s.btc.holding_qty, 0.02);
        assert_eq!(s.btc.avg_cost, 70000.0);
        adopt(&mut s, "BTCUSDT", dec!(0.005), dec!(80000), "ops", now()).unwrap();
        assert_eq!((s.btc.holding_qty, s.btc.avg_cost), (0.005, 70000.0));
        adopt(&mut s, "BTCUSDT", dec!(0), dec!(80000), "ops", now()).unwrap();
        assert_eq!((s.btc.holding_qty, s.btc.avg_cost), (0.0, 0.0));
        assert_eq!(
            adopt(&mut s, "BTCUSDT", dec!(1), dec!(0), "ops", now()).unwrap_err(),
            "no usable price for BTCUSDT; cannot adopt it"
        );
    }

    #[test]
    fn ignore_and_unignore_keep_who_and_when_and_refuse_what_the_cycle_trades() {
        let mut s = flat_state();
        ignore(&mut s, "SOLUSDT", "bob", now()).unwrap();
        assert_eq!(s.ignored_positions["SOLUSDT"], IgnoredPosition { by: "bob".into(), at: now() });
        let v = s.to_value();
        assert_eq!(v["ignored_positions"]["SOLUSDT"]["by"], "bob");
        assert_eq!(StateDoc::normalize(&v, &universe()).ignored_positions, s.ignored_positions);
        assert_eq!(
            adopt(&mut s, "SOLUSDT", dec!(3), dec!(180), "bob", now()).unwrap_err(),
            "SOLUSDT is ignored; run `tradecycle positions unignore SOLUSDT` first"
        );
        unignore(&mut s, "SOLUSDT", "bob", now()).unwrap();
        assert!(s.ignored_positions.is_empty());
        assert!(s.to_value().get("ignored_positions").is_none());
        assert_eq!(
            unignore(&mut s, "SOLUSDT", "bob", now()).unwrap_err(),
            "SOLUSDT is not ignored; `tradecycle positions list` shows the ignored symbols"
        );
        assert!(ignore(&mut s, "BTCUSDT", "bob", now()).unwrap_err().contains("DCA core"));
        s.positions.insert("ETHUSDT".into(), TrendPosition::holding(3000.0));
        assert!(ignore(&mut s, "ETHUSDT", "bob", now()).unwrap_err().starts_with("the state holds a ETHUSDT position"));
        assert_eq!(
            s.operator_actions.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
            ["position_ignored", "position_unignored"]
        );
    }
}
