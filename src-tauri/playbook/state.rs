//! A case's draft state: where it is, what the agent recorded, what was fetched. Stored as JSON
//! on the case row and rewritten, with its audit rows, in one transaction at every transition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::effects::{Answerer, CallRecord, Evidence, Fact};
pub use crate::service::TicketInstance;

/// The state of one case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseState {
    /// The current step's id; empty once the case is finished.
    pub cursor: String,
    /// Facts recorded by the agent or derived by lookups (`username`, `email`, `user_id`, …).
    pub facts: BTreeMap<String, String>,
    /// What each lookup found, by lookup name.
    pub evidence: BTreeMap<String, Evidence>,
    /// What happened at each finished step, by step id.
    pub records: BTreeMap<String, StepRecord>,
    /// The playbook as it was when the case opened: a case finishes on the version it started with.
    #[serde(default)]
    pub definition: Value,
    /// Half-done work on the current step (a permission request sent, an action attempted).
    #[serde(default)]
    pub progress: BTreeMap<String, Value>,
}

impl CaseState {
    /// A recorded fact, or an error saying that `who` needs it from an earlier step.
    pub fn fact(&self, key: &str, who: &str) -> crate::Result<&str> {
        self.facts.get(key).map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| {
            crate::Error::OutOfOrder(format!("{who} needs the {key}, which an earlier step records; complete that step first."))
        })
    }
}

/// The instance of the case's ticket, as recorded when it opened.
pub fn ticket_instance(state: &CaseState) -> crate::Result<TicketInstance> {
    let key = state.fact("ticket_instance", "This step")?;
    TicketInstance::from_key(key)
        .ok_or_else(|| crate::Error::Internal(format!("the case's ticket is on an instance Casekit does not know (“{key}”)")))
}

/// How a step ended (or where it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    Skipped,
    Blocked,
    /// An action whose outcome is not known (a network failure mid-way); a retry re-reads first.
    Failed,
}

/// What was recorded at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub status: StepStatus,
    pub at: String,
    pub agent: String,
    /// What the step did, by kind. Records written before the kind was stored are read by
    /// what they hold.
    #[serde(deserialize_with = "step_data")]
    pub data: StepData,
}

/// A gate's verdict as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    pub detail: String,
}

/// A challenge of a verification and whether its answer matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judged {
    pub challenge: String,
    pub passed: bool,
}

/// The peer review a checklist recorded: who was named as the second agent, of which
/// verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub reviewer_name: String,
    pub reviewer_email: String,
    pub verification_step: Option<String>,
    pub verified_by: Option<String>,
    pub outcome: Option<String>,
    /// How the reviewer is known (`typed by the agent` until team mode).
    pub how: String,
}

/// What a finished step did, by kind; `summary` is the line the step list shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepData {
    /// Passed over: its condition did not hold, or a branch went past it.
    Skipped {},
    Checklist {
        ticked: Vec<String>,
        fields: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review: Option<Review>,
        summary: String,
    },
    Lookup {
        lookup: String,
        summary: String,
    },
    GatesPassed {
        gates: Vec<GateResult>,
        summary: String,
    },
    /// The first blocked gate, and where the case went (`stop`, `switch:<playbook>`,
    /// `branch:<step>`).
    GateBlocked {
        gate: String,
        detail: String,
        follow: String,
        summary: String,
    },
    PermissionConfirmed {
        #[serde(default)]
        text: Option<String>,
        requested_at: String,
        #[serde(default)]
        posted_comment_id: Option<u64>,
        after_comment_id: u64,
        answerer: Answerer,
        comment_id: u64,
        author_id: u64,
        quote: String,
        confirmed_at: String,
        summary: String,
    },
    Verified {
        risk: String,
        results: Vec<Judged>,
        passes: u32,
        required: u32,
        /// `passed` or `failed`.
        outcome: String,
        summary: String,
    },
    Decided {
        option: String,
        label: String,
        reason: String,
        /// `agent` or `evidence`.
        reason_from: String,
        summary: String,
    },
    /// An action or an admin note: the calls made and what was verified after.
    Written {
        action: String,
        calls: Vec<CallRecord>,
        verified: Vec<Fact>,
        summary: String,
    },
    ReplySent {
        text: String,
        comment_id: Option<u64>,
        summary: String,
    },
    ManualDone {
        evidence: String,
        summary: String,
    },
    Finished {
        summary: String,
    },
}

