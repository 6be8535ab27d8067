//! A profile's clients: URLs from the profile, tokens from the OS keychain, or both from the
//! running sandbox for the Sandbox profile.

use super::check::{self, ConnectionCheck};
use super::customersdot::CustomersDot;
use super::gitlab::GitLab;
use super::mailgun::Mailgun;
use super::zendesk::Zendesk;
use super::{HttpSettings, Service};
use crate::sandbox::SandboxCredentials;
use crate::secrets::{Keychain, Secret};
use crate::store::profiles::{CustomersDotMode, Profile};
use crate::{Error, Result};

/// Where a profile's URLs and tokens come from.
#[derive(Clone)]
pub enum Credentials {
    /// The built-in sandbox: its own URLs and made-up tokens.
    Sandbox(SandboxCredentials),
    /// A live profile: URLs from the profile, tokens from the keychain.
    Keychain(Keychain),
}

/// Builds the clients of one profile.
#[derive(Clone)]
pub struct Connections {
    profile: Profile,
    credentials: Credentials,
    settings: HttpSettings,
}

impl Connections {
    pub fn new(profile: Profile, credentials: Credentials, settings: HttpSettings) -> Connections {
        Connections { profile, credentials, settings }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    fn url(&self, service: Service) -> Result<String> {
        let s = &self.profile.services;
        let url = match service {
            Service::Gitlab => &s.gitlab_url,
            Service::Zendesk => &s.zendesk_url,
            Service::ZendeskUsGov => &s.zendesk_us_gov_url,
            Service::Mailgun => &s.mailgun_url,
            Service::Customersdot => &s.customersdot_url,
        };
        if url.is_empty() {
            return Err(Error::NotConfigured(format!(
                "No {} address is set in the profile \"{}\". Enter it in Settings → Profiles, then test the connection.",
                service.label(),
                self.profile.name
            )));
        }
        Ok(url.clone())
    }

    fn token(&self, keychain: &Keychain, service: Service) -> Result<Secret> {
        keychain.get(self.profile.id, service)?.ok_or_else(|| {
            Error::NotConfigured(format!(
                "No {} token is stored for the profile \"{}\". Paste one in Settings → Connections; it is kept in the system keychain.",
                service.label(),
                self.profile.name
            ))
        })
    }

    /// The GitLab client (admin token).
    pub fn gitlab(&self) -> Result<GitLab> {
        match &self.credentials {
            Credentials::Sandbox(c) => {
                GitLab::new(&c.gitlab.url, Secret::new(c.gitlab.admin_token.clone()), self.settings.clone())
            }
            Credentials::Keychain(k) => {
                GitLab::new(&self.url(Service::Gitlab)?, self.token(k, Service::Gitlab)?, self.settings.clone())
            }
        }
    }

    /// The client for one Zendesk instance (`Zendesk` or `ZendeskUsGov`).
    pub fn zendesk(&self, instance: Service) -> Result<Zendesk> {
        match &self.credentials {
            Credentials::Sandbox(c) => {
                let z = if instance == Service::ZendeskUsGov { &c.zendesk_us_gov } else { &c.zendesk };
                Zendesk::new(instance, &z.url, &z.email, Secret::new(z.token.clone()), self.settings.clone())
            }
            Credentials::Keychain(k) => {
                if self.profile.agent_email.is_empty() {
                    return Err(Error::NotConfigured(
                        "Zendesk signs API calls with your work email: enter it under You in Settings.".into(),
                    ));
                }
                let url = self.url(instance)?;
                Zendesk::new(instance, &url, &self.profile.agent_email, self.token(k, instance)?, self.settings.clone())
            }
        }
    }

    pub fn mailgun(&self) -> Result<Mailgun> {
        match &self.credentials {
            Credentials::Sandbox(c) => {
                Mailgun::new(&c.mailgun.url, &c.mailgun.domain, Secret::new(c.mailgun.api_key.clone()), self.settings.clone())
            }
            Credentials::Keychain(k) => {
                let domain = &self.profile.services.mailgun_domain;
                if domain.is_empty() {
                    return Err(Error::NotConfigured(format!(
                        "No Mailgun domain is set in the profile \"{}\". Enter it (e.g. mg.gitlab.com) in Settings → Profiles.",
                        self.profile.name
                    )));
                }
                Mailgun::new(&self.url(Service::Mailgun)?, domain, self.token(k, Service::Mailgun)?, self.settings.clone())
            }
        }
    }

    /// The CustomersDot admin API, or `None` in manual mode.
    pub fn customersdot(&self) -> Result<Option<CustomersDot>> {
        match &self.credentials {
            Credentials::Sandbox(c) => {
                CustomersDot::new(&c.customersdot.url, Secret::new(c.customersdot.token.clone()), self.settings.clone()).map(Some)
            }
            Credentials::Keychain(_) if self.profile.services.customersdot_mode == CustomersDotMode::Manual => Ok(None),
            Credentials::Keychain(k) => {
                CustomersDot::new(&self.url(Service::Customersdot)?, self.token(k, Service::Customersdot)?, self.settings.clone())
                    .map(Some)
            }
        }
    }

    /// Tests one service: builds its client (reading the keychain off the async threads) and
    /// asks who the credentials belong to.
    pub async fn check(&self, service: Service) -> ConnectionCheck {
        let this = self.clone();
        let built = tokio::task::spawn_blocking(move || -> Result<Client> {
            Ok(match service {
                Service::Gitlab => Client::Gitlab(this.gitlab()?),
                Service::Zendesk | Service::ZendeskUsGov => Client::Zendesk(this.zendesk(service)?),
                Service::Mailgun => Client::Mailgun(this.mailgun()?),
                Service::Customersdot => match this.customersdot()? {
                    Some(c) => Client::Customersdot(c),
                    None => Client::Manual(this.url(Service::Customersdot).unwrap_or_default()),
                },
            })
        })
        .await
        .unwrap_or_else(|e| Err(Error::Internal(format!("the connection test stopped: {e}"))));
        match built {
            Err(e) => ConnectionCheck::not_configured(service, e),
            Ok(Client::Gitlab(c)) => check::gitlab(&c).await,
            Ok(Client::Zendesk(c)) => check::zendesk(&c).await,
            Ok(Client::Mailgun(c)) => check::mailgun(&c).await,
            Ok(Client::Customersdot(c)) => check::customersdot(&c).await,
            Ok(Client::Manual(url)) => ConnectionCheck::manual(service, &url),
        }
    }
}

enum Client {
    Gitlab(GitLab),
    Zendesk(Zendesk),
    Mailgun(Mailgun),
    Customersdot(CustomersDot),
    Manual(String),
}
