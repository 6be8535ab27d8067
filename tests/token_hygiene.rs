//! After a full session of calls, with successes and failures on every service, no token is in
//! the database file, the log files, or anything sent over IPC.

mod support;

use std::time::Duration;

use casekit::api::{handlers, AppState};
use casekit::connectors::{HttpSettings, Service};
use casekit::paths::AppPaths;
use casekit::sandbox::faults::{Fault, FaultRule};
use casekit::sandbox::{Sandbox, SandboxConfig};
use casekit::secrets::Keychain;

fn read_all(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(read_all(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn no_token_reaches_the_database_the_logs_or_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths::under(dir.path());
    paths.create().unwrap();
    let guard = casekit::logging::init(&paths.log_dir).unwrap();
    let settings =
        HttpSettings { total_timeout: Duration::from_secs(3), base_delay: Duration::from_millis(5), ..HttpSettings::default() };
    let state = AppState::open(paths.clone(), Keychain::in_memory(), settings);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut ipc = String::new();
    let mut record = |reply: String| ipc.push_str(&reply);

    // A second sandbox plays the live services of a live profile.
    let live_services = runtime.block_on(Sandbox::start(SandboxConfig::default())).unwrap();
    let c = live_services.credentials().clone();
    let input = support::live_profile_on(&c, "Training room", "Sam Sandbox");
    let live = handlers::save_profile(&state, input).unwrap();
    record(serde_json::to_string(&live).unwrap());
    let tokens = [
        (Service::Gitlab, c.gitlab.admin_token.clone()),
        (Service::Zendesk, c.zendesk.token.clone()),
        (Service::ZendeskUsGov, c.zendesk_us_gov.token.clone()),
        (Service::Mailgun, c.mailgun.api_key.clone()),
        (Service::Customersdot, c.customersdot.token.clone()),
    ];
    for (service, token) in &tokens {
        record(serde_json::to_string(&handlers::store_token(&state, live.id, *service, token.clone()).unwrap()).unwrap());
    }
    let bad = handlers::store_token(&state, live.id, Service::Gitlab, format!("{} {}", c.gitlab.user_token, "x")).unwrap_err();
    record(serde_json::to_string(&bad).unwrap());

    // Successes, then failures of every kind, on both profiles.
    let sandbox = handlers::active_profile(&state).unwrap();
    for profile in [live.id, sandbox.id] {
        for service in Service::ALL {
            record(
                serde_json::to_string(&runtime.block_on(handlers::test_connection(&state, profile, service)).unwrap()).unwrap(),
            );
        }
    }
    for (status, service, path) in [
        (401, Service::Gitlab, "/api/v4/personal_access_tokens/self"),
        (403, Service::Zendesk, "/api/v2/users/me"),
        (503, Service::Mailgun, "/v3/domains/*"),
        (422, Service::Customersdot, "/admin/api/v1/whoami"),
    ] {
        live_services.arm_fault(FaultRule {
            service: Some(service),
            method: None,
            path: path.into(),
            fault: Fault::Status { status },
            times: None,
        });
        record(serde_json::to_string(&runtime.block_on(handlers::test_connection(&state, live.id, service)).unwrap()).unwrap());
    }
    live_services.clear_faults();
    live_services.arm_fault(FaultRule { service: None, method: None, path: "/*".into(), fault: Fault::Drop, times: None });
    for service in Service::ALL {
        record(serde_json::to_string(&runtime.block_on(handlers::test_connection(&state, live.id, service)).unwrap()).unwrap());
    }
    live_services.stop();
    record(
        serde_json::to_string(&runtime.block_on(handlers::test_connection(&state, live.id, Service::Gitlab)).unwrap()).unwrap(),
    );
    record(serde_json::to_string(&handlers::list_profiles(&state).unwrap()).unwrap());
    record(serde_json::to_string(&handlers::stored_tokens(&state, live.id).unwrap()).unwrap());
    record(serde_json::to_string(&handlers::app_info(&state).unwrap()).unwrap());

    let internal = runtime.block_on(state.sandbox()).unwrap().credentials().clone();
    drop(state);
    drop(guard); // flushes the log writer

    let database: Vec<u8> = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::read(format!("{}{suffix}", paths.database().display())).ok())
        .flatten()
        .collect();
    let logs = read_all(&paths.log_dir);
    let log_text = String::from_utf8_lossy(&logs);
    assert!(log_text.contains("request") && log_text.contains("status=200"), "the session was logged:\n{log_text}");
    assert!(contains(&database, "Training room"), "the database file was read");
    assert!(ipc.contains("\"unauthorized\"") && ipc.contains("\"unreachable\""), "failures crossed IPC: {ipc}");

    let mut secrets: Vec<String> = tokens.into_iter().map(|(_, t)| t).collect();
    secrets.push(c.gitlab.user_token.clone());
    secrets.extend([internal.gitlab.admin_token, internal.zendesk.token, internal.mailgun.api_key, internal.customersdot.token]);
    for secret in &secrets {
        assert!(!contains(&database, secret), "a token is in the database file");
        assert!(!contains(&logs, secret), "a token is in the logs");
        assert!(!ipc.contains(secret.as_str()), "a token crossed IPC");
    }
}
