//! Orders: `POST /api/v3/order` (MARKET only, by `quantity` or
//! `quoteOrderQty`), `GET /api/v3/order`, `GET /api/v3/allOrders`, and the
//! account's trades of a symbol (`GET /api/v3/myTrades`), which carry each
//! fill's commission as the FULL answer did.
//!
//! A MARKET order fills at the reference price (moved by the configured
//! slippage) in one trade, pays the taker fee in the asset it receives,
//! and is never left open. Binance only refuses a `newClientOrderId` that
//! an *open* order uses, so reusing the id of a filled market order is
//! accepted and executes again — faithfully, because that is what a
//! retrying client must defend against.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value, json};

use super::{Ctx, Reply, limit_param};
use crate::binance::errors::ApiError;
use crate::binance::fmt8;
use crate::binance::state::{FillRecord, OrderRecord, Side, State};

const ORDER_TYPES: [&str; 7] =
    ["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"];

/// Quote and commission amounts are kept to 8 decimals, like Binance's.
fn round8(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero)
}

/// rest-api.md: `newClientOrderId` must match `^[a-zA-Z0-9-_]{1,36}$`.
fn valid_client_order_id(id: &str) -> bool {
    (1..=36).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A Binance-looking generated id (22 alphanumerics), unique per order.
fn generated_client_order_id(order_id: i64) -> String {
    format!("web_{order_id:018}")
}

pub fn new_order(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let p = cx.params;
    // A key without the spot-trading permission is refused before anything
    // else is looked at.
    if !st.restrictions.enable_spot_and_margin_trading {
        return Err(ApiError::rejected_key());
    }
    let symbol = p.required("symbol")?;
    let side = p.required("side")?;
    let kind = p.required("type")?;
    let spec = st.symbols.get(symbol).cloned().ok_or_else(ApiError::invalid_symbol)?;
    let side = match side {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::bad(-1117, "Invalid side.")),
    };
    if !ORDER_TYPES.contains(&kind) {
        return Err(ApiError::bad(-1116, "Invalid orderType."));
    }
    if kind != "MARKET" {
        // A limitation of the fake: tradecycle only sends MARKET orders.
        return Err(ApiError::unsupported());
    }
    let resp_type = match p.get("newOrderRespType") {
        None => "FULL",
        Some(t @ ("ACK" | "RESULT" | "FULL")) => t,
        Some(_) => return Err(ApiError::invalid_value("newOrderRespType")),
    };
    let client_order_id = match p.get("newClientOrderId") {
        Some(id) if !valid_client_order_id(id) => {
            return Err(ApiError::bad(
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
            ));
        }
        Some(id) => id.to_string(),
        None => generated_client_order_id(st.next_order_id),
    };
    let quantity = p.decimal("quantity")?;
    let quote_qty = p.decimal("quoteOrderQty")?;
    match (quantity, quote_qty) {
        (None, None) => return Err(ApiError::one_of("quantity", "quoteOrderQty")),
        (Some(_), Some(_)) => return Err(ApiError::not_required("quoteOrderQty")),
        _ => {}
    }
    if let Some(q) = quantity {
        if q.normalize().scale() > spec.base_asset_precision {
            return Err(ApiError::precision("quantity"));
        }
        if q.is_zero() {
            return Err(ApiError::bad(-1013, "Invalid quantity."));
        }
    }
    if let Some(q) = quote_qty {
        if q.normalize().scale() > spec.quote_asset_precision {
            return Err(ApiError::precision("quoteOrderQty"));
        }
        if q.is_zero() {
            return Err(ApiError::bad(-1013, "Invalid quantity."));
        }
        if !spec.quote_order_qty_market_allowed {
            return Err(ApiError::rejected("Quote order qty market orders are not support for this symbol."));
        }
    }
    if spec.status != "TRADING" {
        return Err(ApiError::rejected("Market is closed."));
    }
    // "Duplicate order sent." applies only to ids of open orders; MARKET
    // orders never rest, so no id is ever taken here.
    let reference = st
        .reference_price(symbol)
        .filter(|p| *p > Decimal::ZERO)
        .ok_or_else(|| ApiError::bad(-2043, "This symbol doesn't have a reference price."))?;
    let slip = st.config.slippage;
    let fill_price = round8(match side {
        Side::Buy => reference * (Decimal::ONE + slip),
        Side::Sell => reference * (Decimal::ONE - slip),
    });
    if fill_price <= Decimal::ZERO {
        return Err(ApiError::rejected("Price * QTY is zero or less."));
    }

    // Base quantity asked for, and the notional the filters see: the
    // reference (average) price for `quantity`, the quote amount itself for
    // `quoteOrderQty`.
    let (wanted, notional) = match quote_qty {
        Some(quote) => {
            let step = spec.market_step();
            ((quote / fill_price / step).floor() * step, quote)
        }
        None => {
            let q = quantity.unwrap_or_default();
            (q, q * reference)
        }
    };
    if let (Some(depth), Some(_)) = (spec.book_depth, quote_qty) {
        let (filter, min) = spec.min_qty();
        if depth < min || depth.is_zero() {
            return Err(ApiError::rejected(&format!(
                "Order book liquidity is less than {filter} filter minimum quantity."
            )));
        }
    }
    spec.check_market(wanted, notional)?;

    let executed = match spec.book_depth {
        Some(depth) if depth < wanted => (depth / spec.market_step()).floor() * spec.market_step(),
        _ => wanted,
    };
    let status = if executed < wanted { "EXPIRED" } else { "FILLED" };
    let quote_amount = round8(executed * fill_price);
    let fee = st.config.taker_fee;
    let base = spec.base_asset.clone();
    let quote = spec.quote_asset.clone();
    match side {
        Side::Buy => {
            let need = quote_qty.unwrap_or(quote_amount);
            if st.balances.get(&quote).copied().unwrap_or_default().free < need {
                return Err(ApiError::insufficient_balance());
            }
        }
        Side::Sell => {
            if st.balances.get(&base).copied().unwrap_or_default().free < wanted {
                return Err(ApiError::insufficient_balance());
            }
        }
    }

    let order_id = st.next_order_id;
    st.next_order_id += 1;
    let (commission, commission_asset) = match side {
        Side::Buy => (round8(executed * fee), base.clone()),
        Side::Sell => (round8(quote_amount * fee), quote.clone()),
    };
    match side {
        Side::Buy => {
            st.balances.entry(quote.clone()).or_default().free -= quote_amount;
            st.balances.entry(base.clone()).or_default().free += executed - commission;
        }
        Side::Sell => {
            st.balances.entry(base.clone()).or_default().free -= executed;
            st.balances.entry(quote.clone()).or_default().free += quote_amount - commission;
        }
    }
    let mut fills = Vec::new();
    if executed > Decimal::ZERO {
        fills.push(FillRecord {
            symbol: symbol.to_string(),
            order_id,
            trade_id: st.next_trade_id,
            side,
            price: fill_price,
            qty: executed,
            quote_qty: quote_amount,
            commission,
            commission_asset,
            time: cx.server_ms,
        });
        st.next_trade_id += 1;
    }
    let order = OrderRecord {
        symbol: symbol.to_string(),
        order_id,
        client_order_id,
        side,
        status: status.to_string(),
        orig_qty: wanted,
        executed_qty: executed,
        cummulative_quote_qty: quote_amount,
        orig_quote_order_qty: quote_qty.unwrap_or_default(),
        time: cx.server_ms,
        fills,
    };
    let body = new_order_json(&order, resp_type);
    st.orders.push(order);
    let mut reply = Reply::json(body);
    reply.order_id = Some(order_id);
    reply.headers.push(("X-MBX-ORDER-COUNT-10S", st.orders_10s.add(cx.now_ms, 10_000, 1).to_string()));
    reply.headers.push(("X-MBX-ORDER-COUNT-1D", st.orders_1d.add(cx.now_ms, 86_400_000, 1).to_string()));
    Ok(reply)
}

