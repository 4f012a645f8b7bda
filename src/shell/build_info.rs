//! What program this is: the crate version and the git commit `build.rs`
//! embedded at build time (`unknown` when built without a repository).
//! Read by the evidence bundle's `build.json` and the
//! `tradecycle_build_info` metric, so both say the same.

/// `CARGO_PKG_VERSION` of the binary crate.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit HEAD pointed at when the binary was built, or `unknown`.
pub const COMMIT: &str = env!("TRADECYCLE_GIT_COMMIT");

/// `build.json` of the evidence bundle.
pub fn as_json() -> serde_json::Value {
    serde_json::json!({"program": "tradecycle", "version": VERSION, "commit": COMMIT})
}
