//! Texts of the durable alerts' messages (issue 11) in English and
//! Chinese: raised, escalated, still open (the reminder), cleared. Each
//! carries the severity, the key, its scope, the reason, when it was first
//! seen and the RUNBOOK.md section to read. Separate from `messages.rs`
//! because an alert's text follows its own layout, not an event's.

use super::event::{AlertNotice, Lang};
use crate::domain::alerts::Change;

/// The body of an alert message (the caller adds the prefix).
pub fn render(notice: &AlertNotice, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let pick = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let title = match notice.change {
        Change::Raised => pick("🚨 [Alert Raised]", "🚨 [告警触发]"),
        Change::Escalated => pick("⏫ [Alert Escalated]", "⏫ [告警升级]"),
        Change::Reminded | Change::StillOpen => pick("🔁 [Alert Still Open]", "🔁 [告警仍未解除]"),
        Change::Cleared => pick("✅ [Alert Cleared]", "✅ [告警已解除]"),
    };
    [
        format!("{title} {} {}", notice.severity.as_str(), notice.key),
        format!("{}: {}", pick("Scope", "范围"), notice.scope),
        format!("{}: {}", pick("Reason", "原因"), notice.reason),
        format!("{}: {}", pick("First Seen", "首次发现"), notice.first_seen),
        format!("{}: RUNBOOK.md › {}", pick("Runbook", "处理手册"), notice.runbook),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alerts::Severity;

    fn notice(change: Change) -> AlertNotice {
        AlertNotice {
            change,
            key: "pool_degraded".into(),
            severity: Severity::Sev2,
            scope: "upstream pool".into(),
            reason: "the upstream pool came from last_known_good".into(),
            first_seen: "2026-03-29T08:00:00Z".into(),
            runbook: "Upstream pool stale or malformed".into(),
        }
    }

    #[test]
    fn a_raise_in_english_names_severity_scope_reason_first_seen_and_runbook() {
        assert_eq!(
            render(&notice(Change::Raised), Lang::En),
            "🚨 [Alert Raised] SEV-2 pool_degraded\n\
             Scope: upstream pool\n\
             Reason: the upstream pool came from last_known_good\n\
             First Seen: 2026-03-29T08:00:00Z\n\
             Runbook: RUNBOOK.md › Upstream pool stale or malformed"
        );
    }

    #[test]
    fn each_change_has_its_title_in_both_languages() {
        let first = |c: Change, lang: Lang| render(&notice(c), lang).lines().next().unwrap().to_string();
        assert_eq!(first(Change::Escalated, Lang::En), "⏫ [Alert Escalated] SEV-2 pool_degraded");
        assert_eq!(first(Change::Reminded, Lang::En), "🔁 [Alert Still Open] SEV-2 pool_degraded");
        assert_eq!(first(Change::Cleared, Lang::En), "✅ [Alert Cleared] SEV-2 pool_degraded");
        assert_eq!(first(Change::Raised, Lang::Zh), "🚨 [告警触发] SEV-2 pool_degraded");
        assert_eq!(first(Change::Cleared, Lang::Zh), "✅ [告警已解除] SEV-2 pool_degraded");
        assert!(
            render(&notice(Change::Raised), Lang::Zh)
                .contains("\n首次发现: 2026-03-29T08:00:00Z\n处理手册: RUNBOOK.md › ")
        );
    }
}
