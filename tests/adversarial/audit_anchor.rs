//! Attacks on the audit log's evidence. Most come from someone with write access to the data
//! folder (sqlite3, the published hashing code, no keychain): they rewrite rows and recompute
//! every hash, so the chain alone holds again. Each attack asserts that `casekit audit verify`
//! against the heads published outside the file refuses the log, naming the row, and that the
//! check itself changed nothing. The requester can write public comments; the webview can call
//! every IPC handler: neither gets the key nor a head that vouches for a rewritten log.

use casekit::api::handlers;
use casekit::connectors::Service;
use casekit::store::anchor::Head;
use casekit::store::search::AuditFilter;

use crate::harness::{assert_unchanged, Webview};

#[path = "../support/anchor.rs"]
mod anchor;

/// The app after an honest case whose summary (and signed head) is on #8001, then switched to a
/// live profile on the same servers, so the CLI can read the ticket. The ticket head's row.
fn anchored() -> (Webview, i64) {
    let wv = Webview::new();
    wv.block(anchor::honest_case(wv.state()));
    let ticket_head = anchor::newest_row(&db(&wv)) - 1;
    wv.block(anchor::go_live(wv.state()));
    (wv, ticket_head)
}

fn db(wv: &Webview) -> std::path::PathBuf {
    wv.state().store().unwrap().path().to_owned()
}

/// Runs `casekit audit verify <args>` and asserts it refused the log and changed nothing.
fn verify_refuses(wv: &Webview, args: &[&str]) -> String {
    let before = wv.snapshot();
    let (code, out) = anchor::verify(wv.state(), args);
    assert_eq!(code, 1, "the log was not refused: {out}");
    assert!(out.contains("FAIL audit log does not match its anchors"), "{out}");
    assert_unchanged(&before, &wv.snapshot());
    out
}

#[test]
fn attack_rewritten_history_with_every_hash_recomputed_is_caught_by_the_ticket_head() {
    let (wv, ticket_head) = anchored();
    anchor::rewrite(&db(&wv), "quinn@example.com", "mallory@example.net");
    assert!(handlers::verify_audit(wv.state()).unwrap().first_bad.is_none(), "the chain alone holds again");
    let out = verify_refuses(&wv, &["--against-ticket", "8001"]);
    assert!(out.contains(&format!("FAIL row {ticket_head} has hash")), "{out}");
}

#[test]
fn attack_rewritten_history_is_caught_by_an_exported_head_file() {
    let wv = Webview::new();
    wv.block(anchor::honest_case(wv.state()));
    let elsewhere = tempfile::tempdir().unwrap();
    let file = anchor::export_head(wv.state(), elsewhere.path(), "head.json");
    let row = anchor::newest_row(&db(&wv));
    anchor::rewrite(&db(&wv), "quiet-quinn", "loud-mallory");
    let out = verify_refuses(&wv, &["--against", file.to_str().unwrap()]);
    assert!(out.contains(&format!("FAIL row {row} has hash")), "{out}");
}

#[test]
fn attack_head_file_rewritten_to_the_recomputed_hash_is_refused() {
    let wv = Webview::new();
    wv.block(anchor::honest_case(wv.state()));
    let elsewhere = tempfile::tempdir().unwrap();
    let file = anchor::export_head(wv.state(), elsewhere.path(), "head.json");
    anchor::rewrite(&db(&wv), "quinn@example.com", "mallory@example.net");
    let mut head: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let row = head["row"].as_i64().unwrap();
    head["sha256"] = anchor::hash_of(&db(&wv), row).into();
    std::fs::write(&file, head.to_string()).unwrap();
    let out = verify_refuses(&wv, &["--against", file.to_str().unwrap()]);
    assert!(out.contains(&format!("the head of row {row} carries an HMAC this install's key did not make")), "{out}");
}

