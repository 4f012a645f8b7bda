//! A fake Telegram Bot API on 127.0.0.1: `getMe`, `getChat` and `sendMessage` answered
//! the way api.telegram.org answers them (complete `User` / `Message`
//! objects, because teloxide deserialises them), with the messages kept for
//! inspection and faults on command (429 flood control, outage, delay).
//!
//! Method names match case-insensitively: teloxide calls
//! `/bot<token>/SendMessage`, the reference program `/bot<token>/sendMessage`,
//! and Telegram accepts both. Parameters come from a JSON or form body or the
//! query string.

use crate::serve::Served;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

/// `username` of the fake bot (what `getMe` answers).
pub const BOT_USERNAME: &str = "tradecycle_fake_bot";

/// Display name of the fake bot.
pub const BOT_FIRST_NAME: &str = "tradecycle fake";

/// Telegram's limit on a message text, in UTF-16 code units.
pub const MAX_TEXT_UTF16: usize = 4096;

/// One message the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub message_id: i64,
    pub chat_id: i64,
    pub text: String,
    /// `parse_mode` as sent (`None` for plain text).
    pub parse_mode: Option<String>,
}

/// One request the fake saw, whatever it answered.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// The method name exactly as it appeared in the path (e.g. `SendMessage`).
    pub method: String,
    /// HTTP status the fake answered with.
    pub status: u16,
    pub at: Instant,
}

struct Shared {
    token: String,
    chats: BTreeSet<i64>,
    messages: Vec<SentMessage>,
    requests: Vec<SeenRequest>,
    next_message_id: i64,
    /// Requests still to be refused with 429, and the `retry_after` to quote.
    rate_limited: u32,
    retry_after: u32,
    outage: bool,
    delay: Duration,
}

pub struct FakeTelegram {
    shared: Arc<Mutex<Shared>>,
    server: Served,
}

impl FakeTelegram {
    /// Starts a fake that accepts `token` and knows no chat yet (see
    /// [`FakeTelegram::add_chat`]).
    pub async fn start(token: &str) -> FakeTelegram {
        let shared = Arc::new(Mutex::new(Shared {
            token: token.to_string(),
            chats: BTreeSet::new(),
            messages: Vec::new(),
            requests: Vec::new(),
            next_message_id: 1,
            rate_limited: 0,
            retry_after: 0,
            outage: false,
            delay: Duration::ZERO,
        }));
        let server = Served::start(Router::new().fallback(handle).with_state(shared.clone())).await;
        FakeTelegram { shared, server }
    }

    /// Base URL to give the client (`http://127.0.0.1:<port>`, no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Makes `chat_id` a chat the bot can write to; any other is "chat not found".
    pub fn add_chat(&self, chat_id: i64) {
        self.lock().chats.insert(chat_id);
    }

    /// Messages accepted so far, in order.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.lock().messages.clone()
    }

    /// Every request seen so far, in order (including refused ones).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.lock().requests.clone()
    }

    /// The next `count` requests with a valid token are refused with 429
    /// and `parameters.retry_after = retry_after_secs`.
    pub fn rate_limit(&self, count: u32, retry_after_secs: u32) {
        let mut s = self.lock();
        s.rate_limited = count;
        s.retry_after = retry_after_secs;
    }

    /// While on, every request is answered 500 Internal Server Error.
    pub fn set_outage(&self, on: bool) {
        self.lock().outage = on;
    }

    /// Every answer is held back this long.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Stops the server: from now on connections are refused.
    pub async fn shutdown(&mut self) {
        self.server.shutdown().await;
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

/// A poisoned lock only means another test thread panicked; the data is still usable.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Telegram's error envelope.
fn error(status: StatusCode, description: &str, parameters: Option<Value>) -> (StatusCode, Value) {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (status, body)
}

fn ok(result: Value) -> (StatusCode, Value) {
    (StatusCode::OK, json!({"ok": true, "result": result}))
}

async fn handle(State(shared): State<Arc<Mutex<Shared>>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let method = path.rsplit('/').next().unwrap_or("").to_string();
    let delay = lock(&shared).delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let params = read_params(request).await;
    let (status, body) = answer(&shared, &path, &method, params);
    lock(&shared).requests.push(SeenRequest { method, status: status.as_u16(), at: Instant::now() });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The answer to one call, in the order Telegram checks things.
fn answer(
    shared: &Mutex<Shared>,
    path: &str,
    method: &str,
    params: Result<HashMap<String, Value>, String>,
) -> (StatusCode, Value) {
    let mut s = lock(shared);
    if s.outage {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None);
    }
    // Path: /bot<token>/<method>
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let token = parts.next().and_then(|p| p.strip_prefix("bot")).unwrap_or("");
    if parts.next().is_none() || token.is_empty() {
        return error(StatusCode::NOT_FOUND, "Not Found", None);
    }
    if token != s.token {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    if s.rate_limited > 0 {
        s.rate_limited -= 1;
        let after = s.retry_after;
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too Many Requests: retry after {after}"),
            Some(json!({"retry_after": after})),
        );
    }
    let params = match params {
        Ok(p) => p,
        Err(why) => return error(StatusCode::BAD_REQUEST, &format!("Bad Request: {why}"), None),
    };
    match method.to_ascii_lowercase().as_str() {
        "getme" => ok(me(&s.token)),
        "getchat" => get_chat(&s, &params),
        "sendmessage" => send_message(&mut s, &params),
        _ => error(StatusCode::NOT_FOUND, "Not Found", None),
    }
}

/// The known chat named by `chat_id`, or Telegram's error for it.
fn known_chat(s: &Shared, params: &HashMap<String, Value>) -> Result<i64, (StatusCode, Value)> {
    let chat_id = match params.get("chat_id") {
        None | Some(Value::Null) => return Err(error(StatusCode::BAD_REQUEST, "Bad Request: chat_id is empty", None)),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(t)) => t.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    chat_id
        .filter(|c| s.chats.contains(c))
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None))
}

