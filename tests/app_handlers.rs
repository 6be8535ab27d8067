//! The IPC handlers driven without a window, over a real SQLite file in a temp folder.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use casekit::api::{handlers, AppState, Host, SaveFile};
use casekit::connectors::{HttpSettings, Service};
use casekit::paths::AppPaths;
use casekit::playbook::engine::{NewCase, StepInput, TicketInstance};
use casekit::playbook::view::StepBody;
use casekit::secrets::Keychain;
use casekit::store::profiles::{CustomersDotMode, ProfileInput, ServiceSettings};
use casekit::store::search::AuditFilter;
use casekit::store::LATEST_VERSION;
use casekit::{ErrorCode, IpcError};

fn open(dir: &std::path::Path) -> AppState {
    AppState::open(AppPaths::under(dir), Keychain::in_memory(), HttpSettings::default())
}

fn identity(state: &AppState, name: &str, email: &str) -> ProfileInput {
    let p = handlers::active_profile(state).unwrap();
    ProfileInput { id: Some(p.id), name: p.name, agent_name: name.into(), agent_email: email.into(), services: p.services }
}

#[test]
fn app_info_reports_the_folders_and_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path());
    let info = handlers::app_info(&state).unwrap();
    assert_eq!(info.data_dir, dir.path().display().to_string());
    assert!(info.database_path.ends_with("casekit.sqlite3"));
    assert_eq!(info.schema_version, Some(LATEST_VERSION));
    assert!(info.startup_error.is_none());
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_bad_email_is_refused_with_a_stable_code_and_a_good_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path());
    let err = handlers::save_profile(&state, identity(&state, "Sam", "sam@")).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(!err.retryable);
    assert!(err.message.contains("not an email address"), "{}", err.message);
    assert_eq!(err.field.as_deref(), Some("agentEmail"), "the form can mark the field");

    handlers::save_profile(&state, identity(&state, "Sam", "sam@example.com")).unwrap();
    drop(state);
    let reopened = open(dir.path());
    assert_eq!(handlers::active_profile(&reopened).unwrap().agent_email, "sam@example.com");
}

#[test]
fn a_database_that_cannot_open_is_reported_to_the_ui_not_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths::under(dir.path());
    std::fs::create_dir_all(&paths.data_dir).unwrap();
    let conn = rusqlite::Connection::open(paths.database()).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);

    let state = AppState::open(paths, Keychain::in_memory(), HttpSettings::default());
    let info = handlers::app_info(&state).unwrap();
    assert_eq!(info.schema_version, None);
    assert_eq!(info.startup_error.as_ref().map(|e| e.code), Some(ErrorCode::SchemaTooNew));
    assert_eq!(handlers::list_open_cases(&state).unwrap_err().code, ErrorCode::SchemaTooNew);
}

#[test]
fn tokens_go_to_the_keychain_are_never_returned_and_go_with_their_profile() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path());
    let services = ServiceSettings {
        gitlab_url: "https://gitlab.example.com".into(),
        zendesk_url: "example".into(),
        zendesk_us_gov_url: String::new(),
        mailgun_url: "https://api.mailgun.net".into(),
        mailgun_domain: "mg.example.com".into(),
        customersdot_url: String::new(),
        customersdot_mode: CustomersDotMode::Api,
    };
    let input =
        ProfileInput { id: None, name: "Live".into(), agent_name: "Sam".into(), agent_email: "sam@example.com".into(), services };
    let live = handlers::save_profile(&state, input).unwrap();

    assert_eq!(handlers::stored_tokens(&state, live.id).unwrap(), []);
    let bad = handlers::store_token(&state, live.id, Service::Gitlab, "glpat-abc def".into()).unwrap_err();
    assert_eq!(bad.code, ErrorCode::InvalidInput);
    let stored = handlers::store_token(&state, live.id, Service::Gitlab, " glpat-0123456789abcdefghij \n".into()).unwrap();
    assert_eq!(stored, [Service::Gitlab]);
    let stored = handlers::store_token(&state, live.id, Service::Mailgun, "key-0123456789abcdef0123456789abcdef".into()).unwrap();
    assert_eq!(stored, [Service::Gitlab, Service::Mailgun]);
    assert_eq!(
        state.keychain().unwrap().get(&live.keychain_id, Service::Gitlab).unwrap().unwrap().expose(),
        "glpat-0123456789abcdefghij"
    );

    let sandbox = handlers::active_profile(&state).unwrap();
    let refused = handlers::store_token(&state, sandbox.id, Service::Gitlab, "glpat-0123456789abcdefghij".into()).unwrap_err();
    assert!(refused.message.contains("Sandbox profile has its own tokens"), "{}", refused.message);

    assert_eq!(handlers::remove_token(&state, live.id, Service::Mailgun).unwrap(), [Service::Gitlab]);
    let remaining = handlers::delete_profile(&state, live.id).unwrap();
    assert_eq!(remaining.len(), 1);
    assert!(
        state.keychain().unwrap().get(&live.keychain_id, Service::Gitlab).unwrap().is_none(),
        "the profile's tokens go with it"
    );
}

