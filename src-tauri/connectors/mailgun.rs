//! Mailgun (`{base}/v3`, Basic `api:{key}`): delivery events for a recipient and bounces
//! (suppressions) on the sending domain.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::http::{Auth, Http, HttpSettings, Paging, Take};
use super::Service;
use crate::secrets::Secret;
use crate::{Error, Result};

/// The regions and their API hosts.
pub fn region_url(region: &str) -> Option<&'static str> {
    match region {
        "us" => Some("https://api.mailgun.net"),
        "eu" => Some("https://api.eu.mailgun.net"),
        _ => None,
    }
}

/// One event, with the fields a delivery check reads. Only `event` and `timestamp` are sent
/// for every kind of event (tests/contract/mailgun/).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event: String,
    /// Epoch seconds.
    pub timestamp: f64,
    #[serde(default)]
    pub recipient: String,
    /// Why a `failed` event failed, e.g. `suppress-bounce`.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub message: Value,
    #[serde(default, rename = "delivery-status")]
    pub delivery_status: Option<DeliveryStatus>,
}

impl Event {
    pub fn subject(&self) -> Option<&str> {
        self.message.pointer("/headers/subject").and_then(Value::as_str)
    }

    /// "Not delivering to previously bounced address" (code 605, `reason: suppress-bounce`):
    /// the address is suppressed.
    pub fn is_suppression(&self) -> bool {
        self.reason.as_deref().is_some_and(|r| r.starts_with("suppress"))
            || self.delivery_status.as_ref().is_some_and(|d| d.code == 605 || d.text().contains("previously bounced"))
    }

    /// "delivered" with code 250.
    pub fn is_delivered(&self) -> bool {
        self.event == "delivered" && self.delivery_status.as_ref().is_none_or(|d| d.code == 250)
    }
}

/// The receiving server's answer. Mailgun puts the words in `message` or, for its own refusals
/// (suppressions), in `description` with an empty or null `message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    #[serde(default)]
    pub code: u32,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl DeliveryStatus {
    /// The words that explain the code, wherever Mailgun put them.
    pub fn text(&self) -> &str {
        [&self.message, &self.description].into_iter().flatten().map(|t| t.trim()).find(|t| !t.is_empty()).unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounce {
    pub address: String,
    pub code: String,
    pub error: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub name: String,
    pub state: String,
}

/// Filters for the events search.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub recipient: Option<String>,
    /// e.g. `delivered`, `failed`, `delivered OR failed`.
    pub event: Option<String>,
    pub subject: Option<String>,
    /// Epoch seconds.
    pub begin: Option<u64>,
    pub end: Option<u64>,
}

/// A Mailgun account's sending domain.
#[derive(Clone)]
pub struct Mailgun {
    http: Http,
    domain: String,
}

impl Mailgun {
    /// `base` is the API host without `/v3` (see `region_url`).
    pub fn new(base: &str, domain: &str, api_key: Secret, settings: HttpSettings) -> Result<Mailgun> {
        let auth = Auth::Basic { user: "api".into(), password: api_key };
        Ok(Mailgun { http: Http::new(Service::Mailgun, base, auth, settings)?, domain: domain.to_owned() })
    }

    pub fn domain_name(&self) -> &str {
        &self.domain
    }

    /// The service's base URL.
    pub fn base_url(&self) -> &url::Url {
        self.http.base()
    }

    pub async fn domain(&self) -> Result<Domain> {
        let v: Value = self.http.get(&format!("v3/domains/{}", self.domain), &[]).await?;
        serde_json::from_value(v.get("domain").cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::InvalidResponse(format!("Mailgun sent a domain Casekit could not read ({e}).")))
    }

    /// Every matching event, newest first, following `paging.next` until a page is empty.
    pub async fn events(&self, f: &EventFilter) -> Result<Vec<Event>> {
        let mut q = vec![("ascending", "no".to_owned()), ("limit", self.http.page_size(300))];
        let texts = [("recipient", &f.recipient), ("event", &f.event), ("subject", &f.subject)];
        q.extend(texts.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))));
        let times = [("begin", f.begin), ("end", f.end)];
        q.extend(times.into_iter().filter_map(|(k, v)| v.map(|v| (k, v.to_string()))));
        let url = self.http.url(&format!("v3/{}/events", self.domain), &q)?;
        let what = match &f.recipient {
            Some(recipient) => format!("events for {recipient}"),
            None => format!("events on {}", self.domain),
        };
        self.http.paginate(&what, url, Paging::UntilEmpty { items: "items" }, Take::All).await
    }

    /// The bounce (suppression) for an address, if any.
    pub async fn bounce(&self, address: &str) -> Result<Option<Bounce>> {
        self.http.get_optional(&format!("v3/{}/bounces/{}", self.domain, encode(address)), &[]).await
    }

    /// Removes a suppression so that mail is tried again.
    pub async fn delete_bounce(&self, address: &str) -> Result<()> {
        self.http.send_empty(Method::DELETE, &format!("v3/{}/bounces/{}", self.domain, encode(address)), None).await
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}
