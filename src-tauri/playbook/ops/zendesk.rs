//! Zendesk: the ticket's requester, the organization they ask to join, the support-portal
//! profile an address is added to, the ticket's form; the gates over them; suspending a user,
//! notes, sessions, organization membership, identities, the ticket's form and status, and
//! closing the ticket with the case summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{evidence, fact, number, Action, Gate, Lookup, Need, Run};
use crate::clock;
use crate::connectors::session::Connections;
use crate::connectors::zendesk::{
    CustomField, FormCondition, Identity, Organization, Ticket, TicketField, TicketForm, TicketUpdate, User, UserUpdate, Zendesk,
};
use crate::playbook::consent::{self, Answerer, Role};
use crate::playbook::effects::{Calls, Fact, Found, Link, PlannedCall, Verdict};
use crate::playbook::state::{ticket_instance, CaseState};
use crate::summary::{self, outbox};
use crate::{Error, Result};

/// The support contacts an organization may have.
pub const CONTACT_LIMIT: usize = 30;

/// The Zendesk instance of the case's ticket.
pub fn client(conns: &Connections, state: &CaseState) -> Result<Zendesk> {
    conns.zendesk(ticket_instance(state)?.service())
}

/// The agent web address of the case's Zendesk (from its ticket link).
fn base(state: &CaseState) -> String {
    let url = state.facts.get("ticket_url").cloned().unwrap_or_default();
    url.split("/agent/").next().unwrap_or_default().to_owned()
}

// ---------------------------------------------------------------- the requester

/// What `zendesk_requester` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequesterData {
    pub user: User,
    pub sessions: usize,
}

/// `zendesk_requester`: the ticket's requester — role, suspension, sessions, notes.
pub struct Requester;

impl Lookup for Requester {
    const NAME: &'static str = "zendesk_requester";
    const NEEDS: &'static [Need] = &[];
    const PRODUCES: &'static [&'static str] = &[];
    type Data = RequesterData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        let zd = client(conns, state)?;
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
        let links = vec![Link::new("Zendesk: the user", format!("{}/agent/users/{id}", base(state)))];
        Found::new("Requester", &RequesterData { user, sessions }, rows, links)
    }
}

/// `requester_is_end_user`: never suspend staff.
pub struct RequesterIsEndUser;

impl Gate for RequesterIsEndUser {
    const NAME: &'static str = "requester_is_end_user";
    const NEEDS: &'static [Need] = &[Need::Lookup(Requester::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        match evidence::<Requester>(state) {
            Err(v) => v,
            Ok(d) if d.user.role == "end-user" => Verdict::pass(format!("{} is an end user.", d.user.name)),
            Ok(d) => {
                Verdict::block(format!("{} is a Zendesk {}: never suspend staff; escalate instead.", d.user.name, d.user.role))
            }
        }
    }
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

/// The requester's user path, for previews (`:id` until known).
fn user_path(state: &CaseState) -> String {
    format!("/api/v2/users/{}", fact(state, "requester_id").unwrap_or(":id"))
}

/// The ticket's path, for previews.
fn ticket_path(state: &CaseState) -> String {
    format!("/api/v2/tickets/{}", fact(state, "ticket_id").unwrap_or(":id"))
}

/// `suspend_user`: the requester is suspended (end users only).
pub struct SuspendUser;

impl Action for SuspendUser {
    const NAME: &'static str = "suspend_user";
    const NEEDS: &'static [Need] = &[Need::Lookup(Requester::NAME)];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        Ok(vec![PlannedCall::new("PUT", user_path(state), "suspended: false → true")])
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        state.facts.get("requester_email").cloned()
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let zd = client(run.env.conns, run.state)?;
        let user_id = number(run.state, "requester_id")?;
        let user = zd.user(user_id).await?;
        if user.role != "end-user" {
            return Err(Error::StaleEvidence(format!(
                "{} is a Zendesk {} now, not an end user: do not suspend; escalate.",
                user.name, user.role
            )));
        }
        if user.suspended {
            calls.record("PUT", user_path(run.state), "skipped: already suspended");
        } else {
            zd.update_user(user_id, &UserUpdate { suspended: Some(true), notes: None }).await?;
            calls.record("PUT", user_path(run.state), "done");
        }
        if !zd.user(user_id).await?.suspended {
            return Err(Error::InvalidResponse("Zendesk does not show the user as suspended.".into()));
        }
        Ok(vec![Fact::judged("Suspended", "yes", true)])
    }
}

