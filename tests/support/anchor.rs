//! For the audit-anchor tests (tests/audit_anchor.rs and tests/adversarial/audit_anchor.rs):
//! what someone with write access to the data folder does to the log (sqlite3 and the published
//! hashing code, no key), and `casekit audit verify | head` run in-process against an app's
//! keychain and sandbox. Included by `#[path]`, not through support/mod.rs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use casekit::api::{handlers, AppState};
use casekit::connectors::Service;
use casekit::playbook::engine::{NewCase, StepInput, TicketInstance};
use casekit::playbook::view::CaseView;
use casekit::secrets::Keychain;
use casekit::store::audit::{canonical_json, GENESIS};
use casekit::store::profiles::Profile;
use rusqlite::Connection;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The attacker's connection: the file opened with sqlite3, the append-only triggers dropped.
pub fn open_as_attacker(db: &Path) -> Connection {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch("DROP TRIGGER IF EXISTS audit_is_append_only_update; DROP TRIGGER IF EXISTS audit_is_append_only_delete;")
        .unwrap();
    conn
}

/// The chain's hash of a row as Casekit computes it (the code is public; no key is involved).
fn row_hash(prev: &str, r: &rusqlite::Row<'_>) -> String {
    let payload: String = r.get("payload").unwrap();
    let content = json!({
        "id": r.get::<_, i64>("id").unwrap(), "at": r.get::<_, String>("at").unwrap(),
        "agent": r.get::<_, String>("agent").unwrap(), "case_id": r.get::<_, Option<i64>>("case_id").unwrap(),
        "ticket": r.get::<_, Option<String>>("ticket").unwrap(), "playbook_id": r.get::<_, Option<String>>("playbook_id").unwrap(),
        "playbook_version": r.get::<_, Option<String>>("playbook_version").unwrap(),
        "step": r.get::<_, Option<String>>("step").unwrap(), "kind": r.get::<_, String>("kind").unwrap(),
        "payload": serde_json::from_str::<Value>(&payload).unwrap_or(Value::String(payload)),
    });
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical_json(&content).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Recomputes every row's `prev_hash` and `hash` from the first, as an attacker covering their
/// tracks does after any edit.
pub fn recompute_chain(conn: &Connection) {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev = GENESIS.to_owned();
    for id in ids {
        let hash = conn.query_row("SELECT * FROM audit WHERE id = ?1", [id], |r| Ok(row_hash(&prev, r))).unwrap();
        conn.execute("UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1", rusqlite::params![id, prev, hash]).unwrap();
        prev = hash;
    }
}

/// Replaces `from` with `to` in the payload of the first row that holds it, then recomputes the
/// chain; returns that row's id.
pub fn rewrite(db: &Path, from: &str, to: &str) -> i64 {
    let conn = open_as_attacker(db);
    let id: i64 = conn
        .query_row("SELECT id FROM audit WHERE instr(payload, ?1) > 0 ORDER BY id LIMIT 1", [from], |r| r.get(0))
        .unwrap_or_else(|_| panic!("no audit row mentions {from}"));
    conn.execute("UPDATE audit SET payload = replace(payload, ?2, ?3) WHERE id = ?1", rusqlite::params![id, from, to]).unwrap();
    recompute_chain(&conn);
    id
}

/// Deletes every row after `last` and covers it up: the id counter and each case's last-row
/// pointer are set back, so the chain alone shows nothing.
pub fn cut_after(db: &Path, last: i64) {
    let conn = open_as_attacker(db);
    conn.execute("DELETE FROM audit WHERE id > ?1", [last]).unwrap();
    conn.execute("UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'audit'", [last]).unwrap();
    conn.execute("UPDATE cases SET last_audit_id = (SELECT max(a.id) FROM audit a WHERE a.case_id = cases.id)", []).unwrap();
}

/// The newest row id.
pub fn newest_row(db: &Path) -> i64 {
    Connection::open(db).unwrap().query_row("SELECT max(id) FROM audit", [], |r| r.get(0)).unwrap()
}

/// The hash of one row.
pub fn hash_of(db: &Path, row: i64) -> String {
    Connection::open(db).unwrap().query_row("SELECT hash FROM audit WHERE id = ?1", [row], |r| r.get(0)).unwrap()
}

/// An agent's honest work: a release-email case on #8001 opened and its first step done, the
/// summary posted to the ticket (through the handlers the window calls). Returns the case.
pub async fn honest_case(state: &AppState) -> CaseView {
    let new = NewCase { ticket_instance: TicketInstance::Global, ticket_id: 8001, playbook_id: "release-email".into() };
    let case = handlers::open_case(state, new).await.unwrap();
    let (items, form) = crate::support::checklist(&case);
    let ticked = items.iter().map(|i| i.id.clone()).collect();
    let fields = form
        .iter()
        .map(|f| {
            let v = match f.id.as_str() {
                "username" => "quiet-quinn".to_owned(),
                "email" => "quinn@example.com".to_owned(),
                _ if f.kind == "choice" => f.options[0].clone(),
                _ => String::new(),
            };
            (f.id.clone(), v)
        })
        .collect();
    let step = case.current.as_ref().unwrap().id.clone();
    let case = handlers::submit_step(state, case.id, step, StepInput::Checklist { ticked, fields }).await.unwrap();
    post_summary(state, case.id).await;
    case
}

/// Posts the case's summary and expects it on the ticket.
pub async fn post_summary(state: &AppState, case_id: i64) -> u64 {
    match handlers::post_summary(state, case_id).await.unwrap() {
        casekit::summary::outbox::Posted::Sent { comment_id, .. } => comment_id,
        other => panic!("the summary was not posted: {other:?}"),
    }
}

/// Makes a live profile pointed at the app's sandbox servers (as an agent's profile points at
/// the real Zendesk), its tokens in the app's keychain, and activates it: the profile
/// `casekit audit verify --against-ticket` reads the ticket with.
pub async fn go_live(state: &AppState) -> Profile {
    let c = state.sandbox().await.unwrap().credentials().clone();
    let input = crate::support::live_profile_on(&c, "Live", "Sam Agent");
    let live = handlers::save_profile(state, input).unwrap();
    handlers::store_token(state, live.id, Service::Zendesk, c.zendesk.token.clone()).unwrap();
    handlers::store_token(state, live.id, Service::ZendeskUsGov, c.zendesk_us_gov.token.clone()).unwrap();
    handlers::activate_profile(state, live.id).unwrap()
}

fn data_dir(state: &AppState) -> PathBuf {
    state.paths().data_dir.clone()
}

fn keychain(state: &AppState) -> Keychain {
    state.keychain().unwrap()
}

/// `casekit audit verify --data-dir <the app's folder> <args>`, in-process with the app's
/// keychain: the exit code and what it printed.
pub fn verify(state: &AppState, args: &[&str]) -> (u8, String) {
    let mut all: Vec<String> = vec!["--data-dir".into(), data_dir(state).display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let k = keychain(state);
    let mut out = Vec::new();
    let code = casekit::cli::audit::verify_with(&all, &|| Ok(k.clone()), &mut out);
    (code, String::from_utf8(out).unwrap())
}

/// `casekit audit head --data-dir <the app's folder>`, written to a file outside the data
/// folder (`dir`); the file's path.
pub fn export_head(state: &AppState, dir: &Path, name: &str) -> PathBuf {
    let k = keychain(state);
    let mut out = Vec::new();
    let code = casekit::cli::audit::head_with(
        &["--data-dir".into(), data_dir(state).display().to_string()],
        &|| Ok(k.clone()),
        &mut out,
    );
    assert_eq!(code, 0, "audit head failed");
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

/// The install's audit key as the keychain holds it (hex).
pub fn key_hex(state: &AppState) -> String {
    keychain(state).audit_key().unwrap().expect("the audit key was made").expose().to_owned()
}
