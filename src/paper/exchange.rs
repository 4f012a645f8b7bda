//! An in-process exchange seeded from a fixture set. Replay only reads it;
//! paper mode also trades on it: MARKET orders fill at the fixture's
//! average price with a 0.1% fee taken from what is received, balances
//! move, Earn subscribes and redeems settle at once. It never touches the
//! network.
//!
//! `tradecycle backtest run` drives the same simulator from history: it sets
//! the cycle's prices and finished klines before each cycle
//! ([`SimExchange::set_market`]), prices fills with [`FillCosts`] (fee rate,
//! slippage against the taker, the BNB fee discount) and accrues Simple Earn
//! interest between cycles ([`SimExchange::accrue_earn`]). The defaults are
//! paper's behaviour, unchanged.
//!
//! Every fill is also written to a fill log ([`SimExchange::fills_since`]):
//! what the backtest's invariants check the account against (no client id
//! filled twice, every balance change explained by a fill).

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal_macros::dec;

use crate::domain::client_order_id::ClientOrderId;
use crate::domain::intent::{Commission, Side};
use crate::domain::snapshot::{AssetBalance, Kline, MarketData, Series};
use crate::indicators::{BTC_LOOKBACK_DAYS, TREND_LOOKBACK_DAYS};
use crate::paper::account::synthetic_klines;
use crate::paper::fixture::FixtureSet;
use crate::ports::{ApiRestrictions, Exchange, MarketRequest, OrderReport, OrderRequest, OrderStatus, PortError};

/// Taker fee charged on paper fills.
pub const PAPER_FEE: Decimal = dec!(0.001);

/// Share of the taker fee Binance charges when it is paid in BNB.
pub const BNB_FEE_SHARE: Decimal = dec!(0.75);

/// How a fill is priced and charged. The default is paper's: a 0.1% fee
/// taken from what is received, no slippage, no BNB discount.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillCosts {
    /// Taker fee rate (0.001 = 0.1%).
    pub fee_rate: Decimal,
    /// Fills this many basis points worse than the reference price
    /// (higher for a buy, lower for a sell).
    pub slippage_bps: Decimal,
    /// Pay the fee in BNB at [`BNB_FEE_SHARE`] of the rate whenever the
    /// free BNB covers it (Binance's "use BNB for fees"); otherwise the full
    /// fee comes out of what is received.
    pub bnb_discount: bool,
    /// A `quoteOrderQty` buy spends only what the filled quantity cost, as
    /// on Binance; paper has always charged the whole quote amount for the
    /// quantity floored to the step (kept as its default).
    pub spend_filled_quote: bool,
}

impl Default for FillCosts {
    fn default() -> Self {
        FillCosts { fee_rate: PAPER_FEE, slippage_bps: Decimal::ZERO, bnb_discount: false, spend_filled_quote: false }
    }
}

/// Each symbol's daily klines, shared between cycles (a backtest reads its
/// history once), and the part of each one cycle sees: setting the next
/// cycle's market moves the windows, it copies no candle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KlineWindows {
    series: Arc<BTreeMap<String, Vec<Kline>>>,
    visible: BTreeMap<String, Range<usize>>,
}

impl KlineWindows {
    /// `series`, of which nothing is visible yet.
    pub fn new(series: Arc<BTreeMap<String, Vec<Kline>>>) -> Self {
        KlineWindows { series, visible: BTreeMap::new() }
    }

    /// Every candle of `series` visible.
    pub fn whole(series: BTreeMap<String, Vec<Kline>>) -> Self {
        let visible = series.iter().map(|(s, k)| (s.clone(), 0..k.len())).collect();
        KlineWindows { series: Arc::new(series), visible }
    }

    /// Makes `range` of `symbol`'s klines the visible part (none when the
    /// symbol has no series or the range is outside it).
    pub fn show(&mut self, symbol: &str, range: Range<usize>) {
        if self.series.get(symbol).is_some_and(|k| k.get(range.clone()).is_some()) {
            self.visible.insert(symbol.to_string(), range);
        }
    }

