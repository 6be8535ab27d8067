//! Named actions: the exact API calls behind a change, previewed from the evidence, then run
//! after a re-read of the target, each call skipped when its effect is already there (so a retry
//! after an unknown outcome never repeats a write), and verified afterwards.

use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;

use super::engine::Env;
use super::state::{CaseState, Fact};
use crate::connectors::gitlab::UserEdit;
use crate::connectors::session::Connections;
use crate::{Error, Result};

/// Every action a playbook may name.
pub const NAMES: &[&str] = &["release_email", "remove_suppression", "make_primary_email", "disable_two_factor"];

/// One call of an action's preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PlannedCall {
    pub method: String,
    pub path: String,
    /// Before → after, in words.
    pub change: String,
}

/// One call as it was run (or skipped because its effect was already there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallRecord {
    pub method: String,
    pub path: String,
    /// `done` or `skipped: …`.
    pub result: String,
}

/// What running an action did: the calls made before any failure, then the verification.
pub struct Outcome {
    pub calls: Vec<CallRecord>,
    pub result: Result<Vec<Fact>>,
}

fn fact<'a>(state: &'a CaseState, key: &str) -> Result<&'a str> {
    state.fact(key, "The action")
}

fn call(method: &str, path: String, change: String) -> PlannedCall {
    PlannedCall { method: method.into(), path, change }
}

/// The preview: each call with its path and before → after.
pub fn plan(name: &str, state: &CaseState) -> Result<Vec<PlannedCall>> {
    if super::portal::ACTIONS.contains(&name) {
        return super::portal::plan(name, state);
    }
    if super::support_ops::ACTIONS.contains(&name) {
        return super::support_ops::plan(name, state);
    }
    match name {
        "release_email" => {
            let (id, old, new) = (fact(state, "user_id")?, fact(state, "primary_email")?, fact(state, "release_email")?);
            Ok(vec![
                call("POST", format!("/api/v4/users/{id}/emails"), format!("secondary emails: + {new} (skip_confirmation)")),
                call("PUT", format!("/api/v4/users/{id}"), format!("primary email: {old} → {new} (skip_reconfirmation)")),
                call("DELETE", format!("/api/v4/users/{id}/emails/:id"), format!("secondary emails: − {old} (released)")),
            ])
        }
        "remove_suppression" => {
            let email = fact(state, "email")?;
            Ok(vec![call("DELETE", format!("/v3/:domain/bounces/{email}"), format!("bounce list: − {email}"))])
        }
        "make_primary_email" => {
            let (id, old, new) = (fact(state, "user_id")?, fact(state, "primary_email")?, fact(state, "new_primary_email")?);
            Ok(vec![call(
                "PUT",
                format!("/api/v4/users/{id}"),
                format!("primary email: {old} → {new} (a verified secondary; skip_reconfirmation)"),
            )])
        }
        "disable_two_factor" => {
            let id = fact(state, "user_id")?;
            Ok(vec![call(
                "PATCH",
                format!("/api/v4/users/{id}/disable_two_factor"),
                "two-factor authentication: on → off".into(),
            )])
        }
        other => Err(Error::Internal(format!("unknown action {other}"))),
    }
}

/// The text the agent types to confirm a destructive action.
pub fn confirmation_text(name: &str, state: &CaseState) -> Option<String> {
    if super::portal::ACTIONS.contains(&name) {
        return super::portal::confirmation_text(name, state);
    }
    if super::support_ops::ACTIONS.contains(&name) {
        return super::support_ops::confirmation_text(name, state);
    }
    match name {
        "release_email" | "make_primary_email" | "disable_two_factor" => state.facts.get("gitlab_username").cloned(),
        "remove_suppression" => state.facts.get("email").cloned(),
        _ => None,
    }
}

/// What must hold before an action starts; refused without anything recorded or changed
/// (the account to act on is not the one the case is about).
pub async fn preflight(name: &str, conns: &Connections, state: &CaseState) -> Result<()> {
    if super::portal::ACTIONS.contains(&name) {
        return super::portal::preflight(name, conns, state).await;
    }
    Ok(())
}

