//! Mailgun: whether GitLab's mail reaches an address, and lifting a bounce suppression.

use serde::{Deserialize, Serialize};

use super::{fact, Action, Lookup, Need, Run};
use crate::clock;
use crate::connectors::mailgun::EventFilter;
use crate::connectors::session::Connections;
use crate::playbook::effects::{Calls, Fact, Found, Link, PlannedCall};
use crate::playbook::state::CaseState;
use crate::{Error, Result};

/// One event of the delivery evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub event: String,
    pub subject: Option<String>,
    pub timestamp: f64,
    pub delivered: bool,
    pub suppression: bool,
}

/// What `mailgun_delivery` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryData {
    pub events: Vec<Delivery>,
    pub suppressed: bool,
}

/// A Mailgun event time (seconds since the epoch, fractional) as RFC 3339.
pub fn event_time(ts: f64) -> String {
    clock::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(ts.max(0.0)))
}

/// `mailgun_delivery`: recent delivery events to the address on the sending domain, and
/// whether the address is suppressed after a bounce.
pub struct MailgunDelivery;

impl Lookup for MailgunDelivery {
    const NAME: &'static str = "mailgun_delivery";
    const NEEDS: &'static [Need] = &[Need::Fact("email")];
    const PRODUCES: &'static [&'static str] = &["suppressed"];
    type Data = DeliveryData;

    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        let email = fact(state, "email")?;
        let mg = conns.mailgun()?;
        let events = mg.events(&EventFilter { recipient: Some(email.to_owned()), ..Default::default() }).await?;
        let bounce = mg.bounce(email).await?;
        let mut rows = Vec::new();
        let relevant: Vec<_> = events.iter().filter(|e| e.event == "delivered" || e.event == "failed").take(5).collect();
        if relevant.is_empty() {
            rows.push(Fact::new(
                "Mail to this address",
                format!("no delivery or failure on {} in the retention period", mg.domain_name()),
            ));
        }
        for e in relevant {
            let status = e.delivery_status.as_ref().map(|d| format!("{} {}", d.code, d.text())).unwrap_or_default();
            rows.push(Fact::judged(
                &format!("{} — {}", e.subject().unwrap_or("(no subject)"), event_time(e.timestamp).get(..16).unwrap_or_default()),
                format!("{} {status}", e.event),
                e.is_delivered(),
            ));
        }
        rows.push(match &bounce {
            Some(b) => Fact::judged(
                "Suppression (bounce list)",
                format!("suppressed since {}: {} {}", b.created_at, b.code, b.error),
                false,
            ),
            None => Fact::judged("Suppression (bounce list)", "none", true),
        });
        let data = DeliveryData {
            events: events
                .iter()
                .map(|e| Delivery {
                    event: e.event.clone(),
                    subject: e.subject().map(str::to_owned),
                    timestamp: e.timestamp,
                    delivered: e.is_delivered(),
                    suppression: e.is_suppression(),
                })
                .collect(),
            suppressed: bounce.is_some(),
        };
        let links =
            vec![Link::new("Mailgun logs", format!("https://app.mailgun.com/app/sending/domains/{}/logs", mg.domain_name()))];
        Ok(Found::new("Mail delivery (Mailgun)", &data, rows, links)?.fact("suppressed", bounce.is_some().to_string()))
    }
}

/// `remove_suppression`: the address comes off the bounce list.
pub struct RemoveSuppression;

impl Action for RemoveSuppression {
    const NAME: &'static str = "remove_suppression";
    const NEEDS: &'static [Need] = &[Need::Fact("email")];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        let email = fact(state, "email")?;
        Ok(vec![PlannedCall::new("DELETE", format!("/v3/:domain/bounces/{email}"), format!("bounce list: − {email}"))])
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        state.facts.get("email").cloned()
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let mg = run.env.conns.mailgun()?;
        let email = fact(run.state, "email")?;
        let path = format!("/v3/{}/bounces/{email}", mg.domain_name());
        if mg.bounce(email).await?.is_some() {
            mg.delete_bounce(email).await?;
            calls.record("DELETE", path, "done");
        } else {
            calls.record("DELETE", path, "skipped: the address is not suppressed");
        }
        if mg.bounce(email).await?.is_some() {
            return Err(Error::InvalidResponse("Mailgun still lists the address as suppressed.".into()));
        }
        Ok(vec![Fact::judged("Suppression", "removed", true)])
    }
}
