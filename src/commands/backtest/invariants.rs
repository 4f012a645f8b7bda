//! What must hold after every backtest cycle, faults or not. The engine
//! checks these after each cycle; the first one broken stops the run
//! (`backtest run` exits 1 naming the seed, the cycle and the invariant).
//!
//! - `client_id_filled_once`: no client order id appears twice in the
//!   simulated exchange's fill log (a retried or reconciled order must be
//!   found, not sent again).
//! - `assets_conserved`: over the cycle, every asset's total (spot free +
//!   locked + Earn) changed by exactly what the cycle's fills moved: what
//!   was received, less what was spent and the fee charged in that asset,
//!   summed over the fills the log gained this cycle. Earn moves only shift free ↔ Earn and
//!   interest accrues between cycles, so neither appears. Exact in
//!   `Decimal` (the simulator rounds each fill to 8 decimals once, and the
//!   log holds the rounded amounts), so the tolerance is zero. In USDT terms
//!   this is "USDT + value of coins moved = − fees": no money appears or
//!   vanishes except through a logged fill.
//! - `no_own_trade_as_flow`: the cycle did not rebase the state on an
//!   external balance flow (`external_balance_flow_rebase`): a backtest has
//!   no deposits or withdrawals, so any flow would be an own fill (or
//!   money in transit) the shell failed to recognise.
//! - `state_matches_exchange`: after a cycle that finished (`ok` or
//!   `attention`) with no fault injected in it, the saved state tells the
//!   truth: a trend symbol is `is_holding` exactly when the account holds
//!   a quantity of its coin that the symbol's rules let a market order
//!   sell (at least one lot step, at least the minimum notional); what is
//!   left below that is dust no order can move,
//!   and the BTC record is no more than the BTC the account holds (within
//!   1e-8 BTC: the state stores it as a JSON float). A cycle
//!   with an injected fault may end with an order unresolved or a save
//!   refused; the next clean cycle must have reconciled it.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

use crate::domain::report::{Report, Status};
use crate::domain::rules::SymbolRules;
use crate::domain::snapshot::AssetBalance;
use crate::paper::exchange::FillRecord;
use crate::strategy::cycle::{BNB_SYMBOL, BTC_SYMBOL, USDT};

/// The state keeps the BTC record as a JSON float (0.0013 may come back
/// as 0.0013000000000000002): a record above the balance by less than
/// this is that rounding, not a missed sell.
const BTC_RECORD_SLACK: Decimal = dec!(0.00000001);

/// A broken invariant: its name and what was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    pub invariant: &'static str,
    pub detail: String,
}

/// What the checks look at after one cycle.
pub struct AfterCycle<'a> {
    /// The cycle's report (`None`: it crashed).
    pub report: Option<&'a Report>,
    /// Whether a fault was injected into this cycle.
    pub faulted: bool,
    pub before: &'a BTreeMap<String, AssetBalance>,
    pub after: &'a BTreeMap<String, AssetBalance>,
    /// The client order ids of every fill before this cycle.
    pub earlier_ids: &'a HashSet<String>,
    /// This cycle's fills.
    pub fills: &'a [FillRecord],
    /// The state the store holds now.
    pub state: Option<&'a Value>,
    pub prices: &'a BTreeMap<String, Decimal>,
    /// Each symbol's trading rules, as the simulated exchange applies them.
    pub rules: &'a BTreeMap<String, SymbolRules>,
}

/// The first broken invariant, if any.
pub fn check(c: &AfterCycle) -> Option<Broken> {
    client_id_filled_once(c.earlier_ids, c.fills)
        .or_else(|| assets_conserved(c))
        .or_else(|| c.report.and_then(no_own_trade_as_flow))
        .or_else(|| state_matches_exchange(c))
}

fn client_id_filled_once(earlier: &HashSet<String>, fills: &[FillRecord]) -> Option<Broken> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for f in fills {
        *seen.entry(f.client_order_id.as_str()).or_insert(usize::from(earlier.contains(&f.client_order_id))) += 1;
    }
    let (id, n) = seen.into_iter().find(|(_, n)| *n > 1)?;
    Some(Broken { invariant: "client_id_filled_once", detail: format!("client order id {id} filled {n} times") })
}

