//! A live-run harness: a fake Binance seeded from one of our fixture sets
//! (balances, Earn, prices, filters, and synthetic klines ending now), a
//! file state store and an upstream pool file in a temp dir, and the
//! environment that points `tradecycle run --live` at them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;
use tradecycle::paper::fixture::FixtureSet;
use tradecycle::indicators::{BTC_LOOKBACK_DAYS, TREND_LOOKBACK_DAYS};
use tradecycle_fakes::binance::{EarnProduct, FakeBinance, FakeBinanceConfig, Kline, SymbolSpec};

use super::{Run, root, tradecycle};

pub struct Live {
    pub fake: FakeBinance,
    pub dir: tempfile::TempDir,
    pub now: DateTime<Utc>,
    pub fixtures: FixtureSet,
}

fn dec(x: f64) -> Decimal {
    Decimal::from_str(&format!("{x:.8}")).expect("finite")
}

/// The fixture's pool payload dated today, so it is fresh for a run now.
pub fn fresh_pool(fixtures: &FixtureSet, now: DateTime<Utc>) -> Value {
    let mut pool = fixtures.pool_input.clone();
    let today = now.format("%Y-%m-%d").to_string();
    pool["as_of_date"] = Value::String(today.clone());
    pool["version"] = Value::String(format!("{today}-core_major"));
    pool
}

impl Live {
    pub fn new(fixture: &str) -> Live {
        Self::with_config(fixture, FakeBinanceConfig::default())
    }

    pub fn with_config(fixture: &str, config: FakeBinanceConfig) -> Live {
        let fixtures = FixtureSet::load(&root().join("fixtures").join(fixture)).expect("fixture set");
        let now = Utc::now();
        let fake = FakeBinance::start(config);
        for (asset, b) in &fixtures.balances {
            fake.set_balance(asset, b.free, b.locked);
        }
        for (asset, product) in &fixtures.earn_products {
            fake.set_earn_product(EarnProduct::new(asset, product));
            let earn = fixtures.balances.get(asset).map(|b| b.earn).unwrap_or_default();
            if earn > Decimal::ZERO {
                fake.set_earn_position(asset, product, earn);
            }
        }
        let raw: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures.dir.join("account_balances_snapshot.json")).expect("balances file"),
        )
        .expect("json");
        for (symbol, price) in &fixtures.prices {
            let base = symbol.strip_suffix("USDT").expect("USDT pair");
            let filters = raw["symbol_info"][symbol]["filters"].as_array().cloned().unwrap_or_default();
            fake.add_symbol(SymbolSpec::new(symbol, base, "USDT").raw_filters(filters));
            fake.set_price(symbol, *price);
            let days = if symbol == "BTCUSDT" { BTC_LOOKBACK_DAYS } else { TREND_LOOKBACK_DAYS } as usize;
            let rows = tradecycle::paper::account::synthetic_klines(symbol, price.to_f64().unwrap(), days, now)
                .into_iter()
                .map(|k| Kline::daily(k.open_time, dec(k.open), dec(k.high), dec(k.low), dec(k.close), dec(k.volume)))
                .collect();
            fake.set_klines(symbol, rows);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("upstream.json"), fresh_pool(&fixtures, now).to_string()).unwrap();
        std::fs::write(dir.path().join("state.json"), fixtures.initial_state.to_string()).unwrap();
        Live { fake, dir, now, fixtures }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    pub fn artifacts(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).expect("state file")).expect("json")
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let d = self.dir.path();
        vec![
            ("BINANCE_BASE_URL".into(), self.fake.url()),
            ("BINANCE_API_KEY".into(), self.fake.api_key()),
            ("BINANCE_API_SECRET".into(), self.fake.api_secret()),
            ("BINANCE_TIMEOUT_SECS".into(), "2".into()),
            ("TRADECYCLE_STORE".into(), format!("file:{}", self.state_path().display())),
            ("STRATEGY_ARTIFACT_UPSTREAM_FILE".into(), d.join("upstream.json").display().to_string()),
            ("TRADECYCLE_WAIT_SCALE".into(), "0.01".into()),
        ]
    }

    /// `tradecycle run <args> --artifacts <tmp>/artifacts` with this environment plus `extra`.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let artifacts = self.artifacts();
        let mut all: Vec<&str> = vec!["run"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--artifacts", artifacts.to_str().unwrap()]);
        let env = self.env();
        let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.extend_from_slice(extra);
        tradecycle(&all, &pairs)
    }

    /// Starts `tradecycle run <args>` without waiting for it (to kill it).
    pub fn spawn(&self, args: &[&str], extra: &[(&str, &str)]) -> std::process::Child {
        let artifacts = self.artifacts();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tradecycle"));
        cmd.arg("run").args(args).args(["--artifacts", artifacts.to_str().unwrap()]);
        cmd.current_dir(root()).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("spawn")
    }

    /// A copy of the fixture set with the pool dated today (for a paper run
    /// that must see the same fresh pool as the live run).
    pub fn fresh_fixture_copy(&self) -> PathBuf {
        let copy = self.dir.path().join("fixture-copy");
        std::fs::create_dir_all(&copy).unwrap();
        for entry in std::fs::read_dir(&self.fixtures.dir).unwrap() {
            let e = entry.unwrap();
            if e.path().is_file() {
                std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
            }
        }
        std::fs::write(copy.join("pool_input_snapshot.json"), fresh_pool(&self.fixtures, self.now).to_string())
            .unwrap();
        copy
    }
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("json")
}

