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
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::config::Settings;
use crate::domain::intent::{Intent, IntentKind, NotSentClass};
use crate::domain::pool::{PoolResolution, Universe};
use crate::domain::report::{
    DeliveryStatus, Mode, NotificationRecord, PoolReport, Reconciliation, Report, StateWrite, Status, WriteStatus,
};
use crate::domain::snapshot::{BtcSnapshot, Indicators, MarketData, Series};
use crate::domain::state::{PENDING_QUARANTINED, PendingOrder, StateDoc};
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
    /// Warnings for the run report gathered while performing (e.g. a fill's
    /// fee that could not be read); taken after each intent.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
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
        let lease = Lease { owner: lease_owner(&self.run_id), lost: None };
        Shell {
            run: self,
            report,
            outbox: Vec::new(),
            final_state: None,
            lease,
            started: Instant::now(),
            last_earn_move: None,
        }
        .run()
        .await
    }
}

/// The run lease's owner: the run id (by default a timestamp to the second,
/// which two runs started in the same second share) made unique per
/// process and per cycle, so two runs can never both "hold" the lease.
pub fn lease_owner(run_id: &str) -> String {
    static CYCLES: AtomicU64 = AtomicU64::new(0);
    // RandomState is keyed from the OS's randomness once per process.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(CYCLES.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("{run_id}/{:016x}", h.finish())
}

/// This run's hold on the run lease (design.md §3.18).
struct Lease {
    owner: String,
    /// Why the run no longer holds it: from then on nothing is sent or saved.
    lost: Option<String>,
}

