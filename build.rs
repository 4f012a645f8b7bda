//! Embeds the git commit the binary was built from as the compile-time
//! variable `TRADECYCLE_GIT_COMMIT` (read by `shell::build_info`): the
//! output of `git rev-parse HEAD`, or `unknown` when there is no git or no
//! repository (a source tarball, the Docker build context, which leaves
//! `.git` out). Never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).filter(|c| c.len() == 40).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=TRADECYCLE_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    // Rebuild when HEAD moves (a commit, a checkout). Only files that exist
    // are named: cargo treats a missing one as always changed, which would
    // rebuild the crate on every build.
    for file in head_files() {
        if file.exists() {
            println!("cargo:rerun-if-changed={}", file.display());
        }
    }
}

/// One line of git's output, `None` when git or the repository is missing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// The files whose change moves HEAD: `HEAD` of this (work)tree, the
/// branch's loose ref and `packed-refs` in the common git directory.
fn head_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        files.push(Path::new(&dir).join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        let common = PathBuf::from(common);
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            files.push(common.join(branch));
        }
        files.push(common.join("packed-refs"));
    }
    files
}
