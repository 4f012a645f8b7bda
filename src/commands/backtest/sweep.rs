//! `tradecycle backtest run --sweep KEY=V1,V2,...`: the same backtest once
//! per combination of strategy parameters (the product of every `--sweep`,
//! on top of the `--set` overrides), one row per combination with the
//! summary's headline figures: a text table, a JSON array with
//! `--format json`, and `sweep.csv` under `--output`.
//!
//! The runs are independent and deterministic, so they are spread over
//! plain scoped threads (one per core, each with its own single-threaded
//! runtime, taking the next combination as it frees up); every result is
//! stored at its combination's index, so the rows come out in grid order
//! (the first `--sweep` varies slowest) whatever the scheduling.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};
use tradecycle_core::backtest::Summary;

use crate::cli::{BacktestRunArgs, Format};
use crate::commands::{exit, usage};
use crate::strategy::StrategyParams;

use super::engine::Backtest;
use super::outputs::{num, pct};
use super::run::{assignment, summary_of};

pub const SWEEP_FILE: &str = "sweep.csv";

/// The combinations to run: the swept keys (in flag order) and, per
/// combination, each key's value (canonical text) and the full parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub keys: Vec<String>,
    pub combos: Vec<(Vec<String>, StrategyParams)>,
}

/// Builds the grid over `base` (the parameters after `--set`); every value
/// is parsed and range-checked here, before anything runs. Errors name the
/// flag and the key.
pub fn grid(base: &StrategyParams, sweeps: &[String], sets: &[String]) -> Result<Grid, String> {
    let mut keys: Vec<String> = Vec::new();
    let mut axes: Vec<Vec<String>> = Vec::new();
    for text in sweeps {
        let (key, list) = assignment("--sweep", text)?;
        if keys.iter().any(|k| k == key) {
            return Err(format!("--sweep {key} is given twice"));
        }
        if sets.iter().any(|s| s.split_once('=').is_some_and(|(k, _)| k.trim() == key)) {
            return Err(format!("--sweep {key} is also given to --set"));
        }
        let mut values: Vec<String> = Vec::new();
        for raw in list.split(',') {
            let mut probe = base.clone();
            probe.set(key, raw).map_err(|e| format!("--sweep {text}: {e}"))?;
            let value = probe.get(key).unwrap_or_default();
            if values.contains(&value) {
                return Err(format!("--sweep {text}: {key}={value} is listed twice"));
            }
            values.push(value);
        }
        keys.push(key.to_string());
        axes.push(values);
    }
    let mut combos: Vec<(Vec<String>, StrategyParams)> = vec![(Vec::new(), base.clone())];
    for (key, values) in keys.iter().zip(&axes) {
        let mut next = Vec::with_capacity(combos.len() * values.len());
        for (row, params) in &combos {
            for value in values {
                let mut params = params.clone();
                params.set(key, value).map_err(|e| format!("--sweep {e}"))?;
                let mut row = row.clone();
                row.push(value.clone());
                next.push((row, params));
            }
        }
        combos = next;
    }
    for (row, params) in &combos {
        params.validate().map_err(|e| format!("--sweep {}: {e}", describe(&keys, row)))?;
    }
    Ok(Grid { keys, combos })
}

/// `k1=v1 k2=v2`, naming one combination.
fn describe(keys: &[String], values: &[String]) -> String {
    keys.iter().zip(values).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// A copy of `base` for one worker (its parameters are replaced per run).
fn copy_of(base: &Backtest) -> Backtest {
    Backtest {
        history: base.history.clone(),
        pool: base.pool.clone(),
        from: base.from,
        to: base.to,
        initial_usdt: base.initial_usdt,
        costs: base.costs,
        earn_apr: base.earn_apr,
        settings: base.settings.clone(),
        data_dir: base.data_dir.clone(),
    }
}

/// Runs `base` once per parameter set on up to one thread per core; the
/// results are in `params`' order.
pub fn run_all(base: &Backtest, params: &[StrategyParams]) -> Vec<Result<Summary, String>> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let workers = cores.min(params.len()).max(1);
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Summary, String>>> = vec![None; params.len()];
    let done: Vec<(usize, Result<Summary, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                    let mut backtest = copy_of(base);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = params.get(i) else { break };
                        backtest.settings.strategy.params = p.clone();
                        let result = match &runtime {
                            Ok(rt) => rt.block_on(backtest.run(|_, _| {})).map(|o| summary_of(&backtest, &o)),
                            Err(e) => Err(format!("cannot start a runtime: {e}")),
                        };
                        out.push((i, result));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    for (i, result) in done {
        results[i] = Some(result);
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Err("a sweep worker stopped".into()))).collect()
}

