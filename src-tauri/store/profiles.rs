//! Profiles: which instances Casekit talks to and who the agent is. No secrets here.

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{validate, Error, Result};

/// Where a profile's services are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// Simulated services inside Casekit on 127.0.0.1; no real account is touched.
    Sandbox,
    /// Real GitLab, Zendesk, Mailgun and CustomersDot instances.
    Live,
}

/// A profile as the Settings view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: i64,
    pub name: String,
    pub kind: ProfileKind,
    pub agent_name: String,
    pub agent_email: String,
    pub updated_at: String,
}

/// The agent's name and email, recorded on every case and audit row.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentIdentity {
    pub name: String,
    pub email: String,
}

const COLUMNS: &str = "id, name, kind, agent_name, agent_email, updated_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Profile> {
    let kind: String = r.get(2)?;
    Ok(Profile {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: if kind == "live" { ProfileKind::Live } else { ProfileKind::Sandbox },
        agent_name: r.get(3)?,
        agent_email: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

/// The profile Casekit is working with.
pub fn active(conn: &Connection) -> Result<Profile> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM profiles WHERE is_active = 1"), [], from_row)
        .optional()?
        .ok_or_else(|| Error::NotFound("No profile is active. Restart Casekit to recreate the Sandbox profile.".into()))
}

/// Validates and saves the agent's identity on the active profile.
pub fn set_agent_identity(conn: &Connection, identity: &AgentIdentity) -> Result<Profile> {
    let name = validate::text("your name", &identity.name, 100)?;
    let email = validate::email("work email", &identity.email)?;
    let changed = conn.execute(
        "UPDATE profiles SET agent_name = ?1, agent_email = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE is_active = 1",
        (&name, &email),
    )?;
    if changed == 0 {
        return Err(Error::NotFound("No profile is active. Restart Casekit to recreate the Sandbox profile.".into()));
    }
    tracing::info!("agent identity updated on the active profile");
    active(conn)
}
