//! Writing a transition: the new state and its audit rows in one transaction, over the
//! revision the case was read at; a switch to another playbook opens the new case in the same
//! transaction.

use serde_json::{json, Value};

use super::super::model::Playbook;
use super::super::state::{CaseState, TicketInstance};
use super::transition::Transition;
use super::Env;
use crate::store::audit::{self, Entry};
use crate::store::cases::{self, CaseRow, NewCaseRow};
use crate::{Error, Result};

fn ticket_label(row: &CaseRow) -> String {
    format!("{}#{}", row.ticket_instance.key(), row.ticket_id)
}

pub fn entry(row: &CaseRow, pb: &Playbook, step: Option<&str>, kind: &str, payload: Value) -> Entry {
    Entry {
        case_id: Some(row.id),
        ticket: Some(ticket_label(row)),
        playbook_id: Some(pb.id.clone()),
        playbook_version: Some(pb.version.clone()),
        step: step.map(str::to_owned),
        kind: kind.to_owned(),
        payload,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn insert_case(
    conn: &rusqlite::Connection,
    env: &Env<'_>,
    pb: &Playbook,
    instance: TicketInstance,
    ticket_id: u64,
    subject: &str,
    requester: &str,
    origin: Option<i64>,
    state: &CaseState,
) -> Result<i64> {
    let state_json = serde_json::to_string(state).map_err(|e| Error::Internal(e.to_string()))?;
    cases::insert(
        conn,
        &NewCaseRow {
            profile_id: env.conns.profile().id,
            ticket_instance: instance,
            ticket_id: ticket_id as i64,
            ticket_subject: subject,
            requester,
            playbook_id: &pb.id,
            playbook_version: &pb.version,
            playbook_title: &pb.title,
            current_step: &pb.steps[0].title,
            origin_case_id: origin,
            state: &state_json,
        },
    )
}

/// Writes the new state and its audit rows in one transaction, over the revision `row` was
/// read at (compare-and-swap: when another writer saved the case meanwhile, nothing is written
/// and the answer is a conflict); returns the case to show next and moves `row` to the new
/// revision.
pub fn commit(
    env: &Env<'_>,
    agent: &str,
    row: &mut CaseRow,
    pb: &Playbook,
    st: &CaseState,
    step: &str,
    t: Transition,
) -> Result<i64> {
    let conn = env.store.conn();
    let tx = conn.unchecked_transaction()?;
    for (kind, payload) in &t.audit {
        audit::append(&tx, agent, &entry(row, pb, Some(step), kind, payload.clone()))?;
    }
    let title = pb.step(&st.cursor).map_or("finished", |(_, s)| s.title.as_str());
    let state_json = serde_json::to_string(st).map_err(|e| Error::Internal(e.to_string()))?;
    let mut shown = row.id;
    let revision = match (t.finish, &t.switch_to) {
        (Some(outcome), Some(target)) => {
            let revision = cases::save(&tx, row.id, row.revision, title, &state_json, Some(outcome))?;
            let next = env.catalog.get(target)?;
            let carried = CaseState {
                cursor: next.steps[0].id.clone(),
                facts: st.facts.clone(),
                evidence: st.evidence.clone(),
                definition: serde_json::to_value(next).unwrap_or_default(),
                ..Default::default()
            };
            let instance = row.ticket_instance;
            let id = insert_case(
                &tx,
                env,
                next,
                instance,
                row.ticket_id as u64,
                &row.ticket_subject,
                &row.requester,
                Some(row.id),
                &carried,
            )?;
            let new_row = cases::get(&tx, id)?;
            audit::append(
                &tx,
                agent,
                &entry(
                    &new_row,
                    next,
                    None,
                    "case_opened",
                    json!({"switched_from": row.id, "carried": carried.evidence.keys().collect::<Vec<_>>()}),
                ),
            )?;
            audit::append(
                &tx,
                agent,
                &entry(row, pb, Some(step), "case_switched", json!({"to_case": id, "to_playbook": target})),
            )?;
            shown = id;
            revision
        }
        (Some(outcome), None) => cases::save(&tx, row.id, row.revision, title, &state_json, Some(outcome))?,
        (None, _) => cases::save(&tx, row.id, row.revision, title, &state_json, None)?,
    };
    tx.commit()?;
    row.revision = revision;
    Ok(shown)
}

/// The audit rows of a transition alone, for a step whose write outside Casekit happened while
/// another writer saved the case: the case does not move, the record of the write is kept.
pub fn audit_only(env: &Env<'_>, agent: &str, row: &CaseRow, pb: &Playbook, step: &str, t: Transition) -> Result<()> {
    let conn = env.store.conn();
    let tx = conn.unchecked_transaction()?;
    for (kind, payload) in t.audit {
        audit::append(&tx, agent, &entry(row, pb, Some(step), &kind, payload))?;
    }
    tx.commit()?;
    Ok(())
}
