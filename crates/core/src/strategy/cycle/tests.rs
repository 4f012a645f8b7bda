//! Unit tests of the cycle, driven through its public steps with a small
//! two-symbol account.

use super::*;
use crate::domain::intent::Commission;
use crate::domain::intent::{Fill, IntentKind, IntentStatus, Side};
use crate::domain::pool::{SourceKind, UpstreamPayload};
use crate::domain::rules::LotRule;
use crate::domain::state::{PendingOrder, TrendPosition};
use chrono::TimeZone;
use rust_decimal_macros::dec;

fn universe() -> Universe {
    [("ETHUSDT", "ETH"), ("SOLUSDT", "SOL")].iter().map(|(s, b)| (s.to_string(), b.to_string())).collect()
}

fn ind(sma: (f64, f64, f64), roc: (f64, f64, f64), vol: f64, atr: f64) -> Indicators {
    Indicators {
        sma20: Some(sma.0),
        sma60: Some(sma.1),
        sma200: Some(sma.2),
        roc20: Some(roc.0),
        roc60: Some(roc.1),
        roc120: Some(roc.2),
        vol20: Some(vol),
        atr14: Some(atr),
        ..Default::default()
    }
}

fn inputs(usdt_free: Decimal, usdt_earn: Decimal) -> CycleInputs {
    let now = Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap();
    let official = universe();
    let payload = UpstreamPayload {
        as_of_date: "2026-03-01".into(),
        version: "2026-03-01-core_major".into(),
        mode: "core_major".into(),
        symbols: official.clone(),
        source_project: "test".into(),
    };
    let resolution = PoolResolution {
        source_kind: SourceKind::FreshUpstream,
        source_label: "test".into(),
        is_fresh: true,
        messages: vec![],
        errors: vec![],
        loaded_at: now,
        payload,
    };
    let mut balances = BTreeMap::new();
    balances.insert(USDT.to_string(), AssetBalance { free: usdt_free, locked: Decimal::ZERO, earn: usdt_earn });
    balances.insert("BNB".to_string(), AssetBalance { free: dec!(1), ..Default::default() });
    let prices: BTreeMap<String, Decimal> =
        [("ETHUSDT", dec!(3200)), ("SOLUSDT", dec!(180)), ("BTCUSDT", dec!(80000)), ("BNBUSDT", dec!(600))]
            .into_iter()
            .map(|(s, p)| (s.to_string(), p))
            .collect();
    let step = |s: Decimal| SymbolRules {
        lot: Some(LotRule { min_qty: Decimal::ZERO, max_qty: Decimal::ZERO, step_size: s }),
        min_notional: Some(dec!(5)),
        ..Default::default()
    };
    let rules = [("ETHUSDT", step(dec!(0.0001))), ("SOLUSDT", step(dec!(0.001))), ("BTCUSDT", step(dec!(0.00001)))]
        .into_iter()
        .map(|(s, r)| (s.to_string(), r))
        .collect();
    let indicators = [
        ("ETHUSDT", ind((3050.0, 2900.0, 2600.0), (0.12, 0.22, 0.35), 0.035, 95.0)),
        ("SOLUSDT", ind((170.0, 160.0, 140.0), (0.09, 0.2, 0.4), 0.045, 7.0)),
    ]
    .into_iter()
    .map(|(s, i)| (s.to_string(), i))
    .collect();
    CycleInputs {
        now,
        settings: StrategySettings::default(),
        state: StateDoc::normalize(&json!({}), &official),
        official,
        resolution,
        balances,
        prices,
        rules,
        earn_products: [(USDT.to_string(), "USDT001".to_string())].into_iter().collect(),
        btc: BtcSnapshot {
            zscore: Some(1.0),
            sell_trigger: Some(2.5),
            ahr999: Some(0.7),
            btc_roc20: Some(0.04),
            btc_roc60: Some(0.08),
            btc_roc120: Some(0.12),
            regime_on: Some(true),
            ..Default::default()
        },
        indicators,
    }
}

#[test]
fn real_fill_with_commissions_updates_book_state_and_base() {
    let mut c = Cycle::new(inputs(dec!(2000), Decimal::ZERO)).unwrap();
    assert_eq!(c.open_day(), DayPlan::Trade);
    assert!(c.plan_trend_sells().is_empty());
    let buys = c.plan_trend_buys();
    let eth = buys[0].clone();
    assert_eq!(eth.symbol(), "ETHUSDT");
    let fill = Fill {
        executed_qty: dec!(0.3),
        quote_qty: dec!(963),
        commissions: vec![
            Commission { asset: "ETH".into(), amount: dec!(0.0003) },
            Commission { asset: "BNB".into(), amount: dec!(0.001) },
        ],
        estimated: false,
    };
    let base_before = c.state.daily_trend_equity_base;
    assert_eq!(c.drain_effects(), vec![Effect::Save("daily_reset".into())]);
    c.apply(eth, Outcome::Filled(fill));
    assert_eq!(c.bal(USDT).free, dec!(1037));
    assert_eq!(c.bal("ETH").free, dec!(0.2997));
    assert_eq!(c.bal("BNB").free, dec!(0.999));
    let pos = c.state.position("ETHUSDT");
    assert!(pos.is_holding);
    assert_eq!(pos.entry_price, 3210.0, "entry is the real average fill price");
    assert_eq!(c.state.daily_trend_equity_base, base_before + 963.0);
    assert_eq!(c.intents[0].status, IntentStatus::Filled);
    let effects = c.drain_effects();
    assert_eq!(effects[0], Effect::Save("trend_buy:ETHUSDT".into()));
    assert!(matches!(effects[1], Effect::Notify(Event::TrendBuy { .. })));
}

