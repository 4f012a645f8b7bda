//! Process exit codes, one table for every subcommand and for the report's
//! status (README's exit-code table): a scheduler or a person reading `$?`
//! must get the same number for the same situation whatever printed it.

/// Done; nothing needs a look.
pub const OK: u8 = 0;
/// A cycle error, a failed check, an alert: something went wrong.
pub const ERROR: u8 = 1;
/// Usage or configuration error: nothing was done.
pub const USAGE: u8 = 2;
/// The cycle stopped before trading.
pub const ABORTED: u8 = 3;
/// Another cycle holds the run lease.
pub const LEASE_HELD: u8 = 4;
/// The cycle finished, but something needs an operator's look.
pub const ATTENTION: u8 = 5;
/// Stopped by SIGTERM/SIGINT: the order in flight finished and saved, the rest skipped.
pub const STOPPED: u8 = 6;
