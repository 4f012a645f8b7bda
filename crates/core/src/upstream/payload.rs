//! Upstream pool payload parsing (behaviour.md §3.2) and validation (§3.3).
//!
//! The publisher's document is only loosely trusted: any JSON value is
//! accepted as input and never panics; what is wrong with it becomes an
//! error (payload refused) or a warning (payload accepted with an assumption).
//! Each message is `"<code>: <sentence with the values>"`.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::domain::pool::{Universe, UpstreamPayload, infer_base_asset};

/// Stable codes that start every validation message.
pub mod codes {
    /// Our addition: the payload is not a JSON object at all.
    pub const PAYLOAD_NOT_OBJECT: &str = "payload_not_object";
    pub const MISSING_INVALID_AS_OF_DATE: &str = "missing_invalid_as_of_date";
    pub const MODE_MISSING_ASSUMED: &str = "mode_missing_assumed";
    pub const MODE_NOT_ACCEPTABLE: &str = "mode_not_acceptable";
    pub const SYMBOLS_MAP_MISSING_OR_INVALID: &str = "symbols_map_missing_or_invalid";
    pub const SYMBOLS_LIST_EMPTY: &str = "symbols_list_empty";
    pub const POOL_SIZE_MISSING_OR_INVALID: &str = "pool_size_missing_or_invalid";
    pub const POOL_SIZE_MISMATCH: &str = "pool_size_mismatch";
    pub const POOL_SIZE_EXPECTED_MISMATCH: &str = "pool_size_expected_mismatch";
    pub const AS_OF_DATE_IN_FUTURE: &str = "as_of_date_in_future";
    pub const PAYLOAD_STALE_BY_DAYS: &str = "payload_stale_by_days";
    pub const VERSION_MISSING_SYNTHESIZED: &str = "version_missing_synthesized";
    pub const SOURCE_PROJECT_MISSING_UNKNOWN: &str = "source_project_missing_unknown";
}

/// Defaults of behaviour.md §3.4 (used when no env override is given).
pub const DEFAULT_MAX_AGE_DAYS: i64 = 45;
pub const DEFAULT_MODE: &str = "core_major";
pub const DEFAULT_EXPECTED_POOL_SIZE: usize = 5;

/// What the downstream expects of an upstream payload (§3.4).
#[derive(Debug, Clone, PartialEq)]
pub struct ContractSettings {
    pub max_age_days: i64,
    /// Empty = any mode accepted.
    pub acceptable_modes: Vec<String>,
    /// 0 = no expectation.
    pub expected_pool_size: usize,
}

impl Default for ContractSettings {
    fn default() -> Self {
        ContractSettings {
            max_age_days: DEFAULT_MAX_AGE_DAYS,
            acceptable_modes: vec![DEFAULT_MODE.to_string()],
            expected_pool_size: DEFAULT_EXPECTED_POOL_SIZE,
        }
    }
}

/// Outcome of validating one payload from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// True iff `errors` is empty.
    pub ok: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Where the payload came from, e.g. `state:last_known_good`.
    pub label: String,
    /// The normalised payload, filled as far as parsing got even when not ok.
    pub payload: UpstreamPayload,
    /// Days between `as_of_date` and `now` (negative = future); `None` when
    /// the date is unusable.
    pub age_days: Option<i64>,
    /// `age_days <= max_age_days` (reference definition: also true for a
    /// future date, which is an error anyway).
    pub is_fresh: bool,
}

impl Validation {
    /// Every error joined by `"; "`, for one-line reports.
    pub fn error_text(&self) -> String {
        self.errors.join("; ")
    }
}

/// The snake_case code at the start of a message, if it has one.
pub fn message_code(message: &str) -> Option<&str> {
    let (code, _) = message.split_once(": ")?;
    let snake = !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    snake.then_some(code)
}

