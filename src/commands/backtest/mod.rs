//! `tradecycle backtest ...` (issue 12): `backtest fetch` downloads the
//! kline files a backtest reads (`fetch.rs`); `backtest run` runs the live
//! cycle over them (`run.rs`: flags and output; `engine.rs`: the loop;
//! `world.rs`: what the history shows at a given time; `outputs.rs`: the
//! files and the text table; `chart.rs`: `equity.svg`; `html.rs`:
//! `report.html`; `faults.rs` and `invariants.rs`: `--faults` and the
//! checks after every cycle); `backtest run --sweep` runs a grid of
//! strategy parameters in parallel (`sweep.rs`).

pub mod chart;
pub mod engine;
pub mod faults;
pub mod fetch;
pub mod html;
pub mod invariants;
pub mod outputs;
pub mod run;
pub mod sweep;
pub mod world;

use crate::cli::{BacktestArgs, BacktestCommand};

pub async fn command(args: BacktestArgs) -> u8 {
    match (args.command, args.run) {
        (Some(BacktestCommand::Fetch(fetch_args)), _) => fetch::command(fetch_args).await,
        (Some(BacktestCommand::Run(run_args)), _) | (None, Some(run_args)) => run::command(run_args).await,
        // clap requires --data, --from and --to without a subcommand.
        (None, None) => crate::domain::exit::USAGE,
    }
}
