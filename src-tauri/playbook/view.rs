//! What the UI is told about a case: the step list with statuses, the current step with what
//! may be done there, the recorded facts and the evidence. Computed from the stored state; the
//! UI renders it and never decides order itself.

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use super::consent::{self, Answerer};
use super::effects::{CallRecord, Fact, Link, PlannedCall};
use super::model::{OnFail, Playbook, StepKind};
use super::state::{CaseState, StepStatus};
use super::{registry, texts, Catalog};
use crate::store::cases::CaseRow;
use crate::IpcError;

/// A case, for the wizard.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseView {
    pub id: i64,
    pub ticket_instance: String,
    pub ticket_id: i64,
    pub ticket_subject: String,
    pub requester: String,
    pub playbook_id: String,
    pub playbook_title: String,
    pub playbook_version: String,
    /// `open`, `finished` or `abandoned`.
    pub status: String,
    /// `completed`, `blocked`, `switched`, `abandoned` once finished.
    pub outcome: Option<String>,
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
#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    pub id: String,
    pub title: String,
    pub help: String,
    pub kind: String,
    pub items: Vec<ItemView>,
    pub fields: Vec<FieldView>,
    pub gates: Vec<GateView>,
    /// The text to send or write (permission request, reply, admin note line, instructions).
    pub text: Option<String>,
    /// A deep link (manual steps).
    pub link: Option<String>,
    pub permission: Option<PermissionView>,
    pub calls: Vec<PlannedCall>,
    pub destructive: bool,
    /// What to type to confirm a destructive action.
    pub confirm_text: Option<String>,
    pub challenges: Vec<ChallengeView>,
    pub risk_levels: Vec<RiskLevel>,
    pub options: Vec<OptionView>,
    pub last_attempt: Option<AttemptView>,
    /// Text from an earlier problem the agent must see (e.g. why a gate reopened).
    pub notice: Option<String>,
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

/// Builds the view of a case.
pub fn build(catalog: &Catalog, row: &CaseRow, pb: &Playbook, st: &CaseState, continued_in: Option<i64>) -> CaseView {
    let steps = pb
        .steps
        .iter()
        .map(|s| {
            let status = match st.records.get(&s.id).map(|r| r.status) {
                _ if row.status == "open" && s.id == st.cursor => "current",
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
    let current = (row.status == "open").then(|| pb.step(&st.cursor)).flatten().map(|(_, s)| {
        let mut v = StepView {
            id: s.id.clone(),
            title: s.title.clone(),
            help: s.help.clone(),
            kind: s.kind.name().into(),
            ..Default::default()
        };
        let progress = st.progress.get(&s.id).cloned().unwrap_or(Value::Null);
        v.notice = progress.get("notice").and_then(Value::as_str).map(str::to_owned);
        match &s.kind {
            StepKind::Checklist { items, fields } => {
                v.items = items
                    .iter()
                    .map(|i| ItemView {
                        id: i.id.clone(),
                        label: i.label.clone(),
                        reason: i.reason.clone(),
                        required: i.required,
                    })
                    .collect();
                v.fields = fields
                    .iter()
                    .map(|f| FieldView {
                        id: f.id.clone(),
                        label: f.label.clone(),
                        kind: f.kind.name().to_owned(),
                        options: f.options.clone(),
                        required: f.required,
                        value: st.facts.get(&f.id).cloned().unwrap_or_default(),
                    })
                    .collect();
            }
            StepKind::Gate { gates: specs } => {
                v.gates = specs
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
                    .collect();
            }
            StepKind::Permission { request, from } => {
                v.text = texts::render(request, &st.facts).ok();
                let (answerer, answerer_problem) = match consent::recorded(&progress) {
                    Some((who, _)) => (Some(who), None),
                    None => match consent::answerer(*from, st) {
                        Ok(who) => (Some(who), None),
                        Err(e) => (None, Some(e.to_string())),
                    },
                };
                v.permission = Some(PermissionView {
                    requested_at: progress.get("requested_at").and_then(Value::as_str).map(str::to_owned),
                    posted_comment_id: progress.get("posted_comment_id").and_then(Value::as_u64),
                    answerer,
                    answerer_problem,
                    after_comment_id: progress.get("after_comment_id").and_then(Value::as_u64),
                });
            }
            StepKind::Reply { template } => v.text = texts::render(template, &st.facts).ok(),
            StepKind::Note { what } => v.text = Some(texts::admin_note_line(what, row, &st.facts)),
            StepKind::Manual { link, instructions } => {
                v.link = texts::render(link, &st.facts).ok();
                v.text = texts::render(instructions, &st.facts).ok();
            }
            StepKind::Action { action, destructive } => {
                let op = registry::action_named(action);
                // Before the facts it needs are recorded, the preview is empty.
                v.calls = op.as_ref().map_or_else(|_| Vec::new(), |a| a.plan(st).unwrap_or_default());
                v.destructive = *destructive;
                v.confirm_text = op.ok().filter(|_| *destructive).and_then(|a| a.confirmation(st));
            }
            StepKind::Verify { challenges, required_passes } => {
                v.challenges = challenges
                    .iter()
                    .map(|c| ChallengeView { id: c.id.clone(), label: c.label.clone(), hint: c.hint.clone() })
                    .collect();
                v.risk_levels = required_passes.iter().map(|(l, n)| RiskLevel { level: l.clone(), required: *n }).collect();
            }
            StepKind::Decision { options, propose_from } => {
                let proposed = propose_from.as_ref().and_then(|f| st.facts.get(f));
                v.options = options
                    .iter()
                    .map(|o| OptionView {
                        id: o.id.clone(),
                        label: o.label.clone(),
                        reason: o.reason.clone(),
                        blocks: o.blocks.clone(),
                        proposed: proposed == Some(&o.id),
                    })
                    .collect();
                v.text = propose_from.as_ref().and_then(|f| st.facts.get(&format!("{f}_reason"))).cloned();
            }
            StepKind::Lookup { .. } | StepKind::Summary => {}
        }
        if let Some(attempt) = progress.get("attempt") {
            v.last_attempt = Some(AttemptView {
                calls: serde_json::from_value(attempt["calls"].clone()).unwrap_or_default(),
                error: serde_json::from_value(attempt["error"].clone()).ok(),
            });
        }
        v
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
        ticket_instance: row.ticket_instance.clone(),
        ticket_id: row.ticket_id,
        ticket_subject: row.ticket_subject.clone(),
        requester: row.requester.clone(),
        playbook_id: row.playbook_id.clone(),
        playbook_title: row.playbook_title.clone(),
        playbook_version: row.playbook_version.clone(),
        status: row.status.clone(),
        outcome: row.outcome.clone(),
        origin_case_id: row.origin_case_id,
        continued_in,
        steps,
        current,
        facts,
        evidence,
        updated_at: row.updated_at.clone(),
    }
}
