//! The alert conditions a finished cycle observed (issue 11), read from
//! what the cycle already knows: the pool's source, the pending ledger,
//! the Earn moves refused and the buys skipped for funds, the breaker. The
//! alert book in the state then moves on from them
//! ([`crate::domain::alerts`]). Separate from the steps that produce these
//! facts because it only reads them.

use chrono::{DateTime, Duration, Utc};

use super::Cycle;
use crate::domain::alerts::{Condition, Severity, Transition, rfc3339};
use crate::domain::intent::{Intent, NotSentClass, OutcomeClass};
use crate::domain::pause::Pause;
use crate::domain::pool::SourceKind;
use crate::domain::state::PENDING_QUARANTINED;
use crate::strategy::cycle::BTC_SYMBOL;

/// RUNBOOK.md headings the alert messages point to (`tests/alerts.rs`
/// checks each exists).
pub const RUNBOOK_POOL: &str = "Upstream pool stale or malformed";
pub const RUNBOOK_UNRESOLVED: &str = "Unresolved order";
pub const RUNBOOK_QUARANTINED: &str = "Quarantined order";
pub const RUNBOOK_UNREADABLE: &str = "Unreadable pending order entry";
pub const RUNBOOK_ATTENTION: &str = "Cycle needs attention (exit 5)";
pub const RUNBOOK_BREAKER: &str = "Circuit breaker fired";
pub const RUNBOOK_STATE_SAVE: &str = "State save failed";
pub const RUNBOOK_BINANCE: &str = "Binance unreachable or refusing";
pub const RUNBOOK_CLOCK_SKEW: &str = "Clock skew";
pub const RUNBOOK_WEIGHT: &str = "Request weight high";
pub const RUNBOOK_LEASE_TAKEOVER: &str = "Lease taken over from a run that died";
pub const RUNBOOK_MARKET_STALE: &str = "Market data stale";

/// Binance refuses a signed request whose timestamp is off by more than
/// `recvWindow`; a second of drift is the operator's early warning.
pub const CLOCK_SKEW_LIMIT_MS: i64 = 1_000;
/// Used request weight above this share (in percent) of the per-minute
/// limit is a warning: the next burst could be refused with 429 or a ban.
pub const WEIGHT_ALERT_PERCENT: u64 = 80;
/// A daily series whose newest candle opened longer ago than this is
/// stale: the indicators computed from it would describe another market.
pub const MARKET_STALE_AFTER_DAYS: i64 = 2;

fn condition(key: String, severity: Severity, scope: &str, reason: String, runbook: &str) -> Condition {
    Condition { key, severity, scope: scope.to_string(), reason, runbook: runbook.to_string() }
}

