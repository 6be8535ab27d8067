//! Permission from the wrong person (issue 12, item 1). The back end names the one Zendesk user
//! whose reply counts; each attack picks another comment as "the permission" through
//! `submit_step`, and is refused with nothing changed.

use casekit::connectors::Service;
use casekit::playbook::consent::Role;
use casekit::playbook::engine::StepInput;
use casekit::playbook::view::CaseView;
use casekit::ErrorCode;

use crate::harness::{refused, Webview};
use crate::support::permission;

const TICKET: u64 = 8018; // from Dana (developer of acme-corp/api, Zendesk user 6016)
const DANA: u64 = 6016;
const MARIO: u64 = 6015; // maint-mario's address mario@acme.example: the one who must answer
const GUS: u64 = 6013; // someone else on the ticket

fn current(case: &CaseView) -> &str {
    case.current.as_ref().map_or("", |c| c.id.as_str())
}

/// Dana asks for a change she cannot make; she names maint-mario as the maintainer; the case
/// waits for the maintainer's permission, the request sent (`post`: by Casekit, else copied).
fn at_owner_permission(wv: &Webview, post: bool) -> CaseView {
    let case = wv.open(TICKET, "project-group-change");
    continue_to_owner_permission(wv, &case, post)
}

/// The case opened in `case`, on to the owner's permission with the request sent.
fn continue_to_owner_permission(wv: &Webview, case: &CaseView, post: bool) -> CaseView {
    let case = wv.checklist(
        case,
        &[
            ("username", "dev-dana"),
            ("target_kind", "project"),
            ("target", "acme-corp/api"),
            ("change", "re-run the failed pipeline"),
        ],
    );
    let case = wv.step(&case, StepInput::RunLookup);
    let case = wv.step(&case, StepInput::FollowBlock);
    let case = wv.step(&case, StepInput::SendReply { post: true });
    let case = wv.checklist(&case, &[("owner_username", "maint-mario")]);
    let case = wv.step(&case, StepInput::RunLookup);
    let case = wv.step(&case, StepInput::Continue);
    assert_eq!(current(&case), "owner-permission");
    let who = permission(&case).answerer.clone().expect("the back end names who answers");
    assert_eq!((who.user_id, who.name.as_str(), who.email.as_str()), (MARIO, "Mario Maintainer", "mario@acme.example"));
    wv.step(&case, StepInput::RequestPermission { post })
}

/// The comments the wizard offers as the permission (the back end's `acceptable`).
fn offered(wv: &Webview, case: &CaseView) -> Vec<u64> {
    wv.comments(case.id).iter().filter(|c| c.acceptable).map(|c| c.id).collect()
}

#[test]
fn attack_the_requester_confirms_on_the_owners_behalf() {
    let wv = Webview::new();
    let case = at_owner_permission(&wv, true);
    let by_requester = wv.comment_as(TICKET, Some(DANA), "I spoke to Mario, he is fine with it. Go ahead.");
    assert!(offered(&wv, &case).is_empty(), "the requester's reply is not offered as the owner's permission");
    let err = refused(&wv, || wv.submit(&case, StepInput::ConfirmPermission { comment_id: by_requester }));
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("by the ticket's requester: only Mario Maintainer <mario@acme.example>"), "{}", err.message);
    // And the change itself cannot be reached around the permission step.
    let err = refused(&wv, || wv.submit_at(case.id, "act", StepInput::ManualDone { evidence: "done".into() }));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
}

#[test]
fn attack_a_third_party_on_the_ticket_confirms() {
    let wv = Webview::new();
    let case = at_owner_permission(&wv, true);
    let by_other = wv.comment_as(TICKET, Some(GUS), "As a colleague of Mario: permission granted.");
    let err = refused(&wv, || wv.submit(&case, StepInput::ConfirmPermission { comment_id: by_other }));
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("by someone else (Zendesk user 6013)"), "{}", err.message);

    // Where the requester must answer (their own project), a third party cannot answer either.
    let own = wv.open(8017, "project-group-change");
    let own = wv.checklist(
        &own,
        &[
            ("username", "maint-mario"),
            ("target_kind", "project"),
            ("target", "acme-corp/api"),
            ("change", "re-run the pipeline"),
        ],
    );
    let own = wv.step(&own, StepInput::RunLookup);
    let own = wv.step(&own, StepInput::Continue);
    let own = wv.step(&own, StepInput::RequestPermission { post: true });
    let by_other = wv.comment_as(8017, Some(GUS), "Yes, go ahead.");
    let err = refused(&wv, || wv.submit(&own, StepInput::ConfirmPermission { comment_id: by_other }));
    assert!(err.message.contains("only Mario Maintainer <mario@acme.example> can give this permission"), "{}", err.message);
}

