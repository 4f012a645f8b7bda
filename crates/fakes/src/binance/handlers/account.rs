//! Account endpoints: `GET /api/v3/account` (spot balances, with Simple
//! Earn flexible holdings as `LD`-prefixed assets like the real one) and
//! `GET /sapi/v1/account/apiRestrictions`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::{Ctx, Reply};
use crate::binance::errors::ApiError;
use crate::binance::fmt8;
use crate::binance::state::{Balance, State};

/// When the fake's key was "created" (any fixed past time will do).
const KEY_CREATE_TIME: i64 = 1_698_645_219_000;

pub fn account(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let omit_zero = cx.params.boolean("omitZeroBalances")?.unwrap_or(false);
    let mut all: BTreeMap<String, Balance> = st.balances.clone();
    // Flexible Earn shows up as LD<asset> (LDUSDT, LDBNB) with the whole
    // holding free; a client must not count it twice with the position.
    for (asset, amount) in st.earn_by_asset() {
        if amount > Decimal::ZERO {
            all.entry(format!("LD{asset}")).or_default().free += amount;
        }
    }
    let balances: Vec<Value> = all
        .iter()
        .filter(|(_, b)| !(omit_zero && b.free.is_zero() && b.locked.is_zero()))
        .map(|(asset, b)| json!({"asset": asset, "free": fmt8(b.free), "locked": fmt8(b.locked)}))
        .collect();
    let fee = st.config.taker_fee;
    let bps = (fee * Decimal::from(10_000)).trunc().to_i64().unwrap_or(10);
    Ok(Reply::json(json!({
        "makerCommission": bps,
        "takerCommission": bps,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": fmt8(fee), "taker": fmt8(fee), "buyer": fmt8(Decimal::ZERO), "seller": fmt8(Decimal::ZERO)},
        "canTrade": st.restrictions.enable_spot_and_margin_trading,
        "canWithdraw": st.restrictions.enable_withdrawals,
        "canDeposit": true,
        "brokered": false,
        "requireSelfTradePrevention": false,
        "preventSor": false,
        "updateTime": cx.server_ms,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": 354_937_868,
    })))
}

pub fn api_restrictions(st: &mut State, _: &Ctx<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::json(st.restrictions.to_json(KEY_CREATE_TIME)))
}
