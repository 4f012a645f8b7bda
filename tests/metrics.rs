//! The run's Prometheus metrics (issue 11 "Metrics", RUNBOOK "Metrics"),
//! driven through the binary with paper cycles: the metrics file parses with
//! a real Prometheus text parser (`prometheus-parse`) and holds the contract
//! with this run's values; an aborted run still writes it; a run refused by
//! the lease does not touch it; no temp file is left; the Pushgateway gets a
//! PUT at the service's group; a failed write or push is only a warning.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Run, paper_run};
use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::Value;
use tradecycle_fakes::pushgateway::FakePushgateway;

/// Every name of the contract a paper run writes (`tradecycle_request_weight_used`
/// only comes with Binance's weight header, so not from a paper run).
const CONTRACT: &[&str] = &[
    "tradecycle_cycle_last_success_timestamp_seconds",
    "tradecycle_cycle_last_run_timestamp_seconds",
    "tradecycle_cycle_status",
    "tradecycle_cycle_duration_seconds",
    "tradecycle_orders_total",
    "tradecycle_equity_usdt",
    "tradecycle_daily_pnl_ratio",
    "tradecycle_breaker_latched",
    "tradecycle_paused",
    "tradecycle_pool_source",
    "tradecycle_alerts_open",
    "tradecycle_build_info",
];

/// `tradecycle run --paper` on the cycle_replay fixtures in `dir`.
fn paper(dir: &Path, now: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    paper_run(dir, "cycle_replay", now, args, env)
}

fn parse(text: &str) -> Vec<Sample> {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text").samples
}

fn gauge(s: &Sample) -> f64 {
    match s.value {
        Metric::Gauge(v) => v,
        ref other => panic!("{} is not a gauge: {other:?}", s.metric),
    }
}

fn counter(s: &Sample) -> f64 {
    match s.value {
        Metric::Counter(v) => v,
        ref other => panic!("{} is not a counter: {other:?}", s.metric),
    }
}

/// `tradecycle_orders_total` by `(kind, outcome)`.
fn orders(samples: &[Sample]) -> BTreeMap<(String, String), f64> {
    samples
        .iter()
        .filter(|s| s.metric == "tradecycle_orders_total")
        .map(|s| {
            ((s.labels.get("kind").unwrap().to_string(), s.labels.get("outcome").unwrap().to_string()), counter(s))
        })
        .collect()
}

