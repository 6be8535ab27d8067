//! End-to-end tests through the real Casekit window: Xvfb, tauri-driver, WebKitWebDriver and
//! the app binary built with its UI embedded. They are ignored by a plain `cargo test` (they
//! need those programs); `make test` runs them with `--ignored`. Screenshots go to
//! target/e2e-artifacts/.

mod desktop;
mod webdriver;

use std::path::{Path, PathBuf};

use desktop::Desktop;
use webdriver::{Session, CONTROL};

fn app() -> PathBuf {
    assert!(
        cfg!(feature = "custom-protocol"),
        "build with --features custom-protocol so the app embeds ui/dist (make test does)"
    );
    PathBuf::from(env!("CARGO_BIN_EXE_casekit"))
}

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-artifacts").join(name)
}

fn launch(desktop: &Desktop) -> Session {
    let session = Session::start(&desktop.driver_url, &app());
    session.wait_for("[data-testid=app-ready]");
    session
}

fn data_dir_env(dir: &Path) -> [(&'static str, &Path); 1] {
    [("CASEKIT_DATA_DIR", dir)]
}

#[test]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: run `make test`"]
fn an_agent_moves_between_views_by_keyboard_and_their_identity_is_saved() {
    let data = tempfile::tempdir().unwrap();
    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("navigate-and-save.log"));
    {
        let s = launch(&desktop);
        s.wait_text("[data-testid=cases-view]", "No open cases");
        s.wait_text("[data-testid=sandbox-banner]", "no real account is touched");
        desktop.screenshot(&artifact("cases.png"));

        s.chord(&[CONTROL, "2"]);
        s.wait_text("[data-testid=settings-view]", "Sandbox");
        s.wait_for("#agent-name").fill("Ada Lovelace");
        s.wait_for("#agent-email").fill("ada at example");
        s.wait_for("[data-testid=save-profile]").click();
        let err = s.wait_text("[data-testid=profile-error]", "not an email address");
        assert!(err.contains("ada at example"), "{err}");

        s.wait_for("#agent-email").fill("ada@example.com");
        s.wait_for("[data-testid=save-profile]").click();
        s.wait_text("[data-testid=profile-status]", "Saved");
        desktop.screenshot(&artifact("settings.png"));

        s.chord(&[CONTROL, "3"]);
        let about = s.wait_text("[data-testid=about-view]", &data.path().display().to_string());
        assert!(about.contains(env!("CARGO_PKG_VERSION")), "{about}");
        desktop.screenshot(&artifact("about.png"));

        s.chord(&[CONTROL, "1"]);
        s.wait_for("[data-testid=cases-view]");
    }

    // The IPC round trip reached SQLite: the file holds what the agent typed ...
    let conn = rusqlite::Connection::open(data.path().join("casekit.sqlite3")).unwrap();
    let saved: (String, String) = conn
        .query_row("SELECT agent_name, agent_email FROM profiles WHERE is_active = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(saved, ("Ada Lovelace".to_owned(), "ada@example.com".to_owned()));
    drop(conn);

    // ... and a restarted app shows it again.
    let s = launch(&desktop);
    s.chord(&[CONTROL, "2"]);
    assert_eq!(s.wait_for("#agent-email").value(), "ada@example.com");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: run `make test`"]
fn settings_test_connection_reaches_every_sandbox_service_over_http() {
    let data = tempfile::tempdir().unwrap();
    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("test-connection.log"));
    let s = launch(&desktop);
    s.chord(&[CONTROL, "2"]);
    s.wait_text("[data-testid=connections]", "127.0.0.1 (simulated)");
    s.wait_for("[data-testid=test-all]").click();
    let gitlab = s.wait_text("[data-testid=check-gitlab]", "connected");
    assert!(gitlab.contains("@casekit-sandbox-admin") && gitlab.contains("api"), "{gitlab}");
    s.wait_text("[data-testid=connection-gitlab]", "http://127.0.0.1:");
    for (service, who) in [
        ("zendesk", "agent@casekit.test"),
        ("zendesk_us_gov", "agent@casekit.test"),
        ("mailgun", "mg.gitlab.com"),
        ("customersdot", "agent@casekit.test"),
    ] {
        let row = s.wait_text(&format!("[data-testid=check-{service}]"), "connected");
        assert!(row.contains(who), "{service}: {row}");
    }
    s.wait_for("[data-testid=connections]").scroll_into_view();
    desktop.screenshot(&artifact("settings-connections.png"));
}

#[test]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: run `make test`"]
fn a_database_from_a_newer_casekit_is_explained_not_a_blank_window() {
    let data = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(data.path().join("casekit.sqlite3")).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);

    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("newer-database.log"));
    let s = Session::start(&desktop.driver_url, &app());
    let text = s.wait_text("[data-testid=startup-error]", "newer Casekit");
    assert!(text.contains("CASEKIT_DATA_DIR"), "{text}");
    desktop.screenshot(&artifact("startup-error.png"));
}
