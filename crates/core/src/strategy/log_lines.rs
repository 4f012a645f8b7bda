//! The cycle's log lines (the report's `log_lines`). Each line also goes to
//! the process log the moment it is produced, so a run killed part-way has
//! already left its trail on stderr. The core has no logger of its own: the
//! shell installs one sink at start-up ([`set_sink`]). Logging is
//! observation only: nothing reads it back, so the planner stays pure in
//! what it decides.

use std::sync::OnceLock;

static SINK: OnceLock<fn(&str)> = OnceLock::new();

/// Where every line goes as it is produced (the shell passes its logger);
/// the first call wins. Without a sink, lines are only kept for the report.
pub fn set_sink(sink: fn(&str)) {
    let _ = SINK.set(sink);
}

fn emit(line: &str) {
    if let Some(sink) = SINK.get() {
        sink(line);
    }
}

/// Lines in report order; pushing or inserting one also sends it to the sink.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogLines(Vec<String>);

impl LogLines {
    pub fn push(&mut self, line: String) {
        emit(&line);
        self.0.push(line);
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = String>) {
        for line in lines {
            self.push(line);
        }
    }

    /// Puts `line` at `index` of the report's list (it is logged now).
    pub fn insert(&mut self, index: usize, line: String) {
        emit(&line);
        self.0.insert(index, line);
    }
}

impl std::ops::Deref for LogLines {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl From<LogLines> for Vec<String> {
    fn from(lines: LogLines) -> Vec<String> {
        lines.0
    }
}
