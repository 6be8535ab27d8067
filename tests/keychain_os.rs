//! The real OS keychain (Secret Service on Linux). Ignored in a plain `cargo test`: `make test`
//! runs the first two under a private D-Bus session with an unlocked gnome-keyring, and the
//! last with no session bus at all.

use casekit::connectors::Service;
use casekit::secrets::{Keychain, Secret, Tokens};
use casekit::ErrorCode;

fn random_key() -> String {
    format!("test-{:016x}", fastrand::u64(..))
}

#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn a_token_round_trips_through_the_os_keychain_and_is_removed() {
    let keychain = Keychain::os().expect("the Secret Service is reachable");
    assert!(!keychain.is_in_memory());
    let profile = random_key();
    let token = Secret::new(format!("glpat-{}", fastrand::u64(..)));
    keychain.set(&profile, Service::Gitlab, &token).unwrap();
    let again = Keychain::os().unwrap();
    assert_eq!(
        again.get(&profile, Service::Gitlab).unwrap().unwrap().expose(),
        token.expose(),
        "a second connection reads it back"
    );
    assert!(again.get(&profile, Service::Mailgun).unwrap().is_none());
    assert!(again.get(&random_key(), Service::Gitlab).unwrap().is_none(), "another profile key sees nothing");
    again.delete(&profile, Service::Gitlab).unwrap();
    assert!(keychain.get(&profile, Service::Gitlab).unwrap().is_none());
}

/// The bug a live profile hit: the Secret Service store runs a runtime of its own, and a read
/// on a tokio worker panicked ("Cannot start a runtime from within a runtime"), poisoning the
/// store for every later call.
#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn the_os_keychain_works_when_called_from_async_code_again_and_again() {
    let keychain = Keychain::os().expect("the Secret Service is reachable");
    let profile = random_key();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        keychain.set(&profile, Service::Zendesk, &Secret::new("zendesk-token-from-async-code")).unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (k, p) = (keychain.clone(), profile.clone());
                tokio::spawn(async move { Tokens::read(&k, &p).map(|t| t.services()) })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("no panic on a worker").unwrap(), [Service::Zendesk]);
        }
    });
    keychain.delete(&profile, Service::Zendesk).unwrap();
    assert!(keychain.get(&profile, Service::Zendesk).unwrap().is_none(), "the store still works afterwards");
}

#[test]
#[ignore = "needs no session bus: `make test` runs it with DBUS_SESSION_BUS_ADDRESS pointing nowhere"]
fn without_a_keyring_the_error_says_how_to_fix_it() {
    let err = Keychain::os().and_then(|k| k.get("any", Service::Gitlab)).expect_err("no keyring is reachable");
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable);
    assert!(err.to_string().contains("Start and unlock your keyring"), "{err}");
    let again = Keychain::os().expect_err("still no keyring, and still no panic");
    assert_eq!(again.code(), ErrorCode::KeychainUnavailable);
}
