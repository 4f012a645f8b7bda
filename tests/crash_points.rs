//! Crash points (issue 8 §3, design.md §5): a live cycle is killed at every
//! call it makes through a port — after the lease, before and after each
//! state save (write-aheads and fill saves included), before and after each
//! order is sent (after = it executed, the answer never came back), during
//! Earn moves and the wait for a redeem, during notification, before the
//! final save and before the lease is released — and the next cycles must
//! recover: no client id filled twice on the exchange, no own trade booked as
//! an external flow, no false circuit breaker, the saved state equal to the
//! account's balances, nothing left pending, and the account's value
//! changed by exactly the fees paid.
//!
//! Killing is in process: the world's port wrappers (tests/common/world.rs)
//! stop at the armed call and the cycle's future is dropped there. The next
//! cycle runs 17 minutes later (same hourly slot, so the same client order
//! ids, once the 15-minute lease and the minute an order may still be in
//! flight after it have passed), then one an hour later.

mod common;

use chrono::{DateTime, Duration as Span, Utc};
use common::world::{When, World, intent_summary, rt};
use rust_decimal::Decimal;
use tradecycle::domain::intent::Side;
use tradecycle::domain::report::{Report, Status};
use tradecycle::ports::{Exchange, OrderRequest};
use tradecycle_fakes::binance::{Fault, FaultKind};

/// How a scenario brings the world to the cycle that is killed; returns
/// that cycle's time.
type Prelude = fn(&mut World) -> std::pin::Pin<Box<dyn std::future::Future<Output = DateTime<Utc>> + '_>>;

/// The first cycle of a settled account: redeems from Earn, buys the two
/// trend candidates and the BTC DCA amount, parks the rest in Earn.
fn first_cycle(w: &mut World) -> std::pin::Pin<Box<dyn std::future::Future<Output = DateTime<Utc>> + '_>> {
    Box::pin(async move { w.start() })
}

/// The cycle after the entries: the first position bought fell 8 % within
/// the same UTC day, below its ATR trailing stop, and is sold at a loss (the
/// trend sleeve as a whole lost about 4 %, short of the 5 % breaker).
fn stop_exit_cycle(w: &mut World) -> std::pin::Pin<Box<dyn std::future::Future<Output = DateTime<Utc>> + '_>> {
    Box::pin(async move {
        let t0 = w.start();
        let first = w.run(t0).await.expect("the entry cycle runs");
        assert!(first.exit_code() == 0 || first.exit_code() == 5, "entry cycle: {:?}", first.errors);
        let summary = intent_summary(&first);
        let bought = summary.iter().find_map(|s| s.strip_prefix("trend_buy:")?.strip_suffix(":filled"));
        let symbol = bought.expect("a trend entry").to_string();
        let fallen = w.prices[&symbol] * Decimal::new(92, 2);
        w.set_price(&symbol, fallen);
        t0 + Span::hours(1)
    })
}

/// The cycle after the entries: every trend coin fell 12 % within the same
/// UTC day; the circuit breaker fires and sells the sleeve.
fn breaker_cycle(w: &mut World) -> std::pin::Pin<Box<dyn std::future::Future<Output = DateTime<Utc>> + '_>> {
    Box::pin(async move {
        let t0 = w.start();
        let first = w.run(t0).await.expect("the entry cycle runs");
        assert!(first.exit_code() == 0 || first.exit_code() == 5, "entry cycle: {:?}", first.errors);
        for symbol in w.trend_symbols.clone() {
            let fallen = w.prices[&symbol] * Decimal::new(88, 2);
            w.set_price(&symbol, fallen);
        }
        t0 + Span::hours(1)
    })
}

/// Runs the scenario's killed cycle once without a kill and returns the
/// labels of its steps (saves named by the report's write reasons).
async fn enumerate(prelude: Prelude) -> (Vec<String>, Report) {
    let mut w = World::settled();
    let t = prelude(&mut w).await;
    let first = w.trip.step_count();
    let report = w.run(t).await.expect("not armed");
    let mut reasons = report.state_writes.iter().map(|s| s.reason.clone());
    let labels = w.trip.steps()[first..]
        .iter()
        .map(|l| if l == "save" { format!("save({})", reasons.next().unwrap_or_default()) } else { l.clone() })
        .collect();
    (labels, report)
}

