//! Environment → typed [`Settings`]. Every variable the program reads is
//! listed in [`VARIABLES`] (the README and RUNBOOK tables are checked
//! against it). Bad values are errors naming the variable, never a silent
//! default: an operator trusting this with money must learn about a typo.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::notify::event::Lang;
use crate::notify::messages::parse_lang;
use crate::strategy::StrategySettings;
use crate::upstream::payload::ContractSettings;

/// A snapshot of the environment (tests and replay pass their own). It holds
/// the Binance key and secret and the Telegram and GitHub tokens, so its
/// `Debug` lists the variable names only, never a value: a request or
/// settings struct that embeds it stays safe to `{:?}` into a log.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    pub fn new() -> Env {
        Env(BTreeMap::new())
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.keys().map(|name| (name, format_args!("<hidden>")))).finish()
    }
}

impl std::ops::Deref for Env {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<BTreeMap<String, String>> for Env {
    fn from(map: BTreeMap<String, String>) -> Env {
        Env(map)
    }
}

impl<const N: usize> From<[(String, String); N]> for Env {
    fn from(pairs: [(String, String); N]) -> Env {
        Env(pairs.into())
    }
}

impl FromIterator<(String, String)> for Env {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Env {
        Env(pairs.into_iter().collect())
    }
}

impl IntoIterator for Env {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Env {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

pub fn process_env() -> Env {
    std::env::vars().collect()
}

/// One documented variable: name, default, meaning.
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every variable read by the program.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "STRATEGY_ARTIFACT_FILE",
        default: "unset",
        meaning: "local upstream payload file tried before artifacts/live_pool_legacy.json (alias TREND_POOL_FILE)",
    },
    Variable {
        name: "STRATEGY_ARTIFACT_FIRESTORE_COLLECTION",
        default: "strategy",
        meaning: "collection of the upstream pool document (alias TREND_POOL_FIRESTORE_COLLECTION)",
    },
    Variable {
        name: "STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT",
        default: "CRYPTO_LIVE_POOL_ROTATION_LIVE_POOL",
        meaning: "upstream pool document (alias TREND_POOL_FIRESTORE_DOCUMENT)",
    },
    Variable {
        name: "STRATEGY_ARTIFACT_MAX_AGE_DAYS",
        default: "45",
        meaning: "an upstream payload older than this is stale (alias TREND_POOL_MAX_AGE_DAYS)",
    },
    Variable {
        name: "STRATEGY_ARTIFACT_ACCEPTABLE_MODES",
        default: "core_major",
        meaning: "comma-separated payload modes accepted (alias TREND_POOL_ACCEPTABLE_MODES)",
    },
    Variable {
        name: "STRATEGY_ARTIFACT_EXPECTED_SIZE",
        default: "5",
        meaning: "number of symbols an upstream payload must carry (alias TREND_POOL_EXPECTED_SIZE)",
    },
    Variable {
        name: "STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED",
        default: "false",
        meaning: "allow new trend buys while the pool comes from a fallback rung (alias TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED)",
    },
    Variable {
        name: "STRATEGY_ARTIFACT_LKG_MAX_AGE_DAYS",
        default: "90",
        meaning: "last-known-good payloads older than this are refused and the ladder moves on",
    },
    Variable {
        name: "BTC_STATUS_REPORT_INTERVAL_HOURS",
        default: "24",
        meaning: "hours between BTC status reports (clamped to 1..24)",
    },
    Variable { name: "NOTIFY_LANG", default: "en", meaning: "language of Telegram messages: en or zh" },
    Variable {
        name: "TRADECYCLE_PAUSE",
        default: "false",
        meaning: "kill switch: sells and risk reduction run, no buys",
    },
    Variable {
        name: "MAX_NOTIONAL_PER_ORDER_USDT",
        default: "unset",
        meaning: "buys larger than this are shrunk to it",
    },
    Variable {
        name: "MAX_ORDERS_PER_RUN",
        default: "unset",
        meaning: "orders beyond this count in one run are skipped (sells are planned first)",
    },
    Variable {
        name: "TRADECYCLE_LOG",
        default: "warn",
        meaning: "log filter for stderr (e.g. info prints the cycle's log lines as they happen)",
    },
    Variable {
        name: "TRADECYCLE_LOG_FORMAT",
        default: "text",
        meaning: "log lines on stderr: text (colour only on a terminal) or json, one object per line with severity, time and message for Cloud Logging (same as --log-format)",
    },
];

/// Every variable of every module, for documentation checks.
pub fn all_variables() -> impl Iterator<Item = &'static Variable> {
    VARIABLES
        .iter()
        .chain(crate::adapters::telegram::config::VARIABLES)
        .chain(crate::adapters::binance::VARIABLES)
        .chain(crate::commands::run::VARIABLES)
        .chain(crate::adapters::store::VARIABLES)
        .chain(crate::commands::watchdog::VARIABLES)
        .chain(crate::commands::dispatch::VARIABLES)
        .chain(crate::commands::heartbeat::VARIABLES)
}

