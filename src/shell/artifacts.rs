//! Files a run leaves behind (the execution report, a state recovery file,
//! `--output`): written whole or not at all — a temp file in the same
//! directory, synced, then renamed or linked into place — so a reader (the
//! workflow's summary step, an operator restoring state) never sees half a
//! file. A run's own files never replace another run's: two runs with the
//! same run id get `NAME.json` and `NAME.2.json`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many `NAME.<n>.json` names [`write_new`] tries before giving up.
const MAX_COPIES: u32 = 1000;

/// Writes `text` and a newline to `path`, replacing what was there in one
/// step (for files the caller names, like `--output`).
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let temp = TempFile::write(path, text)?;
    fs::rename(&temp.0, path)?;
    temp.placed();
    sync_dir(path)
}

/// Writes `text` and a newline to `dir/STEM.json`, or `dir/STEM.2.json`,
/// `STEM.3.json`... when that name is taken: never over an existing file.
/// Returns the path written.
pub fn write_new(dir: &Path, stem: &str, text: &str) -> io::Result<PathBuf> {
    let first = dir.join(format!("{stem}.json"));
    let temp = TempFile::write(&first, text)?;
    for n in 1..=MAX_COPIES {
        let path = if n == 1 { first.clone() } else { dir.join(format!("{stem}.{n}.json")) };
        // A hard link, like O_EXCL, fails when the name exists: the file
        // appears complete or not at all, and nothing is replaced.
        match fs::hard_link(&temp.0, &path) {
            Ok(()) => {
                sync_dir(&path)?;
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{}: {MAX_COPIES} files of this run id already exist", first.display()),
    ))
}

/// A uniquely named temp file beside its destination; removed on drop
/// unless it was renamed into place.
struct TempFile(PathBuf, bool);

impl TempFile {
    fn write(destination: &Path, text: &str) -> io::Result<TempFile> {
        let dir = destination.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let name = destination.file_name().and_then(|n| n.to_str()).unwrap_or("artifact");
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        let path = dir.join(format!(".{name}.{}-{nanos}.tmp", std::process::id()));
        let mut file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        let temp = TempFile(path, true);
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        Ok(temp)
    }

    /// The temp name no longer exists (it was renamed).
    fn placed(mut self) {
        self.1 = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.1 {
            let _ = fs::remove_file(&self.0);
        }
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_second_file_with_the_same_name_gets_the_next_number_and_the_first_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("artifacts");
        assert_eq!(write_new(&out, "report-r1", "first").unwrap(), out.join("report-r1.json"));
        assert_eq!(write_new(&out, "report-r1", "second").unwrap(), out.join("report-r1.2.json"));
        assert_eq!(write_new(&out, "report-r1", "third").unwrap(), out.join("report-r1.3.json"));
        assert_eq!(fs::read_to_string(out.join("report-r1.json")).unwrap(), "first\n");
        assert_eq!(fs::read_to_string(out.join("report-r1.2.json")).unwrap(), "second\n");
        assert_eq!(names(&out), ["report-r1.2.json", "report-r1.3.json", "report-r1.json"], "no temp file left");
    }

    #[test]
    fn write_atomic_replaces_whole_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("out.json");
        write_atomic(&path, "{\"a\": 1}").unwrap();
        write_atomic(&path, "{}").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert_eq!(names(path.parent().unwrap()), ["out.json"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomic(&path, "old").unwrap();
        // The destination is a directory now: the rename fails.
        let blocked = dir.path().join("blocked.json");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), "").unwrap();
        assert!(write_atomic(&blocked, "new").is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(names(dir.path()), ["blocked.json", "out.json"]);
    }
}
