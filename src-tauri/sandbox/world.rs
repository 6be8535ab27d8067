//! The sandbox's data: the fixture file's shape and the live state the servers change.
//!
//! Field names follow the services' JSON so that a record serializes as the API returns it.

use serde::{Deserialize, Serialize};

use super::faults::FaultRule;

/// Everything a sandbox starts from (`fixtures.json` in the repo, or `--fixtures FILE`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Who each persona is for; not served, read by people.
    #[serde(default)]
    pub personas: Vec<Persona>,
    pub gitlab: GitLabData,
    pub zendesk: ZendeskData,
    pub zendesk_us_gov: ZendeskData,
    pub mailgun: MailgunData,
    pub customersdot: CustomersDotData,
    /// Faults armed when the sandbox starts.
    #[serde(default)]
    pub faults: Vec<FaultRule>,
}

/// A named persona: which records make it up and which playbook branch it drives.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Persona {
    pub name: String,
    pub drives: String,
    #[serde(default)]
    pub records: Vec<String>,
}

impl Fixture {
    /// The fixture shipped with Casekit.
    pub fn builtin() -> Fixture {
        serde_json::from_str(include_str!("fixtures.json")).expect("the built-in sandbox fixture is valid")
    }

    /// Reads a fixture file, saying what is wrong with it.
    pub fn from_file(path: &std::path::Path) -> crate::Result<Fixture> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::Error::io(format!("Could not read the fixture file {}", path.display()), e))?;
        serde_json::from_str(&text).map_err(|e| {
            crate::Error::InvalidInput(format!(
                "The fixture file {} is not a valid sandbox fixture: {e}. Start from src-tauri/sandbox/fixtures.json.",
                path.display()
            ))
        })
    }
}

