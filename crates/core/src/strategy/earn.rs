//! The USDT spot buffer kept outside Simple Earn (behaviour.md §6.6), and
//! the size of the cycle's one redeem before trading (design.md §3.16).

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::StrategyParams;

/// Target spot USDT: `earn_buffer_ratio` (5%) of the cycle's starting
/// USDT, within `earn_buffer_min_usdt..=earn_buffer_max_usdt` (50..300).
pub fn buffer_target(usdt_total: Decimal, p: &StrategyParams) -> Decimal {
    (usdt_total * p.earn_buffer_ratio).min(p.earn_buffer_max_usdt).max(p.earn_buffer_min_usdt)
}

/// What the buffer step wants to do with spot USDT `free` given the target
/// and what sits in Earn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferMove {
    Subscribe(Decimal),
    Redeem(Decimal),
    Hold,
}

/// The one redeem of `asset` before trading: enough that every planned
/// spend finds its money on spot (`deepest_shortfall`: the most any of them
/// lacked in a rehearsal without a redeem), and, for USDT, that spot ends at
/// the buffer target when the rehearsal ends below it (`end_free`: spot
/// after the rehearsal, may be negative; `buffer_target`: `None` for other
/// assets or when the buffer step will not run). Capped by what Earn holds;
/// `None` when nothing needs redeeming.
pub fn redeem_before_trading(
    deepest_shortfall: Decimal,
    end_free: Decimal,
    buffer_target: Option<Decimal>,
    earn: Decimal,
    p: &StrategyParams,
) -> Option<Decimal> {
    let for_spends = deepest_shortfall.max(Decimal::ZERO) * p.earn_funding_margin;
    let for_buffer = match buffer_target {
        Some(target) if end_free < target - p.earn_buffer_band_usdt => target - end_free,
        _ => Decimal::ZERO,
    };
    let amount = for_spends.max(for_buffer).min(earn).round_dp(8).normalize();
    (amount > Decimal::ZERO).then_some(amount)
}

/// Hysteresis of `band` USDT (`earn_buffer_band_usdt`, 5) either side of the
/// target avoids moving cents every hour.
pub fn buffer_move(free: Decimal, target: Decimal, earn: Decimal, band: Decimal) -> BufferMove {
    if free > target + band {
        let excess = (free - target).round_dp(4);
        if excess >= dec!(0.1) {
            return BufferMove::Subscribe(excess.normalize());
        }
    } else if free < target - band && earn > Decimal::ZERO {
        let short = (target - free).round_dp(4);
        return BufferMove::Redeem(short.min(earn).round_dp(8).normalize());
    }
    BufferMove::Hold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> StrategyParams {
        StrategyParams::default()
    }

    #[test]
    fn target_is_clamped() {
        assert_eq!(buffer_target(dec!(1000), &p()), dec!(50));
        assert_eq!(buffer_target(dec!(2000), &p()), dec!(100));
        assert_eq!(buffer_target(dec!(100000), &p()), dec!(300));
    }

    #[test]
    fn redeem_before_trading_covers_the_deepest_shortfall_and_refills_the_buffer() {
        // Spends lack 100 at worst and spot ends at -50: refill to the 300 target.
        assert_eq!(redeem_before_trading(dec!(100), dec!(-50), Some(dec!(300)), dec!(9700), &p()), Some(dec!(350)));
        // Spends lack 400 (mid-cycle) but sells refill spot to 280 at the end:
        // the spends' need (+0.1%) wins; the buffer step subscribes the excess.
        assert_eq!(redeem_before_trading(dec!(400), dec!(280), Some(dec!(300)), dec!(9700), &p()), Some(dec!(400.4)));
        // Inside the band and nothing lacking: no redeem.
        assert_eq!(redeem_before_trading(dec!(0), dec!(296), Some(dec!(300)), dec!(9700), &p()), None);
        // No buffer for this asset (or the buffer step will not run).
        assert_eq!(redeem_before_trading(dec!(0), dec!(-10), None, dec!(9700), &p()), None);
        assert_eq!(redeem_before_trading(dec!(2), dec!(-2), None, dec!(9700), &p()), Some(dec!(2.002)));
        // Never more than Earn holds.
        assert_eq!(redeem_before_trading(dec!(500), dec!(-500), Some(dec!(50)), dec!(120.5), &p()), Some(dec!(120.5)));
        assert_eq!(redeem_before_trading(dec!(500), dec!(-500), Some(dec!(50)), dec!(0), &p()), None);
    }

    #[test]
    fn subscribes_excess_redeems_shortfall_holds_inside_band() {
        assert_eq!(buffer_move(dec!(121.5), dec!(50), dec!(0), dec!(5)), BufferMove::Subscribe(dec!(71.5)));
        assert_eq!(buffer_move(dec!(150), dec!(100), dec!(0), dec!(5)), BufferMove::Subscribe(dec!(50)));
        assert_eq!(buffer_move(dec!(54.99), dec!(50), dec!(0), dec!(5)), BufferMove::Hold);
        assert_eq!(buffer_move(dec!(20), dec!(50), dec!(500), dec!(5)), BufferMove::Redeem(dec!(30)));
        assert_eq!(buffer_move(dec!(20), dec!(50), dec!(12.5), dec!(5)), BufferMove::Redeem(dec!(12.5)));
        assert_eq!(buffer_move(dec!(20), dec!(50), dec!(0), dec!(5)), BufferMove::Hold);
    }
}
