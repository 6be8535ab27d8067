//! A case harness over a real SQLite file in a temp folder and the sandbox on loopback.

#![allow(dead_code)]

pub mod contract;
pub mod fake_gitlab;
pub mod serve;

use std::path::PathBuf;
use std::time::Duration;

use casekit::connectors::session::{Connections, Credentials};
use casekit::connectors::{HttpSettings, Service};
use casekit::playbook::effects::PlannedCall;
use casekit::playbook::engine::{self, Env, NewCase, StepInput, TicketInstance};
use casekit::playbook::view::{AttemptView, CaseView, FieldView, GateView, ItemView, OptionView, PermissionView, StepBody};
use casekit::playbook::Catalog;
use casekit::sandbox::world::Fixture;
use casekit::sandbox::SandboxCredentials;
use casekit::sandbox::{Sandbox, SandboxConfig};
use casekit::store::profiles::{self, CustomersDotMode, ProfileInput, ServiceSettings};
use casekit::store::Store;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub sandbox: Sandbox,
    pub conns: Connections,
}

pub fn settings() -> HttpSettings {
    HttpSettings {
        total_timeout: Duration::from_secs(3),
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..HttpSettings::default()
    }
}

impl Harness {
    pub async fn new() -> Harness {
        Self::with_fixture(Fixture::builtin()).await
    }

    /// A harness whose sandbox starts from `fixture` (a variation of the built-in one).
    pub async fn with_fixture(fixture: Fixture) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("casekit.sqlite3")).unwrap();
        let sandbox = Sandbox::start(SandboxConfig { fixture, ..SandboxConfig::default() }).await.unwrap();
        let conns = Self::connect(&store, &sandbox);
        Harness { dir, store, sandbox, conns }
    }

    fn connect(store: &Store, sandbox: &Sandbox) -> Connections {
        let p = profiles::active(&store.conn()).unwrap();
        let input = ProfileInput {
            id: Some(p.id),
            name: p.name.clone(),
            agent_name: "Sam Agent".into(),
            agent_email: "sam@support.example".into(),
            services: p.services.clone(),
        };
        let p = profiles::save(&store.conn(), &input).unwrap();
        Connections::new(p, Credentials::Sandbox(sandbox.credentials().clone()), settings())
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("casekit.sqlite3")
    }

    /// Closes the database and opens it again, as a restarted app does.
    pub fn restart(&mut self) {
        let fresh = Store::open(&self.db_path()).unwrap();
        self.store = fresh;
        self.conns = Self::connect(&self.store, &self.sandbox);
    }

    pub fn env(&self) -> Env<'_> {
        Env { store: &self.store, conns: &self.conns, catalog: Catalog::builtin() }
    }

    pub async fn open(&self, ticket: u64, playbook: &str) -> CaseView {
        let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: ticket, playbook_id: playbook.into() };
        engine::open_case(&self.env(), &new).await.unwrap()
    }

    pub async fn submit(&self, case: &CaseView, input: StepInput) -> casekit::Result<CaseView> {
        let step = case.current.as_ref().expect("the case has a current step").id.clone();
        engine::submit(&self.env(), case.id, &step, input).await
    }

    pub async fn step(&self, case: &CaseView, input: StepInput) -> CaseView {
        self.submit(case, input).await.unwrap_or_else(|e| panic!("step {:?} failed: {e}", case.current.as_ref().map(|c| &c.id)))
    }

    /// The first checklist step: who the requester says they are.
    pub async fn identify(&self, case: &CaseView, username: &str, email: &str) -> CaseView {
        let (items, form) = checklist(case);
        let ticked = items.iter().map(|i| i.id.clone()).collect();
        let mut fields = std::collections::BTreeMap::new();
        for f in form {
            let value = match f.id.as_str() {
                "username" => username.to_owned(),
                "email" => email.to_owned(),
                _ if f.kind == "choice" => f.options[0].clone(),
                _ => String::new(),
            };
            fields.insert(f.id.clone(), value);
        }
        self.step(case, StepInput::Checklist { ticked, fields }).await
    }

    /// Sends the permission request (posted to the ticket), has the sandbox customer reply, and
    /// records that reply as the confirmation.
    pub async fn get_permission(&self, case: &CaseView, ticket: u64) -> CaseView {
        let case = self.step(case, StepInput::RequestPermission { post: true }).await;
        let reply = self.sandbox.customer_reply(Service::Zendesk, ticket, "Yes, I confirm, please go ahead.").unwrap();
        self.step(&case, StepInput::ConfirmPermission { comment_id: reply }).await
    }
}

