//! The imperative shell: one cycle, step by step (design.md §1). It reads
//! through the ports, asks the pure [`Cycle`] what to do, performs it (or
//! records it as suppressed) and assembles the report.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::Settings;
use crate::domain::intent::Intent;
use crate::domain::pool::{PoolResolution, Universe};
use crate::domain::report::{
    DeliveryStatus, Mode, NotificationRecord, PoolReport, Report, StateWrite, Status, WriteStatus,
};
use crate::domain::snapshot::{BtcSnapshot, Indicators, MarketData, Series};
use crate::domain::state::StateDoc;
use crate::indicators;
use crate::notify::event::Event;
use crate::notify::messages;
use crate::ports::{Exchange, MarketRequest, Notifier, PortError, StateStore};
use crate::strategy::cycle::{BNB_SYMBOL, BTC_SYMBOL, Cycle, CycleInputs, DayPlan, Effect, Outcome, USDT};
use crate::upstream::ladder::{self, FetchOutcome, FreshSource, LadderInputs, LocalCandidate};

/// Up to this many notifications of one cycle go out as separate messages;
/// more are coalesced, so a burst cannot trip Telegram's flood control.
pub const MAX_SEPARATE_MESSAGES: usize = 3;

/// Where the trend pool comes from this run.
pub enum PoolInput {
    /// A payload given directly (replay `injected`); it must validate.
    Injected(Value),
    /// The degraded ladder: the fresh rung (if configured) and local files
    /// under `local_root`.
    Ladder { fresh: Option<FreshSource>, local_root: PathBuf },
}

/// Performs an intent for real. Replay and dry-run never get here.
pub trait Executor {
    #[allow(async_fn_in_trait)]
    async fn perform(&mut self, state: &StateDoc, intent: &Intent) -> Outcome;
}

/// The executor of modes that suppress every side effect.
pub struct Suppress;

impl Executor for Suppress {
    async fn perform(&mut self, _: &StateDoc, _: &Intent) -> Outcome {
        Outcome::Suppressed
    }
}

