//! The start-of-cycle snapshot: balances (spot + Simple Earn flexible),
//! average prices, trading rules, Earn product ids and daily klines, all
//! requested at once so a cycle costs a few round trips of wall time
//! instead of one per request. The client's semaphore bounds how many are
//! actually in flight.
//!
//! Request weight stays flat as the pool grows where it matters most: one
//! `account` (20), `exchangeInfo` batched by 100 symbols (20 each), and the
//! Simple Earn position and product lists read whole, a page of 100 rows at
//! a time (150 each), instead of two 150-weight calls per asset.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::classify::{Failure, Outcome};
use super::client::Transport;
use super::join::try_join_all;
use super::query::{Query, symbols_param};
use super::wire::{self, Account, AvgPrice, EarnPosition, EarnProduct, ExchangeInfo, Page, SpotBalance};
use crate::domain::rules::SymbolRules;
use crate::domain::snapshot::{AssetBalance, Kline, MarketData, Series};
use crate::indicators::{BTC_LOOKBACK_DAYS, TREND_LOOKBACK_DAYS};
use crate::ports::MarketRequest;

pub const BTC_SYMBOL: &str = "BTCUSDT";
/// Binance's maximum `limit` for klines.
const KLINE_PAGE: usize = 1000;
const DAY_MS: i64 = 86_400_000;
/// Symbols per `exchangeInfo?symbols=` request (keeps the URL short).
const EXCHANGE_INFO_BATCH: usize = 100;
/// Simple Earn's maximum page size.
const EARN_PAGE: u64 = 100;
/// More pages than this means something is wrong with `total`.
const MAX_EARN_PAGES: u64 = 50;
/// Binance's "Invalid symbol." code: a delisted or mistyped pool symbol.
const INVALID_SYMBOL: i64 = -1121;

/// One answer of the fan-out.
enum Part {
    Account(Vec<SpotBalance>),
    Positions(Vec<EarnPosition>),
    Products(Vec<EarnProduct>),
    Rules(BTreeMap<String, SymbolRules>),
    /// `None`: Binance does not know the symbol.
    Price(String, Option<Decimal>),
    Klines(String, Option<Vec<Kline>>),
    /// Simple Earn answered 404 on the spot testnet: why.
    EarnUnavailable(String),
}

type PartFuture<'a> = Pin<Box<dyn Future<Output = Result<Part, Failure>> + 'a>>;

/// `testnet`: Simple Earn answering 404 means the exchange has none (the
/// spot testnet); the snapshot then leaves Earn out and says why.
pub async fn snapshot(t: &Transport, req: &MarketRequest, now_ms: i64, testnet: bool) -> Result<MarketData, Failure> {
    let symbols = unique(req.symbols.iter());
    let kline_symbols: Vec<String> = unique(req.kline_symbols.iter()).into_iter().filter(|s| s != BTC_SYMBOL).collect();

    let mut jobs: Vec<PartFuture<'_>> = vec![
        Box::pin(async {
            t.signed_get::<Account>("/api/v3/account", &Query::new().with("omitZeroBalances", "true"))
                .await
                .map(|a| Part::Account(a.balances))
        }),
        Box::pin(async move { earn_list(t, "/sapi/v1/simple-earn/flexible/position", testnet, Part::Positions).await }),
        Box::pin(async move { earn_list(t, "/sapi/v1/simple-earn/flexible/list", testnet, Part::Products).await }),
    ];
    for batch in symbols.chunks(EXCHANGE_INFO_BATCH) {
        jobs.push(Box::pin(async move { rules(t, batch).await.map(Part::Rules) }));
    }
    for symbol in &symbols {
        jobs.push(Box::pin(async move { avg_price(t, symbol).await.map(|p| Part::Price(symbol.clone(), p)) }));
    }
    for symbol in &kline_symbols {
        jobs.push(Box::pin(async move {
            daily_klines(t, symbol, TREND_LOOKBACK_DAYS, now_ms).await.map(|k| Part::Klines(symbol.clone(), k))
        }));
    }
    jobs.push(Box::pin(async move {
        daily_klines(t, BTC_SYMBOL, BTC_LOOKBACK_DAYS, now_ms).await.map(|k| Part::Klines(BTC_SYMBOL.to_string(), k))
    }));

    let mut spot = Vec::new();
    let mut positions = Vec::new();
    let mut products = Vec::new();
    let mut rules_by_symbol = BTreeMap::new();
    let mut prices = BTreeMap::new();
    let mut series = BTreeMap::new();
    let mut btc = Vec::new();
    let mut earn_unavailable = None;
    for part in try_join_all(jobs).await? {
        match part {
            Part::Account(b) => spot = b,
            Part::Positions(p) => positions = p,
            Part::Products(p) => products = p,
            Part::Rules(r) => rules_by_symbol.extend(r),
            Part::Price(s, Some(p)) => {
                prices.insert(s, p);
            }
            Part::Klines(s, Some(k)) if s == BTC_SYMBOL => btc = k,
            Part::Klines(s, Some(k)) => {
                series.insert(s, k);
            }
            Part::EarnUnavailable(why) => earn_unavailable = Some(why),
            Part::Price(s, None) | Part::Klines(s, None) => {
                tracing::warn!(symbol = %s, "Binance does not know this symbol (-1121); it is left out of the snapshot");
            }
        }
    }
    for receipt in unmatched_earn_receipts(&req.assets, &spot, &positions) {
        tracing::warn!(asset = %receipt, "account lists a Simple Earn receipt without a matching flexible position; it is not counted");
    }
    Ok(MarketData {
        balances: assemble_balances(&req.assets, &spot, &positions),
        prices,
        rules: rules_by_symbol,
        earn_products: earn_product_ids(&req.assets, &products, &positions),
        series: Series::Klines { btc, symbols: series },
        earn_unavailable,
    })
}

