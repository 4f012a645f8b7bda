//! Trend rotation rules: the monthly execution pool lock, candidate
//! selection with inverse-volatility weights, why a holding is sold, and how
//! the buy budget is split (behaviour.md §3.9 B, §6.2, §6.4, §8.4).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::domain::pool::Universe;
use crate::domain::snapshot::{BtcSnapshot, Indicators};
use crate::domain::state::StateDoc;
use crate::notify::event::SellReason;

/// One selected candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub symbol: String,
    pub weight: f64,
    pub relative_score: f64,
    pub abs_momentum: f64,
}

/// The fields candidate selection and stops need, all present.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendInputs {
    pub sma20: f64,
    pub sma60: f64,
    pub sma200: f64,
    pub roc20: f64,
    pub roc60: f64,
    pub roc120: f64,
    pub vol20: f64,
    pub atr14: f64,
}

const REQUIRED: [&str; 8] = ["sma20", "sma60", "sma200", "roc20", "roc60", "roc120", "vol20", "atr14"];

impl TrendInputs {
    /// `Err` lists the missing fields.
    pub fn from(ind: &Indicators) -> Result<TrendInputs, Vec<&'static str>> {
        let vals = [ind.sma20, ind.sma60, ind.sma200, ind.roc20, ind.roc60, ind.roc120, ind.vol20, ind.atr14];
        let missing: Vec<&'static str> =
            REQUIRED.iter().zip(vals).filter(|(_, v)| !v.is_some_and(f64::is_finite)).map(|(n, _)| *n).collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        let v = vals.map(|x| x.unwrap_or_default());
        Ok(TrendInputs {
            sma20: v[0],
            sma60: v[1],
            sma200: v[2],
            roc20: v[3],
            roc60: v[4],
            roc120: v[5],
            vol20: v[6],
            atr14: v[7],
        })
    }

    pub fn above_all_smas(&self, price: f64) -> bool {
        price > self.sma20 && price > self.sma60 && price > self.sma200
    }

    /// (relative score vs BTC per unit of volatility, absolute momentum).
    pub fn scores(&self, btc: (f64, f64, f64)) -> (f64, f64) {
        let abs_momentum = 0.5 * self.roc20 + 0.3 * self.roc60 + 0.2 * self.roc120;
        let rel = 0.5 * (self.roc20 - btc.0) + 0.3 * (self.roc60 - btc.1) + 0.2 * (self.roc120 - btc.2);
        (rel / self.vol20, abs_momentum)
    }
}

/// Monthly execution pool (design.md §3.1, behaviour.md §3.9 B): the
/// upstream pool in upstream order when fresh; when degraded, the previously
/// locked pool (filtered to the current universe) or else the first
/// `pool_size` symbols. The lock is written to state either way.
pub fn lock_execution_pool(
    state: &mut StateDoc,
    official: &Universe,
    version: &str,
    as_of_date: &str,
    pool_size: usize,
    allow_refresh: bool,
    now: DateTime<Utc>,
) -> Vec<String> {
    let cached: Vec<String> =
        state.rotation_pool_symbols.iter().filter(|s| official.contains_key(s.as_str())).cloned().collect();
    let pool: Vec<String> = if allow_refresh {
        official.keys().cloned().collect()
    } else if !cached.is_empty() {
        cached
    } else {
        official.keys().take(pool_size).cloned().collect()
    };
    let as_of = as_of_date.trim();
    state.rotation_pool_symbols = pool.clone();
    state.rotation_pool_source_version = version.trim().to_string();
    state.rotation_pool_source_as_of_date = as_of.to_string();
    state.rotation_pool_last_month =
        if as_of.len() >= 7 { as_of[..7].to_string() } else { now.format("%Y-%m").to_string() };
    pool
}

