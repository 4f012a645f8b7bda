//! Replay speed and memory (design.md §6): the pure cycle in-process, and
//! the whole `tradecycle replay` process (wall time and peak RSS).
//!
//! Run with `cargo bench --bench replay`. Targets: whole process < 20 ms
//! and < 15 MiB peak RSS.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tradecycle::commands::replay::{ReplayOptions, replay_loaded};
use tradecycle::config::Env;
use tradecycle::paper::fixture::FixtureSet;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<34} n={:<5} min {:>9.3?}  median {:>9.3?}  p95 {:>9.3?}",
        samples.len(),
        samples[0],
        percentile(&samples, 0.5),
        percentile(&samples, 0.95)
    );
}

fn pure_cycle(dir: &Path, iterations: usize) {
    let fixtures = FixtureSet::load(dir).expect("fixture set loads");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let f = fixtures.clone();
        let start = Instant::now();
        let report = rt
            .block_on(replay_loaded(f, ReplayOptions { fixtures: Some(dir), now: None, run_id: None, env: Env::new() }))
            .expect("replay runs");
        samples.push(start.elapsed());
        assert_eq!(report.status.exit_code(), 0);
    }
    report(&format!("cycle in-process ({})", dir.file_name().unwrap().to_string_lossy()), samples);
}

/// Peak RSS (KiB) of the largest child waited for so far.
fn children_max_rss_kib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss
}

fn whole_process(dir: &Path, iterations: usize) {
    let bin = env!("CARGO_BIN_EXE_tradecycle");
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let status = Command::new(bin)
            .args(["replay", "--fixtures", dir.to_str().unwrap()])
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("binary runs");
        samples.push(start.elapsed());
        assert!(status.success());
    }
    report(&format!("whole process ({})", dir.file_name().unwrap().to_string_lossy()), samples);
    println!("{:<34} {:.1} MiB", "peak RSS of any replay process", children_max_rss_kib() as f64 / 1024.0);
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported here.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = [root.join("fixtures/cycle_replay"), root.join("fixtures/reference")];
    for dir in &sets {
        pure_cycle(dir, 2000);
        whole_process(dir, 200);
    }
}
