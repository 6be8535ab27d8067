//! The per-case state machine. The UI asks for the case view and submits one input for the
//! current step; anything else (another step, a finished case, an action before its gates and
//! permission) is refused with a stable code. Network work happens first; then the new state and
//! its audit rows are written in one transaction, and only then is the UI answered.
//!
//! `submit` is the skeleton every step goes through: load the case, check it may move (open,
//! this step is the current one, nobody else is writing it), run the step (`steps/`, one module
//! per kind), commit the transition (`commit.rs`).

mod commit;
mod steps;
mod transition;

use self::commit::{commit, entry, insert_case};
use self::transition::Transition;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;

use super::model::{Playbook, Step, StepKind};
pub use super::ops::Env;
use super::state::CaseState;
pub use super::state::TicketInstance;
use super::view::{self, CaseView, StepBody};
use super::{consent, registry};
use crate::connectors::session::Connections;
use crate::connectors::zendesk::Zendesk;
use crate::store::audit;
use crate::store::cases::{self, CaseRow};
use crate::store::columns::{CaseOutcome, CaseStatus};
use crate::{validate, Error, Result};

/// A ticket as the New case form shows it before the case opens.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TicketPreview {
    pub instance: TicketInstance,
    pub id: u64,
    pub subject: String,
    pub status: String,
    pub requester_id: u64,
    pub requester_name: String,
    pub requester_email: String,
    pub url: String,
}

/// What opening a case needs.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NewCase {
    pub ticket_instance: TicketInstance,
    pub ticket_id: u64,
    pub playbook_id: String,
}

/// A comment of the case's ticket, for picking the customer's confirmation.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TicketComment {
    pub id: u64,
    pub author_id: u64,
    pub by_requester: bool,
    pub public: bool,
    pub created_at: String,
    pub body: String,
    /// Whether it would count as the answer to the current step's permission request: by the
    /// one person who must answer, public, after the request (decided here, not in the UI).
    pub acceptable: bool,
}

/// What the agent submits for the current step.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepInput {
    /// Checklist: the ticked items and the recorded fields.
    Checklist { ticked: Vec<String>, fields: BTreeMap<String, String> },
    /// Lookup: fetch the facts.
    RunLookup,
    /// Lookup: what the agent read in a tool this profile has no API for (the step's fields).
    EnterEvidence { fields: BTreeMap<String, String> },
    /// Gate: every gate passed; continue.
    Continue,
    /// Gate: follow the first block (end, switch playbook, or branch).
    FollowBlock,
    /// Permission: the request was sent (posted to the ticket by Casekit, or copied by the agent).
    RequestPermission { post: bool },
    /// Permission: the customer's reply, picked from the ticket's comments.
    ConfirmPermission { comment_id: u64 },
    /// Verify: the risk level and each challenge sent with whether its answer matched.
    Verify { risk: String, results: Vec<ChallengeResult> },
    /// Decision: the option chosen and why.
    Decide { option: String, reason: String },
    /// Action: run it; `confirmation` is the typed confirmation for destructive ones.
    RunAction { confirmation: String },
    /// Note: append the admin note.
    WriteNote,
    /// Reply: the text was sent (posted by Casekit, or copied by the agent).
    SendReply { post: bool },
    /// Manual: done in the other tool; what the agent pastes back as evidence.
    ManualDone { evidence: String },
    /// Summary: finish the case.
    Finish,
    /// Any step: fetch the evidence again (e.g. after an action found the account changed).
    Refresh,
}

#[derive(Debug, Clone, Deserialize, TS)]
pub struct ChallengeResult {
    pub id: String,
    pub passed: bool,
}

fn agent(env: &Env<'_>) -> Result<String> {
    let p = env.conns.profile();
    if p.agent_name.is_empty() || p.agent_email.is_empty() {
        return Err(Error::NotConfigured("Cases record who did what: enter your name and work email in Settings first.".into()));
    }
    Ok(format!("{} <{}>", p.agent_name, p.agent_email))
}

fn zendesk(env: &Env<'_>, instance: TicketInstance) -> Result<Zendesk> {
    env.conns.zendesk(instance.service())
}

