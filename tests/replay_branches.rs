//! Every branch of the strategy on a fixture set of our own (`fixtures/`),
//! asserting the exact intents, gates and resulting state.

mod common;

use common::replay::{Replay, owned, suppressed};
use common::*;
use serde_json::{Value, json};

fn state(r: &Value) -> &Value {
    &r["state_after"]
}

#[test]
fn default_set_tops_up_fuel_buys_with_earn_funding_dca_and_buffer() {
    let r = Replay::fixture("cycle_replay")
        .intents([
            // One redeem before trading (design.md §3.16): spot holds 12 USDT;
            // the fuel, both trend buys and the DCA buy spend 1035.18, and the
            // spot buffer target is 5% of the starting 4000 USDT (200), so
            // 1223.18 leaves spot exactly at the target and the buffer step holds.
            suppressed("earn_redeem", "USDT", "1223.18", "cycle_funding"),
            suppressed("fuel_buy", "BNBUSDT", "15", "bnb_fuel_top_up"),
            suppressed("trend_buy", "ETHUSDT", "0.6116", "rotation_entry"),
            suppressed("trend_buy", "SOLUSDT", "8.457", "rotation_entry"),
            suppressed("dca_buy", "BTCUSDT", "0.00036", "btc_dca_accumulate"),
        ])
        .run();
    let i = &r["intents"];
    assert_eq!(i[2]["client_order_id"], "tc-26031500-tb-ETHUSDT");
    assert_eq!(i[1]["client_order_id"], "tc-26031500-fb-BNBUSDT");
    assert_eq!(i[0]["detail"]["spot_after_plan"], -1023.18);
    assert!(i[0].get("client_order_id").is_none(), "Earn moves are not orders");
    assert_eq!(strs(&r["selected_candidates"]), ["ETHUSDT", "SOLUSDT"]);
    assert_eq!(r["equity"]["total_usdt"], "4407.125");
    assert_eq!(r["equity"]["trend_usdt"], "3479.38");
    let s = state(&r);
    assert_eq!(s["ETHUSDT"], json!({"is_holding": true, "entry_price": 3200.0, "highest_price": 3200.0}));
    assert_eq!(s["dca_last_buy_date"], "20260315");
    assert_eq!(s["BTCUSDT"]["holding_qty"], 0.00036);
    assert_eq!(s["last_balance_snapshot"]["USDT"], 476.82);
    assert_eq!(events(&r), ["trend_buy", "trend_buy", "btc_dca_buy", "status_report"]);
    assert!(r["notifications"].as_array().unwrap().iter().all(|n| n["status"] == "suppressed"));
}

#[test]
fn regime_off_rotates_every_holding_out_and_buys_nothing() {
    let r = Replay::fixture("regime_off")
        .intents([
            suppressed("trend_sell", "ETHUSDT", "0.5", "rotated_out"),
            suppressed("trend_sell", "SOLUSDT", "10", "rotated_out"),
            suppressed("dca_buy", "BTCUSDT", "0.00036", "btc_dca_accumulate"),
            suppressed("earn_subscribe", "USDT", "3621.2", "maintain_usdt_buffer"),
        ])
        .gates(["trend_no_selected_candidate"])
        .run();
    assert!(strs(&r["selected_candidates"]).is_empty());
    assert_eq!(r["gates"][0]["detail"]["candidate_filter_reasons"]["ETHUSDT"]["reasons"], json!(["btc_regime_off"]));
    let s = state(&r);
    assert_eq!(s["ETHUSDT"]["is_holding"], false);
    assert_eq!(s["trend_action_history"]["SOLUSDT"], json!({"action": "sell", "date": "20260315"}));
    // The sells' proceeds are the sleeve's realised side of the day: sold at
    // the start-of-day value, the day reads 0 % with nothing left held.
    assert_eq!(s["daily_trend_equity_base"], 3400.0);
    assert_eq!(s["daily_trend_sell_proceeds"], 3400.0);
    assert_eq!(
        writes(&r),
        ["trend_pool_metadata_refresh", "trend_sell:ETHUSDT", "trend_sell:SOLUSDT", "btc_dca_buy", "cycle_complete"]
    );
}

