//! The Kubernetes deployment (`deploy/kubernetes/`): one manifest per
//! account, rendered from one template by `new-account.sh`, so that every
//! name is derived from the account. Each example account runs hourly
//! without overlap, off :00 and outside 23:50-00:10 UTC, with secrets from
//! its own Secret and Google access through workload identity; its
//! artifacts (the state-recovery file above all) live on a volume that
//! outlives the pod; and no two accounts share a state document, a run
//! lease, a heartbeat record or a Kubernetes object — read with the
//! program's own configuration code, not by guessing variable names.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::{Value, json};
use tradecycle::config::{Env, Settings};
use tradecycle::adapters::store::firestore::FirestoreConfig;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    root().join("deploy/kubernetes")
}

fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("valid YAML document"))
        .collect()
}

/// One example account: its file name (without `.yaml`) and manifest.
struct Account {
    name: String,
    text: String,
    docs: Vec<Value>,
}

impl Account {
    fn from_text(name: &str, text: String) -> Self {
        Account { name: name.to_string(), docs: documents(&text), text }
    }

    fn of_kind(&self, kind: &str) -> &Value {
        self.docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("{}: no {kind}", self.name))
    }

    fn pod(&self) -> &Value {
        &self.of_kind("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    }

    /// The environment the container gets from its ConfigMap.
    fn env(&self) -> Env {
        let data = self.of_kind("ConfigMap")["data"].as_object().unwrap();
        data.iter().map(|(k, v)| (k.clone(), v.as_str().expect("ConfigMap values are strings").to_string())).collect()
    }
}

fn examples() -> Vec<Account> {
    let mut accounts: Vec<Account> = std::fs::read_dir(deploy().join("accounts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|path| {
            assert_eq!(path.extension().unwrap(), "yaml", "{}", path.display());
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            Account::from_text(&name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    accounts.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(accounts.len() >= 2, "at least two example accounts");
    accounts
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("{v} is a string"))
}

fn new_account(args: &[&str]) -> std::process::Output {
    Command::new("bash").arg(deploy().join("new-account.sh")).args(args).output().expect("bash runs")
}

/// Everything of an account that must be its own: the state document and
/// run lease (as `FirestoreConfig` reads them), its heartbeat record, the
/// Kubernetes objects, the Secret and volume it uses, its Google identity.
fn owned_names(account: &Account) -> BTreeSet<String> {
    let env = account.env();
    let settings = Settings::from_env(&env).unwrap_or_else(|e| panic!("{}: {e}", account.name));
    let store = FirestoreConfig::from_env(&env, &settings).unwrap_or_else(|e| panic!("{}: {e}", account.name));
    let service = tradecycle::commands::watchdog::service_name(&env);
    let pod = account.pod();
    let mut names: BTreeSet<String> = [
        format!("state document {}", store.state),
        format!("run lease {}", store.lease),
        format!("heartbeat record {}/{service}", store.heartbeat_collection),
        format!("secret {}", text(&pod["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"])),
        format!(
            "google service account {}",
            text(&account.of_kind("ServiceAccount")["metadata"]["annotations"]["iam.gke.io/gcp-service-account"])
        ),
    ]
    .into();
    for volume in pod["volumes"].as_array().unwrap() {
        if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
            names.insert(format!("volume claim {claim}"));
        }
    }
    for doc in &account.docs {
        let meta = &doc["metadata"];
        names.insert(format!("{} {}/{}", text(&doc["kind"]), text(&meta["namespace"]), text(&meta["name"])));
    }
    names
}

/// What two accounts' manifests share that each must own.
fn shared_between(a: &Account, b: &Account) -> Vec<String> {
    let a_names = owned_names(a);
    // The state document of one must not be the lease of the other either.
    let strip = |n: &String| n.replace("state document ", "document ").replace("run lease ", "document ");
    let a_docs: BTreeSet<String> = a_names.iter().map(strip).collect();
    owned_names(b).iter().filter(|n| a_names.contains(*n) || a_docs.contains(&strip(n))).cloned().collect()
}

#[test]
fn every_example_is_the_template_rendered_by_new_account_sh() {
    for account in examples() {
        let first = account.text.lines().next().unwrap();
        let args = first.strip_prefix("# Rendered by: deploy/kubernetes/new-account.sh ").expect("rendered header");
        let args: Vec<&str> = args.split(' ').collect();
        assert_eq!(args[0], account.name, "the file is named after its account");
        let out = new_account(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), account.text, "{}: render it again", account.name);
        assert!(!account.text.contains("__"), "{}: a placeholder was left", account.name);
        let kinds: Vec<&str> = account.docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "CronJob"]);
    }
}

