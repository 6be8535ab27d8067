//! GitLab REST API v4 (`{base}/api/v4`, `PRIVATE-TOKEN`): the user administration calls the
//! account playbooks make.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::http::{Auth, Http, HttpSettings, Paging, Take};
use super::Service;
use crate::secrets::Secret;
use crate::{Error, Result};

/// Search hits read one by one for an exact address match; more is an error, not a cut.
const MAX_CANDIDATES: usize = 20;

/// Whether two addresses are the same GitLab address. GitLab stores emails lower-cased (Devise's
/// `case_insensitive_keys`) and lower-cases the search term, so no two accounts can hold
/// addresses that differ only in case: the whole address is compared without case, and
/// nothing else is loosened (no `+tag`, dot or lookalike folding).
pub fn same_address(a: &str, b: &str) -> bool {
    match (a.trim().rsplit_once('@'), b.trim().rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => !la.is_empty() && la.eq_ignore_ascii_case(lb) && da.eq_ignore_ascii_case(db),
        _ => false,
    }
}

/// The token itself: whose it is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: u64,
    pub name: String,
    pub revoked: bool,
    pub active: bool,
    pub scopes: Vec<String>,
    pub user_id: u64,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// A user; the admin-only fields are `None` for a non-admin token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub state: String,
    #[serde(default)]
    pub locked: bool,
    pub web_url: String,
    pub created_at: Option<String>,
    pub email: Option<String>,
    pub confirmed_at: Option<String>,
    pub last_sign_in_at: Option<String>,
    pub current_sign_in_at: Option<String>,
    pub last_activity_on: Option<String>,
    pub sign_in_count: Option<u64>,
    pub note: Option<String>,
    pub two_factor_enabled: Option<bool>,
    pub external: Option<bool>,
    pub is_admin: Option<bool>,
    /// Set after an email change that waits for confirmation.
    pub unconfirmed_email: Option<String>,
}

/// `GET /users/:id/associations_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociationsCount {
    pub groups_count: u64,
    pub projects_count: u64,
    pub issues_count: u64,
    pub merge_requests_count: u64,
}

/// A direct membership (`GET /users/:id/memberships`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub source_id: u64,
    pub source_name: String,
    /// `Namespace` or `Project`.
    pub source_type: String,
    pub access_level: u32,
}

/// A contribution event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    pub action_name: String,
    pub target_type: Option<String>,
    pub target_title: Option<String>,
    pub project_id: Option<u64>,
    pub created_at: String,
}

/// Filters for `GET /users/:id/events`.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub action: Option<String>,
    pub target_type: Option<String>,
    /// Events after this day (`YYYY-MM-DD`).
    pub after: Option<String>,
    /// Events before this day (`YYYY-MM-DD`).
    pub before: Option<String>,
    /// 1..=100 items per page.
    pub per_page: u32,
}

/// A secondary email (the primary is not listed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub id: u64,
    pub email: String,
    pub confirmed_at: Option<String>,
}

/// A membership including inherited access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: u64,
    pub username: String,
    pub access_level: u32,
}

/// A group, project or namespace as the membership checks need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub id: u64,
    pub name: String,
    /// A group's or namespace's `full_path`, a project's `path_with_namespace`.
    pub full_path: String,
    pub web_url: String,
    /// A namespace's plan (`free`, `premium`, `ultimate`), for admins.
    pub plan: Option<String>,
}

// The wire shapes. GitLab sends `path` (the last segment) beside `full_path` or
// `path_with_namespace`: each type reads the one field that names the whole path
// (tests/contract/gitlab/ pins the real shapes).

#[derive(Deserialize)]
struct GroupWire {
    id: u64,
    name: String,
    full_path: String,
    web_url: String,
}

#[derive(Deserialize)]
struct ProjectWire {
    id: u64,
    name: String,
    path_with_namespace: String,
    web_url: String,
}

#[derive(Deserialize)]
struct NamespaceWire {
    id: u64,
    name: String,
    full_path: String,
    web_url: String,
    #[serde(default)]
    plan: Option<String>,
}

/// An SSH key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub id: u64,
    pub title: String,
    pub key: String,
    pub created_at: Option<String>,
}

/// A Support PIN the user generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportPin {
    pub pin: String,
    pub expires_at: String,
}

/// The changes `PUT /users/:id` makes; unset fields are left alone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserEdit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reconfirmation: Option<bool>,
    /// The whole admin note (append = read, add a line, write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Access level names as GitLab documents them.
