//! The webview's side of the IPC: an app over a temp data folder on the Sandbox profile, driven
//! only through `casekit::api::handlers` (what the Tauri commands wrap), and a snapshot of
//! everything an attack could change — the sandbox's accounts and tickets, the audit log and
//! the cases — to show that a refused attempt changed nothing.

#![allow(dead_code)]

use std::collections::BTreeMap;

use casekit::api::{handlers, AppState};
use casekit::connectors::Service;
use casekit::paths::AppPaths;
use casekit::playbook::engine::{NewCase, StepInput, TicketComment, TicketInstance};
use casekit::playbook::view::CaseView;
use casekit::sandbox::Sandbox;
use casekit::secrets::Keychain;
use casekit::IpcError;
use serde_json::Value;

/// An app as a (possibly compromised) webview reaches it.
pub struct Webview {
    // Dropped in this order: the app (and its sandbox), the folder, then the runtime.
    state: AppState,
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

/// What an attack could change.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `Sandbox::snapshot()`: every account, ticket, comment, bounce, portal record.
    pub world: Value,
    /// How many audit rows there are, and the last one's hash.
    pub audit_rows: i64,
    pub audit_head: Option<String>,
    /// Every case: id, status, outcome and its stored state.
    pub cases: Value,
}

impl Webview {
    /// A fresh app on the Sandbox profile; the agent is "Sam Agent" <sam@support.example>.
    pub fn new() -> Webview {
        Self::as_agent("Sam Agent", "sam@support.example")
    }

    /// A fresh app whose agent identity is `name` <`email`>.
    pub fn as_agent(name: &str, email: &str) -> Webview {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(AppPaths::under(dir.path()), Keychain::in_memory(), crate::support::settings());
        let wv = Webview { state, dir, rt };
        wv.set_agent(name, email);
        // Start the sandbox now, so a snapshot before the first case sees the same world.
        wv.block(wv.state.sandbox()).unwrap();
        wv
    }

    /// Changes the agent identity of the active profile (as Settings does).
    pub fn set_agent(&self, name: &str, email: &str) {
        let p = handlers::active_profile(&self.state).unwrap();
        let input = casekit::store::profiles::ProfileInput {
            id: Some(p.id),
            name: p.name,
            agent_name: name.into(),
            agent_email: email.into(),
            services: p.services,
        };
        handlers::save_profile(&self.state, input).unwrap();
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The app's in-process sandbox.
    pub fn sandbox(&self) -> &Sandbox {
        self.block(self.state.sandbox()).unwrap()
    }

    /// Opens a case on a global-instance ticket (`handlers::open_case`).
    pub fn open(&self, ticket: u64, playbook: &str) -> CaseView {
        let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: ticket, playbook_id: playbook.into() };
        self.block(handlers::open_case(&self.state, new))
            .unwrap_or_else(|e| panic!("opening a case on #{ticket} with {playbook}: {e:?}"))
    }

    /// `handlers::submit_step` on the case's current step.
    pub fn submit(&self, case: &CaseView, input: StepInput) -> Result<CaseView, IpcError> {
        let step = case.current.as_ref().expect("the case has a current step").id.clone();
        self.submit_at(case.id, &step, input)
    }

    /// `handlers::submit_step` on any step: what a webview can send whatever the UI shows.
    pub fn submit_at(&self, case_id: i64, step: &str, input: StepInput) -> Result<CaseView, IpcError> {
        self.block(handlers::submit_step(&self.state, case_id, step.to_owned(), input))
    }

    /// Submits and expects it to pass (the honest steps leading to an attack).
    pub fn step(&self, case: &CaseView, input: StepInput) -> CaseView {
        let at = case.current.as_ref().map(|c| c.id.clone());
        self.submit(case, input).unwrap_or_else(|e| panic!("step {at:?} failed: {e:?}"))
    }

    /// Ticks every item of the current checklist and fills in its fields from `values`.
    pub fn checklist(&self, case: &CaseView, values: &[(&str, &str)]) -> CaseView {
        let ticked = crate::support::ticks(case);
        let fields: BTreeMap<String, String> = values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.step(case, StepInput::Checklist { ticked, fields })
    }

    /// `handlers::case_view`.
    pub fn view(&self, case_id: i64) -> CaseView {
        self.block(handlers::case_view(&self.state, case_id)).unwrap()
    }

    /// `handlers::ticket_comments`.
    pub fn comments(&self, case_id: i64) -> Vec<TicketComment> {
        self.block(handlers::ticket_comments(&self.state, case_id)).unwrap()
    }

    /// A public comment on a global-instance ticket by `author` (the requester when `None`).
    pub fn comment_as(&self, ticket: u64, author: Option<u64>, body: &str) -> u64 {
        self.sandbox().comment_from(Service::Zendesk, ticket, author, body).unwrap()
    }

    /// The world and the audit log as they are now.
    pub fn snapshot(&self) -> Snapshot {
        let world = self.sandbox().snapshot();
        let store = self.state.store().unwrap();
        let conn = store.conn();
        let (audit_rows, audit_head) = conn
            .query_row("SELECT count(*), (SELECT hash FROM audit ORDER BY id DESC LIMIT 1) FROM audit", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        let mut stmt = conn.prepare("SELECT id, status, outcome, state FROM cases ORDER BY id").unwrap();
        let cases: Vec<Value> = stmt
            .query_map([], |r| {
                Ok(serde_json::json!({"id": r.get::<_, i64>(0)?, "status": r.get::<_, String>(1)?,
                    "outcome": r.get::<_, Option<String>>(2)?, "state": r.get::<_, String>(3)?}))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        Snapshot { world, audit_rows, audit_head, cases: Value::Array(cases) }
    }
}

/// Runs one attack: takes a snapshot, runs `attempt`, asserts it returned Err and that the
/// snapshot is unchanged; returns the error for the caller to check its code and message.
pub fn refused<T: std::fmt::Debug>(wv: &Webview, attempt: impl FnOnce() -> Result<T, IpcError>) -> IpcError {
    let before = wv.snapshot();
    let result = attempt();
    let after = wv.snapshot();
    // Mutation first: an attack that got through and changed something counts as mutated.
    assert_unchanged(&before, &after);
    result.map(|v| panic!("the attack was not refused: it returned {v:?}")).unwrap_or_else(|e| e)
}

/// Panics naming what changed between two snapshots.
pub fn assert_unchanged(before: &Snapshot, after: &Snapshot) {
    assert_eq!(before.audit_rows, after.audit_rows, "the audit log grew");
    assert_eq!(before.audit_head, after.audit_head, "the audit log's head changed");
    assert_eq!(before.cases, after.cases, "a case changed");
    if before.world != after.world {
        let changed: Vec<String> = match (&before.world, &after.world) {
            (Value::Object(a), Value::Object(b)) => a.keys().filter(|k| a.get(*k) != b.get(*k)).cloned().collect(),
            _ => vec!["everything".into()],
        };
        panic!("the sandbox changed: {}", changed.join(", "));
    }
}

#[test]
fn the_snapshot_sees_a_write_so_refused_can_fail() {
    let wv = Webview::new();
    let before = wv.snapshot();
    wv.comment_as(8001, None, "a write the snapshot must notice");
    let after = wv.snapshot();
    assert_ne!(before.world, after.world);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_unchanged(&before, &after)));
    assert!(caught.is_err(), "assert_unchanged let a new comment through");
}