#[test]
fn atr_trailing_stop_sells_without_same_cycle_rebuy_and_ratchets_the_high() {
    let r = Replay::fixture("atr_stop")
        .intents([
            suppressed("trend_sell", "ETHUSDT", "0.4", "atr_stop"),
            suppressed("earn_subscribe", "USDT", "2030", "maintain_usdt_buffer"),
        ])
        .gates(["trend_no_eligible_buy", "btc_dca_buy_below_min_budget"])
        .run();
    assert_eq!(r["intents"][0]["detail"]["stop_price"], 3262.5);
    // ETH is still a candidate but was sold this cycle: not bought back.
    assert_eq!(strs(&r["selected_candidates"]), ["ETHUSDT", "SOLUSDT"]);
    let s = state(&r);
    assert_eq!(s["SOLUSDT"], json!({"is_holding": true, "entry_price": 150.0, "highest_price": 180.0}));
    assert_eq!(s["ETHUSDT"]["is_holding"], false);
}

#[test]
fn retired_position_is_liquidated_for_missing_indicators() {
    let r = Replay::fixture("retired_position").run();
    let got = intents(&r);
    assert_eq!(got[0], owned(suppressed("trend_sell", "DOGEUSDT", "1500", "missing_indicators")));
    assert_eq!(got[1], owned(suppressed("trend_buy", "ETHUSDT", "0.2161", "rotation_entry")));
    assert_eq!(got[2], owned(suppressed("trend_buy", "SOLUSDT", "2.988", "rotation_entry")));
    assert_eq!(got.len(), 4);
    // The retired entry is dropped once flat.
    assert_eq!(state(&r)["retired_trend_positions"], json!({}));
    assert!(strs(&r["pool"]["symbols"]).iter().all(|s| s != "DOGEUSDT"));
}

#[test]
fn degraded_last_known_good_pauses_buys_but_still_sells() {
    let r = Replay::fixture("degraded_last_known_good")
        .intents([
            suppressed("trend_sell", "XRPUSDT", "400", "rotated_out"),
            suppressed("earn_subscribe", "USDT", "2860", "maintain_usdt_buffer"),
        ])
        .run();
    assert_eq!(r["pool"]["source"], "last_known_good");
    assert_eq!(r["pool"]["degraded"], true);
    assert_eq!(r["pool"]["version"], "2026-02-20-core_major");
    let messages = strs(&r["pool"]["messages"]);
    assert!(messages[0].starts_with("payload_stale_by_days: payload is stale: 64 days old (max 45)"), "{messages:?}");
    assert!(messages[1].starts_with("trend_pool_using_last_known_good:"));
    assert_eq!(gates(&r)[..2], ["trend_buy_paused_degraded_mode", "trend_no_eligible_buy"]);
    assert_eq!(r["gates"][0]["detail"], "last_known_good");
    assert_eq!(r["gates"][1]["detail"]["allow_new_trend_entries"], false);
    let s = state(&r);
    assert_eq!(s["trend_pool_source"], "last_known_good");
    assert_eq!(s["trend_pool_degraded"], true);
    // A degraded source never replaces the last-known-good payload.
    assert_eq!(s["trend_pool_last_good_payload"]["version"], "2026-02-20-core_major");
    assert!(
        r["log_lines"].as_array().unwrap().iter().any(|l| l == "⏸️ Upstream pool is degraded: pausing new trend buys")
    );
}

#[test]
fn degraded_local_file_with_entries_allowed_buys() {
    let r = Replay::fixture("degraded_local_file")
        .intents([
            suppressed("trend_buy", "ETHUSDT", "0.3462", "rotation_entry"),
            suppressed("trend_buy", "SOLUSDT", "4.788", "rotation_entry"),
        ])
        .run();
    assert_eq!(r["pool"]["source"], "local_file");
    assert_eq!(r["pool"]["label"], "file:fixtures/degraded_local_file/artifacts/live_pool_legacy.json");
    assert_eq!(
        strs(&r["pool"]["messages"]),
        [
            "missing_firestore_document: upstream pool document firestore:strategy/CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL does not exist",
            "trend_pool_using_local_file: using local trend pool file fixtures/degraded_local_file/artifacts/live_pool_legacy.json",
        ]
    );
    assert!(!gates(&r).contains(&"trend_buy_paused_degraded_mode".to_string()));
    assert_eq!(state(&r)["trend_pool_last_good_payload"], json!({}));
}