fn assets_conserved(c: &AfterCycle) -> Option<Broken> {
    let mut moved: BTreeMap<&str, Decimal> = BTreeMap::new();
    for f in c.fills {
        *moved.entry(f.spent_asset.as_str()).or_default() -= f.spent;
        *moved.entry(f.got_asset.as_str()).or_default() += f.got;
        *moved.entry(f.fee_asset.as_str()).or_default() -= f.fee;
    }
    let total = |m: &BTreeMap<String, AssetBalance>, a: &str| m.get(a).map(AssetBalance::total).unwrap_or_default();
    let assets: std::collections::BTreeSet<&str> =
        c.before.keys().chain(c.after.keys()).map(String::as_str).chain(moved.keys().copied()).collect();
    assets.into_iter().find_map(|asset| {
        let change = total(c.after, asset) - total(c.before, asset);
        let logged = moved.get(asset).copied().unwrap_or_default();
        (change != logged).then(|| Broken {
            invariant: "assets_conserved",
            detail: format!(
                "{asset} changed by {} but the cycle's fills moved {}",
                change.normalize(),
                logged.normalize()
            ),
        })
    })
}

fn no_own_trade_as_flow(r: &Report) -> Option<Broken> {
    r.state_writes.iter().any(|w| w.reason == "external_balance_flow_rebase").then(|| {
        let line = r.log_lines.iter().find(|l| l.contains("External balance flow")).cloned().unwrap_or_default();
        Broken { invariant: "no_own_trade_as_flow", detail: format!("a balance change was booked as a flow: {line}") }
    })
}

fn state_matches_exchange(c: &AfterCycle) -> Option<Broken> {
    let report = c.report?;
    if c.faulted || !matches!(report.status, Status::Ok | Status::Attention) {
        return None;
    }
    let state = c.state?;
    let broken = |detail: String| Some(Broken { invariant: "state_matches_exchange", detail });
    let held_qty = |asset: &str| c.after.get(asset).map(|b| b.free + b.locked).unwrap_or_default();
    for symbol in c.prices.keys().filter(|s| *s != BTC_SYMBOL && *s != BNB_SYMBOL) {
        let Some(base) = symbol.strip_suffix(USDT) else { continue };
        let qty = held_qty(base);
        let price = c.prices[symbol];
        let worth = qty * price;
        let sellable = c.rules.get(symbol).cloned().unwrap_or_default().fit_market_qty(qty, price).is_ok();
        let recorded = state[symbol.as_str()]["is_holding"].as_bool().unwrap_or(false);
        if recorded != sellable {
            return broken(format!(
                "{symbol}: state is_holding={recorded} but the account holds {} {base} (worth {} USDT)",
                qty.normalize(),
                worth.round_dp(2)
            ));
        }
    }
    let btc = held_qty("BTC");
    let recorded = decimal(&state[BTC_SYMBOL]["holding_qty"]);
    if recorded > btc + BTC_RECORD_SLACK {
        return broken(format!(
            "{BTC_SYMBOL}: state holding_qty={} but the account holds {} BTC",
            recorded.normalize(),
            btc.normalize()
        ));
    }
    None
}

