//! Durable alerts through the real shell (issue 11): the fake Binance
//! behind the real `BinanceClient` (tests/common/world.rs), the file state
//! store, and the real `TelegramNotifier` against the fake Bot API. A
//! degraded pool is raised once over several cycles, reminded after
//! `ALERT_REMIND_HOURS`, cleared once; the book lives in the state file and
//! each cycle opens the file afresh, as the next process would.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use common::live::fresh_pool;
use common::world::{World, rt};
use serde_json::Value;
use tradecycle::adapters::store::file::FileStore;
use tradecycle::adapters::telegram::{ChatTarget, TelegramConfig, TelegramNotifier};
use tradecycle::commands::run::LEASE_TTL;
use tradecycle::domain::report::{DeliveryStatus, Mode, Report};
use tradecycle::secret::Secret;
use tradecycle::shell::execute::{ExchangeExecutor, ExecutionPolicy};
use tradecycle::shell::runner::{CycleRun, PoolInput, SavePolicy};
use tradecycle::strategy::cycle::conditions;
use tradecycle::upstream::ladder::{FetchOutcome, FreshSource};
use tradecycle_fakes::telegram::FakeTelegram;

const TOKEN: &str = "123456789:TEST-token_value-do-not-print";
const CHAT: i64 = 4242;

/// The world, its state file and the fake Telegram.
struct Harness {
    world: World,
    tg: FakeTelegram,
    state: PathBuf,
    runs: usize,
}

impl Harness {
    async fn new() -> Harness {
        let world = World::settled();
        let tg = FakeTelegram::start(TOKEN).await;
        tg.add_chat(CHAT);
        let state = world.live.dir.path().join("alerts-state.json");
        std::fs::write(&state, world.live.fixtures.initial_state.to_string()).unwrap();
        Harness { world, tg, state, runs: 0 }
    }

    /// One live cycle at `now`; the upstream document is fresh (dated
    /// `now`) or missing, which sends the ladder to the state's
    /// last-known-good pool.
    async fn cycle(&mut self, now: DateTime<Utc>, upstream_present: bool) -> Report {
        self.runs += 1;
        let behind = now.timestamp_millis() - self.world.clock.now_ms();
        if behind > 0 {
            self.world.clock.advance(Duration::from_millis(behind.unsigned_abs()));
        }
        let outcome = if upstream_present {
            FetchOutcome::Found(fresh_pool(&self.world.live.fixtures, now))
        } else {
            FetchOutcome::Missing
        };
        let notifier = TelegramNotifier::new(&TelegramConfig {
            token: Secret::new(TOKEN),
            chat: ChatTarget::Id(CHAT),
            api_url: Some(self.tg.url()),
            timeout: Duration::from_secs(2),
        })
        .expect("notifier");
        // A new store per cycle: what the next process would read.
        let store = FileStore::new(&self.state);
        let w = &self.world;
        let report = CycleRun {
            mode: Mode::Live,
            now,
            clock: &*w.clock,
            run_id: format!("alerts-{}", self.runs),
            settings: &w.settings,
            exchange: &w.exchange,
            store: &store,
            notifier: &notifier,
            executor: ExchangeExecutor::new(&w.exchange, ExecutionPolicy::default()).with_clock(&*w.clock),
            pool: PoolInput::Ladder {
                fresh: Some(FreshSource { label: "firestore:strategy/POOL".into(), outcome }),
                local_root: w.live.dir.path().join("no-local-pool"),
            },
            lease_ttl: Some(LEASE_TTL),
            save_policy: SavePolicy { attempts: 2, backoff: Duration::from_millis(1) },
            artifacts_dir: Some(w.live.artifacts()),
            memo: None,
        }
        .run()
        .await;
        assert_eq!(report.errors, vec![], "cycle {} at {now}", self.runs);
        report
    }

    /// Telegram messages carrying an alert, in order.
    fn alert_messages(&self) -> Vec<String> {
        self.tg.messages().into_iter().map(|m| m.text).filter(|t| t.contains("[Alert ")).collect()
    }

    fn stored_alerts(&self) -> Value {
        stored(&self.state)["alerts"].clone()
    }
}

fn stored(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("state file")).expect("json")
}

fn rfc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn pool_alert(title: &str, first_seen: DateTime<Utc>) -> String {
    format!(
        "🤖 tradecycle:\n{title} SEV-2 pool_degraded\n\
         Scope: upstream pool\n\
         Reason: the upstream pool came from last_known_good (state:last_known_good); new trend entries are \
         paused unless STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED=1\n\
         First Seen: {}\n\
         Runbook: RUNBOOK.md › Upstream pool stale or malformed",
        rfc(first_seen)
    )
}

/// No alert message this cycle.
const NONE: [(&str, DeliveryStatus); 0] = [];

