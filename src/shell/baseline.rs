//! The cycle's entry in the account's rolling 7-day baseline
//! (`domain/baseline.rs`): measure this cycle, flag signals far outside
//! the baseline as SEV-3 `anomaly:<signal>` conditions, then add the
//! sample to the state, which the final save persists. Replays and
//! backtests take no part: their reports must not depend on the machine's
//! speed, and a backtest's cycles have no real requests or wall time.

use crate::domain::alerts::Condition;
use crate::domain::baseline::Sample;
use crate::domain::intent::OutcomeClass;
use crate::domain::report::Mode;
use crate::ports::{Exchange, Notifier, StateStore};
use crate::shell::runner::{Executor, Shell};
use crate::strategy::cycle::Cycle;

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// This cycle's anomalies against the baseline; records its sample.
    pub(super) fn baseline_conditions(&self, cycle: &mut Cycle) -> Vec<Condition> {
        if matches!(self.run.mode, Mode::Replay | Mode::Backtest) {
            return Vec::new();
        }
        let health = self.run.exchange.health();
        let sample = Sample {
            at: self.run.now,
            wall_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            requests: health.requests_sent,
            weight: health.max_used_weight.map(|(used, _)| used),
            planned: cycle.intents.len() as u64,
            executed: cycle.intents.iter().filter(|i| i.outcome == Some(OutcomeClass::Executed)).count() as u64,
            equity_usdt: cycle.pre_trade_total(),
        };
        let found = cycle.state.baseline.assess(&sample);
        cycle.state.baseline.record(sample);
        found.iter().map(|anomaly| anomaly.condition()).collect()
    }
}
