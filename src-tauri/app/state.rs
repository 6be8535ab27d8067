//! What the shell keeps for the life of the window: the paths, the opened store (or why it
//! could not be opened, shown to the agent instead of a blank window), the log guard.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};
use std::time::Instant;

use tracing_appender::non_blocking::WorkerGuard;

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
pub struct AppState(Arc<Inner>);

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
    /// The running app, once the window exists (native dialogs need it).
    handle: std::sync::OnceLock<tauri::AppHandle>,
}

impl AppState {
    /// Resolves the folders, starts logging and opens the store; failures are kept and
    /// reported to the UI through `app_info`, so the agent sees what to do.
    pub fn start() -> Self {
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
        Self::with_paths(paths, launched, log_guard)
    }

    /// State over an explicit folder with the given keychain, without touching global logging
    /// (tests; they pass `Keychain::in_memory()` explicitly).
    pub fn open(paths: AppPaths, keychain: Keychain, http: HttpSettings) -> Self {
        let state = Self::with_paths(paths, Instant::now(), None);
        let mut inner = Arc::try_unwrap(state.0).unwrap_or_else(|_| unreachable!("just created"));
        *inner.keychain.lock().unwrap_or_else(|p| p.into_inner()) = Some(keychain);
        inner.http = http;
        AppState(Arc::new(inner))
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
        AppState(Arc::new(Inner {
            paths,
            store,
            launched,
            first_ipc: Once::new(),
            _log_guard: log_guard,
            keychain,
            tokens: Mutex::new(HashMap::new()),
            sandbox: tokio::sync::OnceCell::new(),
            http: HttpSettings::default(),
            handle: std::sync::OnceLock::new(),
        }))
    }

    /// Remembers the running app (for native dialogs).
    pub fn attach(&self, handle: tauri::AppHandle) {
        let _ = self.0.handle.set(handle);
    }

    /// Asks where to save a file with the native dialog; `None` when the agent cancels.
    pub fn pick_save_path(
        &self,
        default_name: &str,
        kind: &str,
        extension: &str,
    ) -> Result<Option<std::path::PathBuf>, IpcError> {
        use tauri_plugin_dialog::DialogExt;
        let handle = self.0.handle.get().ok_or_else(|| IpcError::from(Error::Internal("the window is not ready yet".into())))?;
        let picked = handle.dialog().file().set_file_name(default_name).add_filter(kind, &[extension]).blocking_save_file();
        Ok(picked.and_then(|p| p.into_path().ok()))
    }

    /// The OS keychain, or why it cannot be used and how to fix that. Blocking: call it from
    /// a blocking command or `spawn_blocking`, never on an async worker.
    pub fn keychain(&self) -> Result<Keychain, IpcError> {
        Ok(reach_keychain(&self.0.keychain)?)
    }

    /// The built-in sandbox, started on first use on the current async runtime.
    pub async fn sandbox(&self) -> Result<&Sandbox, IpcError> {
        Ok(self.0.sandbox.get_or_try_init(|| Sandbox::start(SandboxConfig::default())).await?)
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
        Ok(Connections::new(profile, credentials, self.0.http.clone()))
    }

    /// A live profile's tokens: read from the keychain the first time after activation, then
    /// from memory. Blocking.
    fn tokens(&self, profile_id: i64, keychain_id: &str) -> Result<Arc<Tokens>, IpcError> {
        if let Some(t) = self.0.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(&profile_id) {
            return Ok(t.clone());
        }
        let read = Arc::new(Tokens::read(&self.keychain()?, keychain_id)?);
        self.0.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(profile_id, read.clone());
        Ok(read)
    }

    /// Forgets the tokens read for one profile (they changed), or for all (`None`: a profile
    /// was activated, so the next case reads the keychain afresh).
    pub fn forget_tokens(&self, profile_id: Option<i64>) {
        let mut cache = self.0.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match profile_id {
            Some(id) => {
                cache.remove(&id);
            }
            None => cache.clear(),
        }
    }

    /// The folders in use.
    pub fn paths(&self) -> &AppPaths {
        &self.0.paths
    }

    /// The store, or the error that kept it from opening.
    pub fn store(&self) -> Result<&Store, IpcError> {
        self.0.store.as_ref().map_err(Clone::clone)
    }

    /// Logs, once, how long the UI took to make its first call (read by `make bench`).
    pub fn mark_ipc(&self, command: &str) {
        self.0.first_ipc.call_once(|| {
            let ms = self.0.launched.elapsed().as_secs_f64() * 1000.0;
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
