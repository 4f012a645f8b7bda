//! Intents: what the cycle wants to do on the exchange (orders, Earn
//! moves) and how each one ended; orders carry a [`ClientOrderId`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client_order_id::ClientOrderId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    TrendBuy,
    TrendSell,
    BreakerSell,
    DcaBuy,
    DcaSell,
    FuelBuy,
    EarnSubscribe,
    EarnRedeem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Side {
    Buy,
    Sell,
}

impl IntentKind {
    /// Two-letter code used in client order ids.
    pub fn code(self) -> &'static str {
        match self {
            IntentKind::TrendBuy => "tb",
            IntentKind::TrendSell => "ts",
            IntentKind::BreakerSell => "cb",
            IntentKind::DcaBuy => "db",
            IntentKind::DcaSell => "ds",
            IntentKind::FuelBuy => "fb",
            IntentKind::EarnSubscribe => "es",
            IntentKind::EarnRedeem => "er",
        }
    }

    /// The report's name of the kind (`trend_buy`, `earn_redeem`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            IntentKind::TrendBuy => "trend_buy",
            IntentKind::TrendSell => "trend_sell",
            IntentKind::BreakerSell => "breaker_sell",
            IntentKind::DcaBuy => "dca_buy",
            IntentKind::DcaSell => "dca_sell",
            IntentKind::FuelBuy => "fuel_buy",
            IntentKind::EarnSubscribe => "earn_subscribe",
            IntentKind::EarnRedeem => "earn_redeem",
        }
    }

    /// Orders go to `/api/v3/order`; the rest are Simple Earn moves.
    pub fn side(self) -> Option<Side> {
        match self {
            IntentKind::TrendBuy | IntentKind::DcaBuy | IntentKind::FuelBuy => Some(Side::Buy),
            IntentKind::TrendSell | IntentKind::BreakerSell | IntentKind::DcaSell => Some(Side::Sell),
            IntentKind::EarnSubscribe | IntentKind::EarnRedeem => None,
        }
    }

    pub fn is_order(self) -> bool {
        self.side().is_some()
    }

    /// Whether the intent adds market risk (blocked by the kill switch).
    pub fn adds_risk(self) -> bool {
        matches!(self, IntentKind::TrendBuy | IntentKind::DcaBuy | IntentKind::FuelBuy)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Replay / dry-run: recorded, not sent.
    Suppressed,
    Filled,
    /// Definitive refusal by the exchange; never retried.
    Rejected,
    /// Sent, outcome unknown; kept pending for the next run.
    Unresolved,
    /// Not sent, for the reason given.
    Skipped,
}

/// How an intent meant for the exchange ended, kept in the report next to
/// its `status` so that "not sent because rate limited", "refused by
/// Binance" and "sent, outcome unknown" stay apart. Replay and dry-run
/// intents and the planner's skips carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    /// The exchange executed it (an order's fill, a confirmed Earn move).
    Executed,
    /// Refused by Binance, definitively; never retried.
    Rejected,
    /// Sent; whether it executed is unknown until the next run looks it up.
    Unresolved,
    /// Not executed, for the reason named.
    #[serde(untagged)]
    NotSent(NotSentClass),
}

/// Why an intent meant for the exchange was not executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotSentClass {
    /// Rate limited, IP banned, or a network failure before the request
    /// left: nothing executed, a later run may send it.
    Retryable,
    /// The API key was refused or lacks a permission.
    Auth,
    /// The exchange reported a conflicting write.
    Conflict,
    /// A stop signal arrived before it was sent.
    Stopped,
    /// The run lost its lease (or could not renew it): it sends nothing more.
    LeaseLost,
    /// The pending-ledger write-ahead could not be saved, so it was not sent.
    WriteAheadFailed,
    /// An order with the same client id is still pending from an earlier attempt.
    AlreadyPending,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commission {
    pub asset: String,
    pub amount: Decimal,
}

/// What an order actually did (or, when `estimated`, what dry-run assumes:
/// the planned quantity at the reference price, no fees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    pub executed_qty: Decimal,
    pub quote_qty: Decimal,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commissions: Vec<Commission>,
    pub estimated: bool,
}

