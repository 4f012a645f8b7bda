//! Simple Earn flexible subscribe and redeem. Both are sent once (Binance
//! allows one per three seconds per account, and a repeat could move money
//! twice); the reads that find product ids and positions live in `market`.

use rust_decimal::Decimal;

use super::classify::{Failure, Outcome};
use super::client::Transport;
use super::query::Query;
use super::wire::EarnAck;

const SUBSCRIBE: &str = "/sapi/v1/simple-earn/flexible/subscribe";
const REDEEM: &str = "/sapi/v1/simple-earn/flexible/redeem";

/// Subscribes from spot without `autoSubscribe`, which Binance defaults to
/// true and which would later sweep spot funds behind the planner's back.
pub fn subscribe_query(product_id: &str, amount: Decimal) -> Query {
    Query::new()
        .with("productId", product_id)
        .with("amount", amount.normalize().to_string())
        .with("autoSubscribe", "false")
}

/// Redeems part of a position back to the spot wallet.
pub fn redeem_query(product_id: &str, amount: Decimal) -> Query {
    Query::new()
        .with("productId", product_id)
        .with("amount", amount.normalize().to_string())
        .with("destAccount", "SPOT")
}

pub async fn subscribe(t: &Transport, product_id: &str, amount: Decimal) -> Result<(), Failure> {
    check_amount(SUBSCRIBE, amount)?;
    let ack: EarnAck = t.signed_post(SUBSCRIBE, &subscribe_query(product_id, amount)).await?;
    acknowledged(SUBSCRIBE, ack)
}

pub async fn redeem(t: &Transport, product_id: &str, amount: Decimal) -> Result<(), Failure> {
    check_amount(REDEEM, amount)?;
    let ack: EarnAck = t.signed_post(REDEEM, &redeem_query(product_id, amount)).await?;
    acknowledged(REDEEM, ack)
}

fn check_amount(path: &str, amount: Decimal) -> Result<(), Failure> {
    if amount > Decimal::ZERO {
        Ok(())
    } else {
        Err(Failure::new(Outcome::Rejected, format!("POST {path}: not sent: amount must be positive, got {amount}")))
    }
}

/// An explicit `success: false` is Binance saying it did not do it.
fn acknowledged(path: &str, ack: EarnAck) -> Result<(), Failure> {
    if ack.success {
        Ok(())
    } else {
        Err(Failure::new(Outcome::Rejected, format!("POST {path}: Binance answered success=false")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn earn_queries() {
        assert_eq!(
            subscribe_query("USDT001", dec!(250.500)).render(),
            "productId=USDT001&amount=250.5&autoSubscribe=false"
        );
        assert_eq!(redeem_query("USDT001", dec!(12)).render(), "productId=USDT001&amount=12&destAccount=SPOT");
        assert!(acknowledged(REDEEM, EarnAck { success: false }).is_err());
        assert!(check_amount(REDEEM, dec!(0)).is_err());
    }
}
