//! The kline CSV layout of Binance's public data dumps, text → [`Kline`]s.
//!
//! One row per candle, 12 comma-separated columns, no quoting: open time,
//! open, high, low, close, volume, close time, quote volume, trades, taker
//! buy base volume, taker buy quote volume, ignore. Times are milliseconds
//! since the epoch, or microseconds in Binance's newer dumps; each time is
//! judged by its magnitude on its own (a value of 10^14 or more is
//! microseconds: as milliseconds it would be the year 5138), so a file
//! that switches unit part-way reads as one series.
//!
//! Hand-split rather than the `csv` crate: the layout has no quoting, no
//! text fields and a fixed width, so splitting on commas is the whole
//! grammar, and the checks that matter (which column, which line, what is
//! wrong) are ours either way.
//!
//! Tolerated: CRLF line ends, a trailing newline (or several), a last line
//! without a newline, and a header row on line 1 whose first cell reads
//! `open_time` / `open time` / `openTime` (tools such as pandas add one);
//! it is skipped. Anything else that is not a kline row is an error naming
//! the file, the line and what is wrong.

use std::fmt;
use std::str::FromStr;

use crate::domain::snapshot::Kline;

/// Columns of one row.
pub const COLUMNS: usize = 12;
/// A time at or above this is in microseconds (see the module header).
pub const MICROS_FROM: i64 = 100_000_000_000_000;

const COLUMN_NAMES: [&str; COLUMNS] = [
    "open time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close time",
    "quote volume",
    "trades",
    "taker buy base volume",
    "taker buy quote volume",
    "ignore",
];

/// The candle intervals backtests use; one file per symbol and interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    Day,
    Hour,
}

impl Interval {
    /// Binance's name, as in `interval=1d` and the file name.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "1d",
            Interval::Hour => "1h",
        }
    }

    /// One candle's length in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Interval::Day => 86_400_000,
            Interval::Hour => 3_600_000,
        }
    }

    /// `<SYMBOL>-1d.csv` / `<SYMBOL>-1h.csv`, the dumps' naming.
    pub fn file_name(self, symbol: &str) -> String {
        format!("{symbol}-{}.csv", self.as_str())
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1d" => Ok(Interval::Day),
            "1h" => Ok(Interval::Hour),
            other => Err(format!("expected 1d or 1h, got '{other}'")),
        }
    }
}

/// One parsed row: the candle, and its close time (ms) that the CSV has
/// but [`Kline`] does not keep (a fetch resumes after it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CsvRow {
    pub kline: Kline,
    pub close_time: i64,
}

/// A row that is not a kline, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlineCsvError {
    pub file: String,
    /// 1-based, as an editor shows it.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for KlineCsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, line {}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for KlineCsvError {}

/// A time in milliseconds, whichever unit it was written in.
pub fn to_millis(time: i64) -> i64 {
    if time >= MICROS_FROM { time / 1000 } else { time }
}

/// Parses one row (without its line end); the error says what is wrong.
pub fn parse_row(line: &str) -> Result<CsvRow, String> {
    let cells: Vec<&str> = line.split(',').map(str::trim).collect();
    if cells.len() != COLUMNS {
        return Err(format!("expected {COLUMNS} comma-separated columns, found {}", cells.len()));
    }
    let open_time = to_millis(whole(&cells, 0)?);
    let close_time = to_millis(whole(&cells, 6)?);
    let kline = Kline {
        open_time,
        open: number(&cells, 1)?,
        high: number(&cells, 2)?,
        low: number(&cells, 3)?,
        close: number(&cells, 4)?,
        volume: number(&cells, 5)?,
    };
    for i in [7, 9, 10] {
        number(&cells, i)?;
    }
    whole(&cells, 8)?;
    if close_time < open_time {
        return Err(format!("close time {close_time} is before open time {open_time} (milliseconds)"));
    }
    if kline.high < kline.low {
        return Err(format!("high {} is below low {}", cells[2], cells[3]));
    }
    Ok(CsvRow { kline, close_time })
}

/// Every row of a file's text, oldest first; `file` names it in errors.
/// Open times must strictly increase: a repeated or earlier one is an
/// error (a file assembled twice, or sorted wrongly, is not guessed at).
pub fn parse_rows(file: &str, text: &str) -> Result<Vec<CsvRow>, KlineCsvError> {
    let err = |line: usize, message: String| KlineCsvError { file: file.to_string(), line, message };
    let lines: Vec<&str> = text.lines().collect();
    let used = lines.iter().rposition(|l| !l.trim().is_empty()).map_or(0, |last| last + 1);
    let mut rows: Vec<CsvRow> = Vec::with_capacity(used);
    let mut previous_line = 0;
    for (index, line) in lines[..used].iter().enumerate() {
        let number = index + 1;
        if number == 1 && is_header(line) {
            continue;
        }
        if line.trim().is_empty() {
            return Err(err(number, "empty line between rows".into()));
        }
        let row = parse_row(line).map_err(|m| err(number, m))?;
        if let Some(prev) = rows.last() {
            let (t, p) = (row.kline.open_time, prev.kline.open_time);
            if t == p {
                return Err(err(number, format!("duplicate open time {t}, already on line {previous_line}")));
            }
            if t < p {
                return Err(err(
                    number,
                    format!("open time {t} is before line {previous_line}'s {p}: rows out of order"),
                ));
            }
        }
        rows.push(row);
        previous_line = number;
    }
    Ok(rows)
}

/// The candles of a file's text (see [`parse_rows`]).
pub fn parse_klines(file: &str, text: &str) -> Result<Vec<Kline>, KlineCsvError> {
    Ok(parse_rows(file, text)?.into_iter().map(|r| r.kline).collect())
}

