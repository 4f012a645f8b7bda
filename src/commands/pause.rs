//! `tradecycle pause --reason TEXT` and `tradecycle resume`: the operator's
//! containment switch, kept in the state store the cycle reads (Firestore or
//! the file store, chosen as `run` chooses it). Both take the run lease first
//! so they never race a cycle's read-modify-write of the state (exit 4 while
//! a cycle holds it), change only the pause keys of the document (the rules
//! are in the core's domain/pause.rs), and print what they did.

use chrono::Utc;
use serde_json::Value;

use crate::cli::{PauseArgs, ResumeArgs};
use crate::commands::under_lease::under_lease;
use crate::commands::watchdog::open_store;
use crate::commands::{exit, usage};
use crate::config::process_env;
use crate::domain::pause::{pause_document, resume_document};
use crate::ports::StateStore;

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

/// Edits the document under the run lease.
async fn edit(store_flag: Option<&str>, edit: Edit) -> u8 {
    let env = process_env();
    let store = match open_store(store_flag, &env).await {
        Ok(store) => store,
        Err(e) => return usage(e),
    };
    let command = match edit {
        Edit::Pause(_) => "pause",
        Edit::Resume => "resume",
    };
    let now = Utc::now();
    under_lease(&store, command, now, || apply(&store, edit, now)).await
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
