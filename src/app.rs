//! The imperative shell: one cycle, step by step (design.md §1). It reads
//! through the ports, asks the pure [`Cycle`] what to do, performs it (or
//! records it as suppressed) and assembles the report.
//!
//! Time: [`CycleRun::now`] is the cycle's schedule time (client ids, daily
//! reset); [`CycleRun::clock`] is what the shell waits on. Simple Earn
//! allows one move per 3 s per account, so a second Earn move in a cycle
//! first sleeps out [`EARN_MOVE_SPACING`] on that clock. Production passes
//! `&SystemClock`; a test passes a shared `ManualClock` (ports.rs), whose
//! sleep advances time at once, and gives the fake exchange the same time
//! source. A test building a `CycleRun` by hand sets `clock` and, for the
//! executor, `ExchangeExecutor::new(..).with_clock(..)` to the same clock.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::config::Settings;
use crate::domain::intent::{Intent, IntentKind};
use crate::domain::pool::{PoolResolution, Universe};
use crate::domain::report::{
    DeliveryStatus, Mode, NotificationRecord, PoolReport, Reconciliation, Report, StateWrite, Status, WriteStatus,
};
use crate::domain::snapshot::{BtcSnapshot, Indicators, MarketData, Series};
use crate::domain::state::{PendingOrder, StateDoc};
use crate::indicators;
use crate::notify::event::Event;
use crate::notify::messages;
use crate::ports::{Clock, Exchange, LeaseOutcome, MarketRequest, Notifier, OrderReport, PortError, StateStore};
use crate::strategy::cycle::{BNB_SYMBOL, BTC_SYMBOL, Cycle, CycleInputs, DayPlan, Effect, Outcome, USDT};
use crate::strategy::reconcile::{self, Settlement};
use crate::upstream::ladder::{self, FetchOutcome, FreshSource, LadderInputs, LocalCandidate};

/// Where the trend pool comes from this run.
pub enum PoolInput {
    /// A payload given directly (replay `injected`); it must validate.
    Injected(Value),
    /// The degraded ladder: the fresh rung (if configured) and local files
    /// under `local_root`.
    Ladder { fresh: Option<FreshSource>, local_root: PathBuf },
}

/// Performs intents for real (paper or live). Replay and dry-run never get here.
#[allow(async_fn_in_trait)]
pub trait Executor {
    async fn perform(&mut self, intent: &Intent) -> Outcome;
    /// After an Earn redeem: waits (bounded) until spot shows `need` of
    /// `asset`; returns the spot free balance last seen, if any.
    async fn await_funds(&mut self, asset: &str, need: Decimal) -> Option<Decimal>;
}

/// The executor of modes that suppress every side effect.
pub struct Suppress;

impl Executor for Suppress {
    async fn perform(&mut self, _: &Intent) -> Outcome {
        Outcome::Suppressed
    }

    async fn await_funds(&mut self, _: &str, _: Decimal) -> Option<Decimal> {
        None
    }
}

/// How hard a state save is tried before the run gives up on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SavePolicy {
    pub attempts: u32,
    /// First retry delay; doubles per attempt.
    pub backoff: Duration,
}

impl Default for SavePolicy {
    fn default() -> Self {
        SavePolicy { attempts: 4, backoff: Duration::from_millis(500) }
    }
}

/// Binance's Simple Earn limit: one subscribe or redeem per 3 s per account.
pub const EARN_MOVE_SPACING: Duration = Duration::from_secs(3);

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
}

/// Up to this many notifications of one cycle go out as separate messages;
/// more are coalesced, so a burst cannot trip Telegram's flood control.
pub const MAX_SEPARATE_MESSAGES: usize = 3;

