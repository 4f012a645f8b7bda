//! The degraded ladder (behaviour.md §3.5): fresh upstream, then
//! last-known-good, then local files, then the built-in static universe
//! (§3.6); first success wins. Also the injected-payload path (rung 0) used
//! by replay and tests.
//!
//! Pure: the shell performs the reads and passes their outcomes in. Messages
//! of a rung that was tried and failed are kept, in ladder order, so the
//! report explains why the pool is degraded.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::pool::{PoolResolution, SourceKind, Universe, UpstreamPayload};
use crate::upstream::payload::{ContractSettings, Validation, validate_payload};

/// Stable codes that start every ladder message.
pub mod codes {
    pub const MISSING_FIRESTORE_DOCUMENT: &str = "missing_firestore_document";
    pub const UPSTREAM_READ_FAILED: &str = "upstream_read_failed";
    /// Our addition (design.md §3.9): last-known-good older than its limit.
    pub const LKG_TOO_OLD: &str = "lkg_too_old";
    pub const POOL_FILE_NOT_FOUND: &str = "pool_file_not_found";
    pub const POOL_FILE_READ_FAILED: &str = "pool_file_read_failed";
    pub const TREND_POOL_LOADED_FRESH_UPSTREAM: &str = "trend_pool_loaded_fresh_upstream";
    pub const TREND_POOL_USING_LAST_KNOWN_GOOD: &str = "trend_pool_using_last_known_good";
    pub const TREND_POOL_USING_LOCAL_FILE: &str = "trend_pool_using_local_file";
    pub const TREND_POOL_FALLBACK_STATIC: &str = "trend_pool_fallback_static";
}

pub const INJECTED_LABEL: &str = "runtime:trend_pool_payload";
/// Kept verbatim (no code prefix): it is what the reference stores in
/// `trend_pool_messages` on the replay fixture, our parity target.
pub const INJECTED_MESSAGE: &str = "Loaded injected trend pool payload from runtime.";
pub const LAST_KNOWN_GOOD_LABEL: &str = "state:last_known_good";
pub const STATIC_LABEL: &str = "static:built_in";
/// Default of `STRATEGY_ARTIFACT_LKG_MAX_AGE_DAYS` (design.md §3.9).
pub const DEFAULT_LKG_MAX_AGE_DAYS: i64 = 90;

/// `source_project` of the built-in universe: it is ours, not the
/// reference's (`BinancePlatform`), so the state tells the truth about it.
pub const STATIC_SOURCE_PROJECT: &str = "tradecycle";
pub const STATIC_VERSION: &str = "static-fallback";
pub const STATIC_MODE: &str = "static";

/// §3.6, in this order.
const STATIC_UNIVERSE: [(&str, &str); 11] = [
    ("ETHUSDT", "ETH"),
    ("SOLUSDT", "SOL"),
    ("XRPUSDT", "XRP"),
    ("LINKUSDT", "LINK"),
    ("AVAXUSDT", "AVAX"),
    ("ADAUSDT", "ADA"),
    ("DOGEUSDT", "DOGE"),
    ("TRXUSDT", "TRX"),
    ("ATOMUSDT", "ATOM"),
    ("LTCUSDT", "LTC"),
    ("BCHUSDT", "BCH"),
];

/// What reading one source produced.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchOutcome {
    /// The parsed JSON document.
    Found(Value),
    /// The document or file does not exist.
    Missing,
    /// Reading or decoding failed; the error text.
    Failed(String),
}

/// Rung 1: the upstream document, e.g. label
/// `firestore:strategy/CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL` or
/// `upstream-file:/path`.
#[derive(Debug, Clone, PartialEq)]
pub struct FreshSource {
    pub label: String,
    pub outcome: FetchOutcome,
}

/// Rung 3: one local JSON file (label `file:<path>`).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalCandidate {
    pub path: String,
    pub outcome: FetchOutcome,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LadderInputs<'a> {
    /// `None` = no upstream configured: the rung is skipped silently.
    pub fresh: Option<FreshSource>,
    /// The state's `trend_pool_last_good_payload`; absent, null or `{}` =
    /// skipped silently.
    pub last_known_good: Option<&'a Value>,
    /// In probe order (design.md §3.15: only the configured file and
    /// `artifacts/live_pool_legacy.json`).
    pub local_files: Vec<LocalCandidate>,
}

