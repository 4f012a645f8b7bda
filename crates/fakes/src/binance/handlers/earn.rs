//! Simple Earn flexible: product list, positions, subscribe and redeem
//! (`/sapi/v1/simple-earn/flexible/*`). Subscribing moves spot `free` into
//! the position at once; a redeem leaves the position at once and reaches
//! spot after a delay (Binance answers `success` before the money is back,
//! so clients must not assume it arrived). Times here are on the Earn clock
//! (`Ctx::earn_ms`), which a test may make virtual.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Ctx, Reply};
use crate::binance::errors::ApiError;
use crate::binance::fmt8;
use crate::binance::klines::DAY_MS;
use crate::binance::state::{EarnCall, EarnCallKind, EarnProduct, PendingCredit, State};

/// `current` (from 1) and `size` (default 10, max 100) paging.
fn page<T>(rows: Vec<T>, cx: &Ctx<'_>) -> Result<(Vec<T>, usize), ApiError> {
    let current = cx.params.long("current")?.unwrap_or(1);
    let size = cx.params.long("size")?.unwrap_or(10);
    if current < 1 {
        return Err(ApiError::invalid_value("current"));
    }
    if !(1..=100).contains(&size) {
        return Err(ApiError::invalid_value("size"));
    }
    let total = rows.len();
    let skip = usize::try_from((current - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(10);
    Ok((rows.into_iter().skip(skip).take(take).collect(), total))
}

pub fn list(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let asset = cx.params.get("asset");
    let rows: Vec<Value> = st
        .earn_products
        .values()
        .filter(|p| asset.is_none_or(|a| p.asset == a))
        .map(|p| {
            json!({
                "asset": p.asset,
                "latestAnnualPercentageRate": fmt8(p.latest_annual_percentage_rate),
                "tierAnnualPercentageRate": {},
                "airDropPercentageRate": fmt8(Decimal::ZERO),
                "canPurchase": p.can_purchase,
                "canRedeem": p.can_redeem,
                "isSoldOut": false,
                "hot": false,
                "minPurchaseAmount": fmt8(p.min_purchase_amount),
                "productId": p.product_id,
                "subscriptionStartTime": 1_646_182_276_000_i64,
                "status": "PURCHASING",
            })
        })
        .collect();
    let (rows, total) = page(rows, cx)?;
    Ok(Reply::json(json!({"rows": rows, "total": total})))
}

pub fn position(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let asset = cx.params.get("asset");
    let product_id = cx.params.get("productId");
    let rows: Vec<Value> = st
        .earn_positions
        .iter()
        .filter(|(_, amount)| **amount > Decimal::ZERO)
        .filter_map(|(id, amount)| Some((st.earn_products.get(id)?, *amount)))
        .filter(|(p, _)| asset.is_none_or(|a| p.asset == a) && product_id.is_none_or(|id| p.product_id == id))
        .map(|(p, amount)| {
            json!({
                "totalAmount": fmt8(amount),
                "tierAnnualPercentageRate": {},
                "latestAnnualPercentageRate": fmt8(p.latest_annual_percentage_rate),
                "yesterdayAirdropPercentageRate": fmt8(Decimal::ZERO),
                "asset": p.asset,
                "airDropAsset": p.asset,
                "canRedeem": p.can_redeem,
                "collateralAmount": fmt8(Decimal::ZERO),
                "productId": p.product_id,
                "yesterdayRealTimeRewards": fmt8(Decimal::ZERO),
                "cumulativeBonusRewards": fmt8(Decimal::ZERO),
                "cumulativeRealTimeRewards": fmt8(Decimal::ZERO),
                "cumulativeTotalRewards": fmt8(Decimal::ZERO),
                "autoSubscribe": p.auto_subscribe,
            })
        })
        .collect();
    let (rows, total) = page(rows, cx)?;
    Ok(Reply::json(json!({"rows": rows, "total": total})))
}

/// Checks shared by subscribe and redeem: trading permission, the 1/3 s
/// per-account rate limit (one budget for both endpoints, on the Earn
/// clock), and (if enabled) the daily window.
fn gate(st: &mut State, cx: &Ctx<'_>) -> Result<(), ApiError> {
    if !st.restrictions.enable_spot_and_margin_trading {
        return Err(ApiError::rejected_key());
    }
    if let Some(min) = st.config.earn_min_interval {
        let min_ms = State::delay_ms(min);
        if st.last_earn_call.is_some_and(|last| cx.earn_ms - last < min_ms) {
            return Err(ApiError::bad(-6009, "Request frequency too high"));
        }
        st.last_earn_call = Some(cx.earn_ms);
    }
    if st.config.earn_daily_window {
        let minute_of_day = cx.server_ms.rem_euclid(DAY_MS) / 60_000;
        if !(10..23 * 60 + 50).contains(&minute_of_day) {
            return Err(ApiError::bad(-6007, "Not in redeem time"));
        }
    }
    Ok(())
}

fn product(st: &State, cx: &Ctx<'_>) -> Result<EarnProduct, ApiError> {
    let id = cx.params.required("productId")?;
    st.earn_products.get(id).cloned().ok_or_else(|| ApiError::bad(-6001, "Daily product not exists."))
}

fn amount_param(cx: &Ctx<'_>) -> Result<Option<Decimal>, ApiError> {
    let amount = cx.params.decimal("amount")?;
    if amount.is_some_and(|a| a.normalize().scale() > 8) {
        return Err(ApiError::precision("amount"));
    }
    Ok(amount)
}

pub fn subscribe(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let auto_subscribe = cx.params.boolean("autoSubscribe")?;
    let amount = amount_param(cx);
    let result = (|| {
        gate(st, cx)?;
        let product = product(st, cx)?;
        let amount = amount?.ok_or_else(|| ApiError::mandatory("amount"))?;
        let source = cx.params.get("sourceAccount").unwrap_or("SPOT");
        if !matches!(source, "SPOT" | "FUND" | "ALL") {
            return Err(ApiError::invalid_value("sourceAccount"));
        }
        if !product.can_purchase {
            return Err(ApiError::bad(-6004, "Product not in purchase status"));
        }
        if amount < product.min_purchase_amount || amount <= Decimal::ZERO {
            return Err(ApiError::bad(-6005, "Smaller than min purchase limit"));
        }
        let spot = st.balances.get(&product.asset).map_or(Decimal::ZERO, |b| b.free);
        let fund = st.funding.get(&product.asset).copied().unwrap_or_default();
        let (from_spot, from_fund) = match source {
            "SPOT" => (amount, Decimal::ZERO),
            "FUND" => (Decimal::ZERO, amount),
            _ => (amount.min(spot), amount - amount.min(spot)),
        };
        if from_spot > spot || from_fund > fund {
            return Err(ApiError::bad(-6012, "Balance not enough"));
        }
        st.balances.entry(product.asset.clone()).or_default().free -= from_spot;
        if from_fund > Decimal::ZERO {
            *st.funding.entry(product.asset.clone()).or_default() -= from_fund;
        }
        *st.earn_positions.entry(product.product_id.clone()).or_default() += amount;
        if let Some(p) = st.earn_products.get_mut(&product.product_id) {
            // autoSubscribe defaults to true on Binance.
            p.auto_subscribe = auto_subscribe.unwrap_or(true);
        }
        st.next_earn_id += 1;
        Ok(st.next_earn_id)
    })();
    st.earn_calls.push(EarnCall {
        at_ms: cx.earn_ms,
        kind: EarnCallKind::Subscribe,
        product_id: cx.params.get("productId").map(str::to_string),
        amount: cx.params.decimal("amount").ok().flatten(),
        redeem_all: false,
        auto_subscribe,
        dest_account: cx.params.get("sourceAccount").map(str::to_string),
        outcome: result.clone(),
        credit: None,
    });
    let id = result?;
    Ok(Reply::json(json!({"purchaseId": id, "success": true})))
}

pub fn redeem(st: &mut State, cx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let redeem_all = cx.params.boolean("redeemAll")?.unwrap_or(false);
    let amount = amount_param(cx);
    let mut credit = None;
    let result = (|| {
        gate(st, cx)?;
        let product = product(st, cx)?;
        let dest = cx.params.get("destAccount").unwrap_or("SPOT");
        if !matches!(dest, "SPOT" | "FUND") {
            return Err(ApiError::invalid_value("destAccount"));
        }
        let held = st.earn_positions.get(&product.product_id).copied().unwrap_or_default();
        let amount = if redeem_all { held } else { amount?.ok_or_else(|| ApiError::mandatory("amount"))? };
        if !product.can_redeem {
            return Err(ApiError::bad(-6008, "Product not in redeem status"));
        }
        if amount <= Decimal::ZERO || amount > held {
            return Err(ApiError::bad(-6006, "Redeem amount error"));
        }
        st.earn_positions.insert(product.product_id.clone(), held - amount);
        let delay = cx.redeem_delay.or(st.config.redeem_credit_delay).map(State::delay_ms).unwrap_or(0);
        let due_ms = cx.earn_ms + delay;
        st.pending_credits.push(PendingCredit {
            asset: product.asset.clone(),
            amount,
            due_ms,
            to_funding: dest == "FUND",
        });
        st.settle_credits(cx.earn_ms);
        credit = Some((amount, due_ms));
        st.next_earn_id += 1;
        Ok(st.next_earn_id)
    })();
    st.earn_calls.push(EarnCall {
        at_ms: cx.earn_ms,
        kind: EarnCallKind::Redeem,
        product_id: cx.params.get("productId").map(str::to_string),
        amount: cx.params.decimal("amount").ok().flatten(),
        redeem_all,
        auto_subscribe: None,
        dest_account: cx.params.get("destAccount").map(str::to_string),
        outcome: result.clone(),
        credit,
    });
    let id = result?;
    Ok(Reply::json(json!({"redeemId": id, "success": true})))
}
