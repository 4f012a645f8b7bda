//! Statistics of an equity curve: maximum drawdown and its dates, daily
//! returns, CAGR, Sharpe and Sortino. Pure functions over plain numbers;
//! `f64` is enough here (these are ratios for a report, not money moves).
//!
//! Conventions, stated once: a day's equity is the last point of that UTC
//! day; daily returns are between consecutive days' equity; Sharpe and
//! Sortino are annualised with √365 (crypto trades every day) and a zero
//! risk-free rate; the standard deviation is the sample one (n − 1).

use chrono::{DateTime, NaiveDate, Utc};

/// One point of the equity curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EquityPoint {
    pub time: DateTime<Utc>,
    pub total: f64,
}

/// The deepest fall from a running peak.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Drawdown {
    /// As a positive fraction of the peak (0.25 = 25% below it).
    pub depth: f64,
    /// When the peak before the deepest fall was set.
    pub peak: Option<DateTime<Utc>>,
    /// When the bottom of that fall was reached.
    pub trough: Option<DateTime<Utc>>,
}

/// The maximum drawdown of the curve (the first one when several tie).
pub fn max_drawdown(points: &[EquityPoint]) -> Drawdown {
    let mut worst = Drawdown::default();
    let mut peak: Option<EquityPoint> = None;
    for p in points {
        let top = match peak {
            Some(top) if top.total >= p.total => top,
            _ => {
                peak = Some(*p);
                continue;
            }
        };
        if top.total <= 0.0 {
            continue;
        }
        let depth = (top.total - p.total) / top.total;
        if depth > worst.depth {
            worst = Drawdown { depth, peak: Some(top.time), trough: Some(p.time) };
        }
    }
    worst
}

/// Each UTC day's closing equity (the day's last point), in order.
pub fn daily_closes(points: &[EquityPoint]) -> Vec<(NaiveDate, f64)> {
    let mut days: Vec<(NaiveDate, f64)> = Vec::new();
    for p in points {
        let day = p.time.date_naive();
        match days.last_mut() {
            Some((last, total)) if *last == day => *total = p.total,
            _ => days.push((day, p.total)),
        }
    }
    days
}

/// Returns between consecutive days' closing equity, dated by the later day.
pub fn daily_returns(points: &[EquityPoint]) -> Vec<(NaiveDate, f64)> {
    daily_closes(points).windows(2).filter(|w| w[0].1 > 0.0).map(|w| (w[1].0, w[1].1 / w[0].1 - 1.0)).collect()
}

/// Compound annual growth from `start` to `end` over `days` days
/// (365-day years); `None` for a period without length or a start at zero.
pub fn cagr(start: f64, end: f64, days: f64) -> Option<f64> {
    if start <= 0.0 || days <= 0.0 || end < 0.0 {
        return None;
    }
    Some((end / start).powf(365.0 / days) - 1.0)
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Annualised Sharpe ratio of daily returns; `None` with fewer than two
/// returns or no variation.
pub fn sharpe(returns: &[f64]) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    let m = mean(returns);
    let var = returns.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (returns.len() - 1) as f64;
    let sd = var.sqrt();
    (sd > 0.0).then(|| m / sd * 365f64.sqrt())
}

/// Annualised Sortino ratio: the mean daily return over the downside
/// deviation (root mean square of the negative returns, over all days);
/// `None` with fewer than two returns or no losing day.
pub fn sortino(returns: &[f64]) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    let downside = returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / returns.len() as f64;
    let dd = downside.sqrt();
    (dd > 0.0).then(|| mean(returns) / dd * 365f64.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, d, 0, 0, 0).unwrap()
    }

    /// 100 → 110 → 99 → 88 → 121 → 110, one point a day.
    fn path() -> Vec<EquityPoint> {
        [100.0, 110.0, 99.0, 88.0, 121.0, 110.0]
            .iter()
            .enumerate()
            .map(|(i, &total)| EquityPoint { time: day(i as u32 + 1), total })
            .collect()
    }

    #[test]
    fn drawdown_is_the_deepest_fall_from_a_running_peak_with_its_dates() {
        // Peak 110 on day 2, trough 88 on day 4: 22/110 = 20%. The later
        // fall 121 → 110 is only 9.09%.
        let dd = max_drawdown(&path());
        assert!((dd.depth - 0.2).abs() < 1e-12, "{dd:?}");
        assert_eq!((dd.peak, dd.trough), (Some(day(2)), Some(day(4))));
        assert_eq!(max_drawdown(&path()[..2]), Drawdown::default(), "a rise has no drawdown");
        assert_eq!(max_drawdown(&[]), Drawdown::default());
    }

    #[test]
    fn daily_returns_use_each_days_last_point() {
        let mut points = path();
        // An intraday point before the day's close does not count.
        points[1].time = day(2) + chrono::Duration::hours(12);
        points.insert(1, EquityPoint { time: day(2), total: 50.0 });
        let r = daily_returns(&points);
        let expected = [0.1, -0.1, -1.0 / 9.0, 0.375, -1.0 / 11.0];
        assert_eq!(r.len(), 5);
        for ((date, got), want) in r.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{date}: {got} vs {want}");
        }
        assert_eq!(r[0].0, day(2).date_naive());
    }

    #[test]
    fn cagr_compounds_over_365_day_years() {
        assert!((cagr(100.0, 121.0, 730.0).unwrap() - 0.1).abs() < 1e-12);
        assert!((cagr(100.0, 110.0, 365.0).unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(cagr(0.0, 1.0, 365.0), None);
        assert_eq!(cagr(1.0, 1.0, 0.0), None);
    }

    #[test]
    fn sharpe_and_sortino_by_hand() {
        let r = [0.1, -0.1, 0.1, -0.02];
        // mean = 0.08 / 4 = 0.02; deviations 0.08, -0.12, 0.08, -0.04;
        // squares 0.0064 + 0.0144 + 0.0064 + 0.0016 = 0.0288; /3 = 0.0096.
        let want_sharpe = 0.02 / 0.0096f64.sqrt() * 365f64.sqrt();
        assert!((sharpe(&r).unwrap() - want_sharpe).abs() < 1e-9);
        // Downside: (0.01 + 0.0004) / 4 = 0.0026.
        let want_sortino = 0.02 / 0.0026f64.sqrt() * 365f64.sqrt();
        assert!((sortino(&r).unwrap() - want_sortino).abs() < 1e-9);
        assert_eq!(sharpe(&[0.01, 0.01]), None, "no variation");
        assert_eq!(sortino(&[0.01, 0.02]), None, "no losing day");
        assert_eq!(sharpe(&[0.01]), None);
    }
}
