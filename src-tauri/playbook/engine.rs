//! The per-case state machine. The UI asks for the case view and submits one input for the
//! current step; anything else (another step, a finished case, an action before its gates and
//! permission) is refused with a stable code. Network work happens first; then the new state and
//! its audit rows are written in one transaction, and only then is the UI answered.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;

use super::model::{OnFail, Playbook, StepKind};
use super::state::{CaseState, StepRecord, StepStatus};
use super::view::{self, CaseView, StepBody};
use super::{actions, consent, gates, lookups, review, texts, Catalog};
use crate::connectors::session::Connections;
use crate::connectors::zendesk::{NewComment, TicketUpdate, Zendesk};
use crate::connectors::Service;
use crate::store::audit::{self, Entry};
use crate::store::cases::{self, CaseRow, NewCaseRow};
use crate::store::Store;
use crate::{clock, validate, Error, IpcError, Result};

/// What the engine works with: the database, the profile's clients, the playbooks.
pub struct Env<'a> {
    pub store: &'a Store,
    pub conns: &'a Connections,
    pub catalog: &'a Catalog,
}

/// Which Zendesk instance a ticket lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TicketInstance {
    Global,
    UsGov,
}

impl TicketInstance {
    fn key(self) -> &'static str {
        match self {
            TicketInstance::Global => "global",
            TicketInstance::UsGov => "us_gov",
        }
    }

    fn service(self) -> Service {
        match self {
            TicketInstance::Global => Service::Zendesk,
            TicketInstance::UsGov => Service::ZendeskUsGov,
        }
    }

    fn parse(s: &str) -> TicketInstance {
        if s == "us_gov" {
            TicketInstance::UsGov
        } else {
            TicketInstance::Global
        }
    }
}

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

fn ticket_label(row: &CaseRow) -> String {
    format!("{}#{}", row.ticket_instance, row.ticket_id)
}

