//! The persisted state document (Firestore `strategy/MULTI_ASSET_STATE` or the
//! local file store), its normalisation (behaviour.md §4.3) and accessors.
//!
//! Reading is lenient on purpose: a document written by the reference must
//! load unchanged, and a single odd value must not stop the cycle. Writing
//! uses the reference's key names and shapes plus our own keys
//! (`pending_orders`, `trading_paused`/`paused`, `daily_trend_sell_proceeds`,
//! `earn_in_transit`, `alerts`).

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::alerts::AlertBook;
use super::baseline::Baseline;
use super::client_order_id::ClientOrderId;
use super::intent::{IntentKind, Side};
use super::pause::{Pause, operator_pause_of};
use super::pool::{PoolResolution, SourceKind, Universe, infer_base_asset};

/// The BTC DCA record's key. BTC is the DCA core, never a trend position,
/// even when an upstream pool lists `BTCUSDT`: its key holds the DCA record.
const BTC_CORE_KEY: &str = "BTCUSDT";

/// Per-symbol trend state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendPosition {
    pub is_holding: bool,
    pub entry_price: f64,
    pub highest_price: f64,
}

impl TrendPosition {
    /// A position worth keeping track of after its symbol left the pool.
    pub fn is_active(&self) -> bool {
        self.is_holding || self.entry_price > 0.0 || self.highest_price > 0.0
    }

    pub fn holding(price: f64) -> Self {
        TrendPosition { is_holding: true, entry_price: price, highest_price: price }
    }
}

/// The last trend action on a symbol (duplicate-action guard, §4.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub action: String,
    /// `YYYYMMDD`.
    pub date: String,
}

/// `BTCUSDT` document entry; the reference never updated it, we maintain it
/// from DCA fills (design.md §3.10).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BtcHolding {
    pub holding_qty: f64,
    pub avg_cost: f64,
}

/// Trend-pool audit fields written before any trading (§3.7).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolMeta {
    pub source: String,
    pub source_detail: String,
    pub is_fresh: bool,
    pub degraded: bool,
    pub as_of_date: String,
    pub version: String,
    pub mode: String,
    pub source_project: String,
    pub loaded_at: String,
    pub messages: Vec<String>,
}

/// An order written ahead of sending it (design.md §3.2). It stays here
/// until its outcome is known; the next run reconciles whatever is left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub client_order_id: ClientOrderId,
    pub kind: IntentKind,
    pub symbol: String,
    pub side: Side,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_amount: Option<Decimal>,
    /// Reference price used for planning.
    pub price: Decimal,
    pub run_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// `pending` (written, maybe sent), `unresolved` (sent, outcome
    /// unknown) or `quarantined` (cannot be looked up; blocks new risk in
    /// its symbol only).
    pub status: String,
    /// Until when the run that wrote it held the lease (design.md §3.18):
    /// before then it may still be sending the order, so an entry the
    /// exchange does not know yet is kept, not dropped. Cleared when that
    /// run finished; absent in entries written before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    /// Why it was quarantined (set with status `quarantined`), for
    /// `tradecycle orders list` and the runbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_reason: Option<String>,
}

/// Ledger statuses.
pub const PENDING_QUARANTINED: &str = "quarantined";

/// A ledger entry that does not parse (e.g. after a hand edit): kept
/// byte for byte and written back unchanged, blocking new risk until
/// someone fixes it (design.md §3.2: the ledger fails closed).
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableEntry {
    pub raw: Value,
    pub error: String,
}

impl UnreadableEntry {
    /// What the operator reads: which key, what is wrong, how to fix it.
    pub fn advice(&self, id: &str) -> String {
        format!(
            "pending order entry pending_orders.{id} in the state document cannot be read ({}); \
             no new risk until it is fixed: correct it in the state document (Firestore \
             TRADECYCLE_STATE_DOCUMENT, or the --store file) to the ledger format (decimals as strings, \
             e.g. \"price\": \"3200\"), or delete it after checking on Binance what became of order {id}",
            self.error
        )
    }
}

/// A Simple Earn redeem that had not reached spot when a run last looked
/// (design.md §3.16). Its amount counts as still owned, so the next run's
/// external-flow check does not read money in transit as a withdrawal;
/// spot free growing past `spot_free_seen` is the credit arriving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarnInTransit {
    /// Still on its way to spot.
    pub amount: Decimal,
    /// Spot free of the asset when a run last looked (without this amount).
    pub spot_free_seen: Decimal,
    /// RFC 3339: when it was redeemed.
    pub since: String,
    /// A redeem written ahead and sent, whose answer the run that sent it
    /// never saw (it died in between): the next run counts what actually
    /// left Earn as in transit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<UnconfirmedRedeem>,
}

