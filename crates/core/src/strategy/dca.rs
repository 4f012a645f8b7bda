//! BTC core accumulation: valuation-scaled DCA buys and z-score trims
//! (behaviour.md §6.5). The sizes are [`StrategyParams`] fields.

use super::StrategyParams;

/// Buy multiplier of the base order from the valuation (price over the
/// 200-day geometric mean): cheaper buys more, expensive buys nothing.
pub fn buy_multiplier(ahr999: f64, p: &StrategyParams) -> f64 {
    if ahr999 < 0.45 {
        p.dca_multiplier_deep
    } else if ahr999 < 0.8 {
        p.dca_multiplier_cheap
    } else if ahr999 < 1.2 {
        p.dca_multiplier_fair
    } else {
        0.0
    }
}

/// Fraction of the BTC position trimmed for a z-score above the trigger.
pub fn trim_fraction(zscore: f64, p: &StrategyParams) -> f64 {
    if zscore > 5.0 {
        p.trim_fraction_extreme
    } else if zscore > 4.0 {
        p.trim_fraction_high
    } else {
        p.trim_fraction_base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_thresholds() {
        assert_eq!(buy_multiplier(0.4, &StrategyParams::default()), 5.0);
        assert_eq!(buy_multiplier(0.45, &StrategyParams::default()), 2.0);
        assert_eq!(buy_multiplier(0.7, &StrategyParams::default()), 2.0);
        assert_eq!(buy_multiplier(0.8, &StrategyParams::default()), 1.0);
        assert_eq!(buy_multiplier(1.19, &StrategyParams::default()), 1.0);
        assert_eq!(buy_multiplier(1.2, &StrategyParams::default()), 0.0);
    }

    #[test]
    fn trim_thresholds() {
        assert_eq!(trim_fraction(3.0, &StrategyParams::default()), 0.1);
        assert_eq!(trim_fraction(4.0, &StrategyParams::default()), 0.1);
        assert_eq!(trim_fraction(4.5, &StrategyParams::default()), 0.3);
        assert_eq!(trim_fraction(5.01, &StrategyParams::default()), 0.5);
    }
}