#[test]
fn degraded_static_keeps_the_locked_pool_and_pauses_buys() {
    let r = Replay::fixture("degraded_static")
        .intents([suppressed("earn_subscribe", "USDT", "1900", "maintain_usdt_buffer")])
        .run();
    assert_eq!(r["pool"]["source"], "static");
    assert_eq!(r["pool"]["version"], "static-fallback");
    let messages = strs(&r["pool"]["messages"]);
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(
        messages[1].starts_with("lkg_too_old: last-known-good pool (as_of_date 2025-11-20) is 115 days old (max 90)")
    );
    assert!(messages[2].starts_with("pool_file_not_found:"));
    assert!(messages[3].starts_with("trend_pool_fallback_static:"));
    assert_eq!(strs(&r["pool"]["symbols"]).len(), 11);
    // The previously locked pool, filtered to the static universe, in its own order.
    assert_eq!(strs(&r["execution_pool"]), ["SOLUSDT", "DOGEUSDT", "ETHUSDT"]);
    assert_eq!(gates(&r)[0], "trend_buy_paused_degraded_mode");
    assert_eq!(state(&r)["rotation_pool_source_version"], "static-fallback");
}

#[test]
fn dca_trim_sells_thirty_percent_of_sellable_btc_and_buy_is_gated_by_valuation() {
    let r = Replay::fixture("dca_trim")
        .intents([
            suppressed("dca_sell", "BTCUSDT", "0.015", "btc_dca_trim"),
            suppressed("earn_subscribe", "USDT", "1650", "maintain_usdt_buffer"),
        ])
        .run();
    assert_eq!(r["intents"][0]["detail"]["sell_pct"], 0.3);
    assert_eq!(r["intents"][0]["client_order_id"], "tc-26031500-ds-BTCUSDT");
    assert!(gates(&r).contains(&"btc_dca_buy_valuation_gate_off".to_string()));
    let s = state(&r);
    assert_eq!(s["dca_last_sell_date"], "20260315");
    assert_eq!(s["BTCUSDT"]["holding_qty"], 0.045);
    assert_eq!(events(&r), ["btc_dca_trim", "status_report"]);
}

#[test]
fn earn_buffer_redeems_the_spot_shortfall() {
    // Nothing to buy: the cycle's one redeem is the buffer's shortfall.
    let r = Replay::fixture("earn_redeem").intents([suppressed("earn_redeem", "USDT", "38", "cycle_funding")]).run();
    assert_eq!(r["intents"][0]["product_id"], "USDT001");
}

#[test]
fn settled_account_funds_the_whole_cycle_with_one_redeem() {
    let r = Replay::fixture("settled_account")
        .intents([
            // 300 on spot, 9,700 in Earn: the buys spend 7,446.68 and the
            // buffer target is 300, so one redeem of 7,446.68 funds them all
            // and the buffer step holds.
            suppressed("earn_redeem", "USDT", "7446.68", "cycle_funding"),
            suppressed("trend_buy", "ETHUSDT", "1.3039", "rotation_entry"),
            suppressed("trend_buy", "SOLUSDT", "18.03", "rotation_entry"),
            suppressed("dca_buy", "BTCUSDT", "0.00036", "btc_dca_accumulate"),
        ])
        .status("ok")
        .run();
    assert_eq!(r["equity"]["cash_usdt"], "2553.32");
    assert_eq!(state(&r)["last_balance_snapshot"]["USDT"], 2553.32);
}