#[test]
fn rejected_buy_changes_nothing_and_alerts() {
    let mut c = Cycle::new(inputs(dec!(2000), Decimal::ZERO)).unwrap();
    c.open_day();
    let eth = c.plan_trend_buys().remove(0);
    c.drain_effects();
    c.apply(eth, Outcome::Rejected("-2010 insufficient balance".into()));
    assert_eq!(c.bal(USDT).free, dec!(2000));
    assert!(!c.state.position("ETHUSDT").is_holding);
    assert_eq!(c.intents[0].error.as_deref(), Some("-2010 insufficient balance"));
    assert!(matches!(&c.drain_effects()[..], [Effect::Notify(Event::TrendBuyFailed { .. })]));
    assert_eq!(c.attention, ["trend_buy ETHUSDT (tc-26031510-tb-ETHUSDT) not executed: -2010 insufficient balance"]);
}

/// Each error the exchange port can answer, as the run report shows the
/// intent afterwards: `status`, the `outcome` class, `error`, and what is
/// left in the pending ledger. Nothing is booked in any case.
#[test]
fn each_port_error_keeps_its_class_in_the_report() {
    use crate::boundary::PortError;
    let limited = "POST /api/v3/order: not sent, rate limited for another 60 s";
    let limited_text = format!("temporarily unavailable: {limited}");
    let cases = [
        (PortError::Definitive("-2010 no funds".into()), "rejected", "rejected", "rejected: -2010 no funds", None),
        (PortError::Ambiguous("HTTP 503".into()), "unresolved", "unresolved", "HTTP 503", Some("unresolved")),
        (PortError::Retryable(limited.into()), "skipped", "retryable", limited_text.as_str(), None),
        (PortError::Auth("-2015 bad key".into()), "skipped", "auth", "authentication failed: -2015 bad key", None),
        (PortError::Conflict("changed".into()), "skipped", "conflict", "conflict: changed", None),
    ];
    for (error, status, class, text, ledger) in cases {
        let mut c = Cycle::new(inputs(dec!(2000), Decimal::ZERO)).unwrap();
        c.open_day();
        let eth = c.plan_trend_buys().remove(0);
        c.write_ahead(&eth, "run");
        c.apply(eth, Outcome::of_port_error(error));
        let intent = serde_json::to_value(&c.intents[0]).unwrap();
        assert_eq!(
            (intent["status"].as_str(), intent["outcome"].as_str(), intent["error"].as_str()),
            (Some(status), Some(class), Some(text))
        );
        let left = c.state.pending_orders.get("tc-26031510-tb-ETHUSDT").map(|p| p.status.as_str());
        assert_eq!(left, ledger, "{class}");
        assert_eq!(c.bal(USDT).free, dec!(2000), "{class}: nothing booked");
        assert!(!c.state.position("ETHUSDT").is_holding, "{class}");
    }
}

/// Replay and planner skips serialize exactly as before (no `outcome`);
/// what went, or was meant to go, to the exchange says how it ended.
#[test]
fn only_intents_meant_for_the_exchange_carry_an_outcome() {
    use crate::domain::intent::NotSentClass;
    let fill = Fill { executed_qty: dec!(0.3), quote_qty: dec!(963), commissions: vec![], estimated: false };
    let cases = [
        (Outcome::Suppressed, None),
        (Outcome::Skipped("planner skip".into()), None),
        (Outcome::Filled(fill), Some("executed")),
        (Outcome::not_sent(NotSentClass::Stopped, "SIGTERM"), Some("stopped")),
        (Outcome::not_sent(NotSentClass::LeaseLost, "lease"), Some("lease_lost")),
        (Outcome::not_sent(NotSentClass::WriteAheadFailed, "save"), Some("write_ahead_failed")),
        (Outcome::not_sent(NotSentClass::AlreadyPending, "pending"), Some("already_pending")),
    ];
    for (outcome, class) in cases {
        let mut c = Cycle::new(inputs(dec!(2000), Decimal::ZERO)).unwrap();
        c.open_day();
        let eth = c.plan_trend_buys().remove(0);
        c.apply(eth, outcome);
        let intent = serde_json::to_value(&c.intents[0]).unwrap();
        assert_eq!(intent.get("outcome").and_then(|v| v.as_str()), class, "{intent}");
        let back: Intent = serde_json::from_value(intent.clone()).unwrap();
        assert_eq!(back.outcome, c.intents[0].outcome, "{intent}");
    }
}

/// An Earn move the exchange refused is `rejected`; one it never executed
/// (-6009 twice: too frequent) is `retryable`; neither is tried again.
#[test]
fn a_refused_and_an_unsent_earn_move_are_told_apart() {
    use crate::boundary::PortError;
    for (error, class) in [
        (PortError::Definitive("-6008 Product not in redeem status".into()), "rejected"),
        (PortError::Retryable("-6009 too frequent".into()), "retryable"),
    ] {
        let mut c = Cycle::new(inputs(dec!(50), dec!(5000))).unwrap();
        let redeem = c.plan_earn_funding().remove(0);
        c.apply(redeem, Outcome::of_port_error(error));
        let intent = serde_json::to_value(&c.intents[0]).unwrap();
        assert_eq!((intent["kind"].as_str(), intent["outcome"].as_str()), (Some("earn_redeem"), Some(class)));
        assert!(c.plan_earn_buffer().is_none(), "{class}: not tried again this cycle");
        assert_eq!(c.attention.len(), 1, "{class}: {:?}", c.attention);
    }
}

fn pending(id: &str, symbol: &str, status: &str) -> PendingOrder {
    PendingOrder {
        client_order_id: id.parse().unwrap(),
        kind: IntentKind::TrendBuy,
        symbol: symbol.into(),
        side: Side::Buy,
        quantity: Some(dec!(0.5)),
        quote_amount: None,
        price: dec!(3200),
        run_id: "earlier".into(),
        created_at: "2026-03-15T09:00:00Z".into(),
        status: status.into(),
        lease_until: None,
        quarantine_reason: None,
    }
}

