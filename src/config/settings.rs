//! Environment → typed [`Settings`] of the cycle: the strategy's switches,
//! the upstream contract and the notification language. Bad values are
//! errors naming the variable, never a silent default: an operator trusting
//! this with money must learn about a typo.

use super::env::{ConfigError, Env, boolean, int, positive_decimal, positive_int, text, value};
use crate::notify::event::Lang;
use crate::notify::messages::parse_lang;
use crate::strategy::StrategySettings;
use crate::strategy::reconcile::DEFAULT_QUARANTINE_HOURS;
use crate::upstream::payload::ContractSettings;

/// Resolved settings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub strategy: StrategySettings,
    pub contract: ContractSettings,
    pub lkg_max_age_days: i64,
    pub artifact_file: Option<String>,
    pub firestore_collection: String,
    pub firestore_document: String,
    pub lang: Lang,
    /// `ALERT_REMIND_HOURS`: how often an alert that stays open is repeated.
    pub alert_remind_hours: i64,
    /// `PENDING_QUARANTINE_HOURS`: age at which an unresolved pending order
    /// is quarantined.
    pub pending_quarantine_hours: i64,
    /// `POSITION_MISMATCH_MIN_USDT`: the worth above which an exchange
    /// holding and the state disagree (`strategy::parity`).
    pub position_mismatch_min_usdt: rust_decimal::Decimal,
    /// `UPSTREAM_STALE_ALERT_CYCLES`: cycles in a row without a fresh
    /// upstream pool before `upstream_stale` is raised.
    pub upstream_stale_alert_cycles: u64,
}

