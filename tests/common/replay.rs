//! `Replay`: a fluent builder for one `tradecycle replay` of the built
//! binary (in the spirit of just's `Test`). It says which fixture set, which
//! environment, flags and fixture edits, and what must come out (exit code,
//! status, exact intents and gates); `run` asserts all of it with a message
//! naming the expectation, the actual value and stderr, then hands back the
//! report for the test's own checks. Kept apart from `mod.rs` so the
//! low-level runner (`tradecycle`) stays a plain function.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Run, gates, intents, root, tradecycle};

/// `(kind, symbol or asset, quantity or amount, status, reason)` of one intent.
pub type IntentRow<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// An intent as replay plans it: nothing is sent, so every one is `suppressed`.
pub fn suppressed<'a>(kind: &'a str, what: &'a str, size: &'a str, reason: &'a str) -> IntentRow<'a> {
    (kind, what, size, "suppressed", reason)
}

/// An intent row as [`super::intents`] reads it from a report.
pub type OwnedRow = (String, String, String, String, String);

/// The owned form of a row, to compare with one read from a report.
pub fn owned((kind, what, size, status, reason): IntentRow) -> OwnedRow {
    (kind.into(), what.into(), size.into(), status.into(), reason.into())
}

/// One `tradecycle replay` to run, with what it must produce.
pub struct Replay {
    /// `--fixtures` as passed (`None`: the embedded default set).
    fixtures: Option<String>,
    /// The set a temporary copy is made of before the first edit.
    source: PathBuf,
    /// The temporary copy, once an edit made one (kept alive with the builder).
    copy: Option<tempfile::TempDir>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    code: i32,
    stderr: Vec<String>,
    status: Option<String>,
    intents: Option<Vec<OwnedRow>>,
    gates: Option<Vec<String>>,
}

impl Default for Replay {
    /// `tradecycle replay` without `--fixtures`: the embedded default set,
    /// which is `fixtures/cycle_replay` (an edit copies that directory).
    fn default() -> Self {
        Replay {
            fixtures: None,
            source: root().join("fixtures/cycle_replay"),
            copy: None,
            args: Vec::new(),
            env: Vec::new(),
            code: 0,
            stderr: Vec::new(),
            status: None,
            intents: None,
            gates: None,
        }
    }
}

impl Replay {
    /// One of our fixture sets, `fixtures/<name>`, passed relative to the
    /// crate root as the report then names it.
    pub fn fixture(name: &str) -> Self {
        let relative = format!("fixtures/{name}");
        Replay { source: root().join(&relative), fixtures: Some(relative), ..Replay::default() }
    }

    /// A fixture set in any directory (e.g. the vendored reference set).
    pub fn dir(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        Replay {
            fixtures: Some(path.to_str().expect("utf-8 path").to_string()),
            source: path.to_path_buf(),
            ..Replay::default()
        }
    }

    /// Adds one environment variable (the run starts from an empty one).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds flags after `replay --fixtures <dir>`.
    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Self {
        self.args.extend(args.into_iter().map(str::to_string));
        self
    }

    /// Edits one JSON file of a temporary copy of the fixture set.
    pub fn edit(self, file: &str, f: impl FnOnce(&mut Value)) -> Self {
        let replay = self.copied();
        let path = replay.file(file);
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        f(&mut v);
        std::fs::write(path, serde_json::to_string_pretty(&v).expect("serialise")).expect("write");
        replay
    }

    /// Replaces one file of a temporary copy of the fixture set with `contents`.
    pub fn write(self, file: &str, contents: &str) -> Self {
        let replay = self.copied();
        std::fs::write(replay.file(file), contents).expect("write");
        replay
    }

    /// Removes one file from a temporary copy of the fixture set.
    pub fn remove(self, file: &str) -> Self {
        let replay = self.copied();
        std::fs::remove_file(replay.file(file)).expect("remove");
        replay
    }

    /// The exit code expected (0 unless said).
    pub fn code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    /// Text stderr must contain.
    pub fn stderr(mut self, needle: &str) -> Self {
        self.stderr.push(needle.to_string());
        self
    }

    /// The report's `status`.
    pub fn status(mut self, status: &str) -> Self {
        self.status = Some(status.to_string());
        self
    }

    /// Every intent of the report, exactly and in order.
    pub fn intents<'a>(mut self, expected: impl IntoIterator<Item = IntentRow<'a>>) -> Self {
        self.intents = Some(expected.into_iter().map(owned).collect());
        self
    }

    /// Every gate of the report, exactly and in order.
    pub fn gates<'a>(mut self, expected: impl IntoIterator<Item = &'a str>) -> Self {
        self.gates = Some(expected.into_iter().map(str::to_string).collect());
        self
    }

    /// Runs the replay, asserts every expectation and returns the report.
    #[track_caller]
    pub fn run(&self) -> Value {
        let run = self.output();
        run.json()
    }

    /// Runs the replay and asserts every expectation; for output that is
    /// not a JSON report (a failure, `--format text`).
    #[track_caller]
    pub fn output(&self) -> Run {
        let mut args = vec!["replay".to_string()];
        if let Some(dir) = self.fixtures_arg() {
            args.extend(["--fixtures".to_string(), dir]);
        }
        args.extend(self.args.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let run = tradecycle(&args, &env);
        self.check(&run);
        run
    }

    #[track_caller]
    fn check(&self, run: &Run) {
        let what = self.describe();
        assert_eq!(
            run.code, self.code,
            "{what}: exit code (left: got, right: expected)\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{what}: panicked\nstderr: {}", run.stderr);
        for needle in &self.stderr {
            assert!(run.stderr.contains(needle.as_str()), "{what}: stderr lacks {needle:?}\nstderr: {}", run.stderr);
        }
        if self.status.is_none() && self.intents.is_none() && self.gates.is_none() {
            return;
        }
        let report = run.json();
        if let Some(status) = &self.status {
            assert_eq!(
                report["status"],
                status.as_str(),
                "{what}: status (left: got, right: expected)\nerrors: {}",
                report["errors"]
            );
        }
        if let Some(expected) = &self.intents {
            assert_eq!(
                &intents(&report),
                expected,
                "{what}: intents (left: got, right: expected)\nstderr: {}",
                run.stderr
            );
        }
        if let Some(expected) = &self.gates {
            assert_eq!(&gates(&report), expected, "{what}: gates (left: got, right: expected)\nstderr: {}", run.stderr);
        }
    }

    /// The copy's path once edited, else what was given.
    fn fixtures_arg(&self) -> Option<String> {
        match &self.copy {
            Some(copy) => Some(copy.path().to_str().expect("utf-8 path").to_string()),
            None => self.fixtures.clone(),
        }
    }

    fn describe(&self) -> String {
        let set = match (&self.copy, &self.fixtures) {
            (Some(_), _) => format!("an edited copy of {}", self.source.display()),
            (None, Some(dir)) => dir.clone(),
            (None, None) => "the embedded default set".to_string(),
        };
        format!("replay of {set}, args {:?}, env {:?}", self.args, self.env)
    }

    fn copied(mut self) -> Self {
        if self.copy.is_none() {
            let copy = tempfile::tempdir().expect("tempdir");
            copy_tree(&self.source, copy.path());
            self.copy = Some(copy);
        }
        self
    }

    fn file(&self, name: &str) -> PathBuf {
        self.copy.as_ref().expect("copied before editing").path().join(name)
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("readable fixture dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
