//! The UTC day: daily reset of the PnL bases, external balance flows, daily
//! PnL, the trend-sleeve circuit breaker threshold, and the status-report
//! bucket (behaviour.md §6.7, §6.9; design.md §3.7, §3.14, §3.17).
//!
//! # The trend sleeve's daily PnL
//!
//! ```text
//! base     = trend value at the daily reset
//!          + trend-asset inflows − outflows (external flows, clamped at 0)
//!          + USDT spent on today's trend buys          (daily_trend_equity_base)
//! realised = net USDT received from today's trend and breaker sells
//!                                                      (daily_trend_sell_proceeds)
//! PnL      = (trend value now + realised − base) / base
//! ```
//!
//! Money that enters the sleeve (a buy) raises the base by what it cost;
//! money that leaves it (a sell) is counted on the "now" side at what it
//! fetched. A closed position therefore contributes exactly its realised
//! result: selling a position worth 1000 at the reset for 980 reads −2 %,
//! not −100 % (the old rule subtracted sell proceeds from the base, which
//! left a positive base with nothing behind it after a losing exit). A
//! round trip within the day also stays in the base, so later moves are
//! measured against everything the sleeve put at risk today.

use chrono::{DateTime, Timelike, Utc};
use indexmap::IndexMap;

use crate::domain::state::StateDoc;

/// Balance changes between cycles worth less than this (USDT) are noise
/// (Earn interest, fee dust), not deposits or withdrawals.
pub const FLOW_TOLERANCE_USDT: f64 = 1.0;
pub const PNL_BASIS: &str = "trend_val";

/// Starts a new UTC day, or migrates an old PnL basis (§6.7). Returns the
/// save reason when the state changed.
pub fn open_day(state: &mut StateDoc, today_utc: &str, equity: f64, trend_value: f64) -> Option<&'static str> {
    if state.last_reset_date != today_utc {
        state.daily_equity_base = equity;
        state.daily_trend_equity_base = trend_value;
        state.daily_trend_sell_proceeds = 0.0;
        state.daily_trend_pnl_basis = PNL_BASIS.to_string();
        state.last_reset_date = today_utc.to_string();
        state.is_circuit_broken = false;
        Some("daily_reset")
    } else if state.daily_trend_pnl_basis != PNL_BASIS {
        state.daily_trend_equity_base = trend_value;
        state.daily_trend_sell_proceeds = 0.0;
        state.daily_trend_pnl_basis = PNL_BASIS.to_string();
        Some("trend_pnl_basis_migrate")
    } else {
        None
    }
}

/// A change of one asset's balance since the last cycle, valued in USDT.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub asset: String,
    pub delta_qty: f64,
    pub value_usdt: f64,
    pub is_trend: bool,
}

/// Deposits and withdrawals since the previous cycle's closing snapshot.
/// Changes worth less than [`FLOW_TOLERANCE_USDT`] are ignored so that Earn
/// interest counts as profit instead of resetting the day (the reference's
/// hair-trigger rebase, behaviour.md §12.4).
pub fn external_flows(
    previous: &IndexMap<String, f64>,
    current: &IndexMap<String, f64>,
    price_of: impl Fn(&str) -> Option<f64>,
    is_trend_asset: impl Fn(&str) -> bool,
) -> Vec<Flow> {
    let mut assets: Vec<&String> = previous.keys().chain(current.keys()).collect();
    assets.sort();
    assets.dedup();
    assets
        .into_iter()
        .filter_map(|asset| {
            let delta = current.get(asset).copied().unwrap_or(0.0) - previous.get(asset).copied().unwrap_or(0.0);
            let value = delta * price_of(asset)?;
            (value.abs() > FLOW_TOLERANCE_USDT).then(|| Flow {
                asset: asset.clone(),
                delta_qty: delta,
                value_usdt: value,
                is_trend: is_trend_asset(asset),
            })
        })
        .collect()
}

/// Moves the day's bases by the value that entered or left, so deposits are
/// not counted as profit and withdrawals not as losses, while losses earlier
/// in the day are still remembered.
pub fn apply_flows(state: &mut StateDoc, flows: &[Flow]) {
    for f in flows {
        state.daily_equity_base = (state.daily_equity_base + f.value_usdt).max(0.0);
        if f.is_trend {
            state.daily_trend_equity_base = (state.daily_trend_equity_base + f.value_usdt).max(0.0);
        }
    }
}

/// (total daily PnL, trend-sleeve daily PnL) as fractions; 0 without a
/// base. The trend sleeve's "now" is its value plus today's realised sell
/// proceeds (see the module header).
pub fn daily_pnl(state: &StateDoc, equity: f64, trend_value: f64) -> (f64, f64) {
    let pnl = |now: f64, base: f64| if base > 0.0 { (now - base) / base } else { 0.0 };
    let trend_now = trend_value + state.daily_trend_sell_proceeds;
    (pnl(equity, state.daily_equity_base), pnl(trend_now, state.daily_trend_equity_base))
}

