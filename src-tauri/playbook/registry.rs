//! Every lookup, gate and action a playbook may name, in one list each. The catalog checks
//! playbooks against these lists and the engine dispatches through them, so a name is known
//! exactly when it runs.
//!
//! Adding an operation: write its type in `ops/<service>.rs`, add one line here.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use super::effects::{Calls, Found, Outcome, PlannedCall, Verdict};
use super::ops::{customersdot, gitlab, mailgun, zendesk, Action, Env, Gate, Lookup, Need, Run};
use super::review::OwnershipVerified;
use super::state::CaseState;
use super::view::FieldView;
use crate::connectors::session::Connections;
use crate::{Error, Result};

/// Every lookup.
pub static LOOKUPS: &[LookupEntry] = &[
    lookup::<gitlab::Account>(),
    lookup::<gitlab::RequesterMembership>(),
    lookup::<gitlab::OwnerMembership>(),
    lookup::<gitlab::SecondaryEmails>(),
    lookup::<mailgun::MailgunDelivery>(),
    lookup::<zendesk::Requester>(),
    lookup::<zendesk::OrganizationLookup>(),
    lookup::<zendesk::TargetUser>(),
    lookup::<zendesk::TicketFormLookup>(),
    lookup::<customersdot::Diagnosis>(),
];

/// Every gate.
pub static GATES: &[GateEntry] = &[
    gate::<gitlab::RequesterKnowsAccount>(),
    gate::<gitlab::AccountConfirmed>(),
    gate::<gitlab::NeverSignedIn>(),
    gate::<gitlab::NoAssociations>(),
    gate::<gitlab::NoContributionEvents>(),
    gate::<gitlab::NoMemberships>(),
    gate::<gitlab::TwoFactorEligible>(),
    gate::<gitlab::RequesterCanChangeTarget>(),
    gate::<gitlab::PermissionGiverCanChangeTarget>(),
    gate::<gitlab::EmailVerifiedOnGitlab>(),
    gate::<gitlab::RequesterHoldsGitlabAccount>(),
    gate::<zendesk::RequesterIsEndUser>(),
    gate::<zendesk::OrganizationBelowContactLimit>(),
    gate::<zendesk::TicketFromNewAddress>(),
    gate::<zendesk::FormFieldsComplete>(),
    gate::<OwnershipVerified>(),
];

/// Every action.
pub static ACTIONS: &[ActionEntry] = &[
    action::<gitlab::ReleaseEmail>(),
    action::<gitlab::MakePrimaryEmail>(),
    action::<gitlab::DisableTwoFactor>(),
    action::<mailgun::RemoveSuppression>(),
    action::<zendesk::SuspendUser>(),
    action::<zendesk::AddUserNote>(),
    action::<zendesk::DeleteUserSessions>(),
    action::<zendesk::SolveTicket>(),
    action::<zendesk::CloseTicket>(),
    action::<zendesk::AssociateOrganization>(),
    action::<zendesk::AddZendeskIdentity>(),
    action::<zendesk::UpdateTicketForm>(),
    action::<customersdot::ResendConfirmation>(),
    action::<customersdot::OneTimeSignInUrl>(),
    action::<customersdot::UnlinkGitlabUser>(),
    action::<customersdot::AddBillingAccountMembership>(),
];

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The fields a lookup asks the agent for, and where to read them.
type Form = (Vec<FieldView>, Option<String>);

/// A lookup, by name, as the engine calls it.
pub struct LookupEntry {
    pub name: &'static str,
    pub needs: &'static [Need],
    pub produces: &'static [&'static str],
    run: for<'a> fn(&'a Connections, &'a CaseState) -> Boxed<'a, Found>,
    form: fn(&Connections, &CaseState) -> Form,
    enter: for<'a> fn(&'a Connections, &'a CaseState, &'a BTreeMap<String, String>) -> Boxed<'a, Found>,
}

/// A gate, by name.
pub struct GateEntry {
    pub name: &'static str,
    pub needs: &'static [Need],
    evaluate: fn(&CaseState) -> Verdict,
}

/// An action, by name.
pub struct ActionEntry {
    pub name: &'static str,
    pub needs: &'static [Need],
    plan: fn(&CaseState) -> Result<Vec<PlannedCall>>,
    confirmation: fn(&CaseState) -> Option<String>,
    preflight: for<'a> fn(&'a Connections, &'a CaseState) -> Boxed<'a, ()>,
    run: for<'a> fn(&'a Run<'a>, &'a mut Calls) -> Boxed<'a, Vec<super::effects::Fact>>,
}

