//! MARKET orders, order lookups by client order id, and the commissions
//! of an order's trades (which a lookup does not carry). An order POST is
//! sent once; what its failure means (rejected, or unknown and to be looked
//! up) is decided in `classify`.

use rust_decimal::Decimal;

use super::classify::{Failure, Outcome};
use super::client::Transport;
use super::query::Query;
use super::wire;
use crate::domain::intent::{Commission, Side};
use crate::ports::{OrderReport, OrderRequest};

/// Binance's "Order does not exist." for a query.
const NO_SUCH_ORDER: i64 = -2013;

/// The query of `POST /api/v3/order`, or why the request must not be sent.
pub fn order_query(order: &OrderRequest) -> Result<Query, String> {
    // The id needs no check here: a `ClientOrderId` is valid by construction.
    let side = match order.side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    };
    let positive = |v: Decimal, name: &str| {
        if v > Decimal::ZERO { Ok(v.normalize().to_string()) } else { Err(format!("{name} must be positive, got {v}")) }
    };
    let mut query = Query::new().with("symbol", order.symbol.clone()).with("side", side).with("type", "MARKET");
    match (order.quantity, order.quote_order_qty) {
        (Some(qty), None) => query.push("quantity", positive(qty, "quantity")?),
        (None, Some(quote)) if order.side == Side::Buy => {
            query.push("quoteOrderQty", positive(quote, "quoteOrderQty")?)
        }
        (None, Some(_)) => return Err("quoteOrderQty is only used for buys; sells go by quantity".into()),
        _ => return Err("a MARKET order needs exactly one of quantity and quoteOrderQty".into()),
    }
    query.push("newClientOrderId", order.client_order_id.to_string());
    query.push("newOrderRespType", "FULL");
    Ok(query)
}

pub async fn place(t: &Transport, order: &OrderRequest) -> Result<OrderReport, Failure> {
    let query = order_query(order)
        .map_err(|e| Failure::new(Outcome::Rejected, format!("POST /api/v3/order: not sent: {e}")))?;
    tracing::debug!(symbol = %order.symbol, client_order_id = %order.client_order_id, "placing market order");
    let order: wire::Order = t.signed_post("/api/v3/order", &query).await?;
    Ok(order.into_report())
}

pub async fn query(t: &Transport, symbol: &str, client_order_id: &str) -> Result<Option<OrderReport>, Failure> {
    let query = Query::new().with("symbol", symbol).with("origClientOrderId", client_order_id);
    match t.signed_get::<wire::Order>("/api/v3/order", &query).await {
        Ok(order) => Ok(Some(order.into_report())),
        Err(f) if f.code == Some(NO_SUCH_ORDER) => Ok(None),
        Err(f) => Err(f),
    }
}

/// `GET /api/v3/allOrders` from `since_ms` (weight 20).
pub async fn since(t: &Transport, symbol: &str, since_ms: i64) -> Result<Vec<OrderReport>, Failure> {
    let query = Query::new().with("symbol", symbol).with("startTime", since_ms.to_string()).with("limit", "1000");
    let orders: Vec<wire::Order> = t.signed_get("/api/v3/allOrders", &query).await?;
    Ok(orders.into_iter().map(wire::Order::into_report).collect())
}

/// `GET /api/v3/myTrades` of one order (weight 5): its commissions.
pub async fn commissions(t: &Transport, symbol: &str, order_id: i64) -> Result<Vec<Commission>, Failure> {
    let query = Query::new().with("symbol", symbol).with("orderId", order_id.to_string());
    let trades: Vec<wire::OrderFill> = t.signed_get("/api/v3/myTrades", &query).await?;
    Ok(wire::sum_commissions(&trades))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn order(side: Side, qty: Option<Decimal>, quote: Option<Decimal>) -> OrderRequest {
        OrderRequest {
            symbol: "ETHUSDT".into(),
            side,
            quantity: qty,
            quote_order_qty: quote,
            client_order_id: "tc-26010112-tb-ETHUSDT".parse().unwrap(),
        }
    }

    #[test]
    fn builds_market_order_queries() {
        let q = order_query(&order(Side::Buy, None, Some(dec!(150.50)))).unwrap();
        assert_eq!(
            q.render(),
            "symbol=ETHUSDT&side=BUY&type=MARKET&quoteOrderQty=150.5&newClientOrderId=tc-26010112-tb-ETHUSDT&newOrderRespType=FULL"
        );
        let q = order_query(&order(Side::Sell, Some(dec!(0.05000)), None)).unwrap();
        assert!(q.render().contains("side=SELL&type=MARKET&quantity=0.05&"), "{}", q.render());
    }

    #[test]
    fn refuses_malformed_orders_before_sending() {
        assert!(order_query(&order(Side::Buy, None, None)).is_err());
        assert!(order_query(&order(Side::Buy, Some(dec!(1)), Some(dec!(1)))).is_err());
        assert!(order_query(&order(Side::Sell, None, Some(dec!(1)))).is_err());
        assert!(order_query(&order(Side::Buy, Some(dec!(0)), None)).is_err());
        // A malformed client order id cannot reach this point: it does not
        // parse into a `ClientOrderId` (tested in the core).
    }
}