fn alert_events(report: &Report) -> Vec<(&str, DeliveryStatus)> {
    report
        .notifications
        .iter()
        .filter(|n| n.event.starts_with("alert_"))
        .map(|n| (n.event.as_str(), n.status))
        .collect()
}

fn keys(entries: &[tradecycle::domain::alerts::AlertEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

#[test]
fn a_degraded_pool_is_raised_once_reminded_after_the_interval_and_cleared_once() {
    rt().block_on(async {
        let mut h = Harness::new().await;
        // upstream_stale (N cycles in a row) has its own test below: here
        // the pool_degraded alert alone speaks.
        h.world.settings.upstream_stale_alert_cycles = u64::MAX;
        let t0 = h.world.start();

        // A fresh pool: nothing to say; the book is not written yet.
        let r = h.cycle(t0, true).await;
        assert!(r.alerts.raised.is_empty() && r.alerts.open.is_empty() && r.alerts.cleared.is_empty());
        assert_eq!(h.stored_alerts(), Value::Null);
        assert_eq!(h.alert_messages(), Vec::<String>::new());

        // The upstream document disappears: last-known-good, raised once.
        let t1 = t0 + Span::hours(1);
        let r = h.cycle(t1, false).await;
        assert_eq!(keys(&r.alerts.raised), ["pool_degraded"]);
        assert_eq!(alert_events(&r), [("alert_raised", DeliveryStatus::Sent)]);
        assert_eq!(h.alert_messages(), [pool_alert("🚨 [Alert Raised]", t1)]);
        assert_eq!(h.stored_alerts()["pool_degraded"]["state"], "raised");
        assert_eq!(h.stored_alerts()["pool_degraded"]["severity"], "SEV-2");

        // Still degraded for hours: open, counted, not announced again.
        for hour in 2..=24 {
            let r = h.cycle(t0 + Span::hours(hour), false).await;
            assert_eq!(keys(&r.alerts.open), ["pool_degraded"], "hour {hour}");
            assert_eq!(alert_events(&r), NONE, "hour {hour}");
        }
        assert_eq!(h.alert_messages().len(), 1);
        let stored = h.stored_alerts();
        assert_eq!(stored["pool_degraded"]["count"], 24);
        assert_eq!(stored["pool_degraded"]["first_seen"], rfc(t1));
        assert_eq!(stored["pool_degraded"]["last_seen"], rfc(t0 + Span::hours(24)));
        assert_eq!(stored["pool_degraded"]["last_notified"], rfc(t1));

        // ALERT_REMIND_HOURS (24) after the raise: one reminder.
        let t25 = t0 + Span::hours(25);
        let r = h.cycle(t25, false).await;
        assert_eq!(alert_events(&r), [("alert_reminder", DeliveryStatus::Sent)]);
        assert_eq!(h.alert_messages()[1..], [pool_alert("🔁 [Alert Still Open]", t1)]);
        assert_eq!(h.stored_alerts()["pool_degraded"]["last_notified"], rfc(t25));
        let r = h.cycle(t0 + Span::hours(26), false).await;
        assert_eq!(alert_events(&r), NONE);

        // The upstream document is back: cleared once, and only once.
        let r = h.cycle(t0 + Span::hours(27), true).await;
        assert_eq!(keys(&r.alerts.cleared), ["pool_degraded"]);
        assert_eq!(alert_events(&r), [("alert_cleared", DeliveryStatus::Sent)]);
        assert_eq!(h.alert_messages()[2..], [pool_alert("✅ [Alert Cleared]", t1)]);
        assert_eq!(h.stored_alerts()["pool_degraded"]["state"], "cleared");
        let r = h.cycle(t0 + Span::hours(28), true).await;
        assert!(r.alerts.cleared.is_empty() && r.alerts.open.is_empty());
        assert_eq!(h.alert_messages().len(), 3);

        // Degraded again: a new raise with a new first-seen, the count kept.
        let t29 = t0 + Span::hours(29);
        let r = h.cycle(t29, false).await;
        assert_eq!(keys(&r.alerts.raised), ["pool_degraded"]);
        assert_eq!(h.alert_messages()[3..], [pool_alert("🚨 [Alert Raised]", t29)]);
        assert_eq!(h.stored_alerts()["pool_degraded"]["count"], 27);
    });
}

#[test]
fn a_raise_telegram_did_not_take_is_sent_as_a_reminder_next_cycle() {
    rt().block_on(async {
        let mut h = Harness::new().await;
        // Only pool_degraded here (upstream_stale has its own test).
        h.world.settings.upstream_stale_alert_cycles = u64::MAX;
        let t0 = h.world.start();
        h.cycle(t0, true).await;
        h.tg.set_outage(true);
        let r = h.cycle(t0 + Span::hours(1), false).await;
        assert_eq!(alert_events(&r), [("alert_raised", DeliveryStatus::Failed)]);
        assert_eq!(h.stored_alerts()["pool_degraded"]["last_notified"], Value::Null, "a message is owed");
        h.tg.set_outage(false);
        let r = h.cycle(t0 + Span::hours(2), false).await;
        assert_eq!(alert_events(&r), [("alert_reminder", DeliveryStatus::Sent)]);
        assert_eq!(h.alert_messages(), [pool_alert("🔁 [Alert Still Open]", t0 + Span::hours(1))]);
        let r = h.cycle(t0 + Span::hours(3), false).await;
        assert_eq!(alert_events(&r), NONE);
    });
}

/// Alert events naming `key` (their message's first line ends with it).
fn events_of<'a>(report: &'a Report, key: &str) -> Vec<&'a str> {
    report
        .notifications
        .iter()
        .filter(|n| n.event.starts_with("alert_") && n.text.lines().next().is_some_and(|l| l.ends_with(key)))
        .map(|n| n.event.as_str())
        .collect()
}

