//! A replay fixture set: the reference's four snapshot files plus an
//! optional `replay_config.json`, read and checked up front so that a bad
//! file is reported by name and field before any cycle starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::domain::rules::{SymbolRules, parse_decimal};
use crate::domain::snapshot::{AssetBalance, BtcSnapshot, Indicators};

pub const BALANCES_FILE: &str = "account_balances_snapshot.json";
pub const STATE_FILE: &str = "initial_state_snapshot.json";
pub const MARKET_FILE: &str = "market_data_snapshot.json";
pub const POOL_FILE: &str = "pool_input_snapshot.json";
pub const CONFIG_FILE: &str = "replay_config.json";

/// Where the default fixture set was compiled from; also its name in
/// reports and error messages.
pub const DEFAULT_FIXTURES: &str = "fixtures/cycle_replay";

/// The default fixture set, compiled into the binary so `replay` and
/// `run --paper` work from any directory and inside the container image.
const EMBEDDED_DEFAULT: &[(&str, &str)] = &[
    (BALANCES_FILE, include_str!("../../fixtures/cycle_replay/account_balances_snapshot.json")),
    (STATE_FILE, include_str!("../../fixtures/cycle_replay/initial_state_snapshot.json")),
    (MARKET_FILE, include_str!("../../fixtures/cycle_replay/market_data_snapshot.json")),
    (POOL_FILE, include_str!("../../fixtures/cycle_replay/pool_input_snapshot.json")),
    (CONFIG_FILE, include_str!("../../fixtures/cycle_replay/replay_config.json")),
];

/// How the pool file is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolSource {
    /// The file is the upstream payload and must validate.
    Injected,
    /// The file plays the upstream Firestore document (`null` = missing) and
    /// the whole degraded ladder runs.
    Firestore,
}

#[derive(Clone, PartialEq, Default)]
pub struct ReplayConfig {
    pub now_utc: Option<DateTime<Utc>>,
    pub run_id: Option<String>,
    pub pool_source: Option<PoolSource>,
    /// The fixture's variables, laid over the run's environment by
    /// `replay`: plain names and values from `replay_config.json`, read as
    /// settings by config (this layer reads no environment).
    pub env: BTreeMap<String, String>,
}

/// Lists the fixture's variable names only, as the environment's `Debug`
/// does: a value may be a credential.
impl std::fmt::Debug for ReplayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayConfig")
            .field("now_utc", &self.now_utc)
            .field("run_id", &self.run_id)
            .field("pool_source", &self.pool_source)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FixtureSet {
    pub dir: PathBuf,
    pub balances: BTreeMap<String, AssetBalance>,
    pub earn_products: BTreeMap<String, String>,
    pub prices: BTreeMap<String, Decimal>,
    pub rules: BTreeMap<String, SymbolRules>,
    pub initial_state: Value,
    pub pool_input: Value,
    pub btc: Option<BtcSnapshot>,
    pub indicators: BTreeMap<String, Indicators>,
    pub config: ReplayConfig,
}

/// A fixture problem, naming the file and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct FixtureError {
    pub file: String,
    pub message: String,
}

fn err(file: &Path, message: impl Into<String>) -> FixtureError {
    FixtureError { file: file.display().to_string(), message: message.into() }
}

/// Reads one file of a set: from the disk, or from the embedded default.
type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

fn read_disk(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// The embedded default set's files, looked up by file name.
fn read_embedded(path: &Path) -> std::io::Result<String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    EMBEDDED_DEFAULT
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| (*text).to_string())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not in the embedded fixture set"))
}

fn read_json(read: ReadFile, path: &Path) -> Result<Value, FixtureError> {
    let text = read(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| err(path, format!("not valid JSON: {e}")))
}

fn object<'a>(v: &'a Value, path: &Path, field: &str) -> Result<&'a Map<String, Value>, FixtureError> {
    v.as_object().ok_or_else(|| err(path, format!("{field} must be an object")))
}

/// An optional object member; absent or null is an empty map.
fn member<'a>(
    v: &'a Map<String, Value>,
    key: &str,
    path: &Path,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, FixtureError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => object(x, path, &format!("{field}.{key}")).map(Some),
    }
}

fn decimal(v: &Value, path: &Path, field: &str) -> Result<Decimal, FixtureError> {
    parse_decimal(v).ok_or_else(|| err(path, format!("{field} must be a decimal number, got {v}")))
}

fn number(v: Option<&Value>, path: &Path, field: &str) -> Result<Option<f64>, FixtureError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(err(path, format!("{field} must be a number or null, got {other}"))),
    }
}

impl FixtureSet {
    /// Reads the fixture set in directory `dir`.
    pub fn load(dir: &Path) -> Result<FixtureSet, FixtureError> {
        if !dir.is_dir() {
            return Err(err(dir, "fixture directory not found"));
        }
        Self::parse(dir, &read_disk)
    }

