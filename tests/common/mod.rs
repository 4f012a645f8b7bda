//! Helpers shared by the integration tests: run the built binary with a
//! clean environment and read its report.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use tradecycle::paper::fixture::FixtureSet;

pub mod history;
pub mod live;
pub mod replay;
pub mod store;
pub mod world;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One of our fixture sets (`fixtures/<name>`), loaded as the shell loads it.
pub fn fixture_set(name: &str) -> FixtureSet {
    FixtureSet::load(&root().join("fixtures").join(name)).expect("fixture set")
}

/// The reference program's own fixture set and its output on it, vendored
/// in the repository (`fixtures/reference/`, see its NOTICE).
pub fn reference_fixtures() -> PathBuf {
    root().join("fixtures/reference")
}

/// `FIRESTORE_EMULATOR_HOST` as scripts/test.sh exports it; the store
/// tests fail (never skip) without it.
pub fn emulator_host() -> String {
    std::env::var("FIRESTORE_EMULATOR_HOST").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| {
        panic!(
            "FIRESTORE_EMULATOR_HOST is not set: these tests need Google's Firestore emulator. \
             Run the suite with scripts/test.sh (it starts and stops the emulator), or \
             `export $(scripts/firestore-emulator.sh start)` before cargo test."
        )
    })
}

/// The emulator's project id (never a real project).
pub fn project() -> String {
    std::env::var("GOOGLE_CLOUD_PROJECT").unwrap_or_else(|_| "demo-tradecycle-test".into())
}

/// A collection name no other test (or earlier run) uses, so tests can
/// share one emulator in parallel.
pub fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("t_{name}_{}_{nanos}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// An alert sink that keeps messages instead of sending them.
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<String>>);

impl tradecycle::ports::Notifier for Recorder {
    async fn send(&self, text: &str) -> Result<(), tradecycle::ports::PortError> {
        self.0.lock().unwrap().push(text.to_string());
        Ok(())
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs `tradecycle <args>` from the crate root with only PATH and `env` set.
pub fn tradecycle(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradecycle"));
    cmd.args(args).current_dir(root()).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tradecycle run --paper` on the fixture set `fixtures` with its account,
/// state and artifacts under `dir`, at `now`, plus `args` and `env`.
pub fn paper_run(dir: &std::path::Path, fixtures: &str, now: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let fixtures = root().join("fixtures").join(fixtures);
    let artifacts = dir.join("artifacts");
    let mut all = vec![
        "run",
        "--paper",
        "--fixtures",
        fixtures.to_str().unwrap(),
        "--paper-dir",
        dir.to_str().unwrap(),
        "--now",
        now,
        "--artifacts",
        artifacts.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    tradecycle(&all, env)
}

/// `(kind, symbol or asset, quantity or amount, status, reason)` of every intent.
pub fn intents(report: &Value) -> Vec<(String, String, String, String, String)> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    report["intents"]
        .as_array()
        .expect("intents array")
        .iter()
        .map(|i| {
            let what = if i.get("symbol").is_some() { s(i, "symbol") } else { s(i, "asset") };
            let size = if i.get("quantity").is_some() { s(i, "quantity") } else { s(i, "amount") };
            (s(i, "kind"), what, size, s(i, "status"), s(i, "reason"))
        })
        .collect()
}

pub fn strs(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// The `event` of every notification of a report, in order.
pub fn events(report: &Value) -> Vec<String> {
    report["notifications"].as_array().unwrap().iter().map(|n| n["event"].as_str().unwrap().to_string()).collect()
}

/// The `reason` of every state write of a report, in order.
pub fn writes(report: &Value) -> Vec<String> {
    report["state_writes"].as_array().unwrap().iter().map(|w| w["reason"].as_str().unwrap().to_string()).collect()
}

pub fn gates(report: &Value) -> Vec<String> {
    report["gates"].as_array().expect("gates").iter().map(|g| g["gate"].as_str().unwrap_or("").to_string()).collect()
}