/// Walk the ladder; always returns a pool (static as the last resort).
pub fn resolve_ladder(
    inputs: LadderInputs<'_>,
    contract: &ContractSettings,
    lkg_max_age_days: i64,
    now: DateTime<Utc>,
) -> PoolResolution {
    let mut messages = Vec::new();
    if let Some(fresh) = &inputs.fresh
        && let Some(won) = try_fresh(fresh, contract, now, &mut messages)
    {
        // A fresh win reports only its own success (§3.5).
        let success =
            coded(codes::TREND_POOL_LOADED_FRESH_UPSTREAM, format!("loaded fresh trend pool from {}", won.label));
        return accept(SourceKind::FreshUpstream, won, Vec::new(), success, now);
    }
    let lkg_rule = LkgRule { contract, max_age_days: lkg_max_age_days, now };
    if let Some(won) = lkg_rule.try_rung(inputs.last_known_good, &mut messages) {
        let success = coded(
            codes::TREND_POOL_USING_LAST_KNOWN_GOOD,
            format!(
                "using the last-known-good trend pool (version {}, as_of_date {})",
                won.payload.version, won.payload.as_of_date
            ),
        );
        return accept(SourceKind::LastKnownGood, won, messages, success, now);
    }
    if let Some((won, path)) = try_files(&inputs.local_files, contract, now, &mut messages) {
        let success = coded(codes::TREND_POOL_USING_LOCAL_FILE, format!("using local trend pool file {path}"));
        return accept(SourceKind::LocalFile, won, messages, success, now);
    }
    static_resolution(messages, now)
}

/// Rung 0 (replay/tests): an injected payload validated with freshness; an
/// invalid one is an error for the whole cycle, not a ladder descent.
pub fn resolve_injected(
    raw: &Value,
    contract: &ContractSettings,
    now: DateTime<Utc>,
) -> Result<PoolResolution, String> {
    let validation = validate_payload(raw, INJECTED_LABEL, now, contract, true);
    if !validation.ok {
        return Err(format!("invalid injected trend pool payload ({INJECTED_LABEL}): {}", validation.error_text()));
    }
    let success = INJECTED_MESSAGE.to_string();
    Ok(accept(SourceKind::FreshUpstream, validation, Vec::new(), success, now))
}

/// The built-in emergency universe (§3.6).
pub fn static_payload() -> UpstreamPayload {
    let symbols: Universe =
        STATIC_UNIVERSE.iter().map(|(symbol, base)| (symbol.to_string(), base.to_string())).collect();
    UpstreamPayload {
        as_of_date: String::new(),
        version: STATIC_VERSION.to_string(),
        mode: STATIC_MODE.to_string(),
        symbols,
        source_project: STATIC_SOURCE_PROJECT.to_string(),
    }
}

// ---- rungs -----------------------------------------------------------------

/// Rung 1. On failure its errors and warnings are recorded.
fn try_fresh(
    fresh: &FreshSource,
    contract: &ContractSettings,
    now: DateTime<Utc>,
    messages: &mut Vec<String>,
) -> Option<Validation> {
    let label = &fresh.label;
    match &fresh.outcome {
        FetchOutcome::Found(raw) => {
            let validation = validate_payload(raw, label, now, contract, true);
            passed_or_recorded(validation, messages, true)
        }
        FetchOutcome::Missing => {
            messages.push(coded(
                codes::MISSING_FIRESTORE_DOCUMENT,
                format!("upstream pool document {label} does not exist"),
            ));
            None
        }
        FetchOutcome::Failed(error) => {
            messages.push(coded(codes::UPSTREAM_READ_FAILED, format!("could not read upstream pool {label}: {error}")));
            None
        }
    }
}

/// Rung 2: freshness is not enforced (a future date still is), but our age
/// limit applies so a dead upstream cannot pin an ancient pool forever.
struct LkgRule<'c> {
    contract: &'c ContractSettings,
    max_age_days: i64,
    now: DateTime<Utc>,
}

