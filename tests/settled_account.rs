//! A settled account, the way an operator's looks after a few weeks (300
//! USDT on spot, 9,700 USDT in Flexible Earn, 0.1 BNB, nothing held), run
//! through the built binary against the fake Binance with Binance's Earn
//! rules on: one subscribe/redeem per 3 s per account, redemptions credited
//! a moment after the call. The cycle's Earn needs are planned up front
//! (design.md §3.16): one redeem before trading, at most one Earn move after.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::Utc;
use common::live::{Live, fresh_pool};
use common::writes;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tradecycle::adapters::binance::{BinanceClient, BinanceConfig};
use tradecycle::adapters::log_notifier::LogNotifier;
use tradecycle::adapters::store::file::FileStore;
use tradecycle::config::{Env, Settings};
use tradecycle::domain::report::Mode;
use tradecycle::ports::ManualClock;
use tradecycle::secret::Secret;
use tradecycle::shell::execute::{ExchangeExecutor, ExecutionPolicy};
use tradecycle::shell::runner::{CycleRun, PoolInput, SavePolicy};
use tradecycle_fakes::binance::{EarnCallKind, Fault, FaultKind};
use tradecycle_fakes::telegram::FakeTelegram;

const REDEEM: &str = "/sapi/v1/simple-earn/flexible/redeem";
const TG_TOKEN: &str = "123456:fake-telegram-token";
const TG_CHAT: i64 = 777;

type Row = (String, String, String, String, String);

fn row(kind: &str, what: &str, size: &str, status: &str, reason: &str) -> Row {
    (kind.into(), what.into(), size.into(), status.into(), reason.into())
}

/// (kind, symbol or asset, quantity or amount, status, reason) per intent.
fn intents(r: &Value) -> Vec<Row> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let either = |i: &Value, a: &str, b: &str| if i[a].is_string() { s(&i[a]) } else { s(&i[b]) };
    r["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                s(&i["kind"]),
                either(i, "symbol", "asset"),
                either(i, "quantity", "amount"),
                s(&i["status"]),
                s(&i["reason"]),
            )
        })
        .collect()
}

fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn the_first_cycle_buys_both_candidates_and_the_dca_amount_with_one_redeem() {
    let live = Live::new("settled_account");
    let run = live.run(&["--live", "--run-id", "settled-1"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["status"], "ok");
    assert_eq!(
        intents(&r),
        vec![
            // 300 on spot; the buys spend 5,747.59 and the buffer target is
            // 300 (5% of 10,000, capped): 7,432.41 leaves spot at exactly 300.
            row("earn_redeem", "USDT", "7432.41", "filled", "cycle_funding"),
            row("trend_buy", "XRPUSDT", "1554.8", "filled", "rotation_entry"),
            row("trend_buy", "ADAUSDT", "4096.1", "filled", "rotation_entry"),
            row("dca_buy", "BTCUSDT", "0.00018", "filled", "btc_dca_accumulate"),
        ]
    );
    // The exchange saw exactly one Earn call, and nothing is left in transit.
    let calls = live.fake.earn_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (calls[0].kind, calls[0].amount, calls[0].outcome.is_ok()),
        (EarnCallKind::Redeem, Some(dec!(7432.41)), true)
    );
    assert_eq!(live.fake.balance("USDT").free, dec!(300));
    assert_eq!(live.fake.earn_position("USDT001"), dec!(2267.59));
    assert_eq!(live.fake.order_attempts().len(), 3);

    let state = live.state();
    assert_eq!(state, r["state_after"]);
    for symbol in ["XRPUSDT", "ADAUSDT"] {
        assert_eq!(state[symbol]["is_holding"], true, "{symbol}");
    }
    assert_eq!(state["BTCUSDT"]["holding_qty"], 0.00017982);
    assert_eq!(state["pending_orders"], json!({}));
    assert!(state.get("earn_in_transit").is_none(), "nothing in transit");
    assert_eq!(state["last_balance_snapshot"]["USDT"], 2567.59, "300 spot + 2,267.59 Earn");
    assert_eq!(state["daily_equity_base"], 10060.0);
    assert!(!writes(&r).iter().any(|w| w.starts_with("earn_in_transit")));
}

