//! A finished cycle's report (`tradecycle.report.v1` JSON) rendered for
//! GitHub Actions: a Markdown job summary (pool source, trades, gates,
//! what needs attention, warnings, errors, notifications) and workflow
//! annotations (`::warning::` for each attention item, a degraded pool,
//! undelivered alerts and unresolved orders; `::error::` for errors).
//!
//! Reads the JSON as written rather than the `Report` type, so a summary of
//! an older or newer report still renders what it can.

use serde_json::Value;

use crate::domain::pause::Pause;
use crate::domain::report::SCHEMA;

/// Checks that `value` is an execution report.
pub fn check_schema(value: &Value) -> Result<(), String> {
    match value.get("schema").and_then(Value::as_str) {
        Some(SCHEMA) => Ok(()),
        Some(other) => Err(format!("not a {SCHEMA} report (schema {other})")),
        None => Err(format!("not a {SCHEMA} report (no schema field)")),
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// A scalar as text (decimals are strings in the report, counts numbers).
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A table cell: no line breaks, pipes escaped.
fn cell(t: &str) -> String {
    let flat = t.replace(['\r', '\n'], " ").replace('|', "\\|");
    if flat.is_empty() { "—".to_string() } else { flat }
}

/// The alerts raised, still open and cleared this cycle, first in the
/// summary (issue 11); nothing when there are none.
fn alerts(report: &Value) -> Vec<String> {
    let Some(alerts) = report.get("alerts").filter(|a| a.is_object()) else { return Vec::new() };
    let groups = [("raised", "🚨 raised"), ("open", "🔁 open"), ("cleared", "✅ cleared")];
    let rows: Vec<String> = groups
        .iter()
        .flat_map(|(field, shown)| {
            arr(alerts, field).iter().map(move |a| {
                format!(
                    "| {shown} | {} | `{}` | {} | {} | {} | {} |",
                    cell(s(a, "severity")),
                    cell(s(a, "key")),
                    cell(s(a, "scope")),
                    cell(s(a, "reason")),
                    cell(s(a, "first_seen")),
                    cell(s(a, "runbook")),
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return rows;
    }
    let mut out = vec![
        "### Alerts".to_string(),
        String::new(),
        "| Alert | Severity | Key | Scope | Reason | First seen | Runbook |".to_string(),
        "| --- | --- | --- | --- | --- | --- | --- |".to_string(),
    ];
    out.extend(rows);
    out.push(String::new());
    out
}

/// Why new risk is paused, from the report's `paused` (issue 11).
fn paused_line(report: &Value) -> Option<String> {
    let pause: Pause = serde_json::from_value(report.get("paused")?.clone()).ok()?;
    Some(pause.line())
}

/// The Markdown job summary.
pub fn markdown(report: &Value) -> String {
    let mut out = Vec::new();
    let status = s(report, "status");
    let icon = match status {
        "ok" => "✅",
        "attention" => "⚠️",
        "error" => "❌",
        _ => "⛔",
    };
    out.push(format!("## {icon} tradecycle cycle: {status} ({})", s(report, "mode")));
    out.push(String::new());
    out.extend(alerts(report));
    if let Some(line) = paused_line(report) {
        out.push(format!("⏸️ {line}"));
        out.push(String::new());
    }
    out.push("| | |".into());
    out.push("| --- | --- |".into());
    out.push(format!("| Run | `{}` at {} |", cell(s(report, "run_id")), cell(s(report, "now"))));
    match report.get("pool").filter(|p| p.is_object()) {
        Some(p) => {
            let degraded = p.get("degraded").and_then(Value::as_bool).unwrap_or(false);
            out.push(format!(
                "| Pool source | {}`{}` ({}) |",
                if degraded { "⚠️ degraded: " } else { "" },
                cell(s(p, "source")),
                cell(s(p, "label"))
            ));
            out.push(format!("| Pool version | {} as of {} |", cell(s(p, "version")), cell(s(p, "as_of_date"))));
        }
        None => out.push("| Pool source | not resolved |".into()),
    }
    let pool: Vec<&str> = arr(report, "execution_pool").iter().filter_map(Value::as_str).collect();
    out.push(format!("| Execution pool | {} |", cell(&pool.join(", "))));
    if let Some(e) = report.get("equity").filter(|e| e.is_object()) {
        out.push(format!("| Equity (USDT) | {} |", cell(&text(e.get("total_usdt")))));
    }
    if report.get("circuit_breaker_triggered").and_then(Value::as_bool) == Some(true) {
        out.push("| Circuit breaker | 🚨 triggered |".into());
    }

    let intents = arr(report, "intents");
    out.push(String::new());
    out.push("### Trades".into());
    out.push(String::new());
    if intents.is_empty() {
        out.push("No trades planned.".into());
    } else {
        out.push("| Kind | Symbol / asset | Quantity / amount | Filled (quote) | Status | Reason |".into());
        out.push("| --- | --- | --- | --- | --- | --- |".into());
        for i in intents {
            let what = if i.get("symbol").is_some() { s(i, "symbol") } else { s(i, "asset") };
            let size = if i.get("quantity").is_some() { text(i.get("quantity")) } else { text(i.get("amount")) };
            let filled = i
                .get("fill")
                .filter(|f| f.is_object())
                .map(|f| {
                    let est = if f.get("estimated").and_then(Value::as_bool) == Some(true) { " (est.)" } else { "" };
                    format!("{} ({}){est}", text(f.get("executed_qty")), text(f.get("quote_qty")))
                })
                .unwrap_or_default();
            let mut reason = s(i, "reason").to_string();
            if let Some(e) = i.get("error").and_then(Value::as_str) {
                reason = format!("{reason}: {e}");
            }
            out.push(format!(
                "| {} | {} | {} | {} | {} | {} |",
                cell(s(i, "kind")),
                cell(what),
                cell(&size),
                cell(&filled),
                cell(s(i, "status")),
                cell(&reason)
            ));
        }
    }

    let gates = arr(report, "gates");
    if !gates.is_empty() {
        out.push(String::new());
        out.push("### Gates".into());
        out.push(String::new());
        for g in gates {
            let symbol = g.get("symbol").and_then(Value::as_str).map(|x| format!(" `{x}`")).unwrap_or_default();
            out.push(format!("- {} / `{}`{symbol}", s(g, "sleeve"), s(g, "gate")));
        }
    }

    let reconciled = arr(report, "reconciled");
    if !reconciled.is_empty() {
        out.push(String::new());
        out.push("### Reconciled orders".into());
        out.push(String::new());
        for r in reconciled {
            out.push(format!(
                "- `{}` {}: {} ({})",
                s(r, "client_order_id"),
                s(r, "symbol"),
                s(r, "outcome"),
                one_line(s(r, "detail"))
            ));
        }
    }

    let attention: Vec<&str> = arr(report, "attention").iter().filter_map(Value::as_str).collect();
    if !attention.is_empty() {
        out.push(String::new());
        out.push("### Needs attention".into());
        out.push(String::new());
        out.extend(attention.iter().map(|a| format!("- 👀 {}", one_line(a))));
    }

    // Attention items are warnings too; listed once, above.
    let mut warnings: Vec<String> = arr(report, "warnings")
        .iter()
        .filter_map(Value::as_str)
        .filter(|w| !attention.contains(w))
        .map(one_line)
        .collect();
    if let Some(p) = report.get("pool").filter(|p| p.get("degraded").and_then(Value::as_bool) == Some(true)) {
        warnings.insert(0, degraded_pool_text(p));
    }
    if !warnings.is_empty() {
        out.push(String::new());
        out.push("### Warnings".into());
        out.push(String::new());
        out.extend(warnings.iter().map(|w| format!("- ⚠️ {w}")));
    }

    let errors = arr(report, "errors");
    if !errors.is_empty() {
        out.push(String::new());
        out.push("### Errors".into());
        out.push(String::new());
        for e in errors {
            out.push(format!("- ❌ [{}] {}", s(e, "stage"), one_line(s(e, "message"))));
        }
    }

    let notifications = arr(report, "notifications");
    if !notifications.is_empty() {
        let count = |st: &str| notifications.iter().filter(|n| s(n, "status") == st).count();
        out.push(String::new());
        out.push("### Notifications".into());
        out.push(String::new());
        out.push(format!("{} sent, {} failed, {} suppressed", count("sent"), count("failed"), count("suppressed")));
        for n in notifications.iter().filter(|n| s(n, "status") == "failed") {
            out.push(format!("- ⚠️ `{}` not delivered: {}", s(n, "event"), one_line(s(n, "error"))));
        }
    }
    out.push(String::new());
    out.join("\n")
}

fn degraded_pool_text(pool: &Value) -> String {
    let messages: Vec<String> = arr(pool, "messages").iter().filter_map(Value::as_str).map(one_line).collect();
    let mut t = format!(
        "degraded pool: source {} ({}); new trend entries are paused unless allowed",
        s(pool, "source"),
        s(pool, "label")
    );
    if !messages.is_empty() {
        t.push_str(": ");
        t.push_str(&messages.join("; "));
    }
    t
}

fn one_line(t: &str) -> String {
    t.replace(['\r', '\n'], " ")
}

/// GitHub workflow commands for what needs an operator's eye: one
/// `::warning::` per attention item, a degraded pool, undelivered
/// notifications, unresolved orders not already an attention item, and
/// cycle errors (`::error::`).
pub fn annotations(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let attention: Vec<&str> = arr(report, "attention").iter().filter_map(Value::as_str).collect();
    for a in &attention {
        out.push(command("warning", "Needs attention", a));
    }
    if let Some(line) = paused_line(report) {
        out.push(command("warning", "New risk paused", &line));
    }
    if let Some(p) = report.get("pool").filter(|p| p.get("degraded").and_then(Value::as_bool) == Some(true)) {
        out.push(command("warning", "Degraded pool", &degraded_pool_text(p)));
    }
    for n in arr(report, "notifications").iter().filter(|n| s(n, "status") == "failed") {
        out.push(command("warning", "Alert not delivered", &format!("{}: {}", s(n, "event"), s(n, "error"))));
    }
    let named = |id: &str| !id.is_empty() && attention.iter().any(|a| a.contains(id));
    for i in arr(report, "intents").iter().filter(|i| s(i, "status") == "unresolved" && !named(s(i, "client_order_id")))
    {
        let what = if i.get("symbol").is_some() { s(i, "symbol") } else { s(i, "asset") };
        out.push(command(
            "warning",
            "Unresolved order",
            &format!("{} {what} client_order_id={}: {}", s(i, "kind"), s(i, "client_order_id"), s(i, "error")),
        ));
    }
    for e in arr(report, "errors") {
        out.push(command("error", "Cycle error", &format!("[{}] {}", s(e, "stage"), s(e, "message"))));
    }
    out
}

/// `::kind title=...::message` with GitHub's escaping.
fn command(kind: &str, title: &str, message: &str) -> String {
    let data = |t: &str| t.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let property = |t: &str| data(t).replace(':', "%3A").replace(',', "%2C");
    format!("::{kind} title={}::{}", property(title), data(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "schema": "tradecycle.report.v1",
            "run_id": "gha-42-1",
            "mode": "live",
            "now": "2026-03-15T10:17:00Z",
            "status": "error",
            "pool": {"source": "last_known_good", "degraded": true, "label": "state", "version": "2026-03",
                     "as_of_date": "2026-03-01", "mode": "core_major", "symbols": ["ETHUSDT"],
                     "messages": ["fresh_upstream: stale (50 days)"]},
            "execution_pool": ["ETHUSDT", "SOLUSDT"],
            "selected_candidates": [],
            "equity": {"total_usdt": "1234.5"},
            "circuit_breaker_triggered": false,
            "reconciled": [],
            "intents": [
                {"kind": "trend_sell", "symbol": "SOLUSDT", "asset": "SOL", "quantity": "1.5", "reason": "below_sma60",
                 "status": "filled", "client_order_id": "tc-26031510-ts-SOLUSDT",
                 "fill": {"executed_qty": "1.5", "quote_qty": "210.3", "estimated": false}},
                {"kind": "trend_buy", "symbol": "ETHUSDT", "asset": "ETH", "quantity": "0.1", "reason": "rotation | new",
                 "status": "unresolved", "client_order_id": "tc-26031510-tb-ETHUSDT", "error": "HTTP 503"},
                {"kind": "earn_subscribe", "asset": "USDT", "amount": "50", "reason": "buffer", "status": "skipped"}
            ],
            "gates": [{"sleeve": "trend", "gate": "trend_buy_paused_degraded_mode", "symbol": "ADAUSDT"}],
            "notifications": [
                {"event": "trend_sell", "status": "sent", "text": "..."},
                {"event": "trend_buy_failed", "status": "failed", "text": "...", "error": "telegram: 100%\ndown"}
            ],
            "state_writes": [],
            "errors": [{"stage": "execute", "message": "ETHUSDT outcome unknown"}],
            "warnings": ["status report skipped"],
            "log_lines": []
        })
    }

    #[test]
    fn a_paused_cycle_says_why_in_the_summary_and_the_annotations() {
        let mut r = report();
        r["paused"] = json!({"reason": "exchange incident", "by": "operator", "since": "2026-03-15T09:00:00Z"});
        let line = "new risk paused by operator, since 2026-03-15T09:00:00Z: exchange incident \
                    (sells and risk reduction still run)";
        assert!(markdown(&r).contains(&format!("⏸️ {line}\n")), "{}", markdown(&r));
        assert!(annotations(&r).iter().any(|a| a.contains("New risk paused") && a.contains(line)));
        assert!(!markdown(&report()).contains("paused by"));
    }

    #[test]
    fn markdown_summary() {
        assert_eq!(
            markdown(&report()),
            "## ❌ tradecycle cycle: error (live)\n\
             \n\
             | | |\n\
             | --- | --- |\n\
             | Run | `gha-42-1` at 2026-03-15T10:17:00Z |\n\
             | Pool source | ⚠️ degraded: `last_known_good` (state) |\n\
             | Pool version | 2026-03 as of 2026-03-01 |\n\
             | Execution pool | ETHUSDT, SOLUSDT |\n\
             | Equity (USDT) | 1234.5 |\n\
             \n\
             ### Trades\n\
             \n\
             | Kind | Symbol / asset | Quantity / amount | Filled (quote) | Status | Reason |\n\
             | --- | --- | --- | --- | --- | --- |\n\
             | trend_sell | SOLUSDT | 1.5 | 1.5 (210.3) | filled | below_sma60 |\n\
             | trend_buy | ETHUSDT | 0.1 | — | unresolved | rotation \\| new: HTTP 503 |\n\
             | earn_subscribe | USDT | 50 | — | skipped | buffer |\n\
             \n\
             ### Gates\n\
             \n\
             - trend / `trend_buy_paused_degraded_mode` `ADAUSDT`\n\
             \n\
             ### Warnings\n\
             \n\
             - ⚠️ degraded pool: source last_known_good (state); new trend entries are paused unless allowed: fresh_upstream: stale (50 days)\n\
             - ⚠️ status report skipped\n\
             \n\
             ### Errors\n\
             \n\
             - ❌ [execute] ETHUSDT outcome unknown\n\
             \n\
             ### Notifications\n\
             \n\
             1 sent, 1 failed, 0 suppressed\n\
             - ⚠️ `trend_buy_failed` not delivered: telegram: 100% down\n"
        );
    }

    #[test]
    fn alerts_come_first_grouped_raised_open_cleared() {
        let mut r = report();
        let alert = |key: &str, change: &str| {
            json!({"key": key, "severity": "SEV-2", "change": change, "scope": "upstream pool",
                   "reason": "pool from last_known_good", "runbook": "Upstream pool stale or malformed",
                   "first_seen": "2026-03-15T09:00:00Z", "count": 2})
        };
        r["alerts"] = json!({"raised": [alert("pool_static", "raised")], "open": [alert("pool_degraded", "still_open")],
                             "cleared": [alert("breaker_latched", "cleared")]});
        let md = markdown(&r);
        assert!(
            md.starts_with(
                "## ❌ tradecycle cycle: error (live)\n\
                 \n\
                 ### Alerts\n\
                 \n\
                 | Alert | Severity | Key | Scope | Reason | First seen | Runbook |\n\
                 | --- | --- | --- | --- | --- | --- | --- |\n\
                 | 🚨 raised | SEV-2 | `pool_static` | upstream pool | pool from last_known_good | 2026-03-15T09:00:00Z | Upstream pool stale or malformed |\n\
                 | 🔁 open | SEV-2 | `pool_degraded` | upstream pool | pool from last_known_good | 2026-03-15T09:00:00Z | Upstream pool stale or malformed |\n\
                 | ✅ cleared | SEV-2 | `breaker_latched` | upstream pool | pool from last_known_good | 2026-03-15T09:00:00Z | Upstream pool stale or malformed |\n\
                 \n\
                 | | |\n"
            ),
            "{md}"
        );
        r["alerts"] = json!({"raised": [], "open": [], "cleared": []});
        assert_eq!(markdown(&r), markdown(&report()), "no alerts, no section");
    }

    #[test]
    fn quiet_cycle_summary() {
        let r = json!({"schema": "tradecycle.report.v1", "run_id": "r", "mode": "dry_run", "now": "t", "status": "ok",
                       "pool": null, "execution_pool": [], "intents": []});
        let md = markdown(&r);
        assert!(md.starts_with("## ✅ tradecycle cycle: ok (dry_run)\n"), "{md}");
        assert!(md.contains("| Pool source | not resolved |\n| Execution pool | — |\n"), "{md}");
        assert!(md.ends_with("### Trades\n\nNo trades planned.\n"), "{md}");
        assert!(annotations(&r).is_empty());
    }

    #[test]
    fn workflow_annotations() {
        assert_eq!(
            annotations(&report()),
            vec![
                "::warning title=Degraded pool::degraded pool: source last_known_good (state); new trend entries are paused unless allowed: fresh_upstream: stale (50 days)",
                "::warning title=Alert not delivered::trend_buy_failed: telegram: 100%25%0Adown",
                "::warning title=Unresolved order::trend_buy ETHUSDT client_order_id=tc-26031510-tb-ETHUSDT: HTTP 503",
                "::error title=Cycle error::[execute] ETHUSDT outcome unknown",
            ]
        );
    }

    #[test]
    fn attention_items_are_listed_once_and_annotated_each() {
        let r = json!({"schema": "tradecycle.report.v1", "run_id": "r", "mode": "live", "now": "t",
                       "status": "attention", "pool": null, "execution_pool": [],
                       "intents": [{"kind": "trend_buy", "symbol": "XRPUSDT", "status": "unresolved",
                                    "client_order_id": "tc-26031510-tb-XRPUSDT", "error": "HTTP 503"}],
                       "attention": ["trend_buy XRPUSDT (tc-26031510-tb-XRPUSDT) outcome unknown: HTTP 503",
                                     "earn_redeem USDT not executed: -6003"],
                       "warnings": ["trend_buy XRPUSDT (tc-26031510-tb-XRPUSDT) outcome unknown: HTTP 503",
                                    "earn_redeem USDT not executed: -6003", "status report skipped"]});
        let md = markdown(&r);
        assert!(md.starts_with("## ⚠️ tradecycle cycle: attention (live)\n"), "{md}");
        assert!(
            md.contains(
                "### Needs attention\n\n\
                 - 👀 trend_buy XRPUSDT (tc-26031510-tb-XRPUSDT) outcome unknown: HTTP 503\n\
                 - 👀 earn_redeem USDT not executed: -6003\n\n\
                 ### Warnings\n\n\
                 - ⚠️ status report skipped\n"
            ),
            "{md}"
        );
        assert_eq!(
            annotations(&r),
            vec![
                "::warning title=Needs attention::trend_buy XRPUSDT (tc-26031510-tb-XRPUSDT) outcome unknown: HTTP 503",
                "::warning title=Needs attention::earn_redeem USDT not executed: -6003",
            ],
            "the unresolved order is annotated once, as its attention item"
        );
    }

    #[test]
    fn schema_is_checked() {
        assert_eq!(check_schema(&report()), Ok(()));
        assert_eq!(
            check_schema(&json!({"schema": "other"})),
            Err("not a tradecycle.report.v1 report (schema other)".into())
        );
        assert_eq!(check_schema(&json!([])), Err("not a tradecycle.report.v1 report (no schema field)".into()));
    }
}
