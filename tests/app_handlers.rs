//! The IPC handlers driven without a window, over a real SQLite file in a temp folder.

use casekit::app::{handlers, AppState};
use casekit::paths::AppPaths;
use casekit::store::profiles::AgentIdentity;
use casekit::store::LATEST_VERSION;
use casekit::ErrorCode;

#[test]
fn app_info_reports_the_folders_and_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(AppPaths::under(dir.path()));
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
    let state = AppState::open(AppPaths::under(dir.path()));
    let err = handlers::update_agent_identity(&state, AgentIdentity { name: "Sam".into(), email: "sam@".into() })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(!err.retryable);
    assert!(err.message.contains("not an email address"), "{}", err.message);

    handlers::update_agent_identity(&state, AgentIdentity { name: "Sam".into(), email: "sam@example.com".into() })
        .unwrap();
    drop(state);
    let reopened = AppState::open(AppPaths::under(dir.path()));
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

    let state = AppState::open(paths);
    let info = handlers::app_info(&state).unwrap();
    assert_eq!(info.schema_version, None);
    assert_eq!(info.startup_error.as_ref().map(|e| e.code), Some(ErrorCode::SchemaTooNew));
    assert_eq!(handlers::list_open_cases(&state).unwrap_err().code, ErrorCode::SchemaTooNew);
}
