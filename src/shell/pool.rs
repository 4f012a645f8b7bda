//! Step 4 of the runbook: where this run's trend pool comes from (an
//! injected payload or the degraded ladder) and reading the ladder's local
//! files. Separate from the runner because it is the only step that reads
//! files of its own; the ladder's decision itself is pure (core `upstream`).

use std::path::PathBuf;

use serde_json::Value;

use crate::domain::pool::PoolResolution;
use crate::domain::report::{PoolReport, Status};
use crate::domain::state::StateDoc;
use crate::ports::{Exchange, Notifier, StateStore};
use crate::shell::effects::Executor;
use crate::shell::runner::{Shell, Stop};
use crate::upstream::ladder::{self, FetchOutcome, FreshSource, LadderInputs, LocalCandidate};

/// Where the trend pool comes from this run.
pub enum PoolInput {
    /// A payload given directly (replay `injected`); it must validate.
    Injected(Value),
    /// The degraded ladder: the fresh rung (if configured) and local files
    /// under `local_root`.
    Ladder { fresh: Option<FreshSource>, local_root: PathBuf },
}

impl<E: Exchange, S: StateStore, N: Notifier, X: Executor> Shell<'_, E, S, N, X> {
    /// Resolves the pool and puts it in the report; a pool that cannot be
    /// resolved stops the cycle.
    pub(super) fn resolve_pool(&mut self, raw_state: &Value) -> Result<PoolResolution, Stop> {
        let resolution = self.pool_resolution(raw_state).map_err(|e| (Status::Error, "pool", e))?;
        self.report.pool = Some(PoolReport::from(&resolution));
        Ok(resolution)
    }

    /// Records the resolved pool in the state and saves it; from here on
    /// that state is what a failed save would leave for recovery.
    pub(super) async fn record_pool(&mut self, state: &mut StateDoc, resolution: &PoolResolution) {
        state.record_pool(resolution);
        self.save_state(state, "trend_pool_metadata_refresh").await;
        self.final_state = Some(state.clone());
    }

    fn pool_resolution(&self, raw_state: &Value) -> Result<PoolResolution, String> {
        let contract = &self.run.settings.contract;
        match &self.run.pool {
            PoolInput::Injected(payload) => ladder::resolve_injected(payload, contract, self.run.now),
            PoolInput::Ladder { fresh, local_root } => {
                let last_known_good = raw_state.get("trend_pool_last_good_payload");
                let mut paths: Vec<PathBuf> = Vec::new();
                if let Some(f) = &self.run.settings.artifact_file {
                    paths.push(local_root.join(f));
                }
                paths.push(local_root.join("artifacts").join("live_pool_legacy.json"));
                paths.dedup();
                let local_files = paths.into_iter().map(read_candidate).collect();
                Ok(ladder::resolve_ladder(
                    LadderInputs { fresh: fresh.clone(), last_known_good, local_files },
                    contract,
                    self.run.settings.lkg_max_age_days,
                    self.run.now,
                ))
            }
        }
    }
}

fn read_candidate(path: PathBuf) -> LocalCandidate {
    let outcome = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FetchOutcome::Missing,
        Err(e) => FetchOutcome::Failed(e.to_string()),
        Ok(text) => match serde_json::from_str(&text) {
            Ok(v) => FetchOutcome::Found(v),
            Err(e) => FetchOutcome::Failed(format!("not valid JSON: {e}")),
        },
    };
    LocalCandidate { path: path.display().to_string(), outcome }
}
