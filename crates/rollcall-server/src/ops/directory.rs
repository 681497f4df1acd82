//! Creating and updating corps (config file at start-up, admin API at run time).

use rollcall_core::directory::{merge, CorpSpec, DirectoryError};
use rollcall_store::StoreError;

use crate::state::AppState;

/// Why a corp could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Invalid(#[from] DirectoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Create or update a corp from its spec (never deletes; see `rollcall_core::directory`).
pub async fn apply_corp(state: &AppState, spec: &CorpSpec) -> Result<(), ApplyError> {
    let existing = state.store().corp(&spec.corpid).await?;
    let corp = merge(existing.as_ref(), spec)?;
    state.store().put_corp(&corp).await?;
    state.invalidate_directories();
    // Verify the listed apps' callback URLs (stored with them) in the background.
    state
        .callbacks()
        .configure(state, &corp, spec.apps.iter().map(|a| a.agentid));
    Ok(())
}
