//! The fake account and exchange, behind one mutex: balances, Simple Earn
//! products and positions, symbols, prices, klines, orders, and the logs
//! tests inspect (requests, order attempts, fills, Earn calls).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::config::FakeBinanceConfig;
use super::errors::ApiError;
use super::faults::{Fault, FaultKind};
use super::klines::Kline;
use super::symbols::SymbolSpec;

/// Spot balance of one asset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    pub free: Decimal,
    pub locked: Decimal,
}

/// A Simple Earn flexible product.
#[derive(Debug, Clone, PartialEq)]
pub struct EarnProduct {
    pub product_id: String,
    pub asset: String,
    pub min_purchase_amount: Decimal,
    pub can_purchase: bool,
    pub can_redeem: bool,
    pub latest_annual_percentage_rate: Decimal,
    pub auto_subscribe: bool,
}

impl EarnProduct {
    /// An open product (`USDT001` style) with a minimum purchase of 0.1.
    pub fn new(asset: &str, product_id: &str) -> Self {
        EarnProduct {
            product_id: product_id.to_string(),
            asset: asset.to_string(),
            min_purchase_amount: Decimal::new(1, 1),
            can_purchase: true,
            can_redeem: true,
            latest_annual_percentage_rate: Decimal::new(5, 2),
            auto_subscribe: true,
        }
    }
}

/// `GET /sapi/v1/account/apiRestrictions` of the configured key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRestrictions {
    pub ip_restrict: bool,
    pub enable_reading: bool,
    pub enable_withdrawals: bool,
    pub enable_internal_transfer: bool,
    pub enable_margin: bool,
    pub enable_futures: bool,
    pub permits_universal_transfer: bool,
    pub enable_vanilla_options: bool,
    pub enable_fix_api_trade: bool,
    pub enable_fix_read_only: bool,
    /// When false, orders and Earn subscribe/redeem answer -2015.
    pub enable_spot_and_margin_trading: bool,
    pub enable_portfolio_margin_trading: bool,
    /// Leave `enableWithdrawals` out of the answer, as an older or
    /// changed API might: a client must not read that as "cannot withdraw".
    pub omit_enable_withdrawals: bool,
}

impl Default for ApiRestrictions {
    /// A sensible trading key: read + spot trading, no withdrawals.
    fn default() -> Self {
        ApiRestrictions {
            ip_restrict: false,
            enable_reading: true,
            enable_withdrawals: false,
            enable_internal_transfer: false,
            enable_margin: false,
            enable_futures: false,
            permits_universal_transfer: false,
            enable_vanilla_options: false,
            enable_fix_api_trade: false,
            enable_fix_read_only: false,
            enable_spot_and_margin_trading: true,
            enable_portfolio_margin_trading: false,
            omit_enable_withdrawals: false,
        }
    }
}

impl ApiRestrictions {
    pub fn to_json(&self, create_time: i64) -> Value {
        let mut answer = json!({
            "ipRestrict": self.ip_restrict,
            "createTime": create_time,
            "enableReading": self.enable_reading,
            "enableWithdrawals": self.enable_withdrawals,
            "enableInternalTransfer": self.enable_internal_transfer,
            "enableMargin": self.enable_margin,
            "enableFutures": self.enable_futures,
            "permitsUniversalTransfer": self.permits_universal_transfer,
            "enableVanillaOptions": self.enable_vanilla_options,
            "enableFixApiTrade": self.enable_fix_api_trade,
            "enableFixReadOnly": self.enable_fix_read_only,
            "enableSpotAndMarginTrading": self.enable_spot_and_margin_trading,
            "enablePortfolioMarginTrading": self.enable_portfolio_margin_trading,
        });
        if self.omit_enable_withdrawals
            && let Some(fields) = answer.as_object_mut()
        {
            fields.remove("enableWithdrawals");
        }
        answer
    }
}

/// Order side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// One trade of an order (a MARKET order fills in one trade here).
#[derive(Debug, Clone, PartialEq)]
pub struct FillRecord {
    pub symbol: String,
    pub order_id: i64,
    pub trade_id: i64,
    pub side: Side,
    pub price: Decimal,
    pub qty: Decimal,
    pub quote_qty: Decimal,
    pub commission: Decimal,
    pub commission_asset: String,
    pub time: i64,
}

