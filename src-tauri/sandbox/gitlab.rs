//! Simulated GitLab REST API v4: the user-administration endpoints the playbooks use, with
//! offset pagination (`x-*` headers and `Link` on the base URL the request came to) and
//! `RateLimit-*` headers on every answer.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::shapes::{self, Shape};
use super::world::{GitLabData, GlEmail, GlUser};
use super::{base_url, bearer, ok, Ctx, Query, Reply, World};
use crate::clock;

/// Every route but a user's public keys needs a token ([`authenticate`]).
pub(super) fn router(ctx: &Ctx) -> Router<Ctx> {
    Router::new()
        .route("/api/v4/personal_access_tokens/self", get(token_self))
        .route("/api/v4/user", get(current_user))
        .route("/api/v4/users", get(list_users))
        .route("/api/v4/users/{id}", get(show_user).put(edit_user))
        .route("/api/v4/users/{id}/associations_count", get(associations_count))
        .route("/api/v4/users/{id}/memberships", get(memberships))
        .route("/api/v4/users/{id}/events", get(events))
        .route("/api/v4/users/{id}/emails", get(list_emails).post(add_email))
        .route("/api/v4/users/{id}/emails/{email_id}", delete(delete_email))
        .route("/api/v4/users/{id}/disable_two_factor", patch(disable_two_factor))
        .route("/api/v4/users/{id}/support_pin", get(support_pin))
        .route("/api/v4/groups/{id}", get(show_group))
        .route("/api/v4/projects/{id}", get(show_project))
        .route("/api/v4/namespaces/{id}", get(show_namespace))
        .route("/api/v4/groups/{id}/members/all/{user_id}", get(group_member))
        .route("/api/v4/projects/{id}/members/all/{user_id}", get(project_member))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), authenticate))
        .route("/api/v4/users/{id}/keys", get(keys))
        .route("/api/v4/users/{id}/gpg_keys", get(gpg_keys))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "404 Not Found") })
}

/// GitLab's error body: `{"message": …}`.
pub(super) fn error(status: StatusCode, message: impl Into<Value>) -> Reply {
    (status, Json(json!({ "message": message.into() }))).into_response()
}

const RATE_LIMIT: u64 = 2000;
static OBSERVED: AtomicU64 = AtomicU64::new(0);

/// The `RateLimit-*` headers GitLab sends on its API answers; a 429 is over the limit until its
/// `Retry-After`.
pub(super) fn rate_limit_headers(resp: &mut Reply) {
    let limited = resp.status() == StatusCode::TOO_MANY_REQUESTS;
    let retry_after =
        resp.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    let headers = resp.headers_mut();
    let observed = if limited { RATE_LIMIT + 1 } else { OBSERVED.fetch_add(1, Ordering::Relaxed) % RATE_LIMIT + 1 };
    let now = clock::epoch_seconds(std::time::SystemTime::now());
    let reset = now + retry_after.max(60 - now % 60);
    let pairs = [
        ("ratelimit-name", "throttle_authenticated_api".to_owned()),
        ("ratelimit-limit", RATE_LIMIT.to_string()),
        ("ratelimit-observed", observed.to_string()),
        ("ratelimit-remaining", RATE_LIMIT.saturating_sub(observed).to_string()),
        ("ratelimit-reset", reset.to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if limited {
        if let Ok(v) =
            HeaderValue::from_str(&httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(reset)))
        {
            headers.insert("ratelimit-resettime", v);
        }
    }
}

/// Expands each user's `generated_events` into push events, one a day going back.
pub(super) fn generate_events(data: &mut GitLabData, next_id: &mut u64) {
    let now = std::time::SystemTime::now();
    for u in &mut data.users {
        for k in 0..u.generated_events {
            *next_id += 1;
            let at = now - std::time::Duration::from_secs(86_400 * u64::from(k + 1));
            u.events.push(super::world::GlEvent {
                id: *next_id,
                action_name: "pushed to".into(),
                target_type: None,
                target_title: None,
                project_id: Some(11),
                created_at: clock::rfc3339(at),
            });
        }
    }
}

// ---------------------------------------------------------------- auth

#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    Admin(u64),
    User(u64),
}

impl Caller {
    fn user_id(self) -> u64 {
        match self {
            Caller::Admin(id) | Caller::User(id) => id,
        }
    }
}

