//! The signed REST transport: one place that builds the query string, signs
//! it, keeps the server-time offset, bounds requests in flight, reads the
//! weight headers, retries reads and classifies failures.
//!
//! Retry policy (design.md §3.2, §4): reads (GET) are retried with doubling
//! backoff, honouring `Retry-After`; writes (order and Earn POSTs) are sent
//! once. The one exception for both is `-1021`: the timestamp was refused
//! before execution, so the offset is measured again and the request is
//! re-signed and sent once more. A 418 ban stops every later request of
//! this client without sending it, since any request extends the ban.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::classify::{self, Failure, Outcome};
use super::query::{Query, sign};
use super::{BinanceConfig, RequestStats};
use crate::secret::Secret;

/// Binance's REQUEST_WEIGHT limit per minute and IP for `/api`.
pub const API_WEIGHT_LIMIT: u64 = 6000;
/// The per-IP weight limit per minute of `/sapi` endpoints.
pub const SAPI_WEIGHT_LIMIT: u64 = 12_000;
/// Share of a weight limit above which each new high is logged at warn.
const WEIGHT_WARN_SHARE: f64 = 0.8;
/// A read is not kept waiting longer than this for `Retry-After`; beyond it
/// the cycle is better off failing and trying next hour.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

pub struct Transport {
    http: reqwest::Client,
    base_url: String,
    api_key: Secret,
    api_secret: Secret,
    recv_window_ms: u64,
    read_retries: usize,
    retry_base: Duration,
    permits: Semaphore,
    /// Server-time offset, measured lazily; the lock also makes concurrent
    /// first signed calls wait for a single measurement.
    time: tokio::sync::Mutex<Option<TimeSync>>,
    /// Set by a 429 with `Retry-After`: no request leaves before this.
    paused_until: Mutex<Option<Instant>>,
    /// Set by a 418: the detail every later request fails with.
    banned: Mutex<Option<String>>,
    counters: Counters,
}

#[derive(Debug, Clone, Copy)]
struct TimeSync {
    offset_ms: i64,
    /// Bumped on every measurement, so that several requests refused with
    /// `-1021` at once trigger one resync, not one each.
    generation: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    time_syncs: AtomicU64,
    api_weight: AtomicU64,
    api_weight_max: AtomicU64,
    sapi_weight: AtomicU64,
    sapi_weight_max: AtomicU64,
    api_warned: AtomicBool,
    sapi_warned: AtomicBool,
}

/// A successful answer and when the attempt that produced it was sent and
/// answered (local milliseconds), for the server-time midpoint.
struct Answer {
    body: String,
    sent_ms: i64,
    received_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

impl Transport {
    pub fn new(config: BinanceConfig) -> Result<Self, String> {
        let base_url = config.base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(format!("Binance base URL must start with http:// or https://, got {base_url:?}"));
        }
        if config.max_in_flight == 0 {
            return Err("max_in_flight must be at least 1".into());
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("tradecycle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(Transport {
            http,
            base_url,
            api_key: config.api_key,
            api_secret: config.api_secret,
            recv_window_ms: config.recv_window_ms,
            read_retries: config.read_retries,
            retry_base: config.retry_base,
            permits: Semaphore::new(config.max_in_flight),
            time: tokio::sync::Mutex::new(None),
            paused_until: Mutex::new(None),
            banned: Mutex::new(None),
            counters: Counters::default(),
        })
    }

    pub fn stats(&self) -> RequestStats {
        let c = &self.counters;
        RequestStats {
            requests_sent: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            time_syncs: c.time_syncs.load(Ordering::Relaxed),
            used_weight_1m: c.api_weight.load(Ordering::Relaxed),
            max_used_weight_1m: c.api_weight_max.load(Ordering::Relaxed),
            sapi_used_ip_weight_1m: c.sapi_weight.load(Ordering::Relaxed),
            max_sapi_used_ip_weight_1m: c.sapi_weight_max.load(Ordering::Relaxed),
            // A measurement in progress holds the lock: report the last one
            // only when it is free (stats never wait).
            clock_offset_ms: self.time.try_lock().ok().and_then(|t| t.map(|s| s.offset_ms)),
        }
    }

    /// Forgets the highest used weights seen so far: a new run reports its own.
    pub fn reset_weight_maxima(&self) {
        self.counters.api_weight_max.store(0, Ordering::Relaxed);
        self.counters.sapi_weight_max.store(0, Ordering::Relaxed);
    }

    /// An unsigned GET (ping, time, exchangeInfo, avgPrice, klines).
    pub async fn public<T: DeserializeOwned>(&self, path: &str, query: &Query) -> Result<T, Failure> {
        self.unsigned(path, query).await.map(|(v, _)| v)
    }