// ---------------------------------------------------------------- GitLab

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GitLabData {
    /// The user id the admin token belongs to.
    pub admin_user_id: u64,
    /// The user id the ordinary (non-admin) token belongs to.
    pub regular_user_id: u64,
    pub users: Vec<GlUser>,
    #[serde(default)]
    pub groups: Vec<GlGroup>,
    #[serde(default)]
    pub projects: Vec<GlProject>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlUser {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub email: String,
    #[serde(default = "active")]
    pub state: String,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub confirmed_at: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub last_sign_in_at: Option<String>,
    #[serde(default)]
    pub current_sign_in_at: Option<String>,
    #[serde(default)]
    pub last_activity_on: Option<String>,
    #[serde(default)]
    pub sign_in_count: u32,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub two_factor_enabled: bool,
    #[serde(default)]
    pub external: bool,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub identities: Vec<serde_json::Value>,
    /// Secondary emails (the primary is not in this list, as in the API).
    #[serde(default)]
    pub emails: Vec<GlEmail>,
    #[serde(default)]
    pub issues_count: u32,
    #[serde(default)]
    pub merge_requests_count: u32,
    /// Contribution events, any order (served newest first).
    #[serde(default)]
    pub events: Vec<GlEvent>,
    #[serde(default)]
    pub keys: Vec<GlKey>,
    #[serde(default)]
    pub gpg_keys: Vec<serde_json::Value>,
    #[serde(default)]
    pub support_pin: Option<SupportPin>,
    /// Generate this many extra `pushed to` events (a busy account; pagination).
    #[serde(default, skip_serializing)]
    pub generated_events: u32,
}

fn active() -> String {
    "active".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlEmail {
    pub id: u64,
    pub email: String,
    pub confirmed_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlEvent {
    pub id: u64,
    pub action_name: String,
    #[serde(default)]
    pub target_type: Option<String>,
    #[serde(default)]
    pub target_title: Option<String>,
    #[serde(default)]
    pub project_id: Option<u64>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlKey {
    pub id: u64,
    pub title: String,
    pub key: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SupportPin {
    pub pin: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlGroup {
    pub id: u64,
    pub name: String,
    pub full_path: String,
    #[serde(default)]
    pub parent_id: Option<u64>,
    /// `free`, `premium` or `ultimate`.
    #[serde(default = "free")]
    pub plan: String,
    #[serde(default)]
    pub members: Vec<GlMember>,
}

fn free() -> String {
    "free".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlProject {
    pub id: u64,
    pub name: String,
    pub path_with_namespace: String,
    pub namespace_id: u64,
    #[serde(default)]
    pub members: Vec<GlMember>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlMember {
    pub user_id: u64,
    pub access_level: u32,
}

// ---------------------------------------------------------------- Zendesk

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskData {
    pub subdomain: String,
    /// The agent the API token belongs to (also listed in `users`).
    pub agent_id: u64,
    pub users: Vec<ZdUser>,
    #[serde(default)]
    pub organizations: Vec<ZdOrganization>,
    #[serde(default)]
    pub organization_memberships: Vec<ZdOrgMembership>,
    #[serde(default)]
    pub tickets: Vec<ZdTicket>,
    #[serde(default)]
    pub ticket_forms: Vec<ZdTicketForm>,
    #[serde(default)]
    pub ticket_fields: Vec<ZdTicketField>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdUser {
    pub id: u64,
    pub name: String,
    pub email: String,
    /// `end-user`, `agent` or `admin`.
    pub role: String,
    #[serde(default)]
    pub suspended: bool,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub organization_id: Option<u64>,
    pub created_at: String,
    /// Further identities; the primary email identity is derived from `email`.
    #[serde(default)]
    pub identities: Vec<ZdIdentity>,
    /// Active sessions (deleted by `DELETE /users/{id}/sessions`).
    #[serde(default)]
    pub sessions: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdIdentity {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[serde(default)]
    pub verified: bool,
    #[serde(default)]
    pub primary: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdOrganization {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub notes: String,
    /// Organization fields, e.g. the account manager's email.
    #[serde(default)]
    pub organization_fields: serde_json::Map<String, serde_json::Value>,
    /// Generate this many extra end-user members (e.g. to reach the contact limit).
    #[serde(default, skip_serializing)]
    pub generated_contacts: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdOrgMembership {
    pub id: u64,
    pub user_id: u64,
    pub organization_id: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdTicket {
    pub id: u64,
    pub subject: String,
    pub description: String,
    /// new, open, pending, hold, solved, closed
    pub status: String,
    pub requester_id: u64,
    #[serde(default)]
    pub organization_id: Option<u64>,
    #[serde(default)]
    pub ticket_form_id: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub custom_fields: Vec<ZdCustomField>,
    #[serde(default)]
    pub collaborator_ids: Vec<u64>,
    pub created_at: String,
    #[serde(default)]
    pub comments: Vec<ZdComment>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdCustomField {
    pub id: u64,
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdComment {
    pub id: u64,
    pub author_id: u64,
    pub body: String,
    pub public: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdTicketForm {
    pub id: u64,
    pub name: String,
    /// Every field the form shows, system fields (subject, status …) included, as Zendesk lists them.
    #[serde(default)]
    pub ticket_field_ids: Vec<u64>,
    #[serde(default = "yes")]
    pub active: bool,
    /// Conditional fields in the agent workspace: a child shows only while its parent has the value.
    #[serde(default)]
    pub agent_conditions: Vec<ZdCondition>,
}

/// One condition of a form: when `parent_field_id` has `value`, these children show.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdCondition {
    pub parent_field_id: u64,
    pub value: serde_json::Value,
    pub child_fields: Vec<ZdChildField>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdChildField {
    pub id: u64,
    pub is_required: bool,
    /// `{"type": "ALL_STATUSES" | "SOME_STATUSES" | "NO_STATUSES", "statuses": [...]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_on_statuses: Option<serde_json::Value>,
}

/// A ticket field: Zendesk's own (system) fields and custom ones.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdTicketField {
    pub id: u64,
    /// `subject`, `description`, `status`, `tickettype`, `priority`, `group`, `assignee` (system);
    /// `text`, `textarea`, `checkbox`, `tagger`, `integer`, `date` … (custom).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// Agents must fill it in to solve the ticket.
    #[serde(default)]
    pub required: bool,
    #[serde(default = "yes")]
    pub active: bool,
    /// False for most system fields (Zendesk lists `tickettype` and `priority` as removable).
    #[serde(default = "yes")]
    pub removable: bool,
    #[serde(default)]
    pub custom_field_options: Vec<ZdFieldOption>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZdFieldOption {
    pub id: u64,
    pub name: String,
    pub value: String,
}

fn yes() -> bool {
    true
}

// ---------------------------------------------------------------- Mailgun

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailgunData {
    pub domain: String,
    /// Event items as the events API returns them (`timestamp` in epoch seconds).
    pub events: Vec<serde_json::Value>,
    #[serde(default)]
    pub bounces: Vec<MgBounce>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MgBounce {
    pub address: String,
    pub code: String,
    pub error: String,
    pub created_at: String,
}

// ---------------------------------------------------------------- CustomersDot

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomersDotData {
    pub admin_email: String,
    pub customers: Vec<CdCustomer>,
    #[serde(default)]
    pub billing_accounts: Vec<CdBillingAccount>,
    #[serde(default)]
    pub billing_account_memberships: Vec<CdMembership>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CdCustomer {
    pub id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub confirmed_at: Option<String>,
    #[serde(default)]
    pub login_activated: bool,
    /// The linked GitLab.com user id.
    #[serde(default)]
    pub uid: Option<u64>,
    /// `self_signup`, `legacy` or `sales` (created by Sales via the Zuora callout).
    pub created_via: String,
    pub created_at: String,
    #[serde(default)]
    pub confirmation_sent_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CdBillingAccount {
    pub id: u64,
    pub name: String,
    pub zuora_account_id: String,
    pub sold_to: CdContact,
    pub bill_to: CdContact,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CdContact {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CdMembership {
    pub id: u64,
    pub customer_id: u64,
    pub billing_account_id: u64,
    pub created_at: String,
}

/// A mail the customers portal sent (the sandbox's view of the customer's mailbox).
#[derive(Debug, Clone, Serialize)]
pub struct PortalMail {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub sent_at: String,
    /// The one-time sign-in link in the body, with its customer, expiry and whether it was used.
    #[serde(skip)]
    pub link: Option<SignInLinkRecord>,
}

#[derive(Debug, Clone)]
pub struct SignInLinkRecord {
    pub customer_id: u64,
    pub url: String,
    pub expires_at: String,
    pub used: bool,
}

/// What the CustomersDot admin screens log under "Support Audit Events".
#[derive(Debug, Clone, Serialize)]
pub struct CdAuditEvent {
    pub id: u64,
    pub customer_id: u64,
    pub action: String,
    pub ticket_url: Option<String>,
    pub details: serde_json::Value,
    pub created_at: String,
}