/// Finds the caller by token (`PRIVATE-TOKEN` or `Authorization: Bearer`) before the handler
/// runs, which reads it as an `Extension<Caller>`.
async fn authenticate(State(ctx): State<Ctx>, mut req: Request, next: Next) -> Reply {
    match caller(&ctx, req.headers()) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(denied) => denied,
    }
}

fn caller(ctx: &Ctx, headers: &HeaderMap) -> Result<Caller, Reply> {
    let token = headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| bearer(headers))
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "401 Unauthorized"))?;
    let t = &ctx.shared.tokens;
    let w = ctx.world();
    if token == t.gitlab_admin {
        Ok(Caller::Admin(w.gitlab.admin_user_id))
    } else if token == t.gitlab_user {
        Ok(Caller::User(w.gitlab.regular_user_id))
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "401 Unauthorized"))
    }
}

/// A handler for admins only: any other caller gets GitLab's 403 before it runs.
struct Admin;

impl FromRequestParts<Ctx> for Admin {
    type Rejection = Reply;

    async fn from_request_parts(parts: &mut Parts, _: &Ctx) -> Result<Self, Reply> {
        match parts.extensions.get::<Caller>() {
            Some(Caller::Admin(_)) => Ok(Admin),
            _ => Err(error(StatusCode::FORBIDDEN, "403 Forbidden")),
        }
    }
}

/// Finds the user by id or username and runs `f` on the world and its index.
fn on_user(ctx: &Ctx, id: &str, f: impl FnOnce(&mut World, usize) -> Reply) -> Reply {
    let mut w = ctx.world();
    match user_index(&w.gitlab, id) {
        Ok(i) => f(&mut w, i),
        Err(r) => r,
    }
}

fn user_index(data: &GitLabData, id: &str) -> Result<usize, Reply> {
    let found = match id.parse::<u64>() {
        Ok(n) => data.users.iter().position(|u| u.id == n),
        Err(_) => data.users.iter().position(|u| u.username.eq_ignore_ascii_case(id)),
    };
    found.ok_or_else(|| error(StatusCode::NOT_FOUND, "404 User Not Found"))
}

// ---------------------------------------------------------------- representations

/// A user in the shape the endpoint sends: `shape` is one of the user templates (a list
/// template's first item is used). Non-admin shapes carry only the public fields.
fn user_json(u: &GlUser, base: &str, shape: Shape) -> Value {
    let template = match shapes::template(shape) {
        Value::Array(items) => &items[0],
        one => one,
    };
    let all = json!({
        "id": u.id, "username": u.username, "name": u.name, "state": u.state, "locked": u.locked,
        "avatar_url": null, "web_url": format!("{base}/{}", u.username), "created_at": u.created_at,
        "email": u.email, "commit_email": u.email, "public_email": null, "confirmed_at": u.confirmed_at,
        "last_sign_in_at": u.last_sign_in_at, "current_sign_in_at": u.current_sign_in_at,
        "last_activity_on": u.last_activity_on, "sign_in_count": u.sign_in_count, "note": u.note,
        "identities": u.identities, "two_factor_enabled": u.two_factor_enabled, "external": u.external,
        "is_admin": u.is_admin, "created_by": null, "namespace_id": u.id + 1000, "bio": "", "location": "",
        "organization": "", "job_title": "", "website_url": "", "private_profile": false,
        "current_sign_in_ip": null, "last_sign_in_ip": null, "email_reset_offered_at": null, "plan": "free", "trial": false,
    });
    // Only the fields this endpoint's real shape has: an admin field never leaks into a
    // non-admin answer, and nothing is invented.
    shapes::dress_known(template, all)
}

/// The user template for a caller: admins see the admin fields.
fn user_shape(admin: Shape, public: Shape, as_admin: bool) -> Shape {
    if as_admin {
        admin
    } else {
        public
    }
}