#[test]
fn a_quarantined_order_blocks_new_risk_only_in_its_symbol() {
    let mut i = inputs(dec!(5000), Decimal::ZERO);
    let id = "tc-26031509-tb-ETHUSDT";
    i.state.pending_orders.insert(id.parse().unwrap(), pending(id, "ETHUSDT", PENDING_QUARANTINED));
    let mut c = Cycle::new(i).unwrap();
    assert_eq!(c.attention.len(), 1);
    assert!(c.attention[0].starts_with(&format!("order {id} is quarantined")), "{}", c.attention[0]);
    c.open_day();
    let buys: Vec<String> = c.plan_trend_buys().iter().map(|b| b.symbol().to_string()).collect();
    assert_eq!(buys, ["SOLUSDT"]);
    assert!(c.plan_dca_buy().is_some(), "BTC is not blocked");
    let gates: Vec<(&str, Option<&str>)> = c.gates.iter().map(|g| (g.gate.as_str(), g.symbol.as_deref())).collect();
    assert_eq!(gates, [("order_quarantined", Some("ETHUSDT"))]);
}

#[test]
fn an_unreadable_ledger_entry_blocks_all_new_risk_and_needs_attention() {
    let raw = json!({"pending_orders": {"tc-26031509-tb-ETHUSDT": {"client_order_id": "tc-26031509-tb-ETHUSDT",
        "kind": "trend_buy", "symbol": "ETHUSDT", "side": "BUY", "price": 3200, "run_id": "r",
        "created_at": "2026-03-15T09:00:00Z", "status": "pending"}}});
    let mut i = inputs(dec!(5000), Decimal::ZERO);
    i.state = StateDoc::normalize(&raw, &universe());
    let mut c = Cycle::new(i).unwrap();
    assert_eq!(c.attention.len(), 1);
    assert!(c.attention[0].contains("pending_orders.tc-26031509-tb-ETHUSDT"), "{}", c.attention[0]);
    c.open_day();
    assert!(c.plan_trend_buys().is_empty());
    assert!(c.plan_dca_buy().is_none());
    // Still in the document, unchanged, after the cycle.
    assert_eq!(c.state.to_value()["pending_orders"], raw["pending_orders"]);
}

#[test]
fn an_outcome_only_settles_the_entry_this_cycle_wrote_ahead() {
    let mut i = inputs(dec!(5000), Decimal::ZERO);
    let id = "tc-26031510-tb-ETHUSDT";
    // Kept by reconciliation (an earlier run of this slot may still send it).
    i.state.pending_orders.insert(id.parse().unwrap(), pending(id, "ETHUSDT", "pending"));
    let mut c = Cycle::new(i).unwrap();
    let mut j = inputs(dec!(5000), Decimal::ZERO);
    j.state.pending_orders.clear();
    let mut fresh = Cycle::new(j).unwrap();
    fresh.open_day();
    let eth = fresh.plan_trend_buys().remove(0);
    assert_eq!(eth.client_order_id.as_deref(), Some(id));
    c.apply(eth.clone(), Outcome::Skipped(format!("order {id} is still pending from an earlier attempt")));
    assert_eq!(c.state.pending_orders[id].run_id, "earlier", "a skipped same-slot intent leaves it alone");
    c.write_ahead(&eth, "this-run");
    c.apply(eth, Outcome::Rejected("-2010".into()));
    assert!(c.state.pending_orders.is_empty(), "its own entry is settled");
}

#[test]
fn unresolved_order_stops_further_buys_and_the_earn_buffer() {
    let mut c = Cycle::new(inputs(dec!(5000), Decimal::ZERO)).unwrap();
    c.open_day();
    let eth = c.plan_trend_buys().remove(0);
    c.apply(eth, Outcome::Unresolved("HTTP 503".into()));
    assert!(c.plan_dca_buy().is_none());
    assert!(c.plan_earn_buffer().is_none());
    let gates: Vec<&str> = c.gates.iter().map(|g| g.gate.as_str()).collect();
    assert_eq!(gates, ["unresolved_order_pending", "unresolved_order_pending"]);
    assert!(
        c.drain_effects().iter().any(|e| matches!(e, Effect::Notify(Event::OrderUnresolved { client_order_id, .. })
            if client_order_id == "tc-26031510-tb-ETHUSDT"))
    );
}

#[test]
fn buy_short_of_spot_usdt_is_funded_from_earn_or_skipped() {
    let mut c = Cycle::new(inputs(dec!(100), dec!(1900))).unwrap();
    c.open_day();
    let eth = c.plan_trend_buys().remove(0);
    let redeem = c.funding_for(&eth).expect("redeem planned");
    assert_eq!(redeem.kind, IntentKind::EarnRedeem);
    let need = eth.requirement().unwrap().1;
    assert_eq!(redeem.amount, Some(((need - dec!(100)) * dec!(1.001)).round_dp(8).normalize()));
    assert!(c.check_funded(&eth).is_err());
    c.apply(redeem, Outcome::EarnDone);
    assert!(c.check_funded(&eth).is_ok());

    // Without Earn to draw from, the order is skipped with the shortfall.
    let c = Cycle::new(inputs(dec!(100), Decimal::ZERO)).unwrap();
    let sol = Intent::order(c.now, IntentKind::TrendBuy, "SOLUSDT", "SOL", dec!(1), dec!(180), "x");
    assert!(c.funding_for(&sol).is_none());
    assert_eq!(c.check_funded(&sol).unwrap_err(), "insufficient free USDT: need 180, spot has 100");
}

/// The shell's step order on estimated fills (replay), the planned
/// redeem first; returns the intents' (kind, size) and the cycle.
fn replay_steps(c: &mut Cycle) -> Vec<(IntentKind, Decimal)> {
    for redeem in c.plan_earn_funding() {
        c.apply(redeem, Outcome::Suppressed);
    }
    let run = |c: &mut Cycle, i: Intent| match c.check_funded(&i) {
        Ok(()) => c.apply(i, Outcome::Suppressed),
        Err(why) => c.skip_unfunded(i, why),
    };
    if let Some(f) = c.plan_fuel() {
        run(c, f);
    }
    assert_eq!(c.open_day(), DayPlan::Trade);
    for i in c.plan_trend_sells().into_iter().chain(c.plan_trend_buys()) {
        run(c, i);
    }
    for step in [Cycle::plan_dca_buy, Cycle::plan_dca_trim, Cycle::plan_earn_buffer] {
        if let Some(i) = step(c) {
            run(c, i);
        }
    }
    c.intents.iter().map(|i| (i.kind, i.quantity.or(i.amount).unwrap_or_default())).collect()
}

