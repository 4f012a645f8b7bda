//! The fake Telegram Bot API's contract: what tradecycle's notifier (and
//! teloxide under it) relies on it to answer, the way api.telegram.org does.

use std::time::Duration;

use serde_json::{Value, json};
use tradecycle_fakes::telegram::{BOT_USERNAME, FakeTelegram};

const TOKEN: &str = "123456:fake-token-AAAA";
const CHAT: i64 = 4242;

async fn fake() -> FakeTelegram {
    let tg = FakeTelegram::start(TOKEN).await;
    tg.add_chat(CHAT);
    tg
}

async fn post_json(url: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new().post(url).json(&body).send().await.expect("request");
    (r.status().as_u16(), r.json().await.expect("JSON answer"))
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new().post(url).form(form).send().await.expect("request");
    (r.status().as_u16(), r.json().await.expect("JSON answer"))
}

fn method(tg: &FakeTelegram, token: &str, name: &str) -> String {
    format!("{}/bot{token}/{name}", tg.url())
}

#[tokio::test]
async fn methods_match_case_insensitively() {
    let tg = fake().await;
    for name in ["getMe", "GetMe", "getme"] {
        let (status, body) = post_json(&method(&tg, TOKEN, name), json!({})).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["result"]["username"], BOT_USERNAME);
    }
    for name in ["sendMessage", "SendMessage", "SENDMESSAGE"] {
        let (status, body) = post_json(&method(&tg, TOKEN, name), json!({"chat_id": CHAT, "text": name})).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    let texts: Vec<String> = tg.messages().into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["sendMessage", "SendMessage", "SENDMESSAGE"]);
    let (status, body) = post_json(&method(&tg, TOKEN, "getUpdatez"), json!({})).await;
    assert_eq!((status, body["description"].as_str()), (404, Some("Not Found")));
}

#[tokio::test]
async fn parameters_from_json_form_or_query() {
    let tg = fake().await;
    let url = method(&tg, TOKEN, "sendMessage");
    let (status, _) = post_json(&url, json!({"chat_id": CHAT, "text": "from json"})).await;
    assert_eq!(status, 200);
    // Form values are strings, chat id included (the reference program's way).
    let (status, _) = post_form(&url, &[("chat_id", "4242"), ("text", "from form\nline 2 & ü")]).await;
    assert_eq!(status, 200);
    let (status, _) = post_json(&url, json!({"chat_id": "4242", "text": "string chat id", "parse_mode": "HTML"})).await;
    assert_eq!(status, 200);
    let r = reqwest::Client::new()
        .get(&url)
        .query(&[("chat_id", "4242"), ("text", "from query")])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);

    let got: Vec<(i64, String, Option<String>)> =
        tg.messages().into_iter().map(|m| (m.chat_id, m.text, m.parse_mode)).collect();
    assert_eq!(
        got,
        [
            (CHAT, "from json".to_string(), None),
            (CHAT, "from form\nline 2 & ü".to_string(), None),
            (CHAT, "string chat id".to_string(), Some("HTML".to_string())),
            (CHAT, "from query".to_string(), None),
        ]
    );
    let ids: Vec<i64> = tg.messages().iter().map(|m| m.message_id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
}

#[tokio::test]
async fn send_message_answers_a_complete_message() {
    let tg = fake().await;
    let (status, body) = post_json(&method(&tg, TOKEN, "sendMessage"), json!({"chat_id": CHAT, "text": "hi"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], true);
    let m = &body["result"];
    assert_eq!(m["message_id"], 1);
    assert!(m["date"].as_u64().is_some_and(|d| d > 1_700_000_000), "{m}");
    assert_eq!(m["text"], "hi");
    assert_eq!(m["chat"], json!({"id": CHAT, "type": "private", "first_name": "Operator"}));
    assert_eq!(m["from"]["id"], 123456, "the bot id is the token's numeric part");
    assert_eq!(m["from"]["is_bot"], true);
    assert_eq!(m["from"]["username"], BOT_USERNAME);
    assert!(m["from"]["first_name"].is_string());

    // Group chats look like groups.
    tg.add_chat(-1001234567890);
    let (_, body) =
        post_json(&method(&tg, TOKEN, "sendMessage"), json!({"chat_id": -1001234567890_i64, "text": "g"})).await;
    assert_eq!(body["result"]["chat"]["type"], "supergroup");
    assert!(body["result"]["chat"]["title"].is_string());
}

#[tokio::test]
async fn get_me_answers_a_complete_user() {
    let tg = fake().await;
    let (status, body) = post_json(&method(&tg, TOKEN, "getMe"), json!({})).await;
    assert_eq!(status, 200);
    let me = &body["result"];
    for key in [
        "id",
        "is_bot",
        "first_name",
        "username",
        "can_join_groups",
        "can_read_all_group_messages",
        "supports_inline_queries",
        "can_connect_to_business",
        "has_main_web_app",
    ] {
        assert!(me.get(key).is_some(), "getMe lacks {key}: {me}");
    }
    assert_eq!(me["is_bot"], true);
}

#[tokio::test]
async fn wrong_token_is_401_unauthorized() {
    let tg = fake().await;
    let (status, body) =
        post_json(&method(&tg, "123456:wrong", "sendMessage"), json!({"chat_id": CHAT, "text": "x"})).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));
    assert!(tg.messages().is_empty());
}

#[tokio::test]
async fn unknown_chat_and_bad_texts_are_400() {
    let tg = fake().await;
    let url = method(&tg, TOKEN, "sendMessage");
    let (status, body) = post_json(&url, json!({"chat_id": 999, "text": "x"})).await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}));
    let (_, body) = post_json(&url, json!({"chat_id": CHAT, "text": "  "})).await;
    assert_eq!(body["description"], "Bad Request: message text is empty");
    // The limit is counted in UTF-16 units: 2049 emoji are 4098 units.
    let (_, body) = post_json(&url, json!({"chat_id": CHAT, "text": "🚨".repeat(2049)})).await;
    assert_eq!(body["description"], "Bad Request: message is too long");
    let (status, _) = post_json(&url, json!({"chat_id": CHAT, "text": "🚨".repeat(2048)})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn flood_control_answers_429_with_retry_after() {
    let tg = fake().await;
    tg.rate_limit(2, 7);
    let url = method(&tg, TOKEN, "sendMessage");
    for _ in 0..2 {
        let (status, body) = post_json(&url, json!({"chat_id": CHAT, "text": "x"})).await;
        assert_eq!(status, 429);
        assert_eq!(
            body,
            json!({
                "ok": false,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7}
            })
        );
    }
    let (status, _) = post_json(&url, json!({"chat_id": CHAT, "text": "x"})).await;
    assert_eq!(status, 200);
    let statuses: Vec<u16> = tg.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
    assert_eq!(tg.messages().len(), 1);
}

#[tokio::test]
async fn outage_delay_and_shutdown() {
    let mut tg = fake().await;
    let url = method(&tg, TOKEN, "sendMessage");
    tg.set_outage(true);
    let (status, body) = post_json(&url, json!({"chat_id": CHAT, "text": "x"})).await;
    assert_eq!((status, body["error_code"].as_u64()), (500, Some(500)));
    tg.set_outage(false);

    tg.set_delay(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let (status, _) = post_json(&url, json!({"chat_id": CHAT, "text": "slow"})).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    tg.set_delay(Duration::ZERO);

    tg.shutdown().await;
    let err = reqwest::Client::new().post(&url).json(&json!({})).send().await.expect_err("server is down");
    assert!(err.is_connect(), "{err:?}");
}
