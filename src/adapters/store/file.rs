//! The file state store, the embedded default for `--paper` and local runs:
//! one JSON file, replaced atomically (temp file in the same directory,
//! fsync, rename, fsync of the directory), saved compare-and-set against a
//! hash of the content last loaded or saved. Next to it:
//!
//! - `<stem>.lock`: an empty file locked (flock) for the few milliseconds
//!   of a check-and-write, so that two processes cannot both pass a check;
//!   the OS drops the lock if a process dies.
//! - `<stem>.lease.json`: the run lease `{owner, expires_at}`, created
//!   exclusively (it appears complete or not at all) and taken over once
//!   expired.
//! - `<stem>.heartbeat.<service>.json`: heartbeat records.
//!
//! Also [`FileUpstream`], the upstream pool read from a JSON file
//! (`STRATEGY_ARTIFACT_UPSTREAM_FILE`).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ports::{LeaseOutcome, PortError, StateStore, UpstreamSource};
use crate::upstream::ladder::FetchOutcome;

/// The upstream pool payload file (the fresh rung when Firestore is not used).
pub const UPSTREAM_FILE_VAR: &str = "STRATEGY_ARTIFACT_UPSTREAM_FILE";

/// How long to wait for another process's check-and-write (milliseconds
/// in practice) before giving up with a retryable error.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The content's fingerprint as last seen by this store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Absent,
    Hash([u8; 32]),
}

pub struct FileStore {
    path: PathBuf,
    seen: Mutex<Seen>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LeaseRecord {
    owner: String,
    expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acquired_at: Option<DateTime<Utc>>,
}

impl FileStore {
    /// Nothing is read or created until the first call.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into(), seen: Mutex::new(Seen::Absent) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<stem>.lease.json` next to the state file.
    pub fn lease_path(&self) -> PathBuf {
        self.sibling("lease.json")
    }

    pub fn heartbeat_path(&self, service: &str) -> PathBuf {
        self.sibling(&format!("heartbeat.{service}.json"))
    }

    fn lock_path(&self) -> PathBuf {
        self.sibling("lock")
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let stem = self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "state".into());
        self.path.with_file_name(format!("{stem}.{suffix}"))
    }

    fn set_seen(&self, seen: Seen) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = seen;
    }

    fn seen(&self) -> Seen {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds the sibling lock file for the duration of `f`.
    fn exclusive<T>(&self, f: impl FnOnce() -> Result<T, PortError>) -> Result<T, PortError> {
        let lock_path = self.lock_path();
        if let Some(dir) = parent(&self.path) {
            fs::create_dir_all(dir).map_err(|e| io_error("creating the directory of", &self.path, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error("opening", &lock_path, e))?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(PortError::Retryable(format!(
                        "{} stayed locked by another process for {LOCK_WAIT:?}",
                        lock_path.display()
                    )));
                }
                Err(TryLockError::Error(e)) => return Err(io_error("locking", &lock_path, e)),
            }
        }
        let result = f();
        // Dropping the file releases the lock; unlocking first just makes it explicit.
        let _ = file.unlock();
        result
    }
}

