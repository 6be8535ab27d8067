//! What each IPC command does, as plain functions over `AppState`: the desktop's commands
//! (`app/commands.rs`) only move them off the UI thread, so tests call these directly. Each one
//! translates its arguments into a domain call; the rules live in the domain.

use serde::Serialize;
use ts_rs::TS;

use super::host::SaveFile;
use super::AppState;
use crate::connectors::check::ConnectionCheck;
use crate::playbook::engine::{self, Env, NewCase, StepInput, TicketComment, TicketInstance, TicketPreview};
use crate::playbook::view::CaseView;
use crate::playbook::{Catalog, PlaybookInfo};
use crate::secrets::{self, Tokens};
use crate::service::Service;
use crate::store::audit::{self, Verification};
use crate::store::cases::{self, CaseListItem};
use crate::store::outbox::{self as queued, OutboxItem};
use crate::store::profiles::{self, Profile, ProfileInput, ProfileKind};
use crate::store::search::{self, AuditFilter, AuditPage};
use crate::summary::outbox::{self, Flushed, Posted};
use crate::summary::{self, CaseSummary};
use crate::{Error, IpcError};

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

/// Every profile.
pub fn list_profiles(state: &AppState) -> Reply<Vec<Profile>> {
    Ok(profiles::list(&state.store()?.conn())?)
}

/// Creates or updates a profile. A token is bound to the address it was saved for: when a
/// service's address changes, its token is deleted in the same transaction (never sent to the
/// new address).
pub fn save_profile(state: &AppState, profile: ProfileInput) -> Reply<Profile> {
    let (saved, unbound) = profiles::save_unbinding_moved_tokens(&state.store()?.conn(), &profile, || state.keychain())?;
    if !unbound.is_empty() {
        state.forget_tokens(Some(saved.id));
    }
    Ok(saved)
}

/// Switches Casekit to another profile; its tokens are read afresh on first use.
pub fn activate_profile(state: &AppState, id: i64) -> Reply<Profile> {
    let active = profiles::activate(&mut state.store()?.conn(), id)?;
    state.forget_tokens(None);
    Ok(active)
}

/// Deletes a live profile and its tokens; returns the remaining profiles.
pub fn delete_profile(state: &AppState, id: i64) -> Reply<Vec<Profile>> {
    let store = state.store()?;
    profiles::delete_with_tokens(&store.conn(), id, || state.keychain())?;
    state.forget_tokens(Some(id));
    Ok(profiles::list(&store.conn())?)
}

/// Which services of a live profile have a token in the keychain (never the tokens).
pub fn stored_tokens(state: &AppState, profile_id: i64) -> Reply<Vec<Service>> {
    let profile = profiles::get(&state.store()?.conn(), profile_id)?;
    if profile.kind == ProfileKind::Sandbox {
        return Ok(Vec::new());
    }
    Ok(Tokens::read(&state.keychain()?, &profile.keychain_id)?.services())
}

/// Puts a token in the keychain (replacing any); the token is never sent back.
pub fn store_token(state: &AppState, profile_id: i64, service: Service, token: String) -> Reply<Vec<Service>> {
    let token = secrets::pasted_token(service, &token)?;
    let profile = profiles::get(&state.store()?.conn(), profile_id)?;
    if profile.kind == ProfileKind::Sandbox {
        return Err(Error::InvalidInput("The Sandbox profile has its own tokens; nothing to store.".into()).into());
    }
    state.keychain()?.set(&profile.keychain_id, service, &token)?;
    state.forget_tokens(Some(profile_id));
    stored_tokens(state, profile_id)
}

/// Removes a token from the keychain.
pub fn remove_token(state: &AppState, profile_id: i64, service: Service) -> Reply<Vec<Service>> {
    let profile = profiles::get(&state.store()?.conn(), profile_id)?;
    state.keychain()?.delete(&profile.keychain_id, service)?;
    state.forget_tokens(Some(profile_id));
    stored_tokens(state, profile_id)
}

/// Asks a service who the profile's credentials belong to and whether they suffice.
pub async fn test_connection(state: &AppState, profile_id: i64, service: Service) -> Reply<ConnectionCheck> {
    let connections = state.connections(profile_id).await?;
    Ok(connections.check(service).await)
}

