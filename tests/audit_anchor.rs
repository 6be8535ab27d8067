//! The audit chain's anchors. The hash chain alone catches an edit by someone who did not
//! recompute the hashes; someone with the file can recompute them, and then the plain check
//! passes (shown here, on purpose). What catches them is a head published outside the file —
//! the signed `Audit head` line of every posted case summary, a head file from `casekit audit
//! head` — which `casekit audit verify --against-ticket T` / `--against FILE` compare with the
//! local log. The key that signs heads stays in the keychain: never in the database, an export,
//! a head file or a log line.

#[path = "support/anchor.rs"]
mod anchor;
mod support;

use casekit::api::{handlers, AppState};
use casekit::connectors::zendesk::{NewComment, TicketUpdate};
use casekit::connectors::Service;
use casekit::paths::AppPaths;
use casekit::secrets::{Keychain, Secret};
use casekit::store::anchor::{AuditKey, Head};
use casekit::store::search::{self, AuditFilter};
use casekit::store::Store;
use casekit::summary;
use tokio::runtime::Runtime;

/// An app on a temp data folder, the Sandbox profile, an in-memory keychain.
/// The app over `dir` on the Sandbox profile, the agent's identity set.
fn signed_in(dir: &tempfile::TempDir, keychain: Keychain) -> AppState {
    let state = AppState::open(AppPaths::under(dir.path()), keychain, support::settings());
    let p = handlers::active_profile(&state).unwrap();
    let input = casekit::store::profiles::ProfileInput {
        id: Some(p.id),
        name: p.name,
        agent_name: "Sam Agent".into(),
        agent_email: "sam@support.example".into(),
        services: p.services,
    };
    handlers::save_profile(&state, input).unwrap();
    state
}

fn release_on_8001() -> casekit::playbook::engine::NewCase {
    casekit::playbook::engine::NewCase {
        ticket_instance: casekit::playbook::engine::TicketInstance::Global,
        ticket_id: 8001,
        playbook_id: "release-email".into(),
    }
}

struct App {
    state: AppState,
    dir: tempfile::TempDir,
    /// Where head files are kept: outside the data folder.
    elsewhere: tempfile::TempDir,
    rt: Runtime,
}

impl App {
    fn new() -> App {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let state = signed_in(&dir, Keychain::in_memory());
        App { state, dir, elsewhere: tempfile::tempdir().unwrap(), rt }
    }

    /// A release case on #8001, opened as the window does (nothing posted yet).
    fn open_release_case(&self) {
        self.rt.block_on(handlers::open_case(&self.state, release_on_8001())).unwrap();
    }

    fn db(&self) -> std::path::PathBuf {
        self.state.store().unwrap().path().to_owned()
    }