impl LkgRule<'_> {
    fn try_rung(&self, raw: Option<&Value>, messages: &mut Vec<String>) -> Option<Validation> {
        let raw = raw.filter(|v| !is_blank(v))?;
        let validation = validate_payload(raw, LAST_KNOWN_GOOD_LABEL, self.now, self.contract, false);
        // §3.5: only the errors of a failed last-known-good are carried.
        let validation = passed_or_recorded(validation, messages, false)?;
        match validation.age_days {
            Some(age) if age > self.max_age_days => {
                messages.push(coded(
                    codes::LKG_TOO_OLD,
                    format!(
                        "last-known-good pool (as_of_date {}) is {age} days old (max {})",
                        validation.payload.as_of_date, self.max_age_days
                    ),
                ));
                None
            }
            _ => Some(validation),
        }
    }
}

/// The state default `{}` (or nothing at all) means "never had one".
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Rung 3: each candidate in order; the first valid file wins.
fn try_files(
    files: &[LocalCandidate],
    contract: &ContractSettings,
    now: DateTime<Utc>,
    messages: &mut Vec<String>,
) -> Option<(Validation, String)> {
    files.iter().find_map(|file| try_file(file, contract, now, messages).map(|won| (won, file.path.clone())))
}

fn try_file(
    file: &LocalCandidate,
    contract: &ContractSettings,
    now: DateTime<Utc>,
    messages: &mut Vec<String>,
) -> Option<Validation> {
    let path = &file.path;
    match &file.outcome {
        FetchOutcome::Found(raw) => {
            let label = format!("file:{path}");
            let validation = validate_payload(raw, &label, now, contract, true);
            passed_or_recorded(validation, messages, true)
        }
        FetchOutcome::Missing => {
            messages.push(coded(codes::POOL_FILE_NOT_FOUND, format!("pool file {path} not found")));
            None
        }
        FetchOutcome::Failed(error) => {
            messages.push(coded(codes::POOL_FILE_READ_FAILED, format!("could not read pool file {path}: {error}")));
            None
        }
    }
}

/// Rung 4: never fails.
fn static_resolution(mut messages: Vec<String>, now: DateTime<Utc>) -> PoolResolution {
    messages.push(coded(
        codes::TREND_POOL_FALLBACK_STATIC,
        format!("no usable trend pool source; using the built-in static universe ({} symbols)", STATIC_UNIVERSE.len()),
    ));
    PoolResolution {
        source_kind: SourceKind::Static,
        source_label: STATIC_LABEL.to_string(),
        is_fresh: false,
        messages,
        errors: Vec::new(),
        loaded_at: now,
        payload: static_payload(),
    }
}

// ---- helpers -------------------------------------------------------------

/// `Some(validation)` when ok; otherwise its errors (and, if asked, its
/// warnings) are recorded, tagged with the source label.
fn passed_or_recorded(validation: Validation, messages: &mut Vec<String>, with_warnings: bool) -> Option<Validation> {
    if validation.ok {
        return Some(validation);
    }
    messages.extend(tagged(&validation.errors, &validation.label));
    if with_warnings {
        messages.extend(tagged(&validation.warnings, &validation.label));
    }
    None
}

/// The winning rung: accumulated messages, its success message, then its
/// warnings (§3.5); its errors (empty, as it passed) become `errors`.
fn accept(
    kind: SourceKind,
    won: Validation,
    mut messages: Vec<String>,
    success: String,
    now: DateTime<Utc>,
) -> PoolResolution {
    messages.push(success);
    messages.extend(tagged(&won.warnings, &won.label));
    PoolResolution {
        source_kind: kind,
        source_label: won.label,
        is_fresh: won.is_fresh,
        messages,
        errors: won.errors,
        loaded_at: now,
        payload: won.payload,
    }
}

/// Validation messages do not name their source; in the ladder several
/// sources speak, so each message gets ` [<label>]` appended (the code stays
/// first).
fn tagged<'a>(messages: &'a [String], label: &'a str) -> impl Iterator<Item = String> + 'a {
    messages.iter().map(move |m| format!("{m} [{label}]"))
}