impl Cycle {
    /// What this cycle observed that the operator must hear about, in a
    /// stable order (pool, ledger, Earn, funds, breaker).
    pub fn conditions(&self) -> Vec<Condition> {
        let mut found = Vec::new();
        let source = self.resolution.source_kind;
        let pool_reason = format!(
            "the upstream pool came from {} ({}); new trend entries are paused unless \
             STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED=1",
            source.as_str(),
            self.resolution.source_label
        );
        match source {
            SourceKind::FreshUpstream => {}
            SourceKind::LastKnownGood | SourceKind::LocalFile => {
                found.push(condition(
                    "pool_degraded".into(),
                    Severity::Sev2,
                    "upstream pool",
                    pool_reason,
                    RUNBOOK_POOL,
                ));
            }
            SourceKind::Static => {
                found.push(condition("pool_static".into(), Severity::Sev2, "upstream pool", pool_reason, RUNBOOK_POOL));
            }
        }
        for (id, order) in &self.state.pending_orders {
            if order.status == PENDING_QUARANTINED {
                let why = order.quarantine_reason.as_deref().unwrap_or("it cannot be looked up on the exchange");
                let reason = format!("order {id} is quarantined ({why}); no new risk in its symbol");
                found.push(condition(
                    format!("order_quarantined:{id}"),
                    Severity::Sev1,
                    &order.symbol,
                    reason,
                    RUNBOOK_QUARANTINED,
                ));
            } else {
                let reason = format!("the outcome of order {id} is unknown; no buys or Earn moves until it is settled");
                found.push(condition(
                    format!("order_unresolved:{id}"),
                    Severity::Sev2,
                    &order.symbol,
                    reason,
                    RUNBOOK_UNRESOLVED,
                ));
            }
        }
        for id in self.state.unreadable_pending.keys() {
            let reason = format!("pending_orders.{id} in the state document cannot be read; no new risk until fixed");
            found.push(condition(format!("order_unreadable:{id}"), Severity::Sev1, id, reason, RUNBOOK_UNREADABLE));
        }
        for asset in &self.earn_refused {
            let reason = format!("a Simple Earn move of {asset} failed this cycle; the money stays where it was");
            found.push(condition(format!("earn_refused:{asset}"), Severity::Sev2, asset, reason, RUNBOOK_ATTENTION));
        }
        for symbol in &self.buys_skipped_for_funds {
            let reason = format!("a buy of {symbol} was skipped: spot did not hold the funds it needs");
            found.push(condition(
                format!("buy_skipped_funds:{symbol}"),
                Severity::Sev2,
                symbol,
                reason,
                RUNBOOK_ATTENTION,
            ));
        }
        found.extend(crate::strategy::parity::conditions(&self.position_mismatches));
        if self.state.is_circuit_broken {
            let reason = "the daily circuit breaker is latched: the trend sleeve trades nothing today \
                          (BTC DCA and the Earn buffer continue)"
                .to_string();
            found.push(condition("breaker_latched".into(), Severity::Sev2, "trend sleeve", reason, RUNBOOK_BREAKER));
        }
        found
    }

    /// Moves the state's alert book on by this cycle's conditions plus the
    /// shell's `extra` ones; returns each key's change.
    pub fn advance_alerts(&mut self, extra: &[Condition], remind: Duration) -> Vec<Transition> {
        let mut observed = self.conditions();
        observed.extend_from_slice(extra);
        let (book, transitions) = self.state.alerts.advance(&observed, self.now, remind);
        self.state.alerts = book;
        transitions
    }
}

/// The condition the shell observes when the state could not be saved.
pub fn state_save_failed(reason: String) -> Condition {
    condition("state_save_failed".into(), Severity::Sev1, "state store", reason, RUNBOOK_STATE_SAVE)
}

/// `upstream_stale` (SEV-2) once the pool was not fresh for `threshold`
/// cycles in a row (`UPSTREAM_STALE_ALERT_CYCLES`).
pub fn upstream_stale(non_fresh: u64, threshold: u64) -> Option<Condition> {
    (non_fresh >= threshold.max(1)).then(|| {
        let reason =
            format!("the upstream pool could not be used fresh for {non_fresh} cycles in a row; check the publisher");
        condition("upstream_stale".into(), Severity::Sev2, "upstream pool", reason, RUNBOOK_POOL)
    })
}

/// `binance_auth` (SEV-1): Binance refused the API key (401, -2014, -2015,
/// -1022, -1002) at `stage`.
pub fn binance_auth(stage: &str, detail: &str) -> Condition {
    let reason =
        format!("Binance refused the API key during {stage} ({detail}); nothing is traded until the key works again");
    condition("binance_auth".into(), Severity::Sev1, "Binance API key", reason, RUNBOOK_BINANCE)
}

/// `binance_auth` for a cycle that ran through but had an order or Earn
/// move refused because of the key (the intent is not sent, class `auth`).
pub fn auth_refused_intents(intents: &[Intent]) -> Option<Condition> {
    let refused = intents.iter().find(|i| i.outcome == Some(OutcomeClass::NotSent(NotSentClass::Auth)))?;
    let what = refused.symbol.as_deref().unwrap_or(refused.kind.as_str());
    let detail = refused.error.as_deref().unwrap_or("refused");
    Some(binance_auth(&format!("an order ({what})"), detail))
}

