//! Turns every way a Binance call can fail into an [`Outcome`] the caller
//! can act on, and from there into a [`PortError`]. Pure: the table of
//! codes and statuses lives here and is tested as a table.
//!
//! The line that matters most is "could this have executed?": for an order
//! or Earn POST, a 5xx, a timeout, a reset after sending, `-1006`/`-1007`,
//! an unknown server error or a 4xx without Binance's error body (a proxy
//! answering) means the outcome is unknown and the caller must
//! look the order up instead of sending it again (design.md §3.2). For a
//! read the same failures are merely worth retrying.

use std::time::Duration;

use serde::Deserialize;

use crate::ports::PortError;

/// What a failed attempt means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Refused and will be refused again (filters, funds, bad parameters).
    Rejected,
    /// A write that may or may not have taken effect.
    Unknown,
    /// Not executed, or a read: safe to try again.
    Transient,
    /// 429 or `-1003`: back off for `Retry-After`.
    RateLimited,
    /// 418: the IP is banned; any further request extends the ban.
    Banned,
    /// `-1021`: our timestamp is outside the recvWindow. Rejected before
    /// execution, so one resync and resend is safe even for orders.
    ClockSkew,
    /// Key, signature, IP whitelist or permission problem.
    Auth,
}

/// One failed attempt, already safe to print (no key, secret, signature or
/// signed URL in `detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub outcome: Outcome,
    /// Binance's error code, when the body carried one.
    pub code: Option<i64>,
    /// `METHOD /path: what happened`.
    pub detail: String,
    /// Seconds from `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn new(outcome: Outcome, detail: impl Into<String>) -> Self {
        Failure { outcome, code: None, detail: detail.into(), retry_after: None }
    }

    /// Whether a read may be sent again after a pause.
    pub fn retryable_read(&self) -> bool {
        matches!(self.outcome, Outcome::Transient | Outcome::RateLimited)
    }
}

impl From<Failure> for PortError {
    fn from(f: Failure) -> Self {
        match f.outcome {
            Outcome::Rejected => PortError::Definitive(f.detail),
            Outcome::Unknown => PortError::Ambiguous(f.detail),
            Outcome::Transient | Outcome::RateLimited | Outcome::Banned | Outcome::ClockSkew => {
                PortError::Retryable(f.detail)
            }
            Outcome::Auth => PortError::Auth(f.detail),
        }
    }
}

/// Binance's error body: `{"code": -2010, "msg": "..."}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: i64,
    #[serde(default)]
    msg: String,
}

/// Classifies a non-2xx HTTP answer. `write` is true for order and Earn
/// POSTs, whose unknown outcomes must not be retried blindly. `what` is
/// `METHOD /path`, `body` is already sanitised.
pub fn classify_response(write: bool, what: &str, status: u16, body: &str, retry_after: Option<Duration>) -> Failure {
    let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
    let code = parsed.as_ref().map(|b| b.code);
    let detail = match &parsed {
        Some(b) => format!("{what}: HTTP {status}, Binance code {}: {}", b.code, b.msg),
        None if body.trim().is_empty() => format!("{what}: HTTP {status}"),
        None => format!("{what}: HTTP {status}: {}", truncate(body.trim(), 200)),
    };
    let unknown = if write { Outcome::Unknown } else { Outcome::Transient };
    let outcome = match (status, code) {
        (418, _) => Outcome::Banned,
        (429, _) | (_, Some(-1003)) => Outcome::RateLimited,
        (_, Some(-1021)) => Outcome::ClockSkew,
        (_, Some(-2014 | -2015 | -1022 | -1002)) | (401, _) => Outcome::Auth,
        // "Execution status unknown" (-1006, -1007) and the catch-all
        // internal errors (-1000, -1001): the request may have run.
        (_, Some(-1000 | -1001 | -1006 | -1007)) => unknown,
        (500..=599, _) => unknown,
        // Server busy, too many orders, Simple Earn's one move per 3 s
        // (-6009): refused before execution.
        (_, Some(-1008 | -1015 | -6009)) => Outcome::Transient,
        // A WAF block without a Binance body: nothing reached the engine.
        (403, None) => Outcome::Transient,
        // Any other 4xx to a write without Binance's error body came from
        // something in between (a proxy, a gateway) and proves nothing
        // about the order: look it up rather than book a refusal.
        (400..=499, None) if write => Outcome::Unknown,
        _ => Outcome::Rejected,
    };
    let detail = match (outcome, retry_after) {
        (Outcome::Banned | Outcome::RateLimited, Some(wait)) => format!("{detail} (retry after {} s)", wait.as_secs()),
        _ => detail,
    };
    Failure { outcome, code, detail, retry_after }
}