/// One Simple Earn list. A 404 on the testnet is "no Simple Earn here";
/// elsewhere it fails the snapshot (production always has Simple Earn, and
/// leaving Earn money out would read as a withdrawal), naming the setting
/// for the case that it is the testnet after all.
async fn earn_list<T: DeserializeOwned>(
    t: &Transport,
    path: &str,
    testnet: bool,
    part: fn(Vec<T>) -> Part,
) -> Result<Part, Failure> {
    match all_pages(t, path).await {
        Ok(rows) => Ok(part(rows)),
        Err(f) if is_not_found(&f) && testnet => Ok(Part::EarnUnavailable(f.detail)),
        Err(f) if is_not_found(&f) => Err(Failure {
            detail: format!(
                "{} (on Binance's spot testnet, which has no Simple Earn, set BINANCE_TESTNET=1)",
                f.detail
            ),
            ..f
        }),
        Err(f) => Err(f),
    }
}

/// An HTTP 404 without a Binance error body: the endpoint does not exist.
/// (`Failure` keeps no status; `classify_response` writes it into the
/// detail as `<what>: HTTP <status>`.)
fn is_not_found(f: &Failure) -> bool {
    f.outcome == Outcome::Rejected && f.code.is_none() && f.detail.contains(": HTTP 404")
}

/// `free` of one asset on the spot account.
pub async fn spot_free(t: &Transport, asset: &str) -> Result<Decimal, Failure> {
    let account: Account = t.signed_get("/api/v3/account", &Query::new().with("omitZeroBalances", "true")).await?;
    Ok(account.balances.iter().find(|b| b.asset == asset).map(|b| b.free).unwrap_or_default())
}

fn unique<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.filter(|s| seen.insert(s.as_str())).cloned().collect()
}

/// Whether `asset` is `LD<X>`, Binance's spot-account mirror of a Simple
/// Earn flexible holding of X. Only then, since real coins start with "LD"
/// too (LDO): X must be an asset we track or one with an Earn position.
pub fn is_earn_receipt(asset: &str, requested: &[String], earn_assets: &BTreeSet<&str>) -> bool {
    match asset.strip_prefix("LD") {
        Some(x) if !x.is_empty() => requested.iter().any(|a| a == x) || earn_assets.contains(x),
        _ => false,
    }
}

