//! The adapters a run picks between at start-up, as one type each, so the
//! shell's generic cycle is compiled once for a run whatever it trades on:
//! the state store (file or Firestore), the exchange (paper or Binance), the
//! notifier (Telegram or the log) and the executor (suppressing or trading).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::time::Duration;

use crate::adapters::binance::BinanceClient;
use crate::adapters::log_notifier::LogNotifier;
use crate::adapters::store::file::FileStore;
use crate::adapters::store::firestore::FirestoreStore;
use crate::adapters::telegram::TelegramNotifier;
use crate::domain::intent::{Commission, Intent};
use crate::domain::snapshot::MarketData;
use crate::paper::exchange::SimExchange;
use crate::ports::{
    ApiRestrictions, Exchange, ExchangeHealth, LeaseOutcome, MarketRequest, Notifier, OrderReport, OrderRequest,
    PortError, StateStore,
};
use crate::shell::execute::ExchangeExecutor;
use crate::shell::runner::{Executor, Suppress};
use crate::strategy::cycle::Outcome;

/// The stores a run can use.
pub enum AnyStore {
    File(FileStore),
    Firestore(Box<FirestoreStore>),
}

impl StateStore for AnyStore {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        match self {
            AnyStore::File(s) => s.load().await,
            AnyStore::Firestore(s) => s.load().await,
        }
    }
    async fn save(&self, doc: &Value) -> Result<(), PortError> {
        match self {
            AnyStore::File(s) => s.save(doc).await,
            AnyStore::Firestore(s) => s.save(doc).await,
        }
    }
    async fn acquire_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<LeaseOutcome, PortError> {
        match self {
            AnyStore::File(s) => s.acquire_lease(owner, now, ttl).await,
            AnyStore::Firestore(s) => s.acquire_lease(owner, now, ttl).await,
        }
    }
    async fn renew_lease(&self, owner: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        match self {
            AnyStore::File(s) => s.renew_lease(owner, now, ttl).await,
            AnyStore::Firestore(s) => s.renew_lease(owner, now, ttl).await,
        }
    }
    async fn lease_holder(&self) -> Result<Option<(String, DateTime<Utc>)>, PortError> {
        match self {
            AnyStore::File(s) => s.lease_holder().await,
            AnyStore::Firestore(s) => s.lease_holder().await,
        }
    }
    async fn release_lease(&self, owner: &str) -> Result<(), PortError> {
        match self {
            AnyStore::File(s) => s.release_lease(owner).await,
            AnyStore::Firestore(s) => s.release_lease(owner).await,
        }
    }
    async fn write_heartbeat(&self, service: &str, record: &Value) -> Result<(), PortError> {
        match self {
            AnyStore::File(s) => s.write_heartbeat(service, record).await,
            AnyStore::Firestore(s) => s.write_heartbeat(service, record).await,
        }
    }
    async fn read_heartbeat(&self, service: &str) -> Result<Option<Value>, PortError> {
        match self {
            AnyStore::File(s) => s.read_heartbeat(service).await,
            AnyStore::Firestore(s) => s.read_heartbeat(service).await,
        }
    }
}

/// The exchanges a run can use.
pub enum AnyExchange {
    Sim(Box<SimExchange>),
    Binance(Box<BinanceClient>),
}

impl Exchange for AnyExchange {
    async fn market_data(&self, req: &MarketRequest) -> Result<MarketData, PortError> {
        match self {
            AnyExchange::Sim(x) => x.market_data(req).await,
            AnyExchange::Binance(x) => x.market_data(req).await,
        }
    }
    async fn place_order(&self, order: &OrderRequest) -> Result<OrderReport, PortError> {
        match self {
            AnyExchange::Sim(x) => x.place_order(order).await,
            AnyExchange::Binance(x) => x.place_order(order).await,
        }
    }
    async fn query_order(&self, symbol: &str, id: &str) -> Result<Option<OrderReport>, PortError> {
        match self {
            AnyExchange::Sim(x) => x.query_order(symbol, id).await,
            AnyExchange::Binance(x) => x.query_order(symbol, id).await,
        }
    }
    async fn orders_since(&self, symbol: &str, since: DateTime<Utc>) -> Result<Vec<OrderReport>, PortError> {
        match self {
            AnyExchange::Sim(x) => x.orders_since(symbol, since).await,
            AnyExchange::Binance(x) => x.orders_since(symbol, since).await,
        }
    }
    async fn order_commissions(&self, symbol: &str, order_id: i64) -> Result<Vec<Commission>, PortError> {
        match self {
            AnyExchange::Sim(x) => x.order_commissions(symbol, order_id).await,
            AnyExchange::Binance(x) => x.order_commissions(symbol, order_id).await,
        }
    }
    async fn earn_subscribe(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        match self {
            AnyExchange::Sim(x) => x.earn_subscribe(product_id, amount).await,
            AnyExchange::Binance(x) => x.earn_subscribe(product_id, amount).await,
        }
    }
    async fn earn_redeem(&self, product_id: &str, amount: Decimal) -> Result<(), PortError> {
        match self {
            AnyExchange::Sim(x) => x.earn_redeem(product_id, amount).await,
            AnyExchange::Binance(x) => x.earn_redeem(product_id, amount).await,
        }
    }
    async fn spot_free(&self, asset: &str) -> Result<Decimal, PortError> {
        match self {
            AnyExchange::Sim(x) => x.spot_free(asset).await,
            AnyExchange::Binance(x) => x.spot_free(asset).await,
        }
    }
    async fn api_restrictions(&self) -> Result<ApiRestrictions, PortError> {
        match self {
            AnyExchange::Sim(x) => x.api_restrictions().await,
            AnyExchange::Binance(x) => x.api_restrictions().await,
        }
    }
    fn health(&self) -> ExchangeHealth {
        match self {
            AnyExchange::Sim(x) => x.health(),
            AnyExchange::Binance(x) => x.health(),
        }
    }
    fn start_health_window(&self) {
        match self {
            AnyExchange::Sim(x) => x.start_health_window(),
            AnyExchange::Binance(x) => x.start_health_window(),
        }
    }
}

/// Telegram when configured, otherwise the log.
pub enum AnyNotifier {
    Telegram(Box<TelegramNotifier>),
    Log(LogNotifier),
}

impl Notifier for AnyNotifier {
    async fn send(&self, text: &str) -> Result<(), PortError> {
        match self {
            AnyNotifier::Telegram(n) => n.send(text).await,
            AnyNotifier::Log(n) => n.send(text).await,
        }
    }
}

/// Suppressing (dry-run) or trading (paper, live).
pub enum AnyExecutor<'a> {
    Suppress(Suppress),
    Exchange(ExchangeExecutor<'a, AnyExchange>),
}

impl Executor for AnyExecutor<'_> {
    async fn perform(&mut self, intent: &Intent) -> Outcome {
        match self {
            AnyExecutor::Suppress(x) => x.perform(intent).await,
            AnyExecutor::Exchange(x) => x.perform(intent).await,
        }
    }
    async fn await_funds(&mut self, asset: &str, need: Decimal) -> Option<Decimal> {
        match self {
            AnyExecutor::Suppress(x) => x.await_funds(asset, need).await,
            AnyExecutor::Exchange(x) => x.await_funds(asset, need).await,
        }
    }
    fn take_warnings(&mut self) -> Vec<String> {
        match self {
            AnyExecutor::Suppress(x) => x.take_warnings(),
            AnyExecutor::Exchange(x) => x.take_warnings(),
        }
    }
}
