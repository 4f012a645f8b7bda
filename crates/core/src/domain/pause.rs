//! Containment (issue 11): whether this cycle may add risk, and why not.
//! New risk pauses when the operator ran `tradecycle pause` (kept in the
//! state under `paused`, or an older document's `trading_paused: true`),
//! when `TRADECYCLE_PAUSE` is set, or while a SEV-1 alert is open — sells
//! and risk reduction always run. `tradecycle resume` lifts the operator's
//! pause and acknowledges the SEV-1 alerts open at that moment (kept under
//! `resumed_alerts`): those stop pausing until they clear, and pause again
//! if they are raised anew; any other SEV-1 pauses at once. Separate from
//! the state codec because the decision and the two commands' edits of the
//! raw document are their own rules, unit-tested here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::alerts::{AlertBook, Severity, rfc3339};

/// `by` of a pause the operator set with `tradecycle pause`.
pub const BY_OPERATOR: &str = "operator";
/// `by` of the `TRADECYCLE_PAUSE` kill switch.
pub const BY_SWITCH: &str = "env:TRADECYCLE_PAUSE";

/// Why new risk is paused: who paused (`operator`, `env:TRADECYCLE_PAUSE`
/// or `alert:<key>`), the reason, and since when (RFC 3339; unknown for an
/// older document's `trading_paused: true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub reason: String,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

impl Pause {
    /// One line for the report text and the job summary.
    pub fn line(&self) -> String {
        let since = self.since.as_deref().map(|s| format!(", since {s}")).unwrap_or_default();
        format!("new risk paused by {}{since}: {} (sells and risk reduction still run)", self.by, self.reason)
    }
}

/// The operator's pause as the state document holds it: the `paused`
/// object, else an older document's `trading_paused: true` (which stays
/// a pause: an operator who set it expects it to hold).
pub fn operator_pause_of(paused: Option<&Value>, trading_paused: bool) -> Option<Pause> {
    match paused.and_then(|p| serde_json::from_value::<Pause>(p.clone()).ok()) {
        Some(p) => Some(p),
        None if trading_paused || paused.is_some_and(|p| !p.is_null()) => Some(Pause {
            reason: "trading_paused is set in the state document".into(),
            by: BY_OPERATOR.into(),
            since: None,
        }),
        None => None,
    }
}

/// SEV-1 alerts whose risk is already contained where it lives, so they do
/// not pause everything: a quarantined order and a position mismatch block
/// new risk only in their own symbol (issue 11), the rest of the book keeps
/// trading.
const CONTAINED_BY_SCOPE: &[&str] = &["order_quarantined:", "position_mismatch:"];

/// Open SEV-1 alerts, by key.
fn open_sev1(alerts: &AlertBook) -> impl Iterator<Item = (&String, &super::alerts::Alert)> {
    alerts.open().filter(|(_, a)| a.severity >= Severity::Sev1)
}

/// Whether this cycle may add risk: the operator's pause first, then the
/// kill switch, then the first open SEV-1 alert the operator did not
/// resume past. `None`: trade normally.
pub fn new_risk_pause(
    operator: Option<&Pause>,
    switch: bool,
    alerts: &AlertBook,
    resumed_alerts: &[String],
) -> Option<Pause> {
    if let Some(p) = operator {
        return Some(p.clone());
    }
    if switch {
        return Some(Pause { reason: "TRADECYCLE_PAUSE is set".into(), by: BY_SWITCH.into(), since: None });
    }
    let contained = |key: &str| CONTAINED_BY_SCOPE.iter().any(|prefix| key.starts_with(prefix));
    open_sev1(alerts).find(|(key, _)| !contained(key) && !resumed_alerts.contains(key)).map(|(key, a)| Pause {
        reason: format!("SEV-1 alert {key} is open: {}", a.reason),
        by: format!("alert:{key}"),
        since: Some(rfc3339(a.first_seen)),
    })
}

/// Drops acknowledgements of alerts no longer open, so a condition that
/// clears and comes back pauses again.
pub fn forget_cleared(resumed_alerts: &mut Vec<String>, alerts: &AlertBook) {
    resumed_alerts.retain(|key| open_sev1(alerts).any(|(k, _)| k == key));
}