/// An order the matching engine accepted (and, being MARKET, finished).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub symbol: String,
    pub order_id: i64,
    pub client_order_id: String,
    pub side: Side,
    /// `FILLED`, or `EXPIRED` when the book was too thin to fill it all.
    pub status: String,
    pub orig_qty: Decimal,
    pub executed_qty: Decimal,
    pub cummulative_quote_qty: Decimal,
    pub orig_quote_order_qty: Decimal,
    /// Server time of the fill, ms.
    pub time: i64,
    pub fills: Vec<FillRecord>,
}

/// How a `POST /api/v3/order` ended, as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// Executed; `status` is the order's (`FILLED` / `EXPIRED`). The client
    /// may still have seen an error if a fault replaced the answer.
    Executed { order_id: i64, status: String },
    /// Refused with this Binance error (auth, parameters, filters, funds).
    Rejected(ApiError),
    /// A fault answered (or dropped the connection) before execution.
    NotExecuted,
}

/// One `POST /api/v3/order` received, whatever became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderAttempt {
    /// Wall-clock ms when it arrived.
    pub at_ms: i64,
    pub symbol: Option<String>,
    pub side: Option<String>,
    pub quantity: Option<String>,
    pub quote_order_qty: Option<String>,
    pub client_order_id: Option<String>,
    pub outcome: AttemptOutcome,
    /// The injected fault that applied, if any.
    pub fault: Option<FaultKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarnCallKind {
    Subscribe,
    Redeem,
}

/// One Simple Earn subscribe or redeem call.
#[derive(Debug, Clone, PartialEq)]
pub struct EarnCall {
    /// When it was handled, on the Earn clock (ms).
    pub at_ms: i64,
    pub kind: EarnCallKind,
    pub product_id: Option<String>,
    pub amount: Option<Decimal>,
    pub redeem_all: bool,
    pub auto_subscribe: Option<bool>,
    pub dest_account: Option<String>,
    /// `purchaseId` / `redeemId`, or the error answered.
    pub outcome: Result<i64, ApiError>,
    /// For a redeem: the amount moved and when (Earn-clock ms) it reaches
    /// the destination account.
    pub credit: Option<(Decimal, i64)>,
}

/// One HTTP request received.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    /// Whether the endpoint is SIGNED (TRADE / USER_DATA).
    pub signed: bool,
    pub weight: u32,
    /// HTTP status answered; `None` when the connection was dropped (or the
    /// answer is still pending).
    pub status: Option<u16>,
    pub fault: Option<FaultKind>,
}

/// A redeem credit in transit to spot (or the funding wallet).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCredit {
    pub asset: String,
    pub amount: Decimal,
    pub due_ms: i64,
    pub to_funding: bool,
}

/// A fixed window counter (per minute for weights, 10 s / 1 day for orders).
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    start: i64,
    used: u32,
}

impl Window {
    pub fn add(&mut self, now_ms: i64, len_ms: i64, amount: u32) -> u32 {
        let start = now_ms - now_ms.rem_euclid(len_ms);
        if start != self.start {
            self.start = start;
            self.used = 0;
        }
        self.used = self.used.saturating_add(amount);
        self.used
    }

    pub fn current(&self, now_ms: i64, len_ms: i64) -> u32 {
        if now_ms - now_ms.rem_euclid(len_ms) == self.start { self.used } else { 0 }
    }
}

/// The clock Simple Earn follows (its rate limit, redeem credits and the
/// Earn call log), in ms since the epoch. The wall clock unless a test
/// installs a virtual one with [`super::FakeBinance::set_time_source`];
/// signed-request timestamps stay on the wall clock, so a virtual clock
/// that jumps ahead never trips the recvWindow check.
#[derive(Clone)]
pub struct TimeSource(pub Arc<dyn Fn() -> i64 + Send + Sync>);

impl std::fmt::Debug for TimeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TimeSource(..)")
    }
}

