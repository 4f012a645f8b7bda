//! Booking one fill into the state document: the single place where an
//! executed order changes positions, the BTC DCA record, the duplicate
//! guards, the trend sleeve's day and the closing balance snapshot.
//!
//! Two paths book fills: the cycle, right after an order it sent filled
//! ([`super::cycle::Cycle::apply`]), and reconciliation, when a later run
//! learns what an order left pending became ([`super::reconcile::settle`]).
//! Both call [`book_fill`], so a fill is accounted the same way whichever
//! run learns of it. The cycle then applies the returned [`AssetDeltas`] to
//! its working balances; reconciliation needs no balances (the next
//! snapshot reads them from the exchange).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::domain::intent::{Fill, IntentKind, Side};
use crate::domain::state::{StateDoc, TrendPosition};

const USDT: &str = "USDT";

/// What is known about the order a fill belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderFacts<'a> {
    pub kind: IntentKind,
    pub symbol: &'a str,
    /// The asset bought or sold (`ETH` for `ETHUSDT`).
    pub base: &'a str,
    /// Base quantity the order asked for (`None` for `quoteOrderQty` buys).
    pub ordered_qty: Option<Decimal>,
    /// The reference price the plan used (entry price when the fill has none).
    pub planned_price: Option<Decimal>,
}

/// When the fill happened, as the guards and the day's PnL need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillDay<'a> {
    /// `YYYYMMDD` of the day the order was planned (duplicate guards).
    pub day_id: &'a str,
    /// Whether the fill belongs to the state's current PnL day; a fill of an
    /// earlier day is already in the valuation the day was reset from.
    pub counts_today: bool,
}

/// How a fill changed each asset's holdings (net of commissions).
pub type AssetDeltas = BTreeMap<String, Decimal>;

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// Per-asset change of the account's holdings: the base and USDT legs net
/// of any commission charged in them, and commissions paid in a third asset
/// (BNB) as a decrease of that asset.
pub fn asset_deltas(facts: &OrderFacts, fill: &Fill) -> AssetDeltas {
    let side = facts.kind.side().unwrap_or(Side::Buy);
    let (base_leg, quote_leg) = match side {
        Side::Buy => (fill.executed_qty, -fill.quote_qty),
        Side::Sell => (-fill.executed_qty, fill.quote_qty),
    };
    let mut deltas = AssetDeltas::new();
    deltas.insert(facts.base.to_string(), base_leg);
    *deltas.entry(USDT.to_string()).or_default() += quote_leg;
    for c in &fill.commissions {
        *deltas.entry(c.asset.clone()).or_default() -= c.amount;
    }
    deltas
}