/// A header row: its first cell, letters only, reads "opentime".
fn is_header(line: &str) -> bool {
    let first = line.split(',').next().unwrap_or("");
    let letters: String = first.chars().filter(char::is_ascii_alphabetic).collect();
    letters.eq_ignore_ascii_case("opentime")
}

fn whole(cells: &[&str], i: usize) -> Result<i64, String> {
    cells[i]
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| format!("column {} ({}): '{}' is not a whole number", i + 1, COLUMN_NAMES[i], cells[i]))
}

fn number(cells: &[&str], i: usize) -> Result<f64, String> {
    cells[i]
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("column {} ({}): '{}' is not a number", i + 1, COLUMN_NAMES[i], cells[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: &str = "1704067200000,42283.58,44184.10,42180.77,44179.55,27174.29903,1704153599999,\
                      1189678093.93598,1100573,14478.56735,633967695.08052,0";
    const US: &str = "1704067200000000,42283.58,44184.10,42180.77,44179.55,27174.29903,1704153599999999,\
                      1189678093.93598,1100573,14478.56735,633967695.08052,0";
    const NEXT: &str = "1704153600000,44179.55,45879.63,44148.34,44946.91,65146.40661,1704239999999,\
                        2926675934.65263,2101567,32880.13418,1477283026.50355,0";

    fn expected() -> Kline {
        Kline {
            open_time: 1_704_067_200_000,
            open: 42283.58,
            high: 44184.10,
            low: 42180.77,
            close: 44179.55,
            volume: 27174.29903,
        }
    }

    #[test]
    fn milliseconds_and_microseconds_give_the_same_kline() {
        let ms = parse_row(MS).unwrap();
        let us = parse_row(US).unwrap();
        assert_eq!(ms, us);
        assert_eq!(ms, CsvRow { kline: expected(), close_time: 1_704_153_599_999 });
    }

    #[test]
    fn crlf_trailing_newlines_and_a_missing_last_newline_are_tolerated() {
        let want = vec![expected(), parse_row(NEXT).unwrap().kline];
        for text in [
            format!("{MS}\r\n{NEXT}\r\n"),
            format!("{MS}\n{NEXT}"),
            format!("{MS}\n{NEXT}\n\n\r\n"),
            format!("{US}\n{NEXT}\n"),
        ] {
            assert_eq!(parse_klines("BTCUSDT-1d.csv", &text).unwrap(), want, "{text:?}");
        }
        assert_eq!(parse_klines("empty.csv", "").unwrap(), vec![]);
    }

    #[test]
    fn a_header_on_line_one_is_skipped_and_nowhere_else() {
        let header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,\
                      taker_buy_volume,taker_buy_quote_volume,ignore";
        assert_eq!(parse_klines("f.csv", &format!("{header}\r\n{MS}\r\n")).unwrap(), vec![expected()]);
        assert_eq!(parse_klines("f.csv", &format!("Open time,a,b\n{MS}\n")).unwrap(), vec![expected()]);
        let e = parse_klines("f.csv", &format!("{MS}\n{header}\n")).unwrap_err();
        assert_eq!(e.to_string(), "f.csv, line 2: column 1 (open time): 'open_time' is not a whole number");
        let e = parse_klines("f.csv", &format!("symbol,{MS}\n")).unwrap_err();
        assert_eq!(e.to_string(), "f.csv, line 1: expected 12 comma-separated columns, found 13");
    }

    #[test]
    fn malformed_rows_name_the_file_the_line_and_what_is_wrong() {
        let cases = [
            (format!("{MS}\n1704153600000,1,2,3\n"), "x.csv, line 2: expected 12 comma-separated columns, found 4"),
            (
                format!("{MS}\n{}\n", NEXT.replace("44946.91", "4494x")),
                "x.csv, line 2: column 5 (close): '4494x' is not a number",
            ),
            (
                format!("{}\n", MS.replace("1100573", "1.5")),
                "x.csv, line 1: column 9 (trades): '1.5' is not a whole number",
            ),
            (format!("{}\n", MS.replace("42180.77", "NaN")), "x.csv, line 1: column 4 (low): 'NaN' is not a number"),
            (format!("{MS}\n{MS}\n"), "x.csv, line 2: duplicate open time 1704067200000, already on line 1"),
            (format!("{MS}\n{US}\n"), "x.csv, line 2: duplicate open time 1704067200000, already on line 1"),
            (
                format!("{NEXT}\n{MS}\n"),
                "x.csv, line 2: open time 1704067200000 is before line 1's 1704153600000: rows out of order",
            ),
            (format!("{MS}\n\n{NEXT}\n"), "x.csv, line 2: empty line between rows"),
            (
                format!("{}\n", MS.replace("1704153599999", "1704067100000")),
                "x.csv, line 1: close time 1704067100000 is before open time 1704067200000 (milliseconds)",
            ),
            (format!("{}\n", MS.replace("44184.10", "1.0")), "x.csv, line 1: high 1.0 is below low 42180.77"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_klines("x.csv", &text).unwrap_err().to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn intervals_name_their_files_and_parse_from_flags() {
        assert_eq!(Interval::Day.file_name("BTCUSDT"), "BTCUSDT-1d.csv");
        assert_eq!("1h".parse::<Interval>().unwrap().file_name("ETHUSDT"), "ETHUSDT-1h.csv");
        assert_eq!("4h".parse::<Interval>().unwrap_err(), "expected 1d or 1h, got '4h'");
        assert_eq!(Interval::Hour.millis() * 24, Interval::Day.millis());
    }
}
