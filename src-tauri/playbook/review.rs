//! Ownership verification and its peer review: the judged challenges count each challenge once,
//! a second agent reviews the outcome, and the `ownership_verified` gate passes only on a
//! passed verification that such a review followed.
//!
//! The reviewer is typed into the peer-review step today. Issue 16 (team mode) makes the review
//! a real second login, approved from the reviewer's own session; until then Casekit cannot
//! prove who reviewed, so it refuses what it can tell is not a second agent — the running
//! agent's own name or email however spelled (case, spacing, a `+tag` on the address), the agent
//! who judged the challenges, the ticket's requester — and records who was named as reviewer,
//! of which verification, in the case and its audit row.

use std::collections::{BTreeMap, BTreeSet};

use super::effects::Verdict;
use super::engine::ChallengeResult;
use super::model::{Challenge, Field, FieldKind};
use super::ops::{Gate, Need};
use super::state::{CaseState, Review, StepData, StepRecord, StepStatus};
use crate::store::profiles::Profile;
use crate::{Error, Result};

/// Refuses a judgement that lists a challenge twice (three copies of one passed challenge are
/// one pass, not three) or names a challenge the step does not have.
pub fn check_challenges(challenges: &[Challenge], results: &[ChallengeResult]) -> Result<()> {
    if let Some(r) = results.iter().find(|r| !challenges.iter().any(|c| c.id == r.id)) {
        return Err(Error::InvalidInput(format!("“{}” is not one of this playbook's challenges.", r.id)));
    }
    let mut seen = BTreeSet::new();
    if let Some(r) = results.iter().find(|r| !seen.insert(r.id.as_str())) {
        let label = challenges.iter().find(|c| c.id == r.id).map_or(r.id.as_str(), |c| c.label.as_str());
        return Err(Error::InvalidInput(format!(
            "“{label}” is recorded more than once: each challenge counts once. Record each challenge sent once, with how it was answered."
        )));
    }
    Ok(())
}

/// The step that judged the challenges (the latest, if a playbook had two) and its record.
pub fn verification(state: &CaseState) -> Option<(&str, &StepRecord)> {
    state
        .records
        .iter()
        .filter(|(_, r)| r.status == StepStatus::Done && matches!(r.data, StepData::Verified { .. }))
        .max_by(|a, b| a.1.at.cmp(&b.1.at))
        .map(|(id, r)| (id.as_str(), r))
}

/// The peer review recorded after the verification, if any.
fn review_after<'a>(state: &'a CaseState, verified: &StepRecord) -> Option<&'a StepRecord> {
    state.records.values().find(|r| {
        r.status == StepStatus::Done && matches!(r.data, StepData::Checklist { review: Some(_), .. }) && r.at >= verified.at
    })
}

/// An address as a mailbox: trimmed, lower-cased, without a `+tag` (sam+x@ reaches sam@).
fn mailbox(email: &str) -> String {
    let e = email.trim().to_lowercase();
    match e.rsplit_once('@') {
        Some((local, domain)) => format!("{}@{domain}", local.split('+').next().unwrap_or(local)),
        None => e,
    }
}