/// Fetches a ticket and its requester, for the New case form.
pub async fn preview_ticket(conns: &Connections, instance: TicketInstance, id: u64) -> Result<TicketPreview> {
    if id == 0 {
        return Err(Error::InvalidInput("Enter the ticket number (the digits after #).".into()));
    }
    let zd = conns.zendesk(instance.service())?;
    let ticket = zd.ticket(id).await.map_err(|e| match e {
        Error::NotFound(_) => Error::NotFound(format!(
            "Ticket #{id} is not on the {} instance. Check the number, or pick the other instance.",
            instance.service().label()
        )),
        other => other,
    })?;
    let requester = zd.user(ticket.requester_id).await?;
    Ok(TicketPreview {
        instance,
        id,
        subject: ticket.subject.unwrap_or_default(),
        status: ticket.status,
        requester_id: requester.id,
        requester_name: requester.name,
        requester_email: requester.email.unwrap_or_default(),
        url: zd.ticket_link(id),
    })
}

/// Opens a case for a ticket with a playbook.
pub async fn open_case(env: &Env<'_>, new: &NewCase) -> Result<CaseView> {
    let agent = agent(env)?;
    let pb = env.catalog.get(&new.playbook_id)?;
    let ticket = preview_ticket(env.conns, new.ticket_instance, new.ticket_id).await?;
    if ticket.status == "closed" {
        return Err(Error::InvalidInput(format!(
            "Ticket #{} is closed and cannot change again; open a follow-up ticket in Zendesk and use that number.",
            ticket.id
        )));
    }
    let conn = env.store.conn();
    let profile = env.conns.profile().id;
    if let Some(id) = cases::open_on_ticket(&conn, profile, new.ticket_instance, new.ticket_id as i64, &pb.id)? {
        return Err(Error::InvalidInput(format!(
            "Case {id} for ticket #{} with “{}” is open already: resume it from Cases.",
            new.ticket_id, pb.title
        )));
    }
    let mut facts = BTreeMap::new();
    facts.insert("ticket_url".to_owned(), ticket.url.clone());
    facts.insert("ticket_subject".to_owned(), ticket.subject.clone());
    facts.insert("requester_id".to_owned(), ticket.requester_id.to_string());
    facts.insert("requester_name".to_owned(), ticket.requester_name.clone());
    facts.insert("requester_email".to_owned(), ticket.requester_email.clone());
    facts.insert("ticket_instance".to_owned(), new.ticket_instance.key().to_owned());
    facts.insert("ticket_id".to_owned(), ticket.id.to_string());
    let state = CaseState {
        cursor: pb.steps[0].id.clone(),
        facts,
        definition: serde_json::to_value(pb).unwrap_or_default(),
        ..Default::default()
    };
    let requester = format!("{} <{}>", ticket.requester_name, ticket.requester_email);
    let tx = conn.unchecked_transaction()?;
    let id = insert_case(&tx, env, pb, new.ticket_instance, new.ticket_id, &ticket.subject, &requester, None, &state)?;
    let row = cases::get(&tx, id)?;
    audit::append(
        &tx,
        &agent,
        &entry(
            &row,
            pb,
            None,
            "case_opened",
            json!({"requester_id": ticket.requester_id, "requester": requester, "subject": ticket.subject,
                   "ticket_url": ticket.url, "playbook_title": pb.title}),
        ),
    )?;
    tx.commit()?;
    drop(conn);
    tracing::info!(case = id, playbook = %pb.id, "case opened");
    case_view(env, id)
}

/// The case, its playbook as it was when the case opened, and its state.
fn load(env: &Env<'_>, case_id: i64) -> Result<(CaseRow, Playbook, CaseState)> {
    let row = cases::get(&env.store.conn(), case_id)?;
    if row.profile_id != env.conns.profile().id {
        return Err(Error::NotFound(format!(
            "Case {case_id} belongs to another profile: switch to it in Settings to work on the case."
        )));
    }
    let st: CaseState = serde_json::from_str(&row.state)
        .map_err(|e| Error::Internal(format!("case {case_id} has a state Casekit cannot read: {e}")))?;
    // A case finishes on the definition it started with, never silently on today's.
    let mut pb: Playbook = serde_json::from_value(st.definition.clone()).map_err(|e| {
        Error::Internal(format!(
            "Case {case_id} was started on a version of “{}” this Casekit cannot read ({e}). Finish it with the Casekit \
             version that started it, or abandon it and open a new case.",
            row.playbook_id
        ))
    })?;
    pb.version = row.playbook_version.clone();
    Ok((row, pb, st))
}