fn coded(code: &str, text: String) -> String {
    format!("{code}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::payload::message_code;
    use chrono::TimeZone;
    use serde_json::json;

    const FIRESTORE: &str = "firestore:strategy/CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap()
    }

    fn payload(as_of: &str) -> Value {
        json!({
            "as_of_date": as_of,
            "version": format!("{as_of}-core_major"),
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

    fn fresh(outcome: FetchOutcome) -> Option<FreshSource> {
        Some(FreshSource { label: FIRESTORE.to_string(), outcome })
    }

    fn file(path: &str, outcome: FetchOutcome) -> LocalCandidate {
        LocalCandidate { path: path.to_string(), outcome }
    }

    fn resolve(inputs: LadderInputs<'_>) -> PoolResolution {
        resolve_ladder(inputs, &ContractSettings::default(), DEFAULT_LKG_MAX_AGE_DAYS, now())
    }

    fn codes_of(r: &PoolResolution) -> Vec<&str> {
        r.messages.iter().map(|m| message_code(m).unwrap()).collect()
    }

    #[test]
    fn fresh_upstream_wins_with_only_its_message() {
        let lkg = payload("2026-02-15");
        let r = resolve(LadderInputs {
            fresh: fresh(FetchOutcome::Found(payload("2026-03-10"))),
            last_known_good: Some(&lkg),
            local_files: vec![file("/a.json", FetchOutcome::Missing)],
        });
        assert_eq!(r.source_kind, SourceKind::FreshUpstream);
        assert!(!r.degraded());
        assert_eq!(r.source_label, FIRESTORE);
        assert!(r.is_fresh);
        assert_eq!(r.messages, [format!("trend_pool_loaded_fresh_upstream: loaded fresh trend pool from {FIRESTORE}")]);
        assert!(r.errors.is_empty());
        assert_eq!(r.loaded_at, now());
        assert_eq!(r.payload.version, "2026-03-10-core_major");
    }

    #[test]
    fn fresh_warnings_follow_the_success_message() {
        let mut raw = payload("2026-03-10");
        raw.as_object_mut().unwrap().shift_remove("source_project");
        let r = resolve(LadderInputs {
            fresh: fresh(FetchOutcome::Found(raw)),
            last_known_good: None,
            local_files: vec![],
        });
        assert_eq!(codes_of(&r), [codes::TREND_POOL_LOADED_FRESH_UPSTREAM, "source_project_missing_unknown"]);
        assert_eq!(
            r.messages[1],
            format!("source_project_missing_unknown: source_project is missing; using 'unknown' [{FIRESTORE}]")
        );
    }

    #[test]
    fn stale_fresh_falls_to_last_known_good() {
        // behaviour.md §11: LKG older than the freshness limit is still used.
        let mut stale = payload("2026-01-01");
        stale.as_object_mut().unwrap().shift_remove("version");
        let lkg = payload("2026-02-15");
        let contract = ContractSettings { max_age_days: 20, ..ContractSettings::default() };
        let r = resolve_ladder(
            LadderInputs {
                fresh: fresh(FetchOutcome::Found(stale)),
                last_known_good: Some(&lkg),
                local_files: vec![file("/a.json", FetchOutcome::Found(payload("2026-03-10")))],
            },
            &contract,
            DEFAULT_LKG_MAX_AGE_DAYS,
            now(),
        );
        assert_eq!(r.source_kind, SourceKind::LastKnownGood);
        assert!(r.degraded());
        assert_eq!(r.source_label, LAST_KNOWN_GOOD_LABEL);
        assert!(!r.is_fresh, "28 days > 20");
        assert_eq!(r.payload.version, "2026-02-15-core_major");
        assert_eq!(
            r.messages,
            [
                format!("payload_stale_by_days: payload is stale: 73 days old (max 20) [{FIRESTORE}]"),
                format!("version_missing_synthesized: version is missing; synthesized '2026-01-01-core_major' [{FIRESTORE}]"),
                "trend_pool_using_last_known_good: using the last-known-good trend pool (version 2026-02-15-core_major, as_of_date 2026-02-15)".to_string(),
            ]
        );
    }

    #[test]
    fn recent_last_known_good_is_fresh_but_degraded() {
        let lkg = payload("2026-03-01");
        let r = resolve(LadderInputs {
            fresh: fresh(FetchOutcome::Missing),
            last_known_good: Some(&lkg),
            local_files: vec![],
        });
        assert_eq!(r.source_kind, SourceKind::LastKnownGood);
        assert!(r.is_fresh && r.degraded());
        assert_eq!(codes_of(&r), [codes::MISSING_FIRESTORE_DOCUMENT, codes::TREND_POOL_USING_LAST_KNOWN_GOOD]);
        assert_eq!(
            r.messages[0],
            format!("missing_firestore_document: upstream pool document {FIRESTORE} does not exist")
        );
    }

    #[test]
    fn too_old_last_known_good_falls_to_local_file() {
        let lkg = payload("2025-11-01");
        let r = resolve(LadderInputs {
            fresh: fresh(FetchOutcome::Failed("deadline exceeded".into())),
            last_known_good: Some(&lkg),
            local_files: vec![file(
                "/repo/artifacts/live_pool_legacy.json",
                FetchOutcome::Found(payload("2026-03-10")),
            )],
        });
        assert_eq!(r.source_kind, SourceKind::LocalFile);
        assert_eq!(r.source_label, "file:/repo/artifacts/live_pool_legacy.json");
        assert!(r.is_fresh && r.degraded());
        assert_eq!(
            r.messages,
            [
                format!("upstream_read_failed: could not read upstream pool {FIRESTORE}: deadline exceeded"),
                "lkg_too_old: last-known-good pool (as_of_date 2025-11-01) is 134 days old (max 90)".to_string(),
                "trend_pool_using_local_file: using local trend pool file /repo/artifacts/live_pool_legacy.json"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn lkg_age_limit_is_inclusive() {
        let lkg = payload("2025-12-15");
        let r = resolve(LadderInputs { fresh: None, last_known_good: Some(&lkg), local_files: vec![] });
        assert_eq!(r.source_kind, SourceKind::LastKnownGood, "exactly 90 days");
        assert!(r.messages.len() == 1 && !r.is_fresh);
    }

    #[test]
    fn future_last_known_good_is_rejected() {
        let mut lkg = payload("2026-04-01");
        // Its warnings are not carried, only its errors.
        lkg.as_object_mut().unwrap().shift_remove("source_project");
        let r = resolve(LadderInputs { fresh: None, last_known_good: Some(&lkg), local_files: vec![] });
        assert_eq!(r.source_kind, SourceKind::Static);
        assert_eq!(
            r.messages,
            [
                "as_of_date_in_future: as_of_date 2026-04-01 is in the future (today is 2026-03-15) [state:last_known_good]",
                "trend_pool_fallback_static: no usable trend pool source; using the built-in static universe (11 symbols)",
            ]
        );
    }

    #[test]
    fn blank_last_known_good_is_skipped_silently() {
        let (empty, null) = (json!({}), json!(null));
        for lkg in [None, Some(&empty), Some(&null)] {
            let r = resolve(LadderInputs { fresh: None, last_known_good: lkg, local_files: vec![] });
            assert_eq!(codes_of(&r), [codes::TREND_POOL_FALLBACK_STATIC]);
        }
    }

    #[test]
    fn non_object_last_known_good_is_reported() {
        let lkg = json!("corrupt");
        let r = resolve(LadderInputs { fresh: None, last_known_good: Some(&lkg), local_files: vec![] });
        assert_eq!(
            codes_of(&r),
            [
                "payload_not_object",
                "missing_invalid_as_of_date",
                "symbols_map_missing_or_invalid",
                "symbols_list_empty",
                codes::TREND_POOL_FALLBACK_STATIC,
            ]
        );
    }

    #[test]
    fn missing_and_unreadable_files_then_valid_file() {
        let mut invalid = payload("2026-03-10");
        invalid["mode"] = json!("xyz");
        invalid.as_object_mut().unwrap().shift_remove("source_project");
        let r = resolve(LadderInputs {
            fresh: None,
            last_known_good: None,
            local_files: vec![
                file("/env.json", FetchOutcome::Missing),
                file("/bad.json", FetchOutcome::Failed("expected value at line 1 column 1".into())),
                file("/invalid.json", FetchOutcome::Found(invalid)),
                file("/good.json", FetchOutcome::Found(payload("2026-03-01"))),
                file("/never.json", FetchOutcome::Missing),
            ],
        });
        assert_eq!(r.source_kind, SourceKind::LocalFile);
        assert_eq!(r.source_label, "file:/good.json");
        assert_eq!(
            r.messages,
            [
                "pool_file_not_found: pool file /env.json not found",
                "pool_file_read_failed: could not read pool file /bad.json: expected value at line 1 column 1",
                "mode_not_acceptable: mode 'xyz' is not acceptable (acceptable: core_major) [file:/invalid.json]",
                "source_project_missing_unknown: source_project is missing; using 'unknown' [file:/invalid.json]",
                "trend_pool_using_local_file: using local trend pool file /good.json",
            ]
        );
    }

    #[test]
    fn stale_local_file_is_refused() {
        let r = resolve(LadderInputs {
            fresh: None,
            last_known_good: None,
            local_files: vec![file("/old.json", FetchOutcome::Found(payload("2026-01-01")))],
        });
        assert_eq!(r.source_kind, SourceKind::Static);
        assert_eq!(codes_of(&r), ["payload_stale_by_days", codes::TREND_POOL_FALLBACK_STATIC]);
    }

    #[test]
    fn everything_failing_falls_back_to_static() {
        let lkg = payload("2025-01-01");
        let r = resolve(LadderInputs {
            fresh: fresh(FetchOutcome::Found(payload("2026-01-01"))),
            last_known_good: Some(&lkg),
            local_files: vec![
                file("/a.json", FetchOutcome::Missing),
                file("/b.json", FetchOutcome::Failed("permission denied".into())),
            ],
        });
        assert_eq!(r.source_kind, SourceKind::Static);
        assert_eq!(r.source_label, "static:built_in");
        assert!(!r.is_fresh && r.degraded() && r.errors.is_empty());
        assert_eq!(r.payload, static_payload());
        assert_eq!(
            r.messages,
            [
                format!("payload_stale_by_days: payload is stale: 73 days old (max 45) [{FIRESTORE}]"),
                "lkg_too_old: last-known-good pool (as_of_date 2025-01-01) is 438 days old (max 90)".to_string(),
                "pool_file_not_found: pool file /a.json not found".to_string(),
                "pool_file_read_failed: could not read pool file /b.json: permission denied".to_string(),
                "trend_pool_fallback_static: no usable trend pool source; using the built-in static universe (11 symbols)".to_string(),
            ]
        );
    }

    #[test]
    fn static_payload_is_the_eleven_symbols() {
        let p = static_payload();
        assert_eq!(
            p.symbol_list(),
            [
                "ETHUSDT", "SOLUSDT", "XRPUSDT", "LINKUSDT", "AVAXUSDT", "ADAUSDT", "DOGEUSDT", "TRXUSDT", "ATOMUSDT",
                "LTCUSDT", "BCHUSDT"
            ]
        );
        assert_eq!(p.symbols["AVAXUSDT"], "AVAX");
        assert_eq!(
            (p.as_of_date.as_str(), p.version.as_str(), p.mode.as_str(), p.source_project.as_str()),
            ("", "static-fallback", "static", "tradecycle")
        );
        assert_eq!(p.to_value()["pool_size"], json!(11));
    }

    #[test]
    fn injected_valid_payload_resolves_as_fresh() {
        let r = resolve_injected(&payload("2026-03-10"), &ContractSettings::default(), now()).unwrap();
        assert_eq!(r.source_kind, SourceKind::FreshUpstream);
        assert_eq!(r.source_label, "runtime:trend_pool_payload");
        assert!(r.is_fresh && !r.degraded() && r.errors.is_empty());
        assert_eq!(r.messages, ["Loaded injected trend pool payload from runtime."]);
        assert_eq!(r.loaded_at, now());
        assert_eq!(r.payload.symbol_list(), ["ETHUSDT", "SOLUSDT", "XRPUSDT", "LTCUSDT", "BCHUSDT"]);
    }

    #[test]
    fn injected_invalid_payload_is_an_error_listing_every_error() {
        let mut raw = payload("2026-01-01");
        raw["mode"] = json!("xyz");
        let err = resolve_injected(&raw, &ContractSettings::default(), now()).unwrap_err();
        assert_eq!(
            err,
            "invalid injected trend pool payload (runtime:trend_pool_payload): \
             mode_not_acceptable: mode 'xyz' is not acceptable (acceptable: core_major); \
             payload_stale_by_days: payload is stale: 73 days old (max 45)"
        );
    }
}
