//! Tokens in the OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager
//! on Windows), one entry per profile and service, filed under the profile's random keychain
//! id (never its row id, which a second data folder reuses). An in-memory store exists for
//! tests that ask for it by name; the app never falls back to it.
//!
//! Every keychain call is blocking (a D-Bus round trip on Linux, and the Secret Service crate
//! runs its own async runtime inside). So each one runs on a short-lived thread of its own:
//! never on an async worker, whoever calls it. A store that fails (or panics, which would poison
//! its internal lock) is dropped and reconnected on the next call, so one failure is an error
//! with a fix-it message, never a keychain that stays broken until a restart.

use std::sync::{Arc, Mutex};

use keyring_core::{CredentialStore, Entry};

use super::Secret;
use crate::service::Service;
use crate::{Error, Result};

/// The keychain "service" every Casekit entry is filed under.
const KEYCHAIN_SERVICE: &str = "dev.casekit.desktop";

type Connect = fn() -> Result<Arc<CredentialStore>>;

/// A credential store and what kind it is.
#[derive(Clone)]
pub struct Keychain(Arc<Backend>);

struct Backend {
    /// `None` until reached, and again after a failure (the next call reconnects).
    store: Mutex<Option<Arc<CredentialStore>>>,
    /// How to (re)connect; `None` for the in-memory store, which must never be replaced.
    connect: Option<Connect>,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keychain({})", if self.is_in_memory() { "in memory" } else { "OS" })
    }
}

impl Keychain {
    /// The operating system's keychain, reached once now (so a missing keyring is reported at
    /// once) and again after any failure.
    pub fn os() -> Result<Keychain> {
        let keychain = Keychain(Arc::new(Backend { store: Mutex::new(None), connect: Some(os_store) }));
        keychain.run(|_| Ok(()))?;
        Ok(keychain)
    }

    /// A keychain that lives and dies with the process. For tests only.
    pub fn in_memory() -> Keychain {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().expect("the mock store always builds");
        Keychain(Arc::new(Backend { store: Mutex::new(Some(store)), connect: None }))
    }

    pub fn is_in_memory(&self) -> bool {
        self.0.connect.is_none()
    }

    /// Runs one keychain operation on a thread of its own (no async runtime there to trip
    /// over), connecting first if needed. A failure or a panic drops the store.
    fn run<T: Send>(&self, op: impl FnOnce(&CredentialStore) -> Result<T> + Send) -> Result<T> {
        let backend = &self.0;
        let outcome = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let store = {
                        let mut slot = backend.store.lock().unwrap_or_else(|p| p.into_inner());
                        match (slot.as_ref(), backend.connect) {
                            (Some(store), _) => store.clone(),
                            (None, Some(connect)) => slot.insert(connect()?).clone(),
                            (None, None) => unreachable!("the in-memory store is never dropped"),
                        }
                    };
                    op(&*store)
                })
                .join()
        });
        let result = outcome.unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown failure");
            Err(keychain_failure(&format!("the keychain service failed ({why})")))
        });
        if result.is_err() && backend.connect.is_some() {
            *backend.store.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        result
    }

    fn entry(store: &CredentialStore, profile_key: &str, service: Service) -> Result<Entry> {
        store.build(KEYCHAIN_SERVICE, &format!("profile-{profile_key}/{}", service.key()), None).map_err(keychain_error)
    }

    /// The stored token, if any.
    pub fn get(&self, profile_key: &str, service: Service) -> Result<Option<Secret>> {
        self.run(|store| match Self::entry(store, profile_key, service)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        })
    }

    /// Stores (or replaces) a token.
    pub fn set(&self, profile_key: &str, service: Service, token: &Secret) -> Result<()> {
        self.run(|store| Self::entry(store, profile_key, service)?.set_password(token.expose()).map_err(keychain_error))?;
        tracing::info!(service = service.key(), "token stored in the keychain");
        Ok(())
    }

    /// Removes a token; removing one that is not there is fine.
    pub fn delete(&self, profile_key: &str, service: Service) -> Result<()> {
        self.run(|store| match Self::entry(store, profile_key, service)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(keychain_error(e)),
        })?;
        tracing::info!(service = service.key(), "token removed from the keychain");
        Ok(())
    }
}

/// The keychain account of the install's audit key (one per OS user, beside the profiles'
/// `profile-<id>/<service>` entries).
const AUDIT_KEY_ACCOUNT: &str = "install/audit-key";

impl Keychain {
    /// The install's audit key (64 hex digits: 32 random bytes), which signs the audit chain's
    /// heads; `None` when none was made yet. It never leaves the keychain except into a
    /// `Secret`.
    pub fn audit_key(&self) -> Result<Option<Secret>> {
        self.run(|store| match store.build(KEYCHAIN_SERVICE, AUDIT_KEY_ACCOUNT, None).map_err(keychain_error)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        })
    }

    /// The install's audit key, made on first need: 32 bytes from the operating system's
    /// random source, stored as hex, read back so that two processes making one at once both
    /// use the one that stayed.
    pub fn audit_key_or_create(&self) -> Result<Secret> {
        if let Some(key) = self.audit_key()? {
            return Ok(key);
        }
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *bytes)
            .map_err(|e| Error::Internal(format!("the operating system gave no random bytes for the audit key: {e}")))?;
        let hex = Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        self.run(|store| {
            store
                .build(KEYCHAIN_SERVICE, AUDIT_KEY_ACCOUNT, None)
                .map_err(keychain_error)?
                .set_password(hex.expose())
                .map_err(keychain_error)
        })?;
        tracing::info!("audit key created in the keychain");
        self.audit_key()?.ok_or_else(|| keychain_failure("the audit key just stored is not there"))
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
    let why = match &e {
        keyring_core::Error::NoStorageAccess(inner) => format!("the keychain refused access ({inner})"),
        keyring_core::Error::PlatformFailure(inner) => format!("the keychain is not reachable ({inner})"),
        other => other.to_string(),
    };
    keychain_failure(&why)
}

