//! End-to-end tests through the real Casekit window: Xvfb, tauri-driver, WebKitWebDriver and
//! the app binary built with its UI embedded. They are ignored by a plain `cargo test` (they
//! need those programs); `make test` runs them with `--ignored`. Screenshots go to
//! target/e2e-artifacts/.

mod desktop;
#[path = "../support/mod.rs"]
mod support;
mod webdriver;

use std::path::{Path, PathBuf};

use desktop::Desktop;
use support::fake_gitlab::FakeGitLab;
use support::serve::Served;
use webdriver::{Session, CONTROL};

#[cfg(not(feature = "custom-protocol"))]
compile_error!("build the E2E tests with --features custom-protocol so the app embeds ui/dist (make test does)");

fn app() -> PathBuf {
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

        s.chord(&[CONTROL, "4"]);
        s.wait_text("[data-testid=settings-view]", "Sandbox");
        s.wait_for("#agent-name").fill("Ada Lovelace");
        s.wait_for("#agent-email").fill("ada at example");
        s.click("[data-testid=save-profile]");
        let err = s.wait_text("[data-testid=profile-error]", "not an email address");
        assert!(err.contains("ada at example"), "{err}");

        s.wait_for("#agent-email").fill("ada@example.com");
        s.click("[data-testid=save-profile]");
        s.wait_text("[data-testid=profile-status]", "Saved");
        desktop.screenshot(&artifact("settings.png"));

        s.chord(&[CONTROL, "5"]);
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
    s.chord(&[CONTROL, "4"]);
    assert_eq!(s.wait_for("#agent-email").value(), "ada@example.com");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: run `make test`"]
fn settings_test_connection_reaches_every_sandbox_service_over_http() {
    let data = tempfile::tempdir().unwrap();
    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("test-connection.log"));
    let s = launch(&desktop);
    s.chord(&[CONTROL, "4"]);
    s.wait_text("[data-testid=connections]", "127.0.0.1 (simulated)");
    s.click("[data-testid=test-all]");
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

/// Cases record who did what: the agent's identity comes first.
fn set_identity(s: &Session) {
    s.chord(&[CONTROL, "4"]);
    s.wait_for("#agent-name").fill("Ada Lovelace");
    s.wait_for("#agent-email").fill("ada@example.com");
    s.click("[data-testid=save-profile]");
    s.wait_text("[data-testid=profile-status]", "Saved");
    s.chord(&[CONTROL, "1"]);
}

/// From the Cases list to the first step of a case on a sandbox ticket.
fn open_case(s: &Session, ticket: &str, playbook: &str) {
    s.click("[data-testid=new-case-button]");
    s.wait_for("#ticket-number").fill(ticket);
    s.click("[data-testid=fetch-ticket]");
    s.wait_text("[data-testid=ticket-preview]", "Requester");
    s.click(&format!("input[value={playbook}]"));
    s.click("[data-testid=open-case]");
    s.wait_for("[data-testid=case-wizard]");
}

fn identify(s: &Session, username: &str, email: &str) {
    s.wait_for("#field-username").fill(username);
    s.wait_for("#field-email").fill(email);
    s.click("#field-how_confirmed option:nth-child(2)");
    s.click("input[value=both-stated]");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=current-step]", "Fetch");
    s.click("[data-testid=step-submit]");
    s.wait_for("[data-testid=gates]");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: run `make test`"]
fn an_agent_releases_an_email_address_end_to_end() {
    let data = tempfile::tempdir().unwrap();
    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("release-email.log"));
    {
        let s = launch(&desktop);
        set_identity(&s);
        open_case(&s, "8001", "release-email");
        identify(&s, "quiet-quinn", "quinn@example.com");
        s.wait_text("[data-testid=current-step]", "All checks passed");
        let evidence = s.wait_text("[data-testid=evidence]", "Sign-ins");
        assert!(evidence.contains("0 (last: never)"), "{evidence}");
        desktop.screenshot(&artifact("release-gates.png"));
        s.click("[data-testid=step-submit]");

        let request = s.wait_text("[data-testid=permission-text]", "quinn+release@example.com");
        assert!(request.starts_with("Could you please confirm"), "{request}");
        s.click("[data-testid=post-request]");
        s.click("[data-testid=simulate-reply]");
        s.wait_text("[data-testid=current-step]", "Yes, please go ahead");
        s.click("[data-testid=step-submit]");

        s.wait_text("[data-testid=action-preview]", "PUT /api/v4/users/101");
        s.wait_for("#confirm-text").fill("quiet-quinn");
        desktop.screenshot(&artifact("release-action.png"));
        s.click("[data-testid=step-submit]");
        s.wait_text("[data-testid=step-text]", "email released (+release)");
        s.click("[data-testid=step-submit]");
        s.wait_text("[data-testid=summary-text]", "email released (+release)");
        desktop.screenshot(&artifact("release-summary.png"));
        s.click("[data-testid=step-submit]");
        s.wait_text("[data-testid=case-finished]", "completed");
        let steps = s.wait_for("[data-testid=step-list]").text();
        assert!(!steps.contains("pending") && !steps.contains("current"), "{steps}");

        // The summary goes to the ticket once; a second post finds it among the ticket's comments.
        let summary = s.wait_text("[data-testid=summary-text]", "Audit chain");
        assert!(summary.contains("**Outcome:** completed") && summary.contains("Yes, please go ahead"), "{summary}");
        s.click("[data-testid=post-summary]");
        let posted = s.wait_text("[data-testid=summary-posted]", "Posted as comment");
        let comment: String = posted.chars().filter(char::is_ascii_digit).collect();
        s.click("[data-testid=post-summary]");
        let again = s.wait_text("[data-testid=summary-posted]", "not posted twice");
        assert!(again.contains(&comment), "{again} vs {posted}");
        s.wait_for("[data-testid=case-finished]").scroll_into_view();
        desktop.screenshot(&artifact("case-summary.png"));

        // The audit viewer finds the case by the email and vouches for the chain.
        s.chord(&[CONTROL, "2"]);
        s.wait_for("[data-testid=audit-search]").fill("quinn@example.com");
        s.click("[data-testid=audit-view] button[type=submit]");
        s.wait_text("[data-testid=audit-rows]", "summary posted");
        s.click("[data-testid=audit-rows] button.link");
        s.wait_text("[data-testid=audit-detail]", "Hash");
        s.click("[data-testid=verify-chain]");
        s.wait_text("[data-testid=verify-result]", "Intact: 12 rows");
        desktop.screenshot(&artifact("audit-viewer.png"));
    }
    // The record the window wrote holds up.
    let out = std::process::Command::new(app()).args(["audit", "verify", "--data-dir"]).arg(data.path()).output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && printed.contains("audit log intact: 12 rows"), "{printed}");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: run `make test`"]
