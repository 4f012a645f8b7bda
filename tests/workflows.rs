//! The GitHub Actions files say what the runbook promises: parsed as YAML
//! and checked for triggers, permissions, concurrency, inputs, the identity
//! pre-flight, and the secrets and variables handed to the cycle (every
//! variable the program documents, secrets from `secrets.`, the rest from
//! `vars.`, live trading only from the dispatch input).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use tradecycle::config::all_variables;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

fn text(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

fn steps(workflow: &Value, job: &str) -> Vec<Value> {
    workflow["jobs"][job]["steps"].as_array().unwrap_or_else(|| panic!("job {job} has steps")).clone()
}

fn step<'a>(steps: &'a [Value], name: &str) -> &'a Value {
    steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step named {name:?}"))
}

fn position(steps: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
    steps.iter().position(pred).expect("step present")
}

fn uses(s: &Value) -> &str {
    s["uses"].as_str().unwrap_or("")
}

const IDENTITY: [&str; 3] =
    ["GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_WORKLOAD_IDENTITY_SERVICE_ACCOUNT", "GCP_PROJECT_ID"];

/// The pre-flight is the first step, names every identity variable in an
/// `::error::`, never echoes a value, and comes before checkout and auth.
fn assert_identity_preflight(workflow: &Value, job: &str) {
    let steps = steps(workflow, job);
    let first = &steps[0];
    assert_eq!(first["name"], "Check the workload identity variables");
    let script = first["run"].as_str().unwrap();
    for name in IDENTITY {
        assert!(script.contains(name), "pre-flight checks {name}");
        assert_eq!(workflow["jobs"][job]["env"][name], format!("${{{{ vars.{name} }}}}"), "{name} from vars");
    }
    assert!(script.contains("echo \"::error::repository variable $name is not set"));
    assert!(script.contains("exit \"$missing\""));
    assert!(!script.contains("${!name}\"") && !script.contains("echo \"${!name"), "values are never echoed");
    let checkout = position(&steps, |s| uses(s).starts_with("actions/checkout@"));
    let auth = position(&steps, |s| uses(s).starts_with("google-github-actions/auth@"));
    assert!(0 < checkout && checkout < auth, "pre-flight, then checkout, then auth");
    let with = &steps[auth]["with"];
    assert_eq!(uses(&steps[auth]), "google-github-actions/auth@v3");
    assert_eq!(with["workload_identity_provider"], "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}");
    assert_eq!(with["service_account"], "${{ vars.GCP_WORKLOAD_IDENTITY_SERVICE_ACCOUNT }}");
    assert_eq!(with["project_id"], "${{ vars.GCP_PROJECT_ID }}");
    assert!(with.get("credentials_json").is_none(), "no long-lived key");
}

/// Variables the cycle does not read (operations commands, test hooks) or
/// must not get from a repository variable.
const NOT_FOR_THE_CYCLE: &[&str] = &[
    "TELEGRAM_API_URL",
    "TRADECYCLE_DISPATCH_ENV",
    "GITHUB_TOKEN",
    "REPO",
    "WORKFLOW",
    "REF",
    "VALIDATE_ONLY",
    "LIVE",
    "DISPATCH_MAX_ATTEMPTS",
    "DISPATCH_RETRY_BASE_SECONDS",
    "GITHUB_API_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_SERVER_URL",
    "GITHUB_RUN_ID",
    "RUNTIME_HEARTBEAT_WORKFLOW",
    "RUNTIME_HEARTBEAT_BRANCH",
    "RUNTIME_HEARTBEAT_NAME",
    "RUNTIME_HEARTBEAT_LOOKBACK_HOURS",
    "RUNTIME_HEARTBEAT_EXPECTED_INTERVAL_HOURS",
    "RUNTIME_HEARTBEAT_MAX_CONSECUTIVE_MISSES",
    "RUNTIME_HEARTBEAT_RUNS_TO_SCAN",
    "RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT",
    "WATCHDOG_MAX_AGE_SECONDS",
    // Live trading comes only from the dispatch input, as --live.
    "TRADECYCLE_LIVE",
    // Set by google-github-actions/auth from the workload identity.
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_APPLICATION_CREDENTIALS",
    // The cycle always uses Firestore here (asserted below).
    "TRADECYCLE_STORE",
    // Emulator, endpoint and timing overrides are for tests.
    "FIRESTORE_EMULATOR_HOST",
    "TRADECYCLE_WAIT_SCALE",
    "BINANCE_API_URL",
    "BINANCE_BASE_URL",
    // The workflow trades on production Binance, never the testnet.
    "BINANCE_TESTNET",
];