/// What a transport error means, from the flags reqwest exposes: a refused
/// connection sent nothing; a timeout or a reset after connecting may have
/// delivered the request.
pub fn classify_transport(write: bool, what: &str, timed_out: bool, connect_failed: bool, reason: &str) -> Failure {
    let (outcome, kind) = if timed_out {
        (if write { Outcome::Unknown } else { Outcome::Transient }, "timed out")
    } else if connect_failed {
        (Outcome::Transient, "could not connect")
    } else {
        (if write { Outcome::Unknown } else { Outcome::Transient }, "network error")
    };
    Failure::new(outcome, format!("{what}: {kind}: {reason}"))
}

/// The longest `Retry-After` taken literally. Longer waits (up to the
/// integer limit a broken proxy may send) are capped here, since no cycle
/// waits even this long and an `Instant` cannot hold `u64::MAX` seconds.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After` in seconds (Binance sends an integer), capped at
/// [`RETRY_AFTER_CAP`]; digits too many for a `u64` count as the cap.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let digits = value.map(str::trim).filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))?;
    let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP))
}

/// A used-weight header (`X-MBX-USED-WEIGHT-1M`, `X-SAPI-USED-IP-WEIGHT-1M`).
pub fn parse_weight(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse::<u64>().ok())
}

/// Makes text safe for an error message or a log line: removes the query
/// string (where the signature and parameters live) from every URL, masks
/// any `signature=` value and every given secret.
pub fn sanitize(text: &str, secrets: &[&str]) -> String {
    let mut out = strip_url_queries(text);
    out = mask_signatures(&out);
    for secret in secrets {
        if secret.len() >= 4 {
            out = out.replace(secret, "***");
        }
    }
    out
}

fn strip_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let end =
            url.find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ',')).unwrap_or(url.len());
        let full = &url[..end];
        out.push_str(full.split(['?', '#']).next().unwrap_or(full));
        rest = &url[end..];
    }
    out.push_str(rest);
    out
}

