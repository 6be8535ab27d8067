//! One module per step kind: each takes the agent's input for the current step, does the work
//! (network first), and returns the `Transition` the engine commits.

mod checklist;
mod decision;
mod gate;
mod lookup;
mod manual;
mod permission;
mod reply;
mod summary;
mod verify;
mod write;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::consent;
use super::super::effects::Outcome;
use super::super::model::{
    Challenge, ChecklistItem, DecisionOption, Field, FieldKind, GateSpec, OnFail, Playbook, Role, Step, StepKind,
};
use super::super::ops::gitlab::append_admin_note;
use super::super::state::{CaseState, GateResult, Judged, StepData, StepStatus};
use super::super::{registry, review, texts};
use super::commit::commit;
use super::transition::{advance, done, ensure_ready, Transition};
use super::{zendesk, ChallengeResult, Env, StepInput};
use crate::connectors::zendesk::{NewComment, TicketUpdate};
use crate::store::cases::CaseRow;
use crate::store::columns::CaseOutcome;
use crate::{clock, validate, Error, IpcError, Result};

/// The case a step works on, as loaded for this submit.
pub struct Cx<'a> {
    pub env: &'a Env<'a>,
    pub agent: String,
    pub row: CaseRow,
    pub pb: Playbook,
    pub st: CaseState,
    pub index: usize,
    pub step_id: String,
}

/// Runs the agent's input on the current step; an input the step's kind does not take is
/// refused.
pub async fn run(cx: &mut Cx<'_>, step: &Step, input: StepInput) -> Result<Transition> {
    match (&step.kind, input) {
        (_, StepInput::Refresh) => lookup::refresh(cx.env, &cx.pb, &mut cx.st).await,
        (StepKind::Checklist { items, fields }, StepInput::Checklist { ticked, fields: values }) => {
            checklist::run(cx, items, fields, ticked, values)
        }
        (StepKind::Lookup { lookup }, input @ (StepInput::RunLookup | StepInput::EnterEvidence { .. })) => {
            lookup::run(cx, lookup, input).await
        }
        (StepKind::Gate { gates }, StepInput::Continue) => gate::pass(cx, gates),
        (StepKind::Gate { gates }, StepInput::FollowBlock) => gate::follow_block(cx, gates),
        (StepKind::Permission { request, from }, StepInput::RequestPermission { post }) => {
            permission::request(cx, request, *from, post).await
        }
        (StepKind::Permission { .. }, StepInput::ConfirmPermission { comment_id }) => permission::confirm(cx, comment_id).await,
        (StepKind::Verify { challenges, required_passes }, StepInput::Verify { risk, results }) => {
            verify::run(cx, challenges, required_passes, risk, results)
        }
        (StepKind::Decision { options, propose_from }, StepInput::Decide { option, reason }) => {
            decision::run(cx, options, propose_from, option, reason)
        }
        (StepKind::Action { action, destructive }, StepInput::RunAction { confirmation }) => {
            write::action(cx, action, *destructive, confirmation).await
        }
        (StepKind::Note { what }, StepInput::WriteNote) => write::note(cx, what).await,
        (StepKind::Reply { template }, StepInput::SendReply { post }) => reply::run(cx, template, post).await,
        (StepKind::Manual { .. }, StepInput::ManualDone { evidence }) => manual::run(cx, evidence),
        (StepKind::Summary, StepInput::Finish) => summary::run(cx),
        (kind, input) => {
            Err(Error::OutOfOrder(format!("“{}” is a {} step; {:?} does not apply to it.", step.title, kind.name(), input)))
        }
    }
}

/// Posts a public reply on the case's ticket; returns the new comment's id.
async fn post_public(env: &Env<'_>, row: &CaseRow, text: &str) -> Result<u64> {
    let zd = zendesk(env, row.ticket_instance)?;
    let update = TicketUpdate { comment: Some(NewComment { body: text.to_owned(), public: true }), ..Default::default() };
    zd.update_ticket(row.ticket_id as u64, &update).await?;
    let comments = zd.comments(row.ticket_id as u64).await?;
    comments
        .iter()
        .rev()
        .find(|c| c.body == text)
        .map(|c| c.id)
        .ok_or_else(|| Error::InvalidResponse("Zendesk accepted the reply but it is not among the ticket's comments.".into()))
}
