//! An in-process exchange seeded from a fixture set: serves the fixture's
//! balances, prices, rules and injected indicators. Replay reads it; it
//! never contacts the network.

use crate::domain::snapshot::{MarketData, Series};
use crate::fixture::FixtureSet;
use crate::ports::{Exchange, MarketRequest, PortError};

pub struct SimExchange {
    fixtures: FixtureSet,
}

impl SimExchange {
    pub fn new(fixtures: FixtureSet) -> Self {
        SimExchange { fixtures }
    }
}

impl Exchange for SimExchange {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError> {
        let f = &self.fixtures;
        let pick = |keys: &[String]| keys.iter().filter_map(|k| f.prices.get(k).map(|p| (k.clone(), *p))).collect();
        Ok(MarketData {
            balances: req.assets.iter().map(|a| (a.clone(), f.balances.get(a).copied().unwrap_or_default())).collect(),
            prices: pick(&req.symbols),
            rules: req.symbols.iter().filter_map(|s| f.rules.get(s).map(|r| (s.clone(), r.clone()))).collect(),
            earn_products: f.earn_products.clone(),
            series: Series::Injected {
                btc: f.btc.clone(),
                indicators: req
                    .kline_symbols
                    .iter()
                    .filter_map(|s| f.indicators.get(s).map(|i| (s.clone(), i.clone())))
                    .collect(),
            },
        })
    }
}
