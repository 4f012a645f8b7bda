//! Request parameters and SIGNED-endpoint security: the API key header,
//! the HMAC-SHA256 `signature` over the exact bytes sent (query string
//! concatenated with the urlencoded body, as rest-api.md defines
//! `totalParams`), and the `timestamp` / `recvWindow` freshness rule.

use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use sha2::Sha256;

use super::errors::ApiError;

/// The largest `recvWindow` Binance accepts, in milliseconds.
pub const MAX_RECV_WINDOW_MS: i64 = 60_000;
/// Used when a signed request sends no `recvWindow`.
pub const DEFAULT_RECV_WINDOW_MS: i64 = 5_000;

/// Parameters of one request: the query string and, for POST, the
/// urlencoded body. A name sent in both places takes the query's value,
/// as Binance documents.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: &str, body: &str) -> Result<Params, ApiError> {
        let query_pairs = decode(query)?;
        let body_pairs = decode(body)?;
        let mut pairs = query_pairs;
        for (k, v) in body_pairs {
            if !pairs.iter().any(|(qk, _)| *qk == k) {
                pairs.push((k, v));
            }
        }
        Ok(Params { pairs })
    }

    /// The raw value; an empty value counts as not sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::mandatory(name))
    }

    /// A DECIMAL parameter, validated with Binance's pattern
    /// `^([0-9]{1,20})(\.[0-9]{1,20})?$`.
    pub fn decimal(&self, name: &str) -> Result<Option<Decimal>, ApiError> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        parse_decimal(raw).map(Some).ok_or_else(|| ApiError::illegal_decimal(name))
    }

    pub fn long(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::illegal_long(name));
        }
        raw.parse::<i64>().map(Some).map_err(|_| ApiError::bad(-1108, format!("Parameter '{name}' overflowed.")))
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid_value(name)),
        }
    }
}

fn decode(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(ApiError::bad(-1101, "Duplicate values for a parameter detected."));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// Binance's DECIMAL syntax: digits, optionally a dot and more digits; no
/// sign, exponent or spaces.
pub fn parse_decimal(raw: &str) -> Option<Decimal> {
    let (int, frac) = match raw.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (raw, None),
    };
    let digits_ok = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(int) || !frac.is_none_or(digits_ok) {
        return None;
    }
    Decimal::from_str(raw).ok()
}

/// Lowercase hex HMAC-SHA256 of `payload` keyed with `secret`.
pub fn hmac_hex(secret: &str, payload: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `totalParams` of rest-api.md: the query string concatenated with the
/// body (no `&` between them), each without its `signature` pair.
pub fn signature_payload(query: &str, body: &str) -> String {
    let strip = |raw: &str| -> String {
        raw.split('&')
            .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("signature"))
            .collect::<Vec<_>>()
            .join("&")
    };
    format!("{}{}", strip(query), strip(body))
}

/// What a signed request is checked against.
pub struct SignedCheck<'a> {
    pub api_key: &'a str,
    pub api_secret: &'a str,
    pub server_time_ms: i64,
}

/// Checks a SIGNED request in Binance's order: key header, mandatory
/// `timestamp`, `recvWindow` bound, signature, then freshness.
pub fn check_signed(
    check: &SignedCheck<'_>,
    key_header: Option<&str>,
    params: &Params,
    query: &str,
    body: &str,
) -> Result<(), ApiError> {
    let key = key_header.filter(|k| !k.is_empty()).ok_or_else(ApiError::key_format)?;
    if key != check.api_key {
        return Err(ApiError::rejected_key());
    }
    let timestamp = params.long("timestamp")?.ok_or_else(|| ApiError::mandatory("timestamp"))?;
    let recv_window = match params.get("recvWindow") {
        None => Decimal::from(DEFAULT_RECV_WINDOW_MS),
        // Binance accepts up to three decimals (microseconds) here.
        Some(raw) => parse_decimal(raw).ok_or_else(|| ApiError::illegal_decimal("recvWindow"))?,
    };
    if recv_window > Decimal::from(MAX_RECV_WINDOW_MS) {
        return Err(ApiError::bad(-1131, "recvWindow must be less than 60000"));
    }
    let signature = params.required("signature")?;
    let expected = hmac_hex(check.api_secret, &signature_payload(query, body));
    // rest-api.md: "The signature is not case sensitive."
    if !signature.eq_ignore_ascii_case(&expected) {
        return Err(ApiError::bad_signature());
    }
    let server = check.server_time_ms;
    if timestamp >= server + 1000 {
        return Err(ApiError::ahead_of_server());
    }
    if Decimal::from(server - timestamp) > recv_window {
        return Err(ApiError::outside_recv_window());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_example_signatures() {
        // rest-api.md "SIGNED Endpoint Examples for POST /api/v3/order".
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let all = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(hmac_hex(secret, all), "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
        let mixed = signature_payload(
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
            "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=0fd1",
        );
        assert_eq!(hmac_hex(secret, &mixed), "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77");
    }

    #[test]
    fn decimals_follow_binance_syntax() {
        assert_eq!(parse_decimal("0.00100000"), Some(Decimal::new(1, 3)));
        assert_eq!(parse_decimal("12"), Some(Decimal::from(12)));
        for bad in ["", ".5", "5.", "-1", "1e-8", " 1", "1,5", "0x10"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn query_wins_over_body_and_duplicates_are_rejected() {
        let p = Params::parse("symbol=BTCUSDT", "symbol=ETHUSDT&side=BUY").unwrap();
        assert_eq!(p.get("symbol"), Some("BTCUSDT"));
        assert_eq!(p.get("side"), Some("BUY"));
        assert_eq!(Params::parse("a=1&a=2", "").unwrap_err().code, -1101);
    }
}
