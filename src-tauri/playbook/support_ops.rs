//! Zendesk support operations behind the "Working tickets" playbooks: the lookups of the
//! ticket's requester and organization, and the user, organization and ticket changes. Each
//! change re-reads first, skips what is already so, and verifies afterwards.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::actions::{CallRecord, PlannedCall};
use super::engine::Env;
use super::lookups::Found;
use super::state::{CaseState, Evidence, Fact, Link};
use crate::clock;
use crate::connectors::session::Connections;
use crate::connectors::zendesk::{CustomField, FormCondition, TicketField, TicketForm, TicketUpdate, UserUpdate, Zendesk};
use crate::connectors::Service;
use crate::summary::{self, outbox};
use crate::{Error, Result};

pub const LOOKUPS: &[&str] =
    &["zendesk_requester", "zendesk_organization", "gitlab_secondary_emails", "zendesk_target_user", "zendesk_ticket_form"];
pub const ACTIONS: &[&str] = &[
    "suspend_user",
    "add_user_note",
    "delete_user_sessions",
    "close_ticket",
    "solve_ticket",
    "associate_organization",
    "add_zendesk_identity",
    "update_ticket_form",
];

/// The support contacts an organization may have.
pub const CONTACT_LIMIT: usize = 30;

fn fact<'a>(state: &'a CaseState, key: &str) -> Result<&'a str> {
    state.fact(key, "This step")
}

fn number(state: &CaseState, key: &str) -> Result<u64> {
    fact(state, key)?
        .trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| Error::InvalidInput(format!("The {} must be a number.", key.replace('_', " "))))
}

pub(crate) fn zendesk(conns: &Connections, state: &CaseState) -> Result<Zendesk> {
    let service = if state.facts.get("ticket_instance").map(String::as_str) == Some("us_gov") {
        Service::ZendeskUsGov
    } else {
        Service::Zendesk
    };
    conns.zendesk(service)
}

fn base(state: &CaseState) -> String {
    let url = state.facts.get("ticket_url").cloned().unwrap_or_default();
    url.split("/agent/").next().unwrap_or_default().to_owned()
}

/// The ticket's requester: role, suspension, sessions, notes.
async fn requester(conns: &Connections, state: &CaseState) -> Result<Found> {
    let zd = zendesk(conns, state)?;
    let id = number(state, "requester_id")?;
    let user = zd.user(id).await?;
    let sessions = zd.sessions(id).await?.len();
    let rows = vec![
        Fact::new("User", format!("{} <{}>, id {}", user.name, user.email.clone().unwrap_or_default(), user.id)),
        Fact::judged("Role", user.role.clone(), user.role == "end-user"),
        Fact::new("Suspended", if user.suspended { "yes" } else { "no" }),
        Fact::new("Active sessions", sessions.to_string()),
        Fact::new("User notes", user.notes.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "none".into())),
    ];
    let data = json!({"user": user, "sessions": sessions});
    let links = vec![Link { label: "Zendesk: the user".into(), url: format!("{}/agent/users/{id}", base(state)) }];
    Ok(Found { evidence: Evidence { title: "Requester".into(), at: clock::now(), data, rows, links }, facts: BTreeMap::new() })
}

/// The organization the requester asks to join: its contacts and account manager.
async fn organization(conns: &Connections, state: &CaseState) -> Result<Found> {
    let zd = zendesk(conns, state)?;
    let id = number(state, "organization_id")?;
    let org = zd.organization(id).await?;
    let members = zd.organization_memberships(id).await?;
    let requester = number(state, "requester_id")?;
    let already = members.iter().any(|m| m.user_id == requester);
    let manager = org.organization_fields.get("account_manager_email").and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let rows = vec![
        Fact::new("Organization", format!("{} (id {})", org.name, org.id)),
        Fact::judged("Support contacts", format!("{} of {CONTACT_LIMIT}", members.len()), members.len() < CONTACT_LIMIT),
        Fact::new("Requester already a member", if already { "yes" } else { "no" }),
        Fact::new("Account manager", if manager.is_empty() { "not set on the organization".to_owned() } else { manager.clone() }),
    ];
    let mut facts = BTreeMap::new();
    facts.insert("organization_name".to_owned(), org.name.clone());
    if !manager.is_empty() {
        facts.insert("account_manager_email".to_owned(), manager);
    }
    let data = json!({"organization": org, "contacts": members.len(), "already_member": already});
    let links = vec![Link { label: format!("Zendesk: {}", org.name), url: format!("{}/agent/organizations/{id}", base(state)) }];
    Ok(Found { evidence: Evidence { title: "Organization".into(), at: clock::now(), data, rows, links }, facts })
}

