//! The run's metrics in the Prometheus text exposition format (0.0.4), the
//! contract of RUNBOOK.md "Metrics": [`families`] turns a finished
//! [`Report`] (+ the run's duration and wall-clock end) into metric
//! families — pure, unit-tested — and [`write_file`] / [`push`] deliver the
//! text to node_exporter's textfile collector (atomically) and to a
//! Pushgateway. Separate from the report writer because the metrics are a
//! second, lossy view of the report with its own stable names.
//!
//! Every sample carries the labels `service` (`SERVICE_NAME`) and `mode`.
//! Every value but one is a gauge: one run's snapshot, replaced whole by
//! the next run. The one counter, `tradecycle_orders_total`, goes on from
//! the value in the metrics file the run replaces ([`previous`]): a lost
//! file is a counter reset, which `rate()` and `increase()` expect.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::proto::MetricFamily;
use prometheus::{CounterVec, Gauge, GaugeVec, Opts, Registry, TextEncoder};

use crate::domain::alerts::Severity;
use crate::domain::report::{Report, Status};

/// Statuses of `tradecycle_cycle_status`: every one is present, this run's at 1.
pub const STATUSES: [Status; 5] = [Status::Ok, Status::Attention, Status::Error, Status::Aborted, Status::Stopped];

/// Pool sources of `tradecycle_pool_source`, the report's `pool.source` names.
pub const POOL_SOURCES: [&str; 4] = ["fresh_upstream", "last_known_good", "local_file", "static"];

/// The metric that says when a run last finished ok or attention.
pub const LAST_SUCCESS: &str = "tradecycle_cycle_last_success_timestamp_seconds";

/// The counter of intents by kind and outcome, across runs.
pub const ORDERS_TOTAL: &str = "tradecycle_orders_total";

/// What a run carries forward from the metrics file it replaces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Previous {
    /// The last success, carried by a failed run.
    pub success: Option<f64>,
    /// [`ORDERS_TOTAL`] by `(kind, outcome)`: the counter goes on from here.
    pub orders: BTreeMap<(String, String), f64>,
}

/// What the metrics say besides the report itself.
#[derive(Debug, Clone)]
pub struct RunFacts<'a> {
    /// `SERVICE_NAME`: one per account.
    pub service: &'a str,
    /// Wall-clock time from the start of the run to the report.
    pub duration: Duration,
    /// Wall-clock time the run finished (paper runs' report `now` is simulated).
    pub finished_at: DateTime<Utc>,
    /// What the previous metrics file said: the last success (a textfile
    /// rewritten by a failed run must not drop it) and the order counter.
    pub previous: Previous,
}

/// The report's status as its JSON name (`ok`, `attention`, ...).
pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Attention => "attention",
        Status::Error => "error",
        Status::Aborted => "aborted",
        Status::Stopped => "stopped",
    }
}

