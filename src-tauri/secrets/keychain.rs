//! Tokens in the OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager
//! on Windows), one entry per profile and service. An in-memory store exists for tests that
//! ask for it by name; the app never falls back to it.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

use super::Secret;
use crate::connectors::Service;
use crate::{Error, Result};

/// The keychain "service" every Casekit entry is filed under.
const KEYCHAIN_SERVICE: &str = "dev.casekit.desktop";

/// A credential store and what kind it is.
#[derive(Clone)]
pub struct Keychain {
    store: Arc<CredentialStore>,
    in_memory: bool,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keychain({})", if self.in_memory { "in memory" } else { "OS" })
    }
}

impl Keychain {
    /// The operating system's keychain.
    pub fn os() -> Result<Keychain> {
        Ok(Keychain { store: os_store()?, in_memory: false })
    }

    /// A keychain that lives and dies with the process. For tests only.
    pub fn in_memory() -> Keychain {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().expect("the mock store always builds");
        Keychain { store, in_memory: true }
    }

    pub fn is_in_memory(&self) -> bool {
        self.in_memory
    }

    fn entry(&self, profile_id: i64, service: Service) -> Result<Entry> {
        self.store.build(KEYCHAIN_SERVICE, &format!("profile-{profile_id}/{}", service.key()), None).map_err(keychain_error)
    }

    /// The stored token, if any.
    pub fn get(&self, profile_id: i64, service: Service) -> Result<Option<Secret>> {
        match self.entry(profile_id, service)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        }
    }

    /// Stores (or replaces) a token.
    pub fn set(&self, profile_id: i64, service: Service, token: &Secret) -> Result<()> {
        self.entry(profile_id, service)?.set_password(token.expose()).map_err(keychain_error)?;
        tracing::info!(profile_id, service = service.key(), "token stored in the keychain");
        Ok(())
    }

    /// Removes a token; removing one that is not there is fine.
    pub fn delete(&self, profile_id: i64, service: Service) -> Result<()> {
        match self.entry(profile_id, service)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => {
                tracing::info!(profile_id, service = service.key(), "token removed from the keychain");
                Ok(())
            }
            Err(e) => Err(keychain_error(e)),
        }
    }
}

#[cfg(target_os = "linux")]
fn os_store() -> Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new().map_err(keychain_error)?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn os_store() -> Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new().map_err(keychain_error)?;
    Ok(store)
}

#[cfg(windows)]
fn os_store() -> Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new().map_err(keychain_error)?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn os_store() -> Result<Arc<CredentialStore>> {
    Err(Error::Keychain("Casekit has no keychain support on this operating system; use the Sandbox profile.".into()))
}

/// What went wrong with the keychain, and what the agent can do about it.
fn keychain_error(e: keyring_core::Error) -> Error {
    let fix = if cfg!(target_os = "linux") {
        "Start and unlock your keyring (GNOME Keyring or KWallet, through the Secret Service) in your desktop session, then try again."
    } else {
        "Unlock the system keychain, then try again."
    };
    let why = match &e {
        keyring_core::Error::NoStorageAccess(inner) => format!("the keychain refused access ({inner})"),
        keyring_core::Error::PlatformFailure(inner) => format!("the keychain is not reachable ({inner})"),
        other => other.to_string(),
    };
    Error::Keychain(crate::secrets::redact(&format!("Casekit could not use the system keychain: {why}. {fix}")).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_per_profile_and_service() {
        let k = Keychain::in_memory();
        assert!(k.get(1, Service::Gitlab).unwrap().is_none());
        k.set(1, Service::Gitlab, &Secret::new("glpat-one-aaaaaaaaaaaa")).unwrap();
        k.set(2, Service::Gitlab, &Secret::new("glpat-two-bbbbbbbbbbbb")).unwrap();
        assert_eq!(k.get(1, Service::Gitlab).unwrap().unwrap().expose(), "glpat-one-aaaaaaaaaaaa");
        assert_eq!(k.get(2, Service::Gitlab).unwrap().unwrap().expose(), "glpat-two-bbbbbbbbbbbb");
        assert!(k.get(1, Service::Zendesk).unwrap().is_none());
        k.delete(1, Service::Gitlab).unwrap();
        k.delete(1, Service::Gitlab).unwrap();
        assert!(k.get(1, Service::Gitlab).unwrap().is_none());
        assert!(k.get(2, Service::Gitlab).unwrap().is_some());
    }
}
