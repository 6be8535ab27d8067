//! `casekit audit verify` catches an edited, a deleted (middle or end) and a reordered row.

mod support;

use std::process::Command;

use casekit::playbook::engine::StepInput;
use rusqlite::Connection;
use support::Harness;

/// A data folder holding a real case's audit rows (at least 6).
async fn folder_with_a_case() -> Harness {
    let h = Harness::new().await;
    let case = h.open(8001, "release-email").await;
    let case = h.identify(&case, "quiet-quinn", "quinn@example.com").await;
    let case = h.step(&case, StepInput::RunLookup).await;
    let case = h.step(&case, StepInput::Continue).await;
    h.get_permission(&case, 8001).await;
    h
}

fn verify(h: &Harness) -> (i32, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_casekit")).args(["audit", "verify", "--data-dir"]).arg(h.dir.path()).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Tampers the way someone with the file and the sqlite3 shell would: triggers dropped first.
fn tamper(h: &Harness, sql: &str) {
    let conn = Connection::open(h.db_path()).unwrap();
    conn.execute_batch(&format!("DROP TRIGGER audit_is_append_only_update; DROP TRIGGER audit_is_append_only_delete; {sql}"))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intact_log_verifies_and_the_triggers_refuse_changes() {
    let h = folder_with_a_case().await;
    let (code, out) = verify(&h);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit log intact: 6 rows"), "{out}");
    let export = Command::new(env!("CARGO_BIN_EXE_casekit"))
        .args(["audit", "export", "--ticket", "8001", "--text", "quinn@example.com", "--data-dir"])
        .arg(h.dir.path())
        .output()
        .unwrap();
    assert!(export.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&export.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "every row of the case, found by the requester's email");
    assert!(lines.windows(2).all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()), "oldest first");
    let conn = Connection::open(h.db_path()).unwrap();
    let err = conn.execute("UPDATE audit SET payload = '{}' WHERE id = 2", []).unwrap_err().to_string();
    assert!(err.contains("append-only"), "{err}");
    assert!(conn.execute("DELETE FROM audit WHERE id = 2", []).unwrap_err().to_string().contains("append-only"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_row_is_named() {
    let h = folder_with_a_case().await;
    tamper(&h, "UPDATE audit SET payload = replace(payload, 'quinn', 'mallory') WHERE id = 2;");
    let (code, out) = verify(&h);
    assert_eq!(code, 1);
    assert!(out.contains("broken at row 2") && out.contains("edited"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_row_in_the_middle_or_at_the_end_is_named() {
    let h = folder_with_a_case().await;
    tamper(&h, "DELETE FROM audit WHERE id = 3;");
    let (code, out) = verify(&h);
    assert_eq!(code, 1);
    assert!(out.contains("row 3 is missing"), "{out}");

    let h = folder_with_a_case().await;
    tamper(&h, "DELETE FROM audit WHERE id = 6; UPDATE cases SET last_audit_id = 5;");
    let (code, out) = verify(&h);
    assert_eq!(code, 1);
    assert!(out.contains("rows 6 to 6 are missing at the end"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_rows_are_named() {
    let h = folder_with_a_case().await;
    // Swap rows 3 and 4 whole (their hashes travel with them).
    tamper(
        &h,
        "UPDATE audit SET id = -3 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 4; UPDATE audit SET id = 4 WHERE id = -3;",
    );
    let (code, out) = verify(&h);
    assert_eq!(code, 1);
    assert!(out.contains("broken at row 3") && out.contains("does not follow row 2"), "{out}");
}