/// GitLab.com users: the account must be the requester's (it holds the ticket requester's
/// email as primary or verified secondary), and the address a verified secondary email on it.
async fn gitlab_emails(conns: &Connections, state: &CaseState) -> Result<Found> {
    let gl = conns.gitlab()?;
    let username = fact(state, "gitlab_username")?;
    let wanted = fact(state, "new_email")?.to_lowercase();
    let user = gl
        .user_by_username(username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("No GitLab.com user is named @{username}.")))?;
    let (account, addresses) = super::lookups::verified_addresses(&gl, user.id).await?;
    let (tie, tie_row) = super::lookups::requester_tie(conns, state, &account, &addresses).await?;
    let emails = gl.secondary_emails(&account).await?;
    let listed = emails.iter().find(|e| e.email.eq_ignore_ascii_case(&wanted));
    let verified = listed.is_some_and(|e| e.confirmed_at.is_some());
    let rows = vec![
        Fact::new("GitLab.com account", format!("@{} (id {})", user.username, user.id)),
        tie_row,
        Fact::judged(
            &format!("{wanted} on the account"),
            match listed {
                Some(e) if e.confirmed_at.is_some() => "verified secondary email".to_owned(),
                Some(_) => "listed but not verified".to_owned(),
                None => "not listed".to_owned(),
            },
            verified,
        ),
    ];
    let mut facts = BTreeMap::new();
    facts.insert("target_user_id".to_owned(), fact(state, "requester_id")?.to_owned());
    let gitlab = gl.base_url().as_str().trim_end_matches('/').to_owned();
    let links =
        vec![Link { label: format!("GitLab admin: @{}", user.username), url: format!("{gitlab}/admin/users/{}", user.username) }];
    let data = json!({"verified": verified, "listed": listed.is_some(), "email": wanted, "requester_tie": tie});
    Ok(Found { evidence: Evidence { title: "GitLab.com emails".into(), at: clock::now(), data, rows, links }, facts })
}

