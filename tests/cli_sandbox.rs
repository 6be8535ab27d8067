//! `casekit sandbox serve` as a terminal user runs it: one JSON line of URLs and tokens, the URLs
//! answer plain HTTP clients, a fixture file (with armed faults) is honoured, SIGTERM ends it.

#![cfg(unix)]

mod support;

use std::process::Command;

use serde_json::Value;
use support::serve::Served;

fn serve(args: &[&str]) -> (Served, Value) {
    let served = Served::start(args);
    let printed = served.printed.clone();
    (served, printed)
}

#[allow(clippy::result_large_err)] // ureq's own error type, as the callers match on it
fn get(url: &str, header: (&str, &str)) -> Result<ureq::Response, ureq::Error> {
    ureq::get(url).set(header.0, header.1).call()
}

#[test]
fn the_printed_urls_answer_and_sigterm_ends_it_cleanly() {
    let (mut server, printed) = serve(&["--base-port", "0"]);
    for key in ["gitlab", "zendesk", "zendesk_us_gov", "mailgun", "customersdot"] {
        assert!(printed[key]["url"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{key}: {printed}");
    }
    let gl = &printed["gitlab"];
    let users: Value = get(
        &format!("{}/api/v4/users?username=quiet-quinn", gl["url"].as_str().unwrap()),
        ("PRIVATE-TOKEN", gl["admin_token"].as_str().unwrap()),
    )
    .unwrap()
    .into_json()
    .unwrap();
    assert_eq!(users[0]["email"], "quinn@example.com");

    let zd = &printed["zendesk"];
    let basic = format!("{}/token:{}", zd["email"].as_str().unwrap(), zd["token"].as_str().unwrap());
    use base64::Engine as _;
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(basic));
    let ticket: Value = get(&format!("{}/api/v2/tickets/8001", zd["url"].as_str().unwrap()), ("Authorization", &auth))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(ticket["ticket"]["id"], 8001);
    let denied = get(&format!("{}/api/v2/tickets/8001", zd["url"].as_str().unwrap()), ("Authorization", "Basic eDp5"));
    assert!(matches!(denied, Err(ureq::Error::Status(401, _))));

    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "SIGTERM ends it with status 0, got {status}");
}

#[test]
fn a_fixture_file_is_served_with_its_armed_faults_and_a_bad_one_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let mut fixture: Value = serde_json::from_str(include_str!("../src-tauri/sandbox/fixtures.json")).unwrap();
    fixture["faults"] =
        serde_json::json!([{"service": "gitlab", "path": "/api/v4/user", "fault": {"kind": "status", "status": 503}}]);
    let path = dir.path().join("fixture.json");
    std::fs::write(&path, fixture.to_string()).unwrap();
    let (_server, printed) = serve(&["--fixtures", path.to_str().unwrap()]);
    let gl = &printed["gitlab"];
    let res =
        get(&format!("{}/api/v4/user", gl["url"].as_str().unwrap()), ("PRIVATE-TOKEN", gl["admin_token"].as_str().unwrap()));
    assert!(matches!(res, Err(ureq::Error::Status(503, _))), "the fixture's fault is armed");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"gitlab\": 1}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_casekit")).args(["sandbox", "serve", "--fixtures"]).arg(&broken).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a valid sandbox fixture") && err.contains("fixtures.json"), "{err}");

    let usage = Command::new(env!("CARGO_BIN_EXE_casekit")).args(["sandbox", "serve", "--base-port", "65534"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("leaves no room"));
}
