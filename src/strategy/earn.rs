//! The USDT spot buffer kept outside Simple Earn (behaviour.md §6.6).

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// Target spot USDT: 5% of the cycle's starting USDT, within 50..300.
pub fn buffer_target(usdt_total: Decimal) -> Decimal {
    (usdt_total * dec!(0.05)).min(dec!(300)).max(dec!(50))
}

/// What the buffer step wants to do with spot USDT `free` given the target
/// and what sits in Earn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferMove {
    Subscribe(Decimal),
    Redeem(Decimal),
    Hold,
}

/// Hysteresis of 5 USDT either side of the target avoids moving cents every hour.
pub fn buffer_move(free: Decimal, target: Decimal, earn: Decimal) -> BufferMove {
    let band = dec!(5);
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

    #[test]
    fn target_is_clamped() {
        assert_eq!(buffer_target(dec!(1000)), dec!(50));
        assert_eq!(buffer_target(dec!(2000)), dec!(100));
        assert_eq!(buffer_target(dec!(100000)), dec!(300));
    }

    #[test]
    fn subscribes_excess_redeems_shortfall_holds_inside_band() {
        assert_eq!(buffer_move(dec!(121.5), dec!(50), dec!(0)), BufferMove::Subscribe(dec!(71.5)));
        assert_eq!(buffer_move(dec!(150), dec!(100), dec!(0)), BufferMove::Subscribe(dec!(50)));
        assert_eq!(buffer_move(dec!(54.99), dec!(50), dec!(0)), BufferMove::Hold);
        assert_eq!(buffer_move(dec!(20), dec!(50), dec!(500)), BufferMove::Redeem(dec!(30)));
        assert_eq!(buffer_move(dec!(20), dec!(50), dec!(12.5)), BufferMove::Redeem(dec!(12.5)));
        assert_eq!(buffer_move(dec!(20), dec!(50), dec!(0)), BufferMove::Hold);
    }
}
