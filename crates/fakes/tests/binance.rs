//! The fake Binance driven over real HTTP on 127.0.0.1, with a tiny
//! signing client written here (independently of the fake's own HMAC
//! code), asserting exact Decimal balances, Binance error codes and the
//! weight headers.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sha2::Sha256;
use tradecycle_fakes::binance::{
    ApiRestrictions, AttemptOutcome, DAY_MS, EarnCallKind, EarnProduct, FakeBinance, FakeBinanceConfig, Fault,
    FaultKind, Kline, SymbolSpec, SyntheticKlines,
};

const ORDER: &str = "/api/v3/order";

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn sign(secret: &str, payload: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What came back: status, headers and the raw body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn code(&self) -> i64 {
        self.json()["code"].as_i64().unwrap_or_else(|| panic!("no code in {}", self.body))
    }

    fn msg(&self) -> String {
        self.json()["msg"].as_str().unwrap_or_default().to_string()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string())
    }

    fn weight(&self) -> u32 {
        self.header("X-MBX-USED-WEIGHT-1M").expect("weight header").parse().unwrap()
    }
}

/// A minimal Binance client: public GETs, signed GETs (query) and signed
/// POSTs (urlencoded body).
struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
    secret: String,
}

impl Api {
    fn new(fake: &FakeBinance) -> Api {
        Api::with_timeout(fake, Duration::from_secs(10))
    }

    fn with_timeout(fake: &FakeBinance, timeout: Duration) -> Api {
        Api {
            http: reqwest::Client::builder().timeout(timeout).build().unwrap(),
            base: fake.url(),
            key: fake.api_key(),
            secret: fake.api_secret(),
        }
    }

    fn signed(&self, params: &str) -> String {
        let ts = now_ms();
        let payload = if params.is_empty() { format!("timestamp={ts}") } else { format!("{params}&timestamp={ts}") };
        format!("{payload}&signature={}", sign(&self.secret, &payload))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await?;
        Ok(Answer { status, headers, body })
    }

    async fn get(&self, path: &str, query: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}?{query}", self.base))).await.unwrap()
    }

    async fn get_signed(&self, path: &str, params: &str) -> Answer {
        self.try_get_signed(path, params).await.unwrap()
    }

    async fn try_get_signed(&self, path: &str, params: &str) -> Result<Answer, reqwest::Error> {
        let url = format!("{}{path}?{}", self.base, self.signed(params));
        self.send(self.http.get(url).header("X-MBX-APIKEY", &self.key)).await
    }

    async fn post_signed(&self, path: &str, params: &str) -> Answer {
        self.try_post_signed(path, params).await.unwrap()
    }

    async fn try_post_signed(&self, path: &str, params: &str) -> Result<Answer, reqwest::Error> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("X-MBX-APIKEY", &self.key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(self.signed(params));
        self.send(req).await
    }

    async fn order(&self, params: &str) -> Answer {
        self.post_signed(ORDER, params).await
    }
}

/// A fake with BTCUSDT (step 0.00001, min notional 5) at 50 000 and 1 000
/// USDT free.
fn btc_fake() -> FakeBinance {
    let fake = FakeBinance::start(FakeBinanceConfig::default());
    fake.add_symbol(SymbolSpec::new("BTCUSDT", "BTC", "USDT").with_step_and_min_notional(dec!(0.00001), dec!(5)));
    fake.set_price("BTCUSDT", dec!(50000));
    fake.set_balance("USDT", dec!(1000), dec!(0));
    fake
}

fn dec_of(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).parse().unwrap()
}

/// Waits out the last seconds of a minute so weight windows do not reset
/// in the middle of a test.
async fn fresh_minute() {
    let into = now_ms().rem_euclid(60_000);
    if into > 50_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into + 50) as u64)).await;
    }
}

#[tokio::test]
async fn signature_is_accepted_and_rejected() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    let ok = api.get_signed("/api/v3/account", "").await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    let ts = now_ms();
    let payload = format!("timestamp={ts}");
    let wrong = format!("{}/api/v3/account?{payload}&signature={}", api.base, sign("not-the-secret", &payload));
    let bad = api.send(api.http.get(&wrong).header("X-MBX-APIKEY", &api.key)).await.unwrap();
    assert_eq!((bad.status, bad.code(), bad.msg()), (400, -1022, "Signature for this request is not valid.".into()));

    // The signature covers the exact bytes: a changed parameter fails.
    let tampered = format!("{}/api/v3/account?omitZeroBalances=true&{}", api.base, api.signed(""));
    let bad = api.send(api.http.get(&tampered).header("X-MBX-APIKEY", &api.key)).await.unwrap();
    assert_eq!(bad.code(), -1022);

    let unknown_key = api
        .send(
            api.http
                .get(format!("{}/api/v3/account?{}", api.base, api.signed("")))
                .header("X-MBX-APIKEY", "someone-else"),
        )
        .await
        .unwrap();
    assert_eq!((unknown_key.status, unknown_key.code()), (401, -2015));
    let no_key = api.send(api.http.get(format!("{}/api/v3/account?{}", api.base, api.signed("")))).await.unwrap();
    assert_eq!((no_key.status, no_key.code()), (401, -2014));
    let unsigned = api
        .send(
            api.http
                .get(format!("{}/api/v3/account?timestamp={}", api.base, now_ms()))
                .header("X-MBX-APIKEY", &api.key),
        )
        .await
        .unwrap();
    assert_eq!(unsigned.code(), -1102);

    // Uppercase hex is accepted ("The signature is not case sensitive").
    let upper =
        format!("{}/api/v3/account?{payload}&signature={}", api.base, sign(&api.secret, &payload).to_uppercase());
    assert_eq!(api.send(api.http.get(&upper).header("X-MBX-APIKEY", &api.key)).await.unwrap().status, 200);

    // A POST signed over query + body (rest-api.md example 3).
    let query = "symbol=BTCUSDT&side=BUY&type=MARKET";
    let body = format!("quantity=0.001&timestamp={}", now_ms());
    let signature = sign(&api.secret, &format!("{query}{body}"));
    let mixed = api
        .send(
            api.http
                .post(format!("{}{ORDER}?{query}", api.base))
                .header("X-MBX-APIKEY", &api.key)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("{body}&signature={signature}")),
        )
        .await
        .unwrap();
    assert_eq!(mixed.status, 200, "{}", mixed.body);
    assert_eq!(fake.orders().len(), 1);
    // Auth failures on orders are logged as rejected attempts.
    let bad_order = api
        .send(
            api.http
                .post(format!("{}{ORDER}?{query}&quantity=0.001&timestamp={}&signature=00", api.base, now_ms()))
                .header("X-MBX-APIKEY", &api.key),
        )
        .await
        .unwrap();
    assert_eq!(bad_order.code(), -1022);
    let attempts = fake.order_attempts();
    assert_eq!(attempts.len(), 2);
    assert!(matches!(&attempts[1].outcome, AttemptOutcome::Rejected(e) if e.code == -1022));
}

