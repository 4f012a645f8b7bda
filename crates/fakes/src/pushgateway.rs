//! A fake Prometheus Pushgateway on 127.0.0.1 for `run --pushgateway`:
//! keeps every request (method, raw path — percent-escapes as sent —,
//! content type, body) and answers each with the status set (200, as the
//! real one answers an accepted push, unless told otherwise).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::serve::Served;

/// One push the fake saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub method: String,
    /// The path as sent, escapes kept (`/metrics/job/tradecycle/service/a%20b`).
    pub path: String,
    pub content_type: Option<String>,
    pub body: String,
}

struct Shared {
    pushes: Vec<Push>,
    status: u16,
}

/// The fake and the runtime it serves on: it runs beside a test that
/// blocks on the `tradecycle` process (fields drop in order: the server
/// stops before its runtime).
pub struct FakePushgateway {
    shared: Arc<Mutex<Shared>>,
    server: Served,
    _runtime: tokio::runtime::Runtime,
}

impl FakePushgateway {
    /// Starts the fake on a runtime of its own (call it from a test that is
    /// not async); every request answers 200.
    pub fn start_blocking() -> FakePushgateway {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the fake Pushgateway");
        let shared = Arc::new(Mutex::new(Shared { pushes: Vec::new(), status: 200 }));
        let server = runtime.block_on(Served::start(Router::new().fallback(handle).with_state(shared.clone())));
        FakePushgateway { shared, server, _runtime: runtime }
    }

    /// Base URL (`http://127.0.0.1:<port>`), what `--pushgateway` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Answers every later request with `status` (e.g. 400 for a body the
    /// real Pushgateway would refuse).
    pub fn answer_with(&self, status: u16) {
        self.lock().status = status;
    }

    /// Every request seen so far, in order.
    pub fn pushes(&self) -> Vec<Push> {
        self.lock().pushes.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

/// A poisoned lock only means another test thread panicked; the data is still usable.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

async fn handle(State(shared): State<Arc<Mutex<Shared>>>, request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let content_type =
        request.headers().get("content-type").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap_or_default();
    let mut shared = lock(&shared);
    shared.pushes.push(Push { method, path, content_type, body: String::from_utf8_lossy(&body).into_owned() });
    let status = StatusCode::from_u16(shared.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, if status.is_success() { String::new() } else { "push refused by the fake".to_string() }).into_response()
}
