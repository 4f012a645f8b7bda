//! Helpers shared by the integration tests: run the built binary with a
//! clean environment and read its report.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub mod live;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared material (`../shared`, or `TRADECYCLE_SHARED` when the
/// checkout lives elsewhere).
pub fn shared() -> PathBuf {
    std::env::var_os("TRADECYCLE_SHARED").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"))
}

/// The reference program's own fixture set (read in place, never copied).
pub fn reference_fixtures() -> PathBuf {
    let dir = shared().join("reference/fixtures/default");
    assert!(dir.is_dir(), "{} not found: set TRADECYCLE_SHARED to the shared folder", dir.display());
    dir
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

pub fn replay_dir(dir: &Path, env: &[(&str, &str)]) -> Run {
    tradecycle(&["replay", "--fixtures", dir.to_str().expect("utf-8 path")], env)
}

/// Replays one of our fixture sets (`fixtures/<name>`), expecting success.
pub fn replay_ok(name: &str) -> Value {
    let run = tradecycle(&["replay", "--fixtures", &format!("fixtures/{name}")], &[]);
    assert_eq!(run.code, 0, "replay {name} failed: {}", run.stderr);
    run.json()
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

pub fn gates(report: &Value) -> Vec<String> {
    report["gates"].as_array().expect("gates").iter().map(|g| g["gate"].as_str().unwrap_or("").to_string()).collect()
}

/// Copies a fixture directory into a fresh temporary one (for mutation).
pub fn copy_fixtures(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(from, dir.path());
    dir
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

/// Edits one JSON file in place.
pub fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).expect("serialise")).expect("write");
}
