//! [`BinanceConfig::from_env`]: the Binance settings read from the
//! environment. The adapter (`crate::adapters::binance`) keeps the plain
//! config struct and its defaults; reading and checking the variables is
//! config's job, so the adapter depends on nothing above it.

use std::time::Duration;

use super::env::{ConfigError, Env, text};
use crate::adapters::binance::{BinanceConfig, DEFAULT_BASE_URL, TESTNET_URL};
use crate::secret::Secret;

impl BinanceConfig {
    /// Production defaults ([`BinanceConfig::new`]) with the credentials
    /// `BINANCE_API_KEY` and `BINANCE_API_SECRET` from `env` (a missing one
    /// is an error naming it) and the optional `BINANCE_BASE_URL`,
    /// `BINANCE_TESTNET`, `BINANCE_MAX_IN_FLIGHT` and `BINANCE_TIMEOUT_SECS`
    /// (a malformed one is an error naming it).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let var = |name: &str| text(env, name);
        let key = var("BINANCE_API_KEY").ok_or_else(|| ConfigError("BINANCE_API_KEY is not set".into()))?;
        let secret = var("BINANCE_API_SECRET").ok_or_else(|| ConfigError("BINANCE_API_SECRET is not set".into()))?;
        let mut config = BinanceConfig::public_from_env(env)?;
        config.api_key = Secret::new(key);
        config.api_secret = Secret::new(secret);
        Ok(config)
    }

    /// [`Self::from_env`] without credentials, for the public endpoints
    /// only (`backtest fetch`): every optional `BINANCE_*` setting, no key.
    pub fn public_from_env(env: &Env) -> Result<Self, ConfigError> {
        let var = |name: &str| text(env, name);
        let mut config = BinanceConfig::new(Secret::default(), Secret::default());
        if let Some(base) = var("BINANCE_BASE_URL") {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(ConfigError(format!("BINANCE_BASE_URL: expected an http(s) URL, got '{base}'")));
            }
            config.base_url = base.trim_end_matches('/').to_string();
        }
        config.testnet = match var("BINANCE_TESTNET").map(|v| v.to_ascii_lowercase()) {
            None => config.base_url == TESTNET_URL,
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => return Err(ConfigError(format!("BINANCE_TESTNET: expected true or false, got '{v}'"))),
        };
        // Testnet mode skips the live key preflight: never on production.
        if config.testnet && config.base_url == DEFAULT_BASE_URL {
            return Err(ConfigError(format!(
                "BINANCE_TESTNET is set but BINANCE_BASE_URL is Binance's production API ({DEFAULT_BASE_URL}); \
                 set BINANCE_BASE_URL={TESTNET_URL} or unset BINANCE_TESTNET"
            )));
        }
        if let Some(n) = var("BINANCE_MAX_IN_FLIGHT") {
            config.max_in_flight = n.parse::<usize>().ok().filter(|n| (1..=512).contains(n)).ok_or_else(|| {
                ConfigError(format!("BINANCE_MAX_IN_FLIGHT: expected a whole number between 1 and 512, got '{n}'"))
            })?;
        }
        if let Some(secs) = var("BINANCE_TIMEOUT_SECS") {
            let parsed = secs.parse::<f64>().ok().filter(|s| *s > 0.0 && *s <= 120.0);
            let secs = parsed.ok_or_else(|| {
                ConfigError(format!("BINANCE_TIMEOUT_SECS: expected seconds between 0 and 120, got '{secs}'"))
            })?;
            config.timeout = Duration::from_secs_f64(secs);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<BinanceConfig, ConfigError> {
        let mut env: Env = [("BINANCE_API_KEY", "k"), ("BINANCE_API_SECRET", "s")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        BinanceConfig::from_env(&env)
    }

    #[test]
    fn the_testnet_is_known_by_its_url_or_by_binance_testnet() {
        assert!(!config(&[]).unwrap().testnet);
        assert!(config(&[("BINANCE_BASE_URL", "https://testnet.binance.vision/")]).unwrap().testnet);
        assert!(config(&[("BINANCE_BASE_URL", "http://127.0.0.1:9"), ("BINANCE_TESTNET", "yes")]).unwrap().testnet);
        assert!(
            !config(&[("BINANCE_BASE_URL", "https://testnet.binance.vision"), ("BINANCE_TESTNET", "0")])
                .unwrap()
                .testnet
        );
        assert!(
            config(&[("BINANCE_TESTNET", "1")])
                .unwrap_err()
                .0
                .starts_with("BINANCE_TESTNET is set but BINANCE_BASE_URL is Binance's production API")
        );
        assert_eq!(
            config(&[("BINANCE_BASE_URL", "http://127.0.0.1:9"), ("BINANCE_TESTNET", "maybe")]).unwrap_err().0,
            "BINANCE_TESTNET: expected true or false, got 'maybe'"
        );
    }
}