/// The one sample of `name` with these labels (besides service and mode).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples.iter().find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))).map(gauge)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn f(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn a_paper_run_writes_the_whole_contract_with_the_reports_values() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_dir = dir.path().join("textfile");
    let file = metrics_dir.join("tradecycle.prom");
    let r = paper(dir.path(), "2026-03-15T00:00:00Z", &["--metrics-file", file.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["status"], "ok");
    assert_eq!(names_in(&metrics_dir), ["tradecycle.prom"], "written atomically: no temp file left behind");
    let samples = parse(&std::fs::read_to_string(&file).unwrap());

    for name in CONTRACT {
        assert!(samples.iter().any(|s| s.metric == *name), "{name} missing");
    }
    assert!(!samples.iter().any(|s| s.metric == "tradecycle_request_weight_used"), "no weight in a paper report");
    for s in &samples {
        assert_eq!((s.labels.get("service"), s.labels.get("mode")), (Some("tradecycle"), Some("paper")), "{s:?}");
        // Every sample is a gauge but the order counter.
        if s.metric == "tradecycle_orders_total" {
            counter(s)
        } else {
            gauge(s)
        };
    }
    let statuses: BTreeMap<&str, f64> = ["ok", "attention", "error", "aborted", "stopped"]
        .into_iter()
        .map(|st| (st, value(&samples, "tradecycle_cycle_status", &[("status", st)]).unwrap()))
        .collect();
    assert_eq!(
        statuses,
        BTreeMap::from([("ok", 1.0), ("attention", 0.0), ("error", 0.0), ("aborted", 0.0), ("stopped", 0.0)])
    );
    let equity = &report["equity"];
    for (sleeve, field) in [
        ("total", "total_usdt"),
        ("trend", "trend_usdt"),
        ("dca", "dca_usdt"),
        ("cash", "cash_usdt"),
        ("fuel", "fuel_usdt"),
    ] {
        assert_eq!(
            value(&samples, "tradecycle_equity_usdt", &[("sleeve", sleeve)]),
            Some(f(&equity[field])),
            "{sleeve}"
        );
    }
    assert_eq!(value(&samples, "tradecycle_daily_pnl_ratio", &[("sleeve", "total")]), equity["daily_pnl"].as_f64());
    let alerts = &report["alerts"];
    for severity in ["SEV-1", "SEV-2", "SEV-3"] {
        let open = ["raised", "open"]
            .iter()
            .flat_map(|k| alerts[k].as_array().unwrap())
            .filter(|a| a["severity"] == severity)
            .count();
        assert_eq!(
            value(&samples, "tradecycle_alerts_open", &[("severity", severity)]),
            Some(open as f64),
            "{severity}"
        );
    }
    let source = report["pool"]["source"].as_str().unwrap();
    assert_eq!(value(&samples, "tradecycle_pool_source", &[("source", source)]), Some(1.0));
    let pool_ones: f64 = samples.iter().filter(|s| s.metric == "tradecycle_pool_source").map(gauge).sum();
    assert_eq!(pool_ones, 1.0);
    let mut intents: BTreeMap<(String, String), f64> = BTreeMap::new();
    for i in report["intents"].as_array().unwrap() {
        let outcome = i.get("outcome").unwrap_or(&i["status"]).as_str().unwrap().to_string();
        *intents.entry((i["kind"].as_str().unwrap().to_string(), outcome)).or_default() += 1.0;
    }
    assert!(!intents.is_empty(), "the fixture trades");
    assert_eq!(orders(&samples), intents, "a first run counts its own intents");
    assert_eq!(value(&samples, "tradecycle_paused", &[]), Some(0.0));
    assert_eq!(value(&samples, "tradecycle_breaker_latched", &[]), Some(0.0));
    let success = value(&samples, "tradecycle_cycle_last_success_timestamp_seconds", &[]).unwrap();
    assert_eq!(Some(success), value(&samples, "tradecycle_cycle_last_run_timestamp_seconds", &[]));
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - 600.0..=now + 1.0).contains(&success), "wall-clock end of the run, not the paper clock: {success}");
    let build = samples.iter().find(|s| s.metric == "tradecycle_build_info").unwrap();
    assert_eq!(build.labels.get("version"), Some(env!("CARGO_PKG_VERSION")));
    assert!(build.labels.get("commit").is_some_and(|c| c.len() == 40 || c == "unknown"), "{build:?}");
}

#[test]
fn an_aborted_run_writes_status_aborted_and_keeps_the_last_success() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tradecycle.prom");
    let args = ["--metrics-file", file.to_str().unwrap()];
    let ok = paper(dir.path(), "2026-03-15T00:00:00Z", &args, &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let first = parse(&std::fs::read_to_string(&file).unwrap());
    let success = value(&first, "tradecycle_cycle_last_success_timestamp_seconds", &[]).unwrap();

    // A lease file that is not JSON: the run cannot take the lease and aborts.
    std::fs::write(dir.path().join("state.lease.json"), "not json").unwrap();
    let aborted = paper(dir.path(), "2026-03-15T01:00:00Z", &args, &[]);
    assert_eq!(aborted.code, 3, "{}\n{}", aborted.stderr, aborted.stdout);
    assert_eq!(aborted.json()["status"], "aborted");
    let samples = parse(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(value(&samples, "tradecycle_cycle_status", &[("status", "aborted")]), Some(1.0));
    assert_eq!(value(&samples, "tradecycle_cycle_status", &[("status", "ok")]), Some(0.0));
    assert_eq!(
        value(&samples, "tradecycle_cycle_last_success_timestamp_seconds", &[]),
        Some(success),
        "carried from the previous file, so `time() - last_success` keeps counting"
    );
    assert!(value(&samples, "tradecycle_cycle_last_run_timestamp_seconds", &[]).unwrap() >= success);
    assert!(!samples.iter().any(|s| s.metric == "tradecycle_equity_usdt"), "nothing valued: no equity sample");
    assert_eq!(orders(&samples), orders(&first), "the aborted run placed nothing: the counter holds");
    assert_eq!(names_in(dir.path()).iter().filter(|n| n.ends_with(".tmp")).count(), 0);
}

#[test]
fn the_order_counter_adds_each_runs_intents_to_the_previous_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tradecycle.prom");
    let args = ["--metrics-file", file.to_str().unwrap()];
    let first = paper(dir.path(), "2026-03-15T00:00:00Z", &args, &[]);
    let after_first = orders(&parse(&std::fs::read_to_string(&file).unwrap()));
    // The next cycles trade less; count what each run did on top.
    let mut expected = after_first.clone();
    for now in ["2026-03-15T01:00:00Z", "2026-03-16T00:00:00Z"] {
        let r = paper(dir.path(), now, &args, &[]);
        for i in r.json()["intents"].as_array().unwrap() {
            let outcome = i.get("outcome").unwrap_or(&i["status"]).as_str().unwrap().to_string();
            *expected.entry((i["kind"].as_str().unwrap().to_string(), outcome)).or_default() += 1.0;
        }
    }
    assert_eq!(first.code, 0);
    let after = orders(&parse(&std::fs::read_to_string(&file).unwrap()));
    assert_eq!(after, expected);
    assert!(after.values().sum::<f64>() > after_first.values().sum::<f64>(), "the later runs traded: {after:?}");

    // A lost file is a counter reset: the next run counts from zero.
    std::fs::remove_file(&file).unwrap();
    let r = paper(dir.path(), "2026-03-17T00:00:00Z", &args, &[]).json();
    let recounted = orders(&parse(&std::fs::read_to_string(&file).unwrap()));
    assert_eq!(recounted.values().sum::<f64>(), r["intents"].as_array().unwrap().len() as f64);
}