/// The wizard's view of a case.
pub fn case_view(env: &Env<'_>, case_id: i64) -> Result<CaseView> {
    let (row, pb, st) = load(env, case_id)?;
    let continued_in = cases::continued_in(&env.store.conn(), case_id)?;
    let mut v = view::build(env.catalog, &row, &pb, &st, continued_in);
    // A lookup whose source has no API in this profile asks the agent for what the tool shows.
    if let (Some(StepBody::Lookup { fields, link }), Some((_, step))) =
        (v.current.as_mut().map(|c| &mut c.body), pb.step(&st.cursor))
    {
        if let StepKind::Lookup { lookup } = &step.kind {
            (*fields, *link) = registry::lookup_named(lookup)?.form(env.conns, &st);
        }
    }
    Ok(v)
}

/// The comments of the case's ticket, newest last, for picking the customer's confirmation.
pub async fn ticket_comments(env: &Env<'_>, case_id: i64) -> Result<Vec<TicketComment>> {
    let (row, _, st) = load(env, case_id)?;
    let zd = zendesk(env, row.ticket_instance)?;
    let requester: u64 = st.facts.get("requester_id").and_then(|v| v.parse().ok()).unwrap_or(0);
    let request = (row.status == CaseStatus::Open).then(|| st.progress.get(&st.cursor)).flatten().and_then(consent::recorded);
    Ok(zd
        .comments(row.ticket_id as u64)
        .await?
        .into_iter()
        .map(|c| {
            let candidate = consent::Candidate { id: c.id, author_id: c.author_id, public: c.public, body: &c.body };
            let acceptable =
                request.as_ref().is_some_and(|(who, after)| consent::judge(&candidate, who, requester, *after).is_ok());
            TicketComment {
                id: c.id,
                author_id: c.author_id,
                by_requester: c.author_id == requester,
                public: c.public,
                created_at: c.created_at,
                body: c.body,
                acceptable,
            }
        })
        .collect())
}

/// Who must answer the permission request of the case's current step (none when the case is
/// not at a permission step): the one recorded with the request once it was sent, else the one
/// the evidence names now.
pub fn current_answerer(env: &Env<'_>, case_id: i64) -> Result<Option<consent::Answerer>> {
    let (row, pb, st) = load(env, case_id)?;
    if row.status != CaseStatus::Open {
        return Ok(None);
    }
    match pb.step(&st.cursor).map(|(_, s)| &s.kind) {
        Some(StepKind::Permission { from, .. }) => match st.progress.get(&st.cursor).and_then(consent::recorded) {
            Some((who, _)) => Ok(Some(who)),
            None => consent::answerer(*from, &st).map(Some),
        },
        _ => Ok(None),
    }
}

/// Holds the case for this writer: a second submit or an abandon while a step of the case is
/// running (a double click, the case open in two windows) is refused and runs nothing.
fn claim<'a>(env: &Env<'a>, case_id: i64) -> Result<crate::store::cases::Claim<'a>> {
    env.store.claim_case(case_id).ok_or_else(|| {
        Error::Conflict(format!(
            "A step of case {case_id} is in progress already (a second click, or the case open in another window): \
             nothing was run twice. Wait for it to finish, then reload the case."
        ))
    })
}