/// `add_user_note`: the ban's line is appended to the requester's user notes.
pub struct AddUserNote;

impl Action for AddUserNote {
    const NAME: &'static str = "add_user_note";
    const NEEDS: &'static [Need] = &[Need::Fact("malicious_reason")];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        Ok(vec![PlannedCall::new("PUT", user_path(state), format!("notes: + “{}”", user_note(state)))])
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let zd = client(run.env.conns, run.state)?;
        let user_id = number(run.state, "requester_id")?;
        let line = user_note(run.state);
        let before = zd.user(user_id).await?.notes.unwrap_or_default();
        if before.lines().any(|l| l.trim() == line) {
            calls.record("PUT", user_path(run.state), "skipped: the note is there");
        } else {
            let notes = if before.trim().is_empty() { line.clone() } else { format!("{}\n{line}", before.trim_end()) };
            zd.update_user(user_id, &UserUpdate { suspended: None, notes: Some(notes) }).await?;
            calls.record("PUT", user_path(run.state), "done: note appended");
        }
        let after = zd.user(user_id).await?.notes.unwrap_or_default();
        if !(after.starts_with(before.trim_end()) && after.contains(&line)) {
            return Err(Error::InvalidResponse("The user note does not read back as written.".into()));
        }
        Ok(vec![Fact::judged("User note", line, true)])
    }
}

/// `delete_user_sessions`: every session of the requester ends.
pub struct DeleteUserSessions;

impl Action for DeleteUserSessions {
    const NAME: &'static str = "delete_user_sessions";
    const NEEDS: &'static [Need] = &[];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        Ok(vec![PlannedCall::new("DELETE", format!("{}/sessions", user_path(state)), "sessions: all → none")])
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        state.facts.get("requester_email").cloned()
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let zd = client(run.env.conns, run.state)?;
        let user_id = number(run.state, "requester_id")?;
        let path = format!("{}/sessions", user_path(run.state));
        let before = zd.sessions(user_id).await?.len();
        if before == 0 {
            calls.record("DELETE", path, "skipped: no sessions");
        } else {
            zd.delete_sessions(user_id).await?;
            calls.record("DELETE", path, format!("done: {before} deleted"));
        }
        let left = zd.sessions(user_id).await?.len();
        if left > 0 {
            return Err(Error::InvalidResponse(format!("{left} session(s) are still active.")));
        }
        Ok(vec![Fact::judged("Active sessions", "none", true)])
    }
}

// ---------------------------------------------------------------- the ticket's status

/// Sets the ticket's status unless it is so already (or closed: nothing changes a closed
/// ticket), and reads it back.
async fn set_status(zd: &Zendesk, ticket_id: u64, target: &str, calls: &mut Calls) -> Result<Fact> {
    let path = format!("/api/v2/tickets/{ticket_id}");
    let status = zd.ticket(ticket_id).await?.status;
    if status == target || status == "closed" {
        calls.record("PUT", path, format!("skipped: the ticket is {status}"));
    } else {
        zd.update_ticket(ticket_id, &TicketUpdate { status: Some(target.into()), ..Default::default() }).await?;
        calls.record("PUT", path, format!("done: status {target}"));
    }
    let now = zd.ticket(ticket_id).await?.status;
    if now != target && now != "closed" {
        return Err(Error::InvalidResponse(format!("The ticket is {now}, not {target}.")));
    }
    Ok(Fact::judged("Ticket status", now, true))
}

/// `solve_ticket`: the ticket is set to solved.
pub struct SolveTicket;

impl Action for SolveTicket {
    const NAME: &'static str = "solve_ticket";
    const NEEDS: &'static [Need] = &[];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        Ok(vec![PlannedCall::new("PUT", ticket_path(state), "status → solved")])
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let zd = client(run.env.conns, run.state)?;
        Ok(vec![set_status(&zd, number(run.state, "ticket_id")?, "solved", calls).await?])
    }
}

/// Ends the summary note the ban's last step posts.
const CLOSING_NOTE: &str =
    "_Casekit closes this ticket right after this note: a closed ticket takes no more notes. The case's audit log keeps the rest._";

/// `close_ticket`, the ban's last step: the case summary goes on the ticket as an internal note
/// (once: a retry finds it by its marker), then the ticket is closed, for good. A closed ticket
/// takes no more notes, so the order is fixed; on a ticket closed already the summary can only
/// be looked for.
pub struct CloseTicket;

