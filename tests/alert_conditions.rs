//! The alert conditions only the shell sees (issue 11), each through the
//! real shell against the fake Binance behind the real `BinanceClient`
//! (tests/common/world.rs): Binance refusing the key, clock skew, request
//! weight, a lease taken over from a run that died, stale market data.
//! Each raises once (one message, `alerts.raised`), says nothing while it
//! stays open, reminds once after `ALERT_REMIND_HOURS` and clears once.

mod common;

use chrono::{DateTime, Duration as Span, DurationRound, Utc};
use common::live::fresh_pool;
use common::world::{World, rt};
use rust_decimal::Decimal;
use std::str::FromStr;
use tradecycle::domain::intent::{IntentKind, NotSentClass, OutcomeClass};
use tradecycle::domain::report::{Mode, Report};
use tradecycle::ports::StateStore;
use tradecycle_fakes::binance::{Fault, FaultKind, Kline};

fn keys(entries: &[tradecycle::domain::alerts::AlertEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

/// The alert events of a report (`alert_raised`, `alert_reminder`, ...) with the key each names.
fn alert_events(report: &Report) -> Vec<(String, String)> {
    report
        .notifications
        .iter()
        .filter(|n| n.event.starts_with("alert_"))
        .map(|n| (n.event.clone(), n.text.lines().next().unwrap_or_default().to_string()))
        .collect()
}

/// Messages sent from `from` on.
fn sent_since(w: &World, from: usize) -> Vec<String> {
    w.notifier.sent.lock().unwrap()[from..].to_vec()
}

fn sent_count(w: &World) -> usize {
    w.notifier.sent.lock().unwrap().len()
}

/// One cycle; panics if the tripwire stopped it.
async fn cycle(w: &mut World, now: DateTime<Utc>) -> Report {
    w.run(now).await.expect("cycle ran")
}

/// Asserts `key` alone was raised this cycle with exactly one message.
fn assert_raised(w: &World, r: &Report, key: &str, from: usize, title: &str) {
    assert_eq!(keys(&r.alerts.raised), [key], "{:?}", r.alerts);
    let sent: Vec<String> = sent_since(w, from).into_iter().filter(|m| m.contains(key)).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains(&format!("🚨 [Alert Raised] {title}")), "{}", sent[0]);
}

/// The four steps every condition goes through, from a cycle at `t0` that
/// observed it: open and quiet an hour later, one reminder 25 h after the
/// raise (ALERT_REMIND_HOURS = 24), then `fix` and one clear.
async fn open_remind_clear(w: &mut World, key: &str, t0: DateTime<Utc>, fix: impl FnOnce(&mut World)) {
    let r = cycle(w, t0 + Span::hours(1)).await;
    assert_eq!(keys(&r.alerts.open), [key]);
    assert_eq!(alert_events(&r), vec![], "nothing while it stays open");
    let r = cycle(w, t0 + Span::hours(25)).await;
    assert_eq!(alert_events(&r).len(), 1, "{:?}", alert_events(&r));
    assert_eq!(alert_events(&r)[0].0, "alert_reminder");
    assert!(alert_events(&r)[0].1.ends_with(key));
    fix(w);
    let r = cycle(w, t0 + Span::hours(26)).await;
    assert_eq!(keys(&r.alerts.cleared), [key]);
    assert_eq!(alert_events(&r).len(), 1);
    assert_eq!(alert_events(&r)[0].0, "alert_cleared");
    assert_eq!(w.saved_state()["alerts"][key]["state"], "cleared");
    let r = cycle(w, t0 + Span::hours(27)).await;
    assert_eq!(alert_events(&r), vec![], "cleared once");
}

#[test]
fn a_refused_key_aborts_raises_binance_auth_once_keeps_the_other_alerts_and_clears_when_fixed() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        // A stale lease left by a run that died: this cycle raises lease_takeover.
        dead_run_lease(&w, t0 - Span::hours(2)).await;
        let r = cycle(&mut w, t0).await;
        assert_eq!(keys(&r.alerts.raised), ["lease_takeover"]);
        let before = w.saved_state();
        let original_key = w.live.fake.api_key();

        // The key is revoked: the market read is refused with -2015.
        w.live.fake.set_api_key("rotated-key");
        let from = sent_count(&w);
        let r = cycle(&mut w, t0 + Span::hours(1)).await;
        assert_eq!(r.exit_code(), 3);
        assert_eq!(r.errors[0].stage, "exchange");
        assert!(r.errors[0].message.contains("authentication failed"), "{}", r.errors[0].message);
        assert_raised(&w, &r, "binance_auth", from, "SEV-1 binance_auth");
        assert!(!r.notifications.iter().any(|n| n.event == "api_error"), "the alert replaces the per-run message");
        let saved = w.saved_state();
        assert_eq!(saved["alerts"]["binance_auth"]["state"], "raised");
        assert_eq!(saved["alerts"]["binance_auth"]["severity"], "SEV-1");
        assert_eq!(
            saved["alerts"]["lease_takeover"], before["alerts"]["lease_takeover"],
            "the abort observed nothing about it"
        );
        assert_eq!(saved["positions"], before["positions"]);
        assert_eq!(saved["daily_equity_base"], before["daily_equity_base"]);

        // Still refused an hour later: exit 3, nothing sent.
        let from = sent_count(&w);
        let r = cycle(&mut w, t0 + Span::hours(2)).await;
        assert_eq!(r.exit_code(), 3);
        assert_eq!(keys(&r.alerts.open), ["binance_auth"]);
        assert_eq!(sent_since(&w, from), Vec::<String>::new());
        assert_eq!(w.saved_state()["alerts"]["binance_auth"]["count"], 2);

        // Past ALERT_REMIND_HOURS: one reminder.
        let r = cycle(&mut w, t0 + Span::hours(26)).await;
        assert_eq!(alert_events(&r).len(), 1);
        assert_eq!(alert_events(&r)[0].0, "alert_reminder");

        // The key works again: the cycle runs through and clears it (and
        // lease_takeover, which it no longer sees).
        w.live.fake.set_api_key(&original_key);
        let r = cycle(&mut w, t0 + Span::hours(27)).await;
        assert_eq!(r.errors, vec![]);
        let mut cleared = keys(&r.alerts.cleared);
        cleared.sort_unstable();
        assert_eq!(cleared, ["binance_auth", "lease_takeover"]);
        assert_eq!(w.saved_state()["alerts"]["binance_auth"]["state"], "cleared");
    });
}

