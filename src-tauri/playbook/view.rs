//! What the UI is told about a case: the step list with statuses, the current step with what
//! may be done there, the recorded facts and the evidence. Computed from the stored state; the
//! UI renders it and never decides order itself.

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use super::consent::{self, Answerer};
use super::effects::{CallRecord, Fact, Link, PlannedCall};
use super::model::{Field, OnFail, Playbook, Step, StepKind};
use super::state::{CaseState, StepStatus};
use super::{registry, texts, Catalog};
use crate::service::TicketInstance;
use crate::store::cases::CaseRow;
use crate::store::columns::{CaseOutcome, CaseStatus};
use crate::IpcError;

/// A case, for the wizard.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseView {
    pub id: i64,
    pub ticket_instance: TicketInstance,
    pub ticket_id: i64,
    pub ticket_subject: String,
    pub requester: String,
    pub playbook_id: String,
    pub playbook_title: String,
    pub playbook_version: String,
    pub status: CaseStatus,
    /// Set once the case is finished.
    pub outcome: Option<CaseOutcome>,
    pub origin_case_id: Option<i64>,
    /// When this case was switched, the case that carries on.
    pub continued_in: Option<i64>,
    pub steps: Vec<StepLine>,
    pub current: Option<StepView>,
    pub facts: Vec<Fact>,
    pub evidence: Vec<EvidenceView>,
    pub updated_at: String,
}

/// One line of the step list.
#[derive(Debug, Clone, Serialize, TS)]
pub struct StepLine {
    pub id: String,
    pub title: String,
    pub kind: String,
    /// `done`, `skipped`, `blocked`, `failed`, `current` or `pending`.
    pub status: String,
    /// What was recorded there, in one line.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceView {
    pub title: String,
    pub at: String,
    pub rows: Vec<Fact>,
    pub links: Vec<Link>,
}

/// The current step and what the agent may do there.
#[derive(Debug, Clone, Serialize, TS)]
pub struct StepView {
    pub id: String,
    pub title: String,
    pub help: String,
    /// What this kind of step shows; flattened, so the UI sees one object tagged by `kind`.
    #[serde(flatten)]
    pub body: StepBody,
}

