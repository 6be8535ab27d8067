//! The outbox table: ticket writes waiting for the network, by profile. Every change here is
//! made inside the caller's transaction, with the audit row that records it.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;

use super::columns::OutboxState;
use crate::service::TicketInstance;
use crate::{clock, Result};

/// One queued write.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    pub id: i64,
    pub case_id: i64,
    pub ticket_instance: TicketInstance,
    pub ticket_id: i64,
    pub state: OutboxState,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// RFC 3339: when the next automatic try is due.
    pub next_attempt_at: String,
    pub sent_comment_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// A waiting write that is due.
pub struct Due {
    pub id: i64,
    pub case_id: i64,
    pub ticket_instance: TicketInstance,
    pub ticket_id: i64,
    pub marker: String,
    pub body: String,
    pub attempts: i64,
}

/// What a new queued note is.
pub struct NewItem<'a> {
    pub profile_id: i64,
    pub case_id: i64,
    pub ticket_instance: TicketInstance,
    pub ticket_id: i64,
    pub marker: &'a str,
    pub body: &'a str,
    pub error: &'a str,
    /// Epoch seconds.
    pub next_attempt_at: i64,
}

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

/// Queues a note, or (one with the same marker waits already) updates its body and error;
/// returns its id.
pub fn queue(conn: &Connection, item: &NewItem<'_>) -> Result<i64> {
    let existing: Option<i64> = conn
        .query_row("SELECT id FROM outbox WHERE marker = ?1 AND state = 'pending'", [item.marker], |r| r.get("id"))
        .optional()?;
    if let Some(id) = existing {
        conn.execute(
            &format!("UPDATE outbox SET body = ?2, last_error = ?3, updated_at = {NOW} WHERE id = ?1"),
            params![id, item.body, item.error],
        )?;
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO outbox (profile_id, case_id, ticket_instance, ticket_id, marker, body, state, attempts, last_error, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 1, ?7, ?8)",
        params![
            item.profile_id,
            item.case_id,
            item.ticket_instance,
            item.ticket_id,
            item.marker,
            item.body,
            item.error,
            item.next_attempt_at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The case and profile of a waiting item (`None` once it was sent or discarded).
pub fn pending(conn: &Connection, id: i64) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .query_row("SELECT case_id, profile_id FROM outbox WHERE id = ?1 AND state = 'pending'", [id], |r| {
            Ok((r.get("case_id")?, r.get("profile_id")?))
        })
        .optional()?)
}

/// A profile's waiting items that are due at `now` (all of them with `force`; only `only` when
/// given).
pub fn due(conn: &Connection, profile_id: i64, force: bool, now: i64, only: Option<i64>) -> Result<Vec<Due>> {
    let mut stmt = conn.prepare(
        "SELECT id, case_id, ticket_instance, ticket_id, marker, body, attempts FROM outbox
         WHERE state = 'pending' AND profile_id = ?1 AND (?2 OR next_attempt_at <= ?3) AND (?4 IS NULL OR id = ?4) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![profile_id, force, now, only], |r| {
        Ok(Due {
            id: r.get("id")?,
            case_id: r.get("case_id")?,
            ticket_instance: r.get("ticket_instance")?,
            ticket_id: r.get("ticket_id")?,
            marker: r.get("marker")?,
            body: r.get("body")?,
            attempts: r.get("attempts")?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The note is on the ticket as comment `comment_id`.
pub fn mark_sent(conn: &Connection, id: i64, comment_id: u64) -> Result<()> {
    conn.execute(
        &format!(
            "UPDATE outbox SET state = 'sent', sent_comment_id = ?2, last_error = NULL, attempts = attempts + 1, updated_at = {NOW}
             WHERE id = ?1"
        ),
        params![id, comment_id as i64],
    )?;
    Ok(())
}

/// Another try failed with `message`; the next is due at `next_attempt_at` (epoch seconds).
pub fn mark_failed(conn: &Connection, id: i64, message: &str, next_attempt_at: i64) -> Result<()> {
    conn.execute(
        &format!(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3, updated_at = {NOW} WHERE id = ?1"
        ),
        params![id, message, next_attempt_at],
    )?;
    Ok(())
}

/// The agent gave up on the item.
pub fn mark_discarded(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(&format!("UPDATE outbox SET state = 'discarded', updated_at = {NOW} WHERE id = ?1"), [id])?;
    Ok(())
}

/// The active profile's outbox: waiting items first, then the latest sent or discarded ones.
pub fn list(conn: &Connection) -> Result<Vec<OutboxItem>> {
    let mut stmt = conn.prepare(
        "SELECT id, case_id, ticket_instance, ticket_id, state, attempts, last_error, next_attempt_at, sent_comment_id, created_at, updated_at
         FROM outbox WHERE profile_id = (SELECT id FROM profiles WHERE is_active = 1)
         ORDER BY state != 'pending', updated_at DESC LIMIT 100",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(OutboxItem {
            id: r.get("id")?,
            case_id: r.get("case_id")?,
            ticket_instance: r.get("ticket_instance")?,
            ticket_id: r.get("ticket_id")?,
            state: r.get("state")?,
            attempts: r.get("attempts")?,
            last_error: r.get("last_error")?,
            next_attempt_at: clock::rfc3339(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(r.get::<_, i64>("next_attempt_at")?.max(0) as u64),
            ),
            sent_comment_id: r.get("sent_comment_id")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many writes of the active profile wait to be sent.
pub fn waiting(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) AS waiting FROM outbox WHERE state = 'pending' AND profile_id = (SELECT id FROM profiles WHERE is_active = 1)",
        [],
        |r| r.get("waiting"),
    )?)
}