    /// The visible klines of `symbol`.
    pub fn get(&self, symbol: &str) -> Option<&[Kline]> {
        let range = self.visible.get(symbol)?;
        self.series.get(symbol)?.get(range.clone())
    }

    /// Every symbol with visible klines, and those klines.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &[Kline])> {
        self.visible.keys().filter_map(|s| Some((s, self.get(s)?)))
    }
}

pub struct SimExchange {
    fixtures: FixtureSet,
    prices: BTreeMap<String, Decimal>,
    /// Serve synthetic daily klines ending at this time instead of the
    /// fixture's injected indicators.
    synthetic_until: Option<DateTime<Utc>>,
    /// Finished daily klines per symbol served as the series (backtests);
    /// takes precedence over the fixture's indicators.
    history: Option<KlineWindows>,
    costs: FillCosts,
    book: Mutex<Book>,
}

struct Book {
    balances: BTreeMap<String, AssetBalance>,
    orders: BTreeMap<ClientOrderId, OrderReport>,
    next_order_id: i64,
    fills: Vec<FillRecord>,
}

/// One fill as it moved the balances: `spent` of `spent_asset` out,
/// `got` of `got_asset` in, then `fee` of `fee_asset` out.
#[derive(Debug, Clone, PartialEq)]
pub struct FillRecord {
    pub client_order_id: String,
    pub symbol: String,
    pub spent_asset: String,
    pub spent: Decimal,
    pub got_asset: String,
    pub got: Decimal,
    pub fee_asset: String,
    pub fee: Decimal,
}

impl SimExchange {
    pub fn new(fixtures: FixtureSet) -> Self {
        let (balances, prices) = (fixtures.balances.clone(), fixtures.prices.clone());
        Self::with_account(fixtures, balances, prices)
    }

    /// A fixture set's rules and indicators with another account's balances
    /// and prices (paper mode carries those from run to run).
    pub fn with_account(
        fixtures: FixtureSet,
        balances: BTreeMap<String, AssetBalance>,
        prices: BTreeMap<String, Decimal>,
    ) -> Self {
        SimExchange {
            fixtures,
            prices,
            synthetic_until: None,
            history: None,
            costs: FillCosts::default(),
            book: Mutex::new(Book { balances, orders: BTreeMap::new(), next_order_id: 1, fills: Vec::new() }),
        }
    }

    /// Serves synthetic klines (see [`crate::paper::account::synthetic_klines`]) ending
    /// at `end`, so the indicator code runs as it does live.
    pub fn with_synthetic_klines(mut self, end: DateTime<Utc>) -> Self {
        self.synthetic_until = Some(end);
        self
    }

    /// Prices and charges fills with `costs` instead of paper's defaults.
    pub fn with_costs(mut self, costs: FillCosts) -> Self {
        self.costs = costs;
        self
    }

    /// The market of the next cycle: reference prices, and the daily
    /// klines the cycle may see (already cut to finished candles and to the
    /// lookback the live adapter fetches).
    pub fn set_market(&mut self, prices: BTreeMap<String, Decimal>, klines: KlineWindows) {
        self.prices = prices;
        self.history = Some(klines);
    }

    /// Adds Simple Earn interest: every Earn balance grows by `rate` (the
    /// APR times the share of a year since the last accrual), rounded to 8
    /// decimals.
    pub fn accrue_earn(&self, rate: Decimal) {
        if let Ok(mut book) = self.book.lock() {
            for balance in book.balances.values_mut() {
                balance.earn += (balance.earn * rate).round_dp(8);
            }
        }
    }

    /// How many fills the log holds.
    pub fn fill_count(&self) -> usize {
        self.book.lock().map(|b| b.fills.len()).unwrap_or_default()
    }

    /// The fills from the `from`th on, oldest first.
    pub fn fills_since(&self, from: usize) -> Vec<FillRecord> {
        self.book.lock().map(|b| b.fills.get(from..).unwrap_or_default().to_vec()).unwrap_or_default()
    }

