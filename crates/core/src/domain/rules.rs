//! Exchange trading rules of one symbol (LOT_SIZE, MARKET_LOT_SIZE,
//! NOTIONAL / MIN_NOTIONAL, PRICE_FILTER) and fitting a market order to them.
//!
//! Applied while planning, with exact decimal arithmetic, so that dust and
//! bad precision become a skip with a reason instead of a rejected order
//! every hour (design.md §3.3).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `minQty` / `maxQty` / `stepSize` of LOT_SIZE or MARKET_LOT_SIZE.
/// A zero value means "not enforced", as on Binance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LotRule {
    pub min_qty: Decimal,
    pub max_qty: Decimal,
    pub step_size: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SymbolRules {
    pub lot: Option<LotRule>,
    pub market_lot: Option<LotRule>,
    /// Minimum notional that applies to MARKET orders (NOTIONAL with
    /// `applyMinToMarket`, or legacy MIN_NOTIONAL with `applyToMarket`).
    pub min_notional: Option<Decimal>,
    /// Maximum notional that applies to MARKET orders.
    pub max_notional: Option<Decimal>,
    pub tick_size: Option<Decimal>,
}

/// Why a quantity cannot be sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QtyReject {
    #[error("quantity rounds down to zero at step {step}")]
    Zero { step: Decimal },
    #[error("quantity {qty} is below the minimum quantity {min}")]
    BelowMinQty { qty: Decimal, min: Decimal },
    #[error("notional {notional} USDT is below the exchange minimum {min} USDT (dust)")]
    BelowMinNotional { notional: Decimal, min: Decimal },
    #[error("price must be positive, got {price}")]
    BadPrice { price: Decimal },
}

/// The reference's step when a symbol has no LOT_SIZE filter: 4 decimals.
const FALLBACK_STEP: Decimal = Decimal::from_parts(1, 0, 0, false, 4);

/// Floors `qty` to a multiple of `step` (exact); a zero step leaves it as is.
pub fn floor_to_step(qty: Decimal, step: Decimal) -> Decimal {
    if step <= Decimal::ZERO || qty <= Decimal::ZERO {
        return qty.max(Decimal::ZERO);
    }
    ((qty / step).floor() * step).normalize()
}

impl SymbolRules {
    /// Reads the `filters` array of one `exchangeInfo` symbol entry.
    /// Unknown filter types are ignored; malformed numbers are an error
    /// naming the filter and field.
    pub fn from_filters(filters: &[Value]) -> Result<Self, String> {
        let mut rules = SymbolRules::default();
        for filter in filters {
            let kind = filter.get("filterType").and_then(Value::as_str).unwrap_or("");
            let num = |field: &str| -> Result<Option<Decimal>, String> {
                match filter.get(field) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => {
                        parse_decimal(v).map(Some).ok_or_else(|| format!("{kind}.{field} is not a decimal: {v}"))
                    }
                }
            };
            let flag = |field: &str| filter.get(field).and_then(Value::as_bool);
            match kind {
                "LOT_SIZE" | "MARKET_LOT_SIZE" => {
                    let lot = LotRule {
                        min_qty: num("minQty")?.unwrap_or_default(),
                        max_qty: num("maxQty")?.unwrap_or_default(),
                        step_size: num("stepSize")?.unwrap_or_default(),
                    };
                    if kind == "LOT_SIZE" {
                        rules.lot = Some(lot);
                    } else {
                        rules.market_lot = Some(lot);
                    }
                }
                "NOTIONAL" => {
                    if flag("applyMinToMarket").unwrap_or(true) {
                        rules.min_notional = num("minNotional")?.filter(|v| *v > Decimal::ZERO);
                    }
                    if flag("applyMaxToMarket").unwrap_or(false) {
                        rules.max_notional = num("maxNotional")?.filter(|v| *v > Decimal::ZERO);
                    }
                }
                // NOTIONAL supersedes the legacy filter when both are listed.
                "MIN_NOTIONAL" if rules.min_notional.is_none() && flag("applyToMarket").unwrap_or(true) => {
                    rules.min_notional = num("minNotional")?.filter(|v| *v > Decimal::ZERO);
                }
                "PRICE_FILTER" => {
                    rules.tick_size = num("tickSize")?.filter(|v| *v > Decimal::ZERO);
                }
                _ => {}
            }
        }
        Ok(rules)
    }

    /// The step a market quantity must be a multiple of: the coarser of
    /// LOT_SIZE and MARKET_LOT_SIZE, or 4 decimals when neither is known.
    pub fn market_step(&self) -> Decimal {
        let steps =
            [self.lot, self.market_lot].into_iter().flatten().map(|l| l.step_size).filter(|s| *s > Decimal::ZERO);
        steps.max().unwrap_or(if self.lot.is_none() && self.market_lot.is_none() {
            FALLBACK_STEP
        } else {
            Decimal::ZERO
        })
    }

    /// Fits a wanted base quantity of a MARKET order at the reference
    /// `price`: floors to the step, caps at the maximum quantity and
    /// notional, then checks the minimums. Never rounds up, so the result is
    /// never more than `wanted`.
    pub fn fit_market_qty(&self, wanted: Decimal, price: Decimal) -> Result<Decimal, QtyReject> {
        if price <= Decimal::ZERO {
            return Err(QtyReject::BadPrice { price });
        }
        let step = self.market_step();
        let mut qty = floor_to_step(wanted, step);
        for lot in [self.lot, self.market_lot].into_iter().flatten() {
            if lot.max_qty > Decimal::ZERO && qty > lot.max_qty {
                qty = floor_to_step(lot.max_qty, step);
            }
        }
        if let Some(max) = self.max_notional
            && qty * price > max
        {
            qty = floor_to_step(max / price, step);
        }
        if qty <= Decimal::ZERO {
            return Err(QtyReject::Zero { step });
        }
        for lot in [self.lot, self.market_lot].into_iter().flatten() {
            if lot.min_qty > Decimal::ZERO && qty < lot.min_qty {
                return Err(QtyReject::BelowMinQty { qty, min: lot.min_qty });
            }
        }
        self.check_notional(qty * price)?;
        Ok(qty)
    }

    /// Checks a quote amount (a `quoteOrderQty` buy) against the minimum notional.
    pub fn check_notional(&self, notional: Decimal) -> Result<(), QtyReject> {
        match self.min_notional {
            Some(min) if notional < min => {
                Err(QtyReject::BelowMinNotional { notional: notional.round_dp(8).normalize(), min })
            }
            _ => Ok(()),
        }
    }
}

