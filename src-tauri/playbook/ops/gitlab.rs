//! GitLab: the account behind an email, a user's access to a group or project, an account's
//! verified emails; the gates over them; releasing an email, making a verified email primary,
//! resetting two-factor authentication and appending the admin note.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{evidence, fact, zendesk, Action, Gate, Lookup, Need, Run};
use crate::connectors::gitlab::{self as api, access_level_name, same_address, EventQuery, GitLab, UserEdit};
use crate::connectors::session::Connections;
use crate::playbook::consent::{self, Answerer, Role};
use crate::playbook::effects::{Calls, Fact, Found, Link, Outcome, PlannedCall, Verdict};
use crate::playbook::state::CaseState;
use crate::{Error, Result};

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

fn base(gl: &GitLab) -> String {
    gl.base_url().as_str().trim_end_matches('/').to_owned()
}

fn admin_link(gl: &GitLab, username: &str) -> Link {
    Link::new(format!("GitLab admin: @{username}"), format!("{}/admin/users/{username}", base(gl)))
}

fn user_id(state: &CaseState) -> Result<u64> {
    fact(state, "user_id")?.parse().map_err(|_| Error::Internal("user_id is not a number".into()))
}

// ---------------------------------------------------------------- whose account it is

/// A verified address of an account and how it is held (`primary`, `verified secondary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub email: String,
    pub how: String,
}

/// Whether a GitLab account is the ticket requester's: it holds the requester's email (read
/// from the ticket's requester in Zendesk, never from what was typed) as its primary or a
/// verified secondary email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tie {
    pub username: String,
    pub user_id: u64,
    pub requester_id: u64,
    pub requester_email: String,
    pub holds: bool,
    pub how: Option<String>,
    pub addresses: Vec<Address>,
}

/// A GitLab account and the addresses that are verifiably its own: the primary email of a
/// confirmed account, and every confirmed secondary email (admin reads).
async fn verified_addresses(gl: &GitLab, id: u64) -> Result<(api::User, Vec<Address>)> {
    let user = gl.user(id).await?;
    let mut out = Vec::new();
    if let (Some(primary), Some(_)) = (&user.email, &user.confirmed_at) {
        out.push(Address { email: primary.clone(), how: "primary".into() });
    }
    for e in gl.secondary_emails(&user).await? {
        if e.confirmed_at.is_some() {
            out.push(Address { email: e.email, how: "verified secondary".into() });
        }
    }
    Ok((user, out))
}

/// The evidence for the `requester_holds_gitlab_account` gate, and its row.
async fn requester_tie(
    conns: &Connections,
    state: &CaseState,
    account: &api::User,
    addresses: &[Address],
) -> Result<(Tie, Fact)> {
    let zd = zendesk::client(conns, state)?;
    let requester = zd.user(super::number(state, "requester_id")?).await?;
    let email = requester.email.clone().unwrap_or_default();
    let how = addresses.iter().find(|a| same_address(&a.email, &email)).map(|a| a.how.clone());
    let row = Fact::judged(
        "Holds the requester's email",
        match &how {
            Some(how) => format!("{email} ({how})"),
            None => format!("no: {email} is neither its primary nor a verified secondary email"),
        },
        how.is_some(),
    );
    let tie = Tie {
        username: account.username.clone(),
        user_id: account.id,
        requester_id: requester.id,
        requester_email: email,
        holds: how.is_some(),
        how,
        addresses: addresses.to_vec(),
    };
    Ok((tie, row))
}

