//! Finding audit rows: filters by ticket, case, agent, playbook and date range, and full-text
//! search (FTS5) over case titles, requesters, notes and audit payloads.

use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::audit::{from_row, AuditRow, COLUMNS};
use crate::Result;

/// What the audit viewer (and `casekit audit export`) filter by; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditFilter {
    /// `8001`, `#8001` or `us_gov#9001`.
    pub ticket: Option<String>,
    pub case_id: Option<i64>,
    /// Part of the agent's name or email.
    pub agent: Option<String>,
    pub playbook: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    /// Words to find anywhere (each must occur); an email or a ticket number works too.
    pub text: Option<String>,
    pub limit: Option<u32>,
}

/// One page of matching rows, newest first, and how many matched in all.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub total: i64,
}

/// The FTS5 query for what an agent typed: each word a quoted phrase, all required.
pub fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .map(|t| t.trim_start_matches('#'))
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn clean(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Builds the WHERE clause and its parameters.
fn conditions(f: &AuditFilter) -> (String, Vec<Sql>) {
    let mut clauses = Vec::new();
    let mut params: Vec<Sql> = Vec::new();
    if let Some(t) = clean(&f.ticket) {
        let t = t.trim_start_matches('#');
        if t.contains('#') {
            clauses.push("a.ticket = ?".to_owned());
            params.push(Sql::Text(t.to_owned()));
        } else {
            clauses.push("a.ticket LIKE ?".to_owned());
            params.push(Sql::Text(format!("%#{t}")));
        }
    }
    if let Some(c) = f.case_id {
        clauses.push("a.case_id = ?".to_owned());
        params.push(Sql::Integer(c));
    }
    if let Some(a) = clean(&f.agent) {
        clauses.push("a.agent LIKE ?".to_owned());
        params.push(Sql::Text(format!("%{a}%")));
    }
    if let Some(p) = clean(&f.playbook) {
        clauses.push("a.playbook_id = ?".to_owned());
        params.push(Sql::Text(p.to_owned()));
    }
    if let Some(d) = clean(&f.from) {
        clauses.push("a.at >= ?".to_owned());
        params.push(Sql::Text(d.to_owned()));
    }
    if let Some(d) = clean(&f.to) {
        clauses.push("a.at < ? || 'T99'".to_owned());
        params.push(Sql::Text(d.to_owned()));
    }
    if let Some(q) = f.text.as_deref().and_then(fts_query) {
        clauses.push(
            "(a.id IN (SELECT audit_id FROM search WHERE search MATCH ?1x AND source = 'audit')
              OR a.case_id IN (SELECT case_id FROM search WHERE search MATCH ?1x AND source = 'case'))"
                .to_owned(),
        );
        params.push(Sql::Text(q));
    }
    let mut sql = String::new();
    let mut n = 0;
    for (i, c) in clauses.iter().enumerate() {
        sql.push_str(if i == 0 { " WHERE " } else { " AND " });
        // Number the placeholders; the text search uses its one parameter twice.
        let mut c = c.clone();
        if c.contains("?1x") {
            n += 1;
            c = c.replace("?1x", &format!("?{n}"));
        } else {
            n += 1;
            c = c.replacen('?', &format!("?{n}"), 1);
        }
        sql.push_str(&c);
    }
    (sql, params)
}

/// Adds the audit rows appended since the last search to the full-text index, in one
/// transaction (one index segment for the batch, not one per row).
fn index_new_rows(conn: &rusqlite::Connection) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.prepare_cached(
        "INSERT INTO search (source, case_id, audit_id, body)
         SELECT 'audit', a.case_id, a.id, coalesce(a.ticket, '') || ' ' || a.kind || ' ' || coalesce(a.step, '') || ' ' || a.payload
         FROM audit a WHERE a.id > (SELECT audit_id FROM search_indexed WHERE id = 1) ORDER BY a.id",
    )?
    .execute([])?;
    tx.prepare_cached("UPDATE search_indexed SET audit_id = (SELECT coalesce(max(id), 0) FROM audit) WHERE id = 1")?
        .execute([])?;
    tx.commit()?;
    Ok(())
}

/// The rows matching the filter, newest first (at most `limit`, default 200).
pub fn query(conn: &rusqlite::Connection, f: &AuditFilter) -> Result<AuditPage> {
    if f.text.is_some() {
        index_new_rows(conn)?;
    }
    let (clause, params) = conditions(f);
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) AS total FROM audit a{clause}"),
        rusqlite::params_from_iter(params.iter()),
        |r| r.get("total"),
    )?;
    let limit = f.limit.unwrap_or(200).clamp(1, 10_000);
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit a{clause} ORDER BY a.id DESC LIMIT {limit}"))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), from_row)?;
    Ok(AuditPage { rows: rows.collect::<rusqlite::Result<_>>()?, total })
}

/// Every matching row, oldest first, as JSON Lines (for export).
pub fn export_jsonl(conn: &rusqlite::Connection, f: &AuditFilter, out: &mut impl std::io::Write) -> Result<usize> {
    if f.text.is_some() {
        index_new_rows(conn)?;
    }
    let (clause, params) = conditions(f);
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit a{clause} ORDER BY a.id"))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let row = from_row(r)?;
        let line = serde_json::to_string(&row).map_err(|e| crate::Error::Internal(e.to_string()))?;
        writeln!(out, "{}", crate::secrets::redact(&line)).map_err(|e| crate::Error::io("Could not write the export", e))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_words_become_safe_phrases() {
        assert_eq!(fts_query(" #8001  quinn@example.com ").as_deref(), Some("\"8001\" \"quinn@example.com\""));
        assert_eq!(fts_query("say \"hi\" OR").as_deref(), Some("\"say\" \"\"\"hi\"\"\" \"OR\""));
        assert_eq!(fts_query("   "), None);
    }
}