/// Offset pagination as GitLab does it: `page`/`per_page` (max 100), `x-*` headers and a
/// `Link` header built on the base URL the request arrived on.
fn paginate(headers: &HeaderMap, path: &str, query: &HashMap<String, String>, items: Vec<Value>) -> Reply {
    let per_page = query.get("per_page").and_then(|p| p.parse::<usize>().ok()).filter(|&p| p > 0).unwrap_or(20).min(100);
    let page = query.get("page").and_then(|p| p.parse::<usize>().ok()).filter(|&p| p > 0).unwrap_or(1);
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let mut resp = ok(StatusCode::OK, Value::Array(slice));
    let base = base_url(headers);
    let link = |p: usize| {
        let mut q: BTreeMap<&str, String> = query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        q.insert("page", p.to_string());
        q.insert("per_page", per_page.to_string());
        let qs = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(q).finish();
        format!("<{base}{path}?{qs}>")
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link(page - 1)));
    }
    if page < total_pages {
        links.push(format!("{}; rel=\"next\"", link(page + 1)));
    }
    links.push(format!("{}; rel=\"first\"", link(1)));
    links.push(format!("{}; rel=\"last\"", link(total_pages)));
    let h = resp.headers_mut();
    let next = if page < total_pages { (page + 1).to_string() } else { String::new() };
    let prev = if page > 1 { (page - 1).to_string() } else { String::new() };
    for (name, value) in [
        ("x-page", page.to_string()),
        ("x-per-page", per_page.to_string()),
        ("x-next-page", next),
        ("x-prev-page", prev),
        ("x-total", total.to_string()),
        ("x-total-pages", total_pages.to_string()),
        ("link", links.join(", ")),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    resp
}

/// A request body as GitLab takes it, JSON or a form; anything else is GitLab's 400.
struct Params(Map<String, Value>);

impl FromRequest<Ctx> for Params {
    type Rejection = Reply;

    async fn from_request(req: Request, ctx: &Ctx) -> Result<Self, Reply> {
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let body = Bytes::from_request(req, ctx).await.map_err(IntoResponse::into_response)?;
        if body.is_empty() {
            return Ok(Params(Map::new()));
        }
        if form {
            return Ok(Params(
                url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect(),
            ));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(m)) => Ok(Params(m)),
            _ => Err(error(StatusCode::BAD_REQUEST, "400 Bad request - the body is not a JSON object")),
        }
    }
}

fn flag(p: &Map<String, Value>, key: &str) -> bool {
    match p.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        _ => false,
    }
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
}

// ---------------------------------------------------------------- handlers

async fn token_self(Extension(caller): Extension<Caller>) -> Reply {
    let (id, name, scopes) = match caller {
        Caller::Admin(_) => (7001, "casekit-sandbox-admin", json!(["api", "admin_mode"])),
        Caller::User(_) => (7002, "casekit-sandbox-user", json!(["read_user"])),
    };
    ok(
        StatusCode::OK,
        shapes::shaped(
            Shape::GitlabTokenSelf,
            json!({"id": id, "name": name, "revoked": false, "created_at": "2026-01-05T09:00:00.000Z", "description": "",
                   "scopes": scopes, "user_id": caller.user_id(), "last_used_at": clock::now(),
                   "active": true, "expires_at": "2027-01-05"}),
        ),
    )
}

async fn current_user(State(ctx): State<Ctx>, Extension(caller): Extension<Caller>, headers: HeaderMap) -> Reply {
    let w = ctx.world();
    match w.gitlab.users.iter().find(|u| u.id == caller.user_id()) {
        Some(u) => ok(StatusCode::OK, user_json(u, &base_url(&headers), Shape::GitlabCurrentUser)),
        None => error(StatusCode::NOT_FOUND, "404 User Not Found"),
    }
}

async fn list_users(State(ctx): State<Ctx>, Extension(caller): Extension<Caller>, headers: HeaderMap, query: Query) -> Reply {
    let as_admin = matches!(caller, Caller::Admin(_));
    let base = base_url(&headers);
    let w = ctx.world();
    // As GitLab's `User.search` (app/models/user.rb): the term, lower-cased, matches an admin's
    // view of the primary or a confirmed secondary email exactly, OR any name or username that
    // contains it; exact username, then exact name, rank first, then by name and id. So a
    // display name equal to someone's address comes before the address's owner.
    let term = query.get("search").map(|s| s.trim().trim_start_matches('@').to_lowercase()).filter(|t| !t.is_empty());
    let matches = |u: &&GlUser| {
        if let Some(name) = query.get("username") {
            return u.username.eq_ignore_ascii_case(name);
        }
        let Some(term) = &term else { return true };
        let by_email = as_admin
            && (u.email.eq_ignore_ascii_case(term)
                || u.emails.iter().any(|e| e.confirmed_at.is_some() && e.email.eq_ignore_ascii_case(term)));
        by_email || (term.len() >= 3 && (u.username.to_lowercase().contains(term) || u.name.to_lowercase().contains(term)))
    };
    let mut found: Vec<&GlUser> = w.gitlab.users.iter().filter(matches).collect();
    if let Some(term) = &term {
        let rank = |u: &GlUser| match () {
            _ if u.username.to_lowercase() == *term => 1,
            _ if u.name.to_lowercase() == *term => 2,
            _ => 3,
        };
        found.sort_by_key(|u| (rank(u), u.name.clone(), u.id));
    }
    let shape = user_shape(Shape::GitlabUsersAdmin, Shape::GitlabUsersPublic, as_admin);
    let items = found.into_iter().map(|u| user_json(u, &base, shape)).collect();
    paginate(&headers, "/api/v4/users", &query, items)
}