/// The POST answer in the requested shape (ACK, RESULT or FULL).
fn new_order_json(o: &OrderRecord, resp_type: &str) -> Value {
    let mut m = Map::new();
    m.insert("symbol".into(), json!(o.symbol));
    m.insert("orderId".into(), json!(o.order_id));
    m.insert("orderListId".into(), json!(-1));
    m.insert("clientOrderId".into(), json!(o.client_order_id));
    m.insert("transactTime".into(), json!(o.time));
    if resp_type == "ACK" {
        return Value::Object(m);
    }
    m.insert("price".into(), json!(fmt8(Decimal::ZERO)));
    m.insert("origQty".into(), json!(fmt8(o.orig_qty)));
    m.insert("executedQty".into(), json!(fmt8(o.executed_qty)));
    m.insert("origQuoteOrderQty".into(), json!(fmt8(o.orig_quote_order_qty)));
    m.insert("cummulativeQuoteQty".into(), json!(fmt8(o.cummulative_quote_qty)));
    m.insert("status".into(), json!(o.status));
    m.insert("timeInForce".into(), json!("GTC"));
    m.insert("type".into(), json!("MARKET"));
    m.insert("side".into(), json!(o.side.as_str()));
    m.insert("workingTime".into(), json!(o.time));
    m.insert("selfTradePreventionMode".into(), json!("EXPIRE_MAKER"));
    if resp_type == "FULL" {
        let fills: Vec<Value> = o
            .fills
            .iter()
            .map(|f| {
                json!({
                    "price": fmt8(f.price),
                    "qty": fmt8(f.qty),
                    "commission": fmt8(f.commission),
                    "commissionAsset": f.commission_asset,
                    "tradeId": f.trade_id,
                })
            })
            .collect();
        m.insert("fills".into(), Value::Array(fills));
    }
    Value::Object(m)
}