    /// Test-only sabotage (`backtest run --test-double-book`): writes the
    /// last fill to the log a second time, as a simulator that booked one
    /// fill twice would, so the invariant check can be seen to catch it.
    pub fn double_book_last_fill(&self) {
        if let Ok(mut book) = self.book.lock()
            && let Some(last) = book.fills.last().cloned()
        {
            book.fills.push(last);
        }
    }

    fn series(&self, req: &MarketRequest) -> Series {
        let f = &self.fixtures;
        if let Some(history) = &self.history {
            return Series::Klines {
                btc: history.get("BTCUSDT").unwrap_or_default().to_vec(),
                symbols: req.kline_symbols.iter().filter_map(|s| Some((s.clone(), history.get(s)?.to_vec()))).collect(),
            };
        }
        let Some(end) = self.synthetic_until else {
            return Series::Injected {
                btc: f.btc.clone(),
                indicators: req
                    .kline_symbols
                    .iter()
                    .filter_map(|s| f.indicators.get(s).map(|i| (s.clone(), i.clone())))
                    .collect(),
            };
        };
        let klines = |symbol: &str, days: u32| {
            let price = self.prices.get(symbol).and_then(|p| p.to_f64()).unwrap_or(0.0);
            synthetic_klines(symbol, price, days as usize, end)
        };
        Series::Klines {
            btc: klines("BTCUSDT", BTC_LOOKBACK_DAYS),
            symbols: req.kline_symbols.iter().map(|s| (s.clone(), klines(s, TREND_LOOKBACK_DAYS))).collect(),
        }
    }

    /// Balances after whatever was traded (paper mode persists these).
    pub fn balances(&self) -> BTreeMap<String, AssetBalance> {
        self.book.lock().map(|b| b.balances.clone()).unwrap_or_default()
    }

    fn with_book<T>(&self, f: impl FnOnce(&mut Book) -> Result<T, PortError>) -> Result<T, PortError> {
        let mut book = self.book.lock().map_err(|_| PortError::Retryable("simulated exchange lock poisoned".into()))?;
        f(&mut book)
    }

    /// The price a market order fills at: the reference price moved
    /// against the taker by the slippage.
    fn fill_price(&self, price: Decimal, side: Side) -> Decimal {
        let slip = self.costs.slippage_bps / dec!(10000);
        match side {
            Side::Buy => price * (Decimal::ONE + slip),
            Side::Sell => price * (Decimal::ONE - slip),
        }
    }

    /// The fee of a fill worth `quote` USDT paid in BNB at the discounted
    /// rate; `None` without the discount or without a BNB price.
    fn bnb_fee(&self, quote: Decimal) -> Option<Decimal> {
        if !self.costs.bnb_discount {
            return None;
        }
        let bnb_price = self.prices.get("BNBUSDT").copied().filter(|p| *p > Decimal::ZERO)?;
        Some((quote * self.costs.fee_rate * BNB_FEE_SHARE / bnb_price).round_dp(8))
    }

    fn base_of(symbol: &str) -> Result<&str, PortError> {
        symbol.strip_suffix("USDT").ok_or_else(|| PortError::Definitive(format!("-1121 invalid symbol {symbol}")))
    }
}

/// An order as a lookup shows it: Binance's query and order list carry no
/// commissions.
fn as_looked_up(order: &OrderReport) -> OrderReport {
    OrderReport { commissions: Vec::new(), ..order.clone() }
}

