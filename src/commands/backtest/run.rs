//! `tradecycle backtest run`: checks the flags, reads the history and the
//! pool, runs the cycles (`engine.rs`), writes the outputs (`outputs.rs`)
//! and prints the summary. Exit 0 when the run completed, 1 when the
//! outputs could not be written or an invariant broke (`invariants.rs`;
//! the outputs are still written, `summary.json` saying which), 2 for a
//! bad flag or unreadable input. `--set KEY=VALUE` overrides a strategy
//! parameter here; `--sweep` hands the planned run to `sweep.rs`.

use std::io::IsTerminal;

use rust_decimal::Decimal;
use tradecycle_core::backtest::{FaultTally, Summary, SummaryInputs, summarize};

use crate::cli::{BacktestRunArgs, Format};
use crate::commands::{exit, usage};
use crate::config::{Env, Settings};
use crate::paper::exchange::FillCosts;
use crate::strategy::StrategyParams;

use super::engine::{Backtest, Outcome};
use super::faults::FaultPlan;
use super::outputs::{summary_json, text_table, write_all};
use super::world::{History, PoolPlan};

/// A progress line at most this often (in cycles), on a terminal only.
const PROGRESS_EVERY: usize = 100;

/// The flags, checked; every error names its flag.
pub fn plan(args: &BacktestRunArgs) -> Result<Backtest, String> {
    if args.to < args.from {
        return Err(format!("--to {} is before --from {}", args.to, args.from));
    }
    let positive = |flag: &str, v: Decimal| {
        if v > Decimal::ZERO { Ok(v) } else { Err(format!("{flag} must be greater than 0, got {v}")) }
    };
    let not_negative = |flag: &str, v: Decimal| {
        if v >= Decimal::ZERO { Ok(v) } else { Err(format!("{flag} must not be negative, got {v}")) }
    };
    let fee_rate = not_negative("--fee-rate", args.fee_rate)?;
    if fee_rate >= Decimal::ONE {
        return Err(format!("--fee-rate is a fraction (0.001 = 0.1%), got {fee_rate}"));
    }
    let slippage_bps = not_negative("--slippage-bps", args.slippage_bps)?;
    let costs = FillCosts { fee_rate, slippage_bps, bnb_discount: true, spend_filled_quote: true };
    let initial_usdt = positive("--initial-usdt", args.initial_usdt)?;
    let earn_apr = not_negative("--earn-apr", args.earn_apr)?;
    let pool = PoolPlan::load(args.pool.as_deref(), args.pool_history.as_deref())?;
    // The strategy runs with its defaults: the process environment does not
    // reach a backtest (same inputs, same outputs); `--set` alone changes them.
    let mut settings = Settings::from_env(&Env::new()).map_err(|e| e.to_string())?;
    settings.strategy.params = with_sets(settings.strategy.params, &args.set)?;
    // A backtest may try a pool of any size: a `--pool` payload is checked
    // against its own `pool_size` (which must count its symbols), not
    // against the live contract's 5.
    settings.contract.expected_pool_size = 0;
    Ok(Backtest {
        history: History::load(&args.data, args.cadence)?,
        pool,
        from: args.from,
        to: args.to,
        initial_usdt,
        costs,
        earn_apr,
        settings,
        data_dir: args.data.clone(),
    })
}

/// `KEY=VALUE` split at the first `=`; errors name `flag`.
pub fn assignment<'a>(flag: &str, text: &'a str) -> Result<(&'a str, &'a str), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim(), value)),
        _ => Err(format!("{flag} {text}: expected KEY=VALUE; known keys: {}", StrategyParams::KEYS.join(", "))),
    }
}

/// `params` with every `--set KEY=VALUE` applied, in order; errors name
/// the flag and the key (an unknown key lists the known ones).
pub fn with_sets(mut params: StrategyParams, sets: &[String]) -> Result<StrategyParams, String> {
    for text in sets {
        let (key, value) = assignment("--set", text)?;
        params.set(key, value).map_err(|e| format!("--set {text}: {e}"))?;
    }
    params.validate().map_err(|e| format!("--set: {e}"))?;
    Ok(params)
}

/// The run's summary.
pub fn summary_of(backtest: &Backtest, outcome: &Outcome) -> Summary {
    let inputs = SummaryInputs {
        from: backtest.from,
        to: backtest.to,
        cadence: backtest.history.cadence.to_string(),
        initial_usdt: backtest.initial_usdt,
        fee_rate: backtest.costs.fee_rate,
        slippage_bps: backtest.costs.slippage_bps,
        earn_apr: backtest.earn_apr,
        pool: backtest.pool.describe(),
    };
    summarize(inputs, &outcome.cycles, &outcome.trades)
}

pub async fn command(args: BacktestRunArgs) -> u8 {
    let backtest = match plan(&args) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    if !args.sweep.is_empty() {
        return super::sweep::command(&backtest, &args);
    }
    let total = backtest.cycle_times().len();
    let terminal = std::io::stderr().is_terminal();
    let mut done = 0usize;
    let outcome = backtest
        .run_checked(faults_of(&args), |start, _| {
            done += 1;
            if terminal && (done.is_multiple_of(PROGRESS_EVERY) || done == total) {
                eprint!("\rbacktest: cycle {done}/{total} ({})", start.now.date_naive());
                if done == total {
                    eprintln!();
                }
            }
        })
        .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            crate::shell::logging::error_line(&format!("error: {e}"));
            return exit::ERROR;
        }
    };
    let mut summary = summary_of(&backtest, &outcome);
    summary.faults = args.faults.map(|seed| FaultTally { seed, injected: outcome.faults.clone() });
    summary.invariant_broken = outcome.invariant_broken.clone();
    if let Some(dir) = &args.output
        && let Err(e) = write_all(dir, &summary, &outcome.cycles, &outcome.trades)
    {
        crate::shell::logging::error_line(&format!("error: {e}"));
        return exit::ERROR;
    }
    if let Some(broken) = &outcome.invariant_broken {
        crate::shell::logging::error_line(&format!("error: {broken}"));
        return exit::ERROR;
    }
    match args.format {
        Format::Json => print!("{}", summary_json(&summary)),
        Format::Text => print!("{}", text_table(&summary)),
    }
    exit::OK
}

/// `--faults` and its test-only companion.
fn faults_of(args: &BacktestRunArgs) -> Option<FaultPlan> {
    args.faults.map(|seed| FaultPlan { seed, double_book: args.test_double_book })
}
