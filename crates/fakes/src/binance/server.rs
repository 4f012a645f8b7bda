//! The HTTP side: the route table (paths, weights, security type), the
//! per-request pipeline (log → weigh → latency → fault → auth → handler →
//! after-execution fault), and a hand-rolled accept loop so a fault can
//! close one connection without answering.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use super::errors::ApiError;
use super::faults::{self, FaultKind};
use super::handlers::{Ctx, Handler, Reply, account, earn, market, orders};
use super::signing::{Params, SignedCheck, check_signed};
use super::state::{AttemptOutcome, OrderAttempt, RequestRecord, State};

pub type Shared = Arc<Mutex<State>>;

/// Locks the state; a panic elsewhere must not wedge the server.
pub fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One endpoint: Binance's request weight and security type.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub weight: u32,
    /// Counted in the SAPI IP-weight budget (`X-SAPI-USED-IP-WEIGHT-1M`).
    pub sapi: bool,
    /// TRADE / USER_DATA: needs the key, a signature and a fresh timestamp.
    pub signed: bool,
    handler: Handler,
}

const fn route(method: &'static str, path: &'static str, weight: u32, signed: bool, handler: Handler) -> Route {
    let sapi = path.as_bytes()[1] == b's';
    Route { method, path, weight, sapi, signed, handler }
}

pub const ORDER_PATH: &str = "/api/v3/order";
pub const MY_TRADES_PATH: &str = "/api/v3/myTrades";

/// A request's weight: its route's, except `myTrades` of a whole symbol
/// (without `orderId`), which costs 20.
fn weight_of(route: Option<&Route>, params: &Params) -> u32 {
    match route {
        Some(r) if r.path == MY_TRADES_PATH && params.get("orderId").is_none() => 20,
        Some(r) => r.weight,
        None => 0,
    }
}

/// Weights from rest-api.md and the Simple Earn / wallet pages.
pub static ROUTES: &[Route] = &[
    route("GET", "/api/v3/ping", 1, false, market::ping),
    route("GET", "/api/v3/time", 1, false, market::time),
    route("GET", "/api/v3/exchangeInfo", 20, false, market::exchange_info),
    route("GET", "/api/v3/avgPrice", 2, false, market::avg_price),
    route("GET", "/api/v3/klines", 2, false, market::klines),
    route("GET", "/api/v3/account", 20, true, account::account),
    route("POST", ORDER_PATH, 1, true, orders::new_order),
    route("GET", ORDER_PATH, 4, true, orders::query_order),
    route("GET", "/api/v3/allOrders", 20, true, orders::all_orders),
    // 5 with `orderId`; 20 without (see `weight_of`).
    route("GET", MY_TRADES_PATH, 5, true, orders::my_trades),
    route("GET", "/sapi/v1/simple-earn/flexible/list", 150, true, earn::list),
    route("GET", "/sapi/v1/simple-earn/flexible/position", 150, true, earn::position),
    route("POST", "/sapi/v1/simple-earn/flexible/subscribe", 1, true, earn::subscribe),
    route("POST", "/sapi/v1/simple-earn/flexible/redeem", 1, true, earn::redeem),
    route("GET", "/sapi/v1/account/apiRestrictions", 1, true, account::api_restrictions),
];

/// Closes the connection a request arrived on.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

/// Serves until `shutdown` turns true.
pub async fn serve(listener: std::net::TcpListener, shared: Shared, mut shutdown: watch::Receiver<bool>) {
    let Ok(listener) = TcpListener::from_std(listener) else { return };
    let app = Router::new().fallback(handle).with_state(shared);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let kill = Arc::new(Notify::new());
        let conn_kill = ConnKill(kill.clone());
        let app = app.clone();
        let service = tower::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(conn_kill.clone());
            app.clone().oneshot(req.map(Body::new))
        });
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            // Dropping the connection future closes the socket: that is how
            // a fault hangs up without answering.
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

fn weight_header(sapi: bool) -> &'static str {
    if sapi { "X-SAPI-USED-IP-WEIGHT-1M" } else { "X-MBX-USED-WEIGHT-1M" }
}

fn reply(status: u16, content_type: &str, body: String, headers: &[(&'static str, String)]) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(*name, v);
        }
    }
    resp
}

const JSON: &str = "application/json;charset=UTF-8";

