//! The services Casekit acts through, by name. A leaf: the keychain, the connectors, the
//! sandbox and the store all name services, so the type sits below every one of them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Which Zendesk instance a ticket lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TicketInstance {
    Global,
    UsGov,
}

impl TicketInstance {
    pub const ALL: [TicketInstance; 2] = [TicketInstance::Global, TicketInstance::UsGov];

    /// How cases, facts and the CLI say it.
    pub fn key(self) -> &'static str {
        match self {
            TicketInstance::Global => "global",
            TicketInstance::UsGov => "us_gov",
        }
    }

    /// The instance a key names.
    pub fn from_key(key: &str) -> Option<TicketInstance> {
        TicketInstance::ALL.into_iter().find(|i| i.key() == key)
    }

    /// The profile's service for it.
    pub fn service(self) -> Service {
        match self {
            TicketInstance::Global => Service::Zendesk,
            TicketInstance::UsGov => Service::ZendeskUsGov,
        }
    }

    /// The name an agent knows it by.
    pub fn label(self) -> &'static str {
        match self {
            TicketInstance::Global => "global",
            TicketInstance::UsGov => "US Government",
        }
    }
}

/// The services (the two Zendesk instances are separate services).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Gitlab,
    Zendesk,
    ZendeskUsGov,
    Mailgun,
    Customersdot,
}

impl Service {
    pub const ALL: [Service; 5] =
        [Service::Gitlab, Service::Zendesk, Service::ZendeskUsGov, Service::Mailgun, Service::Customersdot];

    /// The name an agent knows it by.
    pub fn label(self) -> &'static str {
        match self {
            Service::Gitlab => "GitLab",
            Service::Zendesk => "Zendesk",
            Service::ZendeskUsGov => "Zendesk US Government",
            Service::Mailgun => "Mailgun",
            Service::Customersdot => "CustomersDot",
        }
    }

    /// The stable key used in the keychain and in settings.
    pub fn key(self) -> &'static str {
        match self {
            Service::Gitlab => "gitlab",
            Service::Zendesk => "zendesk",
            Service::ZendeskUsGov => "zendesk_us_gov",
            Service::Mailgun => "mailgun",
            Service::Customersdot => "customersdot",
        }
    }

    /// What the token needs, said when a call is refused with 403.
    pub fn permission_hint(self) -> &'static str {
        match self {
            Service::Gitlab => "Casekit needs a personal access token of an administrator with the api scope.",
            Service::Zendesk | Service::ZendeskUsGov => {
                "Casekit needs an API token of a Zendesk agent allowed to edit users and tickets."
            }
            Service::Mailgun => "Casekit needs a Mailgun API key with access to the sending domain.",
            Service::Customersdot => "Casekit needs a CustomersDot admin API token.",
        }
    }
}