fn mode_name(report: &Report) -> String {
    serde_json::to_value(report.mode).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The metric families of one run, sorted by name.
pub fn families(report: &Report, facts: &RunFacts) -> prometheus::Result<Vec<MetricFamily>> {
    let registry = Registry::new();
    let m = Metrics { registry: &registry, service: facts.service, mode: mode_name(report) };

    let finished = facts.finished_at.timestamp_millis() as f64 / 1000.0;
    let succeeded = matches!(report.status, Status::Ok | Status::Attention);
    if let Some(at) = if succeeded { Some(finished) } else { facts.previous.success } {
        m.gauge(
            LAST_SUCCESS,
            "Unix time the last run that finished ok or attention ended (carried by failed runs)",
            at,
        )?;
    }
    m.gauge("tradecycle_cycle_last_run_timestamp_seconds", "Unix time this run ended, whatever its status", finished)?;
    m.gauge("tradecycle_cycle_duration_seconds", "Wall-clock duration of this run", facts.duration.as_secs_f64())?;
    let status = m.vec("tradecycle_cycle_status", "1 for this run's status, 0 for the others", &["status"])?;
    for s in STATUSES {
        status.with_label_values(&[status_name(s)]).set(f64::from(u8::from(s == report.status)));
    }
    orders(&m, report, &facts.previous.orders)?;
    equity(&m, report)?;
    let latched = report.circuit_breaker_triggered || state_flag(report, "is_circuit_broken");
    m.gauge("tradecycle_breaker_latched", "1 when the daily circuit breaker is latched after this run", flag(latched))?;
    m.gauge(
        "tradecycle_paused",
        "1 when new risk is paused (operator, kill switch or open SEV-1)",
        flag(report.paused.is_some()),
    )?;
    let pool = m.vec("tradecycle_pool_source", "1 for the pool source this run used, 0 for the others", &["source"])?;
    let used = report.pool.as_ref().map(|p| p.source.as_str());
    for source in POOL_SOURCES {
        pool.with_label_values(&[source]).set(flag(used == Some(source)));
    }
    let alerts = m.vec(
        "tradecycle_alerts_open",
        "Alerts open after this run (raised now or still open), by severity",
        &["severity"],
    )?;
    for severity in [Severity::Sev1, Severity::Sev2, Severity::Sev3] {
        alerts.with_label_values(&[severity.as_str()]).set(open_alerts(report, severity) as f64);
    }
    if let Some(weight) = report.request_weight_used {
        m.gauge(
            "tradecycle_request_weight_used",
            "Highest X-MBX-USED-WEIGHT-1M Binance reported in this run",
            f64::from(weight),
        )?;
    }
    let build =
        m.vec("tradecycle_build_info", "Always 1: the program version and git commit", &["version", "commit"])?;
    build.with_label_values(&[super::build_info::VERSION, super::build_info::COMMIT]).set(1.0);
    Ok(registry.gather())
}

/// [`families`] as exposition text.
pub fn exposition(report: &Report, facts: &RunFacts) -> Result<String, String> {
    let families = families(report, facts).map_err(|e| e.to_string())?;
    TextEncoder::new().encode_to_string(&families).map_err(|e| e.to_string())
}

/// Registers gauges on one registry, each with the labels every sample
/// carries (constant labels: the crate sorts them with the others, so the
/// text is the same from run to run).
struct Metrics<'a> {
    registry: &'a Registry,
    service: &'a str,
    mode: String,
}

impl Metrics<'_> {
    fn opts(&self, name: &str, help: &str) -> Opts {
        Opts::new(name, help).const_label("service", self.service).const_label("mode", &self.mode)
    }

    fn gauge(&self, name: &str, help: &str, value: f64) -> prometheus::Result<()> {
        let gauge = Gauge::with_opts(self.opts(name, help))?;
        gauge.set(value);
        self.registry.register(Box::new(gauge))
    }

    fn vec(&self, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
        let vec = GaugeVec::new(self.opts(name, help), labels)?;
        self.registry.register(Box::new(vec.clone()))?;
        Ok(vec)
    }
}

/// `tradecycle_orders_total{kind,outcome}`: intents (orders and Earn
/// moves) by kind and how they ended — the outcome class when the intent
/// went (or was meant to go) to the exchange, else its status
/// (`suppressed`, `skipped`) — counted from `previous` on.
fn orders(m: &Metrics, report: &Report, previous: &BTreeMap<(String, String), f64>) -> prometheus::Result<()> {
    let mut counts = previous.clone();
    for intent in &report.intents {
        let outcome = match intent.outcome {
            Some(o) => json_name(&o),
            None => json_name(&intent.status),
        };
        *counts.entry((intent.kind.as_str().to_string(), outcome)).or_default() += 1.0;
    }
    if counts.is_empty() {
        return Ok(());
    }
    let counter = CounterVec::new(
        m.opts(ORDERS_TOTAL, "Intents (orders and Earn moves) by kind and outcome, counted across runs"),
        &["kind", "outcome"],
    )?;
    m.registry.register(Box::new(counter.clone()))?;
    for ((kind, outcome), n) in &counts {
        counter.with_label_values(&[kind.as_str(), outcome.as_str()]).inc_by(*n);
    }
    Ok(())
}

/// `tradecycle_equity_usdt{sleeve}` and `tradecycle_daily_pnl_ratio{sleeve}`,
/// absent when the run valued nothing (it stopped before).
fn equity(m: &Metrics, report: &Report) -> prometheus::Result<()> {
    let Some(e) = &report.equity else { return Ok(()) };
    let usdt = m.vec("tradecycle_equity_usdt", "Account value after this run, USDT, by sleeve", &["sleeve"])?;
    for (sleeve, value) in [
        ("total", &e.total_usdt),
        ("trend", &e.trend_usdt),
        ("dca", &e.dca_usdt),
        ("cash", &e.cash_usdt),
        ("fuel", &e.fuel_usdt),
    ] {
        if let Ok(v) = value.parse::<f64>() {
            usdt.with_label_values(&[sleeve]).set(v);
        }
    }
    let pnl = m.vec(
        "tradecycle_daily_pnl_ratio",
        "Change since the day's opening equity (0.01 = +1 %), by sleeve",
        &["sleeve"],
    )?;
    pnl.with_label_values(&["total"]).set(e.daily_pnl);
    pnl.with_label_values(&["trend"]).set(e.trend_daily_pnl);
    Ok(())
}