/// Re-reads, runs and verifies the action of case `case_id`; `typed` is the agent's
/// confirmation (or, for a manual-mode portal action, the evidence pasted from the admin screen).
pub async fn run(name: &str, env: &Env<'_>, case_id: i64, state: &CaseState, typed: &str) -> Outcome {
    let conns = env.conns;
    let mut calls = Vec::new();
    let result = match name {
        "close_ticket" => super::support_ops::close_with_summary(env, case_id, state, &mut calls).await,
        _ if super::portal::ACTIONS.contains(&name) => super::portal::run(name, conns, state, typed, &mut calls).await,
        _ if super::support_ops::ACTIONS.contains(&name) => super::support_ops::run(name, conns, state, &mut calls).await,
        "release_email" => release_email(conns, state, &mut calls).await,
        "remove_suppression" => remove_suppression(conns, state, &mut calls).await,
        "make_primary_email" => make_primary_email(conns, state, &mut calls).await,
        "disable_two_factor" => disable_two_factor(conns, state, &mut calls).await,
        other => Err(Error::Internal(format!("unknown action {other}"))),
    };
    Outcome { calls, result }
}

fn record(calls: &mut Vec<CallRecord>, method: &str, path: String, result: impl Into<String>) {
    calls.push(CallRecord { method: method.into(), path, result: result.into() });
}

async fn release_email(conns: &Connections, state: &CaseState, calls: &mut Vec<CallRecord>) -> Result<Vec<Fact>> {
    let gl = conns.gitlab()?;
    let id: u64 = fact(state, "user_id")?.parse().map_err(|_| Error::Internal("user_id is not a number".into()))?;
    let (old, new) = (fact(state, "primary_email")?.to_owned(), fact(state, "release_email")?.to_owned());
    let seen = state.evidence.get("gitlab_account").map(|e| e.data["user"].clone()).unwrap_or_default();

    // Re-read right before writing: refuse if the account moved since the evidence.
    let now = gl.user(id).await?;
    let primary = now.email.clone().unwrap_or_default();
    if primary != old && primary != new {
        return Err(Error::StaleEvidence(format!(
            "The account's primary email changed since the lookup ({old} → {primary}). Refresh the evidence and check the gates again."
        )));
    }
    if now.sign_in_count.unwrap_or(0) != seen["sign_in_count"].as_u64().unwrap_or(0)
        || now.last_sign_in_at.as_deref() != seen["last_sign_in_at"].as_str()
    {
        return Err(Error::StaleEvidence(
            "Someone signed in to the account since the lookup. Refresh the evidence: the account may no longer be inactive."
                .into(),
        ));
    }

    let emails = gl.emails(id).await?;
    let path = format!("/api/v4/users/{id}/emails");
    if primary == new || emails.iter().any(|e| e.email.eq_ignore_ascii_case(&new)) {
        record(calls, "POST", path, format!("skipped: {new} is already on the account"));
    } else {
        let added = gl.add_email(id, &new, true).await?;
        record(calls, "POST", path, format!("done: email id {}", added.id));
    }
    let path = format!("/api/v4/users/{id}");
    if primary == new {
        record(calls, "PUT", path, format!("skipped: {new} is already primary"));
    } else {
        let edit = UserEdit { email: Some(new.clone()), skip_reconfirmation: Some(true), note: None };
        gl.edit_user(id, &edit).await?;
        record(calls, "PUT", path, "done");
    }
    let emails = gl.emails(id).await?;
    match emails.iter().find(|e| e.email.eq_ignore_ascii_case(&old)) {
        Some(e) => {
            gl.delete_email(id, e.id).await?;
            record(calls, "DELETE", format!("/api/v4/users/{id}/emails/{}", e.id), "done");
        }
        None => {
            record(calls, "DELETE", format!("/api/v4/users/{id}/emails/:id"), format!("skipped: {old} is not on the account"))
        }
    }

    // Verify: the new primary is set, and the old address is on no account.
    let after = gl.user(id).await?;
    let still_has = gl.emails(id).await?.iter().any(|e| e.email.eq_ignore_ascii_case(&old));
    let holders = gl.users_with_email(&old).await?;
    let checks = vec![
        Fact::judged("Primary email now", after.email.clone().unwrap_or_default(), after.email.as_deref() == Some(new.as_str())),
        Fact::judged("Old address on the account", if still_has { "still there" } else { "removed" }, !still_has),
        Fact::judged(
            "Accounts holding the old address",
            if holders.is_empty() { "none: released".to_owned() } else { format!("{}", holders.len()) },
            holders.is_empty(),
        ),
    ];
    if checks.iter().any(|c| c.status.as_deref() == Some("blocked")) {
        return Err(Error::InvalidResponse(format!(
            "GitLab accepted the calls but the address is not released: {}. Check the account in GitLab admin.",
            json!(checks.iter().map(|c| format!("{}: {}", c.label, c.value)).collect::<Vec<_>>())
        )));
    }
    Ok(checks)
}