impl Fill {
    pub fn average_price(&self) -> Option<Decimal> {
        (self.executed_qty > Decimal::ZERO).then(|| (self.quote_qty / self.executed_qty).round_dp(8).normalize())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub kind: IntentKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    pub asset: String,
    /// Base quantity of an order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// Quote amount (`quoteOrderQty` buys) or Earn amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    /// Reference (five-minute average) price the plan used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<ClientOrderId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    pub status: IntentStatus,
    /// Set only for an intent that went, or was meant to go, to the exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeClass>,
    /// Planning figures worth seeing in the report (budget, weight, ...).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub detail: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill: Option<Fill>,
    /// Why it was rejected, skipped or left unresolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Intent {
    /// A market order by base quantity.
    pub fn order(
        now: DateTime<Utc>,
        kind: IntentKind,
        symbol: &str,
        asset: &str,
        quantity: Decimal,
        price: Decimal,
        reason: impl Into<String>,
    ) -> Intent {
        Intent {
            kind,
            symbol: Some(symbol.to_string()),
            asset: asset.to_string(),
            quantity: Some(quantity),
            amount: None,
            price: Some(price),
            reason: reason.into(),
            client_order_id: Some(ClientOrderId::for_slot(now, kind, symbol)),
            product_id: None,
            status: IntentStatus::Suppressed,
            outcome: None,
            detail: Map::new(),
            fill: None,
            error: None,
        }
    }

    /// A Simple Earn subscribe or redeem of `amount` of `asset`.
    pub fn earn(kind: IntentKind, asset: &str, product_id: &str, amount: Decimal, reason: impl Into<String>) -> Intent {
        Intent {
            kind,
            symbol: None,
            asset: asset.to_string(),
            quantity: None,
            amount: Some(amount),
            price: None,
            reason: reason.into(),
            client_order_id: None,
            product_id: Some(product_id.to_string()),
            status: IntentStatus::Suppressed,
            outcome: None,
            detail: Map::new(),
            fill: None,
            error: None,
        }
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Intent {
        self.detail.insert(key.to_string(), value.into());
        self
    }

    pub fn symbol(&self) -> &str {
        self.symbol.as_deref().unwrap_or("")
    }

    /// Quote currency this order spends (buys) or the asset it needs (sells),
    /// with the amount, estimated at the reference price.
    pub fn requirement(&self) -> Option<(String, Decimal)> {
        match self.kind.side()? {
            Side::Buy => {
                let cost = match (self.amount, self.quantity, self.price) {
                    (Some(a), _, _) => a,
                    (None, Some(q), Some(p)) => q * p,
                    _ => return None,
                };
                Some(("USDT".to_string(), cost))
            }
            Side::Sell => Some((self.asset.clone(), self.quantity?)),
        }
    }

    /// The fill dry-run assumes: planned quantity at the reference price, no fees.
    pub fn estimated_fill(&self) -> Option<Fill> {
        let price = self.price?;
        let (qty, quote) = match (self.quantity, self.amount) {
            (Some(q), _) => (q, q * price),
            // quoteOrderQty buys (fuel) lose ~0.5% to spread and fees, as the reference assumes.
            (None, Some(a)) if price > Decimal::ZERO => ((a * Decimal::new(995, 3) / price).round_dp(8), a),
            _ => return None,
        };
        Some(Fill {
            executed_qty: qty.normalize(),
            quote_qty: quote.normalize(),
            commissions: Vec::new(),
            estimated: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    #[test]
    fn estimated_fill_uses_quantity_or_quote_amount() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap();
        let buy = Intent::order(now, IntentKind::TrendBuy, "ETHUSDT", "ETH", dec!(0.19), dec!(2500), "rotation");
        let f = buy.estimated_fill().unwrap();
        assert_eq!((f.executed_qty, f.quote_qty), (dec!(0.19), dec!(475)));
        assert_eq!(buy.requirement(), Some(("USDT".into(), dec!(475.00))));
        let mut fuel = Intent::order(now, IntentKind::FuelBuy, "BNBUSDT", "BNB", dec!(0), dec!(300), "fuel");
        fuel.quantity = None;
        fuel.amount = Some(dec!(15));
        let f = fuel.estimated_fill().unwrap();
        assert_eq!((f.executed_qty, f.quote_qty), (dec!(0.04975), dec!(15)));
        assert_eq!(f.average_price(), Some(dec!(301.50753769)));
    }
}