#[tokio::test]
async fn skewed_timestamps_get_1021() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    // Server 70 s ahead: the client's timestamp is older than recvWindow.
    fake.set_time_skew_ms(70_000);
    let late = api.get_signed("/api/v3/account", "").await;
    assert_eq!((late.status, late.code()), (400, -1021));
    assert_eq!(late.msg(), "Timestamp for this request is outside of the recvWindow.");
    // Even the maximum recvWindow does not cover 70 s.
    assert_eq!(api.get_signed("/api/v3/account", "recvWindow=60000").await.code(), -1021);
    // Server 2 s behind: the client is more than 1000 ms ahead.
    fake.set_time_skew_ms(-2_000);
    let early = api.get_signed("/api/v3/account", "").await;
    assert_eq!(early.msg(), "Timestamp for this request was 1000ms ahead of the server's time.");
    // A client that syncs to /api/v3/time gets through.
    let server_time = api.get("/api/v3/time", "").await.json()["serverTime"].as_i64().unwrap();
    assert!((server_time - (now_ms() - 2_000)).abs() < 1_000);
    let payload = format!("timestamp={server_time}");
    let url = format!("{}/api/v3/account?{payload}&signature={}", api.base, sign(&api.secret, &payload));
    assert_eq!(api.send(api.http.get(url).header("X-MBX-APIKEY", &api.key)).await.unwrap().status, 200);
    // A 30 s skew fits a 60 s recvWindow; more than 60 000 is refused.
    fake.set_time_skew_ms(30_000);
    assert_eq!(api.get_signed("/api/v3/account", "").await.code(), -1021);
    assert_eq!(api.get_signed("/api/v3/account", "recvWindow=60000").await.status, 200);
    assert_eq!(api.get_signed("/api/v3/account", "recvWindow=60001").await.code(), -1131);
}

