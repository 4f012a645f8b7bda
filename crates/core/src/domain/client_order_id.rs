//! `ClientOrderId`: the identity of an order on Binance (`newClientOrderId`,
//! the lookup key after an ambiguous answer, the pending ledger's key).
//!
//! It is built only by [`ClientOrderId::for_slot`], deterministic per
//! schedule slot and intent so a slot run twice produces the same id
//! (design.md §3.2), and an id read back from the state document or the
//! exchange is validated once, by `TryFrom`/`FromStr`, against Binance's
//! rule `^[\.A-Z\:/a-z0-9_-]{1,36}$`. Separate from `intent.rs` because the
//! rest of the program relies on its invariant: every value is a valid id.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::intent::IntentKind;

/// Binance's length limit for `newClientOrderId`.
pub const MAX_LEN: usize = 36;

/// Hex digits of the symbol hash that replaces the tail of a symbol too
/// long to fit.
const HASH_HEX_DIGITS: usize = 6;

/// A valid Binance client order id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientOrderId(String);

/// An id that breaks Binance's rule; the message names the id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client order id {id:?} must be 1-36 characters of [A-Za-z0-9.:/_-]")]
pub struct InvalidClientOrderId {
    pub id: String,
}

impl ClientOrderId {
    /// `tc-<YYMMDDHH>-<code>-<SYMBOL>` for the UTC hour of `now`, with the
    /// symbol reduced to its ASCII letters and digits. When that would
    /// exceed 36 characters, the symbol keeps a prefix and ends in `-` and
    /// six hex digits of a hash of the full symbol: two long symbols never
    /// share an id by sharing a prefix, and one symbol always gets the same
    /// id (truncating, as before, let two long symbols collide).
    pub fn for_slot(now: DateTime<Utc>, kind: IntentKind, symbol: &str) -> ClientOrderId {
        let clean: String = symbol.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let head = format!("tc-{}-{}-", now.format("%y%m%d%H"), kind.code());
        if head.len() + clean.len() <= MAX_LEN {
            return ClientOrderId(head + &clean);
        }
        let keep = MAX_LEN - head.len() - 1 - HASH_HEX_DIGITS;
        ClientOrderId(format!("{head}{}-{:06x}", &clean[..keep], symbol_hash(symbol)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_valid(id: &str) -> bool {
        (1..=MAX_LEN).contains(&id.len())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-'))
    }
}

/// FNV-1a (32 bit) of the symbol's bytes, xor-folded to 24 bits. Written
/// out rather than `DefaultHasher`, whose output may change between Rust
/// versions: ids already in the ledger must keep matching.
fn symbol_hash(symbol: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in symbol.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash >> 24) ^ (hash & 0x00ff_ffff)
}

impl TryFrom<String> for ClientOrderId {
    type Error = InvalidClientOrderId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        if ClientOrderId::is_valid(&id) { Ok(ClientOrderId(id)) } else { Err(InvalidClientOrderId { id }) }
    }
}

impl TryFrom<&str> for ClientOrderId {
    type Error = InvalidClientOrderId;

    fn try_from(id: &str) -> Result<Self, Self::Error> {
        ClientOrderId::try_from(id.to_string())
    }
}

impl FromStr for ClientOrderId {
    type Err = InvalidClientOrderId;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        ClientOrderId::try_from(id)
    }
}

