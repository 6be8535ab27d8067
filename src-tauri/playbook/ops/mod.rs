//! The operations behind the steps, one type each, grouped by the service they talk to:
//! lookups fetch evidence and facts, gates judge the evidence, actions change an account or a
//! ticket (previewed, confirmed, re-read, run, verified). `registry.rs` lists them all; a
//! playbook names them, and the catalog refuses a playbook whose names or facts do not add up.
//!
//! Adding one: a type implementing [`Lookup`], [`Gate`] or [`Action`] in the service's file,
//! and one line in `registry.rs`.

pub mod customersdot;
pub mod gitlab;
pub mod mailgun;
pub mod zendesk;

use std::collections::BTreeMap;
use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::effects::{Calls, Fact, Found, PlannedCall, Verdict};
use super::state::CaseState;
use super::view::FieldView;
use super::Catalog;
use crate::connectors::session::Connections;
use crate::store::Store;
use crate::{Error, Result};

/// What the engine and the operations work with: the database, the profile's clients, the
/// playbooks.
pub struct Env<'a> {
    pub store: &'a Store,
    pub conns: &'a Connections,
    pub catalog: &'a Catalog,
}

/// What a step needs an earlier step to have produced; checked when a playbook loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A fact (`{name}` in the case's facts).
    Fact(&'static str),
    /// The evidence of this lookup.
    Lookup(&'static str),
    /// The evidence of any one of these lookups.
    AnyLookup(&'static [&'static str]),
}

/// A named lookup: live facts fetched for the case, kept as evidence.
pub trait Lookup {
    /// The name playbooks use.
    const NAME: &'static str;
    /// What it reads from earlier steps.
    const NEEDS: &'static [Need];
    /// The facts it may record for later steps.
    const PRODUCES: &'static [&'static str];
    /// The evidence's data, serialized into `Evidence::data` and read back by the gates.
    type Data: Serialize + DeserializeOwned;

    /// Fetches the evidence.
    fn run<'a>(conns: &'a Connections, state: &'a CaseState) -> impl Future<Output = Result<Found>> + Send + 'a;

    /// The fields the agent fills in for the part this profile has no API for (and where to
    /// read them); none when the lookup fetches everything itself.
    fn form(_conns: &Connections, _state: &CaseState) -> (Vec<FieldView>, Option<String>) {
        (Vec::new(), None)
    }

    /// Builds the evidence from what the agent entered in the form.
    fn enter<'a>(
        _conns: &'a Connections,
        _state: &'a CaseState,
        _values: &'a BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Found>> + Send + 'a {
        async { Err(Error::InvalidInput(format!("The lookup {} is fetched, not entered: fetch it.", Self::NAME))) }
    }
}

/// A named gate: a predicate over the evidence that says what it saw; missing evidence never
/// passes.
pub trait Gate {
    const NAME: &'static str;
    /// The evidence (and facts) it judges.
    const NEEDS: &'static [Need];
    fn evaluate(state: &CaseState) -> Verdict;
}

/// What an action runs with.
pub struct Run<'a> {
    pub env: &'a Env<'a>,
    pub case_id: i64,
    pub state: &'a CaseState,
    /// The agent's typed confirmation, or (a manual-mode portal action) the evidence pasted
    /// from the admin screen.
    pub typed: &'a str,
}

/// A named action: a change through an API.
pub trait Action {
    const NAME: &'static str;
    /// The facts (and evidence) it acts on.
    const NEEDS: &'static [Need];
    /// The preview: each call with its path and before → after.
    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>>;
    /// The text the agent types to confirm it when the step is destructive.
    fn confirmation(_state: &CaseState) -> Option<String> {
        None
    }
    /// What must hold before it starts; refused with nothing recorded or changed.
    fn preflight<'a>(_conns: &'a Connections, _state: &'a CaseState) -> impl Future<Output = Result<()>> + Send + 'a {
        async { Ok(()) }
    }
    /// Re-reads, changes unless already so, verifies; the checks it made.
    fn run<'a>(run: &'a Run<'a>, calls: &'a mut Calls) -> impl Future<Output = Result<Vec<Fact>>> + Send + 'a;
}

/// A lookup's evidence read back as its typed data, or the verdict a gate gives without it.
pub fn evidence<L: Lookup>(state: &CaseState) -> std::result::Result<L::Data, Verdict> {
    let e =
        state.evidence.get(L::NAME).ok_or_else(|| Verdict::block(format!("The {} lookup has not run yet.", title(L::NAME))))?;
    serde_json::from_value(e.data.clone()).map_err(|_| {
        Verdict::block(format!(
            "The {} evidence was fetched by an older Casekit and cannot be judged: fetch it again (Refresh).",
            title(L::NAME)
        ))
    })
}

/// A lookup's name in words (`gitlab_account` → `gitlab account`).
fn title(name: &str) -> String {
    name.replace('_', " ")
}

/// A recorded fact, or an error saying that `who` needs it from an earlier step.
fn fact<'a>(state: &'a CaseState, key: &str) -> Result<&'a str> {
    state.fact(key, "This step")
}

/// A recorded fact that holds an id.
fn number(state: &CaseState, key: &str) -> Result<u64> {
    fact(state, key)?
        .trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| Error::InvalidInput(format!("The {} must be a number.", key.replace('_', " "))))
}
