//! The cases list: every case is a draft bound to one ticket until it is finished.

use std::collections::HashSet;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;

use super::columns::{CaseOutcome, CaseStatus};
use crate::service::TicketInstance;
use crate::Result;

/// One row of the Cases view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseListItem {
    pub id: i64,
    /// The Zendesk instance the ticket lives on.
    pub ticket_instance: TicketInstance,
    pub ticket_id: i64,
    pub playbook_title: String,
    pub current_step: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// Open cases of the active profile, most recently touched first.
pub fn list_open(conn: &Connection) -> Result<Vec<CaseListItem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.ticket_instance, c.ticket_id, c.playbook_title, c.current_step, c.updated_at
         FROM cases c JOIN profiles p ON p.id = c.profile_id AND p.is_active = 1
         WHERE c.status = 'open' ORDER BY c.updated_at DESC, c.id DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(CaseListItem {
            id: r.get("id")?,
            ticket_instance: r.get("ticket_instance")?,
            ticket_id: r.get("ticket_id")?,
            playbook_title: r.get("playbook_title")?,
            current_step: r.get("current_step")?,
            updated_at: r.get("updated_at")?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A case as the engine reads and writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    pub id: i64,
    pub profile_id: i64,
    pub ticket_instance: TicketInstance,
    pub ticket_id: i64,
    pub ticket_subject: String,
    pub requester: String,
    pub playbook_id: String,
    pub playbook_version: String,
    pub playbook_title: String,
    pub current_step: String,
    pub status: CaseStatus,
    pub outcome: Option<CaseOutcome>,
    pub origin_case_id: Option<i64>,
    /// The engine's state (JSON).
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every save; a save names the revision it read (compare-and-swap).
    pub revision: i64,
}

/// What a new case starts with.
#[derive(Debug, Clone)]
pub struct NewCaseRow<'a> {
    pub profile_id: i64,
    pub ticket_instance: TicketInstance,
    pub ticket_id: i64,
    pub ticket_subject: &'a str,
    pub requester: &'a str,
    pub playbook_id: &'a str,
    pub playbook_version: &'a str,
    pub playbook_title: &'a str,
    pub current_step: &'a str,
    pub origin_case_id: Option<i64>,
    pub state: &'a str,
}

/// Inserts a case; call inside the transaction that writes its first audit row.
pub fn insert(conn: &Connection, c: &NewCaseRow<'_>) -> Result<i64> {
    conn.execute(
        "INSERT INTO cases (profile_id, ticket_instance, ticket_id, ticket_subject, requester, playbook_id, playbook_version,
                            playbook_title, current_step, status, origin_case_id, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', ?10, ?11)",
        rusqlite::params![
            c.profile_id,
            c.ticket_instance,
            c.ticket_id,
            c.ticket_subject,
            c.requester,
            c.playbook_id,
            c.playbook_version,
            c.playbook_title,
            c.current_step,
            c.origin_case_id,
            c.state
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// One case.
pub fn get(conn: &Connection, id: i64) -> Result<CaseRow> {
    conn.query_row(
        "SELECT id, profile_id, ticket_instance, ticket_id, ticket_subject, requester, playbook_id, playbook_version,
                playbook_title, current_step, status, outcome, origin_case_id, state, created_at, updated_at, revision
         FROM cases WHERE id = ?1",
        [id],
        |r| {
            Ok(CaseRow {
                id: r.get("id")?,
                profile_id: r.get("profile_id")?,
                ticket_instance: r.get("ticket_instance")?,
                ticket_id: r.get("ticket_id")?,
                ticket_subject: r.get("ticket_subject")?,
                requester: r.get("requester")?,
                playbook_id: r.get("playbook_id")?,
                playbook_version: r.get("playbook_version")?,
                playbook_title: r.get("playbook_title")?,
                current_step: r.get("current_step")?,
                status: r.get("status")?,
                outcome: r.get("outcome")?,
                origin_case_id: r.get("origin_case_id")?,
                state: r.get("state")?,
                created_at: r.get("created_at")?,
                updated_at: r.get("updated_at")?,
                revision: r.get("revision")?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| crate::Error::NotFound(format!("Case {id} does not exist. Open it again from the Cases list.")))
}

/// The open case on a ticket with a playbook in a profile, if there is one. (Per profile: a
/// Sandbox case on #8001 says nothing about the live ticket #8001.)
pub fn open_on_ticket(
    conn: &Connection,
    profile_id: i64,
    instance: TicketInstance,
    ticket_id: i64,
    playbook_id: &str,
) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM cases WHERE status = 'open' AND ticket_instance = ?1 AND ticket_id = ?2 AND playbook_id = ?3 \
             AND profile_id = ?4",
            rusqlite::params![instance, ticket_id, playbook_id, profile_id],
            |r| r.get("id"),
        )
        .optional()?)
}

/// The case a switched case continued in (the latest one opened from it).
pub fn continued_in(conn: &Connection, case_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .query_row("SELECT id FROM cases WHERE origin_case_id = ?1 ORDER BY id DESC LIMIT 1", [case_id], |r| r.get("id"))
        .optional()?)
}

/// Saves a transition over the revision the caller read: the new state and step, and the status
/// when the case ends; returns the new revision. When another writer saved the case since
/// (another window, a racing step, an abandon), nothing is written and the answer is
/// [`Error::Conflict`](crate::Error::Conflict): the caller's transaction must not commit.
pub fn save(
    conn: &Connection,
    id: i64,
    revision: i64,
    current_step: &str,
    state: &str,
    finished: Option<CaseOutcome>,
) -> Result<i64> {
    let status = if finished.is_some() { CaseStatus::Finished } else { CaseStatus::Open };
    let outcome = finished;
    let changed = conn.execute(
        "UPDATE cases SET current_step = ?3, state = ?4, status = ?5, outcome = coalesce(?6, outcome), revision = revision + 1,
                          updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1 AND revision = ?2",
        rusqlite::params![id, revision, current_step, state, status, outcome],
    )?;
    if changed == 0 {
        return Err(crate::Error::Conflict(format!(
            "Case {id} changed in another window or step since this one read it, so nothing was saved: reload the case."
        )));
    }
    Ok(revision + 1)
}

/// The cases a writer in this process is working on (a step running, an abandon): a second
/// writer on the same case is refused at once instead of running the step again. The revision
/// compare-and-swap in [`save`] stops writers this registry cannot see (another process).
#[derive(Debug, Default)]
pub struct Claims(Mutex<HashSet<i64>>);

/// One writer's hold on a case; dropping it (the step ended, failed or was cancelled) lets the
/// next writer in.
#[derive(Debug)]
pub struct Claim<'a> {
    claims: &'a Claims,
    case_id: i64,
}

impl Claims {
    /// Takes case `case_id` for one writer, or `None` while another writer holds it.
    pub fn claim(&self, case_id: i64) -> Option<Claim<'_>> {
        let fresh = self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(case_id);
        // (Not `then_some`: it would build, and so drop, a claim that releases the holder's.)
        fresh.then(|| Claim { claims: self, case_id })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.claims.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.case_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_has_one_writer_at_a_time_and_a_refused_claim_leaves_the_holder_s() {
        let claims = Claims::default();
        let first = claims.claim(1).expect("free");
        assert!(claims.claim(1).is_none(), "held");
        assert!(claims.claim(1).is_none(), "still held after a refused claim");
        assert!(claims.claim(2).is_some(), "another case is free");
        drop(first);
        assert!(claims.claim(1).is_some(), "released when the writer is done");
    }
}