fn find_url(text: &str) -> Option<usize> {
    match (text.find("http://"), text.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn mask_signatures(text: &str) -> String {
    const KEY: &str = "signature=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len()]);
        let value = &rest[i + KEY.len()..];
        let end = value.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(value.len());
        if end > 0 {
            out.push_str("***");
        }
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: i64, msg: &str) -> String {
        format!(r#"{{"code":{code},"msg":"{msg}"}}"#)
    }

    #[test]
    fn classification_table() {
        use Outcome::*;
        // (write, status, code, expected)
        let table: &[(bool, u16, Option<i64>, Outcome)] = &[
            (true, 400, Some(-1013), Rejected),
            (true, 400, Some(-2010), Rejected),
            (true, 400, Some(-1111), Rejected),
            (true, 400, Some(-1102), Rejected),
            (true, 400, Some(-1121), Rejected),
            (false, 400, Some(-2013), Rejected),
            (true, 400, Some(-1100), Rejected),
            (true, 404, None, Unknown),
            (true, 400, None, Unknown),
            (true, 408, None, Unknown),
            (false, 404, None, Rejected),
            (true, 500, None, Unknown),
            (true, 502, None, Unknown),
            (true, 503, Some(-1001), Unknown),
            (true, 400, Some(-1006), Unknown),
            (true, 400, Some(-1007), Unknown),
            (true, 408, Some(-1007), Unknown),
            (true, 400, Some(-1000), Unknown),
            (false, 500, None, Transient),
            (false, 400, Some(-1007), Transient),
            (true, 429, Some(-1003), RateLimited),
            (false, 429, None, RateLimited),
            (false, 400, Some(-1003), RateLimited),
            (true, 418, Some(-1003), Banned),
            (false, 418, None, Banned),
            (true, 400, Some(-1021), ClockSkew),
            (false, 400, Some(-1021), ClockSkew),
            (true, 401, Some(-2015), Auth),
            (false, 400, Some(-2014), Auth),
            (false, 400, Some(-1022), Auth),
            (false, 401, None, Auth),
            (true, 400, Some(-1015), Transient),
            (true, 400, Some(-6009), Transient),
            (true, 400, Some(-1015), Transient),
            (false, 503, Some(-1008), Transient),
            (true, 403, None, Transient),
        ];
        for &(write, status, code, expected) in table {
            let text = code.map(|c| body(c, "message")).unwrap_or_default();
            let f = classify_response(write, "POST /api/v3/order", status, &text, None);
            assert_eq!(f.outcome, expected, "write={write} status={status} code={code:?}");
            assert_eq!(f.code, code);
        }
    }

    #[test]
    fn a_write_answered_4xx_without_binance_body_is_unknown() {
        let html = "<html><body><h1>400 Bad Request</h1></body></html>";
        let f = classify_response(true, "POST /api/v3/order", 400, html, None);
        assert_eq!((f.outcome, f.code), (Outcome::Unknown, None));
        assert_eq!(f.detail, format!("POST /api/v3/order: HTTP 400: {html}"));
        assert!(matches!(PortError::from(f), PortError::Ambiguous(_)));
        // JSON that is not Binance's error shape proves nothing either.
        let other = classify_response(true, "POST /sapi/v1/simple-earn/flexible/redeem", 400, r#"{"error":"x"}"#, None);
        assert_eq!(other.outcome, Outcome::Unknown);
    }

    #[test]
    fn message_carries_code_and_msg() {
        let f = classify_response(
            true,
            "POST /api/v3/order",
            400,
            &body(-2010, "Account has insufficient balance for requested action."),
            None,
        );
        assert_eq!(
            f.detail,
            "POST /api/v3/order: HTTP 400, Binance code -2010: Account has insufficient balance for requested action."
        );
        let e = PortError::from(f);
        assert!(matches!(e, PortError::Definitive(_)));
        assert!(e.to_string().contains("-2010"));
    }

    #[test]
    fn port_error_mapping() {
        let map = |o| PortError::from(Failure::new(o, "x"));
        assert!(matches!(map(Outcome::Rejected), PortError::Definitive(_)));
        assert!(matches!(map(Outcome::Unknown), PortError::Ambiguous(_)));
        assert!(matches!(map(Outcome::Transient), PortError::Retryable(_)));
        assert!(matches!(map(Outcome::RateLimited), PortError::Retryable(_)));
        assert!(matches!(map(Outcome::Banned), PortError::Retryable(_)));
        assert!(matches!(map(Outcome::ClockSkew), PortError::Retryable(_)));
        assert!(matches!(map(Outcome::Auth), PortError::Auth(_)));
    }

    #[test]
    fn transport_errors() {
        let w = |t, c| classify_transport(true, "POST /api/v3/order", t, c, "boom").outcome;
        let r = |t, c| classify_transport(false, "GET /api/v3/account", t, c, "boom").outcome;
        assert_eq!(w(true, false), Outcome::Unknown);
        assert_eq!(w(false, false), Outcome::Unknown, "reset after sending");
        assert_eq!(w(false, true), Outcome::Transient, "nothing was sent");
        assert_eq!(w(true, true), Outcome::Unknown, "a timeout wins: it may have been sent");
        assert_eq!(r(true, false), Outcome::Transient);
        assert_eq!(r(false, false), Outcome::Transient);
    }

    #[test]
    fn rate_limit_detail_names_the_wait() {
        let f = classify_response(
            false,
            "GET /api/v3/klines",
            429,
            &body(-1003, "Too much request weight used"),
            parse_retry_after(Some("7")),
        );
        assert_eq!(f.retry_after, Some(Duration::from_secs(7)));
        assert!(f.detail.ends_with("(retry after 7 s)"), "{}", f.detail);
        assert!(f.retryable_read());
        let banned = classify_response(false, "GET /api/v3/klines", 418, "", parse_retry_after(Some("120")));
        assert!(!banned.retryable_read());
    }

    #[test]
    fn parses_headers() {
        assert_eq!(parse_weight(Some("1234")), Some(1234));
        assert_eq!(parse_weight(Some(" 7 ")), Some(7));
        assert_eq!(parse_weight(Some("x")), None);
        assert_eq!(parse_weight(None), None);
        assert_eq!(parse_retry_after(Some("30")), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(Some("18446744073709551615")), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after(Some("99999999999999999999999")), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after(Some("-5")), None);
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }

    #[test]
    fn sanitize_strips_queries_signatures_and_secrets() {
        let text = "error sending request for url (http://127.0.0.1:9/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=abcdef0123): \
                    key MYAPIKEY123 secret S3CRETVALUE, signature=deadbeef";
        let clean = sanitize(text, &["MYAPIKEY123", "S3CRETVALUE"]);
        assert_eq!(
            clean,
            "error sending request for url (http://127.0.0.1:9/api/v3/order): key *** secret ***, signature=***"
        );
        assert_eq!(sanitize("plain", &["abc"]), "plain", "short secrets are not masked");
        assert_eq!(sanitize("see https://x.y/a?b=c", &[]), "see https://x.y/a");
    }
}