    /// The default set (`fixtures/cycle_replay`) as compiled into the
    /// binary: no file is read. Its `dir` names where it came from.
    pub fn embedded_default() -> Result<FixtureSet, FixtureError> {
        Self::parse(Path::new(DEFAULT_FIXTURES), &read_embedded)
    }

    /// `dir`'s set when given, the embedded default otherwise.
    pub fn load_or_default(dir: Option<&Path>) -> Result<FixtureSet, FixtureError> {
        match dir {
            Some(dir) => Self::load(dir),
            None => Self::embedded_default(),
        }
    }

    fn parse(dir: &Path, read: ReadFile) -> Result<FixtureSet, FixtureError> {
        let config = load_config(read, &dir.join(CONFIG_FILE))?;
        let bal_path = dir.join(BALANCES_FILE);
        let raw = read_json(read, &bal_path)?;
        let raw = object(&raw, &bal_path, "the document")?;
        let mut balances: BTreeMap<String, AssetBalance> = BTreeMap::new();
        if let Some(spot) = member(raw, "spot_balances", &bal_path, "")? {
            for (asset, v) in spot {
                let field = format!("spot_balances.{asset}");
                let o = object(v, &bal_path, &field)?;
                let amount = |k: &str| -> Result<Decimal, FixtureError> {
                    let d = match o.get(k) {
                        None | Some(Value::Null) => Decimal::ZERO,
                        Some(x) => decimal(x, &bal_path, &format!("{field}.{k}"))?,
                    };
                    if d < Decimal::ZERO {
                        return Err(err(&bal_path, format!("{field}.{k} must not be negative, got {d}")));
                    }
                    Ok(d)
                };
                let b = balances.entry(asset.clone()).or_default();
                b.free = amount("free")?;
                b.locked = amount("locked")?;
            }
        }
        let mut earn_products = BTreeMap::new();
        if let Some(earn) = member(raw, "earn_positions", &bal_path, "")? {
            for (asset, v) in earn {
                let field = format!("earn_positions.{asset}");
                if let Some(row) = first_row(v, &bal_path, &field)? {
                    let total = match row.get("totalAmount") {
                        None | Some(Value::Null) => Decimal::ZERO,
                        Some(x) => decimal(x, &bal_path, &format!("{field}.rows[0].totalAmount"))?,
                    };
                    balances.entry(asset.clone()).or_default().earn = total.max(Decimal::ZERO);
                    if let Some(id) = row.get("productId").and_then(Value::as_str) {
                        earn_products.insert(asset.clone(), id.to_string());
                    }
                }
            }
        }
        if let Some(list) = member(raw, "earn_product_list", &bal_path, "")? {
            for (asset, v) in list {
                if let Some(row) = first_row(v, &bal_path, &format!("earn_product_list.{asset}"))?
                    && let Some(id) = row.get("productId").and_then(Value::as_str)
                {
                    earn_products.insert(asset.clone(), id.to_string());
                }
            }
        }
        let mut prices = BTreeMap::new();
        if let Some(p) = member(raw, "avg_prices", &bal_path, "")? {
            for (symbol, v) in p {
                let field = format!("avg_prices.{symbol}");
                let d = decimal(v, &bal_path, &field)?;
                if d <= Decimal::ZERO {
                    return Err(err(&bal_path, format!("{field} must be a positive price, got {v}")));
                }
                prices.insert(symbol.clone(), d.normalize());
            }
        }
        let mut rules = BTreeMap::new();
        if let Some(info) = member(raw, "symbol_info", &bal_path, "")? {
            for (symbol, v) in info {
                let field = format!("symbol_info.{symbol}");
                let filters = object(v, &bal_path, &field)?
                    .get("filters")
                    .and_then(Value::as_array)
                    .ok_or_else(|| err(&bal_path, format!("{field}.filters must be an array")))?;
                let r = SymbolRules::from_filters(filters).map_err(|e| err(&bal_path, format!("{field}: {e}")))?;
                rules.insert(symbol.clone(), r);
            }
        }

        let state_path = dir.join(STATE_FILE);
        let initial_state = read_json(read, &state_path)?;
        if !initial_state.is_object() && !initial_state.is_null() {
            return Err(err(&state_path, "the state document must be an object (or null for a missing document)"));
        }
        let pool_path = dir.join(POOL_FILE);
        let pool_input = read_json(read, &pool_path)?;

        let market_path = dir.join(MARKET_FILE);
        let market = read_json(read, &market_path)?;
        let market = object(&market, &market_path, "the document")?;
        let btc = match market.get("btc_snapshot") {
            None | Some(Value::Null) => None,
            Some(v) => Some(btc_snapshot(object(v, &market_path, "btc_snapshot")?, &market_path)?),
        };
        let mut indicators = BTreeMap::new();
        if let Some(ind) = member(market, "trend_indicators", &market_path, "")? {
            for (symbol, v) in ind {
                if v.is_null() {
                    continue;
                }
                let field = format!("trend_indicators.{symbol}");
                indicators
                    .insert(symbol.clone(), trend_indicators(object(v, &market_path, &field)?, &market_path, &field)?);
            }
        }
        Ok(FixtureSet {
            dir: dir.to_path_buf(),
            balances,
            earn_products,
            prices,
            rules,
            initial_state,
            pool_input,
            btc,
            indicators,
            config,
        })
    }
}