/// The one Zendesk user behind a GitLab account's verified addresses: whose reply counts as
/// the account holder's permission, when there is exactly one and it is not the ticket's
/// requester; otherwise why there is none. With the evidence row.
async fn answerer_for_account(
    conns: &Connections,
    state: &CaseState,
    account: &api::User,
    addresses: &[Address],
) -> Result<(std::result::Result<Answerer, String>, Fact)> {
    let zd = zendesk::client(conns, state)?;
    let requester = super::number(state, "requester_id")?;
    let mut found: BTreeMap<u64, (String, String, Vec<String>)> = BTreeMap::new();
    for a in addresses {
        for u in zd.users_by_email(&a.email).await? {
            found
                .entry(u.id)
                .or_insert_with(|| (u.name.clone(), u.email.clone().unwrap_or_default(), Vec::new()))
                .2
                .push(a.email.clone());
        }
    }
    let listed = addresses.iter().map(|a| format!("{} ({})", a.email, a.how)).collect::<Vec<_>>().join(", ");
    let label = "Who gives the permission (Zendesk)";
    let problem = |why: String| Ok((Err(why.clone()), Fact::judged(label, why, false)));
    if addresses.is_empty() {
        return problem(format!(
            "@{} has no verified email (unconfirmed account): no reply on the ticket can be tied to it.",
            account.username
        ));
    }
    let mut holders = found.into_iter();
    match (holders.next(), holders.len()) {
        (None, _) => problem(format!(
            "No support-portal user holds a verified email of @{} ({listed}): ask them to reply on the ticket from one of these addresses, then Refresh.",
            account.username
        )),
        (Some((id, (name, email, _))), 0) if id == requester => problem(format!(
            "{name} <{email}> is the ticket's requester: someone else, the Owner or Maintainer @{}, must give this permission.",
            account.username
        )),
        (Some((id, (name, email, via))), 0) => {
            let who = Answerer {
                role: Role::PermissionGiver,
                user_id: id,
                name: name.clone(),
                email: email.clone(),
                why: format!("{} is a verified email of @{}, who has the access", via.join(", "), account.username),
            };
            let row = Fact::judged(label, format!("{name} <{email}>, Zendesk user {id} (via {})", via.join(", ")), true);
            Ok((Ok(who), row))
        }
        (Some((first, _)), more) => problem(format!(
            "{} support-portal users hold verified emails of @{} (users {}): Casekit will not pick one; resolve the duplicate in Zendesk, then Refresh.",
            more + 1,
            account.username,
            std::iter::once(first).chain(holders.map(|(id, _)| id)).map(|id| id.to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
}

// ---------------------------------------------------------------- the account behind an email

/// A paid namespace the account has a seat in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaidNamespace {
    pub id: u64,
    pub path: String,
    pub plan: Option<String>,
}

/// What `gitlab_account` found: the one account holding the email, or who holds it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AccountData {
    pub found: bool,
    /// When not found: the address asked about and the accounts holding it (zero or several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<String>,
    #[serde(default)]
    pub username_matches: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<api::User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associations: Option<api::AssociationsCount>,
    #[serde(default)]
    pub events: Vec<api::Event>,
    #[serde(default)]
    pub memberships: Vec<api::Membership>,
    #[serde(default)]
    pub emails: Vec<api::Email>,
    #[serde(default)]
    pub paid_namespaces: Vec<PaidNamespace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_tie: Option<Tie>,
}

/// `gitlab_account`: the account behind an email — details, activity counts, recent
/// contribution events, direct memberships and secondary emails: what the release gates read.
pub struct Account;

impl Lookup for Account {
    const NAME: &'static str = "gitlab_account";
    const NEEDS: &'static [Need] = &[Need::Fact("email")];
    const PRODUCES: &'static [&'static str] = &["user_id", "gitlab_username", "primary_email", "release_email"];
    type Data = AccountData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        let gl = &conns.gitlab()?;
        let email = fact(state, "email")?;
        let claimed = state.facts.get("username").cloned().unwrap_or_default();
        let mut matches = gl.users_with_email(email).await?;
        if matches.len() != 1 {
            let holders: Vec<String> = matches.iter().map(|u| format!("@{}", u.username)).collect();
            let row = if holders.is_empty() {
                format!("none has exactly {email} as its primary or a verified email")
            } else {
                format!("{} accounts hold {email}: {}", holders.len(), holders.join(", "))
            };
            let data = AccountData { email: Some(email.to_owned()), holders, ..Default::default() };
            let links = vec![Link::new("GitLab admin: users", format!("{}/admin/users?search={email}", base(gl)))];
            return Found::new("GitLab account", &data, vec![Fact::judged("Account with this email", row, false)], links);
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
                paid.push(PaidNamespace { id: ns.id, path: ns.full_path, plan: ns.plan });
            }
        }
        let primary = user.email.clone().unwrap_or_default();
        let username_matches = claimed.is_empty() || claimed.eq_ignore_ascii_case(&user.username);
        let listed = |items: Vec<String>| if items.is_empty() { "none".to_owned() } else { items.join("; ") };
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
                listed(
                    memberships
                        .iter()
                        .map(|m| format!("{} {} ({})", m.source_type, m.source_name, access_level_name(m.access_level)))
                        .collect(),
                ),
            ),
            Fact::new(
                "Secondary emails",
                listed(
                    emails
                        .iter()
                        .map(|e| format!("{} ({})", e.email, if e.confirmed_at.is_some() { "verified" } else { "unverified" }))
                        .collect(),
                ),
            ),
            Fact::new(
                "Paid namespaces",
                listed(paid.iter().map(|p| format!("{} ({})", p.path, p.plan.as_deref().unwrap_or("?"))).collect()),
            ),
            Fact::new("Two-factor authentication", if user.two_factor_enabled == Some(true) { "on" } else { "off" }),
        ];
        if !username_matches {
            rows.insert(1, Fact::judged("Username the requester gave", format!("@{claimed}"), false));
        }
        // Whose account it is: the ticket's requester must hold one of its verified addresses.
        let mut addresses: Vec<Address> =
            user.confirmed_at.as_ref().map(|_| Address { email: primary.clone(), how: "primary".into() }).into_iter().collect();
        addresses.extend(
            emails
                .iter()
                .filter(|e| e.confirmed_at.is_some())
                .map(|e| Address { email: e.email.clone(), how: "verified secondary".into() }),
        );
        let (tie, tie_row) = requester_tie(conns, state, &user, &addresses).await?;
        rows.insert(1, tie_row);
        let links = vec![admin_link(gl, &user.username)];
        let data = AccountData {
            found: true,
            username_matches,
            associations: Some(counts),
            events,
            memberships,
            emails,
            paid_namespaces: paid,
            requester_tie: Some(tie),
            user: Some(user.clone()),
            ..Default::default()
        };
        Ok(Found::new("GitLab account", &data, rows, links)?
            .fact("user_id", user.id.to_string())
            .fact("gitlab_username", user.username.clone())
            .fact("release_email", release_address(&primary))
            .fact("primary_email", primary))
    }
}

