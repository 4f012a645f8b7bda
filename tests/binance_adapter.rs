//! The Binance adapter against small purpose-built servers on 127.0.0.1:
//! each test scripts the answers it needs (429, 418, 5xx, timeouts, -1021,
//! -2010, -2015, ...) and checks what the adapter sent and how it classified
//! the outcome. The server verifies every signature and timestamp the way
//! Binance does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sha2::Sha256;

use tradecycle::adapters::binance::{BinanceClient, BinanceConfig};
use tradecycle::domain::intent::{Commission, Side};
use tradecycle::domain::snapshot::Series;
use tradecycle::ports::{Exchange, MarketRequest, OrderRequest, OrderStatus, PortError};
use tradecycle::secret::Secret;

const KEY: &str = "test-api-key-AbCdEf0123456789";
const SECRET: &str = "test-api-secret-ZyXwVu9876543210";
const DAY_MS: i64 = 86_400_000;

// ----- the fake server ----------------------------------------------------

/// What the server answers instead of its default, once per entry.
#[derive(Clone)]
enum Scripted {
    Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Never answers within any sane client timeout.
    Hang,
}

fn binance_error(status: u16, code: i64, msg: &str) -> Scripted {
    Scripted::Reply { status, headers: vec![], body: json!({"code": code, "msg": msg}).to_string() }
}

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    params: BTreeMap<String, String>,
}

struct Fake {
    latency: Duration,
    /// Server clock minus the real clock.
    skew_ms: AtomicI64,
    weight: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    seen: Mutex<Vec<Seen>>,
    script: Mutex<HashMap<(Method, String), VecDeque<Scripted>>>,
    balances: Vec<(&'static str, &'static str, &'static str)>,
    positions: Vec<Value>,
    products: Vec<Value>,
    unknown_symbols: Vec<&'static str>,
}

impl Fake {
    fn new() -> Self {
        Fake {
            latency: Duration::ZERO,
            skew_ms: AtomicI64::new(0),
            weight: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
            script: Mutex::new(HashMap::new()),
            balances: vec![
                ("USDT", "512.33000000", "10.00000000"),
                ("LDUSDT", "1500.12345678", "0.00000000"),
                ("BTC", "0.01230000", "0.00000000"),
                ("LDO", "42.00000000", "0.00000000"),
                ("BNB", "0.50000000", "0.00000000"),
            ],
            positions: vec![json!({
                "totalAmount": "1500.12345678", "asset": "USDT", "productId": "USDT001", "canRedeem": true,
                "collateralAmount": "0", "latestAnnualPercentageRate": "0.0525", "autoSubscribe": false
            })],
            products: vec![
                json!({"asset": "USDT", "productId": "USDT001", "canPurchase": true, "canRedeem": true, "status": "PURCHASING", "minPurchaseAmount": "0.1"}),
                json!({"asset": "BNB", "productId": "BNB001", "canPurchase": true, "canRedeem": true, "status": "PURCHASING", "minPurchaseAmount": "0.001"}),
                json!({"asset": "LDO", "productId": "LDO001", "canPurchase": true, "canRedeem": true, "status": "PURCHASING", "minPurchaseAmount": "1"}),
            ],
            unknown_symbols: vec![],
        }
    }

    fn push(&self, method: Method, path: &str, reply: Scripted) {
        self.script.lock().unwrap().entry((method, path.to_string())).or_default().push_back(reply);
    }

    fn seen(&self, method: Method, path: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.method == method && s.path == path).cloned().collect()
    }