fn first_row<'a>(v: &'a Value, path: &Path, field: &str) -> Result<Option<&'a Map<String, Value>>, FixtureError> {
    let rows = match object(v, path, field)?.get("rows") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(rows)) => rows,
        Some(_) => return Err(err(path, format!("{field}.rows must be an array"))),
    };
    match rows.first() {
        None => Ok(None),
        Some(r) => object(r, path, &format!("{field}.rows[0]")).map(Some),
    }
}

fn btc_snapshot(o: &Map<String, Value>, path: &Path) -> Result<BtcSnapshot, FixtureError> {
    let n = |k: &str| number(o.get(k), path, &format!("btc_snapshot.{k}"));
    let regime_on = match o.get("regime_on") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(err(path, format!("btc_snapshot.regime_on must be true, false or null, got {other}")));
        }
    };
    Ok(BtcSnapshot {
        ma200: n("ma200")?,
        zscore: n("zscore")?,
        geom200: n("geom200")?,
        sell_trigger: n("sell_trigger")?,
        ma200_slope: n("ma200_slope")?,
        ahr999: n("ahr999")?,
        btc_roc20: n("btc_roc20")?,
        btc_roc60: n("btc_roc60")?,
        btc_roc120: n("btc_roc120")?,
        regime_on,
    })
}

fn trend_indicators(o: &Map<String, Value>, path: &Path, field: &str) -> Result<Indicators, FixtureError> {
    let n = |k: &str| number(o.get(k), path, &format!("{field}.{k}"));
    let age_days = match n("age_days")? {
        None => None,
        Some(a) if a >= 0.0 && a.fract() == 0.0 && a <= f64::from(u32::MAX) => Some(a as u32),
        Some(a) => return Err(err(path, format!("{field}.age_days must be a whole number of days, got {a}"))),
    };
    Ok(Indicators {
        close: n("close")?,
        sma20: n("sma20")?,
        sma60: n("sma60")?,
        sma200: n("sma200")?,
        roc20: n("roc20")?,
        roc60: n("roc60")?,
        roc120: n("roc120")?,
        vol20: n("vol20")?,
        atr14: n("atr14")?,
        avg_quote_vol_30: n("avg_quote_vol_30")?,
        avg_quote_vol_90: n("avg_quote_vol_90")?,
        avg_quote_vol_180: n("avg_quote_vol_180")?,
        trend_persist_90: n("trend_persist_90")?,
        age_days,
    })
}

fn load_config(read: ReadFile, path: &Path) -> Result<ReplayConfig, FixtureError> {
    let raw = match read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ReplayConfig::default()),
        Err(e) => return Err(err(path, format!("cannot read: {e}"))),
        Ok(text) => serde_json::from_str(&text).map_err(|e| err(path, format!("not valid JSON: {e}")))?,
    };
    let o = object(&raw, path, "the document")?;
    let mut cfg = ReplayConfig::default();
    for (key, v) in o {
        match (key.as_str(), v) {
            (_, Value::Null) => {}
            ("now_utc", Value::String(s)) => {
                cfg.now_utc = Some(
                    DateTime::parse_from_rfc3339(s)
                        .map_err(|e| err(path, format!("now_utc must be an RFC 3339 time, got '{s}': {e}")))?
                        .with_timezone(&Utc),
                );
            }
            ("run_id", Value::String(s)) => cfg.run_id = Some(s.clone()),
            ("pool_source", Value::String(s)) => {
                cfg.pool_source = Some(match s.as_str() {
                    "injected" => PoolSource::Injected,
                    "firestore" => PoolSource::Firestore,
                    _ => return Err(err(path, format!("pool_source must be 'injected' or 'firestore', got '{s}'"))),
                });
            }
            ("env", Value::Object(m)) => {
                for (name, val) in m {
                    let text = match val {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(err(
                                path,
                                format!("env.{name} must be a string, number or boolean, got {other}"),
                            ));
                        }
                    };
                    cfg.env.insert(name.clone(), text);
                }
            }
            ("now_utc" | "run_id" | "pool_source", other) => {
                return Err(err(path, format!("{key} must be a string, got {other}")));
            }
            ("env", other) => return Err(err(path, format!("env must be an object, got {other}"))),
            // Documentation keys such as "about" are allowed.
            _ => {}
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_is_the_repository_set() {
        let embedded = FixtureSet::embedded_default().expect("the embedded set parses");
        let on_disk = FixtureSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_FIXTURES)).unwrap();
        assert_eq!(embedded.dir, Path::new(DEFAULT_FIXTURES));
        assert_eq!(FixtureSet { dir: embedded.dir.clone(), ..on_disk }, embedded);
        assert_eq!(embedded.config.run_id.as_deref(), Some("fixture-cycle_replay"));
    }
}