/// Balances of the requested assets: spot free/locked from the account,
/// Earn from the flexible positions (summed per asset). `LD<X>` receipts
/// are not spot holdings and are never added on top of the position.
pub fn assemble_balances(
    requested: &[String],
    spot: &[SpotBalance],
    positions: &[EarnPosition],
) -> BTreeMap<String, AssetBalance> {
    let mut earn: BTreeMap<&str, Decimal> = BTreeMap::new();
    for p in positions {
        *earn.entry(p.asset.as_str()).or_default() += p.total_amount;
    }
    let earn_assets: BTreeSet<&str> = earn.keys().copied().collect();
    requested
        .iter()
        .map(|asset| {
            let row = spot.iter().find(|b| &b.asset == asset && !is_earn_receipt(&b.asset, requested, &earn_assets));
            let balance = AssetBalance {
                free: row.map(|b| b.free).unwrap_or_default(),
                locked: row.map(|b| b.locked).unwrap_or_default(),
                earn: earn.get(asset.as_str()).copied().unwrap_or_default(),
            };
            (asset.clone(), balance)
        })
        .collect()
}

/// `LD<X>` receipts with a balance for a requested X that has no flexible
/// position: Earn we can see on the account but not value safely.
pub fn unmatched_earn_receipts(requested: &[String], spot: &[SpotBalance], positions: &[EarnPosition]) -> Vec<String> {
    let earn_assets: BTreeSet<&str> = positions.iter().map(|p| p.asset.as_str()).collect();
    spot.iter()
        .filter(|b| b.free + b.locked > Decimal::ZERO)
        .filter_map(|b| b.asset.strip_prefix("LD").map(|x| (b, x)))
        .filter(|(_, x)| requested.iter().any(|a| a == x) && !earn_assets.contains(x))
        .map(|(b, _)| b.asset.clone())
        .collect()
}

/// Product id per requested asset: the first listed flexible product, or
/// failing that (a product closed to new subscriptions) the product of an
/// existing position, which is still redeemable.
pub fn earn_product_ids(
    requested: &[String],
    products: &[EarnProduct],
    positions: &[EarnPosition],
) -> BTreeMap<String, String> {
    requested
        .iter()
        .filter_map(|asset| {
            let listed = products.iter().find(|p| &p.asset == asset).map(|p| p.product_id.clone());
            let held = || positions.iter().find(|p| &p.asset == asset).map(|p| p.product_id.clone());
            listed.or_else(held).map(|id| (asset.clone(), id))
        })
        .collect()
}

/// Reads every page of a Simple Earn list: the first page says how many
/// rows there are, the rest are fetched together.
async fn all_pages<T: DeserializeOwned>(t: &Transport, path: &str) -> Result<Vec<T>, Failure> {
    let page_query = |n: u64| Query::new().with("current", n.to_string()).with("size", EARN_PAGE.to_string());
    let first: Page<T> = t.signed_get(path, &page_query(1)).await?;
    let pages = earn_pages(first.total, first.rows.len() as u64);
    let mut rows = first.rows;
    let rest = try_join_all((2..=pages).map(|n| {
        let query = page_query(n);
        async move { t.signed_get::<Page<T>>(path, &query).await }
    }))
    .await?;
    for page in rest {
        rows.extend(page.rows);
    }
    Ok(rows)
}

/// Pages to read given the first page's `total` and row count. A short
/// first page means it was the only one (also when `total` is missing).
pub fn earn_pages(total: u64, first_rows: u64) -> u64 {
    if first_rows < EARN_PAGE || total <= first_rows { 1 } else { total.div_ceil(EARN_PAGE).min(MAX_EARN_PAGES) }
}

/// Rules of a batch of symbols. Binance refuses the whole batch when one
/// symbol is unknown; the batch is then read one symbol at a time and the
/// unknown ones are left out.
async fn rules(t: &Transport, batch: &[String]) -> Result<BTreeMap<String, SymbolRules>, Failure> {
    let query = Query::new().with("symbols", symbols_param(batch));
    match t.public::<ExchangeInfo>("/api/v3/exchangeInfo", &query).await {
        Ok(info) => parse_rules(&info),
        Err(f) if f.code == Some(INVALID_SYMBOL) && batch.len() > 1 => {
            let singles = try_join_all(batch.iter().map(|symbol| async move {
                let query = Query::new().with("symbol", symbol.clone());
                match t.public::<ExchangeInfo>("/api/v3/exchangeInfo", &query).await {
                    Ok(info) => parse_rules(&info),
                    Err(f) if f.code == Some(INVALID_SYMBOL) => {
                        tracing::warn!(symbol = %symbol, "Binance does not know this symbol (-1121); no trading rules");
                        Ok(BTreeMap::new())
                    }
                    Err(f) => Err(f),
                }
            }))
            .await?;
            Ok(singles.into_iter().flatten().collect())
        }
        Err(f) => Err(f),
    }
}