/// A redeem recorded before it was sent (design.md §3.16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnconfirmedRedeem {
    pub amount: Decimal,
    /// The Earn balance it was to leave from: what is missing from it at
    /// the next run is what the redeem moved.
    pub earn_before: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDoc {
    pub btc: BtcHolding,
    pub daily_equity_base: f64,
    /// Start-of-day trend value plus trend inflows and today's trend buy
    /// costs (sells no longer subtract; see `strategy::daily`).
    pub daily_trend_equity_base: f64,
    /// Net USDT proceeds of today's trend and breaker sells: the realised
    /// side of the trend sleeve's day (our key, reset with the day).
    pub daily_trend_sell_proceeds: f64,
    pub daily_trend_pnl_basis: String,
    pub last_reset_date: String,
    pub is_circuit_broken: bool,
    pub dca_last_buy_date: String,
    pub dca_last_sell_date: String,
    pub rotation_pool_last_month: String,
    pub rotation_pool_symbols: Vec<String>,
    pub rotation_pool_source_version: String,
    pub rotation_pool_source_as_of_date: String,
    pub last_btc_status_report_bucket: String,
    pub pool: PoolMeta,
    pub last_balance_snapshot: IndexMap<String, f64>,
    /// Kept as raw JSON: it is re-validated by the ladder when used.
    pub trend_pool_last_good_payload: Map<String, Value>,
    pub trend_action_history: IndexMap<String, ActionRecord>,
    /// Open positions whose symbol left the official pool, with base asset.
    pub retired: IndexMap<String, (TrendPosition, String)>,
    /// One entry per official-pool symbol, in pool order.
    pub positions: IndexMap<String, TrendPosition>,
    pub pending_orders: IndexMap<ClientOrderId, PendingOrder>,
    /// Ledger entries that do not parse, by key (written back unchanged).
    pub unreadable_pending: IndexMap<String, UnreadableEntry>,
    /// The operator's pause (`tradecycle pause`), kept under `paused` with
    /// `trading_paused` beside it for older binaries; an older document's
    /// `trading_paused: true` reads as one (see `pause.rs`).
    pub operator_pause: Option<Pause>,
    /// SEV-1 alerts `tradecycle resume` acknowledged: they do not pause new
    /// risk until they clear (written only while there are any).
    pub resumed_alerts: Vec<String>,
    /// Earn redeems still on their way to spot, by asset (written only
    /// while there are any).
    pub earn_in_transit: IndexMap<String, EarnInTransit>,
    /// Durable operator alerts by key (written only once there is one).
    pub alerts: AlertBook,
    /// What operators settled by hand (`tradecycle orders resolve`), oldest
    /// first, the last [`OPERATOR_ACTIONS_KEPT`] (written only once there is one).
    pub operator_actions: Vec<OperatorAction>,
    /// The rolling 7-day baseline of the account's cycles (written only
    /// once there is a sample; see `baseline.rs`).
    pub baseline: Baseline,
    /// Symbols whose holding is the operator's own (`tradecycle positions
    /// ignore`), by symbol (written only while there are any).
    pub ignored_positions: IndexMap<String, IgnoredPosition>,
    /// Cycles in a row whose pool was not the fresh upstream document
    /// (reset by a fresh one; written only while above 0): the
    /// `upstream_stale` alert fires at `UPSTREAM_STALE_ALERT_CYCLES`.
    pub upstream_non_fresh_cycles: u64,
}

/// How many operator actions the state document keeps.
pub const OPERATOR_ACTIONS_KEPT: usize = 100;

/// One thing an operator did to the state by hand: who, when, what, to
/// which ledger entry (and the entry as it was) or which position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorAction {
    pub at: DateTime<Utc>,
    pub by: String,
    /// `order_filled`, `order_not_placed`, `position_adopted`,
    /// `position_ignored` or `position_unignored`.
    pub action: String,
    /// The ledger entry's client id (empty for a position action).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_order_id: String,
    /// E.g. `filled 729.3 @ 2.4`, `not placed`, `SOLUSDT: state 0 -> 3 SOL @ 180`.
    pub detail: String,
    /// The ledger entry that was settled (none for a position action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<PendingOrder>,
}