fn error_reply(e: &ApiError, headers: &[(&'static str, String)]) -> Response<Body> {
    reply(e.status, JSON, e.body(), headers)
}

/// Logs one `POST /api/v3/order` whatever became of it.
fn record_attempt(st: &mut State, params: &Params, now: i64, outcome: AttemptOutcome, fault: &Option<FaultKind>) {
    let get = |k: &str| params.get(k).map(str::to_string);
    st.attempts.push(OrderAttempt {
        at_ms: now,
        symbol: get("symbol"),
        side: get("side"),
        quantity: get("quantity"),
        quote_order_qty: get("quoteOrderQty"),
        client_order_id: get("newClientOrderId"),
        outcome,
        fault: fault.clone(),
    });
}

async fn hang_up(kill: Option<ConnKill>) -> Response<Body> {
    match kill {
        Some(k) => {
            k.0.notify_one();
            std::future::pending().await
        }
        // Not reachable through `serve`; answer something rather than hang.
        None => reply(502, "text/plain", String::new(), &[]),
    }
}

async fn handle(AxumState(shared): AxumState<Shared>, req: Request) -> Response<Body> {
    let kill = req.extensions().get::<ConnKill>().cloned();
    let method = req.method().as_str().to_ascii_uppercase();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let key = req.headers().get("X-MBX-APIKEY").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    // The spot testnet has no /sapi routes at all.
    let testnet = lock(&shared).config.spot_testnet;
    let route = ROUTES.iter().find(|r| r.method == method && r.path == path && !(testnet && r.sapi));
    let sapi = route.is_some_and(|r| r.sapi);
    let is_order_post = method == "POST" && path == ORDER_PATH;
    let arrived = now_ms();

    // Log, weigh and pick the fault for this request.
    let parsed = Params::parse(&query, &body);
    let params = parsed.clone().unwrap_or_default();
    let (index, used, fault, latency) = {
        let mut st = lock(&shared);
        st.settle_due_credits();
        let fault = faults::take(&mut st.faults, &method, &path, &params);
        let weight = weight_of(route, &params);
        let used = if sapi {
            st.sapi_weight.add(arrived, 60_000, weight)
        } else {
            st.weight.add(arrived, 60_000, weight).saturating_add(st.config.weight_used_elsewhere)
        };
        st.requests.push(RequestRecord {
            at_ms: arrived,
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
            signed: route.is_some_and(|r| r.signed),
            weight,
            status: None,
            fault: fault.clone(),
        });
        (st.requests.len() - 1, used, fault, st.config.latency)
    };
    let mut headers = vec![(weight_header(sapi), used.to_string())];
    let finish = |status: Option<u16>| {
        if let Some(r) = lock(&shared).requests.get_mut(index) {
            r.status = status;
        }
    };
    let not_executed = || {
        if is_order_post {
            record_attempt(&mut lock(&shared), &params, arrived, AttemptOutcome::NotExecuted, &fault);
        }
    };

    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    // Faults that answer instead of the exchange.
    let early: Option<(ApiError, Option<u64>)> = match &fault {
        Some(FaultKind::Drop) => {
            not_executed();
            return hang_up(kill).await;
        }
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(*d).await;
            None
        }
        Some(FaultKind::RawReply { status, body }) => {
            not_executed();
            finish(Some(*status));
            return reply(*status, "text/html", body.clone(), &headers);
        }
        Some(FaultKind::Error(e)) => Some((e.clone(), None)),
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            let limit =
                if sapi { lock(&shared).config.sapi_ip_weight_limit } else { lock(&shared).config.weight_limit };
            Some((ApiError::too_much_weight(limit), Some(*retry_after_secs)))
        }
        Some(FaultKind::IpBanned { retry_after_secs }) => {
            let until = now_ms() + i64::try_from(*retry_after_secs).unwrap_or(0) * 1000;
            Some((ApiError::banned(until), Some(*retry_after_secs)))
        }
        Some(FaultKind::InvalidTimestamp) => Some((ApiError::outside_recv_window(), None)),
        _ => None,
    };
    if let Some((e, retry_after)) = early {
        not_executed();
        if let Some(secs) = retry_after {
            headers.push(("Retry-After", secs.to_string()));
        }
        finish(Some(e.status));
        return error_reply(&e, &headers);
    }
    let Some(route) = route else {
        finish(Some(404));
        return reply(404, "text/plain", String::new(), &headers);
    };

    // Execute under the lock, so a fault after this point cannot undo it.
    let result: Result<Reply, ApiError> = {
        let mut st = lock(&shared);
        let now = now_ms();
        st.settle_due_credits();
        let limit = if sapi { st.config.sapi_ip_weight_limit } else { st.config.weight_limit };
        let result = if used > limit {
            headers.push(("Retry-After", (60 - now.rem_euclid(60_000) / 1000).to_string()));
            Err(ApiError::too_much_weight(limit))
        } else {
            execute(&mut st, route, parsed, key.as_deref(), &query, &body, now, &fault)
        };
        if is_order_post {
            let outcome = match &result {
                Ok(r) => AttemptOutcome::Executed {
                    order_id: r.order_id.unwrap_or_default(),
                    status: r.body.get("status").and_then(|s| s.as_str()).unwrap_or("FILLED").to_string(),
                },
                Err(e) => AttemptOutcome::Rejected(e.clone()),
            };
            record_attempt(&mut st, &params, arrived, outcome, &fault);
        }
        if let (Ok(Reply { order_id: Some(id), .. }), Some(FaultKind::HideOrder { queries })) = (&result, &fault) {
            st.hidden_orders.insert(*id, *queries);
        }
        result
    };

    // Faults that strike after the exchange acted.
    match &fault {
        Some(FaultKind::ExecuteThenError(e)) => {
            finish(Some(e.status));
            return error_reply(e, &headers);
        }
        Some(FaultKind::ExecuteThenRawReply { status, body }) => {
            finish(Some(*status));
            return reply(*status, "text/html", body.clone(), &headers);
        }
        Some(FaultKind::ExecuteThenDrop) => return hang_up(kill).await,
        Some(FaultKind::ExecuteThenHang(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }
    match result {
        Ok(r) => {
            headers.extend(r.headers);
            finish(Some(200));
            reply(200, JSON, r.body.to_string(), &headers)
        }
        Err(e) => {
            finish(Some(e.status));
            error_reply(&e, &headers)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn execute(
    st: &mut State,
    route: &Route,
    parsed: Result<Params, ApiError>,
    key: Option<&str>,
    query: &str,
    body: &str,
    now: i64,
    fault: &Option<FaultKind>,
) -> Result<Reply, ApiError> {
    let params = parsed?;
    let server_ms = st.server_time(now);
    if route.signed {
        let check =
            SignedCheck { api_key: &st.config.api_key, api_secret: &st.config.api_secret, server_time_ms: server_ms };
        check_signed(&check, key, &params, query, body)?;
    }
    let redeem_delay = match fault {
        Some(FaultKind::DelayRedeemCredit(d)) => Some(*d),
        _ => None::<Duration>,
    };
    let cx = Ctx { params: &params, now_ms: now, server_ms, earn_ms: st.earn_now(), redeem_delay };
    (route.handler)(st, &cx)
}
