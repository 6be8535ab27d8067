//! The customers-portal sign-in playbook, end to end against the sandbox over loopback and a real
//! SQLite file: each of the six scenarios from opening the case to its final reply and the
//! finished case, in api mode (live evidence) and in manual mode (what the agent read in the
//! admin screens); the one-time sign-in link reaching the customer's mailbox and nowhere else;
//! Mailgun paging and a suppressed address.

mod support;

use casekit::connectors::customersdot::CustomerQuery;
use casekit::connectors::session::{Connections, Credentials};
use casekit::connectors::{HttpSettings, Service};
use casekit::playbook::engine::{self, Env, NewCase, StepInput, TicketInstance};
use casekit::playbook::view::{CaseView, StepBody};
use casekit::playbook::Catalog;
use casekit::sandbox::faults::{Fault, FaultRule};
use casekit::secrets::{Keychain, Secret, Tokens};
use casekit::store::profiles::{self, CustomersDotMode, ProfileInput, ServiceSettings};
use casekit::ErrorCode;
use support::{body, calls, fields, form, last_attempt, options, Harness};

const PLAYBOOK: &str = "customersdot-sign-in";
const ENTERED: &str = "entered by the agent from the admin screen";

/// A harness and the connections a case runs with (the Sandbox profile, or a live profile whose
/// CustomersDot is in manual mode).
struct Bench {
    h: Harness,
    conns: Connections,
}

impl Bench {
    async fn api() -> Bench {
        let h = Harness::new().await;
        let conns = h.conns.clone();
        Bench { h, conns }
    }