#[test]
fn an_order_refused_for_the_key_raises_binance_auth_without_aborting_and_the_next_cycle_clears_it() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        // The key lost its trading permission: every order is refused with -2015.
        let refused = FaultKind::error(401, -2015, "Invalid API-key, IP, or permissions for action.");
        w.live.fake.inject(Fault::new("POST", "/api/v3/order", refused).times(100));
        let from = sent_count(&w);
        let r = cycle(&mut w, t0).await;
        assert_eq!(r.errors, vec![], "an order refusal does not abort the cycle");
        assert!(r.intents.iter().any(|i| i.outcome == Some(OutcomeClass::NotSent(NotSentClass::Auth))));
        assert_raised(&w, &r, "binance_auth", from, "SEV-1 binance_auth");
        assert!(
            r.alerts.raised[0].reason.starts_with("Binance refused the API key during an order ("),
            "{}",
            r.alerts.raised[0].reason
        );
        w.live.fake.clear_faults();
        let r = cycle(&mut w, t0 + Span::hours(1)).await;
        assert_eq!(keys(&r.alerts.cleared), ["binance_auth"]);
    });
}

/// The preflight runs before any cycle loaded the state: the refused key's
/// alert is recorded by its own edit of the state file, under the lease.
#[test]
fn a_key_refused_at_the_preflight_is_raised_once_in_the_state_and_cleared_by_the_next_good_run() {
    let live = common::live::Live::new("cycle_replay");
    assert_eq!(live.run(&["--live", "--run-id", "good-1"], &[]).code, 0);
    let before = live.state();
    let original_key = live.fake.api_key();
    // The key was rotated on Binance; the run still signs with the old one.
    live.fake.set_api_key("rotated-key");
    let old_key = [("BINANCE_API_KEY", original_key.as_str())];

    let run = live.run(&["--live", "--run-id", "refused-1"], &old_key);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["errors"][0]["stage"], "preflight");
    assert_eq!(report["alerts"]["raised"][0]["key"], "binance_auth");
    let events: Vec<&str> =
        report["notifications"].as_array().unwrap().iter().map(|n| n["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["alert_raised"]);
    let state = live.state();
    assert_eq!(state["alerts"]["binance_auth"]["state"], "raised");
    assert_eq!(state["alerts"]["binance_auth"]["severity"], "SEV-1");
    let mut without_alerts = state.clone();
    without_alerts.as_object_mut().unwrap().remove("alerts");
    let mut before_without = before.clone();
    before_without.as_object_mut().unwrap().remove("alerts");
    assert_eq!(without_alerts, before_without, "only the alerts key changed");
    assert!(!live.dir.path().join("state.lease.json").exists(), "the lease was released");

    // Still refused: exit 3, nothing said, counted.
    let run = live.run(&["--live", "--run-id", "refused-2"], &old_key);
    assert_eq!(run.code, 3);
    let report = run.json();
    assert_eq!(report["alerts"]["open"][0]["key"], "binance_auth");
    assert_eq!(report["notifications"], serde_json::json!([]));
    assert_eq!(live.state()["alerts"]["binance_auth"]["count"], 2);

    // The key works again: the run goes through and clears it.
    live.fake.set_api_key(&original_key);
    let run = live.run(&["--live", "--run-id", "good-2"], &[]);
    assert_ne!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["alerts"]["cleared"][0]["key"], "binance_auth");
    assert_eq!(live.state()["alerts"]["binance_auth"]["state"], "cleared");
}

