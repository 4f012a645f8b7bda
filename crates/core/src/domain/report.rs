//! The execution report (`tradecycle.report.v1`): everything a cycle did or
//! would have done, written by `replay` to stdout and by `run` to
//! `artifacts/`. It never contains a credential.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use super::alerts::AlertsReport;
use super::client_order_id::ClientOrderId;
use super::exit;
use super::intent::{Intent, IntentStatus};
use super::pause::Pause;
use super::pool::PoolResolution;

pub const SCHEMA: &str = "tradecycle.report.v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Replay,
    DryRun,
    Paper,
    Live,
    /// A cycle of `backtest run`: it trades on the simulated exchange like
    /// a paper cycle, on a simulated clock.
    Backtest,
}

impl Mode {
    /// Replay and dry-run record side effects instead of performing them.
    pub fn suppresses_side_effects(self) -> bool {
        matches!(self, Mode::Replay | Mode::DryRun)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// The cycle finished, but something needs an operator's look: a
    /// refused or skipped Earn move, a buy skipped for lack of funds, an
    /// unresolved or quarantined order (design.md §3.19). See `attention`.
    Attention,
    /// Something failed part-way; what executed stays executed.
    Error,
    /// Stopped before trading (state unreadable, exchange unreachable...).
    Aborted,
    /// Asked to stop (SIGTERM/SIGINT): the order in flight was finished and
    /// saved, the remaining intents were skipped (the shell's `stop` module).
    Stopped,
}

impl Status {
    /// Process exit code for a finished cycle: 0 ok, 5 finished but needs
    /// attention, 1 error, 3 aborted (README's exit-code table).
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => exit::OK,
            Status::Attention => exit::ATTENTION,
            Status::Error => exit::ERROR,
            Status::Aborted => exit::ABORTED,
            Status::Stopped => exit::STOPPED,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolReport {
    pub source: String,
    pub degraded: bool,
    pub label: String,
    pub version: String,
    pub as_of_date: String,
    pub mode: String,
    pub symbols: Vec<String>,
    pub messages: Vec<String>,
}

impl From<&PoolResolution> for PoolReport {
    fn from(r: &PoolResolution) -> Self {
        PoolReport {
            source: r.source_kind.as_str().to_string(),
            degraded: r.degraded(),
            label: r.source_label.clone(),
            version: r.payload.version.clone(),
            as_of_date: r.payload.as_of_date.clone(),
            mode: r.payload.mode.clone(),
            symbols: r.payload.symbol_list(),
            messages: r.messages.clone(),
        }
    }
}

/// Account valuation and budgets (USDT, decimal strings rounded to 8 places).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct EquityReport {
    pub total_usdt: String,
    pub trend_usdt: String,
    pub dca_usdt: String,
    pub cash_usdt: String,
    pub fuel_usdt: String,
    pub btc_target_ratio: f64,
    pub trend_usdt_pool: String,
    pub dca_usdt_pool: String,
    pub daily_pnl: f64,
    pub trend_daily_pnl: f64,
    /// Valuation before this cycle traded (what the circuit breaker judged).
    pub pre_trade_total_usdt: String,
    pub pre_trade_trend_usdt: String,
}

/// Why something did not trade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// `trend`, `btc_dca`, `earn`, `fuel` or `cycle`.
    pub sleeve: String,
    pub gate: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Suppressed,
    Sent,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationRecord {
    pub event: String,
    pub status: DeliveryStatus,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteStatus {
    Suppressed,
    Written,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateWrite {
    pub reason: String,
    pub status: WriteStatus,
}

/// What became of an order an earlier run left pending.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    pub client_order_id: ClientOrderId,
    pub symbol: String,
    /// `settled`, `dropped` or `kept`.
    pub outcome: String,
    pub detail: String,
}

/// One symbol whose exchange holding and state disagree
/// (`strategy::parity`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionMismatch {
    pub symbol: String,
    /// What the state believes it holds: 0 when flat, `holding_qty` for
    /// BTC, the last closing quantity of a held trend position (`None`: held,
    /// quantity not on record).
    pub state_qty: Option<Decimal>,
    /// Spot free + locked + Simple Earn.
    pub exchange_qty: Decimal,
    /// The difference's worth at the current price.
    pub value_usdt: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRecord {
    pub stage: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub run_id: String,
    pub mode: Mode,
    /// RFC 3339, UTC.
    pub now: String,
    pub status: Status,
    /// Durable alerts raised, still open and cleared this cycle (issue 11).
    pub alerts: AlertsReport,
    /// Why new risk is paused this cycle (operator, kill switch or an open
    /// SEV-1 alert); absent when the cycle may add risk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<Pause>,
    pub pool: Option<PoolReport>,
    pub execution_pool: Vec<String>,
    pub selected_candidates: Vec<String>,
    pub equity: Option<EquityReport>,
    pub circuit_breaker_triggered: bool,
    /// Pending orders of earlier runs settled before planning.
    pub reconciled: Vec<Reconciliation>,
    pub intents: Vec<Intent>,
    pub gates: Vec<Gate>,
    pub notifications: Vec<NotificationRecord>,
    pub state_writes: Vec<StateWrite>,
    pub state_after: Option<Value>,
    /// Where the state went when it could not be saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_file: Option<String>,
    pub errors: Vec<ErrorRecord>,
    pub warnings: Vec<String>,
    /// What needs an operator's look although the cycle finished; each is
    /// also a warning. Non-empty turns `ok` into `attention`.
    pub attention: Vec<String>,
    pub log_lines: Vec<String>,
    /// The highest `X-MBX-USED-WEIGHT-1M` Binance reported during the run
    /// (live and dry runs); absent when no request was answered with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_weight_used: Option<u32>,
    /// Exchange holdings the state disagrees with (live, dry and paper
    /// runs; `strategy::parity`); absent when they agree.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub position_mismatches: Vec<PositionMismatch>,
}

impl Report {
    pub fn new(run_id: &str, mode: Mode, now: &str) -> Report {
        Report {
            schema: SCHEMA,
            run_id: run_id.to_string(),
            mode,
            now: now.to_string(),
            status: Status::Ok,
            alerts: AlertsReport::default(),
            paused: None,
            pool: None,
            execution_pool: Vec::new(),
            selected_candidates: Vec::new(),
            equity: None,
            circuit_breaker_triggered: false,
            reconciled: Vec::new(),
            intents: Vec::new(),
            gates: Vec::new(),
            notifications: Vec::new(),
            state_writes: Vec::new(),
            state_after: None,
            recovery_file: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            attention: Vec::new(),
            log_lines: Vec::new(),
            request_weight_used: None,
            position_mismatches: Vec::new(),
        }
    }

    /// Records a failure; `aborted` wins over `error` only if set first.
    pub fn fail(&mut self, status: Status, stage: &str, message: impl Into<String>) {
        if matches!(self.status, Status::Ok | Status::Attention | Status::Stopped) {
            self.status = status;
        }
        self.errors.push(ErrorRecord { stage: stage.to_string(), message: message.into() });
    }

    /// Records something that needs an operator's look (also a warning);
    /// `ok` becomes `attention`, a failure status stays.
    pub fn attention(&mut self, message: impl Into<String>) {
        let message = message.into();
        if self.status == Status::Ok {
            self.status = Status::Attention;
        }
        self.warnings.push(message.clone());
        self.attention.push(message);
    }

    /// Records that the run was asked to stop and skipped what was left
    /// (also a warning); `ok` and `attention` become `stopped`, a failure
    /// status stays.
    /// Recording the same stop twice keeps one warning.
    pub fn stopped(&mut self, message: impl Into<String>) {
        if matches!(self.status, Status::Ok | Status::Attention) {
            self.status = Status::Stopped;
        }
        let message = message.into();
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// Process exit code: 0 ok, 5 finished but needs attention, 1 error,
    /// 3 aborted before trading, 4 when another cycle holds the run lease.
    pub fn exit_code(&self) -> u8 {
        if self.status == Status::Aborted && self.errors.first().is_some_and(|e| e.stage == "lease") {
            return exit::LEASE_HELD;
        }
        self.status.exit_code()
    }

    pub fn intents_with(&self, status: IntentStatus) -> impl Iterator<Item = &Intent> {
        self.intents.iter().filter(move |i| i.status == status)
    }

    /// A short human summary (`--format text`).
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        out.push(format!(
            "tradecycle {} run {} at {}: {}",
            serde_json::to_value(self.mode).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            self.run_id,
            self.now,
            serde_json::to_value(self.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        ));
        for (shown, entries) in
            [("raised", &self.alerts.raised), ("open", &self.alerts.open), ("cleared", &self.alerts.cleared)]
        {
            for a in entries {
                out.push(format!("alert {shown}: {} {} ({}): {}", a.severity.as_str(), a.key, a.scope, a.reason));
            }
        }
        if let Some(p) = &self.paused {
            out.push(p.line());
        }
        if let Some(p) = &self.pool {
            out.push(format!(
                "pool: {} ({}){} version {} as of {}",
                p.source,
                p.label,
                if p.degraded { " DEGRADED" } else { "" },
                if p.version.is_empty() { "n/a" } else { &p.version },
                if p.as_of_date.is_empty() { "n/a" } else { &p.as_of_date },
            ));
        }
        out.push(format!("execution pool: {}", join_or_none(&self.execution_pool)));
        out.push(format!("candidates: {}", join_or_none(&self.selected_candidates)));
        if let Some(e) = &self.equity {
            out.push(format!(
                "equity: {} USDT total, {} trend, {} BTC, {} cash (daily {:+.2}%, trend {:+.2}%)",
                e.total_usdt,
                e.trend_usdt,
                e.dca_usdt,
                e.cash_usdt,
                e.daily_pnl * 100.0,
                e.trend_daily_pnl * 100.0
            ));
        }
        if self.intents.is_empty() {
            out.push("intents: none".to_string());
        } else {
            out.push("intents:".to_string());
            for i in &self.intents {
                let what = match (i.quantity, i.amount) {
                    (Some(q), _) => format!("{} {}", q, i.symbol.as_deref().unwrap_or(&i.asset)),
                    (None, Some(a)) => format!("{} {}", a, i.asset),
                    _ => i.asset.clone(),
                };
                let status = serde_json::to_value(i.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let kind =
                    serde_json::to_value(i.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                let mut line = format!("  - {kind} {what} [{status}] {}", i.reason);
                if let Some(e) = &i.error {
                    line.push_str(&format!(" ({e})"));
                }
                out.push(line);
            }
        }
        for g in &self.gates {
            out.push(format!(
                "gate: {}/{}{}",
                g.sleeve,
                g.gate,
                g.symbol.as_ref().map(|s| format!(" {s}")).unwrap_or_default()
            ));
        }
        for w in &self.warnings {
            out.push(format!("warning: {w}"));
        }
        for e in &self.errors {
            out.push(format!("error [{}]: {}", e.stage, e.message));
        }
        out.join("\n")
    }
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() { "none".to_string() } else { items.join(", ") }
}