impl StepData {
    /// The line the step list shows for the step.
    pub fn summary(&self) -> Option<&str> {
        match self {
            StepData::Skipped {} => None,
            StepData::Checklist { summary, .. }
            | StepData::Lookup { summary, .. }
            | StepData::GatesPassed { summary, .. }
            | StepData::GateBlocked { summary, .. }
            | StepData::PermissionConfirmed { summary, .. }
            | StepData::Verified { summary, .. }
            | StepData::Decided { summary, .. }
            | StepData::Written { summary, .. }
            | StepData::ReplySent { summary, .. }
            | StepData::ManualDone { summary, .. }
            | StepData::Finished { summary } => Some(summary),
        }
    }
}

/// Reads a step record's data; data written before the kind was stored gets it from the keys
/// only that kind wrote.
fn step_data<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StepData, D::Error> {
    let mut v = Value::deserialize(d)?;
    if let Value::Object(map) = &mut v {
        if !map.contains_key("kind") {
            let has = |k: &str| map.contains_key(k);
            let kind = if map.is_empty() {
                "skipped"
            } else if has("ticked") {
                "checklist"
            } else if has("lookup") {
                "lookup"
            } else if has("gates") {
                "gates_passed"
            } else if has("follow") {
                "gate_blocked"
            } else if has("quote") {
                "permission_confirmed"
            } else if has("risk") {
                "verified"
            } else if has("option") {
                "decided"
            } else if has("calls") {
                "written"
            } else if has("evidence") {
                "manual_done"
            } else if has("text") {
                "reply_sent"
            } else {
                "finished"
            };
            map.insert("kind".into(), Value::String(kind.into()));
        }
    }
    serde_json::from_value(v).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(data: serde_json::Value) -> StepData {
        let record: StepRecord =
            serde_json::from_value(json!({"status": "done", "at": "2025-01-01T10:00:00.000Z", "agent": "A <a@x>", "data": data}))
                .unwrap();
        let again: StepRecord = serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
        assert_eq!(again, record, "a record reads back as written");
        record.data
    }

    #[test]
    fn records_stored_before_the_kind_was_kept_read_by_what_they_hold() {
        assert_eq!(read(json!({})), StepData::Skipped {});
        assert!(matches!(read(json!({"lookup": "gitlab_account", "summary": "s"})), StepData::Lookup { .. }));
        let blocked = read(json!({"gate": "g", "detail": "d", "follow": "branch:x", "summary": "s"}));
        assert!(matches!(&blocked, StepData::GateBlocked { follow, .. } if follow == "branch:x"));
        let written = read(json!({"action": "release_email", "calls": [{"method": "PUT", "path": "/p", "result": "done"}],
                                  "verified": [{"label": "l", "value": "v", "status": "passed"}], "summary": "s"}));
        assert!(matches!(&written, StepData::Written { calls, .. } if calls.len() == 1));
        let decided = read(json!({"option": "o", "label": "O", "reason": "r", "reason_from": "agent", "summary": "O — r"}));
        assert_eq!(decided.summary(), Some("O — r"));
        let confirmed = read(json!({"text": "May we?", "requested_at": "t", "posted_comment_id": null, "after_comment_id": 3,
            "answerer": {"role": "requester", "userId": 7, "name": "N", "email": "n@x", "why": "w"},
            "comment_id": 4, "author_id": 7, "quote": "yes", "confirmed_at": "t", "summary": "s"}));
        assert!(matches!(confirmed, StepData::PermissionConfirmed { comment_id: 4, .. }));
        assert!(matches!(read(json!({"text": "t", "comment_id": null, "summary": "copied"})), StepData::ReplySent { .. }));
        assert!(matches!(read(json!({"summary": "case finished"})), StepData::Finished { .. }));
    }
}