const SECRETS: &[&str] = &["BINANCE_API_KEY", "BINANCE_API_SECRET", "TG_TOKEN"];

#[test]
fn cycle_is_dispatch_only_with_its_two_inputs() {
    let w = yaml(".github/workflows/cycle.yml");
    assert_eq!(keys(&w["on"]), ["workflow_dispatch".to_string()].into(), "no schedule, no push: one scheduler only");
    assert_eq!(
        w["on"]["workflow_dispatch"]["inputs"]["validate_only"],
        json!({"description": "Only check credentials and reachability (Google/Firestore, Binance key, Telegram); no cycle",
               "type": "boolean", "default": false})
    );
    let live = &w["on"]["workflow_dispatch"]["inputs"]["live"];
    assert_eq!((&live["type"], &live["default"]), (&json!("boolean"), &json!(false)));
    assert_eq!(keys(&w["on"]["workflow_dispatch"]["inputs"]), ["live".to_string(), "validate_only".into()].into());
    assert_eq!(w["permissions"], json!({"contents": "read", "id-token": "write"}));
    assert_eq!(
        w["concurrency"],
        json!({"group": "${{ github.workflow }}-${{ github.ref_name }}", "cancel-in-progress": false})
    );
    assert_eq!(keys(&w["jobs"]), ["cycle".to_string()].into());
    assert!(w["jobs"]["cycle"]["timeout-minutes"].as_u64().is_some_and(|m| m <= 60));
    assert_identity_preflight(&w, "cycle");
}

#[test]
fn cycle_passes_every_documented_variable_and_the_secrets() {
    let w = yaml(".github/workflows/cycle.yml");
    let steps = steps(&w, "cycle");
    let run = step(&steps, "Run the cycle");
    let env = run["env"].as_object().unwrap();
    for name in SECRETS {
        assert_eq!(env[*name], format!("${{{{ secrets.{name} }}}}"), "{name} is a secret");
    }
    let mut expected: BTreeSet<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    for v in all_variables() {
        if NOT_FOR_THE_CYCLE.contains(&v.name) || SECRETS.contains(&v.name) || v.name == "TRADECYCLE_LOG" {
            continue;
        }
        assert_eq!(env.get(v.name), Some(&json!(format!("${{{{ vars.{} }}}}", v.name))), "{} from vars", v.name);
        expected.insert(v.name.to_string());
    }
    // Every STRATEGY_ARTIFACT_* setting the program knows reaches it.
    let artifacts = all_variables().filter(|v| v.name.starts_with("STRATEGY_ARTIFACT_")).count();
    assert_eq!(env.keys().filter(|k| k.starts_with("STRATEGY_ARTIFACT_")).count(), artifacts);
    assert!(artifacts >= 8);
    for extra in ["TRADECYCLE_BIN", "VALIDATE_ONLY", "LIVE", "TRADECYCLE_STORE", "TRADECYCLE_LOG"] {
        expected.insert(extra.to_string());
    }
    assert_eq!(env.keys().cloned().collect::<BTreeSet<_>>(), expected, "nothing else reaches the cycle");
    // The workflow logs the cycle's lines unless told otherwise.
    assert_eq!(env["TRADECYCLE_LOG"], "${{ vars.TRADECYCLE_LOG || 'info' }}");
    assert_eq!(env["VALIDATE_ONLY"], "${{ inputs.validate_only }}");
    assert_eq!(env["LIVE"], "${{ inputs.live }}");
    assert_eq!(env["TRADECYCLE_STORE"], "firestore");
    let script = run["run"].as_str().unwrap();
    // validate_only checks the configuration for what the dispatch intends: --live when live.
    assert!(script.contains(
        "if [ \"$VALIDATE_ONLY\" = \"true\" ]; then\n  if [ \"$LIVE\" = \"true\" ]; then\n    exec \"$TRADECYCLE_BIN\" validate --live\n  fi\n  exec \"$TRADECYCLE_BIN\" validate\nfi"
    ));
    assert!(script.contains(
        "args=(run --run-id \"gha-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT\")\nif [ \"$LIVE\" = \"true\" ]; then\n  args+=(--live)\nfi"
    ));
    // Names the reference retired must not come back.
    let file = text(".github/workflows/cycle.yml");
    for retired in ["TG_CHAT_ID:", "GCP_SA_KEY", "credentials_json", "BINANCE_DRY_RUN", "TRADECYCLE_LIVE"] {
        assert!(!file.contains(retired), "cycle.yml mentions {retired}");
    }
}