/// Validate `raw` against the contract (§3.3 rules 1–7, in that order).
/// `enforce_freshness` is false only for last-known-good; a future date is an
/// error regardless.
pub fn validate_payload(
    raw: &Value,
    label: &str,
    now: DateTime<Utc>,
    contract: &ContractSettings,
    enforce_freshness: bool,
) -> Validation {
    let mut found = Findings::default();
    let empty = Map::new();
    let obj = raw.as_object().unwrap_or_else(|| {
        found.error(
            codes::PAYLOAD_NOT_OBJECT,
            format!("payload is {}, expected a JSON object", crate::domain::json_kind(raw)),
        );
        &empty
    });

    let as_of = check_as_of_date(obj, &mut found);
    let mode = resolve_mode(obj, &contract.acceptable_modes, &mut found);
    let symbols = check_symbols(obj, &mut found);
    check_pool_size(obj, symbols.len(), contract.expected_pool_size, &mut found);
    let freshness = FreshnessRule { now, max_age_days: contract.max_age_days, enforce: enforce_freshness };
    let (age_days, is_fresh) = freshness.check(as_of, &mut found);
    let version = resolve_version(obj, as_of, &mode, &mut found);
    let source_project = resolve_source_project(obj, &mut found);

    Validation {
        ok: found.errors.is_empty(),
        errors: found.errors,
        warnings: found.warnings,
        label: label.to_string(),
        payload: UpstreamPayload {
            as_of_date: as_of.map(|d| d.to_string()).unwrap_or_default(),
            version,
            mode,
            symbols,
            source_project,
        },
        age_days,
        is_fresh,
    }
}

/// Parse the ordered `symbol -> base asset` universe of a payload (§3.2):
/// the symbol map re-ordered to the ordered symbol list, deduplicated, and
/// restricted to symbols present in both.
pub fn parse_universe(obj: &Map<String, Value>) -> Universe {
    order_universe(obj, &parse_symbol_map(obj))
}

/// Errors and warnings in the order the rules raise them.
#[derive(Debug, Default)]
struct Findings {
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl Findings {
    fn error(&mut self, code: &str, text: String) {
        self.errors.push(format!("{code}: {text}"));
    }

    fn warn(&mut self, code: &str, text: String) {
        self.warnings.push(format!("{code}: {text}"));
    }
}

// ---- §3.2 parsing -------------------------------------------------------

/// `symbol_map` if it is a dict or list, else `symbols` if it is; a present
/// but empty `symbol_map` still wins (literal reading of the reference).
fn symbol_source(obj: &Map<String, Value>) -> Option<&Value> {
    ["symbol_map", "symbols"].into_iter().filter_map(|key| obj.get(key)).find(|v| v.is_object() || v.is_array())
}

/// The unordered symbol map: symbols must be strings ending in `USDT`.
fn parse_symbol_map(obj: &Map<String, Value>) -> Universe {
    let mut map = Universe::new();
    match symbol_source(obj) {
        Some(Value::Object(entries)) => {
            for (symbol, meta) in entries {
                insert_symbol(&mut map, symbol, Some(meta));
            }
        }
        Some(Value::Array(items)) => {
            // A list carries no metadata: base assets are inferred.
            for symbol in items.iter().filter_map(Value::as_str) {
                insert_symbol(&mut map, symbol, None);
            }
        }
        _ => {}
    }
    map
}

fn insert_symbol(map: &mut Universe, symbol: &str, meta: Option<&Value>) {
    if !symbol.ends_with("USDT") {
        return;
    }
    let base = declared_base_asset(meta).unwrap_or_else(|| infer_base_asset(symbol));
    // Only the bare "USDT" symbol infers an empty base: not tradable.
    if !base.is_empty() {
        map.insert(symbol.to_string(), base);
    }
}

/// `meta.base_asset` trimmed, when it is a non-blank string.
fn declared_base_asset(meta: Option<&Value>) -> Option<String> {
    let base = meta?.get("base_asset")?.as_str()?.trim();
    (!base.is_empty()).then(|| base.to_string())
}

/// The map re-ordered to the ordering candidates; the first occurrence of a
/// duplicate wins and symbols missing from the map are dropped.
fn order_universe(obj: &Map<String, Value>, map: &Universe) -> Universe {
    let mut ordered = Universe::new();
    for symbol in ordering_candidates(obj, map) {
        if let Some(base) = map.get(symbol) {
            ordered.entry(symbol.to_string()).or_insert_with(|| base.clone());
        }
    }
    ordered
}

/// Order of the pool: `symbols` as a list (its order) or a dict (key order),
/// otherwise the symbol map's own order.
fn ordering_candidates<'a>(obj: &'a Map<String, Value>, map: &'a Universe) -> Vec<&'a str> {
    match obj.get("symbols") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::Object(entries)) => entries.keys().map(String::as_str).collect(),
        _ => map.keys().map(String::as_str).collect(),
    }
}

// ---- §3.3 rules ------------------------------------------------------------