#[test]
fn a_dry_run_refused_by_binance_saves_no_alert_and_keeps_the_per_run_event() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        cycle(&mut w, t0).await;
        w.live.fake.set_api_key("rotated-key");
        // The state is fine but the run is a dry run: nothing may be saved,
        // so no durable alert; the abort reports as before.
        let mut dry = w.cycle(t0 + Span::hours(1), "dry");
        dry.mode = Mode::DryRun;
        let r = dry.run().await;
        assert_eq!(r.exit_code(), 3);
        assert!(r.notifications.iter().any(|n| n.event == "api_error"), "{:?}", r.notifications);
        assert!(w.saved_state()["alerts"].get("binance_auth").is_none());
    });
}

#[test]
fn clock_skew_beyond_one_second_is_raised_and_clears_after_the_resync() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        w.live.fake.set_time_skew_ms(2_000);
        let from = sent_count(&w);
        let r = cycle(&mut w, t0).await;
        assert_raised(&w, &r, "clock_skew", from, "SEV-2 clock_skew");
        // The fixed clock: the next signed request is refused with -1021,
        // the client measures again and the offset is back near zero.
        open_remind_clear(&mut w, "clock_skew", t0, |w| w.live.fake.set_time_skew_ms(0)).await;
    });
}

#[test]
fn half_a_second_of_skew_raises_nothing() {
    rt().block_on(async {
        let mut w = World::settled();
        w.live.fake.set_time_skew_ms(500);
        let t0 = w.start();
        let r = cycle(&mut w, t0).await;
        assert_eq!(keys(&r.alerts.raised), Vec::<&str>::new());
    });
}

#[test]
fn request_weight_above_eighty_percent_is_raised_and_reported() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        // Another client on this IP used 5000 of the 6000 this minute.
        w.live.fake.set_weight_used_elsewhere(5_000);
        let from = sent_count(&w);
        let r = cycle(&mut w, t0).await;
        assert_raised(&w, &r, "request_weight_high", from, "SEV-3 request_weight_high");
        let own: u32 = w.live.fake.requests().iter().filter(|q| !q.path.starts_with("/sapi")).map(|q| q.weight).sum();
        let used = r.request_weight_used.expect("request_weight_used");
        assert!(used > 5_000 && used <= 5_000 + own, "used {used}, own {own}");
        open_remind_clear(&mut w, "request_weight_high", t0, |w| w.live.fake.set_weight_used_elsewhere(0)).await;
    });
}

#[test]
fn an_ordinary_run_reports_its_weight_and_raises_no_weight_alert() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        let r = cycle(&mut w, t0).await;
        let used = r.request_weight_used.expect("request_weight_used");
        assert!(used > 0 && used < 4_800, "{used}");
        assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    });
}

/// A lease a run took at `at` for a minute and never released (it died).
async fn dead_run_lease(w: &World, at: DateTime<Utc>) {
    w.store.inner.acquire_lease("dead-run/0", at, std::time::Duration::from_secs(60)).await.unwrap();
}

#[test]
fn a_lease_taken_over_from_a_dead_run_is_raised_for_that_cycle_and_cleared_by_the_next() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        dead_run_lease(&w, t0 - Span::hours(1)).await;
        let from = sent_count(&w);
        let r = cycle(&mut w, t0).await;
        assert_raised(&w, &r, "lease_takeover", from, "SEV-3 lease_takeover");
        assert!(r.alerts.raised[0].reason.contains("dead-run/0"), "{}", r.alerts.raised[0].reason);
        // A run that dies again an hour later: still open, nothing said.
        dead_run_lease(&w, t0).await;
        let r = cycle(&mut w, t0 + Span::hours(1)).await;
        assert_eq!(keys(&r.alerts.open), ["lease_takeover"]);
        assert_eq!(alert_events(&r), vec![]);
        // ... and again past ALERT_REMIND_HOURS: one reminder.
        dead_run_lease(&w, t0 + Span::hours(24)).await;
        let r = cycle(&mut w, t0 + Span::hours(25)).await;
        assert_eq!(alert_events(&r).len(), 1);
        assert_eq!(alert_events(&r)[0].0, "alert_reminder");
        // The lease is free (the last run released it): cleared once.
        let r = cycle(&mut w, t0 + Span::hours(26)).await;
        assert_eq!(keys(&r.alerts.cleared), ["lease_takeover"]);
        let r = cycle(&mut w, t0 + Span::hours(27)).await;
        assert_eq!(alert_events(&r), vec![]);
    });
}

