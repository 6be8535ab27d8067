//! "Working tickets" playbooks against the sandbox: the malicious-user ban and its escalation
//! branch, and association requests on the global and US Government instances.

mod support;

use std::collections::BTreeMap;

use casekit::connectors::Service;
use casekit::playbook::consent::Role;
use casekit::playbook::engine::{self, NewCase, StepInput, TicketInstance};
use casekit::sandbox::faults::{Fault, FaultRule};
use casekit::store::audit;
use casekit::summary::outbox::{self, Posted};
use support::{calls, fields, gates, last_attempt, permission, text, ticks, Harness};

/// The case summaries posted on ticket 8009.
async fn summary_notes(h: &Harness) -> Vec<casekit::connectors::zendesk::Comment> {
    let comments = h.conns.zendesk(Service::Zendesk).unwrap().comments(8009).await.unwrap();
    comments.into_iter().filter(|c| c.body.contains("Casekit case summary")).collect()
}

async fn investigated(h: &Harness) -> casekit::playbook::view::CaseView {
    let case = h.open(8009, "malicious-user").await;
    let f = fields(&[
        ("findings", "phishing links in the ticket and comment"),
        ("evidence_links", "ticket 8009 comments"),
        ("malicious_reason", "phishing"),
    ]);
    let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields: f }).await;
    h.step(&case, StepInput::RunLookup).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malicious_user_is_suspended_noted_blocklisted_signed_out_and_the_ticket_closed_last() {
    let h = Harness::new().await;
    let case = investigated(&h).await;
    assert!(case.evidence[0].rows.iter().any(|r| r.label == "Active sessions" && r.value == "3"));
    let case = h.step(&case, StepInput::Decide { option: "malicious".into(), reason: "phishing".into() }).await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: "mallory@spam.example".into() }).await;

    // The note's write loses its connection; the retry appends it once.
    h.sandbox.arm_fault(FaultRule {
        service: Some(Service::Zendesk),
        method: Some("PUT".into()),
        path: "/api/v2/users/6003".into(),
        fault: Fault::Drop,
        times: Some(1),
    });
    let failed = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert!(last_attempt(&failed).is_some());
    let case = h.step(&failed, StepInput::RunAction { confirmation: String::new() }).await;

    assert!(text(&case).contains("reject:mallory@spam.example"));
    let case = h.step(&case, StepInput::ManualDone { evidence: "reject:mallory@spam.example".into() }).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: "mallory@spam.example".into() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "close");
    let planned = calls(&case);
    assert!(planned[0].change.contains("case summary") && planned[1].change.contains("status → closed"), "{planned:?}");
    let case = h.step(&case, StepInput::RunAction { confirmation: "mallory@spam.example".into() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "summary");

    // The summary went on the ticket as the last internal note, then the ticket closed.
    let note = summary_notes(&h).await.pop().expect("the case summary is on the ticket");
    assert!(!note.public && note.body.contains("suspend_user — **verified**"), "{}", note.body);
    assert!(note.body.contains("closes this ticket right after this note"), "{}", note.body);
    let rows = audit::for_case(&h.store.conn(), case.id).unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert!(kinds.ends_with(&["action_started", "summary_posted", "action_result"]), "{kinds:?}");
    let results: Vec<&str> =
        rows.last().unwrap().payload["calls"].as_array().unwrap().iter().map(|c| c["result"].as_str().unwrap()).collect();
    assert_eq!(results, [format!("done: case summary posted as internal note {}", note.id).as_str(), "done: status closed"]);
    // Posting the summary again, from the summary step, finds it: no second note, no refusal.
    let again = outbox::post_summary(&h.store, &h.conns, case.id).await.unwrap();
    assert!(matches!(again, Posted::Sent { comment_id, already: true } if comment_id == note.id), "{again:?}");
    assert_eq!(summary_notes(&h).await.len(), 1);

    let zd = h.conns.zendesk(Service::Zendesk).unwrap();
    let user = zd.user(6003).await.unwrap();
    assert!(user.suspended);
    let notes = user.notes.unwrap();
    assert_eq!(notes.lines().filter(|l| l.contains("suspended as malicious: phishing")).count(), 1, "{notes}");
    assert!(notes.contains("/agent/tickets/8009"));
    assert!(zd.sessions(6003).await.unwrap().is_empty());
    assert_eq!(zd.ticket(8009).await.unwrap().status, "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_lost_after_the_summary_is_retried_without_a_second_summary() {
    let h = Harness::new().await;
    let case = investigated(&h).await;
    let case = h.step(&case, StepInput::Decide { option: "malicious".into(), reason: "phishing".into() }).await;
    let case = h.step(&case, StepInput::Continue).await;
    let confirm = || StepInput::RunAction { confirmation: "mallory@spam.example".into() };
    let case = h.step(&case, confirm()).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    let case = h.step(&case, StepInput::ManualDone { evidence: "reject:mallory@spam.example".into() }).await;
    let case = h.step(&case, confirm()).await;
    assert_eq!(case.current.as_ref().unwrap().id, "close");

    // The first update of the ticket (the summary) goes through; the second (the close) loses
    // its connection.
    let rule = FaultRule {
        service: Some(Service::Zendesk),
        method: Some("PUT".into()),
        path: "/api/v2/tickets/8009".into(),
        fault: Fault::Drop,
        times: Some(1),
    };
    h.sandbox.arm_fault_after(1, rule);
    let failed = h.step(&case, confirm()).await;
    assert_eq!(failed.current.as_ref().unwrap().id, "close", "the step stays current");
    let attempt = last_attempt(&failed).cloned().unwrap();
    assert_eq!(attempt.error.unwrap().code, casekit::ErrorCode::Unreachable);
    assert_eq!(attempt.calls.len(), 1, "the summary was posted: {:?}", attempt.calls);
    assert!(h.sandbox.armed_faults().is_empty(), "the fault hit the close");
    let zd = h.conns.zendesk(Service::Zendesk).unwrap();
    assert_eq!(zd.ticket(8009).await.unwrap().status, "new", "not closed yet");
    assert_eq!(summary_notes(&h).await.len(), 1);

    let done = h.step(&failed, confirm()).await;
    assert_eq!(done.current.as_ref().unwrap().id, "summary");
    assert_eq!(zd.ticket(8009).await.unwrap().status, "closed");
    let notes = summary_notes(&h).await;
    assert_eq!(notes.len(), 1, "the retry found the summary and did not post it again");
    let rows = audit::for_case(&h.store.conn(), done.id).unwrap();
    let tail: Vec<(&str, Option<bool>)> =
        rows.iter().rev().take(6).rev().map(|r| (r.kind.as_str(), r.payload["already"].as_bool())).collect();
    assert_eq!(
        tail,
        [
            ("action_started", None),
            ("summary_posted", Some(false)),
            ("action_failed", None),
            ("action_started", None),
            ("summary_posted", Some(true)),
            ("action_result", None),
        ]
    );
    let results: Vec<&str> =
        rows.last().unwrap().payload["calls"].as_array().unwrap().iter().map(|c| c["result"].as_str().unwrap()).collect();
    assert_eq!(
        results,
        [format!("skipped: the case summary is on the ticket (comment {})", notes[0].id).as_str(), "done: status closed"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_doubt_the_case_escalates_and_nothing_changes() {
    let h = Harness::new().await;
    let case = investigated(&h).await;
    let case =
        h.step(&case, StepInput::Decide { option: "escalate".into(), reason: "could be a compromised account".into() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "escalate");
    assert!(text(&case).contains("Findings: phishing links"));
    let case = h.step(&case, StepInput::ManualDone { evidence: "sent to #security".into() }).await;
    assert_eq!(case.current.unwrap().id, "summary");
    assert!(!h.conns.zendesk(Service::Zendesk).unwrap().user(6003).await.unwrap().suspended);
}

async fn association(h: &Harness, instance: TicketInstance, ticket: u64, org: &str) -> casekit::playbook::view::CaseView {
    let new = NewCase { ticket_instance: instance, ticket_id: ticket, playbook_id: "association-request".into() };
    let case = engine::open_case(&h.env(), &new).await.unwrap();
    let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields: fields(&[("organization_id", org)]) }).await;
    h.step(&case, StepInput::RunLookup).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_requests_on_each_instance_and_the_contact_limit() {
    let h = Harness::new().await;
    let case = association(&h, TicketInstance::Global, 8005, "7001").await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "associated-reply");
    let zd = h.conns.zendesk(Service::Zendesk).unwrap();
    assert!(zd.organization_memberships(7001).await.unwrap().iter().any(|m| m.user_id == 6014));

    let full = association(&h, TicketInstance::Global, 8016, "7002").await;
    let gate = &gates(&full)[0];
    assert!(!gate.passed && gate.detail.contains("30 of 30"), "{gate:?}");
    let reply = h.step(&full, StepInput::FollowBlock).await;
    assert_eq!(reply.current.as_ref().unwrap().id, "limit-reply");

    let gov = association(&h, TicketInstance::UsGov, 9001, "7101").await;
    assert_eq!(gov.current.as_ref().unwrap().id, "us-gov-reply");
    assert!(text(&gov).contains("am.federal@gitlab.example"));
    let gov = h.step(&gov, StepInput::SendReply { post: true }).await;
    let gov = h.step(&gov, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(gov.current.unwrap().id, "summary");
    assert_eq!(h.conns.zendesk(Service::ZendeskUsGov).unwrap().ticket(9001).await.unwrap().status, "solved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_troubleshooting_asks_only_for_what_is_missing() {
    let h = Harness::new().await;
    let case = h.open(8006, "portal-troubleshooting").await;
    let case = h
        .step(&case, StepInput::Checklist { ticked: vec!["cookies".into(), "browser-type".into()], fields: BTreeMap::new() })
        .await;
    assert_eq!(case.current.as_ref().unwrap().id, "reply-missing");
    let reply = text(&case);
    assert!(reply.contains("- All plugins, extensions and add-ons disabled") && reply.contains("JavaScript console"), "{reply}");
    assert!(!reply.contains("Third-party cookies") && !reply.contains("Browser type sent"), "{reply}");

    let all: Vec<String> =
        ["cookies", "plugins", "themes", "cache", "retried", "browser-version", "browser-type", "os", "other-info", "console"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    engine::abandon(&h.env(), case.id, "replied").unwrap();
    let case = h.open(8006, "portal-troubleshooting").await;
    let case = h.step(&case, StepInput::Checklist { ticked: all, fields: BTreeMap::new() }).await;
    assert_eq!(case.current.unwrap().id, "analyze", "everything provided: analyze it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_email_is_added_by_user_type_and_never_made_primary() {
    let h = Harness::new().await;
    let zd = h.conns.zendesk(Service::Zendesk).unwrap();

    // GitLab.com user: an unverified address is refused, a verified one is added.
    for (address, verified) in [("tess.old@example.com", false), ("tess.work@example.com", true)] {
        let case = h.open(8007, "secondary-email").await;
        let case = h.step(&case, StepInput::Decide { option: "gitlab-com".into(), reason: "a GitLab.com user".into() }).await;
        let f = fields(&[("gitlab_username", "two-emails-tess"), ("new_email", address)]);
        let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields: f }).await;
        let case = h.step(&case, StepInput::RunLookup).await;
        let found = gates(&case);
        assert!(found[0].passed, "the account holds the requester's email: {found:?}");
        assert_eq!(found[1].passed, verified, "{found:?}");
        if verified {
            let case = h.step(&case, StepInput::Continue).await;
            assert!(calls(&case)[0].change.contains("never primary"));
            let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
            assert_eq!(case.current.as_ref().unwrap().id, "summary", "{:?}", case.current);
        } else {
            let case = h.step(&case, StepInput::FollowBlock).await;
            assert_eq!(case.current.as_ref().unwrap().id, "not-verified-reply");
            engine::abandon(&h.env(), case.id, "asked to verify first").unwrap();
        }
    }
    // The requester's profile (6004, primary tess@example.com) gained tess.work@… as a secondary.
    let ids = zd.identities(6004).await.unwrap();
    assert!(ids.iter().any(|i| i.value == "tess.work@example.com" && !i.primary));
    assert!(ids.iter().any(|i| i.value == "tess@example.com" && i.primary));

    // Self-Managed: the new address writes in (ticket 8020 from okowalski@…, user 6017), the
    // profile's primary olga@acme.example (user 6002) is CC'd and confirms.
    let case = h.open(8020, "secondary-email").await;
    let case = h.step(&case, StepInput::Decide { option: "self-managed".into(), reason: "a Self-Managed license".into() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "entitlement");
    let f = fields(&[("new_email", "okowalski@fastmail.example"), ("primary_email", "olga@acme.example")]);
    let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields: f }).await;
    let case = h.step(&case, StepInput::RunLookup).await;
    // An unquoted search for olga@acme.example lists olga@acme.example.attacker.example (user
    // 5999) first; the profile found is the one that holds the address itself.
    let profile = case.evidence.iter().flat_map(|e| &e.rows).find(|r| r.label == "Support-portal profile").unwrap();
    assert!(profile.value.ends_with("id 6002"), "{profile:?}");
    let gate = &gates(&case)[0];
    assert!(gate.passed && gate.detail.contains("Olga Owner <olga@acme.example> must confirm"), "{gate:?}");
    let case = h.step(&case, StepInput::Continue).await;
    let early = h.submit(&case, StepInput::RunAction { confirmation: String::new() }).await.unwrap_err();
    assert_eq!(early.code(), casekit::ErrorCode::OutOfOrder);
    let who = permission(&case).answerer.clone().unwrap();
    assert_eq!((who.role, who.user_id), (Role::PrimaryAddress, 6002));
    let case = h.step(&case, StepInput::RequestPermission { post: true }).await;
    let confirm = h.sandbox.comment_from(Service::Zendesk, 8020, Some(6002), "I confirm, please add it.").unwrap();
    let case = h.step(&case, StepInput::ConfirmPermission { comment_id: confirm }).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(case.current.unwrap().id, "summary");
    let olga = zd.identities(6002).await.unwrap();
    let added = olga.iter().find(|i| i.value == "okowalski@fastmail.example").unwrap();
    assert!(!added.primary && olga.iter().any(|i| i.primary && i.value == "olga@acme.example"));
    assert_eq!(zd.identities(5999).await.unwrap().len(), 1, "the lookalike's profile is untouched");
    // Zendesk had made a user of the new address when it wrote in: merged into the profile.
    assert_eq!(zd.ticket(8020).await.unwrap().requester_id, 6002, "the new address's tickets are the profile's now");
    assert_eq!(zd.user(6017).await.unwrap_err().code(), casekit::ErrorCode::NotFound);
}

/// The Self-Managed secondary-email path up to the profile lookup, for `primary`.
async fn profile_lookup(h: &Harness, primary: &str) -> casekit::Result<casekit::playbook::view::CaseView> {
    let case = h.open(8008, "secondary-email").await;
    let case = h.step(&case, StepInput::Decide { option: "self-managed".into(), reason: "a Self-Managed license".into() }).await;
    let f = fields(&[("new_email", "gus.second@globex.example"), ("primary_email", primary)]);
    let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields: f }).await;
    let result = h.submit(&case, StepInput::RunLookup).await;
    engine::abandon(&h.env(), case.id, "looked up only").unwrap();
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_portal_profile_is_found_by_its_exact_address_or_the_lookup_stops() {
    let h = Harness::new().await;
    // What an attacker might give as "the primary address": a wildcard Zendesk search expands.
    let wildcard = profile_lookup(&h, "o*@acme.example").await.unwrap_err();
    assert_eq!(wildcard.code(), casekit::ErrorCode::NotFound);
    assert!(wildcard.to_string().contains("No support-portal user has exactly o*@acme.example"), "{wildcard}");
    let found = profile_lookup(&h, "OLGA@acme.example").await.unwrap();
    let profile = found.evidence.iter().flat_map(|e| &e.rows).find(|r| r.label == "Support-portal profile").unwrap();
    assert!(profile.value.ends_with("id 6002"), "{profile:?}");

    // Two profiles holding the address (data Zendesk would not create today, but old data has).
    let mut fixture = casekit::sandbox::world::Fixture::builtin();
    let lookalike = fixture.zendesk.users.iter_mut().find(|u| u.id == 5999).unwrap();
    lookalike.identities.push(casekit::sandbox::world::ZdIdentity {
        id: 599901,
        kind: "email".into(),
        value: "olga@acme.example".into(),
        verified: true,
        primary: false,
    });
    let h = Harness::with_fixture(fixture).await;
    let several = profile_lookup(&h, "olga@acme.example").await.unwrap_err();
    assert_eq!(several.code(), casekit::ErrorCode::InvalidInput);
    assert!(several.to_string().contains("2 support-portal users hold olga@acme.example (ids 5999, 6002)"), "{several}");
}

/// The form-correction checklist: the self-managed form (360004), these field values, FRT.
fn choose(values: &str) -> StepInput {
    StepInput::Checklist {
        ticked: vec!["reviewed".into()],
        fields: fields(&[
            ("target_form_id", "360004"),
            ("field_values", values),
            ("stage", "FRT"),
            ("stage_reason", "a technical question that needs a first reply"),
        ]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incorrect_form_is_moved_with_all_its_fields_and_the_stage_in_one_update() {
    let h = Harness::new().await;
    let case = h.open(8008, "incorrect-form").await;
    let case = h.step(&case, StepInput::RunLookup).await;
    assert!(case.evidence[0].rows.iter().any(|r| r.label == "Current form" && r.value.contains("360002")));
    // The self-managed form lists Zendesk's own fields (subject, description, status, type,
    // priority, group, assignee; several "required"), a retired required field, and a runner
    // version shown only for the runner component. Only its required custom field,
    // GitLab version (1006), is still empty: the gate asks for that and nothing else.
    let case = h.step(&case, choose("")).await;
    let gate = &gates(&case)[0];
    assert!(!gate.passed, "{gate:?}");
    assert_eq!(gate.detail, "The chosen form still needs GitLab version (1006): fill them in the previous step (id=value).");
    let case = h.step(&case, StepInput::FollowBlock).await;
    assert_eq!(case.current.as_ref().unwrap().id, "correct");
    let case = h.step(&case, choose("1006=17.5.1")).await;
    let gate = &gates(&case)[0];
    assert!(gate.passed, "system fields and a hidden conditional field need no value: {gate:?}");
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(case.current.unwrap().id, "summary");
    let ticket = h.conns.zendesk(Service::Zendesk).unwrap().ticket(8008).await.unwrap();
    assert_eq!(ticket.ticket_form_id, Some(360004));
    assert!(ticket.tags.contains(&"stage_frt".to_owned()));
    assert!(ticket.custom_fields.iter().any(|f| f.id == 1006 && f.value == "17.5.1"));
    assert!(ticket.custom_fields.iter().any(|f| f.id == 1001), "existing field values are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_field_is_demanded_once_its_condition_holds() {
    let h = Harness::new().await;
    let case = h.open(8008, "incorrect-form").await;
    let case = h.step(&case, StepInput::RunLookup).await;
    // Component (1007) "runner" shows "Runner version" (1008), required by the form's condition
    // although the field itself is not.
    let case = h.step(&case, choose("1006=17.5.1, 1007=runner, 1010=yes")).await;
    let gate = &gates(&case)[0];
    assert!(!gate.passed && gate.detail.contains("Runner version (1008)") && !gate.detail.contains("1006"), "{gate:?}");
    let case = h.step(&case, StepInput::FollowBlock).await;
    let case = h.step(&case, choose("1006=17.5.1, 1007=runner, 1010=yes, 1008=17.5.0")).await;
    assert!(gates(&case)[0].passed);
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(case.current.unwrap().id, "summary");
    let ticket = h.conns.zendesk(Service::Zendesk).unwrap().ticket(8008).await.unwrap();
    let value = |id: u64| ticket.custom_fields.iter().find(|f| f.id == id).map(|f| f.value.clone());
    assert_eq!(value(1007), Some(serde_json::json!("runner")));
    assert_eq!(value(1008), Some(serde_json::json!("17.5.0")));
    assert_eq!(value(1010), Some(serde_json::json!(true)), "a checkbox is sent as a boolean");
}