fn open_alerts(report: &Report, severity: Severity) -> usize {
    report.alerts.raised.iter().chain(&report.alerts.open).filter(|a| a.severity == severity).count()
}

fn state_flag(report: &Report, key: &str) -> bool {
    report.state_after.as_ref().and_then(|s| s.get(key)).and_then(serde_json::Value::as_bool).unwrap_or(false)
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// What the earlier metrics file at `path` carries forward; nothing when
/// it is absent or does not parse (the counter then starts again).
pub fn previous(path: &Path) -> Previous {
    let Ok(text) = std::fs::read_to_string(path) else { return Previous::default() };
    let Ok(scrape) = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))) else {
        return Previous::default();
    };
    let mut previous = Previous::default();
    for sample in scrape.samples {
        let value = match sample.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) => v,
            prometheus_parse::Value::Untyped(v) => v,
            _ => continue,
        };
        if sample.metric == LAST_SUCCESS {
            previous.success = Some(value);
        } else if sample.metric == ORDERS_TOTAL
            && let (Some(kind), Some(outcome)) = (sample.labels.get("kind"), sample.labels.get("outcome"))
        {
            previous.orders.insert((kind.to_string(), outcome.to_string()), value);
        }
    }
    previous
}

/// Writes the exposition to `path` whole or not at all (temp file in the
/// same directory, then rename), so the textfile collector never reads half.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    // write_atomic adds a newline: an empty line, which the format allows.
    super::artifacts::write_atomic(path, text.trim_end())
        .map_err(|e| format!("could not write the metrics file {}: {e}", path.display()))
}

/// The Pushgateway URL of this service's group:
/// `URL/metrics/job/tradecycle/service/<service, URL-escaped>`.
pub fn push_url(base: &str, service: &str) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(base.trim())
        .map_err(|e| format!("TRADECYCLE_PUSHGATEWAY_URL / --pushgateway: '{}' is not a URL: {e}", shown(base)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("TRADECYCLE_PUSHGATEWAY_URL / --pushgateway: '{}' is not an http(s) URL", shown(base)));
    }
    url.path_segments_mut()
        .map_err(|_| format!("TRADECYCLE_PUSHGATEWAY_URL / --pushgateway: '{}' cannot take a path", shown(base)))?
        .pop_if_empty()
        .extend(["metrics", "job", "tradecycle", "service", service]);
    Ok(url)
}

