//! "Working tickets" playbooks against the sandbox: the malicious-user ban and its escalation
//! branch, and association requests on the global and US Government instances.

mod support;

use std::collections::BTreeMap;

use casekit::connectors::Service;
use casekit::playbook::engine::{self, NewCase, StepInput, TicketInstance};
use casekit::sandbox::faults::{Fault, FaultRule};
use support::{fields, ticks, Harness};

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
        after: None,
    });
    let failed = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert!(failed.current.as_ref().unwrap().last_attempt.is_some());
    let case = h.step(&failed, StepInput::RunAction { confirmation: String::new() }).await;

    let blocklist = case.current.clone().unwrap();
    assert!(blocklist.text.unwrap().contains("reject:mallory@spam.example"));
    let case = h.step(&case, StepInput::ManualDone { evidence: "reject:mallory@spam.example".into() }).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: "mallory@spam.example".into() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "close");
    let case = h.step(&case, StepInput::RunAction { confirmation: "mallory@spam.example".into() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "summary");

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
async fn in_doubt_the_case_escalates_and_nothing_changes() {
    let h = Harness::new().await;
    let case = investigated(&h).await;
    let case =
        h.step(&case, StepInput::Decide { option: "escalate".into(), reason: "could be a compromised account".into() }).await;
    let step = case.current.clone().unwrap();
    assert_eq!(step.id, "escalate");
    assert!(step.text.unwrap().contains("Findings: phishing links"));
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
    let gate = &full.current.as_ref().unwrap().gates[0];
    assert!(!gate.passed && gate.detail.contains("30 of 30"), "{gate:?}");
    let reply = h.step(&full, StepInput::FollowBlock).await;
    assert_eq!(reply.current.as_ref().unwrap().id, "limit-reply");

    let gov = association(&h, TicketInstance::UsGov, 9001, "7101").await;
    let step = gov.current.clone().unwrap();
    assert_eq!(step.id, "us-gov-reply");
    assert!(step.text.unwrap().contains("am.federal@gitlab.example"));
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
    let reply = case.current.clone().unwrap();
    assert_eq!(reply.id, "reply-missing");
    let text = reply.text.unwrap();
    assert!(text.contains("- All plugins, extensions and add-ons disabled") && text.contains("JavaScript console"), "{text}");
    assert!(!text.contains("Third-party cookies") && !text.contains("Browser type sent"), "{text}");

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
        let case = h.step(&case, StepInput::Decide { option: "gitlab-com".into(), reason: String::new() }).await;
        let f = fields(&[("gitlab_username", "two-emails-tess"), ("new_email", address)]);
        let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields: f }).await;
        let case = h.step(&case, StepInput::RunLookup).await;
        let gate = case.current.clone().unwrap().gates.remove(0);
        assert_eq!(gate.passed, verified, "{gate:?}");
        if verified {
            let case = h.step(&case, StepInput::Continue).await;
            assert!(case.current.as_ref().unwrap().calls[0].change.contains("never primary"));
            let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
            let current = case.current.unwrap();
            assert_eq!(current.id, "summary", "{:?}", current.last_attempt);
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

    // Self-Managed: ticket from the new address, entitlement, and the primary's confirming comment.
    let case = h.open(8008, "secondary-email").await;
    let case = h.step(&case, StepInput::Decide { option: "self-managed".into(), reason: String::new() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "entitlement");
    let f = fields(&[("new_email", "gus.second@globex.example"), ("primary_email", "olga@acme.example")]);
    let case = h.step(&case, StepInput::Checklist { ticked: ticks(&case), fields: f }).await;
    let case = h.step(&case, StepInput::RunLookup).await;
    let early = h.submit(&case, StepInput::RunAction { confirmation: String::new() }).await.unwrap_err();
    assert_eq!(early.code(), casekit::ErrorCode::OutOfOrder);
    let case = h.step(&case, StepInput::RequestPermission { post: true }).await;
    let confirm = h.sandbox.comment_from(Service::Zendesk, 8008, Some(6002), "I confirm, please add it.").unwrap();
    let case = h.step(&case, StepInput::ConfirmPermission { comment_id: confirm }).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(case.current.unwrap().id, "summary");
    let olga = zd.identities(6002).await.unwrap();
    let added = olga.iter().find(|i| i.value == "gus.second@globex.example").unwrap();
    assert!(!added.primary && olga.iter().any(|i| i.primary && i.value == "olga@acme.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incorrect_form_is_moved_with_all_its_fields_and_the_stage_in_one_update() {
    let h = Harness::new().await;
    let case = h.open(8008, "incorrect-form").await;
    let case = h.step(&case, StepInput::RunLookup).await;
    assert!(case.evidence[0].rows.iter().any(|r| r.label == "Current form" && r.value.contains("360002")));
    let choose = |values: &str| StepInput::Checklist {
        ticked: vec!["reviewed".into()],
        fields: fields(&[
            ("target_form_id", "360004"),
            ("field_values", values),
            ("stage", "FRT"),
            ("stage_reason", "a technical question that needs a first reply"),
        ]),
    };
    // Field 1006 of the self-managed form is still empty: the gate sends the agent back.
    let case = h.step(&case, choose("")).await;
    let gate = case.current.clone().unwrap().gates.remove(0);
    assert!(!gate.passed && gate.detail.contains("1006"), "{gate:?}");
    let case = h.step(&case, StepInput::FollowBlock).await;
    assert_eq!(case.current.as_ref().unwrap().id, "correct");
    let case = h.step(&case, choose("1006=runner")).await;
    let case = h.step(&case, StepInput::Continue).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(case.current.unwrap().id, "summary");
    let ticket = h.conns.zendesk(Service::Zendesk).unwrap().ticket(8008).await.unwrap();
    assert_eq!(ticket.ticket_form_id, Some(360004));
    assert!(ticket.tags.contains(&"stage_frt".to_owned()));
    assert!(ticket.custom_fields.iter().any(|f| f.id == 1006 && f.value == "runner"));
    assert!(ticket.custom_fields.iter().any(|f| f.id == 1001), "existing field values are kept");
}
