//! A small GitHub REST client for the operations commands (`dispatch`,
//! `heartbeat`): the workflow-dispatch POST and JSON reads, with GitHub's
//! required headers, timeouts, and answers classified for the caller's retry
//! policy. The token is a [`Secret`] and is scrubbed from every error text.

#![allow(async_fn_in_trait)]

use std::time::Duration;

use serde_json::Value;

use crate::secret::Secret;

/// Where the REST API lives unless `GITHUB_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version every request pins.
pub const API_VERSION: &str = "2022-11-28";

/// Longest response excerpt kept for logs and alerts, in bytes.
pub const RESPONSE_EXCERPT_BYTES: usize = 800;

/// What one HTTP exchange ended as.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The server answered (any status).
    Status {
        code: u16,
        /// At most [`RESPONSE_EXCERPT_BYTES`] of the body for error answers;
        /// the whole body for successful reads.
        body: String,
        /// `Retry-After` in seconds, when present and numeric.
        retry_after: Option<f64>,
    },
    /// No answer: connection refused, DNS, TLS, timeout, broken body.
    Network(String),
}

/// Waits between attempts; tests substitute one that records the delays.
pub trait Pause {
    async fn pause(&self, delay: Duration);
}

/// The real wait.
pub struct TokioPause;

impl Pause for TokioPause {
    async fn pause(&self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }
}

pub struct GitHubClient {
    base: String,
    token: Secret,
    http: reqwest::Client,
}

impl GitHubClient {
    /// `base` is the API root (`https://api.github.com`, or a fake's URL).
    pub fn new(
        base: &str,
        token: Secret,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<GitHubClient, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .user_agent(concat!("tradecycle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(GitHubClient { base: base.trim_end_matches('/').to_string(), token, http })
    }

    /// `POST /repos/{repo}/actions/workflows/{workflow}/dispatches`.
    pub async fn dispatch(&self, repo: &str, workflow: &str, body: &Value) -> Answer {
        let url = format!("{}/repos/{repo}/actions/workflows/{workflow}/dispatches", self.base);
        self.send(self.http.post(url).json(body)).await
    }

    /// `GET {path}?{query}`; `path` starts with `/`.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Answer {
        let url = format!("{}{path}", self.base);
        self.send(self.http.get(url).query(query)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let request = request
            .bearer_auth(self.token.expose())
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Answer::Network(self.token.redact(&error_chain(&e))),
        };
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite());
        match response.text().await {
            Ok(text) => {
                let body = if (200..300).contains(&code) { text } else { excerpt(&text, RESPONSE_EXCERPT_BYTES) };
                Answer::Status { code, body: self.token.redact(&body), retry_after }
            }
            Err(e) => Answer::Network(self.token.redact(&format!("HTTP {code}, body unreadable: {}", error_chain(&e)))),
        }
    }
}

/// The error and its sources on one line (reqwest's top-level text alone
/// hides whether it was a refusal or a timeout).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The first `max` bytes of `text`, cut back to a character boundary.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// `owner/name` made of GitHub's allowed characters: it goes into a URL path.
pub fn valid_repo(repo: &str) -> bool {
    let mut parts = repo.split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(o), Some(n), None) if valid_segment(o) && valid_segment(n))
}

/// A workflow file name (`cycle.yml`) or numeric id: one URL path segment.
pub fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_on_a_char_boundary() {
        assert_eq!(excerpt("abc", 800), "abc");
        assert_eq!(excerpt("ab€", 3), "ab");
        assert_eq!(excerpt("ab€", 5), "ab€");
        assert_eq!(excerpt(&"x".repeat(900), 800).len(), 800);
    }

    #[test]
    fn repo_and_workflow_names() {
        assert!(valid_repo("owner/name"));
        assert!(valid_repo("Owner-1/my.repo_2"));
        assert!(!valid_repo("owner"));
        assert!(!valid_repo("owner/name/x"));
        assert!(!valid_repo("owner/../x"));
        assert!(!valid_repo("owner/na me"));
        assert!(valid_segment("cycle.yml"));
        assert!(valid_segment("123456"));
        assert!(!valid_segment("../cycle.yml"));
        assert!(!valid_segment(""));
    }
}