/// Rule 1: the first 10 characters (after trimming) must be `YYYY-MM-DD`.
fn check_as_of_date(obj: &Map<String, Value>, found: &mut Findings) -> Option<NaiveDate> {
    let raw = obj.get("as_of_date");
    let date =
        raw.and_then(Value::as_str).and_then(|text| parse_iso_date(&text.trim().chars().take(10).collect::<String>()));
    if date.is_none() {
        let text = match raw {
            None | Some(Value::Null) => "as_of_date is missing".to_string(),
            Some(v) => format!("as_of_date {} is not a YYYY-MM-DD date", show(v)),
        };
        found.error(codes::MISSING_INVALID_AS_OF_DATE, text);
    }
    date
}

/// Strict `YYYY-MM-DD` (year ≥ 1, like Python's `date`).
fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    // Digits only: `parse` alone would also accept a sign.
    let number = |range: std::ops::Range<usize>| {
        let part = text.get(range)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse::<u32>().ok()
    };
    let year = i32::try_from(number(0..4)?).ok().filter(|y| *y >= 1)?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

/// Rule 2: a missing mode is assumed to be the first acceptable one.
fn resolve_mode(obj: &Map<String, Value>, acceptable: &[String], found: &mut Findings) -> String {
    let given = trimmed_str(obj, "mode");
    if given.is_empty() {
        let Some(first) = acceptable.first() else {
            return String::new();
        };
        found.warn(codes::MODE_MISSING_ASSUMED, format!("mode is missing; assuming '{first}'"));
        return first.clone();
    }
    if !acceptable.is_empty() && !acceptable.contains(&given) {
        found.error(
            codes::MODE_NOT_ACCEPTABLE,
            format!("mode '{given}' is not acceptable (acceptable: {})", acceptable.join(", ")),
        );
    }
    given
}

/// Rule 3: both the symbol map and the ordered list must be non-empty.
fn check_symbols(obj: &Map<String, Value>, found: &mut Findings) -> Universe {
    let map = parse_symbol_map(obj);
    if map.is_empty() {
        found.error(codes::SYMBOLS_MAP_MISSING_OR_INVALID, "no valid USDT symbol in symbol_map or symbols".to_string());
    }
    let universe = order_universe(obj, &map);
    if universe.is_empty() {
        found.error(
            codes::SYMBOLS_LIST_EMPTY,
            "the ordered symbol list is empty (no listed symbol is in the symbol map)".to_string(),
        );
    }
    universe
}

/// Rule 4: declared `pool_size` (default: the parsed count) must equal the
/// parsed count and, when an expectation is set, the expected size.
fn check_pool_size(obj: &Map<String, Value>, parsed: usize, expected: usize, found: &mut Findings) {
    let parsed_n = parsed as i128;
    let declared = match obj.get("pool_size") {
        None => parsed_n,
        Some(v) => integer_value(v).unwrap_or_else(|| {
            found.error(codes::POOL_SIZE_MISSING_OR_INVALID, format!("pool_size {} is not an integer", show(v)));
            parsed_n
        }),
    };
    if declared != parsed_n {
        found.error(
            codes::POOL_SIZE_MISMATCH,
            format!("pool_size {declared} does not match the {parsed} parsed symbols"),
        );
    }
    if expected > 0 && parsed > 0 && declared != expected as i128 {
        found.error(
            codes::POOL_SIZE_EXPECTED_MISMATCH,
            format!("pool_size {declared} differs from the expected pool size {expected}"),
        );
    }
}

/// An int, an int-valued float or an integer string (trimmed); bools and
/// everything else are not integers here.
fn integer_value(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().and_then(integral_float)),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    }
}

fn integral_float(f: f64) -> Option<i128> {
    // 1e38 keeps the cast inside i128's range.
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38).then_some(f as i128)
}

/// Rule 5: age against `now`; future dates are always refused, stale ones
/// only when freshness is enforced.
struct FreshnessRule {
    now: DateTime<Utc>,
    max_age_days: i64,
    enforce: bool,
}

impl FreshnessRule {
    fn check(&self, as_of: Option<NaiveDate>, found: &mut Findings) -> (Option<i64>, bool) {
        let Some(date) = as_of else {
            return (None, false);
        };
        let today = self.now.date_naive();
        let age = (today - date).num_days();
        if age < 0 {
            found.error(codes::AS_OF_DATE_IN_FUTURE, format!("as_of_date {date} is in the future (today is {today})"));
        } else if self.enforce && age > self.max_age_days {
            found.error(
                codes::PAYLOAD_STALE_BY_DAYS,
                format!("payload is stale: {age} days old (max {})", self.max_age_days),
            );
        }
        (Some(age), age <= self.max_age_days)
    }
}