/// What `tradecycle resume` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// The operator pause lifted, if there was one.
    pub lifted: Option<Pause>,
    /// SEV-1 alerts open now that stop pausing until they clear.
    pub acknowledged: Vec<String>,
}

fn object(doc: &mut Value) -> Result<&mut Map<String, Value>, String> {
    doc.as_object_mut().ok_or_else(|| "the state document is not a JSON object; fix it before pausing".to_string())
}

/// `tradecycle pause`: records the operator's pause in the raw state
/// document (and `trading_paused`, which older binaries read). Returns the
/// pause that was already there, if any (it is replaced: the newest reason
/// is the one to read).
pub fn pause_document(doc: &mut Value, reason: &str, now: DateTime<Utc>) -> Result<Option<Pause>, String> {
    let m = object(doc)?;
    let before = operator_pause_of(m.get("paused"), trading_paused_of(m));
    let pause = Pause { reason: reason.to_string(), by: BY_OPERATOR.into(), since: Some(rfc3339(now)) };
    m.insert("paused".into(), json!(pause));
    m.insert("trading_paused".into(), Value::Bool(true));
    Ok(before)
}

/// `tradecycle resume`: lifts the operator's pause and acknowledges the
/// SEV-1 alerts open now (see the module header).
pub fn resume_document(doc: &mut Value) -> Result<Resumed, String> {
    let m = object(doc)?;
    let lifted = operator_pause_of(m.get("paused"), trading_paused_of(m));
    let alerts = AlertBook::from_json(m.get("alerts"));
    let acknowledged: Vec<String> = open_sev1(&alerts).map(|(k, _)| k.clone()).collect();
    m.remove("paused");
    m.insert("trading_paused".into(), Value::Bool(false));
    if acknowledged.is_empty() {
        m.remove("resumed_alerts");
    } else {
        m.insert("resumed_alerts".into(), json!(acknowledged));
    }
    Ok(Resumed { lifted, acknowledged })
}