/// A name as a comparable key: letters and digits only, lower-cased ("  SAM  agent" = "Sam Agent").
fn name_key(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// `Name <email>` as the audit log and step records write an agent.
fn split_agent(agent: &str) -> (String, String) {
    match agent.rsplit_once('<') {
        Some((name, email)) => (name.trim().to_owned(), email.trim_end_matches('>').trim().to_owned()),
        None => (agent.trim().to_owned(), String::new()),
    }
}

/// Whether a typed name and email are (spelled differently or not) `name` <`email`>.
fn same_person(typed_name: &str, typed_email: &str, name: &str, email: &str) -> bool {
    let (n, e) = (name_key(name), mailbox(email));
    (!e.is_empty() && e.contains('@') && (mailbox(typed_email) == e || mailbox(typed_name) == e))
        || (!n.is_empty() && name_key(typed_name) == n)
}

/// The review a checklist records when it has reviewer fields (already validated as a name
/// and an email), or `None` for any other checklist. Refuses the running agent, the agent who
/// judged the challenges and the requester as reviewer.
pub fn peer_review(
    fields: &[Field],
    recorded: &BTreeMap<String, String>,
    profile: &Profile,
    state: &CaseState,
) -> Result<Option<Review>> {
    let typed = |kind: FieldKind| fields.iter().find(|f| f.kind == kind).and_then(|f| recorded.get(&f.id)).map(String::as_str);
    let (name, email) = match (typed(FieldKind::ReviewerName), typed(FieldKind::ReviewerEmail)) {
        (None, None) if !fields.iter().any(|f| f.is_reviewer()) => return Ok(None),
        (Some(n), Some(e)) => (n, e),
        _ => {
            return Err(Error::InvalidInput(
                "Enter the peer reviewer's name and work email: the review names the second agent.".into(),
            ))
        }
    };
    let refuse = |who: &str| {
        Err(Error::InvalidInput(format!(
            "The peer reviewer must be another agent: “{name}” <{email}> is {who}. Ask a colleague to review the challenges, \
             the answers and the outcome, and enter their name and work email."
        )))
    };
    if same_person(name, email, &profile.agent_name, &profile.agent_email) {
        return refuse("you, the agent running this case");
    }
    let verified = verification(state);
    if let Some((_, r)) = verified {
        let (n, e) = split_agent(&r.agent);
        if same_person(name, email, &n, &e) {
            return refuse("the agent who judged the challenges");
        }
    }
    let requester = state.facts.get("requester_email").map(String::as_str).unwrap_or_default();
    if requester.contains('@') && mailbox(email) == mailbox(requester) {
        return refuse("the ticket's requester");
    }
    Ok(Some(Review {
        reviewer_name: name.to_owned(),
        reviewer_email: email.to_owned(),
        verification_step: verified.map(|(id, _)| id.to_owned()),
        verified_by: verified.map(|(_, r)| r.agent.clone()),
        outcome: verified.and_then(|(_, r)| match &r.data {
            StepData::Verified { outcome, .. } => Some(outcome.clone()),
            _ => None,
        }),
        // Issue 16: a real second login replaces the typed reviewer.
        how: "typed by the agent".into(),
    }))
}

/// `ownership_verified`: a passed verification, and a peer review by another agent recorded
/// after it. (The catalog also checks that a playbook puts a verify step and a peer-review
/// checklist before this gate.)
pub struct OwnershipVerified;

impl Gate for OwnershipVerified {
    const NAME: &'static str = "ownership_verified";
    const NEEDS: &'static [Need] = &[Need::Fact("verification_outcome")];

    fn evaluate(state: &CaseState) -> Verdict {
        let (passed, detail) = ownership_verified(state);
        Verdict::new(passed, detail)
    }
}

/// Whether ownership is verified and peer-reviewed, and what that rests on.
fn ownership_verified(state: &CaseState) -> (bool, String) {
    let Some((_, verified)) = verification(state) else {
        return (false, "Ownership has not been verified in this case.".into());
    };
    let StepData::Verified { outcome, summary: judged, .. } = &verified.data else {
        return (false, "Ownership has not been verified in this case.".into());
    };
    if outcome != "passed" {
        return (false, "Ownership verification failed: no change may be made.".into());
    }
    let Some(review) = review_after(state, verified) else {
        return (
            false,
            format!("Ownership verification passed ({judged}), but no peer review by a second agent is recorded after it: no change may be made."),
        );
    };
    let StepData::Checklist { review: Some(r), .. } = &review.data else {
        return (false, "The recorded peer review is not by a second agent: no change may be made.".into());
    };
    let (name, email) = (r.reviewer_name.as_str(), r.reviewer_email.as_str());
    let (n, e) = split_agent(&verified.agent);
    if name.is_empty() || email.is_empty() || same_person(name, email, &n, &e) {
        return (false, "The recorded peer review is not by a second agent: no change may be made.".into());
    }
    (true, format!("Ownership verified ({judged}) and peer-reviewed by {name} <{email}>."))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn record(agent: &str, at: &str, data: Value) -> StepRecord {
        // Written as a stored case holds it, without the kind: read by what it holds.
        serde_json::from_value(json!({"status": "done", "at": at, "agent": agent, "data": data})).unwrap()
    }

    fn verified(outcome: &str) -> CaseState {
        let mut st = CaseState::default();
        st.records.insert(
            "challenges".into(),
            record(
                "Sam Agent <sam@support.example>",
                "2025-01-01T10:00:00.000Z",
                json!({"risk": "high", "results": [], "passes": 3, "required": 3, "outcome": outcome, "summary": "3 of 3 challenges passed"}),
            ),
        );
        st
    }

    #[test]
    fn the_gate_needs_a_passed_verification_and_a_review_after_it_by_another_agent() {
        let mut st = verified("passed");
        let (passed, detail) = ownership_verified(&st);
        assert!(!passed && detail.contains("no peer review"), "{detail}");

        let review = |name: &str, email: &str, at: &str| {
            let review = json!({"reviewer_name": name, "reviewer_email": email, "verification_step": "challenges",
                                "verified_by": "Sam Agent <sam@support.example>", "outcome": "passed", "how": "typed by the agent"});
            record("Sam Agent <sam@support.example>", at, json!({"ticked": [], "fields": {}, "review": review, "summary": ""}))
        };
        st.records.insert("peer-review".into(), review("Riley Reviewer", "riley@support.example", "2025-01-01T09:00:00.000Z"));
        assert!(!ownership_verified(&st).0, "a review before the verification reviewed nothing");
        st.records.insert("peer-review".into(), review(" sam  AGENT ", "x@y.example", "2025-01-01T10:05:00.000Z"));
        assert!(!ownership_verified(&st).0, "the verifying agent reviewed themself");
        st.records.insert("peer-review".into(), review("Riley Reviewer", "riley@support.example", "2025-01-01T10:05:00.000Z"));
        let (passed, detail) = ownership_verified(&st);
        assert!(passed && detail.contains("Riley Reviewer <riley@support.example>"), "{detail}");

        let mut failed = verified("failed");
        failed.records.insert("peer-review".into(), st.records["peer-review"].clone());
        assert!(!ownership_verified(&failed).0);
        assert!(!ownership_verified(&CaseState::default()).0);
    }

    #[test]
    fn the_same_person_is_recognised_however_spelled() {
        assert!(same_person("Riley", "SAM+review@Support.Example ", "Sam Agent", "sam@support.example"));
        assert!(same_person("sam@support.example", "riley@support.example", "Sam Agent", "sam@support.example"));
        assert!(same_person("SAM-AGENT", "riley@support.example", "Sam Agent", "sam@support.example"));
        assert!(!same_person("Riley Reviewer", "riley@support.example", "Sam Agent", "sam@support.example"));
        assert!(!same_person("Riley", "riley@support.example", "", ""), "an empty identity matches no one");
    }

    #[test]
    fn a_challenge_counts_once() {
        let challenges: Vec<Challenge> = serde_json::from_value(json!([
            {"id": "recent-commit", "label": "Recent commit"}, {"id": "support-pin", "label": "Support PIN"}
        ]))
        .unwrap();
        let r = |id: &str| ChallengeResult { id: id.into(), passed: true };
        assert!(check_challenges(&challenges, &[r("recent-commit"), r("support-pin")]).is_ok());
        let twice = check_challenges(&challenges, &[r("recent-commit"), r("support-pin"), r("recent-commit")]).unwrap_err();
        assert!(twice.to_string().contains("“Recent commit” is recorded more than once"), "{twice}");
        assert!(check_challenges(&challenges, &[r("Recent-Commit")]).is_err());
    }
}