/// Submits the agent's input for the current step: load the case, check the step may run, run
/// it (network first), commit the transition with its audit rows.
pub async fn submit(env: &Env<'_>, case_id: i64, step_id: &str, input: StepInput) -> Result<CaseView> {
    let agent = agent(env)?;
    let _writer = claim(env, case_id)?;
    let (row, pb, st) = load(env, case_id)?;
    let (index, step) = current(&row, &pb, &st, step_id)?;
    // Whether the step writes outside Casekit (an account, the ticket): its audit rows are kept
    // even when the case changed elsewhere meanwhile, since the write happened.
    let writes_outside = matches!(
        (&step.kind, &input),
        (StepKind::Action { .. }, StepInput::RunAction { .. })
            | (StepKind::Note { .. }, StepInput::WriteNote)
            | (StepKind::Permission { .. }, StepInput::RequestPermission { post: true })
            | (StepKind::Reply { .. }, StepInput::SendReply { post: true })
    );
    let mut cx = steps::Cx { env, agent, row, pb, st, index, step_id: step_id.to_owned() };
    let t = steps::run(&mut cx, &step, input).await?;
    let steps::Cx { agent, mut row, pb, st, .. } = cx;
    let shown = match commit(env, &agent, &mut row, &pb, &st, step_id, t.clone()) {
        Err(Error::Conflict(_)) if writes_outside => {
            // Another process saved the case while the write ran (this one's writers are held
            // off by the claim): the write happened, so its rows go into the audit log anyway.
            commit::audit_only(env, &agent, &row, &pb, step_id, t)?;
            return Err(Error::Conflict(format!(
                "This step's write was made and is in the audit log, but case {case_id} changed in another window \
                 meanwhile, so the case did not move on: reload it."
            )));
        }
        other => other?,
    };
    case_view(env, shown)
}

/// The step `step_id` when it is the open case's current one; why not otherwise.
fn current(row: &CaseRow, pb: &Playbook, st: &CaseState, step_id: &str) -> Result<(usize, Step)> {
    let case_id = row.id;
    if row.status != CaseStatus::Open {
        return Err(Error::CaseClosed(format!(
            "Case {case_id} is {} ({}): nothing more can be recorded on it. Open a new case if more work is needed.",
            row.status.key(),
            row.outcome.map_or("closed", CaseOutcome::key)
        )));
    }
    if st.cursor != step_id {
        let at = pb.step(&st.cursor).map_or("the end", |(_, s)| s.title.as_str());
        // A second submit of a step another window (or an earlier click) completed.
        if let (Some(record), Some((_, step))) = (st.records.get(step_id), pb.step(step_id)) {
            let status = serde_json::to_value(record.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            return Err(Error::Conflict(format!(
                "“{}” of case {case_id} is already {status} (recorded by {} at {}): nothing was run again. \
                 Reload the case to continue at “{at}”.",
                step.title, record.agent, record.at
            )));
        }
        return Err(Error::OutOfOrder(format!(
            "That is not the current step of case {case_id}: the case is at “{at}”. Reload the case to continue there."
        )));
    }
    let (index, step) = pb.step(step_id).ok_or_else(|| Error::Internal(format!("step {step_id} is not in the playbook")))?;
    Ok((index, step.clone()))
}

/// Ends an open case without finishing its playbook.
pub fn abandon(env: &Env<'_>, case_id: i64, reason: &str) -> Result<CaseView> {
    let agent = agent(env)?;
    let _writer = claim(env, case_id)?;
    let (mut row, pb, mut st) = load(env, case_id)?;
    if row.status != CaseStatus::Open {
        return Err(Error::CaseClosed(format!("Case {case_id} is already {}.", row.status.key())));
    }
    let reason = validate::text("reason for abandoning the case", reason, 500)?;
    let step = st.cursor.clone();
    st.cursor.clear();
    let mut t = Transition::new("case_abandoned", json!({"reason": reason}));
    t.finish = Some(CaseOutcome::Abandoned);
    commit(env, &agent, &mut row, &pb, &st, &step, t)?;
    case_view(env, case_id)
}

/// A fact a step of the case recorded (`None` until one did), read from the case's stored state.
pub fn case_fact(env: &Env<'_>, case_id: i64, key: &str) -> Result<Option<String>> {
    let (_, _, st) = load(env, case_id)?;
    Ok(st.facts.get(key).filter(|v| !v.is_empty()).cloned())
}
