//! Playbooks as data: what the steps are, in which order, what each gate checks and where a
//! blocked gate leads. Loaded from the JSON files in `playbooks/`, checked against the named
//! lookups, gates and actions the engine knows, and versioned by the hash of their content.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use super::effects::Role;
use crate::store::audit::canonical_json;
use crate::{Error, Result};

/// One playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub id: String,
    pub title: String,
    /// When an agent should pick it (shown in the picker).
    pub use_when: String,
    /// The handbook page it comes from.
    pub source: String,
    pub steps: Vec<Step>,
    /// The SHA-256 of the content (first 12 hex digits); computed, not written in the file.
    #[serde(default, skip_serializing)]
    pub version: String,
}

/// One step: what the agent sees and what the engine does, by kind.
/// (Flattened, so unknown keys are caught by `Playbook::load` instead of serde.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub title: String,
    /// The handbook's reason for the step, shown with it.
    #[serde(default)]
    pub help: String,
    /// The step after this one when it is not the next in the list (ends a branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The step runs only when these facts have these values; otherwise it is skipped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub only_if: BTreeMap<String, String>,
    #[serde(flatten)]
    pub kind: StepKind,
}

/// The step kinds; each has one generic UI component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Items to tick (each with its reason) and facts to record (validated in Rust).
    Checklist {
        #[serde(default)]
        items: Vec<ChecklistItem>,
        #[serde(default)]
        fields: Vec<Field>,
    },
    /// Facts fetched live by a named lookup.
    Lookup { lookup: String },
    /// Named predicates over the evidence; all must pass.
    Gate { gates: Vec<GateSpec> },
    /// Ownership-verification challenges, judged, with an outcome by rule.
    Verify { challenges: Vec<Challenge>, required_passes: BTreeMap<String, u32> },
    /// The request text (a template over the case facts) and the recorded reply of the one
    /// person whose consent counts (`from`, see `consent.rs`): the ticket's `requester`
    /// (the default), the `permission_giver` (the Owner or Maintainer whose GitLab account has
    /// the access) or the `primary_address` owner of a support-portal profile.
    Permission {
        request: String,
        #[serde(default)]
        from: Role,
    },
    /// A choice between named options; `propose_from` names the fact holding the option the
    /// evidence points to (and `{fact}_reason` why), which the agent confirms or overrides.
    Decision {
        options: Vec<DecisionOption>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        propose_from: Option<String>,
    },
    /// A change through an API: previewed, confirmed, re-read, executed, verified.
    Action {
        action: String,
        #[serde(default)]
        destructive: bool,
    },
    /// A step in another tool: link, instructions, the agent's confirmation.
    Manual { link: String, instructions: String },
    /// An admin note appended to the account: `what` is the middle of the handbook line.
    Note { what: String },
    /// A customer-facing reply rendered from a template (copied, or posted to the ticket).
    Reply { template: String },
    /// The end: the case summary; completing it finishes the case.
    Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub reason: String,
    /// Required items must be ticked; optional ones record what is already done, and the
    /// unticked ones become the facts `{step}_missing` (a list) and `{step}_complete` (yes/no).
    #[serde(default = "yes")]
    pub required: bool,
}

/// A fact the agent records in a checklist step; becomes `facts[id]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub id: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

impl Field {
    /// Whether the field names the peer reviewer (which makes its checklist the peer review).
    pub fn is_reviewer(&self) -> bool {
        matches!(self.kind, FieldKind::ReviewerName | FieldKind::ReviewerEmail)
    }
}

/// What a checklist field takes; each is validated in Rust before it becomes a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Email,
    /// Comma-separated addresses, each checked, at most four.
    Emails,
    /// A GitLab username (`@` dropped).
    Username,
    /// One of the field's options.
    Choice,
    /// With `ReviewerEmail`, makes the checklist the peer review (another agent).
    ReviewerName,
    ReviewerEmail,
}

