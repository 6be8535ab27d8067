//! The audit log: append-only (SQLite triggers refuse UPDATE and DELETE) and hash-chained, so
//! that an edited, deleted or reordered row is found by `verify`. Each row's hash is the SHA-256
//! of the previous row's hash and the row's own canonical content.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::{clock, secrets, Result};

/// The hash the first row chains from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a caller records; time, agent and the chain are added by `append`.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub case_id: Option<i64>,
    /// `global#8001` or `us_gov#9001`.
    pub ticket: Option<String>,
    pub playbook_id: Option<String>,
    pub playbook_version: Option<String>,
    pub step: Option<String>,
    /// What happened: `case_opened`, `step_completed`, `action_request`, `action_result`, …
    pub kind: String,
    /// Requests as method + path + changed fields, results as status + ids; redacted on write.
    pub payload: Value,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub agent: String,
    pub case_id: Option<i64>,
    pub ticket: Option<String>,
    pub playbook_id: Option<String>,
    pub playbook_version: Option<String>,
    pub step: Option<String>,
    pub kind: String,
    #[ts(type = "unknown")]
    pub payload: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// JSON with object keys sorted at every level, whatever order they were built in.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, v);
    out
}

/// Writes `v` as canonical JSON (keys sorted, no spaces) to `out`, without intermediate strings.
fn write_canonical(out: &mut String, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_canonical(out, &map[k]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::String(s) => write_str(out, s),
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string literal, escaped as serde_json escapes it.
fn write_str(out: &mut String, s: &str) {
    // Writing JSON into a String cannot fail.
    let quoted = serde_json::to_string(s).unwrap_or_default();
    out.push_str(&quoted);
}

fn write_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.push_str("null"),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// The hash of a row given its predecessor's hash: SHA-256 of the previous hash, a newline and
/// the row's canonical JSON (keys in sorted order, written straight from the fields).
fn row_hash(prev_hash: &str, row: &AuditRow) -> String {
    let mut content = String::with_capacity(256);
    content.push_str("{\"agent\":");
    write_str(&mut content, &row.agent);
    content.push_str(",\"at\":");
    write_str(&mut content, &row.at);
    content.push_str(",\"case_id\":");
    match row.case_id {
        Some(id) => content.push_str(&id.to_string()),
        None => content.push_str("null"),
    }
    content.push_str(",\"id\":");
    content.push_str(&row.id.to_string());
    content.push_str(",\"kind\":");
    write_str(&mut content, &row.kind);
    content.push_str(",\"payload\":");
    write_canonical(&mut content, &row.payload);
    content.push_str(",\"playbook_id\":");
    write_opt_str(&mut content, row.playbook_id.as_deref());
    content.push_str(",\"playbook_version\":");
    write_opt_str(&mut content, row.playbook_version.as_deref());
    content.push_str(",\"step\":");
    write_opt_str(&mut content, row.step.as_deref());
    content.push_str(",\"ticket\":");
    write_opt_str(&mut content, row.ticket.as_deref());
    content.push('}');
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(content.as_bytes());
    hex(&h.finalize())
}

/// Appends one row. Call it inside the transaction that changes the state it records.
pub fn append(conn: &Connection, agent: &str, entry: &Entry) -> Result<AuditRow> {
    let prev_hash: Option<String> =
        conn.prepare_cached("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")?.query_row([], |r| r.get("hash")).optional()?;
    let next_id: i64 = conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'audit'")?
        .query_row([], |r| r.get::<_, i64>("seq"))
        .optional()?
        .unwrap_or(0)
        + 1;
    let prev_hash = prev_hash.unwrap_or_else(|| GENESIS.to_owned());
    // The payload as stored: redacted; parsed again only when redaction changed it.
    let text = entry.payload.to_string();
    let (payload, stored) = match secrets::redact(&text) {
        std::borrow::Cow::Borrowed(_) => (entry.payload.clone(), text),
        std::borrow::Cow::Owned(redacted) => {
            let payload: Value = serde_json::from_str(&redacted).unwrap_or_else(|_| Value::String(redacted.clone()));
            let stored = payload.to_string();
            (payload, stored)
        }
    };
    let mut row = AuditRow {
        id: next_id,
        at: clock::now(),
        agent: agent.to_owned(),
        case_id: entry.case_id,
        ticket: entry.ticket.clone(),
        playbook_id: entry.playbook_id.clone(),
        playbook_version: entry.playbook_version.clone(),
        step: entry.step.clone(),
        kind: entry.kind.clone(),
        payload,
        prev_hash: prev_hash.clone(),
        hash: String::new(),
    };
    row.hash = row_hash(&prev_hash, &row);
    conn.prepare_cached(
        "INSERT INTO audit (id, at, agent, case_id, ticket, playbook_id, playbook_version, step, kind, payload, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(rusqlite::params![
        row.id,
        row.at,
        row.agent,
        row.case_id,
        row.ticket,
        row.playbook_id,
        row.playbook_version,
        row.step,
        row.kind,
        stored,
        row.prev_hash,
        row.hash
    ])?;
    if let Some(case) = row.case_id {
        conn.prepare_cached("UPDATE cases SET last_audit_id = ?2 WHERE id = ?1")?.execute((case, row.id))?;
    }
    Ok(row)
}

pub(crate) const COLUMNS: &str =
    "id, at, agent, case_id, ticket, playbook_id, playbook_version, step, kind, payload, prev_hash, hash";

pub(crate) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    let payload: String = r.get("payload")?;
    Ok(AuditRow {
        id: r.get("id")?,
        at: r.get("at")?,
        agent: r.get("agent")?,
        case_id: r.get("case_id")?,
        ticket: r.get("ticket")?,
        playbook_id: r.get("playbook_id")?,
        playbook_version: r.get("playbook_version")?,
        step: r.get("step")?,
        kind: r.get("kind")?,
        payload: serde_json::from_str(&payload).unwrap_or(Value::String(payload)),
        prev_hash: r.get("prev_hash")?,
        hash: r.get("hash")?,
    })
}