#[test]
fn an_upstream_pool_not_fresh_for_three_cycles_in_a_row_raises_upstream_stale_once_and_clears_once() {
    rt().block_on(async {
        let mut h = Harness::new().await;
        let t0 = h.world.start();
        h.cycle(t0, true).await;
        // Two cycles without the upstream document: below UPSTREAM_STALE_ALERT_CYCLES (3).
        for hour in 1..=2 {
            let r = h.cycle(t0 + Span::hours(hour), false).await;
            assert_eq!(events_of(&r, "upstream_stale"), Vec::<&str>::new(), "hour {hour}");
        }
        assert_eq!(stored(&h.state)["upstream_non_fresh_cycles"], 2);
        // A fresh one in between starts the count again.
        h.cycle(t0 + Span::hours(3), true).await;
        assert_eq!(stored(&h.state).get("upstream_non_fresh_cycles"), None);
        for hour in 4..=5 {
            let r = h.cycle(t0 + Span::hours(hour), false).await;
            assert!(r.alerts.raised.iter().all(|a| a.key != "upstream_stale"), "hour {hour}");
        }
        // The third in a row: raised, once.
        let t6 = t0 + Span::hours(6);
        let r = h.cycle(t6, false).await;
        assert_eq!(keys(&r.alerts.raised), ["upstream_stale"]);
        assert_eq!(events_of(&r, "upstream_stale"), ["alert_raised"]);
        let sent: Vec<String> = h.alert_messages().into_iter().filter(|m| m.contains("upstream_stale")).collect();
        assert_eq!(
            sent,
            [format!(
                "🤖 tradecycle:\n🚨 [Alert Raised] SEV-2 upstream_stale\n\
                 Scope: upstream pool\n\
                 Reason: the upstream pool could not be used fresh for 3 cycles in a row; check the publisher\n\
                 First Seen: {}\n\
                 Runbook: RUNBOOK.md › Upstream pool stale or malformed",
                rfc(t6)
            )]
        );
        let r = h.cycle(t0 + Span::hours(7), false).await;
        assert_eq!(events_of(&r, "upstream_stale"), Vec::<&str>::new());
        assert!(keys(&r.alerts.open).contains(&"upstream_stale"));
        // 24 h after the raise: one reminder.
        let r = h.cycle(t0 + Span::hours(30), false).await;
        assert_eq!(events_of(&r, "upstream_stale"), ["alert_reminder"]);
        let r = h.cycle(t0 + Span::hours(31), false).await;
        assert_eq!(events_of(&r, "upstream_stale"), Vec::<&str>::new());
        // Fresh again: cleared once (with pool_degraded).
        let r = h.cycle(t0 + Span::hours(32), true).await;
        assert_eq!(events_of(&r, "upstream_stale"), ["alert_cleared"]);
        assert_eq!(h.stored_alerts()["upstream_stale"]["state"], "cleared");
        let r = h.cycle(t0 + Span::hours(33), true).await;
        assert_eq!(events_of(&r, "upstream_stale"), Vec::<&str>::new());
    });
}

#[test]
fn in_chinese_the_alert_carries_the_same_facts() {
    rt().block_on(async {
        let mut h = Harness::new().await;
        h.world.settings.lang = tradecycle::notify::event::Lang::Zh;
        let t0 = h.world.start();
        h.cycle(t0, true).await;
        h.cycle(t0 + Span::hours(1), false).await;
        let sent: Vec<String> =
            h.tg.messages().into_iter().map(|m| m.text).filter(|t| t.contains("[告警触发]")).collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(
            sent[0]
                .starts_with("🤖 tradecycle 加密量化:\n🚨 [告警触发] SEV-2 pool_degraded\n范围: upstream pool\n原因: "),
            "{}",
            sent[0]
        );
        assert!(
            sent[0].ends_with(&format!(
                "\n首次发现: {}\n处理手册: RUNBOOK.md › Upstream pool stale or malformed",
                rfc(t0 + Span::hours(1))
            )),
            "{}",
            sent[0]
        );
    });
}