/// The open cases, most recent first.
pub fn list_open_cases(state: &AppState) -> Reply<Vec<CaseListItem>> {
    Ok(cases::list_open(&state.store()?.conn())?)
}

/// The playbooks to pick from.
pub fn list_playbooks(_state: &AppState) -> Reply<Vec<PlaybookInfo>> {
    Ok(Catalog::builtin().list())
}

/// Runs `f` with the engine's environment for the active profile.
async fn with_env<T>(state: &AppState, f: impl AsyncFnOnce(&Env<'_>) -> crate::Result<T>) -> Reply<T> {
    let active = profiles::active(&state.store()?.conn())?;
    let conns = state.connections(active.id).await?;
    let env = Env { store: state.store()?, conns: &conns, catalog: Catalog::builtin() };
    Ok(f(&env).await?)
}

/// The ticket's subject, status and requester, before a case is opened on it.
pub async fn preview_ticket(state: &AppState, instance: TicketInstance, ticket_id: u64) -> Reply<TicketPreview> {
    with_env(state, async |env| engine::preview_ticket(env.conns, instance, ticket_id).await).await
}

/// Opens a case for a ticket with a playbook.
pub async fn open_case(state: &AppState, new_case: NewCase) -> Reply<CaseView> {
    with_env(state, async |env| engine::open_case(env, &new_case).await).await
}

/// A case as the wizard shows it: steps, the current step, facts and evidence.
pub async fn case_view(state: &AppState, case_id: i64) -> Reply<CaseView> {
    with_env(state, async |env| engine::case_view(env, case_id)).await
}

/// Submits the agent's input for the current step of a case.
pub async fn submit_step(state: &AppState, case_id: i64, step_id: String, input: StepInput) -> Reply<CaseView> {
    with_env(state, async |env| engine::submit(env, case_id, &step_id, input).await).await
}

/// The comments of a case's ticket (to pick the customer's confirmation from).
pub async fn ticket_comments(state: &AppState, case_id: i64) -> Reply<Vec<TicketComment>> {
    with_env(state, async |env| engine::ticket_comments(env, case_id).await).await
}

/// Ends an open case without finishing its playbook.
pub async fn abandon_case(state: &AppState, case_id: i64, reason: String) -> Reply<CaseView> {
    with_env(state, async |env| engine::abandon(env, case_id, &reason)).await
}

/// Sandbox only: the person who must answer the case's permission request replies (the
/// ticket's requester, or the owner or primary address whose consent counts), for training;
/// then the comments.
pub async fn simulate_customer_reply(state: &AppState, case_id: i64, body: String) -> Reply<Vec<TicketComment>> {
    let active = profiles::active(&state.store()?.conn())?;
    if active.kind != ProfileKind::Sandbox {
        return Err(Error::InvalidInput(
            "Only the Sandbox can play the customer; on a live profile the customer replies in Zendesk.".into(),
        )
        .into());
    }
    let body = crate::validate::text("customer's reply", &body, 2000)?;
    let view = case_view(state, case_id).await?;
    let service = view.ticket_instance.service();
    // When the case names no one who may answer (or names someone it refuses), the ticket's
    // requester replies, as a real one would, and the engine judges that reply like any other.
    let author = match with_env(state, async |env| engine::current_answerer(env, case_id)).await {
        Ok(answerer) => answerer.map(|a| a.user_id),
        Err(e) => {
            tracing::info!(case_id, error = %e.message, "no answerer named: the sandbox's requester replies");
            None
        }
    };
    state.sandbox().await?.comment_from(service, view.ticket_id as u64, author, &body)?;
    ticket_comments(state, case_id).await
}

/// The case summary, rendered from its audit rows.
pub fn case_summary(state: &AppState, case_id: i64) -> Reply<CaseSummary> {
    Ok(summary::render_published(state.store()?, case_id)?)
}

/// Posts the summary to the ticket as an internal note (once), or queues it when offline.
pub async fn post_summary(state: &AppState, case_id: i64) -> Reply<Posted> {
    with_env(state, async |env| outbox::post_summary(env.store, env.conns, case_id).await).await
}

/// Saves the summary as Markdown where the agent chooses; the path, or `None` if cancelled.
pub fn save_summary(state: &AppState, case_id: i64) -> Reply<Option<String>> {
    let s = summary::render_published(state.store()?, case_id)?;
    let file = SaveFile { default_name: &format!("casekit-case-{case_id}.md"), kind: "Markdown", extension: "md" };
    let Some(path) = state.pick_save_path(file)? else { return Ok(None) };
    std::fs::write(&path, s.markdown).map_err(|e| Error::io(format!("Could not write {}", path.display()), e))?;
    Ok(Some(path.display().to_string()))
}

/// The outbox: waiting ticket writes first.
pub fn list_outbox(state: &AppState) -> Reply<Vec<OutboxItem>> {
    Ok(queued::list(&state.store()?.conn())?)
}

/// Tries due outbox items now (all pending with `force`, or only one).
pub async fn flush_outbox(state: &AppState, force: bool, only: Option<i64>) -> Reply<Flushed> {
    // Nothing waiting: no profile connections (or sandbox start) for an empty outbox.
    if only.is_none() && queued::waiting(&state.store()?.conn())? == 0 {
        return Ok(Flushed::default());
    }
    with_env(state, async |env| outbox::flush(env.store, env.conns, force, only).await).await
}

/// Retries one outbox item now.
pub async fn retry_outbox(state: &AppState, id: i64) -> Reply<Flushed> {
    flush_outbox(state, true, Some(id)).await
}

/// Gives up on an outbox item, with the reason (recorded).
pub async fn discard_outbox(state: &AppState, id: i64, reason: String) -> Reply<Vec<OutboxItem>> {
    with_env(state, async |env| outbox::discard(env.store, env.conns, id, &reason)).await?;
    list_outbox(state)
}

/// Audit rows matching a filter (and full-text search), newest first.
pub fn query_audit(state: &AppState, filter: AuditFilter) -> Reply<AuditPage> {
    Ok(search::query(&state.store()?.conn(), &filter)?)
}

/// Checks the audit log's hash chain.
pub fn verify_audit(state: &AppState) -> Reply<Verification> {
    Ok(audit::verify(&state.store()?.conn())?)
}

/// Exports the matching rows as JSON Lines where the agent chooses; the path, or `None`.
pub fn export_audit(state: &AppState, filter: AuditFilter) -> Reply<Option<String>> {
    let file = SaveFile { default_name: "casekit-audit.jsonl", kind: "JSON Lines", extension: "jsonl" };
    let Some(path) = state.pick_save_path(file)? else { return Ok(None) };
    let mut file = std::fs::File::create(&path).map_err(|e| Error::io(format!("Could not create {}", path.display()), e))?;
    search::export_jsonl(&state.store()?.conn(), &filter, &mut file)?;
    Ok(Some(path.display().to_string()))
}

/// Sandbox only: the customer signs in to the portal with the case's unlinked GitLab account,
/// which creates their new portal account (the customer's side of the unlink sequence).
pub async fn simulate_portal_sign_up(state: &AppState, case_id: i64) -> Reply<String> {
    let active = profiles::active(&state.store()?.conn())?;
    if active.kind != ProfileKind::Sandbox {
        return Err(Error::InvalidInput("Only the Sandbox can play the customer.".into()).into());
    }
    let (uid, email) = with_env(state, async |env| {
        Ok((engine::case_fact(env, case_id, "gitlab_uid")?, engine::case_fact(env, case_id, "gitlab_email")?))
    })
    .await?;
    let uid = uid
        .ok_or_else(|| Error::InvalidInput("This case has no GitLab account to sign up with: run the diagnosis first.".into()))?;
    let uid: u64 = uid
        .parse()
        .map_err(|e| Error::Internal(format!("case {case_id} recorded the GitLab user id {uid:?}, not a number: {e}")))?;
    state.sandbox().await?.portal_sign_up_with_gitlab(uid)?;
    Ok(email.unwrap_or_default())
}
