//! `tradecycle backtest ...` (issue 12). For now the data side only:
//! `backtest fetch` downloads the kline files a backtest reads
//! (`fetch.rs`); the run itself comes later, beside it.

pub mod fetch;

use crate::cli::{BacktestArgs, BacktestCommand};

pub async fn command(args: BacktestArgs) -> u8 {
    match args.command {
        BacktestCommand::Fetch(fetch_args) => fetch::command(fetch_args).await,
    }
}