pub fn access_level_name(level: u32) -> &'static str {
    match level {
        0 => "No access",
        5 => "Minimal access",
        10 => "Guest",
        15 => "Planner",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        60 => "Admin",
        _ => "Custom",
    }
}

/// A GitLab instance.
#[derive(Clone)]
pub struct GitLab {
    http: Http,
}

impl GitLab {
    /// `base` is the instance URL without `/api/v4`.
    pub fn new(base: &str, token: Secret, settings: HttpSettings) -> Result<GitLab> {
        Ok(GitLab { http: Http::new(Service::Gitlab, base, Auth::PrivateToken(token), settings)? })
    }

    pub fn base_url(&self) -> &url::Url {
        self.http.base()
    }

    /// Every item of a list, page by page.
    async fn all<T: DeserializeOwned>(&self, what: &str, path: &str, mut query: Vec<(&str, String)>) -> Result<Vec<T>> {
        query.push(("per_page", self.http.page_size(100)));
        self.http.paginate(what, self.http.url(path, &query)?, Paging::LinkHeader, Take::All).await
    }

    pub async fn token_self(&self) -> Result<TokenInfo> {
        self.http.get("api/v4/personal_access_tokens/self", &[]).await
    }

    pub async fn current_user(&self) -> Result<User> {
        self.http.get("api/v4/user", &[]).await
    }