    /// A live profile pointing at the sandbox's GitLab and Zendesk, CustomersDot in manual mode,
    /// and Mailgun only when `mailgun`.
    async fn manual(mailgun: bool) -> Bench {
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
                mailgun_url: if mailgun { c.mailgun.url.clone() } else { String::new() },
                mailgun_domain: if mailgun { c.mailgun.domain.clone() } else { String::new() },
                customersdot_url: "https://customers.gitlab.com".into(),
                customersdot_mode: CustomersDotMode::Manual,
            },
        };
        let live = profiles::save(&h.store.conn(), &input).unwrap();
        profiles::activate(&mut h.store.conn(), live.id).unwrap();
        keychain.set(&live.keychain_id, Service::Gitlab, &Secret::new(c.gitlab.admin_token.clone())).unwrap();
        keychain.set(&live.keychain_id, Service::Zendesk, &Secret::new(c.zendesk.token.clone())).unwrap();
        if mailgun {
            keychain.set(&live.keychain_id, Service::Mailgun, &Secret::new(c.mailgun.api_key.clone())).unwrap();
        }
        let tokens = std::sync::Arc::new(Tokens::read(&keychain, &live.keychain_id).unwrap());
        let conns =
            Connections::new(profiles::get(&h.store.conn(), live.id).unwrap(), Credentials::Live(tokens), support::settings());
        Bench { h, conns }
    }

    fn env(&self) -> Env<'_> {
        Env { store: &self.h.store, conns: &self.conns, catalog: Catalog::builtin() }
    }

    async fn submit(&self, case: &CaseView, input: StepInput) -> casekit::Result<CaseView> {
        let step = case.current.as_ref().expect("the case has a current step").id.clone();
        engine::submit(&self.env(), case.id, &step, input).await
    }

    async fn step(&self, case: &CaseView, input: StepInput) -> CaseView {
        self.submit(case, input).await.unwrap_or_else(|e| panic!("step {:?} failed: {e}", case.current.as_ref().map(|c| &c.id)))
    }

    /// Opens the case and records the addresses (the ticket's requester and `others`).
    async fn open(&self, ticket: u64, others: &str) -> CaseView {
        let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: ticket, playbook_id: PLAYBOOK.into() };
        let case = engine::open_case(&self.env(), &new).await.unwrap();
        let requester = form(&case).iter().find(|f| f.id == "requester_email").unwrap().value.clone();
        assert!(!requester.is_empty(), "prefilled from the ticket's requester");
        let f = fields(&[("requester_email", &requester), ("other_emails", others)]);
        self.step(&case, StepInput::Checklist { ticked: vec!["console-needed".into()], fields: f }).await
    }

    /// API mode: opens the case and fetches the diagnosis.
    async fn diagnose(&self, ticket: u64, others: &str) -> CaseView {
        let case = self.open(ticket, others).await;
        self.step(&case, StepInput::RunLookup).await
    }

    /// Manual mode: opens the case and enters what the admin screens show.
    async fn enter(&self, ticket: u64, others: &str, entries: &[(&str, &str)]) -> CaseView {
        let case = self.open(ticket, others).await;
        assert!(!form(&case).is_empty(), "manual mode asks for what the admin screen shows");
        self.step(&case, StepInput::EnterEvidence { fields: fields(entries) }).await
    }

    /// Confirms the proposed scenario (the reason is optional then).
    async fn confirm(&self, case: &CaseView, scenario: &str) -> CaseView {
        assert_eq!(proposed(case), scenario, "{:?}", case.evidence[0].rows);
        self.step(case, StepInput::Decide { option: scenario.into(), reason: String::new() }).await
    }

    /// Sends the current reply as a public comment; returns the case and what the ticket shows.
    async fn reply(&self, case: &CaseView, step: &str, ticket: u64) -> (CaseView, String) {
        assert_eq!(current(case), step);
        let case = self.step(case, StepInput::SendReply { post: true }).await;
        let zd = self.conns.zendesk(Service::Zendesk).unwrap();
        let posted = zd.comments(ticket).await.unwrap().into_iter().rev().find(|c| c.public).unwrap().body;
        (case, posted)
    }

    /// The summary step, then the finished case.
    async fn finish(&self, case: &CaseView) -> CaseView {
        assert_eq!(current(case), "summary");
        let case = self.step(case, StepInput::Finish).await;
        assert_eq!((case.status.key(), case.outcome.map(|o| o.key())), ("finished", Some("completed")));
        case
    }

    async fn get_permission(&self, case: &CaseView, ticket: u64) -> CaseView {
        let case = self.step(case, StepInput::RequestPermission { post: true }).await;
        let reply = self.h.sandbox.customer_reply(Service::Zendesk, ticket, "Yes, I confirm, please go ahead.").unwrap();
        self.step(&case, StepInput::ConfirmPermission { comment_id: reply }).await
    }

    /// Every audit row of the case, as JSON text.
    fn audit(&self, case: &CaseView) -> String {
        serde_json::to_string(&casekit::store::audit::for_case(&self.h.store.conn(), case.id).unwrap()).unwrap()
    }

    /// The `entered` payload the diagnosis wrote to the audit log.
    fn entered(&self, case: &CaseView) -> serde_json::Value {
        let rows = casekit::store::audit::for_case(&self.h.store.conn(), case.id).unwrap();
        let row = rows.iter().find(|r| r.kind == "lookup_completed").expect("the diagnosis is audited");
        assert_eq!(row.payload["source"], "entered by the agent");
        row.payload["entered"].clone()
    }

    /// The case's stored draft state, as JSON text.
    fn state(&self, case: &CaseView) -> String {
        casekit::store::cases::get(&self.h.store.conn(), case.id).unwrap().state
    }
}

fn current(case: &CaseView) -> String {
    case.current.as_ref().map(|c| c.id.clone()).unwrap_or_default()
}

fn proposed(case: &CaseView) -> String {
    options(case).iter().filter(|o| o.proposed).map(|o| o.id.clone()).collect::<Vec<_>>().join(",")
}

fn rows(case: &CaseView) -> String {
    case.evidence.iter().flat_map(|e| e.rows.iter().map(|r| format!("{}: {}", r.label, r.value))).collect::<Vec<_>>().join("\n")
}

fn text(case: &CaseView) -> String {
    support::text(case)
}

