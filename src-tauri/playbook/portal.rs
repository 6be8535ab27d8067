//! The customers portal (CustomersDot) behind the sign-in diagnosis: the lookup that gathers
//! every account the requester mentions and proposes the matching scenario, and the admin
//! actions. In `manual` mode the same steps point at the admin screens and record what the
//! agent did there.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::actions::{CallRecord, PlannedCall};
use super::lookups::Found;
use super::state::{CaseState, Evidence, Fact, Link};
use crate::clock;
use crate::connectors::customersdot::{Customer, CustomerQuery};
use crate::connectors::mailgun::EventFilter;
use crate::connectors::session::Connections;
use crate::{Error, Result};

pub const LOOKUPS: &[&str] = &["customersdot_diagnosis"];
pub const ACTIONS: &[&str] =
    &["resend_confirmation", "one_time_sign_in_url", "unlink_gitlab_user", "add_billing_account_membership"];

fn manual(state: &CaseState) -> bool {
    state.facts.get("customersdot_mode").map(String::as_str) == Some("manual")
}

fn admin_url(conns: &Connections) -> String {
    let url = &conns.profile().services.customersdot_url;
    if url.is_empty() {
        "https://customers.gitlab.com".to_owned()
    } else {
        url.clone()
    }
}

/// Every address the requester mentions: the ticket's requester and the ones the agent adds.
fn emails(state: &CaseState) -> Vec<String> {
    let mut out: Vec<String> = state.facts.get("requester_email").cloned().into_iter().collect();
    for e in state.facts.get("other_emails").map(String::as_str).unwrap_or("").split([',', ' ', ';']) {
        let e = e.trim().to_lowercase();
        if !e.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&e)) {
            out.push(e);
        }
    }
    out
}

/// The scenarios that fit, in the handbook's order, each with its reason.
fn scenarios(requester: &str, found: &[(Customer, Option<String>)], reset_delivered: bool) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    let own = found.iter().find(|(c, _)| c.email.eq_ignore_ascii_case(requester));
    if reset_delivered {
        out.push((1, "a password reset mail from GitLab.com (mg.gitlab.com) was delivered: the reset was requested on GitLab.com, not in the portal".into()));
    }
    if let Some((c, _)) = own.filter(|(c, _)| c.confirmed_at.is_none() && c.created_via == "self_signup") {
        out.push((2, format!("the portal account {} was never confirmed", c.email)));
    }
    let other_paying =
        found.iter().find(|(c, _)| !c.email.eq_ignore_ascii_case(requester) && c.billing_account_membership.is_some());
    if let Some((c, _)) = other_paying.filter(|_| own.is_none_or(|(o, _)| o.billing_account_membership.is_none())) {
        out.push((
            3,
            format!("the subscription's billing account is on {}, not on the address the requester signs in with", c.email),
        ));
    }
    if let Some((c, _)) = own.filter(|(c, _)| c.uid.is_none() && c.created_via == "legacy") {
        out.push((4, format!("{} is a legacy portal account with no GitLab account linked", c.email)));
    }
    if let Some((c, _)) = own.filter(|(c, _)| c.uid.is_none() && c.created_via == "sales") {
        out.push((5, format!("{} was created by Sales from the Sold To contact (Zuora callout) and is not linked", c.email)));
    }
    if let Some((c, Some(gl))) =
        own.filter(|(c, gl)| c.uid.is_some() && gl.as_deref().is_some_and(|g| !g.eq_ignore_ascii_case(&c.email)))
    {
        out.push((6, format!("{} is linked to GitLab user {} whose email is {gl}", c.email, c.uid.unwrap_or_default())));
    }
    out
}