#[test]
fn one_redeem_before_trading_funds_every_buy_and_ends_at_the_buffer_target() {
    let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
    let steps = replay_steps(&mut c);
    let kinds: Vec<IntentKind> = steps.iter().map(|s| s.0).collect();
    assert_eq!(
        kinds,
        [IntentKind::EarnRedeem, IntentKind::TrendBuy, IntentKind::TrendBuy, IntentKind::DcaBuy],
        "one redeem, no fallback redeem, no buffer move: {steps:?}"
    );
    assert!(c.intents.iter().all(|i| i.status == IntentStatus::Suppressed));
    assert!(c.attention.is_empty(), "{:?}", c.attention);
    // Spot ends exactly at the target: 5% of 10,000 capped at 300.
    assert_eq!(c.bal(USDT).free, dec!(300));
    let spent: Decimal = c.intents[1..].iter().filter_map(|i| i.requirement()).map(|r| r.1).sum();
    assert_eq!(steps[0].1, spent, "300 on spot pays for the buffer; Earn pays every buy");
}

#[test]
fn nothing_is_redeemed_when_spot_covers_the_cycle_and_the_buffer() {
    let c = Cycle::new(inputs(dec!(20000), dec!(500))).unwrap();
    assert!(c.plan_earn_funding().is_empty());
    // An unresolved order blocks buys and the buffer: nothing to fund.
    let mut i = inputs(dec!(10), dec!(9700));
    i.state.pending_orders.insert(
        "tc-x".parse().unwrap(),
        serde_json::from_value(json!({
            "client_order_id": "tc-x", "kind": "trend_buy", "symbol": "ETHUSDT", "side": "BUY",
            "price": "3200", "run_id": "r", "created_at": "2026-03-15T09:00:00Z", "status": "unresolved"
        }))
        .unwrap(),
    );
    assert!(Cycle::new(i).unwrap().plan_earn_funding().is_empty());
}

#[test]
fn a_refused_earn_move_asks_for_attention_alerts_and_is_not_retried() {
    let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
    let redeem = c.plan_earn_funding().remove(0);
    c.apply(redeem, Outcome::Rejected("rejected: -6009 Request frequency too high".into()));
    assert_eq!(c.attention, ["earn_redeem of 7800.52 USDT failed: rejected: -6009 Request frequency too high"]);
    assert!(matches!(&c.drain_effects()[..], [Effect::Notify(Event::RedeemFailed { .. })]));
    c.open_day();
    let eth = c.plan_trend_buys().remove(0);
    assert!(c.funding_for(&eth).is_none(), "no second redeem after a refusal");
    let why = c.check_funded(&eth).unwrap_err();
    c.skip_unfunded(eth, why.clone());
    assert_eq!(c.attention[1], format!("trend_buy ETHUSDT skipped: {why}"));
    assert!(
        c.drain_effects()
            .iter()
            .any(|e| matches!(e, Effect::Notify(Event::SkippedForFunds { symbol, .. }) if symbol == "ETHUSDT"))
    );
    assert!(c.plan_earn_buffer().is_none());
    assert_eq!(c.gates.last().unwrap().gate, "earn_move_failed_this_cycle");
}

#[test]
fn a_redeem_short_of_spot_is_in_transit_until_the_next_run_sees_it_arrive() {
    let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
    let redeem = c.plan_earn_funding().remove(0);
    let amount = redeem.amount.unwrap();
    c.apply(redeem, Outcome::EarnDone);
    c.drain_effects();
    // Only 1000 of it had landed when the shell stopped waiting.
    c.note_redeem_arrival(USDT, Some(dec!(1300)));
    let entry = c.state.earn_in_transit[USDT].clone();
    assert_eq!((entry.amount, entry.spot_free_seen), (amount - dec!(1000), dec!(1300)));
    assert_eq!(c.drain_effects(), [Effect::Save("earn_in_transit:USDT".into())]);
    let book = c.bal(USDT);
    assert_eq!((book.free, book.locked, book.total()), (dec!(1300), amount - dec!(1000), dec!(10000)));
    c.open_day();
    assert!(c.plan_earn_buffer().is_none(), "no Earn move while money is in transit");
    c.finish();
    let saved = c.state.to_value();
    assert_eq!(saved["last_balance_snapshot"]["USDT"], 10000.0, "owned, in transit");

    // Next run, an hour later: half of the rest has arrived.
    let rest = amount - dec!(1000);
    let mut next = inputs(dec!(1300) + rest / dec!(2), dec!(9700) - amount);
    next.now += chrono::Duration::hours(1);
    next.state = StateDoc::normalize(&saved, &universe());
    let c2 = Cycle::new(next.clone()).unwrap();
    assert_eq!(c2.state.earn_in_transit[USDT].amount, rest / dec!(2));
    assert_eq!(c2.bal(USDT).total(), dec!(10000), "no flow: the flow check sees what was saved");
    assert!(c2.plan_earn_funding().is_empty(), "what is on its way is not redeemed twice");

    // A day later and still missing: it no longer counts, with a warning.
    next.now += chrono::Duration::hours(EARN_IN_TRANSIT_MAX_HOURS);
    let c3 = Cycle::new(next).unwrap();
    assert!(c3.state.earn_in_transit.is_empty());
    assert_eq!(c3.bal(USDT).total(), dec!(10000) - rest / dec!(2));
    assert!(c3.attention[0].contains("never reached spot"), "{:?}", c3.attention);
}

