//! The path a real agent takes: a live (non-Sandbox) profile whose tokens are in the OS keychain,
//! pointed at services outside the app (`casekit sandbox serve` in another process), driven
//! through the same handlers the window calls. Ignored in a plain `cargo test`: `make test` runs
//! it under a private D-Bus session with an unlocked gnome-keyring.

mod support;

use std::collections::BTreeMap;

use casekit::app::{handlers, AppState};
use casekit::connectors::Service;
use casekit::paths::AppPaths;
use casekit::playbook::engine::{NewCase, StepInput, TicketInstance};
use casekit::playbook::view::CaseView;
use casekit::secrets::Keychain;
use casekit::store::profiles::{CustomersDotMode, Profile, ProfileInput, ServiceSettings};
use casekit::summary::outbox::Posted;
use casekit::ErrorCode;
use serde_json::{json, Value};
use support::serve::Served;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn live_input(served: &Served, id: Option<i64>, name: &str) -> ProfileInput {
    ProfileInput {
        id,
        name: name.into(),
        agent_name: "Sam Agent".into(),
        agent_email: served.get("zendesk", "email"),
        services: ServiceSettings {
            gitlab_url: served.get("gitlab", "url"),
            zendesk_url: served.get("zendesk", "url"),
            zendesk_us_gov_url: served.get("zendesk_us_gov", "url"),
            mailgun_url: served.get("mailgun", "url"),
            mailgun_domain: served.get("mailgun", "domain"),
            customersdot_url: served.get("customersdot", "url"),
            customersdot_mode: CustomersDotMode::Api,
        },
    }
}

