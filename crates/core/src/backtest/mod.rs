//! Backtests (issue 12): what a run over history adds up to. The cycles
//! themselves run the live shell against a simulated exchange (the
//! binary's `commands/backtest/run.rs`); this module holds the pure part:
//! the statistics of an equity curve (`stats`) and the summary document
//! built from the per-cycle records (`summary`), so both are unit-tested
//! on hand-checked numbers without running a cycle.

pub mod stats;
pub mod summary;

pub use stats::{Drawdown, EquityPoint, cagr, daily_closes, daily_returns, max_drawdown, sharpe, sortino};
pub use summary::{CycleRecord, FaultTally, SCHEMA, Summary, SummaryInputs, TradeRecord, summarize};
