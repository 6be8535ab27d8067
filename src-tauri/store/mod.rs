//! The local SQLite file: one place opens it (WAL, busy timeout, foreign keys) and brings its
//! schema up to date; the submodules own one table each.

pub mod anchor;
pub mod audit;
pub mod cases;
pub mod columns;
mod migrations;
pub mod outbox;
pub mod profiles;
pub mod search;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

pub use migrations::{Migration, LATEST_VERSION, MIGRATIONS};

use crate::{Error, Result};

/// How long a statement waits for another connection's lock before failing as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The opened, migrated database.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    schema_version: i64,
    /// Where the audit key comes from (the app's keychain), and the key once read.
    audit_key: anchor::KeySlot,
    /// The cases a writer of this process holds (one writer per case).
    claims: cases::Claims,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations in one
    /// transaction. A file written by a newer schema is refused before anything writes to it.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, MIGRATIONS)
    }

    /// `open` with an explicit migration list (tests use it to prove a failed migration
    /// leaves the file as it was).
    pub fn open_with(path: &Path, migrations: &[Migration]) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("Could not create the data folder {}", dir.display()), e))?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let supported = migrations.last().map_or(0, |m| m.version);
        let found = migrations::current_version(&conn)?;
        if found > supported {
            return Err(Error::SchemaTooNew { path: path.to_owned(), found, supported });
        }
        // WAL lets the UI read while a write is in flight. FULL syncs the log at every commit:
        // a transaction holds the audit row of a change made to someone's account, and that
        // row must survive a power loss right after the agent saw "done" (NORMAL may lose the
        // last commits). `make bench` measures what it costs.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let schema_version = migrations::apply(&mut conn, path, migrations)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            schema_version,
            audit_key: anchor::KeySlot::default(),
            claims: cases::Claims::default(),
        })
    }

    /// The connection, for one unit of work.
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds case `case_id` for one writer of this process, or `None` while another holds it.
    pub fn claim_case(&self, case_id: i64) -> Option<cases::Claim<'_>> {
        self.claims.claim(case_id)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tells the store which keychain holds the install's audit key (the app passes its own;
    /// tests pass `Keychain::in_memory()`). Only the first call counts.
    pub fn attach_keychain(&self, source: anchor::KeychainSource) {
        self.audit_key.attach(source);
    }

    /// The install's audit key, made on first need; read from the keychain once per store.
    /// Blocking: the keychain call runs on a thread of its own. Never on the append path.
    pub fn audit_key(&self) -> Result<anchor::AuditKey> {
        self.audit_key.get()
    }

    /// The schema version after migrations.
    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }
}
