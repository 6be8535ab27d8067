//! Named gates: predicates over a case's evidence, each saying what it saw.

use serde_json::Value;

use super::state::CaseState;

/// Every gate a playbook may name.
pub const NAMES: &[&str] = &[
    "requester_knows_account",
    "account_confirmed",
    "never_signed_in",
    "no_associations",
    "no_contribution_events",
    "no_memberships",
    "ownership_verified",
    "requester_can_change_target",
    "permission_giver_can_change_target",
    "two_factor_eligible",
    "requester_is_end_user",
    "organization_below_contact_limit",
    "email_verified_on_gitlab",
    "form_fields_complete",
    "requester_holds_gitlab_account",
    "ticket_from_new_address",
];

/// A gate's verdict and what it was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub detail: String,
}

fn verdict(passed: bool, detail: impl Into<String>) -> Verdict {
    Verdict { passed, detail: detail.into() }
}

/// Evaluates gate `name`; missing evidence never passes.
pub fn evaluate(name: &str, state: &CaseState) -> Verdict {
    let account = state.evidence.get("gitlab_account").map(|e| &e.data);
    let user = account.and_then(|a| a.get("user"));
    let need_account = || verdict(false, "The account lookup has not found an account yet.");
    match name {
        "requester_knows_account" => match account {
            None => need_account(),
            Some(a) if a["holders"].as_array().is_some_and(|h| h.len() > 1) => verdict(
                false,
                format!(
                    "Several GitLab accounts hold this email ({}): Casekit will not pick one. Resolve it in GitLab admin.",
                    a["holders"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
                ),
            ),
            Some(a) if a["found"] != Value::Bool(true) => verdict(
                false,
                "No GitLab account has exactly this email as its primary or a verified address: check the address with the requester.",
            ),
            Some(a) if a["username_matches"] != Value::Bool(true) => verdict(
                false,
                format!(
                    "The address belongs to @{}, not to the username the requester gave: they must name both correctly.",
                    a["user"]["username"].as_str().unwrap_or("?")
                ),
            ),
            Some(a) => verdict(
                true,
                format!("The address belongs to @{}, as the requester said.", a["user"]["username"].as_str().unwrap_or("?")),
            ),
        },
        "account_confirmed" => match user {
            None => need_account(),
            Some(u) => match u["confirmed_at"].as_str() {
                Some(at) => verdict(true, format!("Confirmed {}.", &at[..at.len().min(10)])),
                None => verdict(false, "The account never confirmed its email: this is a confirmation-email case."),
            },
        },
        "never_signed_in" => match user {
            None => need_account(),
            Some(u) => {
                let count = u["sign_in_count"].as_u64().unwrap_or(0);
                let seen = ["last_sign_in_at", "current_sign_in_at", "last_activity_on"].iter().find_map(|k| u[*k].as_str());
                match (count, seen) {
                    (0, None) => verdict(true, "Never signed in; no last activity."),
                    (n, at) => verdict(false, format!("Signed in {n} time(s); last seen {}.", at.unwrap_or("(date not shown)"))),
                }
            }
        },
        "no_associations" => match account.map(|a| &a["associations"]) {
            None => need_account(),
            Some(c) => {
                let n = |k: &str| c[k].as_u64().unwrap_or(0);
                let (g, p, i, m) = (n("groups_count"), n("projects_count"), n("issues_count"), n("merge_requests_count"));
                verdict(g + p + i + m == 0, format!("{g} groups, {p} projects, {i} issues, {m} merge requests."))
            }
        },
        "no_contribution_events" => match account.map(|a| &a["events"]) {
            None => need_account(),
            Some(Value::Array(events)) if events.is_empty() => verdict(true, "No contribution events."),
            Some(Value::Array(events)) => verdict(
                false,
                format!(
                    "{} contribution event(s), latest “{}” on {}.",
                    events.len(),
                    events[0]["action_name"].as_str().unwrap_or("?"),
                    events[0]["created_at"].as_str().map_or("?", |d| &d[..d.len().min(10)])
                ),
            ),
            Some(_) => need_account(),
        },
        "no_memberships" => match account.map(|a| &a["memberships"]) {
            None => need_account(),
            Some(Value::Array(m)) if m.is_empty() => verdict(true, "Not a direct member of any group or project."),
            Some(Value::Array(m)) => verdict(
                false,
                format!("Member of {}.", m.iter().filter_map(|x| x["source_name"].as_str()).collect::<Vec<_>>().join(", ")),
            ),
            Some(_) => need_account(),
        },
        "ownership_verified" => {
            let (passed, detail) = super::review::ownership_verified(state);
            verdict(passed, detail)
        }
        "requester_can_change_target" => access_gate(state.evidence.get("gitlab_membership").map(|e| &e.data)),
        "permission_giver_can_change_target" => {
            let access = access_gate(state.evidence.get("gitlab_owner_membership").map(|e| &e.data));
            if !access.passed {
                return access;
            }
            match super::consent::answerer("permission_giver", state) {
                Ok(who) => verdict(
                    true,
                    format!("{} Only {} <{}> (Zendesk user {}) can give the permission.", access.detail, who.name, who.email, who.user_id),
                ),
                Err(e) => verdict(false, e.to_string()),
            }
        }
        "requester_holds_gitlab_account" => {
            let tie = ["gitlab_membership", "gitlab_secondary_emails", "gitlab_account"]
                .iter()
                .find_map(|l| state.evidence.get(*l).and_then(|e| e.data.get("requester_tie")));
            match tie {
                None => verdict(false, "The GitLab account lookup has not run yet."),
                Some(t) if t["holds"] == Value::Bool(true) => verdict(
                    true,
                    format!(
                        "@{} holds the requester's email {} ({}).",
                        t["username"].as_str().unwrap_or("?"),
                        t["requester_email"].as_str().unwrap_or("?"),
                        t["how"].as_str().unwrap_or("?")
                    ),
                ),
                Some(t) => verdict(
                    false,
                    format!(
                        "@{} does not hold the ticket requester's email {} as its primary or a verified secondary email \
                         (its verified emails: {}): it is not the requester's account, so Casekit will not act on it. \
                         The requester must write in from an address of that account, or name their own account.",
                        t["username"].as_str().unwrap_or("?"),
                        t["requester_email"].as_str().filter(|e| !e.is_empty()).unwrap_or("(none)"),
                        t["addresses"]
                            .as_array()
                            .filter(|a| !a.is_empty())
                            .map(|a| a.iter().filter_map(|x| x["email"].as_str()).collect::<Vec<_>>().join(", "))
                            .unwrap_or_else(|| "none".into())
                    ),
                ),
            }
        }
        "ticket_from_new_address" => match state.evidence.get("zendesk_target_user").map(|e| &e.data) {
            None => verdict(false, "The support-portal profile lookup has not run yet."),
            Some(d) => {
                let from = d["requester"]["email"].as_str().unwrap_or_default();
                let new = d["new_email"].as_str().unwrap_or_default();
                if from.is_empty() || !from.eq_ignore_ascii_case(new) {
                    verdict(
                        false,
                        format!(
                            "The ticket was submitted from {}, not from {new}: the address to add must write in itself (a new ticket from it).",
                            if from.is_empty() { "an address Zendesk does not show" } else { from }
                        ),
                    )
                } else {
                    match super::consent::answerer("primary_address", state) {
                        Ok(who) => verdict(
                            true,
                            format!("The ticket comes from {new}; {} <{}> must confirm on it.", who.name, who.email),
                        ),
                        Err(e) => verdict(false, e.to_string()),
                    }
                }
            }
        },
        "two_factor_eligible" => match (user, account.map(|a| &a["paid_namespaces"])) {
            (Some(u), _) if u["two_factor_enabled"] != Value::Bool(true) => {
                verdict(false, "Two-factor authentication is not on for this account.")
            }
            (Some(_), Some(Value::Array(paid))) if !paid.is_empty() => verdict(
                true,
                format!(
                    "Seat in a paid namespace: {}.",
                    paid.iter().filter_map(|p| p["path"].as_str()).collect::<Vec<_>>().join(", ")
                ),
            ),
            (Some(_), _) => verdict(false, "No seat in a paid namespace: 2FA is never reset for free users."),
            (None, _) => need_account(),
        },
        "requester_is_end_user" => match state.evidence.get("zendesk_requester").map(|e| &e.data["user"]) {
            None => verdict(false, "The requester lookup has not run yet."),
            Some(u) if u["role"] == "end-user" => verdict(true, format!("{} is an end user.", u["name"].as_str().unwrap_or("?"))),
            Some(u) => verdict(
                false,
                format!(
                    "{} is a Zendesk {}: never suspend staff; escalate instead.",
                    u["name"].as_str().unwrap_or("?"),
                    u["role"].as_str().unwrap_or("?")
                ),
            ),
        },
        "organization_below_contact_limit" => match state.evidence.get("zendesk_organization").map(|e| &e.data) {
            None => verdict(false, "The organization lookup has not run yet."),
            Some(d) if d["already_member"] == Value::Bool(true) => {
                verdict(true, "The requester is already a contact of the organization.")
            }
            Some(d) => {
                let n = d["contacts"].as_u64().unwrap_or(0);
                let limit = super::support_ops::CONTACT_LIMIT as u64;
                verdict(
                    n < limit,
                    format!("{n} of {limit} support contacts{}.", if n < limit { "" } else { ": the limit is reached" }),
                )
            }
        },
        "email_verified_on_gitlab" => match state.evidence.get("gitlab_secondary_emails").map(|e| &e.data) {
            None => verdict(false, "The GitLab.com lookup has not run yet."),
            Some(d) if d["verified"] == Value::Bool(true) => {
                verdict(true, format!("{} is a verified secondary email on GitLab.com.", d["email"].as_str().unwrap_or("?")))
            }
            Some(d) if d["listed"] == Value::Bool(true) => {
                verdict(false, format!("{} is on the GitLab.com account but not verified.", d["email"].as_str().unwrap_or("?")))
            }
            Some(d) => verdict(false, format!("{} is not on the GitLab.com account.", d["email"].as_str().unwrap_or("?"))),
        },
        "form_fields_complete" => match super::support_ops::missing_fields(state) {
            Ok(missing) if missing.is_empty() => verdict(
                true,
                "Every custom field the chosen form requires has a value (Zendesk's own fields and fields hidden by a condition are not asked for).",
            ),
            Ok(missing) => verdict(
                false,
                format!(
                    "The chosen form still needs {}: fill them in the previous step (id=value).",
                    missing.iter().map(|f| format!("{} ({})", f.title, f.id)).collect::<Vec<_>>().join(", ")
                ),
            ),
            Err(e) => verdict(false, e.to_string()),
        },
        other => verdict(false, format!("Unknown gate {other}.")),
    }
}

/// Group Owner (50) or project Maintainer (40) and above, inherited membership counting.
fn access_gate(data: Option<&Value>) -> Verdict {
    let Some(d) = data else { return verdict(false, "The membership lookup has not run yet.") };
    let (level, needed) = (d["access_level"].as_u64().unwrap_or(0), d["needed"].as_u64().unwrap_or(50));
    let who = d["username"].as_str().unwrap_or("?");
    let what = format!("{} {}", d["kind"].as_str().unwrap_or("?"), d["path"].as_str().unwrap_or("?"));
    if level >= needed {
        verdict(true, format!("@{who} has access level {level} on {what} ({needed} needed)."))
    } else {
        verdict(
            false,
            format!("@{who} has access level {level} on {what}; {needed} (Owner of a group, Maintainer of a project) is needed."),
        )
    }
}
