//! Telegram delivery end to end: the real `TelegramNotifier` (teloxide)
//! against the fake Bot API on 127.0.0.1, alone and inside a paper cycle.
//! A delivery problem must never change the trading outcome (design.md §3.12).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tradecycle::adapters::store::memory::MemoryStore;
use tradecycle::adapters::telegram::{ChatTarget, TelegramConfig, TelegramNotifier};
use tradecycle::config::Settings;
use tradecycle::domain::intent::{Intent, IntentStatus};
use tradecycle::domain::report::{DeliveryStatus, Mode, Report, Status};
use tradecycle::notify::messages;
use tradecycle::paper::exchange::SimExchange;
use tradecycle::paper::fixture::FixtureSet;
use tradecycle::ports::{LeaseOutcome, ManualClock, Notifier, PortError, StateStore};
use tradecycle::secret::Secret;
use tradecycle::shell::runner::{CycleRun, Executor, PoolInput, SavePolicy};
use tradecycle::strategy::cycle::Outcome;
use tradecycle_fakes::telegram::{BOT_USERNAME, FakeTelegram};

const TOKEN: &str = "123456789:TEST-token_value-do-not-print";
const CHAT: i64 = 4242;

async fn fake() -> FakeTelegram {
    let tg = FakeTelegram::start(TOKEN).await;
    tg.add_chat(CHAT);
    tg
}

fn config(tg: &FakeTelegram, token: &str, timeout: Duration) -> TelegramConfig {
    TelegramConfig { token: Secret::new(token), chat: ChatTarget::Id(CHAT), api_url: Some(tg.url()), timeout }
}

fn notifier(tg: &FakeTelegram) -> TelegramNotifier {
    TelegramNotifier::new(&config(tg, TOKEN, Duration::from_secs(5))).expect("notifier")
}

#[tokio::test]
async fn sends_plain_text_to_the_configured_chat() {
    let tg = fake().await;
    let text = "🤖 tradecycle:\n🟢 [Trend Buy] ETHUSDT\nPrice: *2,000.00* <b>not html</b> _x_";
    notifier(&tg).send(text).await.expect("sent");
    let got = tg.messages();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].chat_id, got[0].text.as_str(), got[0].parse_mode.as_deref()), (CHAT, text, None));
    // teloxide calls the method in PascalCase; the fake matched it anyway.
    assert_eq!(tg.requests()[0].method, "SendMessage");
}

#[tokio::test]
async fn flood_control_is_waited_out_once() {
    let tg = fake().await;
    tg.rate_limit(1, 1);
    let started = Instant::now();
    notifier(&tg).send("after the wait").await.expect("second attempt succeeds");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited only {:?}", started.elapsed());
    let seen = tg.requests();
    assert_eq!(seen.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 200]);
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_secs(1));
    assert_eq!(tg.messages().len(), 1);
}

#[tokio::test]
async fn flood_control_twice_or_too_long_is_retryable() {
    let tg = fake().await;
    // Refused again after the wait: one retry only.
    tg.rate_limit(2, 1);
    let err = notifier(&tg).send("x").await.expect_err("still limited");
    assert!(matches!(&err, PortError::Retryable(m) if m.contains("still refused")), "{err}");
    assert_eq!(tg.requests().len(), 2);

    // A wait longer than the cap is not attempted at all.
    let tg = fake().await;
    tg.rate_limit(1, 5);
    let started = Instant::now();
    let err = notifier(&tg).with_max_retry_after(Duration::from_secs(2)).send("x").await.expect_err("too long");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(&err, PortError::Retryable(m) if m.contains("5s")), "{err}");
    assert_eq!(tg.requests().len(), 1);
    assert!(tg.messages().is_empty());
}