fn entry(row: &CaseRow, pb: &Playbook, step: Option<&str>, kind: &str, payload: Value) -> Entry {
    Entry {
        case_id: Some(row.id),
        ticket: Some(ticket_label(row)),
        playbook_id: Some(pb.id.clone()),
        playbook_version: Some(pb.version.clone()),
        step: step.map(str::to_owned),
        kind: kind.to_owned(),
        payload,
    }
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
    // Per profile: a Sandbox case on #8001 says nothing about the live ticket #8001.
    let existing: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT id FROM cases WHERE status = 'open' AND ticket_instance = ?1 AND ticket_id = ?2 AND playbook_id = ?3 \
         AND profile_id = ?4",
        rusqlite::params![new.ticket_instance.key(), new.ticket_id as i64, pb.id, env.conns.profile().id],
        |r| r.get(0),
    ))?;
    if let Some(id) = existing {
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

#[allow(clippy::too_many_arguments)]
fn insert_case(
    conn: &rusqlite::Connection,
    env: &Env<'_>,
    pb: &Playbook,
    instance: TicketInstance,
    ticket_id: u64,
    subject: &str,
    requester: &str,
    origin: Option<i64>,
    state: &CaseState,
) -> Result<i64> {
    let state_json = serde_json::to_string(state).map_err(|e| Error::Internal(e.to_string()))?;
    cases::insert(
        conn,
        &NewCaseRow {
            profile_id: env.conns.profile().id,
            ticket_instance: instance.key(),
            ticket_id: ticket_id as i64,
            ticket_subject: subject,
            requester,
            playbook_id: &pb.id,
            playbook_version: &pb.version,
            playbook_title: &pb.title,
            current_step: &pb.steps[0].title,
            origin_case_id: origin,
            state: &state_json,
        },
    )
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
    let continued_in: Option<i64> = rusqlite::OptionalExtension::optional(env.store.conn().query_row(
        "SELECT id FROM cases WHERE origin_case_id = ?1 ORDER BY id DESC LIMIT 1",
        [case_id],
        |r| r.get(0),
    ))?;
    let mut v = view::build(env.catalog, &row, &pb, &st, continued_in);
    // A lookup whose source has no API in this profile asks the agent for what the tool shows.
    if let (Some(StepBody::Lookup { fields, link }), Some((_, step))) =
        (v.current.as_mut().map(|c| &mut c.body), pb.step(&st.cursor))
    {
        if let StepKind::Lookup { lookup } = &step.kind {
            (*fields, *link) = lookups::form(lookup, env.conns, &st);
        }
    }
    Ok(v)
}

/// The comments of the case's ticket, newest last, for picking the customer's confirmation.
pub async fn ticket_comments(env: &Env<'_>, case_id: i64) -> Result<Vec<TicketComment>> {
    let (row, _, st) = load(env, case_id)?;
    let zd = zendesk(env, TicketInstance::parse(&row.ticket_instance))?;
    let requester: u64 = st.facts.get("requester_id").and_then(|v| v.parse().ok()).unwrap_or(0);
    let request = (row.status == "open").then(|| st.progress.get(&st.cursor)).flatten().and_then(consent::recorded);
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
    if row.status != "open" {
        return Ok(None);
    }
    match pb.step(&st.cursor).map(|(_, s)| &s.kind) {
        Some(StepKind::Permission { from, .. }) => match st.progress.get(&st.cursor).and_then(consent::recorded) {
            Some((who, _)) => Ok(Some(who)),
            None => consent::answerer(from, &st).map(Some),
        },
        _ => Ok(None),
    }
}

/// What a transition writes.
struct Transition {
    audit: Vec<(String, Value)>,
    finish: Option<&'static str>,
    switch_to: Option<String>,
}

impl Transition {
    fn new(kind: &str, payload: Value) -> Transition {
        Transition { audit: vec![(kind.to_owned(), payload)], finish: None, switch_to: None }
    }
}

fn done(st: &mut CaseState, step: &str, agent: &str, status: StepStatus, data: Value) {
    st.progress.remove(step);
    st.records.insert(step.to_owned(), StepRecord { status, at: clock::now(), agent: agent.to_owned(), data });
}

/// Moves the cursor to `to` (or the step's `next`, or the one after it), marking steps jumped
/// over as skipped.
fn advance(pb: &Playbook, st: &mut CaseState, index: usize, to: Option<&str>, agent: &str) {
    let to = to.or(pb.steps[index].next.as_deref());
    let mut target = to.and_then(|t| pb.step(t)).map_or(index + 1, |(i, _)| i);
    // Steps whose condition does not hold are passed over (and recorded as skipped).
    while pb.steps.get(target).is_some_and(|s| s.only_if.iter().any(|(k, v)| st.facts.get(k) != Some(v))) {
        target += 1;
    }
    for s in pb.steps.iter().take(target).skip(index + 1) {
        st.records.entry(s.id.clone()).or_insert_with(|| StepRecord {
            status: StepStatus::Skipped,
            at: clock::now(),
            agent: agent.to_owned(),
            data: json!({}),
        });
    }
    st.cursor = pb.steps.get(target).map(|s| s.id.clone()).unwrap_or_default();
}

/// Writes the new state and its audit rows in one transaction, over the revision `row` was
/// read at (compare-and-swap: when another writer saved the case meanwhile, nothing is written
/// and the answer is a conflict); returns the case to show next and moves `row` to the new
/// revision.
fn commit(
    env: &Env<'_>,
    agent: &str,
    row: &mut CaseRow,
    pb: &Playbook,
    st: &CaseState,
    step: &str,
    t: Transition,
) -> Result<i64> {
    let conn = env.store.conn();
    let tx = conn.unchecked_transaction()?;
    for (kind, payload) in &t.audit {
        audit::append(&tx, agent, &entry(row, pb, Some(step), kind, payload.clone()))?;
    }
    let title = pb.step(&st.cursor).map_or("finished", |(_, s)| s.title.as_str());
    let state_json = serde_json::to_string(st).map_err(|e| Error::Internal(e.to_string()))?;
    let mut shown = row.id;
    let revision = match (t.finish, &t.switch_to) {
        (Some(outcome), Some(target)) => {
            let revision = cases::save(&tx, row.id, row.revision, title, &state_json, Some(("finished", outcome)))?;
            let next = env.catalog.get(target)?;
            let carried = CaseState {
                cursor: next.steps[0].id.clone(),
                facts: st.facts.clone(),
                evidence: st.evidence.clone(),
                definition: serde_json::to_value(next).unwrap_or_default(),
                ..Default::default()
            };
            let instance = TicketInstance::parse(&row.ticket_instance);
            let id = insert_case(
                &tx,
                env,
                next,
                instance,
                row.ticket_id as u64,
                &row.ticket_subject,
                &row.requester,
                Some(row.id),
                &carried,
            )?;
            let new_row = cases::get(&tx, id)?;
            audit::append(
                &tx,
                agent,
                &entry(
                    &new_row,
                    next,
                    None,
                    "case_opened",
                    json!({"switched_from": row.id, "carried": carried.evidence.keys().collect::<Vec<_>>()}),
                ),
            )?;
            audit::append(
                &tx,
                agent,
                &entry(row, pb, Some(step), "case_switched", json!({"to_case": id, "to_playbook": target})),
            )?;
            shown = id;
            revision
        }
        (Some(outcome), None) => cases::save(&tx, row.id, row.revision, title, &state_json, Some(("finished", outcome)))?,
        (None, _) => cases::save(&tx, row.id, row.revision, title, &state_json, None)?,
    };
    tx.commit()?;
    row.revision = revision;
    Ok(shown)
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

fn check_field(kind: &str, label: &str, value: &str, options: &[String]) -> Result<String> {
    match kind {
        "email" => validate::email(label, value),
        // Several addresses: each checked, at most five, kept comma-separated.
        "emails" => {
            let all: Vec<String> = value
                .split([',', ';', ' ', '\n'])
                .filter(|e| !e.trim().is_empty())
                .map(|e| validate::email(label, e))
                .collect::<Result<_>>()?;
            if all.len() > 4 {
                return Err(Error::InvalidInput(format!("The {label}: list at most four addresses, the ones that matter.")));
            }
            Ok(all.join(", "))
        }
        review::REVIEWER_EMAIL => validate::email(label, value),
        review::REVIEWER_NAME => validate::text(label, value, 200),
        "username" => {
            let v = value.trim().trim_start_matches('@');
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                return Err(Error::InvalidInput(format!(
                    "The {label} “{value}” is not a GitLab username: letters, digits, _ . and - only, without spaces."
                )));
            }
            Ok(v.to_owned())
        }
        "choice" => {
            if options.iter().any(|o| o == value) {
                Ok(value.to_owned())
            } else {
                Err(Error::InvalidInput(format!("Choose one of the listed answers for “{label}”.")))
            }
        }
        _ => validate::text(label, value, 2000),
    }
}

/// Refuses a change (action, note, manual change) unless every earlier step is complete (a
/// blocked gate only if it branched here), every passed gate still passes on the current
/// evidence, and a permission before it was recorded.
fn ensure_ready(pb: &Playbook, st: &CaseState, index: usize) -> Result<()> {
    for s in &pb.steps[..index] {
        let record = st.records.get(&s.id);
        let branched = record.is_some_and(|r| {
            r.status == StepStatus::Blocked && r.data["follow"].as_str().is_some_and(|f| f.starts_with("branch:"))
        });
        match record.map(|r| r.status) {
            Some(StepStatus::Done | StepStatus::Skipped) => {}
            _ if branched => {}
            _ => return Err(Error::OutOfOrder(format!("“{}” is not complete, so this change may not run.", s.title))),
        }
        if let (StepKind::Gate { gates: specs }, Some(StepStatus::Done)) = (&s.kind, st.records.get(&s.id).map(|r| r.status)) {
            if let Some(g) = specs.iter().find(|g| !gates::evaluate(&g.gate, st).passed) {
                return Err(Error::OutOfOrder(format!(
                    "The gate “{}” no longer passes: {}",
                    g.reason,
                    gates::evaluate(&g.gate, st).detail
                )));
            }
        }
    }
    // Permission steps the playbook routed around (skipped by its own conditions) ask nothing.
    let mut permissions =
        pb.permissions_before(index).filter(|p| st.records.get(&p.id).is_none_or(|r| r.status != StepStatus::Skipped)).peekable();
    if permissions.peek().is_some()
        && !permissions
            .any(|p| st.records.get(&p.id).is_some_and(|r| r.status == StepStatus::Done && r.data.get("comment_id").is_some()))
    {
        return Err(Error::OutOfOrder("No recorded permission from the customer: this change may not run.".into()));
    }
    Ok(())
}

/// The longest reason a decision records.
const DECISION_REASON_MAX: usize = 500;

/// Submits the agent's input for the current step.
pub async fn submit(env: &Env<'_>, case_id: i64, step_id: &str, input: StepInput) -> Result<CaseView> {
    let agent = agent(env)?;
    let _writer = claim(env, case_id)?;
    let (mut row, pb, mut st) = load(env, case_id)?;
    if row.status != "open" {
        return Err(Error::CaseClosed(format!(
            "Case {case_id} is {} ({}): nothing more can be recorded on it. Open a new case if more work is needed.",
            row.status,
            row.outcome.as_deref().unwrap_or("closed")
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
    let step = step.clone();
    // Whether the step writes outside Casekit (an account, the ticket): its audit rows are kept
    // even when the case changed elsewhere meanwhile, since the write happened.
    let writes_outside = matches!(
        (&step.kind, &input),
        (StepKind::Action { .. }, StepInput::RunAction { .. })
            | (StepKind::Note { .. }, StepInput::WriteNote)
            | (StepKind::Permission { .. }, StepInput::RequestPermission { post: true })
            | (StepKind::Reply { .. }, StepInput::SendReply { post: true })
    );
    let t = match (&step.kind, input) {
        (_, StepInput::Refresh) => refresh(env, &pb, &mut st).await?,
        (StepKind::Checklist { items, fields }, StepInput::Checklist { ticked, fields: values }) => {
            if let Some(missing) = items.iter().find(|i| i.required && !ticked.contains(&i.id)) {
                return Err(Error::InvalidInput(format!("Tick “{}” first: {}", missing.label, missing.reason)));
            }
            if items.iter().any(|i| !i.required) {
                let open: Vec<String> =
                    items.iter().filter(|i| !i.required && !ticked.contains(&i.id)).map(|i| format!("- {}", i.label)).collect();
                let key = step_id.replace('-', "_");
                st.facts.insert(format!("{key}_complete"), if open.is_empty() { "yes" } else { "no" }.to_owned());
                st.facts.insert(format!("{key}_missing"), open.join("\n"));
            }
            let mut recorded = BTreeMap::new();
            for f in fields {
                let value = values.get(&f.id).map(|v| v.trim()).unwrap_or_default();
                if value.is_empty() {
                    if f.required {
                        return Err(Error::InvalidInput(format!("Enter “{}”.", f.label)));
                    }
                    continue;
                }
                recorded.insert(f.id.clone(), check_field(&f.kind, &f.label, value, &f.options)?);
            }
            let review = review::peer_review(fields, &recorded, env.conns.profile(), &st)?;
            st.facts.extend(recorded.clone());
            let summary = recorded.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
            let mut data = json!({"ticked": ticked, "fields": recorded, "summary": summary});
            let mut payload = json!({"ticked": ticked, "fields": recorded});
            if let Some(review) = review {
                data["review"] = review.clone();
                payload["review"] = review;
            }
            done(&mut st, step_id, &agent, StepStatus::Done, data);
            advance(&pb, &mut st, index, None, &agent);
            Transition::new("step_completed", payload)
        }
        (StepKind::Lookup { lookup }, input @ (StepInput::RunLookup | StepInput::EnterEvidence { .. })) => {
            let found = match &input {
                StepInput::EnterEvidence { fields } => lookups::enter(lookup, env.conns, &st, fields).await?,
                _ => lookups::run(lookup, env.conns, &st).await?,
            };
            // What the agent entered is audited as it was recorded (normalized), marked as theirs.
            let entered = found.evidence.data.get("entered").filter(|v| !v.is_null()).cloned();
            let summary =
                found.evidence.rows.iter().take(3).map(|r| format!("{}: {}", r.label, r.value)).collect::<Vec<_>>().join("; ");
            let ids: BTreeMap<String, String> =
                found.facts.iter().filter(|(k, _)| k.ends_with("_id")).map(|(k, v)| (k.clone(), v.clone())).collect();
            st.facts.extend(found.facts.clone());
            st.evidence.insert(lookup.clone(), found.evidence);
            done(&mut st, step_id, &agent, StepStatus::Done, json!({"lookup": lookup, "summary": summary}));
            advance(&pb, &mut st, index, None, &agent);
            let mut payload = json!({"lookup": lookup, "status": "ok", "ids": ids});
            if let Some(entered) = entered {
                payload["source"] = json!("entered by the agent");
                payload["entered"] = entered;
            }
            Transition::new("lookup_completed", payload)
        }
        (StepKind::Gate { gates: specs }, StepInput::Continue) => {
            let verdicts: Vec<Value> = specs
                .iter()
                .map(|g| {
                    let v = gates::evaluate(&g.gate, &st);
                    json!({"gate": g.gate, "passed": v.passed, "detail": v.detail})
                })
                .collect();
            if let Some(blocked) = verdicts.iter().find(|v| v["passed"] == false) {
                return Err(Error::OutOfOrder(format!(
                    "The gate is blocked ({}); follow the block instead of continuing.",
                    blocked["detail"].as_str().unwrap_or_default()
                )));
            }
            done(&mut st, step_id, &agent, StepStatus::Done, json!({"gates": verdicts, "summary": "all gates passed"}));
            advance(&pb, &mut st, index, None, &agent);
            Transition::new("gate_passed", json!({"gates": verdicts}))
        }
        (StepKind::Gate { gates: specs }, StepInput::FollowBlock) => {
            let Some((spec, verdict)) = specs.iter().map(|g| (g, gates::evaluate(&g.gate, &st))).find(|(_, v)| !v.passed) else {
                return Err(Error::OutOfOrder("Every gate passes: continue instead.".into()));
            };
            let follow = match &spec.on_fail {
                OnFail::Stop => "stop".to_owned(),
                OnFail::Switch(p) => format!("switch:{p}"),
                OnFail::Branch(s) => format!("branch:{s}"),
            };
            let data = json!({"gate": spec.gate, "detail": verdict.detail, "follow": follow,
                              "summary": format!("blocked by {}: {}", spec.gate, verdict.detail)});
            done(&mut st, step_id, &agent, StepStatus::Blocked, data.clone());
            let mut t = Transition::new("gate_blocked", data);
            match &spec.on_fail {
                OnFail::Stop => {
                    st.cursor.clear();
                    t.finish = Some("blocked");
                }
                OnFail::Switch(target) => {
                    st.cursor.clear();
                    t.finish = Some("switched");
                    t.switch_to = Some(target.clone());
                }
                OnFail::Branch(to) => advance(&pb, &mut st, index, Some(to), &agent),
            }
            t
        }
        (StepKind::Permission { request, from }, StepInput::RequestPermission { post }) => {
            // Who must answer is decided before anything is sent, and kept with the request.
            let who = consent::answerer(from, &st)?;
            let text = texts::render(request, &st.facts)?;
            let (comment_id, after) = if post {
                let id = post_public(env, &row, &text).await?;
                (Some(id), id)
            } else {
                // Copied and sent by the agent: nothing written before now counts as the answer.
                let zd = zendesk(env, TicketInstance::parse(&row.ticket_instance))?;
                (None, zd.comments(row.ticket_id as u64).await?.iter().map(|c| c.id).max().unwrap_or(0))
            };
            let requested_at = clock::now();
            st.progress.insert(
                step_id.to_owned(),
                json!({"requested_at": requested_at, "posted_comment_id": comment_id, "after_comment_id": after,
                       "text": text, "answerer": who}),
            );
            Transition::new(
                "permission_requested",
                json!({"posted": post, "comment_id": comment_id, "after_comment_id": after, "text": text,
                       "answerer": {"role": who.role, "user_id": who.user_id, "name": who.name, "email": who.email, "why": who.why}}),
            )
        }
        (StepKind::Permission { .. }, StepInput::ConfirmPermission { comment_id }) => {
            let progress = st.progress.get(step_id).cloned().unwrap_or(Value::Null);
            let Some(requested_at) = progress.get("requested_at").and_then(Value::as_str).map(str::to_owned) else {
                return Err(Error::OutOfOrder("Send the permission request first, then pick the customer's reply.".into()));
            };
            let Some((who, after)) = consent::recorded(&progress) else {
                return Err(Error::OutOfOrder(
                    "This request was recorded before Casekit kept who must answer it: send the request again.".into(),
                ));
            };
            let zd = zendesk(env, TicketInstance::parse(&row.ticket_instance))?;
            let comments = zd.comments(row.ticket_id as u64).await?;
            let Some(c) = comments.iter().find(|c| c.id == comment_id) else {
                return Err(Error::NotFound(format!(
                    "Comment {comment_id} is not on ticket #{}. Reload the comments.",
                    row.ticket_id
                )));
            };
            let requester: u64 = st.facts.get("requester_id").and_then(|v| v.parse().ok()).unwrap_or(0);
            let candidate = consent::Candidate { id: c.id, author_id: c.author_id, public: c.public, body: &c.body };
            consent::judge(&candidate, &who, requester, after)?;
            let quote: String = c.body.chars().take(300).collect();
            let data = json!({
                "text": progress.get("text"), "requested_at": requested_at, "posted_comment_id": progress.get("posted_comment_id"),
                "after_comment_id": after, "answerer": who,
                "comment_id": c.id, "author_id": c.author_id, "quote": quote, "confirmed_at": c.created_at,
                "summary": format!("{} <{}> confirmed in comment {} at {}: “{}”", who.name, who.email, c.id, c.created_at, quote),
            });
            done(&mut st, step_id, &agent, StepStatus::Done, data);
            advance(&pb, &mut st, index, None, &agent);
            Transition::new(
                "permission_confirmed",
                json!({"comment_id": c.id, "author_id": c.author_id, "role": who.role, "quote": quote, "at": c.created_at}),
            )
        }
        (StepKind::Verify { challenges, required_passes }, StepInput::Verify { risk, results }) => {
            let Some(required) = required_passes.get(&risk) else {
                return Err(Error::InvalidInput(format!(
                    "Choose a risk level: {}.",
                    required_passes.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            };
            if results.is_empty() {
                return Err(Error::InvalidInput("Record at least one challenge that was sent and how it was answered.".into()));
            }
            review::check_challenges(challenges, &results)?;
            let passes = results.iter().filter(|r| r.passed).count() as u32;
            let outcome = if passes >= *required { "passed" } else { "failed" };
            st.facts.insert("verification_outcome".into(), outcome.into());
            let judged: Vec<Value> = results.iter().map(|r| json!({"challenge": r.id, "passed": r.passed})).collect();
            let data = json!({"risk": risk, "results": judged, "passes": passes, "required": required, "outcome": outcome,
                              "summary": format!("{passes} of {} challenges passed, {required} required at {risk} risk: {outcome}", results.len())});
            done(&mut st, step_id, &agent, StepStatus::Done, data.clone());
            advance(&pb, &mut st, index, None, &agent);
            Transition::new("verification_judged", data)
        }
        (StepKind::Decision { options, propose_from }, StepInput::Decide { option, reason }) => {
            let Some(o) = options.iter().find(|o| o.id == option) else {
                return Err(Error::InvalidInput("Choose one of the listed options.".into()));
            };
            let proposed = propose_from.as_ref().and_then(|f| st.facts.get(f)).cloned();
            // Every choice records why: the agent's words, or (accepting what the evidence
            // proposes) the evidence's own reason.
            let because =
                propose_from.as_ref().and_then(|f| st.facts.get(&format!("{f}_reason"))).filter(|r| !r.trim().is_empty());
            let (reason, reason_from) = match (reason.trim(), because) {
                ("", Some(because)) if proposed.as_ref() == Some(&o.id) => {
                    (format!("as the evidence shows: {because}"), "evidence")
                }
                ("", _) if proposed.as_ref().is_some_and(|p| p != &o.id) => {
                    return Err(Error::InvalidInput(format!(
                        "The evidence points to “{}”: say why you choose otherwise (it is recorded).",
                        options.iter().find(|x| Some(&x.id) == proposed.as_ref()).map_or("another option", |x| x.label.as_str())
                    )))
                }
                ("", _) => {
                    return Err(Error::InvalidInput(format!(
                        "Say why you choose “{}”: the reason is recorded in the audit log and the case summary.",
                        o.label
                    )))
                }
                (typed, _) => (validate::text("reason for this choice", typed, DECISION_REASON_MAX)?, "agent"),
            };
            let data = json!({"option": o.id, "label": o.label, "reason": reason, "reason_from": reason_from,
                              "summary": format!("{} — {reason}", o.label)});
            let overridden = proposed.as_ref().map(|p| p != &o.id);
            let mut t = Transition::new(
                "decision_made",
                json!({"option": o.id, "label": o.label, "reason": reason, "reason_from": reason_from, "proposed": proposed,
                       "overridden": overridden}),
            );
            if let Some(why) = &o.blocks {
                done(&mut st, step_id, &agent, StepStatus::Blocked, data);
                st.cursor.clear();
                t.audit.push(("case_blocked".into(), json!({"why": why})));
                t.finish = Some("blocked");
            } else {
                for (k, template) in &o.sets {
                    st.facts.insert(k.clone(), texts::render(template, &st.facts)?);
                }
                done(&mut st, step_id, &agent, StepStatus::Done, data);
                advance(&pb, &mut st, index, o.next.as_deref(), &agent);
            }
            t
        }
        (StepKind::Action { action, destructive }, StepInput::RunAction { confirmation }) => {
            ensure_ready(&pb, &st, index)?;
            if let Some(expected) = destructive.then(|| actions::confirmation_text(action, &st)).flatten() {
                if !confirmation.trim().eq_ignore_ascii_case(&expected) {
                    return Err(Error::InvalidInput(format!("Type {expected} exactly to confirm this change.")));
                }
            }
            let planned = actions::plan(action, &st)?;
            actions::preflight(action, env.conns, &st).await?;
            // The intent is on disk before the first write, so a crash leaves a visible unknown outcome.
            st.progress.insert(step_id.to_owned(), json!({"attempt": {"calls": [], "error": {"code": "internal", "retryable": true,
                "message": "The last attempt stopped before its outcome was recorded. Running it again re-reads the account first and skips what is already done."}}}));
            commit(
                env,
                &agent,
                &mut row,
                &pb,
                &st,
                step_id,
                Transition::new("action_started", json!({"action": action, "calls": planned})),
            )?;
            let outcome = actions::run(action, env, row.id, &st, &confirmation).await;
            finish_write(&pb, &mut st, step_id, index, &agent, action, outcome)?
        }
        (StepKind::Note { what }, StepInput::WriteNote) => {
            ensure_ready(&pb, &st, index)?;
            let line = texts::admin_note_line(what, &row, &st.facts);
            let outcome = actions::append_admin_note(env.conns, &st, &line).await;
            finish_write(&pb, &mut st, step_id, index, &agent, "admin_note", outcome)?
        }
        (StepKind::Reply { template }, StepInput::SendReply { post }) => {
            let text = texts::render(template, &st.facts)?;
            let comment_id = if post { Some(post_public(env, &row, &text).await?) } else { None };
            let how = if post { "posted to the ticket" } else { "copied and sent by the agent" };
            done(&mut st, step_id, &agent, StepStatus::Done, json!({"text": text, "comment_id": comment_id, "summary": how}));
            advance(&pb, &mut st, index, None, &agent);
            Transition::new("reply_sent", json!({"posted": post, "comment_id": comment_id}))
        }
        (StepKind::Manual { .. }, StepInput::ManualDone { evidence }) => {
            ensure_ready(&pb, &st, index)?;
            let evidence = evidence.trim().to_owned();
            let summary = if evidence.is_empty() { "done in the other tool".to_owned() } else { format!("done: {evidence}") };
            done(&mut st, step_id, &agent, StepStatus::Done, json!({"evidence": evidence, "summary": summary}));
            advance(&pb, &mut st, index, None, &agent);
            Transition::new("manual_done", json!({"evidence": evidence}))
        }
        (StepKind::Summary, StepInput::Finish) => {
            done(&mut st, step_id, &agent, StepStatus::Done, json!({"summary": "case finished"}));
            st.cursor.clear();
            let mut t = Transition::new("case_finished", json!({"outcome": "completed"}));
            t.finish = Some("completed");
            t
        }
        (kind, input) => {
            return Err(Error::OutOfOrder(format!(
                "“{}” is a {} step; {:?} does not apply to it.",
                step.title,
                kind.name(),
                input
            )))
        }
    };
    let audit_rows = t.audit.clone();
    let shown = match commit(env, &agent, &mut row, &pb, &st, step_id, t) {
        Err(Error::Conflict(_)) if writes_outside => {
            // Another process saved the case while the write ran (this one's writers are held
            // off by the claim): the write happened, so its rows go into the audit log anyway.
            let conn = env.store.conn();
            let tx = conn.unchecked_transaction()?;
            for (kind, payload) in audit_rows {
                audit::append(&tx, &agent, &entry(&row, &pb, Some(step_id), &kind, payload))?;
            }
            tx.commit()?;
            return Err(Error::Conflict(format!(
                "This step's write was made and is in the audit log, but case {case_id} changed in another window \
                 meanwhile, so the case did not move on: reload it."
            )));
        }
        other => other?,
    };
    case_view(env, shown)
}

/// Records an action's or note's result: done with its calls and checks, or failed with the
/// error (the step stays current; running it again re-reads and skips what already happened).
fn finish_write(
    pb: &Playbook,
    st: &mut CaseState,
    step_id: &str,
    index: usize,
    agent: &str,
    name: &str,
    outcome: actions::Outcome,
) -> Result<Transition> {
    match outcome.result {
        Ok(checks) => {
            let summary =
                outcome.calls.iter().map(|c| format!("{} {} {}", c.method, c.path, c.result)).collect::<Vec<_>>().join("; ");
            let data = json!({"action": name, "calls": outcome.calls, "verified": checks, "summary": summary});
            done(st, step_id, agent, StepStatus::Done, data);
            advance(pb, st, index, None, agent);
            let verified: Vec<String> = checks.iter().map(|c| format!("{}: {}", c.label, c.value)).collect();
            Ok(Transition::new(
                "action_result",
                json!({"action": name, "status": "verified", "calls": outcome.calls, "verified": verified}),
            ))
        }
        Err(e) => {
            let error = IpcError::from(e);
            st.progress.insert(step_id.to_owned(), json!({"attempt": {"calls": outcome.calls, "error": error}}));
            Ok(Transition::new(
                "action_failed",
                json!({"action": name, "calls": outcome.calls, "code": error.code, "message": error.message}),
            ))
        }
    }
}

/// Posts a public reply on the case's ticket; returns the new comment's id.
async fn post_public(env: &Env<'_>, row: &CaseRow, text: &str) -> Result<u64> {
    let zd = zendesk(env, TicketInstance::parse(&row.ticket_instance))?;
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

/// Fetches every lookup again; a gate that no longer passes becomes the current step.
async fn refresh(env: &Env<'_>, pb: &Playbook, st: &mut CaseState) -> Result<Transition> {
    let mut refreshed = Vec::new();
    for s in &pb.steps {
        if let StepKind::Lookup { lookup } = &s.kind {
            if st.evidence.contains_key(lookup) {
                let found = lookups::run(lookup, env.conns, st).await?;
                st.facts.extend(found.facts);
                st.evidence.insert(lookup.clone(), found.evidence);
                refreshed.push(lookup.clone());
            }
        }
    }
    let reopened = pb.steps.iter().find(|s| {
        matches!(&s.kind, StepKind::Gate { gates: g } if st.records.get(&s.id).is_some_and(|r| r.status == StepStatus::Done)
            && g.iter().any(|g| !gates::evaluate(&g.gate, st).passed))
    });
    if let Some(gate) = reopened {
        st.records.remove(&gate.id);
        st.cursor = gate.id.clone();
        st.progress.insert(gate.id.clone(), json!({"notice": "The refreshed evidence no longer passes this gate."}));
    }
    Ok(Transition::new("evidence_refreshed", json!({"lookups": refreshed, "reopened_gate": reopened.map(|s| s.id.clone())})))
}

/// Ends an open case without finishing its playbook.
pub fn abandon(env: &Env<'_>, case_id: i64, reason: &str) -> Result<CaseView> {
    let agent = agent(env)?;
    let _writer = claim(env, case_id)?;
    let (mut row, pb, mut st) = load(env, case_id)?;
    if row.status != "open" {
        return Err(Error::CaseClosed(format!("Case {case_id} is already {}.", row.status)));
    }
    let reason = validate::text("reason for abandoning the case", reason, 500)?;
    let step = st.cursor.clone();
    st.cursor.clear();
    let mut t = Transition::new("case_abandoned", json!({"reason": reason}));
    t.finish = Some("abandoned");
    commit(env, &agent, &mut row, &pb, &st, &step, t)?;
    case_view(env, case_id)
}
