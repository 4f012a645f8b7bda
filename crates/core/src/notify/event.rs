//! Things worth telling the operator about, as data. `messages.rs` renders
//! them in English or Chinese; the cycle never formats text itself.

use serde::Serialize;

use crate::domain::alerts::{Change, Severity, Transition, rfc3339};

/// Why a trend position is being sold.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SellReason {
    /// Held but has no indicators (how retired positions are liquidated).
    MissingIndicators,
    /// No longer a selected candidate (includes the BTC regime turning off).
    RotatedOut,
    /// Price fell below the 60-day SMA.
    BelowSma60,
    /// Price fell below the ATR trailing stop.
    AtrStop { stop_price: f64 },
    /// Liquidated by the daily circuit breaker.
    DailyCircuitBreaker,
}

impl SellReason {
    /// Stable machine code used in reports.
    pub fn code(&self) -> &'static str {
        match self {
            SellReason::MissingIndicators => "missing_indicators",
            SellReason::RotatedOut => "rotated_out",
            SellReason::BelowSma60 => "below_sma60",
            SellReason::AtrStop { .. } => "atr_stop",
            SellReason::DailyCircuitBreaker => "daily_circuit_breaker",
        }
    }
}

/// Language of operator messages (`NOTIFY_LANG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    En,
    Zh,
}

/// Inputs of the periodic BTC status report (behaviour.md §6.9).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub total_equity: f64,
    pub trend_equity: f64,
    /// Trend sleeve daily PnL as a fraction (0.012 = +1.2%).
    pub trend_daily_pnl: f64,
    pub btc_price: f64,
    pub regime_on: bool,
    pub ahr999: Option<f64>,
    pub zscore: Option<f64>,
    pub sell_trigger: Option<f64>,
    /// BTC target allocation as a fraction.
    pub btc_target_ratio: f64,
    /// Symbols currently held by the trend sleeve.
    pub holdings: Vec<String>,
}

/// One operator notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    TrendBuy {
        symbol: String,
        price: f64,
        budget: f64,
        weight: f64,
        relative_score: f64,
        quantity: String,
    },
    TrendBuySkipped {
        symbol: String,
        detail: String,
    },
    TrendBuyFailed {
        symbol: String,
        error: String,
    },
    TrendSell {
        symbol: String,
        reason: SellReason,
        price: f64,
        quantity: String,
    },
    TrendSellSkipped {
        symbol: String,
        reason: SellReason,
        detail: String,
    },
    TrendSellFailed {
        symbol: String,
        reason: SellReason,
        error: String,
    },
    CircuitBreakerSellSkipped {
        symbol: String,
        detail: String,
    },
    CircuitBreakerSellFailed {
        symbol: String,
        error: String,
    },
    /// The breaker fired; `pnl` is the trend sleeve's daily PnL fraction.
    CircuitBreaker {
        pnl: f64,
    },
    DcaBuy {
        ahr999: f64,
        btc_target_ratio: f64,
        quantity: String,
    },
    DcaBuySkipped {
        detail: String,
    },
    DcaBuyFailed {
        error: String,
    },
    DcaTrim {
        zscore: f64,
        sell_pct: f64,
        quantity: String,
    },
    DcaTrimSkipped {
        detail: String,
    },
    DcaTrimFailed {
        error: String,
    },
    FuelTopUpFailed {
        error: String,
    },
    RedeemFailed {
        asset: String,
        error: String,
    },
    /// Moving spot money above the buffer into Simple Earn failed; it stays
    /// on spot (safe, but earns nothing) until a later run moves it.
    SubscribeFailed {
        asset: String,
        amount: String,
        error: String,
    },
    /// A buy (or sell) not sent because spot did not hold what it needs,
    /// e.g. after a refused or late Earn redemption.
    SkippedForFunds {
        symbol: String,
        detail: String,
    },
    /// An order whose outcome could not be learned; it stays in the pending
    /// ledger and is reconciled first next run.
    OrderUnresolved {
        symbol: String,
        client_order_id: String,
    },
    /// An order, the pending ledger or the run lease needs an operator:
    /// a quarantined order, an unreadable ledger entry, a lost lease.
    OrderAttention {
        detail: String,
    },
    StatusReport(StatusReport),
    /// Binance could not be reached; nothing was traded.
    ApiError {
        error: String,
    },
    /// The cycle failed part-way; what already executed stays executed.
    SystemCrash {
        error: String,
    },
    /// The state document could not be loaded; nothing was traded.
    StateLoadFailed {
        error: String,
    },
    /// The final state save failed; the would-be state is in `path`.
    StateSaveFailed {
        error: String,
        path: String,
    },
    /// A durable alert was raised, escalated, reminded or cleared.
    Alert(AlertNotice),
}

