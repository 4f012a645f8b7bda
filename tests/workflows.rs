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
    assert!(uses(&steps[auth]).starts_with("google-github-actions/auth@"));
    assert_eq!(with["workload_identity_provider"], "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}");
    assert_eq!(with["service_account"], "${{ vars.GCP_WORKLOAD_IDENTITY_SERVICE_ACCOUNT }}");
    assert_eq!(with["project_id"], "${{ vars.GCP_PROJECT_ID }}");
    assert!(with.get("credentials_json").is_none(), "no long-lived key");
}

/// Variables of the operations commands (`dispatch`, `heartbeat`,
/// `watchdog`): the cycle does not read them.
fn operations_only() -> BTreeSet<&'static str> {
    let ops = [
        tradecycle::commands::dispatch::VARIABLES,
        tradecycle::commands::heartbeat::VARIABLES,
        tradecycle::commands::watchdog::VARIABLES,
    ];
    ops.iter().flat_map(|vars| vars.iter().map(|v| v.name)).collect()
}

/// Settings the cycle step fixes instead of taking them from a repository
/// variable: the mode from the dispatch input, the store, the endpoints and
/// the credentials. Set explicitly so that nothing left in the self-hosted
/// runner's environment can make a dry run live or point the cycle at
/// another store, exchange or chat API.
const PINNED: &[(&str, &str)] = &[
    ("TRADECYCLE_LIVE", "${{ inputs.live }}"),
    ("TRADECYCLE_STORE", "firestore"),
    ("FIRESTORE_EMULATOR_HOST", ""),
    ("GOOGLE_APPLICATION_CREDENTIALS", "${{ steps.auth.outputs.credentials_file_path }}"),
    ("GOOGLE_CLOUD_PROJECT", "${{ vars.GCP_PROJECT_ID }}"),
    ("BINANCE_BASE_URL", "${{ vars.BINANCE_BASE_URL || 'https://api.binance.com' }}"),
    ("TELEGRAM_API_URL", "https://api.telegram.org"),
    ("TRADECYCLE_WAIT_SCALE", "1"),
    // Testnet mode only follows from a testnet BINANCE_BASE_URL, never from
    // a stray variable on the runner.
    ("BINANCE_TESTNET", ""),
    // The workflow logs the cycle's lines unless told otherwise.
    ("TRADECYCLE_LOG", "${{ vars.TRADECYCLE_LOG || 'info' }}"),
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
fn cycle_sets_every_variable_it_reads_from_secrets_vars_or_the_dispatch() {
    let w = yaml(".github/workflows/cycle.yml");
    let steps = steps(&w, "cycle");
    let run = step(&steps, "Run the cycle");
    let env = run["env"].as_object().unwrap();
    let ops = operations_only();
    let pinned: BTreeSet<&str> = PINNED.iter().map(|(name, _)| *name).collect();
    let mut expected: BTreeSet<String> = ["TRADECYCLE_BIN", "VALIDATE_ONLY", "LIVE"].map(String::from).into();
    for v in all_variables().filter(|v| !ops.contains(v.name)) {
        let want = if SECRETS.contains(&v.name) {
            format!("${{{{ secrets.{} }}}}", v.name)
        } else if let Some((_, value)) = PINNED.iter().find(|(name, _)| *name == v.name) {
            value.to_string()
        } else {
            format!("${{{{ vars.{} }}}}", v.name)
        };
        assert_eq!(env.get(v.name), Some(&json!(want)), "{} reaches the cycle as {want}", v.name);
        expected.insert(v.name.to_string());
    }
    // Every variable the cycle reads is set here (an unset repository
    // variable is an empty value, which the program reads as unset), so no
    // value can come from the runner's environment; and nothing else is.
    assert_eq!(env.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(pinned.iter().all(|p| expected.contains(*p)), "every pinned name is a variable the program reads");
    for name in SECRETS {
        assert!(expected.contains(*name), "{name} is a variable the program reads");
    }
    // Every STRATEGY_ARTIFACT_* setting the program knows reaches it.
    assert!(env.keys().filter(|k| k.starts_with("STRATEGY_ARTIFACT_")).count() >= 8);
    assert_eq!(env["VALIDATE_ONLY"], "${{ inputs.validate_only }}");
    assert_eq!(env["LIVE"], "${{ inputs.live }}");
    // The credentials file is the one the auth step wrote.
    let auth = steps.iter().find(|s| uses(s).starts_with("google-github-actions/auth@")).unwrap();
    assert_eq!(auth["id"], "auth");
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
    for retired in ["TG_CHAT_ID:", "GCP_SA_KEY", "credentials_json", "BINANCE_DRY_RUN"] {
        assert!(!file.contains(retired), "cycle.yml mentions {retired}");
    }
}

/// A hung cycle is stopped by its own step's limit, well inside the job's,
/// so the steps that report and alert still run after it.
#[test]
fn a_hung_cycle_still_reaches_the_summary_upload_and_alert() {
    let w = yaml(".github/workflows/cycle.yml");
    let job_limit = w["jobs"]["cycle"]["timeout-minutes"].as_u64().unwrap();
    let steps = steps(&w, "cycle");
    let run = step(&steps, "Run the cycle");
    let step_limit = run["timeout-minutes"].as_u64().expect("the cycle step has its own timeout-minutes");
    // A cache miss builds the release binary (5-8 minutes) before the cycle.
    assert!(step_limit + 15 <= job_limit, "cycle step {step_limit} min, job {job_limit} min");
    let at = position(&steps, |s| s["name"] == "Run the cycle");
    let after: Vec<&str> = steps[at + 1..].iter().map(|s| s["if"].as_str().unwrap_or("")).collect();
    assert_eq!(after.len(), 3, "summary, upload, alert");
    assert!(after.iter().all(|c| c.starts_with("always()") || c.starts_with("failure()")), "{after:?}");
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
    let restore = position(a_steps, |s| uses(s).starts_with("actions/cache/restore@"));
    assert_eq!(a_steps[restore]["id"], "cache");
    assert_eq!(a_steps[restore]["with"]["path"], ".bin/tradecycle");
    let key = a_steps[restore]["with"]["key"].as_str().unwrap();
    for part in
        ["runner.os", "runner.arch", "steps.platform.outputs.libc", "Cargo.lock", "rust-toolchain.toml", "src/**"]
    {
        assert!(key.contains(part), "cache key covers {part}: {key}");
    }
    let miss = "steps.cache.outputs.cache-hit != 'true'";
    let install = &a_steps[position(a_steps, |s| s["name"] == "Install Rust")];
    assert_eq!(install["if"], miss);
    let script = install["run"].as_str().unwrap();
    assert!(script.ends_with("\nrustup toolchain install\n"), "the toolchain rust-toolchain.toml pins: {script}");
    assert!(script.contains("echo \"::error::rustup is not installed on this runner"), "a missing rustup is named");
    let build = position(a_steps, |s| s["name"] == "Build the release binary");
    assert_eq!(a_steps[build]["if"], miss);
    assert!(a_steps[build]["run"].as_str().unwrap().contains("cargo build --release --locked --bin tradecycle"));
    // Saved by its own step right after the build, not by actions/cache's
    // end-of-job hook (which skips the save when the cycle fails).
    let save = &a_steps[build + 1];
    assert!(uses(save).starts_with("actions/cache/save@"), "the build is followed by the save");
    assert_eq!(save["if"], miss);
    assert_eq!(save["with"], json!({"path": ".bin/tradecycle", "key": "${{ steps.cache.outputs.cache-primary-key }}"}));
    assert!(!a_steps.iter().any(|s| uses(s).starts_with("actions/cache@")), "no save tied to the job's success");

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
    // The queued-run limit and the reminder interval of its durable alerts.
    for name in ["RUNTIME_HEARTBEAT_MAX_QUEUED_MINUTES", "ALERT_REMIND_HOURS"] {
        assert_eq!(env[name], format!("${{{{ vars.{name} }}}}"));
    }
    // The alert book survives the hosted runner: restored before the check,
    // saved after it whatever the outcome, under a key unique to the run.
    let restore = step(&steps, "Restore the heartbeat's alert book");
    let save = step(&steps, "Save the heartbeat's alert book");
    let key = "heartbeat-alerts-${{ github.run_id }}-${{ github.run_attempt }}";
    assert!(uses(restore).starts_with("actions/cache/restore@"));
    assert_eq!(
        restore["with"],
        json!({"path": "artifacts/heartbeat", "key": key, "restore-keys": "heartbeat-alerts-"})
    );
    assert!(uses(save).starts_with("actions/cache/save@"));
    assert_eq!((&save["if"], &save["with"]), (&json!("always()"), &json!({"path": "artifacts/heartbeat", "key": key})));
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(at("Restore the heartbeat's alert book") < at("Check the cycle workflow's recent runs"));
    assert!(at("Check the cycle workflow's recent runs") < at("Save the heartbeat's alert book"));
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
    for name in ["TRADECYCLE_HEARTBEAT_COLLECTION", "TRADECYCLE_FIRESTORE_DATABASE"] {
        assert_eq!(check["env"][name], format!("${{{{ vars.{name} }}}}"));
    }
    // The watchdog alerts through Telegram itself (raise, remind, clear).
    assert_eq!(check["env"]["TG_TOKEN"], "${{ secrets.TG_TOKEN }}");
    for name in ["GLOBAL_TELEGRAM_CHAT_ID", "NOTIFY_LANG", "ALERT_REMIND_HOURS"] {
        assert_eq!(check["env"][name], format!("${{{{ vars.{name} }}}}"));
    }
    // One check per account (the Kubernetes accounts' service names), or
    // the one SERVICE_NAME; one stale account does not hide another.
    let strategy = &w["jobs"]["watchdog"]["strategy"];
    assert_eq!(strategy["fail-fast"], false);
    assert_eq!(strategy["matrix"]["service"], "${{ fromJSON(vars.WATCHDOG_SERVICES || '[\"\"]') }}");
    assert_eq!(check["env"]["SERVICE_NAME"], "${{ matrix.service || vars.SERVICE_NAME }}");
}

fn run_steps(steps: &[Value]) -> Vec<&str> {
    steps.iter().filter_map(|s| s["run"].as_str()).collect()
}

#[test]
fn ci_runs_exactly_dot_ci_run_on_a_hosted_runner_with_what_it_needs() {
    let w = yaml(".github/workflows/ci.yml");
    assert_eq!(keys(&w["on"]), ["pull_request".to_string(), "push".into()].into());
    assert_eq!(w["permissions"], json!({"contents": "read"}));
    assert_eq!(keys(&w["jobs"]), ["container".to_string(), "test".into()].into());
    assert_eq!(w["jobs"]["test"]["runs-on"], "ubuntu-latest");
    let test = steps(&w, "test");
    // The toolchain rust-toolchain.toml pins, the emulator, then .ci/run and
    // nothing else: CI checks what a developer checks.
    assert_eq!(run_steps(&test), ["rustup toolchain install", "scripts/install-firestore-emulator.sh", ".ci/run"]);
    let cache = position(&test, |s| uses(s).starts_with("Swatinem/rust-cache@"));
    assert!(cache < position(&test, |s| s["run"] == ".ci/run"), "the cargo build is cached");

    let ci = text(".ci/run");
    let commands: Vec<&str> = ci.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    for command in [
        "cargo fmt --all -- --check",
        "cargo clippy --locked --workspace --all-targets -- -D warnings",
        "scripts/actionlint.sh",
        "    shellcheck scripts/*.sh deploy/kubernetes/*.sh .ci/run",
    ] {
        assert!(commands.contains(&command), ".ci/run runs {command}");
    }
    assert_eq!(commands.last(), Some(&"scripts/test.sh"), ".ci/run ends with the README's test command");
    assert!(text("README.md").contains("\n    scripts/test.sh\n"), "the README's test command is scripts/test.sh");
    // A linter missing on CI fails the run instead of skipping unseen.
    assert!(ci.contains("elif [ \"${CI:-}\" = \"true\" ]; then"));
    assert!(text("scripts/actionlint.sh").contains("if [ \"${CI:-}\" = \"true\" ]; then"));
}

/// The runner image drops Google's apt source after installing gcloud, so
/// the install adds it explicitly, with Google's key, and installs the
/// package the test script takes the emulator's jar from.
#[test]
fn the_emulator_install_adds_googles_apt_repository_itself() {
    let script = text("scripts/install-firestore-emulator.sh");
    assert!(script.contains("curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | $sudo gpg --dearmor"));
    assert!(script.contains("deb [signed-by=$keyring] https://packages.cloud.google.com/apt cloud-sdk main"));
    assert!(script.contains("package=google-cloud-cli-firestore-emulator\n"));
    assert!(script.contains("$sudo apt-get install -y --no-install-recommends \"$package\""));
    assert!(text("scripts/firestore-emulator.sh").contains("dpkg -L google-cloud-cli-firestore-emulator"));
}

#[test]
fn ci_builds_the_image_and_smoke_runs_version_replay_and_paper() {
    let w = yaml(".github/workflows/ci.yml");
    assert_eq!(w["jobs"]["container"]["runs-on"], "ubuntu-latest");
    let container = steps(&w, "container");
    assert_eq!(
        run_steps(&container),
        ["docker build --tag tradecycle:ci .", "scripts/container-smoke.sh tradecycle:ci"]
    );
    let smoke = text("scripts/container-smoke.sh");
    assert!(smoke.contains("run() { docker run --rm --network none \"$image\" \"$@\"; }"));
    for command in [
        "got=$(run --version)",
        "run replay --format json | expect_ok replay",
        "run run --paper --format json | expect_ok \"run --paper\"",
    ] {
        assert!(smoke.lines().any(|l| l == command), "the smoke test runs {command}");
    }
    // The image's cycle must report ok, not merely exit.
    assert!(smoke.contains("status=$(jq -r .status)"));
}

/// What is wrong with one `uses:` value, if anything: a third-party action
/// is pinned by a full commit SHA, with its version in a comment
/// (`owner/repo@<40 hex> # v1.2.3`); a local action (`./...`) is exempt.
fn pin_problem(value: &str) -> Option<String> {
    let (reference, comment) = value.split_once('#').map_or((value, ""), |(r, c)| (r, c));
    let reference = reference.trim();
    if reference.starts_with("./") {
        return None;
    }
    let Some((_, sha)) = reference.split_once('@') else {
        return Some(format!("{reference}: no @ref"));
    };
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Some(format!("{reference}: not pinned by a full commit SHA"));
    }
    let version = comment.trim();
    let numbers = version.strip_prefix('v').unwrap_or("");
    if numbers.is_empty() || !numbers.split('.').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
        return Some(format!("{reference}: no version comment (# vX.Y.Z), got {version:?}"));
    }
    None
}