impl FieldKind {
    /// The kind as playbooks and the UI write it.
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Email => "email",
            FieldKind::Emails => "emails",
            FieldKind::Username => "username",
            FieldKind::Choice => "choice",
            FieldKind::ReviewerName => "reviewer_name",
            FieldKind::ReviewerEmail => "reviewer_email",
        }
    }
}

/// A gate in a playbook: which predicate, why (the handbook's words), and where a block leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    pub gate: String,
    pub reason: String,
    #[serde(default)]
    pub on_fail: OnFail,
}

/// Where a blocked gate leads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OnFail {
    /// The case ends blocked.
    #[default]
    Stop,
    /// A new case on the same ticket with another playbook, evidence carried over.
    Switch(String),
    /// Continue at another step of this playbook.
    Branch(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionOption {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub reason: String,
    /// Set when choosing it ends the case (e.g. "not allowed to ask"): the text says why.
    #[serde(default)]
    pub blocks: Option<String>,
    /// The step to continue at; the next one when absent.
    #[serde(default)]
    pub next: Option<String>,
    /// Facts the choice records (templates over the case facts), e.g. the change to ask about.
    #[serde(default)]
    pub sets: BTreeMap<String, String>,
}

/// The facts Casekit records from the ticket when a case opens; no step may set them.
/// (`requester_email` is not among them: the CustomersDot diagnosis lets the agent correct the
/// address the customer signs in with. Checks of who the requester is read the ticket itself.)
pub const TICKET_FACTS: &[&str] = &["requester_id", "requester_name", "ticket_id", "ticket_instance", "ticket_url"];

impl Playbook {
    /// Parses and versions one playbook file, and checks its shape: unique step ids, the
    /// summary last, every step it continues at present, nothing set that the ticket says. What
    /// it names and the facts it uses are checked against the registry by `check.rs`.
    pub fn parse(json: &str) -> Result<Playbook> {
        let raw: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::Internal(format!("a playbook file is not JSON: {e}")))?;
        let mut p: Playbook =
            serde_json::from_value(raw.clone()).map_err(|e| Error::Internal(format!("a playbook file is not valid: {e}")))?;
        p.check_shape()?;
        let content = serde_json::to_value(&p).map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(path) = unknown_key(&raw, &content, String::new()) {
            return Err(Error::Internal(format!("playbook {}: unknown key {path}", p.id)));
        }
        let digest = Sha256::digest(canonical_json(&content).as_bytes());
        p.version = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        Ok(p)
    }

    fn check_shape(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Internal(format!("playbook {}: {why}", self.id)));
        let ids: BTreeSet<&str> = self.steps.iter().map(|s| s.id.as_str()).collect();
        if ids.len() != self.steps.len() {
            return bad("two steps share an id".into());
        }
        if !matches!(self.steps.last().map(|s| &s.kind), Some(StepKind::Summary)) {
            return bad("the last step must be the summary".into());
        }
        for s in &self.steps {
            // What Casekit records from the ticket itself is never the agent's to type or set.
            let sets = match &s.kind {
                StepKind::Checklist { fields, .. } => fields.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
                StepKind::Decision { options, .. } => options.iter().flat_map(|o| o.sets.keys().map(String::as_str)).collect(),
                _ => Vec::new(),
            };
            if let Some(k) = sets.iter().find(|k| TICKET_FACTS.contains(k)) {
                return bad(format!("step {} would overwrite {k}, which Casekit takes from the ticket", s.id));
            }
            if s.next.as_deref().is_some_and(|n| !ids.contains(n)) {
                return bad(format!("step {} continues at a missing step", s.id));
            }
            let leads_to: Vec<&str> = match &s.kind {
                StepKind::Gate { gates } => gates
                    .iter()
                    .filter_map(|g| match &g.on_fail {
                        OnFail::Branch(to) => Some(to.as_str()),
                        _ => None,
                    })
                    .collect(),
                StepKind::Decision { options, .. } => options.iter().filter_map(|o| o.next.as_deref()).collect(),
                _ => Vec::new(),
            };
            if let Some(to) = leads_to.iter().find(|to| !ids.contains(*to)) {
                return bad(format!("step {} leads to a missing step {to}", s.id));
            }
            if matches!(&s.kind, StepKind::Verify { challenges, required_passes } if challenges.is_empty() || required_passes.is_empty())
            {
                return bad(format!("step {} needs challenges and a rule", s.id));
            }
        }
        Ok(())
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<(usize, &Step)> {
        self.steps.iter().enumerate().find(|(_, s)| s.id == id)
    }

    /// The permission steps before step `index`.
    pub fn permissions_before(&self, index: usize) -> impl Iterator<Item = &Step> {
        self.steps[..index].iter().filter(|s| matches!(s.kind, StepKind::Permission { .. }))
    }
}

