//! `tradecycle status [--json]` (issue 11): one screen of operator truth.
//! This is the IO half only — open the store exactly as the other
//! operations commands do, read the state document, the heartbeat record
//! and the watchdog's alert book, ask the exchange for balances when
//! credentials are set (read-only), stat the metrics file — and print what
//! the pure [`view::assemble`] made of it.
//!
//! Exit codes: 0 the screen was assembled (even with alerts open: the
//! screen says so), 1 the state store cannot be read (named), 2 a
//! configuration error (the setting named).

pub mod view;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::adapters::binance::{BinanceClient, BinanceConfig};
use crate::cli::StatusArgs;
use crate::commands::durable_alerts::{book_key, load_book};
use crate::commands::orders::load;
use crate::commands::positions::holdings;
use crate::commands::watchdog::{open_store, service_name};
use crate::commands::{exit, usage};
use crate::config::env::{boolean, positive_decimal, text, value};
use crate::config::{Env, process_env};
use crate::ports::{Exchange, StateStore};
use crate::strategy::parity::DEFAULT_MIN_USDT;

pub use view::{ExchangeView, MetricsFileView, SCHEMA, StatusInputs, StatusView, assemble, render};

pub async fn command(args: StatusArgs) -> u8 {
    let env = process_env();
    let kill_switch = match boolean(&env, "TRADECYCLE_PAUSE", false) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let mismatch_min_usdt = match positive_decimal(&env, "POSITION_MISMATCH_MIN_USDT") {
        Ok(min) => min.unwrap_or(DEFAULT_MIN_USDT),
        Err(e) => return usage(e.0),
    };
    let exchange = match exchange_client(&env) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let store_name = match args.store.clone().or_else(|| text(&env, "TRADECYCLE_STORE")) {
        Some(s) => s,
        None => {
            return usage(
                "no state store configured: pass --store firestore or --store file:PATH (or set TRADECYCLE_STORE)",
            );
        }
    };
    let store = match open_store(Some(&store_name), &env).await {
        Ok(store) => store,
        Err(e) => return usage(e),
    };
    let service = args.service.clone().unwrap_or_else(|| service_name(&env));
    let metrics_path = args.metrics_file.clone().or_else(|| value(&env, "TRADECYCLE_METRICS_FILE").map(Into::into));
    let now = Utc::now();

    let (_, state) = match load(&store).await {
        Ok(loaded) => loaded,
        Err(e) => return unreachable_store(&store_name, e),
    };
    let heartbeat = match store.read_heartbeat(&service).await {
        Ok(record) => record,
        Err(e) => return unreachable_store(&store_name, format!("cannot read the heartbeat record of {service}: {e}")),
    };
    let watchdog_alerts = load_book(&store, &book_key("watchdog", &service)).await.unwrap_or_else(|e| {
        eprintln!("warning: {e}");
        Default::default()
    });
    let exchange = match &exchange {
        None => ExchangeView::NotChecked,
        Some(client) => exchange_view(client, &view::position_symbols(&state)).await,
    };
    let view = assemble(StatusInputs {
        now,
        service: &service,
        store: &store_name,
        state: &state,
        heartbeat: heartbeat.as_ref(),
        watchdog_alerts: &watchdog_alerts,
        kill_switch,
        exchange: &exchange,
        mismatch_min_usdt,
        metrics_file: metrics_file(metrics_path.as_deref(), now),
    });
    if args.json {
        match serde_json::to_string_pretty(&view) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot serialise the status: {e}");
                return exit::ERROR;
            }
        }
    } else {
        println!("{}", render(&view));
    }
    exit::OK
}

fn unreachable_store(store: &str, e: String) -> u8 {
    eprintln!("error: state store {store}: {e}");
    exit::ERROR
}

/// The Binance client when both credentials are set; `None` when neither
/// is (the exchange column says "not checked"); half a pair, or a bad
/// Binance setting, is a configuration error naming it.
fn exchange_client(env: &Env) -> Result<Option<BinanceClient>, String> {
    let (key, secret) = (text(env, "BINANCE_API_KEY"), text(env, "BINANCE_API_SECRET"));
    if key.is_none() && secret.is_none() {
        return Ok(None);
    }
    let config = BinanceConfig::from_env(env).map_err(|e| e.0)?;
    BinanceClient::new(config).map(Some).map_err(|e| format!("Binance client: {e}"))
}

/// What the exchange holds, for the positions section; a failed read is
/// shown, not fatal.
async fn exchange_view(client: &impl Exchange, symbols: &[String]) -> ExchangeView {
    match holdings(client, symbols).await {
        Ok(h) => ExchangeView::Read { balances: h.balances, prices: h.prices },
        Err(e) => ExchangeView::Failed(e.to_string()),
    }
}

/// Stats the metrics file: not configured, absent, or its age.
fn metrics_file(path: Option<&Path>, now: DateTime<Utc>) -> MetricsFileView {
    let Some(path) = path else {
        return MetricsFileView { path: None, state: "not_configured", age_seconds: None };
    };
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
    MetricsFileView {
        path: Some(path.display().to_string()),
        state: if modified.is_some() { "present" } else { "absent" },
        age_seconds: modified.map(|t| (now - t).num_seconds().max(0)),
    }
}
