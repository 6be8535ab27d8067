//! Races and mix-ups (issue 12, item 4): two submits of one step, an abandon racing a submit,
//! a Sandbox case's summary or outbox item handled from a live profile.
//!
//! One writer per case: in one app a case is held by the step running on it (a second submit
//! or an abandon meanwhile is refused and runs nothing); across apps on one data folder every
//! save is a compare-and-swap on the case's revision.

use std::time::Duration;

use casekit::api::{handlers, AppState};
use casekit::connectors::Service;
use casekit::paths::AppPaths;
use casekit::playbook::engine::{StepInput, TicketInstance};
use casekit::playbook::view::CaseView;
use casekit::sandbox::faults::{Fault, FaultRule};
use casekit::secrets::Keychain;
use casekit::store::audit::{self, AuditRow};
use casekit::store::profiles::{CustomersDotMode, ProfileInput, ServiceSettings};
use casekit::summary::outbox::Posted;
use casekit::{ErrorCode, IpcError};
use serde_json::Value;

use crate::harness::{refused, Webview};
use crate::support::text;

fn current(case: &CaseView) -> &str {
    case.current.as_ref().map_or("", |c| c.id.as_str())
}

fn rows(wv: &Webview, case_id: i64) -> Vec<AuditRow> {
    audit::for_case(&wv.state().store().unwrap().conn(), case_id).unwrap()
}

fn count(rows: &[AuditRow], kind: &str) -> usize {
    rows.iter().filter(|r| r.kind == kind).count()
}

fn gitlab_user(wv: &Webview, id: u64) -> Value {
    let world = wv.sandbox().snapshot();
    world["gitlab"]["users"].as_array().unwrap().iter().find(|u| u["id"] == id).cloned().unwrap()
}

/// Slows matching requests down (so a second call arrives while the first is in flight) and
/// counts them: the rule's `times` goes down by one per request.
fn slow(wv: &Webview, service: Service, method: &str, path: &str, ms: u64) {
    wv.sandbox().arm_fault(FaultRule {
        service: Some(service),
        method: Some(method.into()),
        path: path.into(),
        fault: Fault::Latency { ms },
        times: Some(1000),
    });
}

/// How many requests the `slow` rule for `method path` has seen.
fn seen(wv: &Webview, method: &str, path: &str) -> u32 {
    wv.sandbox()
        .armed_faults()
        .iter()
        .find(|r| r.method.as_deref() == Some(method) && r.path == path)
        .map_or(1000, |r| 1000 - r.times.unwrap())
}

/// The release's first step: who the requester says they are.
fn identify_quinn(wv: &Webview, case: &CaseView) -> CaseView {
    wv.checklist(case, &[("username", "quiet-quinn"), ("email", "quinn@example.com"), ("how_confirmed", "Stated in the ticket")])
}

/// Release for quiet-quinn on ticket 8001, up to the release action (permission recorded).
fn release_until_action(wv: &Webview) -> CaseView {
    let case = wv.open(8001, "release-email");
    let case = identify_quinn(wv, &case);
    let case = wv.step(&case, StepInput::RunLookup);
    let case = wv.step(&case, StepInput::Continue);
    let case = wv.step(&case, StepInput::RequestPermission { post: true });
    let reply = wv.comment_as(8001, None, "Yes, I confirm: please release it.");
    let case = wv.step(&case, StepInput::ConfirmPermission { comment_id: reply });
    assert_eq!(current(&case), "release");
    case
}

/// Runs two submits of one step at once; returns both answers.
fn twice(wv: &Webview, case_id: i64, step: &str, input: StepInput) -> [Result<CaseView, IpcError>; 2] {
    let state = wv.state();
    let (a, b) = wv.block(async {
        tokio::join!(
            handlers::submit_step(state, case_id, step.to_owned(), input.clone()),
            handlers::submit_step(state, case_id, step.to_owned(), input.clone())
        )
    });
    [a, b]
}

fn one_ran(answers: [Result<CaseView, IpcError>; 2]) -> (CaseView, IpcError) {
    match answers {
        [Ok(v), Err(e)] | [Err(e), Ok(v)] => (v, e),
        [a, b] => panic!("exactly one submit should run: {a:?} / {b:?}"),
    }
}