/// Books `fill` of the order described by `facts` into `state` and returns
/// how it changed the account's holdings.
///
/// - Trend buy: the position is held at the average fill price, today's
///   "buy" guard is set and the cost (USDT spent) joins the day's trend base.
/// - Trend or breaker sell: the net proceeds join the day's realised trend
///   proceeds (see [`super::daily`]); the position is flat only when the
///   whole ordered quantity executed, otherwise the rest stays held (and a
///   trend sell sets no "sell" guard, so the next cycle can sell the rest).
/// - DCA buy/trim: the BTC record moves by what was really received or
///   given (net of a commission charged in BTC), the average cost by the
///   USDT really spent.
/// - Every fill moves the closing balance snapshot by the same deltas, so a
///   save made after it never shows our own trade as a deposit or
///   withdrawal to the next run (design.md §3.17).
pub fn book_fill(state: &mut StateDoc, facts: &OrderFacts, fill: &Fill, day: FillDay) -> AssetDeltas {
    let deltas = asset_deltas(facts, fill);
    let base_delta = deltas.get(facts.base).copied().unwrap_or_default();
    let usdt_delta = deltas.get(USDT).copied().unwrap_or_default();
    let symbol = facts.symbol;
    let price = fill.average_price().or(facts.planned_price).map(f).unwrap_or(0.0);
    match facts.kind {
        IntentKind::TrendBuy => {
            state.set_position(symbol, TrendPosition::holding(price));
            state.record_action(symbol, "buy", day.day_id);
            if day.counts_today {
                state.daily_trend_equity_base += f(-usdt_delta);
            }
        }
        IntentKind::TrendSell | IntentKind::BreakerSell => {
            let whole = facts.ordered_qty.is_none_or(|q| fill.executed_qty >= q);
            if whole {
                state.set_position(symbol, TrendPosition::default());
                if facts.kind == IntentKind::TrendSell {
                    state.record_action(symbol, "sell", day.day_id);
                }
            }
            if day.counts_today {
                state.daily_trend_sell_proceeds += f(usdt_delta);
            }
        }
        IntentKind::DcaBuy => {
            let btc = &mut state.btc;
            let held = btc.holding_qty.max(0.0);
            let got = f(base_delta);
            if held + got > 0.0 {
                btc.avg_cost = (btc.avg_cost * held + f(-usdt_delta)) / (held + got);
            }
            btc.holding_qty = held + got;
            state.dca_last_buy_date = day.day_id.to_string();
        }
        IntentKind::DcaSell => {
            let btc = &mut state.btc;
            btc.holding_qty = (btc.holding_qty + f(base_delta)).max(0.0);
            if btc.holding_qty == 0.0 {
                btc.avg_cost = 0.0;
            }
            state.dca_last_sell_date = day.day_id.to_string();
        }
        IntentKind::FuelBuy | IntentKind::EarnSubscribe | IntentKind::EarnRedeem => {}
    }
    shift_snapshot(state, &deltas);
    deltas
}