impl Action for CloseTicket {
    const NAME: &'static str = "close_ticket";
    const NEEDS: &'static [Need] = &[];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        Ok(vec![
            PlannedCall::new("PUT", ticket_path(state), "comments: + the case summary, as an internal note (once)"),
            PlannedCall::new("PUT", ticket_path(state), "status → closed (it can never change again: the summary goes first)"),
        ])
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        state.facts.get("requester_email").cloned()
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let (env, case_id) = (run.env, run.case_id);
        let zd = client(env.conns, run.state)?;
        let ticket_id = number(run.state, "ticket_id")?;
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
                calls.record("PUT", path, format!("skipped: the case summary is on the ticket (comment {note})"));
            } else {
                calls.record("PUT", path, format!("done: case summary posted as internal note {note}"));
            }
            Fact::judged(label, format!("internal note {note}"), true)
        };
        Ok(vec![summary, set_status(&zd, ticket_id, "closed", calls).await?])
    }
}

// ---------------------------------------------------------------- the organization

/// What `zendesk_organization` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationData {
    pub organization: Organization,
    pub contacts: usize,
    pub already_member: bool,
}

/// `zendesk_organization`: the organization the requester asks to join — its contacts and
/// account manager.
pub struct OrganizationLookup;

impl Lookup for OrganizationLookup {
    const NAME: &'static str = "zendesk_organization";
    const NEEDS: &'static [Need] = &[Need::Fact("organization_id")];
    const PRODUCES: &'static [&'static str] = &["organization_name", "account_manager_email"];
    type Data = OrganizationData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        let zd = client(conns, state)?;
        let id = number(state, "organization_id")?;
        let org = zd.organization(id).await?;
        let members = zd.organization_memberships(id).await?;
        let requester = number(state, "requester_id")?;
        let already = members.iter().any(|m| m.user_id == requester);
        let manager = org.organization_fields.get("account_manager_email").and_then(Value::as_str).unwrap_or("").to_owned();
        let rows = vec![
            Fact::new("Organization", format!("{} (id {})", org.name, org.id)),
            Fact::judged("Support contacts", format!("{} of {CONTACT_LIMIT}", members.len()), members.len() < CONTACT_LIMIT),
            Fact::new("Requester already a member", if already { "yes" } else { "no" }),
            Fact::new(
                "Account manager",
                if manager.is_empty() { "not set on the organization".to_owned() } else { manager.clone() },
            ),
        ];
        let links = vec![Link::new(format!("Zendesk: {}", org.name), format!("{}/agent/organizations/{id}", base(state)))];
        let name = org.name.clone();
        let data = OrganizationData { organization: org, contacts: members.len(), already_member: already };
        let found = Found::new("Organization", &data, rows, links)?.fact("organization_name", name);
        Ok(if manager.is_empty() { found } else { found.fact("account_manager_email", manager) })
    }
}

/// `organization_below_contact_limit`: the organization can take one more support contact.
pub struct OrganizationBelowContactLimit;

impl Gate for OrganizationBelowContactLimit {
    const NAME: &'static str = "organization_below_contact_limit";
    const NEEDS: &'static [Need] = &[Need::Lookup(OrganizationLookup::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        match evidence::<OrganizationLookup>(state) {
            Err(v) => v,
            Ok(d) if d.already_member => Verdict::pass("The requester is already a contact of the organization."),
            Ok(d) => {
                let (n, limit) = (d.contacts, CONTACT_LIMIT);
                Verdict::new(
                    n < limit,
                    format!("{n} of {limit} support contacts{}.", if n < limit { "" } else { ": the limit is reached" }),
                )
            }
        }
    }
}

/// `associate_organization`: the requester joins the organization as a support contact.
pub struct AssociateOrganization;