pub struct CycleRun<'a, E, S, N, X> {
    pub mode: Mode,
    pub now: DateTime<Utc>,
    pub run_id: String,
    pub settings: &'a Settings,
    pub exchange: &'a E,
    pub store: &'a S,
    pub notifier: &'a N,
    pub executor: X,
    pub pool: PoolInput,
}

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> CycleRun<'_, E, S, N, X> {
    /// Runs one cycle and returns its report. Never panics on bad data:
    /// failures end up in `report.errors` with the matching status.
    pub async fn run(mut self) -> Report {
        let mut report =
            Report::new(&self.run_id, self.mode, &self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        // Notifications wait here until the end of the cycle (see `deliver`).
        let mut outbox: Vec<Event> = Vec::new();
        if let Err(stop) = self.cycle(&mut report, &mut outbox).await {
            let (status, stage, message) = stop;
            report.fail(status, stage, message.clone());
            let event = match (status, stage) {
                (Status::Aborted, "state_load") => Event::StateLoadFailed { error: message },
                (Status::Aborted, _) => Event::ApiError { error: message },
                _ => Event::SystemCrash { error: message },
            };
            outbox.push(event);
        }
        // An abort or error part-way leaves its notifications (and the alert)
        // here; after a normal cycle only what the final save raised, if anything.
        self.deliver(&mut report, std::mem::take(&mut outbox)).await;
        report
    }

    fn suppress(&self) -> bool {
        self.mode.suppresses_side_effects()
    }

    async fn cycle(
        &mut self,
        report: &mut Report,
        outbox: &mut Vec<Event>,
    ) -> Result<(), (Status, &'static str, String)> {
        // 2. State: unreadable state aborts before anything else.
        let raw_state = match self.store.load().await {
            Ok(doc) => doc.unwrap_or(Value::Object(Default::default())),
            Err(e) => return Err((Status::Aborted, "state_load", format!("could not load the state document: {e}"))),
        };

        // 4. Pool resolution, recorded in state before any trading.
        let resolution = self.resolve_pool(&raw_state).map_err(|e| (Status::Error, "pool", e))?;
        report.pool = Some(PoolReport::from(&resolution));
        let official: Universe = resolution.payload.symbols.clone();
        let mut state = StateDoc::normalize(&raw_state, &official);
        state.record_pool(&resolution);
        self.save_state(report, &state, "trend_pool_metadata_refresh").await;

        // 5. Market snapshot.
        let runtime = state.runtime_universe(&official);
        let request = market_request(&runtime, &official);
        let market = self
            .exchange
            .market_data(&request)
            .await
            .map_err(|e| (Status::Aborted, "exchange", format!("could not read market data: {e}")))?;
        let (btc, indicators) = signals(&market, &official).map_err(|e| (Status::Error, "snapshot", e))?;
        for symbol in official.keys().filter(|s| !indicators.contains_key(*s)) {
            report.warnings.push(format!("{symbol}: no indicators this cycle; it cannot be selected"));
        }

        let mut settings = self.settings.strategy.clone();
        settings.paused |= state.trading_paused;
        let MarketData { balances, prices, rules, earn_products, .. } = market;
        let mut cycle = Cycle::new(CycleInputs {
            now: self.now,
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
        .map_err(|e| (Status::Error, "plan", e))?;

        // 6-7. Plan and execute, step by step.
        if let Some(fuel) = cycle.plan_fuel() {
            self.execute(report, outbox, &mut cycle, fuel).await;
        }
        let day = cycle.open_day();
        self.flush(report, outbox, &mut cycle).await;
        match day {
            DayPlan::Latched => {}
            DayPlan::Breaker => {
                for sell in cycle.plan_breaker_sells() {
                    self.execute(report, outbox, &mut cycle, sell).await;
                }
                cycle.latch_breaker();
                report.circuit_breaker_triggered = true;
            }
            DayPlan::Trade => {
                for sell in cycle.plan_trend_sells() {
                    self.execute(report, outbox, &mut cycle, sell).await;
                }
                for buy in cycle.plan_trend_buys() {
                    self.execute(report, outbox, &mut cycle, buy).await;
                }
                cycle.log_holdings();
            }
        }
        self.flush(report, outbox, &mut cycle).await;
        if let Some(buy) = cycle.plan_dca_buy() {
            self.execute(report, outbox, &mut cycle, buy).await;
        }
        if let Some(trim) = cycle.plan_dca_trim() {
            self.execute(report, outbox, &mut cycle, trim).await;
        }
        if let Some(buffer) = cycle.plan_earn_buffer() {
            self.execute(report, outbox, &mut cycle, buffer).await;
        }

        // 8. Notify, then persist and report. The cycle's messages go out
        // together before the final save, because the status report's bucket
        // advances only if the message carrying it was sent, and that save
        // is what persists it.
        let status_bucket = cycle.status_report().map(|(bucket, event)| {
            outbox.push(event);
            bucket
        });
        let delivered = self.deliver(report, std::mem::take(outbox)).await;
        if let Some(bucket) = status_bucket
            && delivered.last() == Some(&DeliveryStatus::Sent)
        {
            cycle.status_delivered(bucket);
        }
        let equity = cycle.finish();
        self.flush(report, outbox, &mut cycle).await;
        report.execution_pool = cycle.execution_pool.clone();
        report.selected_candidates = cycle.candidate_symbols();
        report.equity = Some(equity);
        report.intents = std::mem::take(&mut cycle.intents);
        report.gates = std::mem::take(&mut cycle.gates);
        report.warnings.append(&mut cycle.warnings);
        report.log_lines = std::mem::take(&mut cycle.log_lines);
        report.state_after = Some(cycle.state.to_value());
        Ok(())
    }

    fn resolve_pool(&self, raw_state: &Value) -> Result<PoolResolution, String> {
        let contract = &self.settings.contract;
        match &self.pool {
            PoolInput::Injected(payload) => ladder::resolve_injected(payload, contract, self.now),
            PoolInput::Ladder { fresh, local_root } => {
                let last_known_good = raw_state.get("trend_pool_last_good_payload");
                let mut paths: Vec<PathBuf> = Vec::new();
                if let Some(f) = &self.settings.artifact_file {
                    paths.push(local_root.join(f));
                }
                paths.push(local_root.join("artifacts").join("live_pool_legacy.json"));
                paths.dedup();
                let local_files = paths.into_iter().map(read_candidate).collect();
                Ok(ladder::resolve_ladder(
                    LadderInputs { fresh: fresh.clone(), last_known_good, local_files },
                    contract,
                    self.settings.lkg_max_age_days,
                    self.now,
                ))
            }
        }
    }

    /// Executes one intent, redeeming from Earn first when spot is short.
    async fn execute(&mut self, report: &mut Report, outbox: &mut Vec<Event>, cycle: &mut Cycle, intent: Intent) {
        if let Some(redeem) = cycle.funding_for(&intent) {
            let outcome = self.perform(&cycle.state, &redeem).await;
            cycle.apply(redeem, outcome);
        }
        match cycle.check_funded(&intent) {
            Err(why) => cycle.apply(intent, Outcome::Skipped(why)),
            Ok(()) => {
                let outcome = self.perform(&cycle.state, &intent).await;
                cycle.apply(intent, outcome);
            }
        }
        self.flush(report, outbox, cycle).await;
    }

    async fn perform(&mut self, state: &StateDoc, intent: &Intent) -> Outcome {
        if self.suppress() { Outcome::Suppressed } else { self.executor.perform(state, intent).await }
    }

    /// Performs the saves the cycle queued, in order, and moves its
    /// notifications to the outbox.
    async fn flush(&mut self, report: &mut Report, outbox: &mut Vec<Event>, cycle: &mut Cycle) {
        for effect in cycle.drain_effects() {
            match effect {
                Effect::Save(reason) => self.save_state(report, &cycle.state, &reason).await,
                Effect::Notify(event) => outbox.push(event),
            }
        }
    }

    async fn save_state(&self, report: &mut Report, state: &StateDoc, reason: &str) {
        let status = if self.suppress() {
            WriteStatus::Suppressed
        } else {
            match self.store.save(&state.to_value()).await {
                Ok(()) => WriteStatus::Written,
                Err(e) => {
                    report.fail(Status::Error, "state_save", format!("saving state ({reason}) failed: {e}"));
                    WriteStatus::Failed
                }
            }
        };
        report.state_writes.push(StateWrite { reason: reason.to_string(), status });
    }

    /// Sends the queued notifications: one message each when there are at
    /// most [`MAX_SEPARATE_MESSAGES`], otherwise coalesced into as few
    /// messages as fit. Each event's record gets the status of the message
    /// that carried it; a failure is a warning, never a change of outcome
    /// (design.md §3.12). Returns each event's status, in order.
    async fn deliver(&self, report: &mut Report, events: Vec<Event>) -> Vec<DeliveryStatus> {
        let lang = self.settings.lang;
        let name = messages::strategy_display_name(lang);
        let bodies: Vec<String> = events.iter().map(|e| messages::render(e, lang, name)).collect();
        let mut outcomes: Vec<(DeliveryStatus, Option<String>)> =
            vec![(DeliveryStatus::Suppressed, None); events.len()];
        if !self.suppress() && !events.is_empty() {
            let batches: Vec<(usize, String)> = if events.len() <= MAX_SEPARATE_MESSAGES {
                bodies.iter().map(|b| (1, b.clone())).collect()
            } else {
                messages::coalesce_batches(&bodies, lang)
            };
            let mut first = 0usize;
            // After an outage, a rate limit or a refused token the next
            // message would fail the same way, each after a full timeout.
            let mut gave_up: Option<String> = None;
            for (count, body) in batches {
                let outcome = match &gave_up {
                    Some(why) => (DeliveryStatus::Failed, Some(why.clone())),
                    None => match self.notifier.send(&format!("{}:\n{body}", messages::prefix(lang))).await {
                        Ok(()) => (DeliveryStatus::Sent, None),
                        Err(e) => {
                            if matches!(e, PortError::Retryable(_) | PortError::Auth(_)) {
                                gave_up = Some(format!("not attempted after an earlier message failed: {e}"));
                            }
                            (DeliveryStatus::Failed, Some(e.to_string()))
                        }
                    },
                };
                outcomes[first..first + count].fill(outcome);
                first += count;
            }
        }
        let mut statuses = Vec::with_capacity(events.len());
        for ((event, text), (status, error)) in events.iter().zip(bodies).zip(outcomes) {
            if let Some(e) = &error {
                report.warnings.push(format!("notification {} not delivered: {e}", event.name()));
            }
            report.notifications.push(NotificationRecord { event: event.name().to_string(), status, text, error });
            statuses.push(status);
        }
        statuses
    }
}

/// Everything the cycle reads from the exchange for this universe.
pub fn market_request(runtime: &Universe, official: &Universe) -> MarketRequest {
    let mut assets: Vec<String> = vec![USDT.into(), "BTC".into(), "BNB".into()];
    let mut symbols: Vec<String> = vec![BTC_SYMBOL.into(), BNB_SYMBOL.into()];
    for (symbol, base) in runtime {
        if !assets.contains(base) {
            assets.push(base.clone());
        }
        if !symbols.contains(symbol) {
            symbols.push(symbol.clone());
        }
    }
    let kline_symbols = official.keys().filter(|s| s.as_str() != BTC_SYMBOL).cloned().collect();
    MarketRequest { assets, symbols, kline_symbols }
}

/// BTC snapshot and trend indicators (official pool only: retired symbols
/// get none, which is how they are liquidated, behaviour.md §12.5).
fn signals(market: &MarketData, official: &Universe) -> Result<(BtcSnapshot, BTreeMap<String, Indicators>), String> {
    match &market.series {
        Series::Injected { btc, indicators } => {
            let btc = btc.clone().ok_or("BTC indicators insufficient: the snapshot has no btc_snapshot")?;
            let ind = indicators
                .iter()
                .filter(|(s, _)| official.contains_key(*s))
                .map(|(s, i)| (s.clone(), i.clone()))
                .collect();
            Ok((btc, ind))
        }
        Series::Klines { btc, symbols } => {
            let price = market
                .prices
                .get(BTC_SYMBOL)
                .and_then(rust_decimal::prelude::ToPrimitive::to_f64)
                .ok_or("BTC indicators insufficient: no BTCUSDT price")?;
            let btc = indicators::btc_snapshot(btc, price).map_err(|e| format!("BTC indicators insufficient: {e}"))?;
            let ind = symbols
                .iter()
                .filter(|(s, _)| official.contains_key(*s))
                .filter_map(|(s, k)| indicators::daily_indicators(k).map(|i| (s.clone(), i)))
                .collect();
            Ok((btc, ind))
        }
    }
}

fn read_candidate(path: PathBuf) -> LocalCandidate {
    let outcome = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FetchOutcome::Missing,
        Err(e) => FetchOutcome::Failed(e.to_string()),
        Ok(text) => match serde_json::from_str(&text) {
            Ok(v) => FetchOutcome::Found(v),
            Err(e) => FetchOutcome::Failed(format!("not valid JSON: {e}")),
        },
    };
    LocalCandidate { path: path.display().to_string(), outcome }
}