/// For each mentioned address: the portal account, confirmation, linked GitLab user and its
/// email, how it was created, the billing account; and the password-reset mail in Mailgun.
pub async fn diagnosis(conns: &Connections, state: &CaseState) -> Result<Found> {
    let requester = state.fact("requester_email", "The diagnosis")?.to_owned();
    let addresses = emails(state);
    let base = admin_url(conns);
    let mut rows = Vec::new();
    let mut links = Vec::new();
    let mut facts = BTreeMap::new();
    let mut found: Vec<(Customer, Option<String>)> = Vec::new();

    match conns.customersdot()? {
        Some(cd) => {
            facts.insert("customersdot_mode".to_owned(), "api".to_owned());
            let gl = conns.gitlab()?;
            for email in &addresses {
                let customers = cd.find_customers(&CustomerQuery::Email(email.clone())).await?;
                if customers.is_empty() {
                    rows.push(Fact::new(&format!("Portal account for {email}"), "none"));
                }
                for c in customers {
                    let gitlab_email = match c.uid {
                        Some(uid) => gl.user(uid).await.ok().and_then(|u| u.email),
                        None => None,
                    };
                    rows.push(Fact::new(
                        &format!("Portal account {}", c.email),
                        format!("id {}, created via {}", c.id, c.created_via.replace('_', " ")),
                    ));
                    rows.push(Fact::judged(
                        "  Confirmed at",
                        c.confirmed_at.clone().unwrap_or_else(|| "not confirmed".into()),
                        c.confirmed_at.is_some(),
                    ));
                    rows.push(Fact::judged(
                        "  Linked GitLab user",
                        match (c.uid, &gitlab_email) {
                            (Some(uid), Some(e)) => format!("uid {uid}, email {e}"),
                            (Some(uid), None) => format!("uid {uid}"),
                            (None, _) => "not linked".to_owned(),
                        },
                        c.uid.is_some() && gitlab_email.as_deref().is_none_or(|e| e.eq_ignore_ascii_case(&c.email)),
                    ));
                    rows.push(Fact::new(
                        "  Billing account",
                        c.billing_account_membership.as_ref().map_or("no membership".to_owned(), |m| {
                            format!("member of billing account {}", m.billing_account_id)
                        }),
                    ));
                    links.push(Link {
                        label: format!("CustomersDot admin: {}", c.email),
                        url: format!("{base}/admin/customers/{}", c.id),
                    });
                    found.push((c, gitlab_email));
                }
            }
        }
        None => {
            facts.insert("customersdot_mode".to_owned(), "manual".to_owned());
            for email in &addresses {
                rows.push(Fact::new(
                    &format!("Portal account for {email}"),
                    "manual mode: open the admin search, note Confirmed at, Uid (linked GitLab user) and the billing account",
                ));
                links.push(Link {
                    label: format!("CustomersDot admin: search {email}"),
                    url: format!("{base}/admin/customers?search={email}"),
                });
            }
        }
    }

    let mg = conns.mailgun()?;
    let when = |ts: f64| clock::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(ts.max(0.0)));
    let mut reset_delivered = false;
    for address in &addresses {
        let resets: Vec<_> = mg
            .events(&EventFilter {
                recipient: Some(address.clone()),
                subject: Some("Reset password".into()),
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|e| e.event == "delivered" || e.event == "failed")
            .collect();
        reset_delivered |= resets.iter().any(|e| e.is_delivered());
        let label = format!("Password reset mail from GitLab.com to {address}");
        rows.push(match resets.first() {
            None => Fact::new(&label, "none in the retention period"),
            Some(e) if e.is_suppression() => Fact::judged(
                &label,
                format!("suppressed at {}: not delivering to a previously bounced address", when(e.timestamp)),
                false,
            ),
            Some(e) => Fact::judged(&label, format!("{} at {}", e.event, when(e.timestamp)), e.is_delivered()),
        });
    }
    links.push(Link {
        label: "Mailgun logs (mg.gitlab.com)".into(),
        url: format!("https://app.mailgun.com/app/sending/domains/{}/logs", mg.domain_name()),
    });

    let proposed = scenarios(&requester, &found, reset_delivered);
    if let Some((n, reason)) = proposed.first() {
        facts.insert("proposed_scenario".to_owned(), format!("scenario-{n}"));
        facts.insert("proposed_scenario_reason".to_owned(), reason.clone());
    }
    rows.push(Fact::new(
        "Matching scenarios",
        if proposed.is_empty() {
            "none from the evidence: choose from what the customer describes".to_owned()
        } else {
            proposed.iter().map(|(n, r)| format!("{n}: {r}")).collect::<Vec<_>>().join("; ")
        },
    ));
    if let Some((c, gl)) = found.iter().find(|(c, _)| c.email.eq_ignore_ascii_case(&requester)).or(found.first()) {
        facts.insert("customer_id".to_owned(), c.id.to_string());
        facts.insert("customer_email".to_owned(), c.email.clone());
        if let Some(g) = gl {
            facts.insert("gitlab_email".to_owned(), g.clone());
        }
        if let Some(uid) = c.uid {
            facts.insert("gitlab_uid".to_owned(), uid.to_string());
        }
        if let Some(m) = &c.billing_account_membership {
            facts.insert("billing_account_id".to_owned(), m.billing_account_id.to_string());
        }
    }
    if let Some((c, _)) = found.iter().find(|(c, _)| c.billing_account_membership.is_some()) {
        facts.insert("subscription_email".to_owned(), c.email.clone());
    }
    let data = json!({"addresses": addresses, "customers": found.iter().map(|(c, g)| json!({"customer": c, "gitlab_email": g})).collect::<Vec<Value>>(),
                      "reset_delivered": reset_delivered, "scenarios": proposed.iter().map(|(n, _)| n).collect::<Vec<_>>()});
    Ok(Found { evidence: Evidence { title: "Customers portal sign-in".into(), at: clock::now(), data, rows, links }, facts })
}

