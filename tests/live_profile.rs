//! The path a real agent takes: a live (non-Sandbox) profile whose tokens are in the OS keychain,
//! pointed at services outside the app (`casekit sandbox serve` in another process), driven
//! through the same handlers the window calls. Ignored in a plain `cargo test`: `make test` runs
//! it under a private D-Bus session with an unlocked gnome-keyring.

mod support;

use std::collections::BTreeMap;

use casekit::api::{handlers, AppState};
use casekit::connectors::Service;
use casekit::paths::AppPaths;
use casekit::playbook::engine::{NewCase, StepInput, TicketInstance};
use casekit::playbook::view::CaseView;
use casekit::secrets::Keychain;
use casekit::store::profiles::{CustomersDotMode, Profile, ProfileInput, ServiceSettings};
use casekit::summary::outbox::Posted;
use casekit::{ErrorCode, IpcError};
use serde_json::{json, Value};
use support::fake_gitlab::FakeGitLab;
use support::serve::Served;
use support::{checklist, form, gates};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn live_input(served: &Served, gitlab_url: &str, id: Option<i64>, name: &str) -> ProfileInput {
    ProfileInput {
        id,
        name: name.into(),
        agent_name: "Sam Agent".into(),
        agent_email: served.get("zendesk", "email"),
        services: ServiceSettings {
            gitlab_url: gitlab_url.into(),
            zendesk_url: served.get("zendesk", "url"),
            zendesk_us_gov_url: served.get("zendesk_us_gov", "url"),
            mailgun_url: served.get("mailgun", "url"),
            mailgun_domain: served.get("mailgun", "domain"),
            customersdot_url: served.get("customersdot", "url"),
            customersdot_mode: CustomersDotMode::Api,
        },
    }
}

/// The GitLab a profile points at: its address and an admin token.
struct GitLabAt {
    url: String,
    token: String,
}

impl GitLabAt {
    /// The GitLab of `casekit sandbox serve`.
    fn served(served: &Served) -> GitLabAt {
        GitLabAt { url: served.get("gitlab", "url"), token: served.get("gitlab", "admin_token") }
    }

    /// A GitLab written apart from our sandbox.
    fn fake(fake: &FakeGitLab) -> GitLabAt {
        GitLabAt { url: fake.url.clone(), token: fake.token.clone() }
    }
}

/// Saves a live profile and pastes every token, as Settings does.
fn set_up(state: &AppState, served: &Served, gitlab: &GitLabAt, name: &str) -> Profile {
    let live = handlers::save_profile(state, live_input(served, &gitlab.url, None, name)).unwrap();
    let tokens = [
        (Service::Gitlab, gitlab.token.clone()),
        (Service::Zendesk, served.get("zendesk", "token")),
        (Service::ZendeskUsGov, served.get("zendesk_us_gov", "token")),
        (Service::Mailgun, served.get("mailgun", "api_key")),
        (Service::Customersdot, served.get("customersdot", "token")),
    ];
    for (service, token) in tokens {
        handlers::store_token(state, live.id, service, token).unwrap();
    }
    assert_eq!(handlers::stored_tokens(state, live.id).unwrap(), Service::ALL);
    live
}

/// Sets up the profile, has Test connection pass for every service, and makes it the active one.
fn go_live(rt: &Runtime, state: &AppState, served: &Served, gitlab: &GitLabAt, name: &str) -> Profile {
    let live = set_up(state, served, gitlab, name);
    for service in Service::ALL {
        let check = rt.block_on(handlers::test_connection(state, live.id, service)).unwrap();
        assert!(check.ok, "{service:?}: {check:?}");
    }
    handlers::activate_profile(state, live.id).unwrap();
    live
}

/// Removes the profile's tokens from the OS keychain.
fn remove_tokens(state: &AppState, live: &Profile) {
    for service in Service::ALL {
        handlers::remove_token(state, live.id, service).unwrap();
    }
}

fn state_in(dir: &std::path::Path) -> AppState {
    AppState::open(
        AppPaths::under(dir.to_path_buf()),
        Keychain::os().expect("the Secret Service is reachable"),
        support::settings(),
    )
}

