//! Profiles: which instances Casekit talks to and who the agent is. No secrets here: tokens
//! live in the OS keychain under the profile's random keychain id.

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::secrets::Keychain;
use crate::service::Service;
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

/// How CustomersDot is worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CustomersDotMode {
    /// Through the admin API contract (docs/customersdot-api.md).
    Api,
    /// In the admin screens: deep links, instructions, the agent confirms.
    Manual,
}

/// The services' addresses. An empty URL means that service is not set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSettings {
    /// Without `/api/v4`.
    pub gitlab_url: String,
    /// `https://{subdomain}.zendesk.com` (a bare subdomain is accepted on input).
    pub zendesk_url: String,
    /// The US Government instance; optional.
    pub zendesk_us_gov_url: String,
    /// `https://api.mailgun.net` (US) or `https://api.eu.mailgun.net` (EU), without `/v3`.
    pub mailgun_url: String,
    pub mailgun_domain: String,
    pub customersdot_url: String,
    pub customersdot_mode: CustomersDotMode,
}

impl ServiceSettings {
    /// The address given for a service ("" when it is not set up).
    pub fn url(&self, service: Service) -> &str {
        match service {
            Service::Gitlab => &self.gitlab_url,
            Service::Zendesk => &self.zendesk_url,
            Service::ZendeskUsGov => &self.zendesk_us_gov_url,
            Service::Mailgun => &self.mailgun_url,
            Service::Customersdot => &self.customersdot_url,
        }
    }
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
    pub is_active: bool,
    pub services: ServiceSettings,
    pub updated_at: String,
    /// Where the profile's tokens are filed in the OS keychain: random, so that another data
    /// folder's profile with the same row id never reads them. Not shown to the window.
    #[serde(skip)]
    #[ts(skip)]
    pub keychain_id: String,
}

/// What the Settings form saves: a new live profile (no id) or changes to one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileInput {
    pub id: Option<i64>,
    pub name: String,
    pub agent_name: String,
    pub agent_email: String,
    pub services: ServiceSettings,
}

const COLUMNS: &str = "id, name, kind, agent_name, agent_email, is_active, gitlab_url, zendesk_url, zendesk_us_gov_url, \
                       mailgun_url, mailgun_domain, customersdot_url, customersdot_mode, updated_at, keychain_id";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Profile> {
    let kind: String = r.get("kind")?;
    let mode: String = r.get("customersdot_mode")?;
    Ok(Profile {
        id: r.get("id")?,
        name: r.get("name")?,
        kind: if kind == "live" { ProfileKind::Live } else { ProfileKind::Sandbox },
        agent_name: r.get("agent_name")?,
        agent_email: r.get("agent_email")?,
        is_active: r.get("is_active")?,
        services: ServiceSettings {
            gitlab_url: r.get("gitlab_url")?,
            zendesk_url: r.get("zendesk_url")?,
            zendesk_us_gov_url: r.get("zendesk_us_gov_url")?,
            mailgun_url: r.get("mailgun_url")?,
            mailgun_domain: r.get("mailgun_domain")?,
            customersdot_url: r.get("customersdot_url")?,
            customersdot_mode: if mode == "manual" { CustomersDotMode::Manual } else { CustomersDotMode::Api },
        },
        updated_at: r.get("updated_at")?,
        keychain_id: r.get("keychain_id")?,
    })
}

fn no_active() -> Error {
    Error::NotFound("No profile is active. Choose one in Settings → Profiles.".into())
}

/// The profile Casekit is working with.
pub fn active(conn: &Connection) -> Result<Profile> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM profiles WHERE is_active = 1"), [], from_row).optional()?.ok_or_else(no_active)
}

/// One profile.
pub fn get(conn: &Connection, id: i64) -> Result<Profile> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM profiles WHERE id = ?1"), [id], from_row)
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("Profile {id} no longer exists. Reopen Settings.")))
}