/// The first key in `input` that did not survive parsing (a typo in a playbook file).
fn unknown_key(input: &serde_json::Value, parsed: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match (input, parsed) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, v)| match b.get(k) {
            None => Some(format!("{path}/{k}")),
            Some(w) => unknown_key(v, w, format!("{path}/{k}")),
        }),
        (Value::Array(a), Value::Array(b)) => {
            a.iter().zip(b).enumerate().find_map(|(i, (v, w))| unknown_key(v, w, format!("{path}/{i}")))
        }
        _ => None,
    }
}

impl StepKind {
    /// The kind's name as the UI and the audit log say it.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Checklist { .. } => "checklist",
            StepKind::Lookup { .. } => "lookup",
            StepKind::Gate { .. } => "gate",
            StepKind::Verify { .. } => "verify",
            StepKind::Permission { .. } => "permission",
            StepKind::Decision { .. } => "decision",
            StepKind::Action { .. } => "action",
            StepKind::Manual { .. } => "manual",
            StepKind::Note { .. } => "note",
            StepKind::Reply { .. } => "reply",
            StepKind::Summary => "summary",
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A playbook file of one step and the summary.
    pub(crate) fn file(step: &str) -> String {
        format!(
            r#"{{"id": "p", "title": "P", "use_when": "u", "source": "s", "steps": [{step}, {{"id": "end", "title": "End", "kind": "summary"}}]}}"#
        )
    }

    #[test]
    fn a_typo_or_a_missing_step_in_a_playbook_is_refused() {
        assert!(Playbook::parse(&file(r#"{"id": "a", "title": "A", "kind": "lookup", "lookup": "gitlab_account"}"#)).is_ok());
        let typo =
            Playbook::parse(&file(r#"{"id": "a", "title": "A", "kind": "lookup", "lookup": "gitlab_account", "lokup": 1}"#));
        assert!(typo.unwrap_err().to_string().contains("unknown key /steps/0/lokup"));
        let branch = r#"{"id": "a", "title": "A", "kind": "gate", "gates": [{"gate": "no_memberships", "reason": "r", "on_fail": {"branch": "x"}}]}"#;
        assert!(Playbook::parse(&file(branch)).unwrap_err().to_string().contains("missing step x"));
    }

    #[test]
    fn no_step_sets_what_the_ticket_says() {
        let field =
            r#"{"id": "a", "title": "A", "kind": "checklist", "fields": [{"id": "requester_id", "label": "x", "type": "text"}]}"#;
        assert!(Playbook::parse(&file(field)).unwrap_err().to_string().contains("would overwrite requester_id"));
        let sets = r#"{"id": "a", "title": "A", "kind": "decision", "options": [{"id": "o", "label": "O", "sets": {"ticket_id": "1"}}]}"#;
        assert!(Playbook::parse(&file(sets)).unwrap_err().to_string().contains("would overwrite ticket_id"));
    }

    #[test]
    fn the_version_is_a_hash_of_the_content() {
        let a = Playbook::parse(&file(r#"{"id": "a", "title": "A", "kind": "lookup", "lookup": "gitlab_account"}"#)).unwrap();
        let b = Playbook::parse(&file(r#"{"id": "a", "title": "B", "kind": "lookup", "lookup": "gitlab_account"}"#)).unwrap();
        assert_eq!(a.version.len(), 12);
        assert_ne!(a.version, b.version);
    }
}