    fn total_seen(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn server_now(&self) -> i64 {
        now_ms() + self.skew_ms.load(Ordering::SeqCst)
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn parse_query(raw: &str) -> BTreeMap<String, String> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn hmac_hex(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn reply(status: u16, weight: u64, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-mbx-used-weight-1m", weight.to_string())
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Binance's signed-endpoint checks: key header, HMAC over the raw query
/// string as received, timestamp within recvWindow of the server clock.
fn check_signed(fake: &Fake, raw: &str, headers: &HeaderMap, params: &BTreeMap<String, String>) -> Option<Value> {
    if headers.get("x-mbx-apikey").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return Some(json!({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}));
    }
    let Some((payload, signature)) = raw.rsplit_once("&signature=") else {
        return Some(
            json!({"code": -1102, "msg": "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."}),
        );
    };
    if hmac_hex(SECRET, payload) != signature {
        return Some(json!({"code": -1022, "msg": "Signature for this request is not valid."}));
    }
    let timestamp: i64 = params.get("timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
    let window: i64 = params.get("recvWindow").and_then(|t| t.parse().ok()).unwrap_or(5000);
    let server = fake.server_now();
    if timestamp >= server + 1000 || server - timestamp > window {
        return Some(json!({"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}));
    }
    None
}

async fn handle(State(fake): State<Arc<Fake>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let now = fake.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    fake.peak_in_flight.fetch_max(now, Ordering::SeqCst);
    let response = answer(&fake, method, uri, headers).await;
    fake.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn answer(fake: &Fake, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let raw = uri.query().unwrap_or("").to_string();
    let path = uri.path().to_string();
    let params = parse_query(&raw);
    fake.seen.lock().unwrap().push(Seen { method: method.clone(), path: path.clone(), params: params.clone() });
    if !fake.latency.is_zero() {
        tokio::time::sleep(fake.latency).await;
    }
    let weight = fake.weight.fetch_add(5, Ordering::SeqCst) + 5;
    let signed = params.contains_key("signature")
        || path.starts_with("/sapi/")
        || path == "/api/v3/account"
        || path == "/api/v3/order";
    if signed && let Some(error) = check_signed(fake, &raw, &headers, &params) {
        let status = if error["code"] == -2015 { 401 } else { 400 };
        return reply(status, weight, error);
    }
    let scripted = fake.script.lock().unwrap().get_mut(&(method.clone(), path.clone())).and_then(VecDeque::pop_front);
    match scripted {
        Some(Scripted::Hang) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return reply(200, weight, json!({}));
        }
        Some(Scripted::Reply { status, headers, body }) => {
            let mut builder = Response::builder().status(status).header("x-mbx-used-weight-1m", weight.to_string());
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            return builder.body(Body::from(body)).unwrap();
        }
        None => {}
    }
    let symbol = params.get("symbol").cloned().unwrap_or_default();
    let unknown = |s: &str| fake.unknown_symbols.contains(&s);
    let invalid = json!({"code": -1121, "msg": "Invalid symbol."});
    match (method.as_str(), path.as_str()) {
        ("GET", "/api/v3/ping") => reply(200, weight, json!({})),
        ("GET", "/api/v3/time") => reply(200, weight, json!({"serverTime": fake.server_now()})),
        ("GET", "/api/v3/exchangeInfo") => {
            let list: Vec<String> = match params.get("symbols") {
                Some(s) => serde_json::from_str(s).unwrap(),
                None => vec![symbol.clone()],
            };
            if list.iter().any(|s| unknown(s)) {
                return reply(400, weight, invalid);
            }
            let symbols: Vec<Value> = list
                .iter()
                .map(|s| {
                    json!({"symbol": s, "status": "TRADING", "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
                        {"filterType": "LOT_SIZE", "minQty": "0.0001", "maxQty": "9000", "stepSize": "0.0001"},
                        {"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": true, "maxNotional": "9000000", "applyMaxToMarket": false, "avgPriceMins": 5}
                    ]})
                })
                .collect();
            reply(
                200,
                weight,
                json!({"timezone": "UTC", "serverTime": fake.server_now(), "rateLimits": [], "exchangeFilters": [], "symbols": symbols}),
            )
        }
        ("GET", "/api/v3/avgPrice") if unknown(&symbol) => reply(400, weight, invalid),
        ("GET", "/api/v3/avgPrice") => {
            reply(200, weight, json!({"mins": 5, "price": "100.50000000", "closeTime": now_ms()}))
        }
        ("GET", "/api/v3/klines") if unknown(&symbol) => reply(400, weight, invalid),
        ("GET", "/api/v3/klines") => {
            let start: i64 = params["startTime"].parse().unwrap();
            let end: i64 = params["endTime"].parse().unwrap();
            let limit: usize = params["limit"].parse().unwrap();
            assert_eq!(params["interval"], "1d");
            assert!(limit <= 1000);
            let first = (start + DAY_MS - 1) / DAY_MS * DAY_MS;
            let rows: Vec<Value> = (0..)
                .map(|i| first + i * DAY_MS)
                .take_while(|t| *t <= end)
                .take(limit)
                .map(|t| {
                    json!([
                        t,
                        "100.0",
                        "110.0",
                        "90.0",
                        "105.0",
                        "1000.0",
                        t + DAY_MS - 1,
                        "105000.0",
                        10,
                        "500.0",
                        "52500.0",
                        "0"
                    ])
                })
                .collect();
            reply(200, weight, Value::Array(rows))
        }
        ("GET", "/api/v3/account") => {
            let balances: Vec<Value> =
                fake.balances.iter().map(|(a, f, l)| json!({"asset": a, "free": f, "locked": l})).collect();
            reply(
                200,
                weight,
                json!({"makerCommission": 10, "canTrade": true, "accountType": "SPOT", "balances": balances}),
            )
        }
        ("GET", "/sapi/v1/simple-earn/flexible/position") => {
            reply(200, weight, json!({"rows": fake.positions, "total": fake.positions.len()}))
        }
        ("GET", "/sapi/v1/simple-earn/flexible/list") => {
            let size: usize = params.get("size").and_then(|s| s.parse().ok()).unwrap_or(10);
            let current: usize = params.get("current").and_then(|s| s.parse().ok()).unwrap_or(1);
            let rows: Vec<Value> = fake.products.iter().skip((current - 1) * size).take(size).cloned().collect();
            reply(200, weight, json!({"rows": rows, "total": fake.products.len()}))
        }
        ("POST", "/sapi/v1/simple-earn/flexible/subscribe") => {
            reply(200, weight, json!({"purchaseId": 40607, "success": true}))
        }
        ("POST", "/sapi/v1/simple-earn/flexible/redeem") => {
            reply(200, weight, json!({"redeemId": 40608, "success": true}))
        }
        ("GET", "/sapi/v1/account/apiRestrictions") => reply(
            200,
            weight,
            json!({"ipRestrict": true, "createTime": 1698645219000u64, "enableReading": true, "enableWithdrawals": false,
                   "enableSpotAndMarginTrading": true, "enableMargin": false, "enableFutures": false}),
        ),
        ("POST", "/api/v3/order") => {
            assert_eq!(params["type"], "MARKET");
            assert_eq!(params["newOrderRespType"], "FULL");
            reply(
                200,
                weight,
                json!({
                    "symbol": symbol, "orderId": 28, "orderListId": -1, "clientOrderId": params["newClientOrderId"],
                    "transactTime": now_ms(), "price": "0.00000000", "origQty": "0.05000000", "executedQty": "0.05000000",
                    "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": "150.00000000", "status": "FILLED",
                    "timeInForce": "GTC", "type": "MARKET", "side": params["side"], "workingTime": now_ms(),
                    "selfTradePreventionMode": "EXPIRE_MAKER",
                    "fills": [
                        {"price": "3000.00", "qty": "0.03000000", "commission": "0.00003000", "commissionAsset": "ETH", "tradeId": 56},
                        {"price": "3000.00", "qty": "0.02000000", "commission": "0.00002000", "commissionAsset": "ETH", "tradeId": 57}
                    ]
                }),
            )
        }
        ("GET", "/api/v3/order") if params["origClientOrderId"] == "tc-known" => reply(
            200,
            weight,
            json!({
                "symbol": symbol, "orderId": 7, "orderListId": -1, "clientOrderId": "tc-known", "price": "0",
                "origQty": "1.00000000", "executedQty": "1.00000000", "cummulativeQuoteQty": "100.50000000",
                "status": "FILLED", "timeInForce": "GTC", "type": "MARKET", "side": "SELL", "time": now_ms(),
                "updateTime": now_ms(), "isWorking": true, "origQuoteOrderQty": "0"
            }),
        ),
        ("GET", "/api/v3/order") => reply(400, weight, json!({"code": -2013, "msg": "Order does not exist."})),
        // Order 7 (the SELL above) took two trades paid in USDT and one in BNB.
        ("GET", "/api/v3/myTrades") if params.get("orderId").map(String::as_str) == Some("7") => {
            let trade = |id: i64, qty: &str, commission: &str, asset: &str| {
                json!({
                    "symbol": symbol, "id": id, "orderId": 7, "orderListId": -1, "price": "100.50000000",
                    "qty": qty, "quoteQty": "0", "commission": commission, "commissionAsset": asset,
                    "time": now_ms(), "isBuyer": false, "isMaker": false, "isBestMatch": true
                })
            };
            reply(
                200,
                weight,
                json!([
                    trade(90, "0.60000000", "0.06030000", "USDT"),
                    trade(91, "0.30000000", "0.03015000", "USDT"),
                    trade(92, "0.10000000", "0.00001500", "BNB")
                ]),
            )
        }
        ("GET", "/api/v3/myTrades") => reply(200, weight, json!([])),
        _ => reply(404, weight, json!({"code": -1100, "msg": format!("no route {method} {path}")})),
    }
}

async fn serve(fake: Fake) -> (Arc<Fake>, SocketAddr) {
    let fake = Arc::new(fake);
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (fake, addr)
}

fn config(addr: SocketAddr) -> BinanceConfig {
    BinanceConfig {
        base_url: format!("http://{addr}"),
        api_key: Secret::new(KEY),
        api_secret: Secret::new(SECRET),
        timeout: Duration::from_secs(5),
        recv_window_ms: 5000,
        max_in_flight: 8,
        read_retries: 3,
        retry_base: Duration::from_millis(10),
        testnet: false,
    }
}

async fn start(fake: Fake) -> (Arc<Fake>, BinanceClient) {
    let (fake, addr) = serve(fake).await;
    (fake, BinanceClient::new(config(addr)).unwrap())
}

fn buy(client_order_id: &str) -> OrderRequest {
    OrderRequest {
        symbol: "ETHUSDT".into(),
        side: Side::Buy,
        quantity: None,
        quote_order_qty: Some(dec!(150)),
        client_order_id: client_order_id.parse().unwrap(),
    }
}

fn request(trend: &[&str]) -> MarketRequest {
    let mut symbols = vec!["BTCUSDT".to_string(), "BNBUSDT".to_string()];
    symbols.extend(trend.iter().map(|s| s.to_string()));
    let mut assets = vec!["USDT".to_string(), "BTC".to_string(), "BNB".to_string(), "LDO".to_string()];
    assets.extend(trend.iter().map(|s| s.trim_end_matches("USDT").to_string()));
    MarketRequest { assets, symbols, kline_symbols: trend.iter().map(|s| s.to_string()).collect() }
}

/// No error text may carry the key, the secret or a signature.
fn assert_clean(text: &str) {
    assert!(!text.contains(KEY), "api key leaked: {text}");
    assert!(!text.contains(SECRET), "api secret leaked: {text}");
    assert!(!text.contains("signature=") || text.contains("signature=***"), "signature leaked: {text}");
}

// ----- tests --------------------------------------------------------------

#[tokio::test]
async fn market_data_reads_balances_rules_prices_and_klines() {
    let (fake, client) = start(Fake::new()).await;
    let data = client.market_data(&request(&["ETHUSDT", "SOLUSDT"])).await.unwrap();

    assert_eq!(data.balances["USDT"].free, dec!(512.33));
    assert_eq!(data.balances["USDT"].locked, dec!(10));
    assert_eq!(data.balances["USDT"].earn, dec!(1500.12345678), "Earn from the position, LDUSDT not added");
    assert_eq!(data.balances["USDT"].total(), dec!(2022.45345678));
    assert_eq!(data.balances["LDO"].free, dec!(42), "LDO is a coin, not an Earn receipt");
    assert_eq!(data.balances["ETH"].total(), Decimal::ZERO);
    assert_eq!(data.earn_products.get("USDT").map(String::as_str), Some("USDT001"));
    assert_eq!(data.earn_products.get("BNB").map(String::as_str), Some("BNB001"));
    assert!(!data.earn_products.contains_key("ETH"));
    assert_eq!(data.prices["ETHUSDT"], dec!(100.5));
    assert_eq!(data.prices.len(), 4);
    assert_eq!(data.rules["SOLUSDT"].lot.unwrap().step_size, dec!(0.0001));
    assert_eq!(data.rules["BNBUSDT"].min_notional, Some(dec!(5)));
    let Series::Klines { btc, symbols } = &data.series else { panic!("klines expected") };
    assert_eq!(btc.len(), 700, "BTC: 700 days up to today's open candle");
    assert_eq!(symbols["ETHUSDT"].len(), 420);
    assert!(!symbols.contains_key("BTCUSDT") && !symbols.contains_key("BNBUSDT"));

    // exchangeInfo is batched into one request; Earn read whole, not per asset.
    let info = fake.seen(Method::GET, "/api/v3/exchangeInfo");
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].params["symbols"], r#"["BTCUSDT","BNBUSDT","ETHUSDT","SOLUSDT"]"#);
    assert_eq!(fake.seen(Method::GET, "/sapi/v1/simple-earn/flexible/position").len(), 1);
    assert_eq!(fake.seen(Method::GET, "/api/v3/time").len(), 1, "one time sync for all signed calls");
    let stats = client.stats();
    assert_eq!(stats.requests_sent as usize, fake.total_seen());
    assert_eq!(stats.retries, 0);
    assert!(stats.max_used_weight_1m >= 5 * stats.requests_sent, "{stats:?}");
}

#[tokio::test]
async fn earn_product_list_is_paged() {
    let mut fake = Fake::new();
    fake.products = (0..250)
        .map(|i| json!({"asset": format!("A{i}"), "productId": format!("A{i}001"), "canPurchase": true}))
        .chain([json!({"asset": "USDT", "productId": "USDT001"})])
        .collect();
    let (fake, client) = start(fake).await;
    let data = client.market_data(&request(&[])).await.unwrap();
    assert_eq!(data.earn_products.get("USDT").map(String::as_str), Some("USDT001"), "found on the last page");
    let pages: Vec<String> = fake
        .seen(Method::GET, "/sapi/v1/simple-earn/flexible/list")
        .iter()
        .map(|s| s.params["current"].clone())
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
}

#[tokio::test]
async fn market_data_is_concurrent() {
    let mut fake = Fake::new();
    fake.latency = Duration::from_millis(50);
    let (fake, client) = start(fake).await;
    let trend: Vec<String> = (0..20).map(|i| format!("C{i:02}USDT")).collect();
    let trend: Vec<&str> = trend.iter().map(String::as_str).collect();
    let started = Instant::now();
    let data = client.market_data(&request(&trend)).await.unwrap();
    let elapsed = started.elapsed();
    let requests = fake.total_seen();
    let peak = fake.peak_in_flight.load(Ordering::SeqCst);
    eprintln!("market_data: {requests} requests with 50 ms latency each took {elapsed:?}, at most {peak} in flight");
    assert_eq!(peak, 8, "fanned out, and bounded by max_in_flight");
    let Series::Klines { symbols, .. } = &data.series else { panic!() };
    assert_eq!(symbols.len(), 20);
    assert_eq!(data.prices.len(), 22);
    assert!(requests >= 47, "time + account + 2 Earn + exchangeInfo + 22 prices + 21 klines, got {requests}");
    // The peak in flight proves the fan-out; how fast that makes a cycle is
    // measured by `cargo bench --bench live_cycle`, not asserted here.
}

#[tokio::test]
async fn signatures_verify_and_a_wrong_secret_is_auth() {
    let (fake, addr) = serve(Fake::new()).await;
    let good = BinanceClient::new(config(addr)).unwrap();
    let report = good.place_order(&buy("tc-26010112-tb-ETHUSDT")).await.unwrap();
    let sent = &fake.seen(Method::POST, "/api/v3/order")[0];
    assert_eq!(sent.params["quoteOrderQty"], "150");
    assert_eq!(sent.params["recvWindow"], "5000");
    assert_eq!(sent.params["newClientOrderId"], "tc-26010112-tb-ETHUSDT");
    assert_eq!(report.status, OrderStatus::Filled);
    assert_eq!(report.client_order_id, "tc-26010112-tb-ETHUSDT");
    assert_eq!(report.cummulative_quote_qty, dec!(150));
    assert_eq!(report.commissions, vec![Commission { asset: "ETH".into(), amount: dec!(0.00005) }]);

    let mut wrong = config(addr);
    wrong.api_secret = Secret::new("not-the-secret-at-all");
    let err = BinanceClient::new(wrong).unwrap().place_order(&buy("tc-x")).await.unwrap_err();
    assert!(matches!(err, PortError::Auth(_)), "{err}");
    assert!(err.to_string().contains("-1022"), "{err}");
}

#[tokio::test]
async fn rate_limited_read_waits_for_retry_after() {
    let fake = Fake::new();
    fake.push(
        Method::GET,
        "/api/v3/account",
        Scripted::Reply {
            status: 429,
            headers: vec![("retry-after", "1".into())],
            body: json!({"code": -1003, "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}).to_string(),
        },
    );
    let (fake, client) = start(fake).await;
    let started = Instant::now();
    assert_eq!(client.spot_free("USDT").await.unwrap(), dec!(512.33));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 honoured, not retry_base (10 ms)");
    assert_eq!(fake.seen(Method::GET, "/api/v3/account").len(), 2);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn ban_stops_without_retrying() {
    let fake = Fake::new();
    fake.push(
        Method::GET,
        "/api/v3/account",
        Scripted::Reply {
            status: 418,
            headers: vec![("retry-after", "120".into())],
            body: json!({"code": -1003, "msg": "Way too much request weight used; IP banned until 1767229200000."})
                .to_string(),
        },
    );
    let (fake, client) = start(fake).await;
    let err = client.spot_free("USDT").await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err}");
    assert!(err.to_string().contains("HTTP 418"), "{err}");
    assert_eq!(fake.seen(Method::GET, "/api/v3/account").len(), 1, "a ban is never retried");
    let before = fake.total_seen();
    let again = client.market_data(&request(&["ETHUSDT"])).await.unwrap_err();
    assert!(matches!(again, PortError::Retryable(_)), "{again}");
    assert_eq!(fake.total_seen(), before, "nothing more is sent while banned");
}

#[tokio::test]
async fn server_error_on_read_is_retried_then_gives_up() {
    let fake = Fake::new();
    for _ in 0..10 {
        fake.push(
            Method::GET,
            "/api/v3/avgPrice",
            Scripted::Reply { status: 503, headers: vec![], body: "Service Unavailable".into() },
        );
    }
    let (fake, client) = start(fake).await;
    let err = client.market_data(&request(&[])).await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "a read has no outcome to doubt: {err}");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    // 1 try + 3 retries for the first symbol whose retries ran out.
    assert!(fake.seen(Method::GET, "/api/v3/avgPrice").len() >= 4);
}

#[tokio::test]
async fn server_error_on_order_is_ambiguous_and_sent_once() {
    let fake = Fake::new();
    fake.push(Method::POST, "/api/v3/order", Scripted::Reply { status: 500, headers: vec![], body: String::new() });
    let (fake, client) = start(fake).await;
    let err = client.place_order(&buy("tc-26010112-tb-ETHUSDT")).await.unwrap_err();
    assert!(matches!(err, PortError::Ambiguous(_)), "{err}");
    assert_eq!(fake.seen(Method::POST, "/api/v3/order").len(), 1, "order POSTs are never retried");
}

#[tokio::test]
async fn unknown_execution_codes_are_ambiguous() {
    let fake = Fake::new();
    fake.push(
        Method::POST,
        "/api/v3/order",
        binance_error(
            400,
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        ),
    );
    let (fake, client) = start(fake).await;
    let err = client.place_order(&buy("tc-a")).await.unwrap_err();
    assert!(matches!(err, PortError::Ambiguous(_)), "{err}");
    assert!(err.to_string().contains("-1007"), "{err}");
    assert_eq!(fake.seen(Method::POST, "/api/v3/order").len(), 1);
}

#[tokio::test]
async fn timeout_on_order_is_ambiguous() {
    let fake = Fake::new();
    fake.push(Method::POST, "/api/v3/order", Scripted::Hang);
    let (fake, addr) = serve(fake).await;
    let mut cfg = config(addr);
    cfg.timeout = Duration::from_millis(300);
    let client = BinanceClient::new(cfg).unwrap();
    let started = Instant::now();
    let err = client.place_order(&buy("tc-26010112-tb-ETHUSDT")).await.unwrap_err();
    assert!(matches!(err, PortError::Ambiguous(_)), "{err}");
    eprintln!("{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(fake.seen(Method::POST, "/api/v3/order").len(), 1);
    assert_clean(&err.to_string());
}

#[tokio::test]
async fn earn_writes_are_sent_once_with_the_right_parameters() {
    let fake = Fake::new();
    fake.push(
        Method::POST,
        "/sapi/v1/simple-earn/flexible/redeem",
        Scripted::Reply { status: 502, headers: vec![], body: String::new() },
    );
    let (fake, client) = start(fake).await;
    client.earn_subscribe("USDT001", dec!(250.50)).await.unwrap();
    let sub = &fake.seen(Method::POST, "/sapi/v1/simple-earn/flexible/subscribe")[0];
    assert_eq!(sub.params["productId"], "USDT001");
    assert_eq!(sub.params["amount"], "250.5");
    assert_eq!(sub.params["autoSubscribe"], "false");

    let err = client.earn_redeem("USDT001", dec!(100)).await.unwrap_err();
    assert!(matches!(err, PortError::Ambiguous(_)), "{err}");
    let redeems = fake.seen(Method::POST, "/sapi/v1/simple-earn/flexible/redeem");
    assert_eq!(redeems.len(), 1, "Earn POSTs are never retried");
    assert_eq!(redeems[0].params["destAccount"], "SPOT");
    client.earn_redeem("USDT001", dec!(100)).await.unwrap();
}

#[tokio::test]
async fn timestamp_rejection_resyncs_once_and_succeeds() {
    let fake = Fake::new();
    fake.push(
        Method::POST,
        "/api/v3/order",
        binance_error(400, -1021, "Timestamp for this request is outside of the recvWindow."),
    );
    let (fake, client) = start(fake).await;
    let report = client.place_order(&buy("tc-26010112-tb-ETHUSDT")).await.unwrap();
    assert_eq!(report.status, OrderStatus::Filled);
    assert_eq!(fake.seen(Method::GET, "/api/v3/time").len(), 2, "first sync, then one resync");
    assert_eq!(fake.seen(Method::POST, "/api/v3/order").len(), 2, "resent once after -1021");
    assert_eq!(client.stats().time_syncs, 2);
}

#[tokio::test]
async fn server_clock_is_followed_when_it_moves() {
    let fake = Fake::new();
    fake.skew_ms.store(30_000, Ordering::SeqCst);
    let (fake, client) = start(fake).await;
    // 30 s apart: only works because the offset is measured and applied.
    let skew = client.server_time_skew_ms().await.unwrap();
    assert!((29_000..=31_000).contains(&skew), "{skew}");
    assert_eq!(client.spot_free("BTC").await.unwrap(), dec!(0.0123));
    // The server clock jumps 70 s back: the next signed call is refused
    // with -1021, measured again and resent.
    fake.skew_ms.store(-40_000, Ordering::SeqCst);
    assert_eq!(client.spot_free("BTC").await.unwrap(), dec!(0.0123));
    assert_eq!(fake.seen(Method::GET, "/api/v3/time").len(), 2);
    assert_eq!(fake.seen(Method::GET, "/api/v3/account").len(), 3);

    // A clock that keeps moving is refused after the single resync.
    let persistent = Fake::new();
    for _ in 0..3 {
        persistent.push(
            Method::POST,
            "/api/v3/order",
            binance_error(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."),
        );
    }
    let (persistent, client) = start(persistent).await;
    let err = client.place_order(&buy("tc-b")).await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err}");
    assert!(err.to_string().contains("-1021"), "{err}");
    assert_eq!(persistent.seen(Method::POST, "/api/v3/order").len(), 2);
}

#[tokio::test]
async fn insufficient_balance_is_definitive() {
    let fake = Fake::new();
    fake.push(
        Method::POST,
        "/api/v3/order",
        binance_error(400, -2010, "Account has insufficient balance for requested action."),
    );
    let (fake, client) = start(fake).await;
    let err = client.place_order(&buy("tc-c")).await.unwrap_err();
    assert!(matches!(err, PortError::Definitive(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("-2010") && text.contains("Account has insufficient balance"), "{text}");
    assert_eq!(fake.seen(Method::POST, "/api/v3/order").len(), 1);
}

#[tokio::test]
async fn rejected_key_is_auth() {
    let fake = Fake::new();
    fake.push(
        Method::GET,
        "/sapi/v1/account/apiRestrictions",
        binance_error(401, -2015, "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1"),
    );
    let (fake, client) = start(fake).await;
    let err = client.api_restrictions().await.unwrap_err();
    assert!(matches!(err, PortError::Auth(_)), "{err}");
    assert!(err.to_string().contains("-2015"), "{err}");
    assert_eq!(fake.seen(Method::GET, "/sapi/v1/account/apiRestrictions").len(), 1, "auth failures are not retried");
    let ok = client.api_restrictions().await.unwrap();
    assert!(
        ok.enable_reading
            && ok.enable_spot_and_margin_trading
            && ok.ip_restrict
            && ok.enable_withdrawals == Some(false)
    );

    let (_, addr) = serve(Fake::new()).await;
    let mut no_keys = config(addr);
    no_keys.api_key = Secret::default();
    let err = BinanceClient::new(no_keys).unwrap().api_restrictions().await.unwrap_err();
    assert!(matches!(err, PortError::Auth(_)), "missing credentials: {err}");
}

#[tokio::test]
async fn order_lookup_by_client_id() {
    let (fake, client) = start(Fake::new()).await;
    assert_eq!(client.query_order("ETHUSDT", "tc-unknown").await.unwrap(), None, "-2013 means not known");
    let found = client.query_order("BTCUSDT", "tc-known").await.unwrap().unwrap();
    assert_eq!((found.status, found.executed_qty, found.order_id), (OrderStatus::Filled, dec!(1), 7));
    let lookups = fake.seen(Method::GET, "/api/v3/order");
    assert_eq!(lookups[0].params["origClientOrderId"], "tc-unknown");
    assert_eq!(lookups[1].params["symbol"], "BTCUSDT");
}

#[tokio::test]
async fn order_commissions_are_read_from_the_orders_trades() {
    let (fake, client) = start(Fake::new()).await;
    let fees = client.order_commissions("BTCUSDT", 7).await.unwrap();
    assert_eq!(
        fees,
        vec![
            Commission { asset: "USDT".into(), amount: dec!(0.09045) },
            Commission { asset: "BNB".into(), amount: dec!(0.000015) }
        ]
    );
    let asked = fake.seen(Method::GET, "/api/v3/myTrades");
    assert_eq!((asked[0].params["symbol"].as_str(), asked[0].params["orderId"].as_str()), ("BTCUSDT", "7"));
    assert!(asked[0].params.contains_key("signature"), "a signed USER_DATA call");
    assert_eq!(client.order_commissions("BTCUSDT", 8).await.unwrap(), vec![], "an order without trades");
    fake.push(Method::GET, "/api/v3/myTrades", binance_error(400, -1121, "Invalid symbol."));
    assert!(matches!(client.order_commissions("GONEUSDT", 7).await, Err(PortError::Definitive(_))));
}

#[tokio::test]
async fn unknown_symbol_is_left_out_of_the_snapshot() {
    let mut fake = Fake::new();
    fake.unknown_symbols = vec!["GONEUSDT"];
    let (fake, client) = start(fake).await;
    let data = client.market_data(&request(&["ETHUSDT", "GONEUSDT"])).await.unwrap();
    assert!(data.rules.contains_key("ETHUSDT") && !data.rules.contains_key("GONEUSDT"));
    assert!(data.prices.contains_key("ETHUSDT") && !data.prices.contains_key("GONEUSDT"));
    let Series::Klines { symbols, .. } = &data.series else { panic!() };
    assert!(symbols.contains_key("ETHUSDT") && !symbols.contains_key("GONEUSDT"));
    // The batch failed, then each symbol was read alone.
    assert_eq!(fake.seen(Method::GET, "/api/v3/exchangeInfo").len(), 1 + 4);
}

#[tokio::test]
async fn ping_time_and_weight() {
    let fake = Fake::new();
    fake.push(
        Method::GET,
        "/sapi/v1/account/apiRestrictions",
        Scripted::Reply {
            status: 200,
            headers: vec![("x-sapi-used-ip-weight-1m", "151".into())],
            body: json!({"enableReading": true}).to_string(),
        },
    );
    let (fake, client) = start(fake).await;
    client.ping().await.unwrap();
    let skew = client.server_time_skew_ms().await.unwrap();
    assert!(skew.abs() < 1000, "{skew}");
    let stats = client.stats();
    assert_eq!(stats.requests_sent, 2);
    assert_eq!(stats.used_weight_1m, 10, "from X-MBX-USED-WEIGHT-1M");
    assert_eq!(stats.max_used_weight_1m, 10);
    assert!(client.api_restrictions().await.unwrap().enable_reading);
    let stats = client.stats();
    assert_eq!((stats.sapi_used_ip_weight_1m, stats.max_sapi_used_ip_weight_1m), (151, 151));
    assert_eq!(fake.total_seen(), 3);
}

#[tokio::test]
async fn secrets_never_appear_in_errors() {
    let fake = Fake::new();
    // A hostile or buggy server that echoes everything it got.
    let echo =
        format!("bad request; key={KEY} secret={SECRET} url=http://127.0.0.1/api/v3/order?symbol=X&signature=0123abcd");
    fake.push(Method::POST, "/api/v3/order", binance_error(400, -1100, &echo));
    fake.push(Method::GET, "/api/v3/account", Scripted::Reply { status: 400, headers: vec![], body: echo.clone() });
    fake.push(Method::GET, "/api/v3/account", binance_error(401, -2015, &echo));
    let (_fake, addr) = serve(fake).await;
    let client = BinanceClient::new(config(addr)).unwrap();
    let mut errors = vec![
        client.place_order(&buy("tc-d")).await.unwrap_err(),
        client.spot_free("USDT").await.unwrap_err(),
        client.spot_free("USDT").await.unwrap_err(),
    ];

    // Connection refused: reqwest's own error text names the URL.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let mut cfg = config(closed_addr);
    cfg.read_retries = 0;
    let offline = BinanceClient::new(cfg).unwrap();
    errors.push(offline.place_order(&buy("tc-e")).await.unwrap_err());
    errors.push(offline.market_data(&request(&["ETHUSDT"])).await.unwrap_err());

    for err in &errors {
        eprintln!("{err}");
        let text = format!("{err} {err:?}");
        assert_clean(&text);
    }
    assert!(errors[0].to_string().contains("-1100"), "{}", errors[0]);
    assert!(errors[0].to_string().contains("key=***"), "{}", errors[0]);
    assert!(matches!(errors[3], PortError::Retryable(_)), "refused connection sent nothing: {}", errors[3]);
    assert!(format!("{:?}", config(closed_addr)).contains("Secret(***)"));
}

/// A bare HTTP/1.1 server that can read a request and then hang up
/// without answering, as a reset connection looks to the client.
/// `answer(method, path, nth)` gives the JSON body, or `None` to hang up.
async fn raw_server(answer: fn(&str, &str, usize) -> Option<String>) -> (Arc<Mutex<Vec<String>>>, SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).to_string();
            let mut line = text.lines().next().unwrap_or("").split(' ');
            let method = line.next().unwrap_or("").to_string();
            let path = line.next().unwrap_or("").split('?').next().unwrap_or("").to_string();
            let nth = {
                let mut log = seen.lock().unwrap();
                log.push(format!("{method} {path}"));
                log.iter().filter(|l| **l == format!("{method} {path}")).count()
            };
            match answer(&method, &path, nth) {
                Some(body) => {
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                }
                None => drop(socket),
            }
        }
    });
    (log, addr)
}

#[tokio::test]
async fn connection_lost_after_sending_is_ambiguous_for_orders_and_retried_for_reads() {
    let (log, addr) = raw_server(|method, path, nth| match (method, path, nth) {
        ("GET", "/api/v3/time", _) => Some(json!({"serverTime": now_ms()}).to_string()),
        ("GET", "/api/v3/account", 1) | ("POST", "/api/v3/order", _) => None,
        ("GET", "/api/v3/account", _) => {
            Some(json!({"balances": [{"asset": "USDT", "free": "12.5", "locked": "0"}]}).to_string())
        }
        _ => None,
    })
    .await;
    let client = BinanceClient::new(config(addr)).unwrap();
    let err = client.place_order(&buy("tc-26010112-tb-ETHUSDT")).await.unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, PortError::Ambiguous(_)), "the order may have arrived: {err}");
    assert_clean(&err.to_string());
    assert_eq!(client.spot_free("USDT").await.unwrap(), dec!(12.5), "a read is simply sent again");
    let log = log.lock().unwrap().clone();
    assert_eq!(log.iter().filter(|l| *l == "POST /api/v3/order").count(), 1, "{log:?}");
    assert_eq!(log.iter().filter(|l| *l == "GET /api/v3/account").count(), 2, "{log:?}");
}

#[tokio::test]
async fn long_retry_after_fails_fast_and_holds_later_requests() {
    let fake = Fake::new();
    fake.push(
        Method::GET,
        "/api/v3/account",
        Scripted::Reply {
            status: 429,
            headers: vec![("retry-after", "120".into())],
            body: json!({"code": -1003, "msg": "Too much request weight used."}).to_string(),
        },
    );
    let (fake, client) = start(fake).await;
    let started = Instant::now();
    let err = client.spot_free("USDT").await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err}");
    assert!(err.to_string().contains("retry after 120 s"), "{err}");
    let before = fake.total_seen();
    let held = client.place_order(&buy("tc-f")).await.unwrap_err();
    assert!(matches!(held, PortError::Retryable(_)), "not sent, so not ambiguous: {held}");
    assert_eq!(fake.total_seen(), before, "nothing is sent during a long pause");
    assert!(started.elapsed() < Duration::from_secs(5), "no two-minute sleep inside a cycle");
}

#[tokio::test]
async fn retry_after_at_the_integer_limit_pauses_without_panicking() {
    // A proxy in front of Binance may send any integer; u64::MAX seconds
    // once overflowed the Instant the pause is kept in.
    let fake = Fake::new();
    fake.push(
        Method::GET,
        "/api/v3/account",
        Scripted::Reply {
            status: 429,
            headers: vec![("retry-after", u64::MAX.to_string())],
            body: json!({"code": -1003, "msg": "Too much request weight used."}).to_string(),
        },
    );
    let (fake, client) = start(fake).await;
    let err = client.spot_free("USDT").await.unwrap_err();
    assert!(matches!(err, PortError::Retryable(_)), "{err}");
    assert!(err.to_string().contains("retry after 86400 s"), "capped at a day: {err}");
    let before = fake.total_seen();
    let held = client.spot_free("USDT").await.unwrap_err();
    assert!(held.to_string().contains("not sent, rate limited for another"), "{held}");
    assert_eq!(fake.total_seen(), before, "the pause holds later requests");
}

#[tokio::test]
async fn unreadable_success_is_ambiguous_for_orders() {
    let fake = Fake::new();
    let garbled = Scripted::Reply { status: 200, headers: vec![], body: "<html>proxy says hi</html>".into() };
    fake.push(Method::POST, "/api/v3/order", garbled.clone());
    fake.push(Method::GET, "/api/v3/account", garbled);
    let (fake, client) = start(fake).await;
    let err = client.place_order(&buy("tc-g")).await.unwrap_err();
    assert!(matches!(err, PortError::Ambiguous(_)), "HTTP 200: it ran, details lost: {err}");
    assert_eq!(fake.seen(Method::POST, "/api/v3/order").len(), 1);
    assert_eq!(client.spot_free("USDT").await.unwrap(), dec!(512.33), "a read is asked again");
    assert_eq!(fake.seen(Method::GET, "/api/v3/account").len(), 2);
}
