//! The playbooks end to end against the sandbox: happy paths, every blocked branch by persona,
//! out-of-order calls refused, faults on each write with no duplicate write and no lost draft.

mod support;

use casekit::connectors::gitlab::UserEdit;
use casekit::connectors::Service;
use casekit::playbook::consent::Role;
use casekit::playbook::engine::{self, ChallengeResult, StepInput};
use casekit::sandbox::faults::{Fault, FaultRule};
use casekit::store::audit;
use casekit::ErrorCode;
use support::{calls, form, gates, last_attempt, permission, statuses, text, ticks, Harness};

fn gl_fault(method: &str, path: &str, fault: Fault, times: u32) -> FaultRule {
    FaultRule { service: Some(Service::Gitlab), method: Some(method.into()), path: path.into(), fault, times: Some(times) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_account_gets_its_email_released_with_permission_and_a_note() {
    let h = Harness::new().await;
    let gl = h.conns.gitlab().unwrap();
    gl.edit_user(
        101,
        &UserEdit {
            note: Some("2025-01-02 | earlier note | kept | https://example.zendesk.com/agent/tickets/1".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let case = h.open(8001, "release-email").await;
    assert_eq!(case.ticket_subject, "Please release my email address");
    assert!(case.requester.contains("quinn@example.com"));
    let case = h.identify(&case, "quiet-quinn", "quinn@example.com").await;
    let case = h.step(&case, StepInput::RunLookup).await;
    assert!(gates(&case).iter().all(|g| g.passed), "{:?}", gates(&case));
    assert!(case.evidence[0].rows.iter().any(|r| r.label == "Sign-ins" && r.value.starts_with("0")));
    // GitLab's search ranks the account *named* quinn@example.com first; the lookup still finds
    // the one account that holds the address.
    let account = case.evidence[0].rows.iter().find(|r| r.label == "Account").unwrap();
    assert!(account.value.starts_with("@quiet-quinn "), "{account:?}");

    // The action is out of reach before the gate and the permission.
    let early = engine::submit(&h.env(), case.id, "release", StepInput::RunAction { confirmation: "quiet-quinn".into() }).await;
    assert_eq!(early.unwrap_err().code(), ErrorCode::OutOfOrder);

    let case = h.step(&case, StepInput::Continue).await;
    let request = text(&case);
    assert!(request.contains("`quinn+release@example.com`") && request.starts_with("Could you please confirm"), "{request}");
    let case = h.get_permission(&case, 8001).await;

    assert_eq!(calls(&case).len(), 3);
    assert!(calls(&case)[1].change.contains("quinn@example.com → quinn+release@example.com"));
    let wrong = h.submit(&case, StepInput::RunAction { confirmation: "quinn".into() }).await.unwrap_err();
    assert_eq!(wrong.code(), ErrorCode::InvalidInput);
    let case = h.step(&case, StepInput::RunAction { confirmation: "quiet-quinn".into() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "admin-note");
    let line = text(&case);
    assert!(line.contains("| email released (+release) |") && line.ends_with("/agent/tickets/8001"), "{line}");
    let case = h.step(&case, StepInput::WriteNote).await;
    let case = h.step(&case, StepInput::Finish).await;
    assert_eq!((case.status.key(), case.outcome.map(|o| o.key())), ("finished", Some("completed")));
    assert!(case.steps[0].detail.as_deref().unwrap().contains("username: quiet-quinn"), "the step list says what was recorded");
    assert_eq!(case.steps[2].detail.as_deref(), Some("all gates passed"));

    // The sandbox account really changed.
    let user = gl.user(101).await.unwrap();
    assert_eq!(user.email.as_deref(), Some("quinn+release@example.com"));
    assert!(gl.emails(101).await.unwrap().iter().all(|e| e.email != "quinn@example.com"));
    assert!(gl.users_with_email("quinn@example.com").await.unwrap().is_empty(), "the address is released");
    let note = user.note.unwrap();
    assert!(note.starts_with("2025-01-02 | earlier note"), "earlier lines kept: {note}");
    assert!(note.ends_with(&line));
    // The customer's confirmation is the ticket comment, in the audit log, in order.
    let rows = audit::for_case(&h.store.conn(), case.id).unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "case_opened",
            "step_completed",
            "lookup_completed",
            "gate_passed",
            "permission_requested",
            "permission_confirmed",
            "action_started",
            "action_result",
            "action_result",
            "case_finished"
        ]
    );
    assert!(rows[5].payload["quote"].as_str().unwrap().starts_with("Yes, I confirm"));
    assert!(audit::verify(&h.store.conn()).unwrap().first_bad.is_none());
}

async fn release_until_gate(h: &Harness, ticket: u64, username: &str, email: &str) -> casekit::playbook::view::CaseView {
    let case = h.open(ticket, "release-email").await;
    let case = h.identify(&case, username, email).await;
    h.step(&case, StepInput::RunLookup).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_activity_switches_to_ownership_verification_carrying_the_evidence() {
    let h = Harness::new().await;
    for (ticket, username, email, blocked) in [
        (8001, "one-comment-casey", "casey@example.com", "never_signed_in"),
        (8003, "inherited-ivy", "ivy@example.com", "no_associations"),
        (8007, "two-emails-tess", "tess@example.com", "never_signed_in"),
    ] {
        let case = release_until_gate(&h, ticket, username, email).await;
        let first_blocked = gates(&case).iter().find(|g| !g.passed).unwrap();
        assert_eq!(first_blocked.gate, blocked, "{username}");
        assert!(first_blocked.on_fail.contains("Account ownership verification"));
        assert_eq!(h.submit(&case, StepInput::Continue).await.unwrap_err().code(), ErrorCode::OutOfOrder);

        let next = h.step(&case, StepInput::FollowBlock).await;
        assert_eq!(next.playbook_id, "account-ownership-verification");
        assert_eq!(next.origin_case_id, Some(case.id));
        assert_eq!(next.evidence[0].title, "GitLab account", "the evidence came along");
        assert_eq!(form(&next).iter().find(|f| f.id == "username").unwrap().value, username, "facts prefilled");
        let old = engine::case_view(&h.env(), case.id).unwrap();
        assert_eq!((old.outcome.map(|o| o.key()), old.continued_in), (Some("switched"), Some(next.id)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_username_stops_the_case_and_an_unconfirmed_account_goes_to_the_confirmation_path() {
    let h = Harness::new().await;
    let case = release_until_gate(&h, 8001, "someone-else", "quinn@example.com").await;
    let gate = &gates(&case)[0];
    assert!(!gate.passed && gate.detail.contains("@quiet-quinn"), "{gate:?}");
    let stopped = h.step(&case, StepInput::FollowBlock).await;
    assert_eq!(stopped.outcome.map(|o| o.key()), Some("blocked"));
    assert_eq!(h.submit(&case, StepInput::FollowBlock).await.unwrap_err().code(), ErrorCode::CaseClosed);

    let case = release_until_gate(&h, 8010, "unconfirmed-uma", "uma@exmaple.com").await;
    let next = h.step(&case, StepInput::FollowBlock).await;
    assert_eq!(next.playbook_id, "confirmation-email");
    let next = h.identify(&next, "", "uma@exmaple.com").await;
    let next = h.step(&next, StepInput::RunLookup).await;
    assert!(next.evidence.iter().any(|e| e.rows.iter().any(|r| r.value.starts_with("delivered 250"))));
    let next = h.step(&next, StepInput::Decide { option: "typo".into(), reason: "exmaple.com".into() }).await;
    assert_eq!(next.current.as_ref().unwrap().id, "guidance");
    assert!(statuses(&next).contains(&"remove-suppression:skipped".to_owned()));
    let next = h.step(&next, StepInput::SendReply { post: false }).await;
    let done = h.step(&next, StepInput::Finish).await;
    assert_eq!(done.outcome.map(|o| o.key()), Some("completed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppressed_address_is_lifted_from_the_bounce_list() {
    let h = Harness::new().await;
    let case = h.open(8010, "confirmation-email").await;
    let case = h.identify(&case, "", "bo.bounced@example.com").await;
    let case = h.step(&case, StepInput::RunLookup).await;
    assert!(case.evidence[0].rows.iter().any(|r| r.label.starts_with("Suppression") && r.status.as_deref() == Some("blocked")));
    let case = h
        .step(&case, StepInput::Decide { option: "suppressed".into(), reason: "Mailgun shows a bounce suppression".into() })
        .await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "guidance");
    assert!(h.conns.mailgun().unwrap().bounce("bo.bounced@example.com").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_verification_judges_answers_and_a_free_user_may_not_ask_for_others() {
    let h = Harness::new().await;
    let case = h.open(8002, "account-ownership-verification").await;
    let case = h.identify(&case, "paid-pat", "pat@acme.example").await;
    let blocked = h
        .step(&case, StepInput::Decide { option: "free-user-other".into(), reason: "free user asking about a colleague".into() })
        .await;
    assert_eq!(blocked.outcome.map(|o| o.key()), Some("blocked"));

    let case = h.open(8002, "account-ownership-verification").await;
    let case = h.identify(&case, "paid-pat", "pat@acme.example").await;
    let case = h.step(&case, StepInput::Decide { option: "paid-user".into(), reason: "Pat asks about own account".into() }).await;
    let case = h.step(&case, StepInput::RunLookup).await;
    let judged = vec![
        ChallengeResult { id: "ssh-gpg-key".into(), passed: true },
        ChallengeResult { id: "support-pin".into(), passed: false },
        ChallengeResult { id: "project-or-group".into(), passed: true },
    ];
    let bad_risk = h.submit(&case, StepInput::Verify { risk: "extreme".into(), results: judged.clone() }).await;
    assert_eq!(bad_risk.unwrap_err().code(), ErrorCode::InvalidInput);
    let case = h.step(&case, StepInput::Verify { risk: "high".into(), results: judged }).await;
    assert!(case.facts.iter().any(|f| f.value == "failed"), "2 of 3 at high risk fails");
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("reviewer_name".to_owned(), "Riley Reviewer".to_owned());
    fields.insert("reviewer_email".to_owned(), "riley@support.example".to_owned());
    let case = h.step(&case, StepInput::Checklist { ticked: vec!["reviewed".into()], fields }).await;
    let reply = text(&case);
    assert!(reply.contains("failed") && !reply.contains("support-pin") && !reply.contains("PIN"), "never says which: {reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_calls_are_refused_with_stable_codes() {
    let h = Harness::new().await;
    let a = h.open(8001, "release-email").await;
    let dup = engine::open_case(
        &h.env(),
        &engine::NewCase {
            ticket_instance: engine::TicketInstance::Global,
            ticket_id: 8001,
            playbook_id: "release-email".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(dup.to_string().contains("resume it from Cases"), "{dup}");
    let b = h.open(8003, "account-ownership-verification").await;
    // A step of another case's playbook, a later step, and the wrong input for the step.
    assert_eq!(
        engine::submit(&h.env(), a.id, "who-may-answer", StepInput::Continue).await.unwrap_err().code(),
        ErrorCode::OutOfOrder
    );
    assert_eq!(
        engine::submit(&h.env(), b.id, "account-lookup", StepInput::RunLookup).await.unwrap_err().code(),
        ErrorCode::OutOfOrder
    );
    assert_eq!(h.submit(&a, StepInput::RunLookup).await.unwrap_err().code(), ErrorCode::OutOfOrder);
    let missing = h.submit(&a, StepInput::Checklist { ticked: vec![], fields: Default::default() }).await.unwrap_err();
    assert!(missing.to_string().starts_with("Tick"), "{missing}");
    let closed = engine::abandon(&h.env(), a.id, "opened by mistake").unwrap();
    assert_eq!(closed.outcome.map(|o| o.key()), Some("abandoned"));
    assert_eq!(h.submit(&a, StepInput::RunLookup).await.unwrap_err().code(), ErrorCode::CaseClosed);
    let closed_ticket = engine::open_case(
        &h.env(),
        &engine::NewCase {
            ticket_instance: engine::TicketInstance::Global,
            ticket_id: 424242,
            playbook_id: "release-email".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(closed_ticket.code(), ErrorCode::NotFound);
}

async fn at_release_action(h: &Harness) -> casekit::playbook::view::CaseView {
    let case = release_until_gate(h, 8001, "quiet-quinn", "quinn@example.com").await;
    let case = h.step(&case, StepInput::Continue).await;
    h.get_permission(&case, 8001).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_keeps_the_draft_and_the_retry_never_repeats_what_happened() {
    let mut h = Harness::new().await;
    let case = at_release_action(&h).await;
    let confirm = || StepInput::RunAction { confirmation: "quiet-quinn".into() };

    // The secondary email is added, then the primary change loses its connection.
    h.sandbox.arm_fault(gl_fault("PUT", "/api/v4/users/101", Fault::Drop, 1));
    let failed = h.step(&case, confirm()).await;
    let attempt = last_attempt(&failed).cloned().unwrap();
    assert_eq!(attempt.error.unwrap().code, ErrorCode::Unreachable);
    assert_eq!(attempt.calls[0].result.split(':').next(), Some("done"));
    assert_eq!(failed.current.as_ref().unwrap().id, "release", "still the current step");

    // The app restarts; the draft is where it was.
    h.restart();
    let resumed = engine::case_view(&h.env(), case.id).unwrap();
    assert_eq!(resumed.current.as_ref().unwrap().id, "release");

    // A 503 on the re-read: nothing written, still retryable.
    h.sandbox.arm_fault(gl_fault("GET", "/api/v4/users/101", Fault::Status { status: 500 }, 1));
    let again = h.step(&resumed, confirm()).await;
    assert_eq!(last_attempt(&again).cloned().unwrap().error.unwrap().code, ErrorCode::ServiceError);

    let done = h.step(&again, confirm()).await;
    assert_eq!(done.current.as_ref().unwrap().id, "admin-note");
    let gl = h.conns.gitlab().unwrap();
    let releases = gl.emails(101).await.unwrap().into_iter().filter(|e| e.email.starts_with("quinn+release")).count();
    assert_eq!(releases, 0, "the release address is the primary, listed once, never twice");
    assert_eq!(gl.user(101).await.unwrap().email.as_deref(), Some("quinn+release@example.com"));
    let rows = audit::for_case(&h.store.conn(), case.id).unwrap();
    let result = rows.iter().rev().find(|r| r.kind == "action_result").unwrap();
    assert!(result.payload["calls"][0]["result"].as_str().unwrap().starts_with("skipped"), "the add was not repeated");

    // The note: the write is dropped once; the retry appends the line once.
    h.sandbox.arm_fault(gl_fault("PUT", "/api/v4/users/101", Fault::Drop, 1));
    let failed = h.step(&done, StepInput::WriteNote).await;
    assert!(last_attempt(&failed).is_some());
    let noted = h.step(&failed, StepInput::WriteNote).await;
    assert_eq!(noted.current.as_ref().unwrap().id, "summary");
    let note = gl.user(101).await.unwrap().note.unwrap();
    assert_eq!(note.lines().filter(|l| l.contains("email released")).count(), 1, "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_changed_after_the_lookup_is_not_written_to() {
    let h = Harness::new().await;
    let case = at_release_action(&h).await;
    // The lookup is timed out on refresh: nothing changes, the draft stays.
    h.sandbox.arm_fault(gl_fault("GET", "/api/v4/users", Fault::Timeout, 1));
    let err = h.submit(&case, StepInput::Refresh).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    h.sandbox.clear_faults();
    assert_eq!(engine::case_view(&h.env(), case.id).unwrap().current.unwrap().id, "release");

    // Someone changes the primary address behind the agent's back.
    let gl = h.conns.gitlab().unwrap();
    gl.add_email(101, "quinn.other@example.com", true).await.unwrap();
    gl.edit_user(101, &UserEdit { email: Some("quinn.other@example.com".into()), skip_reconfirmation: Some(true), note: None })
        .await
        .unwrap();
    let stale = h.step(&case, StepInput::RunAction { confirmation: "quiet-quinn".into() }).await;
    let attempt = last_attempt(&stale).cloned().unwrap();
    assert_eq!(attempt.error.unwrap().code, ErrorCode::StaleEvidence);
    assert!(attempt.calls.is_empty(), "nothing was written");
    assert!(gl.emails(101).await.unwrap().iter().all(|e| !e.email.contains("+release")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_resumes_at_the_same_step_after_the_process_dies_mid_action() {
    let mut h = Harness::new().await;
    let case = at_release_action(&h).await;
    // The write hangs; the process is "killed" while waiting (the future is dropped).
    h.sandbox.arm_fault(gl_fault("POST", "/api/v4/users/101/emails", Fault::Timeout, 1));
    let killed = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        engine::submit(&h.env(), case.id, "release", StepInput::RunAction { confirmation: "quiet-quinn".into() }),
    )
    .await;
    assert!(killed.is_err(), "the attempt was cut off");
    h.restart();
    let resumed = engine::case_view(&h.env(), case.id).unwrap();
    assert_eq!(resumed.current.as_ref().unwrap().id, "release");
    assert!(last_attempt(&resumed).cloned().unwrap().error.unwrap().message.contains("stopped before its outcome was recorded"));
    assert_eq!(resumed.steps.iter().filter(|s| s.status == "done").count(), 4);
    let done = h.step(&resumed, StepInput::RunAction { confirmation: "quiet-quinn".into() }).await;
    assert_eq!(done.current.unwrap().id, "admin-note");
}

async fn access_until_change(
    h: &Harness,
    username: &str,
    email: &str,
    new_primary: &str,
    passes: bool,
) -> casekit::playbook::view::CaseView {
    let case = h.open(8002, "account-access").await;
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("username".to_owned(), username.to_owned());
    fields.insert("email".to_owned(), email.to_owned());
    fields.insert("new_primary_email".to_owned(), new_primary.to_owned());
    let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields }).await;
    let case = h.step(&case, StepInput::RunLookup).await;
    let case = h.step(&case, StepInput::Decide { option: "paid-user".into(), reason: "asks about own account".into() }).await;
    let results = vec![
        ChallengeResult { id: "ssh-gpg-key".into(), passed: passes },
        ChallengeResult { id: "creation-date".into(), passed: true },
    ];
    let case = h.step(&case, StepInput::Verify { risk: "low".into(), results }).await;
    let mut review = std::collections::BTreeMap::new();
    review.insert("reviewer_name".to_owned(), "Riley".to_owned());
    review.insert("reviewer_email".to_owned(), "riley@support.example".to_owned());
    h.step(&case, StepInput::Checklist { ticked: vec!["reviewed".into()], fields: review }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_access_disables_2fa_for_a_paid_seat_after_verification_and_permission() {
    let h = Harness::new().await;
    let case = access_until_change(&h, "paid-pat", "pat@acme.example", "", true).await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::Decide { option: "disable-2fa".into(), reason: "lost device and codes".into() }).await;
    assert!(text(&case).contains("disable two-factor authentication on the GitLab.com account `paid-pat`"));
    let case = h.get_permission(&case, 8002).await;
    assert_eq!(case.current.as_ref().unwrap().id, "2fa-eligibility");
    assert!(statuses(&case).contains(&"make-primary:skipped".to_owned()));
    let gate = &gates(&case)[0];
    assert!(gate.passed && gate.detail.contains("acme-corp"), "{gate:?}");
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: "paid-pat".into() }).await;
    let line = text(&case);
    assert!(line.contains("| disable two-factor authentication after ownership verification |"), "{line}");
    let case = h.step(&case, StepInput::WriteNote).await;
    assert_eq!(case.current.as_ref().unwrap().id, "summary", "the not-verified reply is not on the passing path");
    let gl = h.conns.gitlab().unwrap();
    let pat = gl.user(109).await.unwrap();
    assert_eq!(pat.two_factor_enabled, Some(false));
    assert!(pat.note.unwrap().contains("disable two-factor authentication"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_access_refuses_a_free_user_2fa_reset_and_a_failed_verification() {
    let h = Harness::new().await;
    let case = access_until_change(&h, "free-fred", "fred@example.com", "", true).await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::Decide { option: "disable-2fa".into(), reason: "lost device and codes".into() }).await;
    let case = h.get_permission(&case, 8002).await;
    let gate = &gates(&case)[0];
    assert!(!gate.passed && gate.detail.contains("never reset for free users"), "{gate:?}");
    assert_eq!(h.step(&case, StepInput::FollowBlock).await.outcome.map(|o| o.key()), Some("blocked"));
    assert_eq!(h.conns.gitlab().unwrap().user(110).await.unwrap().two_factor_enabled, Some(true));

    let case = access_until_change(&h, "paid-pat", "pat@acme.example", "", false).await;
    let case = h.step(&case, StepInput::FollowBlock).await;
    assert_eq!(case.current.as_ref().unwrap().id, "not-verified-reply");
    assert!(text(&case).contains("cannot share which answers"));
    assert!(["change:skipped", "permission:skipped", "disable-2fa:skipped"]
        .iter()
        .all(|s| statuses(&case).contains(&s.to_string())));
    let case = h.step(&case, StepInput::SendReply { post: false }).await;
    assert_eq!(case.current.unwrap().id, "summary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_access_makes_only_a_verified_secondary_email_primary() {
    let h = Harness::new().await;
    for (address, works) in [("tess.old@example.com", false), ("tess.work@example.com", true)] {
        let case = access_until_change(&h, "two-emails-tess", "tess@example.com", address, true).await;
        let case = h.step(&case, StepInput::Continue).await;
        let case = h
            .step(&case, StepInput::Decide { option: "make-primary".into(), reason: "no access to the primary email".into() })
            .await;
        let case = h.get_permission(&case, 8002).await;
        assert_eq!(case.current.as_ref().unwrap().id, "make-primary");
        let after = h.step(&case, StepInput::RunAction { confirmation: "two-emails-tess".into() }).await;
        if works {
            assert_eq!(after.current.as_ref().unwrap().id, "admin-note");
            assert_eq!(h.conns.gitlab().unwrap().user(105).await.unwrap().email.as_deref(), Some(address));
        } else {
            let error = last_attempt(&after).cloned().unwrap().error.unwrap();
            assert!(error.message.contains("not a verified secondary email"), "{}", error.message);
            engine::abandon(&h.env(), after.id, "unverified address").unwrap();
        }
    }
}

/// A project or group change on `ticket` (8017 from Mario, 8018 from Dana, 8019 from Olga),
/// up to the gate on the requester's account and access.
async fn project_change(h: &Harness, ticket: u64, username: &str, kind: &str, target: &str) -> casekit::playbook::view::CaseView {
    let case = h.open(ticket, "project-group-change").await;
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("username".to_owned(), username.to_owned());
    fields.insert("target_kind".to_owned(), kind.to_owned());
    fields.insert("target".to_owned(), target.to_owned());
    fields.insert("change".to_owned(), "re-run the failed pipeline".to_owned());
    let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields }).await;
    h.step(&case, StepInput::RunLookup).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_change_needs_an_owner_or_maintainer_and_their_permission() {
    let h = Harness::new().await;
    // A maintainer of the project, and an owner of the parent group (inherited), pass; each
    // account is the requester's own (it holds the address the ticket came from).
    let case = project_change(&h, 8017, "maint-mario", "project", "acme-corp/api").await;
    let mario = gates(&case);
    assert!(mario.iter().all(|g| g.passed), "{mario:?}");
    assert!(mario[0].detail.contains("@maint-mario holds the requester's email mario@acme.example (primary)"), "{mario:?}");
    let case = h.step(&case, StepInput::Continue).await;
    assert!(text(&case).contains("re-run the failed pipeline in the project `acme-corp/api`"));
    let early = h.submit(&case, StepInput::ManualDone { evidence: String::new() }).await.unwrap_err();
    assert_eq!(early.code(), ErrorCode::OutOfOrder);
    let case = h.get_permission(&case, 8017).await;
    assert_eq!(case.current.as_ref().unwrap().id, "act");
    let case = h.step(&case, StepInput::ManualDone { evidence: "pipeline 42 re-run, passed".into() }).await;
    assert_eq!(h.step(&case, StepInput::Finish).await.outcome.map(|o| o.key()), Some("completed"));
    let olga = project_change(&h, 8019, "owner-olga", "project", "acme-corp/api").await;
    let gate = &gates(&olga)[1];
    assert!(gate.passed && gate.detail.contains("level 50"), "an Owner of the parent group inherits: {gate:?}");
    engine::abandon(&h.env(), olga.id, "only checking inherited access").unwrap();

    // A developer is blocked, asks for an owner; the maintainer's permission lets the case go on.
    let case = project_change(&h, 8018, "dev-dana", "project", "acme-corp/api").await;
    let dana = gates(&case);
    assert!(dana[0].passed, "Dana's account is hers: {dana:?}");
    assert!(!dana[1].passed && dana[1].detail.contains("level 30"), "{dana:?}");
    let case = h.step(&case, StepInput::FollowBlock).await;
    assert_eq!(case.current.as_ref().unwrap().id, "ask-owner");
    let case = h.step(&case, StepInput::SendReply { post: true }).await;
    let mut owner = std::collections::BTreeMap::new();
    owner.insert("owner_username".to_owned(), "dev-dana".to_owned());
    let not_owner = h.step(&case, StepInput::Checklist { ticked: vec!["cc".into()], fields: owner.clone() }).await;
    let not_owner = h.step(&not_owner, StepInput::RunLookup).await;
    assert!(!gates(&not_owner)[0].passed, "a developer cannot give the permission either");
    engine::abandon(&h.env(), not_owner.id, "wrong permission giver").unwrap();

    let case = project_change(&h, 8018, "dev-dana", "project", "acme-corp/api").await;
    let case = h.step(&case, StepInput::FollowBlock).await;
    let case = h.step(&case, StepInput::SendReply { post: false }).await;
    owner.insert("owner_username".to_owned(), "maint-mario".to_owned());
    let case = h.step(&case, StepInput::Checklist { ticked: vec!["cc".into()], fields: owner }).await;
    let case = h.step(&case, StepInput::RunLookup).await;
    let gate = &gates(&case)[0];
    assert!(gate.passed && gate.detail.contains("Only Mario Maintainer <mario@acme.example> (Zendesk user 6015)"), "{gate:?}");
    let case = h.step(&case, StepInput::Continue).await;
    // The back end names who must answer before the request goes out.
    let who = permission(&case).answerer.clone().unwrap();
    assert_eq!((who.role, who.user_id, who.email.as_str()), (Role::PermissionGiver, 6015, "mario@acme.example"));
    assert!(who.why.contains("mario@acme.example is a verified email of @maint-mario"), "{}", who.why);
    let case = h.step(&case, StepInput::RequestPermission { post: true }).await;
    let by_maintainer = h.sandbox.comment_from(Service::Zendesk, 8018, Some(6015), "As maintainer I give permission.").unwrap();
    let comments = engine::ticket_comments(&h.env(), case.id).await.unwrap();
    let offered: Vec<u64> = comments.iter().filter(|c| c.acceptable).map(|c| c.id).collect();
    assert_eq!(offered, [by_maintainer], "only the maintainer's reply is offered");
    let case = h.step(&case, StepInput::ConfirmPermission { comment_id: by_maintainer }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "act");
    let done = case.steps.iter().find(|s| s.id == "owner-permission").unwrap();
    assert!(done.detail.as_deref().unwrap().starts_with("Mario Maintainer <mario@acme.example> confirmed"), "{done:?}");
    let case = h.step(&case, StepInput::ManualDone { evidence: "re-ran pipeline".into() }).await;
    assert_eq!(case.current.unwrap().id, "summary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_keeps_the_playbook_version_it_started_with() {
    let h = Harness::new().await;
    let case = h.open(8001, "release-email").await;
    // Stand-in for a newer Casekit whose shipped playbook differs: the case's own copy is used.
    h.store
        .conn()
        .execute(
            "UPDATE cases SET state = replace(state, 'Requester confirms username and email', 'Older wording') WHERE id = ?1",
            [case.id],
        )
        .unwrap();
    let view = engine::case_view(&h.env(), case.id).unwrap();
    assert_eq!(view.steps[0].title, "Older wording");
    assert_eq!(view.playbook_version, case.playbook_version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_whose_stored_playbook_cannot_be_read_stops_instead_of_running_todays() {
    let h = Harness::new().await;
    let case = h.open(8001, "release-email").await;
    {
        let conn = h.store.conn();
        let state: String = conn.query_row("SELECT state FROM cases WHERE id = ?1", [case.id], |r| r.get(0)).unwrap();
        let mut state: serde_json::Value = serde_json::from_str(&state).unwrap();
        state["definition"]["steps"] = serde_json::json!("a definition a future Casekit wrote");
        conn.execute("UPDATE cases SET state = ?2 WHERE id = ?1", rusqlite::params![case.id, state.to_string()]).unwrap();
    }
    let err = engine::case_view(&h.env(), case.id).unwrap_err();
    assert!(err.to_string().contains("cannot read") && err.to_string().contains("abandon it"), "{err}");
    let err = h.submit(&case, StepInput::Checklist { ticked: vec![], fields: Default::default() }).await.unwrap_err();
    assert!(err.to_string().contains("cannot read"), "nothing runs on today's definition instead: {err}");
}
