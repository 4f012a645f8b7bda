//! Credentials that must never be printed (`BINANCE_API_KEY`,
//! `BINANCE_API_SECRET`, `TG_TOKEN`, the GitHub token): held in a
//! [`secrecy::SecretString`] (zeroed when dropped), `Debug` and `Display`
//! show `***`, and the value is only reachable through [`Secret::expose`].
//! This is the one type for a credential in the program: every adapter
//! takes its key or token as a `Secret`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

#[derive(Clone, Default)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The raw value, for the one place that must send it (a header, a signature).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// Replaces every occurrence of the secret in `text` (error bodies,
    /// URLs) so it cannot leak into a log or report.
    pub fn redact(&self, text: &str) -> String {
        let value = self.expose();
        if value.len() < 4 { text.to_string() } else { text.replace(value, "***") }
    }
}

/// Configs holding a secret compare by value (tests of the env parsing).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let s = Secret::new("hunter2-secret");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2-secret");
        assert_eq!(s.redact("url?token=hunter2-secret&x=1"), "url?token=***&x=1");
    }

    /// Every struct built from the environment, printed with `{:?}` (as a
    /// stray `tracing::debug!(?req)` would), shows no credential.
    #[test]
    fn debug_of_the_environment_and_everything_built_from_it_shows_no_secret() {
        use crate::config::{Env, Settings};
        const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
        const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        const TG: &str = "123456789:AAF7-g0gYncWnm5IyfZlpPRqRRv6kNAGlao";
        const GH: &str = "ghp_R4nd0mT0k3nV4lu3ThatMustNeverLeak0000";
        let env: Env = [
            ("BINANCE_API_KEY", KEY),
            ("BINANCE_API_SECRET", SECRET),
            ("TG_TOKEN", TG),
            ("GLOBAL_TELEGRAM_CHAT_ID", "-1001234567890"),
            ("GITHUB_TOKEN", GH),
            ("REPO", "owner/repo"),
            ("WORKFLOW", "cycle.yml"),
            ("REF", "main"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let run = crate::commands::run::RunRequest {
            live: true,
            paper: false,
            fixtures: Some("fixtures/cycle_replay".into()),
            paper_dir: "artifacts/paper".into(),
            synthetic_klines: false,
            store: None,
            allow_withdrawal_key: false,
            run_id: None,
            now: None,
            artifacts_dir: "artifacts".into(),
            env: env.clone(),
        };
        let validate = crate::commands::validate::ValidateRequest {
            live: true,
            allow_withdrawal_key: false,
            send_test: false,
            store: None,
            env: env.clone(),
        };
        let fixture = crate::paper::fixture::ReplayConfig { env: env.clone(), ..Default::default() };
        let printed = [
            format!("{env:?}"),
            format!("{run:?}"),
            format!("{validate:?}"),
            format!("{fixture:?}"),
            format!("{:?}", Settings::from_env(&env).unwrap()),
            format!("{:?}", crate::adapters::binance::BinanceConfig::from_env(&env).unwrap()),
            format!("{:?}", crate::adapters::telegram::config::TelegramConfig::from_env(&env).unwrap().unwrap()),
            format!("{:?}", crate::commands::dispatch::DispatchConfig::from_env(&env).unwrap()),
            format!(
                "{:?}",
                crate::config::RunConfig::resolve(&crate::commands::run::RunRequest {
                    store: Some("file:state.json".into()),
                    ..run.clone()
                })
                .unwrap()
            ),
        ];
        for text in &printed {
            for secret in [KEY, SECRET, TG, GH] {
                assert!(!text.contains(secret), "{secret} leaked in {text}");
            }
        }
        assert!(printed[0].contains("\"BINANCE_API_KEY\": <hidden>"), "names stay visible: {}", printed[0]);
    }
}
