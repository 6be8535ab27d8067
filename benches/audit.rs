//! `make bench` figures for the audit log: append throughput with the hash chain against a
//! plain insert of the same rows (same database settings, one transaction per row, as the app
//! writes), verify throughput at 100k rows, and full-text search latency at 1M rows.

use std::time::Instant;

use casekit::store::audit::{self, Entry};
use casekit::store::search::{self, AuditFilter};
use casekit::store::Store;
use serde_json::json;

fn entry(i: u64) -> Entry {
    Entry {
        case_id: None,
        ticket: Some(format!("global#{}", 100_000 + i % 5_000)),
        playbook_id: Some("release-email".into()),
        playbook_version: Some("3efb0096cbdf".into()),
        step: Some(["confirm-identity", "account-lookup", "no-activity", "permission", "release"][(i % 5) as usize].into()),
        kind: ["step_completed", "lookup_completed", "gate_passed", "permission_confirmed", "action_result"][(i % 5) as usize]
            .into(),
        payload: json!({"user_id": i, "email": format!("user{i}@example.com"), "detail": format!("word{} lorem ipsum {}", i % 997, i % 13)}),
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.sqlite3")).unwrap();
    (dir, store)
}

/// Appends `n` rows with the hash chain and inserts the same rows plainly into an identical
/// table without triggers or chain, one transaction per row as the app writes, both under
/// `synchronous`; prints both rates and their ratio.
fn append_side_by_side(n: u64, synchronous: &str) {
    let (_d1, chained) = store();
    chained.conn().pragma_update(None, "synchronous", synchronous).unwrap();
    let started = Instant::now();
    for i in 0..n {
        let conn = chained.conn();
        let tx = conn.unchecked_transaction().unwrap();
        audit::append(&tx, "Bench Agent <bench@example.com>", &entry(i)).unwrap();
        tx.commit().unwrap();
    }
    let chained_rate = n as f64 / started.elapsed().as_secs_f64();

    let (_d2, plain) = store();
    plain.conn().pragma_update(None, "synchronous", synchronous).unwrap();
    plain.conn().execute_batch("CREATE TABLE plain AS SELECT * FROM audit WHERE 0; ").unwrap();
    let started = Instant::now();
    for i in 0..n {
        let e = entry(i);
        let conn = plain.conn();
        let tx = conn.unchecked_transaction().unwrap();
        tx.execute(
            "INSERT INTO plain (at, agent, case_id, ticket, playbook_id, playbook_version, step, kind, payload, prev_hash, hash)
             VALUES (strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', '')",
            rusqlite::params![
                "Bench Agent <bench@example.com>",
                e.case_id,
                e.ticket,
                e.playbook_id,
                e.playbook_version,
                e.step,
                e.kind,
                e.payload.to_string()
            ],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let plain_rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "audit_append_chained_{}: {chained_rate:.0} rows/s; plain_insert: {plain_rate:.0} rows/s; chained/plain: {:.2}x (goal >= 0.8x; {n} rows, one transaction each, WAL + synchronous={synchronous})",
        synchronous.to_lowercase(),
        chained_rate / plain_rate
    );
}

fn main() {
    // FULL is what the app uses (every commit synced); NORMAL shows the chain's own cost
    // without the sync that dominates FULL.
    append_side_by_side(2_000, "FULL");
    append_side_by_side(20_000, "NORMAL");

    // Verify at 100k rows.
    let (_d3, big) = store();
    {
        let conn = big.conn();
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..100_000 {
            audit::append(&tx, "Bench Agent <bench@example.com>", &entry(i)).unwrap();
        }
        tx.commit().unwrap();
    }
    let started = Instant::now();
    let v = audit::verify(&big.conn()).unwrap();
    assert!(v.first_bad.is_none());
    let verify_rate = v.rows as f64 / started.elapsed().as_secs_f64();
    println!(
        "audit_verify_100k: {verify_rate:.0} rows/s; {:.2}x the 200,000 rows/s goal ({} rows in {:.2} s)",
        verify_rate / 200_000.0,
        v.rows,
        started.elapsed().as_secs_f64()
    );

    // Search at 1M rows.
    {
        let conn = big.conn();
        let tx = conn.unchecked_transaction().unwrap();
        for i in 100_000..1_000_000 {
            audit::append(&tx, "Bench Agent <bench@example.com>", &entry(i)).unwrap();
        }
        tx.commit().unwrap();
    }
    let mut times = Vec::new();
    for q in 0..200u64 {
        let text = match q % 4 {
            0 => format!("user{}@example.com", q * 4_999),
            1 => format!("{}", 100_000 + q * 17 % 5_000),
            2 => format!("word{}", q * 7 % 997),
            _ => format!("word{} lorem", q % 997),
        };
        let started = Instant::now();
        let page = search::query(&big.conn(), &AuditFilter { text: Some(text), limit: Some(50), ..Default::default() }).unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(page.total > 0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "fts_search_1m: p50 {:.1} ms, p95 {:.1} ms (200 queries: emails, ticket numbers, words; first 50 rows and the total)",
        times[times.len() / 2],
        times[times.len() * 95 / 100]
    );
}
