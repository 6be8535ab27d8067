//! The SQLite file: created and migrated in one go, refused (and untouched) when newer,
//! rolled back whole when a migration fails, and what the agent saves survives a reopen.

use casekit::service::TicketInstance;
use casekit::store::{cases, profiles, Migration, Store, LATEST_VERSION};
use casekit::{Error, ErrorCode};
use rusqlite::Connection;

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/casekit.sqlite3");
    (dir, path)
}

#[test]
fn a_new_database_is_created_in_wal_mode_with_every_commit_synced_on_the_sandbox_profile() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version(), LATEST_VERSION);
    let conn = store.conn();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    // FULL (2): a committed audit row survives a power loss right after the commit.
    let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!(synchronous, 2, "synchronous=FULL");
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

fn sandbox_input(p: &profiles::Profile, name: &str, email: &str) -> profiles::ProfileInput {
    profiles::ProfileInput {
        id: Some(p.id),
        name: "Renamed".into(),
        agent_name: name.into(),
        agent_email: email.into(),
        services: p.services.clone(),
    }
}

#[test]
fn the_agent_identity_is_validated_and_survives_a_reopen() {
    let (_dir, path) = temp_db();
    {
        let store = Store::open(&path).unwrap();
        let sandbox = profiles::active(&store.conn()).unwrap();
        let err = profiles::save(&store.conn(), &sandbox_input(&sandbox, "Ada", "ada at example")).unwrap_err();
        assert!(matches!(err, Error::InvalidField { field: "agentEmail", .. }), "{err:?}");
        assert_eq!(profiles::active(&store.conn()).unwrap().agent_email, "");
        profiles::save(&store.conn(), &sandbox_input(&sandbox, "  Ada Lovelace ", "ada@Example.com")).unwrap();
    }
    let store = Store::open(&path).unwrap();
    let p = profiles::active(&store.conn()).unwrap();
    assert_eq!((p.agent_name.as_str(), p.agent_email.as_str()), ("Ada Lovelace", "ada@example.com"));
    assert_eq!(p.name, "Sandbox", "the Sandbox keeps its name");
}

#[test]
fn a_live_profile_keeps_validated_service_addresses_and_can_become_active() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let mut input = profiles::ProfileInput {
        id: None,
        name: "GitLab.com".into(),
        agent_name: "Ada".into(),
        agent_email: "ada@example.com".into(),
        services: profiles::ServiceSettings {
            gitlab_url: "http://gitlab.example.com".into(),
            zendesk_url: "gitlab".into(),
            zendesk_us_gov_url: "".into(),
            mailgun_url: "https://api.mailgun.net/".into(),
            mailgun_domain: "MG.gitlab.com".into(),
            customersdot_url: "https://customers.gitlab.com".into(),
            customersdot_mode: profiles::CustomersDotMode::Manual,
        },
    };
    let err = profiles::save(&store.conn(), &input).unwrap_err().to_string();
    assert!(err.contains("only over https"), "{err}");
    input.services.gitlab_url = "https://gitlab.com/".into();
    let live = profiles::save(&store.conn(), &input).unwrap();
    assert_eq!(live.services.gitlab_url, "https://gitlab.com");
    assert_eq!(live.services.zendesk_url, "https://gitlab.zendesk.com");
    assert_eq!(live.services.mailgun_domain, "mg.gitlab.com");
    assert!(!live.is_active);

    let dup = profiles::save(&store.conn(), &input).unwrap_err().to_string();
    assert!(dup.contains("exists already"), "{dup}");

    profiles::activate(&mut store.conn(), live.id).unwrap();
    assert_eq!(profiles::active(&store.conn()).unwrap().id, live.id);
    let names: Vec<String> = profiles::list(&store.conn()).unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["Sandbox", "GitLab.com"]);
    assert!(profiles::delete(&store.conn(), live.id).unwrap_err().to_string().contains("active profile"));
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
    assert_eq!(open[0].ticket_instance, TicketInstance::UsGov);
}
