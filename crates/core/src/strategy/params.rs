//! The strategy's decision constants as one typed struct, [`StrategyParams`],
//! carried in [`super::StrategySettings`]. Live, paper and replay run with
//! [`StrategyParams::default`] (the values the strategy has always used);
//! `tradecycle backtest run --set KEY=VALUE` / `--sweep` override single
//! fields by name through [`StrategyParams::set`], so a backtest explores
//! a variant without a rebuild.
//!
//! The fields, their defaults, their parsing and their range checks are
//! declared once in the `params!` table below, so a new field cannot be
//! settable without a default or a check.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::indicators::{TREND_LOOKBACK_DAYS, Windows};

/// The longest indicator window: a cycle reads this many daily klines per
/// trend symbol, so a longer window would never fill.
const MAX_WINDOW_DAYS: usize = TREND_LOOKBACK_DAYS as usize;

/// Declares the struct, its `Default`, the key list and the by-name setter
/// from one table: `name: type = default, check;` where `check` says what
/// a valid value is (`None` = any parsed value is fine).
macro_rules! params {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty = $default:expr, $check:expr; )*) => {
        /// Decision constants of the strategy (see each field for its unit).
        #[derive(Debug, Clone, PartialEq)]
        pub struct StrategyParams {
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        impl Default for StrategyParams {
            fn default() -> Self {
                StrategyParams { $( $name: $default, )* }
            }
        }

        impl StrategyParams {
            /// Every key [`StrategyParams::set`] accepts: the field names, in declaration order.
            pub const KEYS: &'static [&'static str] = &[$( stringify!($name), )*];

            /// Sets the field named `key` from its text form. Errors name the
            /// key; an unknown key lists the known ones.
            pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
                match key {
                    $( stringify!($name) => {
                        let parsed: $ty = value.trim().parse().map_err(|_| {
                            format!("{key}: cannot parse {value:?} as {}", stringify!($ty))
                        })?;
                        let check: Option<Range<$ty>> = $check;
                        if let Some(range) = check {
                            range.check(key, parsed)?;
                        }
                        self.$name = parsed;
                        Ok(())
                    } )*
                    _ => Err(format!("unknown key {key:?}; known keys: {}", Self::KEYS.join(", "))),
                }
            }

            /// The field named `key` in its text form (what `set` parses back).
            pub fn get(&self, key: &str) -> Option<String> {
                match key {
                    $( stringify!($name) => Some(self.$name.to_string()), )*
                    _ => None,
                }
            }
        }
    };
}

/// Bounds a value must lie within (each end optional, inclusive unless
/// marked exclusive) for the strategy to make sense.
#[derive(Debug, Clone, Copy)]
struct Range<T> {
    min: Option<(T, bool)>,
    max: Option<(T, bool)>,
}

impl<T: PartialOrd + std::fmt::Display + Copy> Range<T> {
    /// At least `min`.
    const fn at_least(min: T) -> Option<Self> {
        Some(Range { min: Some((min, true)), max: None })
    }
    /// Above `min` (exclusive).
    const fn above(min: T) -> Option<Self> {
        Some(Range { min: Some((min, false)), max: None })
    }
    /// Within `min..=max`, each end inclusive when its flag is true.
    const fn between(min: T, min_incl: bool, max: T, max_incl: bool) -> Option<Self> {
        Some(Range { min: Some((min, min_incl)), max: Some((max, max_incl)) })
    }

    fn check(&self, key: &str, v: T) -> Result<(), String> {
        let low_ok = self.min.is_none_or(|(m, incl)| if incl { v >= m } else { v > m });
        let high_ok = self.max.is_none_or(|(m, incl)| if incl { v <= m } else { v < m });
        if low_ok && high_ok {
            return Ok(());
        }
        let low = self.min.map(|(m, incl)| format!("{} {m}", if incl { ">=" } else { ">" }));
        let high = self.max.map(|(m, incl)| format!("{} {m}", if incl { "<=" } else { "<" }));
        let want: Vec<String> = [low, high].into_iter().flatten().collect();
        Err(format!("{key} must be {}, got {v}", want.join(" and ")))
    }
}

