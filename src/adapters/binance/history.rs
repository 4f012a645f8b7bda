//! Kline history downloads for backtests (`tradecycle backtest fetch`): one
//! page of `GET /api/v3/klines` of any interval, each row rendered as a line
//! of Binance's public data dump layout. Separate from `market.rs`, whose
//! klines feed a cycle's indicators; both go through the same transport, so
//! weight tracking, `Retry-After` and read retries are the cycle's own.

use serde_json::Value;

use super::BinanceClient;
use super::classify::Failure;
use super::query::Query;
use crate::history::{CsvRow, Interval, parse_row};
use crate::ports::PortError;

pub use super::client::API_WEIGHT_LIMIT;

/// Binance's maximum `limit` for klines.
pub const KLINE_PAGE_LIMIT: usize = 1000;
/// Request weight of one `GET /api/v3/klines` with `limit` 1000.
pub const KLINES_WEIGHT: u64 = 2;
/// Binance's "Invalid symbol." code.
const INVALID_SYMBOL: i64 = -1121;

/// One candle as received: parsed (to check it and to page on), and the
/// CSV line to store (12 columns, times as Binance sent them: milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedKline {
    pub row: CsvRow,
    pub line: String,
}

impl BinanceClient {
    /// Up to 1000 candles of `symbol` opening in `[start_ms, end_ms]`,
    /// oldest first (the last one may still be open: see its close time).
    pub async fn kline_page(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<FetchedKline>, PortError> {
        let query = Query::new()
            .with("symbol", symbol)
            .with("interval", interval.as_str())
            .with("startTime", start_ms.to_string())
            .with("endTime", end_ms.to_string())
            .with("limit", KLINE_PAGE_LIMIT.to_string());
        let rows: Vec<Vec<Value>> = self.transport.public("/api/v3/klines", &query).await.map_err(|f: Failure| {
            if f.code == Some(INVALID_SYMBOL) {
                PortError::Definitive("Binance does not know this symbol (check --symbols)".into())
            } else {
                PortError::from(f)
            }
        })?;
        rows.iter()
            .map(|cells| {
                let line = dump_line(cells)?;
                let row = parse_row(&line)?;
                Ok(FetchedKline { row, line })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| PortError::Retryable(format!("GET /api/v3/klines {symbol}: unexpected row: {e}")))
    }

    /// The last `X-MBX-USED-WEIGHT-1M` Binance reported (0 before any).
    pub fn used_weight_1m(&self) -> u64 {
        self.stats().used_weight_1m
    }
}

/// A kline row (`[openTime, "open", ..., "ignore"]`) as one CSV line: numbers
/// as written, strings unquoted. A cell that would break the layout (a
/// comma, a line break, a nested value) is refused.
fn dump_line(cells: &[Value]) -> Result<String, String> {
    let texts = cells
        .iter()
        .map(|cell| match cell {
            Value::Number(n) => Ok(n.to_string()),
            Value::String(s) if !s.contains([',', '\n', '\r']) => Ok(s.clone()),
            other => Err(format!("cell {other} cannot be stored")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(texts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_binance_row_becomes_a_dump_line_that_reads_back() {
        let row = json!([
            1499040000000i64,
            "0.01634790",
            "0.80000000",
            "0.01575800",
            "0.01577100",
            "148976.11427815",
            1499644799999i64,
            "2434.19055334",
            308,
            "1756.87402397",
            "28.46694368",
            "0"
        ]);
        let line = dump_line(row.as_array().unwrap()).unwrap();
        assert_eq!(
            line,
            "1499040000000,0.01634790,0.80000000,0.01575800,0.01577100,148976.11427815,1499644799999,\
             2434.19055334,308,1756.87402397,28.46694368,0"
        );
        assert_eq!(parse_row(&line).unwrap().close_time, 1_499_644_799_999);
        assert!(dump_line(json!(["1,2"]).as_array().unwrap()).is_err());
        assert!(dump_line(json!([[1]]).as_array().unwrap()).is_err());
    }
}