#[test]
fn attack_signed_head_moved_to_an_earlier_row_before_the_edit_is_refused() {
    let wv = Webview::new();
    wv.block(anchor::honest_case(wv.state()));
    let elsewhere = tempfile::tempdir().unwrap();
    let file = anchor::export_head(wv.state(), elsewhere.path(), "head.json");
    // The attacker edits the newest row only, and relabels the head as the row before it,
    // whose hash did not change.
    let newest = anchor::newest_row(&db(&wv));
    let conn = anchor::open_as_attacker(&db(&wv));
    conn.execute("UPDATE audit SET payload = '{\"forged\":true}' WHERE id = ?1", [newest]).unwrap();
    anchor::recompute_chain(&conn);
    let mut head: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    head["row"] = (newest - 1).into();
    head["sha256"] = anchor::hash_of(&db(&wv), newest - 1).into();
    std::fs::write(&file, head.to_string()).unwrap();
    let out = verify_refuses(&wv, &["--against", file.to_str().unwrap()]);
    assert!(out.contains("HMAC this install's key did not make"), "{out}");
}

#[test]
fn attack_rows_cut_below_the_ticket_head_are_caught() {
    let (wv, ticket_head) = anchored();
    let keep = ticket_head - 1;
    anchor::cut_after(&db(&wv), keep);
    assert!(handlers::verify_audit(wv.state()).unwrap().first_bad.is_none(), "the cut is covered up in the file");
    let out = verify_refuses(&wv, &["--against-ticket", "8001"]);
    assert!(out.contains(&format!("row {ticket_head} is not in the log, which ends at row {keep}")), "{out}");
}

#[test]
fn attack_requester_plants_a_head_for_the_rewritten_log_in_a_public_reply() {
    let (wv, ticket_head) = anchored();
    anchor::rewrite(&db(&wv), "quinn@example.com", "mallory@example.net");
    // Someone who can both write the file and reply on the ticket as the requester plants a
    // head (unsigned: they have no key) matching the rewritten log.
    let newest = anchor::newest_row(&db(&wv));
    let planted = Head { row: newest, sha256: anchor::hash_of(&db(&wv), newest), hmac: None, key: None };
    wv.sandbox().customer_reply(Service::Zendesk, 8001, &format!("{}\n", planted.line())).unwrap();
    let out = verify_refuses(&wv, &["--against-ticket", "8001"]);
    assert!(out.contains(&format!("FAIL row {ticket_head} has hash")), "{out}");
    assert!(!out.contains("unsigned head"), "a public comment was taken as a head: {out}");
}

#[test]
fn attack_webview_reads_the_audit_key_through_ipc() {
    let wv = Webview::new();
    let case = wv.block(anchor::honest_case(wv.state()));
    let key = anchor::key_hex(wv.state());
    let before = wv.snapshot();
    let state = wv.state();
    // Everything a compromised webview can read about cases, the log and the app.
    let mut seen = vec![
        format!("{:?}", handlers::app_info(state)),
        format!("{:?}", handlers::list_profiles(state)),
        format!("{:?}", handlers::case_summary(state, case.id)),
        format!("{:?}", wv.block(handlers::case_view(state, case.id))),
        format!("{:?}", handlers::query_audit(state, AuditFilter::default())),
        format!("{:?}", handlers::verify_audit(state)),
        format!("{:?}", handlers::list_outbox(state)),
        format!("{:?}", handlers::list_open_cases(state)),
        format!("{:?}", wv.block(handlers::ticket_comments(state, case.id))),
    ];
    for p in handlers::list_profiles(state).unwrap() {
        seen.push(format!("{:?}", handlers::stored_tokens(state, p.id)));
    }
    for (i, text) in seen.iter().enumerate() {
        assert!(!text.contains(&key), "handler output {i} holds the audit key");
    }
    assert!(seen[2].contains("Audit head: row"), "the summary does carry the signed head: {}", seen[2]);
    assert_unchanged(&before, &wv.snapshot());
}
