//! Acting on an account not tied to the ticket (issue 12, item 2). The attacker writes in from
//! their own address and names someone else's account (a username anyone can read, a verified
//! address of it, a portal account); the gate blocks with the evidence and nothing changes.

use casekit::playbook::engine::StepInput;
use casekit::playbook::view::CaseView;
use casekit::ErrorCode;

use crate::harness::{refused, Webview};
use crate::support::{form, gates};

const ATTACKER_TICKET: u64 = 8016; // from Gus <gus@globex.example>, Zendesk user 6013
const GUS: u64 = 6013;

fn current(case: &CaseView) -> &str {
    case.current.as_ref().map_or("", |c| c.id.as_str())
}

/// The gate of the current step named `gate`.
fn gate<'a>(case: &'a CaseView, gate: &str) -> &'a casekit::playbook::view::GateView {
    gates(case).iter().find(|g| g.gate == gate).unwrap_or_else(|| panic!("no gate {gate}"))
}

#[test]
fn attack_a_victims_username_on_the_attackers_ticket_for_a_project_change() {
    let wv = Webview::new();
    // maint-mario is a Maintainer of acme-corp/api; his username is public.
    let case = wv.open(ATTACKER_TICKET, "project-group-change");
    let case = wv.checklist(
        &case,
        &[("username", "maint-mario"), ("target_kind", "project"), ("target", "acme-corp/api"), ("change", "add a deploy key")],
    );
    let case = wv.step(&case, StepInput::RunLookup);
    let tie = gate(&case, "requester_holds_gitlab_account");
    assert!(!tie.passed);
    assert!(
        tie.detail.contains("@maint-mario does not hold the ticket requester's email gus@globex.example")
            && tie.detail.contains("its verified emails: mario@acme.example"),
        "the block shows its evidence: {}",
        tie.detail
    );
    assert!(gate(&case, "requester_can_change_target").passed, "the access alone would have let it through");
    let row = case.evidence.iter().flat_map(|e| &e.rows).find(|r| r.label == "Holds the requester's email").unwrap();
    assert_eq!(row.status.as_deref(), Some("blocked"), "{row:?}");

    let err = refused(&wv, || wv.submit(&case, StepInput::Continue));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
    assert!(err.message.contains("does not hold the ticket requester's email"), "{}", err.message);
    let err = refused(&wv, || wv.submit_at(case.id, "permission", StepInput::RequestPermission { post: true }));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
    let err = refused(&wv, || wv.submit_at(case.id, "act", StepInput::ManualDone { evidence: "added".into() }));
    assert_eq!(err.code, ErrorCode::OutOfOrder);

    // Following the block ends the case: the attacker is not asked for an owner instead.
    let ended = wv.step(&case, StepInput::FollowBlock);
    assert_eq!((ended.status.key(), ended.outcome.map(|o| o.key())), ("finished", Some("blocked")));
}

#[test]
fn attack_a_victims_username_and_verified_address_on_the_gitlab_com_secondary_email_path() {
    let wv = Webview::new();
    // tess.work@example.com is a verified secondary email of @two-emails-tess: attached to the
    // attacker's support profile, Tess's tickets from it would be the attacker's.
    let case = wv.open(ATTACKER_TICKET, "secondary-email");
    let case = wv.step(&case, StepInput::Decide { option: "gitlab-com".into(), reason: "a GitLab.com user".into() });
    let case = wv.checklist(&case, &[("gitlab_username", "two-emails-tess"), ("new_email", "tess.work@example.com")]);
    let case = wv.step(&case, StepInput::RunLookup);
    assert!(gate(&case, "email_verified_on_gitlab").passed, "the address is verified on the victim's account");
    let tie = gate(&case, "requester_holds_gitlab_account");
    assert!(!tie.passed && tie.detail.contains("@two-emails-tess does not hold the ticket requester's email gus@globex.example"));

    let err = refused(&wv, || wv.submit(&case, StepInput::Continue));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
    let err = refused(&wv, || wv.submit_at(case.id, "add-identity", StepInput::RunAction { confirmation: String::new() }));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
    let ended = wv.step(&case, StepInput::FollowBlock);
    assert_eq!(ended.outcome.map(|o| o.key()), Some("blocked"), "the tie gate stops the case");
    let world = wv.sandbox().snapshot();
    let gus = world["zendesk"]["users"].as_array().unwrap().iter().find(|u| u["id"] == GUS).unwrap().clone();
    assert!(!gus.to_string().contains("tess.work@example.com"), "the attacker's profile did not gain the address");
}

