//! Binary entry point: parse, run, exit with the cycle's code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tradecycle::cli::Cli::parse();
    ExitCode::from(tradecycle::run_cli(cli))
}
