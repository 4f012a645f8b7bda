//! Where a run keeps its state and finds its upstream file, read from the
//! flag and the environment: [`StoreSpec::resolve`] (`--store` or
//! `TRADECYCLE_STORE`) and [`FileUpstream::from_env`]
//! (`STRATEGY_ARTIFACT_UPSTREAM_FILE`). The adapters keep the types and
//! their parsing; which variable they come from is config's business.

use super::env::{Env, value};
use crate::adapters::store::file::{FileUpstream, UPSTREAM_FILE_VAR};
use crate::adapters::store::select::{STORE_VAR, StoreSpec, StoreSpecError};

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

impl FileUpstream {
    /// From `STRATEGY_ARTIFACT_UPSTREAM_FILE`, when set.
    pub fn from_env(env: &Env) -> Option<Self> {
        value(env, UPSTREAM_FILE_VAR).map(FileUpstream::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