#[test]
fn the_pin_check_refuses_tags_branches_short_shas_and_missing_versions() {
    let sha = "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09";
    assert_eq!(pin_problem(&format!("actions/checkout@{sha} # v5.1.0")), None);
    assert_eq!(pin_problem(&format!("actions/cache/restore@{sha} # v4")), None);
    assert_eq!(pin_problem("./.github/actions/tradecycle-binary"), None);
    for bad in [
        "actions/checkout@v5".to_string(),
        "dtolnay/rust-toolchain@stable".into(),
        "actions/checkout".into(),
        format!("actions/checkout@{}", &sha[..12]),
        format!("actions/checkout@{}", sha.to_uppercase()),
        format!("actions/checkout@{sha}"),
        format!("actions/checkout@{sha} # latest"),
    ] {
        assert!(pin_problem(&bad).is_some(), "{bad} passed the pin check");
    }
}

/// Every `uses:` line of the workflows and of the local actions, by file.
fn uses_lines() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root().join(".github/workflows")).unwrap().map(|e| e.unwrap().path()).collect();
    for action in std::fs::read_dir(root().join(".github/actions")).unwrap() {
        files.push(action.unwrap().path().join("action.yml"));
    }
    let mut lines = Vec::new();
    for path in files {
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        for line in std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}")).lines() {
            let line = line.trim_start().trim_start_matches("- ");
            if let Some(value) = line.strip_prefix("uses:") {
                lines.push((name.clone(), value.trim().to_string()));
            }
        }
    }
    lines
}

