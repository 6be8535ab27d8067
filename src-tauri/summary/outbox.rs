//! Ticket writes that wait for the network. Posting a summary first looks for its marker on the
//! ticket, so a retry after an unknown outcome never posts a second note. Account changes are
//! never queued: they need the network, and a fresh re-read, at the moment they run.

use serde::Serialize;
use serde_json::json;
use ts_rs::TS;

use super::{render_published, CaseSummary};
use crate::connectors::session::Connections;
use crate::connectors::zendesk::{NewComment, TicketUpdate, Zendesk};
use crate::store::audit::{self, Entry};
use crate::store::cases::{self, CaseRow};
use crate::store::outbox;
use crate::store::Store;
use crate::{clock, Error, IpcError, Result};

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

fn agent(conns: &Connections) -> String {
    let p = conns.profile();
    format!("{} <{}>", p.agent_name, p.agent_email)
}

/// Records `kind` in the case's audit log in one transaction with `change` (the outbox row it
/// is about): both are written, or neither.
fn record<T>(
    store: &Store,
    conns: &Connections,
    case: &CaseRow,
    kind: &str,
    change: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    payload: impl FnOnce(&T) -> serde_json::Value,
) -> Result<T> {
    let conn = store.conn();
    let tx = conn.unchecked_transaction()?;
    let changed = change(&tx)?;
    let entry = Entry {
        case_id: Some(case.id),
        ticket: Some(format!("{}#{}", case.ticket_instance.key(), case.ticket_id)),
        playbook_id: Some(case.playbook_id.clone()),
        playbook_version: Some(case.playbook_version.clone()),
        step: None,
        kind: kind.to_owned(),
        payload: payload(&changed),
    };
    audit::append(&tx, &agent(conns), &entry)?;
    tx.commit()?;
    Ok(changed)
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
    let (case_id, profile_id) = outbox::pending(&store.conn(), id)?
        .ok_or_else(|| Error::NotFound(format!("Outbox item {id} is not waiting any more. Reload the outbox.")))?;
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
    let zd = conns.zendesk(case.ticket_instance.service())?;
    let (comment_id, already) = post_once(&zd, case.ticket_id as u64, &summary.marker, body).await?;
    let payload = json!({"comment_id": comment_id, "already": already, "marker": summary.marker});
    record(store, conns, case, "summary_posted", |_| Ok(()), |_| payload)?;
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
            let item = outbox::NewItem {
                profile_id: conns.profile().id,
                case_id,
                ticket_instance: case.ticket_instance,
                ticket_id: case.ticket_id,
                marker: &summary.marker,
                body: &summary.markdown,
                error: &error.message,
                next_attempt_at: now_s() + backoff(1) as i64,
            };
            let outbox_id = record(
                store,
                conns,
                &case,
                "summary_queued",
                |tx| outbox::queue(tx, &item),
                |id| json!({"outbox_id": id, "code": error.code}),
            )?;
            Ok(Posted::Queued { outbox_id, error })
        }
        Err(e) => Err(e),
    }
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
    let due = outbox::due(&store.conn(), conns.profile().id, force, now_s(), only)?;
    let mut report = Flushed::default();
    for item in due {
        let zd = conns.zendesk(item.ticket_instance.service())?;
        match post_once(&zd, item.ticket_id as u64, &item.marker, &item.body).await {
            Ok((comment_id, already)) => {
                let case = cases::get(&store.conn(), item.case_id)?;
                record(
                    store,
                    conns,
                    &case,
                    "summary_posted",
                    |tx| outbox::mark_sent(tx, item.id, comment_id),
                    |_| json!({"comment_id": comment_id, "already": already, "outbox_id": item.id}),
                )?;
                report.sent += 1;
            }
            Err(e) => {
                let message = IpcError::from(e).message;
                outbox::mark_failed(&store.conn(), item.id, &message, now_s() + backoff(item.attempts + 1) as i64)?;
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
    let case = cases::get(&store.conn(), case_id)?;
    record(
        store,
        conns,
        &case,
        "summary_discarded",
        |tx| outbox::mark_discarded(tx, id),
        |_| json!({"outbox_id": id, "reason": reason}),
    )
}
