//! BTC core accumulation: valuation-scaled DCA buys and z-score trims
//! (behaviour.md §6.5).

/// Both DCA pool and position below this ⇒ the sleeve is too small to act.
pub const MIN_SLEEVE_USDT: f64 = 10.0;
/// A DCA buy needs more than this in its pool.
pub const MIN_BUY_POOL_USDT: f64 = 15.0;
/// A trim needs a BTC position worth more than this.
pub const MIN_TRIM_POSITION_USDT: f64 = 20.0;
/// Share of the budget turned into quantity, leaving room for price moves and fees.
pub const BUY_SIZING_FACTOR: f64 = 0.985;

/// Buy multiplier of the base order from the valuation (price over the
/// 200-day geometric mean): cheaper buys more, expensive buys nothing.
pub fn buy_multiplier(ahr999: f64) -> f64 {
    if ahr999 < 0.45 {
        5.0
    } else if ahr999 < 0.8 {
        2.0
    } else if ahr999 < 1.2 {
        1.0
    } else {
        0.0
    }
}

/// Fraction of the BTC position trimmed for a z-score above the trigger.
pub fn trim_fraction(zscore: f64) -> f64 {
    if zscore > 5.0 {
        0.5
    } else if zscore > 4.0 {
        0.3
    } else {
        0.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_thresholds() {
        assert_eq!(buy_multiplier(0.4), 5.0);
        assert_eq!(buy_multiplier(0.45), 2.0);
        assert_eq!(buy_multiplier(0.7), 2.0);
        assert_eq!(buy_multiplier(0.8), 1.0);
        assert_eq!(buy_multiplier(1.19), 1.0);
        assert_eq!(buy_multiplier(1.2), 0.0);
    }

    #[test]
    fn trim_thresholds() {
        assert_eq!(trim_fraction(3.0), 0.1);
        assert_eq!(trim_fraction(4.0), 0.1);
        assert_eq!(trim_fraction(4.5), 0.3);
        assert_eq!(trim_fraction(5.01), 0.5);
    }
}
