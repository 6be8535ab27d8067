//! Ticket writes that wait for the network. Posting a summary first looks for its marker on the
//! ticket, so a retry after an unknown outcome never posts a second note. Account changes are
//! never queued: they need the network, and a fresh re-read, at the moment they run.

use serde::Serialize;
use serde_json::json;
use ts_rs::TS;

use super::{render_published, CaseSummary};
use crate::connectors::session::Connections;
use crate::connectors::zendesk::{NewComment, TicketUpdate, Zendesk};
use crate::service::Service;
use crate::store::audit::{self, Entry};
use crate::store::cases::{self, CaseRow};
use crate::store::Store;
use crate::{clock, Error, IpcError, Result};

/// One queued write.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    pub id: i64,
    pub case_id: i64,
    pub ticket_instance: String,
    pub ticket_id: i64,
    /// `pending`, `sent` or `discarded`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// RFC 3339: when the next automatic try is due.
    pub next_attempt_at: String,
    pub sent_comment_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// What posting a summary did.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Posted {
    /// On the ticket (`already`: it was there from an earlier post).
    Sent { comment_id: u64, already: bool },
    /// The network is away: it waits in the outbox and is retried.
    Queued { outbox_id: i64, error: IpcError },
}

/// Retries are spaced out: 30 s, 1 min, 2 min … up to 15 min.
fn backoff(attempts: i64) -> u64 {
    (30u64 << attempts.clamp(0, 5) as u32).min(900)
}

fn now_s() -> i64 {
    clock::epoch_seconds(std::time::SystemTime::now()) as i64
}

fn is_network(e: &Error) -> bool {
    matches!(e, Error::Unreachable(_) | Error::Timeout(_) | Error::ServiceFailed(_) | Error::RateLimited(_))
}

fn instance_service(instance: &str) -> Service {
    if instance == "us_gov" {
        Service::ZendeskUsGov
    } else {
        Service::Zendesk
    }
}

fn agent(conns: &Connections) -> String {
    let p = conns.profile();
    format!("{} <{}>", p.agent_name, p.agent_email)
}

fn record(store: &Store, conns: &Connections, case: &CaseRow, kind: &str, payload: serde_json::Value) -> Result<()> {
    let entry = Entry {
        case_id: Some(case.id),
        ticket: Some(format!("{}#{}", case.ticket_instance, case.ticket_id)),
        playbook_id: Some(case.playbook_id.clone()),
        playbook_version: Some(case.playbook_version.clone()),
        step: None,
        kind: kind.to_owned(),
        payload,
    };
    let conn = store.conn();
    let tx = conn.unchecked_transaction()?;
    audit::append(&tx, &agent(conns), &entry)?;
    tx.commit()?;
    Ok(())
}

/// Refuses a case of another profile than the active one: its ticket number names a ticket on
/// that profile's Zendesk (a Sandbox case's #8001 is not a live #8001), so nothing of it may be
/// posted with this profile's clients.
fn of_active_profile(conns: &Connections, case: &CaseRow) -> Result<()> {
    if case.profile_id != conns.profile().id {
        return Err(Error::NotFound(format!(
            "Case {} belongs to another profile: its ticket #{} is not this profile's ticket #{}, so nothing was posted. \
             Switch to that profile in Settings to post its summary.",
            case.id, case.ticket_id, case.ticket_id
        )));
    }
    Ok(())
}

/// The case of a waiting outbox item, refused when the item belongs to another profile.
fn pending_item_case(store: &Store, conns: &Connections, id: i64) -> Result<i64> {
    let (case_id, profile_id): (i64, i64) = store
        .conn()
        .query_row("SELECT case_id, profile_id FROM outbox WHERE id = ?1 AND state = 'pending'", [id], |r| {
            Ok((r.get("case_id")?, r.get("profile_id")?))
        })
        .map_err(|_| Error::NotFound(format!("Outbox item {id} is not waiting any more. Reload the outbox.")))?;
    if profile_id != conns.profile().id {
        return Err(Error::NotFound(format!(
            "Outbox item {id} is a note for another profile's ticket: nothing was changed. Switch to that profile in Settings to retry or discard it."
        )));
    }
    Ok(case_id)
}

/// Posts `body` as an internal note unless a comment with `marker` is on the ticket already.
async fn post_once(zd: &Zendesk, ticket: u64, marker: &str, body: &str) -> Result<(u64, bool)> {
    if let Some(c) = zd.comments(ticket).await?.into_iter().find(|c| c.body.contains(marker)) {
        return Ok((c.id, true));
    }
    let update = TicketUpdate { comment: Some(NewComment { body: body.to_owned(), public: false }), ..Default::default() };
    zd.update_ticket(ticket, &update).await?;
    let posted = zd.comments(ticket).await?.into_iter().rev().find(|c| c.body.contains(marker));
    posted
        .map(|c| (c.id, false))
        .ok_or_else(|| Error::InvalidResponse("Zendesk accepted the note but it is not on the ticket.".into()))
}

/// Posts `body` (the summary's text, perhaps with more) once and records `summary_posted`.
async fn send(store: &Store, conns: &Connections, case: &CaseRow, summary: &CaseSummary, body: &str) -> Result<(u64, bool)> {
    let zd = conns.zendesk(instance_service(&case.ticket_instance))?;
    let (comment_id, already) = post_once(&zd, case.ticket_id as u64, &summary.marker, body).await?;
    record(
        store,
        conns,
        case,
        "summary_posted",
        json!({"comment_id": comment_id, "already": already, "marker": summary.marker}),
    )?;
    Ok((comment_id, already))
}