#[test]
fn circuit_breaker_fires_liquidates_latches_and_dca_continues() {
    let r = Replay::fixture("breaker_fire")
        .intents([
            suppressed("breaker_sell", "ETHUSDT", "1.2", "daily_circuit_breaker"),
            suppressed("breaker_sell", "SOLUSDT", "10", "daily_circuit_breaker"),
            suppressed("dca_buy", "BTCUSDT", "0.00036", "btc_dca_accumulate"),
            suppressed("earn_subscribe", "USDT", "5761.2", "maintain_usdt_buffer"),
        ])
        .run();
    assert_eq!(r["intents"][0]["client_order_id"], "tc-26031500-cb-ETHUSDT");
    assert_eq!(r["circuit_breaker_triggered"], true);
    assert_eq!(r["gates"][0]["gate"], "circuit_breaker_sell_below_min_position");
    assert_eq!(r["gates"][0]["symbol"], "LINKUSDT");
    assert_eq!(r["equity"]["trend_daily_pnl"], -0.0591);
    let s = state(&r);
    assert_eq!(s["is_circuit_broken"], true);
    assert_eq!(s["ETHUSDT"]["is_holding"], false);
    assert_eq!(writes(&r), ["trend_pool_metadata_refresh", "daily_circuit_breaker", "btc_dca_buy", "cycle_complete"]);
    // The latched breaker is also a durable alert (issue 11), raised once.
    assert_eq!(events(&r), ["circuit_breaker", "btc_dca_buy", "alert_raised", "status_report"]);
    let alert = &r["notifications"][0]["text"];
    assert!(alert.as_str().unwrap().contains("BTC DCA"), "the alert says DCA continues: {alert}");
}

#[test]
fn latched_breaker_keeps_the_trend_sleeve_idle_for_the_day() {
    let r = Replay::fixture("breaker_latched")
        .intents([suppressed("earn_subscribe", "USDT", "1425", "maintain_usdt_buffer")])
        .gates(["circuit_breaker_latched", "btc_dca_buy_below_min_budget"])
        .run();
    assert!(r["log_lines"][0].as_str().unwrap().starts_with("🧯 Circuit breaker latched today"));
    assert_eq!(state(&r)["is_circuit_broken"], true);
    // 05:00 UTC with a 24 h interval: the 00:00 bucket's report goes out late (first run after the boundary).
    // A state from before the alert book: the latch is raised as an alert once.
    assert_eq!(events(&r), ["alert_raised", "status_report"]);
}

#[test]
fn kill_switch_lets_sells_run_and_blocks_every_buy() {
    let r = Replay::fixture("paused")
        .intents([
            suppressed("trend_sell", "XRPUSDT", "400", "rotated_out"),
            suppressed("earn_subscribe", "USDT", "3810", "maintain_usdt_buffer"),
        ])
        .run();
    let g: Vec<(String, String)> = r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["gate"].as_str().unwrap().into(), g["symbol"].as_str().unwrap_or("").into()))
        .collect();
    assert!(g.contains(&("paused".into(), "BNBUSDT".into())), "{g:?}");
    assert!(g.contains(&("paused".into(), "BTCUSDT".into())), "{g:?}");
    assert!(g.contains(&("trend_no_eligible_buy".into(), "".into())), "{g:?}");
}

#[test]
fn deposit_moves_the_daily_base_instead_of_counting_as_profit() {
    // ETH is held; the whole budget goes to the only eligible candidate.
    let r =
        Replay::fixture("deposit_flow").intents([suppressed("trend_buy", "SOLUSDT", "8.208", "rotation_entry")]).run();
    assert_eq!(writes(&r)[1], "external_balance_flow_rebase");
    assert_eq!(r["equity"]["daily_pnl"], 0.0);
    assert_eq!(state(&r)["daily_equity_base"], 3930.0);
    // The status report of this bucket already went out.
    assert_eq!(events(&r), ["trend_buy"]);
    assert!(
        r["log_lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "🔁 External balance flow since last cycle: USDT +1000.00 USDT; daily bases adjusted")
    );
}

#[test]
fn every_fixture_set_replays_twice_to_the_same_report() {
    for entry in std::fs::read_dir(root().join("fixtures")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let replay = Replay::fixture(&name).status("ok");
        let (a, b) = (replay.output(), replay.output());
        assert_eq!(a.stdout, b.stdout, "{name} is not deterministic");
    }
}
