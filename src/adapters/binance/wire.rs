//! Binance's JSON responses as they arrive, and their pure conversion into
//! the crate's types. Amounts stay `Decimal` from string to planner; only
//! kline prices become `f64`, because they feed indicators only.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::client_order_id::ClientOrderId;
use crate::domain::intent::{Commission, Side};
use crate::domain::rules::{SymbolRules, parse_decimal};
use crate::domain::snapshot::Kline;
use crate::ports::{ApiRestrictions, OrderReport, OrderStatus};

/// `GET /api/v3/time`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerTime {
    pub server_time: i64,
}

/// `GET /api/v3/account` (only what we read).
#[derive(Debug, Deserialize)]
pub struct Account {
    pub balances: Vec<SpotBalance>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SpotBalance {
    pub asset: String,
    pub free: Decimal,
    pub locked: Decimal,
}

/// `GET /api/v3/avgPrice`.
#[derive(Debug, Deserialize)]
pub struct AvgPrice {
    pub price: Decimal,
}

/// `GET /api/v3/exchangeInfo` (only the symbols and their raw filters,
/// which [`SymbolRules::from_filters`] interprets).
#[derive(Debug, Deserialize)]
pub struct ExchangeInfo {
    pub symbols: Vec<SymbolInfo>,
}

#[derive(Debug, Deserialize)]
pub struct SymbolInfo {
    pub symbol: String,
    #[serde(default)]
    pub filters: Vec<Value>,
}

impl ExchangeInfo {
    /// Rules by symbol; a malformed filter is an error naming the symbol.
    pub fn rules(&self) -> Result<BTreeMap<String, SymbolRules>, String> {
        self.symbols
            .iter()
            .map(|s| {
                SymbolRules::from_filters(&s.filters)
                    .map(|r| (s.symbol.clone(), r))
                    .map_err(|e| format!("{}: {e}", s.symbol))
            })
            .collect()
    }
}

/// One row of `GET /api/v3/klines`: `[openTime, "open", "high", "low",
/// "close", "volume", closeTime, ...]`.
pub fn parse_kline(row: &[Value]) -> Result<Kline, String> {
    let open_time = row.first().and_then(Value::as_i64).ok_or("kline without an integer open time")?;
    let num = |i: usize, name: &str| -> Result<f64, String> {
        let v = row.get(i).ok_or_else(|| format!("kline {open_time} has no {name}"))?;
        let parsed = match v {
            Value::String(s) => s.trim().parse::<f64>().ok(),
            Value::Number(n) => n.as_f64(),
            _ => None,
        };
        parsed.ok_or_else(|| format!("kline {open_time}: {name} is not a number: {v}"))
    };
    Ok(Kline {
        open_time,
        open: num(1, "open")?,
        high: num(2, "high")?,
        low: num(3, "low")?,
        close: num(4, "close")?,
        volume: num(5, "volume")?,
    })
}

pub fn parse_klines(rows: &[Vec<Value>]) -> Result<Vec<Kline>, String> {
    rows.iter().map(|r| parse_kline(r)).collect()
}

/// `POST /api/v3/order` (FULL) and `GET /api/v3/order`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub symbol: String,
    pub order_id: i64,
    /// Validated as it is read: Binance applies the same rule.
    pub client_order_id: ClientOrderId,
    pub status: OrderStatus,
    pub executed_qty: Decimal,
    pub cummulative_quote_qty: Decimal,
    /// Present in the FULL response only.
    #[serde(default)]
    pub fills: Vec<OrderFill>,
    #[serde(default)]
    pub side: Option<Side>,
    /// Creation time in ms: `time` in a lookup, `transactTime` when placed.
    #[serde(default, alias = "transactTime")]
    pub time: Option<i64>,
}

/// A fill of the FULL answer, or a row of `GET /api/v3/myTrades` (which
/// names the commission the same way): only the fee is read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFill {
    pub commission: Decimal,
    pub commission_asset: String,
}

/// Commissions summed per asset, in the order the assets first appear;
/// zero totals (e.g. a promotion) are left out.
pub fn sum_commissions(fills: &[OrderFill]) -> Vec<Commission> {
    let mut commissions: Vec<Commission> = Vec::new();
    for fill in fills {
        match commissions.iter_mut().find(|c| c.asset == fill.commission_asset) {
            Some(c) => c.amount += fill.commission,
            None => commissions.push(Commission { asset: fill.commission_asset.clone(), amount: fill.commission }),
        }
    }
    commissions.retain(|c| !c.amount.is_zero());
    for c in &mut commissions {
        c.amount = c.amount.normalize();
    }
    commissions
}