/// The status-report bucket `YYYYMMDDHH` of the latest interval boundary at
/// or before `now`: the first run after each boundary sends the report, even
/// if the boundary hour itself had no run (design.md §3.14).
pub fn status_bucket(now: DateTime<Utc>, interval_hours: u32) -> String {
    let interval = interval_hours.clamp(1, 24);
    let hour = now.hour() / interval * interval;
    format!("{}{:02}", now.format("%Y%m%d"), hour)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn new_day_resets_bases_and_clears_the_latch() {
        let mut s = StateDoc {
            last_reset_date: "2026-03-14".into(),
            is_circuit_broken: true,
            daily_trend_sell_proceeds: 450.0,
            ..Default::default()
        };
        assert_eq!(open_day(&mut s, "2026-03-15", 1030.0, 200.0), Some("daily_reset"));
        assert_eq!((s.daily_equity_base, s.daily_trend_equity_base), (1030.0, 200.0));
        assert_eq!(s.daily_trend_sell_proceeds, 0.0);
        assert!(!s.is_circuit_broken);
        assert_eq!(s.daily_trend_pnl_basis, "trend_val");
        assert_eq!(open_day(&mut s, "2026-03-15", 900.0, 100.0), None);
    }

    #[test]
    fn same_day_legacy_basis_migrates_trend_base_only_and_keeps_latch() {
        let mut s = StateDoc {
            last_reset_date: "2026-03-15".into(),
            daily_equity_base: 1000.0,
            daily_trend_equity_base: 5.0,
            is_circuit_broken: true,
            ..Default::default()
        };
        assert_eq!(open_day(&mut s, "2026-03-15", 990.0, 300.0), Some("trend_pnl_basis_migrate"));
        assert_eq!((s.daily_equity_base, s.daily_trend_equity_base), (1000.0, 300.0));
        assert!(s.is_circuit_broken);
    }

    #[test]
    fn flows_ignore_interest_and_value_deposits() {
        let prev: IndexMap<String, f64> = [("USDT".to_string(), 500.0), ("ETH".to_string(), 1.0)].into_iter().collect();
        let cur: IndexMap<String, f64> =
            [("USDT".to_string(), 600.02), ("ETH".to_string(), 0.5), ("SOL".to_string(), 0.001)].into_iter().collect();
        let price = |a: &str| match a {
            "USDT" => Some(1.0),
            "ETH" => Some(2000.0),
            "SOL" => Some(150.0),
            _ => None,
        };
        let flows = external_flows(&prev, &cur, price, |a| a != "USDT");
        assert_eq!(flows.len(), 2, "SOL worth 0.15 USDT is noise: {flows:?}");
        assert_eq!(flows[0].asset, "ETH");
        assert!((flows[0].value_usdt + 1000.0).abs() < 1e-9);
        assert!((flows[1].value_usdt - 100.02).abs() < 1e-9);
        let mut s = StateDoc { daily_equity_base: 3000.0, daily_trend_equity_base: 2000.0, ..Default::default() };
        apply_flows(&mut s, &flows);
        assert!((s.daily_equity_base - 2100.02).abs() < 1e-9);
        assert!((s.daily_trend_equity_base - 1000.0).abs() < 1e-9);
        let quiet: IndexMap<String, f64> =
            [("USDT".to_string(), 500.3)].into_iter().chain([("ETH".to_string(), 1.0)]).collect();
        assert!(external_flows(&prev, &quiet, price, |_| false).is_empty());
    }

    #[test]
    fn pnl_needs_a_base() {
        let s = StateDoc { daily_equity_base: 1000.0, daily_trend_equity_base: 0.0, ..Default::default() };
        let (p, t) = daily_pnl(&s, 950.0, 100.0);
        assert!((p + 0.05).abs() < 1e-12);
        assert_eq!(t, 0.0);
    }

    /// The trend sleeve's day, booked through the one fill-booking function.
    mod trend_day {
        use super::*;
        use crate::domain::intent::{Fill, IntentKind};
        use crate::domain::state::TrendPosition;
        use crate::strategy::booking::{FillDay, OrderFacts, book_fill};
        use rust_decimal::Decimal;
        use rust_decimal_macros::dec;

        const TODAY: FillDay = FillDay { day_id: "20260315", counts_today: true };

        /// A day that started with 2 ETH worth 1000 USDT in the sleeve.
        fn day_with_eth() -> StateDoc {
            let mut s = StateDoc::default();
            s.positions.insert("ETHUSDT".into(), TrendPosition::holding(450.0));
            s.positions.insert("SOLUSDT".into(), TrendPosition::default());
            assert_eq!(open_day(&mut s, "2026-03-15", 5000.0, 1000.0), Some("daily_reset"));
            s
        }

        fn trade(s: &mut StateDoc, kind: IntentKind, symbol: &str, base: &str, qty: Decimal, quote: Decimal) {
            let facts = OrderFacts { kind, symbol, base, ordered_qty: Some(qty), planned_price: None };
            let fill = Fill { executed_qty: qty, quote_qty: quote, commissions: vec![], estimated: false };
            book_fill(s, &facts, &fill, TODAY);
        }

        fn trend_pnl(s: &StateDoc, trend_value: f64) -> f64 {
            daily_pnl(s, 5000.0, trend_value).1
        }

        #[test]
        fn exit_at_a_loss_reads_the_realised_loss() {
            let mut s = day_with_eth();
            // 2 ETH sold at 490: 980 USDT for what was worth 1000 at the reset.
            trade(&mut s, IntentKind::TrendSell, "ETHUSDT", "ETH", dec!(2), dec!(980));
            assert_eq!((s.daily_trend_equity_base, s.daily_trend_sell_proceeds), (1000.0, 980.0));
            // (0 + 980 − 1000) / 1000; the old rule read (0 − 20) / 20 = −100 %.
            assert!((trend_pnl(&s, 0.0) + 0.02).abs() < 1e-12);
            assert!(trend_pnl(&s, 0.0) > crate::strategy::StrategyParams::default().circuit_breaker_pnl);
        }

        #[test]
        fn exit_at_a_gain_reads_the_realised_gain() {
            let mut s = day_with_eth();
            trade(&mut s, IntentKind::TrendSell, "ETHUSDT", "ETH", dec!(2), dec!(1050));
            // (0 + 1050 − 1000) / 1000
            assert!((trend_pnl(&s, 0.0) - 0.05).abs() < 1e-12);
        }

        #[test]
        fn partial_exit_counts_the_sold_part_realised_and_the_rest_at_market() {
            let mut s = day_with_eth();
            // Half sold at 490 (490 USDT); the other ETH is now worth 480.
            trade(&mut s, IntentKind::TrendSell, "ETHUSDT", "ETH", dec!(1), dec!(490));
            // (480 + 490 − 1000) / 1000
            assert!((trend_pnl(&s, 480.0) + 0.03).abs() < 1e-12);
        }

        #[test]
        fn re_entry_within_the_day_adds_its_cost_to_the_base() {
            let mut s = day_with_eth();
            trade(&mut s, IntentKind::TrendSell, "ETHUSDT", "ETH", dec!(2), dec!(980));
            // 500 USDT into SOL, which is worth 510 at the next look.
            trade(&mut s, IntentKind::TrendBuy, "SOLUSDT", "SOL", dec!(2.5), dec!(500));
            assert_eq!((s.daily_trend_equity_base, s.daily_trend_sell_proceeds), (1500.0, 980.0));
            // (510 + 980 − 1500) / 1500: −20 realised, +10 open.
            assert!((trend_pnl(&s, 510.0) - (-10.0 / 1500.0)).abs() < 1e-12);
            // Buying ETH back the same day: 2 ETH for 960, now worth 1000.
            trade(&mut s, IntentKind::TrendBuy, "ETHUSDT", "ETH", dec!(2), dec!(960));
            // (510 + 1000 + 980 − 2460) / 2460
            assert!((trend_pnl(&s, 1510.0) - (30.0 / 2460.0)).abs() < 1e-12);
        }

        #[test]
        fn a_state_written_before_the_proceeds_key_keeps_its_meaning() {
            // Old rule: sells were subtracted from the base, no proceeds key.
            let raw = serde_json::json!({"daily_trend_equity_base": 400.0, "last_reset_date": "2026-03-15",
                                         "daily_trend_pnl_basis": "trend_val"});
            let s = StateDoc::normalize(&raw, &Default::default());
            assert_eq!(s.daily_trend_sell_proceeds, 0.0);
            assert!((trend_pnl(&s, 380.0) + 0.05).abs() < 1e-12);
        }
    }

    #[test]
    fn bucket_is_the_latest_boundary() {
        let at = |h, m| Utc.with_ymd_and_hms(2026, 3, 29, h, m, 0).unwrap();
        assert_eq!(status_bucket(at(8, 0), 4), "2026032908");
        assert_eq!(status_bucket(at(9, 30), 4), "2026032908");
        assert_eq!(status_bucket(at(8, 0), 3), "2026032906");
        assert_eq!(status_bucket(at(0, 5), 24), "2026032900");
        assert_eq!(status_bucket(at(23, 59), 24), "2026032900");
        assert_eq!(status_bucket(at(23, 59), 0), "2026032923", "interval clamps to 1");
    }
}