#[tokio::test]
async fn exchange_info_has_binance_shape() {
    let fake = btc_fake();
    fake.add_symbol(
        SymbolSpec::new("ETHUSDT", "ETH", "USDT")
            .lot(dec!(0.0001), dec!(9000), dec!(0.0001))
            .legacy_min_notional(dec!(10), true),
    );
    let raw = json!({"symbol": "RAWUSDT", "status": "TRADING", "baseAsset": "RAW", "quoteAsset": "USDT", "filters": [
        {"filterType": "LOT_SIZE", "minQty": "1.00000000", "maxQty": "100.00000000", "stepSize": "1.00000000"}
    ]});
    fake.add_symbol(SymbolSpec::new("RAWUSDT", "RAW", "USDT").raw_entry(raw.clone()));
    let api = Api::new(&fake);

    let one = api.get("/api/v3/exchangeInfo", "symbol=BTCUSDT").await;
    assert_eq!(one.status, 200);
    let info = one.json();
    assert_eq!(info["timezone"], "UTC");
    assert!(info["serverTime"].as_i64().unwrap() > 0);
    assert_eq!(
        info["rateLimits"][0],
        json!({"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000})
    );
    let btc = &info["symbols"][0];
    assert_eq!(
        (btc["symbol"].as_str(), btc["baseAsset"].as_str(), btc["quoteAsset"].as_str()),
        (Some("BTCUSDT"), Some("BTC"), Some("USDT"))
    );
    assert_eq!(btc["quoteOrderQtyMarketAllowed"], true);
    let filters = btc["filters"].as_array().unwrap();
    let kinds: Vec<&str> = filters.iter().map(|f| f["filterType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "NOTIONAL"]);
    assert_eq!(
        filters[1],
        json!({"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"})
    );
    assert_eq!(filters[3]["minNotional"], "5.00000000");
    assert_eq!(filters[3]["applyMinToMarket"], true);

    let many = api.get("/api/v3/exchangeInfo", "symbols=%5B%22ETHUSDT%22,%22RAWUSDT%22%5D").await.json();
    let symbols = many["symbols"].as_array().unwrap();
    assert_eq!(symbols.len(), 2);
    assert!(
        symbols[0]["filters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["filterType"] == "MIN_NOTIONAL" && f["minNotional"] == "10.00000000")
    );
    assert_eq!(symbols[1], raw);
    assert_eq!(api.get("/api/v3/exchangeInfo", "").await.json()["symbols"].as_array().unwrap().len(), 3);

    let unknown = api.get("/api/v3/exchangeInfo", "symbol=NOPEUSDT").await;
    assert_eq!((unknown.status, unknown.code(), unknown.msg()), (400, -1121, "Invalid symbol.".into()));

    let avg = api.get("/api/v3/avgPrice", "symbol=BTCUSDT").await.json();
    assert_eq!((avg["mins"].as_i64(), avg["price"].as_str()), (Some(5), Some("50000.00000000")));
    assert!(avg["closeTime"].is_i64());
    assert_eq!(api.get("/api/v3/ping", "").await.json(), json!({}));
    assert_eq!(api.get("/api/v3/nothing", "").await.status, 404);
}

#[tokio::test]
async fn account_lists_earn_holdings_as_ld_assets() {
    let fake = btc_fake();
    fake.set_balance("BTC", dec!(0.5), dec!(0.1));
    fake.set_balance("DOGE", dec!(0), dec!(0));
    fake.set_earn_position("USDT", "USDT001", dec!(250.5));
    fake.set_earn_position("BNB", "BNB001", dec!(1.25));
    let api = Api::new(&fake);
    let account = api.get_signed("/api/v3/account", "").await.json();
    let balances = account["balances"].as_array().unwrap();
    let find = |asset: &str| balances.iter().find(|b| b["asset"] == asset).cloned();
    assert_eq!(find("USDT").unwrap(), json!({"asset": "USDT", "free": "1000.00000000", "locked": "0.00000000"}));
    assert_eq!(find("BTC").unwrap(), json!({"asset": "BTC", "free": "0.50000000", "locked": "0.10000000"}));
    assert_eq!(find("LDUSDT").unwrap(), json!({"asset": "LDUSDT", "free": "250.50000000", "locked": "0.00000000"}));
    assert_eq!(find("LDBNB").unwrap()["free"], "1.25000000");
    assert!(find("DOGE").is_some());
    assert_eq!(account["accountType"], "SPOT");
    assert_eq!(account["commissionRates"]["taker"], "0.00100000");
    assert_eq!(account["takerCommission"], 10);

    let trimmed = api.get_signed("/api/v3/account", "omitZeroBalances=true").await.json();
    assert!(trimmed["balances"].as_array().unwrap().iter().all(|b| b["asset"] != "DOGE"));
}

#[tokio::test]
async fn klines_page_like_binance() {
    let fake = btc_fake();
    let series = fake.set_synthetic_klines(
        "BTCUSDT",
        &SyntheticKlines::new(1500, dec!(20000)).trend(0.001).volatility(0.03).seed(42),
    );
    assert_eq!(series.len(), 1500);
    let today = now_ms() - now_ms().rem_euclid(DAY_MS);
    assert_eq!(series.last().unwrap().open_time, today);
    let api = Api::new(&fake);

    let latest = api.get("/api/v3/klines", "symbol=BTCUSDT&interval=1d").await.json();
    let latest = latest.as_array().unwrap();
    assert_eq!(latest.len(), 500, "default limit");
    assert_eq!(latest.last().unwrap()[0].as_i64(), Some(today));
    let row = latest.last().unwrap().as_array().unwrap();
    assert_eq!(row.len(), 12);
    assert!(row[0].is_i64() && row[6].is_i64() && row[8].is_u64());
    assert!(row[1..6].iter().all(Value::is_string) && row[11] == "0");
    assert_eq!(row[6].as_i64(), Some(today + DAY_MS - 1));
    assert_eq!(Kline::from_row(&latest[499]).unwrap(), series[1499]);

    // limit above 1000 is capped at 1000, not refused.
    let capped = api.get("/api/v3/klines", "symbol=BTCUSDT&interval=1d&limit=1500").await.json();
    assert_eq!(capped.as_array().unwrap().len(), 1000);
    assert_eq!(api.get("/api/v3/klines", "symbol=BTCUSDT&interval=1d&limit=0").await.code(), -1130);

    // Paging forward from the first candle collects every row exactly once.
    let mut start = series[0].open_time;
    let mut collected: Vec<Kline> = Vec::new();
    let mut pages = 0;
    loop {
        let page =
            api.get("/api/v3/klines", &format!("symbol=BTCUSDT&interval=1d&startTime={start}&limit=1000")).await.json();
        let rows: Vec<Kline> = page.as_array().unwrap().iter().map(|r| Kline::from_row(r).unwrap()).collect();
        pages += 1;
        let Some(last) = rows.last() else { break };
        start = last.open_time + 1;
        let full = rows.len() == 1000;
        collected.extend(rows);
        if !full {
            break;
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(collected, series);

    // endTime alone: the candles up to it; startTime + endTime: the range.
    let end = series[999].open_time;
    let before = api.get("/api/v3/klines", &format!("symbol=BTCUSDT&interval=1d&endTime={end}&limit=3")).await.json();
    let opens: Vec<i64> = before.as_array().unwrap().iter().map(|r| r[0].as_i64().unwrap()).collect();
    assert_eq!(opens, [series[997].open_time, series[998].open_time, series[999].open_time]);
    let range = api
        .get(
            "/api/v3/klines",
            &format!("symbol=BTCUSDT&interval=1d&startTime={}&endTime={end}", series[990].open_time + 1),
        )
        .await
        .json();
    assert_eq!(range.as_array().unwrap().len(), 9);

    assert_eq!(api.get("/api/v3/klines", "symbol=BTCUSDT&interval=1h").await.code(), -1120);
    assert_eq!(api.get("/api/v3/klines", "symbol=BTCUSDT&interval=7d").await.code(), -1120);
    assert_eq!(api.get("/api/v3/klines", "symbol=NOPE&interval=1d").await.code(), -1121);

    // Raw rows are accepted as Binance sends them.
    fake.set_klines_raw(
        "ETHUSDT",
        &json!([[86400000, "1.5", "2", "1", "1.75", "10", 172799999, "17", 5, "4", "6", "0"]]),
    )
    .unwrap();
    let eth = api.get("/api/v3/klines", "symbol=ETHUSDT&interval=1d").await.json();
    assert_eq!(
        eth,
        json!([[
            86400000,
            "1.50000000",
            "2.00000000",
            "1.00000000",
            "1.75000000",
            "10.00000000",
            172799999,
            "17.00000000",
            5,
            "4.00000000",
            "6.00000000",
            "0"
        ]])
    );
    assert!(fake.set_klines_raw("ETHUSDT", &json!([["x"]])).is_err());
}

#[tokio::test]
async fn market_buy_by_quantity_moves_balances_and_charges_the_fee_in_base() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    let answer = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=tc-26010112-dca-BTCUSDT&newOrderRespType=FULL").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let o = answer.json();
    assert_eq!(o["clientOrderId"], "tc-26010112-dca-BTCUSDT");
    assert_eq!(o["status"], "FILLED");
    assert_eq!(o["type"], "MARKET");
    assert_eq!(o["side"], "BUY");
    assert_eq!(o["orderListId"], -1);
    assert_eq!(dec_of(&o["executedQty"]), dec!(0.01));
    assert_eq!(dec_of(&o["cummulativeQuoteQty"]), dec!(500));
    assert_eq!(
        o["fills"],
        json!([{"price": "50000.00000000", "qty": "0.01000000", "commission": "0.00001000", "commissionAsset": "BTC", "tradeId": 1}])
    );
    assert!(answer.header("X-MBX-ORDER-COUNT-10S").is_some() && answer.header("X-MBX-ORDER-COUNT-1D").is_some());
    assert_eq!(fake.balance("USDT").free, dec!(500));
    assert_eq!(fake.balance("BTC").free, dec!(0.00999));

    // A sell pays the fee in USDT.
    let sell = api.order("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.002").await.json();
    assert_eq!(sell["fills"][0]["commission"], "0.10000000");
    assert_eq!(sell["fills"][0]["commissionAsset"], "USDT");
    assert_eq!(fake.balance("BTC").free, dec!(0.00799));
    assert_eq!(fake.balance("USDT").free, dec!(599.9));
    // Without newClientOrderId one is generated.
    assert!(!sell["clientOrderId"].as_str().unwrap().is_empty());

    // ACK and RESULT shapes.
    let ack = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newOrderRespType=ACK").await.json();
    assert!(ack.get("status").is_none() && ack["orderId"].is_i64());
    let result = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newOrderRespType=RESULT").await.json();
    assert!(result.get("fills").is_none() && result["status"] == "FILLED");

    let fills = fake.fills();
    assert_eq!(fills.len(), 4);
    assert_eq!((fills[0].commission, fills[0].commission_asset.as_str()), (dec!(0.00001), "BTC"));

    // Slippage moves the fill against the taker.
    fake.set_slippage(dec!(0.001));
    let slipped = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001").await.json();
    assert_eq!(slipped["fills"][0]["price"], "50050.00000000");
    assert_eq!(dec_of(&slipped["cummulativeQuoteQty"]), dec!(50.05));
}

#[tokio::test]
async fn market_buy_by_quote_qty_floors_to_the_step() {
    let fake = btc_fake();
    fake.set_price("BTCUSDT", dec!(30000));
    let api = Api::new(&fake);
    let o = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=100").await.json();
    // 100 / 30000 = 0.0033333… floored to the 0.00001 step.
    assert_eq!(dec_of(&o["executedQty"]), dec!(0.00333));
    assert_eq!(dec_of(&o["cummulativeQuoteQty"]), dec!(99.9));
    assert_eq!(dec_of(&o["origQuoteOrderQty"]), dec!(100));
    assert_eq!(o["fills"][0]["commission"], "0.00000333");
    assert_eq!(fake.balance("USDT").free, dec!(900.1));
    assert_eq!(fake.balance("BTC").free, dec!(0.00332667));

    // A different fee is charged exactly.
    fake.set_taker_fee(dec!(0.00075));
    api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=60").await;
    assert_eq!(fake.balance("BTC").free, dec!(0.00332667) + dec!(0.002) - dec!(0.0000015));
    assert_eq!(fake.balance("USDT").free, dec!(840.1));
}

#[tokio::test]
async fn dust_and_off_step_quantities_are_filter_failures() {
    let fake = btc_fake();
    fake.set_price("BTCUSDT", dec!(30000));
    let api = Api::new(&fake);
    let dust = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.0001").await;
    assert_eq!((dust.status, dust.code(), dust.msg()), (400, -1013, "Filter failure: NOTIONAL".into()));
    let dust_quote = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=4.99").await;
    assert_eq!(dust_quote.msg(), "Filter failure: NOTIONAL");
    let off_step = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000505").await;
    assert_eq!((off_step.code(), off_step.msg()), (-1013, "Filter failure: LOT_SIZE".into()));

    // Legacy MIN_NOTIONAL and MARKET_LOT_SIZE are applied too.
    fake.add_symbol(
        SymbolSpec::new("ETHUSDT", "ETH", "USDT")
            .without_filter("NOTIONAL")
            .legacy_min_notional(dec!(10), true)
            .lot(dec!(0.0001), dec!(9000), dec!(0.0001))
            .market_lot(dec!(0), dec!(2), dec!(0)),
    );
    fake.set_price("ETHUSDT", dec!(2000));
    assert_eq!(
        api.order("symbol=ETHUSDT&side=BUY&type=MARKET&quantity=0.004").await.msg(),
        "Filter failure: MIN_NOTIONAL"
    );
    assert_eq!(
        api.order("symbol=ETHUSDT&side=SELL&type=MARKET&quantity=3").await.msg(),
        "Filter failure: MARKET_LOT_SIZE"
    );

    assert!(fake.orders().is_empty());
    assert_eq!(fake.balance("USDT").free, dec!(1000));
    let attempts = fake.order_attempts();
    assert_eq!(attempts.len(), 5);
    assert!(
        matches!(&attempts[0].outcome, AttemptOutcome::Rejected(e) if e.code == -1013 && e.msg == "Filter failure: NOTIONAL")
    );
    assert_eq!(attempts[0].quantity.as_deref(), Some("0.0001"));
}

#[tokio::test]
async fn bad_parameters_get_binance_codes() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    let precise = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000000001").await;
    assert_eq!(
        (precise.status, precise.code(), precise.msg()),
        (400, -1111, "Parameter 'quantity' has too much precision.".into())
    );
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=10.123456789").await.code(), -1111);
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1e-3").await.code(), -1100);
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET").await.code(), -1102);
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&quoteOrderQty=10").await.code(), -1106);
    assert_eq!(api.order("symbol=BTCUSDT&side=HOLD&type=MARKET&quantity=0.001").await.code(), -1117);
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001").await.code(), -1020);
    assert_eq!(api.order("symbol=NOPE&side=BUY&type=MARKET&quantity=0.001").await.code(), -1121);
    let long_id = "x".repeat(37);
    assert_eq!(
        api.order(&format!("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId={long_id}"))
            .await
            .code(),
        -1100
    );
    assert!(fake.orders().is_empty());
}

#[tokio::test]
async fn insufficient_balance_is_2010() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    let buy = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.03").await;
    assert_eq!(
        (buy.status, buy.code(), buy.msg()),
        (400, -2010, "Account has insufficient balance for requested action.".into())
    );
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=1000.01").await.code(), -2010);
    // Locked funds are not sellable.
    fake.set_balance("BTC", dec!(0.001), dec!(1));
    assert_eq!(api.order("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.002").await.code(), -2010);
    assert!(fake.orders().is_empty());
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=1000").await.status, 200);
}

#[tokio::test]
async fn reused_client_order_id_of_a_filled_market_order_executes_again() {
    // rest-api.md: ids are unique among *open* orders only; a filled MARKET
    // order's id is free again, so a blind retry buys twice.
    let fake = btc_fake();
    let api = Api::new(&fake);
    let params = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=tc-26010112-dca-BTCUSDT";
    let first = api.order(params).await.json();
    let second = api.order(params).await.json();
    assert_eq!(first["clientOrderId"], second["clientOrderId"]);
    assert_ne!(first["orderId"], second["orderId"]);
    let orders = fake.orders();
    assert_eq!(orders.len(), 2);
    assert!(orders.iter().all(|o| o.status == "FILLED"));
    assert_eq!(fake.balance("USDT").free, dec!(900));
    // A lookup by the shared id answers the latest order.
    let q = api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=tc-26010112-dca-BTCUSDT").await.json();
    assert_eq!(q["orderId"], second["orderId"]);
}

#[tokio::test]
async fn order_queries_and_unknown_orders() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    let placed = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.002&newClientOrderId=a-1").await.json();
    let id = placed["orderId"].as_i64().unwrap();
    let q = api.get_signed(ORDER, &format!("symbol=BTCUSDT&orderId={id}")).await;
    assert_eq!(q.header("X-MBX-ORDER-COUNT-10S"), None);
    let q = q.json();
    assert_eq!((q["status"].as_str(), q["clientOrderId"].as_str()), (Some("FILLED"), Some("a-1")));
    assert_eq!(dec_of(&q["executedQty"]), dec!(0.002));
    assert_eq!(dec_of(&q["cummulativeQuoteQty"]), dec!(100));
    assert_eq!(q["time"], placed["transactTime"]);
    assert_eq!(q["isWorking"], true);

    let unknown = api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=never-sent").await;
    assert_eq!((unknown.status, unknown.code(), unknown.msg()), (400, -2013, "Order does not exist.".into()));
    assert_eq!(api.get_signed(ORDER, "symbol=BTCUSDT&orderId=999").await.code(), -2013);
    assert_eq!(api.get_signed(ORDER, "symbol=BTCUSDT").await.code(), -1102);
    assert_eq!(api.get_signed(ORDER, &format!("symbol=BTCUSDT&orderId={id}&origClientOrderId=b")).await.code(), -2039);

    for i in 0..3 {
        api.order(&format!("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=b-{i}")).await;
    }
    let all = api.get_signed("/api/v3/allOrders", "symbol=BTCUSDT").await.json();
    let ids: Vec<&str> = all.as_array().unwrap().iter().map(|o| o["clientOrderId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a-1", "b-0", "b-1", "b-2"]);
    let recent = api.get_signed("/api/v3/allOrders", "symbol=BTCUSDT&limit=2").await.json();
    assert_eq!(
        recent.as_array().unwrap().iter().map(|o| o["clientOrderId"].as_str().unwrap()).collect::<Vec<_>>(),
        ["b-1", "b-2"]
    );
    let since = api
        .get_signed("/api/v3/allOrders", &format!("symbol=BTCUSDT&startTime={}&limit=1", now_ms() - 60_000))
        .await
        .json();
    assert_eq!(since[0]["clientOrderId"], "a-1");
    let from_id = api.get_signed("/api/v3/allOrders", &format!("symbol=BTCUSDT&orderId={}", id + 2)).await.json();
    assert_eq!(from_id.as_array().unwrap().len(), 2);
    let too_wide =
        api.get_signed("/api/v3/allOrders", &format!("symbol=BTCUSDT&startTime=0&endTime={}", now_ms())).await;
    assert_eq!(too_wide.code(), -1127);
}

#[tokio::test]
async fn thin_books_fill_partly_or_refuse_quote_orders() {
    let fake = btc_fake();
    fake.add_symbol(
        SymbolSpec::new("BTCUSDT", "BTC", "USDT")
            .with_step_and_min_notional(dec!(0.00001), dec!(5))
            .book_depth(dec!(0.004)),
    );
    let api = Api::new(&fake);
    let partial = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01").await.json();
    assert_eq!(partial["status"], "EXPIRED");
    assert_eq!(dec_of(&partial["executedQty"]), dec!(0.004));
    assert_eq!(dec_of(&partial["origQty"]), dec!(0.01));
    assert_eq!(fake.balance("USDT").free, dec!(800));

    fake.add_symbol(
        SymbolSpec::new("BTCUSDT", "BTC", "USDT")
            .with_step_and_min_notional(dec!(0.001), dec!(5))
            .book_depth(dec!(0.0005)),
    );
    let thin = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=100").await;
    assert_eq!(
        (thin.code(), thin.msg()),
        (-2010, "Order book liquidity is less than LOT_SIZE filter minimum quantity.".into())
    );
}

#[tokio::test]
async fn fault_execute_then_500_leaves_exactly_one_fill_to_find() {
    let fake = btc_fake();
    fake.inject(Fault::new("POST", ORDER, FaultKind::execute_then_500()));
    let api = Api::new(&fake);
    let answer = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=amb-1").await;
    assert_eq!(answer.status, 500);
    assert!(serde_json::from_str::<Value>(&answer.body).is_err(), "a gateway 500 is not JSON");
    let q = api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=amb-1").await.json();
    assert_eq!(q["status"], "FILLED");
    assert_eq!(fake.fills().len(), 1);
    assert_eq!(fake.balance("USDT").free, dec!(950));
    let attempt = &fake.order_attempts()[0];
    assert!(matches!(attempt.outcome, AttemptOutcome::Executed { .. }));
    assert_eq!(attempt.fault, Some(FaultKind::execute_then_500()));
    // One shot only.
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001").await.status, 200);
}

#[tokio::test]
async fn my_trades_give_each_orders_commissions_as_the_full_answer_did() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    // The buy's answer is lost (a gateway 500 after execution): its fee is
    // only to be learnt from the trade list.
    fake.inject(Fault::new("POST", ORDER, FaultKind::execute_then_500()));
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.004&newClientOrderId=t-1").await.status, 500);
    let sell = api.order("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.002&newClientOrderId=t-2").await.json();
    let buy = api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=t-1").await.json();
    let (buy_id, sell_id) = (buy["orderId"].as_i64().unwrap(), sell["orderId"].as_i64().unwrap());

    let trades = api.get_signed("/api/v3/myTrades", &format!("symbol=BTCUSDT&orderId={buy_id}")).await;
    assert_eq!(trades.status, 200, "{}", trades.body);
    let trades = trades.json();
    assert_eq!(
        trades,
        json!([{
            "symbol": "BTCUSDT", "id": 1, "orderId": buy_id, "orderListId": -1, "price": "50000.00000000",
            "qty": "0.00400000", "quoteQty": "200.00000000", "commission": "0.00000400", "commissionAsset": "BTC",
            "time": buy["time"], "isBuyer": true, "isMaker": false, "isBestMatch": true
        }])
    );
    let sold = api.get_signed("/api/v3/myTrades", &format!("symbol=BTCUSDT&orderId={sell_id}")).await.json();
    assert_eq!(sold[0]["commission"], sell["fills"][0]["commission"]);
    assert_eq!((sold[0]["commissionAsset"].as_str(), sold[0]["isBuyer"].as_bool()), (Some("USDT"), Some(false)));
    assert_eq!(sold[0]["commission"], "0.10000000");

    // The whole symbol, oldest first; from a trade id; the most recent `limit`.
    let ids = |v: &Value| v.as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(&api.get_signed("/api/v3/myTrades", "symbol=BTCUSDT").await.json()), [1, 2]);
    assert_eq!(ids(&api.get_signed("/api/v3/myTrades", "symbol=BTCUSDT&fromId=2").await.json()), [2]);
    assert_eq!(ids(&api.get_signed("/api/v3/myTrades", "symbol=BTCUSDT&limit=1").await.json()), [2]);
    // An order without trades (or unknown) has none; a symbol must exist.
    assert_eq!(api.get_signed("/api/v3/myTrades", "symbol=BTCUSDT&orderId=999").await.json(), json!([]));
    assert_eq!(api.get_signed("/api/v3/myTrades", "symbol=NOPEUSDT").await.code(), -1121);
    assert_eq!(api.get_signed("/api/v3/myTrades", "").await.code(), -1102);
}

#[tokio::test]
async fn fault_1007_with_and_without_execution() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    fake.inject(Fault::new("POST", ORDER, FaultKind::execute_then_timeout_1007()));
    let unknown = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=t-1").await;
    assert_eq!((unknown.status, unknown.code()), (408, -1007));
    assert_eq!(
        unknown.msg(),
        "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
    );
    assert_eq!(fake.orders().len(), 1);

    fake.inject(Fault::new("POST", ORDER, FaultKind::timeout_1007()));
    assert_eq!(
        api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=t-2").await.code(),
        -1007
    );
    assert_eq!(fake.orders().len(), 1);
    assert_eq!(api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=t-2").await.code(), -2013);
    assert_eq!(fake.order_attempts()[1].outcome, AttemptOutcome::NotExecuted);
}

#[tokio::test]
async fn fault_dropped_connection_after_and_before_execution() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    fake.inject(Fault::new("POST", ORDER, FaultKind::ExecuteThenDrop));
    let err =
        api.try_post_signed(ORDER, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=d-1").await;
    assert!(err.is_err(), "the connection is closed without an answer");
    assert_eq!(fake.orders().len(), 1);
    assert_eq!(fake.requests().last().unwrap().status, None);

    fake.inject(Fault::new("POST", ORDER, FaultKind::Drop));
    assert!(
        api.try_post_signed(ORDER, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=d-2")
            .await
            .is_err()
    );
    assert_eq!(fake.orders().len(), 1);
    // The server keeps serving new connections.
    assert_eq!(api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=d-1").await.json()["status"], "FILLED");
}

#[tokio::test]
async fn fault_hang_after_execution_outlasts_the_client_timeout() {
    let fake = btc_fake();
    let api = Api::with_timeout(&fake, Duration::from_millis(300));
    fake.inject(Fault::new("POST", ORDER, FaultKind::ExecuteThenHang(Duration::from_secs(5))));
    let started = Instant::now();
    let err = api
        .try_post_signed(ORDER, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=h-1")
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.orders().len(), 1);
}

#[tokio::test]
async fn fault_delay_and_latency_slow_answers_down() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    fake.inject(Fault::new("GET", "/api/v3/ping", FaultKind::Delay(Duration::from_millis(300))));
    let started = Instant::now();
    assert_eq!(api.get("/api/v3/ping", "").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    fake.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    let (a, b, c, d, e) = tokio::join!(
        api.get("/api/v3/ping", ""),
        api.get("/api/v3/time", ""),
        api.get("/api/v3/ping", ""),
        api.get("/api/v3/time", ""),
        api.get("/api/v3/ping", ""),
    );
    let answers = [a, b, c, d, e];
    assert!(answers.iter().all(|a| a.status == 200));
    let took = started.elapsed();
    // Concurrent requests wait their latency side by side (one after the
    // other would take a second).
    assert!(took >= Duration::from_millis(200) && took < Duration::from_millis(700), "{took:?}");
}

#[tokio::test]
async fn fault_1021_once_then_success() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    fake.inject(Fault::new("GET", "/api/v3/account", FaultKind::InvalidTimestamp));
    let first = api.get_signed("/api/v3/account", "").await;
    assert_eq!((first.status, first.code()), (400, -1021));
    assert_eq!(api.get_signed("/api/v3/account", "").await.status, 200);
}

#[tokio::test]
async fn fault_429_with_retry_after_n_times_then_418() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    fake.inject(Fault::new("GET", "/api/v3/klines", FaultKind::RateLimited { retry_after_secs: 7 }).times(2));
    fake.set_klines("BTCUSDT", vec![]);
    for _ in 0..2 {
        let limited = api.get("/api/v3/klines", "symbol=BTCUSDT&interval=1d").await;
        assert_eq!((limited.status, limited.code()), (429, -1003));
        assert_eq!(limited.header("Retry-After").as_deref(), Some("7"));
        assert!(limited.header("X-MBX-USED-WEIGHT-1M").is_some());
    }
    assert_eq!(api.get("/api/v3/klines", "symbol=BTCUSDT&interval=1d").await.status, 200);

    fake.inject(Fault::new("GET", "/api/v3/avgPrice", FaultKind::IpBanned { retry_after_secs: 120 }));
    let banned = api.get("/api/v3/avgPrice", "symbol=BTCUSDT").await;
    assert_eq!((banned.status, banned.code()), (418, -1003));
    assert_eq!(banned.header("Retry-After").as_deref(), Some("120"));
}

#[tokio::test]
async fn fault_errors_match_by_symbol_and_client_order_id() {
    let fake = btc_fake();
    fake.add_symbol(SymbolSpec::new("ETHUSDT", "ETH", "USDT"));
    fake.set_price("ETHUSDT", dec!(2000));
    let api = Api::new(&fake);
    fake.inject(
        Fault::new(
            "POST",
            ORDER,
            FaultKind::error(
                503,
                -1008,
                "Server is currently overloaded with other requests. Please try again in a few minutes.",
            ),
        )
        .symbol("ETHUSDT"),
    );
    fake.inject(
        Fault::new(
            "POST",
            ORDER,
            FaultKind::error(400, -2010, "Account has insufficient balance for requested action."),
        )
        .client_order_id("only-this"),
    );
    assert_eq!(api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001").await.status, 200);
    assert_eq!(
        api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=only-this").await.code(),
        -2010
    );
    let busy = api.order("symbol=ETHUSDT&side=BUY&type=MARKET&quantity=0.01").await;
    assert_eq!((busy.status, busy.code()), (503, -1008));
    assert!(fake.pending_faults().is_empty());
    assert_eq!(fake.orders().len(), 1);
    fake.inject(Fault::new(
        "GET",
        "/api/v3/exchangeInfo",
        FaultKind::RawReply { status: 502, body: "Bad Gateway".into() },
    ));
    let gateway = api.get("/api/v3/exchangeInfo", "").await;
    assert_eq!((gateway.status, gateway.body.as_str()), (502, "Bad Gateway"));
}

#[tokio::test]
async fn fault_order_invisible_to_the_first_queries() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    fake.inject(Fault::new("POST", ORDER, FaultKind::HideOrder { queries: 2 }));
    let placed = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=late-1").await;
    assert_eq!(placed.status, 200);
    for _ in 0..2 {
        assert_eq!(api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=late-1").await.code(), -2013);
    }
    assert_eq!(api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=late-1").await.json()["status"], "FILLED");
}

#[tokio::test]
async fn earn_subscribe_and_immediate_redeem() {
    let fake = btc_fake();
    // This test walks through amounts and error codes with calls back to
    // back and checks balances right after each; the 3 s limit and the
    // credit delay have their own tests below.
    fake.set_earn_min_interval(None);
    fake.set_redeem_credit_delay(None);
    fake.set_earn_product(EarnProduct { min_purchase_amount: dec!(1), ..EarnProduct::new("USDT", "USDT001") });
    let api = Api::new(&fake);

    let list = api.get_signed("/sapi/v1/simple-earn/flexible/list", "asset=USDT").await;
    assert_eq!(list.header("X-SAPI-USED-IP-WEIGHT-1M").as_deref(), Some("150"));
    let list = list.json();
    assert_eq!(list["total"], 1);
    let row = &list["rows"][0];
    assert_eq!(
        (row["productId"].as_str(), row["canPurchase"].as_bool(), row["canRedeem"].as_bool()),
        (Some("USDT001"), Some(true), Some(true))
    );
    assert_eq!(row["minPurchaseAmount"], "1.00000000");
    assert_eq!(api.get_signed("/sapi/v1/simple-earn/flexible/list", "asset=BTC").await.json()["rows"], json!([]));

    let sub = api
        .post_signed("/sapi/v1/simple-earn/flexible/subscribe", "productId=USDT001&amount=300&autoSubscribe=false")
        .await
        .json();
    assert_eq!(sub["success"], true);
    assert!(sub["purchaseId"].is_i64());
    assert_eq!(fake.balance("USDT").free, dec!(700));
    assert_eq!(fake.earn_position("USDT001"), dec!(300));

    let pos = api.get_signed("/sapi/v1/simple-earn/flexible/position", "asset=USDT").await.json();
    assert_eq!(pos["rows"][0]["totalAmount"], "300.00000000");
    assert_eq!(pos["rows"][0]["productId"], "USDT001");
    assert_eq!(pos["rows"][0]["autoSubscribe"], false);
    let account = api.get_signed("/api/v3/account", "").await.json();
    assert!(
        account["balances"].as_array().unwrap().iter().any(|b| b["asset"] == "LDUSDT" && b["free"] == "300.00000000")
    );

    let red = api
        .post_signed("/sapi/v1/simple-earn/flexible/redeem", "productId=USDT001&amount=120.5&destAccount=SPOT")
        .await
        .json();
    assert_eq!(red["success"], true);
    assert!(red["redeemId"].is_i64());
    assert_eq!(fake.balance("USDT").free, dec!(820.5));
    assert_eq!(fake.earn_position("USDT001"), dec!(179.5));

    let all = api.post_signed("/sapi/v1/simple-earn/flexible/redeem", "productId=USDT001&redeemAll=true").await;
    assert_eq!(all.status, 200);
    assert_eq!(fake.balance("USDT").free, dec!(1000));
    assert_eq!(api.get_signed("/sapi/v1/simple-earn/flexible/position", "asset=USDT").await.json()["total"], 0);

    // Binance's Earn errors.
    assert_eq!(
        api.post_signed("/sapi/v1/simple-earn/flexible/subscribe", "productId=USDT001&amount=0.5").await.code(),
        -6005
    );
    assert_eq!(
        api.post_signed("/sapi/v1/simple-earn/flexible/subscribe", "productId=USDT001&amount=5000").await.code(),
        -6012
    );
    assert_eq!(
        api.post_signed("/sapi/v1/simple-earn/flexible/subscribe", "productId=NOPE001&amount=5").await.code(),
        -6001
    );
    assert_eq!(
        api.post_signed("/sapi/v1/simple-earn/flexible/redeem", "productId=USDT001&amount=1").await.code(),
        -6006
    );
    assert_eq!(api.post_signed("/sapi/v1/simple-earn/flexible/redeem", "productId=USDT001").await.code(), -1102);
    let calls = fake.earn_calls();
    assert_eq!(calls.len(), 8);
    assert_eq!(
        (calls[0].kind, calls[0].amount, calls[0].auto_subscribe),
        (EarnCallKind::Subscribe, Some(dec!(300)), Some(false))
    );
    assert!(calls[4].outcome.as_ref().is_err_and(|e| e.code == -6012));
}

#[tokio::test]
async fn earn_redeem_credited_after_a_delay() {
    let fake = FakeBinance::start(FakeBinanceConfig {
        redeem_credit_delay: Some(Duration::from_millis(1500)),
        ..Default::default()
    });
    fake.set_earn_position("USDT", "USDT001", dec!(100));
    let api = Api::new(&fake);
    let red = api.post_signed("/sapi/v1/simple-earn/flexible/redeem", "productId=USDT001&amount=60").await;
    assert_eq!(red.json()["success"], true);
    // Earn calls are limited to one per 3 s per account, like Binance.
    let again = api.post_signed("/sapi/v1/simple-earn/flexible/redeem", "productId=USDT001&amount=1").await;
    assert_eq!((again.code(), again.msg()), (-6009, "Request frequency too high".into()));
    // The call succeeded, the position shrank, the money is not there yet.
    assert_eq!(fake.earn_position("USDT001"), dec!(40));
    assert_eq!(fake.balance("USDT").free, dec!(0));
    let spot = api.get_signed("/api/v3/account", "").await.json();
    assert!(spot["balances"].as_array().unwrap().iter().all(|b| b["asset"] != "USDT"));
    assert_eq!(fake.pending_redeem_credits().len(), 1);
    let (_, _, due_ms) = fake.pending_redeem_credits()[0].clone();
    tokio::time::sleep(Duration::from_millis((due_ms - now_ms() + 50).max(0) as u64)).await;
    assert_eq!(fake.balance("USDT").free, dec!(60));
    assert!(fake.pending_redeem_credits().is_empty());

    // A fault delays one redeem's credit even when credits are immediate.
    let fake = btc_fake();
    fake.set_earn_position("USDT", "USDT001", dec!(100));
    fake.inject(Fault::new(
        "POST",
        "/sapi/v1/simple-earn/flexible/redeem",
        FaultKind::DelayRedeemCredit(Duration::from_millis(1500)),
    ));
    let api = Api::new(&fake);
    assert_eq!(
        api.post_signed("/sapi/v1/simple-earn/flexible/redeem", "productId=USDT001&redeemAll=true").await.status,
        200
    );
    assert_eq!(fake.balance("USDT").free, dec!(1000));
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(fake.balance("USDT").free, dec!(1100));
    let call = &fake.earn_calls()[0];
    assert_eq!(call.credit.map(|(amount, _)| amount), Some(dec!(100)));
}

#[tokio::test]
async fn earn_calls_share_one_3s_budget_per_account_on_a_virtual_clock() {
    let fake = btc_fake();
    let t0 = now_ms();
    let clock = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(t0));
    let source = clock.clone();
    fake.set_time_source(move || source.load(std::sync::atomic::Ordering::SeqCst));
    let advance = |ms: i64| clock.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    fake.set_earn_position("USDT", "USDT001", dec!(100));
    let api = Api::new(&fake);
    const REDEEM: &str = "/sapi/v1/simple-earn/flexible/redeem";
    const SUBSCRIBE: &str = "/sapi/v1/simple-earn/flexible/subscribe";

    assert_eq!(api.post_signed(REDEEM, "productId=USDT001&amount=50").await.status, 200);
    // Credited a moment later by default: not yet on spot.
    assert_eq!((fake.balance("USDT").free, fake.earn_position("USDT001")), (dec!(1000), dec!(50)));
    // One budget for both endpoints: a subscribe right after a redeem is refused.
    let sub = api.post_signed(SUBSCRIBE, "productId=USDT001&amount=10").await;
    assert_eq!((sub.code(), sub.msg()), (-6009, "Request frequency too high".into()));
    advance(2999);
    // 800 ms of virtual time delivered the credit without any real wait.
    assert_eq!(fake.balance("USDT").free, dec!(1050));
    assert_eq!(api.post_signed(REDEEM, "productId=USDT001&amount=1").await.code(), -6009);
    advance(1);
    assert_eq!(api.post_signed(SUBSCRIBE, "productId=USDT001&amount=10").await.status, 200);
    assert_eq!((fake.balance("USDT").free, fake.earn_position("USDT001")), (dec!(1040), dec!(60)));

    let calls: Vec<(EarnCallKind, i64, bool)> =
        fake.earn_calls().iter().map(|c| (c.kind, c.at_ms - t0, c.outcome.is_ok())).collect();
    assert_eq!(
        calls,
        [
            (EarnCallKind::Redeem, 0, true),
            (EarnCallKind::Subscribe, 0, false),
            (EarnCallKind::Redeem, 2999, false),
            (EarnCallKind::Subscribe, 3000, true),
        ]
    );
    let credit = fake.earn_calls()[0].credit.expect("redeem credit");
    assert_eq!(credit, (dec!(50), t0 + 800));
}

#[tokio::test]
async fn api_restrictions_are_served_and_enforced() {
    let fake = btc_fake();
    let api = Api::new(&fake);
    let r = api.get_signed("/sapi/v1/account/apiRestrictions", "").await.json();
    assert_eq!(
        (r["enableReading"].as_bool(), r["enableWithdrawals"].as_bool(), r["enableSpotAndMarginTrading"].as_bool()),
        (Some(true), Some(false), Some(true))
    );
    assert!(r["createTime"].is_i64() && r["ipRestrict"] == false);
    fake.set_api_restrictions(ApiRestrictions {
        enable_withdrawals: true,
        enable_spot_and_margin_trading: false,
        ..Default::default()
    });
    assert_eq!(api.get_signed("/sapi/v1/account/apiRestrictions", "").await.json()["enableWithdrawals"], true);
    let refused = api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001").await;
    assert_eq!((refused.status, refused.code()), (401, -2015));
}

#[tokio::test]
async fn weight_headers_count_binance_weights() {
    fresh_minute().await;
    let fake = btc_fake();
    fake.set_earn_position("USDT", "USDT001", dec!(10));
    fake.set_klines("BTCUSDT", vec![]);
    let api = Api::new(&fake);
    let steps: Vec<(&str, u32)> = vec![
        ("ping", 1),
        ("time", 1),
        ("exchangeInfo", 20),
        ("avgPrice", 2),
        ("klines", 2),
        ("account", 20),
        ("order", 1),
        ("queryOrder", 4),
        ("allOrders", 20),
        ("myTradesOfOrder", 5),
        ("myTrades", 20),
    ];
    let mut expected = 0;
    for (what, weight) in steps {
        let answer = match what {
            "ping" => api.get("/api/v3/ping", "").await,
            "time" => api.get("/api/v3/time", "").await,
            "exchangeInfo" => api.get("/api/v3/exchangeInfo", "symbol=BTCUSDT").await,
            "avgPrice" => api.get("/api/v3/avgPrice", "symbol=BTCUSDT").await,
            "klines" => api.get("/api/v3/klines", "symbol=BTCUSDT&interval=1d").await,
            "account" => api.get_signed("/api/v3/account", "").await,
            "order" => api.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=w-1").await,
            "queryOrder" => api.get_signed(ORDER, "symbol=BTCUSDT&origClientOrderId=w-1").await,
            "allOrders" => api.get_signed("/api/v3/allOrders", "symbol=BTCUSDT").await,
            "myTradesOfOrder" => api.get_signed("/api/v3/myTrades", "symbol=BTCUSDT&orderId=1").await,
            _ => api.get_signed("/api/v3/myTrades", "symbol=BTCUSDT").await,
        };
        expected += weight;
        assert_eq!(answer.weight(), expected, "after {what}");
    }
    // Errors cost weight too.
    expected += 20;
    assert_eq!(api.get("/api/v3/exchangeInfo", "symbol=NOPE").await.weight(), expected);
    assert_eq!(fake.used_weight(), expected);

    // /sapi has its own IP-weight header and budget.
    let sapi = [
        ("/sapi/v1/simple-earn/flexible/list", 150),
        ("/sapi/v1/simple-earn/flexible/position", 150),
        ("/sapi/v1/account/apiRestrictions", 1),
    ];
    let mut sapi_expected = 0;
    for (path, weight) in sapi {
        sapi_expected += weight;
        let answer = api.get_signed(path, "").await;
        assert_eq!(answer.header("X-SAPI-USED-IP-WEIGHT-1M"), Some(sapi_expected.to_string()), "{path}");
        assert_eq!(answer.header("X-MBX-USED-WEIGHT-1M"), None);
    }
    sapi_expected += 1;
    let redeem = api.post_signed("/sapi/v1/simple-earn/flexible/redeem", "productId=USDT001&amount=1").await;
    assert_eq!(redeem.header("X-SAPI-USED-IP-WEIGHT-1M"), Some(sapi_expected.to_string()));
    assert_eq!(fake.used_sapi_weight(), sapi_expected);
    assert_eq!(fake.used_weight(), expected);

    // Past the limit: 429 -1003 with Retry-After until the minute ends.
    fake.set_weight_limit(expected + 20);
    assert_eq!(api.get("/api/v3/exchangeInfo", "").await.status, 200);
    let over = api.get("/api/v3/exchangeInfo", "").await;
    assert_eq!((over.status, over.code()), (429, -1003));
    let retry: u64 = over.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));

    // The request log tells what was called, signed or not.
    let counts = fake.request_counts();
    assert_eq!(counts["/api/v3/exchangeInfo"], 4);
    assert_eq!(fake.request_count(ORDER), 2);
    let requests = fake.requests();
    let account = requests.iter().find(|r| r.path == "/api/v3/account").unwrap();
    assert!(account.signed && account.weight == 20 && account.status == Some(200));
    assert!(!requests[0].signed);
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let mut fake = btc_fake();
    let url = fake.url();
    assert!(url.starts_with("http://127.0.0.1:"));
    let http = reqwest::Client::new();
    assert!(http.get(format!("{url}/api/v3/ping")).send().await.is_ok());
    fake.shutdown();
    assert!(http.get(format!("{url}/api/v3/ping")).send().await.is_err());
    drop(fake);
}

#[test]
fn works_from_a_plain_test_without_a_runtime() {
    let fake = btc_fake();
    fake.set_balance("ETH", dec!(1.5), dec!(0));
    assert_eq!(fake.balance("ETH").free, dec!(1.5));
    assert!(fake.server_time_ms() > 0);
}