    /// The user with this username (case-insensitive), if any.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let users: Vec<User> = self.http.get("api/v4/users", &[("username", username.to_owned())]).await?;
        Ok(users.into_iter().next())
    }

    /// Users matching a search term; for an email, admins get an exact match on any of the
    /// user's emails.
    pub async fn search_users(&self, term: &str) -> Result<Vec<User>> {
        self.all(&format!("users matching “{term}”"), "api/v4/users", vec![("search", term.to_owned())]).await
    }

    pub async fn user(&self, id: u64) -> Result<User> {
        self.http.get(&format!("api/v4/users/{id}"), &[]).await
    }

    pub async fn associations_count(&self, id: u64) -> Result<AssociationsCount> {
        self.http.get(&format!("api/v4/users/{id}/associations_count"), &[]).await
    }

    /// Direct memberships in groups and projects (admin).
    pub async fn memberships(&self, id: u64) -> Result<Vec<Membership>> {
        self.all(&format!("memberships of user {id}"), &format!("api/v4/users/{id}/memberships"), vec![]).await
    }

    /// The newest `q.per_page` contribution events (one request): the caller shows that there
    /// may be more.
    pub async fn events(&self, id: u64, q: &EventQuery) -> Result<Vec<Event>> {
        let url = self.http.url(&format!("api/v4/users/{id}/events"), &event_params(q))?;
        let newest = Take::First(q.per_page.clamp(1, 100) as usize);
        self.http.paginate(&format!("contribution events of user {id}"), url, Paging::LinkHeader, newest).await
    }

    /// Every contribution event matching the filters.
    pub async fn all_events(&self, id: u64, q: &EventQuery) -> Result<Vec<Event>> {
        let mut params = event_params(q);
        params.retain(|(k, _)| *k != "per_page");
        self.all(&format!("contribution events of user {id}"), &format!("api/v4/users/{id}/events"), params).await
    }

    /// The user's emails as GitLab lists them (admin): up to GitLab 17.x the primary is left
    /// out, later versions list it too (GitLab issue 25077). Code that means "secondary" uses
    /// [`GitLab::secondary_emails`].
    pub async fn emails(&self, id: u64) -> Result<Vec<Email>> {
        self.all(&format!("emails of user {id}"), &format!("api/v4/users/{id}/emails"), vec![]).await
    }

    /// The secondary emails only, whichever GitLab version answers.
    pub async fn secondary_emails(&self, user: &User) -> Result<Vec<Email>> {
        let primary = user.email.as_deref().unwrap_or_default();
        Ok(self.emails(user.id).await?.into_iter().filter(|e| !same_address(&e.email, primary)).collect())
    }

    /// The accounts whose primary or a verified secondary email is exactly `email`. GitLab's
    /// admin `search=` also matches names, usernames and other addresses, so each candidate is
    /// read and compared; a lookalike never passes for the address. More hits than Casekit reads
    /// one by one is an error: the holder could be among those not read.
    pub async fn users_with_email(&self, email: &str) -> Result<Vec<User>> {
        let candidates = self.search_users(email).await?;
        if candidates.len() > MAX_CANDIDATES {
            return Err(Error::InvalidResponse(format!(
                "GitLab's search for {email} matched {} accounts; Casekit reads at most {MAX_CANDIDATES} one by one to find the \
                 one holding the address, and stops rather than miss it. Look the address up in GitLab's Admin area → Users.",
                candidates.len()
            )));
        }
        let mut out = Vec::new();
        for candidate in candidates {
            let user = if candidate.email.is_some() { candidate } else { self.user(candidate.id).await? };
            let primary = user.email.as_deref().is_some_and(|p| same_address(p, email));
            if primary || self.emails(user.id).await?.iter().any(|e| e.confirmed_at.is_some() && same_address(&e.email, email)) {
                out.push(user);
            }
        }
        Ok(out)
    }

    pub async fn add_email(&self, id: u64, email: &str, skip_confirmation: bool) -> Result<Email> {
        let body = json!({"email": email, "skip_confirmation": skip_confirmation});
        self.http.send(Method::POST, &format!("api/v4/users/{id}/emails"), Some(&body)).await
    }

    pub async fn delete_email(&self, id: u64, email_id: u64) -> Result<()> {
        self.http.send_empty(Method::DELETE, &format!("api/v4/users/{id}/emails/{email_id}"), None).await
    }

    pub async fn edit_user(&self, id: u64, edit: &UserEdit) -> Result<User> {
        let body = serde_json::to_value(edit).map_err(|e| Error::Internal(e.to_string()))?;
        self.http.send(Method::PUT, &format!("api/v4/users/{id}"), Some(&body)).await
    }

    /// The user's access to a group, inherited included; `None` when not a member.
    pub async fn group_member(&self, group_id: u64, user_id: u64) -> Result<Option<Member>> {
        self.http.get_optional(&format!("api/v4/groups/{group_id}/members/all/{user_id}"), &[]).await
    }

    /// The user's access to a project, inherited included; `None` when not a member.
    pub async fn project_member(&self, project_id: u64, user_id: u64) -> Result<Option<Member>> {
        self.http.get_optional(&format!("api/v4/projects/{project_id}/members/all/{user_id}"), &[]).await
    }

    /// A group by id or full path.
    pub async fn group(&self, id_or_path: &str) -> Result<Source> {
        let g: GroupWire = self.http.get(&format!("api/v4/groups/{}", encode(id_or_path)), &[]).await?;
        Ok(Source { id: g.id, name: g.name, full_path: g.full_path, web_url: g.web_url, plan: None })
    }

    /// A project by id or `namespace/path`.
    pub async fn project(&self, id_or_path: &str) -> Result<Source> {
        let p: ProjectWire = self.http.get(&format!("api/v4/projects/{}", encode(id_or_path)), &[]).await?;
        Ok(Source { id: p.id, name: p.name, full_path: p.path_with_namespace, web_url: p.web_url, plan: None })
    }

    /// A namespace with its plan (admin).
    pub async fn namespace(&self, id: u64) -> Result<Source> {
        let n: NamespaceWire = self.http.get(&format!("api/v4/namespaces/{id}"), &[]).await?;
        Ok(Source { id: n.id, name: n.name, full_path: n.full_path, web_url: n.web_url, plan: n.plan })
    }

    pub async fn keys(&self, id: u64) -> Result<Vec<Key>> {
        self.http.get(&format!("api/v4/users/{id}/keys"), &[]).await
    }

    pub async fn gpg_keys(&self, id: u64) -> Result<Vec<serde_json::Value>> {
        self.http.get(&format!("api/v4/users/{id}/gpg_keys"), &[]).await
    }

    pub async fn disable_two_factor(&self, id: u64) -> Result<()> {
        self.http.send_empty(Method::PATCH, &format!("api/v4/users/{id}/disable_two_factor"), None).await
    }

    /// The user's current Support PIN; `None` when there is none or it expired.
    pub async fn support_pin(&self, id: u64) -> Result<Option<SupportPin>> {
        self.http.get_optional(&format!("api/v4/users/{id}/support_pin"), &[]).await
    }
}

fn event_params(q: &EventQuery) -> Vec<(&'static str, String)> {
    let mut p = vec![("per_page", q.per_page.clamp(1, 100).to_string())];
    let opt = [("action", &q.action), ("target_type", &q.target_type), ("after", &q.after), ("before", &q.before)];
    p.extend(opt.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))));
    p
}

/// One path segment, with `/` encoded as GitLab expects for `namespace/project` ids.
fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}
