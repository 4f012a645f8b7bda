//! Which state store a run uses: `--store file:PATH`, `--store firestore`,
//! or the same text in `TRADECYCLE_STORE` (the flag wins; choosing between
//! them is `StoreSpec::resolve` in `src/config/store.rs`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub const STORE_VAR: &str = "TRADECYCLE_STORE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// The local JSON file store at this path.
    File(PathBuf),
    /// Firestore, configured by [`super::firestore::FirestoreConfig::from_env`].
    Firestore,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreSpecError(pub String);

impl FromStr for StoreSpec {
    type Err = StoreSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("firestore") {
            return Ok(StoreSpec::Firestore);
        }
        if let Some(path) = s.strip_prefix("file:") {
            let path = path.trim();
            if path.is_empty() {
                return Err(StoreSpecError("store 'file:' needs a path, e.g. file:state/paper.json".into()));
            }
            return Ok(StoreSpec::File(PathBuf::from(path)));
        }
        Err(StoreSpecError(format!(
            "unknown store '{s}': expected file:PATH (e.g. file:state/paper.json) or firestore"
        )))
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::File(path) => write!(f, "file:{}", path.display()),
            StoreSpec::Firestore => f.write_str("firestore"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        assert_eq!("firestore".parse(), Ok(StoreSpec::Firestore));
        assert_eq!(" Firestore ".parse(), Ok(StoreSpec::Firestore));
        assert_eq!("file:state/paper.json".parse(), Ok(StoreSpec::File("state/paper.json".into())));
        assert_eq!("file:/abs/x.json".parse::<StoreSpec>().unwrap().to_string(), "file:/abs/x.json");
    }

    #[test]
    fn anything_else_is_a_clear_error() {
        let err = |s: &str| s.parse::<StoreSpec>().unwrap_err().0;
        assert!(err("file:").contains("needs a path"));
        assert!(err("memory").starts_with("unknown store 'memory'"));
        assert!(err("").contains("expected file:PATH"));
        assert!(err("state.json").contains("expected file:PATH"));
    }
}
