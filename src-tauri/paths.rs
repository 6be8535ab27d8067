//! Where Casekit keeps its database and logs: the platform's app data and log folders (the same
//! ones Tauri uses), or `CASEKIT_DATA_DIR` when set (tests, training rooms, several profiles).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The bundle identifier; equal to `identifier` in tauri.conf.json (a test checks it).
pub const IDENTIFIER: &str = "dev.casekit.desktop";
/// Environment variable that overrides the data folder.
pub const DATA_DIR_ENV: &str = "CASEKIT_DATA_DIR";
const DATABASE_FILE: &str = "casekit.sqlite3";

/// The folders Casekit writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPaths {
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl AppPaths {
    /// Resolves the folders from `CASEKIT_DATA_DIR` or the platform defaults.
    pub fn resolve() -> Result<Self> {
        match std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
            Some(dir) => Ok(Self::under(PathBuf::from(dir))),
            None => Self::platform_default(),
        }
    }

    /// Everything below one folder: the database in it, logs in `logs/`.
    pub fn under(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        let log_dir = data_dir.join("logs");
        AppPaths { data_dir, log_dir }
    }

    fn platform_default() -> Result<Self> {
        let data = dirs::data_dir().ok_or_else(|| {
            Error::Internal(format!(
                "Could not find this system's application data folder. Set {DATA_DIR_ENV} to a folder Casekit may write to."
            ))
        })?;
        let data_dir = data.join(IDENTIFIER);
        // Tauri's app_log_dir: ~/Library/Logs/<id> on macOS, <local data>/<id>/logs elsewhere.
        let log_dir = if cfg!(target_os = "macos") {
            dirs::home_dir().map(|h| h.join("Library/Logs").join(IDENTIFIER))
        } else {
            dirs::data_local_dir().map(|d| d.join(IDENTIFIER).join("logs"))
        }
        .unwrap_or_else(|| data_dir.join("logs"));
        Ok(AppPaths { data_dir, log_dir })
    }

    /// The SQLite file.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    /// Creates both folders if needed.
    pub fn create(&self) -> Result<()> {
        create_dir(&self.data_dir)?;
        create_dir(&self.log_dir)
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("Could not create the folder {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_folder_holds_the_database_and_the_logs() {
        let p = AppPaths::under("/tmp/ck");
        assert_eq!(p.database(), PathBuf::from("/tmp/ck/casekit.sqlite3"));
        assert_eq!(p.log_dir, PathBuf::from("/tmp/ck/logs"));
    }

    #[test]
    fn the_identifier_matches_the_tauri_config() {
        let conf: serde_json::Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        assert_eq!(conf["identifier"], IDENTIFIER);
    }
}
