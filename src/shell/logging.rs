//! Log lines on stderr (`TRADECYCLE_LOG` filters them): plain text, with
//! colour codes only when stderr is a terminal (a pipe, a file or a
//! container log gets none), or `--log-format json` (`TRADECYCLE_LOG_FORMAT`):
//! one JSON object per line with the fields Google Cloud Logging reads as
//! the entry's severity, message and time.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`severity`, `time`, `message`, fields) for Cloud Logging.
    Json,
}

/// `TRADECYCLE_LOG_FORMAT`'s value: unset or empty is text.
pub fn format_from_env(value: Option<&str>) -> Result<LogFormat, String> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(format!("TRADECYCLE_LOG_FORMAT: expected text or json, got '{other}'")),
    }
}

/// Whether stderr carries JSON lines (set by [`init`]).
static JSON: AtomicBool = AtomicBool::new(false);

/// Installs the stderr logger (once per process; later calls do nothing).
pub fn init(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    let filter = EnvFilter::try_from_env("TRADECYCLE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.with_ansi(false).event_format(CloudJson).try_init(),
    };
    // The core's cycle log lines reach stderr as they are produced.
    crate::strategy::log_lines::set_sink(|line| tracing::info!("{line}"));
}

/// An error line for the operator (`error: ...`): as is on a text stderr;
/// in JSON mode an ERROR entry, so every stderr line stays one JSON object.
pub fn error_line(line: &str) {
    if JSON.load(Ordering::Relaxed) {
        tracing::error!("{line}");
    } else {
        eprintln!("{line}");
    }
}

/// Cloud Logging's structured-log line: `severity` uses its names
/// (WARNING, not WARN), `time` is RFC 3339, `message` is the text.
struct CloudJson;

impl<S, N> FormatEvent<S, N> for CloudJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        writeln!(writer, "{}", json_line(event.metadata().level(), Utc::now(), event))
    }
}

fn json_line(level: &Level, time: chrono::DateTime<Utc>, event: &Event<'_>) -> Value {
    let mut line = Map::new();
    line.insert("severity".into(), severity(level).into());
    line.insert("time".into(), time.to_rfc3339_opts(SecondsFormat::Millis, true).into());
    event.record(&mut JsonFields(&mut line));
    Value::Object(line)
}

/// Cloud Logging's LogSeverity names.
pub fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// Collects an event's fields (`message` included) into the JSON object.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_variable_is_text_unless_json() {
        assert_eq!(format_from_env(None), Ok(LogFormat::Text));
        assert_eq!(format_from_env(Some("")), Ok(LogFormat::Text));
        assert_eq!(format_from_env(Some(" JSON ")), Ok(LogFormat::Json));
        assert_eq!(format_from_env(Some("xml")), Err("TRADECYCLE_LOG_FORMAT: expected text or json, got 'xml'".into()));
    }

    #[test]
    fn severities_use_cloud_logging_names() {
        assert_eq!(
            [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE].map(|l| severity(&l)),
            ["ERROR", "WARNING", "INFO", "DEBUG", "DEBUG"]
        );
    }
}
