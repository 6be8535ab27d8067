//! Case summaries from the audit log, posted once to the ticket, waiting in the outbox while
//! Zendesk is down, and found again by search.

mod support;

use casekit::connectors::Service;
use casekit::playbook::engine::StepInput;
use casekit::sandbox::faults::{Fault, FaultRule};
use casekit::store::audit;
use casekit::store::columns::OutboxState;
use casekit::store::search::{self, AuditFilter};
use casekit::summary::{self, outbox, outbox::Posted};
use support::{fields, ticks, Harness};

async fn released(h: &Harness) -> i64 {
    let case = h.open(8001, "release-email").await;
    let case = h.identify(&case, "quiet-quinn", "quinn@example.com").await;
    let case = h.step(&case, StepInput::RunLookup).await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.get_permission(&case, 8001).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: "quiet-quinn".into() }).await;
    let case = h.step(&case, StepInput::WriteNote).await;
    h.step(&case, StepInput::Finish).await.id
}

fn zendesk_down(h: &Harness) {
    h.sandbox.arm_fault(FaultRule {
        service: Some(Service::Zendesk),
        method: None,
        path: "/api/v2/*".into(),
        fault: Fault::Drop,
        times: None,
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_of_a_release_is_the_case_as_the_audit_log_recorded_it() {
    let h = Harness::new().await;
    let id = released(&h).await;
    let s = summary::render(&h.store.conn(), id).unwrap();
    let md = &s.markdown;
    for expected in [
        "**Ticket:** #8001 (global)",
        "Please release my email address",
        "**Requester:** Quinn Quiet <quinn@example.com>",
        "Release an email address (`release-email`, version `",
        "**Agent:** Sam Agent <sam@support.example>",
        "**Outcome:** completed",
        "passed: no associations — 0 groups, 0 projects, 0 issues, 0 merge requests.",
        "passed: never signed in — Never signed in; no last activity.",
        "Could you please confirm that you would like us to change the email address",
        "“Yes, I confirm, please go ahead.”",
        "release_email — **verified**",
        "Accounts holding the old address: none: released",
        "| email released (+release) | user requested, Casekit case",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in:\n{md}");
    }
    let last = audit::for_case(&h.store.conn(), id).unwrap().pop().unwrap();
    assert_eq!(s.head_hash, last.hash);
    assert!(md.contains(&last.hash), "the chain hash of the last row is quoted");
    assert!(md.contains(&s.marker));
    let c = h.sandbox.credentials();
    for token in [&c.gitlab.admin_token, &c.zendesk.token, &c.mailgun.api_key, &c.customersdot.token] {
        assert!(!md.contains(token.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switched_case_summary_shows_the_blocking_evidence() {
    let h = Harness::new().await;
    let case = h.open(8001, "release-email").await;
    let case = h.identify(&case, "one-comment-casey", "casey@example.com").await;
    let case = h.step(&case, StepInput::RunLookup).await;
    h.step(&case, StepInput::FollowBlock).await;
    let md = summary::render(&h.store.conn(), case.id).unwrap().markdown;
    assert!(md.contains("**blocked** at never_signed_in: Signed in 1 time(s)"), "{md}");
    assert!(md.contains("switch:account-ownership-verification"), "{md}");
    assert!(md.contains("**Outcome:** switched"), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_twice_leaves_one_internal_note() {
    let h = Harness::new().await;
    let id = released(&h).await;
    let first = outbox::post_summary(&h.store, &h.conns, id).await.unwrap();
    let second = outbox::post_summary(&h.store, &h.conns, id).await.unwrap();
    let (Posted::Sent { comment_id: a, already: false }, Posted::Sent { comment_id: b, already: true }) = (first, second) else {
        panic!("expected one post and one recognised repeat");
    };
    assert_eq!(a, b);
    let comments = h.conns.zendesk(Service::Zendesk).unwrap().comments(8001).await.unwrap();
    let notes: Vec<_> = comments.iter().filter(|c| c.body.contains("Casekit case summary")).collect();
    assert_eq!(notes.len(), 1);
    assert!(!notes[0].public, "an internal note");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_zendesk_down_the_note_waits_in_the_outbox_and_is_posted_once_it_comes_back() {
    let h = Harness::new().await;
    let id = released(&h).await;
    zendesk_down(&h);
    let Posted::Queued { outbox_id, error } = outbox::post_summary(&h.store, &h.conns, id).await.unwrap() else {
        panic!("expected queued")
    };
    assert_eq!(error.code, casekit::ErrorCode::Unreachable);
    let again = outbox::post_summary(&h.store, &h.conns, id).await.unwrap();
    assert!(matches!(again, Posted::Queued { outbox_id: o, .. } if o == outbox_id), "one waiting item per summary");

    let still = outbox::flush(&h.store, &h.conns, true, None).await.unwrap();
    assert_eq!((still.sent, still.waiting), (0, 1));
    let item = &casekit::store::outbox::list(&h.store.conn()).unwrap()[0];
    assert_eq!((item.state, item.attempts), (OutboxState::Pending, 2));
    assert!(item.last_error.as_deref().unwrap().contains("Zendesk"));

    h.sandbox.clear_faults();
    assert_eq!(outbox::flush(&h.store, &h.conns, false, None).await.unwrap().sent, 0, "not due yet: backoff");
    assert_eq!(outbox::flush(&h.store, &h.conns, true, None).await.unwrap().sent, 1);
    assert_eq!(outbox::flush(&h.store, &h.conns, true, None).await.unwrap().sent, 0, "nothing left");
    let item = &casekit::store::outbox::list(&h.store.conn()).unwrap()[0];
    assert_eq!(item.state, OutboxState::Sent);
    let comments = h.conns.zendesk(Service::Zendesk).unwrap().comments(8001).await.unwrap();
    assert_eq!(comments.iter().filter(|c| c.body.contains("Casekit case summary")).count(), 1);
    let kinds: Vec<String> = audit::for_case(&h.store.conn(), id).unwrap().into_iter().map(|r| r.kind).collect();
    assert!(kinds.ends_with(&["summary_queued".into(), "summary_queued".into(), "summary_posted".into()]), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discarded_item_is_recorded_and_never_sent() {
    let h = Harness::new().await;
    let id = released(&h).await;
    zendesk_down(&h);
    let Posted::Queued { outbox_id, .. } = outbox::post_summary(&h.store, &h.conns, id).await.unwrap() else { panic!() };
    outbox::discard(&h.store, &h.conns, outbox_id, "posted by hand").unwrap();
    h.sandbox.clear_faults();
    assert_eq!(outbox::flush(&h.store, &h.conns, true, None).await.unwrap().sent, 0);
    let last = audit::for_case(&h.store.conn(), id).unwrap().pop().unwrap();
    assert_eq!((last.kind.as_str(), last.payload["reason"].as_str()), ("summary_discarded", Some("posted by hand")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_a_case_by_ticket_number_email_and_a_word_from_a_note() {
    let h = Harness::new().await;
    let released = released(&h).await;
    let other = h.open(8010, "confirmation-email").await.id;
    let find = |text: &str| {
        let page = search::query(&h.store.conn(), &AuditFilter { text: Some(text.into()), ..Default::default() }).unwrap();
        let mut cases: Vec<i64> = page.rows.iter().filter_map(|r| r.case_id).collect();
        cases.sort_unstable();
        cases.dedup();
        cases
    };
    assert_eq!(find("#8001"), [released]);
    assert_eq!(find("quinn@example.com"), [released]);
    assert_eq!(find("released"), [released], "a word from the admin note");
    assert_eq!(find("Uma"), [other], "by the requester's name");
    assert!(find("nothing-like-this").is_empty());

    let by_ticket = search::query(&h.store.conn(), &AuditFilter { ticket: Some("8010".into()), ..Default::default() }).unwrap();
    assert!(by_ticket.rows.iter().all(|r| r.case_id == Some(other)) && by_ticket.total == 1);
    let by_playbook = search::query(
        &h.store.conn(),
        &AuditFilter { playbook: Some("release-email".into()), limit: Some(3), ..Default::default() },
    )
    .unwrap();
    assert_eq!(by_playbook.rows.len(), 3);
    assert_eq!(by_playbook.total, 10);
    let future = search::query(&h.store.conn(), &AuditFilter { from: Some("2999-01-01".into()), ..Default::default() }).unwrap();
    assert_eq!(future.total, 0);
    let mut out = Vec::new();
    let n =
        search::export_jsonl(&h.store.conn(), &AuditFilter { case_id: Some(released), ..Default::default() }, &mut out).unwrap();
    assert_eq!(n, 10);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 10);
    assert!(!text.contains(&h.sandbox.credentials().gitlab.admin_token));
    // Rows appended after a search are indexed by the next one, once each.
    casekit::playbook::engine::abandon(&h.env(), other, "zebra-crossing duplicate ticket").unwrap();
    assert_eq!(find("zebra-crossing"), [other]);
    let once =
        search::query(&h.store.conn(), &AuditFilter { text: Some("zebra-crossing".into()), ..Default::default() }).unwrap();
    assert_eq!(once.total, 1, "the new row is in the index once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summaries_of_account_access_and_project_change_match_their_cases() {
    let h = Harness::new().await;

    let case = h.open(8002, "account-access").await;
    let case = h
        .step(
            &case,
            StepInput::Checklist {
                ticked: ticks(&case),
                fields: fields(&[("username", "paid-pat"), ("email", "pat@acme.example")]),
            },
        )
        .await;
    let case = h.step(&case, StepInput::RunLookup).await;
    let case = h.step(&case, StepInput::Decide { option: "paid-user".into(), reason: "asks about own account".into() }).await;
    let results = vec![
        casekit::playbook::engine::ChallengeResult { id: "ssh-gpg-key".into(), passed: true },
        casekit::playbook::engine::ChallengeResult { id: "support-pin".into(), passed: true },
    ];
    let case = h.step(&case, StepInput::Verify { risk: "low".into(), results }).await;
    let case = h
        .step(
            &case,
            StepInput::Checklist {
                ticked: vec!["reviewed".into()],
                fields: fields(&[("reviewer_name", "Riley"), ("reviewer_email", "riley@support.example")]),
            },
        )
        .await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::Decide { option: "disable-2fa".into(), reason: "lost device".into() }).await;
    let case = h.get_permission(&case, 8002).await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: "paid-pat".into() }).await;
    let case = h.step(&case, StepInput::WriteNote).await;
    let id = h.step(&case, StepInput::Finish).await.id;
    let md = summary::render(&h.store.conn(), id).unwrap().markdown;
    for expected in [
        "Account access request (`account-access`",
        "2 of 2 challenges matched, 2 required at low risk: **passed**",
        "passed: two factor eligible — Seat in a paid namespace: acme-corp.",
        "disable two-factor authentication on the GitLab.com account `paid-pat`",
        "disable_two_factor — **verified** (Two-factor authentication: off)",
        "| disable two-factor authentication after ownership verification |",
        "- reviewer name: Riley",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in:\n{md}");
    }

    let case = h.open(8017, "project-group-change").await;
    let f = fields(&[
        ("username", "maint-mario"),
        ("target_kind", "project"),
        ("target", "acme-corp/api"),
        ("change", "re-run the failed pipeline"),
    ]);
    let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields: f }).await;
    let case = h.step(&case, StepInput::RunLookup).await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.get_permission(&case, 8017).await;
    let case = h.step(&case, StepInput::ManualDone { evidence: "pipeline 42 re-run, green".into() }).await;
    let id = h.step(&case, StepInput::Finish).await.id;
    let md = summary::render(&h.store.conn(), id).unwrap().markdown;
    assert!(md.contains("@maint-mario has access level 40 on project acme-corp/api (40 needed)."), "{md}");
    assert!(md.contains("done by hand: pipeline 42 re-run, green"), "{md}");
    assert!(md.contains("permission for Support to re-run the failed pipeline in the project `acme-corp/api`"), "{md}");
}
