//! The backtest's summary document (`summary.json`, schema
//! `tradecycle.backtest.v1`), built purely from what each cycle left: one
//! [`CycleRecord`] per cycle and one [`TradeRecord`] per executed order or
//! Earn move. Money stays `Decimal` (rendered as strings); ratios are
//! `f64` rounded to 6 decimals so the document is stable and readable.
//! Maps are `BTreeMap`: the same inputs give the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::stats::{EquityPoint, cagr, daily_returns, max_drawdown, sharpe, sortino};

pub const SCHEMA: &str = "tradecycle.backtest.v1";

/// What one cycle left: its closing valuation by sleeve, the BTC price it
/// saw, and how its intents ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleRecord {
    pub time: DateTime<Utc>,
    pub total: Decimal,
    pub trend: Decimal,
    pub btc: Decimal,
    pub cash: Decimal,
    pub earn: Decimal,
    pub btc_price: Decimal,
    pub breaker: bool,
    pub rejected: usize,
    pub skipped: usize,
    /// Why the cycle stopped (`stage: message`) when its status was not
    /// ok or attention.
    pub failure: Option<String>,
}

/// One executed order or Earn move.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeRecord {
    pub time: DateTime<Utc>,
    /// The intent kind, snake_case (`trend_buy`, `earn_subscribe`, ...).
    pub kind: String,
    /// The order's symbol, or the Earn move's asset.
    pub symbol: String,
    /// `BUY` / `SELL`; empty for an Earn move.
    pub side: String,
    pub quantity: Decimal,
    pub price: Decimal,
    /// Commissions valued in USDT.
    pub fee: Decimal,
    pub reason: String,
    /// Orders only: the USDT value traded (Earn moves are not turnover).
    pub notional: Decimal,
}

/// The run's settings as the summary repeats them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryInputs {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub cadence: String,
    pub initial_usdt: Decimal,
    pub fee_rate: Decimal,
    pub slippage_bps: Decimal,
    pub earn_apr: Decimal,
    pub pool: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub inputs: SummaryInputs,
    pub cycles: usize,
    /// Cycles that stopped with an error (no trades that cycle).
    pub failed_cycles: usize,
    /// The first of them: its time and why (e.g. too little BTC history).
    pub first_failure: Option<String>,
    pub first_cycle: Option<DateTime<Utc>>,
    pub last_cycle: Option<DateTime<Utc>>,
    pub start_equity: Decimal,
    pub final_equity: Decimal,
    pub total_return: Option<f64>,
    pub cagr: Option<f64>,
    pub max_drawdown: f64,
    pub max_drawdown_peak: Option<DateTime<Utc>>,
    pub max_drawdown_trough: Option<DateTime<Utc>>,
    pub sharpe_daily: Option<f64>,
    pub sortino_daily: Option<f64>,
    pub fees_paid: Decimal,
    pub turnover: Decimal,
    pub trades_by_kind: BTreeMap<String, usize>,
    pub circuit_breaker_days: usize,
    pub days_in_market: DaysInMarket,
    pub benchmark_btc_buy_and_hold: Benchmark,
    pub kpi: Kpi,
    /// `--faults SEED`: the seed and how many faults of each kind were
    /// injected (absent without the flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultTally>,
    /// The invariant that stopped the run, naming the seed and the cycle
    /// (absent when every invariant held).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invariant_broken: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultTally {
    pub seed: u64,
    pub injected: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaysInMarket {
    /// Days ending with a trend position.
    pub trend: usize,
    /// Days ending with BTC held by the DCA sleeve.
    pub btc: usize,
    /// Days ending with USDT in Simple Earn.
    pub earn: usize,
}

/// All of the initial USDT in BTC at the first cycle's price, held to the
/// last cycle (no fees).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Benchmark {
    pub final_equity: Option<Decimal>,
    pub total_return: Option<f64>,
    pub cagr: Option<f64>,
    pub max_drawdown: f64,
}

/// The paper-validation checklist's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpi {
    /// The worst day-over-day change of equity (negative), if any day fell.
    pub worst_daily_loss: Option<f64>,
    pub max_drawdown: f64,
    pub turnover_per_day: Option<Decimal>,
    pub rejected_intents: usize,
    pub skipped_intents: usize,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// The summary of a run.