/// Every profile, the Sandbox first, then by name.
pub fn list(conn: &Connection) -> Result<Vec<Profile>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM profiles ORDER BY kind = 'live', name COLLATE NOCASE"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Validated service settings (Zendesk subdomains become URLs; https only, except loopback).
fn clean_services(s: &ServiceSettings) -> Result<ServiceSettings> {
    Ok(ServiceSettings {
        gitlab_url: validate::service_url("GitLab URL", &s.gitlab_url).map_err(|e| e.in_field("services.gitlabUrl"))?,
        zendesk_url: validate::zendesk_url("Zendesk (global) subdomain or URL", &s.zendesk_url)
            .map_err(|e| e.in_field("services.zendeskUrl"))?,
        zendesk_us_gov_url: validate::zendesk_url("Zendesk US Government subdomain or URL", &s.zendesk_us_gov_url)
            .map_err(|e| e.in_field("services.zendeskUsGovUrl"))?,
        mailgun_url: validate::service_url("Mailgun API URL", &s.mailgun_url).map_err(|e| e.in_field("services.mailgunUrl"))?,
        mailgun_domain: validate::domain("Mailgun domain", &s.mailgun_domain)
            .map_err(|e| e.in_field("services.mailgunDomain"))?,
        customersdot_url: validate::service_url("CustomersDot URL", &s.customersdot_url)
            .map_err(|e| e.in_field("services.customersdotUrl"))?,
        customersdot_mode: s.customersdot_mode,
    })
}

/// Creates or updates a profile. The Sandbox profile keeps its name and services; only the
/// agent's identity changes there.
pub fn save(conn: &Connection, input: &ProfileInput) -> Result<Profile> {
    let agent_name = validate::text("your name", &input.agent_name, 100).map_err(|e| e.in_field("agentName"))?;
    let agent_email = validate::email("work email", &input.agent_email).map_err(|e| e.in_field("agentEmail"))?;
    let existing = input.id.map(|id| get(conn, id)).transpose()?;
    let id = match existing {
        Some(p) if p.kind == ProfileKind::Sandbox => {
            conn.execute(
                "UPDATE profiles SET agent_name = ?2, agent_email = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
                (p.id, &agent_name, &agent_email),
            )?;
            p.id
        }
        existing => {
            let name = validate::text("profile name", &input.name, 60).map_err(|e| e.in_field("name"))?;
            let s = clean_services(&input.services)?;
            let mode = if s.customersdot_mode == CustomersDotMode::Manual { "manual" } else { "api" };
            let taken: Option<i64> = conn
                .query_row("SELECT id FROM profiles WHERE name = ?1 COLLATE NOCASE AND id IS NOT ?2", (&name, input.id), |r| {
                    r.get("id")
                })
                .optional()?;
            if taken.is_some() {
                return Err(Error::InvalidField {
                    field: "name",
                    message: format!("A profile named \"{name}\" exists already: choose another name."),
                });
            }
            let values = (
                &name,
                &agent_name,
                &agent_email,
                &s.gitlab_url,
                &s.zendesk_url,
                &s.zendesk_us_gov_url,
                &s.mailgun_url,
                &s.mailgun_domain,
                &s.customersdot_url,
                mode,
            );
            match existing {
                Some(p) => {
                    conn.execute(
                        "UPDATE profiles SET name = ?1, agent_name = ?2, agent_email = ?3, gitlab_url = ?4, zendesk_url = ?5, \
                         zendesk_us_gov_url = ?6, mailgun_url = ?7, mailgun_domain = ?8, customersdot_url = ?9, customersdot_mode = ?10, \
                         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?11",
                        rusqlite::params![values.0, values.1, values.2, values.3, values.4, values.5, values.6, values.7, values.8, values.9, p.id],
                    )?;
                    p.id
                }
                None => {
                    conn.execute(
                        "INSERT INTO profiles (name, kind, agent_name, agent_email, gitlab_url, zendesk_url, zendesk_us_gov_url, \
                         mailgun_url, mailgun_domain, customersdot_url, customersdot_mode, keychain_id) \
                         VALUES (?1, 'live', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, lower(hex(randomblob(16))))",
                        rusqlite::params![values.0, values.1, values.2, values.3, values.4, values.5, values.6, values.7, values.8, values.9],
                    )?;
                    conn.last_insert_rowid()
                }
            }
        }
    };
    tracing::info!(profile_id = id, "profile saved");
    get(conn, id)
}