impl Order {
    /// The crate's report, commissions summed by [`sum_commissions`].
    pub fn into_report(self) -> OrderReport {
        let commissions = sum_commissions(&self.fills);
        OrderReport {
            symbol: self.symbol,
            client_order_id: self.client_order_id,
            order_id: self.order_id,
            status: self.status,
            executed_qty: self.executed_qty,
            cummulative_quote_qty: self.cummulative_quote_qty,
            commissions,
            side: self.side,
            time: self.time.and_then(chrono::DateTime::from_timestamp_millis),
        }
    }
}

/// Simple Earn's paged answers: `{"rows": [...], "total": n}`.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub rows: Vec<T>,
    #[serde(default)]
    pub total: u64,
}

/// A row of `GET /sapi/v1/simple-earn/flexible/list`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EarnProduct {
    pub asset: String,
    pub product_id: String,
}

/// A row of `GET /sapi/v1/simple-earn/flexible/position`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EarnPosition {
    pub asset: String,
    pub product_id: String,
    #[serde(deserialize_with = "decimal_any")]
    pub total_amount: Decimal,
}

/// Subscribe (`purchaseId`) and redeem (`redeemId`) both answer `success`.
#[derive(Debug, Deserialize)]
pub struct EarnAck {
    pub success: bool,
}

/// `GET /sapi/v1/account/apiRestrictions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restrictions {
    #[serde(default)]
    pub enable_reading: bool,
    #[serde(default)]
    pub enable_spot_and_margin_trading: bool,
    /// No default: a missing field must not read as "cannot withdraw".
    #[serde(default)]
    pub enable_withdrawals: Option<bool>,
    #[serde(default)]
    pub ip_restrict: bool,
}

impl From<Restrictions> for ApiRestrictions {
    fn from(r: Restrictions) -> Self {
        ApiRestrictions {
            enable_reading: r.enable_reading,
            enable_spot_and_margin_trading: r.enable_spot_and_margin_trading,
            enable_withdrawals: r.enable_withdrawals,
            ip_restrict: r.ip_restrict,
        }
    }
}