#[test]
fn attack_the_new_address_is_not_the_one_that_wrote_in() {
    let wv = Webview::new();
    // Gus asks to add an address he never wrote from to Olga's profile.
    let case = wv.open(ATTACKER_TICKET, "secondary-email");
    let case = wv.step(&case, StepInput::Decide { option: "self-managed".into(), reason: "a Self-Managed license".into() });
    let case = wv.checklist(&case, &[("new_email", "victim@fastmail.example"), ("primary_email", "olga@acme.example")]);
    let case = wv.step(&case, StepInput::RunLookup);
    let g = gate(&case, "ticket_from_new_address");
    assert!(!g.passed && g.detail.contains("submitted from gus@globex.example, not from victim@fastmail.example"), "{g:?}");
    let err = refused(&wv, || wv.submit(&case, StepInput::Continue));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
}

/// Lena's scenario-6 case (ticket 8004) up to the new portal account's address: the GitLab
/// account linked to lena.billing@… (user 111) is unlinked with her permission.
fn unlinked(wv: &Webview, new_account: &str) -> CaseView {
    let case = wv.open(8004, "customersdot-sign-in");
    let requester = form(&case).iter().find(|f| f.id == "requester_email").unwrap().value.clone();
    let case = wv.checklist(&case, &[("requester_email", &requester), ("other_emails", "")]);
    let case = wv.step(&case, StepInput::RunLookup);
    let case =
        wv.step(&case, StepInput::Decide { option: "scenario-6".into(), reason: "linked accounts with different emails".into() });
    let case = wv.step(&case, StepInput::SendReply { post: true });
    let case = wv.step(&case, StepInput::RequestPermission { post: true });
    let yes = wv.comment_as(8004, None, "Yes, please unlink it and add the new account.");
    let case = wv.step(&case, StepInput::ConfirmPermission { comment_id: yes });
    let case = wv.step(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() });
    assert_eq!(current(&case), "new-account");
    wv.checklist(&case, &[("new_customer_email", new_account)])
}

#[test]
fn attack_scenario_6_adds_someone_elses_portal_account_to_the_billing_account() {
    let wv = Webview::new();
    // Quinn's own portal account, linked to her GitLab account (user 101), not to Lena's.
    wv.sandbox().portal_sign_up_with_gitlab(101).unwrap();
    let case = unlinked(&wv, "quinn@example.com");
    assert_eq!(current(&case), "add-membership");
    let err = refused(&wv, || wv.submit(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }));
    assert_eq!(err.code, ErrorCode::Rejected);
    assert!(
        err.message.contains("quinn@example.com is linked to GitLab user 101, not to the GitLab account that was unlinked (lena.gitlab@example.com, user 111)"),
        "{}",
        err.message
    );
    // A portal account linked to no GitLab user is refused alike.
    let wv = Webview::new();
    let case = unlinked(&wv, "diane@personal.example");
    let err = refused(&wv, || wv.submit(&case, StepInput::RunAction { confirmation: "lena.billing@example.com".into() }));
    assert!(err.message.contains("is linked to no GitLab user"), "{}", err.message);
}

#[test]
fn attack_an_inactive_victims_address_released_on_the_attackers_ticket() {
    let wv = Webview::new();
    // Quinn's account is inactive, so every activity gate passes; Gus knows her username and
    // address (both can be guessed or read) and asks, from his own address, to release it.
    let case = wv.open(ATTACKER_TICKET, "release-email");
    let case = wv.checklist(
        &case,
        &[("username", "quiet-quinn"), ("email", "quinn@example.com"), ("how_confirmed", "Stated in the ticket")],
    );
    let case = wv.step(&case, StepInput::RunLookup);
    assert!(gate(&case, "never_signed_in").passed && gate(&case, "no_memberships").passed, "only the tie stands in the way");
    let tie = gate(&case, "requester_holds_gitlab_account");
    assert!(!tie.passed);
    assert!(tie.detail.contains("gus@globex.example"), "the block shows whose ticket it is: {}", tie.detail);

    let err = refused(&wv, || wv.submit(&case, StepInput::Continue));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
    let err = refused(&wv, || wv.submit_at(case.id, "permission", StepInput::RequestPermission { post: true }));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
    let err = refused(&wv, || wv.submit_at(case.id, "release", StepInput::RunAction { confirmation: "quiet-quinn".into() }));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
    let ended = wv.step(&case, StepInput::FollowBlock);
    assert_eq!((ended.status.key(), ended.outcome.map(|o| o.key())), ("finished", Some("blocked")), "the case ends, blocked");
}
