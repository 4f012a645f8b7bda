//! Public market endpoints: ping, time, exchangeInfo, avgPrice, klines.

use serde_json::{Value, json};

use super::{Ctx, Reply, limit_param};
use crate::binance::errors::ApiError;
use crate::binance::fmt8;
use crate::binance::klines::select;
use crate::binance::state::State;

const INTERVALS: [&str; 16] =
    ["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"];

pub fn ping(_: &mut State, _: &Ctx<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::json(json!({})))
}

pub fn time(_: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::json(json!({"serverTime": cx.server_ms})))
}

pub fn exchange_info(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let one = cx.params.get("symbol");
    let many = cx.params.get("symbols");
    let wanted: Option<Vec<String>> = match (one, many) {
        (Some(_), Some(_)) => return Err(ApiError::bad(-1128, "Combination of optional parameters invalid.")),
        (Some(s), None) => Some(vec![s.to_string()]),
        (None, Some(list)) => Some(parse_symbols(list)?),
        (None, None) => None,
    };
    let symbols: Vec<Value> = match wanted {
        None => st.symbols.values().map(|s| s.entry()).collect(),
        Some(names) => names
            .iter()
            .map(|n| st.symbols.get(n).map(|s| s.entry()).ok_or_else(ApiError::invalid_symbol))
            .collect::<Result<_, _>>()?,
    };
    Ok(Reply::json(json!({
        "timezone": "UTC",
        "serverTime": cx.server_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": st.config.weight_limit},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    })))
}

/// `symbols=["BTCUSDT","ETHUSDT"]` (already percent-decoded).
fn parse_symbols(raw: &str) -> Result<Vec<String>, ApiError> {
    let bad = || {
        ApiError::bad(-1100, "Illegal characters found in parameter 'symbols'; legal range is '^[A-Z0-9-_.]{1,20}$'.")
    };
    let list: Vec<String> = serde_json::from_str(raw).map_err(|_| bad())?;
    if list.is_empty() || list.iter().any(|s| s.is_empty() || s.len() > 20) {
        return Err(bad());
    }
    Ok(list)
}

pub fn avg_price(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let symbol = cx.params.required("symbol")?;
    if !st.known_symbol(symbol) {
        return Err(ApiError::invalid_symbol());
    }
    let price = st
        .reference_price(symbol)
        .ok_or_else(|| ApiError::bad(-2043, "This symbol doesn't have a reference price."))?;
    Ok(Reply::json(json!({"mins": 5, "price": fmt8(price), "closeTime": cx.server_ms})))
}

pub fn klines(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let symbol = cx.params.required("symbol")?;
    let interval = cx.params.required("interval")?;
    if !INTERVALS.contains(&interval) {
        return Err(ApiError::bad(-1120, "Invalid interval."));
    }
    let seeded = interval == "1d" || st.interval_klines.keys().any(|(_, i)| i == interval);
    if !seeded {
        // A limitation of the fake, not Binance: only seeded intervals are served.
        return Err(ApiError::bad(-1120, "Invalid interval. (this fake serves 1d and seeded intervals only)"));
    }
    if !st.known_symbol(symbol) {
        return Err(ApiError::invalid_symbol());
    }
    let start = cx.params.long("startTime")?;
    let end = cx.params.long("endTime")?;
    // Spot caps `limit` at 1000 (default 500) instead of refusing more.
    let limit = limit_param(cx.params, 500, 1000)?;
    let series = if interval == "1d" {
        st.klines.get(symbol)
    } else {
        st.interval_klines.get(&(symbol.to_string(), interval.to_string()))
    };
    let rows = series.map(|rows| select(rows, start, end, limit)).unwrap_or_default();
    Ok(Reply::json(Value::Array(rows.iter().map(|k| k.to_row()).collect())))
}