#[test]
fn attack_two_submits_of_one_action_run_it_once() {
    let wv = Webview::new();
    let case = release_until_action(&wv);
    // Both would read the account before either writes: the slow re-read holds the first
    // submit in flight while the second arrives.
    slow(&wv, Service::Gitlab, "GET", "/api/v4/users/101", 150);
    slow(&wv, Service::Gitlab, "PUT", "/api/v4/users/101", 1);
    slow(&wv, Service::Gitlab, "POST", "/api/v4/users/101/emails", 1);

    let (done, refused) = one_ran(twice(&wv, case.id, "release", StepInput::RunAction { confirmation: "quiet-quinn".into() }));
    assert_eq!(current(&done), "admin-note");
    assert_eq!(refused.code, ErrorCode::Conflict);
    assert!(
        refused.message.contains("in progress already") && refused.message.contains("nothing was run twice"),
        "{}",
        refused.message
    );

    // The account was written once: one address added, one primary change.
    assert_eq!(seen(&wv, "POST", "/api/v4/users/101/emails"), 1);
    assert_eq!(seen(&wv, "PUT", "/api/v4/users/101"), 1);
    let quinn = gitlab_user(&wv, 101);
    assert_eq!(quinn["email"], "quinn+release@example.com");
    let added = quinn["emails"].as_array().unwrap().iter().filter(|e| e["email"] == "quinn+release@example.com").count();
    assert!(added <= 1, "{quinn}");
    let log = rows(&wv, case.id);
    assert_eq!((count(&log, "action_started"), count(&log, "action_result")), (1, 1));

    // The admin note the same way: the line once on the account, one result in the log.
    let line = text(&done);
    let (done, refused) = one_ran(twice(&wv, case.id, "admin-note", StepInput::WriteNote));
    assert_eq!((current(&done), refused.code), ("summary", ErrorCode::Conflict));
    let note = gitlab_user(&wv, 101)["note"].as_str().unwrap().to_owned();
    assert_eq!(note.lines().filter(|l| l.trim() == line).count(), 1, "{note}");
    assert_eq!(seen(&wv, "PUT", "/api/v4/users/101"), 2, "one more write: the note");
    assert_eq!(count(&rows(&wv, case.id), "action_result"), 2);
}

#[test]
fn attack_a_second_submit_of_a_done_step_runs_nothing() {
    let wv = Webview::new();
    let case = release_until_action(&wv);
    let done = wv.step(&case, StepInput::RunAction { confirmation: "quiet-quinn".into() });
    assert_eq!(current(&done), "admin-note");
    // A second window still showing the action, and the permission step before it.
    let err = refused(&wv, || wv.submit(&case, StepInput::RunAction { confirmation: "quiet-quinn".into() }));
    assert_eq!(err.code, ErrorCode::Conflict);
    assert!(err.message.contains("is already done") && err.message.contains("nothing was run again"), "{}", err.message);
    let err = refused(&wv, || wv.submit_at(case.id, "permission", StepInput::RequestPermission { post: true }));
    assert_eq!(err.code, ErrorCode::Conflict, "{}", err.message);
}

#[test]
fn attack_an_abandon_racing_a_submit_in_one_app_waits_its_turn() {
    let wv = Webview::new();
    let case = release_until_action(&wv);
    slow(&wv, Service::Gitlab, "GET", "/api/v4/users/101", 150);
    let state = wv.state();
    let (submitted, abandoned) = wv.block(async {
        tokio::join!(
            handlers::submit_step(state, case.id, "release".into(), StepInput::RunAction { confirmation: "quiet-quinn".into() }),
            async {
                tokio::time::sleep(Duration::from_millis(60)).await;
                handlers::abandon_case(state, case.id, "changed my mind".into()).await
            }
        )
    });
    assert_eq!(current(&submitted.unwrap()), "admin-note");
    let err = abandoned.unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict, "{}", err.message);
    assert_eq!(count(&rows(&wv, case.id), "case_abandoned"), 0);

    // Abandoned afterwards, the case stays closed to a late submit from a stale window.
    let closed = wv.block(handlers::abandon_case(state, case.id, "done elsewhere".into())).unwrap();
    assert_eq!((closed.status.key(), closed.outcome.map(|o| o.key())), ("finished", Some("abandoned")));
    let err = refused(&wv, || wv.submit_at(case.id, "admin-note", StepInput::WriteNote));
    assert_eq!(err.code, ErrorCode::CaseClosed);
}

#[test]
fn attack_an_abandon_from_another_window_racing_a_submit_does_not_reopen_the_case() {
    let wv = Webview::new();
    let case = wv.open(8001, "release-email");
    let case = identify_quinn(&wv, &case);
    let case = wv.step(&case, StepInput::RunLookup);
    let case = wv.step(&case, StepInput::Continue);
    assert_eq!(current(&case), "permission");
    // A second app on the same data folder (another Casekit process): it shares the database,
    // not this app's memory of which case is busy.
    let other =
        AppState::open(AppPaths::under(wv.state().paths().data_dir.clone()), Keychain::in_memory(), crate::support::settings());
    slow(&wv, Service::Zendesk, "PUT", "/api/v2/tickets/8001", 400);

    let state = wv.state();
    let (submitted, abandoned) = wv.block(async {
        tokio::join!(
            handlers::submit_step(state, case.id, "permission".into(), StepInput::RequestPermission { post: true }),
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                handlers::abandon_case(&other, case.id, "handled in another window".into()).await
            }
        )
    });
    assert_eq!(abandoned.unwrap().outcome.map(|o| o.key()), Some("abandoned"));
    let err = submitted.unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert!(err.message.contains("changed in another window"), "{}", err.message);

    // Still abandoned, in this app and a fresh read; the request that did reach the ticket is
    // in the audit log after the abandon, and the chain holds.
    assert_eq!(wv.view(case.id).status.key(), "finished");
    assert_eq!(wv.block(handlers::case_view(&other, case.id)).unwrap().outcome.map(|o| o.key()), Some("abandoned"));
    let log = rows(&wv, case.id);
    let kinds: Vec<&str> = log.iter().rev().take(2).map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["permission_requested", "case_abandoned"]);
    assert!(handlers::verify_audit(state).unwrap().first_bad.is_none());
    let err = refused(&wv, || wv.submit_at(case.id, "permission", StepInput::RequestPermission { post: true }));
    assert_eq!(err.code, ErrorCode::CaseClosed);
}

