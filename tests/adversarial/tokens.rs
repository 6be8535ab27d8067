//! The webview cannot collect a token: it never gets one back, and pointing a service at a
//! host of its choosing deletes that service's token before anything can be sent there.

use std::io::ErrorKind;
use std::net::TcpListener;

use casekit::api::handlers;
use casekit::connectors::Service;
use casekit::store::profiles::{CustomersDotMode, ProfileInput, ServiceSettings};

use crate::harness::Webview;

#[test]
fn attack_the_webview_moves_gitlab_to_its_own_host_to_collect_the_token() {
    let wv = Webview::new();
    let gitlab = wv.sandbox().credentials().gitlab.clone();
    let mut input = ProfileInput {
        id: None,
        name: "Live".into(),
        agent_name: "Sam Agent".into(),
        agent_email: "sam@support.example".into(),
        services: ServiceSettings {
            gitlab_url: gitlab.url.clone(),
            zendesk_url: String::new(),
            zendesk_us_gov_url: String::new(),
            mailgun_url: String::new(),
            mailgun_domain: String::new(),
            customersdot_url: String::new(),
            customersdot_mode: CustomersDotMode::Api,
        },
    };
    let live = handlers::save_profile(wv.state(), input.clone()).unwrap();
    handlers::store_token(wv.state(), live.id, Service::Gitlab, gitlab.admin_token.clone()).unwrap();
    assert!(wv.block(handlers::test_connection(wv.state(), live.id, Service::Gitlab)).unwrap().ok, "the token works at home");

    // A host that listens and records whether anyone called.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    input.id = Some(live.id);
    input.services.gitlab_url = format!("http://{}", trap.local_addr().unwrap());
    handlers::save_profile(wv.state(), input).unwrap();

    let check = wv.block(handlers::test_connection(wv.state(), live.id, Service::Gitlab)).unwrap();
    assert!(!check.ok);
    assert!(check.error.unwrap().message.contains("No GitLab token is stored"), "the token went with the old address");
    assert_eq!(handlers::stored_tokens(wv.state(), live.id).unwrap(), [], "nothing left to send");
    match trap.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the new host was called: {other:?}"),
    }
}