/// Kills the scenario's cycle at relative step `step`, runs the next two
/// cycles and returns every broken invariant. On a `breaker_day` the
/// breaker may fire again in the rerun (the sleeve did fall).
async fn kill_and_recover(prelude: Prelude, breaker_day: bool, step: usize, when: When) -> Vec<String> {
    let mut w = World::settled();
    let t = prelude(&mut w).await;
    recover_after_kill(&mut w, t, breaker_day, step, when).await
}

/// The kill and the two cycles after it, in a world brought to time `t`.
async fn recover_after_kill(
    w: &mut World,
    t: DateTime<Utc>,
    breaker_day: bool,
    step: usize,
    when: When,
) -> Vec<String> {
    let (value_before, fills_before) = (w.account_value(), w.live.fake.fills().len());
    w.trip.arm(w.trip.step_count() + step, when);
    if let Some(r) = w.run(t).await {
        return vec![format!("the kill point was not reached; the cycle ended {:?}", r.status)];
    }
    let mut broken = w.no_client_id_filled_twice();
    for (name, at) in [("same-slot rerun", t + Span::minutes(17)), ("next hour", t + Span::hours(1))] {
        let Some(r) = w.run(at).await else { unreachable!("disarmed") };
        let mut found = w.check(Some(&r));
        if !breaker_day && (r.circuit_breaker_triggered || w.saved_state()["is_circuit_broken"] == true) {
            found.push("circuit breaker fired on a day the trend sleeve lost less than 5 %".into());
        }
        if matches!(r.status, Status::Error | Status::Aborted) {
            found.push(format!(
                "cycle ended {:?}: {:?}",
                r.status,
                r.errors.iter().map(|e| &e.message).collect::<Vec<_>>()
            ));
        }
        let pending = &w.saved_state()["pending_orders"];
        if pending.as_object().is_some_and(|p| !p.is_empty()) {
            found.push(format!("orders still pending: {pending}"));
        }
        broken.extend(found.into_iter().map(|f| format!("{name}: {f}")));
    }
    broken.extend(w.conserved(value_before, fills_before));
    broken.sort();
    broken.dedup();
    broken
}

/// Where to kill: before the first call, and after every call that changes
/// something (a save, the lease, an order, an Earn move, a message). Dying
/// after call k or before call k+1 leaves the same world behind (what the
/// cycle held in memory is lost either way), and a read changes nothing, so
/// these are all the distinct crash points.
fn kill_points(labels: &[String]) -> Vec<(usize, When)> {
    const READS: [&str; 6] = ["load", "market_data", "spot_free", "query_order", "orders_since", "api_restrictions"];
    let effectful = |l: &String| !READS.iter().any(|r| l.split(':').next() == Some(*r));
    let mut points = vec![(0, When::Before)];
    points.extend(labels.iter().enumerate().filter(|(_, l)| effectful(l)).map(|(i, _)| (i, When::After)));
    points
}

/// Kills at every crash point and fails with the whole table of
/// broken invariants per kill point.
/// `trades`: kinds the unkilled cycle must fill (so the scenario kills
/// what it claims to).
fn every_kill_point(prelude: Prelude, breaker_day: bool, trades: &[&str]) {
    rt().block_on(async {
        let (labels, baseline) = enumerate(prelude).await;
        let summary = intent_summary(&baseline);
        println!("baseline: {:?} {summary:?}", baseline.status);
        for kind in trades {
            let filled = summary.iter().any(|s| s.starts_with(&format!("{kind}:")) && s.ends_with(":filled"));
            assert!(filled, "the unkilled cycle fills no {kind}: {summary:?}");
        }
        let mut table = Vec::new();
        let points = kill_points(&labels);
        for &(step, when) in &points {
            let broken = kill_and_recover(prelude, breaker_day, step, when).await;
            let point = format!("#{step:02} {when:?} {}", labels[step]);
            println!("{point}: {}", if broken.is_empty() { "ok".to_string() } else { broken.join(" | ") });
            if !broken.is_empty() {
                table.push(format!("{point}\n    {}", broken.join("\n    ")));
            }
        }
        assert!(
            table.is_empty(),
            "{} of {} kill points broke an invariant:\n{}",
            table.len(),
            points.len(),
            table.join("\n")
        );
    });
}

#[test]

fn killed_anywhere_in_a_settled_accounts_first_cycle_the_next_cycles_recover() {
    every_kill_point(first_cycle, false, &["earn_redeem", "trend_buy", "dca_buy"]);
}

#[test]

fn killed_anywhere_in_a_stop_loss_exit_the_next_cycles_recover() {
    every_kill_point(stop_exit_cycle, false, &["trend_sell", "trend_buy", "earn_subscribe"]);
}