impl Exchange for SimExchange {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError> {
        let f = &self.fixtures;
        let balances = self.balances();
        let pick = |keys: &[String]| keys.iter().filter_map(|k| self.prices.get(k).map(|p| (k.clone(), *p))).collect();
        Ok(MarketData {
            balances: req.assets.iter().map(|a| (a.clone(), balances.get(a).copied().unwrap_or_default())).collect(),
            prices: pick(&req.symbols),
            rules: req.symbols.iter().filter_map(|s| f.rules.get(s).map(|r| (s.clone(), r.clone()))).collect(),
            earn_products: f.earn_products.clone(),
            series: self.series(req),
            earn_unavailable: None,
        })
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<OrderReport, PortError> {
        let price = *self
            .prices
            .get(&order.symbol)
            .ok_or_else(|| PortError::Definitive(format!("-1121 invalid symbol {}", order.symbol)))?;
        let rules = self.fixtures.rules.get(&order.symbol).cloned().unwrap_or_default();
        let base = Self::base_of(&order.symbol)?.to_string();
        let fill_price = self.fill_price(price, order.side);
        let (qty, quote) = match (order.quantity, order.quote_order_qty) {
            (Some(q), None) => {
                if rules.fit_market_qty(q, price).ok() != Some(q) {
                    return Err(PortError::Definitive(format!(
                        "-1013 Filter failure: quantity {q} does not fit {}",
                        order.symbol
                    )));
                }
                (q, (q * fill_price).round_dp(8))
            }
            (None, Some(quote)) if order.side == Side::Buy => {
                rules.check_notional(quote).map_err(|e| PortError::Definitive(format!("-1013 Filter failure: {e}")))?;
                let qty = ((quote / fill_price) / rules.market_step()).floor() * rules.market_step();
                let spent = if self.costs.spend_filled_quote { (qty * fill_price).round_dp(8) } else { quote };
                (qty, spent)
            }
            _ => return Err(PortError::Definitive("-1102 send either quantity or quoteOrderQty".into())),
        };
        self.with_book(|book| {
            if book.orders.contains_key(&order.client_order_id) {
                // Binance refuses a reused id only while the first order is open;
                // the simulator is stricter so tests notice any duplicate.
                return Err(PortError::Definitive("-2010 Duplicate order sent.".into()));
            }
            let (spend_asset, spend) = match order.side {
                Side::Buy => ("USDT".to_string(), quote),
                Side::Sell => (base.clone(), qty),
            };
            let have = book.balances.get(&spend_asset).map(|b| b.free).unwrap_or_default();
            if have < spend {
                return Err(PortError::Definitive(format!(
                    "-2010 Account has insufficient balance for requested action ({spend_asset}: need {spend}, free {have})"
                )));
            }
            let (got_asset, got) = match order.side {
                Side::Buy => (base.clone(), qty),
                Side::Sell => ("USDT".to_string(), quote),
            };
            book.balances.entry(spend_asset.clone()).or_default().free -= spend;
            let bnb_fee = self.bnb_fee(quote).filter(|fee| {
                let bnb_free = book.balances.get("BNB").map(|b| b.free).unwrap_or_default();
                let bought_bnb = if got_asset == "BNB" { got } else { Decimal::ZERO };
                bnb_free + bought_bnb >= *fee
            });
            let commission = match bnb_fee {
                Some(fee) => {
                    book.balances.entry(got_asset.clone()).or_default().free += got;
                    book.balances.entry("BNB".into()).or_default().free -= fee;
                    Commission { asset: "BNB".into(), amount: fee }
                }
                None => {
                    let fee = (got * self.costs.fee_rate).round_dp(8);
                    book.balances.entry(got_asset.clone()).or_default().free += got - fee;
                    Commission { asset: got_asset.clone(), amount: fee }
                }
            };
            let report = OrderReport {
                symbol: order.symbol.clone(),
                client_order_id: order.client_order_id.clone(),
                order_id: book.next_order_id,
                status: OrderStatus::Filled,
                executed_qty: qty,
                cummulative_quote_qty: quote,
                commissions: vec![commission.clone()],
                side: Some(order.side),
                time: None,
            };
            book.fills.push(FillRecord {
                client_order_id: order.client_order_id.as_str().to_string(),
                symbol: order.symbol.clone(),
                spent_asset: spend_asset,
                spent: spend,
                got_asset: got_asset.clone(),
                got,
                fee_asset: commission.asset.clone(),
                fee: commission.amount,
            });
            book.next_order_id += 1;
            book.orders.insert(order.client_order_id.clone(), report.clone());
            Ok(report)
        })
    }

    /// Like Binance's lookup, without the commissions (see
    /// [`Exchange::order_commissions`]).
    async fn query_order(&self, _symbol: &str, client_order_id: &str) -> Result<Option<OrderReport>, PortError> {
        self.with_book(|book| Ok(book.orders.get(client_order_id).map(as_looked_up)))
    }

