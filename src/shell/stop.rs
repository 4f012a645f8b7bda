//! SIGTERM / SIGINT. A `run` asked to stop finishes the order in flight
//! (never abandoning one between its send and the save that records it),
//! sends nothing new (the remaining intents are skipped with
//! [`SKIP_REASON`]), saves the state, writes its report and exits with
//! [`EXIT_STOPPED`]. Other commands hold no order: they exit at once.
//!
//! The flag is process-wide because a signal is: only the signal listener
//! sets it, and the shell reads it between intents.

use std::sync::OnceLock;

/// Exit code of a cycle that skipped intents because it was asked to stop.
pub const EXIT_STOPPED: u8 = crate::domain::exit::STOPPED;

/// Why the intents after a stop request were not sent.
pub const SKIP_REASON: &str = "not sent: the run was asked to stop";

static REQUESTED: OnceLock<&'static str> = OnceLock::new();

/// The signal that asked this process to stop, if one did.
pub fn requested() -> Option<&'static str> {
    REQUESTED.get().copied()
}

/// Records a stop request (the first signal's name is kept).
pub fn request(signal: &'static str) {
    let _ = REQUESTED.set(signal);
}

/// Installs the SIGTERM and SIGINT handlers now (call inside the runtime)
/// and returns the task that serves them for the rest of the process. With
/// `graceful` a signal sets the stop flag; otherwise the process exits at
/// once with 128 + the signal number, as if it had no handler (which also
/// makes a command that is PID 1 in a container stoppable).
#[cfg(unix)]
pub fn listen(graceful: bool) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            tracing::warn!("cannot listen for SIGTERM/SIGINT: a signal will end the process at once");
            return;
        };
        serve(graceful, &mut term, &mut int).await;
    }
}

#[cfg(unix)]
async fn serve(graceful: bool, term: &mut tokio::signal::unix::Signal, int: &mut tokio::signal::unix::Signal) {
    loop {
        let (name, number) = tokio::select! {
            _ = term.recv() => ("SIGTERM", 15),
            _ = int.recv() => ("SIGINT", 2),
        };
        if !graceful {
            std::process::exit(128 + number);
        }
        match requested() {
            None => tracing::warn!(
                "{name} received: finishing the order in flight, then saving the state and the report; no new orders"
            ),
            Some(_) => tracing::warn!("{name} received again: already stopping"),
        }
        request(name);
    }
}

#[cfg(not(unix))]
pub fn listen(_graceful: bool) -> impl std::future::Future<Output = ()> {
    std::future::pending()
}
