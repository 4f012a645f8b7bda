//! The status screen as data: [`assemble`] turns what `status` read (the
//! state document, the heartbeat record, the watchdog's alert book, the
//! exchange's balances when it was asked, the metrics file's age) into a
//! [`StatusView`] — pure, so every rule is unit-tested without IO — and
//! [`render`] prints it as the text screen. `--json` is the view itself
//! (schema [`SCHEMA`], stable keys). Separate from the command, which only
//! reads and prints.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::domain::alerts::{Alert, AlertBook, Severity, rfc3339};
use crate::domain::pause::{Pause, new_risk_pause};
use crate::domain::pool::infer_base_asset;
use crate::domain::snapshot::AssetBalance;
use crate::domain::state::StateDoc;
use crate::strategy::ledger::{self, LedgerRow};
use crate::strategy::parity;

pub const SCHEMA: &str = "tradecycle.status.v1";

/// What the exchange said about balances.
#[derive(Debug, Clone, PartialEq)]
pub enum ExchangeView {
    /// No Binance credentials: nothing was asked.
    NotChecked,
    /// The read failed (the screen still shows the state side).
    Failed(String),
    /// Balances by asset (spot free + locked + Simple Earn) and prices by
    /// symbol.
    Read { balances: BTreeMap<String, AssetBalance>, prices: BTreeMap<String, Decimal> },
}

/// The metrics file `run` writes: not configured, absent, or its age.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsFileView {
    pub path: Option<String>,
    /// `not_configured`, `absent` or `present`.
    pub state: &'static str,
    pub age_seconds: Option<i64>,
}