    async fn orders_since(&self, symbol: &str, _since: DateTime<Utc>) -> Result<Vec<OrderReport>, PortError> {
        self.with_book(|book| Ok(book.orders.values().filter(|o| o.symbol == symbol).map(as_looked_up).collect()))
    }

    async fn order_commissions(&self, symbol: &str, order_id: i64) -> Result<Vec<Commission>, PortError> {
        self.with_book(|book| {
            let order = book.orders.values().find(|o| o.symbol == symbol && o.order_id == order_id);
            Ok(order.map(|o| o.commissions.clone()).unwrap_or_default())
        })
    }

    async fn earn_subscribe(&self, _product_id: &str, amount: Decimal) -> Result<(), PortError> {
        self.with_book(|book| {
            let b = book.balances.entry("USDT".into()).or_default();
            if b.free < amount {
                return Err(PortError::Definitive(format!("insufficient USDT to subscribe {amount}")));
            }
            b.free -= amount;
            b.earn += amount;
            Ok(())
        })
    }

    async fn earn_redeem(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        let asset = self
            .fixtures
            .earn_products
            .iter()
            .find(|(_, id)| id.as_str() == product_id)
            .map(|(a, _)| a.clone())
            .ok_or_else(|| PortError::Definitive(format!("unknown Earn product {product_id}")))?;
        self.with_book(|book| {
            let b = book.balances.entry(asset).or_default();
            if b.earn < amount {
                return Err(PortError::Definitive(format!("cannot redeem {amount}: only {} in Earn", b.earn)));
            }
            b.earn -= amount;
            b.free += amount;
            Ok(())
        })
    }

    async fn spot_free(&self, asset: &str) -> Result<Decimal, PortError> {
        self.with_book(|book| Ok(book.balances.get(asset).map(|b| b.free).unwrap_or_default()))
    }