/// The account the lookup found, or the verdict without one.
fn found_account(state: &CaseState) -> std::result::Result<(AccountData, api::User), Verdict> {
    let a = evidence::<Account>(state)?;
    match a.user.clone() {
        Some(u) if a.found => Ok((a, u)),
        _ => Err(Verdict::block("The account lookup has not found an account yet.")),
    }
}

/// The date part of a GitLab timestamp.
fn day(at: &str) -> &str {
    at.get(..10).unwrap_or(at)
}

/// `requester_knows_account`: the email belongs to exactly one account, the one named.
pub struct RequesterKnowsAccount;

impl Gate for RequesterKnowsAccount {
    const NAME: &'static str = "requester_knows_account";
    const NEEDS: &'static [Need] = &[Need::Lookup(Account::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        let a = match evidence::<Account>(state) {
            Ok(a) => a,
            Err(v) => return v,
        };
        let username = a.user.as_ref().map_or("?", |u| u.username.as_str());
        if a.holders.len() > 1 {
            Verdict::block(format!(
                "Several GitLab accounts hold this email ({}): Casekit will not pick one. Resolve it in GitLab admin.",
                a.holders.join(", ")
            ))
        } else if !a.found {
            Verdict::block(
                "No GitLab account has exactly this email as its primary or a verified address: check the address with the requester.",
            )
        } else if !a.username_matches {
            Verdict::block(format!(
                "The address belongs to @{username}, not to the username the requester gave: they must name both correctly."
            ))
        } else {
            Verdict::pass(format!("The address belongs to @{username}, as the requester said."))
        }
    }
}

/// `account_confirmed`: the account confirmed its email.
pub struct AccountConfirmed;

impl Gate for AccountConfirmed {
    const NAME: &'static str = "account_confirmed";
    const NEEDS: &'static [Need] = &[Need::Lookup(Account::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        match found_account(state) {
            Err(v) => v,
            Ok((_, u)) => match &u.confirmed_at {
                Some(at) => Verdict::pass(format!("Confirmed {}.", day(at))),
                None => Verdict::block("The account never confirmed its email: this is a confirmation-email case."),
            },
        }
    }
}

/// `never_signed_in`: no sign-in and no activity ever.
pub struct NeverSignedIn;

impl Gate for NeverSignedIn {
    const NAME: &'static str = "never_signed_in";
    const NEEDS: &'static [Need] = &[Need::Lookup(Account::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        let u = match found_account(state) {
            Ok((_, u)) => u,
            Err(v) => return v,
        };
        let seen = [&u.last_sign_in_at, &u.current_sign_in_at, &u.last_activity_on].into_iter().find_map(Option::as_deref);
        match (u.sign_in_count.unwrap_or(0), seen) {
            (0, None) => Verdict::pass("Never signed in; no last activity."),
            (n, at) => Verdict::block(format!("Signed in {n} time(s); last seen {}.", at.unwrap_or("(date not shown)"))),
        }
    }
}