#[test]
fn every_third_party_action_is_pinned_by_commit_sha_with_its_version() {
    let lines = uses_lines();
    assert!(lines.len() >= 12, "found the uses: lines ({})", lines.len());
    let mut versions = std::collections::BTreeMap::new();
    for (file, value) in &lines {
        if let Some(problem) = pin_problem(value) {
            panic!("{file}: {problem}");
        }
        // One action, one pin, everywhere.
        if let Some((action, pin)) = value.split_once('@') {
            let action = action.split('/').take(2).collect::<Vec<_>>().join("/");
            let previous = versions.insert(action.clone(), pin.to_string());
            assert!(previous.is_none_or(|p| p == pin), "{file}: {action} pinned differently elsewhere");
        }
    }
}

/// The value of `key = ...` in rust-toolchain.toml (a flat file of
/// strings and string lists; no TOML parser needed for it).
fn toolchain_value(key: &str) -> String {
    let file = text("rust-toolchain.toml");
    let line = file.lines().find(|l| l.split('=').next().is_some_and(|k| k.trim() == key));
    line.unwrap_or_else(|| panic!("rust-toolchain.toml sets {key}")).split_once('=').unwrap().1.trim().to_string()
}

#[test]
fn the_toolchain_is_pinned_and_the_image_builds_with_it() {
    let channel = toolchain_value("channel").trim_matches('"').to_string();
    let parts: Vec<&str> = channel.split('.').collect();
    assert!(parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()), "an exact version: {channel}");
    let components = toolchain_value("components");
    for component in ["\"rustfmt\"", "\"clippy\""] {
        assert!(components.contains(component), "{component} for .ci/run: {components}");
    }
    let builder = format!("FROM rust:{channel}-bookworm AS builder");
    assert!(
        text("Dockerfile").lines().any(|l| l == builder),
        "the Dockerfile builds with the pinned toolchain: {builder}"
    );
}

#[test]
fn every_workflow_bounds_its_jobs_and_leaves_no_token_on_disk() {
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
                if uses(s).starts_with("actions/checkout@") {
                    assert_eq!(s["with"]["persist-credentials"], false, "{name}/{job}: no token left on disk");
                }
            }
        }
    }
    assert_eq!(seen, 4, "ci, cycle, heartbeat, watchdog");
}