#[test]
fn new_account_sh_refuses_names_and_minutes_that_do_not_fit() {
    let refused: [&[&str]; 9] = [
        &["Account-A", "17"],
        &["account-a-", "17"],
        &["a-name-of-twenty-chr", "17"],
        &["account/a", "17"],
        &["", "17"],
        &["account-a", "05"],
        &["account-a", "50"],
        &["account-a", "1x"],
        &["account-a", "17", "--yes"],
    ];
    for args in refused {
        let out = new_account(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing rendered");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("new-account.sh: "), "{err}");
    }
    let longest = new_account(&["a-name-of-19-chars1", "49"]);
    assert!(longest.status.success(), "19 characters fit a Google service account id");
}

/// `--live` changes the container's arguments and nothing else.
#[test]
fn new_account_sh_renders_a_live_account_on_request() {
    let dry = String::from_utf8(new_account(&["account-a", "17"]).stdout).unwrap();
    let live = new_account(&["account-a", "17", "--live"]);
    assert!(live.status.success());
    let live = String::from_utf8(live.stdout).unwrap();
    let expected = dry
        .replace("new-account.sh account-a 17\n", "new-account.sh account-a 17 --live\n")
        .replace("args: [\"run\"]\n", "args: [\"run\", \"--live\"]\n");
    assert_ne!(expected, dry);
    assert_eq!(live, expected);
    let docs = documents(&live);
    let cron = docs.iter().find(|d| d["kind"] == "CronJob").unwrap();
    let args = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args, &json!(["run", "--live"]));
}

#[test]
fn no_two_accounts_share_state_lease_heartbeat_or_any_object() {
    let accounts = examples();
    for (i, a) in accounts.iter().enumerate() {
        // Explicit names: never the default document a GitHub-run account uses.
        for name in ["TRADECYCLE_STATE_DOCUMENT", "TRADECYCLE_LEASE_DOCUMENT", "SERVICE_NAME"] {
            let value = &a.env()[name];
            assert!(value.contains(&a.name), "{}: {name}={value} is derived from the account", a.name);
        }
        for b in &accounts[i + 1..] {
            let shared = shared_between(a, b);
            assert!(shared.is_empty(), "{} and {} share {shared:?}", a.name, b.name);
        }
    }
}

/// The check above can fail: an account rendered twice shares everything,
/// and two accounts left on the default state document share it and its lease.
#[test]
fn the_sharing_check_finds_a_shared_document() {
    let accounts = examples();
    let a = &accounts[0];
    let twice = shared_between(a, &Account::from_text("copy", a.text.clone()));
    assert_eq!(twice.len(), owned_names(a).len());

    let on_default = |account: &Account| {
        let text: String = account
            .text
            .lines()
            .filter(|l| !l.contains("TRADECYCLE_STATE_DOCUMENT:") && !l.contains("TRADECYCLE_LEASE_DOCUMENT:"))
            .map(|l| format!("{l}\n"))
            .collect();
        Account::from_text(&account.name, text)
    };
    let shared = shared_between(&on_default(&accounts[0]), &on_default(&accounts[1]));
    assert_eq!(
        shared,
        ["run lease strategy/MULTI_ASSET_STATE_LEASE", "state document strategy/MULTI_ASSET_STATE"],
        "only the documents are shared"
    );
}

