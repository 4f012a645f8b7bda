//! [`FirestoreConfig::from_env`]: where the Firestore store reads and
//! writes, resolved from the environment without any network access (the
//! only file read is the Google credentials file, for its project id). The
//! adapter keeps the struct, its defaults and the id rule ([`valid_id`]).

use std::path::Path;
use std::time::Duration;

use super::env::text;
use super::{ConfigError, Env, Settings};
use crate::adapters::store::firestore::config::{
    CREDENTIALS_VAR, DATABASE_VAR, DEFAULT_DATABASE, DEFAULT_HEARTBEAT_COLLECTION, DEFAULT_STATE_COLLECTION,
    DEFAULT_STATE_DOCUMENT, DEFAULT_TIMEOUT, DocRef, EMULATOR_HOST_VAR, EMULATOR_PROJECT, FirestoreConfig,
    HEARTBEAT_COLLECTION_VAR, LEASE_DOCUMENT_VAR, LEASE_SUFFIX, PROJECT_VARS, STATE_COLLECTION_VAR, STATE_DOCUMENT_VAR,
    TIMEOUT_VAR, valid_id,
};

impl FirestoreConfig {
    /// Reads the `*_VAR` variables named next to the struct; the upstream
    /// document comes from the already parsed `settings`. Reads the
    /// credentials file only to find its `project_id` (nothing of it is
    /// kept or printed).
    pub fn from_env(env: &Env, settings: &Settings) -> Result<Self, ConfigError> {
        let emulator_host = text(env, EMULATOR_HOST_VAR);
        let project_id = match PROJECT_VARS.iter().find_map(|name| text(env, name)) {
            Some(p) => Some(p),
            None => match text(env, CREDENTIALS_VAR) {
                Some(path) if emulator_host.is_none() => credentials_project(Path::new(&path))?,
                _ => None,
            },
        };
        let project_id = project_id.or_else(|| emulator_host.as_ref().map(|_| EMULATOR_PROJECT.to_string()));

        let state_collection = id(env, STATE_COLLECTION_VAR, DEFAULT_STATE_COLLECTION)?;
        let state_document = id(env, STATE_DOCUMENT_VAR, DEFAULT_STATE_DOCUMENT)?;
        let lease_document = id(env, LEASE_DOCUMENT_VAR, &format!("{state_document}{LEASE_SUFFIX}"))?;
        if lease_document == state_document {
            return Err(ConfigError(format!("{LEASE_DOCUMENT_VAR}: must differ from the state document")));
        }
        let timeout = match text(env, TIMEOUT_VAR) {
            None => DEFAULT_TIMEOUT,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 600.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| ConfigError(format!("{TIMEOUT_VAR}: expected seconds between 0 and 600, got '{v}'")))?,
        };
        Ok(FirestoreConfig {
            project_id,
            database_id: text(env, DATABASE_VAR).unwrap_or_else(|| DEFAULT_DATABASE.into()),
            emulator_host,
            timeout,
            state: DocRef::new(state_collection.clone(), state_document),
            lease: DocRef::new(state_collection, lease_document),
            heartbeat_collection: id(env, HEARTBEAT_COLLECTION_VAR, DEFAULT_HEARTBEAT_COLLECTION)?,
            upstream: DocRef::new(
                checked("STRATEGY_ARTIFACT_FIRESTORE_COLLECTION", &settings.firestore_collection)?,
                checked("STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT", &settings.firestore_document)?,
            ),
        })
    }
}

fn id(env: &Env, name: &str, default: &str) -> Result<String, ConfigError> {
    match text(env, name) {
        None => Ok(default.to_string()),
        Some(v) => checked(name, &v),
    }
}

fn checked(name: &str, v: &str) -> Result<String, ConfigError> {
    valid_id(v).map_err(|e| ConfigError(format!("{name}: {e}")))?;
    Ok(v.to_string())
}

