//! The case summary: rendered from the case's audit rows (the single source of truth, nothing
//! retyped), posted to the ticket as an internal note at most once (a stable marker in the body
//! is looked for first), or queued in the outbox when the network is away. Every summary that
//! leaves Casekit ends with the audit chain's head, signed (`store::anchor`): the ticket then
//! holds an anchor `casekit audit verify --against-ticket` checks the local log against.

pub mod anchor;
pub mod outbox;

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::store::anchor::{self as chain_anchor, Head};
use crate::store::audit::{self, AuditRow};
use crate::store::cases::{self, CaseRow};
use crate::store::columns::CaseOutcome;
use crate::store::Store;
use crate::{Error, Result};

/// A rendered summary.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseSummary {
    pub case_id: i64,
    /// Markdown, readable in a Zendesk internal note.
    pub markdown: String,
    /// `[casekit:case-N:XXXXXXXX]`: how a posted summary is recognised on the ticket.
    pub marker: String,
    /// The hash of the case's last audit row.
    pub head_hash: String,
}

/// The marker for a case: its id and the first row's hash, so two databases never collide.
pub fn marker(case_id: i64, first_row_hash: &str) -> String {
    format!("[casekit:case-{case_id}:{}]", &first_row_hash[..first_row_hash.len().min(8)])
}

