//! `equity.svg` and `report.html` from `tradecycle backtest run --output`:
//! both written, both parsed by a real XML parser (the page is kept
//! XHTML-well-formed), with one line per series and one table row per
//! trade, nothing fetched from a network, and byte-identical across runs.

mod common;

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use roxmltree::{Document, Node, ParsingOptions};

use common::{Run, tradecycle};

const DAY_MS: i64 = 86_400_000;
const POOL: &str = "fixtures/cycle_replay/pool_input_snapshot.json";

fn date(day: i64) -> String {
    (Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap() + Duration::days(day)).date_naive().to_string()
}

/// `DATA/<symbol>-1d.csv` from 2023-01-01: waves of the given period around
/// a drift, open = previous close, a 1% range, about 1e9 USDT a day.
fn write_wave(dir: &Path, symbol: &str, p0: f64, drift: f64, amp: f64, period: f64, days: usize) {
    let t0 = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap().timestamp_millis();
    let closes: Vec<f64> = (0..days)
        .map(|i| {
            let x = i as f64;
            let p = p0 * (drift * x + amp * (2.0 * std::f64::consts::PI * x / period).sin()).exp();
            (p * 1e4).round() / 1e4
        })
        .collect();
    let mut text = String::new();
    for (i, close) in closes.iter().enumerate() {
        let open = if i == 0 { *close } else { closes[i - 1] };
        let t = t0 + i as i64 * DAY_MS;
        let (high, low) = (open.max(*close) * 1.01, open.min(*close) * 0.99);
        text += &format!("{t},{open},{high},{low},{close},{},{},1,1,1,1,0\n", 1e9 / close, t + DAY_MS - 1);
    }
    std::fs::write(dir.join(format!("{symbol}-1d.csv")), text).unwrap();
}

fn market(dir: &Path) {
    write_wave(dir, "BTCUSDT", 20_000.0, 0.002, 0.15, 180.0, 760);
    write_wave(dir, "BNBUSDT", 300.0, 0.001, 0.05, 90.0, 760);
    write_wave(dir, "ETHUSDT", 1_500.0, 0.0025, 0.2, 120.0, 760);
    write_wave(dir, "SOLUSDT", 20.0, 0.003, 0.3, 100.0, 760);
    write_wave(dir, "XRPUSDT", 0.4, 0.001, 0.25, 150.0, 760);
}

fn backtest(data: &Path, out: &Path) -> Run {
    let (data, out) = (data.display().to_string(), out.display().to_string());
    let run = tradecycle(
        &[
            "backtest",
            "run",
            "--data",
            &data,
            "--output",
            &out,
            "--from",
            &date(580),
            "--to",
            &date(759),
            "--pool",
            POOL,
            "--earn-apr",
            "0.05",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    run
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn named<'a, 'i>(root: Node<'a, 'i>, tag: &str) -> Vec<Node<'a, 'i>> {
    root.descendants().filter(|n| n.has_tag_name(tag)).collect()
}

/// The data lines of a chart: polylines with more than two points (a
/// legend sample has two).
fn series_lines(root: Node) -> Vec<usize> {
    named(root, "polyline")
        .iter()
        .map(|p| p.attribute("points").unwrap_or("").split_whitespace().count())
        .filter(|n| *n > 2)
        .collect()
}

fn texts(root: Node) -> Vec<String> {
    named(root, "text").iter().filter_map(|t| t.text()).map(|t| t.trim().to_string()).collect()
}

#[test]
fn the_chart_has_one_line_per_series_with_a_point_per_cycle_and_a_legend() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    market(data.path());
    backtest(data.path(), out.path());
    let cycles = read(out.path(), "equity.csv").lines().count() - 1;
    assert_eq!(cycles, 180);
    let svg = read(out.path(), "equity.svg");
    let doc = Document::parse(&svg).expect("equity.svg is well-formed XML");
    assert!(doc.root_element().has_tag_name("svg"));
    // total, trend, btc, cash, earn, the benchmark, then the drawdown.
    assert_eq!(series_lines(doc.root_element()), vec![cycles; 7]);
    let labels = texts(doc.root_element());
    for name in ["total", "trend", "btc", "cash", "earn", "BTC buy and hold", "Drawdown of the total (%)"] {
        assert!(labels.iter().any(|t| t == name), "no label {name:?} in {labels:?}");
    }
    // Dates on the time axis, first to last cycle's year-month.
    assert!(labels.iter().any(|t| t.starts_with("2024-")), "{labels:?}");
}

#[test]
fn the_page_is_self_contained_and_lists_every_trade() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    market(data.path());
    backtest(data.path(), out.path());
    let html = read(out.path(), "report.html");
    let opts = ParsingOptions { allow_dtd: true, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(&html, opts).expect("report.html is well-formed");
    let root = doc.root_element();
    assert!(root.has_tag_name("html"));
    // Nothing to fetch: no script, stylesheet link, image or frame, and no
    // address in any attribute or text (namespace names are not fetched).
    for tag in ["script", "link", "img", "iframe", "object"] {
        assert!(named(root, tag).is_empty(), "<{tag}> in the page");
    }
    for node in root.descendants() {
        for a in node.attributes() {
            assert!(!a.value().contains("http"), "{}={}", a.name(), a.value());
        }
        assert!(!node.text().unwrap_or("").contains("http"), "{:?}", node.text());
    }
    // The summary table repeats the text table's rows.
    let summary = named(root, "table").into_iter().find(|t| t.attribute("class") == Some("summary")).unwrap();
    let rows: Vec<(String, String)> = named(summary, "tr")
        .iter()
        .map(|r| (named(*r, "th")[0].text().unwrap().to_string(), named(*r, "td")[0].text().unwrap_or("").to_string()))
        .collect();
    assert_eq!(rows[0], ("period".to_string(), format!("{} .. {} (1d)", date(580), date(759))));
    assert_eq!(rows[2], ("cycles".to_string(), "180 (0 failed)".to_string()));
    // The chart is inlined, all seven lines of it.
    let svg = named(root, "svg");
    assert_eq!(svg.len(), 1);
    assert_eq!(series_lines(svg[0]).len(), 7);
    // One row per trades.csv row, cell for cell.
    let trades: Vec<Vec<String>> =
        read(out.path(), "trades.csv").lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect();
    assert!(trades.len() > 10, "a run with trades");
    let table = named(root, "table").into_iter().find(|t| t.attribute("class") == Some("trades")).unwrap();
    let body = named(table, "tbody")[0];
    let cells: Vec<Vec<String>> = body
        .children()
        .filter(|r| r.has_tag_name("tr"))
        .map(|r| r.children().filter(|c| c.has_tag_name("td")).map(|c| c.text().unwrap_or("").to_string()).collect())
        .collect();
    assert_eq!(cells, trades);
}

#[test]
fn the_chart_and_the_page_are_byte_identical_across_runs() {
    let data = tempfile::tempdir().unwrap();
    market(data.path());
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    backtest(data.path(), one.path());
    backtest(data.path(), two.path());
    for name in ["equity.svg", "report.html"] {
        assert_eq!(
            std::fs::read(one.path().join(name)).unwrap(),
            std::fs::read(two.path().join(name)).unwrap(),
            "{name}"
        );
    }
}
