//! What the shell keeps for the life of the window: the paths, the opened store (or why it
//! could not be opened, shown to the agent instead of a blank window), the log guard.

use std::sync::{Arc, Once};
use std::time::Instant;

use tracing_appender::non_blocking::WorkerGuard;

use crate::paths::AppPaths;
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

    /// State over an explicit folder, without touching global logging (tests).
    pub fn open(paths: AppPaths) -> Self {
        Self::with_paths(paths, Instant::now(), None)
    }

    fn with_paths(paths: AppPaths, launched: Instant, log_guard: Option<WorkerGuard>) -> Self {
        let store = Store::open(&paths.database()).map_err(|e: Error| {
            tracing::error!(error = %e, "the database could not be opened");
            IpcError::from(e)
        });
        AppState(Arc::new(Inner { paths, store, launched, first_ipc: Once::new(), _log_guard: log_guard }))
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