impl Live {
    /// Starts two `run --live` processes with the same run id (two
    /// schedulers firing in the same second), `gap` apart, and waits for
    /// both; their outcomes in start order.
    pub fn race(&self, gap: std::time::Duration, extra: &[(&str, &str)]) -> [Run; 2] {
        let start = || {
            let artifacts = self.artifacts();
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tradecycle"));
            cmd.args(["run", "--live", "--run-id", "race", "--artifacts", artifacts.to_str().unwrap()]);
            cmd.current_dir(root()).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
            cmd.envs(self.env()).envs(extra.iter().copied());
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn")
        };
        let first = start();
        if !gap.is_zero() {
            std::thread::sleep(gap);
        }
        let second = start();
        [first, second].map(|child| {
            let out = child.wait_with_output().expect("runs");
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
    }

    /// Exactly one of two racing runs traded (and finished cleanly); the
    /// other touched nothing and exited 4; no client id was sent twice.
    pub fn assert_one_traded(&self, runs: &[Run; 2], what: &str) {
        let mut codes: Vec<i32> = runs.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        let both =
            || format!("{what}: {}\n{}\n---\n{}\n{}", runs[0].stderr, runs[0].stdout, runs[1].stderr, runs[1].stdout);
        assert_eq!(codes, [0, 4], "{}", both());
        let (winner, loser) = if runs[0].code == 0 { (&runs[0], &runs[1]) } else { (&runs[1], &runs[0]) };
        let (winner, loser) = (winner.json(), loser.json());
        assert_eq!(loser["errors"][0]["stage"], "lease", "{what}: {loser}");
        assert!(loser["intents"].as_array().unwrap().is_empty(), "{what}: {loser}");
        assert!(loser["state_writes"].as_array().unwrap().is_empty(), "{what}: {loser}");
        let filled = winner["intents"].as_array().unwrap().iter().filter(|i| i["status"] == "filled").count();
        let orders = self.fake.orders();
        assert!(!orders.is_empty(), "{what}: the winner traded");
        let mut ids: Vec<&str> = orders.iter().map(|o| o.client_order_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), orders.len(), "{what}: no client id twice");
        let earn_moves = winner["intents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["status"] == "filled" && i["kind"].as_str().unwrap().starts_with("earn"))
            .count();
        assert_eq!(orders.len(), filled - earn_moves, "{what}: every order is the winner's");
    }
}

/// The report's intent of `kind` for `symbol`; panics naming what is there.
pub fn intent<'a>(r: &'a Value, kind: &str, symbol: &str) -> &'a Value {
    r["intents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind && i["symbol"] == symbol)
        .unwrap_or_else(|| panic!("no {kind} {symbol} in {}", r["intents"]))
}

/// Orders of `symbol` the fake executed.
pub fn fills_for(live: &Live, symbol: &str) -> usize {
    live.fake.orders().iter().filter(|o| o.symbol == symbol).count()
}
