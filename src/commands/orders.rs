//! `tradecycle orders list` and `tradecycle orders resolve` (issue 11): the
//! operator's view of the pending order ledger and the one way to settle an
//! entry by hand. The shell half only: the store, the lease and printing;
//! what a resolution does to the state is core `strategy::ledger`.

use chrono::Utc;
use serde_json::Value;

use crate::cli::{OrdersCommand, OrdersListArgs, OrdersResolveArgs};
use crate::commands::run::AnyStore;
use crate::commands::under_lease::under_lease;
use crate::commands::watchdog::open_store;
use crate::commands::{exit, failed, operator_name, usage};
use crate::config::process_env;
use crate::domain::pool::{Universe, infer_base_asset};
use crate::domain::state::StateDoc;
use crate::ports::StateStore;
use crate::strategy::ledger::{self, LedgerRow, Resolution};

pub async fn command(cmd: OrdersCommand) -> u8 {
    match cmd {
        OrdersCommand::List(args) => list(args).await,
        OrdersCommand::Resolve(args) => resolve(args).await,
    }
}

async fn list(args: OrdersListArgs) -> u8 {
    let env = process_env();
    let store = match open_store(args.store.as_deref(), &env).await {
        Ok(store) => store,
        Err(e) => return usage(e),
    };
    let (_, state) = match load(&store).await {
        Ok(loaded) => loaded,
        Err(e) => return failed(e),
    };
    let rows = ledger::rows(&state, Utc::now());
    if args.json {
        match serde_json::to_string_pretty(&rows) {
            Ok(json) => println!("{json}"),
            Err(e) => return failed(format!("cannot serialise the ledger: {e}")),
        }
    } else if rows.is_empty() {
        println!("no pending orders");
    } else {
        rows.iter().for_each(|r| println!("{}", row_line(r)));
    }
    exit::OK
}

async fn resolve(args: OrdersResolveArgs) -> u8 {
    let env = process_env();
    let how = match &args.filled {
        Some(fill) => match ledger::parse_fill(fill) {
            Ok(how) => how,
            Err(e) => return usage(e),
        },
        None => Resolution::NotPlaced,
    };
    let by = operator_name(args.by.as_deref(), &env);
    let store = match open_store(args.store.as_deref(), &env).await {
        Ok(store) => store,
        Err(e) => return usage(e),
    };
    let now = Utc::now();
    under_lease(&store, "orders-resolve", now, || settle(&store, &args.client_id, how, &by, now)).await
}

/// Loads, settles and saves under the lease; the exit code.
async fn settle(store: &AnyStore, id: &str, how: Resolution, by: &str, now: chrono::DateTime<Utc>) -> u8 {
    let (raw, mut state) = match load(store).await {
        Ok(loaded) => loaded,
        Err(e) => return failed(e),
    };
    let done = match ledger::resolve(&mut state, id, how, by, now) {
        Ok(done) => done,
        Err(e) => return usage(e),
    };
    // Keys this program does not model are written back as they were.
    let mut doc = raw;
    if let (Some(out), Value::Object(settled)) = (doc.as_object_mut(), state.to_value()) {
        out.extend(settled);
    }
    if let Err(e) = store.save(&doc).await {
        return failed(format!("could not save the state; the entry is still pending: {e}"));
    }
    println!(
        "resolved {id}: {} (by {by} at {})",
        done.detail,
        done.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    exit::OK
}

/// The raw state document and its reading. The universe is the positions
/// the document itself holds, so nothing moves between pool and retired.
pub(crate) async fn load(store: &AnyStore) -> Result<(Value, StateDoc), String> {
    let raw = store
        .load()
        .await
        .map_err(|e| format!("cannot read the state document: {e}"))?
        .unwrap_or_else(|| Value::Object(Default::default()));
    let held: Universe = raw
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| k.ends_with("USDT") && v.get("is_holding").is_some())
        .map(|(k, _)| (k.clone(), infer_base_asset(k)))
        .collect();
    let state = StateDoc::normalize(&raw, &held);
    Ok((raw, state))
}

/// One `orders list` line.
pub(crate) fn row_line(r: &LedgerRow) -> String {
    let size = match (r.quantity, r.quote_amount) {
        (Some(q), _) => format!("qty {}", q.normalize()),
        (None, Some(a)) => format!("{} USDT", a.normalize()),
        (None, None) => "size ?".to_string(),
    };
    let age = r.age_hours.map(|h| format!("{h} h")).unwrap_or_else(|| "? h".to_string());
    let mut line = format!(
        "{} {} {:?} {size} @ {} {} written {} by run {} age {age}",
        r.client_order_id,
        r.symbol,
        r.side,
        r.price.normalize(),
        r.status,
        r.created_at,
        r.run_id
    );
    if let Some(why) = &r.quarantine_reason {
        line.push_str(&format!(" quarantined: {why}"));
    }
    line
}