fn parse_rules(info: &ExchangeInfo) -> Result<BTreeMap<String, SymbolRules>, Failure> {
    info.rules().map_err(|e| Failure::new(Outcome::Transient, format!("GET /api/v3/exchangeInfo: bad filter: {e}")))
}

async fn avg_price(t: &Transport, symbol: &str) -> Result<Option<Decimal>, Failure> {
    match t.public::<AvgPrice>("/api/v3/avgPrice", &Query::new().with("symbol", symbol)).await {
        Ok(p) => Ok(Some(p.price)),
        Err(f) if f.code == Some(INVALID_SYMBOL) => Ok(None),
        Err(f) => Err(f),
    }
}

/// Daily klines from `days` ago until now (the last one is the current,
/// still open day), paged by `limit`=1000.
async fn daily_klines(t: &Transport, symbol: &str, days: u32, now_ms: i64) -> Result<Option<Vec<Kline>>, Failure> {
    let end = now_ms;
    let mut start = end - i64::from(days) * DAY_MS;
    let mut klines: Vec<Kline> = Vec::new();
    loop {
        let query = Query::new()
            .with("symbol", symbol)
            .with("interval", "1d")
            .with("startTime", start.to_string())
            .with("endTime", end.to_string())
            .with("limit", KLINE_PAGE.to_string());
        let rows: Vec<Vec<Value>> = match t.public("/api/v3/klines", &query).await {
            Ok(rows) => rows,
            Err(f) if f.code == Some(INVALID_SYMBOL) => return Ok(None),
            Err(f) => return Err(f),
        };
        let page = wire::parse_klines(&rows)
            .map_err(|e| Failure::new(Outcome::Transient, format!("GET /api/v3/klines {symbol}: {e}")))?;
        let next = next_kline_start(page.len(), page.last().map(|k| k.open_time), start, end);
        klines.extend(page);
        match next {
            Some(s) => start = s,
            None => return Ok(Some(klines)),
        }
    }
}

