//! A profile's clients: URLs from the profile and tokens read from the OS keychain once per
//! profile activation, or both from the running sandbox for the Sandbox profile. Nothing here
//! touches the keychain: building a client is pure and safe on an async worker.

use super::check::{self, ConnectionCheck};
use super::customersdot::CustomersDot;
use super::gitlab::GitLab;
use super::mailgun::Mailgun;
use super::zendesk::Zendesk;
use super::{HttpSettings, Service};
use crate::sandbox::SandboxCredentials;
use std::sync::Arc;

use crate::secrets::{Secret, Tokens};
use crate::store::profiles::{CustomersDotMode, Profile};
use crate::{Error, Result};

/// Where a profile's URLs and tokens come from. Built once per command, so the Sandbox
/// variant's size costs nothing worth a box.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Credentials {
    /// The built-in sandbox: its own URLs and made-up tokens.
    Sandbox(SandboxCredentials),
    /// A live profile: URLs from the profile, tokens as read from the keychain.
    Live(Arc<Tokens>),
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
        let url = self.profile.services.url(service);
        if url.is_empty() {
            return Err(Error::NotConfigured(format!(
                "No {} address is set in the profile \"{}\". Enter it in Settings → Profiles, then test the connection.",
                service.label(),
                self.profile.name
            )));
        }
        Ok(url.to_owned())
    }

    fn token(&self, tokens: &Tokens, service: Service) -> Result<Secret> {
        tokens.get(service).cloned().ok_or_else(|| {
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
            Credentials::Live(k) => {
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
            Credentials::Live(k) => {
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
            Credentials::Live(k) => {
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
            Credentials::Live(_) if self.profile.services.customersdot_mode == CustomersDotMode::Manual => Ok(None),
            Credentials::Live(k) => {
                CustomersDot::new(&self.url(Service::Customersdot)?, self.token(k, Service::Customersdot)?, self.settings.clone())
                    .map(Some)
            }
        }
    }

    /// Tests one service: builds its client and asks who the credentials belong to.
    pub async fn check(&self, service: Service) -> ConnectionCheck {
        let built = (|| -> Result<Client> {
            Ok(match service {
                Service::Gitlab => Client::Gitlab(self.gitlab()?),
                Service::Zendesk | Service::ZendeskUsGov => Client::Zendesk(self.zendesk(service)?),
                Service::Mailgun => Client::Mailgun(self.mailgun()?),
                Service::Customersdot => match self.customersdot()? {
                    Some(c) => Client::Customersdot(c),
                    None => Client::Manual(self.url(Service::Customersdot).unwrap_or_default()),
                },
            })
        })();
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
