//! The rolling 7-day baseline of an account (issue 11, "Anomaly against a
//! rolling baseline"): a few numbers per cycle — wall time, requests sent,
//! request weight, intents planned and executed, equity change — kept in
//! the state document under `baseline`, and the pure test that flags a
//! cycle far outside them as a SEV-3 `anomaly:<signal>` condition.
//!
//! The deterministic alert rules stay the primary path; an anomaly only
//! adds a hint ("this cycle took ten times as long as usual"). The test is
//! robust on purpose: median and median absolute deviation (MAD), not mean
//! and standard deviation, so one earlier outlier does not widen the band,
//! and a floor per signal, so a signal that never moves (MAD 0, e.g. the
//! same number of requests every hour) is not flagged for a change of one.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::alerts::{Condition, Severity};

/// How far back the baseline reaches.
pub const WINDOW_DAYS: i64 = 7;
/// Fewer earlier cycles than this (a day of hourly cycles) flag nothing:
/// a median of a handful of cycles is not a baseline.
pub const MIN_SAMPLES: usize = 24;
/// A value further than this many MADs from the median is an anomaly.
pub const MAD_LIMIT: f64 = 4.0;
/// At most this many samples are kept (two weeks of hourly cycles), so a
/// cycle scheduled every few minutes cannot grow the state document past
/// Firestore's 1 MiB per document.
pub const MAX_SAMPLES: usize = 336;
/// RUNBOOK.md heading the anomaly messages point to.
pub const RUNBOOK_ANOMALY: &str = "Anomaly against the baseline";

/// What one cycle measured. Signals the run could not measure (requests
/// on the paper exchange, equity when the cycle stopped before valuing the
/// account) are `None` and take no part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// Wall time from the start of the cycle to its alerts, milliseconds.
    pub wall_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// The highest used request weight Binance reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
    pub planned: u64,
    pub executed: u64,
    /// The account's pre-trade total (USDT); the signal is its relative
    /// change from the previous sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equity_usdt: Option<f64>,
}

/// One signal of the baseline: its key and how to read it from a sample
/// (and the sample before it, for changes).
struct Signal {
    key: &'static str,
    what: &'static str,
    /// The least band half-width (in the signal's unit) however still the
    /// history is.
    floor: f64,
    read: fn(&Sample, Option<&Sample>) -> Option<f64>,
}

const SIGNALS: &[Signal] = &[
    Signal { key: "wall_time", what: "cycle wall time (ms)", floor: 2_000.0, read: |s, _| Some(s.wall_ms as f64) },
    Signal { key: "requests", what: "Binance requests", floor: 5.0, read: |s, _| s.requests.map(|r| r as f64) },
    Signal { key: "request_weight", what: "request weight used", floor: 50.0, read: |s, _| s.weight.map(|w| w as f64) },
    Signal { key: "intents_planned", what: "intents planned", floor: 2.0, read: |s, _| Some(s.planned as f64) },
    Signal { key: "intents_executed", what: "intents executed", floor: 2.0, read: |s, _| Some(s.executed as f64) },
    Signal { key: "equity_change", what: "equity change per cycle (ratio)", floor: 0.02, read: equity_change },
];

fn equity_change(sample: &Sample, previous: Option<&Sample>) -> Option<f64> {
    let (now, before) = (sample.equity_usdt?, previous?.equity_usdt?);
    (before > 0.0).then(|| (now - before) / before)
}

/// One signal far outside its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub signal: &'static str,
    pub what: &'static str,
    pub value: f64,
    pub median: f64,
    /// The band half-width used: `MAD_LIMIT` MADs, at least the floor.
    pub band: f64,
    pub samples: usize,
}

impl Anomaly {
    pub fn condition(&self) -> Condition {
        Condition {
            key: format!("anomaly:{}", self.signal),
            severity: Severity::Sev3,
            scope: "7-day baseline".to_string(),
            reason: format!(
                "{} was {} this cycle, far outside the last {} days (median {}, expected within ±{} over {} cycles); \
                 the deterministic alerts say whether anything is wrong",
                self.what,
                round(self.value),
                WINDOW_DAYS,
                round(self.median),
                round(self.band),
                self.samples
            ),
            runbook: RUNBOOK_ANOMALY.to_string(),
        }
    }
}