#[test]
fn a_run_refused_by_the_lease_leaves_the_metrics_file_and_the_artifacts_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tradecycle.prom");
    std::fs::write(&file, "# the running cycle's metrics\n").unwrap();
    std::fs::write(
        dir.path().join("state.lease.json"),
        r#"{"owner": "20260315T000000Z/cycle", "expires_at": "2099-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let fake = FakePushgateway::start_blocking();
    let r = paper(
        dir.path(),
        "2026-03-15T00:00:00Z",
        &["--metrics-file", file.to_str().unwrap(), "--pushgateway", &fake.url(), "--run-id", "held"],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# the running cycle's metrics\n");
    assert!(fake.pushes().is_empty(), "nothing pushed over the running cycle's metrics");
    assert!(!dir.path().join("artifacts/held").exists(), "no evidence bundle for a run that did nothing");
}

#[test]
fn the_pushgateway_gets_a_put_at_the_services_group_with_a_body_that_parses() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePushgateway::start_blocking();
    let env = [("TRADECYCLE_PUSHGATEWAY_URL", fake.url()), ("SERVICE_NAME", "acct 2/eu".to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = paper(dir.path(), "2026-03-15T00:00:00Z", &[], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pushes = fake.pushes();
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    let push = &pushes[0];
    assert_eq!((push.method.as_str(), push.path.as_str()), ("PUT", "/metrics/job/tradecycle/service/acct%202%2Feu"));
    assert_eq!(push.content_type.as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
    let samples = parse(&push.body);
    assert_eq!(value(&samples, "tradecycle_cycle_status", &[("status", "ok"), ("service", "acct 2/eu")]), Some(1.0));
    for name in CONTRACT {
        assert!(samples.iter().any(|s| s.metric == *name), "{name} missing from the push");
    }
    assert!(r.json()["warnings"].as_array().unwrap().iter().all(|w| !w.as_str().unwrap().contains("metrics")));
}

#[test]
fn a_failed_write_or_push_is_a_warning_naming_the_file_and_url_never_a_changed_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePushgateway::start_blocking();
    fake.answer_with(500);
    // The metrics file's directory is a regular file: the write must fail.
    std::fs::write(dir.path().join("not-a-dir"), "").unwrap();
    let file = dir.path().join("not-a-dir/tradecycle.prom");
    let r = paper(
        dir.path(),
        "2026-03-15T00:00:00Z",
        &["--metrics-file", file.to_str().unwrap(), "--pushgateway", &format!("{}/", fake.url())],
        &[],
    );
    assert_eq!(r.code, 0, "the trading outcome is the run's: {}", r.stderr);
    let report = r.json();
    assert_eq!(report["status"], "ok");
    let warnings: Vec<&str> = report["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    let write = format!("could not write the metrics file {}: ", file.display());
    let push =
        format!("could not push the metrics to {}/metrics/job/tradecycle/service/tradecycle: HTTP 500", fake.url());
    for want in [&write, &push] {
        assert!(warnings.iter().any(|w| w.starts_with(want.as_str())), "{want} in {warnings:?}");
        assert!(r.stderr.contains(&format!("warning: {want}")), "{want} on stderr: {}", r.stderr);
    }
    assert_eq!(fake.pushes().len(), 1, "one attempt, no retry loop");
}