    /// The internal notes of #8001 that carry an audit head.
    fn anchored_notes(&self) -> Vec<String> {
        let snapshot = self.rt.block_on(self.state.sandbox()).unwrap().snapshot();
        let ticket = snapshot["zendesk"]["tickets"].as_array().unwrap().iter().find(|t| t["id"] == 8001).unwrap().clone();
        ticket["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["public"] == false && c["body"].as_str().unwrap().contains("Audit head:"))
            .map(|c| c["body"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[test]
fn every_posted_summary_carries_the_signed_head_of_the_chain() {
    let app = App::new();
    app.rt.block_on(anchor::honest_case(&app.state));
    let notes = app.anchored_notes();
    assert_eq!(notes.len(), 1, "one summary posted");
    let heads = casekit::store::anchor::heads_in(&notes[0]);
    assert_eq!(heads.len(), 1, "{}", notes[0]);
    let head = &heads[0];
    // The newest row when the summary was rendered: the row after it records the posting.
    let newest = anchor::newest_row(&app.db());
    assert_eq!(head.row, newest - 1);
    assert_eq!(head.sha256, anchor::hash_of(&app.db(), head.row));
    let key = AuditKey::from_secret(Secret::new(anchor::key_hex(&app.state))).unwrap();
    assert!(key.signed(head.row, &head.sha256, head.hmac.as_deref().unwrap()));
    assert_eq!(head.key.as_deref(), Some(key.id().as_str()));
    assert!(notes[0].contains(&format!("Audit head: row {}, sha256 {}, hmac ", head.row, head.sha256)), "{}", notes[0]);
}

#[test]
fn an_honest_log_holds_against_its_ticket_and_its_head_file() {
    let app = App::new();
    let case = app.rt.block_on(anchor::honest_case(&app.state));
    let head_file = anchor::export_head(&app.state, app.elsewhere.path(), "head.json");
    let ticket_head = anchor::newest_row(&app.db()) - 1;
    let file_head = anchor::newest_row(&app.db());
    // The log keeps growing after the heads were published.
    app.rt.block_on(handlers::abandon_case(&app.state, case.id, "customer withdrew".into())).unwrap();
    app.rt.block_on(anchor::go_live(&app.state));

    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("ok   row {ticket_head} matches the head signed by this install on ticket global#8001")),
        "{out}"
    );
    assert!(out.contains("audit log matches its anchors"), "{out}");

    let (code, out) = anchor::verify(&app.state, &["--against", head_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("ok   row {file_head} matches the head signed by this install on {}", head_file.display())),
        "{out}"
    );

    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001", "--against", head_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_log_rewritten_with_every_hash_recomputed_passes_the_plain_check_but_not_its_anchors() {
    let app = App::new();
    app.rt.block_on(anchor::honest_case(&app.state));
    let head_file = anchor::export_head(&app.state, app.elsewhere.path(), "head.json");
    let ticket_head = anchor::newest_row(&app.db()) - 1;
    let file_head = anchor::newest_row(&app.db());
    app.rt.block_on(anchor::go_live(&app.state));

    // The attacker swaps the requester's address in the record and recomputes the chain.
    let edited = anchor::rewrite(&app.db(), "quinn@example.com", "mallory@example.net");
    assert!(edited <= ticket_head);
    let payload: String =
        app.state.store().unwrap().conn().query_row("SELECT payload FROM audit WHERE id = ?1", [edited], |r| r.get(0)).unwrap();
    assert!(payload.contains("mallory@example.net"), "the edit took: {payload}");

    // The plain check cannot tell: the chain is consistent again. This is the documented limit.
    let (code, out) = anchor::verify(&app.state, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit log intact") && out.contains("--against-ticket"), "{out}");
    assert!(handlers::verify_audit(&app.state).unwrap().first_bad.is_none());

    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("FAIL row {ticket_head} has hash")), "{out}");
    assert!(out.contains("audit log does not match its anchors") && out.contains("ticket global#8001, internal note"), "{out}");

    let (code, out) = anchor::verify(&app.state, &["--against", head_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("FAIL row {file_head} has hash")), "{out}");
}

#[test]
fn a_head_moved_to_another_row_or_given_the_rewritten_hash_is_refused() {
    let app = App::new();
    app.rt.block_on(anchor::honest_case(&app.state));
    let head_file = anchor::export_head(&app.state, app.elsewhere.path(), "head.json");
    anchor::rewrite(&app.db(), "quinn@example.com", "mallory@example.net");
    let mut file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&head_file).unwrap()).unwrap();
    let row = file["row"].as_i64().unwrap();

    // The attacker, who also reaches the head file, puts the recomputed hash in it.
    file["sha256"] = anchor::hash_of(&app.db(), row).into();
    std::fs::write(&head_file, file.to_string()).unwrap();
    let (code, out) = anchor::verify(&app.state, &["--against", head_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("the head of row {row} carries an HMAC this install's key did not make")), "{out}");

    // …or points the signed head at another row whose hash they choose.
    file["row"] = (row - 1).into();
    file["sha256"] = anchor::hash_of(&app.db(), row - 1).into();
    std::fs::write(&head_file, file.to_string()).unwrap();
    let (code, out) = anchor::verify(&app.state, &["--against", head_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("HMAC this install's key did not make"), "{out}");

    // …or strips the signature: Casekit writes no unsigned head file.
    file["hmac"] = serde_json::Value::Null;
    file["key"] = serde_json::Value::Null;
    std::fs::write(&head_file, file.to_string()).unwrap();
    let (code, out) = anchor::verify(&app.state, &["--against", head_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("it is not signed"), "{out}");
}

#[test]
fn heads_in_public_comments_or_from_other_installs_vouch_for_nothing() {
    let app = App::new();
    // A case, but no summary posted: nothing anchors the log.
    app.open_release_case();
    let db = app.db();
    anchor::rewrite(&db, "8001", "8002");
    let newest = anchor::newest_row(&db);
    let rewritten = Head { row: newest, sha256: anchor::hash_of(&db, newest), hmac: None, key: None };
    // The requester plants a head matching the rewritten log in a public reply…
    app.rt.block_on(app.state.sandbox()).unwrap().customer_reply(Service::Zendesk, 8001, &rewritten.line()).unwrap();
    // …and another install's summary (another key) sits in an internal note.
    let other = AuditKey::from_secret(Secret::new("ab".repeat(32))).unwrap();
    let foreign = Head {
        row: newest,
        sha256: rewritten.sha256.clone(),
        hmac: Some(other.sign(newest, &rewritten.sha256)),
        key: Some(other.id()),
    };
    let live = app.rt.block_on(anchor::go_live(&app.state));
    let conns = app.rt.block_on(app.state.connections(live.id)).unwrap();
    let update = TicketUpdate { comment: Some(NewComment { body: foreign.line(), public: false }), ..Default::default() };
    app.rt.block_on(conns.zendesk(Service::Zendesk).unwrap().update_ticket(8001, &update)).unwrap();

    // This install never published a head, so it has no key yet.
    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("skip the head of row {newest}")) && out.contains(&other.id()), "{out}");
    assert!(out.contains("this computer's keychain holds no audit key"), "{out}");
    assert!(!out.contains("unsigned"), "the public comment was read: {out}");
    // With a key of its own (it published heads on other tickets), the same.
    app.state.keychain().unwrap().audit_key_or_create().unwrap();
    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no head published by this install was found"), "{out}");
    assert!(!out.contains("unsigned"), "the public comment was read: {out}");
}