/// Everything the fake knows, shared between the server and the test.
#[derive(Debug)]
pub struct State {
    pub config: FakeBinanceConfig,
    /// `None`: the wall clock.
    pub time_source: Option<TimeSource>,
    pub balances: BTreeMap<String, Balance>,
    /// Funding wallet, reached only by redeems with `destAccount=FUND`.
    pub funding: BTreeMap<String, Decimal>,
    pub symbols: BTreeMap<String, SymbolSpec>,
    pub prices: BTreeMap<String, Decimal>,
    pub klines: BTreeMap<String, Vec<Kline>>,
    /// Candles of other intervals (`1h`, ...) by (symbol, interval); daily
    /// ones stay in `klines`.
    pub interval_klines: BTreeMap<(String, String), Vec<Kline>>,
    pub earn_products: BTreeMap<String, EarnProduct>,
    /// Flexible Earn holdings by product id.
    pub earn_positions: BTreeMap<String, Decimal>,
    pub pending_credits: Vec<PendingCredit>,
    pub restrictions: ApiRestrictions,
    pub orders: Vec<OrderRecord>,
    pub attempts: Vec<OrderAttempt>,
    pub earn_calls: Vec<EarnCall>,
    pub requests: Vec<RequestRecord>,
    pub faults: Vec<Fault>,
    /// Orders kept from queries: order id → lookups still to fail.
    pub hidden_orders: BTreeMap<i64, u32>,
    pub weight: Window,
    pub sapi_weight: Window,
    pub orders_10s: Window,
    pub orders_1d: Window,
    /// Earn-clock ms of the last Earn call the rate limit let through
    /// (subscribe or redeem: one budget per account).
    pub last_earn_call: Option<i64>,
    pub next_order_id: i64,
    pub next_trade_id: i64,
    pub next_earn_id: i64,
}

impl State {
    pub fn new(config: FakeBinanceConfig) -> Self {
        State {
            config,
            time_source: None,
            balances: BTreeMap::new(),
            funding: BTreeMap::new(),
            symbols: BTreeMap::new(),
            prices: BTreeMap::new(),
            klines: BTreeMap::new(),
            interval_klines: BTreeMap::new(),
            earn_products: BTreeMap::new(),
            earn_positions: BTreeMap::new(),
            pending_credits: Vec::new(),
            restrictions: ApiRestrictions::default(),
            orders: Vec::new(),
            attempts: Vec::new(),
            earn_calls: Vec::new(),
            requests: Vec::new(),
            faults: Vec::new(),
            hidden_orders: BTreeMap::new(),
            weight: Window::default(),
            sapi_weight: Window::default(),
            orders_10s: Window::default(),
            orders_1d: Window::default(),
            last_earn_call: None,
            next_order_id: 1,
            next_trade_id: 1,
            next_earn_id: 40_000,
        }
    }

    /// Now on the Earn clock (see [`TimeSource`]), ms.
    pub fn earn_now(&self) -> i64 {
        self.time_source.as_ref().map_or_else(super::server::now_ms, |t| (t.0)())
    }

    /// Moves redeem credits that are due (on the Earn clock) into their wallets.
    pub fn settle_due_credits(&mut self) {
        let now = self.earn_now();
        self.settle_credits(now);
    }

    /// Moves redeem credits due by `now_ms` into their wallets.
    pub fn settle_credits(&mut self, now_ms: i64) {
        let (due, pending): (Vec<_>, Vec<_>) = self.pending_credits.drain(..).partition(|c| c.due_ms <= now_ms);
        self.pending_credits = pending;
        for c in due {
            if c.to_funding {
                *self.funding.entry(c.asset).or_default() += c.amount;
            } else {
                self.balances.entry(c.asset).or_default().free += c.amount;
            }
        }
    }

    /// Server time: wall clock plus the configured skew.
    pub fn server_time(&self, now_ms: i64) -> i64 {
        now_ms + self.config.time_skew_ms
    }

    /// The reference price of a MARKET order: the seeded average price,
    /// else the last kline close.
    pub fn reference_price(&self, symbol: &str) -> Option<Decimal> {
        self.prices.get(symbol).copied().or_else(|| self.klines.get(symbol)?.last().map(|k| k.close))
    }

    /// Total Flexible Earn holding per asset (what `LD<asset>` shows).
    pub fn earn_by_asset(&self) -> BTreeMap<String, Decimal> {
        let mut out = BTreeMap::new();
        for (product_id, amount) in &self.earn_positions {
            if let Some(p) = self.earn_products.get(product_id) {
                *out.entry(p.asset.clone()).or_insert(Decimal::ZERO) += *amount;
            }
        }
        out
    }

    pub fn known_symbol(&self, symbol: &str) -> bool {
        self.symbols.contains_key(symbol)
            || self.klines.contains_key(symbol)
            || self.prices.contains_key(symbol)
            || self.interval_klines.keys().any(|(s, _)| s == symbol)
    }

    pub fn delay_ms(d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}