#[test]
fn cycle_builds_or_restores_the_binary_uploads_and_summarises_the_report() {
    let w = yaml(".github/workflows/cycle.yml");
    let steps = steps(&w, "cycle");
    let binary = step(&steps, "Restore or build the release binary");
    assert_eq!((uses(binary), &binary["id"]), ("./.github/actions/tradecycle-binary", &json!("binary")));
    let action = yaml(".github/actions/tradecycle-binary/action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    let a_steps = action["runs"]["steps"].as_array().unwrap();
    let cache = a_steps.iter().find(|s| uses(s) == "actions/cache@v4").expect("actions/cache");
    assert_eq!(cache["with"]["path"], ".bin/tradecycle");
    let key = cache["with"]["key"].as_str().unwrap();
    for part in ["runner.os", "runner.arch", "steps.platform.outputs.libc", "Cargo.lock", "src/**"] {
        assert!(key.contains(part), "cache key covers {part}: {key}");
    }
    let build = a_steps.iter().find(|s| s["name"] == "Build the release binary").unwrap();
    assert_eq!(build["if"], "steps.cache.outputs.cache-hit != 'true'");
    assert!(build["run"].as_str().unwrap().contains("cargo build --release --locked --bin tradecycle"));

    let upload = steps.iter().find(|s| uses(s).starts_with("actions/upload-artifact@")).expect("upload step");
    assert_eq!(upload["if"], "always()");
    assert_eq!(upload["with"]["path"], "artifacts/");

    let summary = step(&steps, "Summarise the report");
    assert_eq!(summary["if"], "always() && inputs.validate_only != true && steps.binary.outcome == 'success'");
    let script = summary["run"].as_str().unwrap();
    assert!(script.contains("for f in artifacts/report-*.json; do"));
    assert!(
        script
            .contains("\"$TRADECYCLE_BIN\" summary --report \"$report\" --format markdown >> \"$GITHUB_STEP_SUMMARY\"")
    );
    assert!(script.contains("\"$TRADECYCLE_BIN\" summary --report \"$report\" --format annotations"));

    let alert = step(&steps, "Alert when the run failed before writing a report");
    assert_eq!(alert["if"], "failure() && inputs.validate_only != true");
    assert_eq!(alert["env"]["TG_TOKEN"], "${{ secrets.TG_TOKEN }}");
    assert_eq!(alert["env"]["GLOBAL_TELEGRAM_CHAT_ID"], "${{ vars.GLOBAL_TELEGRAM_CHAT_ID }}");
    assert_eq!(
        alert["env"]["RUN_URL"],
        "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}"
    );
    let script = alert["run"].as_str().unwrap();
    assert!(
        script.starts_with("if compgen -G \"artifacts/report-*.json\" > /dev/null; then\n"),
        "skips when a report exists"
    );
    assert!(script.contains("\"Run: $RUN_URL\""));
    assert!(script.contains("grep -q '\"ok\":true'"), "checks Telegram's ok");
    assert!(script.contains("::warning::"));
    // Order: run, summary, upload, failure alert.
    let at = |name: &str| position(&steps, |s| s["name"] == name);
    assert!(at("Run the cycle") < at("Summarise the report"));
    assert!(at("Summarise the report") < at("Upload the report"));
    assert!(at("Upload the report") < at("Alert when the run failed before writing a report"));
}

/// A step's `run` script executed as GitHub runs `shell: bash`
/// (`bash --noprofile --norc -eo pipefail`), in `dir`, with `env`.
fn step_script(script: &str, dir: &std::path::Path, env: &[(&str, &str)]) -> std::process::Command {
    let file = dir.join("step.sh");
    std::fs::write(&file, script).unwrap();
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&file).current_dir(dir);
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A stand-in for the binary: records its arguments, exits with `code`.
fn fake_binary(dir: &std::path::Path, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-tradecycle");
    std::fs::write(&path, format!("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn cycle_step_env(bin: &str) -> Vec<(&str, &str)> {
    vec![
        ("TRADECYCLE_BIN", bin),
        ("VALIDATE_ONLY", "false"),
        ("LIVE", "true"),
        ("GITHUB_RUN_ID", "77"),
        ("GITHUB_RUN_ATTEMPT", "2"),
    ]
}

#[test]
fn the_cycle_step_passes_exit_5_with_a_warning_and_keeps_every_other_code() {
    let w = yaml(".github/workflows/cycle.yml");
    let steps = steps(&w, "cycle");
    let script = step(&steps, "Run the cycle")["run"].as_str().unwrap().to_string();
    for (code, step_code) in [(0, 0), (5, 0), (1, 1), (2, 2), (3, 3), (4, 4)] {
        let dir = tempfile::tempdir().unwrap();
        let bin = fake_binary(dir.path(), &format!("exit {code}"));
        let out = step_script(&script, dir.path(), &cycle_step_env(&bin)).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(step_code), "binary exit {code}: {stdout}");
        let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
        assert_eq!(args, "run --run-id gha-77-2 --live\n");
        let warned = stdout.lines().any(|l| l.starts_with("::warning title=Cycle needs attention::"));
        assert_eq!(warned, code == 5, "exit {code}: {stdout}");
    }
}

#[test]
fn the_cycle_step_forwards_a_cancel_to_the_cycle_and_reports_its_exit_code() {
    let w = yaml(".github/workflows/cycle.yml");
    let steps = steps(&w, "cycle");
    let script = step(&steps, "Run the cycle")["run"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    // Stops cleanly on SIGTERM, as the real cycle does after its order in flight.
    let bin = fake_binary(
        dir.path(),
        "trap 'touch \"$(dirname \"$0\")/stopped\"; exit 3' TERM\ntouch \"$(dirname \"$0\")/started\"\nwhile :; do sleep 0.05; done",
    );
    let mut child = step_script(&script, dir.path(), &cycle_step_env(&bin)).spawn().unwrap();
    let started = dir.path().join("started");
    for _ in 0..400 {
        if started.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(started.exists(), "the cycle started");
    // What the runner does when a workflow run is cancelled.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(dir.path().join("stopped").exists(), "the signal reached the cycle");
    assert_eq!(status.code(), Some(3), "the step ends with the cycle's own code");
}

#[test]
fn the_summary_step_annotates_each_attention_item() {
    let w = yaml(".github/workflows/cycle.yml");
    let steps = steps(&w, "cycle");
    let script = step(&steps, "Summarise the report")["run"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("artifacts")).unwrap();
    let report = json!({"schema": "tradecycle.report.v1", "run_id": "gha-77-2", "mode": "live",
        "now": "2026-03-15T10:00:00Z", "status": "attention", "pool": null, "execution_pool": [], "intents": [],
        "attention": ["trend_buy XRPUSDT (tc-26031510-tb-XRPUSDT) not executed: -2010", "earn_redeem USDT not executed: -6003"],
        "warnings": ["trend_buy XRPUSDT (tc-26031510-tb-XRPUSDT) not executed: -2010", "earn_redeem USDT not executed: -6003"],
        "errors": []});
    std::fs::write(dir.path().join("artifacts/report-gha-77-2.json"), report.to_string()).unwrap();
    let summary = dir.path().join("summary.md");
    let out = step_script(
        &script,
        dir.path(),
        &[("TRADECYCLE_BIN", env!("CARGO_BIN_EXE_tradecycle")), ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "::warning title=Needs attention::trend_buy XRPUSDT (tc-26031510-tb-XRPUSDT) not executed: -2010\n\
         ::warning title=Needs attention::earn_redeem USDT not executed: -6003\n"
    );
    let md = std::fs::read_to_string(summary).unwrap();
    assert!(md.starts_with("## ⚠️ tradecycle cycle: attention (live)\n"), "{md}");
}

#[test]
fn heartbeat_runs_hourly_with_read_only_permissions() {
    let w = yaml(".github/workflows/heartbeat.yml");
    assert_eq!(w["on"]["schedule"], json!([{"cron": "35 * * * *"}]));
    let inputs = &w["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(inputs["lookback_hours"]["default"], "2.5");
    assert_eq!(inputs["fail_workflow_on_alert"]["options"], json!(["true", "false"]));
    assert_eq!(w["permissions"], json!({"actions": "read", "contents": "read"}));
    let steps = steps(&w, "heartbeat");
    let check = step(&steps, "Check the cycle workflow's recent runs");
    assert_eq!(check["run"], "\"$TRADECYCLE_BIN\" heartbeat");
    let env = &check["env"];
    assert_eq!(env["GITHUB_TOKEN"], "${{ github.token }}");
    assert_eq!(env["RUNTIME_HEARTBEAT_WORKFLOW"], "cycle.yml");
    assert_eq!(
        env["RUNTIME_HEARTBEAT_LOOKBACK_HOURS"],
        "${{ inputs.lookback_hours || vars.RUNTIME_HEARTBEAT_LOOKBACK_HOURS || '2.5' }}"
    );
    assert_eq!(
        env["RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT"],
        "${{ inputs.fail_workflow_on_alert || vars.RUNTIME_HEARTBEAT_FAIL_WORKFLOW_ON_ALERT || 'true' }}"
    );
    assert_eq!(env["TG_TOKEN"], "${{ secrets.TG_TOKEN }}");
    assert_eq!(env["GLOBAL_TELEGRAM_CHAT_ID"], "${{ vars.GLOBAL_TELEGRAM_CHAT_ID }}");
    // The cycle workflow the heartbeat watches exists.
    assert!(root().join(".github/workflows").join(env["RUNTIME_HEARTBEAT_WORKFLOW"].as_str().unwrap()).is_file());
}

#[test]
fn watchdog_checks_the_store_with_workload_identity() {
    let w = yaml(".github/workflows/watchdog.yml");
    assert!(w["on"]["schedule"][0]["cron"].is_string());
    assert!(w["on"].get("workflow_dispatch").is_some());
    assert_eq!(w["permissions"], json!({"contents": "read", "id-token": "write"}));
    assert_identity_preflight(&w, "watchdog");
    let steps = steps(&w, "watchdog");
    let check = step(&steps, "Check the cycle heartbeat's age");
    assert_eq!(check["run"], "\"$TRADECYCLE_BIN\" watchdog --store firestore");
    assert_eq!(check["env"]["WATCHDOG_MAX_AGE_SECONDS"], "${{ vars.WATCHDOG_MAX_AGE_SECONDS }}");
    // Where the cycle writes the record (store settings, service name).
    for name in ["SERVICE_NAME", "TRADECYCLE_HEARTBEAT_COLLECTION", "TRADECYCLE_FIRESTORE_DATABASE"] {
        assert_eq!(check["env"][name], format!("${{{{ vars.{name} }}}}"));
    }
}

#[test]
fn ci_runs_fmt_clippy_the_readme_tests_a_release_build_and_actionlint() {
    let w = yaml(".github/workflows/ci.yml");
    assert_eq!(keys(&w["on"]), ["pull_request".to_string(), "push".into()].into());
    assert_eq!(w["permissions"], json!({"contents": "read"}));
    let runs: Vec<String> = steps(&w, "test").iter().filter_map(|s| s["run"].as_str().map(str::to_string)).collect();
    for command in [
        "cargo fmt --all -- --check",
        "cargo clippy --locked --workspace --all-targets -- -D warnings",
        "scripts/test.sh",
        "cargo build --release --locked --bin tradecycle",
    ] {
        assert!(runs.iter().any(|r| r == command), "ci.yml runs {command}");
    }
    let readme = text("README.md");
    assert!(readme.contains("\n    scripts/test.sh\n"), "the README's test command is scripts/test.sh");
    let cache = steps(&w, "test").into_iter().find(|s| uses(s) == "actions/cache@v4").expect("cargo cache");
    assert!(cache["with"]["path"].as_str().unwrap().contains("~/.cargo/registry"));
    assert!(cache["with"]["key"].as_str().unwrap().contains("hashFiles('Cargo.lock')"));
    let lint = steps(&w, "actionlint");
    assert!(lint.iter().any(|s| s["run"] == "scripts/actionlint.sh"));
    let container = steps(&w, "container");
    assert!(container.iter().any(|s| s["run"] == "docker build --tag tradecycle:ci ."));
    // .ci/run lints the workflows too.
    assert!(text(".ci/run").lines().any(|l| l == "scripts/actionlint.sh"));
}

#[test]
fn every_workflow_pins_its_actions_and_bounds_its_jobs() {
    let dir = root().join(".github/workflows");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".yml"), "{name}: workflows use .yml");
        let w = yaml(&format!(".github/workflows/{name}"));
        seen += 1;
        assert!(w.get("permissions").is_some(), "{name}: explicit permissions");
        assert!(w["on"].get("pull_request_target").is_none(), "{name}: no pull_request_target");
        for (job, body) in w["jobs"].as_object().unwrap() {
            assert!(body["timeout-minutes"].as_u64().is_some(), "{name}/{job}: timeout-minutes");
            for s in body["steps"].as_array().unwrap() {
                let u = uses(s);
                if !u.is_empty() && !u.starts_with("./") {
                    let (_, version) = u.split_once('@').unwrap_or_else(|| panic!("{name}/{job}: {u} is pinned"));
                    assert!(version.starts_with('v') || version.len() == 40 || version == "stable", "{u}");
                }
                if uses(s).starts_with("actions/checkout@") {
                    assert_eq!(s["with"]["persist-credentials"], false, "{name}/{job}: no token left on disk");
                }
            }
        }
    }
    assert_eq!(seen, 4, "ci, cycle, heartbeat, watchdog");
}
