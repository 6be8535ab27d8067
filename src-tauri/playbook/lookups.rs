//! Named lookups: the live facts a step fetches, kept as an evidence snapshot with the rows the
//! agent reads and links to where each fact comes from.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::consent::Answerer;
use super::state::{CaseState, Evidence, Fact, Link};
use crate::clock;
use crate::connectors::gitlab::{self, access_level_name, same_address, EventQuery, GitLab};
use crate::connectors::mailgun::EventFilter;
use crate::connectors::session::Connections;
use crate::{Error, Result};

/// Every lookup a playbook may name.
pub const NAMES: &[&str] = &["gitlab_account", "mailgun_delivery", "gitlab_membership", "gitlab_owner_membership"];

/// What a lookup found, and the facts it derives for later steps.
pub struct Found {
    pub evidence: Evidence,
    pub facts: BTreeMap<String, String>,
}

/// Runs the lookup `name` for the case.
pub async fn run(name: &str, conns: &Connections, state: &CaseState) -> Result<Found> {
    match name {
        "gitlab_account" => gitlab_account(conns, state).await,
        "mailgun_delivery" => mailgun_delivery(conns, state).await,
        "gitlab_membership" => gitlab_membership(conns, state, "username", "Requester's access").await,
        "gitlab_owner_membership" => gitlab_membership(conns, state, "owner_username", "Permission giver's access").await,
        "customersdot_diagnosis" => super::portal::diagnosis(conns, state).await,
        _ if super::support_ops::LOOKUPS.contains(&name) => super::support_ops::lookup(name, conns, state).await,
        other => Err(Error::Internal(format!("unknown lookup {other}"))),
    }
}

/// The fields the agent fills in for the part of a lookup this profile has no API for (e.g.
/// CustomersDot in manual mode), and where to read them; no fields when the lookup fetches
/// everything itself.
pub fn form(name: &str, conns: &Connections, state: &CaseState) -> (Vec<super::view::FieldView>, Option<String>) {
    match name {
        "customersdot_diagnosis" => super::portal::form(conns, state),
        _ => (Vec::new(), None),
    }
}

/// Runs a lookup from what the agent entered in its form (and the APIs the profile has); the
/// normalized entries are kept in the evidence under `data.entered`.
pub async fn enter(name: &str, conns: &Connections, state: &CaseState, values: &BTreeMap<String, String>) -> Result<Found> {
    match name {
        "customersdot_diagnosis" => super::portal::enter(conns, state, values).await,
        other => Err(Error::InvalidInput(format!("The lookup {other} is fetched, not entered: fetch it."))),
    }
}

fn fact<'a>(state: &'a CaseState, key: &str) -> Result<&'a str> {
    state.fact(key, "This lookup")
}

/// `local+release@domain` for `local@domain` (an existing `+tag` is kept before it).
pub fn release_address(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+release@{domain}"),
        None => format!("{email}+release"),
    }
}

fn or_never(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "never".to_owned())
}

