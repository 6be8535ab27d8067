//! Text rendered from a case: permission requests and replies (templates over the case facts),
//! the admin note line in the handbook's format, and the case summary.

use std::collections::BTreeMap;

use crate::store::cases::CaseRow;
use crate::{clock, Error, Result};

/// Replaces each `{fact}` with its value; a missing fact is an error naming it.
pub fn render(template: &str, facts: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let key = &rest[open + 1..open + close];
        match facts.get(key) {
            Some(v) => out.push_str(v),
            None => return Err(Error::OutOfOrder(format!("This text needs the {key}, which an earlier step records."))),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The facts a template names, in order (`{key}`; an unclosed brace names nothing).
pub fn keys(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(key, _)| key))
}

/// The Zendesk agent link of the case's ticket.
pub fn ticket_link(facts: &BTreeMap<String, String>, row: &CaseRow) -> String {
    facts.get("ticket_url").cloned().unwrap_or_else(|| format!("ticket {}#{}", row.ticket_instance.key(), row.ticket_id))
}

/// `YYYY-MM-DD | what was done | why / case | ticket link`.
pub fn admin_note_line(what: &str, row: &CaseRow, facts: &BTreeMap<String, String>) -> String {
    let what = render(what, facts).unwrap_or_else(|_| what.to_owned());
    format!("{} | {what} | user requested, Casekit case {} | {}", clock::today(), row.id, ticket_link(facts, row))
}