#[test]
fn a_redeem_written_ahead_counts_at_the_next_run_only_for_what_left_earn() {
    let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
    let redeem = c.plan_earn_funding().remove(0);
    let amount = redeem.amount.unwrap();
    assert_eq!(c.write_ahead_redeem(&redeem), None);
    // The process dies here, after the save, with or without the send.
    let saved = c.state.to_value();
    assert_eq!(saved["earn_in_transit"][USDT]["unconfirmed"]["earn_before"], json!("9700"));
    let next_run = |spot: Decimal, earn: Decimal| {
        let mut next = inputs(spot, earn);
        next.now += chrono::Duration::minutes(20);
        next.state = StateDoc::normalize(&saved, &universe());
        Cycle::new(next).unwrap()
    };

    // Sent, still on its way: owned, locked, no flow, not redeemed again.
    let sent = next_run(dec!(300), dec!(9700) - amount);
    assert_eq!(sent.state.earn_in_transit[USDT].amount, amount);
    assert_eq!(sent.state.earn_in_transit[USDT].unconfirmed, None);
    assert_eq!(sent.bal(USDT).total(), dec!(10000));
    assert!(sent.plan_earn_funding().is_empty(), "what is on its way is not redeemed twice");
    // Sent and arrived: nothing left to track.
    assert!(next_run(dec!(300) + amount, dec!(9700) - amount).state.earn_in_transit.is_empty());
    // Never sent: nothing left Earn, nothing is in transit.
    let never = next_run(dec!(300), dec!(9700));
    assert!(never.state.earn_in_transit.is_empty());
    assert_eq!(never.bal(USDT).total(), dec!(10000));

    // An answer (confirmed or refused) restores the ledger as it was.
    c.redeem_answered(USDT, None, &Outcome::Rejected("-6009".into()));
    assert!(c.state.earn_in_transit.is_empty());
    let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
    let previous = c.write_ahead_redeem(&redeem);
    c.redeem_answered(USDT, previous, &Outcome::Unresolved("timeout".into()));
    assert!(c.state.earn_in_transit[USDT].unconfirmed.is_some(), "an unknown outcome is kept for the next run");
}

#[test]
fn dust_holding_is_marked_flat_instead_of_failing_every_hour() {
    let mut i = inputs(dec!(1000), Decimal::ZERO);
    i.balances.insert("SOL".into(), AssetBalance { free: dec!(0.01), ..Default::default() });
    i.state.set_position("SOLUSDT", TrendPosition::holding(170.0));
    i.btc.regime_on = Some(false);
    let mut c = Cycle::new(i).unwrap();
    c.open_day();
    assert!(c.plan_trend_sells().is_empty());
    assert!(!c.state.position("SOLUSDT").is_holding);
    assert!(c.gates.iter().any(|g| g.gate == "trend_sell_dust" && g.symbol.as_deref() == Some("SOLUSDT")));
}

#[test]
fn locked_funds_are_never_sold() {
    let mut i = inputs(dec!(1000), Decimal::ZERO);
    i.balances.insert("ETH".into(), AssetBalance { free: dec!(0.5), locked: dec!(0.25), earn: dec!(0.1) });
    i.state.set_position("ETHUSDT", TrendPosition::holding(3000.0));
    i.btc.regime_on = Some(false);
    let mut c = Cycle::new(i).unwrap();
    c.open_day();
    let sells = c.plan_trend_sells();
    assert_eq!(sells[0].quantity, Some(dec!(0.6)), "free 0.5 + Earn 0.1, not the locked 0.25");
    let redeem = c.funding_for(&sells[0]);
    assert!(redeem.is_none(), "no ETH Earn product known: nothing to redeem with");
}

#[test]
fn unpriced_holding_refuses_to_plan() {
    let mut i = inputs(dec!(1000), Decimal::ZERO);
    i.balances.insert("SOL".into(), AssetBalance { free: dec!(3), ..Default::default() });
    i.prices.remove("SOLUSDT");
    assert_eq!(
        Cycle::new(i).err().unwrap(),
        "no usable price for held SOLUSDT; refusing to trade on an incomplete valuation"
    );
}

/// The next cycle of the same account: the state as the previous one
/// left it (what its saves carried) and the balances its fills left.
fn next_cycle(prev: &Cycle, hour: u32, eth_price: Decimal) -> Cycle {
    let mut i = inputs(Decimal::ZERO, Decimal::ZERO);
    i.now = Utc.with_ymd_and_hms(2026, 3, 15, hour, 0, 0).unwrap();
    i.state = prev.state.clone();
    i.balances = prev.book.clone();
    i.prices.insert("ETHUSDT".into(), eth_price);
    Cycle::new(i).unwrap()
}

fn saved_reasons(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Save(r) => Some(r.clone()),
            Effect::Notify(_) => None,
        })
        .collect()
}

#[test]
fn the_save_after_a_fill_carries_a_snapshot_with_it_so_the_next_run_books_no_flow() {
    let mut c = Cycle::new(inputs(dec!(2000), Decimal::ZERO)).unwrap();
    assert_eq!(c.open_day(), DayPlan::Trade);
    let eth = c.plan_trend_buys().remove(0);
    let fill = Fill {
        executed_qty: dec!(0.3),
        quote_qty: dec!(963),
        commissions: vec![Commission { asset: "ETH".into(), amount: dec!(0.0003) }],
        estimated: false,
    };
    c.drain_effects();
    c.apply(eth, Outcome::Filled(fill));
    assert_eq!(saved_reasons(&c.drain_effects()), ["trend_buy:ETHUSDT"]);
    // What that save carries: the balances after the fill.
    assert_eq!(c.state.last_balance_snapshot, c.balance_snapshot());
    assert_eq!(c.state.last_balance_snapshot["USDT"], 1037.0);
    assert_eq!(c.state.last_balance_snapshot["ETH"], 0.2997);

    // The run dies here (no final save); the next one the same day sees
    // its own buy in the balances and in the saved snapshot alike.
    let mut next = next_cycle(&c, 11, dec!(3200));
    assert_eq!(next.open_day(), DayPlan::Trade);
    assert!(saved_reasons(&next.drain_effects()).is_empty(), "no flow rebase, no reset");
    assert_eq!(next.state.daily_trend_equity_base, 963.0);
    // 0.2997 ETH at 3200 = 959.04 against 963 spent: the fee, not −50 %.
    assert!((next.pnl.1 - (959.04 - 963.0) / 963.0).abs() < 1e-9, "{:?}", next.pnl);
}

