//! The SQLite file: created and migrated in one go, refused (and untouched) when newer,
//! rolled back whole when a migration fails, and what the agent saves survives a reopen.

use casekit::store::{cases, profiles, Migration, Store, LATEST_VERSION};
use casekit::{Error, ErrorCode};
use rusqlite::Connection;

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/casekit.sqlite3");
    (dir, path)
}

#[test]
fn a_new_database_is_created_in_wal_mode_on_the_sandbox_profile() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version(), LATEST_VERSION);
    let conn = store.conn();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let profile = profiles::active(&conn).unwrap();
    assert_eq!(profile.name, "Sandbox");
    assert_eq!(profile.kind, profiles::ProfileKind::Sandbox);
    assert!(cases::list_open(&conn).unwrap().is_empty());
}

#[test]
fn reopening_applies_nothing_twice() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let store = Store::open(&path).unwrap();
    let applied: i64 = store.conn().query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
    assert_eq!(applied, LATEST_VERSION);
    let sandboxes: i64 = store.conn().query_row("SELECT count(*) FROM profiles", [], |r| r.get(0)).unwrap();
    assert_eq!(sandboxes, 1);
}

#[test]
fn a_database_from_a_newer_casekit_is_refused_and_left_byte_for_byte_unchanged() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", LATEST_VERSION + 7).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).err().expect("a newer schema must be refused");
    assert_eq!(err.code(), ErrorCode::SchemaTooNew);
    let msg = err.to_string();
    assert!(msg.contains("newer Casekit") && msg.contains("was not changed"), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the refused file was modified");
}

#[test]
fn a_failing_migration_leaves_the_file_as_it_was() {
    let (_dir, path) = temp_db();
    let broken = [
        Migration { version: 1, name: "good", sql: "CREATE TABLE a (x INTEGER);" },
        Migration { version: 2, name: "bad", sql: "CREATE TABLE b (y INTEGER); INSERT INTO nowhere VALUES (1);" },
    ];
    let err = Store::open_with(&path, &broken).err().expect("the broken migration must fail");
    assert!(err.to_string().contains("Migration 2 (bad) failed, nothing was changed"), "{err}");
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0)).unwrap();
    assert_eq!((version, tables), (0, 0), "migration 1 must roll back with migration 2");
}

#[test]
fn the_agent_identity_is_validated_and_survives_a_reopen() {
    let (_dir, path) = temp_db();
    {
        let store = Store::open(&path).unwrap();
        let bad = profiles::AgentIdentity { name: "Ada".into(), email: "ada at example".into() };
        let err = profiles::set_agent_identity(&store.conn(), &bad).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        assert_eq!(profiles::active(&store.conn()).unwrap().agent_email, "");
        let good = profiles::AgentIdentity { name: "  Ada Lovelace ".into(), email: "ada@Example.com".into() };
        profiles::set_agent_identity(&store.conn(), &good).unwrap();
    }
    let store = Store::open(&path).unwrap();
    let p = profiles::active(&store.conn()).unwrap();
    assert_eq!((p.agent_name.as_str(), p.agent_email.as_str()), ("Ada Lovelace", "ada@example.com"));
}

#[test]
fn open_cases_are_listed_most_recent_first_and_finished_ones_are_not() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let conn = store.conn();
    conn.execute_batch(
        "INSERT INTO cases (profile_id, ticket_instance, ticket_id, playbook_id, playbook_version, playbook_title, current_step, status, updated_at) VALUES
           (1, 'global', 101, 'release-email', 'v1', 'Release an email address', 'lookup', 'open', '2026-11-20T10:00:00.000Z'),
           (1, 'us_gov', 202, 'malicious-user', 'v1', 'Malicious user', 'investigate', 'open', '2026-11-21T10:00:00.000Z'),
           (1, 'global', 303, 'release-email', 'v1', 'Release an email address', 'summary', 'finished', '2026-11-22T10:00:00.000Z');",
    )
    .unwrap();
    let open = cases::list_open(&conn).unwrap();
    let tickets: Vec<i64> = open.iter().map(|c| c.ticket_id).collect();
    assert_eq!(tickets, [202, 101]);
    assert_eq!(open[0].ticket_instance, "us_gov");
}
