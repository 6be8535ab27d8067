//! The cases list: every case is a draft bound to one ticket until it is finished.

use rusqlite::Connection;
use serde::Serialize;
use ts_rs::TS;

use crate::Result;

/// One row of the Cases view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseListItem {
    pub id: i64,
    /// `global` or `us_gov`: the Zendesk instance the ticket lives on.
    pub ticket_instance: String,
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
            id: r.get(0)?,
            ticket_instance: r.get(1)?,
            ticket_id: r.get(2)?,
            playbook_title: r.get(3)?,
            current_step: r.get(4)?,
            updated_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