fn an_active_account_is_redirected_to_ownership_verification() {
    let data = tempfile::tempdir().unwrap();
    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("release-blocked.log"));
    let s = launch(&desktop);
    set_identity(&s);
    open_case(&s, "8001", "release-email");
    identify(&s, "one-comment-casey", "casey@example.com");
    let gates = s.wait_text("[data-testid=current-step]", "Follow the block");
    assert!(gates.contains("Signed in 1 time"), "{gates}");
    desktop.screenshot(&artifact("release-blocked.png"));
    s.click("[data-testid=step-submit]");
    s.wait_text("#case-title", "Account ownership verification");
    s.wait_text("[data-testid=case-wizard]", "Continues case 1");
    assert_eq!(s.wait_for("#field-username").value(), "one-comment-casey");
    s.wait_text("[data-testid=evidence]", "commented on");
    desktop.screenshot(&artifact("ownership-verification.png"));

    // The Cases list shows the new case open and resumes it.
    s.click("[data-testid=back-to-cases]");
    s.wait_text("[data-testid=cases-view]", "Account ownership verification");
    s.click("[data-testid=resume-2]");
    s.wait_text("[data-testid=current-step]", "Which account");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: run `make test`"]
fn linked_portal_accounts_with_different_emails_are_resolved_end_to_end() {
    let data = tempfile::tempdir().unwrap();
    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("customersdot-scenario-6.log"));
    let s = launch(&desktop);
    set_identity(&s);
    open_case(&s, "8004", "customersdot-sign-in");
    assert_eq!(s.wait_for("#field-requester_email").value(), "lena.billing@example.com");
    s.click("input[value=console-needed]");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=current-step]", "Fetch");
    s.click("[data-testid=step-submit]");
    let proposal = s.wait_text("[data-testid=proposal]", "Linked accounts have different emails");
    assert!(proposal.contains("lena.gitlab@example.com"), "{proposal}");
    desktop.screenshot(&artifact("customersdot-diagnosis.png"));
    s.click("[data-testid=step-submit]");

    s.wait_text("[data-testid=step-text]", "We keep one portal account per GitLab account email");
    s.click("[data-testid=step-submit]");
    s.click("[data-testid=post-request]");
    s.click("[data-testid=simulate-reply]");
    s.wait_text("[data-testid=current-step]", "Yes, please go ahead");
    s.click("[data-testid=step-submit]");

    s.wait_text("[data-testid=action-preview]", "unlink_gitlab_user");
    s.wait_for("#confirm-text").fill("lena.billing@example.com");
    s.click("[data-testid=step-submit]");

    s.click("[data-testid=simulate-portal-sign-up]");
    s.wait_text("[data-testid=sandbox-portal]", "Portal account created for lena.gitlab@example.com");
    s.wait_for("#field-new_customer_email").fill("lena.gitlab@example.com");
    s.click("input[value=created]");
    s.click("[data-testid=step-submit]");

    s.wait_text("[data-testid=action-preview]", "billing account 2: + lena.gitlab@example.com");
    s.wait_for("#confirm-text").fill("lena.billing@example.com");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=step-text]", "is now on your billing account");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=summary-text]", "Casekit case summary");
    s.click("[data-testid=step-submit]");
    let summary = s.wait_text("[data-testid=case-finished]", "completed");
    assert!(
        summary.contains("unlink_gitlab_user — **verified**")
            && summary.contains("add_billing_account_membership — **verified**"),
        "{summary}"
    );
    desktop.screenshot(&artifact("customersdot-resolved.png"));
}