/// Older names still accepted; the new name wins when both are set.
const ALIASES: &[(&str, &str)] = &[
    ("STRATEGY_ARTIFACT_FILE", "TREND_POOL_FILE"),
    ("STRATEGY_ARTIFACT_FIRESTORE_COLLECTION", "TREND_POOL_FIRESTORE_COLLECTION"),
    ("STRATEGY_ARTIFACT_FIRESTORE_DOCUMENT", "TREND_POOL_FIRESTORE_DOCUMENT"),
    ("STRATEGY_ARTIFACT_MAX_AGE_DAYS", "TREND_POOL_MAX_AGE_DAYS"),
    ("STRATEGY_ARTIFACT_ACCEPTABLE_MODES", "TREND_POOL_ACCEPTABLE_MODES"),
    ("STRATEGY_ARTIFACT_EXPECTED_SIZE", "TREND_POOL_EXPECTED_SIZE"),
    ("STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED", "TREND_POOL_ALLOW_NEW_ENTRIES_ON_DEGRADED"),
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

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
}

/// Reads one variable (trimmed, empty treated as unset), falling back to its
/// old alias; returns the name actually read with the value.
fn get<'a>(env: &'a Env, name: &'a str) -> Option<(&'a str, &'a str)> {
    let lookup = |n: &'a str| env.get(n).map(|v| v.trim()).filter(|v| !v.is_empty()).map(|v| (n, v));
    lookup(name).or_else(|| ALIASES.iter().find(|(n, _)| *n == name).and_then(|(_, alias)| lookup(alias)))
}

fn int(env: &Env, name: &str, default: i64) -> Result<i64, ConfigError> {
    match get(env, name) {
        None => Ok(default),
        Some((var, v)) => v
            .parse::<i64>()
            .map_err(|_| ConfigError(format!("{}: expected a whole number, got '{v}'", display(name, var)))),
    }
}

/// A true/false variable (1/0, yes/no, on/off); empty is unset.
pub(crate) fn boolean(env: &Env, name: &str, default: bool) -> Result<bool, ConfigError> {
    match get(env, name) {
        None => Ok(default),
        Some((var, v)) => match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "on" => Ok(true),
            "0" | "false" | "no" | "n" | "off" => Ok(false),
            _ => Err(ConfigError(format!(
                "{}: expected true/false (1/0, yes/no, on/off), got '{v}'",
                display(name, var)
            ))),
        },
    }
}

fn positive_decimal(env: &Env, name: &str) -> Result<Option<Decimal>, ConfigError> {
    match get(env, name) {
        None => Ok(None),
        Some((var, v)) => match v.parse::<Decimal>() {
            Ok(d) if d > Decimal::ZERO => Ok(Some(d)),
            _ => Err(ConfigError(format!("{}: expected a positive number, got '{v}'", display(name, var)))),
        },
    }
}

/// Names the variable that was actually read (the alias if that was it).
fn display(name: &str, var: &str) -> String {
    if var == name { name.to_string() } else { format!("{var} (alias of {name})") }
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        let text = |n: &str| get(env, n).map(|(_, v)| v.to_string());
        let expected = int(env, "STRATEGY_ARTIFACT_EXPECTED_SIZE", 5)?.max(1) as usize;
        let modes: Vec<String> = match text("STRATEGY_ARTIFACT_ACCEPTABLE_MODES") {
            None => vec!["core_major".to_string()],
            Some(v) => v.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_string).collect(),
        };
        let lang = match text("NOTIFY_LANG") {
            None => Lang::En,
            Some(v) => parse_lang(&v).map_err(|e| ConfigError(format!("NOTIFY_LANG: {e}")))?,
        };
        let max_orders = match get(env, "MAX_ORDERS_PER_RUN") {
            None => None,
            Some((_, v)) => Some(v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError(format!("MAX_ORDERS_PER_RUN: expected a positive whole number, got '{v}'"))
            })?),
        };
        Ok(Settings {
            strategy: StrategySettings {
                allow_new_entries_on_degraded: boolean(env, "STRATEGY_ARTIFACT_ALLOW_NEW_ENTRIES_ON_DEGRADED", false)?,
                status_report_interval_hours: int(env, "BTC_STATUS_REPORT_INTERVAL_HOURS", 24)?.clamp(1, 24) as u32,
                paused: boolean(env, "TRADECYCLE_PAUSE", false)?,
                max_notional_per_order: positive_decimal(env, "MAX_NOTIONAL_PER_ORDER_USDT")?,
                max_orders_per_run: max_orders,
                pool_size: expected,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