params! {
    /// Trend sleeve: how many top-ranked candidates are held (count; default 2).
    top_n: usize = 2, Range::at_least(1);
    /// Trend sleeve: trailing stop distance below the highest price since
    /// entry, in multiples of ATR(14) (default 2.5).
    atr_multiplier: f64 = 2.5, Range::above(0.0);
    /// Trend sleeve: a buy needs a budget above this (USDT; default 15).
    min_trend_buy_usdt: f64 = 15.0, Range::at_least(0.0);
    /// Trend sleeve: window of the short SMA a candidate's close must be
    /// above (days; default 20; the indicator `sma20`).
    sma_short_days: usize = 20, Range::between(1, true, MAX_WINDOW_DAYS, true);
    /// Trend sleeve: window of the medium SMA; a candidate's close must be
    /// above it, and a holding closing below it is sold (days; default 60;
    /// the indicator `sma60`).
    sma_medium_days: usize = 60, Range::between(1, true, MAX_WINDOW_DAYS, true);
    /// Trend sleeve: window of the long SMA a candidate's close must be
    /// above, and of trend persistence (days; default 200; the indicator
    /// `sma200`).
    sma_long_days: usize = 200, Range::between(1, true, MAX_WINDOW_DAYS, true);
    /// Trend sleeve: window of the ATR the trailing stop is measured in
    /// (days; default 14; the indicator `atr14`).
    atr_days: usize = 14, Range::between(1, true, MAX_WINDOW_DAYS, true);
    /// Daily circuit breaker: fires when the trend sleeve's day PnL is at or
    /// below this fraction (-0.05 = -5%; default -0.05).
    circuit_breaker_pnl: f64 = -0.05, Range::between(-1.0, false, 0.0, false);
    /// Circuit-breaker sells skip positions worth this or less (USDT; default 10).
    min_breaker_sell_usdt: f64 = 10.0, Range::at_least(0.0);
    /// BNB fee fuel: topped up when worth less than this (USDT; default 10).
    fuel_min_usdt: Decimal = dec!(10), Range::at_least(Decimal::ZERO);
    /// BNB fee fuel: a top-up buys this much (USDT; default 15).
    fuel_top_up_usdt: Decimal = dec!(15), Range::above(Decimal::ZERO);
    /// Share of a buy's budget turned into quantity, leaving room for price
    /// moves and fees (fraction; default 0.985; trend and DCA buys).
    buy_sizing_factor: f64 = 0.985, Range::between(0.0, false, 1.0, true);
    /// BTC DCA: both DCA pool and position at or below this ⇒ the sleeve is
    /// too small to act (USDT; default 10).
    dca_min_sleeve_usdt: f64 = 10.0, Range::at_least(0.0);
    /// BTC DCA: a buy needs more than this in its pool (USDT; default 15).
    dca_min_buy_pool_usdt: f64 = 15.0, Range::at_least(0.0);
    /// BTC DCA: a trim needs a BTC position worth more than this (USDT; default 20).
    dca_min_trim_position_usdt: f64 = 20.0, Range::at_least(0.0);
    /// BTC core target share of equity: `btc_target_base + btc_target_slope
    /// × ln(1 + equity / btc_target_scale_usdt)`, at most `btc_target_max`;
    /// this is the constant term (fraction; default 0.14).
    btc_target_base: f64 = 0.14, Range::between(0.0, true, 1.0, true);
    /// BTC core target: the log term's factor (fraction; default 0.16).
    btc_target_slope: f64 = 0.16, Range::at_least(0.0);
    /// BTC core target: the equity scale of the log term (USDT; default 10000).
    btc_target_scale_usdt: f64 = 10_000.0, Range::above(0.0);
    /// BTC core target: the cap (fraction of equity; default 0.65).
    btc_target_max: f64 = 0.65, Range::between(0.0, true, 1.0, true);
    /// BTC DCA: one base order as a share of total equity (fraction; default 0.0012).
    dca_base_order_ratio: f64 = 0.0012, Range::at_least(0.0);
    /// BTC DCA: the base order's floor (USDT; default 15).
    dca_base_order_min_usdt: f64 = 15.0, Range::at_least(0.0);
    /// BTC DCA: base orders bought when the valuation (ahr999) is below 0.45
    /// (multiple of the base order; default 5).
    dca_multiplier_deep: f64 = 5.0, Range::at_least(0.0);
    /// BTC DCA: base orders bought when ahr999 is in 0.45..0.8 (default 2).
    dca_multiplier_cheap: f64 = 2.0, Range::at_least(0.0);
    /// BTC DCA: base orders bought when ahr999 is in 0.8..1.2 (default 1; none above).
    dca_multiplier_fair: f64 = 1.0, Range::at_least(0.0);
    /// BTC trim: share of the position sold for a z-score above the trigger
    /// up to 4 (fraction; default 0.1).
    trim_fraction_base: f64 = 0.1, Range::between(0.0, true, 1.0, true);
    /// BTC trim: share sold for a z-score in 4..5 (fraction; default 0.3).
    trim_fraction_high: f64 = 0.3, Range::between(0.0, true, 1.0, true);
    /// BTC trim: share sold for a z-score above 5 (fraction; default 0.5).
    trim_fraction_extreme: f64 = 0.5, Range::between(0.0, true, 1.0, true);
    /// Earn buffer: spot USDT target as a share of the cycle's starting USDT
    /// (fraction; default 0.05), clamped to the min and max below.
    earn_buffer_ratio: Decimal = dec!(0.05), Range::between(Decimal::ZERO, true, Decimal::ONE, true);
    /// Earn buffer: the target's floor (USDT; default 50).
    earn_buffer_min_usdt: Decimal = dec!(50), Range::at_least(Decimal::ZERO);
    /// Earn buffer: the target's ceiling (USDT; default 300; must not be below the floor).
    earn_buffer_max_usdt: Decimal = dec!(300), Range::at_least(Decimal::ZERO);
    /// Earn buffer: hysteresis either side of the target, so cents do not
    /// move every hour (USDT; default 5).
    earn_buffer_band_usdt: Decimal = dec!(5), Range::at_least(Decimal::ZERO);
    /// Headroom on a redeem sized to what spends lack, as fills can cost a
    /// little more than the estimate (factor; default 1.001).
    earn_funding_margin: Decimal = dec!(1.001), Range::at_least(Decimal::ONE);
}

