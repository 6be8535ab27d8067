//! Zendesk Support API v2 (`{base}/api/v2`, Basic `{agent_email}/token:{api_token}`): tickets,
//! users, identities, organization memberships, sessions, ticket forms and fields. One client
//! per instance.
//!
//! Paths are sent without the `.json` suffix the API reference's curl examples carry: Zendesk
//! answers both spellings alike, the reference's endpoint headings and generated samples write
//! them bare, and one spelling keeps the paths in previews, audit rows and fault rules the
//! same as what goes over the wire. Links Zendesk hands back (`next_page`, with `.json`) are
//! followed as given.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::http::{Auth, Http, HttpSettings, Paging, Take};
use super::Service;
use crate::secrets::Secret;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: Option<String>,
    pub role: String,
    #[serde(default)]
    pub suspended: bool,
    #[serde(default)]
    pub notes: Option<String>,
    pub organization_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub id: u64,
    pub user_id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    /// Deprecated by Zendesk in favour of `verification_method` ("full" = verified), still sent.
    #[serde(default)]
    pub verified: bool,
    #[serde(default)]
    pub verification_method: Option<String>,
    pub primary: bool,
}

impl Identity {
    /// Verified, by whichever field this Zendesk sends.
    pub fn is_verified(&self) -> bool {
        self.verified || self.verification_method.as_deref() == Some("full")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomField {
    pub id: u64,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: u64,
    pub subject: Option<String>,
    pub description: Option<String>,
    pub status: String,
    pub requester_id: u64,
    pub organization_id: Option<u64>,
    pub ticket_form_id: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub custom_fields: Vec<CustomField>,
    #[serde(default)]
    pub collaborator_ids: Vec<u64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub author_id: u64,
    /// Optional in Zendesk's reference (voice comments carry their own data instead).
    #[serde(default)]
    pub body: String,
    pub public: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub organization_fields: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationMembership {
    pub id: u64,
    pub user_id: u64,
    pub organization_id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketForm {
    pub id: u64,
    pub name: String,
    /// Every field the form shows, Zendesk's system fields included.
    #[serde(default)]
    pub ticket_field_ids: Vec<u64>,
    #[serde(default)]
    pub active: bool,
    /// Conditional fields in the agent workspace.
    #[serde(default)]
    pub agent_conditions: Vec<FormCondition>,
}

/// While `parent_field_id` has `value`, the `child_fields` show (and may be required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormCondition {
    pub parent_field_id: u64,
    pub value: Value,
    #[serde(default)]
    pub child_fields: Vec<ConditionChild>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionChild {
    pub id: u64,
    #[serde(default)]
    pub is_required: bool,
    #[serde(default)]
    pub required_on_statuses: Option<RequiredOnStatuses>,
}

/// `ALL_STATUSES`, `SOME_STATUSES` (with `statuses`) or `NO_STATUSES`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequiredOnStatuses {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub statuses: Vec<String>,
}

/// A ticket field's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketField {
    pub id: u64,
    /// `subject`, `description`, `status`, `tickettype`, `priority`, `group`, `assignee` … for
    /// Zendesk's own fields; `text`, `tagger`, `checkbox`, `integer` … for custom ones.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// Agents must give it a value (to solve the ticket).
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub active: bool,
    /// False for most of Zendesk's own fields (not `tickettype` and `priority`).
    #[serde(default = "removable")]
    pub removable: bool,
}

fn removable() -> bool {
    true
}

/// The types of Zendesk's own ticket fields: the ticket carries them itself, not in `custom_fields`.
const SYSTEM_FIELD_TYPES: &[&str] =
    &["subject", "description", "status", "custom_status", "tickettype", "priority", "group", "assignee", "brand"];

impl TicketField {
    /// One of Zendesk's own fields (subject, status, assignee …), never a custom field.
    pub fn is_system(&self) -> bool {
        !self.removable || SYSTEM_FIELD_TYPES.contains(&self.kind.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: u64,
    pub user_id: u64,
}

/// What one `PUT /tickets/{id}` changes; unset fields are left alone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TicketUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<NewComment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_form_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomField>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewComment {
    pub body: String,
    pub public: bool,
}

/// What `PUT /users/{id}` changes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// One Zendesk instance.
#[derive(Clone)]
pub struct Zendesk {
    http: Http,
}

#[derive(Deserialize)]
struct Wrapped<T> {
    #[serde(alias = "ticket", alias = "identity", alias = "organization", alias = "organization_membership")]
    user: T,
}

impl Zendesk {
    /// `service` is `Zendesk` or `ZendeskUsGov`; `base` is `https://{subdomain}.zendesk.com`.
    pub fn new(service: Service, base: &str, agent_email: &str, token: Secret, settings: HttpSettings) -> Result<Zendesk> {
        let auth = Auth::Basic { user: format!("{agent_email}/token"), password: token };
        Ok(Zendesk { http: Http::new(service, base, auth, settings)? })
    }

    pub fn service(&self) -> Service {
        self.http.service()
    }

    /// The service's base URL.
    pub fn base_url(&self) -> &url::Url {
        self.http.base()
    }

    /// The agent's view of a ticket: `{base}/agent/tickets/{id}`.
    pub fn ticket_link(&self, id: u64) -> String {
        format!("{}agent/tickets/{id}", self.http.base())
    }

    async fn get_one<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        Ok(self.http.get::<Wrapped<T>>(path, &[]).await?.user)
    }

    async fn send_one<T: DeserializeOwned>(&self, method: Method, path: &str, body: &Value) -> Result<T> {
        Ok(self.http.send::<Wrapped<T>>(method, path, Some(body)).await?.user)
    }

    /// Every item of a cursor-paginated list under `key`.
    async fn all_cursor<T: DeserializeOwned>(&self, what: &str, path: &str, key: &str) -> Result<Vec<T>> {
        let url = self.http.url(path, &[("page[size]", self.http.page_size(100))])?;
        self.http.paginate(what, url, Paging::Cursor { items: key }, Take::All).await
    }

    /// The agent the token belongs to.
    pub async fn me(&self) -> Result<User> {
        self.get_one("api/v2/users/me").await
    }

    pub async fn ticket(&self, id: u64) -> Result<Ticket> {
        self.get_one(&format!("api/v2/tickets/{id}")).await
    }

    /// Every comment of a ticket, oldest first.
    pub async fn comments(&self, ticket_id: u64) -> Result<Vec<Comment>> {
        self.all_cursor(&format!("comments on ticket #{ticket_id}"), &format!("api/v2/tickets/{ticket_id}/comments"), "comments")
            .await
    }

    /// One update call. A closed ticket refuses any change: that answer is
    /// [`Error::TicketClosed`], never a generic refusal.
    pub async fn update_ticket(&self, id: u64, update: &TicketUpdate) -> Result<Ticket> {
        let url = self.http.url(&format!("api/v2/tickets/{id}"), &[])?;
        let reply = self.http.exchange(Method::PUT, url, Some(&json!({"ticket": update}))).await?;
        if reply.status.is_success() {
            return Ok(reply.json::<Wrapped<Ticket>>(self.service())?.user);
        }
        if reply.status == reqwest::StatusCode::UNPROCESSABLE_ENTITY && refuses_closed_ticket(&reply.body) {
            return Err(Error::TicketClosed(format!(
                "Ticket #{id} is closed, and Zendesk refuses any change to a closed ticket, so nothing was written. \
                 Post a follow-up ticket instead (in Zendesk: “Create a follow-up” on the closed ticket) and continue there."
            )));
        }
        Err(self.http.status_error(&Method::PUT, &reply))
    }

    /// The users who hold exactly this address (case-insensitively) as their primary email or
    /// a verified email identity. Zendesk's search matches words and `*` wildcards, not whole
    /// addresses, so the address is quoted and every result is compared: a lookalike such as
    /// `victim@example.com.attacker.io`, or what `victim*@example.com` would match, is dropped.
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        let email = email.trim();
        if email.contains('"') {
            return Err(Error::InvalidInput(format!(
                "“{email}” contains a double quote, which Zendesk search cannot take inside an address. Check the address."
            )));
        }
        let query = [("query", format!("email:\"{email}\"")), ("per_page", self.http.page_size(100))];
        let url = self.http.url("api/v2/users/search", &query)?;
        let found: Vec<User> =
            self.http.paginate(&format!("users matching “{email}”"), url, Paging::NextPage { items: "users" }, Take::All).await?;
        let mut exact = Vec::new();
        for user in found {
            let primary = user.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email));
            if primary
                || self
                    .identities(user.id)
                    .await?
                    .iter()
                    .any(|i| i.kind == "email" && i.is_verified() && i.value.eq_ignore_ascii_case(email))
            {
                exact.push(user);
            }
        }
        Ok(exact)
    }

    pub async fn user(&self, id: u64) -> Result<User> {
        self.get_one(&format!("api/v2/users/{id}")).await
    }

    pub async fn update_user(&self, id: u64, update: &UserUpdate) -> Result<User> {
        self.send_one(Method::PUT, &format!("api/v2/users/{id}"), &json!({"user": update})).await
    }

    pub async fn identities(&self, user_id: u64) -> Result<Vec<Identity>> {
        self.all_cursor(&format!("identities of user {user_id}"), &format!("api/v2/users/{user_id}/identities"), "identities")
            .await
    }

    /// Adds an email identity (never primary).
    pub async fn add_email_identity(&self, user_id: u64, email: &str, skip_verify_email: bool) -> Result<Identity> {
        let body = json!({"identity": {"type": "email", "value": email}, "skip_verify_email": skip_verify_email});
        self.send_one(Method::POST, &format!("api/v2/users/{user_id}/identities"), &body).await
    }

    /// Merges end user `source` into end user `target` (Zendesk's "Merge End Users",
    /// `PUT /api/v2/users/{source}/merge`): the source's email identities join the target as
    /// secondary ones, its tickets move to the target, and the source user is deleted. Returns
    /// the target.
    pub async fn merge_user(&self, source: u64, target: u64) -> Result<User> {
        self.send_one(Method::PUT, &format!("api/v2/users/{source}/merge"), &json!({"user": {"id": target}})).await
    }

    pub async fn make_identity_primary(&self, user_id: u64, identity_id: u64) -> Result<()> {
        self.http.send_empty(Method::PUT, &format!("api/v2/users/{user_id}/identities/{identity_id}/make_primary"), None).await
    }

    pub async fn verify_identity(&self, user_id: u64, identity_id: u64) -> Result<Identity> {
        self.send_one(Method::PUT, &format!("api/v2/users/{user_id}/identities/{identity_id}/verify"), &json!({})).await
    }

    pub async fn sessions(&self, user_id: u64) -> Result<Vec<Session>> {
        let v: Value = self.http.get(&format!("api/v2/users/{user_id}/sessions"), &[]).await?;
        serde_json::from_value(v.get("sessions").cloned().unwrap_or(Value::Array(vec![]))).map_err(|e| {
            Error::InvalidResponse(format!("{} sent sessions Casekit could not read ({e}).", self.service().label()))
        })
    }

    /// Signs the user out everywhere.
    pub async fn delete_sessions(&self, user_id: u64) -> Result<()> {
        self.http.send_empty(Method::DELETE, &format!("api/v2/users/{user_id}/sessions"), None).await
    }

    pub async fn organization(&self, id: u64) -> Result<Organization> {
        self.get_one(&format!("api/v2/organizations/{id}")).await
    }

    pub async fn organization_memberships(&self, organization_id: u64) -> Result<Vec<OrganizationMembership>> {
        let path = format!("api/v2/organizations/{organization_id}/organization_memberships");
        self.all_cursor(&format!("members of organization {organization_id}"), &path, "organization_memberships").await
    }

    /// Associates a user with an organization (422 if already a member).
    pub async fn add_organization_membership(&self, user_id: u64, organization_id: u64) -> Result<OrganizationMembership> {
        let body = json!({"organization_membership": {"user_id": user_id, "organization_id": organization_id}});
        self.send_one(Method::POST, "api/v2/organization_memberships", &body).await
    }

    pub async fn remove_organization_membership(&self, user_id: u64, organization_id: u64) -> Result<()> {
        self.http.send_empty(Method::DELETE, &format!("api/v2/users/{user_id}/organizations/{organization_id}"), None).await
    }

    pub async fn ticket_forms(&self) -> Result<Vec<TicketForm>> {
        self.all_cursor("ticket forms", "api/v2/ticket_forms", "ticket_forms").await
    }

    /// Every ticket field's definition, system fields included.
    pub async fn ticket_fields(&self) -> Result<Vec<TicketField>> {
        self.all_cursor("ticket fields", "api/v2/ticket_fields", "ticket_fields").await
    }
}

/// Whether a 422's body is Zendesk's refusal to change a closed ticket: `RecordInvalid` with
/// “Status: closed prevents ticket update” among the `details` (under `status`, or `base` in
/// some records; with or without the colon, see `tests/contract/zendesk/SOURCES.md`).
fn refuses_closed_ticket(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return false };
    v["error"] == "RecordInvalid"
        && v["details"].as_object().is_some_and(|details| {
            details
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|i| i["description"].as_str())
                .any(|d| d.to_lowercase().contains("closed prevents ticket update"))
        })
}