/// A live profile, active, whose GitLab is the independently written fake and whose other
/// services are `casekit sandbox serve` in another process.
struct Rig {
    served: Served,
    _dir: tempfile::TempDir,
    state: AppState,
    rt: Runtime,
    fake: FakeGitLab,
    live: Profile,
}

impl Rig {
    fn on_the_independent_gitlab() -> Rig {
        let served = Served::start(&["--base-port", "0"]);
        let dir = tempfile::tempdir().unwrap();
        let state = state_in(dir.path());
        let rt = runtime();
        let fake = rt.block_on(FakeGitLab::start());
        let live = go_live(&rt, &state, &served, &GitLabAt::fake(&fake), "Live, GitLab written apart");
        Rig { served, _dir: dir, state, rt, fake, live }
    }
}

/// An agent working a case through the handlers the window calls.
struct Agent<'a> {
    state: &'a AppState,
    rt: &'a Runtime,
}

impl Agent<'_> {
    fn try_submit(&self, case: &CaseView, input: StepInput) -> Result<CaseView, IpcError> {
        let step = case.current.as_ref().expect("a current step").id.clone();
        self.rt.block_on(handlers::submit_step(self.state, case.id, step, input))
    }

    fn submit(&self, case: &CaseView, input: StepInput) -> CaseView {
        let step = case.current.as_ref().map(|c| c.id.clone());
        self.try_submit(case, input).unwrap_or_else(|e| panic!("step {step:?}: {} ({:?})", e.message, e.code))
    }

    /// Opens a release-email case on the ticket, records who the requester says they are, and
    /// looks the account up: the case stands at its gates.
    fn release_until_gate(&self, ticket: u64, username: &str, email: &str) -> CaseView {
        let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: ticket, playbook_id: "release-email".into() };
        let case = self.rt.block_on(handlers::open_case(self.state, new)).unwrap();
        let (items, form) = checklist(&case);
        let fields: BTreeMap<String, String> = form
            .iter()
            .map(|f| {
                let v = match f.id.as_str() {
                    "username" => username.to_owned(),
                    "email" => email.to_owned(),
                    _ if f.kind == "choice" => f.options[0].clone(),
                    _ => String::new(),
                };
                (f.id.clone(), v)
            })
            .collect();
        let ticked = items.iter().map(|i| i.id.clone()).collect();
        let case = self.submit(&case, StepInput::Checklist { ticked, fields });
        self.submit(&case, StepInput::RunLookup)
    }

    /// From gates that all pass to the finished case: the requester's permission on the ticket,
    /// the release (confirmed by typing the username), the admin note, the summary.
    fn release_from_gate(&self, served: &Served, case: &CaseView, username: &str) -> CaseView {
        assert!(gates(case).iter().all(|g| g.passed), "{:?}", gates(case));
        let case = self.submit(case, StepInput::Continue);
        let case = self.submit(&case, StepInput::RequestPermission { post: true });
        let reply = served.requester_replies(case.ticket_id as u64, "Yes, I confirm, please go ahead.");
        let case = self.submit(&case, StepInput::ConfirmPermission { comment_id: reply });
        let case = self.submit(&case, StepInput::RunAction { confirmation: username.into() });
        let case = self.submit(&case, StepInput::WriteNote);
        let case = self.submit(&case, StepInput::Finish);
        assert_eq!((case.status.key(), case.outcome.map(|o| o.key())), ("finished", Some("completed")));
        case
    }
}