impl Action for AssociateOrganization {
    const NAME: &'static str = "associate_organization";
    const NEEDS: &'static [Need] = &[Need::Fact("organization_id"), Need::Lookup(OrganizationLookup::NAME)];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        Ok(vec![PlannedCall::new(
            "POST",
            "/api/v2/organization_memberships",
            format!(
                "{}: + the requester (user {})",
                state.facts.get("organization_name").cloned().unwrap_or_default(),
                fact(state, "requester_id").unwrap_or(":id")
            ),
        )])
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let zd = client(run.env.conns, run.state)?;
        let user_id = number(run.state, "requester_id")?;
        let org = number(run.state, "organization_id")?;
        let path = "/api/v2/organization_memberships";
        let members = zd.organization_memberships(org).await?;
        if members.iter().any(|m| m.user_id == user_id) {
            calls.record("POST", path, "skipped: already a member");
        } else {
            if members.len() >= CONTACT_LIMIT {
                return Err(Error::StaleEvidence(format!(
                    "The organization has {} contacts now: the limit is {CONTACT_LIMIT}.",
                    members.len()
                )));
            }
            let m = zd.add_organization_membership(user_id, org).await?;
            calls.record("POST", path, format!("done: membership {}", m.id));
        }
        if !zd.organization_memberships(org).await?.iter().any(|m| m.user_id == user_id) {
            return Err(Error::InvalidResponse("The organization does not list the requester.".into()));
        }
        Ok(vec![Fact::judged("Organization membership", "added", true)])
    }
}

// ---------------------------------------------------------------- an address for a profile

/// The ticket's requester as the target-user lookup saw them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitter {
    pub id: u64,
    pub email: String,
}

/// What `zendesk_target_user` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetUserData {
    pub user: User,
    pub identities: Vec<Identity>,
    pub answerer: Answerer,
    pub requester: Submitter,
    pub new_email: String,
}

/// `zendesk_target_user` (Self-Managed, Dedicated, Partners): the support-portal profile whose
/// primary address was given, whose owner must confirm on the ticket (the one person whose
/// reply counts), and the ticket's requester, who must be the address to add writing in.
pub struct TargetUser;

impl Lookup for TargetUser {
    const NAME: &'static str = "zendesk_target_user";
    const NEEDS: &'static [Need] = &[Need::Fact("primary_email"), Need::Fact("new_email")];
    const PRODUCES: &'static [&'static str] = &["target_user_id"];
    type Data = TargetUserData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        let zd = client(conns, state)?;
        let primary = fact(state, "primary_email")?;
        let users = zd.users_by_email(primary).await?;
        let user = match users.as_slice() {
            [one] => one.clone(),
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
            Fact::new("Support-portal profile", format!("{} <{profile_primary}>, id {}", user.name, user.id)),
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
        let answerer = Answerer {
            role: Role::PrimaryAddress,
            user_id: user.id,
            name: user.name.clone(),
            email: profile_primary.clone(),
            why: format!("{profile_primary} is the primary address of the profile {new_email} would be added to"),
        };
        let links = vec![Link::new("Zendesk: the profile", format!("{}/agent/users/{}", base(state), user.id))];
        let id = user.id;
        let data = TargetUserData {
            user,
            identities,
            answerer,
            requester: Submitter { id: requester.id, email: requester_email },
            new_email: new_email.to_owned(),
        };
        Ok(Found::new("Support-portal profile", &data, rows, links)?.fact("target_user_id", id.to_string()))
    }
}

/// `ticket_from_new_address`: the ticket was written from the address to add, and the profile's
/// primary address can be asked to confirm.
pub struct TicketFromNewAddress;

impl Gate for TicketFromNewAddress {
    const NAME: &'static str = "ticket_from_new_address";
    const NEEDS: &'static [Need] = &[Need::Lookup(TargetUser::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        let d = match evidence::<TargetUser>(state) {
            Ok(d) => d,
            Err(v) => return v,
        };
        let (from, new) = (d.requester.email.as_str(), d.new_email.as_str());
        if from.is_empty() || !from.eq_ignore_ascii_case(new) {
            return Verdict::block(format!(
                "The ticket was submitted from {}, not from {new}: the address to add must write in itself (a new ticket from it).",
                if from.is_empty() { "an address Zendesk does not show" } else { from }
            ));
        }
        match consent::answerer(Role::PrimaryAddress, state) {
            Ok(who) => Verdict::pass(format!("The ticket comes from {new}; {} <{}> must confirm on it.", who.name, who.email)),
            Err(e) => Verdict::block(e.to_string()),
        }
    }
}

/// Whether the address to add is the requester's own (the ticket came from it, as the
/// Self-Managed flow requires) and the profile another user's: then the two users are merged.
fn from_requester(state: &CaseState) -> bool {
    evidence::<TargetUser>(state).is_ok_and(|d| {
        !d.requester.email.is_empty()
            && state.facts.get("new_email").is_some_and(|n| n.eq_ignore_ascii_case(&d.requester.email))
            && d.requester.id != d.user.id
    })
}