/// `clock_skew` (SEV-2) when Binance's clock and ours differ by more than
/// [`CLOCK_SKEW_LIMIT_MS`].
pub fn clock_skew(offset_ms: i64) -> Option<Condition> {
    (offset_ms.abs() > CLOCK_SKEW_LIMIT_MS).then(|| {
        let reason = format!(
            "Binance's clock and this host's differ by {offset_ms} ms (more than {CLOCK_SKEW_LIMIT_MS} ms); \
             signed requests may be refused with -1021"
        );
        condition("clock_skew".into(), Severity::Sev2, "host clock", reason, RUNBOOK_CLOCK_SKEW)
    })
}

/// `request_weight_high` (SEV-3) when the highest used weight this run is
/// above [`WEIGHT_ALERT_PERCENT`] of `limit`.
pub fn request_weight_high(used: u64, limit: u64) -> Option<Condition> {
    (used.saturating_mul(100) > limit.saturating_mul(WEIGHT_ALERT_PERCENT)).then(|| {
        let reason = format!(
            "Binance reported {used} of {limit} request weight used in one minute (above {WEIGHT_ALERT_PERCENT} %); \
             another client on this IP, or a retry storm, may get this run refused"
        );
        condition("request_weight_high".into(), Severity::Sev3, "Binance request weight", reason, RUNBOOK_WEIGHT)
    })
}

/// `lease_takeover` (SEV-3): this run took the lease of `previous_owner`,
/// which ran out at `expired_at` without being released: that run died.
pub fn lease_takeover(previous_owner: &str, expired_at: DateTime<Utc>) -> Condition {
    let reason = format!(
        "this run took over the run lease of {previous_owner}, which expired at {} without being released: \
         that run died part-way",
        rfc3339(expired_at)
    );
    condition("lease_takeover".into(), Severity::Sev3, "run lease", reason, RUNBOOK_LEASE_TAKEOVER)
}

/// Whether a lease found before taking it means the run that held it died:
/// another owner's lease, already expired at `now` (a run that ends
/// releases its lease).
pub fn is_takeover(holder: Option<&(String, DateTime<Utc>)>, owner: &str, now: DateTime<Utc>) -> bool {
    holder.is_some_and(|(held_by, expires_at)| held_by != owner && *expires_at <= now)
}

/// Whether a daily series whose newest candle opened at `newest_open` (ms)
/// is stale at `now`; a series without candles is stale too.
pub fn market_is_stale(newest_open_ms: Option<i64>, now: DateTime<Utc>) -> bool {
    match newest_open_ms.and_then(DateTime::from_timestamp_millis) {
        Some(open) => now - open > Duration::days(MARKET_STALE_AFTER_DAYS),
        None => true,
    }
}

/// `market_data_stale:<SYMBOL>` (SEV-2): the symbol's newest daily candle
/// is older than [`MARKET_STALE_AFTER_DAYS`]; new entries in it are blocked.
pub fn market_data_stale(symbol: &str, newest_open_ms: Option<i64>) -> Condition {
    let newest = newest_open_ms.and_then(DateTime::from_timestamp_millis).map_or("none".to_string(), rfc3339);
    let reason = format!(
        "the newest daily kline of {symbol} opened at {newest}, more than {MARKET_STALE_AFTER_DAYS} days ago; \
         its indicators are not trusted: no new entries in it"
    );
    condition(format!("market_data_stale:{symbol}"), Severity::Sev2, symbol, reason, RUNBOOK_MARKET_STALE)
}