/// Why a cycle stopped early: status, stage, message.
type Stop = (Status, &'static str, String);

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> CycleRun<'_, E, S, N, X> {
    /// Runs one cycle and returns its report. Never panics on bad data:
    /// failures end up in `report.errors` with the matching status.
    pub async fn run(self) -> Report {
        let report = Report::new(&self.run_id, self.mode, &self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        Shell { run: self, report, outbox: Vec::new(), final_state: None, last_earn_move: None }.run().await
    }
}

/// One cycle in progress: the run's inputs, the report being assembled,
/// notifications waiting to go out, and the latest state (for recovery).
struct Shell<'a, E, S, N, X> {
    run: CycleRun<'a, E, S, N, X>,
    report: Report,
    /// Notifications wait here and go out together (see [`Shell::deliver`]).
    outbox: Vec<Event>,
    final_state: Option<StateDoc>,
    /// When the last Simple Earn move of this run was answered (on the clock).
    last_earn_move: Option<DateTime<Utc>>,
}

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    async fn run(mut self) -> Report {
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
        if let Err((status, stage, message)) = outcome {
            self.report.fail(status, stage, message.clone());
            self.outbox.push(match (status, stage) {
                (Status::Aborted, "state_load") => Event::StateLoadFailed { error: message },
                (Status::Aborted, _) => Event::ApiError { error: message },
                _ => Event::SystemCrash { error: message },
            });
        }
        if self.report.state_writes.iter().any(|w| w.status == WriteStatus::Failed) {
            self.write_recovery();
        }
        // An abort or error part-way leaves its notifications and the alert
        // here; after a normal cycle only what the final save raised.
        self.deliver().await;
        if leased && let Err(e) = self.run.store.release_lease(&self.run.run_id).await {
            self.report.warnings.push(format!("could not release the run lease: {e}; it expires on its own"));
        }
        self.report
    }

    fn suppress(&self) -> bool {
        self.run.mode.suppresses_side_effects()
    }

    async fn take_lease(&self) -> Result<bool, Stop> {
        let Some(ttl) = self.run.lease_ttl.filter(|_| !self.suppress()) else { return Ok(false) };
        match self.run.store.acquire_lease(&self.run.run_id, self.run.now, ttl).await {
            Ok(LeaseOutcome::Acquired) => Ok(true),
            Ok(LeaseOutcome::Held { owner, expires_at }) => Err((
                Status::Aborted,
                "lease",
                format!(
                    "another cycle ({owner}) holds the run lease until {}; not trading",
                    expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )),
            Err(e) => Err((Status::Aborted, "state_load", format!("could not take the run lease: {e}"))),
        }
    }

    async fn cycle(&mut self) -> Result<(), Stop> {
        // 2. State: unreadable state aborts before anything else.
        let raw_state = match self.run.store.load().await {
            Ok(doc) => doc.unwrap_or(Value::Object(Default::default())),
            Err(e) => return Err((Status::Aborted, "state_load", format!("could not load the state document: {e}"))),
        };

        // 4. Pool resolution.
        let resolution = self.resolve_pool(&raw_state).map_err(|e| (Status::Error, "pool", e))?;
        self.report.pool = Some(PoolReport::from(&resolution));
        let official: Universe = resolution.payload.symbols.clone();
        let mut state = StateDoc::normalize(&raw_state, &official);

        // 3. Settle what an earlier run left pending, before planning anything.
        self.reconcile(&mut state).await?;

        state.record_pool(&resolution);
        self.save_state(&state, "trend_pool_metadata_refresh").await;
        self.final_state = Some(state.clone());

        // 5. Market snapshot.
        let runtime = state.runtime_universe(&official);
        let request = market_request(&runtime, &official);
        let market = self
            .run
            .exchange
            .market_data(&request)
            .await
            .map_err(|e| (Status::Aborted, "exchange", format!("could not read market data: {e}")))?;
        let (btc, indicators) = signals(&market, &official).map_err(|e| (Status::Error, "snapshot", e))?;
        for symbol in official.keys().filter(|s| !indicators.contains_key(*s)) {
            self.report.warnings.push(format!("{symbol}: no indicators this cycle; it cannot be selected"));
        }

        let mut settings = self.run.settings.strategy.clone();
        settings.paused |= state.trading_paused;
        let MarketData { balances, prices, rules, earn_products, .. } = market;
        let mut cycle = Cycle::new(CycleInputs {
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
        .map_err(|e| (Status::Error, "plan", e))?;

        // 6-7. Plan and execute, step by step. Earn first: the cycle's one
        // redeem, sized for every spend and the buffer (design.md §3.16).
        for redeem in cycle.plan_earn_funding() {
            self.earn_move(&mut cycle, redeem).await;
        }
        if let Some(fuel) = cycle.plan_fuel() {
            self.execute(&mut cycle, fuel).await;
        }
        let day = cycle.open_day();
        self.flush(&mut cycle).await;
        match day {
            DayPlan::Latched => {}
            DayPlan::Breaker => {
                for sell in cycle.plan_breaker_sells() {
                    self.execute(&mut cycle, sell).await;
                }
                cycle.latch_breaker();
                self.report.circuit_breaker_triggered = true;
            }
            DayPlan::Trade => {
                for sell in cycle.plan_trend_sells() {
                    self.execute(&mut cycle, sell).await;
                }
                for buy in cycle.plan_trend_buys() {
                    self.execute(&mut cycle, buy).await;
                }
                cycle.log_holdings();
            }
        }
        self.flush(&mut cycle).await;
        if let Some(buy) = cycle.plan_dca_buy() {
            self.execute(&mut cycle, buy).await;
        }
        if let Some(trim) = cycle.plan_dca_trim() {
            self.execute(&mut cycle, trim).await;
        }
        if let Some(buffer) = cycle.plan_earn_buffer() {
            self.execute(&mut cycle, buffer).await;
        }
        // 8. Notify, then persist and report. The cycle's messages go out
        // together before the final save: the status report's bucket
        // advances only if the message carrying it was sent, and that save
        // is what persists it.
        self.flush(&mut cycle).await;
        let status_bucket = cycle.status_report().map(|(bucket, event)| {
            self.outbox.push(event);
            bucket
        });
        let delivered = self.deliver().await;
        if let Some(bucket) = status_bucket
            && delivered.last() == Some(&DeliveryStatus::Sent)
        {
            cycle.status_delivered(bucket);
        }
        let equity = cycle.finish();
        self.flush(&mut cycle).await;
        self.final_state = Some(cycle.state.clone());
        self.report.execution_pool = cycle.execution_pool.clone();
        self.report.selected_candidates = cycle.candidate_symbols();
        self.report.equity = Some(equity);
        self.report.intents = std::mem::take(&mut cycle.intents);
        self.report.gates = std::mem::take(&mut cycle.gates);
        self.report.warnings.append(&mut cycle.warnings);
        for message in std::mem::take(&mut cycle.attention) {
            self.report.attention(message);
        }
        self.report.log_lines = std::mem::take(&mut cycle.log_lines);
        self.report.state_after = Some(cycle.state.to_value());
        Ok(())
    }

    /// Looks every pending order up on the exchange and settles it; an
    /// order that cannot be looked up stops the cycle (planning on a guess
    /// could place it twice).
    async fn reconcile(&mut self, state: &mut StateDoc) -> Result<(), Stop> {
        let pending: Vec<PendingOrder> = state.pending_orders.values().cloned().collect();
        for order in pending {
            let found = self.run.exchange.query_order(&order.symbol, &order.client_order_id).await.map_err(|e| {
                (
                    Status::Aborted,
                    "reconcile",
                    format!("could not look up pending order {} on the exchange: {e}", order.client_order_id),
                )
            })?;
            let found = match found {
                Some(report) => Some(report),
                None => self.find_in_order_list(&order).await?,
            };
            let outcome = reconcile::settle(state, &order, found.as_ref(), self.run.now);
            let (kind, detail) = match &outcome {
                Settlement::Settled { executed_qty, quote_qty } => {
                    ("settled", format!("executed {} for {} USDT", executed_qty.normalize(), quote_qty.normalize()))
                }
                Settlement::Dropped(why) => ("dropped", why.clone()),
                Settlement::Kept(why) => ("kept", why.clone()),
            };
            self.report.reconciled.push(Reconciliation {
                client_order_id: order.client_order_id.clone(),
                symbol: order.symbol.clone(),
                outcome: kind.to_string(),
                detail,
            });
        }
        if !self.report.reconciled.is_empty() {
            self.save_state(state, "reconcile_pending_orders").await;
        }
        Ok(())
    }

    /// The order list since shortly before the order was written ahead:
    /// a lookup by client id can miss an order the list already shows.
    async fn find_in_order_list(&self, order: &PendingOrder) -> Result<Option<OrderReport>, Stop> {
        let created = DateTime::parse_from_rfc3339(&order.created_at).map(|t| t.with_timezone(&Utc));
        // Binance's order list reaches one day back at most.
        let since = created.unwrap_or(self.run.now).max(self.run.now - chrono::Duration::hours(23))
            - chrono::Duration::minutes(1);
        let orders = self.run.exchange.orders_since(&order.symbol, since).await.map_err(|e| {
            (
                Status::Aborted,
                "reconcile",
                format!("could not list the orders of {} on the exchange: {e}", order.symbol),
            )
        })?;
        Ok(orders.into_iter().rev().find(|o| o.client_order_id == order.client_order_id))
    }

    fn resolve_pool(&self, raw_state: &Value) -> Result<PoolResolution, String> {
        let contract = &self.run.settings.contract;
        match &self.run.pool {
            PoolInput::Injected(payload) => ladder::resolve_injected(payload, contract, self.run.now),
            PoolInput::Ladder { fresh, local_root } => {
                let last_known_good = raw_state.get("trend_pool_last_good_payload");
                let mut paths: Vec<PathBuf> = Vec::new();
                if let Some(f) = &self.run.settings.artifact_file {
                    paths.push(local_root.join(f));
                }
                paths.push(local_root.join("artifacts").join("live_pool_legacy.json"));
                paths.dedup();
                let local_files = paths.into_iter().map(read_candidate).collect();
                Ok(ladder::resolve_ladder(
                    LadderInputs { fresh: fresh.clone(), last_known_good, local_files },
                    contract,
                    self.run.settings.lkg_max_age_days,
                    self.run.now,
                ))
            }
        }
    }

    /// Executes one intent: an Earn move through [`Shell::earn_move`]; an
    /// order after a fallback redeem if spot is still short (the planned
    /// redeem normally covered it), written ahead to the ledger, sent, and
    /// its outcome applied. An order spot cannot fund is skipped with a
    /// reason, an alert and the operator's attention.
    async fn execute(&mut self, cycle: &mut Cycle, intent: Intent) {
        if !intent.kind.is_order() {
            self.earn_move(cycle, intent).await;
            return;
        }
        if let Some(redeem) = cycle.funding_for(&intent) {
            self.earn_move(cycle, redeem).await;
        }
        match cycle.check_funded(&intent) {
            Err(why) => cycle.skip_unfunded(intent, why),
            Ok(()) => {
                let outcome = self.perform(cycle, &intent).await;
                cycle.apply(intent, outcome);
            }
        }
        self.flush(cycle).await;
    }

    /// One Simple Earn move. A second move in the run first waits out
    /// [`EARN_MOVE_SPACING`] on the clock. After a confirmed redeem it waits
    /// (bounded, in the executor) for the money to reach spot; what has not
    /// arrived is booked as in transit and saved at once. A process that
    /// dies between the redeem's answer and that save leaves the money in
    /// flight unrecorded: the next run reads it as a withdrawal only if the
    /// credit is still not on spot when that run starts.
    async fn earn_move(&mut self, cycle: &mut Cycle, intent: Intent) {
        let live = !self.suppress();
        if live && let Some(last) = self.last_earn_move {
            let ready = last + chrono::Duration::from_std(EARN_MOVE_SPACING).unwrap_or_default();
            if let Ok(wait) = (ready - self.run.clock.now()).to_std()
                && !wait.is_zero()
            {
                self.run.clock.sleep(wait).await;
            }
        }
        let redeem = (intent.kind == IntentKind::EarnRedeem)
            .then(|| (intent.asset.clone(), cycle.spot_free(&intent.asset) + intent.amount.unwrap_or_default()));
        let outcome = self.perform(cycle, &intent).await;
        if live {
            self.last_earn_move = Some(self.run.clock.now());
        }
        let redeemed = matches!(outcome, Outcome::EarnDone);
        cycle.apply(intent, outcome);
        if redeemed && let Some((asset, expected)) = redeem {
            let seen = self.run.executor.await_funds(&asset, expected).await;
            cycle.note_redeem_arrival(&asset, seen);
        }
        self.flush(cycle).await;
    }

    /// Sends one intent, or records it as suppressed. An order is first
    /// written ahead to the state's pending ledger; if that save fails, or an
    /// order with the same client id is still pending, it is not sent.
    async fn perform(&mut self, cycle: &mut Cycle, intent: &Intent) -> Outcome {
        if self.suppress() {
            return Outcome::Suppressed;
        }
        if let Some(id) = intent.client_order_id.as_deref() {
            if cycle.state.pending_orders.contains_key(id) {
                return Outcome::Skipped(format!(
                    "order {id} is still pending from an earlier attempt; not sent again"
                ));
            }
            cycle.write_ahead(intent, &self.run.run_id);
            if !self.save_state(&cycle.state, &format!("write_ahead:{id}")).await {
                cycle.state.pending_orders.shift_remove(id);
                return Outcome::Skipped("the write-ahead save failed; order not sent".into());
            }
        }
        self.run.executor.perform(intent).await
    }

    /// Performs the saves the cycle queued, in order, and moves its
    /// notifications to the outbox.
    async fn flush(&mut self, cycle: &mut Cycle) {
        for effect in cycle.drain_effects() {
            match effect {
                Effect::Save(reason) => {
                    self.save_state(&cycle.state, &reason).await;
                }
                Effect::Notify(event) => self.outbox.push(event),
            }
        }
    }

    /// Saves the state (retrying transient failures with backoff; a
    /// concurrent writer is never overwritten). Returns whether it was saved.
    async fn save_state(&mut self, state: &StateDoc, reason: &str) -> bool {
        if self.suppress() {
            self.report.state_writes.push(StateWrite { reason: reason.to_string(), status: WriteStatus::Suppressed });
            return true;
        }
        let doc = state.to_value();
        let mut delay = self.run.save_policy.backoff;
        let mut attempt = 1;
        let result = loop {
            match self.run.store.save(&doc).await {
                Err(PortError::Retryable(e)) if attempt < self.run.save_policy.attempts => {
                    tracing::warn!("state save ({reason}) failed, retrying in {delay:?}: {e}");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => break other,
            }
        };
        let status = match result {
            Ok(()) => WriteStatus::Written,
            Err(e) => {
                self.report.fail(
                    Status::Error,
                    "state_save",
                    format!("saving state ({reason}) failed after {attempt} attempt(s): {e}"),
                );
                WriteStatus::Failed
            }
        };
        self.report.state_writes.push(StateWrite { reason: reason.to_string(), status });
        status == WriteStatus::Written
    }

    /// Writes the state that could not be saved to
    /// `artifacts/state-recovery-<run_id>.json` and queues the alert.
    fn write_recovery(&mut self) {
        let (Some(dir), Some(state)) = (self.run.artifacts_dir.clone(), self.final_state.as_ref()) else { return };
        let path = dir.join(format!("state-recovery-{}.json", self.run.run_id));
        let text = serde_json::to_string_pretty(&state.to_value()).unwrap_or_default();
        let written = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, text + "\n"));
        let shown = path.display().to_string();
        match written {
            Ok(()) => self.report.recovery_file = Some(shown.clone()),
            Err(e) => self.report.warnings.push(format!("could not write the recovery file {shown}: {e}")),
        }
        let stage = self.report.errors.iter().find(|e| e.stage == "state_save");
        let error = stage.map(|e| e.message.clone()).unwrap_or_default();
        self.outbox.push(Event::StateSaveFailed { error, path: shown });
    }

    /// Sends the queued notifications: one message each when there are at
    /// most [`MAX_SEPARATE_MESSAGES`], otherwise coalesced into as few
    /// messages as fit. Each event's record gets the status of the message
    /// that carried it; a failure is a warning, never a change of outcome
    /// (design.md §3.12). Returns each event's status, in order.
    async fn deliver(&mut self) -> Vec<DeliveryStatus> {
        let events = std::mem::take(&mut self.outbox);
        let lang = self.run.settings.lang;
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
                    None => match self.run.notifier.send(&format!("{}:\n{body}", messages::prefix(lang))).await {
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
                self.report.warnings.push(format!("notification {} not delivered: {e}", event.name()));
            }
            self.report.notifications.push(NotificationRecord { event: event.name().to_string(), status, text, error });
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
