//! What a finished run leaves besides its report: the Prometheus metrics
//! (`--metrics-file` / `--pushgateway`, or their variables) and the evidence
//! bundle `artifacts/<run_id>/`. Neither may change the trading outcome: a
//! failure of either is a warning in the report and on stderr, naming the
//! file or URL. Not called for a run refused by the lease (exit 4), which
//! did nothing and must not overwrite the running one's files.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;

use crate::config::env::text;
use crate::config::{Env, RunConfig};
use crate::domain::report::Report;
use crate::shell::{evidence, metrics};

/// Where the run's metrics go: the flag wins over its variable.
#[derive(Debug, Clone, Default)]
pub struct MetricsSinks {
    pub file: Option<PathBuf>,
    pub pushgateway: Option<String>,
}

impl MetricsSinks {
    pub fn of(file: Option<PathBuf>, pushgateway: Option<String>, env: &Env) -> MetricsSinks {
        MetricsSinks {
            file: file.or_else(|| text(env, "TRADECYCLE_METRICS_FILE").map(PathBuf::from)),
            pushgateway: pushgateway.or_else(|| text(env, "TRADECYCLE_PUSHGATEWAY_URL")),
        }
    }
}

/// Renders the run's metrics once and delivers them to each sink asked for.
pub async fn write_metrics(report: &mut Report, sinks: &MetricsSinks, service: &str, duration: Duration) {
    if sinks.file.is_none() && sinks.pushgateway.is_none() {
        return;
    }
    let facts = metrics::RunFacts {
        service,
        duration,
        finished_at: Utc::now(),
        previous: sinks.file.as_deref().map(metrics::previous).unwrap_or_default(),
    };
    let text = match metrics::exposition(report, &facts) {
        Ok(text) => text,
        Err(e) => return warn(report, format!("could not render the metrics: {e}")),
    };
    if let Some(path) = &sinks.file
        && let Err(e) = metrics::write_file(path, &text)
    {
        warn(report, e);
    }
    if let Some(url) = &sinks.pushgateway
        && let Err(e) = metrics::push(url, service, &text).await
    {
        warn(report, e);
    }
}

/// Writes `artifacts/<run_id>/` (files first, `SHA256SUMS` last).
pub fn write_evidence(report: &mut Report, config: &RunConfig, env: &Env) {
    let settings = evidence::settings_json(env, &format!("{config:?}"));
    let written = evidence::bundle_files(report, &settings)
        .and_then(|files| evidence::write(&config.artifacts_dir, &report.run_id, &files));
    if let Err(e) = written {
        warn(report, format!("could not write the evidence bundle: {e}"));
    }
}

fn warn(report: &mut Report, message: String) {
    eprintln!("warning: {message}");
    report.warnings.push(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_flag_wins_over_its_variable_and_an_empty_variable_is_unset() {
        let set = env(&[("TRADECYCLE_METRICS_FILE", "/env.prom"), ("TRADECYCLE_PUSHGATEWAY_URL", "http://env:9091")]);
        let from_env = MetricsSinks::of(None, None, &set);
        assert_eq!(from_env.file, Some(PathBuf::from("/env.prom")));
        assert_eq!(from_env.pushgateway.as_deref(), Some("http://env:9091"));
        let flags = MetricsSinks::of(Some("/flag.prom".into()), Some("http://flag:9091".into()), &set);
        assert_eq!(flags.file, Some(PathBuf::from("/flag.prom")));
        assert_eq!(flags.pushgateway.as_deref(), Some("http://flag:9091"));
        let empty =
            MetricsSinks::of(None, None, &env(&[("TRADECYCLE_METRICS_FILE", " "), ("TRADECYCLE_PUSHGATEWAY_URL", "")]));
        assert_eq!((empty.file, empty.pushgateway), (None, None));
    }
}