/// The rows of one case, oldest first.
pub fn for_case(conn: &Connection, case_id: i64) -> Result<Vec<AuditRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM audit WHERE case_id = ?1 ORDER BY id"))?;
    let rows = stmt.query_map([case_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub rows: i64,
    /// The hash of the newest row (what a summary quotes).
    pub head: String,
    /// The first row found wrong and why; `None` when the chain holds.
    pub first_bad: Option<BadRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BadRow {
    pub id: i64,
    pub problem: String,
}

/// Walks the chain from the first row: every id present in order, every row's hash matching its
/// content and its predecessor, no row missing at the end, and every case's last row present.
pub fn verify(conn: &Connection) -> Result<Verification> {
    fn bad(rows: i64, id: i64, problem: String) -> Result<Verification> {
        Ok(Verification { rows, head: String::new(), first_bad: Some(BadRow { id, problem }) })
    }
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut prev_hash = GENESIS.to_owned();
    let mut expected_id = 1;
    let mut count = 0;
    while let Some(r) = rows.next()? {
        let row = from_row(r)?;
        count += 1;
        if row.id != expected_id {
            return bad(
                count,
                expected_id,
                format!("row {expected_id} is missing (the next row is {}): rows were deleted", row.id),
            );
        }
        if row.prev_hash != prev_hash {
            return bad(
                count,
                row.id,
                format!("row {} does not follow row {}: rows were deleted, inserted or reordered", row.id, row.id - 1),
            );
        }
        if row_hash(&prev_hash, &row) != row.hash {
            return bad(count, row.id, format!("row {} does not match its hash: it was edited", row.id));
        }
        prev_hash = row.hash;
        expected_id += 1;
    }
    drop(rows);
    let seq: i64 =
        conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'audit'", [], |r| r.get("seq")).optional()?.unwrap_or(0);
    if seq >= expected_id {
        return bad(
            count,
            expected_id,
            format!("rows {expected_id} to {seq} are missing at the end of the log: they were deleted"),
        );
    }
    let orphan: Option<(i64, i64)> = conn
        .query_row(
            "SELECT c.id, c.last_audit_id FROM cases c WHERE c.last_audit_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.id = c.last_audit_id AND a.case_id = c.id) LIMIT 1",
            [],
            |r| Ok((r.get("id")?, r.get("last_audit_id")?)),
        )
        .optional()?;
    if let Some((case, id)) = orphan {
        return bad(count, id, format!("row {id}, the last row of case {case}, is gone or moved"));
    }
    Ok(Verification { rows: count, head: prev_hash, first_bad: None })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_and_escapes_as_json_does() {
        let v = json!({"b": [1, {"z": null, "a": "x\"y\n"}], "a": {"d": 1.5, "c": true}, "é": "☃"});
        assert_eq!(canonical_json(&v), r#"{"a":{"c":true,"d":1.5},"b":[1,{"a":"x\"y\n","z":null}],"é":"☃"}"#);
    }

    #[test]
    fn a_row_hashes_as_the_canonical_json_of_all_its_fields() {
        let row = AuditRow {
            id: 7,
            at: "2026-11-23T10:00:00.000Z".into(),
            agent: "Sam \"Agent\" <sam@example.com>".into(),
            case_id: Some(3),
            ticket: Some("global#8001".into()),
            playbook_id: None,
            playbook_version: Some("3efb0096cbdf".into()),
            step: None,
            kind: "action_result".into(),
            payload: json!({"calls": [{"path": "/api/v4/users/1", "method": "PUT"}], "note": "ünïcödé\t"}),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        // What the row's hash is defined as: every field in one JSON object, canonical.
        let content = json!({
            "id": row.id, "at": row.at, "agent": row.agent, "case_id": row.case_id, "ticket": row.ticket,
            "playbook_id": row.playbook_id, "playbook_version": row.playbook_version, "step": row.step,
            "kind": row.kind, "payload": row.payload,
        });
        let mut h = Sha256::new();
        h.update(format!("{GENESIS}\n{}", canonical_json(&content)).as_bytes());
        assert_eq!(row_hash(GENESIS, &row), hex(&h.finalize()));
    }
}