#[test]
fn fills_dearer_than_planned_top_the_buffer_up_with_a_second_call_3_s_later() {
    let live = Live::new("settled_account");
    // Buys fill 0.5% above the planned price: spot ends about 28 USDT under
    // its target, so the buffer step redeems once more.
    live.fake.set_slippage(dec!(0.005));
    let run = live.run(&["--live", "--run-id", "settled-slip"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    let got = intents(&r);
    assert_eq!(got[0], row("earn_redeem", "USDT", "7432.41", "filled", "cycle_funding"));
    assert_eq!(got.last().unwrap().4, "maintain_usdt_buffer");
    let calls = live.fake.earn_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().all(|c| c.kind == EarnCallKind::Redeem && c.outcome.is_ok()), "{calls:?}");
    assert!(calls[1].at_ms - calls[0].at_ms >= 3000, "Earn calls {} ms apart", calls[1].at_ms - calls[0].at_ms);
    let spot = live.fake.balance("USDT").free;
    assert!((dec!(295)..=dec!(305)).contains(&spot), "spot back at the target: {spot}");
}

#[test]
fn a_refused_redeem_skips_the_buys_with_a_reason_an_alert_and_exit_5() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let telegram = rt.block_on(FakeTelegram::start(TG_TOKEN));
    telegram.add_chat(TG_CHAT);
    let live = Live::new("settled_account");
    let refused = FaultKind::error(400, -6008, "Product not in redeem status");
    live.fake.inject(Fault::new("POST", REDEEM, refused).times(5));
    let url = telegram.url();
    let chat = TG_CHAT.to_string();
    let env = [("TG_TOKEN", TG_TOKEN), ("GLOBAL_TELEGRAM_CHAT_ID", chat.as_str()), ("TELEGRAM_API_URL", url.as_str())];
    let run = live.run(&["--live", "--run-id", "settled-refused"], &env);
    assert_eq!(run.code, 5, "finished, needs a look: {}", run.stderr);
    let r = run.json();
    assert_eq!(r["status"], "attention");
    let got = intents(&r);
    assert_eq!(got[0], row("earn_redeem", "USDT", "7432.41", "rejected", "cycle_funding"));
    assert_eq!(got[1], row("trend_buy", "XRPUSDT", "1554.8", "skipped", "rotation_entry"));
    assert_eq!(got[2], row("trend_buy", "ADAUSDT", "4096.1", "skipped", "rotation_entry"));
    // The DCA buy fits in the 300 on spot.
    assert_eq!(got[3], row("dca_buy", "BTCUSDT", "0.00018", "filled", "btc_dca_accumulate"));
    let xrp = &r["intents"][1]["error"];
    assert_eq!(xrp, "insufficient free USDT: need 3731.52, spot has 300", "{xrp}");
    assert_eq!(live.fake.order_attempts().len(), 1, "only the DCA buy reached the exchange");

    let attention: Vec<&str> = r["attention"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(attention[0].starts_with("earn_redeem of 7432.41 USDT failed: rejected: "), "{attention:?}");
    assert!(attention[0].contains("-6008"), "{attention:?}");
    assert_eq!(attention[1], "trend_buy XRPUSDT skipped: insufficient free USDT: need 3731.52, spot has 300");
    assert!(attention.iter().all(|a| r["warnings"].as_array().unwrap().contains(&json!(a))));

    // Told by their durable alerts (raised once, not every cycle the
    // condition lasts), not by per-cycle redeem_failed / skipped_for_funds.
    let events: Vec<&str> =
        r["notifications"].as_array().unwrap().iter().map(|n| n["event"].as_str().unwrap()).collect();
    assert!(!events.iter().any(|e| *e == "redeem_failed" || *e == "skipped_for_funds"), "{events:?}");
    let raised: Vec<&str> =
        r["alerts"]["raised"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(raised, ["earn_refused:USDT", "buy_skipped_funds:ADAUSDT", "buy_skipped_funds:XRPUSDT"]);
    assert!(r["notifications"].as_array().unwrap().iter().all(|n| n["status"] == "sent"));
    let sent: String = telegram.messages().iter().map(|m| m.text.clone()).collect::<Vec<_>>().join("\n");
    assert!(sent.contains("[Alert Raised] SEV-2 earn_refused:USDT"), "{sent}");
    assert!(sent.contains("[Alert Raised] SEV-2 buy_skipped_funds:XRPUSDT"), "{sent}");
    let state = live.state();
    assert_eq!(state["XRPUSDT"]["is_holding"], false);
    assert!(state.get("earn_in_transit").is_none());
}

#[test]
fn a_redemption_still_in_transit_is_not_booked_as_a_flow_by_the_next_run() {
    let live = Live::new("settled_account");
    // The fake's Earn clock runs with the wall clock plus a jump we control,
    // so a credit can be made due between runs without waiting for it.
    let jump = Arc::new(AtomicI64::new(0));
    let source = jump.clone();
    live.fake.set_time_source(move || wall_ms() + source.load(Ordering::SeqCst));
    let skip = |ms: i64| jump.fetch_add(ms, Ordering::SeqCst);
    live.fake.inject(Fault::new("POST", REDEEM, FaultKind::DelayRedeemCredit(std::time::Duration::from_secs(60))));

    let first = live.run(&["--live", "--run-id", "transit-1"], &[]);
    assert_eq!(first.code, 5, "the buys waiting for the money need a look: {}", first.stderr);
    let state = live.state();
    assert_eq!(state["earn_in_transit"]["USDT"]["amount"], "7432.41");
    let base = state["daily_equity_base"].clone();
    assert_eq!(base, 10060.0);
    // 300 - 14.40 (the DCA buy) + 9,700: the money in flight still counts as owned.
    assert_eq!(state["last_balance_snapshot"]["USDT"], 9985.6);

    // Next run, the credit still in flight: no withdrawal is booked.
    skip(5_000);
    let second = live.run(&["--live", "--run-id", "transit-2"], &[]).json();
    assert!(!writes(&second).contains(&"external_balance_flow_rebase".to_string()), "{:?}", writes(&second));
    let state = live.state();
    assert_eq!(state["daily_equity_base"], base);
    assert_eq!(state["earn_in_transit"]["USDT"]["amount"], "7432.41");

    // The credit lands; the run after sees it arrive, not as a deposit.
    skip(60_000);
    let third = live.run(&["--live", "--run-id", "transit-3"], &[]).json();
    assert!(!writes(&third).contains(&"external_balance_flow_rebase".to_string()), "{:?}", writes(&third));
    let state = live.state();
    assert_eq!(state["daily_equity_base"], base);
    assert!(state.get("earn_in_transit").is_none(), "{}", state["earn_in_transit"]);
}

#[test]
fn in_process_on_a_virtual_clock_the_earn_spacing_and_credit_wait_cost_no_real_time() {
    let live = Live::new("settled_account");
    // Fills 0.5% cheaper than planned: spot ends above the buffer, so the
    // cycle subscribes the excess after its redeem (two Earn moves).
    live.fake.set_slippage(dec!(-0.005));
    // One virtual clock for the shell, the executor and the fake's Earn
    // rules (rate limit, credit delay): every wait below just moves it.
    let start = Utc::now();
    let clock = Arc::new(ManualClock::new(start));
    let source = clock.clone();
    live.fake.set_time_source(move || source.now_ms());
    let client = BinanceClient::new(BinanceConfig {
        base_url: live.fake.url(),
        ..BinanceConfig::new(Secret::new(live.fake.api_key()), Secret::new(live.fake.api_secret()))
    })
    .expect("client");
    let settings = Settings::from_env(&Env::new()).expect("settings");
    let store = FileStore::new(live.state_path());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = rt.block_on(
        CycleRun {
            mode: Mode::Live,
            now: start,
            clock: &*clock,
            run_id: "virtual-1".into(),
            settings: &settings,
            exchange: &client,
            store: &store,
            notifier: &LogNotifier,
            executor: ExchangeExecutor::new(&client, ExecutionPolicy::default()).with_clock(&*clock),
            pool: PoolInput::Injected(fresh_pool(&live.fixtures, start)),
            lease_ttl: Some(std::time::Duration::from_secs(900)),
            save_policy: SavePolicy::default(),
            artifacts_dir: None,
            memo: None,
        }
        .run(),
    );
    assert_eq!(report.exit_code(), 0, "{:?} {:?}", report.errors, report.warnings);
    let calls = live.fake.earn_calls();
    let kinds: Vec<EarnCallKind> = calls.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [EarnCallKind::Redeem, EarnCallKind::Subscribe], "{calls:?}");
    assert!(calls.iter().all(|c| c.outcome.is_ok()), "{calls:?}");
    // The calls are 3 s apart on the shared clock; the redeem's credit (due
    // 800 ms after it) was awaited on it too: polls at +0, +250, +750, +1750 ms.
    assert_eq!(calls[0].at_ms, start.timestamp_millis());
    assert_eq!(calls[1].at_ms - calls[0].at_ms, 3000);
    assert_eq!(clock.now_ms() - start.timestamp_millis(), 3000, "all the waiting was virtual");
    assert!(live.state().get("earn_in_transit").is_none());
    let spot = live.fake.balance("USDT").free;
    assert!((dec!(295)..=dec!(305)).contains(&spot), "spot at the buffer target: {spot}");
}