/// `add_zendesk_identity`: the address becomes a secondary email of the profile (never
/// primary): added, or (the ticket's requester writing from it) merged in.
pub struct AddZendeskIdentity;

impl Action for AddZendeskIdentity {
    const NAME: &'static str = "add_zendesk_identity";
    const NEEDS: &'static [Need] = &[Need::Fact("new_email"), Need::Fact("target_user_id")];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        let new_email = state.facts.get("new_email").cloned().unwrap_or_default();
        let target = state.facts.get("target_user_id").cloned().unwrap_or_default();
        let user = fact(state, "requester_id").unwrap_or(":id");
        Ok(vec![if from_requester(state) {
            PlannedCall::new(
                "PUT",
                format!("/api/v2/users/{user}/merge"),
                format!(
                    "the requester's user {user} ({new_email}) merged into profile {target}: the address becomes a secondary email (never primary), its tickets move to the profile"
                ),
            )
        } else {
            PlannedCall::new(
                "POST",
                format!("/api/v2/users/{target}/identities"),
                format!("email identities: + {new_email} (secondary, never primary)"),
            )
        }])
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let zd = client(run.env.conns, run.state)?;
        let user_id = number(run.state, "requester_id")?;
        let target = number(run.state, "target_user_id")?;
        let email = fact(run.state, "new_email")?;
        let path = format!("/api/v2/users/{target}/identities");
        let before = zd.identities(target).await?.into_iter().find(|i| i.value.eq_ignore_ascii_case(email));
        if let Some(existing) = &before {
            let what = if existing.primary { "primary" } else { "secondary" };
            calls.record("POST", path, format!("skipped: the address is on the profile already ({what})"));
            return Ok(vec![Fact::judged("Email on the profile", format!("{email} (already there, {what})"), true)]);
        }
        // The ticket came from the address (Self-Managed, Dedicated, Partners), so Zendesk
        // made a user of it: that user, the requester, is merged into the profile. An address
        // held by anyone else is never moved.
        let holders = zd.users_by_email(email).await?;
        match holders.as_slice() {
            [] => {
                let added = zd.add_email_identity(target, email, true).await?;
                calls.record("POST", path, format!("done: identity {}", added.id));
            }
            [h] if h.id == user_id && h.id != target => {
                zd.merge_user(h.id, target).await?;
                calls.record("PUT", format!("/api/v2/users/{}/merge", h.id), format!("done: user {} merged into {target}", h.id));
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
            Some(i) if !i.primary => {
                Ok(vec![Fact::judged("Secondary email", format!("{email} (not primary: the primary stays the submitter)"), true)])
            }
            Some(_) => Err(Error::InvalidResponse(format!("{email} became primary; make the original address primary again."))),
            None => Err(Error::InvalidResponse("The profile does not list the new address.".into())),
        }
    }
}

// ---------------------------------------------------------------- the ticket's form

/// What `zendesk_ticket_form` found: the ticket, the forms it could move to, and the field
/// definitions (which fields are Zendesk's own, which are required) the gate judges by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketFormData {
    pub ticket: Ticket,
    pub forms: Vec<TicketForm>,
    pub fields: Vec<TicketField>,
}

/// `zendesk_ticket_form`: the ticket's form, tags and fields, and the forms and fields of the
/// instance.
pub struct TicketFormLookup;

impl Lookup for TicketFormLookup {
    const NAME: &'static str = "zendesk_ticket_form";
    const NEEDS: &'static [Need] = &[];
    const PRODUCES: &'static [&'static str] = &[];
    type Data = TicketFormData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        let zd = client(conns, state)?;
        let ticket = zd.ticket(number(state, "ticket_id")?).await?;
        let forms = zd.ticket_forms().await?;
        let fields = zd.ticket_fields().await?;
        let name = |id: Option<u64>| {
            forms.iter().find(|f| Some(f.id) == id).map_or("none".to_owned(), |f| format!("{} ({})", f.name, f.id))
        };
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
        let links = vec![Link::new("Zendesk: the ticket", state.facts.get("ticket_url").cloned().unwrap_or_default())];
        Found::new("Ticket form", &TicketFormData { ticket, forms, fields }, rows, links)
    }
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

