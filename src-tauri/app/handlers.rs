//! What each IPC command does, as plain functions over `AppState`: the commands in
//! `commands.rs` only move them off the UI thread, so tests call these directly.

use serde::Serialize;
use ts_rs::TS;

use super::AppState;
use crate::store::cases::{self, CaseListItem};
use crate::store::profiles::{self, AgentIdentity, Profile};
use crate::IpcError;

type Reply<T> = Result<T, IpcError>;

/// What the About view shows, and whether the store opened.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub platform: String,
    pub data_dir: String,
    pub database_path: String,
    pub log_dir: String,
    /// None when the database could not be opened; `startup_error` says why.
    pub schema_version: Option<i64>,
    pub startup_error: Option<IpcError>,
}

/// Version, folders and database state.
pub fn app_info(state: &AppState) -> Reply<AppInfo> {
    let paths = state.paths();
    let store = state.store();
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        platform: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        data_dir: paths.data_dir.display().to_string(),
        database_path: paths.database().display().to_string(),
        log_dir: paths.log_dir.display().to_string(),
        schema_version: store.as_ref().ok().map(|s| s.schema_version()),
        startup_error: store.err(),
    })
}

/// The active profile.
pub fn active_profile(state: &AppState) -> Reply<Profile> {
    Ok(profiles::active(&state.store()?.conn())?)
}

/// Saves the agent's name and email on the active profile.
pub fn update_agent_identity(state: &AppState, identity: AgentIdentity) -> Reply<Profile> {
    Ok(profiles::set_agent_identity(&state.store()?.conn(), &identity)?)
}

/// The open cases, most recent first.
pub fn list_open_cases(state: &AppState) -> Reply<Vec<CaseListItem>> {
    Ok(cases::list_open(&state.store()?.conn())?)
}