fn keychain_failure(why: &str) -> Error {
    let fix = if cfg!(target_os = "linux") {
        "Start and unlock your keyring (GNOME Keyring or KWallet, through the Secret Service) in your desktop session, then try again."
    } else {
        "Unlock the system keychain, then try again."
    };
    Error::Keychain(crate::secrets::redact(&format!("Casekit could not use the system keychain: {why}. {fix}")).into_owned())
}

/// A token as the agent pasted it, trimmed; refused before it reaches the keychain when it is
/// empty or cannot be one (spaces or line breaks inside: a copy that caught more than the token).
pub fn pasted_token(service: Service, pasted: &str) -> Result<Secret> {
    let token = Secret::new(pasted.trim());
    let value = token.expose();
    if value.is_empty() {
        return Err(Error::InvalidInput(format!("Paste the {} token first.", service.label())));
    }
    if value.len() > 1024 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidInput(format!(
            "That does not look like a {} token: it has spaces or line breaks. Copy the token alone and paste it again.",
            service.label()
        )));
    }
    Ok(token)
}

/// A profile's tokens, read from the keychain once per profile activation: the calls a case
/// makes use this copy instead of asking the keychain (and maybe the agent) every step.
#[derive(Clone, Default)]
pub struct Tokens(std::collections::BTreeMap<Service, Secret>);

impl Tokens {
    /// Reads every service's token of one profile (blocking; one unlock prompt at most).
    pub fn read(keychain: &Keychain, profile_key: &str) -> Result<Tokens> {
        let mut tokens = Tokens::default();
        for service in Service::ALL {
            if let Some(token) = keychain.get(profile_key, service)? {
                tokens.0.insert(service, token);
            }
        }
        Ok(tokens)
    }

    pub fn get(&self, service: Service) -> Option<&Secret> {
        self.0.get(&service)
    }

    /// The services that have a token.
    pub fn services(&self) -> Vec<Service> {
        self.0.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_per_profile_and_service() {
        let k = Keychain::in_memory();
        assert!(k.get("one", Service::Gitlab).unwrap().is_none());
        k.set("one", Service::Gitlab, &Secret::new("glpat-one-aaaaaaaaaaaa")).unwrap();
        k.set("two", Service::Gitlab, &Secret::new("glpat-two-bbbbbbbbbbbb")).unwrap();
        assert_eq!(k.get("one", Service::Gitlab).unwrap().unwrap().expose(), "glpat-one-aaaaaaaaaaaa");
        assert_eq!(k.get("two", Service::Gitlab).unwrap().unwrap().expose(), "glpat-two-bbbbbbbbbbbb");
        assert!(k.get("one", Service::Zendesk).unwrap().is_none());
        k.delete("one", Service::Gitlab).unwrap();
        k.delete("one", Service::Gitlab).unwrap();
        assert!(k.get("one", Service::Gitlab).unwrap().is_none());
        assert!(k.get("two", Service::Gitlab).unwrap().is_some());
        assert_eq!(Tokens::read(&k, "two").unwrap().services(), [Service::Gitlab]);
    }

    #[test]
    fn the_audit_key_is_made_once_and_kept_apart_from_profiles() {
        let k = Keychain::in_memory();
        assert!(k.audit_key().unwrap().is_none(), "no key before the first need");
        let key = k.audit_key_or_create().unwrap();
        assert_eq!(key.expose().len(), 64);
        assert!(key.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(k.audit_key_or_create().unwrap(), key, "made once, then read");
        assert_eq!(k.audit_key().unwrap().unwrap(), key);
        assert!(Tokens::read(&k, "install").unwrap().services().is_empty());
        let other = Keychain::in_memory().audit_key_or_create().unwrap();
        assert_ne!(other, key, "random, not derived from anything");
        assert_eq!(format!("{key:?}"), "[redacted]");
    }

    #[test]
    fn a_keychain_call_from_async_code_runs_off_the_runtime() {
        // The Secret Service store builds its own runtime: on a tokio worker that panicked.
        let k = Keychain::in_memory();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            k.set("p", Service::Gitlab, &Secret::new("glpat-async-cccccccccccc")).unwrap();
            let inside = k.run(|_| Ok(tokio::runtime::Handle::try_current().is_ok())).unwrap();
            assert!(!inside, "the keychain call ran inside the async runtime");
        });
    }

    #[test]
    fn a_store_that_panics_is_an_error_and_the_next_call_reconnects() {
        fn flaky() -> Result<Arc<CredentialStore>> {
            Ok(keyring_core::mock::Store::new().expect("builds"))
        }
        let k = Keychain(Arc::new(Backend { store: Mutex::new(None), connect: Some(flaky) }));
        let err = k.run(|_| -> Result<()> { panic!("Mutex failure in credential store") }).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::KeychainUnavailable);
        assert!(err.to_string().contains("keyring"), "{err}");
        assert!(k.0.store.lock().unwrap().is_none(), "the failed store was dropped");
        k.set("p", Service::Gitlab, &Secret::new("glpat-after-dddddddddddd")).expect("the next call works");
        assert!(k.get("p", Service::Gitlab).unwrap().is_some());
    }
}