/// Moves the closing balance snapshot by a fill's deltas. Only assets the
/// snapshot tracks move (USDT, BTC and the trend bases; BNB fee fuel is not
/// one unless it is a trend symbol); an empty snapshot (no earlier cycle)
/// stays empty.
fn shift_snapshot(state: &mut StateDoc, deltas: &AssetDeltas) {
    for (asset, delta) in deltas {
        if let Some(slot) = state.last_balance_snapshot.get_mut(asset) {
            let moved = Decimal::from_f64(*slot).unwrap_or_default() + delta;
            *slot = f(moved.max(Decimal::ZERO).round_dp(8));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intent::Commission;
    use rust_decimal_macros::dec;

    fn facts(kind: IntentKind, symbol: &'static str, base: &'static str, qty: Decimal) -> OrderFacts<'static> {
        OrderFacts { kind, symbol, base, ordered_qty: Some(qty), planned_price: Some(dec!(3200)) }
    }

    fn fill(qty: Decimal, quote: Decimal, commissions: Vec<Commission>) -> Fill {
        Fill { executed_qty: qty, quote_qty: quote, commissions, estimated: false }
    }

    fn fee(asset: &str, amount: Decimal) -> Commission {
        Commission { asset: asset.into(), amount }
    }

    const TODAY: FillDay = FillDay { day_id: "20260315", counts_today: true };

    fn state() -> StateDoc {
        let mut s = StateDoc::default();
        s.positions.insert("ETHUSDT".into(), TrendPosition::default());
        s.last_balance_snapshot.insert("USDT".into(), 2000.0);
        s.last_balance_snapshot.insert("BTC".into(), 0.01);
        s.last_balance_snapshot.insert("ETH".into(), 0.0);
        s
    }

    #[test]
    fn deltas_net_out_commissions_in_any_asset() {
        let f = fill(dec!(0.3), dec!(963), vec![fee("ETH", dec!(0.0003)), fee("BNB", dec!(0.001))]);
        let d = asset_deltas(&facts(IntentKind::TrendBuy, "ETHUSDT", "ETH", dec!(0.3)), &f);
        assert_eq!(d["ETH"], dec!(0.2997));
        assert_eq!(d["USDT"], dec!(-963));
        assert_eq!(d["BNB"], dec!(-0.001));
        let f = fill(dec!(0.3), dec!(963), vec![fee("USDT", dec!(0.963))]);
        let d = asset_deltas(&facts(IntentKind::TrendSell, "ETHUSDT", "ETH", dec!(0.3)), &f);
        assert_eq!((d["ETH"], d["USDT"]), (dec!(-0.3), dec!(962.037)));
    }

    #[test]
    fn trend_buy_holds_at_the_fill_price_adds_its_cost_and_moves_the_snapshot() {
        let mut s = state();
        let f = fill(dec!(0.3), dec!(963), vec![fee("ETH", dec!(0.0003)), fee("BNB", dec!(0.001))]);
        book_fill(&mut s, &facts(IntentKind::TrendBuy, "ETHUSDT", "ETH", dec!(0.3)), &f, TODAY);
        assert_eq!(s.positions["ETHUSDT"], TrendPosition::holding(3210.0));
        assert!(s.acted_today("ETHUSDT", "buy", "20260315"));
        assert_eq!(s.daily_trend_equity_base, 963.0);
        assert_eq!(s.last_balance_snapshot["USDT"], 1037.0);
        assert_eq!(s.last_balance_snapshot["ETH"], 0.2997);
        assert!(!s.last_balance_snapshot.contains_key("BNB"), "the snapshot does not track BNB");
    }

    #[test]
    fn partial_sell_keeps_the_rest_of_the_position_and_no_sell_guard() {
        let mut s = state();
        s.positions.insert("ETHUSDT".into(), TrendPosition::holding(3000.0));
        let f = fill(dec!(0.2), dec!(640), vec![]);
        book_fill(&mut s, &facts(IntentKind::TrendSell, "ETHUSDT", "ETH", dec!(0.5)), &f, TODAY);
        assert_eq!(s.positions["ETHUSDT"], TrendPosition::holding(3000.0));
        assert!(!s.acted_today("ETHUSDT", "sell", "20260315"));
        assert_eq!(s.daily_trend_sell_proceeds, 640.0);

        let f = fill(dec!(0.5), dec!(1600), vec![fee("USDT", dec!(1.6))]);
        book_fill(&mut s, &facts(IntentKind::TrendSell, "ETHUSDT", "ETH", dec!(0.5)), &f, TODAY);
        assert!(!s.positions["ETHUSDT"].is_holding);
        assert!(s.acted_today("ETHUSDT", "sell", "20260315"));
        assert_eq!(s.daily_trend_sell_proceeds, 640.0 + 1598.4);
    }

    #[test]
    fn dca_buy_counts_btc_received_net_of_a_btc_commission() {
        let mut s = state();
        s.btc.holding_qty = 0.01;
        s.btc.avg_cost = 60000.0;
        let f = fill(dec!(0.001), dec!(80), vec![fee("BTC", dec!(0.000001))]);
        book_fill(&mut s, &facts(IntentKind::DcaBuy, "BTCUSDT", "BTC", dec!(0.001)), &f, TODAY);
        assert!((s.btc.holding_qty - 0.010999).abs() < 1e-12);
        assert!((s.btc.avg_cost - (600.0 + 80.0) / 0.010999).abs() < 1e-6);
        assert_eq!(s.dca_last_buy_date, "20260315");
        assert_eq!(s.last_balance_snapshot["BTC"], 0.010999);
    }

    #[test]
    fn a_fill_of_an_earlier_day_leaves_the_day_alone() {
        let mut s = state();
        let f = fill(dec!(0.3), dec!(963), vec![]);
        let day = FillDay { day_id: "20260314", counts_today: false };
        book_fill(&mut s, &facts(IntentKind::TrendBuy, "ETHUSDT", "ETH", dec!(0.3)), &f, day);
        assert_eq!(s.daily_trend_equity_base, 0.0);
        assert!(s.acted_today("ETHUSDT", "buy", "20260314"));
    }

    #[test]
    fn an_empty_snapshot_stays_empty() {
        let mut s = StateDoc::default();
        let f = fill(dec!(0.3), dec!(963), vec![]);
        book_fill(&mut s, &facts(IntentKind::TrendBuy, "ETHUSDT", "ETH", dec!(0.3)), &f, TODAY);
        assert!(s.last_balance_snapshot.is_empty());
    }
}
