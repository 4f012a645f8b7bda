//! Credentials that must never be printed (`BINANCE_API_KEY`,
//! `BINANCE_API_SECRET`, `TG_TOKEN`, the GitHub token): held in a
//! [`secrecy::SecretString`] (zeroed when dropped), `Debug` and `Display`
//! show `***`, and the value is only reachable through [`Secret::expose`].
//! This is the one type for a credential in the program: every adapter
//! takes its key or token as a `Secret`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

#[derive(Clone, Default)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The raw value, for the one place that must send it (a header, a signature).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// Replaces every occurrence of the secret in `text` (error bodies,
    /// URLs) so it cannot leak into a log or report.
    pub fn redact(&self, text: &str) -> String {
        let value = self.expose();
        if value.len() < 4 { text.to_string() } else { text.replace(value, "***") }
    }
}

/// Configs holding a secret compare by value (tests of the env parsing).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let s = Secret::new("hunter2-secret");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2-secret");
        assert_eq!(s.redact("url?token=hunter2-secret&x=1"), "url?token=***&x=1");
    }
}
