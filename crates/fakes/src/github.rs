//! A fake GitHub REST API on 127.0.0.1 for `tradecycle dispatch` and
//! `tradecycle heartbeat`: the `workflow_dispatch` endpoint answering from a
//! script (204, 503 then 204, 401, 404, 422, ...), the workflow-runs and
//! repository-runs listings answering from recorded run lists, and every
//! request kept for inspection (method, path, query, headers, body).
//!
//! A refused connection cannot be scripted on a listening socket, so
//! [`refused_url`] hands out the address of a port nobody listens on.

use crate::serve::Served;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// `204 No Content`: what GitHub answers to an accepted dispatch.
    pub fn no_content() -> Reply {
        Reply { status: 204, body: String::new(), headers: Vec::new() }
    }

    /// A GitHub-style error: `{"message": ..., "documentation_url": ...}`.
    pub fn error(status: u16, message: &str) -> Reply {
        let body = json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event",
            "status": status.to_string(),
        });
        Reply { status, body: body.to_string(), headers: vec![("content-type".into(), "application/json".into())] }
    }

    /// Any status with a raw body.
    pub fn raw(status: u16, body: &str) -> Reply {
        Reply { status, body: body.to_string(), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// One request the fake saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// The status the fake answered with.
    pub status: u16,
}

impl Received {
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

#[derive(Default)]
struct Shared {
    dispatch_script: VecDeque<Reply>,
    /// Answers served by the run listings before the recorded runs.
    runs_script: VecDeque<Reply>,
    /// Recorded runs per workflow file name (or id), newest first as GitHub lists them.
    workflow_runs: BTreeMap<String, Vec<Value>>,
    /// The repository-wide listing (`/actions/runs`); `None`: answer 404.
    repository_runs: Option<Vec<Value>>,
    requests: Vec<Received>,
    delay: Duration,
}

pub struct FakeGitHub {
    shared: Arc<Mutex<Shared>>,
    server: Served,
}

impl FakeGitHub {
    /// Starts the fake on 127.0.0.1 with an empty script: dispatches answer
    /// 204, run listings are empty.
    pub async fn start() -> FakeGitHub {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let server = Served::start(Router::new().fallback(handle).with_state(shared.clone())).await;
        FakeGitHub { shared, server }
    }

    /// Base URL (`http://127.0.0.1:<port>`, no trailing slash), the
    /// `GITHUB_API_URL` to give the client.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Answers for the next dispatches, in order; once used up, 204.
    pub fn script_dispatch(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().dispatch_script = replies.into_iter().collect();
    }

    /// Answers for the next run-listing requests (either listing), in
    /// order, before the recorded runs are served again.
    pub fn script_runs(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().runs_script = replies.into_iter().collect();
    }

    /// The runs `GET /repos/{o}/{r}/actions/workflows/{workflow}/runs` lists.
    pub fn set_workflow_runs(&self, workflow: &str, runs: Vec<Value>) {
        self.lock().workflow_runs.insert(workflow.to_string(), runs);
    }

    /// The runs `GET /repos/{o}/{r}/actions/runs` lists (every workflow's;
    /// clients filter by `path`). Unset, that endpoint answers 404.
    pub fn set_repository_runs(&self, runs: Vec<Value>) {
        self.lock().repository_runs = Some(runs);
    }

    /// Every answer is held back this long (timeouts).
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Every request seen so far, in order.
    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    /// The dispatch requests seen so far, in order.
    pub fn dispatches(&self) -> Vec<Received> {
        self.requests().into_iter().filter(|r| r.path.ends_with("/dispatches")).collect()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

/// A base URL on which every connection is refused: a port that was free a
/// moment ago and that nothing listens on now.
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{addr}")
}

/// Builds a run object shaped like GitHub's (`GET .../runs` items), with the
/// fields tradecycle reads; `conclusion` `None` is JSON null.
pub fn run(id: u64, status: &str, conclusion: Option<&str>, created_at: &str) -> Value {
    json!({
        "id": id,
        "name": "cycle",
        "head_branch": "main",
        "path": ".github/workflows/cycle.yml",
        "run_number": id,
        "run_attempt": 1,
        "event": "workflow_dispatch",
        "status": status,
        "conclusion": conclusion,
        "created_at": created_at,
        "updated_at": created_at,
        "html_url": format!("https://github.com/owner/repo/actions/runs/{id}"),
    })
}

/// A poisoned lock only means another test thread panicked; the data is still usable.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

async fn handle(State(shared): State<Arc<Mutex<Shared>>>, request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query: BTreeMap<String, String> = request
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    let headers: BTreeMap<String, String> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap_or_default();
    let delay = lock(&shared).delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let reply = answer(&shared, &method, &path, &query);
    lock(&shared).requests.push(Received {
        method,
        path,
        query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: reply.status,
    });
    into_response(reply)
}

fn answer(shared: &Mutex<Shared>, method: &str, path: &str, query: &BTreeMap<String, String>) -> Reply {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut s = lock(shared);
    match (method, segments.as_slice()) {
        ("POST", ["repos", _, _, "actions", "workflows", _, "dispatches"]) => {
            s.dispatch_script.pop_front().unwrap_or_else(Reply::no_content)
        }
        ("GET", ["repos", _, _, "actions", "workflows", workflow, "runs"]) => {
            if let Some(r) = s.runs_script.pop_front() {
                return r;
            }
            let runs = s.workflow_runs.get(*workflow).cloned();
            match runs {
                Some(runs) => listing(runs, query),
                None => Reply::error(404, "Not Found"),
            }
        }
        ("GET", ["repos", _, _, "actions", "runs"]) => {
            if let Some(r) = s.runs_script.pop_front() {
                return r;
            }
            match s.repository_runs.clone() {
                Some(runs) => listing(runs, query),
                None => Reply::error(404, "Not Found"),
            }
        }
        _ => Reply::error(404, "Not Found"),
    }
}

/// GitHub's listing envelope, honouring `branch` and `per_page`.
fn listing(runs: Vec<Value>, query: &BTreeMap<String, String>) -> Reply {
    let branch = query.get("branch").filter(|b| !b.is_empty());
    let per_page = query.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).min(100);
    let matching: Vec<Value> = runs
        .into_iter()
        .filter(|r| branch.is_none_or(|b| r.get("head_branch").and_then(Value::as_str) == Some(b.as_str())))
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching.into_iter().take(per_page).collect();
    let body = json!({"total_count": total, "workflow_runs": page});
    Reply { status: 200, body: body.to_string(), headers: vec![("content-type".into(), "application/json".into())] }
}

fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, reply.body).into_response();
    for (k, v) in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Percent-decoding of a query component (`+` is a space), enough for the
/// ASCII values the clients send.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
