//! What operations hand back to the engine: a lookup's evidence and facts, an action's planned
//! and made calls, a gate's verdict. A leaf: it names nothing else in the playbook module, so
//! every operation, the engine and the view can share it without import cycles. (`Answerer`,
//! whose reply counts as a permission, is here because lookups find it and records keep it.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::Result;

/// A lookup's snapshot: raw data for the gates, rows and links for the agent. `data` is the
/// lookup's own typed record serialized (see `Lookup::Data`); gates read it back typed.
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

    /// Whether the line blocks.
    pub fn blocks(&self) -> bool {
        self.status.as_deref() == Some("blocked")
    }
}

/// A link to where a fact comes from (GitLab admin, Zendesk, Mailgun).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Link {
    pub label: String,
    pub url: String,
}

impl Link {
    pub fn new(label: impl Into<String>, url: impl Into<String>) -> Link {
        Link { label: label.into(), url: url.into() }
    }
}

/// Whose reply counts as the permission a step asks for (see `consent.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The ticket's requester, asking for a change on their own account.
    #[default]
    Requester,
    /// The Owner or Maintainer whose GitLab account has the access.
    PermissionGiver,
    /// The owner of a support-portal profile's primary address.
    PrimaryAddress,
}

/// The one Zendesk user whose reply counts, and why it is them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Answerer {
    pub role: Role,
    /// Their Zendesk user id: a comment counts only if its author is this user.
    #[ts(type = "number")]
    pub user_id: u64,
    pub name: String,
    pub email: String,
    /// Why this person, in words the agent can repeat to the customer.
    pub why: String,
}

/// What a lookup found, and the facts it derives for later steps.
pub struct Found {
    pub evidence: Evidence,
    pub facts: BTreeMap<String, String>,
}

impl Found {
    /// Evidence titled `title`, taken now, with `data` serialized.
    pub fn new(title: impl Into<String>, data: &impl Serialize, rows: Vec<Fact>, links: Vec<Link>) -> Result<Found> {
        let data = serde_json::to_value(data).map_err(|e| crate::Error::Internal(format!("evidence: {e}")))?;
        Ok(Found {
            evidence: Evidence { title: title.into(), at: crate::clock::now(), data, rows, links },
            facts: BTreeMap::new(),
        })
    }

    /// Adds a fact for later steps.
    pub fn fact(mut self, key: &str, value: impl Into<String>) -> Found {
        self.facts.insert(key.to_owned(), value.into());
        self
    }
}

/// One call of an action's preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PlannedCall {
    pub method: String,
    pub path: String,
    /// Before → after, in words.
    pub change: String,
}

impl PlannedCall {
    pub fn new(method: &str, path: impl Into<String>, change: impl Into<String>) -> PlannedCall {
        PlannedCall { method: method.into(), path: path.into(), change: change.into() }
    }
}

/// One call as it was run (or skipped because its effect was already there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallRecord {
    pub method: String,
    pub path: String,
    /// `done` or `skipped: …`.
    pub result: String,
}

/// The calls an action made so far, kept even when a later call fails.
#[derive(Debug, Default)]
pub struct Calls(Vec<CallRecord>);

impl Calls {
    pub fn record(&mut self, method: &str, path: impl Into<String>, result: impl Into<String>) {
        self.0.push(CallRecord { method: method.into(), path: path.into(), result: result.into() });
    }

    pub fn into_vec(self) -> Vec<CallRecord> {
        self.0
    }
}

/// What running an action did: the calls made before any failure, then the verification.
pub struct Outcome {
    pub calls: Vec<CallRecord>,
    pub result: Result<Vec<Fact>>,
}

/// A gate's verdict and what it was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub detail: String,
}

impl Verdict {
    pub fn new(passed: bool, detail: impl Into<String>) -> Verdict {
        Verdict { passed, detail: detail.into() }
    }

    pub fn pass(detail: impl Into<String>) -> Verdict {
        Verdict::new(true, detail)
    }

    pub fn block(detail: impl Into<String>) -> Verdict {
        Verdict::new(false, detail)
    }
}