async fn show_user(
    State(ctx): State<Ctx>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let base = base_url(&headers);
    on_user(&ctx, &id, |w, i| {
        let shape = user_shape(Shape::GitlabUserAdmin, Shape::GitlabUsersPublic, matches!(caller, Caller::Admin(_)));
        ok(StatusCode::OK, user_json(&w.gitlab.users[i], &base, shape))
    })
}

async fn edit_user(State(ctx): State<Ctx>, _: Admin, headers: HeaderMap, Path(id): Path<String>, Params(p): Params) -> Reply {
    let base = base_url(&headers);
    on_user(&ctx, &id, |w, i| {
        if let Some(email) = p.get("email").and_then(Value::as_str) {
            let email = email.trim().to_owned();
            if !looks_like_email(&email) {
                return error(StatusCode::BAD_REQUEST, json!({"email": ["is invalid"]}));
            }
            let taken = w.gitlab.users.iter().enumerate().any(|(j, u)| {
                j != i && (u.email.eq_ignore_ascii_case(&email) || u.emails.iter().any(|e| e.email.eq_ignore_ascii_case(&email)))
            });
            if taken {
                // lib/api/users.rb: `conflict!('Email has already been taken')`.
                return error(StatusCode::CONFLICT, "Email has already been taken");
            }
            let user = &w.gitlab.users[i];
            if !user.email.eq_ignore_ascii_case(&email) {
                let Some(pos) = user.emails.iter().position(|e| e.email.eq_ignore_ascii_case(&email)) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        json!({"email": ["must be a secondary email of this user: add it first"]}),
                    );
                };
                if flag(&p, "skip_reconfirmation") {
                    let new_id = w.id();
                    let user = &mut w.gitlab.users[i];
                    let secondary = user.emails.remove(pos);
                    // As GitLab does, the old primary stays on the account as a confirmed secondary.
                    let old = std::mem::replace(&mut user.email, secondary.email);
                    user.emails.push(GlEmail { id: new_id, email: old, confirmed_at: Some(clock::now()) });
                }
            }
        }
        let user = &mut w.gitlab.users[i];
        if let Some(note) = p.get("note").and_then(Value::as_str) {
            user.note = note.to_owned();
        }
        if let Some(name) = p.get("name").and_then(Value::as_str) {
            user.name = name.to_owned();
        }
        ok(StatusCode::OK, user_json(user, &base, Shape::GitlabUserEdited))
    })
}

