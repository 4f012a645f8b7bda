//! The imperative shell's runbook: one cycle, step by step (design.md §1).
//! `Shell::run` takes the lease around `Shell::cycle`, which loads the
//! state, resolves the pool, reconciles, reads the market, asks the pure
//! [`Cycle`] what to do, performs it (or records it as suppressed), sends
//! the cycle's notifications and assembles the report. Each step's
//! mechanics live in a file named after it: `lease`, `pool`, `reconcile`,
//! `market`, `effects` (one intent), `saving`, `outbox`.
//!
//! Time: [`CycleRun::now`] is the cycle's schedule time (client ids, daily
//! reset); [`CycleRun::clock`] is what the shell waits on. Simple Earn
//! allows one move per 3 s per account, so a second Earn move in a cycle
//! first sleeps out [`EARN_MOVE_SPACING`] on that clock. Production passes
//! `&SystemClock`; a test passes a shared `ManualClock` (ports.rs),
//! whose sleep advances time at once, and gives the fake exchange the same
//! time source. A test building a `CycleRun` by hand sets `clock` and, for
//! the executor, `ExchangeExecutor::new(..).with_clock(..)` to the same clock.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::Settings;
use crate::domain::alerts::{AlertsReport, Condition};
use crate::domain::pause::{forget_cleared, new_risk_pause};
use crate::domain::pool::{PoolResolution, Universe};
use crate::domain::report::{DeliveryStatus, Mode, Report, Status, WriteStatus};
use crate::domain::snapshot::MarketData;
use crate::domain::state::StateDoc;
use crate::indicators::SignalMemo;
use crate::notify::event::{AlertNotice, Event};
use crate::ports::{Clock, Exchange, Notifier, StateStore};
use crate::shell::lease::Lease;
use crate::shell::market::MarketReading;
use crate::shell::observed::AbortAlerts;
use crate::strategy::cycle::{Cycle, CycleInputs, DayPlan, conditions};

// The parts of a run's inputs that live with their step, kept reachable
// here where callers have always found them.
pub use crate::shell::effects::{EARN_MOVE_SPACING, Executor, Suppress};
pub use crate::shell::lease::lease_owner;
pub use crate::shell::market::market_request;
pub use crate::shell::outbox::MAX_SEPARATE_MESSAGES;
pub use crate::shell::pool::PoolInput;
pub use crate::shell::saving::SavePolicy;

pub struct CycleRun<'a, E, S, N, X> {
    pub mode: Mode,
    /// The cycle's schedule time (client order ids, the trading day).
    pub now: DateTime<Utc>,
    /// What the shell waits on (Earn spacing); see the module header.
    pub clock: &'a dyn Clock,
    pub run_id: String,
    pub settings: &'a Settings,
    pub exchange: &'a E,
    pub store: &'a S,
    pub notifier: &'a N,
    pub executor: X,
    pub pool: PoolInput,
    /// Take the run lease for this long (paper and live); `None` skips it.
    pub lease_ttl: Option<Duration>,
    pub save_policy: SavePolicy,
    /// Where a state that could not be saved is written for recovery.
    pub artifacts_dir: Option<PathBuf>,
    /// Indicator rows earlier cycles of the same backtest computed; `None`
    /// computes them afresh (a process that runs one cycle).
    pub memo: Option<&'a SignalMemo>,
}