#[test]
fn each_account_runs_hourly_without_overlap_and_off_the_maintenance_window() {
    let mut minutes = BTreeSet::new();
    for account in examples() {
        let cron = account.of_kind("CronJob");
        assert_eq!(cron["apiVersion"], "batch/v1");
        let spec = &cron["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Forbid", "{}", account.name);
        assert_eq!(spec["timeZone"], "Etc/UTC");
        let schedule = spec["schedule"].as_str().unwrap();
        let fields: Vec<&str> = schedule.split_whitespace().collect();
        assert_eq!(&fields[1..], ["*", "*", "*", "*"], "hourly: {schedule}");
        let minute: u32 = fields[0].parse().expect("one fixed minute");
        assert!((11..=49).contains(&minute), "minute {minute}: not :00 and never 23:50-00:10 UTC");
        minutes.insert(minute);
        let job = &spec["jobTemplate"]["spec"];
        assert_eq!(job["backoffLimit"], 0, "a failed cycle is never re-run automatically");
        assert!(job["activeDeadlineSeconds"].as_u64().is_some_and(|s| s < 3600), "ends before the next hour's cycle");
        let pod = account.pod();
        assert_eq!(pod["restartPolicy"], "Never");
        assert!(
            pod["terminationGracePeriodSeconds"].as_u64().is_some_and(|s| s >= 30),
            "time to finish the order in flight after SIGTERM"
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["runAsUser"], 65532);
        assert_eq!(pod["securityContext"]["fsGroup"], 65532, "the volume is writable by the image's user");
        let containers = pod["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1);
        let c = &containers[0];
        assert_eq!(c["args"], json!(["run"]), "a dry run until the operator adds --live");
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        for (kind, resource) in [("limits", "cpu"), ("limits", "memory"), ("requests", "cpu"), ("requests", "memory")] {
            assert!(c["resources"][kind][resource].is_string(), "resources.{kind}.{resource}");
        }
    }
    assert_eq!(minutes.len(), examples().len(), "each example account has its own minute");
}

#[test]
fn secrets_come_from_the_accounts_secret_and_google_access_from_workload_identity() {
    for account in examples() {
        let cron = account.of_kind("CronJob");
        let name = cron["metadata"]["name"].as_str().unwrap();
        assert_eq!(name, format!("tradecycle-{}", account.name));
        let c = &account.pod()["containers"][0];
        let env = c["env"].as_array().unwrap();
        for secret in ["BINANCE_API_KEY", "BINANCE_API_SECRET", "TG_TOKEN"] {
            let e = env.iter().find(|e| e["name"] == secret).unwrap_or_else(|| panic!("{secret} passed"));
            assert_eq!(e["valueFrom"]["secretKeyRef"], json!({"name": name, "key": secret}), "{secret}");
            assert!(e.get("value").is_none(), "{secret} is never inline");
        }
        let config = account.of_kind("ConfigMap");
        assert_eq!(c["envFrom"], json!([{"configMapRef": {"name": config["metadata"]["name"]}}]));
        for key in config["data"].as_object().unwrap().keys() {
            assert!(
                !["BINANCE_API_KEY", "BINANCE_API_SECRET", "TG_TOKEN"].contains(&key.as_str()),
                "{key} in a ConfigMap"
            );
        }
        assert_eq!(config["data"]["TRADECYCLE_STORE"], "firestore");
        let sa = account.of_kind("ServiceAccount");
        assert_eq!(account.pod()["serviceAccountName"], sa["metadata"]["name"]);
        let gsa = sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].as_str().unwrap();
        assert_eq!(gsa, format!("{name}@PROJECT_ID.iam.gserviceaccount.com"));
        // A Google service account id has at most 30 characters.
        assert!(gsa.split('@').next().unwrap().len() <= 30, "{gsa}");
        for d in &account.docs {
            assert_eq!(d["metadata"]["namespace"], "tradecycle");
            assert_eq!(d["metadata"]["labels"]["app.kubernetes.io/instance"], account.name.as_str());
        }
    }
}

/// A failed save leaves `artifacts/state-recovery-<run_id>.json` under the
/// working directory `/app`: that directory is the account's own
/// PersistentVolumeClaim, never an `emptyDir` that dies with the pod.
#[test]
fn the_state_recovery_file_outlives_the_pod() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(dockerfile.lines().any(|l| l == "WORKDIR /app"), "the cycle writes artifacts/ under /app");
    let sources = std::fs::read_dir(root().join("src")).unwrap().map(|e| e.unwrap().path());
    let written = sources
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .any(|p| std::fs::read_to_string(p).unwrap().contains("state-recovery-"));
    assert!(written, "the shell still writes artifacts/state-recovery-<run_id>.json");
    for account in examples() {
        let pod = account.pod();
        let mount = pod["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == "/app/artifacts")
            .expect("artifacts mount");
        let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == mount["name"]).unwrap();
        assert!(volume.get("emptyDir").is_none(), "{}: artifacts on an emptyDir die with the pod", account.name);
        let claim = volume["persistentVolumeClaim"]["claimName"].as_str().expect("a PersistentVolumeClaim");
        let pvc = account.of_kind("PersistentVolumeClaim");
        assert_eq!(pvc["metadata"]["name"], claim, "{}: the claim is the account's own", account.name);
        assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));
        assert!(pvc["spec"]["resources"]["requests"]["storage"].is_string());
    }
}

#[test]
fn the_runbook_documents_the_setup_and_the_alert_path() {
    let runbook = std::fs::read_to_string(root().join("RUNBOOK.md")).unwrap();
    let section = runbook.split("## Many accounts on Kubernetes").nth(1).expect("the section");
    let section = section.split("\n## ").next().unwrap();
    for needle in [
        "deploy/kubernetes/new-account.sh",
        "roles/iam.workloadIdentityUser",
        "roles/datastore.user",
        "BackoffLimitExceeded",
        "DeadlineExceeded",
        "WATCHDOG_SERVICES",
    ] {
        assert!(section.contains(needle), "RUNBOOK's Kubernetes section mentions {needle}");
    }
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(deploy().join("alert-policy.json")).unwrap())
        .expect("alert-policy.json is JSON");
    let filter = policy["conditions"][0]["conditionMatchedLog"]["filter"].as_str().unwrap();
    for needle in ["BackoffLimitExceeded", "DeadlineExceeded", "involvedObject.namespace=\"tradecycle\""] {
        assert!(filter.contains(needle), "the alert policy matches {needle}");
    }
}