/// Where the next kline page starts, or `None` when this page was the
/// last: it was short, reached `end`, or did not move forward.
pub fn next_kline_start(rows: usize, last_open: Option<i64>, start: i64, end: i64) -> Option<i64> {
    let last = last_open?;
    (rows >= KLINE_PAGE && last >= start && last + 1 < end).then_some(last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn spot(asset: &str, free: Decimal, locked: Decimal) -> SpotBalance {
        SpotBalance { asset: asset.into(), free, locked }
    }

    fn position(asset: &str, product: &str, amount: Decimal) -> EarnPosition {
        EarnPosition { asset: asset.into(), product_id: product.into(), total_amount: amount }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn earn_is_counted_once_and_ldo_is_a_coin() {
        let requested = names(&["USDT", "BTC", "LDO", "ETH"]);
        let account = vec![
            spot("USDT", dec!(512.33), dec!(10)),
            spot("LDUSDT", dec!(1500.12345678), dec!(0)),
            spot("BTC", dec!(0.0123), dec!(0)),
            spot("LDBTC", dec!(0.5), dec!(0)),
            spot("LDO", dec!(42), dec!(0)),
        ];
        let positions = vec![position("USDT", "USDT001", dec!(1500.12345678)), position("BTC", "BTC001", dec!(0.5))];
        let b = assemble_balances(&requested, &account, &positions);
        assert_eq!(b["USDT"], AssetBalance { free: dec!(512.33), locked: dec!(10), earn: dec!(1500.12345678) });
        assert_eq!(b["USDT"].total(), dec!(2022.45345678), "not 3522.57: LDUSDT is the same Earn holding");
        assert_eq!(b["BTC"], AssetBalance { free: dec!(0.0123), locked: dec!(0), earn: dec!(0.5) });
        assert_eq!(b["LDO"], AssetBalance { free: dec!(42), ..Default::default() }, "LDO is Lido, not Earn of O");
        assert_eq!(b["ETH"], AssetBalance::default(), "requested but absent: zero");
        assert!(!b.contains_key("LDUSDT"));
    }

    #[test]
    fn receipt_rule() {
        let requested = names(&["USDT", "LDO"]);
        let earn: BTreeSet<&str> = ["BNB"].into_iter().collect();
        assert!(is_earn_receipt("LDUSDT", &requested, &earn));
        assert!(is_earn_receipt("LDBNB", &requested, &earn), "X has an Earn position");
        assert!(!is_earn_receipt("LDO", &requested, &earn), "O is neither requested nor in Earn");
        assert!(!is_earn_receipt("LD", &requested, &earn));
        assert!(!is_earn_receipt("USDT", &requested, &earn));
        // A requested LDUSDT (nobody should) is a receipt when USDT is tracked.
        let b = assemble_balances(&names(&["USDT", "LDUSDT"]), &[spot("LDUSDT", dec!(5), dec!(0))], &[]);
        assert_eq!(b["LDUSDT"], AssetBalance::default());
    }

    #[test]
    fn receipts_without_positions_are_reported() {
        let requested = names(&["USDT", "BTC", "LDO"]);
        let account =
            vec![spot("LDUSDT", dec!(100), dec!(0)), spot("LDBTC", dec!(0), dec!(0)), spot("LDO", dec!(1), dec!(0))];
        assert_eq!(unmatched_earn_receipts(&requested, &account, &[]), vec!["LDUSDT".to_string()]);
        let positions = vec![position("USDT", "USDT001", dec!(100))];
        assert!(unmatched_earn_receipts(&requested, &account, &positions).is_empty());
    }

    #[test]
    fn positions_are_summed_and_products_picked() {
        let positions = vec![
            position("USDT", "USDT001", dec!(10)),
            position("USDT", "USDT001", dec!(5)),
            position("DOT", "DOT002", dec!(3)),
        ];
        let b = assemble_balances(&names(&["USDT"]), &[], &positions);
        assert_eq!(b["USDT"].earn, dec!(15));
        let products = vec![
            EarnProduct { asset: "USDT".into(), product_id: "USDT001".into() },
            EarnProduct { asset: "USDT".into(), product_id: "USDT999".into() },
            EarnProduct { asset: "ETH".into(), product_id: "ETH001".into() },
        ];
        let ids = earn_product_ids(&names(&["USDT", "DOT", "SOL"]), &products, &positions);
        assert_eq!(ids.get("USDT").map(String::as_str), Some("USDT001"), "first listed product");
        assert_eq!(ids.get("DOT").map(String::as_str), Some("DOT002"), "from the position when not listed");
        assert!(!ids.contains_key("SOL") && !ids.contains_key("ETH"));
    }

    #[test]
    fn paging_arithmetic() {
        assert_eq!(earn_pages(0, 0), 1);
        assert_eq!(earn_pages(7, 7), 1);
        assert_eq!(earn_pages(100, 100), 1);
        assert_eq!(earn_pages(101, 100), 2);
        assert_eq!(earn_pages(350, 100), 4);
        assert_eq!(earn_pages(350, 350), 1, "a server that ignores size");
        assert_eq!(earn_pages(1_000_000, 100), MAX_EARN_PAGES);
        let day = DAY_MS;
        assert_eq!(next_kline_start(420, Some(10 * day), 0, 11 * day), None, "short page");
        assert_eq!(next_kline_start(1000, Some(999 * day), 0, 1500 * day), Some(999 * day + 1));
        assert_eq!(next_kline_start(1000, Some(1500 * day), 0, 1500 * day), None, "reached the end");
        assert_eq!(next_kline_start(1000, Some(5), 10, 1500 * day), None, "did not move forward");
        assert_eq!(next_kline_start(0, None, 0, day), None);
    }
}
