//! The window's answers to the `Host` questions: native dialogs, once the window exists.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tauri_plugin_dialog::DialogExt;

use crate::api::{Host, SaveFile};
use crate::{Error, IpcError};

/// The running app, attached when the window is set up (commands may run before that).
#[derive(Clone, Default)]
pub(super) struct Desktop(Arc<OnceLock<tauri::AppHandle>>);

impl Desktop {
    /// Remembers the running app.
    pub(super) fn attach(&self, handle: tauri::AppHandle) {
        let _ = self.0.set(handle);
    }
}

impl Host for Desktop {
    fn pick_save_path(&self, file: SaveFile<'_>) -> Result<Option<PathBuf>, IpcError> {
        let handle = self.0.get().ok_or_else(|| IpcError::from(Error::Internal("the window is not ready yet".into())))?;
        let picked =
            handle.dialog().file().set_file_name(file.default_name).add_filter(file.kind, &[file.extension]).blocking_save_file();
        Ok(picked.and_then(|p| p.into_path().ok()))
    }
}
