//! The real OS keychain (Secret Service on Linux). Ignored in a plain `cargo test`: `make test`
//! runs the first under a private D-Bus session with an unlocked gnome-keyring, and the second
//! with no session bus at all.

use casekit::connectors::Service;
use casekit::secrets::{Keychain, Secret};
use casekit::ErrorCode;

#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn a_token_round_trips_through_the_os_keychain_and_is_removed() {
    let keychain = Keychain::os().expect("the Secret Service is reachable");
    assert!(!keychain.is_in_memory());
    let profile = 1_000_000 + i64::from(fastrand::u32(..1_000_000));
    let token = Secret::new(format!("glpat-{}", fastrand::u64(..)));
    keychain.set(profile, Service::Gitlab, &token).unwrap();
    let again = Keychain::os().unwrap();
    assert_eq!(
        again.get(profile, Service::Gitlab).unwrap().unwrap().expose(),
        token.expose(),
        "a second connection reads it back"
    );
    assert!(again.get(profile, Service::Mailgun).unwrap().is_none());
    again.delete(profile, Service::Gitlab).unwrap();
    assert!(keychain.get(profile, Service::Gitlab).unwrap().is_none());
}

#[test]
#[ignore = "needs no session bus: `make test` runs it with DBUS_SESSION_BUS_ADDRESS pointing nowhere"]
fn without_a_keyring_the_error_says_how_to_fix_it() {
    let err = Keychain::os().and_then(|k| k.get(1, Service::Gitlab)).expect_err("no keyring is reachable");
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable);
    assert!(err.to_string().contains("Start and unlock your keyring"), "{err}");
}