/// A holding the operator declared their own (`tradecycle positions
/// ignore`): never traded, never compared with the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoredPosition {
    pub by: String,
    pub at: DateTime<Utc>,
}

fn as_f64(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Number(n)) => n.as_f64().filter(|f| f.is_finite()).unwrap_or(0.0),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).unwrap_or(0.0),
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

pub(crate) fn as_bool(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "y" | "on"),
        _ => false,
    }
}

fn as_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn as_string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// A map "looks like a trend state" if it has any of the three keys.
fn trend_state(v: &Value) -> Option<TrendPosition> {
    let m = v.as_object()?;
    if !["is_holding", "entry_price", "highest_price"].iter().any(|k| m.contains_key(*k)) {
        return None;
    }
    Some(TrendPosition {
        is_holding: as_bool(m.get("is_holding")),
        entry_price: as_f64(m.get("entry_price")),
        highest_price: as_f64(m.get("highest_price")),
    })
}

impl StateDoc {
    /// Normalises a raw document against the official universe (§4.3):
    /// known keys are read leniently, pool symbols get a state each
    /// (resuming a retired position if there is one), active positions of
    /// symbols outside the pool are kept as retired, unknown keys dropped.
    pub fn normalize(raw: &Value, official: &Universe) -> StateDoc {
        let empty = Map::new();
        let s = raw.as_object().unwrap_or(&empty);
        let get = |k: &str| s.get(k);
        let btc = get(BTC_CORE_KEY).and_then(Value::as_object);
        let mut doc = StateDoc {
            btc: BtcHolding {
                holding_qty: as_f64(btc.and_then(|m| m.get("holding_qty"))),
                avg_cost: as_f64(btc.and_then(|m| m.get("avg_cost"))),
            },
            daily_equity_base: as_f64(get("daily_equity_base")),
            daily_trend_equity_base: as_f64(get("daily_trend_equity_base")),
            daily_trend_sell_proceeds: as_f64(get("daily_trend_sell_proceeds")),
            daily_trend_pnl_basis: as_string(get("daily_trend_pnl_basis")),
            last_reset_date: as_string(get("last_reset_date")),
            is_circuit_broken: as_bool(get("is_circuit_broken")),
            dca_last_buy_date: as_string(get("dca_last_buy_date")),
            dca_last_sell_date: as_string(get("dca_last_sell_date")),
            rotation_pool_last_month: as_string(get("rotation_pool_last_month")),
            rotation_pool_symbols: as_string_list(get("rotation_pool_symbols")),
            rotation_pool_source_version: as_string(get("rotation_pool_source_version")),
            rotation_pool_source_as_of_date: as_string(get("rotation_pool_source_as_of_date")),
            last_btc_status_report_bucket: as_string(get("last_btc_status_report_bucket")),
            pool: PoolMeta {
                source: as_string(get("trend_pool_source")),
                source_detail: as_string(get("trend_pool_source_detail")),
                is_fresh: as_bool(get("trend_pool_is_fresh")),
                degraded: as_bool(get("trend_pool_degraded")),
                as_of_date: as_string(get("trend_pool_as_of_date")),
                version: as_string(get("trend_pool_version")),
                mode: as_string(get("trend_pool_mode")),
                source_project: as_string(get("trend_pool_source_project")),
                loaded_at: as_string(get("trend_pool_loaded_at")),
                messages: as_string_list(get("trend_pool_messages")),
            },
            last_balance_snapshot: get("last_balance_snapshot")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), as_f64(Some(v)))).collect())
                .unwrap_or_default(),
            trend_pool_last_good_payload: get("trend_pool_last_good_payload")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            trend_action_history: get("trend_action_history")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(sym, v)| {
                            let o = v.as_object()?;
                            Some((
                                sym.clone(),
                                ActionRecord { action: as_string(o.get("action")), date: as_string(o.get("date")) },
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            retired: IndexMap::new(),
            positions: IndexMap::new(),
            pending_orders: IndexMap::new(),
            unreadable_pending: IndexMap::new(),
            operator_pause: operator_pause_of(get("paused"), as_bool(get("trading_paused"))),
            resumed_alerts: get("resumed_alerts")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            alerts: AlertBook::from_json(get("alerts")),
            upstream_non_fresh_cycles: get("upstream_non_fresh_cycles").and_then(Value::as_u64).unwrap_or(0),
            operator_actions: get("operator_actions")
                .and_then(Value::as_array)
                .map(|items| items.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect())
                .unwrap_or_default(),
            baseline: Baseline::from_json(get("baseline")),
            ignored_positions: get("ignored_positions")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(symbol, v)| {
                            serde_json::from_value::<IgnoredPosition>(v.clone()).ok().map(|i| (symbol.clone(), i))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            earn_in_transit: get("earn_in_transit")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(asset, v)| {
                            serde_json::from_value::<EarnInTransit>(v.clone()).ok().map(|t| (asset.clone(), t))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };

        for (id, v) in get("pending_orders").and_then(Value::as_object).unwrap_or(&empty) {
            // The key is the id the entry is looked up and removed by: it
            // must be a valid one like the entry's own.
            let key = ClientOrderId::try_from(id.as_str()).map_err(|e| e.to_string());
            match key.and_then(|key| {
                serde_json::from_value::<PendingOrder>(v.clone()).map(|p| (key, p)).map_err(|e| e.to_string())
            }) {
                Ok((key, p)) => {
                    doc.pending_orders.insert(key, p);
                }
                Err(e) => {
                    doc.unreadable_pending.insert(id.clone(), UnreadableEntry { raw: v.clone(), error: e });
                }
            }
        }

        let raw_retired = get("retired_trend_positions").and_then(Value::as_object).unwrap_or(&empty);
        for symbol in official.keys().filter(|s| *s != BTC_CORE_KEY) {
            // A symbol re-entering the pool resumes its retired position;
            // the top-level entry, if any, wins field by field (§4.3 step 3).
            let mut pos = raw_retired.get(symbol).and_then(trend_state).unwrap_or_default();
            if let Some(top) = get(symbol)
                && let Some(t) = top.as_object().filter(|_| trend_state(top).is_some())
            {
                if t.contains_key("is_holding") {
                    pos.is_holding = as_bool(t.get("is_holding"));
                }
                if t.contains_key("entry_price") {
                    pos.entry_price = as_f64(t.get("entry_price"));
                }
                if t.contains_key("highest_price") {
                    pos.highest_price = as_f64(t.get("highest_price"));
                }
            }
            doc.positions.insert(symbol.clone(), pos);
        }
        for (symbol, v) in raw_retired {
            if official.contains_key(symbol) || symbol == BTC_CORE_KEY {
                continue;
            }
            if let Some(pos) = trend_state(v).filter(TrendPosition::is_active) {
                let base = v
                    .get("base_asset")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|b| !b.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| infer_base_asset(symbol));
                doc.retired.insert(symbol.clone(), (pos, base));
            }
        }
        // Top-level positions of symbols that left the pool (§4.3 step 5).
        for (key, v) in s {
            if !key.ends_with("USDT")
                || key == BTC_CORE_KEY
                || official.contains_key(key)
                || doc.retired.contains_key(key)
            {
                continue;
            }
            if let Some(pos) = trend_state(v).filter(TrendPosition::is_active) {
                doc.retired.insert(key.clone(), (pos, infer_base_asset(key)));
            }
        }
        doc
    }

    /// Serialises in the reference's layout (§4.2) plus our keys.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert(BTC_CORE_KEY.into(), json!({"holding_qty": self.btc.holding_qty, "avg_cost": self.btc.avg_cost}));
        m.insert("daily_equity_base".into(), json!(self.daily_equity_base));
        m.insert("daily_trend_equity_base".into(), json!(self.daily_trend_equity_base));
        m.insert("daily_trend_sell_proceeds".into(), json!(self.daily_trend_sell_proceeds));
        m.insert("daily_trend_pnl_basis".into(), json!(self.daily_trend_pnl_basis));
        m.insert("last_reset_date".into(), json!(self.last_reset_date));
        m.insert("is_circuit_broken".into(), json!(self.is_circuit_broken));
        m.insert("dca_last_buy_date".into(), json!(self.dca_last_buy_date));
        m.insert("dca_last_sell_date".into(), json!(self.dca_last_sell_date));
        m.insert("rotation_pool_last_month".into(), json!(self.rotation_pool_last_month));
        m.insert("rotation_pool_symbols".into(), json!(self.rotation_pool_symbols));
        m.insert("rotation_pool_source_version".into(), json!(self.rotation_pool_source_version));
        m.insert("rotation_pool_source_as_of_date".into(), json!(self.rotation_pool_source_as_of_date));
        m.insert("last_btc_status_report_bucket".into(), json!(self.last_btc_status_report_bucket));
        let p = &self.pool;
        m.insert("trend_pool_source".into(), json!(p.source));
        m.insert("trend_pool_source_detail".into(), json!(p.source_detail));
        m.insert("trend_pool_is_fresh".into(), json!(p.is_fresh));
        m.insert("trend_pool_degraded".into(), json!(p.degraded));
        m.insert("trend_pool_as_of_date".into(), json!(p.as_of_date));
        m.insert("trend_pool_version".into(), json!(p.version));
        m.insert("trend_pool_mode".into(), json!(p.mode));
        m.insert("trend_pool_source_project".into(), json!(p.source_project));
        m.insert("trend_pool_loaded_at".into(), json!(p.loaded_at));
        m.insert("trend_pool_messages".into(), json!(p.messages));
        m.insert("last_balance_snapshot".into(), json!(self.last_balance_snapshot));
        m.insert("trend_pool_last_good_payload".into(), Value::Object(self.trend_pool_last_good_payload.clone()));
        m.insert("trend_action_history".into(), json!(self.trend_action_history));
        let retired: Map<String, Value> = self
            .retired
            .iter()
            .map(|(sym, (pos, base))| {
                (
                    sym.clone(),
                    json!({"is_holding": pos.is_holding, "entry_price": pos.entry_price,
                           "highest_price": pos.highest_price, "base_asset": base}),
                )
            })
            .collect();
        m.insert("retired_trend_positions".into(), Value::Object(retired));
        for (sym, pos) in self.positions.iter().filter(|(s, _)| *s != BTC_CORE_KEY) {
            m.insert(sym.clone(), json!(pos));
        }
        let mut pending = match json!(self.pending_orders) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        for (id, entry) in &self.unreadable_pending {
            pending.entry(id.clone()).or_insert_with(|| entry.raw.clone());
        }
        m.insert("pending_orders".into(), Value::Object(pending));
        m.insert("trading_paused".into(), json!(self.operator_pause.is_some()));
        if let Some(p) = &self.operator_pause {
            m.insert("paused".into(), json!(p));
        }
        if !self.resumed_alerts.is_empty() {
            m.insert("resumed_alerts".into(), json!(self.resumed_alerts));
        }
        if !self.earn_in_transit.is_empty() {
            m.insert("earn_in_transit".into(), json!(self.earn_in_transit));
        }
        if !self.alerts.is_empty() {
            m.insert("alerts".into(), json!(self.alerts));
        }
        if !self.operator_actions.is_empty() {
            m.insert("operator_actions".into(), json!(self.operator_actions));
        }
        if !self.baseline.is_empty() {
            m.insert("baseline".into(), json!(self.baseline));
        }
        if !self.ignored_positions.is_empty() {
            m.insert("ignored_positions".into(), json!(self.ignored_positions));
        }
        if self.upstream_non_fresh_cycles > 0 {
            m.insert("upstream_non_fresh_cycles".into(), json!(self.upstream_non_fresh_cycles));
        }
        Value::Object(m)
    }

    /// §4.4 get: pool symbols from the top level, others from retired.
    pub fn position(&self, symbol: &str) -> TrendPosition {
        self.positions.get(symbol).copied().or_else(|| self.retired.get(symbol).map(|(p, _)| *p)).unwrap_or_default()
    }

    /// §4.4 set: pool symbols at the top level; a retired symbol keeps its
    /// entry only while the position is active. `BTCUSDT` is the DCA core
    /// and never gets a trend position.
    pub fn set_position(&mut self, symbol: &str, pos: TrendPosition) {
        if symbol == BTC_CORE_KEY {
            return;
        }
        if let Some(slot) = self.positions.get_mut(symbol) {
            *slot = pos;
            self.retired.shift_remove(symbol);
        } else if pos.is_active() {
            let base = self.retired.get(symbol).map(|(_, b)| b.clone()).unwrap_or_else(|| infer_base_asset(symbol));
            self.retired.insert(symbol.to_string(), (pos, base));
        } else {
            self.retired.shift_remove(symbol);
        }
    }

    /// §4.5: the official pool followed by retired symbols (flagged by the
    /// caller where needed), each with its base asset.
    pub fn runtime_universe(&self, official: &Universe) -> Universe {
        let mut u = official.clone();
        u.shift_remove(BTC_CORE_KEY);
        for (sym, (_, base)) in &self.retired {
            u.entry(sym.clone()).or_insert_with(|| base.clone());
        }
        u
    }

    /// Records how the pool was resolved (§3.7); only a fresh upstream
    /// payload becomes the new last-known-good.
    pub fn record_pool(&mut self, r: &PoolResolution) {
        let p = &r.payload;
        self.pool = PoolMeta {
            source: r.source_kind.as_str().to_string(),
            source_detail: r.source_label.clone(),
            is_fresh: r.is_fresh,
            degraded: r.degraded(),
            as_of_date: p.as_of_date.clone(),
            version: p.version.clone(),
            mode: p.mode.clone(),
            source_project: p.source_project.clone(),
            loaded_at: r.loaded_at.to_rfc3339(),
            messages: r.messages.clone(),
        };
        self.upstream_non_fresh_cycles =
            if r.source_kind == SourceKind::FreshUpstream { 0 } else { self.upstream_non_fresh_cycles + 1 };
        if r.source_kind == SourceKind::FreshUpstream
            && let Value::Object(m) = p.to_value()
        {
            self.trend_pool_last_good_payload = m;
        }
    }

    /// Duplicate-action guard (§4.7).
    pub fn acted_today(&self, symbol: &str, action: &str, today_id: &str) -> bool {
        self.trend_action_history.get(symbol).is_some_and(|r| r.action == action && r.date == today_id)
    }

    pub fn record_action(&mut self, symbol: &str, action: &str, today_id: &str) {
        self.trend_action_history
            .insert(symbol.to_string(), ActionRecord { action: action.to_string(), date: today_id.to_string() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn universe(symbols: &[&str]) -> Universe {
        symbols.iter().map(|s| (s.to_string(), infer_base_asset(s))).collect()
    }

    /// The reference's own state document, vendored under
    /// `fixtures/reference/` (see its NOTICE).
    fn reference_fixture_state() -> Value {
        let text =
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/reference/initial_state_snapshot.json"));
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn reference_document_loads_unchanged() {
        let raw = reference_fixture_state();
        let u = universe(&["ETHUSDT", "SOLUSDT", "XRPUSDT", "LTCUSDT", "BCHUSDT"]);
        let doc = StateDoc::normalize(&raw, &u);
        assert_eq!(doc.rotation_pool_last_month, "2026-03");
        assert_eq!(doc.rotation_pool_symbols, vec!["ETHUSDT", "SOLUSDT", "XRPUSDT", "LTCUSDT", "BCHUSDT"]);
        assert_eq!(doc.positions.len(), 5);
        assert!(doc.retired.is_empty());
        // Every reference key comes back with the same value.
        let out = doc.to_value();
        for (k, v) in raw.as_object().unwrap() {
            assert_eq!(out.get(k), Some(v), "key {k}");
        }
    }

    #[test]
    fn unknown_keys_are_dropped_and_defaults_filled() {
        let raw = json!({"garbage": 1, "daily_equity_base": "12.5", "is_circuit_broken": "true"});
        let doc = StateDoc::normalize(&raw, &universe(&["ETHUSDT"]));
        let out = doc.to_value();
        assert!(out.get("garbage").is_none());
        assert_eq!(out["daily_equity_base"], json!(12.5));
        assert_eq!(out["is_circuit_broken"], json!(true));
        assert_eq!(out["ETHUSDT"], json!({"is_holding": false, "entry_price": 0.0, "highest_price": 0.0}));
        assert_eq!(out["trend_pool_messages"], json!([]));
    }

    #[test]
    fn positions_outside_the_pool_become_retired_and_flat_ones_are_dropped() {
        let raw = json!({
            "DOGEUSDT": {"is_holding": true, "entry_price": 0.1, "highest_price": 0.12},
            "ADAUSDT": {"is_holding": false, "entry_price": 0.0, "highest_price": 0.0},
            "retired_trend_positions": {
                "AVAXUSDT": {"is_holding": true, "entry_price": 30.0, "highest_price": 31.0, "base_asset": "AVAX"},
                "ETHUSDT": {"is_holding": true, "entry_price": 2000.0, "highest_price": 2100.0, "base_asset": "ETH"},
                "TRXUSDT": {"is_holding": false, "entry_price": 0.0, "highest_price": 0.0}
            }
        });
        let doc = StateDoc::normalize(&raw, &universe(&["ETHUSDT", "SOLUSDT"]));
        // ETH re-entered the pool: it resumes the retired position.
        assert_eq!(
            doc.positions["ETHUSDT"],
            TrendPosition { is_holding: true, entry_price: 2000.0, highest_price: 2100.0 }
        );
        assert_eq!(doc.retired.keys().collect::<Vec<_>>(), vec!["AVAXUSDT", "DOGEUSDT"]);
        assert_eq!(doc.retired["DOGEUSDT"].1, "DOGE");
        let ru = doc.runtime_universe(&universe(&["ETHUSDT", "SOLUSDT"]));
        assert_eq!(ru.keys().collect::<Vec<_>>(), vec!["ETHUSDT", "SOLUSDT", "AVAXUSDT", "DOGEUSDT"]);
    }

    #[test]
    fn btcusdt_in_the_pool_never_overwrites_the_dca_record() {
        let raw = json!({
            "BTCUSDT": {"holding_qty": 0.25, "avg_cost": 61000.0},
            "retired_trend_positions": {"BTCUSDT": {"is_holding": true, "entry_price": 5.0, "highest_price": 6.0}}
        });
        let pool = universe(&["BTCUSDT", "ETHUSDT"]);
        let mut doc = StateDoc::normalize(&raw, &pool);
        assert_eq!(doc.btc, BtcHolding { holding_qty: 0.25, avg_cost: 61000.0 });
        assert_eq!(doc.positions.keys().collect::<Vec<_>>(), vec!["ETHUSDT"]);
        assert!(doc.retired.is_empty());
        assert_eq!(doc.runtime_universe(&pool).keys().collect::<Vec<_>>(), vec!["ETHUSDT"]);
        doc.set_position("BTCUSDT", TrendPosition::holding(80000.0));
        assert!(!doc.position("BTCUSDT").is_holding);
        let out = doc.to_value();
        assert_eq!(out["BTCUSDT"], json!({"holding_qty": 0.25, "avg_cost": 61000.0}));
        assert_eq!(StateDoc::normalize(&out, &pool).btc, doc.btc);
    }

    #[test]
    fn top_level_entry_wins_over_retired_entry() {
        let raw = json!({
            "ETHUSDT": {"is_holding": false, "entry_price": 0.0, "highest_price": 0.0},
            "retired_trend_positions": {"ETHUSDT": {"is_holding": true, "entry_price": 5.0, "highest_price": 6.0}}
        });
        let doc = StateDoc::normalize(&raw, &universe(&["ETHUSDT"]));
        assert_eq!(doc.positions["ETHUSDT"], TrendPosition::default());
    }

    #[test]
    fn set_position_moves_between_top_level_and_retired() {
        let mut doc = StateDoc::normalize(&json!({}), &universe(&["ETHUSDT"]));
        doc.set_position("ETHUSDT", TrendPosition::holding(10.0));
        assert!(doc.position("ETHUSDT").is_holding);
        doc.set_position("DOGEUSDT", TrendPosition::holding(0.1));
        assert_eq!(doc.retired["DOGEUSDT"].1, "DOGE");
        doc.set_position("DOGEUSDT", TrendPosition::default());
        assert!(doc.retired.is_empty());
    }

    #[test]
    fn duplicate_guard_only_blocks_the_same_action_the_same_day() {
        let mut doc = StateDoc::default();
        assert!(!doc.acted_today("ETHUSDT", "buy", "20260315"));
        doc.record_action("ETHUSDT", "buy", "20260315");
        assert!(doc.acted_today("ETHUSDT", "buy", "20260315"));
        assert!(!doc.acted_today("ETHUSDT", "sell", "20260315"));
        assert!(!doc.acted_today("ETHUSDT", "buy", "20260316"));
    }

    #[test]
    fn pending_orders_round_trip_with_decimal_strings() {
        let mut doc = StateDoc::default();
        doc.pending_orders.insert(
            "tc-26031500-tb-ETHUSDT".parse().unwrap(),
            PendingOrder {
                client_order_id: "tc-26031500-tb-ETHUSDT".parse().unwrap(),
                kind: IntentKind::TrendBuy,
                symbol: "ETHUSDT".into(),
                side: Side::Buy,
                quantity: Some(Decimal::new(19, 2)),
                quote_amount: None,
                price: Decimal::new(2500, 0),
                run_id: "r1".into(),
                created_at: "2026-03-15T00:00:00Z".into(),
                status: "pending".into(),
                lease_until: None,
                quarantine_reason: None,
            },
        );
        let v = doc.to_value();
        assert_eq!(v["pending_orders"]["tc-26031500-tb-ETHUSDT"]["quantity"], json!("0.19"));
        let back = StateDoc::normalize(&v, &Universe::new());
        assert_eq!(back.pending_orders, doc.pending_orders);
    }

    #[test]
    fn an_unreadable_pending_entry_is_kept_byte_for_byte_next_to_readable_ones() {
        let good = json!({"client_order_id": "a", "kind": "trend_buy", "symbol": "ETHUSDT", "side": "BUY",
            "price": "3200", "run_id": "r", "created_at": "2026-03-15T00:00:00Z", "status": "pending"});
        let mut bad = good.clone();
        bad["price"] = json!(3200.5);
        bad["client_order_id"] = json!("b");
        let raw = json!({"pending_orders": {"a": good, "b": bad}});
        let doc = StateDoc::normalize(&raw, &Universe::new());
        assert_eq!(doc.pending_orders.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(doc.unreadable_pending["b"].raw, bad);
        let advice = doc.unreadable_pending["b"].advice("b");
        assert!(advice.starts_with("pending order entry pending_orders.b in the state document cannot be read ("));
        assert!(advice.contains("\"price\": \"3200\""), "{advice}");
        assert_eq!(doc.to_value()["pending_orders"], raw["pending_orders"]);
    }

    #[test]
    fn a_pending_entry_with_an_invalid_client_order_id_is_unreadable_and_names_it() {
        let entry = |id: &str| {
            json!({"client_order_id": id, "kind": "trend_buy", "symbol": "ETHUSDT", "side": "BUY",
                "price": "3200", "run_id": "r", "created_at": "2026-03-15T00:00:00Z", "status": "pending"})
        };
        let raw = json!({"pending_orders": {"bad key": entry("tc-1"), "tc-2": entry("bad id")}});
        let doc = StateDoc::normalize(&raw, &Universe::new());
        assert!(doc.pending_orders.is_empty());
        assert_eq!(
            doc.unreadable_pending["bad key"].error,
            "client order id \"bad key\" must be 1-36 characters of [A-Za-z0-9.:/_-]"
        );
        assert!(doc.unreadable_pending["tc-2"].error.contains("client order id \"bad id\""));
        assert_eq!(doc.to_value()["pending_orders"], raw["pending_orders"], "written back unchanged");
    }

    #[test]
    fn earn_in_transit_round_trips_and_is_written_only_while_there_is_some() {
        let mut doc = StateDoc::default();
        assert!(doc.to_value().get("earn_in_transit").is_none(), "the reference's layout stays as it was");
        doc.earn_in_transit.insert(
            "USDT".into(),
            EarnInTransit {
                amount: Decimal::new(743241, 2),
                spot_free_seen: Decimal::new(2856, 1),
                since: "2026-03-15T00:00:00Z".into(),
                unconfirmed: None,
            },
        );
        let v = doc.to_value();
        assert_eq!(
            v["earn_in_transit"],
            json!({"USDT": {"amount": "7432.41", "spot_free_seen": "285.6", "since": "2026-03-15T00:00:00Z"}})
        );
        assert_eq!(StateDoc::normalize(&v, &Universe::new()).earn_in_transit, doc.earn_in_transit);
    }

    #[test]
    fn alerts_are_read_entry_by_entry_and_written_only_once_there_is_one() {
        assert!(StateDoc::default().to_value().get("alerts").is_none(), "the reference's layout stays as it was");
        let good = json!({"severity": "SEV-2", "scope": "upstream pool", "reason": "r", "runbook": "Alerts",
                          "first_seen": "2026-03-15T00:00:00Z", "last_seen": "2026-03-15T01:00:00Z", "count": 2,
                          "state": "raised", "last_notified": "2026-03-15T00:00:00Z"});
        let raw = json!({"alerts": {"pool_degraded": good, "broken": {"severity": "SEV-9"}}});
        let doc = StateDoc::normalize(&raw, &Universe::new());
        assert_eq!(doc.alerts.0.keys().collect::<Vec<_>>(), ["pool_degraded"], "a hand-broken entry loses only itself");
        assert_eq!(doc.to_value()["alerts"], json!({"pool_degraded": good}));
    }

    #[test]
    fn non_object_documents_normalise_to_defaults() {
        for raw in [json!(null), json!([1, 2]), json!("x"), json!(3)] {
            let doc = StateDoc::normalize(&raw, &universe(&["ETHUSDT"]));
            assert_eq!(doc.positions.len(), 1);
            assert_eq!(doc.daily_equity_base, 0.0);
        }
    }
}