/// The `project_id` of a credentials file (service account keys have one;
/// the `external_account` file of workload identity usually does not, then
/// GOOGLE_CLOUD_PROJECT must be set or the metadata server is asked).
fn credentials_project(path: &Path) -> Result<Option<String>, ConfigError> {
    let unreadable = |why: String| ConfigError(format!("{CREDENTIALS_VAR}: cannot read {}: {why}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    // Only the error's position is reported: serde's messages never quote the content.
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| unreadable(format!("not JSON (line {}, column {})", e.line(), e.column())))?;
    let project = |v: &serde_json::Value| {
        v.get("project_id").and_then(|p| p.as_str()).filter(|p| !p.is_empty()).map(str::to_string)
    };
    Ok(project(&json).or_else(|| json.get("source_credentials").and_then(project)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn settings() -> Settings {
        Settings::from_env(&Env::new()).unwrap()
    }

    #[test]
    fn defaults_follow_the_reference_layout() {
        let c = FirestoreConfig::from_env(&env(&[("GCP_PROJECT_ID", "p1")]), &settings()).unwrap();
        assert_eq!(c.project_id.as_deref(), Some("p1"));
        assert_eq!(c.state.to_string(), "strategy/MULTI_ASSET_STATE");
        assert_eq!(c.lease.to_string(), "strategy/MULTI_ASSET_STATE_LEASE");
        assert_eq!(c.upstream.to_string(), "strategy/CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL");
        assert_eq!(c.heartbeat_collection, "tradecycle_health");
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.emulator_host, None);
        assert_eq!(c, FirestoreConfig { project_id: Some("p1".into()), ..FirestoreConfig::new(None) });
    }

    #[test]
    fn overrides_and_project_order() {
        let c = FirestoreConfig::from_env(
            &env(&[
                ("GOOGLE_CLOUD_PROJECT", "first"),
                ("GCP_PROJECT_ID", "second"),
                ("TRADECYCLE_STATE_COLLECTION", "acct2"),
                ("TRADECYCLE_STATE_DOCUMENT", "STATE"),
                ("TRADECYCLE_FIRESTORE_TIMEOUT_SECS", "2.5"),
                ("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9"),
            ]),
            &settings(),
        )
        .unwrap();
        assert_eq!(c.project_id.as_deref(), Some("first"));
        assert_eq!(c.lease.to_string(), "acct2/STATE_LEASE");
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(c.emulator_host.as_deref(), Some("127.0.0.1:9"));
    }

    #[test]
    fn project_from_the_credentials_file_or_the_emulator_default() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.json");
        std::fs::write(&key, r#"{"type":"service_account","project_id":"from-file","private_key":"x"}"#).unwrap();
        let c = FirestoreConfig::from_env(&env(&[(CREDENTIALS_VAR, key.to_str().unwrap())]), &settings()).unwrap();
        assert_eq!(c.project_id.as_deref(), Some("from-file"));

        let external = dir.path().join("external.json");
        std::fs::write(&external, r#"{"type":"external_account","audience":"//iam"}"#).unwrap();
        let c = FirestoreConfig::from_env(&env(&[(CREDENTIALS_VAR, external.to_str().unwrap())]), &settings()).unwrap();
        assert_eq!(c.project_id, None, "left to the metadata server or an error at connect");

        let c = FirestoreConfig::from_env(&env(&[(EMULATOR_HOST_VAR, "127.0.0.1:1")]), &settings()).unwrap();
        assert_eq!(c.project_id.as_deref(), Some(EMULATOR_PROJECT));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = |pairs: &[(&str, &str)]| FirestoreConfig::from_env(&env(pairs), &settings()).unwrap_err().0;
        assert!(err(&[("TRADECYCLE_STATE_DOCUMENT", "a/b")]).starts_with("TRADECYCLE_STATE_DOCUMENT: "));
        assert!(err(&[("TRADECYCLE_FIRESTORE_TIMEOUT_SECS", "0")]).starts_with("TRADECYCLE_FIRESTORE_TIMEOUT_SECS: "));
        assert!(err(&[("TRADECYCLE_LEASE_DOCUMENT", "MULTI_ASSET_STATE")]).contains("must differ"));
        let missing = err(&[(CREDENTIALS_VAR, "/nonexistent/key.json")]);
        assert!(missing.starts_with("GOOGLE_APPLICATION_CREDENTIALS: cannot read /nonexistent/key.json"), "{missing}");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"private_key\": \"SECRET-MATERIAL").unwrap();
        let msg = err(&[(CREDENTIALS_VAR, bad.to_str().unwrap())]);
        assert!(!msg.contains("SECRET"), "{msg}");
    }
}
