//! The customers-portal sign-in playbook: each sandbox persona diagnosed as its scenario from
//! live evidence, each resolution's actions changing the sandbox, manual mode, Mailgun paging
//! and a suppressed address.

mod support;

use std::collections::BTreeMap;

use casekit::connectors::customersdot::CustomerQuery;
use casekit::connectors::session::{Connections, Credentials};
use casekit::connectors::{HttpSettings, Service};
use casekit::playbook::engine::{Env, StepInput};
use casekit::playbook::view::CaseView;
use casekit::playbook::Catalog;
use casekit::secrets::{Keychain, Secret, Tokens};
use casekit::store::profiles::{self, CustomersDotMode, ProfileInput, ServiceSettings};
use casekit::ErrorCode;
use support::Harness;

async fn diagnose(h: &Harness, env: &Env<'_>, ticket: u64, others: &str) -> CaseView {
    let new = casekit::playbook::engine::NewCase {
        ticket_instance: casekit::playbook::engine::TicketInstance::Global,
        ticket_id: ticket,
        playbook_id: "customersdot-sign-in".into(),
    };
    let case = casekit::playbook::engine::open_case(env, &new).await.unwrap();
    let current = case.current.clone().unwrap();
    let requester = current.fields.iter().find(|f| f.id == "requester_email").unwrap().value.clone();
    assert!(!requester.is_empty(), "prefilled from the ticket's requester");
    let mut fields = BTreeMap::new();
    fields.insert("requester_email".to_owned(), requester);
    fields.insert("other_emails".to_owned(), others.to_owned());
    let step = |c: &CaseView, input| {
        let id = c.current.as_ref().unwrap().id.clone();
        let case_id = c.id;
        async move { casekit::playbook::engine::submit(env, case_id, &id, input).await.unwrap() }
    };
    let case = step(&case, StepInput::Checklist { ticked: vec!["console-needed".into()], fields }).await;
    let _ = h;
    step(&case, StepInput::RunLookup).await
}