/// `NOTIFY_LANG`, default English (the operations commands read it alone).
pub fn lang(env: &Env) -> Result<Lang, ConfigError> {
    match value(env, "NOTIFY_LANG") {
        None => Ok(Lang::En),
        Some(v) => parse_lang(v).map_err(|e| ConfigError(format!("NOTIFY_LANG: {e}"))),
    }
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        let text = |n: &str| text(env, n);
        let expected = int(env, "STRATEGY_ARTIFACT_EXPECTED_SIZE", 5)?.max(1) as usize;
        let modes: Vec<String> = match text("STRATEGY_ARTIFACT_ACCEPTABLE_MODES") {
            None => vec!["core_major".to_string()],
            Some(v) => v.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_string).collect(),
        };
        let lang = lang(env)?;
        let max_orders = positive_int(env, "MAX_ORDERS_PER_RUN")?.map(|n| n as usize);
        Ok(Settings {
            strategy: StrategySettings {
                allow_new_entries_on_degraded: boolean(env, "STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED", false)?,
                status_report_interval_hours: int(env, "BTC_STATUS_REPORT_INTERVAL_HOURS", 24)?.clamp(1, 24) as u32,
                paused: boolean(env, "TRADECYCLE_PAUSE", false)?,
                max_notional_per_order: positive_decimal(env, "MAX_NOTIONAL_PER_ORDER_USDT")?,
                max_orders_per_run: max_orders,
                pool_size: expected,
                // Set per run by the shell (never in replay).
                position_mismatch_min_usdt: None,
                // The strategy's constants: a backtest's `--set` alone changes them.
                params: Default::default(),
            },
            contract: ContractSettings {
                max_age_days: int(env, "STRATEGY_ARTIFACT_MAX_AGE_DAYS", 45)?.max(0),
                acceptable_modes: modes,
                expected_pool_size: expected,
            },
            lkg_max_age_days: int(env, "STRATEGY_ARTIFACT_LKG_MAX_AGE_DAYS", 90)?.max(0),
            artifact_file: text("STRATEGY_ARTIFACT_FILE"),
            firestore_collection: text("STRATEGY_ARTIFACT_FIRESTORE_COLLECTION").unwrap_or_else(|| "strategy".into()),
            firestore_document: text("STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT")
                .unwrap_or_else(|| "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL".into()),
            lang,
            alert_remind_hours: int(env, "ALERT_REMIND_HOURS", 24)?.max(1),
            pending_quarantine_hours: int(env, "PENDING_QUARANTINE_HOURS", DEFAULT_QUARANTINE_HOURS)?.max(1),
            position_mismatch_min_usdt: positive_decimal(env, "POSITION_MISMATCH_MIN_USDT")?
                .unwrap_or(crate::strategy::parity::DEFAULT_MIN_USDT),
            upstream_stale_alert_cycles: int(env, "UPSTREAM_STALE_ALERT_CYCLES", 3)?.max(1) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_env(&Env::new()).unwrap();
        assert_eq!(
            s.contract,
            ContractSettings { max_age_days: 45, acceptable_modes: vec!["core_major".into()], expected_pool_size: 5 }
        );
        assert_eq!(s.lkg_max_age_days, 90);
        assert_eq!(s.strategy, StrategySettings::default());
        assert_eq!(s.firestore_collection, "strategy");
        assert_eq!(s.firestore_document, "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL");
        assert_eq!(s.lang, Lang::En);
        assert_eq!(s.artifact_file, None);
        assert_eq!(s.alert_remind_hours, 24);
        assert_eq!(s.upstream_stale_alert_cycles, 3);
        assert_eq!(s.pending_quarantine_hours, 24);
    }

    #[test]
    fn pending_quarantine_hours_is_read_and_at_least_one() {
        let hours =
            |v: &str| Settings::from_env(&env(&[("PENDING_QUARANTINE_HOURS", v)])).map(|s| s.pending_quarantine_hours);
        assert_eq!(hours("48"), Ok(48));
        assert_eq!(hours("0"), Ok(1));
        assert_eq!(
            hours("a day").unwrap_err().to_string(),
            "PENDING_QUARANTINE_HOURS: expected a whole number, got 'a day'"
        );
    }

    #[test]
    fn alert_remind_hours_is_read_and_at_least_one() {
        let hours = |v: &str| Settings::from_env(&env(&[("ALERT_REMIND_HOURS", v)])).map(|s| s.alert_remind_hours);
        assert_eq!(hours("6"), Ok(6));
        assert_eq!(hours("0"), Ok(1));
        assert_eq!(hours("soon").unwrap_err().to_string(), "ALERT_REMIND_HOURS: expected a whole number, got 'soon'");
    }

    #[test]
    fn old_names_are_aliases_and_new_names_win() {
        let s = Settings::from_env(&env(&[
            ("TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED", "1"),
            ("TREND_POOL_MAX_AGE_DAYS", "30"),
        ]))
        .unwrap();
        assert!(s.strategy.allow_new_entries_on_degraded);
        assert_eq!(s.contract.max_age_days, 30);
        let s = Settings::from_env(&env(&[
            ("TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED", "1"),
            ("STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED", "0"),
            ("TREND_POOL_FIRESTORE_DOCUMENT", "OLD"),
            ("STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT", "NEW"),
        ]))
        .unwrap();
        assert!(!s.strategy.allow_new_entries_on_degraded);
        assert_eq!(s.firestore_document, "NEW");
        // An empty new name does not hide the alias.
        let s = Settings::from_env(&env(&[("STRATEGY_ARTIFACT_FILE", " "), ("TREND_POOL_FILE", "/x.json")])).unwrap();
        assert_eq!(s.artifact_file.as_deref(), Some("/x.json"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = |pairs: &[(&str, &str)]| Settings::from_env(&env(pairs)).unwrap_err().0;
        assert_eq!(
            err(&[("NOTIFY_LANG", "fr")]),
            "NOTIFY_LANG: unsupported NOTIFY_LANG value \"fr\": allowed values are \"en\" and \"zh\""
        );
        assert_eq!(
            err(&[("STRATEGY_ARTIFACT_MAX_AGE_DAYS", "abc")]),
            "STRATEGY_ARTIFACT_MAX_AGE_DAYS: expected a whole number, got 'abc'"
        );
        assert_eq!(
            err(&[("TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED", "maybe")]),
            "TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED (alias of STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED): expected true/false (1/0, yes/no, on/off), got 'maybe'"
        );
        assert_eq!(
            err(&[("MAX_NOTIONAL_PER_ORDER_USDT", "-5")]),
            "MAX_NOTIONAL_PER_ORDER_USDT: expected a positive number, got '-5'"
        );
        assert_eq!(
            err(&[("MAX_ORDERS_PER_RUN", "0")]),
            "MAX_ORDERS_PER_RUN: expected a positive whole number, got '0'"
        );
    }

    #[test]
    fn clamps_and_lists() {
        let s = Settings::from_env(&env(&[
            ("BTC_STATUS_REPORT_INTERVAL_HOURS", "48"),
            ("STRATEGY_ARTIFACT_EXPECTED_SIZE", "0"),
            ("STRATEGY_ARTIFACT_ACCEPTABLE_MODES", " core_major , alt ,,"),
            ("STRATEGY_ARTIFACT_MAX_AGE_DAYS", "-3"),
            ("NOTIFY_LANG", " ZH "),
            ("MAX_NOTIONAL_PER_ORDER_USDT", "250.5"),
        ]))
        .unwrap();
        assert_eq!(s.strategy.status_report_interval_hours, 24);
        assert_eq!(s.contract.expected_pool_size, 1);
        assert_eq!(s.contract.acceptable_modes, vec!["core_major", "alt"]);
        assert_eq!(s.contract.max_age_days, 0);
        assert_eq!(s.lang, Lang::Zh);
        assert_eq!(s.strategy.max_notional_per_order, Some(Decimal::new(2505, 1)));
    }
}