#[test]
fn a_sandbox_profile_needs_no_setup_and_a_live_one_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sandbox = handlers::active_profile(&state).unwrap();
    for service in Service::ALL {
        let check = runtime.block_on(handlers::test_connection(&state, sandbox.id, service)).unwrap();
        assert!(check.ok, "{service:?}: {check:?}");
        assert!(check.account.is_some());
    }
    let gitlab = runtime.block_on(handlers::test_connection(&state, sandbox.id, Service::Gitlab)).unwrap();
    assert_eq!(gitlab.account.as_deref(), Some("@casekit-sandbox-admin (Sandbox Admin)"));

    let input = ProfileInput {
        id: None,
        name: "Half set up".into(),
        agent_name: "Sam".into(),
        agent_email: "sam@example.com".into(),
        services: ServiceSettings { gitlab_url: "https://gitlab.example.com".into(), ..sandbox.services.clone() },
    };
    let live = handlers::save_profile(&state, input).unwrap();
    let check = runtime.block_on(handlers::test_connection(&state, live.id, Service::Gitlab)).unwrap();
    assert!(!check.ok);
    let err = check.error.unwrap();
    assert_eq!(err.code, ErrorCode::NotConfigured);
    assert!(err.message.contains("No GitLab token is stored"), "{}", err.message);
    let zendesk = runtime.block_on(handlers::test_connection(&state, live.id, Service::Zendesk)).unwrap();
    assert!(zendesk.error.unwrap().message.contains("No Zendesk address"));
}

/// The agent at the save dialog: picks the proposed name in `folder`, or cancels (`None`), and
/// every question asked is kept (name, kind, extension).
#[derive(Clone)]
struct Dialog {
    folder: Option<PathBuf>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Host for Dialog {
    fn pick_save_path(&self, file: SaveFile<'_>) -> Result<Option<PathBuf>, IpcError> {
        self.asked.lock().unwrap().push(format!("{} ({} .{})", file.default_name, file.kind, file.extension));
        Ok(self.folder.as_ref().map(|f| f.join(file.default_name)))
    }
}

#[test]
fn the_summary_and_the_audit_log_are_saved_where_the_host_says_and_nowhere_when_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let headless = open(dir.path());
    let state = headless.clone().with_host(Dialog { folder: Some(out.path().to_owned()), asked: asked.clone() });
    handlers::save_profile(&state, identity(&state, "Sam", "sam@example.com")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: 8001, playbook_id: "release-email".into() };
    let case = runtime.block_on(handlers::open_case(&state, new)).unwrap();

    let saved = handlers::save_summary(&state, case.id).unwrap().expect("a path was picked");
    assert_eq!(PathBuf::from(&saved), out.path().join(format!("casekit-case-{}.md", case.id)));
    let markdown = std::fs::read_to_string(&saved).unwrap();
    assert_eq!(markdown, handlers::case_summary(&state, case.id).unwrap().markdown);
    assert!(markdown.contains("#8001"), "{markdown}");

    let filter = AuditFilter { case_id: Some(case.id), ..AuditFilter::default() };
    let exported = handlers::export_audit(&state, filter.clone()).unwrap().expect("a path was picked");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&exported).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let page = handlers::query_audit(&state, filter.clone()).unwrap();
    assert_eq!(lines.len() as i64, page.total);
    assert!(!lines.is_empty() && lines.iter().all(|l| l["caseId"] == case.id), "{lines:?}");
    assert_eq!(lines[0]["kind"], "case_opened");
    assert_eq!(
        *asked.lock().unwrap(),
        [format!("casekit-case-{}.md (Markdown .md)", case.id), "casekit-audit.jsonl (JSON Lines .jsonl)".to_owned()]
    );

    let cancelled = headless.clone().with_host(Dialog { folder: None, asked: asked.clone() });
    std::fs::remove_file(&saved).unwrap();
    std::fs::remove_file(&exported).unwrap();
    assert_eq!(handlers::save_summary(&cancelled, case.id).unwrap(), None);
    assert_eq!(handlers::export_audit(&cancelled, filter.clone()).unwrap(), None);
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing is written when the agent cancels");

    let refused = handlers::save_summary(&headless, case.id).unwrap_err();
    assert_eq!(refused.code, ErrorCode::Internal);
    assert!(refused.message.contains("without a window"), "{}", refused.message);
    assert!(handlers::export_audit(&headless, filter).is_err());
}

#[test]
fn the_sandbox_customer_signs_up_with_the_gitlab_account_the_case_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path());
    handlers::save_profile(&state, identity(&state, "Sam", "sam@example.com")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: 8004, playbook_id: "customersdot-sign-in".into() };
    let case = runtime.block_on(handlers::open_case(&state, new)).unwrap();
    let early = runtime.block_on(handlers::simulate_portal_sign_up(&state, case.id)).unwrap_err();
    assert!(early.message.contains("no GitLab account to sign up with"), "{}", early.message);

    let current = case.current.unwrap();
    let StepBody::Checklist { fields, .. } = &current.body else { panic!("the case opens on a checklist") };
    let requester = fields.iter().find(|f| f.id == "requester_email").unwrap().value.clone();
    let fields = [("requester_email".to_owned(), requester), ("other_emails".to_owned(), String::new())].into();
    let input = StepInput::Checklist { ticked: vec!["console-needed".into()], fields };
    let case = runtime.block_on(handlers::submit_step(&state, case.id, current.id, input)).unwrap();
    let step = case.current.unwrap().id;
    runtime.block_on(handlers::submit_step(&state, case.id, step, StepInput::RunLookup)).unwrap();
    // The diagnosis recorded GitLab user 111, still linked to its portal account.
    let linked = runtime.block_on(handlers::simulate_portal_sign_up(&state, case.id)).unwrap_err();
    assert!(linked.message.contains("lena.gitlab@example.com already has a portal account"), "{}", linked.message);
}