#[test]

fn killed_anywhere_in_a_circuit_breaker_liquidation_the_next_cycles_recover() {
    every_kill_point(breaker_cycle, true, &["breaker_sell"]);
}

/// The harness itself: an unkilled first cycle of the settled account does
/// what issue 8 §1 says and keeps every invariant, so a failure above is
/// the kill's doing.
#[test]
fn the_unkilled_first_cycle_buys_funded_from_earn_and_keeps_every_invariant() {
    rt().block_on(async {
        let mut w = World::settled();
        let value = w.account_value();
        let r = w.run(w.start()).await.expect("not armed");
        let summary = intent_summary(&r);
        let trend_buys = summary.iter().filter(|s| s.starts_with("trend_buy:") && s.ends_with(":filled")).count();
        assert_eq!(trend_buys, 2, "the two trend candidates: {summary:?}");
        assert!(summary.iter().any(|s| s == "dca_buy:BTCUSDT:filled"), "{summary:?}");
        assert_eq!(w.check(Some(&r)), Vec::<String>::new());
        assert_eq!(w.conserved(value, 0), Vec::<String>::new());
        assert!(w.live.fake.earn_calls().iter().any(|c| c.outcome.is_ok()), "funded from Earn");
    });
}

/// Killed right after the first redeem of the settled account's first
/// cycle, while the money is still on its way to spot (Binance credits a
/// redemption a moment later; here it stays in transit for the rest of the
/// test): the next cycles must neither book it as a withdrawal nor lose it
/// from the equity they report.
#[test]

fn killed_while_a_redemption_is_in_transit_the_next_cycles_do_not_lose_it() {
    rt().block_on(async {
        let (labels, _) = enumerate(first_cycle).await;
        let redeem = labels.iter().position(|l| l.starts_with("earn_redeem:")).expect("the first cycle redeems");
        let mut w = World::settled();
        let t = w.start();
        // Applies to the first redeem only: the one the cycle dies after.
        w.live.fake.inject(Fault::new(
            "POST",
            "/sapi/v1/simple-earn/flexible/redeem",
            // Longer than the test's two later cycles (+17 min, +1 h) on the
            // virtual clock.
            FaultKind::DelayRedeemCredit(std::time::Duration::from_secs(4 * 3600)),
        ));
        let broken = recover_after_kill(&mut w, t, false, redeem, When::After).await;
        assert_eq!(w.live.fake.pending_redeem_credits().len(), 1, "the redemption is still in transit");
        assert!(broken.is_empty(), "killed after {}:\n{}", labels[redeem], broken.join("\n"));
    });
}

/// The invariants can fail: an order sent again by hand with a client id
/// that already filled is caught as a duplicate, and the coins it bought
/// as state that no longer matches the balances.
#[test]
fn the_invariants_catch_a_duplicate_fill_and_a_state_balance_mismatch() {
    rt().block_on(async {
        let mut w = World::settled();
        w.run(w.start()).await.expect("not armed");
        let first = w.live.fake.orders().into_iter().find(|o| o.client_order_id.contains("-tb-")).expect("a trend buy");
        assert_eq!(w.check(None), Vec::<String>::new());
        let again = OrderRequest {
            symbol: first.symbol.clone(),
            side: Side::Buy,
            quantity: Some(first.executed_qty),
            quote_order_qty: None,
            client_order_id: first.client_order_id.parse().unwrap(),
        };
        // Spot USDT went back to Earn: fund the duplicate by hand.
        w.live.fake.set_balance("USDT", Decimal::from(100_000), Decimal::ZERO);
        w.exchange.inner.place_order(&again).await.expect("Binance reuses ids of filled orders");
        assert_eq!(w.no_client_id_filled_twice(), vec![format!("client id {} filled 2 times", first.client_order_id)]);
        // Twice the coin still matches `is_holding` (trend positions carry
        // no quantity in state); a coin the state does not hold is caught
        // as soon as the account owns some.
        let other = w.trend_symbols.iter().find(|s| w.saved_state()[s.as_str()]["is_holding"] != true).unwrap().clone();
        w.live.fake.set_balance(other.strip_suffix("USDT").unwrap(), Decimal::from(1_000), Decimal::ZERO);
        let broken = w.state_matches_balances();
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(
            broken[0].starts_with(&format!("{other}: state is_holding=false but the account holds 1000 ")),
            "{broken:?}"
        );
    });
}