/// Every section an alert points to is a heading of RUNBOOK.md, and the
/// Alerts section lists every key.
#[test]
fn the_runbook_sections_alerts_point_to_exist() {
    let runbook = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("RUNBOOK.md")).unwrap();
    let headings: Vec<&str> =
        runbook.lines().filter_map(|l| l.strip_prefix("### ").or_else(|| l.strip_prefix("## "))).collect();
    for section in [
        conditions::RUNBOOK_POOL,
        conditions::RUNBOOK_UNRESOLVED,
        conditions::RUNBOOK_QUARANTINED,
        conditions::RUNBOOK_UNREADABLE,
        conditions::RUNBOOK_ATTENTION,
        conditions::RUNBOOK_BREAKER,
        conditions::RUNBOOK_STATE_SAVE,
        tradecycle::domain::baseline::RUNBOOK_ANOMALY,
        conditions::RUNBOOK_BINANCE,
        conditions::RUNBOOK_CLOCK_SKEW,
        conditions::RUNBOOK_WEIGHT,
        conditions::RUNBOOK_LEASE_TAKEOVER,
        conditions::RUNBOOK_MARKET_STALE,
        "Alerts",
    ] {
        assert!(headings.contains(&section), "RUNBOOK.md has no section {section:?}");
    }
    for key in [
        "pool_degraded",
        "pool_static",
        "order_unresolved:",
        "order_quarantined:",
        "order_unreadable:",
        "earn_refused:",
        "buy_skipped_funds:",
        "breaker_latched",
        "state_save_failed",
        "anomaly:",
        "upstream_stale",
        "binance_auth",
        "clock_skew",
        "request_weight_high",
        "lease_takeover",
        "market_data_stale:",
    ] {
        assert!(runbook.contains(&format!("`{key}")), "RUNBOOK.md's Alerts section does not list {key}");
    }
}

/// A state save that fails for good raises `state_save_failed` (SEV-1):
/// in the report, in a message, and in the state the recovery file keeps
/// (restoring it brings the alert back; the next saved run clears it).
#[test]
fn a_failed_state_save_raises_an_alert_kept_in_the_recovery_file() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        w.run(t0).await.expect("first cycle");
        let before = w.notifier.sent.lock().unwrap().len();
        // Every save of the second cycle fails (a store outage).
        w.trip.fail_saves(0, usize::MAX);
        let r = w.run(t0 + Span::hours(1)).await.expect("second cycle");
        assert_eq!(keys(&r.alerts.raised), ["state_save_failed"]);
        let recovered = stored(Path::new(r.recovery_file.as_deref().expect("a recovery file")));
        let alert = &recovered["alerts"]["state_save_failed"];
        assert_eq!((alert["state"].as_str(), alert["severity"].as_str()), (Some("raised"), Some("SEV-1")));
        assert_eq!(alert["first_seen"], rfc(t0 + Span::hours(1)));
        let sent = w.notifier.sent.lock().unwrap()[before..].to_vec();
        let alerts: Vec<&String> = sent.iter().filter(|t| t.contains("state_save_failed")).collect();
        assert_eq!(alerts.len(), 1, "{sent:?}");
        assert!(alerts[0].contains("🚨 [Alert Raised] SEV-1 state_save_failed\nScope: state store\nReason: the state document could not be saved (saving state"), "{}", alerts[0]);
        assert!(alerts[0].contains(&format!("First Seen: {}\nRunbook: RUNBOOK.md › State save failed", rfc(t0 + Span::hours(1)))), "{}", alerts[0]);
    });
}

/// A save that failed part-way but whose final save went through leaves a
/// good state: the failure is told (`state_save_failed` message), not kept
/// as an alert that would never clear.
#[test]
fn a_run_whose_final_save_went_through_raises_no_save_alert() {
    rt().block_on(async {
        let mut w = World::settled();
        let t0 = w.start();
        w.run(t0).await.expect("first cycle");
        // The first save of the next cycle fails both its attempts; the rest go through.
        w.trip.fail_saves(0, 2);
        let r = w.run(t0 + Span::hours(1)).await.expect("second cycle");
        assert_eq!(r.state_writes.first().map(|s| s.status), Some(tradecycle::domain::report::WriteStatus::Failed));
        assert_eq!(r.state_writes.last().map(|s| s.status), Some(tradecycle::domain::report::WriteStatus::Written));
        assert!(r.notifications.iter().any(|n| n.event == "state_save_failed"));
        assert_eq!(keys(&r.alerts.raised), Vec::<&str>::new());
        assert!(w.saved_state()["alerts"].get("state_save_failed").is_none());
    });
}