/// `no_associations`: no groups, projects, issues or merge requests.
pub struct NoAssociations;

impl Gate for NoAssociations {
    const NAME: &'static str = "no_associations";
    const NEEDS: &'static [Need] = &[Need::Lookup(Account::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        match found_account(state).map(|(a, _)| a.associations) {
            Err(v) => v,
            Ok(None) => Verdict::block("The account lookup has not counted the account's associations: Refresh."),
            Ok(Some(c)) => {
                let (g, p, i, m) = (c.groups_count, c.projects_count, c.issues_count, c.merge_requests_count);
                Verdict::new(g + p + i + m == 0, format!("{g} groups, {p} projects, {i} issues, {m} merge requests."))
            }
        }
    }
}

/// `no_contribution_events`: no contribution events.
pub struct NoContributionEvents;

impl Gate for NoContributionEvents {
    const NAME: &'static str = "no_contribution_events";
    const NEEDS: &'static [Need] = &[Need::Lookup(Account::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        match found_account(state).map(|(a, _)| a.events) {
            Err(v) => v,
            Ok(events) => match events.first() {
                None => Verdict::pass("No contribution events."),
                Some(e) => Verdict::block(format!(
                    "{} contribution event(s), latest “{}” on {}.",
                    events.len(),
                    e.action_name,
                    day(&e.created_at)
                )),
            },
        }
    }
}

/// `no_memberships`: not a direct member of any group or project.
pub struct NoMemberships;

impl Gate for NoMemberships {
    const NAME: &'static str = "no_memberships";
    const NEEDS: &'static [Need] = &[Need::Lookup(Account::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        match found_account(state).map(|(a, _)| a.memberships) {
            Err(v) => v,
            Ok(m) if m.is_empty() => Verdict::pass("Not a direct member of any group or project."),
            Ok(m) => {
                Verdict::block(format!("Member of {}.", m.iter().map(|x| x.source_name.as_str()).collect::<Vec<_>>().join(", ")))
            }
        }
    }
}

/// `two_factor_eligible`: 2FA is on and the account has a seat in a paid namespace.
pub struct TwoFactorEligible;