/// The statuses of the step list, `id:status`.
pub fn statuses(case: &CaseView) -> Vec<String> {
    case.steps.iter().map(|s| format!("{}:{}", s.id, s.status)).collect()
}

/// Every item of the current checklist step.
pub fn ticks(case: &CaseView) -> Vec<String> {
    checklist(case).0.iter().map(|i| i.id.clone()).collect()
}

/// Checklist field values from pairs.
pub fn fields(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The text the current step shows (request, reply, note line, instructions, why the evidence
/// proposes an option).
pub fn text(case: &CaseView) -> String {
    let text = match body(case) {
        StepBody::Permission { text, .. }
        | StepBody::Reply { text }
        | StepBody::Manual { text, .. }
        | StepBody::Decision { text, .. } => text.as_ref(),
        StepBody::Note { text, .. } => Some(text),
        other => panic!("a step that shows no text: {other:?}"),
    };
    text.expect("the step's text is rendered").clone()
}

/// What the current step shows.
pub fn body(case: &CaseView) -> &StepBody {
    &case.current.as_ref().expect("a current step").body
}

/// The items and fields of the current checklist step.
pub fn checklist(case: &CaseView) -> (&[ItemView], &[FieldView]) {
    match body(case) {
        StepBody::Checklist { items, fields, .. } => (items, fields),
        other => panic!("not a checklist: {other:?}"),
    }
}

/// A new live profile whose services are those of a sandbox the test runs apart (standing in
/// for an agent's real instances), signed by `agent_name` with that Zendesk's agent email.
pub fn live_profile_on(c: &SandboxCredentials, name: &str, agent_name: &str) -> ProfileInput {
    ProfileInput {
        id: None,
        name: name.into(),
        agent_name: agent_name.into(),
        agent_email: c.zendesk.email.clone(),
        services: ServiceSettings {
            gitlab_url: c.gitlab.url.clone(),
            zendesk_url: c.zendesk.url.clone(),
            zendesk_us_gov_url: c.zendesk_us_gov.url.clone(),
            mailgun_url: c.mailgun.url.clone(),
            mailgun_domain: c.mailgun.domain.clone(),
            customersdot_url: c.customersdot.url.clone(),
            customersdot_mode: CustomersDotMode::Api,
        },
    }
}

/// The fields of the current checklist, or the form of the current lookup.
pub fn form(case: &CaseView) -> &[FieldView] {
    match body(case) {
        StepBody::Checklist { fields, .. } | StepBody::Lookup { fields, .. } => fields,
        other => panic!("a step without fields: {other:?}"),
    }
}

/// The gates of the current gate step.
pub fn gates(case: &CaseView) -> &[GateView] {
    match body(case) {
        StepBody::Gate { gates, .. } => gates,
        other => panic!("not a gate: {other:?}"),
    }
}

/// The calls the current action step plans.
pub fn calls(case: &CaseView) -> &[PlannedCall] {
    match body(case) {
        StepBody::Action { calls, .. } => calls,
        other => panic!("not an action: {other:?}"),
    }
}

/// The last run of the current action or note step.
pub fn last_attempt(case: &CaseView) -> Option<&AttemptView> {
    match body(case) {
        StepBody::Action { last_attempt, .. } | StepBody::Note { last_attempt, .. } => last_attempt.as_ref(),
        other => panic!("neither an action nor a note: {other:?}"),
    }
}

/// The options of the current decision step.
pub fn options(case: &CaseView) -> &[OptionView] {
    match body(case) {
        StepBody::Decision { options, .. } => options,
        other => panic!("not a decision: {other:?}"),
    }
}

/// Where the current permission step's request stands.
pub fn permission(case: &CaseView) -> &PermissionView {
    match body(case) {
        StepBody::Permission { permission, .. } => permission,
        other => panic!("not a permission step: {other:?}"),
    }
}