/// The account behind an email: details, activity counts, recent contribution events, direct
/// memberships and secondary emails — what the release gates read.
async fn gitlab_account(conns: &Connections, state: &CaseState) -> Result<Found> {
    let gl = &conns.gitlab()?;
    let email = fact(state, "email")?;
    let claimed = state.facts.get("username").cloned().unwrap_or_default();
    let base = gl.base_url().as_str().trim_end_matches('/').to_owned();
    let at = clock::now();
    let mut matches = gl.users_with_email(email).await?;
    if matches.len() != 1 {
        let holders: Vec<String> = matches.iter().map(|u| format!("@{}", u.username)).collect();
        let row = if holders.is_empty() {
            format!("none has exactly {email} as its primary or a verified email")
        } else {
            format!("{} accounts hold {email}: {}", holders.len(), holders.join(", "))
        };
        let evidence = Evidence {
            title: "GitLab account".into(),
            at,
            data: json!({"found": false, "email": email, "holders": holders}),
            rows: vec![Fact::judged("Account with this email", row, false)],
            links: vec![Link { label: "GitLab admin: users".into(), url: format!("{base}/admin/users?search={email}") }],
        };
        return Ok(Found { evidence, facts: BTreeMap::new() });
    }
    let user = gl.user(matches.remove(0).id).await?;
    let counts = gl.associations_count(user.id).await?;
    let events = gl.events(user.id, &EventQuery { per_page: 20, ..Default::default() }).await?;
    let memberships = gl.memberships(user.id).await?;
    let emails = gl.secondary_emails(&user).await?;
    // Paid namespaces decide which answers count and whether 2FA may be reset.
    let mut paid = Vec::new();
    for m in memberships.iter().filter(|m| m.source_type == "Namespace") {
        let ns = gl.namespace(m.source_id).await?;
        // `default` is a self-managed instance's "no plan", not a paid one.
        if ns.plan.as_deref().is_some_and(|p| !matches!(p, "free" | "default" | "")) {
            paid.push(json!({"id": ns.id, "path": ns.full_path, "plan": ns.plan}));
        }
    }
    let primary = user.email.clone().unwrap_or_default();
    let username_matches = claimed.is_empty() || claimed.eq_ignore_ascii_case(&user.username);

    let mut rows = vec![
        Fact::judged("Account", format!("@{} ({}), id {}", user.username, user.name, user.id), username_matches),
        Fact::new("Primary email", primary.clone()),
        Fact::new("State", user.state.clone()),
        Fact::new("Created", user.created_at.clone().unwrap_or_default()),
        Fact::new("Confirmed", user.confirmed_at.clone().unwrap_or_else(|| "not confirmed".into())),
        Fact::new("Sign-ins", format!("{} (last: {})", user.sign_in_count.unwrap_or(0), or_never(&user.last_sign_in_at))),
        Fact::new("Last activity", or_never(&user.last_activity_on)),
        Fact::new(
            "Groups / projects / issues / MRs",
            format!(
                "{} / {} / {} / {}",
                counts.groups_count, counts.projects_count, counts.issues_count, counts.merge_requests_count
            ),
        ),
        Fact::new(
            "Contribution events",
            match events.first() {
                None => "none".to_owned(),
                Some(e) => format!(
                    "{}{} (latest: {} {} on {})",
                    events.len(),
                    if events.len() == 20 { "+" } else { "" },
                    e.action_name,
                    e.target_type.clone().unwrap_or_default(),
                    e.created_at.get(..10).unwrap_or(&e.created_at)
                ),
            },
        ),
        Fact::new(
            "Direct memberships",
            if memberships.is_empty() {
                "none".to_owned()
            } else {
                memberships
                    .iter()
                    .map(|m| format!("{} {} ({})", m.source_type, m.source_name, access_level_name(m.access_level)))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        Fact::new(
            "Secondary emails",
            if emails.is_empty() {
                "none".to_owned()
            } else {
                emails
                    .iter()
                    .map(|e| format!("{} ({})", e.email, if e.confirmed_at.is_some() { "verified" } else { "unverified" }))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
    ];
    rows.push(Fact::new(
        "Paid namespaces",
        if paid.is_empty() {
            "none".to_owned()
        } else {
            paid.iter()
                .map(|p| format!("{} ({})", p["path"].as_str().unwrap_or("?"), p["plan"].as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join("; ")
        },
    ));
    rows.push(Fact::new("Two-factor authentication", if user.two_factor_enabled == Some(true) { "on" } else { "off" }));
    if !username_matches {
        rows.insert(1, Fact::judged("Username the requester gave", format!("@{claimed}"), false));
    }
    // Whose account it is: the ticket's requester must hold one of its verified addresses.
    let mut addresses: Vec<(String, &'static str)> =
        user.confirmed_at.as_ref().map(|_| (primary.clone(), "primary")).into_iter().collect();
    addresses.extend(emails.iter().filter(|e| e.confirmed_at.is_some()).map(|e| (e.email.clone(), "verified secondary")));
    let (tie, tie_row) = requester_tie(conns, state, &user, &addresses).await?;
    rows.insert(1, tie_row);
    let data = json!({
        "found": true,
        "username_matches": username_matches,
        "user": user,
        "associations": counts,
        "events": events,
        "memberships": memberships,
        "emails": emails,
        "paid_namespaces": paid,
        "requester_tie": tie,
    });
    let mut facts = BTreeMap::new();
    facts.insert("user_id".to_owned(), user.id.to_string());
    facts.insert("gitlab_username".to_owned(), user.username.clone());
    facts.insert("primary_email".to_owned(), primary.clone());
    facts.insert("release_email".to_owned(), release_address(&primary));
    let links =
        vec![Link { label: format!("GitLab admin: @{}", user.username), url: format!("{base}/admin/users/{}", user.username) }];
    Ok(Found { evidence: Evidence { title: "GitLab account".into(), at, data, rows, links }, facts })
}

/// Delivery of GitLab's mail to the address: recent events on the sending domain and whether
/// the address is suppressed after a bounce.
async fn mailgun_delivery(conns: &Connections, state: &CaseState) -> Result<Found> {
    let email = fact(state, "email")?;
    let mg = conns.mailgun()?;
    let events = mg.events(&EventFilter { recipient: Some(email.to_owned()), ..Default::default() }).await?;
    let bounce = mg.bounce(email).await?;
    let when = |ts: f64| clock::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(ts.max(0.0)));
    let mut rows = Vec::new();
    let relevant: Vec<_> = events.iter().filter(|e| e.event == "delivered" || e.event == "failed").take(5).collect();
    if relevant.is_empty() {
        rows.push(Fact::new(
            "Mail to this address",
            format!("no delivery or failure on {} in the retention period", mg.domain_name()),
        ));
    }
    for e in relevant {
        let status = e.delivery_status.as_ref().map(|d| format!("{} {}", d.code, d.text())).unwrap_or_default();
        rows.push(Fact::judged(
            &format!("{} — {}", e.subject().unwrap_or("(no subject)"), when(e.timestamp).get(..16).unwrap_or_default()),
            format!("{} {status}", e.event),
            e.is_delivered(),
        ));
    }
    rows.push(match &bounce {
        Some(b) => {
            Fact::judged("Suppression (bounce list)", format!("suppressed since {}: {} {}", b.created_at, b.code, b.error), false)
        }
        None => Fact::judged("Suppression (bounce list)", "none", true),
    });
    let data = json!({
        "events": events.iter().map(|e| json!({"event": e.event, "subject": e.subject(), "timestamp": e.timestamp,
            "delivered": e.is_delivered(), "suppression": e.is_suppression()})).collect::<Vec<Value>>(),
        "suppressed": bounce.is_some(),
    });
    let links = vec![Link {
        label: "Mailgun logs".into(),
        url: format!("https://app.mailgun.com/app/sending/domains/{}/logs", mg.domain_name()),
    }];
    let mut facts = BTreeMap::new();
    facts.insert("suppressed".to_owned(), bounce.is_some().to_string());
    Ok(Found { evidence: Evidence { title: "Mail delivery (Mailgun)".into(), at: clock::now(), data, rows, links }, facts })
}

/// A user's access to a group or project, inherited membership included: what the project and
/// group change gate reads. `who` names the fact holding the username. The requester's account
/// (`username`) must hold the ticket requester's email; for the permission giver
/// (`owner_username`) the Zendesk user behind the account's verified emails is found: the one
/// person whose reply counts as the permission.
async fn gitlab_membership(conns: &Connections, state: &CaseState, who: &str, title: &str) -> Result<Found> {
    let gl = conns.gitlab()?;
    let username = fact(state, who)?;
    let kind = fact(state, "target_kind")?;
    let target = fact(state, "target")?;
    let base = gl.base_url().as_str().trim_end_matches('/').to_owned();
    let user = gl
        .user_by_username(username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("No GitLab user is named @{username}. Check the username with the requester.")))?;
    let is_group = kind.eq_ignore_ascii_case("group");
    let source = if is_group { gl.group(target).await? } else { gl.project(target).await? };
    let member =
        if is_group { gl.group_member(source.id, user.id).await? } else { gl.project_member(source.id, user.id).await? };
    let level = member.as_ref().map_or(0, |m| m.access_level);
    let needed = if is_group { 50 } else { 40 };
    let mut rows = vec![
        Fact::new("User", format!("@{} (id {})", user.username, user.id)),
        Fact::new(if is_group { "Group" } else { "Project" }, format!("{} (id {})", source.full_path, source.id)),
        Fact::judged(
            "Access, inherited included",
            format!("{} ({level}); {} ({needed}) or above needed", access_level_name(level), access_level_name(needed)),
            level >= needed,
        ),
    ];
    let mut data = json!({"user_id": user.id, "username": user.username, "kind": if is_group { "group" } else { "project" },
                      "source_id": source.id, "path": source.full_path, "access_level": level, "needed": needed});
    let (account, addresses) = verified_addresses(&gl, user.id).await?;
    if who == "username" {
        let (tie, row) = requester_tie(conns, state, &account, &addresses).await?;
        rows.push(row);
        data["requester_tie"] = tie;
    } else {
        let (key, value, row) = answerer_for_account(conns, state, &account, &addresses).await?;
        rows.push(row);
        data[key] = value;
    }
    let links = vec![
        Link { label: format!("GitLab: {}", source.full_path), url: source.web_url.clone() },
        Link { label: format!("GitLab admin: @{}", user.username), url: format!("{base}/admin/users/{}", user.username) },
    ];
    let mut facts = BTreeMap::new();
    facts.insert("target_path".to_owned(), source.full_path.clone());
    Ok(Found { evidence: Evidence { title: title.into(), at: clock::now(), data, rows, links }, facts })
}

/// A GitLab account and the addresses that are verifiably its own: the primary email of a
/// confirmed account, and every confirmed secondary email (admin reads).
pub(crate) async fn verified_addresses(gl: &GitLab, id: u64) -> Result<(gitlab::User, Vec<(String, &'static str)>)> {
    let user = gl.user(id).await?;
    let mut out = Vec::new();
    if let (Some(primary), Some(_)) = (&user.email, &user.confirmed_at) {
        out.push((primary.clone(), "primary"));
    }
    for e in gl.secondary_emails(&user).await? {
        if e.confirmed_at.is_some() {
            out.push((e.email, "verified secondary"));
        }
    }
    Ok((user, out))
}

/// Whether a GitLab account is the ticket requester's: it holds the requester's email (read
/// from the ticket's requester in Zendesk, never from what was typed) as its primary or a
/// verified secondary email. The evidence for the `requester_holds_gitlab_account` gate.
pub(crate) async fn requester_tie(
    conns: &Connections,
    state: &CaseState,
    account: &gitlab::User,
    addresses: &[(String, &'static str)],
) -> Result<(Value, Fact)> {
    let zd = super::support_ops::zendesk(conns, state)?;
    let requester = zd.user(state.fact("requester_id", "This lookup")?.parse().unwrap_or(0)).await?;
    let email = requester.email.clone().unwrap_or_default();
    let how = addresses.iter().find(|(a, _)| same_address(a, &email)).map(|(_, how)| *how);
    let row = Fact::judged(
        "Holds the requester's email",
        match how {
            Some(how) => format!("{email} ({how})"),
            None => format!("no: {email} is neither its primary nor a verified secondary email"),
        },
        how.is_some(),
    );
    let tie = json!({"username": account.username, "user_id": account.id, "requester_id": requester.id,
                     "requester_email": email, "holds": how.is_some(), "how": how,
                     "addresses": addresses.iter().map(|(a, how)| json!({"email": a, "how": how})).collect::<Vec<_>>()});
    Ok((tie, row))
}

/// The one Zendesk user behind a GitLab account's verified addresses: whose reply counts as
/// the account holder's permission. `("answerer", …)` when there is exactly one and it is not
/// the ticket's requester, `("answerer_problem", why)` otherwise; with the evidence row.
pub(crate) async fn answerer_for_account(
    conns: &Connections,
    state: &CaseState,
    account: &gitlab::User,
    addresses: &[(String, &'static str)],
) -> Result<(&'static str, Value, Fact)> {
    let zd = super::support_ops::zendesk(conns, state)?;
    let requester: u64 = state.fact("requester_id", "This lookup")?.parse().unwrap_or(0);
    let mut found: BTreeMap<u64, (String, String, Vec<String>)> = BTreeMap::new();
    for (address, _) in addresses {
        for u in zd.users_by_email(address).await? {
            found
                .entry(u.id)
                .or_insert_with(|| (u.name.clone(), u.email.clone().unwrap_or_default(), Vec::new()))
                .2
                .push(address.clone());
        }
    }
    let listed = addresses.iter().map(|(a, how)| format!("{a} ({how})")).collect::<Vec<_>>().join(", ");
    let label = "Who gives the permission (Zendesk)";
    let problem = |why: String| Ok(("answerer_problem", Value::String(why.clone()), Fact::judged(label, why, false)));
    if addresses.is_empty() {
        return problem(format!(
            "@{} has no verified email (unconfirmed account): no reply on the ticket can be tied to it.",
            account.username
        ));
    }
    match found.len() {
        0 => problem(format!(
            "No support-portal user holds a verified email of @{} ({listed}): ask them to reply on the ticket from one of these addresses, then Refresh.",
            account.username
        )),
        1 => {
            let (id, (name, email, via)) = found.into_iter().next().unwrap_or_default();
            if id == requester {
                return problem(format!(
                    "{name} <{email}> is the ticket's requester: someone else, the Owner or Maintainer @{}, must give this permission.",
                    account.username
                ));
            }
            let who = Answerer {
                role: "permission_giver".into(),
                user_id: id,
                name: name.clone(),
                email: email.clone(),
                why: format!("{} is a verified email of @{}, who has the access", via.join(", "), account.username),
            };
            let row = Fact::judged(label, format!("{name} <{email}>, Zendesk user {id} (via {})", via.join(", ")), true);
            Ok(("answerer", serde_json::to_value(&who).unwrap_or_default(), row))
        }
        _ => problem(format!(
            "{} support-portal users hold verified emails of @{} (users {}): Casekit will not pick one; resolve the duplicate in Zendesk, then Refresh.",
            found.len(),
            account.username,
            found.keys().map(u64::to_string).collect::<Vec<_>>().join(", ")
        )),
    }
}