    async fn api_restrictions(&self) -> Result<ApiRestrictions, PortError> {
        Ok(ApiRestrictions {
            enable_reading: true,
            enable_spot_and_margin_trading: true,
            enable_withdrawals: Some(false),
            ip_restrict: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sim(costs: FillCosts, usdt: Decimal, bnb: Decimal) -> SimExchange {
        let fixtures = FixtureSet::embedded_default().unwrap();
        let balances = BTreeMap::from([
            ("USDT".to_string(), AssetBalance { free: usdt, ..Default::default() }),
            ("BNB".to_string(), AssetBalance { free: bnb, ..Default::default() }),
        ]);
        let prices = BTreeMap::from([
            ("ETHUSDT".to_string(), dec!(2000)),
            ("BNBUSDT".to_string(), dec!(500)),
            ("BTCUSDT".to_string(), dec!(50000)),
        ]);
        SimExchange::with_account(fixtures, balances, prices).with_costs(costs)
    }

    fn order(side: Side, quantity: Option<Decimal>, quote: Option<Decimal>) -> OrderRequest {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap();
        OrderRequest {
            symbol: "ETHUSDT".into(),
            side,
            quantity,
            quote_order_qty: quote,
            client_order_id: ClientOrderId::for_slot(now, crate::domain::intent::IntentKind::TrendBuy, "ETHUSDT"),
        }
    }

    async fn place(x: &SimExchange, o: OrderRequest) -> OrderReport {
        x.place_order(&o).await.unwrap()
    }

    #[tokio::test]
    async fn paper_defaults_fill_at_the_price_and_take_the_fee_from_what_is_received() {
        let x = sim(FillCosts::default(), dec!(1000), dec!(1));
        let r = place(&x, order(Side::Buy, Some(dec!(0.1)), None)).await;
        assert_eq!((r.executed_qty, r.cummulative_quote_qty), (dec!(0.1), dec!(200)));
        assert_eq!(r.commissions, vec![Commission { asset: "ETH".into(), amount: dec!(0.0001) }]);
        assert_eq!(x.balances()["ETH"].free, dec!(0.0999));
        assert_eq!(x.balances()["BNB"].free, dec!(1), "no BNB discount in paper");
    }

    #[tokio::test]
    async fn slippage_moves_the_fill_against_the_taker_and_bnb_pays_the_discounted_fee() {
        let costs =
            FillCosts { fee_rate: dec!(0.001), slippage_bps: dec!(10), bnb_discount: true, spend_filled_quote: true };
        let x = sim(costs, dec!(1000), dec!(1));
        // 0.1 ETH at 2000 × 1.001 = 200.2 USDT; fee 200.2 × 0.00075 / 500 BNB.
        let r = place(&x, order(Side::Buy, Some(dec!(0.1)), None)).await;
        assert_eq!(r.cummulative_quote_qty, dec!(200.2));
        assert_eq!(r.commissions, vec![Commission { asset: "BNB".into(), amount: dec!(0.0003003) }]);
        let b = x.balances();
        assert_eq!((b["ETH"].free, b["USDT"].free, b["BNB"].free), (dec!(0.1), dec!(799.8), dec!(0.9996997)));
    }

    #[tokio::test]
    async fn without_enough_bnb_the_full_fee_comes_out_of_the_proceeds() {
        let costs =
            FillCosts { fee_rate: dec!(0.001), slippage_bps: dec!(10), bnb_discount: true, spend_filled_quote: true };
        let x = sim(costs, dec!(0), dec!(0.0001));
        x.book.lock().unwrap().balances.insert("ETH".into(), AssetBalance { free: dec!(1), ..Default::default() });
        // Sold at 2000 × 0.999 = 1998; the BNB fee (0.0029970) exceeds 0.0001 BNB.
        let r = place(&x, order(Side::Sell, Some(dec!(1)), None)).await;
        assert_eq!(r.cummulative_quote_qty, dec!(1998));
        assert_eq!(r.commissions, vec![Commission { asset: "USDT".into(), amount: dec!(1.998) }]);
        assert_eq!(x.balances()["USDT"].free, dec!(1996.002));
    }

    #[tokio::test]
    async fn a_quote_buy_spends_what_the_floored_quantity_cost_when_asked() {
        let costs = FillCosts { spend_filled_quote: true, ..FillCosts::default() };
        let x = sim(costs, dec!(1000), dec!(0));
        // 99.99 / 2000 = 0.049995 ETH, floored to 0.0499 (step 0.0001): 99.8 USDT.
        let r = place(&x, order(Side::Buy, None, Some(dec!(99.99)))).await;
        assert_eq!((r.executed_qty, r.cummulative_quote_qty), (dec!(0.0499), dec!(99.8)));
        let paper = sim(FillCosts::default(), dec!(1000), dec!(0));
        let r = place(&paper, order(Side::Buy, None, Some(dec!(99.99)))).await;
        assert_eq!(
            (r.executed_qty, r.cummulative_quote_qty),
            (dec!(0.0499), dec!(99.99)),
            "paper charges the whole quote"
        );
    }

    #[tokio::test]
    async fn earn_accrues_interest_and_history_replaces_the_series() {
        let mut x = sim(FillCosts::default(), dec!(1000), dec!(0));
        x.earn_subscribe("USDT001", dec!(500)).await.unwrap();
        x.accrue_earn(dec!(0.001));
        assert_eq!(x.balances()["USDT"].earn, dec!(500.5));
        let k = Kline { open_time: 0, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 };
        let klines = KlineWindows::whole(BTreeMap::from([("BTCUSDT".into(), vec![k])]));
        x.set_market(BTreeMap::from([("ETHUSDT".into(), dec!(3000))]), klines);
        let req =
            MarketRequest { assets: vec![], symbols: vec!["ETHUSDT".into()], kline_symbols: vec!["ETHUSDT".into()] };
        let m = x.market_data(&req).await.unwrap();
        assert_eq!(m.prices["ETHUSDT"], dec!(3000));
        assert_eq!(m.series, Series::Klines { btc: vec![k], symbols: BTreeMap::new() });
    }
}
