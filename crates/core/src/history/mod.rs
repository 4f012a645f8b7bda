//! Price history for backtests: the kline CSV files of Binance's public data
//! dumps, as text. Pure parsing only; reading and writing the files is the
//! binary's job (`src/adapters/kline_files.rs`), fetching them is
//! `tradecycle backtest fetch` (`src/commands/backtest/fetch.rs`).

pub mod klines;

pub use klines::{CsvRow, Interval, KlineCsvError, parse_klines, parse_row, parse_rows};