// ---------------------------------------------------------------- api mode

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_persona_is_diagnosed_as_its_scenario() {
    let b = Bench::api().await;
    for (ticket, others, scenario) in [
        (8011, "", "scenario-1"),
        (8012, "", "scenario-2"),
        (8013, "diane@corp.example", "scenario-3"),
        (8014, "", "scenario-4"),
        (8015, "", "scenario-5"),
        (8004, "", "scenario-6"),
    ] {
        let case = b.diagnose(ticket, others).await;
        assert_eq!(proposed(&case), scenario, "ticket {ticket}: {:?}", case.evidence[0].rows);
        assert!(!text(&case).is_empty(), "the reason is shown");
        assert!(rows(&case).contains("read from the CustomersDot admin API"));
        engine::abandon(&b.env(), case.id, "diagnosis only").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_scenario_1_reset_requested_on_gitlab_com_ends_in_the_one_time_link_reply() {
    let b = Bench::api().await;
    let case = b.diagnose(8011, "").await;
    assert!(rows(&case).contains("Password reset mail from GitLab.com to ravi@example.com: delivered at"));
    let case = b.confirm(&case, "scenario-1").await;
    let (case, posted) = b.reply(&case, "reply-reset", 8011).await;
    assert!(posted.contains("https://gitlab.com/users/password/new") && posted.contains("ravi@example.com"), "{posted}");
    b.finish(&case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_scenario_2_resends_the_confirmation_and_replies() {
    let b = Bench::api().await;
    let case = b.diagnose(8012, "").await;
    let override_without_reason = b.submit(&case, StepInput::Decide { option: "scenario-4".into(), reason: String::new() }).await;
    assert_eq!(override_without_reason.unwrap_err().code(), ErrorCode::InvalidInput);
    let case = b.confirm(&case, "scenario-2").await;
    let case = b.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    let cd = b.conns.customersdot().unwrap().unwrap();
    assert!(cd.customer(1).await.unwrap().confirmation_sent_at.unwrap().starts_with("20"));
    let (case, posted) = b.reply(&case, "reply-unconfirmed", 8012).await;
    assert!(posted.contains("casey.portal@example.com") && posted.contains("confirmation email again"), "{posted}");
    b.finish(&case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_scenario_3_names_the_address_that_holds_the_subscription() {
    let b = Bench::api().await;
    let case = b.diagnose(8013, "diane@corp.example").await;
    let case = b.confirm(&case, "scenario-3").await;
    let (case, posted) = b.reply(&case, "reply-other-email", 8013).await;
    assert!(posted.contains("(diane@personal.example)") && posted.contains("(diane@corp.example)"), "{posted}");
    assert!(posted.contains("Please sign in with diane@corp.example"), "{posted}");
    b.finish(&case).await;
}

/// Scenarios 4 and 5: CustomersDot emails the one-time sign-in link to the portal account's own
/// address; the customer can sign in with it; the ticket, the audit log and the case state
/// never hold it; the reply says where it went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_scenarios_4_and_5_email_the_sign_in_link_to_the_account_and_nowhere_else() {
    let b = Bench::api().await;
    for (ticket, scenario, reply, email, why) in [
        (8014, "scenario-4", "reply-unlinked", "leo.legacy@example.com", "created before sign-in with GitLab"),
        (8015, "scenario-5", "reply-sales", "sally@initech.example", "Sold To contact"),
    ] {
        let case = b.diagnose(ticket, "").await;
        let case = b.confirm(&case, scenario).await;
        assert_eq!(current(&case), "sign-in-link");
        let preview = &calls(&case)[0];
        assert!(preview.path.ends_with("/send_one_time_sign_in_link"), "{preview:?}");
        assert!(preview.change.contains(&format!("emails a new one-time sign-in link to {email}")), "{preview:?}");
        assert!(preview.change.contains("earlier link stops working"), "the preview says a new link replaces the old one");
        assert!(b.h.sandbox.portal_mail(email).is_empty());

        let case = b.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
        let mail = b.h.sandbox.portal_mail(email);
        assert_eq!(mail.len(), 1, "one link, to the account's own address");
        let url = mail[0].body.lines().find(|l| l.contains("/customers/sign_in_once/")).unwrap().trim().to_owned();
        let token = url.rsplit('/').next().unwrap().to_owned();
        let last4 = &token[token.len() - 4..];

        let (case, posted) = b.reply(&case, reply, ticket).await;
        assert!(posted.contains(&format!("We have just emailed a one-time sign-in link to {email}")), "{posted}");
        assert!(posted.contains(why) && posted.contains("Link GitLab account"), "{posted}");
        assert!(!posted.contains(&token), "the link is not in the ticket");

        let audit = b.audit(&case);
        assert!(!audit.contains(&token) && !audit.contains("sign_in_once"), "the link is not in the audit log");
        assert!(
            audit.contains(&format!("link ending …{last4}")) && audit.contains(&format!("emailed by CustomersDot to {email}"))
        );
        assert!(!b.state(&case).contains(&token), "the link is not in the case state");
        let case = b.finish(&case).await;
        assert!(!b.audit(&case).contains(&token), "not in the summary either");

        assert_eq!(b.h.sandbox.portal_sign_in_with_link(&url).unwrap(), email, "the customer signs in with it");
        assert!(b.h.sandbox.portal_sign_in_with_link(&url).is_err(), "once");
    }
}

/// A send whose answer was lost is not repeated: the retry reads the Support Audit Events and
/// keeps the link the customer already has, instead of killing it with a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_sign_in_link_never_replaces_the_one_already_emailed() {
    let b = Bench::api().await;
    let case = b.diagnose(8014, "").await;
    let case = b.confirm(&case, "scenario-4").await;
    b.h.sandbox.arm_fault(FaultRule {
        service: Some(Service::Customersdot),
        method: Some("POST".into()),
        path: "/admin/api/v1/customers/2/send_one_time_sign_in_link".into(),
        fault: Fault::Status { status: 500 },
        times: Some(1),
    });
    let failed = b.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(current(&failed), "sign-in-link", "the step stays current after a failure");
    assert!(last_attempt(&failed).unwrap().error.is_some());
    // As if the failed request had reached CustomersDot after all.
    let cd = b.conns.customersdot().unwrap().unwrap();
    cd.send_one_time_sign_in_link(2).await.unwrap();
    let url = b.h.sandbox.portal_mail("leo.legacy@example.com")[0]
        .body
        .lines()
        .find(|l| l.contains("sign_in_once"))
        .unwrap()
        .trim()
        .to_owned();

    let case = b.step(&failed, StepInput::RunAction { confirmation: String::new() }).await;
    assert_eq!(current(&case), "reply-unlinked");
    assert_eq!(b.h.sandbox.portal_mail("leo.legacy@example.com").len(), 1, "no second link");
    assert!(b.audit(&case).contains("skipped: a link was already emailed during this case"));
    assert_eq!(b.h.sandbox.portal_sign_in_with_link(&url).unwrap(), "leo.legacy@example.com", "the first link still works");

    // A later case says which link a new one would replace.
    let (case, _) = b.reply(&case, "reply-unlinked", 8014).await;
    b.finish(&case).await;
    let again = b.diagnose(8014, "").await;
    assert!(rows(&again).contains("Last one-time sign-in link emailed"), "{}", rows(&again));
    let again = b.confirm(&again, "scenario-4").await;
    let change = calls(&again)[0].change.clone();
    assert!(
        change.contains("; the link emailed 20") && change.contains(") stops working"),
        "names the link it replaces: {change}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_scenario_6_unlinks_adds_the_new_account_to_the_billing_account_and_replies() {
    let b = Bench::api().await;
    let case = b.diagnose(8004, "").await;
    let case = b.confirm(&case, "scenario-6").await;
    let offer = text(&case);
    assert!(offer.contains("lena.gitlab@example.com") && offer.contains("lena.billing@example.com"), "{offer}");
    let (case, _) = b.reply(&case, "offer-second-account", 8004).await;
    let early = b.submit(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }).await.unwrap_err();
    assert_eq!(early.code(), ErrorCode::OutOfOrder, "no change before permission");
    let case = b.get_permission(&case, 8004).await;
    let case = b.step(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }).await;
    let cd = b.conns.customersdot().unwrap().unwrap();
    assert_eq!(cd.customer(4).await.unwrap().uid, None, "the GitLab user is unlinked");
    let events = cd.support_audit_events(4).await.unwrap();
    assert_eq!(events[0].ticket_url.as_deref().map(|u| u.ends_with("/agent/tickets/8004")), Some(true));

    // Before the customer creates the new account, adding it is refused with what to do.
    assert_eq!(current(&case), "new-account");
    assert!(
        matches!(body(&case), StepBody::Checklist { awaits_portal_sign_up: true, .. }),
        "the step says it waits for the customer's portal sign-up (the Sandbox can play it)"
    );
    let f = fields(&[("new_customer_email", "lena.gitlab@example.com")]);
    let case = b.step(&case, StepInput::Checklist { ticked: vec!["created".into()], fields: f }).await;
    let early = b.step(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }).await;
    let error = last_attempt(&early).cloned().unwrap().error.unwrap();
    assert!(error.message.contains("must first create it"), "{}", error.message);
    b.h.sandbox.portal_sign_up_with_gitlab(111).unwrap();
    let case = b.step(&early, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }).await;
    let new = cd.find_customers(&CustomerQuery::Email("lena.gitlab@example.com".into())).await.unwrap().remove(0);
    let members = cd.billing_account(2).await.unwrap().memberships;
    assert!(members.iter().any(|m| m.customer_id == new.id), "membership added");
    let (case, posted) = b.reply(&case, "reply-done", 8004).await;
    assert!(posted.contains("Done: lena.gitlab@example.com is now on your billing account"), "{posted}");
    assert!(posted.contains("create a GitLab.com account with lena.billing@example.com"), "{posted}");
    b.finish(&case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailgun_pages_are_followed_and_a_suppressed_reset_mail_is_shown() {
    let h = Harness::new().await;
    let paged = Connections::new(
        h.conns.profile().clone(),
        Credentials::Sandbox(h.sandbox.credentials().clone()),
        HttpSettings { page_size: 1, ..support::settings() },
    );
    let b = Bench { h, conns: paged };
    let ravi = b.diagnose(8011, "").await;
    assert_eq!(proposed(&ravi), "scenario-1", "found across one-item pages");

    let bo = b.diagnose(8010, "bo.bounced@example.com").await;
    let rows = &bo.evidence[0].rows;
    let mail = rows.iter().find(|r| r.label == "Password reset mail from GitLab.com to bo.bounced@example.com").unwrap();
    assert!(mail.value.contains("previously bounced address") && mail.status.as_deref() == Some("blocked"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_addresses_are_checked_when_they_are_recorded() {
    let b = Bench::api().await;
    let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: 8013, playbook_id: PLAYBOOK.into() };
    let case = engine::open_case(&b.env(), &new).await.unwrap();
    let f = fields(&[("requester_email", "diane@personal.example"), ("other_emails", "diane@corp.example, diane@corp")]);
    let err = b.submit(&case, StepInput::Checklist { ticked: vec!["console-needed".into()], fields: f }).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.to_string().contains("\"diane@corp\" is not an email address"), "{err}");
}

// ---------------------------------------------------------------- manual mode

/// Account entries for address `i` as the agent reads them in the admin screen.
fn account(i: usize, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (format!("{i}.{k}"), v.to_string())).collect()
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_diagnosis_asks_for_the_admin_screen_and_checks_what_is_entered() {
    let b = Bench::manual(true).await;
    let case = b.open(8012, "").await;
    assert!(matches!(body(&case), StepBody::Lookup { .. }), "{:?}", case.current);
    let labels: Vec<&str> = form(&case).iter().map(|f| f.label.as_str()).collect();
    assert!(labels.iter().any(|l| l.starts_with("casey.portal@example.com: Confirmed at")), "{labels:?}");
    assert!(!labels.iter().any(|l| l.contains("Mailgun")), "Mailgun is read through its API when the profile has it");

    let fetch = b.submit(&case, StepInput::RunLookup).await.unwrap_err();
    assert_eq!(fetch.code(), ErrorCode::InvalidInput);
    assert!(fetch.to_string().contains("enter what they show"), "{fetch}");
    for (entries, says) in [
        (vec![], "say whether the admin search"),
        (vec![("0.account", "Found")], "enter Confirmed at"),
        (vec![("0.account", "Found"), ("0.confirmed_at", "last week")], "like 2024-05-01"),
        (vec![("0.account", "Found"), ("0.confirmed_at", "2030-01-01")], "in the future"),
        (vec![("0.account", "Found"), ("0.confirmed_at", "empty"), ("0.uid", "lena")], "digits the admin screen shows"),
        (
            vec![
                ("0.account", "Found"),
                ("0.confirmed_at", "empty"),
                ("0.uid", "none"),
                ("0.created_via", "Self sign-up"),
                ("0.billing_account_id", "none"),
                ("0.gitlab_email", "x@example.com"),
            ],
            "Uid “none”",
        ),
        (vec![("0.account", "Found"), ("7.account", "Found")], "reload the case"),
    ] {
        let err = b.submit(&case, StepInput::EnterEvidence { fields: fields(&entries) }).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{entries:?}");
        assert!(err.to_string().contains(says), "{entries:?}: {err}");
    }
    let rows = casekit::store::audit::for_case(&b.h.store.conn(), case.id).unwrap();
    assert!(!rows.iter().any(|r| r.kind == "lookup_completed"), "nothing recorded from refused entries");
}

/// Scenario 1 without Mailgun in the profile: the agent enters what the Mailgun logs show too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_scenario_1_from_the_mailgun_logs_and_the_admin_screen() {
    let b = Bench::manual(false).await;
    let case = b.open(8011, "").await;
    let labels: Vec<String> = form(&case).iter().map(|f| f.label.clone()).collect();
    assert!(labels.iter().any(|l| l.contains("“Reset password” mail in the Mailgun logs")), "{labels:?}");
    let entries = account(
        0,
        &[
            ("account", "Found"),
            ("customer_id", "5"),
            ("confirmed_at", "2023-01-01 10:00"),
            ("uid", "none"),
            ("created_via", "Legacy (created before GitLab sign-in)"),
            ("billing_account_id", "none"),
            ("reset_mail", "Delivered"),
            ("reset_mail_at", "2025-11-21 09:00"),
        ],
    );
    let case = b.step(&case, StepInput::EnterEvidence { fields: fields(&pairs(&entries)) }).await;
    let shown = rows(&case);
    assert!(shown.contains("delivered at 2025-11-21 09:00 — entered by the agent from the Mailgun logs"), "{shown}");
    assert!(
        shown.contains(&format!("Portal account ravi@example.com: id 5, created via legacy (before GitLab sign-in) — {ENTERED}")),
        "{shown}"
    );
    assert!(case.evidence[0].links.iter().any(|l| l.url == "https://customers.gitlab.com/admin/customers/5"));
    let case = b.confirm(&case, "scenario-1").await;
    let (case, posted) = b.reply(&case, "reply-reset", 8011).await;
    assert!(posted.contains("https://gitlab.com/users/password/new") && posted.contains("ravi@example.com"), "{posted}");
    b.finish(&case).await;
    let entered = b.entered(&case);
    assert_eq!(entered["reset_mail"][0]["result"], "delivered");
    assert_eq!(entered["reset_mail"][0]["at"], "2025-11-21 09:00");
    assert_eq!(entered["accounts"][0][1]["created_via"], "legacy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_scenario_2_resends_the_confirmation_in_the_admin_screen_and_replies() {
    let b = Bench::manual(true).await;
    let entries = account(
        0,
        &[
            ("account", "Found"),
            ("confirmed_at", "empty"),
            ("uid", "none"),
            ("created_via", "Self sign-up"),
            ("billing_account_id", "none"),
        ],
    );
    let case = b.enter(8012, "", &pairs(&entries)).await;
    let shown = rows(&case);
    assert!(shown.contains("Confirmed at: not confirmed") && shown.contains(ENTERED), "{shown}");
    assert!(case.evidence[0]
        .links
        .iter()
        .any(|l| l.url.starts_with("https://customers.gitlab.com/admin/customers?search=casey.portal")));
    let case = b.confirm(&case, "scenario-2").await;
    let planned = calls(&case);
    assert_eq!(planned[0].method, "MANUAL");
    assert!(planned[0].change.contains("confirmation email sent again to casey.portal@example.com"), "{planned:?}");
    let missing = b.step(&case, StepInput::RunAction { confirmation: String::new() }).await;
    assert!(last_attempt(&missing).cloned().unwrap().error.unwrap().message.contains("paste what it shows"));
    let case = b.step(&case, StepInput::RunAction { confirmation: "Resend confirmation: sent 10:02".into() }).await;
    let (case, posted) = b.reply(&case, "reply-unconfirmed", 8012).await;
    assert!(posted.contains("Your customers portal account casey.portal@example.com had not been confirmed"), "{posted}");
    b.finish(&case).await;

    let entered = b.entered(&case);
    assert_eq!(entered["accounts"][0][0], "casey.portal@example.com");
    assert_eq!(entered["accounts"][0][1]["confirmed_at"], serde_json::Value::Null);
    let audit = casekit::store::audit::for_case(&b.h.store.conn(), case.id).unwrap();
    let result = audit.iter().find(|r| r.kind == "action_result").unwrap();
    assert!(result.payload["calls"][0]["result"].as_str().unwrap().contains("Resend confirmation: sent 10:02"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_scenario_3_names_the_address_that_holds_the_subscription() {
    let b = Bench::manual(true).await;
    let mut entries = account(
        0,
        &[
            ("account", "Found"),
            ("confirmed_at", "2026-11-21 12:00"),
            ("uid", "none"),
            ("created_via", "Self sign-up"),
            ("billing_account_id", "none"),
        ],
    );
    entries.extend(account(
        1,
        &[
            ("account", "Found"),
            ("confirmed_at", "March 1, 2026 10:00"),
            ("uid", "none"),
            ("created_via", "Self sign-up"),
            ("billing_account_id", "#3"),
            ("sold_to_email", "diane@corp.example"),
        ],
    ));
    let case = b.enter(8013, "diane@corp.example", &pairs(&entries)).await;
    assert!(rows(&case).contains("member of billing account 3 (Sold To diane@corp.example)"), "{}", rows(&case));
    // Refreshing the evidence keeps what was entered (there is nothing to fetch it from).
    let case = b.step(&case, StepInput::Refresh).await;
    assert!(
        rows(&case).contains(&format!("Portal account diane@corp.example: created via self sign-up — {ENTERED}")),
        "{}",
        rows(&case)
    );
    let case = b.confirm(&case, "scenario-3").await;
    let (case, posted) = b.reply(&case, "reply-other-email", 8013).await;
    assert!(posted.contains("(diane@personal.example)") && posted.contains("Please sign in with diane@corp.example"), "{posted}");
    b.finish(&case).await;
    let entered = b.entered(&case);
    assert_eq!(entered["accounts"][1][1]["billing_account_id"], 3);
    assert_eq!(entered["accounts"][1][1]["confirmed_at"], "2026-03-01 10:00");
}

/// Scenarios 4 and 5 in manual mode: the admin screen emails the link; the agent pastes the
/// confirmation, never the link (refused), and the reply says where it went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_scenarios_4_and_5_have_the_admin_screen_email_the_link() {
    let b = Bench::manual(true).await;
    for (ticket, scenario, reply, email, via, billing, why) in [
        (
            8014,
            "scenario-4",
            "reply-unlinked",
            "leo.legacy@example.com",
            "Legacy (created before GitLab sign-in)",
            "none",
            "created before sign-in with GitLab",
        ),
        (
            8015,
            "scenario-5",
            "reply-sales",
            "sally@initech.example",
            "Sales (created by the Zuora callout from the Sold To contact)",
            "1",
            "Sold To contact",
        ),
    ] {
        let mut entries = account(
            0,
            &[
                ("account", "Found"),
                ("confirmed_at", "empty"),
                ("uid", "none"),
                ("created_via", via),
                ("billing_account_id", billing),
            ],
        );
        if billing != "none" {
            entries.push(("0.sold_to_email".into(), email.into()));
        }
        let case = b.enter(ticket, "", &pairs(&entries)).await;
        if scenario == "scenario-5" {
            assert!(text(&case).contains("from the Sold To contact of billing account 1"), "{}", text(&case));
        }
        let case = b.confirm(&case, scenario).await;
        let change = calls(&case)[0].change.clone();
        assert!(
            change.contains(&format!("emails a new one-time sign-in link to {email}"))
                && change.contains("never the link itself"),
            "{change}"
        );
        let link = format!("https://customers.gitlab.com/customers/sign_in_once/AbCdEfGh{ticket}");
        let pasted = b.step(&case, StepInput::RunAction { confirmation: link.clone() }).await;
        let error = last_attempt(&pasted).cloned().unwrap().error.unwrap();
        assert!(error.message.contains("Do not paste the sign-in link"), "{}", error.message);
        let evidence = format!("One-time sign-in link sent to {email} at 10:02");
        let case = b.step(&case, StepInput::RunAction { confirmation: evidence.clone() }).await;
        let (case, posted) = b.reply(&case, reply, ticket).await;
        assert!(
            posted.contains(&format!("We have just emailed a one-time sign-in link to {email}")) && posted.contains(why),
            "{posted}"
        );
        b.finish(&case).await;
        let audit = b.audit(&case);
        assert!(audit.contains(&evidence), "the confirmation is recorded");
        assert!(!audit.contains(&link) && !b.state(&case).contains(&link), "the pasted link is not kept");
        assert_eq!(b.entered(&case)["accounts"][0][1]["uid"], serde_json::Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_scenario_6_unlinks_and_adds_the_new_account_in_the_admin_screen() {
    let b = Bench::manual(true).await;
    let entries = account(
        0,
        &[
            ("account", "Found"),
            ("customer_id", "4"),
            ("confirmed_at", "2021-03-01T10:00:00Z"),
            ("uid", "111"),
            ("gitlab_email", "Lena.Gitlab@Example.com"),
            ("created_via", "self_signup"),
            ("billing_account_id", "2"),
            ("sold_to_email", "lena.billing@example.com"),
        ],
    );
    let case = b.enter(8004, "", &pairs(&entries)).await;
    assert!(rows(&case).contains("Linked GitLab user: uid 111, email Lena.Gitlab@example.com"), "{}", rows(&case));
    let case = b.confirm(&case, "scenario-6").await;
    let (case, offer) = b.reply(&case, "offer-second-account", 8004).await;
    assert!(
        offer.contains("lena.billing@example.com is linked to a GitLab.com account whose email is Lena.Gitlab@example.com"),
        "{offer}"
    );
    let case = b.get_permission(&case, 8004).await;
    assert_eq!(current(&case), "unlink");
    assert!(calls(&case)[0].change.contains("linked GitLab user (Lena.Gitlab@example.com) → none"));
    let case = b
        .step(
            &case,
            StepInput::RunAction { confirmation: "Unlinked uid 111; Support Audit Event logged with the ticket link".into() },
        )
        .await;
    let f = fields(&[("new_customer_email", "lena.gitlab@example.com")]);
    let case = b.step(&case, StepInput::Checklist { ticked: vec!["created".into()], fields: f }).await;
    assert_eq!(current(&case), "add-membership");
    let change = calls(&case)[0].change.clone();
    assert!(change.contains("billing account 2: + lena.gitlab@example.com"), "{change}");
    let case = b
        .step(&case, StepInput::RunAction { confirmation: "Billing account 2 (Hooli): lena.gitlab@example.com added".into() })
        .await;
    let (case, posted) = b.reply(&case, "reply-done", 8004).await;
    assert!(posted.contains("Done: lena.gitlab@example.com is now on your billing account"), "{posted}");
    assert!(posted.contains("create a GitLab.com account with lena.billing@example.com"), "{posted}");
    b.finish(&case).await;

    let entered = b.entered(&case);
    assert_eq!(entered["accounts"][0][1]["uid"], 111);
    assert_eq!(entered["accounts"][0][1]["gitlab_email"], "Lena.Gitlab@example.com");
    let audit = b.audit(&case);
    assert!(audit.contains("Unlinked uid 111; Support Audit Event logged") && audit.contains("lena.gitlab@example.com added"));
    // Nothing was changed through an API: the sandbox's portal is as it was.
    let c = b.h.sandbox.credentials().clone();
    let cd = casekit::connectors::customersdot::CustomersDot::new(
        &c.customersdot.url,
        Secret::new(c.customersdot.token),
        support::settings(),
    )
    .unwrap();
    assert_eq!(cd.customer(4).await.unwrap().uid, Some(111));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_outage_stops_the_diagnosis_instead_of_reading_as_no_linked_account() {
    let b = Bench::api().await;
    let case = b.open(8004, "").await;
    // Lena's portal account is linked to a GitLab user: reading that user fails for now.
    let outage = FaultRule {
        service: Some(Service::Gitlab),
        method: None,
        path: "/api/v4/users/*".into(),
        fault: Fault::Status { status: 503 },
        times: None,
    };
    b.h.sandbox.arm_fault(outage);
    let err = b.submit(&case, StepInput::RunLookup).await.unwrap_err();
    assert!(err.retryable(), "the agent is told to try again: {err}");
    let still = engine::case_view(&b.env(), case.id).unwrap();
    assert_eq!(current(&still), current(&case), "no scenario was proposed from missing facts");

    b.h.sandbox.clear_faults();
    let case = b.step(&still, StepInput::RunLookup).await;
    assert_eq!(proposed(&case), "scenario-6", "with GitLab back, the linked account's email is read");
}