    /// A signed GET (account, order query, Earn positions, ...).
    pub async fn signed_get<T: DeserializeOwned>(&self, path: &str, query: &Query) -> Result<T, Failure> {
        self.signed(Method::GET, path, query).await
    }

    /// A signed POST (order, Earn subscribe/redeem): sent once.
    pub async fn signed_post<T: DeserializeOwned>(&self, path: &str, query: &Query) -> Result<T, Failure> {
        self.signed(Method::POST, path, query).await
    }

    /// Measures the server clock against ours (server minus local, at the
    /// midpoint of the round trip), stores it as the signing offset and
    /// returns it.
    pub async fn resync_time(&self) -> Result<i64, Failure> {
        let mut guard = self.time.lock().await;
        let offset = self.measure_offset().await?;
        let generation = guard.map_or(0, |s| s.generation + 1);
        *guard = Some(TimeSync { offset_ms: offset, generation });
        Ok(offset)
    }

    async fn measure_offset(&self) -> Result<i64, Failure> {
        let (time, answer): (super::wire::ServerTime, Answer) = self.unsigned("/api/v3/time", &Query::new()).await?;
        self.counters.time_syncs.fetch_add(1, Ordering::Relaxed);
        let midpoint = answer.sent_ms + (answer.received_ms - answer.sent_ms) / 2;
        let offset = time.server_time - midpoint;
        tracing::debug!(offset_ms = offset, round_trip_ms = answer.received_ms - answer.sent_ms, "binance server time");
        Ok(offset)
    }

    /// The current offset, measuring it on first use.
    async fn offset(&self) -> Result<TimeSync, Failure> {
        let mut guard = self.time.lock().await;
        if let Some(sync) = *guard {
            return Ok(sync);
        }
        let sync = TimeSync { offset_ms: self.measure_offset().await?, generation: 0 };
        *guard = Some(sync);
        Ok(sync)
    }

    /// Measures again unless another request already did since `seen`.
    async fn resync_after(&self, seen: u64) -> Result<(), Failure> {
        let mut guard = self.time.lock().await;
        if guard.is_some_and(|s| s.generation != seen) {
            return Ok(());
        }
        let offset = self.measure_offset().await?;
        *guard = Some(TimeSync { offset_ms: offset, generation: seen + 1 });
        Ok(())
    }

    fn secrets(&self) -> [&str; 2] {
        [self.api_key.expose(), self.api_secret.expose()]
    }

    /// An unsigned GET with read retries; also returns the timing of the
    /// attempt that succeeded.
    async fn unsigned<T: DeserializeOwned>(&self, path: &str, query: &Query) -> Result<(T, Answer), Failure> {
        let what = format!("GET {path}");
        let wire_query = query.render();
        let mut retries = 0usize;
        loop {
            match self.attempt_decoded(&Method::GET, path, &what, || wire_query.clone(), false).await {
                Ok(done) => return Ok(done),
                Err(failure) => self.pause_before_retry(false, failure, &mut retries, &what).await?,
            }
        }
    }

    /// A signed request: re-signed with a fresh timestamp on every attempt,
    /// resent once after a `-1021` resync, and (reads only) retried.
    async fn signed<T: DeserializeOwned>(&self, method: Method, path: &str, query: &Query) -> Result<T, Failure> {
        let write = method != Method::GET;
        let what = format!("{method} {path}");
        if self.api_key.is_empty() || self.api_secret.is_empty() {
            return Err(Failure::new(
                Outcome::Auth,
                format!("{what}: BINANCE_API_KEY and BINANCE_API_SECRET must be set"),
            ));
        }
        let mut retries = 0usize;
        let mut resynced = false;
        loop {
            let sync = self
                .offset()
                .await
                .map_err(|f| Failure { detail: format!("{what}: not sent, no server time: {}", f.detail), ..f })?;
            // Signed only once a permit is held and any pause is over, so
            // the timestamp is fresh when it leaves.
            let sign_now = || self.signed_query(query, now_ms() + sync.offset_ms);
            let failure = match self.attempt_decoded::<T>(&method, path, &what, sign_now, true).await {
                Ok((value, _)) => return Ok(value),
                Err(f) => f,
            };
            if failure.outcome == Outcome::ClockSkew && !resynced {
                tracing::warn!(request = %what, "timestamp outside recvWindow (-1021); measuring server time again");
                resynced = true;
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                self.resync_after(sync.generation).await.map_err(|f| Failure {
                    detail: format!(
                        "{what}: refused with -1021, and the server time could not be read again: {}",
                        f.detail
                    ),
                    ..f
                })?;
                continue;
            }
            self.pause_before_retry(write, failure, &mut retries, &what).await?;
        }
    }

