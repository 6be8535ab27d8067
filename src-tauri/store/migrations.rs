//! Embedded, numbered migrations. All pending ones and their bookkeeping run in one
//! IMMEDIATE transaction: either the file reaches the new version or it is left as it was.
//! The version lives in `PRAGMA user_version` (read before anything writes).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Error, Result};

/// One schema step. Versions start at 1 and increase by one; never edit a shipped one.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration this build knows, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "profiles and cases", sql: include_str!("migrations/0001_profiles_and_cases.sql") },
    Migration { version: 2, name: "profile services", sql: include_str!("migrations/0002_profile_services.sql") },
    Migration { version: 3, name: "case state and audit log", sql: include_str!("migrations/0003_case_state_and_audit.sql") },
    Migration { version: 4, name: "outbox and search", sql: include_str!("migrations/0004_outbox_and_search.sql") },
    Migration { version: 5, name: "profile keychain id", sql: include_str!("migrations/0005_profile_keychain_id.sql") },
    Migration { version: 6, name: "case revision", sql: include_str!("migrations/0006_case_revision.sql") },
    Migration {
        version: 7,
        name: "search indexed in batches",
        sql: include_str!("migrations/0007_search_indexed_in_batches.sql"),
    },
];

/// The newest schema this build writes.
pub const LATEST_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

pub(crate) fn current_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get("user_version"))?)
}

/// Applies what is pending; returns the version reached.
pub(crate) fn apply(conn: &mut Connection, path: &Path, migrations: &[Migration]) -> Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another Casekit may have migrated meanwhile.
    let found = current_version(&tx)?;
    let supported = migrations.last().map_or(0, |m| m.version);
    if found > supported {
        return Err(Error::SchemaTooNew { path: path.to_owned(), found, supported });
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);",
    )?;
    let mut version = found;
    for m in migrations.iter().filter(|m| m.version > found) {
        if m.version != version + 1 {
            return Err(Error::Internal(format!("migration {} follows {version}: versions must be consecutive", m.version)));
        }
        tx.execute_batch(m.sql)
            .map_err(|e| Error::Internal(format!("Migration {} ({}) failed, nothing was changed: {e}", m.version, m.name)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
            (m.version, m.name),
        )?;
        version = m.version;
        tracing::info!(version, name = m.name, "database migrated");
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()?;
    Ok(version)
}
