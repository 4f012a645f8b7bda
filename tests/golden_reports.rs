//! Golden reports: `tradecycle replay` on every fixture set under
//! `fixtures/` must print exactly the report kept in `tests/golden/`
//! (JSON and the text format). A change of behaviour shows up here as a
//! diff; when it is intended, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test golden_reports` and review the diff.

mod common;

use common::*;

/// Every directory under `fixtures/` that holds a replay fixture set.
fn fixture_sets() -> Vec<String> {
    let mut sets: Vec<String> = std::fs::read_dir(root().join("fixtures"))
        .expect("fixtures/ is readable")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("replay_config.json").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    sets.sort();
    sets
}

fn check(name: &str, format: &str, ext: &str) -> Option<String> {
    let run = tradecycle(&["replay", "--fixtures", &format!("fixtures/{name}"), "--format", format], &[]);
    assert_eq!(run.code, 0, "replay {name} --format {format}: {}", run.stderr);
    let path = root().join("tests/golden").join(format!("{name}.{ext}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &run.stdout).expect("write golden");
        return None;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (create it with UPDATE_GOLDEN=1)", path.display()));
    (want != run.stdout).then(|| format!("{name}.{ext} differs from {}", path.display()))
}

#[test]
fn every_fixture_set_replays_to_its_golden_report() {
    let sets = fixture_sets();
    assert!(sets.len() >= 15, "expected every fixture set, found {sets:?}");
    let diffs: Vec<String> =
        sets.iter().flat_map(|s| [check(s, "json", "json"), check(s, "text", "txt")]).flatten().collect();
    assert!(diffs.is_empty(), "reports changed:\n{}", diffs.join("\n"));
}