    /// Sleeps before the next attempt of a read, or hands the failure back
    /// when it must not be retried: a write, a final answer, retries used
    /// up, or a `Retry-After` longer than a cycle should wait.
    async fn pause_before_retry(
        &self,
        write: bool,
        failure: Failure,
        retries: &mut usize,
        what: &str,
    ) -> Result<(), Failure> {
        if write || !failure.retryable_read() || *retries >= self.read_retries {
            return Err(failure);
        }
        let wait = match failure.retry_after {
            Some(wait) if wait > MAX_RETRY_AFTER => return Err(failure),
            Some(wait) => wait,
            None => self.retry_base.saturating_mul(1u32 << (*retries).min(16)),
        };
        *retries += 1;
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(request = %what, retry = *retries, wait_ms = wait.as_millis() as u64, error = %failure.detail, "retrying read");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    async fn attempt_decoded<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        what: &str,
        wire_query: impl FnOnce() -> String,
        signed: bool,
    ) -> Result<(T, Answer), Failure> {
        let write = *method != Method::GET;
        let answer = self.attempt(method, path, what, wire_query, signed, write).await?;
        match serde_json::from_str::<T>(&answer.body) {
            Ok(value) => Ok((value, answer)),
            Err(e) => {
                // A 2xx to a write means it ran; only the details are lost.
                let outcome = if write { Outcome::Unknown } else { Outcome::Transient };
                let reason = classify::sanitize(&e.to_string(), &self.secrets());
                Err(Failure::new(outcome, format!("{what}: unexpected response: {reason}")))
            }
        }
    }

    fn signed_query(&self, query: &Query, timestamp: i64) -> String {
        let mut text = query.render();
        if !text.is_empty() {
            text.push('&');
        }
        text.push_str(&format!("recvWindow={}&timestamp={timestamp}", self.recv_window_ms));
        let signature = sign(self.api_secret.expose(), &text);
        text.push_str("&signature=");
        text.push_str(&signature);
        text
    }

    /// Waits out a rate-limit pause, or refuses to send at all during a ban
    /// or a pause longer than a cycle should wait.
    async fn gate(&self, what: &str) -> Result<(), Failure> {
        if let Some(detail) = self.banned.lock().ok().and_then(|b| b.clone()) {
            return Err(Failure::new(Outcome::Banned, format!("{what}: not sent, the IP is banned: {detail}")));
        }
        let pause = self.paused_until.lock().ok().and_then(|p| *p);
        if let Some(until) = pause {
            let left = until.saturating_duration_since(Instant::now());
            if left > MAX_RETRY_AFTER {
                let detail = format!("{what}: not sent, rate limited for another {} s", left.as_secs());
                return Err(Failure::new(Outcome::RateLimited, detail));
            }
            tokio::time::sleep(left).await;
        }
        Ok(())
    }

