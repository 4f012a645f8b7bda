//! The documentation keeps up with the code: every variable the program
//! reads is in the README's table with its default.

use tradecycle::config::all_variables;

#[test]
fn readme_and_runbook_list_every_variable_with_its_default() {
    for doc in ["README.md", "RUNBOOK.md"] {
        let text = std::fs::read_to_string(format!("{}/{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for v in all_variables() {
            let default = if v.default == "unset" { "unset".to_string() } else { format!("`{}`", v.default) };
            let row = format!("| `{}` | {} |", v.name, default);
            assert!(text.contains(&row), "{doc} lacks the row starting {row:?}");
        }
    }
}

#[test]
fn the_readme_exit_code_table_matches_the_statuses() {
    use tradecycle::domain::report::Status;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for status in [Status::Ok, Status::Attention, Status::Error, Status::Aborted] {
        let name = serde_json::to_value(status).unwrap();
        let row = format!("| {} | `{}` |", status.exit_code(), name.as_str().unwrap());
        assert!(readme.contains(&row), "README's exit-code table lacks {row:?}");
    }
    for row in ["| 4 | `aborted` (stage `lease`) |", "| 2 | no report |"] {
        assert!(readme.contains(row), "README's exit-code table lacks {row:?}");
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let ci = std::fs::read_to_string(format!("{root}/.ci/run")).unwrap();
    assert!(readme.contains("\n    scripts/test.sh\n"));
    assert!(ci.lines().any(|l| l.trim() == "scripts/test.sh"));
    assert!(std::fs::read_to_string(format!("{root}/scripts/test.sh")).unwrap().contains("--locked"));
}

#[test]
fn every_variable_in_the_readme_table_is_known_once() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let known: Vec<&str> = all_variables().map(|v| v.name).collect();
    let mut seen = std::collections::BTreeSet::new();
    for name in &known {
        assert!(seen.insert(*name), "{name} is listed twice in the VARIABLES tables");
    }
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let name = line.trim_start_matches("| `").split('`').next().unwrap();
        if name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            assert!(known.contains(&name), "README documents {name}, which no VARIABLES table lists");
        }
    }
}

fn doc(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Files under `dir` (recursively), build output and git metadata aside.
fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != "artifacts" {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// The suite needs nothing beside the repository: no code, test, script,
/// workflow or document reads the development machines' shared folder.
#[test]
fn nothing_reads_outside_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let needles = [["..", "/shared"].concat(), ["TRADECYCLE", "_SHARED"].concat()];
    let mut all = Vec::new();
    for dir in ["src", "tests", "crates", "benches", "scripts", ".ci", ".github", "deploy", "fixtures"] {
        files(&root.join(dir), &mut all);
    }
    for file in ["README.md", "RUNBOOK.md", "Dockerfile", "Cargo.toml"] {
        all.push(root.join(file));
    }
    assert!(all.len() > 100, "walked the repository ({} files)", all.len());
    for path in all {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        for needle in &needles {
            assert!(!text.contains(needle.as_str()), "{} mentions {needle}", path.display());
        }
    }
}

#[test]
fn the_readme_lists_every_fixture_set() {
    let readme = doc("README.md");
    let paragraph = readme.split("\nSets in `fixtures/`").nth(1).expect("the list of sets");
    let paragraph = paragraph.split("\n\n").next().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sets = 0;
    for entry in std::fs::read_dir(root.join("fixtures")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(paragraph.contains(&format!("`{name}`")), "README's list of fixture sets lacks {name}");
        sets += 1;
    }
    assert!(sets > 10, "{sets} fixture sets");
}

/// Every repository path the README and the runbook name in backticks
/// exists (placeholders such as `ACCOUNT` or `<run_id>` aside).
#[test]
fn every_repository_path_the_docs_name_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let prefixes = ["scripts/", "deploy/", "fixtures/", ".github/", ".ci/", "tests/", "src/", "crates/", "benches/"];
    let mut checked = 0;
    for name in ["README.md", "RUNBOOK.md"] {
        let text = doc(name);
        for (i, quoted) in text.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            let path = quoted.split_whitespace().next().unwrap_or("");
            if !prefixes.iter().any(|p| path.starts_with(p)) {
                continue;
            }
            if path.contains(['<', '*', '{']) || path.contains("ACCOUNT") || path.contains("PATH") {
                continue;
            }
            let path = path.trim_end_matches(['.', ',', ':', ')']);
            assert!(root.join(path).exists(), "{name} names {path}, which does not exist");
            checked += 1;
        }
    }
    assert!(checked >= 20, "checked {checked} paths");
}