#[test]
#[ignore = "needs Xvfb, tauri-driver and WebKitWebDriver: run `make test`"]
fn a_malicious_user_is_banned_end_to_end() {
    let data = tempfile::tempdir().unwrap();
    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("malicious-user.log"));
    let s = launch(&desktop);
    set_identity(&s);
    open_case(&s, "8009", "malicious-user");
    s.wait_for("#field-findings").fill("phishing links in the ticket and a follow-up comment");
    s.wait_for("#field-evidence_links").fill("ticket 8009, comment 880901");
    s.wait_for("#field-malicious_reason").fill("phishing");
    s.click("input[value=ticket-read]");
    s.click("input[value=history-checked]");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=current-step]", "Fetch");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=evidence]", "Active sessions");
    s.click("input[value=malicious]");
    s.wait_for("#decision-reason").fill("phishing, confirmed by the links");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=current-step]", "All checks passed");
    s.click("[data-testid=step-submit]");

    for (expect, confirm) in [("suspended: false → true", Some("mallory@spam.example")), ("notes: + ", None)] {
        s.wait_text("[data-testid=action-preview]", expect);
        if let Some(text) = confirm {
            s.wait_for("#confirm-text").fill(text);
        }
        s.click("[data-testid=step-submit]");
    }
    s.wait_text("[data-testid=current-step]", "reject:mallory@spam.example");
    s.wait_for("#manual-evidence").fill("reject:mallory@spam.example added to the blocklist");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=action-preview]", "sessions: all → none");
    s.wait_for("#confirm-text").fill("mallory@spam.example");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=action-preview]", "status → closed");
    s.wait_for("#confirm-text").fill("mallory@spam.example");
    desktop.screenshot(&artifact("malicious-close.png"));
    s.click("[data-testid=step-submit]");
    let summary = s.wait_text("[data-testid=summary-text]", "close_ticket");
    for done in [
        "suspend_user — **verified**",
        "add_user_note — **verified**",
        "delete_user_sessions — **verified**",
        "done by hand: reject:mallory@spam.example",
    ] {
        assert!(summary.contains(done), "{done}: {summary}");
    }
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=case-finished]", "completed");
    desktop.screenshot(&artifact("malicious-summary.png"));
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