fn fact<'a>(state: &'a CaseState, key: &str) -> Result<&'a str> {
    state.fact(key, "The change")
}

fn call(method: &str, path: String, change: String) -> PlannedCall {
    PlannedCall { method: method.into(), path, change }
}

/// The preview of a portal action (an admin screen to use in manual mode).
pub fn plan(name: &str, state: &CaseState) -> Result<Vec<PlannedCall>> {
    let id = fact(state, "customer_id").unwrap_or(":id");
    let email = state.facts.get("customer_email").cloned().unwrap_or_default();
    let (method, path, change) = match name {
        "resend_confirmation" => (
            "POST",
            format!("/admin/api/v1/customers/{id}/resend_confirmation"),
            format!("confirmation email sent again to {email}"),
        ),
        "one_time_sign_in_url" => (
            "POST",
            format!("/admin/api/v1/customers/{id}/one_time_sign_in_url"),
            format!("a new one-time sign-in link for {email}"),
        ),
        "unlink_gitlab_user" => (
            "POST",
            format!("/admin/api/v1/customers/{id}/unlink_gitlab_user"),
            format!(
                "linked GitLab user ({}) → none, with the ticket link",
                state.facts.get("gitlab_email").cloned().unwrap_or_default()
            ),
        ),
        "add_billing_account_membership" => (
            "POST",
            "/admin/api/v1/billing_account_memberships".to_owned(),
            format!(
                "billing account {}: + {}",
                fact(state, "billing_account_id")?,
                state.facts.get("new_customer_email").cloned().unwrap_or_default()
            ),
        ),
        other => return Err(Error::Internal(format!("unknown portal action {other}"))),
    };
    if manual(state) {
        return Ok(vec![call(
            "MANUAL",
            "CustomersDot admin screen".into(),
            format!("{change}; paste what the screen shows to confirm"),
        )]);
    }
    Ok(vec![call(method, path, change)])
}

/// What to type to confirm (API mode); manual mode asks for pasted evidence instead.
pub fn confirmation_text(name: &str, state: &CaseState) -> Option<String> {
    if manual(state) {
        return None;
    }
    match name {
        "unlink_gitlab_user" | "add_billing_account_membership" => state.facts.get("customer_email").cloned(),
        _ => None,
    }
}

fn record(calls: &mut Vec<CallRecord>, method: &str, path: String, result: impl Into<String>) {
    calls.push(CallRecord { method: method.into(), path, result: result.into() });
}

