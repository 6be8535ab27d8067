//! "Test connection": who a token belongs to and whether it has what the playbooks need.

use std::time::Instant;

use serde::Serialize;
use ts_rs::TS;

use super::customersdot::CustomersDot;
use super::gitlab::GitLab;
use super::mailgun::Mailgun;
use super::zendesk::Zendesk;
use super::Service;
use crate::{Error, IpcError};

/// The result of testing one service.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionCheck {
    pub service: Service,
    /// The address that was called ('' when none was).
    pub address: String,
    /// Reachable, accepted, and nothing missing.
    pub ok: bool,
    /// Who the credentials belong to, as the service says.
    pub account: Option<String>,
    /// Facts worth seeing (scopes, expiry, role, domain state).
    pub details: Vec<String>,
    /// What the playbooks need that this token lacks.
    pub missing: Vec<String>,
    pub error: Option<IpcError>,
    pub elapsed_ms: u64,
}

impl ConnectionCheck {
    fn new(service: Service, address: &str, started: Instant, outcome: Result<Found, Error>) -> ConnectionCheck {
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let address = address.trim_end_matches('/').to_owned();
        match outcome {
            Ok(f) => ConnectionCheck {
                service,
                address,
                ok: f.missing.is_empty(),
                account: Some(f.account),
                details: f.details,
                missing: f.missing,
                error: None,
                elapsed_ms,
            },
            Err(e) => ConnectionCheck {
                service,
                address,
                ok: false,
                account: None,
                details: vec![],
                missing: vec![],
                error: Some(e.into()),
                elapsed_ms,
            },
        }
    }

    /// A service that is not set up in the profile.
    pub fn not_configured(service: Service, why: Error) -> ConnectionCheck {
        ConnectionCheck::new(service, "", Instant::now(), Err(why))
    }

    /// A service used without an API (CustomersDot in manual mode).
    pub fn manual(service: Service, url: &str) -> ConnectionCheck {
        let found = Found {
            account: "manual mode: Casekit does not call an API".into(),
            details: vec![format!("Admin screens open at {url}; each step shows what to do and records your confirmation.")],
            missing: vec![],
        };
        ConnectionCheck::new(service, url, Instant::now(), Ok(found))
    }
}

struct Found {
    account: String,
    details: Vec<String>,
    missing: Vec<String>,
}

/// GitLab: the token's scopes and that its user is an administrator.
pub async fn gitlab(client: &GitLab) -> ConnectionCheck {
    let started = Instant::now();
    let outcome = async {
        let token = client.token_self().await?;
        let user = client.current_user().await?;
        let mut missing = Vec::new();
        if !token.scopes.iter().any(|s| s == "api") {
            missing.push("the api scope (the token has: ".to_owned() + &token.scopes.join(", ") + ")");
        }
        if user.is_admin != Some(true) {
            missing.push("an administrator account (user administration calls answer 403 otherwise)".to_owned());
        }
        if !token.active || token.revoked {
            missing.push("an active token (this one is revoked or expired)".to_owned());
        }
        let mut details = vec![format!("token “{}”, scopes: {}", token.name, token.scopes.join(", "))];
        if let Some(exp) = &token.expires_at {
            details.push(format!("expires {exp}"));
        }
        Ok(Found { account: format!("@{} ({})", user.username, user.name), details, missing })
    }
    .await;
    ConnectionCheck::new(Service::Gitlab, client.base_url().as_str(), started, outcome)
}

/// Zendesk: the token's user must be an agent or admin.
pub async fn zendesk(client: &Zendesk) -> ConnectionCheck {
    let started = Instant::now();
    let outcome = async {
        let me = client.me().await?;
        let mut missing = Vec::new();
        if me.role != "agent" && me.role != "admin" {
            missing.push(format!("an agent account (this token's user is an {})", me.role));
        }
        let email = me.email.clone().unwrap_or_default();
        Ok(Found { account: format!("{} <{email}>", me.name), details: vec![format!("role: {}", me.role)], missing })
    }
    .await;
    ConnectionCheck::new(client.service(), client.base_url().as_str(), started, outcome)
}

/// Mailgun: the sending domain is visible to the key and active.
pub async fn mailgun(client: &Mailgun) -> ConnectionCheck {
    let started = Instant::now();
    let outcome = async {
        let domain = client.domain().await?;
        let mut missing = Vec::new();
        if domain.state != "active" {
            missing.push(format!("an active sending domain ({} is {})", domain.name, domain.state));
        }
        Ok(Found { account: format!("domain {}", domain.name), details: vec![format!("state: {}", domain.state)], missing })
    }
    .await;
    ConnectionCheck::new(Service::Mailgun, client.base_url().as_str(), started, outcome)
}

/// CustomersDot in api mode: reachable, and the token's admin.
pub async fn customersdot(client: &CustomersDot) -> ConnectionCheck {
    let started = Instant::now();
    let outcome = async {
        let admin = client.whoami().await?;
        Ok(Found { account: admin, details: vec!["admin API reachable".into()], missing: vec![] })
    }
    .await;
    ConnectionCheck::new(Service::Customersdot, client.base_url().as_str(), started, outcome)
}