#[test]
fn a_fuel_buy_before_the_day_opens_is_not_mistaken_for_a_withdrawal() {
    let mut i = inputs(dec!(2000), Decimal::ZERO);
    i.balances.insert("BNB".into(), AssetBalance { free: dec!(0.001), ..Default::default() });
    i.state.last_reset_date = "2026-03-15".into();
    i.state.daily_trend_pnl_basis = daily::PNL_BASIS.into();
    i.state.daily_equity_base = 2000.6;
    i.state.last_balance_snapshot =
        [("USDT", 2000.0), ("BTC", 0.0), ("ETH", 0.0), ("SOL", 0.0)].map(|(a, q)| (a.to_string(), q)).into();
    let mut c = Cycle::new(i).unwrap();
    let fuel = c.plan_fuel().expect("BNB worth 0.6 USDT needs fuel");
    let fill = Fill { executed_qty: dec!(0.025), quote_qty: dec!(15), commissions: vec![], estimated: false };
    c.apply(fuel, Outcome::Filled(fill));
    assert_eq!(c.state.last_balance_snapshot["USDT"], 1985.0);
    assert_eq!(c.open_day(), DayPlan::Trade);
    assert!(saved_reasons(&c.drain_effects()).is_empty(), "the fuel buy is no external flow");
    assert_eq!(c.state.daily_equity_base, 2000.6);
}

#[test]
fn fuel_is_not_bought_while_an_order_is_unresolved() {
    let mut i = inputs(dec!(2000), Decimal::ZERO);
    i.balances.insert("BNB".into(), AssetBalance { free: dec!(0.001), ..Default::default() });
    let mut c = Cycle::new(i.clone()).unwrap();
    assert!(c.plan_fuel().is_some(), "fuel is due");
    let mut c2 = Cycle::new(i).unwrap();
    let buy = Intent::order(c2.now, IntentKind::TrendBuy, "ETHUSDT", "ETH", dec!(0.1), dec!(3200), "x");
    c2.write_ahead(&buy, "r0");
    let mut i = inputs(dec!(2000), Decimal::ZERO);
    i.balances.insert("BNB".into(), AssetBalance { free: dec!(0.001), ..Default::default() });
    i.state.pending_orders = c2.state.pending_orders.clone();
    let mut c = Cycle::new(i).unwrap();
    assert_eq!(c.plan_fuel(), None);
    assert_eq!(c.gates.last().map(|g| g.gate.as_str()), Some("unresolved_order_pending"));
    assert_eq!(c.gates.last().and_then(|g| g.symbol.as_deref()), Some(BNB_SYMBOL));
}

#[test]
fn a_partially_filled_trend_sell_keeps_the_rest_of_the_position() {
    let mut i = inputs(dec!(1000), Decimal::ZERO);
    i.balances.insert("ETH".into(), AssetBalance { free: dec!(0.5), ..Default::default() });
    i.state.set_position("ETHUSDT", TrendPosition::holding(3000.0));
    i.btc.regime_on = Some(false);
    let mut c = Cycle::new(i).unwrap();
    c.open_day();
    let sell = c.plan_trend_sells().remove(0);
    assert_eq!(sell.quantity, Some(dec!(0.5)));
    let fill = Fill { executed_qty: dec!(0.2), quote_qty: dec!(640), commissions: vec![], estimated: false };
    c.apply(sell, Outcome::Filled(fill));
    assert!(c.state.position("ETHUSDT").is_holding, "0.3 ETH is still held");
    assert_eq!(c.bal("ETH").free, dec!(0.3));
    assert_eq!(c.bal(USDT).free, dec!(1640));
    assert!(!c.state.acted_today("ETHUSDT", "sell", "20260315"), "the rest may be sold next cycle");
}

#[test]
fn a_losing_atr_stop_exit_does_not_fire_the_breaker_on_the_next_cycle() {
    // 10:00, first run of the day: 0.3125 ETH worth 1000 USDT, peak 3400.
    let mut i = inputs(dec!(2000), Decimal::ZERO);
    i.balances.insert("ETH".into(), AssetBalance { free: dec!(0.3125), ..Default::default() });
    i.state.set_position("ETHUSDT", TrendPosition { is_holding: true, entry_price: 3300.0, highest_price: 3400.0 });
    let mut c = Cycle::new(i).unwrap();
    assert_eq!(c.open_day(), DayPlan::Trade);
    assert_eq!(c.state.daily_trend_equity_base, 1000.0);
    assert!(c.plan_trend_sells().is_empty(), "3200 is above the 3162.5 stop");
    c.finish();

    // 11:00: ETH at 3136 (−2 %) falls through the stop and is sold.
    let mut c = next_cycle(&c, 11, dec!(3136));
    assert_eq!(c.open_day(), DayPlan::Trade);
    assert!((c.pnl.1 + 0.02).abs() < 1e-9);
    let sell = c.plan_trend_sells().remove(0);
    assert_eq!((sell.reason.as_str(), sell.quantity), ("atr_stop", Some(dec!(0.3125))));
    let fill = Fill {
        executed_qty: dec!(0.3125),
        quote_qty: dec!(980),
        commissions: vec![Commission { asset: USDT.into(), amount: dec!(0.98) }],
        estimated: false,
    };
    c.apply(sell, Outcome::Filled(fill));
    assert!(!c.state.position("ETHUSDT").is_holding);
    c.finish();

    // 12:00: nothing left in the sleeve; the day reads the realised
    // (979.02 − 1000) / 1000, not (0 − 20) / 20 = −100 %.
    let mut c = next_cycle(&c, 12, dec!(3136));
    assert_eq!(c.open_day(), DayPlan::Trade);
    assert!((c.pnl.1 - (979.02 - 1000.0) / 1000.0).abs() < 1e-9, "{:?}", c.pnl);
    assert!(!c.breaker_triggered);
}