impl From<ClientOrderId> for String {
    fn from(id: ClientOrderId) -> String {
        id.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Deref for ClientOrderId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ClientOrderId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets the ledger (keyed by id) be searched with a `&str`.
impl Borrow<str> for ClientOrderId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

// Hash as the `str` it borrows as, which `Borrow<str>` requires.
impl Hash for ClientOrderId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

impl PartialEq<str> for ClientOrderId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ClientOrderId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for ClientOrderId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<ClientOrderId> for String {
    fn eq(&self, other: &ClientOrderId) -> bool {
        *self == other.0
    }
}

impl PartialEq<ClientOrderId> for &str {
    fn eq(&self, other: &ClientOrderId) -> bool {
        *self == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn slot() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 0, 42, 7).unwrap()
    }

    #[test]
    fn ids_of_normal_symbols_are_exactly_as_before() {
        let id = |kind, symbol| ClientOrderId::for_slot(slot(), kind, symbol).to_string();
        assert_eq!(id(IntentKind::TrendBuy, "ETHUSDT"), "tc-26031500-tb-ETHUSDT");
        assert_eq!(id(IntentKind::FuelBuy, "BNBUSDT"), "tc-26031500-fb-BNBUSDT");
        assert_eq!(id(IntentKind::DcaSell, "BTC/USDT"), "tc-26031500-ds-BTCUSDT");
        assert_eq!(id(IntentKind::BreakerSell, "1000SATSUSDT"), "tc-26031500-cb-1000SATSUSDT");
        // 21 characters of symbol is the most that fits whole: still no hash.
        let longest = id(IntentKind::TrendSell, "ABCDEFGHIJKLMNOPQUSDT");
        assert_eq!(longest, "tc-26031500-ts-ABCDEFGHIJKLMNOPQUSDT");
        assert_eq!(longest.len(), 36);
    }

    #[test]
    fn a_symbol_too_long_keeps_a_prefix_and_a_hash_of_the_whole_symbol() {
        let a = ClientOrderId::for_slot(slot(), IntentKind::BreakerSell, "1000000BABYDOGEUSDTXXXXXXXXXXXX");
        let b = ClientOrderId::for_slot(slot(), IntentKind::BreakerSell, "1000000BABYDOGEUSDTYYYYYYYYYYYY");
        assert_eq!(a.as_str(), "tc-26031500-cb-1000000BABYDOG-ad316e");
        assert_eq!(b.as_str(), "tc-26031500-cb-1000000BABYDOG-358adc");
        assert_eq!((a.len(), b.len()), (36, 36));
        assert_ne!(a, b, "same prefix, different symbols");
        assert_eq!(a, ClientOrderId::for_slot(slot(), IntentKind::BreakerSell, "1000000BABYDOGEUSDTXXXXXXXXXXXX"));
        assert!(a.as_str().parse::<ClientOrderId>().is_ok(), "a built id passes validation");
    }

    #[test]
    fn the_symbol_hash_is_fnv_1a_folded_to_24_bits() {
        // FNV-1a's published 32-bit value for "a" is 0xe40c292c.
        assert_eq!(symbol_hash("a"), 0xe4 ^ 0x0c_292c);
    }

    #[test]
    fn ids_read_back_are_validated_once_and_errors_name_the_id() {
        let ok: ClientOrderId = "web_x.1:2/3-AZ".parse().unwrap();
        assert_eq!(ok, "web_x.1:2/3-AZ");
        let too_long = "x".repeat(37);
        assert_eq!(
            ClientOrderId::try_from(too_long.clone()).unwrap_err().to_string(),
            format!("client order id \"{too_long}\" must be 1-36 characters of [A-Za-z0-9.:/_-]")
        );
        for bad in ["", "bad id", "tc-é", "a+b"] {
            let err = bad.parse::<ClientOrderId>().unwrap_err();
            assert_eq!(err.id, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn serializes_as_a_plain_string_and_refuses_a_bad_one() {
        let id = ClientOrderId::for_slot(slot(), IntentKind::TrendBuy, "ETHUSDT");
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("tc-26031500-tb-ETHUSDT"));
        let back: ClientOrderId = serde_json::from_value(serde_json::json!("tc-26031500-tb-ETHUSDT")).unwrap();
        assert_eq!(back, id);
        let err = serde_json::from_value::<ClientOrderId>(serde_json::json!("bad id")).unwrap_err();
        assert!(err.to_string().contains("client order id \"bad id\""), "{err}");
    }
}
