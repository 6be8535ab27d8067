//! A case's draft state: where it is, what the agent recorded, what was fetched. Stored as JSON
//! on the case row and rewritten, with its audit rows, in one transaction at every transition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::effects::Evidence;
use crate::connectors::Service;

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

/// Which Zendesk instance a ticket lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TicketInstance {
    Global,
    UsGov,
}

impl TicketInstance {
    /// How the case row and the facts say it.
    pub fn key(self) -> &'static str {
        match self {
            TicketInstance::Global => "global",
            TicketInstance::UsGov => "us_gov",
        }
    }

    /// The profile's service for it.
    pub fn service(self) -> Service {
        match self {
            TicketInstance::Global => Service::Zendesk,
            TicketInstance::UsGov => Service::ZendeskUsGov,
        }
    }

    /// The instance a stored key names (`us_gov`, else the global one).
    pub fn parse(s: &str) -> TicketInstance {
        if s == "us_gov" {
            TicketInstance::UsGov
        } else {
            TicketInstance::Global
        }
    }

    /// The instance of the case's ticket, as recorded when it opened.
    pub fn of(state: &CaseState) -> TicketInstance {
        TicketInstance::parse(state.facts.get("ticket_instance").map_or("", String::as_str))
    }
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