/// The form lookup's snapshot, read back.
fn form_evidence(state: &CaseState) -> Result<TicketFormData> {
    if !state.evidence.contains_key(TicketFormLookup::NAME) {
        return Err(Error::OutOfOrder("Look up the ticket's form first.".into()));
    }
    evidence::<TicketFormLookup>(state)
        .map_err(|_| Error::OutOfOrder("The form lookup predates field definitions: fetch the evidence again (Refresh).".into()))
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
    let TicketFormData { ticket, forms, fields } = form_evidence(state)?;
    let target = number(state, "target_form_id")?;
    let form = forms.iter().find(|f| f.id == target).ok_or_else(|| {
        Error::InvalidInput(format!("Form {target} is not one of this instance's forms: pick one from the evidence."))
    })?;
    let mut values: BTreeMap<u64, String> = ticket.custom_fields.iter().map(|f| (f.id, as_text(&f.value))).collect();
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

/// `form_fields_complete`: every custom field the chosen form requires has a value.
pub struct FormFieldsComplete;

impl Gate for FormFieldsComplete {
    const NAME: &'static str = "form_fields_complete";
    const NEEDS: &'static [Need] = &[Need::Lookup(TicketFormLookup::NAME), Need::Fact("target_form_id")];

    fn evaluate(state: &CaseState) -> Verdict {
        match missing_fields(state) {
            Ok(missing) if missing.is_empty() => Verdict::pass(
                "Every custom field the chosen form requires has a value (Zendesk's own fields and fields hidden by a condition are not asked for).",
            ),
            Ok(missing) => Verdict::block(format!(
                "The chosen form still needs {}: fill them in the previous step (id=value).",
                missing.iter().map(|f| format!("{} ({})", f.title, f.id)).collect::<Vec<_>>().join(", ")
            )),
            Err(e) => Verdict::block(e.to_string()),
        }
    }
}

/// `update_ticket_form`: the ticket moves to the chosen form with its fields and stage tag, in
/// one update.
pub struct UpdateTicketForm;

impl Action for UpdateTicketForm {
    const NAME: &'static str = "update_ticket_form";
    const NEEDS: &'static [Need] = &[Need::Fact("target_form_id"), Need::Fact("stage"), Need::Lookup(TicketFormLookup::NAME)];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        Ok(vec![PlannedCall::new(
            "PUT",
            ticket_path(state),
            format!(
                "form → {}; fields: {}; stage: {} (one update)",
                state.facts.get("target_form_id").cloned().unwrap_or_default(),
                state.facts.get("field_values").cloned().unwrap_or_else(|| "unchanged".into()),
                state.facts.get("stage").cloned().unwrap_or_default()
            ),
        )])
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let state = run.state;
        let zd = client(run.env.conns, state)?;
        let ticket_id = number(state, "ticket_id")?;
        let form = number(state, "target_form_id")?;
        let stage_tag = format!("stage_{}", fact(state, "stage")?.to_lowercase());
        let ticket = zd.ticket(ticket_id).await?;
        let done = ticket.ticket_form_id == Some(form) && ticket.tags.contains(&stage_tag);
        let mut tags: Vec<String> = ticket.tags.into_iter().filter(|t| !t.starts_with("stage_")).collect();
        tags.push(stage_tag.clone());
        let definitions = form_evidence(state)?.fields;
        let fields = field_values(state)?
            .into_iter()
            .map(|(id, text)| Ok(CustomField { id, value: typed_value(definitions.iter().find(|d| d.id == id), id, &text)? }))
            .collect::<Result<Vec<_>>>()?;
        if done && fields.is_empty() {
            calls.record("PUT", ticket_path(state), "skipped: the ticket already has the form and stage");
        } else {
            let update = TicketUpdate {
                ticket_form_id: Some(form),
                tags: Some(tags),
                custom_fields: (!fields.is_empty()).then_some(fields.clone()),
                ..Default::default()
            };
            zd.update_ticket(ticket_id, &update).await?;
            calls.record("PUT", ticket_path(state), "done");
        }
        let after = zd.ticket(ticket_id).await?;
        let fields_set = fields.iter().all(|f| after.custom_fields.iter().any(|c| c.id == f.id && c.value == f.value));
        if after.ticket_form_id != Some(form) || !after.tags.contains(&stage_tag) || !fields_set {
            return Err(Error::InvalidResponse("The ticket does not read back with the new form, fields and stage.".into()));
        }
        Ok(vec![Fact::judged("Ticket", format!("form {form}, {stage_tag}, {} field(s) set", fields.len()), true)])
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
