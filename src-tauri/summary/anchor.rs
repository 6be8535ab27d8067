//! The audit heads Casekit posted on a ticket, read back for `casekit audit verify
//! --against-ticket`.

use crate::connectors::zendesk::Zendesk;
use crate::store::anchor::{self, Found};
use crate::Result;

/// Every head line in the ticket's internal notes, oldest first. Public comments are not read:
/// the requester writes those, and Casekit posts its summaries as internal notes only.
pub async fn heads_on_ticket(zd: &Zendesk, instance: &str, ticket: u64) -> Result<Vec<Found>> {
    let comments = zd.comments(ticket).await?;
    Ok(comments
        .iter()
        .filter(|c| !c.public)
        .flat_map(|c| {
            anchor::heads_in(&c.body)
                .into_iter()
                .map(move |head| Found { head, source: format!("ticket {instance}#{ticket}, internal note {}", c.id) })
        })
        .collect())
}