/// Runs a portal action: re-read, change, verify; or, in manual mode, records the evidence.
pub async fn run(
    name: &str,
    conns: &Connections,
    state: &CaseState,
    evidence: &str,
    calls: &mut Vec<CallRecord>,
) -> Result<Vec<Fact>> {
    if manual(state) {
        let evidence = evidence.trim();
        if evidence.is_empty() {
            return Err(Error::InvalidInput(
                "Manual mode: do it in the CustomersDot admin screen, then paste what it shows to confirm.".into(),
            ));
        }
        record(calls, "MANUAL", "CustomersDot admin screen".into(), format!("done by the agent: {evidence}"));
        return Ok(vec![Fact::judged("Done in the admin screen", evidence.to_owned(), true)]);
    }
    let cd = conns.customersdot()?.ok_or_else(|| Error::NotConfigured("CustomersDot is in manual mode.".into()))?;
    let id: u64 = fact(state, "customer_id")?.parse().map_err(|_| Error::Internal("customer_id is not a number".into()))?;
    let before = cd.customer(id).await?;
    match name {
        "resend_confirmation" => {
            if before.confirmed_at.is_some() {
                record(
                    calls,
                    "POST",
                    format!("/admin/api/v1/customers/{id}/resend_confirmation"),
                    "skipped: the account is confirmed now",
                );
                return Ok(vec![Fact::judged("Confirmed at", before.confirmed_at.unwrap_or_default(), true)]);
            }
            let after = cd.resend_confirmation(id).await?;
            record(calls, "POST", format!("/admin/api/v1/customers/{id}/resend_confirmation"), "done");
            Ok(vec![Fact::judged("Confirmation email sent", after.confirmation_sent_at.unwrap_or_default(), true)])
        }
        "one_time_sign_in_url" => {
            let link = cd.one_time_sign_in_url(id).await?;
            record(calls, "POST", format!("/admin/api/v1/customers/{id}/one_time_sign_in_url"), "done");
            // The link itself signs the customer in: it is not kept in the case or the audit log.
            Ok(vec![Fact::judged("One-time sign-in link", format!("generated, valid until {}", link.expires_at), true)])
        }
        "unlink_gitlab_user" => {
            let path = format!("/admin/api/v1/customers/{id}/unlink_gitlab_user");
            let seen = state.facts.get("gitlab_email").cloned().unwrap_or_default();
            if before.uid.is_none() {
                record(calls, "POST", path, "skipped: no GitLab user is linked now");
            } else {
                let ticket = fact(state, "ticket_url")?;
                cd.unlink_gitlab_user(id, ticket).await?;
                record(calls, "POST", path, "done");
            }
            let after = cd.customer(id).await?;
            let logged = cd.support_audit_events(id).await?.iter().any(|e| e.action == "unlink_gitlab_user");
            if after.uid.is_some() {
                return Err(Error::InvalidResponse("CustomersDot still shows a linked GitLab user.".into()));
            }
            Ok(vec![
                Fact::judged("Linked GitLab user", format!("none (was {seen})"), true),
                Fact::judged("Support Audit Event", if logged { "logged with the ticket link" } else { "not found" }, logged),
            ])
        }
        "add_billing_account_membership" => {
            let account: u64 =
                fact(state, "billing_account_id")?.parse().map_err(|_| Error::Internal("billing_account_id".into()))?;
            let new_email = fact(state, "new_customer_email")?;
            let Some(new) = cd.find_customers(&CustomerQuery::Email(new_email.to_owned())).await?.into_iter().next() else {
                return Err(Error::NotFound(format!(
                    "No portal account has {new_email} yet: the customer must first create it by signing in with that GitLab account."
                )));
            };
            let path = "/admin/api/v1/billing_account_memberships".to_owned();
            match &new.billing_account_membership {
                Some(m) if m.billing_account_id == account => record(calls, "POST", path, "skipped: already a member"),
                Some(m) => {
                    return Err(Error::Rejected(format!(
                        "{new_email} is already a member of billing account {}: a customer has at most one.",
                        m.billing_account_id
                    )))
                }
                None => {
                    let m = cd.add_billing_account_membership(new.id, account).await?;
                    record(calls, "POST", path, format!("done: membership {}", m.id));
                }
            }
            let members = cd.billing_account(account).await?.memberships;
            let ok = members.iter().any(|m| m.customer_id == new.id);
            if !ok {
                return Err(Error::InvalidResponse("The billing account does not list the new portal account.".into()));
            }
            Ok(vec![Fact::judged("Billing account members", format!("{} (incl. {new_email})", members.len()), true)])
        }
        other => Err(Error::Internal(format!("unknown portal action {other}"))),
    }
}
