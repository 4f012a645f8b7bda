//! What a backtest writes: `summary.json` (the core's
//! `tradecycle.backtest.v1` document), `equity.csv` (one row per cycle:
//! time,total,trend,btc,cash,earn in USDT) and `trades.csv` (one row per
//! executed order or Earn move: time,kind,symbol,side,quantity,price,fee,reason;
//! `fee` is the commissions' USDT value, an Earn move has no side and no
//! fee), `equity.svg` (`chart.rs`), `report.html` (`html.rs`), and the
//! summary as a text table. Every byte follows from the
//! inputs: times are the cycles', rows are in cycle order, maps are sorted.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use tradecycle_core::backtest::{CycleRecord, Summary, TradeRecord};

use super::chart::equity_svg;
use super::html::report_html;

pub const SUMMARY_FILE: &str = "summary.json";
pub const EQUITY_FILE: &str = "equity.csv";
pub const TRADES_FILE: &str = "trades.csv";
pub const CHART_FILE: &str = "equity.svg";
pub const REPORT_FILE: &str = "report.html";

pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// The summary as pretty JSON with a final newline.
pub fn summary_json(summary: &Summary) -> String {
    serde_json::to_string_pretty(summary).unwrap_or_default() + "\n"
}

pub fn equity_csv(cycles: &[CycleRecord]) -> String {
    let mut out = String::from("time,total,trend,btc,cash,earn\n");
    for c in cycles {
        let _ = writeln!(out, "{},{},{},{},{},{}", time(c.time), c.total, c.trend, c.btc, c.cash, c.earn);
    }
    out
}

/// A trade's cells in the column order of `trades.csv` and the page's
/// table: time, kind, symbol, side, quantity, price, fee, reason.
pub fn trade_cells(t: &TradeRecord) -> [String; 8] {
    [
        time(t.time),
        t.kind.clone(),
        t.symbol.clone(),
        t.side.clone(),
        t.quantity.to_string(),
        t.price.to_string(),
        t.fee.to_string(),
        t.reason.clone(),
    ]
}

pub fn trades_csv(trades: &[TradeRecord]) -> String {
    let mut out = String::from("time,kind,symbol,side,quantity,price,fee,reason\n");
    for t in trades {
        let cells: Vec<String> = trade_cells(t).iter().map(|c| field(c)).collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

/// Writes the five files into `dir` (created if missing); the error
/// names the file.
pub fn write_all(dir: &Path, summary: &Summary, cycles: &[CycleRecord], trades: &[TradeRecord]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("--output {}: {e}", dir.display()))?;
    let svg = equity_svg(cycles, summary.start_equity).map_err(|e| format!("{CHART_FILE}: {e}"))?;
    let html = report_html(summary, &svg, trades);
    for (name, text) in [
        (SUMMARY_FILE, summary_json(summary)),
        (EQUITY_FILE, equity_csv(cycles)),
        (TRADES_FILE, trades_csv(trades)),
        (CHART_FILE, svg),
        (REPORT_FILE, html),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

pub(super) fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{:.2}%", x * 100.0))
}

pub(super) fn num(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}"))
}

/// The summary's rows (label, value): the text table and the page's.
pub fn summary_rows(s: &Summary) -> Vec<(&'static str, String)> {
    let dd_dates = match (s.max_drawdown_peak, s.max_drawdown_trough) {
        (Some(p), Some(t)) => format!(" ({} → {})", p.date_naive(), t.date_naive()),
        _ => String::new(),
    };
    let kinds: Vec<String> = s.trades_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let b = &s.benchmark_btc_buy_and_hold;
    vec![
        ("period", format!("{} .. {} ({})", s.inputs.from, s.inputs.to, s.inputs.cadence)),
        ("pool", s.inputs.pool.clone()),
        ("cycles", format!("{} ({} failed)", s.cycles, s.failed_cycles)),
        ("first failure", s.first_failure.clone().unwrap_or_else(|| "-".into())),
        ("start equity", format!("{} USDT", s.start_equity)),
        ("final equity", format!("{} USDT", s.final_equity.round_dp(2))),
        ("total return", pct(s.total_return)),
        ("CAGR", pct(s.cagr)),
        ("max drawdown", format!("{}{dd_dates}", pct(Some(s.max_drawdown)))),
        ("Sharpe (daily)", num(s.sharpe_daily)),
        ("Sortino (daily)", num(s.sortino_daily)),
        ("fees paid", format!("{} USDT", s.fees_paid.round_dp(2))),
        ("turnover", format!("{} USDT", s.turnover.round_dp(2))),
        ("trades", if kinds.is_empty() { "none".into() } else { kinds.join(", ") }),
        ("circuit-breaker days", s.circuit_breaker_days.to_string()),
        (
            "days in market",
            format!("trend {}, btc {}, earn {}", s.days_in_market.trend, s.days_in_market.btc, s.days_in_market.earn),
        ),
        (
            "BTC buy and hold",
            format!(
                "{} USDT, return {}, max drawdown {}",
                b.final_equity.map_or("-".into(), |e| e.round_dp(2).to_string()),
                pct(b.total_return),
                pct(Some(b.max_drawdown))
            ),
        ),
        ("worst daily loss", pct(s.kpi.worst_daily_loss)),
        ("turnover per day", s.kpi.turnover_per_day.map_or("-".into(), |t| format!("{} USDT", t.round_dp(2)))),
        ("rejected / skipped", format!("{} / {}", s.kpi.rejected_intents, s.kpi.skipped_intents)),
    ]
}

/// The summary as a two-column table for a terminal.
pub fn text_table(s: &Summary) -> String {
    let rows = summary_rows(s);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