fn round(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The samples of the last [`WINDOW_DAYS`], oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Baseline(pub Vec<Sample>);

impl Baseline {
    /// Reads the state's `baseline`; a hand-broken entry loses only itself
    /// (the baseline is a hint, never a reason to stop a cycle).
    pub fn from_json(value: Option<&Value>) -> Baseline {
        let entries = value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        Baseline(entries.iter().filter_map(|e| serde_json::from_value(e.clone()).ok()).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The samples inside the window ending at `now`.
    fn recent(&self, now: DateTime<Utc>) -> impl Iterator<Item = (usize, &Sample)> {
        let since = now - Duration::days(WINDOW_DAYS);
        self.0.iter().enumerate().filter(move |(_, s)| s.at > since && s.at <= now)
    }

    /// The signals of `current` far outside the baseline, in [`SIGNALS`]
    /// order. `current` is not part of the baseline yet.
    pub fn assess(&self, current: &Sample) -> Vec<Anomaly> {
        let previous = self.0.last();
        SIGNALS
            .iter()
            .filter_map(|signal| {
                let value = (signal.read)(current, previous)?;
                let history: Vec<f64> = self
                    .recent(current.at)
                    .filter_map(|(i, s)| (signal.read)(s, i.checked_sub(1).map(|p| &self.0[p])))
                    .collect();
                if history.len() < MIN_SAMPLES {
                    return None;
                }
                let median = median(history.clone());
                let mad = median_abs_deviation(&history, median);
                let band = (MAD_LIMIT * mad).max(signal.floor);
                ((value - median).abs() > band).then_some(Anomaly {
                    signal: signal.key,
                    what: signal.what,
                    value,
                    median,
                    band,
                    samples: history.len(),
                })
            })
            .collect()
    }

    /// Adds `sample` and forgets what fell out of the window or over the cap.
    pub fn record(&mut self, sample: Sample) {
        let since = sample.at - Duration::days(WINDOW_DAYS);
        self.0.retain(|s| s.at > since && s.at <= sample.at);
        self.0.push(sample);
        let excess = self.0.len().saturating_sub(MAX_SAMPLES);
        self.0.drain(..excess);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

fn median_abs_deviation(values: &[f64], median_value: f64) -> f64 {
    median(values.iter().map(|v| (v - median_value).abs()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::hours(hour)
    }

    fn sample(hour: i64, wall_ms: u64) -> Sample {
        Sample {
            at: at(hour),
            wall_ms,
            requests: Some(20),
            weight: Some(60),
            planned: 1,
            executed: 1,
            equity_usdt: Some(1000.0),
        }
    }

    /// `n` hourly samples whose wall time alternates 900/1100 ms.
    fn hourly(n: i64) -> Baseline {
        let mut b = Baseline::default();
        for h in 0..n {
            b.record(sample(h, if h % 2 == 0 { 900 } else { 1100 }));
        }
        b
    }

    #[test]
    fn a_cycle_inside_the_baseline_flags_nothing() {
        assert_eq!(hourly(48).assess(&sample(48, 1500)), []);
    }

    #[test]
    fn a_cycle_far_outside_the_floor_is_flagged_with_its_median_and_band() {
        let found = hourly(48).assess(&sample(48, 9_000));
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!((a.signal, a.value, a.median, a.band, a.samples), ("wall_time", 9000.0, 1000.0, 2000.0, 48));
        let c = a.condition();
        assert_eq!((c.key.as_str(), c.severity), ("anomaly:wall_time", Severity::Sev3));
        assert!(c.reason.contains("cycle wall time (ms) was 9000") && c.reason.contains("median 1000"), "{}", c.reason);
    }

    #[test]
    fn too_short_a_history_is_no_baseline() {
        assert_eq!(hourly(MIN_SAMPLES as i64 - 1).assess(&sample(30, 60_000)), []);
        assert_eq!(hourly(MIN_SAMPLES as i64).assess(&sample(30, 60_000)).len(), 1);
    }

    #[test]
    fn a_still_signal_is_not_flagged_for_a_small_step_but_is_for_a_big_one() {
        let b = hourly(48);
        let mut more = sample(48, 1000);
        more.requests = Some(24);
        assert_eq!(b.assess(&more), [], "MAD 0: the floor of 5 requests holds");
        more.requests = Some(40);
        assert_eq!(b.assess(&more).iter().map(|a| a.signal).collect::<Vec<_>>(), ["requests"]);
    }

    #[test]
    fn equity_change_is_measured_against_the_previous_cycle() {
        let b = hourly(48);
        let mut drop = sample(48, 1000);
        drop.equity_usdt = Some(900.0);
        let found = b.assess(&drop);
        assert_eq!(found.iter().map(|a| (a.signal, a.value)).collect::<Vec<_>>(), [("equity_change", -0.1)]);
        drop.equity_usdt = Some(990.0);
        assert_eq!(b.assess(&drop), [], "a 1 % move is inside the 2 % floor");
    }

    #[test]
    fn unmeasured_signals_take_no_part() {
        let mut paper = sample(48, 1000);
        paper.requests = None;
        paper.weight = None;
        paper.equity_usdt = None;
        assert_eq!(hourly(48).assess(&paper), []);
    }

    #[test]
    fn samples_older_than_the_window_are_forgotten_and_the_count_is_capped() {
        let mut b = hourly(24 * 9);
        assert_eq!(b.0.first().map(|s| s.at), Some(at(24 * 9 - 1) - Duration::days(WINDOW_DAYS) + Duration::hours(1)));
        assert_eq!(b.0.len(), 24 * 7);
        let mut fast = Baseline::default();
        for i in 0..(MAX_SAMPLES as i64 + 10) {
            fast.record(Sample { at: at(0) + Duration::minutes(i), ..sample(0, 1000) });
        }
        assert_eq!(fast.0.len(), MAX_SAMPLES);
        b.record(sample(24 * 9, 1000));
        assert_eq!(b.0.len(), 24 * 7);
    }

    #[test]
    fn the_json_round_trips_and_a_broken_entry_loses_only_itself() {
        let b = hourly(2);
        let mut value = serde_json::to_value(&b).unwrap();
        value.as_array_mut().unwrap().push(serde_json::json!({"at": "not a time"}));
        assert_eq!(Baseline::from_json(Some(&value)), b);
        assert_eq!(Baseline::from_json(None), Baseline::default());
    }
}
