//! `equity.svg`: the backtest's equity by sleeve (total, trend, btc, cash,
//! earn — the series of `equity.csv`) with the BTC buy-and-hold benchmark,
//! and the drawdown of the total in a panel underneath. Drawn with
//! plotters' SVG backend and no font feature: text goes out as `<text>`
//! elements sized by plotters' built-in estimate, so nothing reads system
//! fonts. Coordinates are whole pixels and the series come in a fixed
//! order, so the same cycles give the same bytes.

use chrono::DateTime;
use plotters::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use tradecycle_core::backtest::CycleRecord;

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 720;
/// The equity panel's height; the drawdown panel gets the rest.
const UPPER: u32 = 480;

/// The equity panel's series, in drawing (and legend) order.
pub const SERIES: [&str; 6] = ["total", "trend", "btc", "cash", "earn", "BTC buy and hold"];
pub const DRAWDOWN: &str = "drawdown";

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// The benchmark's value per cycle: all of `start` in BTC at the first
/// known BTC price (as the summary's benchmark); cycles before any price
/// are left out.
fn benchmark(start: Decimal, cycles: &[CycleRecord]) -> Vec<(i64, f64)> {
    let Some(first) = cycles.iter().map(|c| c.btc_price).find(|p| *p > Decimal::ZERO) else {
        return Vec::new();
    };
    let btc = start / first;
    cycles.iter().filter(|c| c.btc_price > Decimal::ZERO).map(|c| (c.time.timestamp(), f(btc * c.btc_price))).collect()
}

/// The total's fall from its running peak, in percent (0 or below).
fn drawdown(cycles: &[CycleRecord]) -> Vec<(i64, f64)> {
    let mut peak = f64::MIN;
    cycles
        .iter()
        .map(|c| {
            let v = f(c.total);
            peak = peak.max(v);
            let dd = if peak > 0.0 { (v / peak - 1.0) * 100.0 } else { 0.0 };
            (c.time.timestamp(), dd)
        })
        .collect()
}

/// An axis label for a time in seconds: the date, plus the hour when the
/// run spans only a few days.
fn time_label(secs: i64, with_hour: bool) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| if with_hour { t.format("%m-%d %H:%M").to_string() } else { t.format("%Y-%m-%d").to_string() })
        .unwrap_or_default()
}

/// The chart as an SVG document; `start` is the initial USDT (the
/// benchmark buys BTC with it).
pub fn equity_svg(cycles: &[CycleRecord], start: Decimal) -> Result<String, String> {
    let mut svg = String::new();
    draw(&mut svg, cycles, start).map_err(|e| format!("cannot draw the equity chart: {e}"))?;
    Ok(svg + "\n")
}

fn draw(svg: &mut String, cycles: &[CycleRecord], start: Decimal) -> Result<(), Box<dyn std::error::Error>> {
    let sleeve = |pick: fn(&CycleRecord) -> Decimal| -> Vec<(i64, f64)> {
        cycles.iter().map(|c| (c.time.timestamp(), f(pick(c)))).collect()
    };
    let series: [Vec<(i64, f64)>; 6] = [
        sleeve(|c| c.total),
        sleeve(|c| c.trend),
        sleeve(|c| c.btc),
        sleeve(|c| c.cash),
        sleeve(|c| c.earn),
        benchmark(start, cycles),
    ];
    let colors = [
        BLACK,
        RGBColor(31, 119, 180),
        RGBColor(247, 147, 26),
        RGBColor(44, 160, 44),
        MAGENTA,
        RGBColor(140, 140, 140),
    ];
    let dd = drawdown(cycles);

    // An empty or one-cycle run still gets axes: the ranges never collapse.
    let x0 = cycles.first().map_or(0, |c| c.time.timestamp());
    let x1 = cycles.last().map_or(0, |c| c.time.timestamp()).max(x0 + 3600);
    let with_hour = x1 - x0 < 4 * 86_400;
    let label = move |x: &i64| time_label(*x, with_hour);
    let top = series.iter().flatten().map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.05;
    let bottom = dd.iter().map(|p| p.1).fold(0.0, f64::min).min(-1.0) * 1.05;

    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(UPPER);

    let mut chart = ChartBuilder::on(&upper)
        .caption("Equity by sleeve (USDT)", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, 0.0..top)?;
    chart.configure_mesh().x_labels(8).x_label_formatter(&label).y_desc("USDT").draw()?;
    for ((name, points), color) in SERIES.iter().zip(series).zip(colors) {
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let mut under = ChartBuilder::on(&lower)
        .caption("Drawdown of the total (%)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, bottom..0.0)?;
    under.configure_mesh().x_labels(8).x_label_formatter(&label).y_desc("%").draw()?;
    under.draw_series(LineSeries::new(dd, RED.stroke_width(2)))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;

    fn cycle(day: u32, total: Decimal, btc_price: Decimal) -> CycleRecord {
        CycleRecord {
            time: Utc.with_ymd_and_hms(2025, 1, day, 0, 0, 0).unwrap(),
            total,
            trend: dec!(0),
            btc: dec!(0),
            cash: total,
            earn: dec!(0),
            btc_price,
            breaker: false,
            rejected: 0,
            skipped: 0,
            failure: None,
        }
    }

    #[test]
    fn drawdown_is_the_fall_from_the_running_peak_in_percent() {
        let cycles = [cycle(1, dec!(100), dec!(0)), cycle(2, dec!(120), dec!(0)), cycle(3, dec!(90), dec!(0))];
        let dd: Vec<f64> = drawdown(&cycles).into_iter().map(|p| p.1).collect();
        assert_eq!(dd, vec![0.0, 0.0, -25.0]);
    }

    #[test]
    fn the_benchmark_buys_at_the_first_known_btc_price() {
        let cycles = [cycle(1, dec!(100), dec!(0)), cycle(2, dec!(100), dec!(50)), cycle(3, dec!(100), dec!(75))];
        let values: Vec<f64> = benchmark(dec!(1000), &cycles).into_iter().map(|p| p.1).collect();
        assert_eq!(values, vec![1000.0, 1500.0]);
    }

    #[test]
    fn a_run_without_cycles_still_gets_a_well_formed_chart() {
        let svg = equity_svg(&[], dec!(10000)).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(doc.root_element().has_tag_name("svg"));
        let lines = doc.descendants().filter(|n| n.has_tag_name("polyline"));
        assert!(lines.filter(|n| n.attribute("points").unwrap_or("").split_whitespace().count() > 2).count() == 0);
    }
}