fn proposed(case: &CaseView) -> String {
    let step = case.current.as_ref().unwrap();
    step.options.iter().filter(|o| o.proposed).map(|o| o.id.clone()).collect::<Vec<_>>().join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_persona_is_diagnosed_as_its_scenario() {
    let h = Harness::new().await;
    for (ticket, others, scenario) in [
        (8011, "", "scenario-1"),
        (8012, "", "scenario-2"),
        (8013, "diane@corp.example", "scenario-3"),
        (8014, "", "scenario-4"),
        (8015, "", "scenario-5"),
        (8004, "", "scenario-6"),
    ] {
        let case = diagnose(&h, &h.env(), ticket, others).await;
        assert_eq!(proposed(&case), scenario, "ticket {ticket}: {:?}", case.evidence[0].rows);
        assert!(case.current.as_ref().unwrap().text.is_some(), "the reason is shown");
        casekit::playbook::engine::abandon(&h.env(), case.id, "diagnosis only").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolutions_resend_confirmation_and_send_the_sign_in_link() {
    let h = Harness::new().await;
    let case = diagnose(&h, &h.env(), 8012, "").await;
    let override_without_reason = h.submit(&case, StepInput::Decide { option: "scenario-4".into(), reason: String::new() }).await;
    assert_eq!(override_without_reason.unwrap_err().code(), ErrorCode::InvalidInput);
    let case = h.step(&case, StepInput::Decide { option: "scenario-2".into(), reason: String::new() }).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "reply-unconfirmed");
    let cd = h.conns.customersdot().unwrap().unwrap();
    assert!(cd.customer(1).await.unwrap().confirmation_sent_at.unwrap().starts_with("20"));
    let case = h.step(&case, StepInput::SendReply { post: true }).await;
    assert_eq!(case.current.unwrap().id, "summary");

    for (ticket, reply) in [(8014, "reply-unlinked"), (8015, "reply-sales")] {
        let case = diagnose(&h, &h.env(), ticket, "").await;
        let option = proposed(&case);
        let case = h.step(&case, StepInput::Decide { option, reason: String::new() }).await;
        assert_eq!(case.current.as_ref().unwrap().id, "sign-in-link");
        let case = h.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
        let step = case.current.clone().unwrap();
        assert_eq!(step.id, reply);
        assert!(step.text.unwrap().contains("Link GitLab account"));
        let rows = casekit::store::audit::for_case(&h.store.conn(), case.id).unwrap();
        let text = serde_json::to_string(&rows).unwrap();
        assert!(text.contains("generated, valid until") && !text.contains("sign_in_once"), "the link itself is never recorded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linked_accounts_with_different_emails_are_unlinked_and_the_new_account_joins_the_billing_account() {
    let h = Harness::new().await;
    let case = diagnose(&h, &h.env(), 8004, "").await;
    let case = h.step(&case, StepInput::Decide { option: "scenario-6".into(), reason: String::new() }).await;
    let offer = case.current.clone().unwrap().text.unwrap();
    assert!(offer.contains("lena.gitlab@example.com") && offer.contains("lena.billing@example.com"), "{offer}");
    let case = h.step(&case, StepInput::SendReply { post: true }).await;
    let early = h.submit(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }).await.unwrap_err();
    assert_eq!(early.code(), ErrorCode::OutOfOrder, "no change before permission");
    let case = h.get_permission(&case, 8004).await;
    let case = h.step(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }).await;
    let cd = h.conns.customersdot().unwrap().unwrap();
    assert_eq!(cd.customer(4).await.unwrap().uid, None, "the GitLab user is unlinked");
    let events = cd.support_audit_events(4).await.unwrap();
    assert_eq!(events[0].ticket_url.as_deref().map(|u| u.ends_with("/agent/tickets/8004")), Some(true));

    // Before the customer creates the new account, adding it is refused with what to do.
    let mut fields = BTreeMap::new();
    fields.insert("new_customer_email".to_owned(), "lena.gitlab@example.com".to_owned());
    let case = h.step(&case, StepInput::Checklist { ticked: vec!["created".into()], fields }).await;
    let early = h.step(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }).await;
    assert!(early
        .current
        .as_ref()
        .unwrap()
        .last_attempt
        .clone()
        .unwrap()
        .error
        .unwrap()
        .message
        .contains("must first create it"));
    h.sandbox.portal_sign_up_with_gitlab(111).unwrap();
    let case = h.step(&early, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }).await;
    assert_eq!(case.current.as_ref().unwrap().id, "reply-done");
    let new = cd.find_customers(&CustomerQuery::Email("lena.gitlab@example.com".into())).await.unwrap().remove(0);
    let members = cd.billing_account(2).await.unwrap().memberships;
    assert!(members.iter().any(|m| m.customer_id == new.id), "membership added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailgun_pages_are_followed_and_a_suppressed_reset_mail_is_shown() {
    let h = Harness::new().await;
    let paged = Connections::new(
        h.conns.profile().clone(),
        Credentials::Sandbox(h.sandbox.credentials().clone()),
        HttpSettings { page_size: 1, ..support::settings() },
    );
    let env = Env { store: &h.store, conns: &paged, catalog: Catalog::builtin() };
    let ravi = diagnose(&h, &env, 8011, "").await;
    assert_eq!(proposed(&ravi), "scenario-1", "found across one-item pages");

    let bo = diagnose(&h, &h.env(), 8010, "bo.bounced@example.com").await;
    let rows = &bo.evidence[0].rows;
    let mail = rows.iter().find(|r| r.label == "Password reset mail from GitLab.com to bo.bounced@example.com").unwrap();
    assert!(mail.value.contains("previously bounced address") && mail.status.as_deref() == Some("blocked"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_mode_points_at_the_admin_screens_and_records_the_agent_s_confirmation() {
    let h = Harness::new().await;
    let c = h.sandbox.credentials().clone();
    let keychain = Keychain::in_memory();
    let input = ProfileInput {
        id: None,
        name: "Manual portal".into(),
        agent_name: "Sam Agent".into(),
        agent_email: c.zendesk.email.clone(),
        services: ServiceSettings {
            gitlab_url: c.gitlab.url.clone(),
            zendesk_url: c.zendesk.url.clone(),
            zendesk_us_gov_url: String::new(),
            mailgun_url: c.mailgun.url.clone(),
            mailgun_domain: c.mailgun.domain.clone(),
            customersdot_url: "https://customers.gitlab.com".into(),
            customersdot_mode: CustomersDotMode::Manual,
        },
    };
    let live = profiles::save(&h.store.conn(), &input).unwrap();
    profiles::activate(&mut h.store.conn(), live.id).unwrap();
    keychain.set(&live.keychain_id, Service::Gitlab, &Secret::new(c.gitlab.admin_token.clone())).unwrap();
    keychain.set(&live.keychain_id, Service::Zendesk, &Secret::new(c.zendesk.token.clone())).unwrap();
    keychain.set(&live.keychain_id, Service::Mailgun, &Secret::new(c.mailgun.api_key.clone())).unwrap();
    let tokens = std::sync::Arc::new(Tokens::read(&keychain, &live.keychain_id).unwrap());
    let conns =
        Connections::new(profiles::get(&h.store.conn(), live.id).unwrap(), Credentials::Live(tokens), support::settings());
    let env = Env { store: &h.store, conns: &conns, catalog: Catalog::builtin() };

    let case = diagnose(&h, &env, 8012, "").await;
    assert_eq!(proposed(&case), "", "manual mode: the agent reads the admin screen and chooses");
    assert!(case.evidence[0]
        .links
        .iter()
        .any(|l| l.url.starts_with("https://customers.gitlab.com/admin/customers?search=casey.portal")));
    let submit = |c: &CaseView, input| {
        let (id, step) = (c.id, c.current.as_ref().unwrap().id.clone());
        let env = &env;
        async move { casekit::playbook::engine::submit(env, id, &step, input).await }
    };
    let case = submit(&case, StepInput::Decide { option: "scenario-2".into(), reason: "Confirmed at is empty in admin".into() })
        .await
        .unwrap();
    let step = case.current.clone().unwrap();
    assert_eq!(step.calls[0].method, "MANUAL");
    let missing = submit(&case, StepInput::RunAction { confirmation: String::new() }).await.unwrap();
    assert!(missing.current.unwrap().last_attempt.unwrap().error.unwrap().message.contains("paste what it shows"));
    let case = submit(&case, StepInput::RunAction { confirmation: "Resend confirmation: sent 10:02".into() }).await.unwrap();
    assert_eq!(case.current.unwrap().id, "reply-unconfirmed");
    let rows = casekit::store::audit::for_case(&h.store.conn(), case.id).unwrap();
    let result = rows.iter().rev().find(|r| r.kind == "action_result").unwrap();
    assert!(result.payload["calls"][0]["result"].as_str().unwrap().contains("Resend confirmation: sent 10:02"));
}
