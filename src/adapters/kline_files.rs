//! The kline CSV files on disk, `DATA/<SYMBOL>-1d.csv` and
//! `DATA/<SYMBOL>-1h.csv`: reading them whole (parsing is the core's
//! `history::klines`), and extending one crash-safely for a fetch.
//!
//! Crash safety of a fetch: rows are only ever appended, each batch as
//! complete lines in one write followed by a sync, so a fetch killed
//! mid-write can at worst leave one unfinished last line. Opening for
//! append finds it (a last line without its newline), cuts it off, and the
//! fetch downloads that candle again. Every earlier row is never rewritten.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::snapshot::Kline;
use crate::history::{CsvRow, Interval, parse_klines, parse_rows};

/// `dir/<SYMBOL>-<interval>.csv`.
pub fn kline_path(dir: &Path, symbol: &str, interval: Interval) -> PathBuf {
    dir.join(interval.file_name(symbol))
}

/// Every candle of one file, oldest first; errors name the file (and the
/// line, for a malformed row).
pub fn read_klines(path: &Path) -> Result<Vec<Kline>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_klines(&path.display().to_string(), &text).map_err(|e| e.to_string())
}

/// A kline file opened for appending, after any unfinished last line was
/// cut off.
#[derive(Debug)]
pub struct AppendFile {
    file: File,
    path: PathBuf,
    /// The last complete row already in the file.
    pub last: Option<CsvRow>,
    /// Bytes of an unfinished last line that were cut off, if any.
    pub dropped_bytes: usize,
}

impl AppendFile {
    /// Opens (creating it and its directory if needed) `path`. Malformed
    /// complete rows are an error and leave the file untouched: only an
    /// unfinished last line is repaired.
    pub fn open(path: &Path) -> Result<Self, String> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {shown}: {e}")),
        };
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let text = std::str::from_utf8(&bytes[..complete]).map_err(|e| format!("{shown}: not UTF-8 text: {e}"))?;
        let rows = parse_rows(&shown, text).map_err(|e| e.to_string())?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open {shown} for writing: {e}"))?;
        let dropped_bytes = bytes.len() - complete;
        if dropped_bytes > 0 {
            file.set_len(complete as u64)
                .and_then(|()| file.sync_data())
                .map_err(|e| format!("cannot cut the unfinished last line of {shown}: {e}"))?;
        }
        Ok(AppendFile { file, path: path.to_path_buf(), last: rows.last().copied(), dropped_bytes })
    }

    /// Removes the file when it holds nothing (a fetch that failed before
    /// its first row, e.g. for a mistyped symbol, leaves no empty file).
    pub fn remove_if_empty(self) {
        let empty = self.last.is_none() && self.file.metadata().is_ok_and(|m| m.len() == 0);
        drop(self.file);
        if empty {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Appends complete lines (one write, then a sync) and remembers the
    /// last row. `rows` pairs each parsed row with its line.
    pub fn append(&mut self, rows: &[(CsvRow, &str)]) -> Result<(), String> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut batch = String::with_capacity(rows.len() * 160);
        for (_, line) in rows {
            batch.push_str(line);
            batch.push('\n');
        }
        self.file
            .write_all(batch.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        self.last = rows.last().map(|r| r.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse_row;

    const A: &str = "1704067200000,1,2,0.5,1.5,10,1704153599999,15,3,5,7.5,0";
    const B: &str = "1704153600000,1.5,2,1,1.8,10,1704239999999,15,3,5,7.5,0";

    #[test]
    fn an_unfinished_last_line_is_cut_and_complete_rows_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = kline_path(dir.path(), "BTCUSDT", Interval::Day);
        std::fs::write(&path, format!("{A}\n{}", &B[..20])).unwrap();
        let mut file = AppendFile::open(&path).unwrap();
        assert_eq!((file.dropped_bytes, file.last.unwrap().kline.open_time), (20, 1_704_067_200_000));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{A}\n"));
        file.append(&[(parse_row(B).unwrap(), B)]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{A}\n{B}\n"));
        assert_eq!(read_klines(&path).unwrap().len(), 2);
    }

    #[test]
    fn a_malformed_complete_row_is_an_error_and_the_file_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = kline_path(dir.path(), "ETHUSDT", Interval::Hour);
        let text = format!("{A}\n1,2,3\n{}", &B[..10]);
        std::fs::write(&path, &text).unwrap();
        let e = AppendFile::open(&path).unwrap_err();
        assert_eq!(e, format!("{}, line 2: expected 12 comma-separated columns, found 3", path.display()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
