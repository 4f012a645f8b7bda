//! `report.html`: the backtest on one self-contained page — the summary
//! table, the equity chart (`equity.svg`, inlined) and the trades — with
//! inline CSS and nothing loaded from elsewhere, so it reads the same in any
//! browser without a network. The page is also well-formed XML (XHTML
//! syntax: every element closed, every text escaped), which the tests parse.

use std::fmt::Write as _;

use tradecycle_core::backtest::{Summary, TradeRecord};

use super::outputs::{summary_rows, trade_cells};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin-bottom:2em}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
thead th{background:#f0f0f0}\
svg{max-width:100%;height:auto}";

/// Text for an element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The SVG document without an XML declaration, ready to sit in a page.
fn inline_svg(svg: &str) -> &str {
    let svg = svg.trim();
    match svg.find("<svg") {
        Some(at) => &svg[at..],
        None => svg,
    }
}

/// The page; `svg` is the chart as written to `equity.svg`.
pub fn report_html(summary: &Summary, svg: &str, trades: &[TradeRecord]) -> String {
    let title = format!("tradecycle backtest {} .. {}", summary.inputs.from, summary.inputs.to);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>{t}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n<h2>Summary</h2>\n<table class=\"summary\"><tbody>\n",
        t = escape(&title)
    );
    for (key, value) in summary_rows(summary) {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(&value));
    }
    let _ = write!(
        out,
        "</tbody></table>\n<h2>Equity</h2>\n<figure>\n{}\n</figure>\n<h2>Trades ({})</h2>\n<table class=\"trades\">\n\
         <thead><tr><th>time</th><th>kind</th><th>symbol</th><th>side</th><th>quantity</th><th>price</th>\
         <th>fee (USDT)</th><th>reason</th></tr></thead>\n<tbody>\n",
        inline_svg(svg),
        trades.len()
    );
    for t in trades {
        out.push_str("<tr>");
        for (i, cell) in trade_cells(t).iter().enumerate() {
            // Quantity, price and fee are numbers, right-aligned.
            let class = if (4..=6).contains(&i) { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(escape(r#"<a href="x">Tom's & co</a>"#), "&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; co&lt;/a&gt;");
    }

    #[test]
    fn the_xml_declaration_stays_out_of_the_page() {
        assert_eq!(inline_svg("<?xml version=\"1.0\"?>\n<svg a=\"1\"></svg>\n"), "<svg a=\"1\"></svg>");
        assert_eq!(inline_svg("<svg></svg>"), "<svg></svg>");
    }
}
