//! What only the desktop can do for a command, behind a trait: the window answers with native
//! dialogs (`app/`), a state without a window refuses, and tests answer with a fake, so every
//! command runs headless.

use std::path::PathBuf;

use crate::{Error, IpcError};

/// A file the agent is asked to save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveFile<'a> {
    /// The name the dialog proposes (`casekit-case-12.md`).
    pub default_name: &'a str,
    /// What the file is, as the dialog's filter names it (`Markdown`).
    pub kind: &'a str,
    /// The filter's extension, without the dot (`md`).
    pub extension: &'a str,
}

/// The desktop around the commands.
pub trait Host: Send + Sync + 'static {
    /// Asks where to save `file`: the path, or `None` when the agent cancels.
    fn pick_save_path(&self, file: SaveFile<'_>) -> Result<Option<PathBuf>, IpcError>;
}

/// No window: nothing to ask the agent in, so saving to a file is refused.
pub(super) struct Headless;

impl Host for Headless {
    fn pick_save_path(&self, file: SaveFile<'_>) -> Result<Option<PathBuf>, IpcError> {
        Err(Error::Internal(format!(
            "Casekit is running without a window, so it cannot ask where to save {}. Open the Casekit app to save it.",
            file.default_name
        ))
        .into())
    }
}