/// Posts the case summary now, once, followed by `postscript`, or fails: nothing is queued.
/// For a step that must not go on without the summary on the ticket (closing it: a closed
/// ticket takes no more notes). Returns the note's comment id and whether it was there already.
pub async fn post_now(store: &Store, conns: &Connections, case_id: i64, postscript: &str) -> Result<(u64, bool)> {
    let case = cases::get(&store.conn(), case_id)?;
    of_active_profile(conns, &case)?;
    let summary = render_published(store, case_id)?;
    send(store, conns, &case, &summary, &format!("{}\n{postscript}\n", summary.markdown)).await
}

/// Posts the case summary to its ticket as an internal note, once; queues it when the network
/// is away.
pub async fn post_summary(store: &Store, conns: &Connections, case_id: i64) -> Result<Posted> {
    let case = cases::get(&store.conn(), case_id)?;
    of_active_profile(conns, &case)?;
    let summary: CaseSummary = render_published(store, case_id)?;
    match send(store, conns, &case, &summary, &summary.markdown).await {
        Ok((comment_id, already)) => Ok(Posted::Sent { comment_id, already }),
        Err(e) if is_network(&e) => {
            let error = IpcError::from(e);
            let conn = store.conn();
            let existing: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
                "SELECT id FROM outbox WHERE marker = ?1 AND state = 'pending'",
                [&summary.marker],
                |r| r.get("id"),
            ))?;
            let outbox_id = match existing {
                Some(id) => {
                    conn.execute("UPDATE outbox SET body = ?2, last_error = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1", rusqlite::params![id, summary.markdown, error.message])?;
                    id
                }
                None => {
                    conn.execute(
                        "INSERT INTO outbox (profile_id, case_id, ticket_instance, ticket_id, marker, body, state, attempts, last_error, next_attempt_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 1, ?7, ?8)",
                        rusqlite::params![conns.profile().id, case_id, case.ticket_instance, case.ticket_id, summary.marker,
                                          summary.markdown, error.message, now_s() + backoff(1) as i64],
                    )?;
                    conn.last_insert_rowid()
                }
            };
            drop(conn);
            record(store, conns, &case, "summary_queued", json!({"outbox_id": outbox_id, "code": error.code}))?;
            Ok(Posted::Queued { outbox_id, error })
        }
        Err(e) => Err(e),
    }
}

/// The active profile's outbox: waiting items first, then the latest sent or discarded ones.
pub fn list(conn: &rusqlite::Connection) -> Result<Vec<OutboxItem>> {
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
pub fn waiting(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) AS waiting FROM outbox WHERE state = 'pending' AND profile_id = (SELECT id FROM profiles WHERE is_active = 1)",
        [],
        |r| r.get("waiting"),
    )?)
}

/// What a flush did.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct Flushed {
    pub sent: u32,
    pub waiting: u32,
}

/// Tries the items of this profile that are due (all pending ones with `force`, or just `only`,
/// which must be a waiting item of this profile).
pub async fn flush(store: &Store, conns: &Connections, force: bool, only: Option<i64>) -> Result<Flushed> {
    if let Some(id) = only {
        pending_item_case(store, conns, id)?;
    }
    let due: Vec<(i64, i64, String, i64, String, String, i64)> = {
        let conn = store.conn();
        let mut stmt = conn.prepare(
            "SELECT id, case_id, ticket_instance, ticket_id, marker, body, attempts FROM outbox
             WHERE state = 'pending' AND profile_id = ?1 AND (?2 OR next_attempt_at <= ?3) AND (?4 IS NULL OR id = ?4) ORDER BY id",
        )?;
        let rows = stmt.query_map(rusqlite::params![conns.profile().id, force, now_s(), only], |r| {
            Ok((
                r.get("id")?,
                r.get("case_id")?,
                r.get("ticket_instance")?,
                r.get("ticket_id")?,
                r.get("marker")?,
                r.get("body")?,
                r.get("attempts")?,
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut report = Flushed::default();
    for (id, case_id, instance, ticket, marker, body, attempts) in due {
        let zd = conns.zendesk(instance_service(&instance))?;
        match post_once(&zd, ticket as u64, &marker, &body).await {
            Ok((comment_id, already)) => {
                store.conn().execute(
                    "UPDATE outbox SET state = 'sent', sent_comment_id = ?2, last_error = NULL, attempts = attempts + 1,
                                       updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
                    rusqlite::params![id, comment_id as i64],
                )?;
                let case = cases::get(&store.conn(), case_id)?;
                record(
                    store,
                    conns,
                    &case,
                    "summary_posted",
                    json!({"comment_id": comment_id, "already": already, "outbox_id": id}),
                )?;
                report.sent += 1;
            }
            Err(e) => {
                let message = IpcError::from(e).message;
                store.conn().execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3,
                                       updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
                    rusqlite::params![id, message, now_s() + backoff(attempts + 1) as i64],
                )?;
                report.waiting += 1;
            }
        }
    }
    if report.sent + report.waiting > 0 {
        tracing::info!(sent = report.sent, waiting = report.waiting, "outbox flushed");
    }
    Ok(report)
}

/// Gives up on a queued write (recorded in the case's audit log).
pub fn discard(store: &Store, conns: &Connections, id: i64, reason: &str) -> Result<()> {
    let reason = crate::validate::text("reason for discarding", reason, 500)?;
    let case_id = pending_item_case(store, conns, id)?;
    store.conn().execute(
        "UPDATE outbox SET state = 'discarded', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
        [id],
    )?;
    let case = cases::get(&store.conn(), case_id)?;
    record(store, conns, &case, "summary_discarded", json!({"outbox_id": id, "reason": reason}))
}
