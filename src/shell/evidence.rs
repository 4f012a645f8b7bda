//! The evidence bundle a run leaves in `artifacts/<run_id>/`: the report,
//! the effective settings (every secret redacted), the build (version and
//! commit), the run's alert changes, and `SHA256SUMS` over them in
//! `sha256sum` format — and the check of such a bundle
//! (`tradecycle evidence verify`). Writer and checker share one notion of
//! the digest file here, so what one writes the other reads.
//!
//! Each file is written whole (temp file + rename); `SHA256SUMS` comes last,
//! so a bundle without it was cut short, and one with it is complete.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::Env;
use crate::config::variables::{BINANCE, CYCLE, RUN, STORE, TELEGRAM, Variable};
use crate::domain::report::Report;
use crate::secret::Secret;

/// The digest file of a bundle.
pub const SUMS: &str = "SHA256SUMS";

/// Credentials among the variables a run reads: shown as `***` when set.
const SECRET_VARIABLES: &[&str] = &["BINANCE_API_KEY", "BINANCE_API_SECRET", "TG_TOKEN", "GITHUB_TOKEN"];

/// How many `<run_id>.<n>` directories [`claim_dir`] tries.
const MAX_COPIES: u32 = 1000;

/// The files of one run's bundle, in the order they are written.
pub fn bundle_files(report: &Report, settings: &Value) -> Result<Vec<(&'static str, String)>, String> {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).map_err(|e| e.to_string());
    let report = serde_json::to_value(report).map_err(|e| e.to_string())?;
    let alerts = report.get("alerts").cloned().unwrap_or(Value::Null);
    Ok(vec![
        ("report.json", pretty(&report)?),
        ("settings.json", pretty(settings)?),
        ("build.json", pretty(&super::build_info::as_json())?),
        ("alerts.json", pretty(&alerts)?),
    ])
}

/// The effective settings of a run as `settings.json`: every variable a
/// run reads (the README table's cycle, Telegram, Binance, run and store
/// sections) with the value in force and where it came from, plus the
/// resolved configuration's `Debug` (which shows no credential). Credentials
/// are `***`, and every credential value found in `env` is masked in the
/// whole text once more, whatever field it hid in.
pub fn settings_json(env: &Env, resolved_debug: &str) -> Value {
    let variables: Vec<Value> =
        [CYCLE, TELEGRAM, BINANCE, RUN, STORE].iter().flat_map(|s| s.iter()).map(|v| variable(env, v)).collect();
    let doc = json!({"variables": variables, "resolved": resolved_debug});
    redact(doc, env)
}

fn variable(env: &Env, v: &Variable) -> Value {
    let (source, value) = match crate::config::env::get(env, v.name) {
        Some((name, _)) if SECRET_VARIABLES.contains(&v.name) => (name.to_string(), Secret::default().to_string()),
        Some((name, value)) => (name.to_string(), value.to_string()),
        None => ("default".to_string(), v.default.to_string()),
    };
    json!({"name": v.name, "value": value, "source": source})
}

/// Masks every set credential of `env` wherever it appears in `doc`.
fn redact(doc: Value, env: &Env) -> Value {
    let mut text = doc.to_string();
    for name in SECRET_VARIABLES {
        if let Some(value) = crate::config::env::value(env, name) {
            text = Secret::new(value).redact(&text);
        }
    }
    serde_json::from_str(&text).unwrap_or_else(|_| json!({"error": "settings could not be redacted; left out"}))
}

/// Writes the bundle into a new directory `dir/<run_id>` (or
/// `<run_id>.2`, ... when a run with the same id left one: never over
/// another run's evidence); returns the directory.
pub fn write(artifacts: &Path, run_id: &str, files: &[(&str, String)]) -> Result<PathBuf, String> {
    let dir = claim_dir(artifacts, run_id).map_err(|e| format!("{}: {e}", artifacts.join(run_id).display()))?;
    let mut sums = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        super::artifacts::write_atomic(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        // The digest of the bytes on disk (write_atomic adds a newline).
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        sums.push(format!("{}  {name}", digest(&bytes)));
    }
    let path = dir.join(SUMS);
    super::artifacts::write_atomic(&path, &sums.join("\n")).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(dir)
}

/// Creates the bundle directory; a name already taken is skipped.
fn claim_dir(artifacts: &Path, run_id: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(artifacts)?;
    let name = safe_name(run_id);
    for n in 1..=MAX_COPIES {
        let dir = if n == 1 { artifacts.join(&name) } else { artifacts.join(format!("{name}.{n}")) };
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{MAX_COPIES} bundles of this run id already exist")))
}

/// A run id as one directory name: anything but letters, digits, `-`, `_`
/// and `.` becomes `_`, and it never is `.` or `..`.
fn safe_name(run_id: &str) -> String {
    let name: String = run_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    if name.trim_matches('.').is_empty() { format!("run{}", name.replace('.', "_")) } else { name }
}

/// Lower-case hex SHA-256.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What is wrong with one file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Its digest is not the one listed.
    Changed,
    /// Listed, but not there.
    Missing,
    /// There, but not listed.
    Extra,
}

impl Problem {
    pub fn describe(&self) -> &'static str {
        match self {
            Problem::Changed => "FAILED (its SHA-256 differs from SHA256SUMS)",
            Problem::Missing => "FAILED (listed in SHA256SUMS but missing)",
            Problem::Extra => "FAILED (not listed in SHA256SUMS)",
        }
    }
}

