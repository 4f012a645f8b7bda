//! Tests that nothing built from the environment prints a credential with
//! `{:?}` (as a stray `tracing::debug!(?req)` would). Kept with config,
//! which builds these values; the environment with every credential set
//! and the check are shared with the tests of the commands' own requests
//! (`validate`, `dispatch`), which cannot be named from here.

use super::run_config::RunRequest;
use super::{Env, RunConfig, Settings};
use crate::adapters::binance::BinanceConfig;
use crate::adapters::telegram::TelegramConfig;
use crate::paper::fixture::ReplayConfig;

pub(crate) const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
pub(crate) const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
pub(crate) const TG: &str = "123456789:AAF7-g0gYncWnm5IyfZlpPRqRRv6kNAGlao";
pub(crate) const GH: &str = "ghp_R4nd0mT0k3nV4lu3ThatMustNeverLeak0000";

/// An environment holding every credential the program reads, plus what
/// `dispatch` needs besides its token.
pub(crate) fn env_with_every_secret() -> Env {
    [
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
    .collect()
}

/// Fails naming the credential and the text it leaked into.
pub(crate) fn assert_no_secret_in(printed: &[String]) {
    for text in printed {
        for secret in [KEY, SECRET, TG, GH] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
}

#[test]
fn debug_of_the_environment_and_everything_built_from_it_shows_no_secret() {
    let env = env_with_every_secret();
    let run = RunRequest {
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
    let fixture = ReplayConfig { env: (*env).clone(), ..Default::default() };
    let printed = [
        format!("{env:?}"),
        format!("{run:?}"),
        format!("{fixture:?}"),
        format!("{:?}", Settings::from_env(&env).unwrap()),
        format!("{:?}", BinanceConfig::from_env(&env).unwrap()),
        format!("{:?}", TelegramConfig::from_env(&env).unwrap().unwrap()),
        format!(
            "{:?}",
            RunConfig::resolve(&RunRequest { store: Some("file:state.json".into()), ..run.clone() }).unwrap()
        ),
    ];
    assert_no_secret_in(&printed);
    assert!(printed[0].contains("\"BINANCE_API_KEY\": <hidden>"), "names stay visible: {}", printed[0]);
    assert!(printed[2].contains("\"BINANCE_API_KEY\""), "the fixture's names stay visible: {}", printed[2]);
}
