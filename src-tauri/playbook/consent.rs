//! Who must answer a permission request, and which ticket comment counts as their answer.
//!
//! The playbook names a role (`from`): the ticket's `requester`; the `permission_giver` (the
//! Owner or Maintainer of a project or group, when the requester is not one): the Zendesk user
//! holding a verified email of the GitLab account that has the access; or the
//! `primary_address` owner of a support-portal profile (adding a secondary email to it). The
//! back end decides the one Zendesk user behind the role from the evidence its lookups fetched,
//! records it with the request, and accepts a comment only from that user, only public, and
//! only after the request in the ticket's own order (comment ids, never clocks).
//!
//! The request was posted by Casekit: the earliest comment that counts is the one after it.
//! The agent sent it themselves (copied): the earliest comment that counts is the one after the
//! last comment the ticket held when the agent recorded sending it. A reply written before the
//! agent said the request was out is never taken as the answer to it.

use serde_json::Value;

pub use super::effects::{Answerer, Role};
use super::state::CaseState;
use crate::{Error, Result};

/// The ticket's requester as the case recorded it when it opened.
fn requester(st: &CaseState) -> Result<u64> {
    st.facts
        .get("requester_id")
        .and_then(|v| v.parse().ok())
        .filter(|id| *id != 0)
        .ok_or_else(|| Error::Internal("the case does not know its ticket's requester".into()))
}

/// Who must answer a permission step with role `from`, from the case's evidence. Refused when
/// the evidence does not name exactly one Zendesk user, or names the requester for a role that
/// is someone else's consent.
pub fn answerer(from: Role, st: &CaseState) -> Result<Answerer> {
    let requester_id = requester(st)?;
    let fact = |k: &str| st.facts.get(k).cloned().unwrap_or_default();
    // Where the role's answerer is found: the lookup whose evidence holds `data.answerer`.
    let (lookup, first) = match from {
        Role::Requester => {
            return Ok(Answerer {
                role: from,
                user_id: requester_id,
                name: fact("requester_name"),
                email: fact("requester_email"),
                why: "the ticket's requester asks for the change on their own account".into(),
            })
        }
        Role::PermissionGiver => ("gitlab_owner_membership", "Look up the owner's or maintainer's access first."),
        Role::PrimaryAddress => ("zendesk_target_user", "Find the support-portal profile of the primary address first."),
    };
    let data = st.evidence.get(lookup).map(|e| &e.data).ok_or_else(|| Error::OutOfOrder(first.into()))?;
    if let Some(problem) = data.get("answerer_problem").and_then(Value::as_str) {
        return Err(Error::InvalidInput(problem.to_owned()));
    }
    let who: Answerer = data
        .get("answerer")
        .cloned()
        .and_then(|a| serde_json::from_value(a).ok())
        .ok_or_else(|| Error::OutOfOrder(format!("{first} (Refresh fetches it again.)")))?;
    if who.user_id == requester_id {
        return Err(Error::InvalidInput(format!(
            "{} <{}> is the ticket's requester: this permission must come from someone else ({}).",
            who.name, who.email, who.why
        )));
    }
    Ok(who)
}

/// A comment of the ticket, as far as judging it needs.
pub struct Candidate<'a> {
    pub id: u64,
    pub author_id: u64,
    pub public: bool,
    pub body: &'a str,
}

/// Whether `c` counts as `who`'s answer to a request after comment `after`; why not otherwise.
pub fn judge(c: &Candidate<'_>, who: &Answerer, requester_id: u64, after: u64) -> Result<()> {
    if c.author_id != who.user_id {
        let by = if c.author_id == requester_id && who.role != Role::Requester {
            "the ticket's requester".to_owned()
        } else {
            format!("someone else (Zendesk user {})", c.author_id)
        };
        return Err(Error::InvalidInput(format!(
            "That comment is by {by}: only {} <{}> can give this permission ({}).",
            who.name, who.email, who.why
        )));
    }
    if !c.public {
        return Err(Error::InvalidInput(
            "That is an internal note, not a public reply: only a public reply on the ticket counts.".into(),
        ));
    }
    if c.id <= after {
        return Err(Error::InvalidInput(format!(
            "That comment is not after the permission request (comment {after} and before do not count): pick {}'s reply to the request.",
            who.name
        )));
    }
    if c.body.trim().is_empty() {
        return Err(Error::InvalidInput("That comment has no text: pick the reply that gives the permission.".into()));
    }
    Ok(())
}

/// What the request recorded: who must answer and the last comment that does not count.
pub fn recorded(progress: &Value) -> Option<(Answerer, u64)> {
    let who = serde_json::from_value(progress.get("answerer")?.clone()).ok()?;
    Some((who, progress.get("after_comment_id")?.as_u64()?))
}