    /// One request on the wire. Never retries; returns the body of a 2xx.
    /// `wire_query` is called at the last moment, once a permit is held.
    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        what: &str,
        wire_query: impl FnOnce() -> String,
        signed: bool,
        write: bool,
    ) -> Result<Answer, Failure> {
        self.gate(what).await?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::new(Outcome::Transient, format!("{what}: client is shutting down")))?;
        // A pause may have started while this request queued for a permit.
        self.gate(what).await?;
        let wire_query = wire_query();
        let url = if wire_query.is_empty() {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}{path}?{wire_query}", self.base_url)
        };
        let mut request = self.http.request(method.clone(), url);
        if signed {
            request = request.header("X-MBX-APIKEY", self.api_key.expose());
        }
        let sent_ms = now_ms();
        let started = Instant::now();
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let (timed_out, connect_failed) = (e.is_timeout(), e.is_connect());
                let reason = classify::sanitize(&describe(e.without_url()), &self.secrets());
                let failure = classify::classify_transport(write, what, timed_out, connect_failed, &reason);
                tracing::debug!(request = %what, error = %failure.detail, "binance request failed");
                return Err(failure);
            }
        };
        let status = response.status().as_u16();
        self.track_weight(response.headers());
        let retry_after = classify::parse_retry_after(header(response.headers(), "retry-after"));
        let body = response.text().await;
        let received_ms = now_ms();
        tracing::debug!(request = %what, status, elapsed_ms = started.elapsed().as_millis() as u64, "binance response");
        let body = match body {
            Ok(text) => text,
            Err(e) if (200..300).contains(&status) => {
                let reason = classify::sanitize(&describe(e.without_url()), &self.secrets());
                let outcome = if write { Outcome::Unknown } else { Outcome::Transient };
                return Err(Failure::new(outcome, format!("{what}: HTTP {status} but the body was lost: {reason}")));
            }
            Err(_) => String::new(),
        };
        if (200..300).contains(&status) {
            return Ok(Answer { body, sent_ms, received_ms });
        }
        // Only error bodies end up in messages; a 2xx body is data and is
        // left exactly as received.
        let body = classify::sanitize(&body, &self.secrets());
        let failure = classify::classify_response(write, what, status, &body, retry_after);
        match failure.outcome {
            Outcome::Banned => {
                tracing::error!(request = %what, "Binance answered 418: IP banned; no further requests this run");
                if let Ok(mut banned) = self.banned.lock() {
                    *banned = Some(failure.detail.clone());
                }
            }
            Outcome::RateLimited => {
                if let Some(wait) = failure.retry_after
                    && let Ok(mut paused) = self.paused_until.lock()
                {
                    // Saturating: a pause beyond what an Instant can hold
                    // is simply "longer than any cycle waits".
                    let now = Instant::now();
                    let until = now.checked_add(wait).unwrap_or(now + classify::RETRY_AFTER_CAP);
                    *paused = Some(paused.map_or(until, |p| p.max(until)));
                }
                tracing::warn!(request = %what, error = %failure.detail, "Binance rate limit");
            }
            _ => tracing::debug!(request = %what, error = %failure.detail, "binance error"),
        }
        Err(failure)
    }

    fn track_weight(&self, headers: &HeaderMap) {
        let c = &self.counters;
        if let Some(w) = classify::parse_weight(header(headers, "x-mbx-used-weight-1m")) {
            record_weight(&c.api_weight, &c.api_weight_max, &c.api_warned, w, API_WEIGHT_LIMIT, "X-MBX-USED-WEIGHT-1M");
        }
        if let Some(w) = classify::parse_weight(header(headers, "x-sapi-used-ip-weight-1m")) {
            record_weight(
                &c.sapi_weight,
                &c.sapi_weight_max,
                &c.sapi_warned,
                w,
                SAPI_WEIGHT_LIMIT,
                "X-SAPI-USED-IP-WEIGHT-1M",
            );
        }
    }
}

fn record_weight(last: &AtomicU64, max: &AtomicU64, warned: &AtomicBool, weight: u64, limit: u64, name: &str) {
    last.store(weight, Ordering::Relaxed);
    max.fetch_max(weight, Ordering::Relaxed);
    if weight as f64 > limit as f64 * WEIGHT_WARN_SHARE && !warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(weight, limit, header = name, "Binance request weight above 80% of the per-minute limit");
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The error and its causes on one line (reqwest's top-level message alone
/// says "error sending request" without the reason).
fn describe(err: reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_keeps_last_and_max_and_warns_once() {
        let (last, max, warned) = (AtomicU64::new(0), AtomicU64::new(0), AtomicBool::new(false));
        record_weight(&last, &max, &warned, 120, API_WEIGHT_LIMIT, "X-MBX-USED-WEIGHT-1M");
        record_weight(&last, &max, &warned, 40, API_WEIGHT_LIMIT, "X-MBX-USED-WEIGHT-1M");
        assert_eq!((last.load(Ordering::Relaxed), max.load(Ordering::Relaxed)), (40, 120));
        assert!(!warned.load(Ordering::Relaxed));
        record_weight(&last, &max, &warned, 4801, API_WEIGHT_LIMIT, "X-MBX-USED-WEIGHT-1M");
        assert!(warned.load(Ordering::Relaxed), "above 80% of 6000");
    }

    #[test]
    fn signed_query_appends_window_timestamp_and_signature() {
        let mut config = BinanceConfig::new(
            Secret::new("key"),
            Secret::new("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"),
        );
        config.base_url = "http://127.0.0.1:9".into();
        let t = Transport::new(config).unwrap();
        let query = Query::new()
            .with("symbol", "LTCBTC")
            .with("side", "BUY")
            .with("type", "LIMIT")
            .with("timeInForce", "GTC")
            .with("quantity", "1")
            .with("price", "0.1");
        assert_eq!(
            t.signed_query(&query, 1499827319559),
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000\
             &timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        assert!(
            Transport::new(BinanceConfig {
                base_url: "api.binance.com".into(),
                ..BinanceConfig::new(Secret::default(), Secret::default())
            })
            .is_err()
        );
    }
}