async fn remove_suppression(conns: &Connections, state: &CaseState, calls: &mut Vec<CallRecord>) -> Result<Vec<Fact>> {
    let mg = conns.mailgun()?;
    let email = fact(state, "email")?;
    let path = format!("/v3/{}/bounces/{email}", mg.domain_name());
    if mg.bounce(email).await?.is_some() {
        mg.delete_bounce(email).await?;
        record(calls, "DELETE", path, "done");
    } else {
        record(calls, "DELETE", path, "skipped: the address is not suppressed");
    }
    let gone = mg.bounce(email).await?.is_none();
    if !gone {
        return Err(Error::InvalidResponse("Mailgun still lists the address as suppressed.".into()));
    }
    Ok(vec![Fact::judged("Suppression", "removed", true)])
}

fn user_id(state: &CaseState) -> Result<u64> {
    fact(state, "user_id")?.parse().map_err(|_| Error::Internal("user_id is not a number".into()))
}

async fn make_primary_email(conns: &Connections, state: &CaseState, calls: &mut Vec<CallRecord>) -> Result<Vec<Fact>> {
    let gl = conns.gitlab()?;
    let id = user_id(state)?;
    let (old, new) = (fact(state, "primary_email")?, fact(state, "new_primary_email")?);
    let now = gl.user(id).await?;
    let primary = now.email.clone().unwrap_or_default();
    let path = format!("/api/v4/users/{id}");
    if primary.eq_ignore_ascii_case(new) {
        record(calls, "PUT", path, format!("skipped: {new} is already primary"));
    } else {
        if primary != old {
            return Err(Error::StaleEvidence(format!(
                "The primary email changed since the lookup ({old} → {primary}). Refresh the evidence first."
            )));
        }
        let verified = gl.emails(id).await?.into_iter().any(|e| e.email.eq_ignore_ascii_case(new) && e.confirmed_at.is_some());
        if !verified {
            return Err(Error::InvalidInput(format!(
                "{new} is not a verified secondary email of the account: only a verified address may become primary."
            )));
        }
        gl.edit_user(id, &UserEdit { email: Some(new.to_owned()), skip_reconfirmation: Some(true), note: None }).await?;
        record(calls, "PUT", path, "done");
    }
    let after = gl.user(id).await?.email.unwrap_or_default();
    if !after.eq_ignore_ascii_case(new) {
        return Err(Error::InvalidResponse(format!("GitLab still shows {after} as primary. Check the account in GitLab admin.")));
    }
    Ok(vec![Fact::judged("Primary email now", after, true)])
}

async fn disable_two_factor(conns: &Connections, state: &CaseState, calls: &mut Vec<CallRecord>) -> Result<Vec<Fact>> {
    let gl = conns.gitlab()?;
    let id = user_id(state)?;
    let path = format!("/api/v4/users/{id}/disable_two_factor");
    if gl.user(id).await?.two_factor_enabled == Some(true) {
        gl.disable_two_factor(id).await?;
        record(calls, "PATCH", path, "done");
    } else {
        record(calls, "PATCH", path, "skipped: two-factor authentication is already off");
    }
    let off = gl.user(id).await?.two_factor_enabled != Some(true);
    if !off {
        return Err(Error::InvalidResponse("GitLab still shows two-factor authentication on.".into()));
    }
    Ok(vec![Fact::judged("Two-factor authentication", "off", true)])
}

/// The admin note: re-reads the note right before writing, appends the line (never replaces),
/// skips when the line is already there, and verifies the earlier text is kept.
pub async fn append_admin_note(conns: &Connections, state: &CaseState, line: &str) -> Outcome {
    let mut calls = Vec::new();
    let result = async {
        let gl = conns.gitlab()?;
        let id: u64 = fact(state, "user_id")?.parse().map_err(|_| Error::Internal("user_id is not a number".into()))?;
        let before = gl.user(id).await?.note.unwrap_or_default();
        let path = format!("/api/v4/users/{id}");
        if before.lines().any(|l| l.trim() == line) {
            record(&mut calls, "PUT", path, "skipped: the line is already in the note");
        } else {
            let note = if before.trim().is_empty() { line.to_owned() } else { format!("{}\n{line}", before.trim_end()) };
            gl.edit_user(id, &UserEdit { note: Some(note), ..Default::default() }).await?;
            record(&mut calls, "PUT", path, "done: note appended");
        }
        let after = gl.user(id).await?.note.unwrap_or_default();
        let kept = after.starts_with(before.trim_end());
        let written = after.lines().any(|l| l.trim() == line);
        if !(kept && written) {
            return Err(Error::InvalidResponse("The admin note does not read back as written. Check it in GitLab admin.".into()));
        }
        Ok(vec![Fact::judged("Admin note", line.to_owned(), true), Fact::judged("Earlier note lines", "kept", true)])
    }
    .await;
    Outcome { calls, result }
}
