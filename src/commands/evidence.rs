//! `tradecycle evidence verify DIR`: checks a run's evidence bundle
//! (`artifacts/<run_id>/`, written by `run`) against its `SHA256SUMS`. The
//! bundle format and the check itself are `shell::evidence`'s; this file is
//! the command's output and exit code only.

use crate::cli::EvidenceCommand;
use crate::commands::{exit, usage};
use crate::shell::evidence::verify;

/// Prints one line per file (`NAME: OK` or `NAME: FAILED (why)`, as
/// `sha256sum -c` does); exit 0 when all match, 1 when one does not, 2 when
/// DIR is not a bundle.
pub fn command(args: EvidenceCommand) -> u8 {
    let EvidenceCommand::Verify { dir } = args;
    let verified = match verify(&dir) {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    for (name, problem) in &verified.files {
        match problem {
            None => println!("{name}: OK"),
            Some(p) => println!("{name}: {}", p.describe()),
        }
    }
    if verified.ok() {
        exit::OK
    } else {
        let bad: Vec<&str> = verified.files.iter().filter(|(_, p)| p.is_some()).map(|(n, _)| n.as_str()).collect();
        eprintln!("error: the evidence bundle {} does not verify: {}", dir.display(), bad.join(", "));
        exit::ERROR
    }
}