#[test]
fn an_unsigned_head_in_an_internal_note_can_contradict_the_log_but_never_vouches_for_it() {
    let app = App::new();
    app.open_release_case();
    app.state.keychain().unwrap().audit_key_or_create().unwrap();
    let db = app.db();
    let live = app.rt.block_on(anchor::go_live(&app.state));
    let conns = app.rt.block_on(app.state.connections(live.id)).unwrap();
    let note = |body: String| {
        let update = TicketUpdate { comment: Some(NewComment { body, public: false }), ..Default::default() };
        app.rt.block_on(conns.zendesk(Service::Zendesk).unwrap().update_ticket(8001, &update)).unwrap();
    };
    // An unsigned head (as a summary posted while the keychain was locked carries) that matches.
    note(Head { row: 1, sha256: anchor::hash_of(&db, 1), hmac: None, key: None }.line());
    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("note row 1 matches the unsigned head on ticket global#8001, internal note"), "{out}");
    assert!(out.contains("only unsigned heads match the log"), "{out}");
    // The log is rewritten: the same unsigned head now contradicts it.
    anchor::rewrite(&db, "8001", "8002");
    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL row 1 has hash"), "{out}");
}

#[test]
fn the_tail_after_the_newest_anchor_is_unprotected_until_a_newer_anchor_is_checked() {
    let app = App::new();
    let case = app.rt.block_on(anchor::honest_case(&app.state));
    let ticket_head = anchor::newest_row(&app.db()) - 1;
    app.rt.block_on(handlers::abandon_case(&app.state, case.id, "customer withdrew".into())).unwrap();
    let head_file = anchor::export_head(&app.state, app.elsewhere.path(), "later.json");
    let file_head = anchor::newest_row(&app.db());
    assert!(file_head > ticket_head + 1);
    app.rt.block_on(anchor::go_live(&app.state));

    // Everything after the ticket's head is deleted and the counters set back.
    anchor::cut_after(&app.db(), ticket_head);
    let (code, out) = anchor::verify(&app.state, &[]);
    assert_eq!(code, 0, "the plain check sees a shorter, consistent log: {out}");
    // The ticket's head is older than the cut: it still holds. This is the documented limit.
    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("rows after {ticket_head} are covered by no head")), "{out}");
    // A head newer than the cut catches it.
    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001", "--against", head_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("row {file_head} is not in the log, which ends at row {ticket_head}"))
            && out.contains(&format!("the change lies in rows {}–{file_head}", ticket_head + 1)),
        "{out}"
    );
}