impl StateStore for FileStore {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        let Some(bytes) = read_if_exists(&self.path)? else {
            self.set_seen(Seen::Absent);
            return Ok(None);
        };
        let doc = parse(&self.path, &bytes)?;
        self.set_seen(Seen::Hash(digest(&bytes)));
        Ok(Some(doc).filter(|d| !d.is_null()))
    }

    async fn save(&self, doc: &Value) -> Result<(), PortError> {
        let mut bytes = serde_json::to_vec_pretty(doc)
            .map_err(|e| PortError::Definitive(format!("serialising the state for {}: {e}", self.path.display())))?;
        bytes.push(b'\n');
        self.exclusive(|| {
            let current = read_if_exists(&self.path)?.map(|b| digest(&b));
            let expected = match self.seen() {
                Seen::Absent => None,
                Seen::Hash(h) => Some(h),
            };
            if current != expected {
                return Err(PortError::Conflict(format!(
                    "the state file {} changed since this run loaded it (another writer?); not overwriting it",
                    self.path.display()
                )));
            }
            let replaced = write_atomically(&self.path, &bytes);
            if replaced.is_ok() || matches!(replaced, Err(WriteError::AfterRename(_))) {
                // The new content is in place even if the directory sync failed.
                self.set_seen(Seen::Hash(digest(&bytes)));
            }
            replaced.map_err(|e| e.into_port_error(&self.path))
        })
    }

    async fn acquire_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<LeaseOutcome, PortError> {
        let lease_path = self.lease_path();
        let expires_at = super::lease_expiry(now, ttl)?;
        let record = LeaseRecord { owner: owner.to_string(), expires_at, acquired_at: Some(now) };
        let bytes = serde_json::to_vec_pretty(&record).map_err(|e| PortError::Definitive(e.to_string()))?;
        self.exclusive(|| {
            match read_lease(&lease_path)? {
                None => match create_exclusively(&lease_path, &bytes) {
                    // Created behind our lock's back (a writer not using it): the re-read below tells who.
                    Ok(()) | Err(WriteError::Exists) => {}
                    Err(e) => return Err(e.into_port_error(&lease_path)),
                },
                Some(held) if held.owner != owner && held.expires_at > now => {
                    return Ok(LeaseOutcome::Held { owner: held.owner, expires_at: held.expires_at });
                }
                // Expired, or ours already (a retried acquire): replace it.
                Some(_) => write_atomically(&lease_path, &bytes).map_err(|e| e.into_port_error(&lease_path))?,
            }
            // Confirm what is on disk is ours before trusting it.
            match read_lease(&lease_path)? {
                Some(l) if l.owner == owner => Ok(LeaseOutcome::Acquired),
                Some(l) => Ok(LeaseOutcome::Held { owner: l.owner, expires_at: l.expires_at }),
                None => {
                    Err(PortError::Retryable(format!("{} vanished right after it was written", lease_path.display())))
                }
            }
        })
    }

    async fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        let lease_path = self.lease_path();
        let expires_at = super::lease_expiry(now, ttl)?;
        self.exclusive(|| match read_lease(&lease_path)? {
            Some(held) if held.owner == owner => {
                let record = LeaseRecord { owner: owner.to_string(), expires_at, acquired_at: held.acquired_at };
                let bytes = serde_json::to_vec_pretty(&record).map_err(|e| PortError::Definitive(e.to_string()))?;
                write_atomically(&lease_path, &bytes).map_err(|e| e.into_port_error(&lease_path))?;
                Ok(true)
            }
            // Taken over, or removed: no longer ours.
            _ => Ok(false),
        })
    }

    async fn lease_holder(&self) -> Result<Option<(String, DateTime<Utc>)>, PortError> {
        Ok(read_lease(&self.lease_path())?.map(|l| (l.owner, l.expires_at)))
    }

    async fn release_lease(&self, owner: &str) -> Result<(), PortError> {
        let lease_path = self.lease_path();
        self.exclusive(|| match read_lease(&lease_path)? {
            Some(l) if l.owner == owner => match fs::remove_file(&lease_path) {
                Ok(()) => sync_dir(&lease_path).map_err(|e| io_error("syncing the directory of", &lease_path, e)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_error("removing", &lease_path, e)),
            },
            _ => Ok(()),
        })
    }

    async fn write_heartbeat(&self, service: &str, record: &Value) -> Result<(), PortError> {
        let path = self.heartbeat_path(checked_service(service)?);
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| PortError::Definitive(e.to_string()))?;
        write_atomically(&path, &bytes).map_err(|e| e.into_port_error(&path))
    }

    async fn read_heartbeat(&self, service: &str) -> Result<Option<Value>, PortError> {
        let path = self.heartbeat_path(checked_service(service)?);
        read_if_exists(&path)?.map(|b| parse(&path, &b)).transpose()
    }
}

/// The upstream pool payload from a JSON file.
#[derive(Debug, Clone)]
pub struct FileUpstream {
    path: PathBuf,
}

impl FileUpstream {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileUpstream { path: path.into() }
    }
}

impl UpstreamSource for FileUpstream {
    fn label(&self) -> String {
        format!("upstream-file:{}", self.path.display())
    }

    async fn fetch(&self) -> FetchOutcome {
        match fs::read(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => FetchOutcome::Missing,
            Err(e) => FetchOutcome::Failed(format!("reading {}: {e}", self.path.display())),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(v) => FetchOutcome::Found(v),
                Err(e) => FetchOutcome::Failed(format!("{} is not valid JSON: {e}", self.path.display())),
            },
        }
    }
}