impl Gate for TwoFactorEligible {
    const NAME: &'static str = "two_factor_eligible";
    const NEEDS: &'static [Need] = &[Need::Lookup(Account::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        match found_account(state) {
            Err(v) => v,
            Ok((_, u)) if u.two_factor_enabled != Some(true) => {
                Verdict::block("Two-factor authentication is not on for this account.")
            }
            Ok((a, _)) if a.paid_namespaces.is_empty() => {
                Verdict::block("No seat in a paid namespace: 2FA is never reset for free users.")
            }
            Ok((a, _)) => Verdict::pass(format!(
                "Seat in a paid namespace: {}.",
                a.paid_namespaces.iter().map(|p| p.path.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

// ---------------------------------------------------------------- access to a group or project

/// What a membership lookup found: the user's access (inherited included) to the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipData {
    pub user_id: u64,
    pub username: String,
    /// `group` or `project`.
    pub kind: String,
    pub source_id: u64,
    pub path: String,
    pub access_level: u32,
    pub needed: u32,
    /// The requester's own access: whether the account is theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_tie: Option<Tie>,
    /// The permission giver's access: the one Zendesk user whose reply counts…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answerer: Option<Answerer>,
    /// …or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answerer_problem: Option<String>,
}

/// Whose access a membership lookup reads.
enum Whose {
    /// The requester's account (`username`): it must hold the ticket requester's email.
    Requester,
    /// The permission giver's (`owner_username`): the Zendesk user behind its verified emails
    /// is the one person whose reply counts as the permission.
    PermissionGiver,
}

/// A user's access to a group or project, inherited membership included: what the project and
/// group change gates read.
async fn membership(conns: &Connections, state: &CaseState, whose: Whose, title: &str) -> Result<Found> {
    let gl = conns.gitlab()?;
    let username = fact(state, if matches!(whose, Whose::Requester) { "username" } else { "owner_username" })?;
    let kind = fact(state, "target_kind")?;
    let target = fact(state, "target")?;
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
    let mut data = MembershipData {
        user_id: user.id,
        username: user.username.clone(),
        kind: if is_group { "group" } else { "project" }.into(),
        source_id: source.id,
        path: source.full_path.clone(),
        access_level: level,
        needed,
        requester_tie: None,
        answerer: None,
        answerer_problem: None,
    };
    let (account, addresses) = verified_addresses(&gl, user.id).await?;
    match whose {
        Whose::Requester => {
            let (tie, row) = requester_tie(conns, state, &account, &addresses).await?;
            rows.push(row);
            data.requester_tie = Some(tie);
        }
        Whose::PermissionGiver => {
            let (who, row) = answerer_for_account(conns, state, &account, &addresses).await?;
            rows.push(row);
            match who {
                Ok(who) => data.answerer = Some(who),
                Err(why) => data.answerer_problem = Some(why),
            }
        }
    }
    let links = vec![Link::new(format!("GitLab: {}", source.full_path), source.web_url.clone()), admin_link(&gl, &user.username)];
    Ok(Found::new(title, &data, rows, links)?.fact("target_path", source.full_path))
}

/// `gitlab_membership`: the requester's access to the target.
pub struct RequesterMembership;

impl Lookup for RequesterMembership {
    const NAME: &'static str = "gitlab_membership";
    const NEEDS: &'static [Need] = &[Need::Fact("username"), Need::Fact("target_kind"), Need::Fact("target")];
    const PRODUCES: &'static [&'static str] = &["target_path"];
    type Data = MembershipData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        membership(conns, state, Whose::Requester, "Requester's access").await
    }
}

/// `gitlab_owner_membership`: the permission giver's access to the target, and who they are
/// in Zendesk.
pub struct OwnerMembership;

impl Lookup for OwnerMembership {
    const NAME: &'static str = "gitlab_owner_membership";
    const NEEDS: &'static [Need] = &[Need::Fact("owner_username"), Need::Fact("target_kind"), Need::Fact("target")];
    const PRODUCES: &'static [&'static str] = &["target_path"];
    type Data = MembershipData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        membership(conns, state, Whose::PermissionGiver, "Permission giver's access").await
    }
}

/// Group Owner (50) or project Maintainer (40) and above, inherited membership counting.
fn access(d: &MembershipData) -> Verdict {
    let what = format!("{} {}", d.kind, d.path);
    let (who, level, needed) = (&d.username, d.access_level, d.needed);
    if level >= needed {
        Verdict::pass(format!("@{who} has access level {level} on {what} ({needed} needed)."))
    } else {
        Verdict::block(format!(
            "@{who} has access level {level} on {what}; {needed} (Owner of a group, Maintainer of a project) is needed."
        ))
    }
}

/// `requester_can_change_target`: the requester is an Owner of the group or a Maintainer of
/// the project.
pub struct RequesterCanChangeTarget;

impl Gate for RequesterCanChangeTarget {
    const NAME: &'static str = "requester_can_change_target";
    const NEEDS: &'static [Need] = &[Need::Lookup(RequesterMembership::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        evidence::<RequesterMembership>(state).map_or_else(|v| v, |d| access(&d))
    }
}

/// `permission_giver_can_change_target`: the permission giver has the access, and exactly one
/// Zendesk user (not the requester) can answer for them.
pub struct PermissionGiverCanChangeTarget;

impl Gate for PermissionGiverCanChangeTarget {
    const NAME: &'static str = "permission_giver_can_change_target";
    const NEEDS: &'static [Need] = &[Need::Lookup(OwnerMembership::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        let d = match evidence::<OwnerMembership>(state) {
            Ok(d) => d,
            Err(v) => return v,
        };
        let access = access(&d);
        if !access.passed {
            return access;
        }
        match consent::answerer(Role::PermissionGiver, state) {
            Ok(who) => Verdict::pass(format!(
                "{} Only {} <{}> (Zendesk user {}) can give the permission.",
                access.detail, who.name, who.email, who.user_id
            )),
            Err(e) => Verdict::block(e.to_string()),
        }
    }
}

// ---------------------------------------------------------------- GitLab.com secondary emails

/// What `gitlab_secondary_emails` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondaryEmailsData {
    pub verified: bool,
    pub listed: bool,
    pub email: String,
    pub requester_tie: Tie,
}

/// `gitlab_secondary_emails`: on GitLab.com, the account must be the requester's (it holds the
/// ticket requester's email as primary or verified secondary), and the address a verified
/// secondary email on it.
pub struct SecondaryEmails;