/// Parses a JSON string or number as a Decimal (Binance sends strings).
pub fn parse_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.trim().parse::<Decimal>().ok().or_else(|| {
            // Scientific notation ("1e-8") is valid JSON-ish input from fixtures.
            Decimal::from_scientific(s.trim()).ok()
        }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Decimal::from(i))
            } else {
                let text = n.to_string();
                text.parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(&text).ok())
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn lot(step: Decimal) -> SymbolRules {
        SymbolRules {
            lot: Some(LotRule { min_qty: Decimal::ZERO, max_qty: Decimal::ZERO, step_size: step }),
            ..Default::default()
        }
    }

    #[test]
    fn floors_exactly_where_floats_lose_a_step() {
        // 0.3 / 0.1 is 2.9999... in binary floating point; the reference
        // floored it to 0.2. Decimal keeps all three steps.
        assert_eq!(floor_to_step(dec!(0.3), dec!(0.1)), dec!(0.3));
        assert_eq!(floor_to_step(dec!(0.190355), dec!(0.001)), dec!(0.19));
        assert_eq!(floor_to_step(dec!(2.5767), dec!(0.01)), dec!(2.57));
    }

    #[test]
    fn reads_binance_filters() {
        let filters = vec![
            json!({"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"}),
            json!({"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "9000.00000000", "stepSize": "0.00010000"}),
            json!({"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "120.5", "stepSize": "0.00000000"}),
            json!({"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5}),
            json!({"filterType": "ICEBERG_PARTS", "limit": 10}),
        ];
        let r = SymbolRules::from_filters(&filters).unwrap();
        assert_eq!(r.market_step(), dec!(0.0001));
        assert_eq!(r.min_notional, Some(dec!(5)));
        assert_eq!(r.max_notional, None);
        assert_eq!(r.tick_size, Some(dec!(0.01)));
        assert_eq!(r.market_lot.unwrap().max_qty, dec!(120.5));
    }

    #[test]
    fn malformed_filter_value_names_the_field() {
        let err = SymbolRules::from_filters(&[json!({"filterType": "LOT_SIZE", "stepSize": "abc"})]).unwrap_err();
        assert_eq!(err, "LOT_SIZE.stepSize is not a decimal: \"abc\"");
    }

    #[test]
    fn legacy_min_notional_is_used_when_notional_is_absent() {
        let r = SymbolRules::from_filters(&[
            json!({"filterType": "MIN_NOTIONAL", "minNotional": "10", "applyToMarket": true}),
        ])
        .unwrap();
        assert_eq!(r.min_notional, Some(dec!(10)));
        let off = SymbolRules::from_filters(&[
            json!({"filterType": "MIN_NOTIONAL", "minNotional": "10", "applyToMarket": false}),
        ])
        .unwrap();
        assert_eq!(off.min_notional, None);
    }

    #[test]
    fn fits_and_rejects_dust() {
        let mut r = lot(dec!(0.001));
        r.min_notional = Some(dec!(5));
        assert_eq!(r.fit_market_qty(dec!(0.190355), dec!(2500)).unwrap(), dec!(0.19));
        assert_eq!(
            r.fit_market_qty(dec!(0.0019), dec!(2500)).unwrap_err(),
            QtyReject::BelowMinNotional { notional: dec!(2.5), min: dec!(5) }
        );
        assert_eq!(r.fit_market_qty(dec!(0.0009), dec!(2500)).unwrap_err(), QtyReject::Zero { step: dec!(0.001) });
    }

    #[test]
    fn caps_at_max_qty_and_max_notional_and_checks_min_qty() {
        let r = SymbolRules {
            lot: Some(LotRule { min_qty: dec!(0.01), max_qty: dec!(2), step_size: dec!(0.01) }),
            max_notional: Some(dec!(250)),
            ..Default::default()
        };
        assert_eq!(r.fit_market_qty(dec!(5), dec!(100)).unwrap(), dec!(2));
        assert_eq!(r.fit_market_qty(dec!(5), dec!(200)).unwrap(), dec!(1.25));
        let min = SymbolRules {
            lot: Some(LotRule { min_qty: dec!(1), max_qty: Decimal::ZERO, step_size: dec!(0.1) }),
            ..Default::default()
        };
        assert_eq!(
            min.fit_market_qty(dec!(0.55), dec!(3)).unwrap_err(),
            QtyReject::BelowMinQty { qty: dec!(0.5), min: dec!(1) }
        );
    }

    #[test]
    fn no_filters_falls_back_to_four_decimals() {
        let r = SymbolRules::default();
        assert_eq!(r.fit_market_qty(dec!(0.123456), dec!(10)).unwrap(), dec!(0.1234));
    }

    #[test]
    fn zero_price_is_rejected() {
        assert_eq!(
            lot(dec!(0.1)).fit_market_qty(dec!(1), Decimal::ZERO).unwrap_err(),
            QtyReject::BadPrice { price: Decimal::ZERO }
        );
    }

    #[test]
    fn parses_strings_numbers_and_scientific() {
        assert_eq!(parse_decimal(&json!("0.00010000")), Some(dec!(0.0001)));
        assert_eq!(parse_decimal(&json!(1000)), Some(dec!(1000)));
        assert_eq!(parse_decimal(&json!(0.1)), Some(dec!(0.1)));
        assert_eq!(parse_decimal(&json!("1e-8")), Some(dec!(0.00000001)));
        assert_eq!(parse_decimal(&json!(true)), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn fitted_qty_never_exceeds_wanted_and_is_on_step(
                wanted_units in 0u64..10_000_000_000,
                wanted_scale in 0u32..12,
                step_scale in 0u32..9,
                price_units in 1u64..100_000_000,
                min_notional in 0u64..20,
            ) {
                let wanted = Decimal::new(wanted_units as i64, wanted_scale);
                let step = Decimal::new(1, step_scale);
                let price = Decimal::new(price_units as i64, 2);
                let mut r = lot(step);
                r.min_notional = Some(Decimal::from(min_notional)).filter(|m| *m > Decimal::ZERO);
                if let Ok(q) = r.fit_market_qty(wanted, price) {
                    prop_assert!(q <= wanted);
                    prop_assert!(q > Decimal::ZERO);
                    prop_assert_eq!((q / step).fract(), Decimal::ZERO);
                    prop_assert!(q * price >= r.min_notional.unwrap_or_default());
                }
            }

            #[test]
            fn from_filters_never_panics(s in ".{0,20}", n in any::<f64>()) {
                let filters = vec![
                    serde_json::json!({"filterType": "LOT_SIZE", "stepSize": s.clone(), "minQty": n}),
                    serde_json::json!({"filterType": "NOTIONAL", "minNotional": n, "maxNotional": s}),
                ];
                let _ = SymbolRules::from_filters(&filters);
            }
        }
    }
}
