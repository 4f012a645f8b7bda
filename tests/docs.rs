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