impl Lookup for SecondaryEmails {
    const NAME: &'static str = "gitlab_secondary_emails";
    const NEEDS: &'static [Need] = &[Need::Fact("gitlab_username"), Need::Fact("new_email")];
    const PRODUCES: &'static [&'static str] = &["target_user_id"];
    type Data = SecondaryEmailsData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        let gl = conns.gitlab()?;
        let username = fact(state, "gitlab_username")?;
        let wanted = fact(state, "new_email")?.to_lowercase();
        let user = gl
            .user_by_username(username)
            .await?
            .ok_or_else(|| Error::NotFound(format!("No GitLab.com user is named @{username}.")))?;
        let (account, addresses) = verified_addresses(&gl, user.id).await?;
        let (tie, tie_row) = requester_tie(conns, state, &account, &addresses).await?;
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
        let data = SecondaryEmailsData { verified, listed: listed.is_some(), email: wanted, requester_tie: tie };
        Ok(Found::new("GitLab.com emails", &data, rows, vec![admin_link(&gl, &user.username)])?
            .fact("target_user_id", fact(state, "requester_id")?))
    }
}

/// `email_verified_on_gitlab`: the address is a verified secondary email of the account.
pub struct EmailVerifiedOnGitlab;

impl Gate for EmailVerifiedOnGitlab {
    const NAME: &'static str = "email_verified_on_gitlab";
    const NEEDS: &'static [Need] = &[Need::Lookup(SecondaryEmails::NAME)];

    fn evaluate(state: &CaseState) -> Verdict {
        match evidence::<SecondaryEmails>(state) {
            Err(v) => v,
            Ok(d) if d.verified => Verdict::pass(format!("{} is a verified secondary email on GitLab.com.", d.email)),
            Ok(d) if d.listed => Verdict::block(format!("{} is on the GitLab.com account but not verified.", d.email)),
            Ok(d) => Verdict::block(format!("{} is not on the GitLab.com account.", d.email)),
        }
    }
}

/// `requester_holds_gitlab_account`: the GitLab account the case acts on is the ticket
/// requester's (whichever lookup found it).
pub struct RequesterHoldsGitlabAccount;

impl Gate for RequesterHoldsGitlabAccount {
    const NAME: &'static str = "requester_holds_gitlab_account";
    const NEEDS: &'static [Need] = &[Need::AnyLookup(&[RequesterMembership::NAME, SecondaryEmails::NAME, Account::NAME])];

    fn evaluate(state: &CaseState) -> Verdict {
        let tie = evidence::<RequesterMembership>(state)
            .ok()
            .and_then(|d| d.requester_tie)
            .or_else(|| evidence::<SecondaryEmails>(state).ok().map(|d| d.requester_tie))
            .or_else(|| evidence::<Account>(state).ok().and_then(|d| d.requester_tie));
        match tie {
            None => Verdict::block("The GitLab account lookup has not run yet."),
            Some(t) if t.holds => Verdict::pass(format!(
                "@{} holds the requester's email {} ({}).",
                t.username,
                t.requester_email,
                t.how.as_deref().unwrap_or("?")
            )),
            Some(t) => Verdict::block(format!(
                "@{} does not hold the ticket requester's email {} as its primary or a verified secondary email \
                 (its verified emails: {}): it is not the requester's account, so Casekit will not act on it. \
                 The requester must write in from an address of that account, or name their own account.",
                t.username,
                if t.requester_email.is_empty() { "(none)" } else { &t.requester_email },
                if t.addresses.is_empty() {
                    "none".to_owned()
                } else {
                    t.addresses.iter().map(|a| a.email.as_str()).collect::<Vec<_>>().join(", ")
                }
            )),
        }
    }
}

// ---------------------------------------------------------------- changes

/// `release_email`: the old primary email is swapped for `+release` and removed, so the
/// address is free for the requester's other account.
pub struct ReleaseEmail;