/// The query shape (`GET /api/v3/order`, `allOrders`).
fn query_json(o: &OrderRecord) -> Value {
    json!({
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": fmt8(Decimal::ZERO),
        "origQty": fmt8(o.orig_qty),
        "executedQty": fmt8(o.executed_qty),
        "cummulativeQuoteQty": fmt8(o.cummulative_quote_qty),
        "status": o.status,
        "timeInForce": "GTC",
        "type": "MARKET",
        "side": o.side.as_str(),
        "stopPrice": fmt8(Decimal::ZERO),
        "icebergQty": fmt8(Decimal::ZERO),
        "time": o.time,
        "updateTime": o.time,
        "isWorking": true,
        "workingTime": o.time,
        "origQuoteOrderQty": fmt8(o.orig_quote_order_qty),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    })
}

/// Whether an order is still hidden from lookups; counts this lookup.
fn hidden(st: &mut State, order_id: i64) -> bool {
    match st.hidden_orders.get_mut(&order_id) {
        Some(left) if *left > 0 => {
            *left -= 1;
            if *left == 0 {
                st.hidden_orders.remove(&order_id);
            }
            true
        }
        _ => false,
    }
}

pub fn query_order(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let p = cx.params;
    let symbol = p.required("symbol")?;
    let order_id = p.long("orderId")?;
    let client_id = p.get("origClientOrderId");
    if order_id.is_none() && client_id.is_none() {
        return Err(ApiError::one_of("origClientOrderId", "orderId"));
    }
    if !st.symbols.contains_key(symbol) {
        return Err(ApiError::invalid_symbol());
    }
    // With both ids, orderId decides and the client id must belong to it.
    let found = match order_id {
        Some(id) => st.orders.iter().find(|o| o.order_id == id && o.symbol == symbol),
        None => st.orders.iter().rev().find(|o| Some(o.client_order_id.as_str()) == client_id && o.symbol == symbol),
    };
    let Some(order) = found.cloned() else { return Err(ApiError::no_such_order()) };
    if order_id.is_some() && client_id.is_some_and(|c| c != order.client_order_id) {
        return Err(ApiError::bad(-2039, "Client order ID is not correct for this order ID."));
    }
    if hidden(st, order.order_id) {
        return Err(ApiError::no_such_order());
    }
    Ok(Reply::json(query_json(&order)))
}

pub fn all_orders(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let p = cx.params;
    let symbol = p.required("symbol")?;
    if !st.symbols.contains_key(symbol) {
        return Err(ApiError::invalid_symbol());
    }
    let from_id = p.long("orderId")?;
    let start = p.long("startTime")?;
    let end = p.long("endTime")?;
    let limit = limit_param(p, 500, 1000)?;
    if let (Some(s), Some(e)) = (start, end)
        && e - s > 86_400_000
    {
        return Err(ApiError::bad(-1127, "More than 24 hours between startTime and endTime."));
    }
    let mut matching: Vec<OrderRecord> = st
        .orders
        .iter()
        .filter(|o| o.symbol == symbol)
        .filter(|o| from_id.is_none_or(|id| o.order_id >= id))
        .filter(|o| start.is_none_or(|s| o.time >= s) && end.is_none_or(|e| o.time <= e))
        .cloned()
        .collect();
    // From an orderId or a startTime the oldest come first; otherwise the
    // most recent `limit`, still in ascending order.
    if from_id.is_some() || start.is_some() {
        matching.truncate(limit);
    } else {
        let skip = matching.len().saturating_sub(limit);
        matching.drain(..skip);
    }
    let mut out = Vec::with_capacity(matching.len());
    for o in &matching {
        if !hidden(st, o.order_id) {
            out.push(query_json(o));
        }
    }
    Ok(Reply::json(Value::Array(out)))
}

/// A trade as `GET /api/v3/myTrades` shows it (MARKET orders take liquidity).
fn trade_json(f: &FillRecord) -> Value {
    json!({
        "symbol": f.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "orderListId": -1,
        "price": fmt8(f.price),
        "qty": fmt8(f.qty),
        "quoteQty": fmt8(f.quote_qty),
        "commission": fmt8(f.commission),
        "commissionAsset": f.commission_asset,
        "time": f.time,
        "isBuyer": f.side == Side::Buy,
        "isMaker": false,
        "isBestMatch": true,
    })
}

/// `GET /api/v3/myTrades`: the trades of `symbol`, of one order with
/// `orderId` (an unknown order has none: an empty list, not an error), from
/// trade id `fromId` on, else the most recent `limit`, oldest first.
pub fn my_trades(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let p = cx.params;
    let symbol = p.required("symbol")?;
    if !st.symbols.contains_key(symbol) {
        return Err(ApiError::invalid_symbol());
    }
    let order_id = p.long("orderId")?;
    let from_id = p.long("fromId")?;
    let limit = limit_param(p, 500, 1000)?;
    let mut trades: Vec<&FillRecord> = st
        .orders
        .iter()
        .filter(|o| o.symbol == symbol && order_id.is_none_or(|id| o.order_id == id))
        .flat_map(|o| o.fills.iter())
        .filter(|f| from_id.is_none_or(|id| f.trade_id >= id))
        .collect();
    trades.sort_by_key(|f| f.trade_id);
    if from_id.is_some() {
        trades.truncate(limit);
    } else {
        let skip = trades.len().saturating_sub(limit);
        trades.drain(..skip);
    }
    Ok(Reply::json(Value::Array(trades.into_iter().map(trade_json).collect())))
}