/// A live profile, set up in Settings as a new agent would: addresses, tokens pasted into the OS
/// keychain, Test all, Use. GitLab is at `gitlab` (URL, token); the other services are
/// `casekit sandbox serve` in another process.
fn set_up_live_profile(s: &Session, served: &Served, gitlab: (&str, &str)) {
    s.chord(&[CONTROL, "4"]);
    s.click("[data-testid=new-profile]");
    s.wait_for("#profile-name").fill("Team live");
    s.wait_for("#agent-name").fill("Ada Lovelace");
    s.wait_for("#agent-email").fill(&served.get("zendesk", "email"));
    s.wait_for("#gitlab-url").fill(gitlab.0);
    s.wait_for("#zendesk-url").fill(&served.get("zendesk", "url"));
    s.wait_for("#zendesk-us-gov-url").fill(&served.get("zendesk_us_gov", "url"));
    s.click("#mailgun-region option[value=other]");
    s.wait_for("input[aria-label='Mailgun API URL']").fill(&served.get("mailgun", "url"));
    s.wait_for("#mailgun-domain").fill(&served.get("mailgun", "domain"));
    s.wait_for("#customersdot-url").fill(&served.get("customersdot", "url"));
    s.click("input[type=radio][value=api]");
    s.click("[data-testid=save-profile]");
    s.wait_text("[data-testid=connections]", "Connections: Team live");
    for (label, token) in [
        ("GitLab", gitlab.1.to_owned()),
        ("Zendesk", served.get("zendesk", "token")),
        ("Zendesk US Government", served.get("zendesk_us_gov", "token")),
        ("Mailgun", served.get("mailgun", "api_key")),
        ("CustomersDot", served.get("customersdot", "token")),
    ] {
        s.click(&format!("button[aria-label='Add {label} token']"));
        s.wait_for(&format!("input[aria-label='{label} token']")).fill(&token);
        s.click("form.token-form button[type=submit]");
        s.wait_for(&format!("button[aria-label='Replace {label} token']"));
    }
    s.click("[data-testid=test-all]");
    for service in ["gitlab", "zendesk", "zendesk_us_gov", "mailgun", "customersdot"] {
        s.wait_text(&format!("[data-testid=check-{service}]"), "connected");
    }
    s.click("[data-testid=profiles] button[data-testid^=use-]");
    s.wait_text("[data-testid=profile-banner]", "Team live");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and an unlocked Secret Service: run `make test`"]
fn a_live_profile_set_up_in_settings_works_against_an_independent_gitlab_with_tokens_from_the_os_keychain() {
    // GitLab written apart from our sandbox, answering in GitLab's recorded shapes; Zendesk,
    // Mailgun and CustomersDot from `casekit sandbox serve` in another process.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let gitlab = rt.block_on(FakeGitLab::start());
    let served = Served::start(&["--base-port", "0"]);
    let data = tempfile::tempdir().unwrap();
    let desktop = Desktop::start(&data_dir_env(data.path()), &artifact("live-profile.log"));
    let s = launch(&desktop);
    set_up_live_profile(&s, &served, (&gitlab.url, &gitlab.token));
    let admin = s.wait_text("[data-testid=check-gitlab]", "connected");
    assert!(admin.contains("@fake-admin"), "{admin}");
    desktop.screenshot(&artifact("live-profile-settings.png"));

    // Release: the requester's confirmation is a reply in Zendesk, not the sandbox shortcut.
    s.chord(&[CONTROL, "1"]);
    open_case(&s, "8001", "release-email");
    identify(&s, "quiet-quinn", "quinn@example.com");
    s.wait_text("[data-testid=current-step]", "All checks passed");
    let evidence = s.wait_text("[data-testid=evidence]", "@quiet-quinn");
    assert!(!evidence.contains("quinn-lookalike"), "the account named after the address is not taken for it: {evidence}");
    s.click("[data-testid=step-submit]");
    s.click("[data-testid=post-request]");
    s.wait_text("[data-testid=no-reply]", "No reply from the requester yet");
    assert!(!s.page_text().contains("Reply as the customer"), "no sandbox shortcut on a live profile");
    served.requester_replies(8001, "Yes, I confirm: release it.");
    s.click("[data-testid=reload-comments]");
    s.wait_text("[data-testid=current-step]", "Yes, I confirm: release it.");
    s.click("input[name=confirmation]");
    desktop.screenshot(&artifact("live-profile-permission.png"));
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=action-preview]", "PUT /api/v4/users/501");
    s.wait_for("#confirm-text").fill("quiet-quinn");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=step-text]", "email released (+release)");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=summary-text]", "email released (+release)");
    s.click("[data-testid=step-submit]");
    s.wait_text("[data-testid=case-finished]", "completed");
    desktop.screenshot(&artifact("live-profile-release.png"));
    assert_eq!(gitlab.user(501)["email"], "quinn+release@example.com");
    assert!(!gitlab.emails(501).iter().any(|e| e == "quinn@example.com"), "the old address is gone");

    // A group member: the gate blocks with the evidence it read, not an error.
    s.click("[data-testid=back-to-cases]");
    open_case(&s, "8002", "release-email");
    identify(&s, "member-pat", "pat@acme.example");
    let gates = s.wait_text("[data-testid=gates]", "blocked");
    assert!(gates.contains("Signed in 12 time(s)"), "{gates}");
    let evidence = s.wait_text("[data-testid=evidence]", "acme-fake");
    assert!(evidence.contains("Developer"), "{evidence}");
    assert!(!s.page_text().contains("did not answer as expected"), "no error, a decision");
    desktop.screenshot(&artifact("live-profile-blocked.png"));

    // The tokens are in the keychain, not in the database.
    let db = std::fs::read(data.path().join("casekit.sqlite3")).unwrap();
    for token in [gitlab.token.clone(), served.get("zendesk", "token")] {
        assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()), "no token in the database file");
    }
}