/// A URL as it may be printed: without a password in it.
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// PUTs the exposition to the service's group, replacing the group's
/// previous metrics; any answer but 2xx is an error naming the URL.
pub async fn push(base: &str, service: &str, text: &str) -> Result<(), String> {
    let url = push_url(base, service)?;
    let fail = |what: String| format!("could not push the metrics to {}: {what}", shown(url.as_str()));
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| fail(e.to_string()))?;
    let response = client
        .put(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .body(text.to_string())
        .send()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        Err(fail(format!("HTTP {status}: {}", body.trim())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alerts::{AlertEntry, Change};
    use crate::domain::intent::{Intent, IntentKind, IntentStatus, NotSentClass, OutcomeClass};
    use crate::domain::report::{EquityReport, Mode};
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn facts(previous_success: Option<f64>) -> RunFacts<'static> {
        let previous = Previous { success: previous_success, orders: BTreeMap::new() };
        RunFacts {
            service: "acct 2/x",
            duration: Duration::from_millis(2500),
            finished_at: Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap(),
            previous,
        }
    }

    fn alert(key: &str, severity: Severity, change: Change) -> AlertEntry {
        AlertEntry {
            key: key.into(),
            severity,
            change,
            scope: "s".into(),
            reason: "r".into(),
            runbook: "RUNBOOK.md".into(),
            first_seen: "2026-03-15T09:00:00Z".into(),
            count: 1,
        }
    }

    fn report() -> Report {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap();
        let mut r = Report::new("r1", Mode::Live, "2026-03-15T09:00:00Z");
        r.equity = Some(EquityReport {
            total_usdt: "1000.5".into(),
            trend_usdt: "600".into(),
            dca_usdt: "300".into(),
            cash_usdt: "90.5".into(),
            fuel_usdt: "10".into(),
            daily_pnl: -0.02,
            trend_daily_pnl: 0.01,
            ..Default::default()
        });
        let buy = |symbol: &str, status, outcome| Intent {
            status,
            outcome,
            ..Intent::order(now, IntentKind::TrendBuy, symbol, "USDT", dec!(1), dec!(2), "r")
        };
        r.intents = vec![
            buy("SOLUSDT", IntentStatus::Filled, Some(OutcomeClass::Executed)),
            buy("XRPUSDT", IntentStatus::Filled, Some(OutcomeClass::Executed)),
            buy("ADAUSDT", IntentStatus::Skipped, Some(OutcomeClass::NotSent(NotSentClass::Retryable))),
            Intent::earn(IntentKind::EarnRedeem, "USDT", "USDT001", dec!(5), "r"),
        ];
        r.alerts.raised = vec![alert("position_mismatch:SOLUSDT", Severity::Sev1, Change::Raised)];
        r.alerts.open = vec![alert("pool_degraded", Severity::Sev2, Change::StillOpen)];
        r.alerts.cleared = vec![alert("clock_skew", Severity::Sev3, Change::Cleared)];
        r.request_weight_used = Some(1234);
        r
    }

    /// `(name, sorted labels without service/mode, value)` of one sample.
    type Sample = (String, Vec<(String, String)>, f64);

    fn samples(report: &Report, facts: &RunFacts) -> Vec<Sample> {
        let mut out = Vec::new();
        for family in families(report, facts).unwrap() {
            for metric in family.get_metric() {
                let mut labels = Vec::new();
                let mut common = Vec::new();
                for l in metric.get_label() {
                    let pair = (l.name().to_string(), l.value().to_string());
                    if matches!(l.name(), "service" | "mode") { common.push(pair) } else { labels.push(pair) }
                }
                assert_eq!(common, [("mode".into(), "live".into()), ("service".into(), "acct 2/x".into())]);
                let value = match family.get_field_type() {
                    prometheus::proto::MetricType::COUNTER => metric.get_counter().get_value(),
                    _ => metric.get_gauge().get_value(),
                };
                out.push((family.name().to_string(), labels, value));
            }
        }
        out
    }

    fn value(all: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        all.iter().find(|(n, l, _)| n == name && *l == labels).map(|(_, _, v)| *v)
    }

    #[test]
    fn a_finished_run_says_its_status_equity_intents_alerts_and_success_time() {
        let all = samples(&report(), &facts(Some(1.0)));
        let v = |name: &str, labels: &[(&str, &str)]| value(&all, name, labels);
        let end = 1_773_568_800.0;
        assert_eq!(v(LAST_SUCCESS, &[]), Some(end), "a successful run's own end, not the carried value");
        assert_eq!(v("tradecycle_cycle_last_run_timestamp_seconds", &[]), Some(end));
        assert_eq!(v("tradecycle_cycle_duration_seconds", &[]), Some(2.5));
        let statuses: Vec<f64> =
            STATUSES.iter().map(|s| v("tradecycle_cycle_status", &[("status", status_name(*s))]).unwrap()).collect();
        assert_eq!(statuses, [1.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(v("tradecycle_orders_total", &[("kind", "trend_buy"), ("outcome", "executed")]), Some(2.0));
        assert_eq!(v("tradecycle_orders_total", &[("kind", "trend_buy"), ("outcome", "retryable")]), Some(1.0));
        assert_eq!(v("tradecycle_orders_total", &[("kind", "earn_redeem"), ("outcome", "suppressed")]), Some(1.0));
        assert_eq!(all.iter().filter(|s| s.0 == "tradecycle_orders_total").count(), 3);
        for (sleeve, want) in [("total", 1000.5), ("trend", 600.0), ("dca", 300.0), ("cash", 90.5), ("fuel", 10.0)] {
            assert_eq!(v("tradecycle_equity_usdt", &[("sleeve", sleeve)]), Some(want), "{sleeve}");
        }
        assert_eq!(v("tradecycle_daily_pnl_ratio", &[("sleeve", "total")]), Some(-0.02));
        assert_eq!(v("tradecycle_daily_pnl_ratio", &[("sleeve", "trend")]), Some(0.01));
        let open: Vec<f64> = ["SEV-1", "SEV-2", "SEV-3"]
            .iter()
            .map(|s| v("tradecycle_alerts_open", &[("severity", s)]).unwrap())
            .collect();
        assert_eq!(open, [1.0, 1.0, 0.0], "raised and still open count; cleared does not");
        assert_eq!(v("tradecycle_breaker_latched", &[]), Some(0.0));
        assert_eq!(v("tradecycle_paused", &[]), Some(0.0));
        let pool: Vec<f64> =
            POOL_SOURCES.iter().map(|s| v("tradecycle_pool_source", &[("source", s)]).unwrap()).collect();
        assert_eq!(pool, [0.0; 4], "no pool in this report");
        assert_eq!(v("tradecycle_request_weight_used", &[]), Some(1234.0));
        let build = [("commit", crate::shell::build_info::COMMIT), ("version", crate::shell::build_info::VERSION)];
        assert_eq!(v("tradecycle_build_info", &build), Some(1.0));
    }

    #[test]
    fn a_failed_run_carries_the_previous_success_and_omits_what_it_does_not_know() {
        let mut r = Report::new("r2", Mode::Live, "2026-03-15T09:00:00Z");
        r.fail(Status::Aborted, "exchange", "down");
        r.state_after = Some(serde_json::json!({"is_circuit_broken": true}));
        let all = samples(&r, &facts(Some(1_773_500_000.0)));
        let v = |name: &str, labels: &[(&str, &str)]| value(&all, name, labels);
        assert_eq!(v(LAST_SUCCESS, &[]), Some(1_773_500_000.0));
        assert_eq!(v("tradecycle_cycle_status", &[("status", "aborted")]), Some(1.0));
        assert_eq!(v("tradecycle_cycle_status", &[("status", "ok")]), Some(0.0));
        assert_eq!(v("tradecycle_breaker_latched", &[]), Some(1.0), "the state's latch counts");
        for absent in [
            "tradecycle_equity_usdt",
            "tradecycle_daily_pnl_ratio",
            "tradecycle_request_weight_used",
            "tradecycle_orders_total",
        ] {
            assert!(all.iter().all(|s| s.0 != absent), "{absent} without data");
        }
        let none = samples(&r, &facts(None));
        assert!(none.iter().all(|s| s.0 != LAST_SUCCESS), "never succeeded: no value invented");
    }

    #[test]
    fn the_text_names_every_family_with_help_and_type_and_the_previous_success_reads_back() {
        let text = exposition(&report(), &facts(None)).unwrap();
        assert!(text.contains("# HELP tradecycle_paused "), "{text}");
        assert!(text.contains("# TYPE tradecycle_cycle_status gauge"), "{text}");
        assert!(text.contains(r#"service="acct 2/x""#), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tradecycle.prom");
        write_file(&path, &text).unwrap();
        assert!(text.contains("# TYPE tradecycle_orders_total counter"), "{text}");
        let back = previous(&path);
        assert_eq!(back.success, Some(1_773_568_800.0));
        let key = |k: &str, o: &str| (k.to_string(), o.to_string());
        assert_eq!(back.orders.get(&key("trend_buy", "executed")), Some(&2.0));
        assert_eq!(back.orders.len(), 3);
        assert_eq!(previous(&dir.path().join("missing.prom")), Previous::default());
    }

    #[test]
    fn the_order_counter_goes_on_from_the_previous_file_and_keeps_labels_this_run_did_not_see() {
        let mut f = facts(None);
        f.previous.orders.insert(("trend_buy".into(), "executed".into()), 5.0);
        f.previous.orders.insert(("trend_sell".into(), "rejected".into()), 1.0);
        let all = samples(&report(), &f);
        let v = |kind: &str, outcome: &str| value(&all, ORDERS_TOTAL, &[("kind", kind), ("outcome", outcome)]);
        assert_eq!(v("trend_buy", "executed"), Some(7.0), "5 before, 2 this run");
        assert_eq!(v("trend_sell", "rejected"), Some(1.0), "a counter never disappears");
        assert_eq!(v("earn_redeem", "suppressed"), Some(1.0));
    }

    #[test]
    fn the_push_url_groups_by_job_and_escaped_service() {
        assert_eq!(
            push_url("http://127.0.0.1:9091/", "acct 2/x").unwrap().as_str(),
            "http://127.0.0.1:9091/metrics/job/tradecycle/service/acct%202%2Fx"
        );
        assert_eq!(
            push_url("https://pg.example/base", "a").unwrap().as_str(),
            "https://pg.example/base/metrics/job/tradecycle/service/a"
        );
        let e = push_url("ftp://user:hunter2@pg", "a").unwrap_err();
        assert!(e.starts_with("TRADECYCLE_PUSHGATEWAY_URL / --pushgateway:") && !e.contains("hunter2"), "{e}");
        assert!(push_url("not a url", "a").is_err());
    }
}