/// Heartbeat service names become part of a file name.
fn checked_service(service: &str) -> Result<&str, PortError> {
    let ok = !service.is_empty()
        && !service.starts_with('.')
        && service.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(service)
    } else {
        Err(PortError::Definitive(format!("heartbeat service name '{service}': use letters, digits, '-', '_', '.'")))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

fn io_error(action: &str, path: &Path, e: io::Error) -> PortError {
    let msg = format!("{action} {}: {e}", path.display());
    match e.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => {
            PortError::Definitive(msg)
        }
        _ => PortError::Retryable(msg),
    }
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, PortError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("reading", path, e)),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Value, PortError> {
    serde_json::from_slice(bytes).map_err(|e| {
        PortError::Definitive(format!(
            "{} is not valid JSON ({e}); restore it from a backup or the recovery file in artifacts/, or remove it to start empty",
            path.display()
        ))
    })
}

fn read_lease(path: &Path) -> Result<Option<LeaseRecord>, PortError> {
    let Some(bytes) = read_if_exists(path)? else { return Ok(None) };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        PortError::Definitive(format!(
            "the run lease {} is unreadable ({e}); if no cycle is running, delete it",
            path.display()
        ))
    })
}

#[derive(Debug)]
enum WriteError {
    /// Nothing changed on disk.
    Before(io::Error),
    /// The lease already exists (exclusive creation lost).
    Exists,
    /// The rename happened; only the directory sync failed.
    AfterRename(io::Error),
}

impl WriteError {
    fn into_port_error(self, path: &Path) -> PortError {
        match self {
            WriteError::Before(e) => io_error("writing", path, e),
            WriteError::Exists => PortError::Conflict(format!("{} was created by someone else", path.display())),
            WriteError::AfterRename(e) => io_error("syncing the directory of", path, e),
        }
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A complete, synced temporary file next to `path`, removed on drop
/// unless it was moved into place.
struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    fn write(target: &Path, bytes: &[u8]) -> io::Result<TempFile> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = target.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let mut temp = TempFile { path: None };
        let mut file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        temp.path = Some(path);
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(temp)
    }

    fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    fn persisted(mut self) {
        self.path = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = fs::remove_file(p);
        }
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    match parent(path) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

/// Temp file + fsync + rename + fsync of the directory: a reader sees the
/// old content or the new, never a mix, and a crash loses at most this write.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    if let Some(dir) = parent(path) {
        fs::create_dir_all(dir).map_err(WriteError::Before)?;
    }
    let temp = TempFile::write(path, bytes).map_err(WriteError::Before)?;
    fs::rename(temp.path(), path).map_err(WriteError::Before)?;
    temp.persisted();
    sync_dir(path).map_err(WriteError::AfterRename)
}

/// Creates `path` only if it does not exist, complete from the first
/// instant: the content is written to a temp file which is then
/// hard-linked into place (link, like O_EXCL, fails if the name exists).
fn create_exclusively(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    if let Some(dir) = parent(path) {
        fs::create_dir_all(dir).map_err(WriteError::Before)?;
    }
    let temp = TempFile::write(path, bytes).map_err(WriteError::Before)?;
    match fs::hard_link(temp.path(), path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(WriteError::Exists),
        Err(e) => return Err(WriteError::Before(e)),
    }
    drop(temp);
    sync_dir(path).map_err(WriteError::AfterRename)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_share_the_stem() {
        let s = FileStore::new("/var/lib/tc/state.json");
        assert_eq!(s.lease_path(), Path::new("/var/lib/tc/state.lease.json"));
        assert_eq!(s.lock_path(), Path::new("/var/lib/tc/state.lock"));
        assert_eq!(s.heartbeat_path("cycle"), Path::new("/var/lib/tc/state.heartbeat.cycle.json"));
    }

    #[test]
    fn a_failed_replace_leaves_the_old_content_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory where the file should go: the rename fails
        // after the temp file was written.
        let target = dir.path().join("state.json");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), "x").unwrap();
        assert!(matches!(write_atomically(&target, b"{}"), Err(WriteError::Before(_))));
        let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["state.json"]);
        assert!(target.join("keep").is_file());
    }

    #[test]
    fn exclusive_creation_refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let lease = dir.path().join("state.lease.json");
        create_exclusively(&lease, b"first").unwrap();
        assert!(matches!(create_exclusively(&lease, b"second"), Err(WriteError::Exists)));
        assert_eq!(fs::read(&lease).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
    }

    #[test]
    fn service_names_cannot_escape_the_directory() {
        assert!(checked_service("cycle-1.main").is_ok());
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(checked_service(bad).is_err(), "{bad}");
        }
    }
}
