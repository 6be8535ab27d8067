//! CustomersDot admin API in `api` mode: Casekit's own contract (docs/customersdot-api.md) for
//! what the admin screens do, behind `Authorization: Bearer`.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::http::{Auth, Http, HttpSettings};
use super::Service;
use crate::secrets::Secret;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub confirmed_at: Option<String>,
    pub confirmation_sent_at: Option<String>,
    pub login_activated: bool,
    /// The linked GitLab.com user id.
    pub uid: Option<u64>,
    /// `self_signup`, `legacy` or `sales`.
    pub created_via: String,
    pub created_at: String,
    pub billing_account_membership: Option<BillingAccountMembership>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingAccountMembership {
    pub id: u64,
    pub customer_id: u64,
    pub billing_account_id: u64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingAccount {
    pub id: u64,
    pub name: String,
    pub zuora_account_id: String,
    pub sold_to: Contact,
    pub bill_to: Contact,
    #[serde(default)]
    pub memberships: Vec<BillingAccountMembership>,
}

/// A one-time sign-in link CustomersDot emailed to the customer. The link itself never leaves
/// CustomersDot: the answer names where it went and its last four characters, to tell links apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInLinkSent {
    pub sent_to: String,
    pub sent_at: String,
    pub expires_at: String,
    pub last4: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: u64,
    pub customer_id: u64,
    pub action: String,
    pub ticket_url: Option<String>,
    pub details: Value,
    pub created_at: String,
}

/// How to look a customer up (one field, as the admin search does).
#[derive(Debug, Clone)]
pub enum CustomerQuery {
    Email(String),
    Name(String),
    Uid(u64),
}

/// The CustomersDot admin API.
#[derive(Clone)]
pub struct CustomersDot {
    http: Http,
}

const BASE: &str = "admin/api/v1";

fn field<T: DeserializeOwned>(v: Value, key: &str) -> Result<T> {
    serde_json::from_value(v.get(key).cloned().unwrap_or(Value::Null))
        .map_err(|e| Error::InvalidResponse(format!("CustomersDot sent a {key} Casekit could not read ({e}).")))
}

impl CustomersDot {
    pub fn new(base: &str, token: Secret, settings: HttpSettings) -> Result<CustomersDot> {
        Ok(CustomersDot { http: Http::new(Service::Customersdot, base, Auth::Bearer(token), settings)? })
    }

    /// The service's base URL.
    pub fn base_url(&self) -> &url::Url {
        self.http.base()
    }

    /// The admin the token belongs to (email).
    pub async fn whoami(&self) -> Result<String> {
        let v: Value = self.http.get(&format!("{BASE}/whoami"), &[]).await?;
        v.pointer("/admin/email")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::InvalidResponse("CustomersDot did not say which admin the token belongs to.".into()))
    }

    pub async fn find_customers(&self, q: &CustomerQuery) -> Result<Vec<Customer>> {
        let param = match q {
            CustomerQuery::Email(e) => ("email", e.clone()),
            CustomerQuery::Name(n) => ("name", n.clone()),
            CustomerQuery::Uid(u) => ("uid", u.to_string()),
        };
        let v: Value = self.http.get(&format!("{BASE}/customers"), &[param]).await?;
        field(v, "customers")
    }

    pub async fn customer(&self, id: u64) -> Result<Customer> {
        let v: Value = self.http.get(&format!("{BASE}/customers/{id}"), &[]).await?;
        field(v, "customer")
    }

    pub async fn resend_confirmation(&self, id: u64) -> Result<Customer> {
        let v: Value =
            self.http.send(Method::POST, &format!("{BASE}/customers/{id}/resend_confirmation"), Some(&json!({}))).await?;
        field(v, "customer")
    }

    /// Emails a new one-time sign-in link to the customer's own address (the previous link
    /// stops working). Not repeated after a network failure: read the Support Audit Events.
    pub async fn send_one_time_sign_in_link(&self, id: u64) -> Result<SignInLinkSent> {
        let v: Value =
            self.http.send(Method::POST, &format!("{BASE}/customers/{id}/send_one_time_sign_in_link"), Some(&json!({}))).await?;
        field(v, "sign_in_link")
    }

    /// Unlinks the GitLab user; the ticket link is logged as a Support Audit Event.
    pub async fn unlink_gitlab_user(&self, id: u64, ticket_url: &str) -> Result<Customer> {
        let body = json!({"ticket_url": ticket_url});
        let v: Value = self.http.send(Method::POST, &format!("{BASE}/customers/{id}/unlink_gitlab_user"), Some(&body)).await?;
        field(v, "customer")
    }

    pub async fn support_audit_events(&self, id: u64) -> Result<Vec<AuditEvent>> {
        let v: Value = self.http.get(&format!("{BASE}/customers/{id}/support_audit_events"), &[]).await?;
        field(v, "events")
    }

    pub async fn billing_account(&self, id: u64) -> Result<BillingAccount> {
        let v: Value = self.http.get(&format!("{BASE}/billing_accounts/{id}"), &[]).await?;
        field(v, "billing_account")
    }

    /// Adds the customer to the billing account (at most one per customer).
    pub async fn add_billing_account_membership(
        &self,
        customer_id: u64,
        billing_account_id: u64,
    ) -> Result<BillingAccountMembership> {
        let body = json!({"customer_id": customer_id, "billing_account_id": billing_account_id});
        let v: Value = self.http.send(Method::POST, &format!("{BASE}/billing_account_memberships"), Some(&body)).await?;
        field(v, "billing_account_membership")
    }

    pub async fn remove_billing_account_membership(&self, membership_id: u64) -> Result<()> {
        self.http.send_empty(Method::DELETE, &format!("{BASE}/billing_account_memberships/{membership_id}"), None).await
    }
}