/// One cycle in progress: the run's inputs, the report being assembled,
/// notifications waiting to go out, and the latest state (for recovery).
struct Shell<'a, E, S, N, X> {
    run: CycleRun<'a, E, S, N, X>,
    report: Report,
    /// Notifications wait here and go out together (see [`Shell::deliver`]).
    outbox: Vec<Event>,
    final_state: Option<StateDoc>,
    lease: Lease,
    /// When the cycle started: the lease is renewed at `now` plus the time
    /// since (the cycle's `now` is fixed, possibly injected).
    started: Instant,
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
        if leased
            && self.lease.lost.is_none()
            && let Err(e) = self.run.store.release_lease(&self.lease.owner).await
        {
            self.report.warnings.push(format!("could not release the run lease: {e}; it expires on its own"));
        }
        self.report
    }

    fn suppress(&self) -> bool {
        self.run.mode.suppresses_side_effects()
    }

    async fn take_lease(&self) -> Result<bool, Stop> {
        let Some(ttl) = self.run.lease_ttl.filter(|_| !self.suppress()) else { return Ok(false) };
        match self.run.store.acquire_lease(&self.lease.owner, self.run.now, ttl).await {
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
        if let Some(why) = &market.earn_unavailable {
            self.report
                .warnings
                .push(format!("Simple Earn is unavailable on this exchange; the cycle runs without it: {why}"));
        }
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
        // Nothing more is sent: entries this run leaves pending no longer
        // need to wait out its lease before the next run may drop them.
        cycle.done_sending();
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
        self.report.log_lines = std::mem::take(&mut cycle.log_lines).into();
        self.report.state_after = Some(cycle.state.to_value());
        Ok(())
    }

    /// Looks every pending order up on the exchange and settles it. An
    /// order found under its id must match the entry (symbol, side, placed
    /// no earlier than written); an order the exchange refuses to look up
    /// (e.g. a delisted symbol) is quarantined, and one that cannot be
    /// looked up right now is kept: neither stops the cycle (sells and the
    /// breaker still run), both block new risk and need attention. A fill
    /// found by lookup has its fee read from the order's trades before it
    /// is booked; if that read fails it is booked without it, with a warning.
    async fn reconcile(&mut self, state: &mut StateDoc) -> Result<(), Stop> {
        for (id, entry) in &state.unreadable_pending {
            self.outbox.push(Event::OrderAttention { detail: entry.advice(id) });
        }
        let pending: Vec<PendingOrder> = state.pending_orders.values().cloned().collect();
        for order in pending {
            let (kind, detail) = match self.look_up(&order).await {
                Ok((mut found, note)) => {
                    if let Some(report) = found.as_mut()
                        && let Some(warning) = crate::shell::execute::read_commissions(self.run.exchange, report).await
                    {
                        self.report.warnings.push(warning);
                    }
                    let outcome = reconcile::settle(state, &order, found.as_ref(), self.run.now);
                    let (kind, why) = match &outcome {
                        Settlement::Settled { executed_qty, quote_qty } => (
                            "settled",
                            format!("executed {} for {} USDT", executed_qty.normalize(), quote_qty.normalize()),
                        ),
                        Settlement::Dropped(why) => ("dropped", why.clone()),
                        Settlement::Kept(why) => ("kept", why.clone()),
                    };
                    (kind, note.map(|n| format!("{why} ({n})")).unwrap_or(why))
                }
                Err(PortError::Definitive(e)) => {
                    let detail = format!(
                        "order {} ({}) cannot be looked up on the exchange: {e}; quarantined: kept in the ledger, \
                         no new {} risk until it is resolved (check it on Binance, then remove pending_orders.{} \
                         from the state document)",
                        order.client_order_id, order.symbol, order.symbol, order.client_order_id
                    );
                    if let Some(entry) = state.pending_orders.get_mut(&order.client_order_id)
                        && entry.status != PENDING_QUARANTINED
                    {
                        // Alerted once, when it is quarantined; each later run
                        // reports it as an attention item.
                        entry.status = PENDING_QUARANTINED.to_string();
                        self.outbox.push(Event::OrderAttention { detail: detail.clone() });
                    }
                    ("quarantined", detail)
                }
                Err(e) => ("kept", format!("could not be looked up this run ({e}); kept, no new risk this cycle")),
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

    /// The exchange's record of a pending order: by client id, else from
    /// the order list; an order under the same id that is not this one
    /// (an older order reusing the id) does not count. Also says why a
    /// found order was passed over.
    async fn look_up(&self, order: &PendingOrder) -> Result<(Option<OrderReport>, Option<String>), PortError> {
        let written = reconcile::written_at(order).unwrap_or(self.run.now);
        let other = |r: &OrderReport| reconcile::mismatch(&order.symbol, order.side, written, r);
        let mut passed_over = None;
        if let Some(report) = self.run.exchange.query_order(&order.symbol, &order.client_order_id).await? {
            match other(&report) {
                None => return Ok((Some(report), None)),
                Some(why) => passed_over = Some(why),
            }
        }
        // The order list since shortly before the order was written ahead:
        // a lookup by client id can miss an order the list already shows.
        // Binance's order list reaches one day back at most.
        let since = written.max(self.run.now - chrono::Duration::hours(23)) - chrono::Duration::minutes(1);
        let orders = self.run.exchange.orders_since(&order.symbol, since).await?;
        let found = orders.into_iter().rev().find(|o| o.client_order_id == order.client_order_id && other(o).is_none());
        Ok((found, passed_over))
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
        if let Some(signal) = crate::shell::stop::requested() {
            self.report.stopped(format!("{signal} received: the intents after it were skipped"));
            let why = crate::shell::stop::SKIP_REASON;
            let skipped = if self.suppress() {
                Outcome::Skipped(why.into())
            } else {
                Outcome::not_sent(NotSentClass::Stopped, why)
            };
            cycle.apply(intent, skipped);
            self.flush(cycle).await;
            return;
        }
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
        // A live redeem is written ahead like an order: if the process dies
        // before its answer, the next run still knows money may be in flight.
        let ahead = (live && redeem.is_some()).then(|| cycle.write_ahead_redeem(&intent));
        if ahead.is_some() && !self.save_state(&cycle.state, &format!("write_ahead:earn_redeem:{}", intent.asset)).await
        {
            cycle.redeem_answered(&intent.asset, ahead.flatten(), &Outcome::Suppressed);
            cycle.apply(
                intent,
                Outcome::not_sent(NotSentClass::WriteAheadFailed, "the write-ahead save failed; redeem not sent"),
            );
            self.flush(cycle).await;
            return;
        }
        let outcome = self.perform(cycle, &intent).await;
        if let Some(previous) = ahead {
            cycle.redeem_answered(&intent.asset, previous, &outcome);
        }
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

    /// Sends one intent, or records it as suppressed. The run lease is
    /// renewed first (a run that lost it sends nothing). An order is then
    /// written ahead to the state's pending ledger; if that save fails, or an
    /// order with the same client id is still pending, it is not sent.
    async fn perform(&mut self, cycle: &mut Cycle, intent: &Intent) -> Outcome {
        if self.suppress() {
            return Outcome::Suppressed;
        }
        if let Some(why) = &self.lease.lost {
            return Outcome::not_sent(NotSentClass::LeaseLost, format!("not sent: {why}"));
        }
        if let Some(id) = intent.client_order_id.as_deref()
            && cycle.state.pending_orders.contains_key(id)
        {
            return Outcome::not_sent(
                NotSentClass::AlreadyPending,
                format!("order {id} is still pending from an earlier attempt; not sent again"),
            );
        }
        // Every side effect (orders and Earn moves) first re-checks the fence.
        let lease_until = match self.fence().await {
            Ok(until) => until,
            Err(why) => return Outcome::not_sent(NotSentClass::LeaseLost, format!("not sent: {why}")),
        };
        if let Some(id) = intent.client_order_id.as_deref() {
            cycle.write_ahead(intent, &self.run.run_id);
            if let Some(entry) = cycle.state.pending_orders.get_mut(id) {
                entry.lease_until = lease_until;
            }
            if !self.save_state(&cycle.state, &format!("write_ahead:{id}")).await {
                cycle.state.pending_orders.shift_remove(id);
                return Outcome::not_sent(
                    NotSentClass::WriteAheadFailed,
                    "the write-ahead save failed; order not sent",
                );
            }
            // Only send while the lease written into the entry still holds:
            // after that a next run may take over and drop the entry.
            if lease_until.is_some_and(|until| self.lease_now() >= until) {
                return Outcome::not_sent(
                    NotSentClass::LeaseLost,
                    "the run lease ran out before the order could be sent; not sent",
                );
            }
        }
        let outcome = self.run.executor.perform(intent).await;
        self.report.warnings.append(&mut self.run.executor.take_warnings());
        outcome
    }

    /// The cycle's clock for the lease: its (possibly injected) start plus
    /// the real time elapsed since.
    fn lease_now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap_or(chrono::Duration::zero());
        self.run.now + elapsed
    }

    /// Renews the run lease before a write-ahead; returns until when it now
    /// holds (`None` when this run takes no lease). A lease taken over, or
    /// one that cannot be renewed, is lost for good: the report says why,
    /// the operator is alerted, and nothing more is sent or saved.
    async fn fence(&mut self) -> Result<Option<DateTime<Utc>>, String> {
        let Some(ttl) = self.run.lease_ttl else { return Ok(None) };
        let now = self.lease_now();
        let why = match self.run.store.renew_lease(&self.lease.owner, now, ttl).await {
            Ok(true) => return Ok(crate::adapters::store::lease_expiry(now, ttl).ok()),
            Ok(false) => format!(
                "this run ({}) lost the run lease to another cycle; it sends and saves nothing more",
                self.lease.owner
            ),
            Err(e) => format!("the run lease could not be renewed ({e}); this run sends and saves nothing more"),
        };
        self.report.fail(Status::Error, "lease_lost", why.clone());
        self.outbox.push(Event::OrderAttention { detail: why.clone() });
        self.lease.lost = Some(why.clone());
        Err(why)
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
        if let Some(why) = self.lease.lost.clone() {
            self.report.fail(Status::Error, "state_save", format!("state ({reason}) not saved: {why}"));
            self.report.state_writes.push(StateWrite { reason: reason.to_string(), status: WriteStatus::Failed });
            return false;
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
        let stem = format!("state-recovery-{}", self.run.run_id);
        let text = serde_json::to_string_pretty(&state.to_value()).unwrap_or_default();
        // Atomic, and never over an earlier run's recovery file (same run id).
        let shown = match crate::shell::artifacts::write_new(&dir, &stem, &text) {
            Ok(path) => {
                self.report.recovery_file = Some(path.display().to_string());
                path.display().to_string()
            }
            Err(e) => {
                let shown = dir.join(format!("{stem}.json")).display().to_string();
                self.report.warnings.push(format!("could not write the recovery file {shown}: {e}"));
                shown
            }
        };
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