#[test]
fn btcusdt_in_the_upstream_pool_keeps_the_dca_record_and_is_no_trend_position() {
    let mut i = inputs(dec!(2000), Decimal::ZERO);
    i.official.insert(BTC_SYMBOL.into(), "BTC".into());
    i.state = StateDoc::normalize(&json!({"BTCUSDT": {"holding_qty": 0.01, "avg_cost": 70000.0}}), &i.official);
    i.balances.insert("BTC".into(), AssetBalance { free: dec!(0.01), ..Default::default() });
    let mut c = Cycle::new(i).unwrap();
    c.open_day();
    assert_eq!(c.values().trend, 0.0, "BTC is valued once, in the DCA sleeve");
    let buy = Intent::order(c.now, IntentKind::DcaBuy, BTC_SYMBOL, "BTC", dec!(0.001), dec!(80000), "x");
    let fill = Fill { executed_qty: dec!(0.001), quote_qty: dec!(80), commissions: vec![], estimated: false };
    c.apply(buy, Outcome::Filled(fill));
    c.finish();
    let saved = c.state.to_value();
    assert!((saved["BTCUSDT"]["holding_qty"].as_f64().unwrap() - 0.011).abs() < 1e-12, "{}", saved["BTCUSDT"]);
    assert!((saved["BTCUSDT"]["avg_cost"].as_f64().unwrap() - 780.0 / 0.011).abs() < 1e-6);
    assert!(saved["BTCUSDT"].get("is_holding").is_none());
}

mod props {
    use super::*;
    use crate::boundary::{OrderReport, OrderStatus};
    use crate::strategy::reconcile;
    use proptest::prelude::*;

    const KINDS: [(IntentKind, &str, &str); 6] = [
        (IntentKind::TrendBuy, "ETHUSDT", "ETH"),
        (IntentKind::TrendSell, "ETHUSDT", "ETH"),
        (IntentKind::BreakerSell, "SOLUSDT", "SOL"),
        (IntentKind::DcaBuy, "BTCUSDT", "BTC"),
        (IntentKind::DcaSell, "BTCUSDT", "BTC"),
        (IntentKind::FuelBuy, "BNBUSDT", "BNB"),
    ];

    proptest! {
        /// A fill books the same state whether the cycle that sent the
        /// order learns of it or a later run's reconciliation does.
        #[test]
        fn a_fill_books_the_same_state_through_the_cycle_and_reconciliation(
            kind in 0usize..6, qty_units in 1u64..100_000, filled_pct in 1u64..=100,
            slippage_bp in 9_800u64..10_200, fee_asset in 0usize..4, fee_units in 0u64..1_000,
        ) {
            let (kind, symbol, base) = KINDS[kind];
            let mut i = inputs(dec!(100000), Decimal::ZERO);
            for (asset, qty) in [("ETH", dec!(20)), ("SOL", dec!(300)), ("BTC", dec!(1.5))] {
                i.balances.insert(asset.into(), AssetBalance { free: qty, ..Default::default() });
            }
            i.state.btc = crate::domain::state::BtcHolding { holding_qty: 1.5, avg_cost: 60000.0 };
            i.state.set_position("ETHUSDT", TrendPosition::holding(3000.0));
            i.state.set_position("SOLUSDT", TrendPosition::holding(170.0));
            let mut cycle = Cycle::new(i).unwrap();
            cycle.open_day();
            let before = cycle.state.clone();

            let price = cycle.price_dec(symbol).unwrap();
            let ordered = Decimal::new(qty_units as i64, 5);
            let mut intent = Intent::order(cycle.now, kind, symbol, base, ordered, price, "prop");
            if kind == IntentKind::FuelBuy {
                intent.quantity = None;
                intent.amount = Some(crate::strategy::StrategyParams::default().fuel_top_up_usdt);
            }
            let executed = match intent.quantity {
                Some(q) => (q * Decimal::from(filled_pct) / dec!(100)).round_dp(5),
                None => (crate::strategy::StrategyParams::default().fuel_top_up_usdt / price).round_dp(5),
            };
            prop_assume!(executed > Decimal::ZERO);
            let quote = (executed * price * Decimal::from(slippage_bp) / dec!(10000)).round_dp(8);
            let fee_asset = [base, USDT, "BNB", "ETH"][fee_asset];
            let commissions = if fee_units == 0 {
                vec![]
            } else {
                vec![Commission { asset: fee_asset.into(), amount: Decimal::new(fee_units as i64, 6) }]
            };
            let fill = Fill { executed_qty: executed, quote_qty: quote, commissions: commissions.clone(), estimated: false };

            // Path 1: the cycle sends it (write-ahead, fill, apply).
            cycle.write_ahead(&intent, "r1");
            let pending = cycle.state.pending_orders.values().next().unwrap().clone();
            cycle.apply(intent, Outcome::Filled(fill));

            // Path 2: the run died after sending; the next run settles it.
            let mut settled = before.clone();
            settled.pending_orders.insert(pending.client_order_id.clone(), pending.clone());
            let report = OrderReport {
                symbol: symbol.into(),
                client_order_id: pending.client_order_id.clone(),
                order_id: 1,
                status: OrderStatus::Filled,
                executed_qty: executed,
                cummulative_quote_qty: quote,
                commissions,
                side: None,
                time: None,
            };
            let later = cycle.now + chrono::Duration::minutes(55);
            let got = reconcile::settle(&mut settled, &pending, Some(&report), later);
            prop_assert!(matches!(got, reconcile::Settlement::Settled { .. }), "{got:?}");
            prop_assert_eq!(&cycle.state, &settled);

            // And the snapshot the saves carry is what the balances show.
            let shown = cycle.balance_snapshot();
            for (asset, q) in &cycle.state.last_balance_snapshot {
                prop_assert!((q - shown[asset]).abs() < 1e-9, "{asset}: {q} vs {}", shown[asset]);
            }
        }
    }