fn trading_paused_of(m: &Map<String, Value>) -> bool {
    super::state::as_bool(m.get("trading_paused"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alerts::Condition;
    use chrono::{Duration, TimeZone};

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, h, 0, 0).unwrap()
    }

    fn book(open: &[(&str, Severity)]) -> AlertBook {
        let mut b = AlertBook::default();
        for (key, severity) in open {
            let c = Condition {
                key: key.to_string(),
                severity: *severity,
                scope: "account".into(),
                reason: format!("{key} seen"),
                runbook: "Alerts".into(),
            };
            b.observe(&c, at(1), Duration::hours(24));
        }
        b
    }

    fn operator() -> Pause {
        Pause { reason: "investigating".into(), by: BY_OPERATOR.into(), since: Some("2026-03-15T02:00:00Z".into()) }
    }

    #[test]
    fn an_open_sev1_pauses_new_risk_and_names_the_alert() {
        let p = new_risk_pause(None, false, &book(&[("auth_failed", Severity::Sev1)]), &[]).unwrap();
        assert_eq!(p.by, "alert:auth_failed");
        assert_eq!(p.reason, "SEV-1 alert auth_failed is open: auth_failed seen");
        assert_eq!(p.since.as_deref(), Some("2026-03-15T01:00:00Z"));
    }

    #[test]
    fn a_quarantined_order_blocks_only_its_symbol_and_pauses_nothing_else() {
        let b = book(&[("order_quarantined:tc-26031500-tb-SOLUSDT", Severity::Sev1)]);
        assert_eq!(new_risk_pause(None, false, &b, &[]), None);
        let b = book(&[
            ("order_quarantined:tc-26031500-tb-SOLUSDT", Severity::Sev1),
            ("state_save_failed", Severity::Sev1),
        ]);
        assert_eq!(new_risk_pause(None, false, &b, &[]).unwrap().by, "alert:state_save_failed");
    }

    #[test]
    fn a_position_mismatch_blocks_only_its_symbol_and_pauses_nothing_else() {
        let b = book(&[("position_mismatch:SOLUSDT", Severity::Sev1)]);
        assert_eq!(new_risk_pause(None, false, &b, &[]), None);
        let b = book(&[("position_mismatch:SOLUSDT", Severity::Sev1), ("auth_failed", Severity::Sev1)]);
        assert_eq!(new_risk_pause(None, false, &b, &[]).unwrap().by, "alert:auth_failed");
    }

    #[test]
    fn lower_severities_do_not_pause() {
        assert_eq!(new_risk_pause(None, false, &book(&[("pool_degraded", Severity::Sev2)]), &[]), None);
    }

    #[test]
    fn the_automatic_pause_lifts_when_the_sev1_clears() {
        let b = book(&[("breaker_latched", Severity::Sev1)]);
        assert!(new_risk_pause(None, false, &b, &[]).is_some());
        let (b, _) = b.advance(&[], at(2), Duration::hours(24));
        assert_eq!(new_risk_pause(None, false, &b, &[]), None);
    }

    #[test]
    fn an_operator_pause_survives_with_no_alert_open_and_comes_first() {
        assert_eq!(new_risk_pause(Some(&operator()), false, &AlertBook::default(), &[]), Some(operator()));
        let b = book(&[("breaker_latched", Severity::Sev1)]);
        assert_eq!(new_risk_pause(Some(&operator()), true, &b, &[]), Some(operator()));
    }

    #[test]
    fn the_kill_switch_pauses() {
        assert_eq!(new_risk_pause(None, true, &AlertBook::default(), &[]).unwrap().by, "env:TRADECYCLE_PAUSE");
    }

    #[test]
    fn an_older_documents_trading_paused_stays_a_pause() {
        let p = operator_pause_of(None, true).unwrap();
        assert_eq!((p.by.as_str(), p.since), (BY_OPERATOR, None));
        assert_eq!(operator_pause_of(None, false), None);
        assert_eq!(operator_pause_of(Some(&json!(operator())), false), Some(operator()));
    }

    #[test]
    fn resume_acknowledges_open_sev1_until_it_clears_and_a_new_one_still_pauses() {
        let mut doc = json!({"trading_paused": true, "paused": operator()});
        doc["alerts"] = json!(book(&[("auth_failed", Severity::Sev1), ("pool_degraded", Severity::Sev2)]));
        let r = resume_document(&mut doc).unwrap();
        assert_eq!(r, Resumed { lifted: Some(operator()), acknowledged: vec!["auth_failed".into()] });
        assert_eq!(doc.get("paused"), None);
        assert_eq!(doc["trading_paused"], json!(false));
        assert_eq!(doc["resumed_alerts"], json!(["auth_failed"]));

        let mut b = AlertBook::from_json(doc.get("alerts"));
        let mut resumed = vec!["auth_failed".to_string()];
        assert_eq!(new_risk_pause(None, false, &b, &resumed), None, "the acknowledged alert no longer pauses");
        let other = book(&[("clock_skew", Severity::Sev1)]);
        b.0.extend(other.0);
        assert_eq!(new_risk_pause(None, false, &b, &resumed).unwrap().by, "alert:clock_skew");

        // auth_failed clears, then comes back: it pauses again.
        let (b, _) = AlertBook::from_json(doc.get("alerts")).advance(&[], at(2), Duration::hours(24));
        forget_cleared(&mut resumed, &b);
        assert!(resumed.is_empty());
        let again = book(&[("auth_failed", Severity::Sev1)]);
        assert_eq!(new_risk_pause(None, false, &again, &resumed).unwrap().by, "alert:auth_failed");
    }

    #[test]
    fn pause_records_who_why_and_when_and_replaces_an_older_reason() {
        let mut doc = json!({"trading_paused": true, "BTCUSDT": {"qty": 1}});
        let before = pause_document(&mut doc, "exchange incident", at(3)).unwrap();
        assert_eq!(before.unwrap().since, None);
        assert_eq!(
            doc["paused"],
            json!({"reason": "exchange incident", "by": "operator", "since": "2026-03-15T03:00:00Z"})
        );
        assert_eq!(doc["trading_paused"], json!(true));
        assert_eq!(doc["BTCUSDT"], json!({"qty": 1}), "nothing else in the document changes");
        assert_eq!(
            pause_document(&mut json!([]), "x", at(3)).unwrap_err(),
            "the state document is not a JSON object; fix it before pausing"
        );
    }

    #[test]
    fn resume_without_a_pause_lifts_nothing() {
        let mut doc = json!({});
        assert_eq!(resume_document(&mut doc).unwrap(), Resumed { lifted: None, acknowledged: vec![] });
        assert_eq!(doc, json!({"trading_paused": false}));
    }
}