/// Self-Managed, Dedicated, Partners: the support-portal profile whose primary address was
/// given, whose owner must confirm on the ticket (the one person whose reply counts), and the
/// ticket's requester, who must be the address to add writing in.
async fn target_user(conns: &Connections, state: &CaseState) -> Result<Found> {
    let zd = zendesk(conns, state)?;
    let primary = fact(state, "primary_email")?;
    let users = zd.users_by_email(primary).await?;
    let user = match users.as_slice() {
        [one] => one,
        [] => {
            return Err(Error::NotFound(format!(
                "No support-portal user has exactly {primary} (as primary email or verified address). \
                 Check the address the customer gave; Casekit ignores lookalike addresses on purpose."
            )))
        }
        several => {
            return Err(Error::InvalidInput(format!(
                "{} support-portal users hold {primary} (ids {}): Casekit will not guess which profile is the customer's. \
                 Check them in Zendesk and resolve the duplicate first.",
                several.len(),
                several.iter().map(|u| u.id.to_string()).collect::<Vec<_>>().join(", ")
            )))
        }
    };
    let profile_primary = user.email.clone().unwrap_or_default();
    if !profile_primary.eq_ignore_ascii_case(primary) {
        return Err(Error::InvalidInput(format!(
            "{primary} is a secondary address of the profile of {} <{profile_primary}>: its primary address must confirm. \
             Enter {profile_primary} as the primary address.",
            user.name
        )));
    }
    let identities = zd.identities(user.id).await?;
    let requester = zd.user(number(state, "requester_id")?).await?;
    let requester_email = requester.email.clone().unwrap_or_default();
    let new_email = fact(state, "new_email")?;
    let from_new = requester_email.eq_ignore_ascii_case(new_email);
    let rows = vec![
        Fact::new(
            "Support-portal profile",
            format!("{} <{}>, id {}", user.name, user.email.clone().unwrap_or_default(), user.id),
        ),
        Fact::new(
            "Email identities",
            identities
                .iter()
                .map(|i| format!("{}{}", i.value, if i.primary { " (primary)" } else { "" }))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Fact::judged(
            "Ticket submitted from",
            format!(
                "{requester_email} (Zendesk user {}){}",
                requester.id,
                if from_new { ", the address to add".to_owned() } else { format!(", not {new_email}") }
            ),
            from_new && requester.id != user.id,
        ),
        Fact::new("Who must confirm", format!("{} <{profile_primary}>, Zendesk user {}", user.name, user.id)),
    ];
    let mut facts = BTreeMap::new();
    facts.insert("target_user_id".to_owned(), user.id.to_string());
    let answerer = super::consent::Answerer {
        role: "primary_address".into(),
        user_id: user.id,
        name: user.name.clone(),
        email: profile_primary.clone(),
        why: format!("{profile_primary} is the primary address of the profile {new_email} would be added to"),
    };
    let data = json!({"user": user, "identities": identities, "answerer": answerer,
                      "requester": {"id": requester.id, "email": requester_email}, "new_email": new_email});
    let links = vec![Link { label: "Zendesk: the profile".into(), url: format!("{}/agent/users/{}", base(state), user.id) }];
    Ok(Found { evidence: Evidence { title: "Support-portal profile".into(), at: clock::now(), data, rows, links }, facts })
}

/// The ticket's form, tags and fields, the forms it could move to, and the field definitions
/// (which fields are Zendesk's own, which are required) the gate judges by.
async fn ticket_form(conns: &Connections, state: &CaseState) -> Result<Found> {
    let zd = zendesk(conns, state)?;
    let ticket = zd.ticket(number(state, "ticket_id")?).await?;
    let forms = zd.ticket_forms().await?;
    let fields = zd.ticket_fields().await?;
    let name =
        |id: Option<u64>| forms.iter().find(|f| Some(f.id) == id).map_or("none".to_owned(), |f| format!("{} ({})", f.name, f.id));
    let rows = vec![
        Fact::new("Current form", name(ticket.ticket_form_id)),
        Fact::new("Tags", if ticket.tags.is_empty() { "none".to_owned() } else { ticket.tags.join(", ") }),
        Fact::new(
            "Fields with values",
            if ticket.custom_fields.is_empty() {
                "none".to_owned()
            } else {
                ticket.custom_fields.iter().map(|f| format!("{}={}", f.id, f.value)).collect::<Vec<_>>().join(", ")
            },
        ),
        Fact::new(
            "Forms",
            forms
                .iter()
                .filter(|f| f.active)
                .map(|f| {
                    let custom: Vec<String> = f
                        .ticket_field_ids
                        .iter()
                        .filter_map(|id| fields.iter().find(|d| d.id == *id && d.active && !d.is_system()))
                        .map(|d| format!("{} {}{}", d.id, d.title, if d.required { " (required)" } else { "" }))
                        .collect();
                    format!(
                        "{} ({}): {}",
                        f.name,
                        f.id,
                        if custom.is_empty() { "no custom fields".into() } else { custom.join(", ") }
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
    ];
    let data = json!({"ticket": ticket, "forms": forms, "fields": fields});
    let links =
        vec![Link { label: "Zendesk: the ticket".into(), url: state.facts.get("ticket_url").cloned().unwrap_or_default() }];
    Ok(Found { evidence: Evidence { title: "Ticket form".into(), at: clock::now(), data, rows, links }, facts: BTreeMap::new() })
}

/// `id=value` lines (or comma-separated) the agent filled in for the target form's fields.
pub fn field_values(state: &CaseState) -> Result<Vec<(u64, String)>> {
    let text = state.facts.get("field_values").cloned().unwrap_or_default();
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (id, value) = p.split_once('=').ok_or_else(|| Error::InvalidInput(format!("“{p}” is not field_id=value.")))?;
            let id = id.trim().parse().map_err(|_| Error::InvalidInput(format!("“{id}” is not a field id.")))?;
            Ok((id, value.trim().to_owned()))
        })
        .collect()
}

/// The form lookup's snapshot, read back: the forms and the field definitions.
fn form_evidence(state: &CaseState) -> Result<(Vec<TicketForm>, Vec<TicketField>, &Value)> {
    let data = &state
        .evidence
        .get("zendesk_ticket_form")
        .ok_or_else(|| Error::OutOfOrder("Look up the ticket's form first.".into()))?
        .data;
    let stale = || Error::OutOfOrder("The form lookup predates field definitions: fetch the evidence again (Refresh).".into());
    let forms = serde_json::from_value(data.get("forms").cloned().ok_or_else(stale)?).map_err(|_| stale())?;
    let fields = serde_json::from_value(data.get("fields").cloned().ok_or_else(stale)?).map_err(|_| stale())?;
    Ok((forms, fields, &data["ticket"]))
}

/// A field value as text, to compare with a condition's value (`true`, `"runner"`, `3`).
fn as_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a field's value counts as filled in (an unticked checkbox does not).
fn filled(field: &TicketField, value: &str) -> bool {
    !value.trim().is_empty() && (field.kind != "checkbox" || value != "false")
}

/// The custom fields an agent must fill in on `form`, given the field `values` (ticket and
/// agent): active custom fields required for agents; a field a condition controls only while
/// that condition holds (its parent shown and holding the value), required as the condition
/// says. Zendesk's own fields (subject, description, status, type, priority, group, assignee …)
/// are never demanded: the ticket carries them itself.
pub fn demanded_fields<'a>(form: &TicketForm, fields: &'a [TicketField], values: &BTreeMap<u64, String>) -> Vec<&'a TicketField> {
    form.ticket_field_ids
        .iter()
        .filter_map(|id| fields.iter().find(|f| f.id == *id))
        .filter(|f| f.active && !f.is_system())
        .filter(|f| {
            let mut conditions = controlling(form, f.id).peekable();
            if conditions.peek().is_none() {
                return f.required;
            }
            conditions.filter(|c| holds(form, c, values, 0)).any(|c| {
                c.child_fields.iter().any(|ch| {
                    ch.id == f.id && ch.is_required && ch.required_on_statuses.as_ref().is_none_or(|r| r.kind != "NO_STATUSES")
                })
            })
        })
        .filter(|f| !values.get(&f.id).is_some_and(|v| filled(f, v)))
        .collect()
}

/// The conditions of `form` that show or hide field `id`.
fn controlling(form: &TicketForm, id: u64) -> impl Iterator<Item = &FormCondition> {
    form.agent_conditions.iter().filter(move |c| c.child_fields.iter().any(|ch| ch.id == id))
}

/// Whether a condition holds: its parent has the value and is shown itself (a parent may be
/// another condition's child; followed a few levels deep).
fn holds(form: &TicketForm, c: &FormCondition, values: &BTreeMap<u64, String>, depth: u8) -> bool {
    let mut parent_conditions = controlling(form, c.parent_field_id).peekable();
    let parent_shown =
        parent_conditions.peek().is_none() || (depth < 8 && parent_conditions.any(|p| holds(form, p, values, depth + 1)));
    parent_shown && values.get(&c.parent_field_id).is_some_and(|v| *v == as_text(&c.value))
}

/// The fields the chosen form demands that neither the ticket nor the agent's values fill in.
pub fn missing_fields(state: &CaseState) -> Result<Vec<TicketField>> {
    let (forms, fields, ticket) = form_evidence(state)?;
    let target = number(state, "target_form_id")?;
    let form = forms.iter().find(|f| f.id == target).ok_or_else(|| {
        Error::InvalidInput(format!("Form {target} is not one of this instance's forms: pick one from the evidence."))
    })?;
    let mut values: BTreeMap<u64, String> = ticket["custom_fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| Some((f["id"].as_u64()?, as_text(&f["value"]))))
        .collect();
    for (id, text) in field_values(state)? {
        values.insert(id, as_text(&typed_value(fields.iter().find(|f| f.id == id), id, &text)?));
    }
    Ok(demanded_fields(form, &fields, &values).into_iter().cloned().collect())
}

/// The agent's text for a field, as the field's type wants it (a checkbox takes true/false).
fn typed_value(field: Option<&TicketField>, id: u64, text: &str) -> Result<Value> {
    let kind = field.map_or("text", |f| f.kind.as_str());
    let bad = |what: &str| Error::InvalidInput(format!("Field {id} takes {what}; “{text}” is not one."));
    Ok(match kind {
        "checkbox" => match text.to_lowercase().as_str() {
            "true" | "yes" | "1" => json!(true),
            "false" | "no" | "0" => json!(false),
            _ => return Err(bad("true or false")),
        },
        "integer" => json!(text.parse::<i64>().map_err(|_| bad("a whole number"))?),
        "decimal" => json!(text.parse::<f64>().map_err(|_| bad("a number"))?),
        _ => json!(text),
    })
}

/// Runs one of this module's lookups.
pub async fn lookup(name: &str, conns: &Connections, state: &CaseState) -> Result<Found> {
    match name {
        "zendesk_requester" => requester(conns, state).await,
        "zendesk_organization" => organization(conns, state).await,
        "gitlab_secondary_emails" => gitlab_emails(conns, state).await,
        "zendesk_target_user" => target_user(conns, state).await,
        "zendesk_ticket_form" => ticket_form(conns, state).await,
        other => Err(Error::Internal(format!("unknown lookup {other}"))),
    }
}

fn call(method: &str, path: String, change: String) -> PlannedCall {
    PlannedCall { method: method.into(), path, change }
}

/// The user note line: the ticket and the reason.
fn user_note(state: &CaseState) -> String {
    format!(
        "{} | suspended as malicious: {} | {}",
        clock::today(),
        state.facts.get("malicious_reason").cloned().unwrap_or_default(),
        state.facts.get("ticket_url").cloned().unwrap_or_default()
    )
}

/// The preview of a change.
pub fn plan(name: &str, state: &CaseState) -> Result<Vec<PlannedCall>> {
    let user = fact(state, "requester_id").unwrap_or(":id");
    let ticket = fact(state, "ticket_id").unwrap_or(":id");
    if name == "close_ticket" {
        let path = format!("/api/v2/tickets/{ticket}");
        return Ok(vec![
            call("PUT", path.clone(), "comments: + the case summary, as an internal note (once)".into()),
            call("PUT", path, "status → closed (it can never change again: the summary goes first)".into()),
        ]);
    }
    Ok(vec![match name {
        "suspend_user" => call("PUT", format!("/api/v2/users/{user}"), "suspended: false → true".into()),
        "add_user_note" => call("PUT", format!("/api/v2/users/{user}"), format!("notes: + “{}”", user_note(state))),
        "delete_user_sessions" => call("DELETE", format!("/api/v2/users/{user}/sessions"), "sessions: all → none".into()),
        "solve_ticket" => call("PUT", format!("/api/v2/tickets/{ticket}"), "status → solved".into()),
        "add_zendesk_identity" if from_requester(state) => call(
            "PUT",
            format!("/api/v2/users/{user}/merge"),
            format!(
                "the requester's user {user} ({}) merged into profile {}: the address becomes a secondary email (never primary), its tickets move to the profile",
                state.facts.get("new_email").cloned().unwrap_or_default(),
                state.facts.get("target_user_id").cloned().unwrap_or_default()
            ),
        ),
        "add_zendesk_identity" => call(
            "POST",
            format!("/api/v2/users/{}/identities", state.facts.get("target_user_id").cloned().unwrap_or_default()),
            format!(
                "email identities: + {} (secondary, never primary)",
                state.facts.get("new_email").cloned().unwrap_or_default()
            ),
        ),
        "update_ticket_form" => call(
            "PUT",
            format!("/api/v2/tickets/{ticket}"),
            format!(
                "form → {}; fields: {}; stage: {} (one update)",
                state.facts.get("target_form_id").cloned().unwrap_or_default(),
                state.facts.get("field_values").cloned().unwrap_or_else(|| "unchanged".into()),
                state.facts.get("stage").cloned().unwrap_or_default()
            ),
        ),
        "associate_organization" => call(
            "POST",
            "/api/v2/organization_memberships".into(),
            format!("{}: + the requester (user {user})", state.facts.get("organization_name").cloned().unwrap_or_default()),
        ),
        other => return Err(Error::Internal(format!("unknown support action {other}"))),
    }])
}

/// Whether the address to add is the requester's own (the ticket came from it, as the
/// Self-Managed flow requires) and the profile another user's: then the two users are merged.
fn from_requester(state: &CaseState) -> bool {
    state.evidence.get("zendesk_target_user").is_some_and(|e| {
        let d = &e.data;
        let from = d["requester"]["email"].as_str().unwrap_or_default();
        !from.is_empty()
            && state.facts.get("new_email").is_some_and(|n| n.eq_ignore_ascii_case(from))
            && d["requester"]["id"] != d["user"]["id"]
    })
}

/// What to type to confirm: the requester's email for changes to their user.
pub fn confirmation_text(name: &str, state: &CaseState) -> Option<String> {
    match name {
        "suspend_user" | "delete_user_sessions" | "close_ticket" => state.facts.get("requester_email").cloned(),
        _ => None,
    }
}

fn record(calls: &mut Vec<CallRecord>, method: &str, path: String, result: impl Into<String>) {
    calls.push(CallRecord { method: method.into(), path, result: result.into() });
}

/// Sets the ticket's status unless it is so already (or closed: nothing changes a closed
/// ticket), and reads it back.
async fn set_status(zd: &Zendesk, ticket_id: u64, target: &str, calls: &mut Vec<CallRecord>) -> Result<Fact> {
    let path = format!("/api/v2/tickets/{ticket_id}");
    let status = zd.ticket(ticket_id).await?.status;
    if status == target || status == "closed" {
        record(calls, "PUT", path, format!("skipped: the ticket is {status}"));
    } else {
        zd.update_ticket(ticket_id, &TicketUpdate { status: Some(target.into()), ..Default::default() }).await?;
        record(calls, "PUT", path, format!("done: status {target}"));
    }
    let now = zd.ticket(ticket_id).await?.status;
    if now != target && now != "closed" {
        return Err(Error::InvalidResponse(format!("The ticket is {now}, not {target}.")));
    }
    Ok(Fact::judged("Ticket status", now, true))
}

/// Ends the summary note the ban's last step posts.
const CLOSING_NOTE: &str =
    "_Casekit closes this ticket right after this note: a closed ticket takes no more notes. The case's audit log keeps the rest._";

/// The ban's last step, `close_ticket`: the case summary goes on the ticket as an internal note
/// (once: a retry finds it by its marker), then the ticket is closed, for good. A closed ticket
/// takes no more notes, so the order is fixed; on a ticket closed already the summary can only be
/// looked for.
pub async fn close_with_summary(
    env: &Env<'_>,
    case_id: i64,
    state: &CaseState,
    calls: &mut Vec<CallRecord>,
) -> Result<Vec<Fact>> {
    let zd = zendesk(env.conns, state)?;
    let ticket_id = number(state, "ticket_id")?;
    let label = "Case summary on the ticket";
    let summary = if zd.ticket(ticket_id).await?.status == "closed" {
        let marker = summary::render(&env.store.conn(), case_id)?.marker;
        match zd.comments(ticket_id).await?.into_iter().find(|c| c.body.contains(&marker)) {
            Some(note) => Fact::judged(label, format!("internal note {}", note.id), true),
            None => Fact::judged(
                label,
                "missing: the ticket was closed before Casekit could post it; save or copy the summary at the next step",
                false,
            ),
        }
    } else {
        let (note, already) = outbox::post_now(env.store, env.conns, case_id, CLOSING_NOTE).await?;
        let path = format!("/api/v2/tickets/{ticket_id}");
        if already {
            record(calls, "PUT", path, format!("skipped: the case summary is on the ticket (comment {note})"));
        } else {
            record(calls, "PUT", path, format!("done: case summary posted as internal note {note}"));
        }
        Fact::judged(label, format!("internal note {note}"), true)
    };
    Ok(vec![summary, set_status(&zd, ticket_id, "closed", calls).await?])
}

/// Runs a support change: re-read, change unless already so, verify.
pub async fn run(name: &str, conns: &Connections, state: &CaseState, calls: &mut Vec<CallRecord>) -> Result<Vec<Fact>> {
    let zd = zendesk(conns, state)?;
    let user_id = number(state, "requester_id")?;
    let ticket_id = number(state, "ticket_id")?;
    let user_path = format!("/api/v2/users/{user_id}");
    let ticket_path = format!("/api/v2/tickets/{ticket_id}");
    match name {
        "suspend_user" => {
            let user = zd.user(user_id).await?;
            if user.role != "end-user" {
                return Err(Error::StaleEvidence(format!(
                    "{} is a Zendesk {} now, not an end user: do not suspend; escalate.",
                    user.name, user.role
                )));
            }
            if user.suspended {
                record(calls, "PUT", user_path, "skipped: already suspended");
            } else {
                zd.update_user(user_id, &UserUpdate { suspended: Some(true), notes: None }).await?;
                record(calls, "PUT", user_path, "done");
            }
            let ok = zd.user(user_id).await?.suspended;
            if !ok {
                return Err(Error::InvalidResponse("Zendesk does not show the user as suspended.".into()));
            }
            Ok(vec![Fact::judged("Suspended", "yes", true)])
        }
        "add_user_note" => {
            let line = user_note(state);
            let before = zd.user(user_id).await?.notes.unwrap_or_default();
            if before.lines().any(|l| l.trim() == line) {
                record(calls, "PUT", user_path, "skipped: the note is there");
            } else {
                let notes = if before.trim().is_empty() { line.clone() } else { format!("{}\n{line}", before.trim_end()) };
                zd.update_user(user_id, &UserUpdate { suspended: None, notes: Some(notes) }).await?;
                record(calls, "PUT", user_path, "done: note appended");
            }
            let after = zd.user(user_id).await?.notes.unwrap_or_default();
            if !(after.starts_with(before.trim_end()) && after.contains(&line)) {
                return Err(Error::InvalidResponse("The user note does not read back as written.".into()));
            }
            Ok(vec![Fact::judged("User note", line, true)])
        }
        "delete_user_sessions" => {
            let before = zd.sessions(user_id).await?.len();
            if before == 0 {
                record(calls, "DELETE", format!("{user_path}/sessions"), "skipped: no sessions");
            } else {
                zd.delete_sessions(user_id).await?;
                record(calls, "DELETE", format!("{user_path}/sessions"), format!("done: {before} deleted"));
            }
            let left = zd.sessions(user_id).await?.len();
            if left > 0 {
                return Err(Error::InvalidResponse(format!("{left} session(s) are still active.")));
            }
            Ok(vec![Fact::judged("Active sessions", "none", true)])
        }
        "solve_ticket" => Ok(vec![set_status(&zd, ticket_id, "solved", calls).await?]),
        "associate_organization" => {
            let org = number(state, "organization_id")?;
            let members = zd.organization_memberships(org).await?;
            if members.iter().any(|m| m.user_id == user_id) {
                record(calls, "POST", "/api/v2/organization_memberships".into(), "skipped: already a member");
            } else {
                if members.len() >= CONTACT_LIMIT {
                    return Err(Error::StaleEvidence(format!(
                        "The organization has {} contacts now: the limit is {CONTACT_LIMIT}.",
                        members.len()
                    )));
                }
                let m = zd.add_organization_membership(user_id, org).await?;
                record(calls, "POST", "/api/v2/organization_memberships".into(), format!("done: membership {}", m.id));
            }
            let ok = zd.organization_memberships(org).await?.iter().any(|m| m.user_id == user_id);
            if !ok {
                return Err(Error::InvalidResponse("The organization does not list the requester.".into()));
            }
            Ok(vec![Fact::judged("Organization membership", "added", true)])
        }
        "update_ticket_form" => {
            let form = number(state, "target_form_id")?;
            let stage_tag = format!("stage_{}", fact(state, "stage")?.to_lowercase());
            let ticket = zd.ticket(ticket_id).await?;
            let done = ticket.ticket_form_id == Some(form) && ticket.tags.contains(&stage_tag);
            let mut tags: Vec<String> = ticket.tags.into_iter().filter(|t| !t.starts_with("stage_")).collect();
            tags.push(stage_tag.clone());
            let (_, definitions, _) = form_evidence(state)?;
            let fields = field_values(state)?
                .into_iter()
                .map(|(id, text)| Ok(CustomField { id, value: typed_value(definitions.iter().find(|d| d.id == id), id, &text)? }))
                .collect::<Result<Vec<_>>>()?;
            if done && fields.is_empty() {
                record(calls, "PUT", ticket_path, "skipped: the ticket already has the form and stage");
            } else {
                let update = TicketUpdate {
                    ticket_form_id: Some(form),
                    tags: Some(tags),
                    custom_fields: (!fields.is_empty()).then_some(fields.clone()),
                    ..Default::default()
                };
                zd.update_ticket(ticket_id, &update).await?;
                record(calls, "PUT", ticket_path, "done");
            }
            let after = zd.ticket(ticket_id).await?;
            let fields_set = fields.iter().all(|f| after.custom_fields.iter().any(|c| c.id == f.id && c.value == f.value));
            if after.ticket_form_id != Some(form) || !after.tags.contains(&stage_tag) || !fields_set {
                return Err(Error::InvalidResponse("The ticket does not read back with the new form, fields and stage.".into()));
            }
            Ok(vec![Fact::judged("Ticket", format!("form {form}, {stage_tag}, {} field(s) set", fields.len()), true)])
        }
        "add_zendesk_identity" => {
            let target = number(state, "target_user_id")?;
            let email = fact(state, "new_email")?;
            let path = format!("/api/v2/users/{target}/identities");
            let before = zd.identities(target).await?.into_iter().find(|i| i.value.eq_ignore_ascii_case(email));
            if let Some(existing) = &before {
                let what = if existing.primary { "primary" } else { "secondary" };
                record(calls, "POST", path, format!("skipped: the address is on the profile already ({what})"));
                return Ok(vec![Fact::judged("Email on the profile", format!("{email} (already there, {what})"), true)]);
            }
            // The ticket came from the address (Self-Managed, Dedicated, Partners), so Zendesk
            // made a user of it: that user, the requester, is merged into the profile. An address
            // held by anyone else is never moved.
            let holders = zd.users_by_email(email).await?;
            match holders.as_slice() {
                [] => {
                    let added = zd.add_email_identity(target, email, true).await?;
                    record(calls, "POST", path, format!("done: identity {}", added.id));
                }
                [h] if h.id == user_id && h.id != target => {
                    zd.merge_user(h.id, target).await?;
                    record(calls, "PUT", format!("/api/v2/users/{}/merge", h.id), format!("done: user {} merged into {target}", h.id));
                }
                others => {
                    return Err(Error::Rejected(format!(
                        "{email} belongs to another support-portal profile (user {}), not to the ticket's requester: Casekit will not move it.",
                        others.iter().map(|u| u.id.to_string()).collect::<Vec<_>>().join(", ")
                    )))
                }
            }
            let identities = zd.identities(target).await?;
            match identities.iter().find(|i| i.value.eq_ignore_ascii_case(email)) {
                Some(i) if !i.primary => Ok(vec![Fact::judged(
                    "Secondary email",
                    format!("{email} (not primary: the primary stays the submitter)"),
                    true,
                )]),
                Some(_) => {
                    Err(Error::InvalidResponse(format!("{email} became primary; make the original address primary again.")))
                }
                None => Err(Error::InvalidResponse("The profile does not list the new address.".into())),
            }
        }
        other => Err(Error::Internal(format!("unknown support action {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(id: u64, kind: &str, required: bool) -> TicketField {
        TicketField { id, kind: kind.into(), title: format!("f{id}"), required, active: true, removable: kind != "subject" }
    }

    /// Subject (1, required), A (10, a tagger), B (11, shown when A = "b"), C (12, shown when
    /// B = "c", then required), D (13, shown when A = "b" but required on no status).
    fn form() -> (TicketForm, Vec<TicketField>) {
        let form: TicketForm = serde_json::from_value(json!({
            "id": 1, "name": "nested", "active": true, "ticket_field_ids": [1, 10, 11, 12, 13],
            "agent_conditions": [
                {"parent_field_id": 10, "value": "b", "child_fields": [
                    {"id": 11, "is_required": false},
                    {"id": 13, "is_required": true, "required_on_statuses": {"type": "NO_STATUSES"}}]},
                {"parent_field_id": 11, "value": "c", "child_fields": [
                    {"id": 12, "is_required": true, "required_on_statuses": {"type": "SOME_STATUSES", "statuses": ["solved"]}}]}
            ]
        }))
        .unwrap();
        (
            form,
            vec![
                field(1, "subject", true),
                field(10, "tagger", true),
                field(11, "tagger", false),
                field(12, "text", false),
                field(13, "text", false),
            ],
        )
    }

    fn demanded(values: &[(u64, &str)]) -> Vec<u64> {
        let (form, fields) = form();
        let values = values.iter().map(|(id, v)| (*id, v.to_string())).collect();
        demanded_fields(&form, &fields, &values).iter().map(|f| f.id).collect()
    }

    #[test]
    fn only_required_custom_fields_that_show_are_demanded() {
        let none: Vec<u64> = vec![];
        assert_eq!(demanded(&[]), [10], "the subject is Zendesk's own; B, C and D are hidden");
        assert_eq!(demanded(&[(10, "b")]), none, "B shows but is optional; D is required on no status");
        assert_eq!(demanded(&[(10, "b"), (11, "c")]), [12], "C shows once B, shown, has its value");
        assert_eq!(demanded(&[(10, "x"), (11, "c")]), none, "B is hidden: its value shows nothing");
        assert_eq!(demanded(&[(10, "b"), (11, "c"), (12, "1.0")]), none);
    }
}