#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn a_live_profile_with_tokens_in_the_os_keychain_releases_an_email_end_to_end() {
    let served = Served::start(&["--base-port", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(dir.path());
    let rt = runtime();
    let live = go_live(&rt, &state, &served, &GitLabAt::served(&served), "Live via sandbox serve");
    let agent = Agent { state: &state, rt: &rt };

    let preview = rt.block_on(handlers::preview_ticket(&state, TicketInstance::Global, 8001)).expect("the preview answers");
    assert_eq!(preview.requester_email, "quinn@example.com");
    let case = agent.release_until_gate(8001, "quiet-quinn", "quinn@example.com");
    let case = agent.release_from_gate(&served, &case, "quiet-quinn");

    // The other process's GitLab really changed.
    assert_eq!(served.gitlab_user(101)["email"], "quinn+release@example.com");
    let posted = rt.block_on(handlers::post_summary(&state, case.id)).unwrap();
    assert!(matches!(posted, Posted::Sent { already: false, .. }), "the summary reached the ticket: {posted:?}");
    remove_tokens(&state, &live);
}

#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn a_live_profile_against_an_independent_gitlab_releases_an_email() {
    let Rig { served, _dir, state, rt, fake, live } = Rig::on_the_independent_gitlab();
    let agent = Agent { state: &state, rt: &rt };

    // GitLab's own search puts the account *named* after the address first.
    let search = format!("{}/api/v4/users?search=quinn@example.com", fake.url);
    let hits: Value = ureq::get(&search).set("PRIVATE-TOKEN", &fake.token).call().unwrap().into_json().unwrap();
    let ids: Vec<u64> = hits.as_array().unwrap().iter().map(|u| u["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [502, 501]);
    let note_before = fake.user(501)["note"].as_str().unwrap().to_owned();

    let case = agent.release_until_gate(8001, "quiet-quinn", "quinn@example.com");
    let evidence = &case.evidence.iter().find(|e| e.title == "GitLab account").expect("the account lookup").rows;
    assert!(
        evidence.iter().any(|r| r.label == "Account" && r.value.starts_with("@quiet-quinn")),
        "not the lookalike: {evidence:?}"
    );
    let case = agent.release_from_gate(&served, &case, "quiet-quinn");

    let user = fake.user(501);
    assert_eq!(user["email"], "quinn+release@example.com");
    assert!(!fake.emails(501).iter().any(|e| e == "quinn@example.com"), "the old address is gone: {:?}", fake.emails(501));
    let note = user["note"].as_str().unwrap();
    let added =
        note.strip_prefix(&note_before).and_then(|rest| rest.strip_prefix('\n')).unwrap_or_else(|| panic!("appended: {note}"));
    assert!(added.contains("email released (+release)") && added.contains("8001"), "{added}");
    assert_eq!(added.lines().count(), 1, "one line: {added}");
    let posted = rt.block_on(handlers::post_summary(&state, case.id)).unwrap();
    assert!(matches!(posted, Posted::Sent { already: false, .. }), "the summary reached the ticket: {posted:?}");
    remove_tokens(&state, &live);
}

#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn a_group_member_on_the_independent_gitlab_blocks_at_the_gate_with_evidence() {
    let Rig { served: _served, _dir, state, rt, fake, live } = Rig::on_the_independent_gitlab();
    let agent = Agent { state: &state, rt: &rt };

    let case = agent.release_until_gate(8002, "member-pat", "pat@acme.example");
    assert_eq!(case.current.as_ref().unwrap().id, "no-activity");
    let blocked: Vec<&str> = gates(&case).iter().filter(|g| !g.passed).map(|g| g.gate.as_str()).collect();
    assert_eq!(blocked, ["never_signed_in", "no_associations", "no_contribution_events", "no_memberships"]);
    let detail = |gate: &str| gates(&case).iter().find(|g| g.gate == gate).unwrap().detail.clone();
    assert!(detail("never_signed_in").starts_with("Signed in 12 time(s)"), "{}", detail("never_signed_in"));
    assert_eq!(detail("no_memberships"), "Member of acme-fake.");
    assert!(detail("no_contribution_events").contains("pushed"), "{}", detail("no_contribution_events"));
    let rows = &case.evidence.iter().find(|e| e.title == "GitLab account").expect("the account lookup").rows;
    let row = |label: &str| rows.iter().find(|r| r.label == label).map(|r| r.value.as_str());
    assert_eq!(row("Account"), Some("@member-pat (Pat Member), id 503"));
    assert_eq!(row("Direct memberships"), Some("Namespace acme-fake (Developer)"));
    assert_eq!(row("Paid namespaces"), Some("acme-fake (premium)"), "the namespace's full path and plan");
    assert_eq!(agent.try_submit(&case, StepInput::Continue).unwrap_err().code, ErrorCode::OutOfOrder);

    // The block names what GitLab holds: the group answers with its short and its full path,
    // and inherited membership gives Developer.
    let get = |path: &str| -> Value {
        ureq::get(&format!("{}/api/v4{path}", fake.url)).set("PRIVATE-TOKEN", &fake.token).call().unwrap().into_json().unwrap()
    };
    for path in ["/groups/60", "/namespaces/60"] {
        let source = get(path);
        assert_eq!((&source["path"], &source["full_path"]), (&json!("acme-fake"), &json!("acme-fake")), "{path}");
    }
    assert_eq!(get("/groups/60/members/all/503")["access_level"], 30);

    let next = agent.submit(&case, StepInput::FollowBlock);
    assert_eq!((next.playbook_id.as_str(), next.origin_case_id), ("account-ownership-verification", Some(case.id)));
    assert_eq!(next.evidence[0].title, "GitLab account", "the evidence came along");
    assert_eq!(form(&next).iter().find(|f| f.id == "username").unwrap().value, "member-pat");
    let old = rt.block_on(handlers::case_view(&state, case.id)).unwrap();
    assert_eq!((old.outcome.map(|o| o.key()), old.continued_in), (Some("switched"), Some(next.id)));
    remove_tokens(&state, &live);
}

#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn tokens_are_bound_to_their_address_and_to_their_own_data_folder() {
    let served = Served::start(&["--base-port", "0"]);
    let rt = runtime();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = state_in(one.path());
    let live = set_up(&first, &served, &GitLabAt::served(&served), "First folder");

    // Another data folder: its first live profile has the same row id, and none of the tokens.
    let second = state_in(two.path());
    let other =
        handlers::save_profile(&second, live_input(&served, &served.get("gitlab", "url"), None, "Second folder")).unwrap();
    assert_eq!(other.id, live.id, "the row ids collide, as they did before");
    assert_eq!(handlers::stored_tokens(&second, other.id).unwrap(), []);
    let check = rt.block_on(handlers::test_connection(&second, other.id, Service::Gitlab)).unwrap();
    assert_eq!(check.error.unwrap().code, ErrorCode::NotConfigured);

    // A token that works now, used through the cached copy.
    assert!(rt.block_on(handlers::test_connection(&first, live.id, Service::Gitlab)).unwrap().ok);
    // A wrong token replaces it: the next call uses it, no restart.
    handlers::store_token(&first, live.id, Service::Gitlab, "glpat-wrong-0123456789".into()).unwrap();
    let refused = rt.block_on(handlers::test_connection(&first, live.id, Service::Gitlab)).unwrap();
    assert!(!refused.ok && refused.error.is_some(), "{refused:?}");

    // Moving GitLab to another address deletes its token (never sent to the new host); the
    // other services keep theirs.
    let mut moved = live_input(&served, &served.get("gitlab", "url"), Some(live.id), "First folder");
    moved.services.gitlab_url = "https://gitlab.example.org".into();
    handlers::save_profile(&first, moved).unwrap();
    let stored = handlers::stored_tokens(&first, live.id).unwrap();
    assert!(!stored.contains(&Service::Gitlab) && stored.contains(&Service::Zendesk), "{stored:?}");
    let check = rt.block_on(handlers::test_connection(&first, live.id, Service::Gitlab)).unwrap();
    assert!(check.error.unwrap().message.contains("No GitLab token is stored"));
    // Saving without changing an address keeps the tokens.
    handlers::save_profile(&first, live_input(&served, &served.get("gitlab", "url"), Some(live.id), "Renamed")).unwrap();
    assert!(handlers::stored_tokens(&first, live.id).unwrap().contains(&Service::Zendesk));

    let remaining = handlers::delete_profile(&first, live.id).unwrap();
    assert_eq!(remaining.len(), 1);
    handlers::delete_profile(&second, other.id).unwrap();
}