impl StrategyParams {
    /// The trend symbols' indicator windows.
    pub fn windows(&self) -> Windows {
        Windows {
            sma_short: self.sma_short_days,
            sma_medium: self.sma_medium_days,
            sma_long: self.sma_long_days,
            atr: self.atr_days,
        }
    }

    /// Checks across fields, after every `set`.
    pub fn validate(&self) -> Result<(), String> {
        if self.earn_buffer_max_usdt < self.earn_buffer_min_usdt {
            return Err(format!(
                "earn_buffer_max_usdt ({}) must not be below earn_buffer_min_usdt ({})",
                self.earn_buffer_max_usdt, self.earn_buffer_min_usdt
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_strategy_constants() {
        let p = StrategyParams::default();
        let expected = StrategyParams {
            top_n: 2,
            atr_multiplier: 2.5,
            min_trend_buy_usdt: 15.0,
            sma_short_days: 20,
            sma_medium_days: 60,
            sma_long_days: 200,
            atr_days: 14,
            circuit_breaker_pnl: -0.05,
            min_breaker_sell_usdt: 10.0,
            fuel_min_usdt: dec!(10),
            fuel_top_up_usdt: dec!(15),
            buy_sizing_factor: 0.985,
            dca_min_sleeve_usdt: 10.0,
            dca_min_buy_pool_usdt: 15.0,
            dca_min_trim_position_usdt: 20.0,
            btc_target_base: 0.14,
            btc_target_slope: 0.16,
            btc_target_scale_usdt: 10_000.0,
            btc_target_max: 0.65,
            dca_base_order_ratio: 0.0012,
            dca_base_order_min_usdt: 15.0,
            dca_multiplier_deep: 5.0,
            dca_multiplier_cheap: 2.0,
            dca_multiplier_fair: 1.0,
            trim_fraction_base: 0.1,
            trim_fraction_high: 0.3,
            trim_fraction_extreme: 0.5,
            earn_buffer_ratio: dec!(0.05),
            earn_buffer_min_usdt: dec!(50),
            earn_buffer_max_usdt: dec!(300),
            earn_buffer_band_usdt: dec!(5),
            earn_funding_margin: dec!(1.001),
        };
        assert_eq!(p, expected);
        assert_eq!(StrategyParams::KEYS.len(), 32);
        assert_eq!(p.windows(), Windows::default());
        assert_eq!(StrategyParams::KEYS[0], "top_n");
        assert!(p.validate().is_ok());
    }

    #[test]
    fn set_parses_checks_and_names_the_key() {
        let mut p = StrategyParams::default();
        p.set("atr_multiplier", "3.5").unwrap();
        p.set("top_n", "4").unwrap();
        p.set("fuel_min_usdt", "12.5").unwrap();
        assert_eq!((p.atr_multiplier, p.top_n, p.fuel_min_usdt), (3.5, 4, dec!(12.5)));
        assert_eq!(p.get("fuel_min_usdt").as_deref(), Some("12.5"));
        assert_eq!(p.set("top_n", "0").unwrap_err(), "top_n must be >= 1, got 0");
        assert_eq!(p.set("top_n", "two").unwrap_err(), "top_n: cannot parse \"two\" as usize");
        assert_eq!(
            p.set("circuit_breaker_pnl", "0.05").unwrap_err(),
            "circuit_breaker_pnl must be > -1 and < 0, got 0.05"
        );
        assert_eq!(p.set("atr_multiplier", "0").unwrap_err(), "atr_multiplier must be > 0, got 0");
        assert_eq!(p.set("sma_long_days", "421").unwrap_err(), "sma_long_days must be >= 1 and <= 420, got 421");
        p.set("sma_long_days", "150").unwrap();
        assert_eq!(p.windows().sma_long, 150);
        let unknown = p.set("atr", "1").unwrap_err();
        assert!(unknown.starts_with("unknown key \"atr\"; known keys: top_n, atr_multiplier, "), "{unknown}");
        // A failed set leaves the field alone.
        assert_eq!(p.top_n, 4);
        p.set("earn_buffer_max_usdt", "40").unwrap();
        assert_eq!(p.validate().unwrap_err(), "earn_buffer_max_usdt (40) must not be below earn_buffer_min_usdt (50)");
    }
}