fn when(at: &str) -> String {
    format!("{} UTC", at.get(..16).unwrap_or(at).replace('T', " "))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Renders the summary of a case as it leaves Casekit (posted, queued, shown, saved): the case's
/// rows, then the whole chain's newest row signed with the install's audit key — the anchor.
/// When the keychain cannot be reached the head goes out unsigned, saying why, rather than the
/// summary not at all; `audit verify` then compares its hash only and says so.
pub fn render_published(store: &Store, case_id: i64) -> Result<CaseSummary> {
    let key = store.audit_key();
    let conn = store.conn();
    let mut summary = render(&conn, case_id)?;
    let line = match &key {
        Ok(key) => chain_anchor::signed_head(&conn, key)?.map(|h| h.line()),
        Err(e) => chain_anchor::newest(&conn)?.map(|(row, sha256)| {
            tracing::warn!(error = %e, "the audit head goes out unsigned");
            let head = Head { row, sha256, hmac: None, key: None };
            format!("{}: the audit key could not be read from the system keychain", head.line())
        }),
    };
    if let Some(line) = line {
        summary.markdown.push_str(&format!("_{line}._\n"));
    }
    Ok(summary)
}

/// Renders the summary of a case from its audit rows, without the signed head (for finding a
/// posted summary by its marker).
pub fn render(conn: &rusqlite::Connection, case_id: i64) -> Result<CaseSummary> {
    let case = cases::get(conn, case_id)?;
    let rows = audit::for_case(conn, case_id)?;
    let first = rows.first().ok_or_else(|| Error::NotFound(format!("Case {case_id} has no audit rows yet.")))?;
    let last = rows.last().unwrap_or(first);
    let marker = marker(case_id, &first.hash);
    Ok(CaseSummary { case_id, markdown: markdown(&case, &rows, &marker), marker, head_hash: last.hash.clone() })
}

fn markdown(case: &CaseRow, rows: &[AuditRow], marker: &str) -> String {
    let opened = rows.iter().find(|r| r.kind == "case_opened").map(|r| &r.payload);
    let ticket_url = opened.map(|p| s(p, "ticket_url")).filter(|u| !u.is_empty());
    let instance = case.ticket_instance.label();
    let mut out = format!("**Casekit case summary** {marker}\n\n");
    out.push_str(&format!(
        "- **Ticket:** #{} ({instance}){} — {}\n",
        case.ticket_id,
        ticket_url.map(|u| format!(" {u}")).unwrap_or_default(),
        case.ticket_subject
    ));
    out.push_str(&format!("- **Requester:** {}\n", case.requester));
    out.push_str(&format!(
        "- **Playbook:** {} (`{}`, version `{}`)\n",
        case.playbook_title, case.playbook_id, case.playbook_version
    ));
    let agents: Vec<&str> = rows.iter().map(|r| r.agent.as_str()).fold(Vec::new(), |mut v, a| {
        if !v.contains(&a) {
            v.push(a);
        }
        v
    });
    out.push_str(&format!("- **Agent:** {}\n", agents.join(", ")));
    let end = rows
        .iter()
        .rev()
        .find(|r| matches!(r.kind.as_str(), "case_finished" | "case_switched" | "case_abandoned" | "case_blocked"));
    out.push_str(&format!(
        "- **Started:** {} · **{}:** {}\n",
        when(&rows[0].at),
        if end.is_some() { "Ended" } else { "Last step" },
        when(&end.unwrap_or(&rows[rows.len() - 1]).at)
    ));
    out.push_str(&format!("- **Outcome:** {}\n", case.outcome.map_or("open (in progress)", CaseOutcome::key)));
    if let Some(origin) = case.origin_case_id {
        out.push_str(&format!("- **Continues:** case {origin}, whose evidence it carried over\n"));
    }

    let mut section = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            out.push_str(&format!("\n**{title}**\n\n"));
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
    };
    let facts: Vec<String> = rows
        .iter()
        .filter(|r| r.kind == "step_completed")
        .flat_map(|r| r.payload["fields"].as_object().cloned().unwrap_or_default())
        .map(|(k, v)| format!("- {}: {}", k.replace('_', " "), v.as_str().unwrap_or_default()))
        .collect();
    section("Recorded", facts);
    let gates: Vec<String> = rows
        .iter()
        .filter(|r| r.kind == "gate_passed" || r.kind == "gate_blocked")
        .flat_map(|r| {
            if r.kind == "gate_blocked" {
                vec![format!(
                    "- **blocked** at {}: {} → {}",
                    s(&r.payload, "gate"),
                    s(&r.payload, "detail"),
                    s(&r.payload, "follow")
                )]
            } else {
                r.payload["gates"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|g| format!("- passed: {} — {}", s(g, "gate").replace('_', " "), s(g, "detail")))
                    .collect()
            }
        })
        .collect();
    section("Evidence behind each gate", gates);
    let verification: Vec<String> = rows
        .iter()
        .filter(|r| r.kind == "verification_judged")
        .map(|r| {
            format!(
                "- {} of {} challenges matched, {} required at {} risk: **{}**",
                r.payload["passes"],
                r.payload["results"].as_array().map_or(0, Vec::len),
                r.payload["required"],
                s(&r.payload, "risk"),
                s(&r.payload, "outcome")
            )
        })
        .collect();
    section("Ownership verification", verification);
    let mut permission = Vec::new();
    for r in rows {
        match r.kind.as_str() {
            "permission_requested" => permission.push(format!(
                "- Requested {}{}: “{}”",
                when(&r.at),
                r.payload["comment_id"]
                    .as_u64()
                    .map(|c| format!(" (public reply, comment {c})"))
                    .unwrap_or_else(|| " (sent by the agent)".into()),
                s(&r.payload, "text")
            )),
            "permission_confirmed" => permission.push(format!(
                "- Confirmed in comment {} by user {} at {}: “{}”",
                r.payload["comment_id"],
                r.payload["author_id"],
                when(s(&r.payload, "at")),
                s(&r.payload, "quote")
            )),
            _ => {}
        }
    }
    section("Permission", permission);
    let actions: Vec<String> = rows
        .iter()
        .filter(|r| matches!(r.kind.as_str(), "action_result" | "action_failed" | "manual_done" | "decision_made" | "reply_sent"))
        .filter(|r| s(&r.payload, "action") != "admin_note")
        .map(|r| match r.kind.as_str() {
            "action_result" => {
                let calls: Vec<String> = r.payload["calls"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|c| format!("`{} {}` {}", s(c, "method"), s(c, "path"), s(c, "result")))
                    .collect();
                let verified: Vec<&str> =
                    r.payload["verified"].as_array().map(|v| v.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                format!("- {} — **verified** ({}): {}", s(&r.payload, "action"), verified.join("; "), calls.join("; "))
            }
            "action_failed" => {
                format!("- {} — failed ({}), retried later in the case", s(&r.payload, "action"), s(&r.payload, "code"))
            }
            "manual_done" => format!("- done by hand: {}", s(&r.payload, "evidence")),
            "reply_sent" => format!(
                "- reply {}",
                if r.payload["posted"] == Value::Bool(true) { "posted to the ticket" } else { "sent by the agent" }
            ),
            _ => format!(
                "- decision at {}: {} — because: {}",
                r.step.as_deref().unwrap_or(""),
                s(&r.payload, "option"),
                s(&r.payload, "reason")
            ),
        })
        .collect();
    section("Decisions and actions", actions);
    let notes: Vec<String> = rows
        .iter()
        .filter(|r| r.kind == "action_result" && s(&r.payload, "action") == "admin_note")
        .flat_map(|r| r.payload["verified"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().and_then(|l| l.strip_prefix("Admin note: ")).map(|l| format!("- `{l}`")))
        .collect();
    section("Admin note", notes);
    let last = &rows[rows.len() - 1];
    out.push_str(&format!(
        "\n_Audit chain: {} rows for this case; last row {} has hash `{}`._\n",
        rows.len(),
        last.id,
        last.hash
    ));
    out
}