impl Action for ReleaseEmail {
    const NAME: &'static str = "release_email";
    const NEEDS: &'static [Need] =
        &[Need::Fact("user_id"), Need::Fact("primary_email"), Need::Fact("release_email"), Need::Lookup(Account::NAME)];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        let (id, old, new) = (fact(state, "user_id")?, fact(state, "primary_email")?, fact(state, "release_email")?);
        Ok(vec![
            PlannedCall::new(
                "POST",
                format!("/api/v4/users/{id}/emails"),
                format!("secondary emails: + {new} (skip_confirmation)"),
            ),
            PlannedCall::new("PUT", format!("/api/v4/users/{id}"), format!("primary email: {old} → {new} (skip_reconfirmation)")),
            PlannedCall::new("DELETE", format!("/api/v4/users/{id}/emails/:id"), format!("secondary emails: − {old} (released)")),
        ])
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        state.facts.get("gitlab_username").cloned()
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let state = run.state;
        let gl = run.env.conns.gitlab()?;
        let id = user_id(state)?;
        let (old, new) = (fact(state, "primary_email")?.to_owned(), fact(state, "release_email")?.to_owned());
        let seen = evidence::<Account>(state)
            .ok()
            .and_then(|a| a.user)
            .ok_or_else(|| Error::OutOfOrder("Look up the account first.".into()))?;

        // Re-read right before writing: refuse if the account moved since the evidence.
        let now = gl.user(id).await?;
        let primary = now.email.clone().unwrap_or_default();
        if primary != old && primary != new {
            return Err(Error::StaleEvidence(format!(
                "The account's primary email changed since the lookup ({old} → {primary}). Refresh the evidence and check the gates again."
            )));
        }
        if now.sign_in_count.unwrap_or(0) != seen.sign_in_count.unwrap_or(0) || now.last_sign_in_at != seen.last_sign_in_at {
            return Err(Error::StaleEvidence(
                "Someone signed in to the account since the lookup. Refresh the evidence: the account may no longer be inactive."
                    .into(),
            ));
        }

        let emails = gl.emails(id).await?;
        let path = format!("/api/v4/users/{id}/emails");
        if primary == new || emails.iter().any(|e| e.email.eq_ignore_ascii_case(&new)) {
            calls.record("POST", path, format!("skipped: {new} is already on the account"));
        } else {
            let added = gl.add_email(id, &new, true).await?;
            calls.record("POST", path, format!("done: email id {}", added.id));
        }
        let path = format!("/api/v4/users/{id}");
        if primary == new {
            calls.record("PUT", path, format!("skipped: {new} is already primary"));
        } else {
            let edit = UserEdit { email: Some(new.clone()), skip_reconfirmation: Some(true), note: None };
            gl.edit_user(id, &edit).await?;
            calls.record("PUT", path, "done");
        }
        let emails = gl.emails(id).await?;
        match emails.iter().find(|e| e.email.eq_ignore_ascii_case(&old)) {
            Some(e) => {
                gl.delete_email(id, e.id).await?;
                calls.record("DELETE", format!("/api/v4/users/{id}/emails/{}", e.id), "done");
            }
            None => {
                calls.record("DELETE", format!("/api/v4/users/{id}/emails/:id"), format!("skipped: {old} is not on the account"))
            }
        }

        // Verify: the new primary is set, and the old address is on no account.
        let after = gl.user(id).await?;
        let still_has = gl.emails(id).await?.iter().any(|e| e.email.eq_ignore_ascii_case(&old));
        let holders = gl.users_with_email(&old).await?;
        let checks = vec![
            Fact::judged(
                "Primary email now",
                after.email.clone().unwrap_or_default(),
                after.email.as_deref() == Some(new.as_str()),
            ),
            Fact::judged("Old address on the account", if still_has { "still there" } else { "removed" }, !still_has),
            Fact::judged(
                "Accounts holding the old address",
                if holders.is_empty() { "none: released".to_owned() } else { format!("{}", holders.len()) },
                holders.is_empty(),
            ),
        ];
        if checks.iter().any(Fact::blocks) {
            return Err(Error::InvalidResponse(format!(
                "GitLab accepted the calls but the address is not released: {}. Check the account in GitLab admin.",
                serde_json::json!(checks.iter().map(|c| format!("{}: {}", c.label, c.value)).collect::<Vec<_>>())
            )));
        }
        Ok(checks)
    }
}

/// `make_primary_email`: a verified secondary email becomes the primary.
pub struct MakePrimaryEmail;