pub fn summarize(inputs: SummaryInputs, cycles: &[CycleRecord], trades: &[TradeRecord]) -> Summary {
    let curve: Vec<EquityPoint> = cycles.iter().map(|c| EquityPoint { time: c.time, total: f(c.total) }).collect();
    let start = inputs.initial_usdt;
    let last = cycles.last();
    let final_equity = last.map_or(start, |c| c.total);
    let days = (inputs.to - inputs.from).num_days() as f64 + 1.0;
    let dd = max_drawdown(&curve);
    let returns: Vec<f64> = daily_returns(&curve).into_iter().map(|(_, r)| r).collect();
    let days_with = |pick: fn(&CycleRecord) -> bool| -> usize {
        let closes: BTreeMap<NaiveDate, &CycleRecord> = cycles.iter().map(|c| (c.time.date_naive(), c)).collect();
        closes.values().filter(|c| pick(c)).count()
    };
    let turnover: Decimal = trades.iter().map(|t| t.notional).sum();
    let mut trades_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for t in trades {
        *trades_by_kind.entry(t.kind.clone()).or_default() += 1;
    }
    let breaker_days: BTreeSet<NaiveDate> = cycles.iter().filter(|c| c.breaker).map(|c| c.time.date_naive()).collect();
    let ratio = |end: Decimal| (start > Decimal::ZERO).then(|| round6(f(end) / f(start) - 1.0));
    Summary {
        schema: SCHEMA,
        cycles: cycles.len(),
        failed_cycles: cycles.iter().filter(|c| c.failure.is_some()).count(),
        first_failure: cycles.iter().find_map(|c| {
            c.failure.as_ref().map(|f| format!("{}: {f}", c.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        }),
        first_cycle: cycles.first().map(|c| c.time),
        last_cycle: last.map(|c| c.time),
        start_equity: start,
        final_equity,
        total_return: ratio(final_equity),
        cagr: cagr(f(start), f(final_equity), days).map(round6),
        max_drawdown: round6(dd.depth),
        max_drawdown_peak: dd.peak,
        max_drawdown_trough: dd.trough,
        sharpe_daily: sharpe(&returns).map(round6),
        sortino_daily: sortino(&returns).map(round6),
        fees_paid: trades.iter().map(|t| t.fee).sum::<Decimal>().round_dp(8).normalize(),
        turnover: turnover.round_dp(8).normalize(),
        trades_by_kind,
        circuit_breaker_days: breaker_days.len(),
        days_in_market: DaysInMarket {
            trend: days_with(|c| c.trend > Decimal::ZERO),
            btc: days_with(|c| c.btc > Decimal::ZERO),
            earn: days_with(|c| c.earn > Decimal::ZERO),
        },
        benchmark_btc_buy_and_hold: benchmark(start, cycles, days),
        kpi: Kpi {
            worst_daily_loss: returns.iter().copied().filter(|r| *r < 0.0).reduce(f64::min).map(round6),
            max_drawdown: round6(dd.depth),
            turnover_per_day: (days > 0.0).then(|| (turnover / Decimal::from(days as i64)).round_dp(8).normalize()),
            rejected_intents: cycles.iter().map(|c| c.rejected).sum(),
            skipped_intents: cycles.iter().map(|c| c.skipped).sum(),
        },
        faults: None,
        invariant_broken: None,
        inputs,
    }
}

fn benchmark(start: Decimal, cycles: &[CycleRecord], days: f64) -> Benchmark {
    let first_price = cycles.iter().map(|c| c.btc_price).find(|p| *p > Decimal::ZERO);
    let Some(first_price) = first_price else {
        return Benchmark { final_equity: None, total_return: None, cagr: None, max_drawdown: 0.0 };
    };
    let btc = start / first_price;
    let curve: Vec<EquityPoint> = cycles
        .iter()
        .filter(|c| c.btc_price > Decimal::ZERO)
        .map(|c| EquityPoint { time: c.time, total: f(btc * c.btc_price) })
        .collect();
    let end = cycles.last().map(|c| (btc * c.btc_price).round_dp(8).normalize());
    Benchmark {
        final_equity: end,
        total_return: end.filter(|_| start > Decimal::ZERO).map(|e| round6(f(e) / f(start) - 1.0)),
        cagr: end.and_then(|e| cagr(f(start), f(e), days)).map(round6),
        max_drawdown: round6(max_drawdown(&curve).depth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, d, h, 0, 0).unwrap()
    }

    fn cycle(time: DateTime<Utc>, total: Decimal, trend: Decimal, btc_price: Decimal) -> CycleRecord {
        CycleRecord {
            time,
            total,
            trend,
            btc: dec!(0),
            cash: total - trend,
            earn: dec!(0),
            btc_price,
            breaker: false,
            rejected: 0,
            skipped: 0,
            failure: None,
        }
    }

    fn inputs(days: u32) -> SummaryInputs {
        SummaryInputs {
            from: at(1, 0).date_naive(),
            to: at(days, 0).date_naive(),
            cadence: "1d".into(),
            initial_usdt: dec!(1000),
            fee_rate: dec!(0.001),
            slippage_bps: dec!(0),
            earn_apr: dec!(0),
            pool: "static".into(),
        }
    }

    #[test]
    fn summary_by_hand() {
        let mut cycles = vec![
            cycle(at(1, 0), dec!(1000), dec!(0), dec!(100)),
            cycle(at(2, 0), dec!(1100), dec!(500), dec!(120)),
            cycle(at(3, 0), dec!(880), dec!(400), dec!(90)),
            cycle(at(4, 0), dec!(990), dec!(0), dec!(100)),
        ];
        cycles[2].breaker = true;
        cycles[2].rejected = 1;
        cycles[3].skipped = 2;
        cycles[0].failure = Some("snapshot: BTC indicators insufficient".into());
        let trade = |kind: &str, notional: Decimal, fee: Decimal| TradeRecord {
            time: at(2, 0),
            kind: kind.into(),
            symbol: "ETHUSDT".into(),
            side: "BUY".into(),
            quantity: dec!(1),
            price: notional,
            fee,
            reason: String::new(),
            notional,
        };
        let trades = vec![trade("trend_buy", dec!(500), dec!(0.5)), trade("breaker_sell", dec!(400), dec!(0.4))];
        let s = summarize(inputs(4), &cycles, &trades);
        assert_eq!((s.cycles, s.start_equity, s.final_equity), (4, dec!(1000), dec!(990)));
        assert_eq!(s.failed_cycles, 1);
        assert_eq!(s.first_failure.as_deref(), Some("2025-01-01T00:00:00Z: snapshot: BTC indicators insufficient"));
        assert_eq!(s.total_return, Some(-0.01));
        // 1100 → 880: 20%, from day 2 to day 3.
        assert_eq!(s.max_drawdown, 0.2);
        assert_eq!((s.max_drawdown_peak, s.max_drawdown_trough), (Some(at(2, 0)), Some(at(3, 0))));
        assert_eq!((s.fees_paid, s.turnover), (dec!(0.9), dec!(900)));
        assert_eq!(s.trades_by_kind, BTreeMap::from([("breaker_sell".into(), 1), ("trend_buy".into(), 1)]));
        assert_eq!(s.circuit_breaker_days, 1);
        assert_eq!(s.days_in_market, DaysInMarket { trend: 2, btc: 0, earn: 0 });
        // Worst day: 1100 → 880 = -20%.
        assert_eq!(s.kpi.worst_daily_loss, Some(-0.2));
        assert_eq!(s.kpi.turnover_per_day, Some(dec!(225)));
        assert_eq!((s.kpi.rejected_intents, s.kpi.skipped_intents), (1, 2));
        // BTC: 10 BTC bought at 100, worth 1000 at the end; 120 → 90 is 25%.
        let b = &s.benchmark_btc_buy_and_hold;
        assert_eq!((b.final_equity, b.total_return, b.max_drawdown), (Some(dec!(1000)), Some(0.0), 0.25));
    }

    #[test]
    fn a_day_counts_once_whatever_the_cadence() {
        let cycles = vec![
            cycle(at(1, 0), dec!(1000), dec!(10), dec!(100)),
            cycle(at(1, 23), dec!(1000), dec!(0), dec!(100)),
            cycle(at(2, 0), dec!(1000), dec!(10), dec!(100)),
        ];
        let s = summarize(inputs(2), &cycles, &[]);
        // Day 1 ends flat (its last cycle), day 2 in the market.
        assert_eq!(s.days_in_market.trend, 1);
        assert_eq!(s.kpi.worst_daily_loss, None);
        assert_eq!(s.sharpe_daily, None);
    }
}
