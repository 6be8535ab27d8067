//! A case's draft state: where it is, what the agent recorded, what was fetched. Stored as JSON
//! on the case row and rewritten, with its audit rows, in one transaction at every transition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

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

/// A lookup's snapshot: raw data for the gates, rows and links for the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub title: String,
    pub at: String,
    pub data: Value,
    pub rows: Vec<Fact>,
    pub links: Vec<Link>,
}

/// One line of an evidence table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Fact {
    pub label: String,
    pub value: String,
    /// `passed` or `blocked` when the line decides a gate.
    pub status: Option<String>,
}

impl Fact {
    pub fn new(label: &str, value: impl Into<String>) -> Fact {
        Fact { label: label.to_owned(), value: value.into(), status: None }
    }

    /// A line that decides a gate: passed when `ok`.
    pub fn judged(label: &str, value: impl Into<String>, ok: bool) -> Fact {
        Fact { label: label.to_owned(), value: value.into(), status: Some(if ok { "passed" } else { "blocked" }.to_owned()) }
    }
}

/// A link to where a fact comes from (GitLab admin, Zendesk, Mailgun).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Link {
    pub label: String,
    pub url: String,
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
    /// Kind-specific: ticked items, gate results, the permission request and confirmation, the
    /// action's calls and results, …
    pub data: Value,
}