/// Saves a live profile and pastes every token, as Settings does.
fn set_up(state: &AppState, served: &Served, name: &str) -> Profile {
    let live = handlers::save_profile(state, live_input(served, None, name)).unwrap();
    let tokens = [
        (Service::Gitlab, served.get("gitlab", "admin_token")),
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

fn state_in(dir: &std::path::Path) -> AppState {
    AppState::open(
        AppPaths::under(dir.to_path_buf()),
        Keychain::os().expect("the Secret Service is reachable"),
        support::settings(),
    )
}

/// The requester replies on the ticket (Zendesk lets an agent post a comment authored by the
/// end user, `comment.author_id`).
fn requester_replies(served: &Served, ticket: u64, body: &str) -> u64 {
    use base64::Engine as _;
    let basic = format!("{}/token:{}", served.get("zendesk", "email"), served.get("zendesk", "token"));
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(basic));
    let url = format!("{}/api/v2/tickets/{ticket}", served.get("zendesk", "url"));
    let t: Value = ureq::get(&url).set("Authorization", &auth).call().unwrap().into_json().unwrap();
    let requester = t["ticket"]["requester_id"].as_u64().unwrap();
    let body = json!({"ticket": {"comment": {"body": body, "public": true, "author_id": requester}}});
    ureq::put(&url).set("Authorization", &auth).send_json(body).unwrap();
    let comments: Value = ureq::get(&format!("{url}/comments")).set("Authorization", &auth).call().unwrap().into_json().unwrap();
    comments["comments"].as_array().unwrap().last().unwrap()["id"].as_u64().unwrap()
}

#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn a_live_profile_with_tokens_in_the_os_keychain_releases_an_email_end_to_end() {
    let served = Served::start(&["--base-port", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(dir.path());
    let rt = runtime();
    let live = set_up(&state, &served, "Live via sandbox serve");
    for service in Service::ALL {
        let check = rt.block_on(handlers::test_connection(&state, live.id, service)).unwrap();
        assert!(check.ok, "{service:?}: {check:?}");
    }
    handlers::activate_profile(&state, live.id).unwrap();

    let submit = |case: &CaseView, input: StepInput| -> CaseView {
        let step = case.current.as_ref().expect("a current step").id.clone();
        rt.block_on(handlers::submit_step(&state, case.id, step.clone(), input))
            .unwrap_or_else(|e| panic!("step {step}: {} ({:?})", e.message, e.code))
    };

    let preview = rt.block_on(handlers::preview_ticket(&state, TicketInstance::Global, 8001)).expect("the preview answers");
    assert_eq!(preview.requester_email, "quinn@example.com");
    let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: 8001, playbook_id: "release-email".into() };
    let case = rt.block_on(handlers::open_case(&state, new)).unwrap();
    let current = case.current.clone().unwrap();
    let fields: BTreeMap<String, String> = current
        .fields
        .iter()
        .map(|f| {
            let v = match f.id.as_str() {
                "username" => "quiet-quinn".to_owned(),
                "email" => "quinn@example.com".to_owned(),
                _ if f.kind == "choice" => f.options[0].clone(),
                _ => String::new(),
            };
            (f.id.clone(), v)
        })
        .collect();
    let ticked = current.items.iter().map(|i| i.id.clone()).collect();
    let case = submit(&case, StepInput::Checklist { ticked, fields });
    let case = submit(&case, StepInput::RunLookup);
    let gates = &case.current.as_ref().unwrap().gates;
    assert!(gates.iter().all(|g| g.passed), "{gates:?}");
    let case = submit(&case, StepInput::Continue);
    let case = submit(&case, StepInput::RequestPermission { post: true });
    let reply = requester_replies(&served, 8001, "Yes, I confirm, please go ahead.");
    let case = submit(&case, StepInput::ConfirmPermission { comment_id: reply });
    let case = submit(&case, StepInput::RunAction { confirmation: "quiet-quinn".into() });
    let case = submit(&case, StepInput::WriteNote);
    let case = submit(&case, StepInput::Finish);
    assert_eq!((case.status.as_str(), case.outcome.as_deref()), ("finished", Some("completed")));

    // The other process's GitLab really changed.
    let gl = format!("{}/api/v4/users/101", served.get("gitlab", "url"));
    let user: Value =
        ureq::get(&gl).set("PRIVATE-TOKEN", &served.get("gitlab", "admin_token")).call().unwrap().into_json().unwrap();
    assert_eq!(user["email"], "quinn+release@example.com");
    let posted = rt.block_on(handlers::post_summary(&state, case.id)).unwrap();
    assert!(matches!(posted, Posted::Sent { already: false, .. }), "the summary reached the ticket: {posted:?}");

    for service in Service::ALL {
        handlers::remove_token(&state, live.id, service).unwrap();
    }
}

#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn tokens_are_bound_to_their_address_and_to_their_own_data_folder() {
    let served = Served::start(&["--base-port", "0"]);
    let rt = runtime();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = state_in(one.path());
    let live = set_up(&first, &served, "First folder");

    // Another data folder: its first live profile has the same row id, and none of the tokens.
    let second = state_in(two.path());
    let other = handlers::save_profile(&second, live_input(&served, None, "Second folder")).unwrap();
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
    let mut moved = live_input(&served, Some(live.id), "First folder");
    moved.services.gitlab_url = "https://gitlab.example.org".into();
    handlers::save_profile(&first, moved).unwrap();
    let stored = handlers::stored_tokens(&first, live.id).unwrap();
    assert!(!stored.contains(&Service::Gitlab) && stored.contains(&Service::Zendesk), "{stored:?}");
    let check = rt.block_on(handlers::test_connection(&first, live.id, Service::Gitlab)).unwrap();
    assert!(check.error.unwrap().message.contains("No GitLab token is stored"));
    // Saving without changing an address keeps the tokens.
    handlers::save_profile(&first, live_input(&served, Some(live.id), "Renamed")).unwrap();
    assert!(handlers::stored_tokens(&first, live.id).unwrap().contains(&Service::Zendesk));

    let remaining = handlers::delete_profile(&first, live.id).unwrap();
    assert_eq!(remaining.len(), 1);
    handlers::delete_profile(&second, other.id).unwrap();
}