/// `getChat`: a complete `ChatFullInfo` (teloxide requires
/// `accepted_gift_types` and `max_reaction_count`) for a known chat.
fn get_chat(s: &Shared, params: &HashMap<String, Value>) -> (StatusCode, Value) {
    let chat_id = match known_chat(s, params) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let mut info = chat(chat_id);
    info["accent_color_id"] = json!(0);
    info["max_reaction_count"] = json!(11);
    info["accepted_gift_types"] = json!({
        "unlimited_gifts": false,
        "limited_gifts": false,
        "unique_gifts": false,
        "premium_subscription": false,
    });
    ok(info)
}

fn send_message(s: &mut Shared, params: &HashMap<String, Value>) -> (StatusCode, Value) {
    let chat_id = match known_chat(s, params) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let text = match params.get("text") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if text.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "Bad Request: message text is empty", None);
    }
    if text.encode_utf16().count() > MAX_TEXT_UTF16 {
        return error(StatusCode::BAD_REQUEST, "Bad Request: message is too long", None);
    }
    let parse_mode = params.get("parse_mode").and_then(Value::as_str).map(str::to_string);
    let message_id = s.next_message_id;
    s.next_message_id += 1;
    s.messages.push(SentMessage { message_id, chat_id, text: text.clone(), parse_mode });
    let date = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    ok(json!({
        "message_id": message_id,
        "from": bot_user(&s.token),
        "chat": chat(chat_id),
        "date": date,
        "text": text,
    }))
}

/// The bot's id is the numeric part of its token, as on Telegram.
fn bot_id(token: &str) -> i64 {
    token.split(':').next().and_then(|id| id.parse().ok()).unwrap_or(1_000_000)
}

fn bot_user(token: &str) -> Value {
    json!({"id": bot_id(token), "is_bot": true, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME})
}

/// `getMe`'s answer: the bot `User` plus the bot-only fields.
fn me(token: &str) -> Value {
    let mut user = bot_user(token);
    for (key, value) in [
        ("can_join_groups", true),
        ("can_read_all_group_messages", false),
        ("supports_inline_queries", false),
        ("can_connect_to_business", false),
        ("has_main_web_app", false),
    ] {
        user[key] = Value::Bool(value);
    }
    user
}

/// Positive ids are private chats; negative ones groups (-100… supergroups).
fn chat(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({"id": chat_id, "type": "private", "first_name": "Operator"})
    } else if chat_id <= -1_000_000_000_000 {
        json!({"id": chat_id, "type": "supergroup", "title": "tradecycle alerts"})
    } else {
        json!({"id": chat_id, "type": "group", "title": "tradecycle alerts"})
    }
}

/// Parameters from the query string, then the body (JSON or form), the body winning.
async fn read_params(request: Request) -> Result<HashMap<String, Value>, String> {
    let mut params: HashMap<String, Value> = HashMap::new();
    if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(request.uri()) {
        params.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        let Json(body) =
            Json::<Value>::from_request(request, &()).await.map_err(|e| format!("can't parse JSON: {e}"))?;
        match body {
            Value::Object(map) => params.extend(map),
            Value::Null => {}
            _ => return Err("parameters must be a JSON object".into()),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let Form(body) = Form::<Vec<(String, String)>>::from_request(request, &())
            .await
            .map_err(|e| format!("can't parse form: {e}"))?;
        params.extend(body.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    Ok(params)
}
