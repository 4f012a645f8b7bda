//! The cycle's log lines (the report's `log_lines`). Each line also goes to
//! the `tracing` log the moment it is produced, so a run killed part-way
//! has already left its trail on stderr. Logging is observation only:
//! nothing reads it back, so the planner stays pure in what it decides.

/// Lines in report order; pushing or inserting one also logs it at `info`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogLines(Vec<String>);

impl LogLines {
    pub fn push(&mut self, line: String) {
        tracing::info!("{line}");
        self.0.push(line);
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = String>) {
        for line in lines {
            self.push(line);
        }
    }

    /// Puts `line` at `index` of the report's list (it is logged now).
    pub fn insert(&mut self, index: usize, line: String) {
        tracing::info!("{line}");
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