/// Why a cycle stopped early: status, stage, message.
pub(super) type Stop = (Status, &'static str, String);

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> CycleRun<'_, E, S, N, X> {
    /// Runs one cycle and returns its report. Never panics on bad data:
    /// failures end up in `report.errors` with the matching status.
    pub async fn run(self) -> Report {
        let report = Report::new(&self.run_id, self.mode, &self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let lease = Lease { owner: lease_owner(&self.run_id), lost: None };
        Shell {
            run: self,
            report,
            outbox: Vec::new(),
            final_state: None,
            lease,
            started: Instant::now(),
            last_earn_move: None,
            observed: Vec::new(),
            state_loaded: false,
            abort_alerts: None,
        }
        .run()
        .await
    }
}

/// One cycle in progress: the run's inputs, the report being assembled,
/// notifications waiting to go out, and the latest state (for recovery).
pub(super) struct Shell<'a, E, S, N, X> {
    pub(super) run: CycleRun<'a, E, S, N, X>,
    pub(super) report: Report,
    /// Notifications wait here and go out together (see [`Shell::deliver`]).
    pub(super) outbox: Vec<Event>,
    pub(super) final_state: Option<StateDoc>,
    pub(super) lease: Lease,
    /// When the cycle started: the lease is renewed at `now` plus the time
    /// since (the cycle's `now` is fixed, possibly injected).
    pub(super) started: Instant,
    /// When the last Simple Earn move of this run was answered (on the clock).
    pub(super) last_earn_move: Option<DateTime<Utc>>,
    /// Alert conditions earlier steps observed (lease takeover, stale
    /// market data), for `advance_alerts`.
    pub(super) observed: Vec<Condition>,
    /// Whether the state document was read: only then can an aborted
    /// cycle keep a durable alert.
    pub(super) state_loaded: bool,
    /// An aborted cycle's alert, saved once its messages went out.
    pub(super) abort_alerts: Option<AbortAlerts>,
}

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// The whole run: take the lease (step 1), run the cycle; on a failure,
    /// alert; write the recovery file if a save failed; send what is still
    /// in the outbox; release the lease.
    async fn run(mut self) -> Report {
        self.run.exchange.start_health_window();
        let (leased, outcome) = match self.take_lease().await {
            // Someone else is running this account: touch nothing, say nothing
            // (the running cycle reports for itself).
            Err(stop) if stop.1 == "lease" => {
                self.report.fail(stop.0, stop.1, stop.2);
                return self.report;
            }
            Err(stop) => (false, Err(stop)),
            Ok(leased) => (leased, self.cycle().await),
        };
        if let Err(stop) = outcome {
            self.record_stop(stop).await;
        }
        if self.report.state_writes.iter().any(|w| w.status == WriteStatus::Failed) {
            self.write_recovery();
        }
        // An abort or error part-way leaves its notifications and the alert
        // here; after a normal cycle only what the final save raised.
        let delivered = self.deliver().await;
        self.save_abort_alert(&delivered).await;
        self.note_request_weight();
        self.release_lease(leased).await;
        self.report
    }

    /// Steps 2 to 8 of the runbook, in this order (crash-point tests
    /// depend on it).
    async fn cycle(&mut self) -> Result<(), Stop> {
        // 2. State: unreadable state aborts before anything else.
        let raw_state = self.load_state().await?;

        // 4. Pool resolution, ahead of step 3: the state is read against
        // the official pool.
        let resolution = self.resolve_pool(&raw_state)?;
        let official: Universe = resolution.payload.symbols.clone();
        let mut state = StateDoc::normalize(&raw_state, &official);

        // 3. Settle what an earlier run left pending, before planning anything.
        self.reconcile(&mut state).await?;
        self.record_pool(&mut state, &resolution).await;

        // 5. Market snapshot.
        let reading = self.read_market(&state, &official).await?;

        // 6-7. Plan and execute, step by step.
        let mut cycle = self.plan(state, official, resolution, reading)?;
        self.redeem_for_the_cycle(&mut cycle).await;
        self.buy_fuel(&mut cycle).await;
        self.trade_the_day(&mut cycle).await;
        self.run_dca(&mut cycle).await;
        self.balance_earn_buffer(&mut cycle).await;

        // 8. Notify, then persist and report.
        self.send_notifications(&mut cycle).await;
        self.close(cycle).await;
        Ok(())
    }

    pub(super) fn suppress(&self) -> bool {
        self.run.mode.suppresses_side_effects()
    }

    /// A cycle that stopped early fails the report and alerts the operator:
    /// by its durable alert when the abort has one (raised once, reminded,
    /// cleared by the next good cycle; see `observed.rs`), otherwise by a
    /// message of this run.
    async fn record_stop(&mut self, (status, stage, message): Stop) {
        self.report.fail(status, stage, message.clone());
        if status == Status::Aborted && self.record_abort_alert(stage, &message).await {
            return;
        }
        self.outbox.push(match (status, stage) {
            (Status::Aborted, "state_load") => Event::StateLoadFailed { error: message },
            (Status::Aborted, _) => Event::ApiError { error: message },
            _ => Event::SystemCrash { error: message },
        });
    }

    /// The raw state document (an empty one when there is none yet).
    async fn load_state(&mut self) -> Result<Value, Stop> {
        match self.run.store.load().await {
            Ok(doc) => {
                self.state_loaded = true;
                Ok(doc.unwrap_or(Value::Object(Default::default())))
            }
            Err(e) => Err((Status::Aborted, "state_load", format!("could not load the state document: {e}"))),
        }
    }

    /// The pure planner over this cycle's inputs; new risk pauses as
    /// domain/pause.rs decides (operator, kill switch, open SEV-1), and the
    /// report says why.
    fn plan(
        &mut self,
        mut state: StateDoc,
        official: Universe,
        resolution: PoolResolution,
        reading: MarketReading,
    ) -> Result<Cycle, Stop> {
        let mut settings = self.run.settings.strategy.clone();
        forget_cleared(&mut state.resumed_alerts, &state.alerts);
        let pause =
            new_risk_pause(state.operator_pause.as_ref(), settings.paused, &state.alerts, &state.resumed_alerts)
                .or_else(|| conditions::stale_btc_pause(&self.observed));
        settings.paused = pause.is_some();
        self.report.paused = pause;
        // Replay's balances are hand-written: no position parity there.
        settings.position_mismatch_min_usdt =
            (self.run.mode != Mode::Replay).then_some(self.run.settings.position_mismatch_min_usdt);
        let MarketReading { market: MarketData { balances, prices, rules, earn_products, .. }, btc, indicators } =
            reading;
        Cycle::new(CycleInputs {
            now: self.run.now,
            settings,
            state,
            official,
            resolution,
            balances,
            prices,
            rules,
            earn_products,
            btc,
            indicators,
        })
        .map_err(|e| (Status::Error, "plan", e))
    }

    /// Earn first: the cycle's one redeem, sized for every spend and the
    /// buffer (design.md §3.16).
    async fn redeem_for_the_cycle(&mut self, cycle: &mut Cycle) {
        for redeem in cycle.plan_earn_funding() {
            self.earn_move(cycle, redeem).await;
        }
    }

    /// BNB fee fuel, before the day opens.
    async fn buy_fuel(&mut self, cycle: &mut Cycle) {
        if let Some(fuel) = cycle.plan_fuel() {
            self.execute(cycle, fuel).await;
        }
    }

    /// The trend sleeve: the day opens on the pre-trade valuation, then the
    /// circuit breaker sells and latches, or the trend sells then buys; a
    /// latched day trades nothing.
    async fn trade_the_day(&mut self, cycle: &mut Cycle) {
        let day = cycle.open_day();
        self.flush(cycle).await;
        match day {
            DayPlan::Latched => {}
            DayPlan::Breaker => {
                for sell in cycle.plan_breaker_sells() {
                    self.execute(cycle, sell).await;
                }
                cycle.latch_breaker();
                self.report.circuit_breaker_triggered = true;
            }
            DayPlan::Trade => {
                for sell in cycle.plan_trend_sells() {
                    self.execute(cycle, sell).await;
                }
                for buy in cycle.plan_trend_buys() {
                    self.execute(cycle, buy).await;
                }
                cycle.log_holdings();
            }
        }
        self.flush(cycle).await;
    }

    /// BTC DCA: a buy, then a trim (design.md §3.7: it runs while the
    /// breaker is latched).
    async fn run_dca(&mut self, cycle: &mut Cycle) {
        if let Some(buy) = cycle.plan_dca_buy() {
            self.execute(cycle, buy).await;
        }
        if let Some(trim) = cycle.plan_dca_trim() {
            self.execute(cycle, trim).await;
        }
    }

    /// The USDT Flexible-Earn buffer, last.
    async fn balance_earn_buffer(&mut self, cycle: &mut Cycle) {
        if let Some(buffer) = cycle.plan_earn_buffer() {
            self.execute(cycle, buffer).await;
        }
    }

    /// The cycle's messages go out together before the final save: the
    /// status report's bucket advances only if the message carrying it was
    /// sent, and that save is what persists it.
    async fn send_notifications(&mut self, cycle: &mut Cycle) {
        self.flush(cycle).await;
        let alerts = self.advance_alerts(cycle);
        let status_bucket = cycle.status_report().map(|(bucket, event)| {
            self.outbox.push(event);
            bucket
        });
        let delivered = self.deliver().await;
        for (index, key) in alerts {
            if delivered.get(index) == Some(&DeliveryStatus::Failed) {
                cycle.state.alerts.undelivered(&key);
            }
        }
        if let Some(bucket) = status_bucket
            && delivered.last() == Some(&DeliveryStatus::Sent)
        {
            cycle.status_delivered(bucket);
        }
    }

    /// Moves the durable alert book on by what this cycle observed (issue
    /// 11), records the changes in the report and queues a message for
    /// each raise, escalation, reminder and clear. Returns each queued
    /// message's outbox index and key: the final save keeps an undelivered
    /// one owed.
    fn advance_alerts(&mut self, cycle: &mut Cycle) -> Vec<(usize, String)> {
        let mut extra = self.shell_conditions();
        let threshold = self.run.settings.upstream_stale_alert_cycles;
        extra.extend(conditions::upstream_stale(cycle.state.upstream_non_fresh_cycles, threshold));
        extra.extend(conditions::auth_refused_intents(&cycle.intents));
        extra.extend(self.baseline_conditions(cycle));
        let transitions = cycle.advance_alerts(&extra, self.remind_interval());
        self.report.alerts = AlertsReport::of(&transitions);
        self.drop_events_alerts_cover(&transitions);
        let mut queued = Vec::new();
        for t in transitions.iter().filter(|t| t.change.notifies()) {
            queued.push((self.outbox.len(), t.key.clone()));
            self.outbox.push(Event::Alert(AlertNotice::of(t)));
        }
        queued
    }

    /// Drops the queued events an alert observed this cycle already says
    /// (`Event::covered_by_alert`): the alert is their one path, so a
    /// condition that persists is not announced every cycle.
    fn drop_events_alerts_cover(&mut self, transitions: &[crate::domain::alerts::Transition]) {
        let observed = |key: &String| {
            transitions.iter().any(|t| &t.key == key && t.change != crate::domain::alerts::Change::Cleared)
        };
        self.outbox.retain(|event| !event.covered_by_alert().is_some_and(|key| observed(&key)));
    }

    /// `ALERT_REMIND_HOURS` as a duration.
    pub(super) fn remind_interval(&self) -> chrono::Duration {
        chrono::Duration::hours(self.run.settings.alert_remind_hours)
    }

    /// Closes the cycle (closing snapshot and the final save) and moves
    /// what it decided into the report.
    async fn close(&mut self, mut cycle: Cycle) {
        // Nothing more is sent: entries this run leaves pending no longer
        // need to wait out its lease before the next run may drop them.
        cycle.done_sending();
        let equity = cycle.finish();
        self.flush(&mut cycle).await;
        self.final_state = Some(cycle.state.clone());
        self.report.position_mismatches = std::mem::take(&mut cycle.position_mismatches);
        self.report.execution_pool = cycle.execution_pool.clone();
        self.report.selected_candidates = cycle.candidate_symbols();
        self.report.equity = Some(equity);
        self.report.intents = std::mem::take(&mut cycle.intents);
        self.report.gates = std::mem::take(&mut cycle.gates);
        self.report.warnings.append(&mut cycle.warnings);
        for message in std::mem::take(&mut cycle.attention) {
            self.report.attention(message);
        }
        self.report.log_lines = std::mem::take(&mut cycle.log_lines).into();
        self.report.state_after = Some(cycle.state.to_value());
    }
}