#[tokio::test]
async fn outage_is_a_retryable_error_within_the_timeout() {
    let mut tg = fake().await;
    let n = TelegramNotifier::new(&config(&tg, TOKEN, Duration::from_secs(1))).expect("notifier");
    // 500: teloxide would sleep 10 s before reading the body; our deadline cuts it.
    tg.set_outage(true);
    let started = Instant::now();
    let err = n.send("x").await.expect_err("outage");
    assert!(matches!(err, PortError::Retryable(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

    // Connection refused: the network error quotes the URL, minus the token.
    tg.shutdown().await;
    let err = n.send("x").await.expect_err("server down");
    let text = err.to_string();
    assert!(matches!(err, PortError::Retryable(_)), "{text}");
    assert!(text.contains("network error"), "{text}");
    assert!(!text.contains(TOKEN) && !text.contains("TEST-token"), "token leaked: {text}");
}

#[tokio::test]
async fn wrong_token_is_an_auth_error_that_does_not_show_it() {
    let tg = fake().await;
    let wrong = "987654321:WRONG-secret-value";
    let n = TelegramNotifier::new(&config(&tg, wrong, Duration::from_secs(5))).expect("notifier");
    let err = n.send("x").await.expect_err("unauthorized");
    let text = err.to_string();
    assert!(matches!(err, PortError::Auth(_)), "{text}");
    assert!(text.contains("TG_TOKEN"), "{text}");
    assert!(!text.contains("WRONG-secret") && !text.contains(TOKEN), "{text}");
    let err = n.get_me().await.expect_err("unauthorized");
    assert!(matches!(err, PortError::Auth(_)), "{err}");
    assert!(tg.messages().is_empty());
}

#[tokio::test]
async fn unknown_chat_is_definitive() {
    let tg = FakeTelegram::start(TOKEN).await; // knows no chat
    let err = notifier(&tg).send("x").await.expect_err("chat not found");
    assert!(matches!(&err, PortError::Definitive(m) if m.contains("chat not found")), "{err}");
}

#[tokio::test]
async fn get_me_returns_the_username() {
    let tg = fake().await;
    assert_eq!(notifier(&tg).get_me().await.expect("getMe"), BOT_USERNAME);
    assert_eq!(tg.requests()[0].method, "GetMe");
}

// ---- The shell: a paper cycle delivering through Telegram ----

/// Fills every order at the price the plan used, like a perfect exchange.
struct FillAtPlannedPrice;

impl Executor for FillAtPlannedPrice {
    async fn perform(&mut self, intent: &Intent) -> Outcome {
        if !intent.kind.is_order() {
            return Outcome::EarnDone;
        }
        match intent.estimated_fill() {
            Some(mut fill) => {
                fill.estimated = false;
                Outcome::Filled(fill)
            }
            None => Outcome::Rejected("no price to fill at".into()),
        }
    }

    async fn await_funds(&mut self, _: &str, _: rust_decimal::Decimal) -> Option<rust_decimal::Decimal> {
        None
    }
}

fn fixture(name: &str) -> FixtureSet {
    FixtureSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)).expect("fixture set")
}

/// One paper cycle on a fixture set against `store`, or against a fresh
/// in-memory store seeded with the fixture's state; returns the report and
/// what the in-memory store saved.
async fn paper_cycle<N: Notifier, S: StateStore>(name: &str, notifier: &N, store: Option<&S>) -> (Report, Vec<Value>) {
    let memory = MemoryStore::new(Some(fixture(name).initial_state));
    let report = match store {
        Some(store) => cycle_on(name, notifier, store).await,
        None => cycle_on(name, notifier, &memory).await,
    };
    (report, memory.writes())
}

async fn cycle_on<N: Notifier, S: StateStore>(name: &str, notifier: &N, store: &S) -> Report {
    let fixtures = fixture(name);
    let settings = Settings::from_env(&fixtures.config.env.clone().into()).expect("settings");
    let now: DateTime<Utc> = fixtures.config.now_utc.expect("fixture sets its clock");
    let pool = PoolInput::Injected(fixtures.pool_input.clone());
    let exchange = SimExchange::new(fixtures);
    CycleRun {
        mode: Mode::Paper,
        now,
        clock: &ManualClock::new(now),
        run_id: format!("telegram-{name}"),
        settings: &settings,
        exchange: &exchange,
        store,
        notifier,
        executor: FillAtPlannedPrice,
        pool,
        lease_ttl: None,
        save_policy: SavePolicy::default(),
        artifacts_dir: None,
        memo: None,
    }
    .run()
    .await
}

fn bucket(state: &Value) -> &str {
    state.get("last_btc_status_report_bucket").and_then(Value::as_str).unwrap_or("")
}

fn events(report: &Report) -> Vec<(&str, DeliveryStatus)> {
    report.notifications.iter().map(|n| (n.event.as_str(), n.status)).collect()
}

fn prefixed(body: &str) -> String {
    format!("{}:\n{body}", messages::prefix(tradecycle::notify::event::Lang::En))
}

#[tokio::test]
async fn a_few_notifications_go_out_one_by_one() {
    let tg = fake().await;
    let (report, writes) = paper_cycle::<_, MemoryStore>("atr_stop", &notifier(&tg), None).await;
    assert_eq!(report.status, Status::Ok, "{:?}", report.errors);
    assert_eq!(events(&report), [("trend_sell", DeliveryStatus::Sent), ("status_report", DeliveryStatus::Sent)]);
    let sent: Vec<String> = tg.messages().into_iter().map(|m| m.text).collect();
    let expected: Vec<String> = report.notifications.iter().map(|n| prefixed(&n.text)).collect();
    assert_eq!(sent, expected);
    assert!(report.intents.iter().any(|i| i.status == IntentStatus::Filled));
    // The status report went out, so its bucket advanced and was saved.
    let after = report.state_after.as_ref().expect("state");
    assert_eq!(bucket(after), "2026031500");
    assert_eq!(bucket(writes.last().expect("saved")), "2026031500");
    assert!(report.warnings.iter().all(|w| !w.starts_with("notification")), "{:?}", report.warnings);
}

#[tokio::test]
async fn a_burst_is_coalesced_into_one_message() {
    let tg = fake().await;
    let (report, _) = paper_cycle::<_, MemoryStore>("cycle_replay", &notifier(&tg), None).await;
    assert_eq!(report.status, Status::Ok, "{:?}", report.errors);
    assert_eq!(
        events(&report),
        [
            ("trend_buy", DeliveryStatus::Sent),
            ("trend_buy", DeliveryStatus::Sent),
            ("btc_dca_buy", DeliveryStatus::Sent),
            ("status_report", DeliveryStatus::Sent),
        ]
    );
    let sent = tg.messages();
    assert_eq!(sent.len(), 1, "four events, one message: {sent:#?}");
    let bodies: Vec<String> = report.notifications.iter().map(|n| n.text.clone()).collect();
    assert_eq!(sent[0].text, prefixed(&bodies.join("\n\n")));
    assert_eq!(bucket(report.state_after.as_ref().expect("state")), "2026031500");
}

#[tokio::test]
async fn a_telegram_outage_leaves_the_cycle_ok_with_warnings() {
    let mut tg = fake().await;
    let n = notifier(&tg);
    tg.shutdown().await;
    let (report, writes) = paper_cycle::<_, MemoryStore>("cycle_replay", &n, None).await;

    // Trading happened exactly as with a working Telegram.
    assert_eq!(report.status, Status::Ok, "{:?}", report.errors);
    assert_eq!(report.status.exit_code(), 0);
    assert!(report.errors.is_empty());
    let filled = report.intents.iter().filter(|i| i.status == IntentStatus::Filled).count();
    assert!(filled >= 3, "{:#?}", report.intents);

    assert!(report.notifications.iter().all(|n| n.status == DeliveryStatus::Failed));
    for event in ["trend_buy", "btc_dca_buy", "status_report"] {
        let prefix = format!("notification {event} not delivered: ");
        assert!(
            report.warnings.iter().any(|w| w.starts_with(&prefix)),
            "no warning for {event}: {:?}",
            report.warnings
        );
    }
    assert!(report.warnings.iter().all(|w| !w.contains(TOKEN)));
    // The status report did not go out: its bucket stays where it was.
    let before = bucket(&fixture("cycle_replay").initial_state).to_string();
    assert_ne!(before, "2026031500");
    assert_eq!(bucket(report.state_after.as_ref().expect("state")), before);
    assert_eq!(bucket(writes.last().expect("saved")), before);
}

#[tokio::test]
async fn after_an_outage_the_next_messages_are_not_attempted() {
    // Two events go out separately; the first hits the outage (1 s deadline),
    // the second is not tried, which would only cost another timeout.
    let tg = fake().await;
    tg.set_outage(true);
    let n = TelegramNotifier::new(&config(&tg, TOKEN, Duration::from_secs(1))).expect("notifier");
    let (report, _) = paper_cycle::<_, MemoryStore>("atr_stop", &n, None).await;
    assert_eq!(report.status, Status::Ok);
    assert_eq!(tg.requests().len(), 1);
    assert_eq!(events(&report), [("trend_sell", DeliveryStatus::Failed), ("status_report", DeliveryStatus::Failed)]);
    let second = report.notifications[1].error.as_deref().unwrap_or("");
    assert!(second.starts_with("not attempted after an earlier message failed: "), "{second}");
    assert_eq!(report.warnings.iter().filter(|w| w.starts_with("notification ")).count(), 2);

    // A refusal of one message (here: unknown chat) does not stop the others.
    let tg = FakeTelegram::start(TOKEN).await;
    let (report, _) = paper_cycle::<_, MemoryStore>("atr_stop", &notifier(&tg), None).await;
    assert_eq!(report.status, Status::Ok);
    assert_eq!(tg.requests().len(), 2);
    assert!(report.notifications.iter().all(|n| n.error.as_deref().is_some_and(|e| e.contains("chat not found"))));
}

/// A store whose document cannot be read.
struct UnreadableStore;

impl StateStore for UnreadableStore {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        Err(PortError::Retryable("store unreachable".into()))
    }
    async fn save(&self, _: &Value) -> Result<(), PortError> {
        Err(PortError::Retryable("store unreachable".into()))
    }
    async fn acquire_lease(&self, _: &str, _: DateTime<Utc>, _: Duration) -> Result<LeaseOutcome, PortError> {
        Ok(LeaseOutcome::Acquired)
    }
    async fn release_lease(&self, _: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn write_heartbeat(&self, _: &str, _: &Value) -> Result<(), PortError> {
        Ok(())
    }
    async fn read_heartbeat(&self, _: &str) -> Result<Option<Value>, PortError> {
        Ok(None)
    }
}

#[tokio::test]
async fn an_aborted_cycle_still_alerts() {
    let tg = fake().await;
    let (report, _) = paper_cycle("cycle_replay", &notifier(&tg), Some(&UnreadableStore)).await;
    assert_eq!(report.status, Status::Aborted);
    assert_eq!(events(&report), [("state_load_failed", DeliveryStatus::Sent)]);
    let sent = tg.messages();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text.contains("store unreachable"), "{}", sent[0].text);
}