/// The headline figures of one summary, as summary.json writes them.
fn headline(s: &Summary) -> Map<String, Value> {
    let full = serde_json::to_value(s).unwrap_or_default();
    let mut out = Map::new();
    for key in ["final_equity", "cagr", "max_drawdown", "sharpe_daily"] {
        out.insert(key.into(), full.get(key).cloned().unwrap_or(Value::Null));
    }
    out.insert("trades".into(), json!(trades(s)));
    for key in ["fees_paid", "circuit_breaker_days", "failed_cycles"] {
        out.insert(key.into(), full.get(key).cloned().unwrap_or(Value::Null));
    }
    out
}

fn trades(s: &Summary) -> usize {
    s.trades_by_kind.values().sum()
}

/// The rows as a JSON array: `{"params": {key: value}, headline...}`.
pub fn sweep_json(grid: &Grid, summaries: &[Summary]) -> String {
    let rows: Vec<Value> = grid
        .combos
        .iter()
        .zip(summaries)
        .map(|((values, _), s)| {
            let params: Map<String, Value> =
                grid.keys.iter().zip(values).map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let mut row = Map::new();
            row.insert("params".into(), Value::Object(params));
            row.extend(headline(s));
            Value::Object(row)
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"
}

/// `sweep.csv`: the keys, then the headline figures at full precision
/// (as summary.json has them; empty when there is none).
pub fn sweep_csv(grid: &Grid, summaries: &[Summary]) -> String {
    let mut head: Vec<String> = grid.keys.clone();
    let mut lines = Vec::new();
    for ((values, _), s) in grid.combos.iter().zip(summaries) {
        let figures = headline(s);
        if lines.is_empty() {
            head.extend(figures.keys().cloned());
            lines.push(head.join(","));
        }
        let mut cells = values.clone();
        cells.extend(figures.values().map(|v| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
        lines.push(cells.join(","));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The rows as an aligned text table for a terminal.
pub fn sweep_table(grid: &Grid, summaries: &[Summary]) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        grid.keys
            .iter()
            .cloned()
            .chain(
                ["final equity", "CAGR", "max drawdown", "Sharpe", "trades", "fees", "breaker days"].map(String::from),
            )
            .collect(),
    ];
    for ((values, _), s) in grid.combos.iter().zip(summaries) {
        let mut row = values.clone();
        row.extend([
            s.final_equity.round_dp(2).to_string(),
            pct(s.cagr),
            pct(Some(s.max_drawdown)),
            num(s.sharpe_daily),
            trades(s).to_string(),
            s.fees_paid.round_dp(2).to_string(),
            s.circuit_breaker_days.to_string(),
        ]);
        rows.push(row);
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            cells.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

fn write_csv(dir: &Path, text: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("--output {}: {e}", dir.display()))?;
    let path = dir.join(SWEEP_FILE);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Exit 0 when every combination ran, 1 when one could not run or the
/// file could not be written, 2 for a bad `--sweep`.
pub fn command(base: &Backtest, args: &BacktestRunArgs) -> u8 {
    let grid = match grid(&base.settings.strategy.params, &args.sweep, &args.set) {
        Ok(g) => g,
        Err(e) => return usage(e),
    };
    let params: Vec<StrategyParams> = grid.combos.iter().map(|(_, p)| p.clone()).collect();
    let mut summaries = Vec::with_capacity(params.len());
    for (result, (values, _)) in run_all(base, &params).into_iter().zip(&grid.combos) {
        match result {
            Ok(s) => summaries.push(s),
            Err(e) => {
                crate::shell::logging::error_line(&format!("error: {}: {e}", describe(&grid.keys, values)));
                return exit::ERROR;
            }
        }
    }
    if let Some(dir) = &args.output
        && let Err(e) = write_csv(dir, &sweep_csv(&grid, &summaries))
    {
        crate::shell::logging::error_line(&format!("error: {e}"));
        return exit::ERROR;
    }
    match args.format {
        Format::Json => print!("{}", sweep_json(&grid, &summaries)),
        Format::Text => print!("{}", sweep_table(&grid, &summaries)),
    }
    exit::OK
}