/// Makes a profile the one Casekit works with.
pub fn activate(conn: &mut Connection, id: i64) -> Result<Profile> {
    let tx = conn.transaction()?;
    get(&tx, id)?;
    tx.execute("UPDATE profiles SET is_active = 0 WHERE is_active = 1", [])?;
    tx.execute("UPDATE profiles SET is_active = 1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1", [id])?;
    tx.commit()?;
    tracing::info!(profile_id = id, "profile activated");
    get(conn, id)
}

/// Deletes a live profile that has no cases (its keychain entries stay: see `delete_with_tokens`).
pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    let p = get(conn, id)?;
    if p.kind == ProfileKind::Sandbox {
        return Err(Error::InvalidInput("The Sandbox profile is built in and cannot be deleted.".into()));
    }
    if p.is_active {
        return Err(Error::InvalidInput(format!("\"{}\" is the active profile: switch to another one first.", p.name)));
    }
    let cases: i64 = conn.query_row("SELECT count(*) AS cases FROM cases WHERE profile_id = ?1", [id], |r| r.get("cases"))?;
    if cases > 0 {
        return Err(Error::InvalidInput(format!(
            "\"{}\" has {cases} case(s) on record; a profile with cases is kept so the record stays complete.",
            p.name
        )));
    }
    conn.execute("DELETE FROM profiles WHERE id = ?1", [id])?;
    tracing::info!(profile_id = id, "profile deleted");
    Ok(())
}

/// `save`, keeping each live token bound to the address it was saved for: the tokens of the
/// services whose address changed are deleted from the keychain in the same transaction (never
/// sent to the new address). Returns the profile and the services whose tokens went.
pub fn save_unbinding_moved_tokens(
    conn: &Connection,
    input: &ProfileInput,
    keychain: impl FnOnce() -> Result<Keychain>,
) -> Result<(Profile, Vec<Service>)> {
    let before = input.id.map(|id| get(conn, id)).transpose()?;
    let tx = conn.unchecked_transaction()?;
    let saved = save(&tx, input)?;
    let moved: Vec<Service> = match before.filter(|b| b.kind == ProfileKind::Live) {
        Some(before) => Service::ALL.into_iter().filter(|&s| before.services.url(s) != saved.services.url(s)).collect(),
        None => Vec::new(),
    };
    if !moved.is_empty() {
        let keychain = keychain()?;
        for &service in &moved {
            keychain.delete(&saved.keychain_id, service)?;
        }
        let keys: Vec<&str> = moved.iter().map(|s| s.key()).collect();
        tracing::info!(profile_id = saved.id, services = ?keys, "service addresses changed: their tokens were removed");
    }
    tx.commit()?;
    Ok((saved, moved))
}

/// `delete` and the profile's tokens, in one transaction: a refused deletion (the Sandbox, the
/// active profile, one with cases) leaves the tokens alone, and a keychain failure keeps the row.
pub fn delete_with_tokens(conn: &Connection, id: i64, keychain: impl FnOnce() -> Result<Keychain>) -> Result<()> {
    let profile = get(conn, id)?;
    let tx = conn.unchecked_transaction()?;
    delete(&tx, id)?;
    let keychain = keychain()?;
    for service in Service::ALL {
        keychain.delete(&profile.keychain_id, service)?;
    }
    tx.commit()?;
    Ok(())
}