    proptest! {
        /// Whatever the balances and prices, no planned sell exceeds what
        /// can be sold (free + Earn, never locked) and no buy spends more
        /// than the cash it was given.
        #[test]
        fn orders_never_exceed_balances(
            eth_free in 0u64..5_000_000, eth_locked in 0u64..5_000_000, eth_earn in 0u64..5_000_000,
            sol_free in 0u64..50_000_000, usdt in 0u64..100_000_000, price_scale in 1u32..2000,
            regime in any::<bool>(),
        ) {
            let mut i = inputs(Decimal::new(usdt as i64, 2), Decimal::ZERO);
            i.balances.insert("ETH".into(), AssetBalance {
                free: Decimal::new(eth_free as i64, 6),
                locked: Decimal::new(eth_locked as i64, 6),
                earn: Decimal::new(eth_earn as i64, 6),
            });
            i.balances.insert("SOL".into(), AssetBalance { free: Decimal::new(sol_free as i64, 6), ..Default::default() });
            i.prices.insert("ETHUSDT".into(), Decimal::new(price_scale as i64 * 10, 0));
            i.state.set_position("ETHUSDT", TrendPosition::holding(3000.0));
            i.state.set_position("SOLUSDT", TrendPosition::holding(150.0));
            i.btc.regime_on = Some(regime);
            let Ok(mut c) = Cycle::new(i) else { return Ok(()) };
            c.open_day();
            for sell in c.plan_trend_sells() {
                let b = c.bal(&sell.asset);
                prop_assert!(sell.quantity.unwrap() <= b.free + b.earn, "{sell:?} vs {b:?}");
                c.apply(sell, Outcome::Suppressed);
            }
            let cash = c.bal(USDT).total();
            let mut spent = Decimal::ZERO;
            for buy in c.plan_trend_buys() {
                spent += buy.requirement().unwrap().1;
                c.apply(buy, Outcome::Suppressed);
            }
            prop_assert!(spent <= cash, "spent {spent} of {cash}");
        }
    }
}

/// Keys and severities of the cycle's alert conditions.
fn observed(c: &Cycle) -> Vec<(String, &'static str)> {
    c.conditions().into_iter().map(|k| (k.key, k.severity.as_str())).collect()
}

#[test]
fn a_healthy_cycle_observes_no_alert_condition() {
    let mut c = Cycle::new(inputs(dec!(5000), Decimal::ZERO)).unwrap();
    c.open_day();
    assert_eq!(observed(&c), vec![]);
    let transitions = c.advance_alerts(&[], chrono::Duration::hours(24));
    assert!(transitions.is_empty());
    assert!(c.state.to_value().get("alerts").is_none(), "no book is written while there is nothing in it");
}

#[test]
fn a_degraded_or_static_pool_is_an_alert_condition() {
    let mut i = inputs(dec!(5000), Decimal::ZERO);
    i.resolution.source_kind = SourceKind::LastKnownGood;
    i.resolution.source_label = "state:last_known_good".into();
    let c = Cycle::new(i.clone()).unwrap();
    assert_eq!(observed(&c), [("pool_degraded".to_string(), "SEV-2")]);
    let condition = &c.conditions()[0];
    assert_eq!(condition.scope, "upstream pool");
    assert_eq!(condition.runbook, "Upstream pool stale or malformed");
    assert!(condition.reason.starts_with("the upstream pool came from last_known_good (state:last_known_good)"));
    i.resolution.source_kind = SourceKind::LocalFile;
    assert_eq!(observed(&Cycle::new(i.clone()).unwrap()), [("pool_degraded".to_string(), "SEV-2")]);
    i.resolution.source_kind = SourceKind::Static;
    assert_eq!(observed(&Cycle::new(i).unwrap()), [("pool_static".to_string(), "SEV-2")]);
}

#[test]
fn a_refused_earn_move_and_a_buy_skipped_for_funds_are_alert_conditions() {
    let mut c = Cycle::new(inputs(dec!(300), dec!(9700))).unwrap();
    let redeem = c.plan_earn_funding().remove(0);
    c.apply(redeem, Outcome::Rejected("rejected: -6009 Request frequency too high".into()));
    c.open_day();
    let eth = c.plan_trend_buys().remove(0);
    let why = c.check_funded(&eth).unwrap_err();
    c.skip_unfunded(eth, why);
    assert_eq!(
        observed(&c),
        [("earn_refused:USDT".to_string(), "SEV-2"), ("buy_skipped_funds:ETHUSDT".to_string(), "SEV-2")]
    );
}

#[test]
fn unresolved_and_quarantined_orders_and_a_latched_breaker_are_alert_conditions() {
    let mut i = inputs(dec!(5000), Decimal::ZERO);
    let (quarantined, unresolved) = ("tc-26031409-tb-ETHUSDT", "tc-26031509-tb-SOLUSDT");
    i.state.pending_orders.insert(quarantined.parse().unwrap(), pending(quarantined, "ETHUSDT", PENDING_QUARANTINED));
    i.state.pending_orders.insert(unresolved.parse().unwrap(), pending(unresolved, "SOLUSDT", "unresolved"));
    i.state.is_circuit_broken = true;
    let c = Cycle::new(i).unwrap();
    assert_eq!(
        observed(&c),
        [
            (format!("order_quarantined:{quarantined}"), "SEV-1"),
            (format!("order_unresolved:{unresolved}"), "SEV-2"),
            ("breaker_latched".to_string(), "SEV-2"),
        ]
    );
    let scopes: Vec<String> = c.conditions().into_iter().map(|k| k.scope).collect();
    assert_eq!(scopes, ["ETHUSDT", "SOLUSDT", "trend sleeve"]);
}

#[test]
fn the_alert_book_moves_on_in_the_state_document() {
    let mut i = inputs(dec!(5000), Decimal::ZERO);
    i.state.is_circuit_broken = true;
    let mut c = Cycle::new(i).unwrap();
    let transitions = c.advance_alerts(&[conditions::state_save_failed("quota".into())], chrono::Duration::hours(24));
    let changes: Vec<(&str, crate::domain::alerts::Change)> =
        transitions.iter().map(|t| (t.key.as_str(), t.change)).collect();
    assert_eq!(
        changes,
        [
            ("breaker_latched", crate::domain::alerts::Change::Raised),
            ("state_save_failed", crate::domain::alerts::Change::Raised)
        ]
    );
    let doc = c.state.to_value();
    assert_eq!(doc["alerts"]["breaker_latched"]["first_seen"], "2026-03-15T10:00:00Z");
    assert_eq!(doc["alerts"]["state_save_failed"]["severity"], "SEV-1");
    assert_eq!(StateDoc::normalize(&doc, &universe()).alerts, c.state.alerts, "the book round-trips");
}