const fn lookup<L: Lookup>() -> LookupEntry {
    fn run<'a, L: Lookup>(conns: &'a Connections, state: &'a CaseState) -> Boxed<'a, Found> {
        Box::pin(L::run(conns, state))
    }
    fn enter<'a, L: Lookup>(
        conns: &'a Connections,
        state: &'a CaseState,
        values: &'a BTreeMap<String, String>,
    ) -> Boxed<'a, Found> {
        Box::pin(L::enter(conns, state, values))
    }
    LookupEntry { name: L::NAME, needs: L::NEEDS, produces: L::PRODUCES, run: run::<L>, form: L::form, enter: enter::<L> }
}

const fn gate<G: Gate>() -> GateEntry {
    GateEntry { name: G::NAME, needs: G::NEEDS, evaluate: G::evaluate }
}

const fn action<A: Action>() -> ActionEntry {
    fn preflight<'a, A: Action>(conns: &'a Connections, state: &'a CaseState) -> Boxed<'a, ()> {
        Box::pin(A::preflight(conns, state))
    }
    fn run<'a, A: Action>(run: &'a Run<'a>, calls: &'a mut Calls) -> Boxed<'a, Vec<super::effects::Fact>> {
        Box::pin(A::run(run, calls))
    }
    ActionEntry {
        name: A::NAME,
        needs: A::NEEDS,
        plan: A::plan,
        confirmation: A::confirmation,
        preflight: preflight::<A>,
        run: run::<A>,
    }
}

fn unknown(what: &str, name: &str) -> Error {
    Error::Internal(format!("this case's playbook names the {what} “{name}”, which this Casekit does not have"))
}

/// The lookup named `name`.
pub fn lookup_named(name: &str) -> Result<&'static LookupEntry> {
    LOOKUPS.iter().find(|l| l.name == name).ok_or_else(|| unknown("lookup", name))
}

/// The gate named `name`.
pub fn gate_named(name: &str) -> Result<&'static GateEntry> {
    GATES.iter().find(|g| g.name == name).ok_or_else(|| unknown("gate", name))
}

/// The action named `name`.
pub fn action_named(name: &str) -> Result<&'static ActionEntry> {
    ACTIONS.iter().find(|a| a.name == name).ok_or_else(|| unknown("action", name))
}

/// Evaluates gate `name`; a gate this Casekit does not have never passes.
pub fn evaluate(name: &str, state: &CaseState) -> Verdict {
    match gate_named(name) {
        Ok(g) => (g.evaluate)(state),
        Err(e) => Verdict::block(e.to_string()),
    }
}

impl LookupEntry {
    /// Fetches the evidence.
    pub fn run<'a>(&self, conns: &'a Connections, state: &'a CaseState) -> Boxed<'a, Found> {
        (self.run)(conns, state)
    }

    /// The fields for what this profile has no API for; none when everything is fetched.
    pub fn form(&self, conns: &Connections, state: &CaseState) -> Form {
        (self.form)(conns, state)
    }

    /// The evidence from what the agent entered.
    pub fn enter<'a>(
        &self,
        conns: &'a Connections,
        state: &'a CaseState,
        values: &'a BTreeMap<String, String>,
    ) -> Boxed<'a, Found> {
        (self.enter)(conns, state, values)
    }
}

impl ActionEntry {
    /// The preview.
    pub fn plan(&self, state: &CaseState) -> Result<Vec<PlannedCall>> {
        (self.plan)(state)
    }

    /// The text to type to confirm it.
    pub fn confirmation(&self, state: &CaseState) -> Option<String> {
        (self.confirmation)(state)
    }

    /// What must hold before it starts.
    pub fn preflight<'a>(&self, conns: &'a Connections, state: &'a CaseState) -> Boxed<'a, ()> {
        (self.preflight)(conns, state)
    }

    /// Runs it for case `case_id`: the calls made (kept when a later one fails) and the checks.
    pub async fn run(&self, env: &Env<'_>, case_id: i64, state: &CaseState, typed: &str) -> Outcome {
        let mut calls = Calls::default();
        let run = Run { env, case_id, state, typed };
        let result = (self.run)(&run, &mut calls).await;
        Outcome { calls: calls.into_vec(), result }
    }
}
