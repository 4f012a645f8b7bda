//! `tradecycle positions list|adopt|ignore|unignore` (issue 11, position
//! parity): the operator's view of the exchange's holdings against the
//! state, and the two ways to settle a `position_mismatch` alert by hand.
//! The shell half only: the store (file or Firestore, as `run` chooses),
//! the exchange (Binance credentials as `run` reads them), the lease and
//! printing; what each command does to the state is core
//! `strategy::parity`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::adapters::binance::{BinanceClient, BinanceConfig};
use crate::boundary::MarketRequest;
use crate::cli::{PositionsCommand, PositionsListArgs, PositionsSymbolArgs};
use crate::commands::orders::load;
use crate::commands::run::AnyStore;
use crate::commands::under_lease::under_lease;
use crate::commands::watchdog::open_store;
use crate::commands::{exit, failed, operator_name, usage};
use crate::config::env::positive_decimal;
use crate::config::{Env, process_env};
use crate::domain::pool::infer_base_asset;
use crate::domain::snapshot::AssetBalance;
use crate::domain::state::{OperatorAction, StateDoc};
use crate::ports::{Exchange, PortError, StateStore};
use crate::strategy::cycle::BTC_SYMBOL;
use crate::strategy::parity::{self, DEFAULT_MIN_USDT};

pub async fn command(cmd: PositionsCommand) -> u8 {
    match cmd {
        PositionsCommand::List(args) => list(args).await,
        PositionsCommand::Adopt(args) => edit(args, Edit::Adopt).await,
        PositionsCommand::Ignore(args) => edit(args, Edit::Ignore).await,
        PositionsCommand::Unignore(args) => edit(args, Edit::Unignore).await,
    }
}

/// The change a command makes to the state.
#[derive(Clone, Copy)]
enum Edit {
    Adopt,
    Ignore,
    Unignore,
}

impl Edit {
    fn name(self) -> &'static str {
        match self {
            Edit::Adopt => "positions-adopt",
            Edit::Ignore => "positions-ignore",
            Edit::Unignore => "positions-unignore",
        }
    }
}

/// What the exchange holds of the assets asked for, and their prices.
pub(crate) struct Holdings {
    pub balances: BTreeMap<String, AssetBalance>,
    pub prices: BTreeMap<String, Decimal>,
}

/// Reads balances (spot + Earn) and prices of `symbols` from Binance.
async fn read_exchange(env: &Env, symbols: &[String]) -> Result<Holdings, String> {
    let config = BinanceConfig::from_env(env).map_err(|e| e.0)?;
    let client = BinanceClient::new(config).map_err(|e| format!("cannot set up the Binance client: {e}"))?;
    holdings(&client, symbols).await.map_err(|e| format!("cannot read the Binance account: {e}"))
}

/// Balances (spot free + locked + Simple Earn) of the base assets of
/// `symbols` and their prices, read-only (also `tradecycle status`).
pub(crate) async fn holdings(client: &impl Exchange, symbols: &[String]) -> Result<Holdings, PortError> {
    let assets = symbols.iter().map(|s| infer_base_asset(s)).collect();
    let req = MarketRequest { assets, symbols: symbols.to_vec(), kline_symbols: Vec::new() };
    let data = client.market_data(&req).await?;
    Ok(Holdings { balances: data.balances, prices: data.prices })
}

fn symbol_arg(raw: &str) -> Result<String, String> {
    let symbol = raw.trim().to_ascii_uppercase();
    if symbol.len() <= 4 || !symbol.ends_with("USDT") || !symbol.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("SYMBOL: expected a USDT pair such as SOLUSDT, got '{raw}'"));
    }
    Ok(symbol)
}

async fn edit(args: PositionsSymbolArgs, what: Edit) -> u8 {
    let env = process_env();
    let symbol = match symbol_arg(&args.symbol) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let by = operator_name(args.by.as_deref(), &env);
    let store = match open_store(args.store.as_deref(), &env).await {
        Ok(store) => store,
        Err(e) => return usage(e),
    };
    let now = Utc::now();
    under_lease(&store, what.name(), now, || apply(&store, &env, what, &symbol, &by, now)).await
}

/// Loads, changes and saves the state under the lease; the exit code.
/// Adopt reads the exchange under the lease too: no cycle can trade the
/// symbol between the reading and the save.
async fn apply(store: &AnyStore, env: &Env, what: Edit, symbol: &str, by: &str, now: DateTime<Utc>) -> u8 {
    let (raw, mut state) = match load(store).await {
        Ok(loaded) => loaded,
        Err(e) => return failed(e),
    };
    let done = match what {
        Edit::Adopt => {
            let h = match read_exchange(env, &[symbol.to_string()]).await {
                Ok(h) => h,
                Err(e) => return failed(format!("{e}; nothing changed")),
            };
            let qty = h.balances.get(&infer_base_asset(symbol)).map(AssetBalance::total).unwrap_or_default();
            let price = h.prices.get(symbol).copied().unwrap_or_default();
            parity::adopt(&mut state, symbol, qty, price, by, now)
        }
        Edit::Ignore => parity::ignore(&mut state, symbol, by, now),
        Edit::Unignore => parity::unignore(&mut state, symbol, by, now),
    };
    let done = match done {
        Ok(done) => done,
        Err(e) => return usage(e),
    };
    if let Err(e) = store.save(&merged(raw, &state)).await {
        return failed(format!("could not save the state; nothing changed: {e}"));
    }
    println!("{}", done_line(&done));
    exit::OK
}

/// The state written back over the raw document: keys this program does
/// not model stay as they were; the ignored list is the state's own (it
/// may have become empty, and then is not written).
fn merged(raw: Value, state: &StateDoc) -> Value {
    let mut doc = raw;
    if let (Some(out), Value::Object(changed)) = (doc.as_object_mut(), state.to_value()) {
        out.remove("ignored_positions");
        out.extend(changed);
    }
    doc
}

fn done_line(done: &OperatorAction) -> String {
    format!(
        "{}: {} (by {} at {})",
        done.action,
        done.detail,
        done.by,
        done.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

async fn list(args: PositionsListArgs) -> u8 {
    let env = process_env();
    let min = match positive_decimal(&env, "POSITION_MISMATCH_MIN_USDT") {
        Ok(min) => min.unwrap_or(DEFAULT_MIN_USDT),
        Err(e) => return usage(e.0),
    };
    let store = match open_store(args.store.as_deref(), &env).await {
        Ok(store) => store,
        Err(e) => return usage(e),
    };
    let (_, state) = match load(&store).await {
        Ok(loaded) => loaded,
        Err(e) => return failed(e),
    };
    let universe = parity::state_universe(&state);
    let mut symbols: Vec<String> = universe.keys().cloned().collect();
    symbols.push(BTC_SYMBOL.to_string());
    let holdings = match read_exchange(&env, &symbols).await {
        Ok(h) => h,
        Err(e) => return failed(e),
    };
    let rows = parity::rows(&state, &universe, &holdings.balances, &holdings.prices, min);
    if args.json {
        match serde_json::to_string_pretty(&rows) {
            Ok(json) => println!("{json}"),
            Err(e) => return failed(format!("cannot serialise the positions: {e}")),
        }
    } else {
        for r in &rows {
            println!("{} state {} exchange {} {}", r.symbol, r.state, r.exchange_qty, r.status);
        }
    }
    exit::OK
}
