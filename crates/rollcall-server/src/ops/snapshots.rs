//! Reset and named snapshots (SPEC §9): the store does the copying (`Store::reset`,
//! `Store::save_snapshot`, …); these put the node itself back in step with it.
//!
//! A reset also brings the node to its start-up state: its controls (virtual clock, seeded
//! ids) start again and the start-up configuration's corps are applied again. Both reset and
//! restore drop every cache of the node, since the store changed under them; other nodes see
//! the bumped `directory_version` and the one-second cache bound.

use rollcall_store::{SnapshotInfo, StoreError};

use crate::error::HttpError;
use crate::ops::directory::{apply_corp, ApplyError};
use crate::state::AppState;

/// A name the admin API refuses before any store call: 400 with the rule's reason.
fn checked(name: &str) -> Result<&str, HttpError> {
    rollcall_core::snapshot::validate_name(name).map_err(HttpError::bad_request)?;
    Ok(name)
}

/// Empty the store (keeping the secret) and bring the node back to its start-up state.
pub async fn reset(state: &AppState) -> Result<(), ApplyError> {
    state.store().reset().await?;
    state.invalidate_caches();
    state.reset_controls();
    state.callbacks().clear();
    for spec in state.startup_corps().iter() {
        apply_corp(state, spec).await?;
    }
    Ok(())
}

/// Save snapshot `name`, stamped with the server's clock.
pub async fn save(state: &AppState, name: &str) -> Result<SnapshotInfo, HttpError> {
    let name = checked(name)?;
    Ok(state.store().save_snapshot(name, state.now()).await?)
}

/// Every snapshot.
pub async fn list(state: &AppState) -> Result<Vec<SnapshotInfo>, StoreError> {
    state.store().snapshots().await
}

/// Make the store snapshot `name`'s state, then forget what the node cached.
pub async fn restore(state: &AppState, name: &str) -> Result<SnapshotInfo, HttpError> {
    let name = checked(name)?;
    let info = state.store().restore_snapshot(name).await;
    // Even a failed restore may have raced a change: start from the store either way.
    state.invalidate_caches();
    let info = info?;
    // The restored targets are the snapshot's: check those this node has not checked.
    state.callbacks().verify_stored(state);
    Ok(info)
}

/// Forget snapshot `name`.
pub async fn delete(state: &AppState, name: &str) -> Result<(), HttpError> {
    let name = checked(name)?;
    Ok(state.store().delete_snapshot(name).await?)
}