/// Daily klines of `closes` whose newest candle opens on the day of `last`.
fn klines_ending(closes: &[f64], last: DateTime<Utc>) -> Vec<Kline> {
    let day = 86_400_000_i64;
    let last_open = last.timestamp_millis() / day * day;
    let dec = |x: f64| Decimal::from_str(&format!("{x:.8}")).expect("finite");
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let open = last_open - (closes.len() - 1 - i) as i64 * day;
            Kline::daily(open, dec(c), dec(c * 1.01), dec(c * 0.99), dec(c), dec(1.0e8 / c))
        })
        .collect()
}

/// The cycle time for the stale-data tests: the wall clock's hour, where
/// the adapter asks the fake for klines (tests/common/world.rs).
fn wall_hour() -> DateTime<Utc> {
    Utc::now().duration_trunc(Span::hours(1)).unwrap()
}

/// A settled world whose cycles run at the wall clock's hour `t0`, with a
/// pool published then.
fn world_at_wall_clock() -> (World, DateTime<Utc>) {
    let mut w = World::settled();
    let t0 = wall_hour();
    w.pool = fresh_pool(&w.live.fixtures, t0);
    (w, t0)
}

#[test]
fn a_pool_symbol_whose_klines_stopped_three_days_ago_is_raised_and_not_entered() {
    rt().block_on(async {
        let (mut w, t0) = world_at_wall_clock();
        // Reminders after an hour: the cycles stay within the wall clock's
        // day, so the other series stay fresh.
        w.settings.alert_remind_hours = 1;
        let symbol = w.trend_symbols[0].clone();
        let closes = w.closes[&symbol].clone();
        w.live.fake.set_klines(&symbol, klines_ending(&closes, t0 - Span::days(3)));
        let key = format!("market_data_stale:{symbol}");
        let from = sent_count(&w);
        let r = cycle(&mut w, t0).await;
        assert_raised(&w, &r, &key, from, &format!("SEV-2 {key}"));
        assert!(r.warnings.iter().any(|m| m.starts_with(&format!("{symbol}: daily klines stale"))), "{:?}", r.warnings);
        assert!(
            !r.intents.iter().any(|i| i.symbol.as_deref() == Some(symbol.as_str()) && i.kind == IntentKind::TrendBuy),
            "no entry on stale data"
        );
        let r = cycle(&mut w, t0 + Span::minutes(20)).await;
        assert_eq!(keys(&r.alerts.open), [key.as_str()]);
        assert_eq!(alert_events(&r), vec![]);
        let r = cycle(&mut w, t0 + Span::minutes(70)).await;
        assert_eq!(alert_events(&r).iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["alert_reminder"]);
        w.set_daily_closes(&symbol, &closes);
        let r = cycle(&mut w, t0 + Span::minutes(80)).await;
        assert_eq!(keys(&r.alerts.cleared), [key.as_str()]);
        let r = cycle(&mut w, t0 + Span::minutes(90)).await;
        assert_eq!(alert_events(&r), vec![]);
    });
}

#[test]
fn stale_btc_klines_pause_new_risk_for_the_cycle() {
    rt().block_on(async {
        let (mut w, t0) = world_at_wall_clock();
        let closes = w.closes["BTCUSDT"].clone();
        w.live.fake.set_klines("BTCUSDT", klines_ending(&closes, t0 - Span::days(3)));
        let r = cycle(&mut w, t0).await;
        assert_eq!(keys(&r.alerts.raised), ["market_data_stale:BTCUSDT"]);
        let paused = r.paused.as_ref().expect("new risk paused");
        assert_eq!(paused.by, "alert:market_data_stale:BTCUSDT");
        let buys = [IntentKind::TrendBuy, IntentKind::DcaBuy];
        assert!(!r.intents.iter().any(|i| buys.contains(&i.kind)), "{:?}", r.intents);
        // Fresh again: it clears and the same account buys.
        w.set_daily_closes("BTCUSDT", &closes);
        let r = cycle(&mut w, t0 + Span::minutes(10)).await;
        assert_eq!(keys(&r.alerts.cleared), ["market_data_stale:BTCUSDT"]);
        assert_eq!(r.paused, None);
        assert!(r.intents.iter().any(|i| buys.contains(&i.kind)), "{:?}", r.intents);
    });
}