/// Selects up to `top_n` candidates (`StrategyParams::top_n`) from the
/// execution pool (§6.2). No candidates when the BTC regime is off.
pub fn select_candidates(
    pool: &[String],
    indicators: &BTreeMap<String, Indicators>,
    prices: &BTreeMap<String, f64>,
    btc: &BtcSnapshot,
    top_n: usize,
) -> Vec<Candidate> {
    let Some(btc_mom) = btc.momentum() else { return Vec::new() };
    if btc.regime_on != Some(true) {
        return Vec::new();
    }
    let mut scored: Vec<(String, f64, f64, f64)> = Vec::new();
    for symbol in pool {
        let (Some(ind), Some(&price)) = (indicators.get(symbol), prices.get(symbol)) else { continue };
        let Ok(t) = TrendInputs::from(ind) else { continue };
        if !(t.above_all_smas(price) && t.vol20 > 0.0) {
            continue;
        }
        let (rel, abs) = t.scores(btc_mom);
        if rel > 0.0 && abs > 0.0 {
            scored.push((symbol.clone(), rel, abs, t.vol20));
        }
    }
    // Stable sort keeps upstream order among equal scores.
    scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    scored.truncate(top_n.max(1));
    let inv_sum: f64 = scored.iter().map(|c| 1.0 / c.3).sum();
    scored
        .into_iter()
        .map(|(symbol, rel, abs, vol)| Candidate {
            symbol,
            weight: (1.0 / vol) / inv_sum,
            relative_score: rel,
            abs_momentum: abs,
        })
        .collect()
}

/// Why each pool symbol was not selected (§8.4 `candidate_filter_reasons`).
pub fn candidate_filter_reasons(
    pool: &[String],
    indicators: &BTreeMap<String, Indicators>,
    prices: &BTreeMap<String, f64>,
    btc: &BtcSnapshot,
) -> Value {
    let mut out = serde_json::Map::new();
    for symbol in pool {
        let mut reasons: Vec<String> = Vec::new();
        let mut entry = serde_json::Map::new();
        if btc.regime_on == Some(false) {
            reasons.push("btc_regime_off".into());
        }
        let btc_mom = btc.momentum();
        if btc_mom.is_none() {
            reasons.push("missing_btc_momentum".into());
        }
        match (indicators.get(symbol), prices.get(symbol)) {
            (None, _) => reasons.push("missing_indicators".into()),
            (Some(_), None) => reasons.push("missing_price".into()),
            (Some(ind), Some(&price)) => match TrendInputs::from(ind) {
                Err(missing) => reasons.push(format!("missing_fields:{}", missing.join(","))),
                Ok(t) => {
                    for (name, sma) in [("sma20", t.sma20), ("sma60", t.sma60), ("sma200", t.sma200)] {
                        if price <= sma {
                            reasons.push(format!("price_lte_{name}"));
                        }
                    }
                    if t.vol20 <= 0.0 {
                        reasons.push("vol20_lte_zero".into());
                    } else if let Some(m) = btc_mom {
                        let (rel, abs) = t.scores(m);
                        if rel <= 0.0 {
                            reasons.push("relative_score_lte_zero".into());
                        }
                        if abs <= 0.0 {
                            reasons.push("abs_momentum_lte_zero".into());
                        }
                        entry.insert("relative_score".into(), json!(round_to(rel, 6)));
                        entry.insert("abs_momentum".into(), json!(round_to(abs, 6)));
                    }
                }
            },
        }
        if reasons.is_empty() {
            // Passed every filter but lost on rank (only `top_n` are kept).
            reasons.push("not_in_top_n".into());
        }
        entry.insert("reasons".into(), json!(reasons));
        out.insert(symbol.clone(), Value::Object(entry));
    }
    Value::Object(out)
}

/// Decides whether a held position is sold (§6.4), updating the trailing
/// high in `highest_price` (persisted, unlike the reference's HEAD); the
/// trailing stop sits `atr_multiplier` ATRs below it.
pub fn sell_reason(
    highest_price: &mut f64,
    price: f64,
    indicators: Option<&Indicators>,
    is_candidate: bool,
    atr_multiplier: f64,
) -> Option<SellReason> {
    let Some(t) = indicators.and_then(|i| TrendInputs::from(i).ok()) else {
        return Some(SellReason::MissingIndicators);
    };
    *highest_price = highest_price.max(price);
    let stop = *highest_price - atr_multiplier * t.atr14;
    if !is_candidate {
        Some(SellReason::RotatedOut)
    } else if price < t.sma60 {
        Some(SellReason::BelowSma60)
    } else if price < stop {
        Some(SellReason::AtrStop { stop_price: stop })
    } else {
        None
    }
}