/// Everything [`assemble`] needs.
pub struct StatusInputs<'a> {
    pub now: DateTime<Utc>,
    pub service: &'a str,
    /// `file:PATH` or `firestore`.
    pub store: &'a str,
    pub state: &'a StateDoc,
    pub heartbeat: Option<&'a Value>,
    /// The watchdog's own alerts (stale heartbeat, failed cycle).
    pub watchdog_alerts: &'a AlertBook,
    /// `TRADECYCLE_PAUSE`, read as `run` reads it.
    pub kill_switch: bool,
    pub exchange: &'a ExchangeView,
    /// `POSITION_MISMATCH_MIN_USDT`, read as `run` reads it.
    pub mismatch_min_usdt: Decimal,
    pub metrics_file: MetricsFileView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub schema: &'static str,
    pub observed_at: String,
    pub service: String,
    pub store: String,
    /// Why an operator should look, one line each; empty when all is quiet.
    pub attention: Vec<String>,
    pub pause: PauseView,
    pub positions: PositionsView,
    pub orders: Vec<LedgerRow>,
    pub alerts: Vec<AlertView>,
    pub pool: PoolView,
    pub circuit_breaker: BreakerView,
    pub runs: RunsView,
    pub metrics_file: MetricsFileView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PauseView {
    pub paused: bool,
    /// `operator`, `env:TRADECYCLE_PAUSE` or `alert:<key>`.
    pub by: Option<String>,
    pub reason: Option<String>,
    pub since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionsView {
    /// `checked`, `not checked` (no credentials) or `error: ...`.
    pub exchange: String,
    pub rows: Vec<PositionRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionRow {
    pub symbol: String,
    pub asset: String,
    /// `pool`, `retired` or `btc_core`.
    pub sleeve: &'static str,
    pub state_holding: bool,
    /// The BTC core's recorded quantity (the trend sleeves record none).
    pub state_quantity: Option<f64>,
    pub entry_price: Option<f64>,
    /// Spot free + locked + Simple Earn, when the exchange was read.
    pub exchange_quantity: Option<String>,
    /// The cycle's position comparison (`strategy/parity.rs`): `ok`,
    /// `mismatch`, `ignored` or `in_flight`; absent when the exchange was
    /// not read.
    pub parity: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub key: String,
    pub severity: Severity,
    /// `cycle` (the state document's book) or `watchdog`.
    pub source: &'static str,
    pub scope: String,
    pub reason: String,
    pub runbook: String,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolView {
    pub source: String,
    pub source_detail: String,
    pub degraded: bool,
    pub is_fresh: bool,
    pub as_of_date: String,
    pub version: String,
    pub loaded_at: String,
    /// Whole hours since `loaded_at` (`None`: unreadable or never loaded).
    pub age_hours: Option<i64>,
    pub symbols: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakerView {
    pub latched: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunsView {
    /// Seconds since the newest heartbeat record (`None`: no record).
    pub last_age_seconds: Option<i64>,
    /// Newest first, as the heartbeat record keeps them.
    pub history: Vec<RunView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub run_id: Option<String>,
    pub mode: Option<String>,
    pub status: Option<String>,
    pub at: Option<String>,
    pub first_error: Option<String>,
}

/// The whole view (pure).
pub fn assemble(i: StatusInputs) -> StatusView {
    let pause =
        new_risk_pause(i.state.operator_pause.as_ref(), i.kill_switch, &i.state.alerts, &i.state.resumed_alerts);
    let alerts = open_alerts(&i.state.alerts, i.watchdog_alerts);
    let orders = ledger::rows(i.state, i.now);
    let runs = runs(i.heartbeat, i.now);
    let mut view = StatusView {
        schema: SCHEMA,
        observed_at: rfc3339(i.now),
        service: i.service.to_string(),
        store: i.store.to_string(),
        attention: Vec::new(),
        pause: pause_view(pause.as_ref()),
        positions: positions(i.state, i.exchange, i.mismatch_min_usdt),
        orders,
        alerts,
        pool: pool(i.state, i.now),
        circuit_breaker: BreakerView { latched: i.state.is_circuit_broken },
        runs,
        metrics_file: i.metrics_file,
    };
    view.attention = attention(&view);
    view
}

/// Positions the state holds, beside the exchange's quantity and the
/// verdict of the cycle's own comparison ([`parity::rows`]).
pub fn positions(state: &StateDoc, exchange: &ExchangeView, min_usdt: Decimal) -> PositionsView {
    let quantity = |asset: &str| match exchange {
        ExchangeView::Read { balances, .. } => {
            Some(balances.get(asset).copied().unwrap_or_default().total().normalize().to_string())
        }
        _ => None,
    };
    let compared = match exchange {
        ExchangeView::Read { balances, prices } => {
            parity::rows(state, &parity::state_universe(state), balances, prices, min_usdt)
        }
        _ => Vec::new(),
    };
    let verdict = |symbol: &str| compared.iter().find(|r| r.symbol == symbol).map(|r| r.status);
    let in_pool = |symbol: &str| state.rotation_pool_symbols.iter().any(|s| s == symbol);
    let trend = state.positions.iter().map(|(s, p)| (s.clone(), infer_base_asset(s), p));
    let retired = state.retired.iter().map(|(s, (p, asset))| (s.clone(), asset.clone(), p));
    let mut rows: Vec<PositionRow> = trend
        .chain(retired)
        .map(|(symbol, asset, p)| PositionRow {
            sleeve: if in_pool(&symbol) { "pool" } else { "retired" },
            state_holding: p.is_holding,
            state_quantity: None,
            entry_price: (p.entry_price > 0.0).then_some(p.entry_price),
            exchange_quantity: quantity(&asset),
            parity: verdict(&symbol),
            symbol,
            asset,
        })
        .collect();
    rows.push(PositionRow {
        symbol: "BTCUSDT".into(),
        asset: "BTC".into(),
        sleeve: "btc_core",
        state_holding: state.btc.holding_qty > 0.0,
        state_quantity: Some(state.btc.holding_qty),
        entry_price: (state.btc.avg_cost > 0.0).then_some(state.btc.avg_cost),
        exchange_quantity: quantity("BTC"),
        parity: verdict("BTCUSDT"),
    });
    let exchange = match exchange {
        ExchangeView::NotChecked => "not checked".to_string(),
        ExchangeView::Failed(e) => format!("error: {e}"),
        ExchangeView::Read { .. } => "checked".to_string(),
    };
    PositionsView { exchange, rows }
}

/// The symbols whose balances and prices `positions` needs: the state's
/// universe and BTC.
pub fn position_symbols(state: &StateDoc) -> Vec<String> {
    let mut symbols: Vec<String> = parity::state_universe(state).keys().cloned().collect();
    symbols.push("BTCUSDT".into());
    symbols.sort();
    symbols.dedup();
    symbols
}

fn pause_view(p: Option<&Pause>) -> PauseView {
    PauseView {
        paused: p.is_some(),
        by: p.map(|p| p.by.clone()),
        reason: p.map(|p| p.reason.clone()),
        since: p.and_then(|p| p.since.clone()),
    }
}

/// Open alerts of both books, SEV-1 first, each book's order kept.
fn open_alerts(cycle: &AlertBook, watchdog: &AlertBook) -> Vec<AlertView> {
    let view = |source: &'static str, (key, a): (&String, &Alert)| AlertView {
        key: key.clone(),
        severity: a.severity,
        source,
        scope: a.scope.clone(),
        reason: a.reason.clone(),
        runbook: a.runbook.clone(),
        first_seen: rfc3339(a.first_seen),
        last_seen: rfc3339(a.last_seen),
        count: a.count,
    };
    let mut all: Vec<AlertView> =
        cycle.open().map(|e| view("cycle", e)).chain(watchdog.open().map(|e| view("watchdog", e))).collect();
    all.sort_by_key(|a| std::cmp::Reverse(a.severity));
    all
}

fn pool(state: &StateDoc, now: DateTime<Utc>) -> PoolView {
    let p = &state.pool;
    let loaded = DateTime::parse_from_rfc3339(&p.loaded_at).ok().map(|t| t.with_timezone(&Utc));
    PoolView {
        source: p.source.clone(),
        source_detail: p.source_detail.clone(),
        degraded: p.degraded,
        is_fresh: p.is_fresh,
        as_of_date: p.as_of_date.clone(),
        version: p.version.clone(),
        loaded_at: p.loaded_at.clone(),
        age_hours: loaded.map(|t| (now - t).num_hours().max(0)),
        symbols: state.rotation_pool_symbols.clone(),
    }
}

fn runs(record: Option<&Value>, now: DateTime<Utc>) -> RunsView {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let last = record.and_then(|r| text(r, "timestamp"));
    let last_age_seconds = last
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| (now - t.with_timezone(&Utc)).num_seconds().max(0));
    let entries = record.and_then(|r| r.get("history")).and_then(Value::as_array).cloned();
    // A record written before there was a history is its own one entry.
    let entries = entries.unwrap_or_else(|| record.into_iter().cloned().collect());
    let history = entries
        .iter()
        .map(|h| RunView {
            run_id: text(h, "run_id"),
            mode: text(h, "mode"),
            status: text(h, "status"),
            at: text(h, "at").or_else(|| text(h, "timestamp")),
            first_error: text(h, "first_error").or_else(|| text(h, "last_error")).filter(|e| !e.trim().is_empty()),
        })
        .collect();
    RunsView { last_age_seconds, history }
}

/// The lines at the top of the screen: what needs a look.
fn attention(v: &StatusView) -> Vec<String> {
    let mut lines = Vec::new();
    if let (true, Some(by), Some(reason)) = (v.pause.paused, &v.pause.by, &v.pause.reason) {
        lines.push(format!("new risk is paused by {by}: {reason}"));
    }
    for severity in [Severity::Sev1, Severity::Sev2, Severity::Sev3] {
        let n = v.alerts.iter().filter(|a| a.severity == severity).count();
        if n > 0 {
            lines.push(format!("{n} {} alert(s) open", severity.as_str()));
        }
    }
    let mismatched: Vec<&str> =
        v.positions.rows.iter().filter(|r| r.parity == Some("mismatch")).map(|r| r.symbol.as_str()).collect();
    if !mismatched.is_empty() {
        lines.push(format!("the exchange and the state disagree on {}", mismatched.join(", ")));
    }
    let quarantined = v.orders.iter().filter(|o| o.status == "quarantined").count();
    if quarantined > 0 {
        lines.push(format!("{quarantined} quarantined order(s)"));
    }
    if v.circuit_breaker.latched {
        lines.push("the circuit breaker is latched".into());
    }
    if v.pool.degraded {
        lines.push(format!("the pool is degraded (source {})", v.pool.source));
    }
    match v.runs.history.first() {
        None => lines.push("no heartbeat record: no cycle has reported".into()),
        Some(r) if matches!(r.status.as_deref(), Some("error" | "aborted")) => lines.push(format!(
            "the last run ({}) ended {}",
            r.run_id.as_deref().unwrap_or("?"),
            r.status.as_deref().unwrap_or("?")
        )),
        Some(_) => {}
    }
    lines
}

/// The text screen.
pub fn render(v: &StatusView) -> String {
    let mut out = vec![format!("tradecycle status — service {} — store {} — {}", v.service, v.store, v.observed_at)];
    if v.attention.is_empty() {
        out.push("All quiet: nothing needs a look.".into());
    } else {
        out.push("NEEDS A LOOK:".into());
        out.extend(v.attention.iter().map(|l| format!("  ! {l}")));
    }
    out.push(String::new());
    out.push(match (&v.pause.by, &v.pause.reason) {
        (Some(by), Some(reason)) => {
            let since = v.pause.since.as_deref().map(|s| format!(", since {s}")).unwrap_or_default();
            format!("Pause: new risk PAUSED by {by}{since}: {reason} (sells and risk reduction still run)")
        }
        _ => "Pause: not paused".into(),
    });
    out.push(format!("Circuit breaker: {}", if v.circuit_breaker.latched { "LATCHED" } else { "not latched" }));
    let age = v.pool.age_hours.map(|h| format!("{h} h ago")).unwrap_or_else(|| "unknown age".into());
    out.push(format!(
        "Pool: source {} ({}){}, as of {}, loaded {} ({age}): {}",
        or_none(&v.pool.source),
        or_none(&v.pool.source_detail),
        if v.pool.degraded { " DEGRADED" } else { "" },
        or_none(&v.pool.as_of_date),
        or_none(&v.pool.loaded_at),
        v.pool.symbols.join(" ")
    ));
    out.push(String::new());
    out.push(format!("Positions (exchange: {}):", v.positions.exchange));
    for p in &v.positions.rows {
        let state = match p.state_quantity {
            Some(q) => format!("qty {q}"),
            None if p.state_holding => "holding".into(),
            None => "flat".into(),
        };
        // Prices and averages to 8 significant places: the screen is for reading.
        let entry = p.entry_price.map(|e| format!(" entry {}", significant(e))).unwrap_or_default();
        let exchange = p.exchange_quantity.as_deref().unwrap_or("not checked");
        let verdict = p.parity.map(|v| format!(" — {v}")).unwrap_or_default();
        out.push(format!("  {:<10} {:<8} state {state}{entry} | exchange {exchange}{verdict}", p.symbol, p.sleeve));
    }
    out.push(String::new());
    out.push(format!("Orders ({}):", v.orders.len()));
    if v.orders.is_empty() {
        out.push("  no pending orders".into());
    }
    out.extend(v.orders.iter().map(|r| format!("  {}", crate::commands::orders::row_line(r))));
    out.push(String::new());
    out.push(format!("Open alerts ({}):", v.alerts.len()));
    if v.alerts.is_empty() {
        out.push("  none".into());
    }
    for a in &v.alerts {
        out.push(format!(
            "  {} {} [{}] {}: {} (first seen {}, last seen {}, seen {}x) — RUNBOOK.md › {}",
            a.severity.as_str(),
            a.key,
            a.source,
            a.scope,
            a.reason,
            a.first_seen,
            a.last_seen,
            a.count,
            a.runbook
        ));
    }
    out.push(String::new());
    let last = v.runs.last_age_seconds.map(|s| format!("newest {s} s ago")).unwrap_or_else(|| "no record".into());
    out.push(format!("Last runs ({last}):"));
    for r in &v.runs.history {
        let error = r.first_error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default();
        out.push(format!(
            "  {} {} {} {}{error}",
            r.at.as_deref().unwrap_or("?"),
            r.run_id.as_deref().unwrap_or("?"),
            r.mode.as_deref().unwrap_or("?"),
            r.status.as_deref().unwrap_or("?")
        ));
    }
    out.push(String::new());
    out.push(match (&v.metrics_file.path, v.metrics_file.age_seconds) {
        (None, _) => "Metrics file: not configured (--metrics-file or TRADECYCLE_METRICS_FILE)".into(),
        (Some(p), Some(age)) => format!("Metrics file: {p}, written {age} s ago"),
        (Some(p), None) => format!("Metrics file: {p} is absent"),
    });
    out.join("\n")
}

/// `x` rounded to 8 significant digits, without trailing zeros.
fn significant(x: f64) -> String {
    let digits = if x.abs() >= 1.0 { (8 - 1 - x.abs().log10().floor() as i32).max(0) } else { 8 };
    let text = format!("{x:.*}", digits as usize);
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alerts::{AlertState, Condition};
    use crate::domain::pool::Universe;
    use rust_decimal::Decimal;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-15T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn state() -> StateDoc {
        let raw = json!({
            "rotation_pool_symbols": ["XRPUSDT", "ADAUSDT"],
            "XRPUSDT": {"is_holding": true, "entry_price": 2.4, "highest_price": 2.5},
            "ADAUSDT": {"is_holding": false, "entry_price": 0.0, "highest_price": 0.0},
            "BTCUSDT": {"holding_qty": 0.01, "avg_cost": 60000.0},
            "is_circuit_broken": true,
        });
        let universe: Universe =
            [("XRPUSDT", "XRP"), ("ADAUSDT", "ADA")].into_iter().map(|(s, a)| (s.to_string(), a.to_string())).collect();
        StateDoc::normalize(&raw, &universe)
    }

    fn inputs<'a>(state: &'a StateDoc, exchange: &'a ExchangeView, watchdog: &'a AlertBook) -> StatusInputs<'a> {
        StatusInputs {
            now: now(),
            service: "acct",
            store: "file:/s.json",
            state,
            heartbeat: None,
            watchdog_alerts: watchdog,
            kill_switch: false,
            exchange,
            mismatch_min_usdt: Decimal::TEN,
            metrics_file: MetricsFileView { path: None, state: "not_configured", age_seconds: None },
        }
    }

    fn condition(key: &str, severity: Severity) -> Condition {
        Condition { key: key.into(), severity, scope: "s".into(), reason: "r".into(), runbook: "b".into() }
    }

    #[test]
    fn positions_without_credentials_say_not_checked_and_with_balances_show_the_total() {
        let s = state();
        let p = positions(&s, &ExchangeView::NotChecked, Decimal::TEN);
        assert_eq!(p.exchange, "not checked");
        let rows: Vec<_> = p.rows.iter().map(|r| (r.symbol.as_str(), r.sleeve, r.state_holding)).collect();
        assert!(rows.contains(&("XRPUSDT", "pool", true)), "{rows:?}");
        assert_eq!(p.rows.last().unwrap().state_quantity, Some(0.01));
        assert!(p.rows.iter().all(|r| r.exchange_quantity.is_none() && r.parity.is_none()));
        let balances = [(
            "XRP".to_string(),
            AssetBalance { free: Decimal::new(700, 0), locked: Decimal::new(3, 1), earn: Decimal::new(29, 0) },
        )]
        .into();
        let prices =
            [("XRPUSDT".to_string(), Decimal::new(5, 1)), ("BTCUSDT".to_string(), Decimal::new(80_000, 0))].into();
        let p = positions(&s, &ExchangeView::Read { balances, prices }, Decimal::TEN);
        let xrp = p.rows.iter().find(|r| r.symbol == "XRPUSDT").unwrap();
        assert_eq!((p.exchange.as_str(), xrp.exchange_quantity.as_deref()), ("checked", Some("729.3")));
        let btc = p.rows.last().unwrap();
        assert_eq!(btc.exchange_quantity.as_deref(), Some("0"), "an asset the exchange does not list is 0");
        assert_eq!(xrp.parity, Some("ok"));
        assert_eq!(btc.parity, Some("mismatch"), "the state's 0.01 BTC (800 USDT) is not on the exchange");
        assert_eq!(positions(&s, &ExchangeView::Failed("HTTP 401".into()), Decimal::TEN).exchange, "error: HTTP 401");
        assert_eq!(position_symbols(&s), ["ADAUSDT", "BTCUSDT", "XRPUSDT"]);
    }

    #[test]
    fn pause_is_what_the_next_cycle_would_decide_and_alerts_are_sev1_first() {
        let mut s = state();
        let (book, _) = AlertBook::default().advance(
            &[condition("pool_degraded", Severity::Sev2), condition("state_save_failed", Severity::Sev1)],
            now(),
            chrono::Duration::hours(24),
        );
        s.alerts = book;
        let (wd, _) = AlertBook::default().advance(
            &[condition("heartbeat_stale", Severity::Sev1)],
            now(),
            chrono::Duration::hours(1),
        );
        let v = assemble(inputs(&s, &ExchangeView::NotChecked, &wd));
        let keys: Vec<_> = v.alerts.iter().map(|a| (a.key.as_str(), a.source)).collect();
        assert_eq!(keys, [("state_save_failed", "cycle"), ("heartbeat_stale", "watchdog"), ("pool_degraded", "cycle")]);
        assert_eq!(v.pause.by.as_deref(), Some("alert:state_save_failed"));
        assert_eq!(
            v.attention,
            [
                "new risk is paused by alert:state_save_failed: SEV-1 alert state_save_failed is open: r",
                "2 SEV-1 alert(s) open",
                "1 SEV-2 alert(s) open",
                "the circuit breaker is latched",
                "no heartbeat record: no cycle has reported",
            ]
        );
        // The operator's pause wins over the switch and the alert; a cleared alert is not shown.
        s.operator_pause = Some(Pause { reason: "incident".into(), by: "operator".into(), since: None });
        s.alerts.0.get_mut("state_save_failed").unwrap().state = AlertState::Cleared;
        let mut i = inputs(&s, &ExchangeView::NotChecked, &wd);
        i.kill_switch = true;
        let v = assemble(i);
        assert_eq!((v.pause.by.as_deref(), v.pause.reason.as_deref()), (Some("operator"), Some("incident")));
        assert_eq!(v.alerts.len(), 2);
        assert!(
            render(&v)
                .contains("\nPause: new risk PAUSED by operator: incident (sells and risk reduction still run)\n")
        );
        // The kill switch alone.
        s.operator_pause = None;
        s.alerts = AlertBook::default();
        let empty = AlertBook::default();
        let mut i = inputs(&s, &ExchangeView::NotChecked, &empty);
        i.kill_switch = true;
        assert_eq!(assemble(i).pause.by.as_deref(), Some("env:TRADECYCLE_PAUSE"));
    }

    #[test]
    fn runs_come_from_the_heartbeat_history_or_an_older_record() {
        let record = crate::commands::watchdog::heartbeat_record(
            "aborted",
            "live",
            now() - chrono::Duration::minutes(5),
            "r2",
            Some("preflight: no"),
            Some(&json!({"status": "ok", "timestamp": "2026-03-15T10:00:00Z", "run_id": "r1", "last_error": ""})),
        );
        let r = runs(Some(&record), now());
        assert_eq!(r.last_age_seconds, Some(300));
        assert_eq!(
            r.history,
            [
                RunView {
                    run_id: Some("r2".into()),
                    mode: Some("live".into()),
                    status: Some("aborted".into()),
                    at: Some("2026-03-15T11:55:00Z".into()),
                    first_error: Some("preflight: no".into())
                },
                RunView {
                    run_id: Some("r1".into()),
                    mode: None,
                    status: Some("ok".into()),
                    at: Some("2026-03-15T10:00:00Z".into()),
                    first_error: None
                },
            ]
        );
        let old = json!({"status": "ok", "timestamp": "2026-03-15T11:00:00Z", "run_id": "r0", "last_error": ""});
        let r = runs(Some(&old), now());
        assert_eq!((r.last_age_seconds, r.history.len(), r.history[0].first_error.clone()), (Some(3600), 1, None));
        let s = state();
        let empty = AlertBook::default();
        let mut i = inputs(&s, &ExchangeView::NotChecked, &empty);
        i.heartbeat = Some(&record);
        assert!(assemble(i).attention.contains(&"the last run (r2) ended aborted".to_string()));
    }
}