/// Each step kind with only what it shows: TypeScript gets a union discriminated by `kind`,
/// so a component cannot read a field its kind does not have.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum StepBody {
    Checklist {
        items: Vec<ItemView>,
        fields: Vec<FieldView>,
        /// The step waits for the customer to create a portal account by signing in with their
        /// GitLab account (the Sandbox can play the customer's side).
        awaits_portal_sign_up: bool,
    },
    Lookup {
        /// What the agent enters where the profile has no API for the source; empty when the
        /// lookup fetches everything itself.
        fields: Vec<FieldView>,
        /// Where to read what the fields ask for.
        link: Option<String>,
    },
    Gate {
        gates: Vec<GateView>,
        /// Why the gate is current again (the refreshed evidence no longer passes it).
        notice: Option<String>,
    },
    Verify {
        challenges: Vec<ChallengeView>,
        risk_levels: Vec<RiskLevel>,
    },
    Permission {
        /// The request to send.
        text: Option<String>,
        permission: PermissionView,
    },
    Decision {
        options: Vec<OptionView>,
        /// Why the evidence points to the proposed option.
        text: Option<String>,
    },
    Action {
        calls: Vec<PlannedCall>,
        destructive: bool,
        /// What to type to confirm a destructive action.
        confirm_text: Option<String>,
        last_attempt: Option<AttemptView>,
    },
    Manual {
        /// A deep link into the other tool.
        link: Option<String>,
        /// What to do there.
        text: Option<String>,
    },
    Note {
        /// The admin note line to append.
        text: String,
        last_attempt: Option<AttemptView>,
    },
    Reply {
        text: Option<String>,
    },
    Summary,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct ItemView {
    pub id: String,
    pub label: String,
    pub reason: String,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct FieldView {
    pub id: String,
    pub label: String,
    /// `text`, `email`, `emails`, `username`, `choice`, or `reviewer_name` / `reviewer_email` (the
    /// peer reviewer: another agent than the one running the case).
    pub kind: String,
    pub options: Vec<String>,
    pub required: bool,
    /// A value already known (carried over from an earlier case or step).
    pub value: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct GateView {
    pub gate: String,
    pub reason: String,
    pub passed: bool,
    pub detail: String,
    /// What following the block does, in words.
    pub on_fail: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PermissionView {
    pub requested_at: Option<String>,
    pub posted_comment_id: Option<u64>,
    /// The one person whose reply counts (recorded with the request once sent).
    pub answerer: Option<Answerer>,
    /// Why no one can be named yet (the request cannot be sent until this is resolved).
    pub answerer_problem: Option<String>,
    /// Comments up to this id do not count (the request itself and everything before it).
    pub after_comment_id: Option<u64>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct ChallengeView {
    pub id: String,
    pub label: String,
    pub hint: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct RiskLevel {
    pub level: String,
    pub required: u32,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct OptionView {
    pub id: String,
    pub label: String,
    pub reason: String,
    pub blocks: Option<String>,
    /// The option the evidence points to.
    pub proposed: bool,
}

/// The last run of an action or note: the calls made and, if it failed, why.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AttemptView {
    pub calls: Vec<CallRecord>,
    pub error: Option<IpcError>,
}

fn on_fail_words(catalog: &Catalog, f: &OnFail, pb: &Playbook) -> String {
    match f {
        OnFail::Stop => "end the case as blocked".into(),
        OnFail::Switch(id) => {
            format!("switch to “{}”, carrying the evidence over", catalog.get(id).map_or(id.as_str(), |p| &p.title))
        }
        OnFail::Branch(step) => format!("continue at “{}”", pb.step(step).map_or(step.as_str(), |(_, s)| &s.title)),
    }
}

/// Labels of the facts worth showing, in order.
const FACT_LABELS: &[(&str, &str)] = &[
    ("username", "Username (as the requester gave it)"),
    ("email", "Email (as the requester gave it)"),
    ("how_confirmed", "How the requester confirmed"),
    ("gitlab_username", "GitLab account"),
    ("release_email", "Release address"),
    ("verification_outcome", "Ownership verification"),
    ("change", "Change asked for"),
    ("target", "Group or project"),
    ("owner_username", "Owner or maintainer giving permission"),
    ("reviewer_name", "Peer reviewer"),
];

/// The fact a checklist records once the customer has created their portal account by signing
/// in with their GitLab account (the unlink → new account → billing account sequence).
const NEW_PORTAL_ACCOUNT: &str = "new_customer_email";

/// Whether a checklist waits for the customer to sign up in the portal: it asks for the new
/// portal account.
fn awaits_portal_sign_up(fields: &[Field]) -> bool {
    fields.iter().any(|f| f.id == NEW_PORTAL_ACCOUNT)
}

/// The last run of an action or note, as recorded in the step's progress.
fn last_attempt(progress: &Value) -> Option<AttemptView> {
    progress.get("attempt").map(|attempt| AttemptView {
        calls: serde_json::from_value(attempt["calls"].clone()).unwrap_or_default(),
        error: serde_json::from_value(attempt["error"].clone()).ok(),
    })
}

/// What the current step of kind `s.kind` shows.
fn body(catalog: &Catalog, row: &CaseRow, pb: &Playbook, st: &CaseState, s: &Step) -> StepBody {
    let progress = st.progress.get(&s.id).cloned().unwrap_or(Value::Null);
    match &s.kind {
        StepKind::Checklist { items, fields } => StepBody::Checklist {
            items: items
                .iter()
                .map(|i| ItemView { id: i.id.clone(), label: i.label.clone(), reason: i.reason.clone(), required: i.required })
                .collect(),
            fields: fields
                .iter()
                .map(|f| FieldView {
                    id: f.id.clone(),
                    label: f.label.clone(),
                    kind: f.kind.name().to_owned(),
                    options: f.options.clone(),
                    required: f.required,
                    value: st.facts.get(&f.id).cloned().unwrap_or_default(),
                })
                .collect(),
            awaits_portal_sign_up: awaits_portal_sign_up(fields),
        },
        // The form for what this profile has no API for needs the connections: the engine adds it.
        StepKind::Lookup { .. } => StepBody::Lookup { fields: Vec::new(), link: None },
        StepKind::Gate { gates: specs } => StepBody::Gate {
            gates: specs
                .iter()
                .map(|g| {
                    let verdict = registry::evaluate(&g.gate, st);
                    GateView {
                        gate: g.gate.clone(),
                        reason: g.reason.clone(),
                        passed: verdict.passed,
                        detail: verdict.detail,
                        on_fail: on_fail_words(catalog, &g.on_fail, pb),
                    }
                })
                .collect(),
            notice: progress.get("notice").and_then(Value::as_str).map(str::to_owned),
        },
        StepKind::Permission { request, from } => {
            let (answerer, answerer_problem) = match consent::recorded(&progress) {
                Some((who, _)) => (Some(who), None),
                None => match consent::answerer(*from, st) {
                    Ok(who) => (Some(who), None),
                    Err(e) => (None, Some(e.to_string())),
                },
            };
            StepBody::Permission {
                text: texts::render(request, &st.facts).ok(),
                permission: PermissionView {
                    requested_at: progress.get("requested_at").and_then(Value::as_str).map(str::to_owned),
                    posted_comment_id: progress.get("posted_comment_id").and_then(Value::as_u64),
                    answerer,
                    answerer_problem,
                    after_comment_id: progress.get("after_comment_id").and_then(Value::as_u64),
                },
            }
        }
        StepKind::Reply { template } => StepBody::Reply { text: texts::render(template, &st.facts).ok() },
        StepKind::Note { what } => {
            StepBody::Note { text: texts::admin_note_line(what, row, &st.facts), last_attempt: last_attempt(&progress) }
        }
        StepKind::Manual { link, instructions } => {
            StepBody::Manual { link: texts::render(link, &st.facts).ok(), text: texts::render(instructions, &st.facts).ok() }
        }
        StepKind::Action { action, destructive } => {
            let op = registry::action_named(action);
            StepBody::Action {
                // Before the facts it needs are recorded, the preview is empty.
                calls: op.as_ref().map_or_else(|_| Vec::new(), |a| a.plan(st).unwrap_or_default()),
                destructive: *destructive,
                confirm_text: op.ok().filter(|_| *destructive).and_then(|a| a.confirmation(st)),
                last_attempt: last_attempt(&progress),
            }
        }
        StepKind::Verify { challenges, required_passes } => StepBody::Verify {
            challenges: challenges
                .iter()
                .map(|c| ChallengeView { id: c.id.clone(), label: c.label.clone(), hint: c.hint.clone() })
                .collect(),
            risk_levels: required_passes.iter().map(|(l, n)| RiskLevel { level: l.clone(), required: *n }).collect(),
        },
        StepKind::Decision { options, propose_from } => {
            let proposed = propose_from.as_ref().and_then(|f| st.facts.get(f));
            StepBody::Decision {
                options: options
                    .iter()
                    .map(|o| OptionView {
                        id: o.id.clone(),
                        label: o.label.clone(),
                        reason: o.reason.clone(),
                        blocks: o.blocks.clone(),
                        proposed: proposed == Some(&o.id),
                    })
                    .collect(),
                text: propose_from.as_ref().and_then(|f| st.facts.get(&format!("{f}_reason"))).cloned(),
            }
        }
        StepKind::Summary => StepBody::Summary,
    }
}

/// Builds the view of a case.
pub fn build(catalog: &Catalog, row: &CaseRow, pb: &Playbook, st: &CaseState, continued_in: Option<i64>) -> CaseView {
    let steps = pb
        .steps
        .iter()
        .map(|s| {
            let status = match st.records.get(&s.id).map(|r| r.status) {
                _ if row.status == CaseStatus::Open && s.id == st.cursor => "current",
                Some(StepStatus::Done) => "done",
                Some(StepStatus::Skipped) => "skipped",
                Some(StepStatus::Blocked) => "blocked",
                Some(StepStatus::Failed) => "failed",
                None => "pending",
            };
            let detail = st.records.get(&s.id).and_then(|r| r.data.summary()).map(str::to_owned);
            StepLine { id: s.id.clone(), title: s.title.clone(), kind: s.kind.name().into(), status: status.into(), detail }
        })
        .collect();
    let current = (row.status == CaseStatus::Open).then(|| pb.step(&st.cursor)).flatten().map(|(_, s)| StepView {
        id: s.id.clone(),
        title: s.title.clone(),
        help: s.help.clone(),
        body: body(catalog, row, pb, st, s),
    });
    let facts = FACT_LABELS
        .iter()
        .filter_map(|(k, label)| st.facts.get(*k).filter(|v| !v.is_empty()).map(|v| Fact::new(label, v.clone())))
        .collect();
    let evidence = st
        .evidence
        .values()
        .map(|e| EvidenceView { title: e.title.clone(), at: e.at.clone(), rows: e.rows.clone(), links: e.links.clone() })
        .collect();
    CaseView {
        id: row.id,
        ticket_instance: row.ticket_instance,
        ticket_id: row.ticket_id,
        ticket_subject: row.ticket_subject.clone(),
        requester: row.requester.clone(),
        playbook_id: row.playbook_id.clone(),
        playbook_title: row.playbook_title.clone(),
        playbook_version: row.playbook_version.clone(),
        status: row.status,
        outcome: row.outcome,
        origin_case_id: row.origin_case_id,
        continued_in,
        steps,
        current,
        facts,
        evidence,
        updated_at: row.updated_at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_one_object_tagged_by_its_kind_with_only_its_own_fields() {
        let step = |body| StepView { id: "s".into(), title: "T".into(), help: String::new(), body };
        let reply = serde_json::to_value(step(StepBody::Reply { text: Some("Hello".into()) })).unwrap();
        assert_eq!(reply, serde_json::json!({"id": "s", "title": "T", "help": "", "kind": "reply", "text": "Hello"}));
        let summary = serde_json::to_value(step(StepBody::Summary)).unwrap();
        assert_eq!(summary, serde_json::json!({"id": "s", "title": "T", "help": "", "kind": "summary"}));
        let gate = serde_json::to_value(step(StepBody::Gate { gates: Vec::new(), notice: None })).unwrap();
        assert_eq!(gate, serde_json::json!({"id": "s", "title": "T", "help": "", "kind": "gate", "gates": [], "notice": null}));
    }

    #[test]
    fn only_the_step_after_the_unlink_waits_for_the_customer_to_sign_up_in_the_portal() {
        let catalog = Catalog::builtin();
        let mut waiting = Vec::new();
        for info in catalog.list() {
            for s in &catalog.get(&info.id).unwrap().steps {
                if let StepKind::Checklist { fields, .. } = &s.kind {
                    if awaits_portal_sign_up(fields) {
                        waiting.push(format!("{}/{}", info.id, s.id));
                    }
                }
            }
        }
        assert_eq!(waiting, ["customersdot-sign-in/new-account"]);
    }
}
