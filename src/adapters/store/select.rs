//! Which state store a run uses: `--store file:PATH`, `--store firestore`,
//! or the same text in `TRADECYCLE_STORE` (the flag wins).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::config::env::{Env, value};

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

impl StoreSpec {
    /// The flag if given, else `TRADECYCLE_STORE`, else `None` (the caller
    /// picks its mode's default). Errors name where the bad value came from.
    pub fn resolve(flag: Option<&str>, env: &Env) -> Result<Option<StoreSpec>, StoreSpecError> {
        if let Some(flag) = flag {
            return flag.parse().map(Some).map_err(|e: StoreSpecError| StoreSpecError(format!("--store: {e}")));
        }
        match value(env, STORE_VAR) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|e: StoreSpecError| StoreSpecError(format!("{STORE_VAR}: {e}"))),
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

    #[test]
    fn flag_wins_over_the_environment() {
        let env: Env = [(STORE_VAR.to_string(), "file:/env.json".to_string())].into_iter().collect();
        assert_eq!(StoreSpec::resolve(Some("firestore"), &env), Ok(Some(StoreSpec::Firestore)));
        assert_eq!(StoreSpec::resolve(None, &env), Ok(Some(StoreSpec::File("/env.json".into()))));
        assert_eq!(StoreSpec::resolve(None, &Env::new()), Ok(None));
        let bad: Env = [(STORE_VAR.to_string(), "s3".to_string())].into_iter().collect();
        assert!(StoreSpec::resolve(None, &bad).unwrap_err().0.starts_with("TRADECYCLE_STORE: unknown store"));
        assert!(StoreSpec::resolve(Some("nope"), &Env::new()).unwrap_err().0.starts_with("--store: "));
    }
}