/// Rule 6: a missing version is `<as_of>-<mode>` when both are known.
fn resolve_version(obj: &Map<String, Value>, as_of: Option<NaiveDate>, mode: &str, found: &mut Findings) -> String {
    let given = trimmed_str(obj, "version");
    match as_of {
        Some(date) if given.is_empty() && !mode.is_empty() => {
            let version = format!("{date}-{mode}");
            found.warn(codes::VERSION_MISSING_SYNTHESIZED, format!("version is missing; synthesized '{version}'"));
            version
        }
        _ => given,
    }
}

/// Rule 7: a missing source project becomes `"unknown"`.
fn resolve_source_project(obj: &Map<String, Value>, found: &mut Findings) -> String {
    let given = trimmed_str(obj, "source_project");
    if !given.is_empty() {
        return given;
    }
    found.warn(codes::SOURCE_PROJECT_MISSING_UNKNOWN, "source_project is missing; using 'unknown'".to_string());
    "unknown".to_string()
}

// ---- helpers -------------------------------------------------------------

/// A string field, trimmed; non-strings count as missing.
fn trimmed_str(obj: &Map<String, Value>, key: &str) -> String {
    obj.get(key).and_then(Value::as_str).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// A short rendering of an offending value for messages (char-safe cut so a
/// hostile payload cannot flood the log).
fn show(value: &Value) -> String {
    const MAX_CHARS: usize = 60;
    let text = value.to_string();
    if text.chars().count() <= MAX_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap()
    }

    /// The replay fixture's payload (behaviour.md §9.1), dated 2026-03-10.
    fn fixture() -> Value {
        json!({
            "as_of_date": "2026-03-10",
            "version": "2026-03-10-core_major",
            "mode": "core_major",
            "pool_size": 5,
            "symbols": ["ETHUSDT", "SOLUSDT", "XRPUSDT", "LTCUSDT", "BCHUSDT"],
            "symbol_map": {
                "ETHUSDT": {"base_asset": "ETH"},
                "SOLUSDT": {"base_asset": "SOL"},
                "XRPUSDT": {"base_asset": "XRP"},
                "LTCUSDT": {"base_asset": "LTC"},
                "BCHUSDT": {"base_asset": "BCH"}
            },
            "source_project": "crypto-leader-rotation"
        })
    }

    fn with(mut payload: Value, key: &str, value: Value) -> Value {
        payload[key] = value;
        payload
    }

    fn without(mut payload: Value, key: &str) -> Value {
        payload.as_object_mut().unwrap().shift_remove(key);
        payload
    }

    fn check(raw: &Value) -> Validation {
        validate_payload(raw, "test", now(), &ContractSettings::default(), true)
    }

    fn codes_of(messages: &[String]) -> Vec<&str> {
        messages.iter().filter_map(|m| message_code(m)).collect()
    }

    fn symbols(v: &Validation) -> Vec<String> {
        v.payload.symbol_list()
    }

    #[test]
    fn fixture_payload_is_valid_and_fresh() {
        let v = check(&fixture());
        assert!(v.ok, "{:?}", v.errors);
        assert!(v.errors.is_empty() && v.warnings.is_empty());
        assert_eq!(v.label, "test");
        assert_eq!(v.age_days, Some(5));
        assert!(v.is_fresh);
        let p = &v.payload;
        assert_eq!(p.as_of_date, "2026-03-10");
        assert_eq!(p.version, "2026-03-10-core_major");
        assert_eq!(p.mode, "core_major");
        assert_eq!(p.source_project, "crypto-leader-rotation");
        assert_eq!(symbols(&v), ["ETHUSDT", "SOLUSDT", "XRPUSDT", "LTCUSDT", "BCHUSDT"]);
        assert_eq!(p.symbols["XRPUSDT"], "XRP");
        assert_eq!(p.to_value()["pool_size"], json!(5));
    }

    #[test]
    fn non_object_payloads_are_errors() {
        for raw in [json!(null), json!("x"), json!([1, 2]), json!(3), json!(true)] {
            let v = check(&raw);
            assert!(!v.ok);
            assert_eq!(
                codes_of(&v.errors),
                [
                    codes::PAYLOAD_NOT_OBJECT,
                    codes::MISSING_INVALID_AS_OF_DATE,
                    codes::SYMBOLS_MAP_MISSING_OR_INVALID,
                    codes::SYMBOLS_LIST_EMPTY,
                ]
            );
            assert_eq!(codes_of(&v.warnings), [codes::MODE_MISSING_ASSUMED, codes::SOURCE_PROJECT_MISSING_UNKNOWN]);
        }
        assert_eq!(
            check(&json!([1])).errors.first().map(String::as_str),
            Some("payload_not_object: payload is an array, expected a JSON object")
        );
    }

    #[test]
    fn as_of_date_missing_or_invalid() {
        let missing = check(&without(fixture(), "as_of_date"));
        assert_eq!(missing.errors, ["missing_invalid_as_of_date: as_of_date is missing"]);
        assert_eq!(missing.age_days, None);
        assert!(!missing.is_fresh);
        assert_eq!(missing.payload.as_of_date, "");
        for bad in [
            json!("2026-3-10"),
            json!("2026-02-30"),
            json!("20260310"),
            json!(""),
            json!(20260310),
            json!("0000-01-01"),
        ] {
            let v = check(&with(fixture(), "as_of_date", bad.clone()));
            assert_eq!(codes_of(&v.errors), [codes::MISSING_INVALID_AS_OF_DATE], "{bad}");
        }
        let v = check(&with(fixture(), "as_of_date", json!("2026-3-10")));
        assert_eq!(v.errors, ["missing_invalid_as_of_date: as_of_date \"2026-3-10\" is not a YYYY-MM-DD date"]);
    }

    #[test]
    fn as_of_date_uses_first_ten_characters() {
        let v = check(&with(fixture(), "as_of_date", json!(" 2026-03-10T12:00:00Z")));
        assert!(v.ok, "{:?}", v.errors);
        assert_eq!(v.payload.as_of_date, "2026-03-10");
    }

    #[test]
    fn missing_mode_assumes_first_acceptable() {
        for raw in [without(fixture(), "mode"), with(fixture(), "mode", json!("  ")), with(fixture(), "mode", json!(7))]
        {
            let v = check(&raw);
            assert!(v.ok);
            assert_eq!(v.warnings, ["mode_missing_assumed: mode is missing; assuming 'core_major'"]);
            assert_eq!(v.payload.mode, "core_major");
        }
    }

    #[test]
    fn unacceptable_mode_is_an_error() {
        let v = check(&with(fixture(), "mode", json!("xyz")));
        assert_eq!(v.errors, ["mode_not_acceptable: mode 'xyz' is not acceptable (acceptable: core_major)"]);
        assert_eq!(v.payload.mode, "xyz");
        let contract =
            ContractSettings { acceptable_modes: vec!["a".into(), "b".into()], ..ContractSettings::default() };
        let v = validate_payload(&fixture(), "t", now(), &contract, true);
        assert_eq!(v.errors, ["mode_not_acceptable: mode 'core_major' is not acceptable (acceptable: a, b)"]);
    }

    #[test]
    fn empty_acceptable_list_accepts_any_mode_and_assumes_none() {
        let contract = ContractSettings { acceptable_modes: vec![], ..ContractSettings::default() };
        let v = validate_payload(&with(fixture(), "mode", json!("xyz")), "t", now(), &contract, true);
        assert!(v.ok && v.warnings.is_empty());
        let v = validate_payload(&without(fixture(), "mode"), "t", now(), &contract, true);
        assert!(v.ok && v.warnings.is_empty());
        assert_eq!(v.payload.mode, "");
    }

    #[test]
    fn no_symbols_gives_both_symbol_errors() {
        let raw = without(without(fixture(), "symbols"), "symbol_map");
        let v = check(&raw);
        assert_eq!(
            v.errors,
            [
                "symbols_map_missing_or_invalid: no valid USDT symbol in symbol_map or symbols",
                "symbols_list_empty: the ordered symbol list is empty (no listed symbol is in the symbol map)",
                "pool_size_mismatch: pool_size 5 does not match the 0 parsed symbols",
            ]
        );
    }

    #[test]
    fn list_without_mapped_symbols_is_only_list_empty() {
        let raw = with(fixture(), "symbols", json!(["DOTUSDT", 5, null]));
        let v = check(&raw);
        assert_eq!(codes_of(&v.errors), [codes::SYMBOLS_LIST_EMPTY, codes::POOL_SIZE_MISMATCH]);
    }

    #[test]
    fn symbols_list_reorders_the_map_and_drops_the_rest() {
        let raw = json!({
            "as_of_date": "2026-03-10", "version": "v", "mode": "core_major",
            "pool_size": 3, "source_project": "p",
            "symbols": ["XRPUSDT", "ETHUSDT", "XRPUSDT", "DOTUSDT", "SOLUSDT"],
            "symbol_map": {
                "ETHUSDT": {"base_asset": "ETH"},
                "SOLUSDT": {"base_asset": " SOLX "},
                "XRPUSDT": {"base_asset": "XRP"},
                "LTCUSDT": {"base_asset": "LTC"}
            }
        });
        let contract = ContractSettings { expected_pool_size: 3, ..ContractSettings::default() };
        let v = validate_payload(&raw, "t", now(), &contract, true);
        assert!(v.ok, "{:?}", v.errors);
        assert_eq!(symbols(&v), ["XRPUSDT", "ETHUSDT", "SOLUSDT"]);
        assert_eq!(v.payload.symbols["SOLUSDT"], "SOLX");
        let stored = v.payload.to_value();
        let keys: Vec<&String> = stored["symbol_map"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["XRPUSDT", "ETHUSDT", "SOLUSDT"]);
        assert_eq!(stored["symbols"], json!(["XRPUSDT", "ETHUSDT", "SOLUSDT"]));
    }

    #[test]
    fn legacy_dict_symbols_use_key_order() {
        let raw = json!({
            "symbols": {
                "SOLUSDT": {"base_asset": "SOL"},
                "ETHUSDT": {"base_asset": "ETH"},
                "btcusdt": {"base_asset": "BTC"},
                "DOGE": {"base_asset": "DOGE"}
            }
        });
        let obj = raw.as_object().unwrap();
        let universe = parse_universe(obj);
        assert_eq!(
            universe.into_iter().collect::<Vec<_>>(),
            [("SOLUSDT".to_string(), "SOL".to_string()), ("ETHUSDT".to_string(), "ETH".to_string())]
        );
    }

    #[test]
    fn list_symbol_map_infers_base_assets() {
        let raw = json!({
            "symbol_map": ["ETHUSDT", 1, "USDT", "LINKUSDT", {"x": 1}, "ethusdt"],
        });
        let universe = parse_universe(raw.as_object().unwrap());
        assert_eq!(
            universe.into_iter().collect::<Vec<_>>(),
            [("ETHUSDT".to_string(), "ETH".to_string()), ("LINKUSDT".to_string(), "LINK".to_string())]
        );
    }

    #[test]
    fn odd_metadata_falls_back_to_inferred_base() {
        let raw = json!({
            "symbol_map": {
                "ETHUSDT": "not a dict",
                "SOLUSDT": {"base_asset": "  "},
                "XRPUSDT": {"base_asset": 5},
                "ADAUSDT": {}
            }
        });
        let universe = parse_universe(raw.as_object().unwrap());
        let bases: Vec<&str> = universe.values().map(String::as_str).collect();
        assert_eq!(bases, ["ETH", "SOL", "XRP", "ADA"]);
    }

    #[test]
    fn symbol_map_beats_symbols_even_when_empty() {
        // `symbol_map` is a dict, so it is the map even though it is empty.
        let raw = with(fixture(), "symbol_map", json!({}));
        let v = check(&raw);
        assert_eq!(
            codes_of(&v.errors),
            [codes::SYMBOLS_MAP_MISSING_OR_INVALID, codes::SYMBOLS_LIST_EMPTY, codes::POOL_SIZE_MISMATCH]
        );
        // A non-collection `symbol_map` falls through to `symbols`.
        let raw = with(fixture(), "symbol_map", json!("junk"));
        let v = check(&raw);
        assert!(v.ok, "{:?}", v.errors);
        assert_eq!(v.payload.symbols["ETHUSDT"], "ETH");
    }

    #[test]
    fn pool_size_accepts_integer_forms() {
        for size in [json!(5), json!(5.0), json!("5"), json!(" 5 ")] {
            let v = check(&with(fixture(), "pool_size", size.clone()));
            assert!(v.ok, "{size}: {:?}", v.errors);
        }
        let v = check(&without(fixture(), "pool_size"));
        assert!(v.ok, "absent pool_size defaults to the parsed count");
    }

    #[test]
    fn pool_size_invalid_forms() {
        for size in [json!(5.5), json!(true), json!(null), json!("five"), json!("5.0"), json!([5])] {
            let v = check(&with(fixture(), "pool_size", size.clone()));
            assert_eq!(codes_of(&v.errors), [codes::POOL_SIZE_MISSING_OR_INVALID], "{size}");
        }
        let v = check(&with(fixture(), "pool_size", json!("five")));
        assert_eq!(v.errors, ["pool_size_missing_or_invalid: pool_size \"five\" is not an integer"]);
    }

    #[test]
    fn pool_size_mismatches() {
        let v = check(&with(fixture(), "pool_size", json!(4)));
        assert_eq!(
            v.errors,
            [
                "pool_size_mismatch: pool_size 4 does not match the 5 parsed symbols",
                "pool_size_expected_mismatch: pool_size 4 differs from the expected pool size 5",
            ]
        );
        let contract = ContractSettings { expected_pool_size: 4, ..ContractSettings::default() };
        let v = validate_payload(&fixture(), "t", now(), &contract, true);
        assert_eq!(v.errors, ["pool_size_expected_mismatch: pool_size 5 differs from the expected pool size 4"]);
        let no_expectation = ContractSettings { expected_pool_size: 0, ..ContractSettings::default() };
        assert!(validate_payload(&fixture(), "t", now(), &no_expectation, true).ok);
    }

    #[test]
    fn future_date_is_always_an_error() {
        let raw = with(fixture(), "as_of_date", json!("2026-04-01"));
        for enforce in [true, false] {
            let v = validate_payload(&raw, "t", now(), &ContractSettings::default(), enforce);
            assert_eq!(
                v.errors,
                ["as_of_date_in_future: as_of_date 2026-04-01 is in the future (today is 2026-03-15)"]
            );
            assert_eq!(v.age_days, Some(-17));
        }
    }

    #[test]
    fn stale_payload_refused_only_when_enforced() {
        let raw = with(fixture(), "as_of_date", json!("2026-01-12"));
        let v = check(&raw);
        assert_eq!(v.errors, ["payload_stale_by_days: payload is stale: 62 days old (max 45)"]);
        assert_eq!(v.age_days, Some(62));
        assert!(!v.is_fresh);
        let v = validate_payload(&raw, "t", now(), &ContractSettings::default(), false);
        assert!(v.ok && !v.is_fresh);
    }

    #[test]
    fn reference_stale_case_mentions_stale() {
        // behaviour.md §11: as_of 2026-01-01, now 2026-03-14, max 30.
        let raw = with(fixture(), "as_of_date", json!("2026-01-01"));
        let contract = ContractSettings { max_age_days: 30, ..ContractSettings::default() };
        let now = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap();
        let v = validate_payload(&raw, "t", now, &contract, true);
        assert!(!v.ok);
        assert!(v.error_text().contains("stale"));
    }

    #[test]
    fn age_equal_to_max_is_fresh() {
        let raw = with(fixture(), "as_of_date", json!("2026-01-29"));
        let v = check(&raw);
        assert_eq!(v.age_days, Some(45));
        assert!(v.ok && v.is_fresh);
    }

    #[test]
    fn missing_version_is_synthesized() {
        let v = check(&with(fixture(), "version", json!(" ")));
        assert!(v.ok);
        assert_eq!(v.payload.version, "2026-03-10-core_major");
        assert_eq!(
            v.warnings,
            ["version_missing_synthesized: version is missing; synthesized '2026-03-10-core_major'"]
        );
        // The synthesized version uses the assumed mode, after its warning.
        let v = check(&without(without(fixture(), "version"), "mode"));
        assert_eq!(codes_of(&v.warnings), [codes::MODE_MISSING_ASSUMED, codes::VERSION_MISSING_SYNTHESIZED]);
        assert_eq!(v.payload.version, "2026-03-10-core_major");
    }

    #[test]
    fn version_not_synthesized_without_date() {
        let raw = without(without(fixture(), "version"), "as_of_date");
        let v = check(&raw);
        assert_eq!(v.payload.version, "");
        assert!(v.warnings.is_empty());
    }

    #[test]
    fn missing_source_project_is_unknown() {
        let v = check(&with(fixture(), "source_project", json!(null)));
        assert!(v.ok);
        assert_eq!(v.payload.source_project, "unknown");
        assert_eq!(v.warnings, ["source_project_missing_unknown: source_project is missing; using 'unknown'"]);
    }

    #[test]
    fn values_are_trimmed() {
        let raw = with(with(fixture(), "version", json!(" v1 ")), "source_project", json!(" p "));
        let v = check(&with(raw, "mode", json!(" core_major ")));
        assert!(v.ok);
        assert_eq!(
            (v.payload.version.as_str(), v.payload.source_project.as_str(), v.payload.mode.as_str()),
            ("v1", "p", "core_major")
        );
    }

    #[test]
    fn errors_follow_rule_order() {
        let raw = json!({"as_of_date": "bad", "mode": "xyz", "pool_size": "x"});
        let v = check(&raw);
        assert_eq!(
            codes_of(&v.errors),
            [
                codes::MISSING_INVALID_AS_OF_DATE,
                codes::MODE_NOT_ACCEPTABLE,
                codes::SYMBOLS_MAP_MISSING_OR_INVALID,
                codes::SYMBOLS_LIST_EMPTY,
                codes::POOL_SIZE_MISSING_OR_INVALID,
            ]
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(500);
        let v = check(&with(fixture(), "pool_size", json!(long)));
        assert!(v.errors[0].chars().count() < 120, "{}", v.errors[0]);
    }

    #[test]
    fn message_code_extracts_snake_case_prefix() {
        assert_eq!(message_code("pool_size_mismatch: x: y"), Some("pool_size_mismatch"));
        assert_eq!(message_code("Loaded injected payload."), None);
        assert_eq!(message_code("Not Code: x"), None);
        assert_eq!(message_code(": x"), None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
            ".{0,12}".prop_map(Value::from),
            "[A-Z]{0,5}(USDT)?".prop_map(Value::from),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}.{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                Just("as_of_date".to_string()),
                Just("mode".to_string()),
                Just("pool_size".to_string()),
                Just("symbols".to_string()),
                Just("symbol_map".to_string()),
                Just("version".to_string()),
                Just("source_project".to_string()),
                Just("base_asset".to_string()),
                "[A-Z]{1,4}USDT",
                ".{0,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key, inner), 0..8).prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// Payload-shaped objects, so that ok validations actually occur: the
    /// map is often the list itself and pool_size often the unique count.
    fn arb_payloadish() -> impl Strategy<Value = Value> {
        let symbol = prop_oneof![
            4 => "(ETH|SOL|XRP|LTC|BCH)USDT",
            1 => Just("USDT".to_string()),
            1 => Just("ETH".to_string()),
        ];
        let symbols = prop::collection::vec(symbol, 0..7);
        let date = prop_oneof![
            3 => Just(json!("2026-03-10")),
            1 => Just(json!("2026-01-01")),
            1 => Just(json!("2026-04-01")),
            1 => Just(json!("nope")),
        ];
        let mode = prop_oneof![
            3 => Just(json!("core_major")),
            1 => Just(json!("x")),
            1 => Just(json!(null)),
        ];
        // 0 = matching int, 1 = matching string, 2 = matching float,
        // 3 = absent, 4 = arbitrary.
        let size_form = (0u8..5, 0i64..8);
        (symbols.clone(), symbols, any::<bool>(), any::<bool>(), date, mode, size_form).prop_map(
            |(list, other, same_map, dict, date, mode, (form, arbitrary))| {
                let map_list = if same_map { list.clone() } else { other };
                let map: Value = if dict {
                    Value::Object(
                        map_list
                            .iter()
                            .map(|s| (s.clone(), json!({"base_asset": s.trim_end_matches("USDT")})))
                            .collect(),
                    )
                } else {
                    json!(map_list)
                };
                let mut raw = json!({"as_of_date": date, "mode": mode,
                                     "symbols": list, "symbol_map": map});
                let count = parse_universe(raw.as_object().unwrap()).len();
                let size = match form {
                    0 => json!(count),
                    1 => json!(count.to_string()),
                    2 => json!(count as f64),
                    3 => return raw,
                    _ => json!(arbitrary),
                };
                raw["pool_size"] = size;
                raw
            },
        )
    }

    fn assert_invariants(raw: &Value, v: &Validation) -> Result<(), TestCaseError> {
        prop_assert_eq!(v.ok, v.errors.is_empty());
        for m in v.errors.iter().chain(&v.warnings) {
            prop_assert!(message_code(m).is_some(), "uncoded message {}", m);
        }
        if v.ok {
            prop_assert!(!v.payload.symbols.is_empty());
            prop_assert_eq!(v.payload.to_value()["pool_size"].as_u64(), Some(v.payload.symbols.len() as u64));
            prop_assert!(v.age_days.is_some());
            // A declared pool_size of an ok payload is exactly the parsed count.
            if let Some(declared) = raw.get("pool_size") {
                prop_assert_eq!(integer_value(declared), Some(v.payload.symbols.len() as i128));
            }
            prop_assert!(v.payload.symbols.keys().all(|s| s.ends_with("USDT") && s.len() > 4));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_json(raw in arb_json(), enforce in any::<bool>()) {
            let v = validate_payload(&raw, "p", now(), &ContractSettings::default(), enforce);
            assert_invariants(&raw, &v)?;
        }

        #[test]
        fn payload_shaped_invariants(raw in arb_payloadish(), enforce in any::<bool>()) {
            let contract = ContractSettings { expected_pool_size: 0, ..ContractSettings::default() };
            let v = validate_payload(&raw, "p", now(), &contract, enforce);
            assert_invariants(&raw, &v)?;
        }
    }
}
