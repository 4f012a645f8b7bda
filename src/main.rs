//! Binary entry point: parse, run, exit with the cycle's code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: a backtest's cycles allocate and
/// free megabytes each (README "Performance"); a live cycle does not mind.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = tradecycle::cli::Cli::parse();
    ExitCode::from(tradecycle::run_cli(cli))
}