/// The check of one bundle: every file in `SHA256SUMS` order, then the
/// unlisted ones, each with its problem if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub files: Vec<(String, Option<Problem>)>,
}

impl Verified {
    pub fn ok(&self) -> bool {
        self.files.iter().all(|(_, p)| p.is_none())
    }
}

/// Recomputes every digest of the bundle in `dir`. `Err` means `dir` is not
/// a bundle (no directory, no or unreadable `SHA256SUMS`), naming why.
pub fn verify(dir: &Path) -> Result<Verified, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let sums_path = dir.join(SUMS);
    let sums = fs::read_to_string(&sums_path)
        .map_err(|e| format!("{} is not an evidence bundle: cannot read {SUMS}: {e}", dir.display()))?;
    let listed = parse_sums(&sums).map_err(|e| format!("{}: {e}", sums_path.display()))?;
    let mut files = Vec::new();
    for (want, name) in &listed {
        let problem = match fs::read(dir.join(name)) {
            Ok(bytes) if digest(&bytes) == *want => None,
            Ok(_) => Some(Problem::Changed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Some(Problem::Missing),
            Err(_) => Some(Problem::Changed),
        };
        files.push((name.clone(), problem));
    }
    let mut extra: Vec<String> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name != SUMS && !listed.iter().any(|(_, listed)| listed == name))
        .collect();
    extra.sort();
    files.extend(extra.into_iter().map(|name| (name, Some(Problem::Extra))));
    Ok(Verified { files })
}

/// `<64 hex>  <file>` (or `<64 hex> *<file>`) per line, as `sha256sum`
/// writes them; a file name is one plain name, never a path.
fn parse_sums(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut listed = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = || format!("line {} is not `<sha256>  <file>`: {line}", n + 1);
        let (hex, rest) = line.split_at_checked(64).ok_or_else(bad)?;
        let name = rest.strip_prefix("  ").or_else(|| rest.strip_prefix(" *")).ok_or_else(bad)?;
        let plain = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) || !plain {
            return Err(bad());
        }
        listed.push((hex.to_ascii_lowercase(), name.to_string()));
    }
    if listed.is_empty() {
        return Err(format!("lists no file; not an evidence bundle ({SUMS} is empty)"));
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_sha256sum_lines_and_verify_names_a_changed_missing_or_extra_file() {
        let root = tempfile::tempdir().unwrap();
        let files = vec![("a.json", "{}".to_string()), ("b.json", "[1]".to_string())];
        let dir = write(root.path(), "r/1", &files).unwrap();
        assert_eq!(dir, root.path().join("r_1"));
        let sums = fs::read_to_string(dir.join(SUMS)).unwrap();
        assert_eq!(sums, format!("{}  a.json\n{}  b.json\n", digest(b"{}\n"), digest(b"[1]\n")));
        assert!(verify(&dir).unwrap().ok());
        assert_eq!(write(root.path(), "r/1", &files).unwrap(), root.path().join("r_1.2"), "never over a bundle");

        fs::write(dir.join("a.json"), "{ }\n").unwrap();
        fs::remove_file(dir.join("b.json")).unwrap();
        fs::write(dir.join("c.txt"), "").unwrap();
        let v = verify(&dir).unwrap();
        assert_eq!(
            v.files,
            [
                ("a.json".to_string(), Some(Problem::Changed)),
                ("b.json".to_string(), Some(Problem::Missing)),
                ("c.txt".to_string(), Some(Problem::Extra))
            ]
        );
    }

    #[test]
    fn a_directory_without_a_readable_digest_file_is_not_a_bundle() {
        let root = tempfile::tempdir().unwrap();
        assert!(verify(&root.path().join("nope")).unwrap_err().ends_with("is not a directory"));
        assert!(verify(root.path()).unwrap_err().contains("cannot read SHA256SUMS"));
        fs::write(root.path().join(SUMS), format!("{}  ../etc/passwd\n", "0".repeat(64))).unwrap();
        assert!(verify(root.path()).unwrap_err().contains("line 1 is not `<sha256>  <file>`"));
        fs::write(root.path().join(SUMS), "").unwrap();
        assert!(verify(root.path()).unwrap_err().contains("lists no file"));
    }

    #[test]
    fn settings_show_the_values_in_force_and_never_a_credential() {
        let env: Env = [
            ("BINANCE_API_KEY", "k3y-value-1234"),
            ("TG_TOKEN", "123:tok-value"),
            ("TG_CHAT_ID", "42"),
            ("TELEGRAM_API_URL", "http://x/bot123:tok-value"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let doc = settings_json(&env, "RunConfig { .. }");
        let text = doc.to_string();
        assert!(!text.contains("k3y-value-1234") && !text.contains("tok-value"), "{text}");
        let find =
            |name: &str| doc["variables"].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap().clone();
        assert_eq!(
            find("BINANCE_API_KEY"),
            json!({"name": "BINANCE_API_KEY", "value": "***", "source": "BINANCE_API_KEY"})
        );
        assert_eq!(find("GLOBAL_TELEGRAM_CHAT_ID")["source"], "TG_CHAT_ID", "the alias that was read");
        assert_eq!(find("TELEGRAM_API_URL")["value"], "http://x/bot***");
        assert_eq!(
            find("TRADECYCLE_LEASE_TTL_SECS"),
            json!({"name": "TRADECYCLE_LEASE_TTL_SECS", "value": "900", "source": "default"})
        );
    }
}