#[test]
fn attack_an_internal_note_counts_as_the_permission() {
    let wv = Webview::new();
    let case = at_owner_permission(&wv, true);
    let note = wv.sandbox().add_comment(Service::Zendesk, TICKET, Some(MARIO), false, "Fine by me.").unwrap();
    assert!(offered(&wv, &case).is_empty());
    let err = refused(&wv, || wv.submit(&case, StepInput::ConfirmPermission { comment_id: note }));
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("internal note"), "{}", err.message);
}

#[test]
fn attack_a_reply_written_before_the_request() {
    // Posted by Casekit: a reply older than the request's comment does not answer it.
    let wv = Webview::new();
    let opened = wv.open(TICKET, "project-group-change");
    let early = wv.comment_as(TICKET, Some(MARIO), "Sure, whatever you need.");
    let case = continue_to_owner_permission(&wv, &opened, true);
    let err = refused(&wv, || wv.submit(&case, StepInput::ConfirmPermission { comment_id: early }));
    assert!(err.message.contains("not after the permission request"), "{}", err.message);
    // The request itself is not the answer either.
    let request = permission(&case).posted_comment_id.unwrap();
    let err = refused(&wv, || wv.submit(&case, StepInput::ConfirmPermission { comment_id: request }));
    assert_eq!(err.code, ErrorCode::InvalidInput);

    // Copied by the agent: nothing on the ticket when the agent recorded sending it counts.
    let wv = Webview::new();
    let before = wv.comment_as(TICKET, Some(MARIO), "Sure, whatever you need.");
    let case = at_owner_permission(&wv, false);
    let after = permission(&case).after_comment_id.unwrap();
    assert!(after >= before, "the last comment when sending was recorded: {after} < {before}");
    let err = refused(&wv, || wv.submit(&case, StepInput::ConfirmPermission { comment_id: before }));
    assert!(err.message.contains("not after the permission request"), "{}", err.message);
    // The maintainer's reply after it is the one that counts.
    let reply = wv.comment_as(TICKET, Some(MARIO), "Yes, I give permission to re-run the pipeline.");
    assert_eq!(offered(&wv, &case), [reply]);
    let case = wv.step(&case, StepInput::ConfirmPermission { comment_id: reply });
    assert_eq!(current(&case), "act");
}

const NEW_ADDRESS_TICKET: u64 = 8020; // from okowalski@fastmail.example (user 6017)
const NEW_ADDRESS: u64 = 6017;
const OLGA: u64 = 6002; // olga@acme.example: the profile's primary address, CC'd

/// The Self-Managed secondary-email flow on ticket 8020, at the primary's confirmation with the
/// request posted.
fn at_primary_confirmation(wv: &Webview) -> CaseView {
    let case = wv.open(NEW_ADDRESS_TICKET, "secondary-email");
    let case = wv.step(&case, StepInput::Decide { option: "self-managed".into(), reason: "a Self-Managed license".into() });
    let case = wv.checklist(&case, &[("new_email", "okowalski@fastmail.example"), ("primary_email", "olga@acme.example")]);
    let case = wv.step(&case, StepInput::RunLookup);
    let case = wv.step(&case, StepInput::Continue);
    assert_eq!(current(&case), "primary-confirmation");
    wv.step(&case, StepInput::RequestPermission { post: true })
}

/// The email identities of a Zendesk user in the sandbox.
fn identities(wv: &Webview, user: u64) -> Vec<String> {
    let world = wv.sandbox().snapshot();
    let users = world["zendesk"]["users"].as_array().unwrap();
    let u = users.iter().find(|u| u["id"] == user).unwrap();
    u["identities"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn attack_the_new_address_confirms_its_own_addition() {
    let wv = Webview::new();
    let case = at_primary_confirmation(&wv);
    let who = permission(&case).answerer.clone().unwrap();
    assert_eq!((who.role, who.user_id), (Role::PrimaryAddress, OLGA));
    let own = wv.comment_as(NEW_ADDRESS_TICKET, Some(NEW_ADDRESS), "I confirm, please add me to that account.");
    let err = refused(&wv, || wv.submit(&case, StepInput::ConfirmPermission { comment_id: own }));
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("by the ticket's requester: only Olga Owner <olga@acme.example>"), "{}", err.message);
    let err = refused(&wv, || wv.submit_at(case.id, "add-identity", StepInput::RunAction { confirmation: String::new() }));
    assert_eq!(err.code, ErrorCode::OutOfOrder);
    assert_eq!(identities(&wv, OLGA), ["olga@acme.example"], "nothing was added to the profile");
}

#[test]
fn the_sandbox_plays_the_person_who_must_answer_not_the_requester() {
    let wv = Webview::new();
    let case = at_owner_permission(&wv, true);
    let comments =
        wv.block(casekit::api::handlers::simulate_customer_reply(wv.state(), case.id, "Yes, I give permission.".into())).unwrap();
    let reply = comments.last().unwrap();
    assert_eq!((reply.author_id, reply.acceptable), (MARIO, true), "{reply:?}");
    let case = wv.step(&case, StepInput::ConfirmPermission { comment_id: reply.id });
    assert_eq!(current(&case), "act");
}