async fn associations_count(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply {
    on_user(&ctx, &id, |w, i| {
        let u = &w.gitlab.users[i];
        let groups = w.gitlab.groups.iter().filter(|g| g.members.iter().any(|m| m.user_id == u.id)).count();
        let projects = w.gitlab.projects.iter().filter(|p| p.members.iter().any(|m| m.user_id == u.id)).count();
        ok(
            StatusCode::OK,
            shapes::shaped(
                Shape::GitlabAssociations,
                json!({"groups_count": groups, "projects_count": projects, "issues_count": u.issues_count,
                       "merge_requests_count": u.merge_requests_count}),
            ),
        )
    })
}

async fn memberships(State(ctx): State<Ctx>, _: Admin, headers: HeaderMap, Path(id): Path<String>, query: Query) -> Reply {
    let kind = query.get("type").map(String::as_str);
    if kind.is_some_and(|k| k != "Project" && k != "Namespace") {
        return error(StatusCode::BAD_REQUEST, "400 Bad request - type does not have a valid value");
    }
    on_user(&ctx, &id, |w, i| {
        let uid = w.gitlab.users[i].id;
        let direct = |members: &[super::world::GlMember]| members.iter().find(|m| m.user_id == uid).map(|m| m.access_level);
        let mut items = Vec::new();
        if kind != Some("Project") {
            items.extend(w.gitlab.groups.iter().filter_map(|g| {
                direct(&g.members).map(
                    |level| json!({"source_id": g.id, "source_name": g.name, "source_type": "Namespace", "access_level": level}),
                )
            }));
        }
        if kind != Some("Namespace") {
            items.extend(w.gitlab.projects.iter().filter_map(|p| {
                direct(&p.members).map(
                    |level| json!({"source_id": p.id, "source_name": p.name, "source_type": "Project", "access_level": level}),
                )
            }));
        }
        paginate(&headers, &format!("/api/v4/users/{id}/memberships"), &query, items)
    })
}

async fn events(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>, query: Query) -> Reply {
    on_user(&ctx, &id, |w, i| {
        let u = &w.gitlab.users[i];
        let mut list: Vec<_> = u
            .events
            .iter()
            .filter(|e| query.get("action").is_none_or(|a| e.action_name.starts_with(a.as_str())))
            .filter(|e| query.get("target_type").is_none_or(|t| e.target_type.as_deref() == Some(t.as_str())))
            .filter(|e| query.get("after").is_none_or(|d| e.created_at.get(..10).is_some_and(|day| day > d.as_str())))
            .filter(|e| query.get("before").is_none_or(|d| e.created_at.get(..10).is_some_and(|day| day < d.as_str())))
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        if query.get("sort").map(String::as_str) == Some("asc") {
            list.reverse();
        }
        let items = list
            .into_iter()
            .map(|e| {
                let author = json!({"id": u.id, "username": u.username, "name": u.name, "state": u.state,
                                    "web_url": format!("{}/{}", base_url(&headers), u.username)});
                shapes::dress(
                    shapes::item(Shape::GitlabEvents, "action_name", &e.action_name),
                    json!({"id": e.id, "project_id": e.project_id, "action_name": e.action_name, "target_type": e.target_type,
                           "target_title": e.target_title, "created_at": e.created_at, "author_id": u.id,
                           "author_username": u.username, "author": author, "title": null, "target_id": null, "target_iid": null}),
                )
            })
            .collect();
        paginate(&headers, &format!("/api/v4/users/{id}/events"), &query, items)
    })
}

async fn list_emails(State(ctx): State<Ctx>, _: Admin, headers: HeaderMap, Path(id): Path<String>, query: Query) -> Reply {
    on_user(&ctx, &id, |w, i| {
        let email = shapes::item(Shape::GitlabEmails, "", "");
        let items = w.gitlab.users[i].emails.iter().map(|e| shapes::dress(email, json!(e))).collect();
        paginate(&headers, &format!("/api/v4/users/{id}/emails"), &query, items)
    })
}

async fn add_email(State(ctx): State<Ctx>, _: Admin, Path(id): Path<String>, Params(p): Params) -> Reply {
    let Some(email) = p.get("email").and_then(Value::as_str).map(str::trim) else {
        return error(StatusCode::BAD_REQUEST, "400 Bad request - email is missing");
    };
    if !looks_like_email(email) {
        return error(StatusCode::BAD_REQUEST, json!({"email": ["is invalid"]}));
    }
    on_user(&ctx, &id, |w, i| {
        let taken = w
            .gitlab
            .users
            .iter()
            .any(|u| u.email.eq_ignore_ascii_case(email) || u.emails.iter().any(|e| e.email.eq_ignore_ascii_case(email)));
        if taken {
            return error(StatusCode::BAD_REQUEST, json!({"email": ["has already been taken"]}));
        }
        let new = GlEmail { id: w.id(), email: email.to_owned(), confirmed_at: flag(&p, "skip_confirmation").then(clock::now) };
        w.gitlab.users[i].emails.push(new.clone());
        ok(StatusCode::CREATED, shapes::shaped(Shape::GitlabEmailCreated, json!(new)))
    })
}

async fn delete_email(State(ctx): State<Ctx>, _: Admin, Path((id, email_id)): Path<(String, u64)>) -> Reply {
    on_user(&ctx, &id, |w, i| {
        let emails = &mut w.gitlab.users[i].emails;
        match emails.iter().position(|e| e.id == email_id) {
            Some(pos) => {
                emails.remove(pos);
                StatusCode::NO_CONTENT.into_response()
            }
            None => error(StatusCode::NOT_FOUND, "404 Email Not Found"),
        }
    })
}

async fn keys(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply {
    let w = ctx.world();
    match user_index(&w.gitlab, &id) {
        Ok(i) => {
            let key = shapes::item(Shape::GitlabKeys, "", "");
            ok(StatusCode::OK, Value::Array(w.gitlab.users[i].keys.iter().map(|k| shapes::dress(key, json!(k))).collect()))
        }
        Err(r) => r,
    }
}

async fn gpg_keys(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply {
    let w = ctx.world();
    match user_index(&w.gitlab, &id) {
        Ok(i) => {
            let key = shapes::item(Shape::GitlabGpgKeys, "", "");
            ok(StatusCode::OK, Value::Array(w.gitlab.users[i].gpg_keys.iter().map(|k| shapes::dress(key, k.clone())).collect()))
        }
        Err(r) => r,
    }
}

async fn disable_two_factor(State(ctx): State<Ctx>, _: Admin, Path(id): Path<String>) -> Reply {
    on_user(&ctx, &id, |w, i| {
        let u = &mut w.gitlab.users[i];
        if u.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "403 Forbidden - Two-factor authentication for admins cannot be disabled via the API. Use the Rails console",
            );
        }
        if !u.two_factor_enabled {
            return error(StatusCode::BAD_REQUEST, "400 Bad request - Two-factor authentication is not enabled for this user");
        }
        u.two_factor_enabled = false;
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn support_pin(State(ctx): State<Ctx>, _: Admin, Path(id): Path<String>) -> Reply {
    on_user(&ctx, &id, |w, i| match &w.gitlab.users[i].support_pin {
        Some(pin) => ok(StatusCode::OK, shapes::shaped(Shape::GitlabSupportPin, json!(pin))),
        None => error(StatusCode::NOT_FOUND, "404 Support PIN not found or has expired"),
    })
}

/// The highest access level over a group and its ancestors.
fn group_access(data: &GitLabData, group_id: u64, user_id: u64) -> Option<u32> {
    let mut best = None;
    let mut next = Some(group_id);
    let mut hops = 0;
    while let (Some(id), true) = (next, hops < 20) {
        let g = data.groups.iter().find(|g| g.id == id)?;
        if let Some(m) = g.members.iter().find(|m| m.user_id == user_id) {
            best = best.max(Some(m.access_level));
        }
        next = g.parent_id;
        hops += 1;
    }
    best
}

fn member_reply(data: &GitLabData, headers: &HeaderMap, user_id: u64, level: Option<u32>) -> Reply {
    let (Some(level), Some(u)) = (level, data.users.iter().find(|u| u.id == user_id)) else {
        return error(StatusCode::NOT_FOUND, "404 Not found");
    };
    ok(
        StatusCode::OK,
        shapes::shaped(
            Shape::GitlabMember,
            json!({"id": u.id, "username": u.username, "name": u.name, "state": u.state, "locked": u.locked,
                   "access_level": level, "expires_at": null, "membership_state": "active", "created_by": null,
                   "email": u.email, "group_saml_identity": null, "created_at": u.created_at,
                   "web_url": format!("{}/{}", base_url(headers), u.username)}),
        ),
    )
}

async fn group_member(State(ctx): State<Ctx>, headers: HeaderMap, Path((id, user_id)): Path<(u64, u64)>) -> Reply {
    let w = ctx.world();
    if !w.gitlab.groups.iter().any(|g| g.id == id) {
        return error(StatusCode::NOT_FOUND, "404 Group Not Found");
    }
    member_reply(&w.gitlab, &headers, user_id, group_access(&w.gitlab, id, user_id))
}

async fn project_member(State(ctx): State<Ctx>, headers: HeaderMap, Path((id, user_id)): Path<(u64, u64)>) -> Reply {
    let w = ctx.world();
    let Some(p) = w.gitlab.projects.iter().find(|p| p.id == id) else {
        return error(StatusCode::NOT_FOUND, "404 Project Not Found");
    };
    let direct = p.members.iter().find(|m| m.user_id == user_id).map(|m| m.access_level);
    let level = direct.max(group_access(&w.gitlab, p.namespace_id, user_id));
    member_reply(&w.gitlab, &headers, user_id, level)
}

/// A group by id or full path (`acme-corp`, URL-encoded in the path).
fn find_group<'a>(data: &'a GitLabData, id: &str) -> Option<&'a super::world::GlGroup> {
    data.groups.iter().find(|g| id.parse::<u64>().map_or(g.full_path.eq_ignore_ascii_case(id), |n| g.id == n))
}

/// The last segment of a full path.
fn last_segment(full_path: &str) -> &str {
    full_path.rsplit('/').next().unwrap_or(full_path)
}

fn group_json(g: &super::world::GlGroup, base: &str) -> Value {
    shapes::shaped(
        Shape::GitlabGroup,
        json!({"id": g.id, "name": g.name, "path": last_segment(&g.full_path), "full_path": g.full_path, "full_name": g.name,
               "parent_id": g.parent_id, "description": "", "web_url": format!("{base}/groups/{}", g.full_path),
               "visibility": "private", "projects": [], "shared_projects": [], "shared_with_groups": [], "runners_token": null}),
    )
}

/// A namespace as `GET /namespaces/:id` sends it; the plan only for admins (and owners).
fn namespace_json(g: &super::world::GlGroup, base: &str, as_admin: bool) -> Value {
    let mut v = shapes::shaped(
        Shape::GitlabNamespace,
        json!({"id": g.id, "name": g.name, "path": last_segment(&g.full_path), "full_path": g.full_path, "kind": "group",
               "parent_id": g.parent_id, "avatar_url": null, "web_url": format!("{base}/groups/{}", g.full_path),
               "plan": g.plan, "trial": false, "trial_ends_on": null}),
    );
    if !as_admin {
        for admin_only in ["plan", "trial", "trial_ends_on", "billable_members_count", "max_seats_used", "seats_in_use"] {
            v.as_object_mut().map(|o| o.remove(admin_only));
        }
    }
    v
}

async fn show_group(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    let w = ctx.world();
    match find_group(&w.gitlab, &id) {
        Some(g) => ok(StatusCode::OK, group_json(g, &base_url(&headers))),
        None => error(StatusCode::NOT_FOUND, "404 Group Not Found"),
    }
}

/// `GET /namespaces/:id`: for admins, the namespace's plan (free, premium, ultimate).
async fn show_namespace(
    State(ctx): State<Ctx>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let as_admin = matches!(caller, Caller::Admin(_));
    let w = ctx.world();
    match find_group(&w.gitlab, &id) {
        Some(g) => ok(StatusCode::OK, namespace_json(g, &base_url(&headers), as_admin)),
        None => error(StatusCode::NOT_FOUND, "404 Namespace Not Found"),
    }
}

async fn show_project(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    let w = ctx.world();
    let found = w
        .gitlab
        .projects
        .iter()
        .find(|p| id.parse::<u64>().map_or(p.path_with_namespace.eq_ignore_ascii_case(&id), |n| p.id == n));
    match found {
        Some(p) => {
            let base = base_url(&headers);
            let ns = w.gitlab.groups.iter().find(|g| g.id == p.namespace_id);
            let ns_path = ns.map_or("", |g| g.full_path.as_str());
            let namespace = json!({"id": p.namespace_id, "name": ns.map_or("", |g| g.name.as_str()), "path": last_segment(ns_path),
                                   "kind": "group", "full_path": ns_path,
                                   "web_url": format!("{base}/groups/{ns_path}")});
            let web_url = format!("{base}/{}", p.path_with_namespace);
            ok(
                StatusCode::OK,
                shapes::shaped(
                    Shape::GitlabProject,
                    json!({"id": p.id, "name": p.name, "path": last_segment(&p.path_with_namespace),
                           "path_with_namespace": p.path_with_namespace,
                           "name_with_namespace": format!("{} / {}", ns.map_or("", |g| g.name.as_str()), p.name),
                           "namespace": namespace, "web_url": web_url, "description": "", "visibility": "private",
                           "http_url_to_repo": format!("{web_url}.git"), "readme_url": null, "owner": null, "_links": {}}),
                ),
            )
        }
        None => error(StatusCode::NOT_FOUND, "404 Project Not Found"),
    }
}