#[test]
fn the_audit_key_never_leaves_the_keychain() {
    let app = App::new();
    let case = app.rt.block_on(anchor::honest_case(&app.state));
    let head_file = anchor::export_head(&app.state, app.elsewhere.path(), "head.json");
    let key = anchor::key_hex(&app.state);
    let key_bytes: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&key[2 * i..2 * i + 2], 16).unwrap()).collect();
    app.rt.block_on(anchor::go_live(&app.state));
    let (_, verified) = anchor::verify(&app.state, &["--against-ticket", "8001", "--against", head_file.to_str().unwrap()]);
    let summary = handlers::case_summary(&app.state, case.id).unwrap().markdown;
    let mut export = Vec::new();
    search::export_jsonl(&app.state.store().unwrap().conn(), &AuditFilter::default(), &mut export).unwrap();

    let mut texts = vec![
        ("the head file".to_owned(), std::fs::read(&head_file).unwrap()),
        ("verify's report".to_owned(), verified.into_bytes()),
        ("the summary".to_owned(), summary.into_bytes()),
        ("the export".to_owned(), export),
    ];
    // Every file of the data folder: the database, its WAL and shared memory, any log.
    for entry in walk(app.dir.path()) {
        texts.push((entry.display().to_string(), std::fs::read(&entry).unwrap()));
    }
    assert!(texts.iter().any(|(name, _)| name.ends_with("casekit.sqlite3")), "the database was read");
    for (name, bytes) in &texts {
        assert!(!contains(bytes, key.as_bytes()), "the audit key (hex) is in {name}");
        assert!(!contains(bytes, &key_bytes), "the audit key (bytes) is in {name}");
    }
    // A line that carried it by mistake would be scrubbed on its way to a log or an export.
    assert_eq!(casekit::secrets::redact(&format!("key={key}")), "key=[redacted]");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn without_a_keychain_the_summary_carries_its_head_unsigned_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("casekit.sqlite3")).unwrap();
    store.attach_keychain(Box::new(|| Err(casekit::Error::Keychain("the keyring is locked".into()))));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sandbox = rt.block_on(casekit::sandbox::Sandbox::start(Default::default())).unwrap();
    let p = casekit::store::profiles::active(&store.conn()).unwrap();
    let input = casekit::store::profiles::ProfileInput {
        id: Some(p.id),
        name: p.name,
        agent_name: "Sam Agent".into(),
        agent_email: "sam@support.example".into(),
        services: p.services,
    };
    let p = casekit::store::profiles::save(&store.conn(), &input).unwrap();
    let conns = casekit::connectors::session::Connections::new(
        p,
        casekit::connectors::session::Credentials::Sandbox(sandbox.credentials().clone()),
        support::settings(),
    );
    let env = casekit::playbook::engine::Env { store: &store, conns: &conns, catalog: casekit::playbook::Catalog::builtin() };
    let case = rt.block_on(casekit::playbook::engine::open_case(&env, &release_on_8001())).unwrap();
    let s = summary::render_published(&store, case.id).unwrap();
    let head = anchor::hash_of(store.path(), 1);
    assert!(
        s.markdown.contains(&format!(
            "Audit head: row 1, sha256 {head} (not signed): the audit key could not be read from the system keychain"
        )),
        "{}",
        s.markdown
    );
    assert_eq!(casekit::store::anchor::heads_in(&s.markdown), vec![Head { row: 1, sha256: head, hmac: None, key: None }]);
}

#[test]
fn on_the_sandbox_profile_the_ticket_check_points_to_a_head_file() {
    let app = App::new();
    app.rt.block_on(anchor::honest_case(&app.state));
    let (code, out) = anchor::verify(&app.state, &["--against-ticket", "8001"]);
    assert_eq!(code, 2, "the Sandbox's tickets are not reachable from another process: {out}");
    let (code, _) = anchor::verify(&app.state, &["--instance", "us_gov"]);
    assert_eq!(code, 2, "--instance alone is a usage error");
}

/// The real binary, as an agent runs it: the OS keychain (an unlocked gnome-keyring under
/// `make test`) holds the audit key and the live profile's Zendesk token, and the ticket is
/// read over loopback from the servers of the app under test.
#[test]
#[ignore = "needs an unlocked Secret Service: `make test` provides one"]
fn the_cli_checks_a_ticket_and_a_head_file_with_the_os_keychain() {
    use std::process::Command;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let os = Keychain::os().expect("the Secret Service is reachable");
    let state = signed_in(&dir, os.clone());
    rt.block_on(anchor::honest_case(&state));
    let db = state.store().unwrap().path().to_owned();
    let ticket_head = anchor::newest_row(&db) - 1;
    let key = os.audit_key().unwrap().expect("posting the summary made the key").expose().to_owned();

    let casekit = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_casekit"))
            .args(["audit"])
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(!stdout.contains(&key) && !stderr.contains(&key), "the audit key was printed");
        (out.status.code().unwrap_or(-1), stdout + &stderr)
    };
    let (code, head) = casekit(&["head"]);
    assert_eq!(code, 0, "{head}");
    let file = elsewhere.path().join("head.json");
    std::fs::write(&file, head.lines().take_while(|l| !l.starts_with("casekit:")).collect::<Vec<_>>().join("\n")).unwrap();
    let file_head = anchor::newest_row(&db);
    let live = rt.block_on(anchor::go_live(&state));

    let (code, out) = casekit(&["verify", "--against-ticket", "8001", "--against", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("ok   row {ticket_head} matches the head signed by this install on ticket global#8001")),
        "{out}"
    );

    anchor::rewrite(&db, "quinn@example.com", "mallory@example.net");
    let (code, out) = casekit(&["verify"]);
    assert_eq!(code, 0, "the plain check passes a recomputed chain: {out}");
    let (code, out) = casekit(&["verify", "--against-ticket", "8001"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("FAIL row {ticket_head} has hash")), "{out}");
    let (code, out) = casekit(&["verify", "--against", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("FAIL row {file_head} has hash")), "{out}");

    for service in Service::ALL {
        handlers::remove_token(&state, live.id, service).unwrap();
    }
}
