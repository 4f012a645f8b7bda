//! The trading strategy as pure code: allocation, rotation, BTC DCA, the
//! Earn buffer, the daily circuit breaker, and [`cycle::Cycle`], which
//! sequences them over a working copy of balances and state. Nothing here
//! performs IO or reads the clock.

pub mod allocation;
pub mod booking;
pub mod cycle;
pub mod daily;
pub mod dca;
pub mod earn;
pub mod ledger;
pub mod log_lines;
pub mod params;
pub mod parity;
pub mod reconcile;
pub mod rotation;

use rust_decimal::Decimal;

pub use params::StrategyParams;

/// The settings the planner needs (resolved from the environment by the binary's `config/settings.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct StrategySettings {
    /// `STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED`.
    pub allow_new_entries_on_degraded: bool,
    /// `BTC_STATUS_REPORT_INTERVAL_HOURS`, 1..=24.
    pub status_report_interval_hours: u32,
    /// New risk paused (`TRADECYCLE_PAUSE`, the operator's `tradecycle
    /// pause` or an open SEV-1 alert; domain/pause.rs decides): sells and
    /// risk reduction run, nothing adds risk.
    pub paused: bool,
    /// `MAX_NOTIONAL_PER_ORDER_USDT`: buys are shrunk to fit.
    pub max_notional_per_order: Option<Decimal>,
    /// `MAX_ORDERS_PER_RUN`: orders beyond it are skipped (sells are planned first).
    pub max_orders_per_run: Option<usize>,
    /// Pool size used when degraded without a locked pool.
    pub pool_size: usize,
    /// `POSITION_MISMATCH_MIN_USDT`: compare the exchange's holdings with
    /// the state ([`parity`]) and ignore differences worth this or less;
    /// `None` (replay, whose balances are hand-written): no comparison.
    pub position_mismatch_min_usdt: Option<Decimal>,
    /// The decision constants ([`params`]): defaults everywhere but in a
    /// backtest with `--set` / `--sweep`.
    pub params: StrategyParams,
}

impl Default for StrategySettings {
    fn default() -> Self {
        StrategySettings {
            allow_new_entries_on_degraded: false,
            status_report_interval_hours: 24,
            paused: false,
            max_notional_per_order: None,
            max_orders_per_run: None,
            pool_size: 5,
            position_mismatch_min_usdt: None,
            params: StrategyParams::default(),
        }
    }
}