/// New risk pauses for the cycle when BTC's own daily series is stale:
/// the regime that gates trend entries and the DCA signals are computed
/// from it (sells and risk reduction still run).
pub fn stale_btc_pause(observed: &[Condition]) -> Option<Pause> {
    let key = format!("market_data_stale:{BTC_SYMBOL}");
    observed.iter().find(|c| c.key == key).map(|c| Pause {
        reason: format!("market data stale: {}", c.reason),
        by: format!("alert:{key}"),
        since: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap() + Duration::hours(hour)
    }

    #[test]
    fn upstream_stale_from_the_threshold_on() {
        assert_eq!(upstream_stale(2, 3), None);
        let c = upstream_stale(3, 3).expect("raised at the threshold");
        assert_eq!((c.key.as_str(), c.severity, c.runbook.as_str()), ("upstream_stale", Severity::Sev2, RUNBOOK_POOL));
        assert!(c.reason.starts_with("the upstream pool could not be used fresh for 3 cycles in a row"));
        assert!(upstream_stale(1, 0).is_some(), "a threshold of 0 means 1");
        assert_eq!(upstream_stale(0, 0), None);
    }

    #[test]
    fn clock_skew_beyond_one_second_either_way() {
        assert_eq!(clock_skew(1_000), None);
        assert_eq!(clock_skew(-500), None);
        let c = clock_skew(-2_000).expect("raised");
        assert_eq!((c.key.as_str(), c.severity), ("clock_skew", Severity::Sev2));
        assert!(c.reason.contains("differ by -2000 ms"), "{}", c.reason);
        assert!(clock_skew(1_001).is_some());
    }

    #[test]
    fn request_weight_above_eighty_percent() {
        assert_eq!(request_weight_high(4_800, 6_000), None, "exactly 80 % is not above");
        let c = request_weight_high(4_801, 6_000).expect("raised");
        assert_eq!((c.key.as_str(), c.severity), ("request_weight_high", Severity::Sev3));
        assert!(c.reason.contains("4801 of 6000"), "{}", c.reason);
    }

    #[test]
    fn a_takeover_is_another_owners_expired_lease() {
        let held = |owner: &str, hour: i64| Some((owner.to_string(), at(hour)));
        assert!(is_takeover(held("run-a/1", 0).as_ref(), "run-b/2", at(1)));
        assert!(is_takeover(held("run-a/1", 1).as_ref(), "run-b/2", at(1)), "expiring now is expired");
        assert!(!is_takeover(held("run-a/1", 2).as_ref(), "run-b/2", at(1)), "a live lease is not taken");
        assert!(!is_takeover(held("run-b/2", 0).as_ref(), "run-b/2", at(1)), "our own lease");
        assert!(!is_takeover(None, "run-b/2", at(1)), "a free lease");
        let c = lease_takeover("run-a/1", at(0));
        assert_eq!((c.key.as_str(), c.severity), ("lease_takeover", Severity::Sev3));
        assert!(c.reason.contains("run-a/1, which expired at 2026-03-29T00:00:00Z"), "{}", c.reason);
    }

    #[test]
    fn market_data_is_stale_when_the_newest_candle_opened_over_two_days_ago() {
        let ms = |t: DateTime<Utc>| Some(t.timestamp_millis());
        assert!(!market_is_stale(ms(at(0)), at(48)), "exactly two days is not older");
        assert!(market_is_stale(ms(at(0)), at(49)));
        assert!(!market_is_stale(ms(at(30)), at(49)));
        assert!(market_is_stale(None, at(0)), "no candle at all");
        let c = market_data_stale("ETHUSDT", ms(at(0)));
        assert_eq!((c.key.as_str(), c.scope.as_str()), ("market_data_stale:ETHUSDT", "ETHUSDT"));
        assert!(c.reason.contains("opened at 2026-03-29T00:00:00Z"), "{}", c.reason);
    }

    #[test]
    fn stale_btc_klines_pause_new_risk_and_a_stale_altcoin_does_not() {
        let eth = market_data_stale("ETHUSDT", None);
        assert_eq!(stale_btc_pause(std::slice::from_ref(&eth)), None);
        let btc = market_data_stale("BTCUSDT", Some(at(0).timestamp_millis()));
        let pause = stale_btc_pause(&[eth, btc]).expect("paused");
        assert_eq!(pause.by, "alert:market_data_stale:BTCUSDT");
        assert!(pause.reason.starts_with("market data stale: the newest daily kline of BTCUSDT"), "{}", pause.reason);
    }

    #[test]
    fn an_auth_refusal_is_sev1_and_names_the_stage() {
        let c = binance_auth("the market read", "authentication failed: -2015");
        assert_eq!((c.key.as_str(), c.severity, c.runbook.as_str()), ("binance_auth", Severity::Sev1, RUNBOOK_BINANCE));
        assert!(
            c.reason.starts_with("Binance refused the API key during the market read (authentication failed: -2015)")
        );
    }
}
