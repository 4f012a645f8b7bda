//! The evidence bundle every run leaves in `artifacts/<run_id>/` (issue 11
//! "Evidence"), driven through the binary: a paper run and a dry run against
//! the fake Binance leave report, settings, build, alerts and SHA256SUMS;
//! `tradecycle evidence verify` passes on it, and names a changed, a missing
//! and an unlisted file; no credential from the environment reaches any file
//! of the bundle; build.json carries the commit the binary was built from.

mod common;

use std::path::{Path, PathBuf};

use common::live::Live;
use common::{Run, paper_run, root, tradecycle};
use serde_json::Value;
use tradecycle_fakes::binance::FakeBinanceConfig;

const BUNDLE: [&str; 5] = ["SHA256SUMS", "alerts.json", "build.json", "report.json", "settings.json"];

// Real-looking credentials (the shapes Binance, Telegram and GitHub issue).
const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const TG: &str = "123456789:AAF7-g0gYncWnm5IyfZlpPRqRRv6kNAGlao";
const GH: &str = "ghp_R4nd0mT0k3nV4lu3ThatMustNeverLeak0000";

fn paper(dir: &Path, run_id: &str, env: &[(&str, &str)]) -> Run {
    paper_run(dir, "cycle_replay", "2026-03-15T00:00:00Z", &["--run-id", run_id], env)
}

fn verify(dir: &Path) -> Run {
    tradecycle(&["evidence", "verify", dir.to_str().unwrap()], &[])
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn read_json(path: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A paper run's bundle, after checking what it holds.
fn paper_bundle(dir: &Path) -> PathBuf {
    let r = paper(dir, "ev1", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = dir.join("artifacts/ev1");
    assert_eq!(names_in(&bundle), BUNDLE);
    assert_eq!(read_json(bundle.join("report.json")), r.json(), "the report the run printed");
    assert_eq!(read_json(bundle.join("alerts.json")), r.json()["alerts"]);
    bundle
}

#[test]
fn a_paper_run_leaves_a_bundle_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = paper_bundle(dir.path());
    let sums = std::fs::read_to_string(bundle.join("SHA256SUMS")).unwrap();
    let listed: Vec<&str> = sums.lines().map(|l| l.split_once("  ").unwrap().1).collect();
    assert_eq!(listed, ["report.json", "settings.json", "build.json", "alerts.json"]);
    for line in sums.lines() {
        let (hex, _) = line.split_once("  ").unwrap();
        assert!(hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{line}");
    }
    let v = verify(&bundle);
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert_eq!(v.stdout, "report.json: OK\nsettings.json: OK\nbuild.json: OK\nalerts.json: OK\n");
    let build = read_json(bundle.join("build.json"));
    assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));
    let settings = read_json(bundle.join("settings.json"));
    let lease = settings["variables"].as_array().unwrap().iter().find(|v| v["name"] == "TRADECYCLE_LEASE_TTL_SECS");
    assert_eq!(lease.unwrap()["value"], "900", "the value in force, from the table's default");
}

#[test]
fn verify_names_a_changed_a_missing_and_an_unlisted_file() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = paper_bundle(dir.path());
    let report = bundle.join("report.json");
    let mut bytes = std::fs::read(&report).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&report, bytes).unwrap();
    let v = verify(&bundle);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("report.json: FAILED (its SHA-256 differs from SHA256SUMS)\n"), "{}", v.stdout);
    assert!(v.stdout.contains("settings.json: OK\n"), "{}", v.stdout);
    assert_eq!(
        v.stderr.trim(),
        format!("error: the evidence bundle {} does not verify: report.json", bundle.display())
    );

    std::fs::remove_file(bundle.join("settings.json")).unwrap();
    std::fs::write(bundle.join("notes.txt"), "added later").unwrap();
    let v = verify(&bundle);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("settings.json: FAILED (listed in SHA256SUMS but missing)\n"), "{}", v.stdout);
    assert!(v.stdout.ends_with("notes.txt: FAILED (not listed in SHA256SUMS)\n"), "{}", v.stdout);
    assert!(v.stderr.contains("does not verify: report.json, settings.json, notes.txt"), "{}", v.stderr);
}

#[test]
fn a_directory_that_is_not_a_bundle_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let v = verify(dir.path());
    assert_eq!(v.code, 2);
    assert!(
        v.stderr
            .starts_with(&format!("error: {} is not an evidence bundle: cannot read SHA256SUMS", dir.path().display())),
        "{}",
        v.stderr
    );
    let v = verify(&dir.path().join("missing"));
    assert_eq!(v.code, 2);
    assert!(v.stderr.contains("is not a directory"), "{}", v.stderr);
}

#[test]
fn no_credential_from_the_environment_reaches_any_file_of_a_paper_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("BINANCE_API_KEY", KEY), ("BINANCE_API_SECRET", SECRET), ("TG_TOKEN", TG), ("GITHUB_TOKEN", GH)];
    let r = paper(dir.path(), "secrets", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = dir.path().join("artifacts/secrets");
    assert_eq!(names_in(&bundle), BUNDLE);
    assert_no_credential_in(&bundle, &[KEY, SECRET, TG, GH]);
    let settings = read_json(bundle.join("settings.json"));
    let key = settings["variables"].as_array().unwrap().iter().find(|v| v["name"] == "BINANCE_API_KEY").unwrap();
    assert_eq!(key["value"], "***", "set, and shown as set");
}

#[test]
fn a_dry_run_against_binance_leaves_a_bundle_without_its_key() {
    let config = FakeBinanceConfig { api_key: KEY.into(), api_secret: SECRET.into(), ..Default::default() };
    let live = Live::with_config("cycle_replay", config);
    let r = live.run(&["--run-id", "dry1"], &[]);
    assert!(matches!(r.code, 0 | 5), "{}\n{}", r.stderr, r.stdout);
    assert_eq!(r.json()["mode"], "dry_run");
    let bundle = live.artifacts().join("dry1");
    assert_eq!(names_in(&bundle), BUNDLE);
    assert_eq!(verify(&bundle).code, 0);
    assert_no_credential_in(&bundle, &[KEY, SECRET]);
}

fn assert_no_credential_in(bundle: &Path, secrets: &[&str]) {
    for name in names_in(bundle) {
        let text = std::fs::read_to_string(bundle.join(&name)).unwrap();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in {name}");
        }
    }
}

#[test]
fn build_json_names_the_commit_the_binary_was_built_from() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = paper_bundle(dir.path());
    let commit = read_json(bundle.join("build.json"))["commit"].as_str().unwrap().to_string();
    let head = std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(root()).output();
    match head {
        Ok(out) if out.status.success() => {
            assert_eq!(commit, String::from_utf8_lossy(&out.stdout).trim(), "build.rs embeds HEAD");
        }
        // Built from a source tarball (no .git, or no git at all): build.rs
        // had no commit to embed and says so.
        _ => assert_eq!(commit, "unknown"),
    }
}