/// What an alert message says (`alert_messages.rs` renders it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertNotice {
    pub change: Change,
    pub key: String,
    pub severity: Severity,
    pub scope: String,
    pub reason: String,
    /// RFC 3339.
    pub first_seen: String,
    /// The RUNBOOK.md heading to read.
    pub runbook: String,
}

impl AlertNotice {
    pub fn of(t: &Transition) -> AlertNotice {
        AlertNotice {
            change: t.change,
            key: t.key.clone(),
            severity: t.alert.severity,
            scope: t.alert.scope.clone(),
            reason: t.alert.reason.clone(),
            first_seen: rfc3339(t.alert.first_seen),
            runbook: t.alert.runbook.clone(),
        }
    }
}

impl Event {
    /// The durable alert that says the same as this event, if one does: a
    /// condition that persists would repeat the event every cycle, while
    /// its alert speaks once (raise, remind, clear). The runner drops such
    /// an event when the alert's key is observed in the same cycle.
    pub fn covered_by_alert(&self) -> Option<String> {
        match self {
            Event::SkippedForFunds { symbol, .. } => Some(format!("buy_skipped_funds:{symbol}")),
            Event::RedeemFailed { asset, .. } | Event::SubscribeFailed { asset, .. } => {
                Some(format!("earn_refused:{asset}"))
            }
            _ => None,
        }
    }

    /// Stable machine name used in reports (`trend_buy`, `circuit_breaker`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Event::TrendBuy { .. } => "trend_buy",
            Event::TrendBuySkipped { .. } => "trend_buy_skipped",
            Event::TrendBuyFailed { .. } => "trend_buy_failed",
            Event::TrendSell { .. } => "trend_sell",
            Event::TrendSellSkipped { .. } => "trend_sell_skipped",
            Event::TrendSellFailed { .. } => "trend_sell_failed",
            Event::CircuitBreakerSellSkipped { .. } => "circuit_breaker_sell_skipped",
            Event::CircuitBreakerSellFailed { .. } => "circuit_breaker_sell_failed",
            Event::CircuitBreaker { .. } => "circuit_breaker",
            Event::DcaBuy { .. } => "btc_dca_buy",
            Event::DcaBuySkipped { .. } => "btc_dca_buy_skipped",
            Event::DcaBuyFailed { .. } => "btc_dca_buy_failed",
            Event::DcaTrim { .. } => "btc_dca_trim",
            Event::DcaTrimSkipped { .. } => "btc_dca_trim_skipped",
            Event::DcaTrimFailed { .. } => "btc_dca_trim_failed",
            Event::FuelTopUpFailed { .. } => "bnb_top_up_failed",
            Event::RedeemFailed { .. } => "redeem_failed",
            Event::SubscribeFailed { .. } => "subscribe_failed",
            Event::SkippedForFunds { .. } => "skipped_for_funds",
            Event::OrderUnresolved { .. } => "order_unresolved",
            Event::OrderAttention { .. } => "order_attention",
            Event::StatusReport(_) => "status_report",
            Event::ApiError { .. } => "api_error",
            Event::SystemCrash { .. } => "system_crash",
            Event::StateLoadFailed { .. } => "state_load_failed",
            Event::StateSaveFailed { .. } => "state_save_failed",
            Event::Alert(notice) => match notice.change {
                Change::Raised => "alert_raised",
                Change::Escalated => "alert_escalated",
                Change::Reminded | Change::StillOpen => "alert_reminder",
                Change::Cleared => "alert_cleared",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_a_persisting_condition_repeats_name_the_alert_that_covers_them() {
        let funds = Event::SkippedForFunds { symbol: "ETHUSDT".into(), detail: "d".into() };
        assert_eq!(funds.covered_by_alert().as_deref(), Some("buy_skipped_funds:ETHUSDT"));
        let redeem = Event::RedeemFailed { asset: "USDT".into(), error: "e".into() };
        assert_eq!(redeem.covered_by_alert().as_deref(), Some("earn_refused:USDT"));
        let subscribe = Event::SubscribeFailed { asset: "USDT".into(), amount: "1".into(), error: "e".into() };
        assert_eq!(subscribe.covered_by_alert().as_deref(), Some("earn_refused:USDT"));
        // One-off events stay: an order turning unresolved (once per
        // order), the breaker firing, a failed order, a crash.
        let unresolved = Event::OrderUnresolved { symbol: "ETHUSDT".into(), client_order_id: "tc-1".into() };
        assert_eq!(unresolved.covered_by_alert(), None);
        assert_eq!(Event::CircuitBreaker { pnl: -0.05 }.covered_by_alert(), None);
        assert_eq!(Event::DcaBuyFailed { error: "e".into() }.covered_by_alert(), None);
        assert_eq!(Event::SystemCrash { error: "e".into() }.covered_by_alert(), None);
    }
}