impl Action for MakePrimaryEmail {
    const NAME: &'static str = "make_primary_email";
    const NEEDS: &'static [Need] = &[Need::Fact("user_id"), Need::Fact("primary_email"), Need::Fact("new_primary_email")];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        let (id, old, new) = (fact(state, "user_id")?, fact(state, "primary_email")?, fact(state, "new_primary_email")?);
        Ok(vec![PlannedCall::new(
            "PUT",
            format!("/api/v4/users/{id}"),
            format!("primary email: {old} → {new} (a verified secondary; skip_reconfirmation)"),
        )])
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        state.facts.get("gitlab_username").cloned()
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let state = run.state;
        let gl = run.env.conns.gitlab()?;
        let id = user_id(state)?;
        let (old, new) = (fact(state, "primary_email")?, fact(state, "new_primary_email")?);
        let now = gl.user(id).await?;
        let primary = now.email.clone().unwrap_or_default();
        let path = format!("/api/v4/users/{id}");
        if primary.eq_ignore_ascii_case(new) {
            calls.record("PUT", path, format!("skipped: {new} is already primary"));
        } else {
            if primary != old {
                return Err(Error::StaleEvidence(format!(
                    "The primary email changed since the lookup ({old} → {primary}). Refresh the evidence first."
                )));
            }
            let verified =
                gl.emails(id).await?.into_iter().any(|e| e.email.eq_ignore_ascii_case(new) && e.confirmed_at.is_some());
            if !verified {
                return Err(Error::InvalidInput(format!(
                    "{new} is not a verified secondary email of the account: only a verified address may become primary."
                )));
            }
            gl.edit_user(id, &UserEdit { email: Some(new.to_owned()), skip_reconfirmation: Some(true), note: None }).await?;
            calls.record("PUT", path, "done");
        }
        let after = gl.user(id).await?.email.unwrap_or_default();
        if !after.eq_ignore_ascii_case(new) {
            return Err(Error::InvalidResponse(format!(
                "GitLab still shows {after} as primary. Check the account in GitLab admin."
            )));
        }
        Ok(vec![Fact::judged("Primary email now", after, true)])
    }
}

/// `disable_two_factor`: two-factor authentication is reset.
pub struct DisableTwoFactor;

impl Action for DisableTwoFactor {
    const NAME: &'static str = "disable_two_factor";
    const NEEDS: &'static [Need] = &[Need::Fact("user_id")];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        let id = fact(state, "user_id")?;
        Ok(vec![PlannedCall::new(
            "PATCH",
            format!("/api/v4/users/{id}/disable_two_factor"),
            "two-factor authentication: on → off",
        )])
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        state.facts.get("gitlab_username").cloned()
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let gl = run.env.conns.gitlab()?;
        let id = user_id(run.state)?;
        let path = format!("/api/v4/users/{id}/disable_two_factor");
        if gl.user(id).await?.two_factor_enabled == Some(true) {
            gl.disable_two_factor(id).await?;
            calls.record("PATCH", path, "done");
        } else {
            calls.record("PATCH", path, "skipped: two-factor authentication is already off");
        }
        if gl.user(id).await?.two_factor_enabled == Some(true) {
            return Err(Error::InvalidResponse("GitLab still shows two-factor authentication on.".into()));
        }
        Ok(vec![Fact::judged("Two-factor authentication", "off", true)])
    }
}

/// The admin note (a `note` step): re-reads the note right before writing, appends the line
/// (never replaces), skips when the line is already there, and verifies the earlier text is
/// kept.
pub async fn append_admin_note(conns: &Connections, state: &CaseState, line: &str) -> Outcome {
    let mut calls = Calls::default();
    let result = async {
        let gl = conns.gitlab()?;
        let id = user_id(state)?;
        let before = gl.user(id).await?.note.unwrap_or_default();
        let path = format!("/api/v4/users/{id}");
        if before.lines().any(|l| l.trim() == line) {
            calls.record("PUT", path, "skipped: the line is already in the note");
        } else {
            let note = if before.trim().is_empty() { line.to_owned() } else { format!("{}\n{line}", before.trim_end()) };
            gl.edit_user(id, &UserEdit { note: Some(note), ..Default::default() }).await?;
            calls.record("PUT", path, "done: note appended");
        }
        let after = gl.user(id).await?.note.unwrap_or_default();
        let kept = after.starts_with(before.trim_end());
        let written = after.lines().any(|l| l.trim() == line);
        if !(kept && written) {
            return Err(Error::InvalidResponse("The admin note does not read back as written. Check it in GitLab admin.".into()));
        }
        Ok(vec![Fact::judged("Admin note", line.to_owned(), true), Fact::judged("Earlier note lines", "kept", true)])
    }
    .await;
    Outcome { calls: calls.into_vec(), result }
}