/// Splits `total_budget` over the eligible candidates, re-normalising their
/// weights over the eligible set only (§6.4).
pub fn split_budget(total_budget: f64, eligible: &[&Candidate]) -> Vec<(String, f64)> {
    let weight_sum: f64 = eligible.iter().map(|c| c.weight).sum();
    if total_budget <= 0.0 || weight_sum <= 0.0 {
        return Vec::new();
    }
    eligible.iter().map(|c| (c.symbol.clone(), total_budget * c.weight / weight_sum)).collect()
}

pub fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ind(sma: (f64, f64, f64), roc: (f64, f64, f64), vol20: f64, atr14: f64) -> Indicators {
        Indicators {
            close: Some(0.0),
            sma20: Some(sma.0),
            sma60: Some(sma.1),
            sma200: Some(sma.2),
            roc20: Some(roc.0),
            roc60: Some(roc.1),
            roc120: Some(roc.2),
            vol20: Some(vol20),
            atr14: Some(atr14),
            ..Default::default()
        }
    }

    fn btc_on() -> BtcSnapshot {
        BtcSnapshot {
            btc_roc20: Some(0.05),
            btc_roc60: Some(0.1),
            btc_roc120: Some(0.15),
            regime_on: Some(true),
            ..Default::default()
        }
    }

    fn replay_inputs() -> (Vec<String>, BTreeMap<String, Indicators>, BTreeMap<String, f64>) {
        let pool: Vec<String> = ["ETHUSDT", "SOLUSDT", "XRPUSDT", "LTCUSDT", "BCHUSDT"].map(String::from).to_vec();
        let mut m = BTreeMap::new();
        m.insert("ETHUSDT".into(), ind((2400., 2300., 2000.), (0.15, 0.3, 0.5), 0.04, 75.));
        m.insert("SOLUSDT".into(), ind((140., 135., 110.), (0.1, 0.25, 0.45), 0.05, 6.5));
        m.insert("XRPUSDT".into(), ind((1.1, 1.05, 0.9), (0.08, 0.18, 0.25), 0.06, 0.05));
        m.insert("LTCUSDT".into(), ind((97., 95., 92.), (0.02, 0.03, 0.04), 0.08, 3.5));
        m.insert("BCHUSDT".into(), ind((405., 390., 360.), (0.07, 0.14, 0.18), 0.06, 14.));
        let prices = [("ETHUSDT", 2500.), ("SOLUSDT", 150.), ("XRPUSDT", 1.2), ("LTCUSDT", 100.), ("BCHUSDT", 420.)]
            .into_iter()
            .map(|(s, p)| (s.to_string(), p))
            .collect();
        (pool, m, prices)
    }

    #[test]
    fn replay_fixture_selects_eth_and_sol_with_inverse_vol_weights() {
        let (pool, m, prices) = replay_inputs();
        let c = select_candidates(&pool, &m, &prices, &btc_on(), 2);
        assert_eq!(c.iter().map(|c| c.symbol.as_str()).collect::<Vec<_>>(), vec!["ETHUSDT", "SOLUSDT"]);
        assert!((c[0].relative_score - 4.5).abs() < 1e-9);
        assert!((c[1].relative_score - 2.6).abs() < 1e-9);
        assert!((c[0].weight - 25.0 / 45.0).abs() < 1e-12);
        assert!((c[1].weight - 20.0 / 45.0).abs() < 1e-12);
        let budgets = split_budget(869.644039, &c.iter().collect::<Vec<_>>());
        assert!((budgets[0].1 - 483.135577).abs() < 1e-5);
        assert!((budgets[1].1 - 386.508462).abs() < 1e-5);
    }

    #[test]
    fn regime_off_or_missing_btc_momentum_selects_nothing() {
        let (pool, m, prices) = replay_inputs();
        let mut off = btc_on();
        off.regime_on = Some(false);
        assert!(select_candidates(&pool, &m, &prices, &off, 2).is_empty());
        let mut no_mom = btc_on();
        no_mom.btc_roc60 = None;
        assert!(select_candidates(&pool, &m, &prices, &no_mom, 2).is_empty());
        let reasons = candidate_filter_reasons(&pool, &m, &prices, &off);
        assert_eq!(reasons["ETHUSDT"]["reasons"], json!(["btc_regime_off"]));
    }

    #[test]
    fn filter_reasons_name_each_failed_rule() {
        let (pool, mut m, mut prices) = replay_inputs();
        prices.insert("ETHUSDT".into(), 2350.0);
        m.get_mut("SOLUSDT").unwrap().atr14 = None;
        prices.remove("XRPUSDT");
        m.remove("BCHUSDT");
        let r = candidate_filter_reasons(&pool, &m, &prices, &btc_on());
        assert_eq!(r["ETHUSDT"]["reasons"], json!(["price_lte_sma20"]));
        assert_eq!(r["SOLUSDT"]["reasons"], json!(["missing_fields:atr14"]));
        assert_eq!(r["XRPUSDT"]["reasons"], json!(["missing_price"]));
        assert_eq!(r["LTCUSDT"]["reasons"], json!(["relative_score_lte_zero"]));
        assert_eq!(r["LTCUSDT"]["relative_score"], json!(-0.725));
        assert_eq!(r["BCHUSDT"]["reasons"], json!(["missing_indicators"]));
    }

    #[test]
    fn sell_reasons_in_priority_order_with_trailing_high() {
        let i = ind((90., 90., 80.), (0.1, 0.1, 0.1), 0.05, 5.0);
        // behaviour.md §11: entry 90 / high 120, price 100, ATR 5, sma60 90, candidate.
        // With multiplier 2.5 the stop is 120 - 12.5 = 107.5.
        let mut high = 120.0;
        assert_eq!(sell_reason(&mut high, 100.0, Some(&i), true, 2.5), Some(SellReason::AtrStop { stop_price: 107.5 }));
        assert_eq!(high, 120.0);
        let mut high = 100.0;
        assert_eq!(sell_reason(&mut high, 110.0, Some(&i), true, 2.5), None);
        assert_eq!(high, 110.0, "the trailing high ratchets up and is kept");
        assert_eq!(sell_reason(&mut high, 110.0, Some(&i), false, 2.5), Some(SellReason::RotatedOut));
        assert_eq!(sell_reason(&mut high, 89.0, Some(&i), true, 2.5), Some(SellReason::BelowSma60));
        assert_eq!(sell_reason(&mut high, 89.0, None, true, 2.5), Some(SellReason::MissingIndicators));
    }

    #[test]
    fn budget_split_renormalises_over_eligible() {
        let eth = Candidate { symbol: "ETHUSDT".into(), weight: 0.5, relative_score: 1.0, abs_momentum: 1.0 };
        let sol = Candidate { symbol: "SOLUSDT".into(), weight: 0.3, relative_score: 1.0, abs_momentum: 1.0 };
        assert_eq!(split_budget(1000.0, &[&eth, &sol]), vec![("ETHUSDT".into(), 625.0), ("SOLUSDT".into(), 375.0)]);
        assert_eq!(split_budget(1000.0, &[&sol]), vec![("SOLUSDT".into(), 1000.0)]);
        assert!(split_budget(0.0, &[&sol]).is_empty());
    }

    #[test]
    fn pool_lock_follows_upstream_when_fresh_and_keeps_cache_when_degraded() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap();
        let u: Universe = ["AUSDT", "BUSDT", "CUSDT"].iter().map(|s| (s.to_string(), s[..1].to_string())).collect();
        let mut st = StateDoc { rotation_pool_symbols: vec!["CUSDT".into(), "ZUSDT".into()], ..Default::default() };
        let fresh = lock_execution_pool(&mut st, &u, "2026-03-10-core_major", "2026-03-10", 2, true, now);
        assert_eq!(fresh, vec!["AUSDT", "BUSDT", "CUSDT"]);
        assert_eq!(st.rotation_pool_last_month, "2026-03");
        assert_eq!(st.rotation_pool_source_version, "2026-03-10-core_major");
        st.rotation_pool_symbols = vec!["CUSDT".into(), "ZUSDT".into()];
        assert_eq!(lock_execution_pool(&mut st, &u, "static-fallback", "", 2, false, now), vec!["CUSDT"]);
        assert_eq!(st.rotation_pool_last_month, "2026-03", "empty as_of falls back to now's month");
        st.rotation_pool_symbols.clear();
        assert_eq!(lock_execution_pool(&mut st, &u, "v", "2026-02-01", 2, false, now), vec!["AUSDT", "BUSDT"]);
    }
}
