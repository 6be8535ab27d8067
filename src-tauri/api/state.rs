//! What the commands keep for the life of the app: the paths, the opened store (or why it
//! could not be opened, shown to the agent instead of a blank window), the log guard, and the
//! host that answers what only the desktop can.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::time::Instant;

use tracing_appender::non_blocking::WorkerGuard;

use super::host::{Headless, Host, SaveFile};
use crate::connectors::session::{Connections, Credentials};
use crate::connectors::HttpSettings;
use crate::paths::AppPaths;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::secrets::{Keychain, Tokens};
use crate::store::profiles::{self, ProfileKind};
use crate::store::Store;
use crate::{logging, Error, IpcError};

/// Shared, cheaply cloned state behind every command.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    host: Arc<dyn Host>,
}

struct Inner {
    paths: AppPaths,
    store: Result<Store, IpcError>,
    launched: Instant,
    first_ipc: Once,
    _log_guard: Option<WorkerGuard>,
    /// The OS keychain once reached (not cached while unreachable: the agent may unlock it).
    /// Shared with the store, which reads the audit key from it when a head is published.
    keychain: Arc<Mutex<Option<Keychain>>>,
    /// Each live profile's tokens as read from the keychain since it was last activated (or its
    /// tokens changed): a case's calls never ask the keychain again.
    tokens: Mutex<HashMap<i64, Arc<Tokens>>>,
    /// The built-in sandbox, started the first time a Sandbox profile needs it.
    sandbox: tokio::sync::OnceCell<Sandbox>,
    http: HttpSettings,
}

impl AppState {
    /// Resolves the folders, starts logging and opens the store; failures are kept and
    /// reported to the UI through `app_info`, so the agent sees what to do.
    pub fn start(host: impl Host) -> Self {
        let launched = Instant::now();
        let paths = AppPaths::resolve().unwrap_or_else(|e| {
            eprintln!("{e}");
            AppPaths::under(std::env::temp_dir().join(crate::paths::IDENTIFIER))
        });
        let log_guard = paths.create().and_then(|()| logging::init(&paths.log_dir));
        let log_guard = match log_guard {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!("Casekit is running without a log file: {e}");
                None
            }
        };
        tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %paths.data_dir.display(), "Casekit starting");
        Self::with_paths(paths, launched, log_guard).with_host(host)
    }

    /// State over an explicit folder with the given keychain, without touching global logging
    /// or a window (tests; they pass `Keychain::in_memory()` explicitly, and `with_host` a fake
    /// to save files).
    pub fn open(paths: AppPaths, keychain: Keychain, http: HttpSettings) -> Self {
        let state = Self::with_paths(paths, Instant::now(), None);
        let mut inner = Arc::try_unwrap(state.inner).unwrap_or_else(|_| unreachable!("just created"));
        *inner.keychain.lock().unwrap_or_else(|p| p.into_inner()) = Some(keychain);
        inner.http = http;
        AppState { inner: Arc::new(inner), host: state.host }
    }

    /// The same state answered by another host.
    pub fn with_host(self, host: impl Host) -> Self {
        AppState { host: Arc::new(host), ..self }
    }

    fn with_paths(paths: AppPaths, launched: Instant, log_guard: Option<WorkerGuard>) -> Self {
        let store = Store::open(&paths.database()).map_err(|e: Error| {
            tracing::error!(error = %e, "the database could not be opened");
            IpcError::from(e)
        });
        let keychain = Arc::new(Mutex::new(None));
        if let Ok(store) = &store {
            let slot = keychain.clone();
            store.attach_keychain(Box::new(move || reach_keychain(&slot)));
        }
        let inner = Inner {
            paths,
            store,
            launched,
            first_ipc: Once::new(),
            _log_guard: log_guard,
            keychain,
            tokens: Mutex::new(HashMap::new()),
            sandbox: tokio::sync::OnceCell::new(),
            http: HttpSettings::default(),
        };
        AppState { inner: Arc::new(inner), host: Arc::new(Headless) }
    }

    /// Asks the host where to save a file; `None` when the agent cancels. Blocking (a dialog).
    pub fn pick_save_path(&self, file: SaveFile<'_>) -> Result<Option<PathBuf>, IpcError> {
        self.host.pick_save_path(file)
    }

    /// The OS keychain, or why it cannot be used and how to fix that. Blocking: call it from
    /// a blocking command or `spawn_blocking`, never on an async worker.
    pub fn keychain(&self) -> crate::Result<Keychain> {
        reach_keychain(&self.inner.keychain)
    }

    /// The built-in sandbox, started on first use on the current async runtime.
    pub async fn sandbox(&self) -> Result<&Sandbox, IpcError> {
        Ok(self.inner.sandbox.get_or_try_init(|| Sandbox::start(SandboxConfig::default())).await?)
    }

    /// The clients of a profile. Blocking work (SQLite) runs off the async threads.
    pub async fn connections(&self, profile_id: i64) -> Result<Connections, IpcError> {
        let this = self.clone();
        let profile =
            tokio::task::spawn_blocking(move || -> Result<_, IpcError> { Ok(profiles::get(&this.store()?.conn(), profile_id)?) })
                .await
                .map_err(|e| IpcError::from(Error::Internal(format!("reading the profile stopped: {e}"))))??;
        let credentials = match profile.kind {
            ProfileKind::Sandbox => Credentials::Sandbox(self.sandbox().await?.credentials().clone()),
            ProfileKind::Live => {
                let (this, key) = (self.clone(), profile.keychain_id.clone());
                Credentials::Live(
                    tokio::task::spawn_blocking(move || this.tokens(profile_id, &key))
                        .await
                        .map_err(|e| IpcError::from(Error::Internal(format!("reading the keychain stopped: {e}"))))??,
                )
            }
        };
        Ok(Connections::new(profile, credentials, self.inner.http.clone()))
    }

    /// A live profile's tokens: read from the keychain the first time after activation, then
    /// from memory. Blocking.
    fn tokens(&self, profile_id: i64, keychain_id: &str) -> Result<Arc<Tokens>, IpcError> {
        if let Some(t) = self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(&profile_id) {
            return Ok(t.clone());
        }
        let read = Arc::new(Tokens::read(&self.keychain()?, keychain_id)?);
        self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(profile_id, read.clone());
        Ok(read)
    }

    /// Forgets the tokens read for one profile (they changed), or for all (`None`: a profile
    /// was activated, so the next case reads the keychain afresh).
    pub fn forget_tokens(&self, profile_id: Option<i64>) {
        let mut cache = self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match profile_id {
            Some(id) => {
                cache.remove(&id);
            }
            None => cache.clear(),
        }
    }

    /// The folders in use.
    pub fn paths(&self) -> &AppPaths {
        &self.inner.paths
    }

    /// The store, or the error that kept it from opening.
    pub fn store(&self) -> Result<&Store, IpcError> {
        self.inner.store.as_ref().map_err(Clone::clone)
    }

    /// Logs, once, how long the UI took to make its first call (read by `make bench`).
    pub fn mark_ipc(&self, command: &str) {
        self.inner.first_ipc.call_once(|| {
            let ms = self.inner.launched.elapsed().as_secs_f64() * 1000.0;
            tracing::info!(command, elapsed_ms = format!("{ms:.0}"), "first IPC from the UI");
        });
    }
}

/// The keychain in `slot`, reaching the OS one the first time it answers.
fn reach_keychain(slot: &Mutex<Option<Keychain>>) -> crate::Result<Keychain> {
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = slot.as_ref() {
        return Ok(k.clone());
    }
    let k = Keychain::os()?;
    *slot = Some(k.clone());
    Ok(k)
}
