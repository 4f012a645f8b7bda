//! `tradecycle pause --reason TEXT` and `tradecycle resume`: the operator's
//! containment switch, kept in the state store the cycle reads (Firestore or
//! the file store, chosen as `run` chooses it). Both take the run lease first
//! so they never race a cycle's read-modify-write of the state (exit 4 while
//! a cycle holds it), change only the pause keys of the document (the rules
//! are in the core's domain/pause.rs), and print what they did.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::cli::{PauseArgs, ResumeArgs};
use crate::commands::watchdog::open_store;
use crate::commands::{exit, usage};
use crate::config::process_env;
use crate::domain::pause::{pause_document, resume_document};
use crate::ports::{LeaseOutcome, StateStore};
use crate::shell::runner::lease_owner;

/// How long the commands hold the run lease: a load and a save take
/// moments, and a command that dies holding it must not keep cycles out
/// (exit 4) for the cycle's own 15 minutes.
const COMMAND_LEASE_TTL: Duration = Duration::from_secs(60);

/// The change one of the two commands makes to the state document.
enum Edit {
    Pause(String),
    Resume,
}

/// `tradecycle pause`.
pub async fn pause(args: PauseArgs) -> u8 {
    let reason = args.reason.trim().to_string();
    if reason.is_empty() {
        return usage("--reason: say why new risk is paused (it is shown in every report until resume)");
    }
    edit(args.store.as_deref(), Edit::Pause(reason)).await
}

/// `tradecycle resume`.
pub async fn resume(args: ResumeArgs) -> u8 {
    edit(args.store.as_deref(), Edit::Resume).await
}

/// Takes the lease, edits the document, saves it, releases the lease.
async fn edit(store_flag: Option<&str>, edit: Edit) -> u8 {
    let env = process_env();
    let store = match open_store(store_flag, &env).await {
        Ok(store) => store,
        Err(e) => return usage(e),
    };
    let now = Utc::now();
    let owner = lease_owner(match edit {
        Edit::Pause(_) => "pause",
        Edit::Resume => "resume",
    });
    match store.acquire_lease(&owner, now, COMMAND_LEASE_TTL).await {
        Ok(LeaseOutcome::Acquired) => {}
        Ok(LeaseOutcome::Held { owner, expires_at }) => {
            eprintln!(
                "error: a cycle holds the run lease ({owner}, until {}); nothing changed — run this again once it ends",
                expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            return exit::LEASE_HELD;
        }
        Err(e) => {
            eprintln!("error: cannot take the run lease in the state store: {e}; nothing changed");
            return exit::ERROR;
        }
    }
    let code = apply(&store, edit, now).await;
    if let Err(e) = store.release_lease(&owner).await {
        eprintln!("warning: could not release the run lease ({e}); it expires by itself");
    }
    code
}

/// Loads, edits and saves the state document; prints what changed.
async fn apply(store: &impl StateStore, edit: Edit, now: chrono::DateTime<Utc>) -> u8 {
    let mut doc = match store.load().await {
        Ok(doc) => doc.unwrap_or_else(|| Value::Object(Default::default())),
        Err(e) => {
            eprintln!("error: cannot load the state document: {e}; nothing changed");
            return exit::ERROR;
        }
    };
    let message = match &edit {
        Edit::Pause(reason) => pause_document(&mut doc, reason, now).map(|before| {
            let replaced = before.map(|b| format!(" (replaces the pause by {}: {})", b.by, b.reason)).unwrap_or_default();
            format!("paused: new risk stops from the next cycle; sells and risk reduction still run. reason: {reason}{replaced}")
        }),
        Edit::Resume => resume_document(&mut doc).map(|r| {
            let mut line = match r.lifted {
                Some(p) => format!("resumed: lifted the pause by {}: {}", p.by, p.reason),
                None => "resumed: there was no operator pause".to_string(),
            };
            if !r.acknowledged.is_empty() {
                line.push_str(&format!(
                    "; open SEV-1 alerts acknowledged (they pause again if they clear and come back): {}",
                    r.acknowledged.join(", ")
                ));
            }
            line
        }),
    };
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    if let Err(e) = store.save(&doc).await {
        eprintln!("error: cannot save the state document: {e}; nothing changed");
        return exit::ERROR;
    }
    println!("{message}");
    exit::OK
}
