//! The environment as the program sees it ([`Env`]) and the one way to read
//! a variable from it: trimmed, empty meaning unset, the old alias (from the
//! table in [`super::variables`]) read when the name is not set, and typed
//! getters whose errors name the variable actually read. Separate from the
//! table and from [`super::Settings`] because every part of config (the
//! settings, each adapter's `from_env`, the run config) reads through these
//! getters: this module depends on nothing above it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

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

/// A setting that cannot be used as given; the text starts with the
/// variable (or flag) to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Reads one variable (trimmed, empty treated as unset), falling back to its
/// old alias; returns the name actually read with the value.
pub fn get<'a>(env: &'a Env, name: &'a str) -> Option<(&'a str, &'a str)> {
    let lookup = |n: &'a str| env.get(n).map(|v| v.trim()).filter(|v| !v.is_empty()).map(|v| (n, v));
    lookup(name).or_else(|| super::variables::alias_of(name).and_then(lookup))
}

/// The value of one variable (see [`get`]), whichever name it came from.
pub fn value<'a>(env: &'a Env, name: &str) -> Option<&'a str> {
    let lookup = |n: &str| env.get(n).map(|v| v.trim()).filter(|v| !v.is_empty());
    lookup(name).or_else(|| super::variables::alias_of(name).and_then(lookup))
}

/// [`value`] as an owned string.
pub fn text(env: &Env, name: &str) -> Option<String> {
    value(env, name).map(str::to_string)
}

pub fn int(env: &Env, name: &str, default: i64) -> Result<i64, ConfigError> {
    match get(env, name) {
        None => Ok(default),
        Some((var, v)) => v
            .parse::<i64>()
            .map_err(|_| ConfigError(format!("{}: expected a whole number, got '{v}'", display(name, var)))),
    }
}

/// A true/false variable (1/0, yes/no, on/off); empty is unset.
pub fn boolean(env: &Env, name: &str, default: bool) -> Result<bool, ConfigError> {
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

pub fn positive_decimal(env: &Env, name: &str) -> Result<Option<Decimal>, ConfigError> {
    match get(env, name) {
        None => Ok(None),
        Some((var, v)) => match v.parse::<Decimal>() {
            Ok(d) if d > Decimal::ZERO => Ok(Some(d)),
            _ => Err(ConfigError(format!("{}: expected a positive number, got '{v}'", display(name, var)))),
        },
    }
}

/// A positive, finite number (hours, ratios).
pub fn positive_f64(env: &Env, name: &str) -> Result<Option<f64>, ConfigError> {
    match get(env, name) {
        None => Ok(None),
        Some((var, v)) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .map(Some)
            .ok_or_else(|| ConfigError(format!("{}: expected a positive number, got '{v}'", display(name, var)))),
    }
}

/// A whole number above zero (counts, limits).
pub fn positive_int(env: &Env, name: &str) -> Result<Option<u64>, ConfigError> {
    match get(env, name) {
        None => Ok(None),
        Some((var, v)) => {
            v.parse::<u64>().ok().filter(|x| *x > 0).map(Some).ok_or_else(|| {
                ConfigError(format!("{}: expected a positive whole number, got '{v}'", display(name, var)))
            })
        }
    }
}

/// Names the variable that was actually read (the alias if that was it).
pub fn display(name: &str, var: &str) -> String {
    if var == name { name.to_string() } else { format!("{var} (alias of {name})") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn values_are_trimmed_and_empty_is_unset() {
        let e = env(&[("A_VAR", "  x "), ("B_VAR", "   ")]);
        assert_eq!(get(&e, "A_VAR"), Some(("A_VAR", "x")));
        assert_eq!(get(&e, "B_VAR"), None);
        assert_eq!(get(&e, "C_VAR"), None);
    }

    #[test]
    fn the_alias_is_read_when_the_name_is_unset_and_named_in_errors() {
        let e = env(&[("TG_CHAT_ID", "42")]);
        assert_eq!(get(&e, "GLOBAL_TELEGRAM_CHAT_ID"), Some(("TG_CHAT_ID", "42")));
        let e = env(&[("TG_CHAT_ID", "42"), ("GLOBAL_TELEGRAM_CHAT_ID", "7")]);
        assert_eq!(value(&e, "GLOBAL_TELEGRAM_CHAT_ID"), Some("7"));
        let e = env(&[("TREND_POOL_MAX_AGE_DAYS", "x")]);
        assert_eq!(
            int(&e, "STRATEGY_ARTIFACT_MAX_AGE_DAYS", 45).unwrap_err().0,
            "TREND_POOL_MAX_AGE_DAYS (alias of STRATEGY_ARTIFACT_MAX_AGE_DAYS): expected a whole number, got 'x'"
        );
    }

    #[test]
    fn typed_getters_name_the_variable() {
        let e = env(&[("F", "nan"), ("I", "-1"), ("B", "maybe")]);
        assert_eq!(positive_f64(&e, "F").unwrap_err().0, "F: expected a positive number, got 'nan'");
        assert_eq!(positive_int(&e, "I").unwrap_err().0, "I: expected a positive whole number, got '-1'");
        assert_eq!(boolean(&e, "B", false).unwrap_err().0, "B: expected true/false (1/0, yes/no, on/off), got 'maybe'");
        assert_eq!(
            (positive_f64(&e, "X"), positive_int(&e, "X"), boolean(&e, "X", true)),
            (Ok(None), Ok(None), Ok(true))
        );
    }
}