/// Adds a live profile whose Zendesk is this app's sandbox (so "a real ticket with the same
/// number" is one the test can read), stores its token and makes it the active profile.
fn go_live_on_the_same_ticket_numbers(wv: &Webview) {
    let zd = wv.sandbox().credentials().zendesk.clone();
    let input = ProfileInput {
        id: None,
        name: "Live".into(),
        agent_name: "Sam Agent".into(),
        agent_email: zd.email.clone(),
        services: ServiceSettings {
            gitlab_url: String::new(),
            zendesk_url: zd.url.clone(),
            zendesk_us_gov_url: String::new(),
            mailgun_url: String::new(),
            mailgun_domain: String::new(),
            customersdot_url: String::new(),
            customersdot_mode: CustomersDotMode::Api,
        },
    };
    let live = handlers::save_profile(wv.state(), input).unwrap();
    handlers::store_token(wv.state(), live.id, Service::Zendesk, zd.token).unwrap();
    handlers::activate_profile(wv.state(), live.id).unwrap();
    // The live profile does reach a ticket #8001: only the case's profile stands in the way.
    let ticket = wv.block(handlers::preview_ticket(wv.state(), TicketInstance::Global, 8001)).unwrap();
    assert_eq!(ticket.id, 8001);
}

#[test]
fn attack_a_sandbox_case_summary_posted_from_a_live_profile() {
    let wv = Webview::new();
    let case = wv.open(8001, "release-email");
    let case = identify_quinn(&wv, &case);
    let sandbox_profile = handlers::active_profile(wv.state()).unwrap().id;
    go_live_on_the_same_ticket_numbers(&wv);

    let err = refused(&wv, || wv.block(handlers::post_summary(wv.state(), case.id)));
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("belongs to another profile") && err.message.contains("nothing was posted"), "{}", err.message);
    // Nor can the live profile work the Sandbox case.
    let err = refused(&wv, || wv.submit(&case, StepInput::RunLookup));
    assert_eq!(err.code, ErrorCode::NotFound);
    // The live ticket #8001 is another ticket: its own case opens beside the Sandbox one.
    let live_case = wv.open(8001, "release-email");
    assert_ne!(live_case.id, case.id);

    // Back on the Sandbox, the summary goes to the Sandbox ticket.
    handlers::activate_profile(wv.state(), sandbox_profile).unwrap();
    let posted = wv.block(handlers::post_summary(wv.state(), case.id)).unwrap();
    assert!(matches!(posted, Posted::Sent { already: false, .. }), "{posted:?}");
}

#[test]
fn attack_a_sandbox_outbox_item_retried_or_discarded_from_a_live_profile() {
    let wv = Webview::new();
    let case = wv.open(8001, "release-email");
    let sandbox_profile = handlers::active_profile(wv.state()).unwrap().id;
    // Zendesk is away: the summary waits in the outbox.
    wv.sandbox().arm_fault(FaultRule {
        service: Some(Service::Zendesk),
        method: None,
        path: "/api/v2/tickets/8001/*".into(),
        fault: Fault::Status { status: 503 },
        times: None,
    });
    let Posted::Queued { outbox_id, .. } = wv.block(handlers::post_summary(wv.state(), case.id)).unwrap() else {
        panic!("the summary should wait in the outbox")
    };
    wv.sandbox().clear_faults();
    go_live_on_the_same_ticket_numbers(&wv);

    let err = refused(&wv, || wv.block(handlers::retry_outbox(wv.state(), outbox_id)));
    assert!(err.message.contains("another profile's ticket"), "{}", err.message);
    let err = refused(&wv, || wv.block(handlers::discard_outbox(wv.state(), outbox_id, "not needed".into())));
    assert!(err.message.contains("another profile's ticket"), "{}", err.message);
    assert!(handlers::list_outbox(wv.state()).unwrap().iter().all(|i| i.id != outbox_id), "each profile lists its own outbox");

    // Its own profile still has it waiting, and sends it.
    handlers::activate_profile(wv.state(), sandbox_profile).unwrap();
    let item = handlers::list_outbox(wv.state()).unwrap().into_iter().find(|i| i.id == outbox_id).unwrap();
    assert_eq!((item.state.key(), item.attempts), ("pending", 1));
    let flushed = wv.block(handlers::retry_outbox(wv.state(), outbox_id)).unwrap();
    assert_eq!(flushed.sent, 1);
}