/// Earn amounts are strings on Binance; accept numbers too, since SAPI
/// responses are less consistent than `/api`.
fn decimal_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let v = Value::deserialize(d)?;
    parse_decimal(&v).ok_or_else(|| serde::de::Error::custom(format!("not a decimal: {v}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_exchange_info_filters() {
        let text = r#"{
          "timezone": "UTC", "serverTime": 1767225600000,
          "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
          "exchangeFilters": [],
          "symbols": [{
            "symbol": "ETHUSDT", "status": "TRADING", "baseAsset": "ETH", "baseAssetPrecision": 8,
            "quoteAsset": "USDT", "quotePrecision": 8, "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": true, "permissionSets": [["SPOT"]],
            "filters": [
              {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
              {"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "9000.00000000", "stepSize": "0.00010000"},
              {"filterType": "ICEBERG_PARTS", "limit": 10},
              {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "1541.24000000", "stepSize": "0.00000000"},
              {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5},
              {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200}
            ]
          }, {
            "symbol": "OLDUSDT", "status": "TRADING",
            "filters": [
              {"filterType": "LOT_SIZE", "minQty": "1.00000000", "maxQty": "90000.00000000", "stepSize": "1.00000000"},
              {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": true, "avgPriceMins": 5}
            ]
          }]
        }"#;
        let info: ExchangeInfo = serde_json::from_str(text).unwrap();
        let rules = info.rules().unwrap();
        let eth = &rules["ETHUSDT"];
        assert_eq!(eth.lot.unwrap().step_size, dec!(0.0001));
        assert_eq!(eth.market_lot.unwrap().max_qty, dec!(1541.24));
        assert_eq!(eth.min_notional, Some(dec!(5)));
        assert_eq!(eth.max_notional, None, "applyMaxToMarket is false");
        assert_eq!(eth.tick_size, Some(dec!(0.01)));
        assert_eq!(rules["OLDUSDT"].min_notional, Some(dec!(10)));

        let bad: ExchangeInfo = serde_json::from_str(
            r#"{"symbols":[{"symbol":"XUSDT","filters":[{"filterType":"LOT_SIZE","stepSize":"abc"}]}]}"#,
        )
        .unwrap();
        assert!(bad.rules().unwrap_err().starts_with("XUSDT: LOT_SIZE.stepSize"));
    }

    #[test]
    fn parses_account_with_earn_assets() {
        let text = r#"{
          "makerCommission": 10, "takerCommission": 10, "canTrade": true, "canWithdraw": false,
          "accountType": "SPOT", "updateTime": 1767225600000, "permissions": ["SPOT"], "uid": 354937868,
          "balances": [
            {"asset": "BTC", "free": "0.01230000", "locked": "0.00000000"},
            {"asset": "USDT", "free": "512.33000000", "locked": "10.00000000"},
            {"asset": "LDUSDT", "free": "1500.12345678", "locked": "0.00000000"},
            {"asset": "LDO", "free": "42.00000000", "locked": "0.00000000"}
          ]
        }"#;
        let account: Account = serde_json::from_str(text).unwrap();
        assert_eq!(account.balances.len(), 4);
        assert_eq!(account.balances[1].locked, dec!(10));
        assert_eq!(account.balances[2].free, dec!(1500.12345678));
    }

    #[test]
    fn parses_klines() {
        let text = r#"[
          [1767139200000, "87000.01", "88500.00", "86400.10", "88123.45", "12345.678", 1767225599999, "1083000000.1", 1500000, "6000.1", "528000000.2", "0"],
          [1767225600000, "88123.45", "88200.00", "87900.00", "88000.00", "321.5", 1767311999999, "28300000.0", 40000, "160.0", "14100000.0", "0"]
        ]"#;
        let rows: Vec<Vec<Value>> = serde_json::from_str(text).unwrap();
        let klines = parse_klines(&rows).unwrap();
        assert_eq!(klines.len(), 2);
        assert_eq!(klines[0].open_time, 1767139200000);
        assert_eq!(klines[0].close, 88123.45);
        assert_eq!(klines[1].volume, 321.5);
        let broken: Vec<Vec<Value>> = serde_json::from_str(r#"[[1767139200000, "1", "2", "x", "4", "5"]]"#).unwrap();
        assert_eq!(parse_klines(&broken).unwrap_err(), "kline 1767139200000: low is not a number: \"x\"");
        let short: Vec<Vec<Value>> = serde_json::from_str(r#"[[1767139200000, "1", "2"]]"#).unwrap();
        assert!(parse_klines(&short).is_err());
    }

    #[test]
    fn parses_full_order_response_with_commissions() {
        let text = r#"{
          "symbol": "ETHUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "tc-26010112-tb-ETHUSDT",
          "transactTime": 1767268800000, "price": "0.00000000", "origQty": "0.05000000",
          "executedQty": "0.05000000", "origQuoteOrderQty": "150.00000000", "cummulativeQuoteQty": "149.87500000",
          "status": "FILLED", "timeInForce": "GTC", "type": "MARKET", "side": "BUY",
          "workingTime": 1767268800000, "selfTradePreventionMode": "EXPIRE_MAKER",
          "fills": [
            {"price": "2997.00", "qty": "0.03000000", "commission": "0.00003000", "commissionAsset": "ETH", "tradeId": 56},
            {"price": "2998.75", "qty": "0.02000000", "commission": "0.00002000", "commissionAsset": "ETH", "tradeId": 57},
            {"price": "2998.75", "qty": "0.00000000", "commission": "0.00000000", "commissionAsset": "BNB", "tradeId": 58}
          ]
        }"#;
        let order: Order = serde_json::from_str(text).unwrap();
        let report = order.into_report();
        assert_eq!(report.status, OrderStatus::Filled);
        assert_eq!(report.order_id, 28);
        assert_eq!(report.executed_qty, dec!(0.05));
        assert_eq!(report.cummulative_quote_qty, dec!(149.875));
        assert_eq!(report.commissions, vec![Commission { asset: "ETH".into(), amount: dec!(0.00005) }]);
    }

    #[test]
    fn parses_queried_order_without_fills() {
        let text = r#"{
          "symbol": "BTCUSDT", "orderId": 1, "orderListId": -1, "clientOrderId": "tc-26010112-db-BTCUSDT",
          "price": "0.00000000", "origQty": "0.00100000", "executedQty": "0.00060000",
          "cummulativeQuoteQty": "52.80000000", "status": "EXPIRED", "timeInForce": "GTC", "type": "MARKET",
          "side": "BUY", "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": 1767268800000,
          "updateTime": 1767268800000, "isWorking": true, "workingTime": 1767268800000,
          "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "NONE"
        }"#;
        let report = serde_json::from_str::<Order>(text).unwrap().into_report();
        assert_eq!(report.status, OrderStatus::Expired);
        assert_eq!(report.executed_qty, dec!(0.0006));
        assert!(report.commissions.is_empty());
    }

    #[test]
    fn sums_the_commissions_of_an_orders_trades() {
        let text = r#"[
          {"symbol": "BTCUSDT", "id": 28457, "orderId": 100234, "orderListId": -1, "price": "88000.00",
           "qty": "0.00012000", "quoteQty": "10.56000000", "commission": "0.00000012", "commissionAsset": "BTC",
           "time": 1767268800000, "isBuyer": true, "isMaker": false, "isBestMatch": true},
          {"symbol": "BTCUSDT", "id": 28458, "orderId": 100234, "orderListId": -1, "price": "88001.00",
           "qty": "0.00006000", "quoteQty": "5.28006000", "commission": "0.00000006", "commissionAsset": "BTC",
           "time": 1767268800000, "isBuyer": true, "isMaker": false, "isBestMatch": true},
          {"symbol": "BTCUSDT", "id": 28459, "orderId": 100234, "orderListId": -1, "price": "88001.00",
           "qty": "0.00001000", "quoteQty": "0.88001000", "commission": "0.00001100", "commissionAsset": "BNB",
           "time": 1767268800000, "isBuyer": true, "isMaker": false, "isBestMatch": true}
        ]"#;
        let trades: Vec<OrderFill> = serde_json::from_str(text).unwrap();
        assert_eq!(
            sum_commissions(&trades),
            vec![
                Commission { asset: "BTC".into(), amount: dec!(0.00000018) },
                Commission { asset: "BNB".into(), amount: dec!(0.000011) }
            ]
        );
        let none: Vec<OrderFill> = serde_json::from_str("[]").unwrap();
        assert!(sum_commissions(&none).is_empty());
    }

    #[test]
    fn parses_simple_earn_pages() {
        let list = r#"{"rows": [{
            "asset": "USDT", "latestAnnualPercentageRate": "0.05250000",
            "tierAnnualPercentageRate": {"0-500USDT": 0.02}, "airDropPercentageRate": "0",
            "canPurchase": true, "canRedeem": true, "isSoldOut": false, "hot": true,
            "minPurchaseAmount": "0.10000000", "productId": "USDT001", "subscriptionStartTime": 1646182276000,
            "status": "PURCHASING"}], "total": 1}"#;
        let page: Page<EarnProduct> = serde_json::from_str(list).unwrap();
        assert_eq!((page.total, page.rows[0].product_id.as_str()), (1, "USDT001"));
        let position = r#"{"rows": [{
            "totalAmount": "1500.12345678", "tierAnnualPercentageRate": {"0-5BTC": 0.05},
            "latestAnnualPercentageRate": "0.05250000", "yesterdayAirdropPercentageRate": "0",
            "asset": "USDT", "airDropAsset": "BETH", "canRedeem": true, "collateralAmount": "0",
            "productId": "USDT001", "yesterdayRealTimeRewards": "0.1", "cumulativeBonusRewards": "0",
            "cumulativeRealTimeRewards": "2.5", "cumulativeTotalRewards": "2.5", "autoSubscribe": false}],
            "total": 1}"#;
        let page: Page<EarnPosition> = serde_json::from_str(position).unwrap();
        assert_eq!(page.rows[0].total_amount, dec!(1500.12345678));
        let empty: Page<EarnPosition> = serde_json::from_str(r#"{"rows": [], "total": 0}"#).unwrap();
        assert!(empty.rows.is_empty());
        let ack: EarnAck = serde_json::from_str(r#"{"redeemId": 40607, "success": true}"#).unwrap();
        assert!(ack.success);
    }

    #[test]
    fn parses_api_restrictions() {
        let text = r#"{"ipRestrict": true, "createTime": 1698645219000, "enableReading": true,
            "enableWithdrawals": false, "enableInternalTransfer": false, "enableMargin": false,
            "enableFutures": false, "permitsUniversalTransfer": false, "enableVanillaOptions": false,
            "enableFixApiTrade": false, "enableFixReadOnly": true, "enableSpotAndMarginTrading": true,
            "enablePortfolioMarginTrading": false}"#;
        let r: ApiRestrictions = serde_json::from_str::<Restrictions>(text).unwrap().into();
        assert!(
            r.enable_reading
                && r.enable_spot_and_margin_trading
                && r.ip_restrict
                && r.enable_withdrawals == Some(false)
        );
        let silent: ApiRestrictions =
            serde_json::from_str::<Restrictions>(r#"{"enableReading": true}"#).unwrap().into();
        assert_eq!(silent.enable_withdrawals, None);
        assert!(silent.may_withdraw(), "an answer without enableWithdrawals fails closed");
    }
}