/// A state number, written as a JSON number or a string.
fn decimal(v: &Value) -> Decimal {
    match v {
        Value::String(s) => s.parse().unwrap_or_default(),
        Value::Number(n) => n.to_string().parse().unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_PRICES: BTreeMap<String, Decimal> = BTreeMap::new();
    static NO_RULES: BTreeMap<String, SymbolRules> = BTreeMap::new();
    static NO_IDS: std::sync::LazyLock<HashSet<String>> = std::sync::LazyLock::new(HashSet::new);

    fn fill(id: &str, spent: Decimal, got: Decimal, fee: Decimal) -> FillRecord {
        FillRecord {
            client_order_id: id.into(),
            symbol: "ETHUSDT".into(),
            spent_asset: "USDT".into(),
            spent,
            got_asset: "ETH".into(),
            got,
            fee_asset: "ETH".into(),
            fee,
        }
    }

    fn bal(usdt: Decimal, eth: Decimal) -> BTreeMap<String, AssetBalance> {
        BTreeMap::from([
            ("USDT".to_string(), AssetBalance { free: usdt, ..Default::default() }),
            ("ETH".to_string(), AssetBalance { free: eth, ..Default::default() }),
        ])
    }

    fn after<'a>(
        before: &'a BTreeMap<String, AssetBalance>,
        after: &'a BTreeMap<String, AssetBalance>,
        fills: &'a [FillRecord],
    ) -> AfterCycle<'a> {
        AfterCycle {
            report: None,
            faulted: false,
            before,
            after,
            earlier_ids: &NO_IDS,
            fills,
            state: None,
            prices: &NO_PRICES,
            rules: &NO_RULES,
        }
    }

    #[test]
    fn a_fill_explains_the_balances_to_the_last_unit() {
        let (b, a) = (bal(dec!(1000), dec!(0)), bal(dec!(800), dec!(0.0999)));
        let fills = [fill("x1", dec!(200), dec!(0.1), dec!(0.0001))];
        assert_eq!(check(&after(&b, &a, &fills)), None);
        let a = bal(dec!(800), dec!(0.1));
        let broken = check(&after(&b, &a, &fills)).unwrap();
        assert_eq!(broken.invariant, "assets_conserved");
        assert_eq!(broken.detail, "ETH changed by 0.1 but the cycle's fills moved 0.0999");
    }

    #[test]
    fn an_id_filled_twice_is_caught_first() {
        let b = bal(dec!(1000), dec!(0));
        let fills = [fill("x1", dec!(1), dec!(1), dec!(0)), fill("x1", dec!(1), dec!(1), dec!(0))];
        let broken = check(&after(&b, &b, &fills)).unwrap();
        assert_eq!(
            (broken.invariant, broken.detail.as_str()),
            ("client_id_filled_once", "client order id x1 filled 2 times")
        );
        // Filled in an earlier cycle and again in this one.
        let earlier = HashSet::from(["x2".to_string()]);
        let again = [fill("x2", dec!(1), dec!(1), dec!(0))];
        let broken = check(&AfterCycle { earlier_ids: &earlier, ..after(&b, &b, &again) }).unwrap();
        assert_eq!(broken.detail, "client order id x2 filled 2 times");
    }

    #[test]
    fn a_remainder_below_one_lot_step_is_dust_whatever_its_worth() {
        use crate::domain::rules::LotRule;
        // 0.0952 XRP at 2,000 USDT is 190 USDT, but a 0.1 step cannot sell it.
        let b = BTreeMap::from([("XRP".to_string(), AssetBalance { free: dec!(0.0952), ..Default::default() })]);
        let prices = BTreeMap::from([("XRPUSDT".to_string(), dec!(2000))]);
        let lot = LotRule { min_qty: dec!(0.1), max_qty: dec!(1000000), step_size: dec!(0.1) };
        let rules = BTreeMap::from([(
            "XRPUSDT".to_string(),
            SymbolRules { lot: Some(lot), min_notional: Some(dec!(5)), ..Default::default() },
        )]);
        let mut report = Report::new("", crate::domain::report::Mode::Paper, "");
        report.status = Status::Ok;
        let state = |holding: bool| serde_json::json!({ "XRPUSDT": { "is_holding": holding } });
        let (sold, held) = (state(false), state(true));
        let at = |state| AfterCycle {
            report: Some(&report),
            state: Some(state),
            prices: &prices,
            rules: &rules,
            ..after(&b, &b, &[])
        };
        assert_eq!(check(&at(&sold)), None);
        let broken = check(&at(&held)).unwrap();
        assert_eq!(
            broken.detail,
            "XRPUSDT: state is_holding=true but the account holds 0.0952 XRP (worth 190.40 USDT)"
        );
    }
}
