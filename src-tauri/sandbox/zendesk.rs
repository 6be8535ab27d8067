//! Simulated Zendesk Support API v2, one server per instance (global and US Government):
//! wrapped JSON bodies, Basic `{email}/token:{token}` auth, every endpoint with or without the
//! `.json` suffix, cursor pagination for comments and memberships, cursor or offset pagination
//! for lists, offset pagination for searches (Zendesk's search syntax, see [`search`]),
//! `X-Rate-Limit` headers.

mod search;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use self::search::{Query as SearchQuery, Term};
use super::shapes::{self, Shape};
use super::world::{ZdComment, ZdIdentity, ZdOrgMembership, ZdTicket, ZdTicketField, ZdTicketForm, ZdUser, ZendeskData};
use super::{base_url, basic_auth, ok, Ctx, JsonBody, Query, Reply, Service, World};
use crate::clock;

/// Every route needs the agent's API token ([`authenticate`]).
pub(super) fn router(ctx: &Ctx) -> Router<Ctx> {
    Router::new()
        .route("/api/v2/users/me", get(me))
        .route("/api/v2/users/search", get(search_users))
        .route("/api/v2/users/{id}", get(show_user).put(update_user))
        .route("/api/v2/users/{id}/merge", put(merge_user))
        .route("/api/v2/users/{id}/identities", get(list_identities).post(add_identity))
        .route("/api/v2/users/{id}/identities/{iid}/make_primary", put(make_primary))
        .route("/api/v2/users/{id}/identities/{iid}/verify", put(verify_identity))
        .route("/api/v2/users/{id}/sessions", get(list_sessions).delete(delete_sessions))
        .route("/api/v2/users/{id}/organizations/{org}", delete(leave_organization))
        .route("/api/v2/organization_memberships", post(add_membership))
        .route("/api/v2/organizations/{id}", get(show_organization))
        .route("/api/v2/organizations/{id}/organization_memberships", get(organization_memberships))
        .route("/api/v2/tickets", get(list_tickets))
        .route("/api/v2/tickets/{id}", get(show_ticket).put(update_ticket))
        .route("/api/v2/tickets/{id}/comments", get(ticket_comments))
        .route("/api/v2/ticket_forms", get(ticket_forms))
        .route("/api/v2/ticket_fields", get(ticket_fields))
        .route("/api/v2/search", get(search))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), authenticate))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "InvalidEndpoint", "Not found") })
}

/// The API reference writes endpoints with a `.json` suffix and Zendesk's own `url` and
/// `next_page` links carry it; Zendesk answers both spellings alike. The sandbox drops the
/// suffix before routing (and before fault rules are matched), once for every route.
pub(super) fn strip_json_suffix(uri: &mut Uri) {
    let Some(path) = uri.path().strip_suffix(".json") else { return };
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(stripped) = Uri::from_parts(parts) {
        *uri = stripped;
    }
}

/// Zendesk's error body for a bare status.
pub(super) fn error_status(status: StatusCode, description: &str) -> Reply {
    let kind = match status {
        StatusCode::UNAUTHORIZED => "Couldn't authenticate you",
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::NOT_FOUND => "RecordNotFound",
        StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
        StatusCode::UNPROCESSABLE_ENTITY => "RecordInvalid",
        _ => "ServerError",
    };
    error(status, kind, description)
}

fn error(status: StatusCode, kind: &str, description: &str) -> Reply {
    let body = if status == StatusCode::UNAUTHORIZED {
        json!({"error": "Couldn't authenticate you"})
    } else {
        json!({"error": kind, "description": description})
    };
    (status, Json(body)).into_response()
}

/// What Zendesk answers to a body that is not JSON.
pub(super) fn invalid_json(description: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, "InvalidJSON", description)
}

/// A 422 with Zendesk's `details` shape.
fn invalid(field: &str, description: &str) -> Reply {
    let body = json!({"error": "RecordInvalid", "description": "Record validation errors",
                      "details": {field: [{"description": description, "error": "InvalidValue"}]}});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// The `X-Rate-Limit` headers Zendesk sends on every answer.
pub(super) fn rate_limit_headers(h: &mut HeaderMap) {
    h.insert("x-rate-limit", HeaderValue::from_static("700"));
    h.insert("x-rate-limit-remaining", HeaderValue::from_static("699"));
}

fn data<'w>(ctx: &Ctx, w: &'w mut World) -> &'w mut ZendeskData {
    if ctx.service == Service::ZendeskUsGov {
        &mut w.zendesk_us_gov
    } else {
        &mut w.zendesk
    }
}

/// Lets a request through to its handler only with `Authorization: Basic
/// {agent_email}/token:{api_token}`.
async fn authenticate(State(ctx): State<Ctx>, req: Request, next: Next) -> Reply {
    let token = if ctx.service == Service::ZendeskUsGov { &ctx.shared.tokens.zendesk_us_gov } else { &ctx.shared.tokens.zendesk };
    let agent = basic_auth(req.headers()).and_then(|(user, pass)| Some((user.strip_suffix("/token")?.to_owned(), pass)));
    let admitted = agent.is_some_and(|(email, pass)| {
        let mut w = ctx.world();
        let d = data(&ctx, &mut w);
        let agent_email = d.users.iter().find(|u| u.id == d.agent_id).map(|u| u.email.as_str()).unwrap_or_default();
        pass == *token && email.eq_ignore_ascii_case(agent_email)
    });
    if admitted {
        next.run(req).await
    } else {
        error(StatusCode::UNAUTHORIZED, "", "")
    }
}

/// Runs `f` over this instance's data.
fn with_data(ctx: &Ctx, f: impl FnOnce(&mut ZendeskData, &mut u64) -> Reply) -> Reply {
    let mut w = ctx.world();
    let mut next_id = w.next_id;
    let reply = f(data(ctx, &mut w), &mut next_id);
    w.next_id = next_id;
    reply
}

fn fresh(next_id: &mut u64) -> u64 {
    *next_id += 1;
    *next_id
}

/// Gives every user a primary email identity and creates an organization's generated contacts.
pub(super) fn generate_contacts(d: &mut ZendeskData, next_id: &mut u64) {
    for u in &mut d.users {
        if !u.identities.iter().any(|i| i.primary) {
            u.identities.insert(
                0,
                ZdIdentity { id: fresh(next_id), kind: "email".into(), value: u.email.clone(), verified: true, primary: true },
            );
        }
    }
    let orgs: Vec<(u64, u32)> = d.organizations.iter().map(|o| (o.id, o.generated_contacts)).collect();
    for (org, n) in orgs {
        for k in 1..=n {
            let id = fresh(next_id);
            let email = format!("contact{k}.org{org}@example.com");
            d.users.push(ZdUser {
                id,
                name: format!("Contact {k}"),
                email: email.clone(),
                role: "end-user".into(),
                suspended: false,
                notes: String::new(),
                organization_id: Some(org),
                created_at: "2025-06-01T10:00:00Z".into(),
                identities: vec![ZdIdentity {
                    id: fresh(next_id),
                    kind: "email".into(),
                    value: email,
                    verified: true,
                    primary: true,
                }],
                sessions: 0,
            });
            d.organization_memberships.push(ZdOrgMembership { id: fresh(next_id), user_id: id, organization_id: org });
        }
    }
}

/// A user in the shape Zendesk sends (`tests/contract/zendesk/user.json`), our data laid over.
fn user_json(u: &ZdUser, base: &str) -> Value {
    let end_user = u.role == "end-user";
    shapes::dress(
        &shapes::template(Shape::ZendeskUser)["user"],
        json!({"id": u.id, "url": format!("{base}/api/v2/users/{}.json", u.id), "name": u.name, "email": u.email,
               "created_at": u.created_at, "updated_at": u.created_at, "time_zone": "UTC", "iana_time_zone": "Etc/UTC",
               "photo": null, "organization_id": u.organization_id, "role": u.role, "verified": true, "tags": [],
               "alias": "", "last_login_at": null, "two_factor_auth_enabled": null, "signature": null, "details": "",
               "notes": u.notes, "moderator": !end_user, "ticket_restriction": if end_user { json!("requested") } else { Value::Null },
               "restricted_agent": end_user, "suspended": u.suspended, "default_group_id": null}),
    )
}

/// An identity in the recorded shape (`tests/contract/zendesk/identities.json`).
fn identity_json(user_id: u64, i: &ZdIdentity) -> Value {
    shapes::dress(
        shapes::item(Shape::ZendeskIdentities, "type", &i.kind),
        json!({"id": i.id, "user_id": user_id, "type": i.kind, "value": i.value, "verified": i.verified, "primary": i.primary,
               "verification_method": if i.verified { "full" } else { "none" }, "verified_at": null,
               "url": format!("/api/v2/users/{user_id}/identities/{}.json", i.id),
               "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"}),
    )
}

/// A comment in the recorded shape (`tests/contract/zendesk/ticket_comments.json`): plain text,
/// by the web form for the requester's, by the API for ours.
fn comment_json(c: &ZdComment, audit_id: u64) -> Value {
    shapes::dress(
        shapes::item(Shape::ZendeskComments, "type", "Comment"),
        json!({"id": c.id, "type": "Comment", "author_id": c.author_id, "body": c.body, "plain_body": c.body,
               "html_body": format!("<div class=\"zd-comment\"><p>{}</p></div>", html_escape(&c.body)), "public": c.public,
               "attachments": [], "audit_id": audit_id, "created_at": c.created_at,
               "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": null}},
               "metadata": {"system": {"client": "Casekit sandbox", "ip_address": "127.0.0.1", "location": "", "latitude": 0.0, "longitude": 0.0}, "custom": {}}}),
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A ticket in the shape Zendesk sends (`tests/contract/zendesk/ticket.json`), our data laid
/// over: it came in by email from its requester, as support tickets do.
fn ticket_json(d: &ZendeskData, t: &ZdTicket, base: &str) -> Value {
    let mut v = shapes::dress(
        &shapes::template(Shape::ZendeskTicket)["ticket"],
        json!({"url": format!("{base}/api/v2/tickets/{}.json", t.id), "id": t.id,
               "created_at": t.created_at, "updated_at": t.comments.last().map_or(t.created_at.as_str(), |c| c.created_at.as_str()),
               "type": null, "subject": t.subject, "raw_subject": t.subject, "description": t.description, "priority": null,
               "status": t.status, "recipient": null, "requester_id": t.requester_id, "submitter_id": t.requester_id,
               "assignee_id": null, "organization_id": t.organization_id, "group_id": null,
               "collaborator_ids": t.collaborator_ids, "follower_ids": [], "email_cc_ids": [], "tags": t.tags,
               "custom_fields": t.custom_fields, "fields": t.custom_fields, "followup_ids": [],
               "ticket_form_id": t.ticket_form_id, "brand_id": 1, "is_public": true}),
    );
    let requester = d.users.iter().find(|u| u.id == t.requester_id);
    v["via"] = json!({"channel": "email", "source": {
        "from": {"address": requester.map(|u| u.email.as_str()), "name": requester.map(|u| u.name.as_str())},
        "to": {"name": "Support", "address": format!("support@{}.zendesk.com", d.subdomain)},
        "rel": null}});
    v
}

fn not_found() -> Reply {
    error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found")
}

/// Cursor pagination: `page[size]` (≤ 100) and `page[after]`; `meta.has_more`, `links.next`.
fn cursor_page(headers: &HeaderMap, path: &str, query: &Query, key: &str, items: Vec<Value>) -> Reply {
    let size = match query.get("page[size]").map(|s| s.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "InvalidPaginationParameter", "page[size] must be between 1 and 100"),
    };
    let start = match query.get("page[after]") {
        None => 0,
        Some(c) => match decode_cursor(c) {
            Some(n) => n,
            None => return error(StatusCode::BAD_REQUEST, "InvalidPaginationParameter", "page[after] is not a valid cursor"),
        },
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let end = start + page.len();
    let has_more = end < total;
    let after = (!page.is_empty()).then(|| encode_cursor(end));
    let before = (start > 0).then(|| encode_cursor(start));
    let next = match (&after, has_more) {
        (Some(a), true) => json!(format!("{}{path}?page%5Bsize%5D={size}&page%5Bafter%5D={a}", base_url(headers))),
        _ => Value::Null,
    };
    ok(
        StatusCode::OK,
        json!({key: page, "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before}, "links": {"next": next, "prev": null}}),
    )
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("o:")?.parse().ok()
}

/// How far offset pagination reaches: lists stop at 10,000 records (400 beyond), searches at
/// 1,000 results (422 beyond).
#[derive(Clone, Copy)]
enum Reach {
    List,
    Search,
}

/// Offset pagination: `page`, `per_page` (≤ 100); `next_page` and `previous_page` links (on
/// the `.json` path, as Zendesk writes them, keeping the other query parameters) and `count`.
fn offset_page(
    headers: &HeaderMap,
    path: &str,
    query: &Query,
    key: &str,
    items: Vec<Value>,
    reach: Reach,
) -> Result<Value, Reply> {
    let per_page = query.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(100).clamp(1, 100);
    let page = query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    match reach {
        Reach::List if page * per_page > 10_000 => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "InvalidPaginationParameter",
                "offset pagination is limited to 10,000 records",
            ))
        }
        Reach::Search if page * per_page > 1_000 => {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid search: Requested response size was greater than Search Response Limits",
            ))
        }
        _ => {}
    }
    let count = items.len();
    let shown: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let base = base_url(headers);
    let link = |p: usize| {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        let mut others: Vec<(&String, &String)> = query.iter().filter(|(k, _)| *k != "page" && *k != "per_page").collect();
        others.sort();
        qs.extend_pairs(others).append_pair("page", &p.to_string()).append_pair("per_page", &per_page.to_string());
        json!(format!("{base}{path}.json?{}", qs.finish()))
    };
    let next = if page * per_page < count { link(page + 1) } else { Value::Null };
    let previous = if page > 1 { link(page - 1) } else { Value::Null };
    Ok(json!({key: shown, "next_page": next, "previous_page": previous, "count": count}))
}

/// A list that pages both ways, as Zendesk's lists do: by cursor when `page[size]` or
/// `page[after]` is given, by offset otherwise.
fn list_page(headers: &HeaderMap, path: &str, query: &Query, key: &str, items: Vec<Value>) -> Reply {
    if query.keys().any(|k| k.starts_with("page[")) {
        return cursor_page(headers, path, query, key, items);
    }
    match offset_page(headers, path, query, key, items, Reach::List) {
        Ok(body) => ok(StatusCode::OK, body),
        Err(reply) => reply,
    }
}

/// Searches page by offset only; Zendesk refuses cursor parameters there with this body.
fn refuse_cursor(query: &Query, endpoint: &str) -> Option<Reply> {
    query.keys().any(|k| k.starts_with("page[")).then(|| {
        let message = format!(
            "You passed an invalid value for the page attribute. Invalid parameter: page must be an integer from {endpoint}"
        );
        (StatusCode::BAD_REQUEST, Json(json!({"error": {"title": "Invalid attribute", "message": message}}))).into_response()
    })
}

/// The `query` parameter, parsed; a missing one is Zendesk's 400.
fn search_query(query: &Query) -> Result<SearchQuery, Reply> {
    match query.get("query").map(|q| q.trim()).filter(|q| !q.is_empty()) {
        Some(q) => Ok(SearchQuery::parse(q)),
        None => Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidSearch",
            "query is required, e.g. query=type:user email:\"someone@example.com\"",
        )),
    }
}

fn user_matches(u: &ZdUser, term: &Term) -> bool {
    let emails = || u.identities.iter().filter(|i| i.kind == "email").map(|i| i.value.as_str());
    match term.keyword.as_deref() {
        Some("email") => search::matches_any(term, emails()),
        Some("name") => search::matches(term, &u.name),
        Some("role") => search::matches(term, &u.role),
        Some("notes") => search::matches(term, &u.notes),
        Some("organization") => u.organization_id.is_some_and(|o| search::matches(term, &o.to_string())),
        Some("user") => term.value == u.id.to_string() || search::matches(term, &u.name) || search::matches_any(term, emails()),
        Some(_) => false,
        None => search::matches(term, &u.name) || search::matches_any(term, emails()) || search::matches(term, &u.notes),
    }
}

fn ticket_matches(d: &ZendeskData, t: &ZdTicket, term: &Term) -> bool {
    match term.keyword.as_deref() {
        Some("status") => search::matches(term, &t.status),
        Some("requester") => {
            term.value == t.requester_id.to_string()
                || d.users.iter().find(|u| u.id == t.requester_id).is_some_and(|u| {
                    let user = Term { keyword: Some("user".into()), ..term.clone() };
                    user_matches(u, &user)
                })
        }
        Some("subject") => search::matches(term, &t.subject),
        Some("description") => search::matches(term, &t.description),
        Some("tags" | "tag") => search::matches_any(term, t.tags.iter().map(String::as_str)),
        Some("organization") => t.organization_id.is_some_and(|o| search::matches(term, &o.to_string())),
        Some(_) => false,
        None => {
            search::matches(term, &t.subject)
                || search::matches(term, &t.description)
                || search::matches_any(term, t.comments.iter().map(|c| c.body.as_str()))
        }
    }
}

// ---------------------------------------------------------------- users

async fn me(State(ctx): State<Ctx>, headers: HeaderMap) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| match d.users.iter().find(|u| u.id == d.agent_id) {
        Some(u) => ok(StatusCode::OK, json!({"user": user_json(u, &base)})),
        None => not_found(),
    })
}

async fn search_users(State(ctx): State<Ctx>, headers: HeaderMap, query: Query) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| {
        if let Some(refused) = refuse_cursor(&query, "api/v2/users/search") {
            return refused;
        }
        let q = match search_query(&query) {
            Ok(q) => q,
            Err(reply) => return reply,
        };
        let users: Vec<Value> =
            d.users.iter().filter(|u| q.terms.iter().all(|t| user_matches(u, t))).map(|u| user_json(u, &base)).collect();
        match offset_page(&headers, "/api/v2/users/search", &query, "users", users, Reach::List) {
            Ok(body) => ok(StatusCode::OK, body),
            Err(reply) => reply,
        }
    })
}

/// `GET /api/v2/search`: tickets and users (`type:ticket`, `type:user`, or both without a type),
/// each with its `result_type`.
async fn search(State(ctx): State<Ctx>, headers: HeaderMap, query: Query) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| {
        if let Some(refused) = refuse_cursor(&query, "api/v2/search/index") {
            return refused;
        }
        let q = match search_query(&query) {
            Ok(q) => q,
            Err(reply) => return reply,
        };
        let wants = |kind: &str| q.kind.as_deref().is_none_or(|k| k == kind);
        let typed = |mut v: Value, kind: &str| {
            v["result_type"] = json!(kind);
            v
        };
        let mut results = Vec::new();
        if wants("ticket") {
            results.extend(
                d.tickets
                    .iter()
                    .filter(|t| q.terms.iter().all(|term| ticket_matches(d, t, term)))
                    .map(|t| typed(ticket_json(d, t, &base), "ticket")),
            );
        }
        if wants("user") {
            results.extend(
                d.users.iter().filter(|u| q.terms.iter().all(|t| user_matches(u, t))).map(|u| typed(user_json(u, &base), "user")),
            );
        }
        match offset_page(&headers, "/api/v2/search", &query, "results", results, Reach::Search) {
            Ok(mut body) => {
                body["facets"] = Value::Null;
                ok(StatusCode::OK, body)
            }
            Err(reply) => reply,
        }
    })
}

async fn show_user(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| match d.users.iter().find(|u| u.id == id) {
        Some(u) => ok(StatusCode::OK, json!({"user": user_json(u, &base)})),
        None => not_found(),
    })
}

async fn update_user(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, JsonBody(body): JsonBody) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, next_id| {
        let Some(changes) = body.get("user").and_then(Value::as_object) else {
            return error(StatusCode::BAD_REQUEST, "InvalidJSON", "expected {\"user\": {...}}");
        };
        if let Some(email) = changes.get("email").and_then(Value::as_str) {
            if d.users.iter().any(|u| u.id != id && u.identities.iter().any(|i| i.value.eq_ignore_ascii_case(email))) {
                return invalid("email", &format!("Email: {email} is already being used by another user"));
            }
        }
        let Some(u) = d.users.iter_mut().find(|u| u.id == id) else { return not_found() };
        if let Some(s) = changes.get("suspended").and_then(Value::as_bool) {
            u.suspended = s;
        }
        if let Some(n) = changes.get("notes").and_then(Value::as_str) {
            u.notes = n.to_owned();
        }
        if let Some(n) = changes.get("name").and_then(Value::as_str) {
            u.name = n.to_owned();
        }
        // Setting `email` on update adds a secondary identity.
        if let Some(email) = changes.get("email").and_then(Value::as_str) {
            if !u.identities.iter().any(|i| i.value.eq_ignore_ascii_case(email)) {
                u.identities.push(ZdIdentity {
                    id: fresh(next_id),
                    kind: "email".into(),
                    value: email.to_owned(),
                    verified: false,
                    primary: false,
                });
            }
        }
        ok(StatusCode::OK, json!({"user": user_json(u, &base)}))
    })
}

async fn list_identities(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, query: Query) -> Reply {
    with_data(&ctx, |d, _| {
        let Some(u) = d.users.iter().find(|u| u.id == id) else { return not_found() };
        let items = u.identities.iter().map(|i| identity_json(u.id, i)).collect();
        cursor_page(&headers, &format!("/api/v2/users/{id}/identities"), &query, "identities", items)
    })
}

async fn add_identity(State(ctx): State<Ctx>, Path(id): Path<u64>, JsonBody(body): JsonBody) -> Reply {
    with_data(&ctx, |d, next_id| {
        let Some(identity) = body.get("identity").and_then(Value::as_object) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidJSON",
                "expected {\"identity\": {\"type\": \"email\", \"value\": ...}}",
            );
        };
        let kind = identity.get("type").and_then(Value::as_str).unwrap_or("");
        let value = identity.get("value").and_then(Value::as_str).unwrap_or("").trim().to_owned();
        if kind != "email" {
            return invalid("type", "Type: only email identities are supported here");
        }
        if !value.contains('@') || value.contains(char::is_whitespace) {
            return invalid("value", &format!("Value: {value} is not properly formatted"));
        }
        if d.users.iter().any(|u| u.identities.iter().any(|i| i.value.eq_ignore_ascii_case(&value))) {
            return invalid("value", &format!("Value: {value} is already being used by another user"));
        }
        let verified = body.get("skip_verify_email").and_then(Value::as_bool).unwrap_or(false)
            || identity.get("verified").and_then(Value::as_bool).unwrap_or(false);
        let Some(u) = d.users.iter_mut().find(|u| u.id == id) else { return not_found() };
        let new = ZdIdentity { id: fresh(next_id), kind: "email".into(), value, verified, primary: false };
        let reply = json!({"identity": identity_json(u.id, &new)});
        u.identities.push(new);
        ok(StatusCode::CREATED, reply)
    })
}

/// "Merge End Users": end user `id` goes into the end user of the body; its identities join
/// the target (never primary), its tickets, comments and memberships move, and it is deleted.
async fn merge_user(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, JsonBody(body): JsonBody) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| {
        let Some(target) = body.get("user").and_then(|u| u.get("id")).and_then(Value::as_u64) else {
            return error(StatusCode::BAD_REQUEST, "InvalidJSON", "expected {\"user\": {\"id\": ...}}");
        };
        let (Some(source), Some(into)) = (d.users.iter().position(|u| u.id == id), d.users.iter().position(|u| u.id == target))
        else {
            return not_found();
        };
        if id == target || d.users[source].role != "end-user" || d.users[into].role != "end-user" {
            return invalid("id", "Id: only two different end users can be merged");
        }
        let merged = d.users.remove(source);
        let into = d.users.iter().position(|u| u.id == target).unwrap_or_default();
        for mut identity in merged.identities {
            identity.primary = false;
            d.users[into].identities.push(identity);
        }
        for t in &mut d.tickets {
            if t.requester_id == id {
                t.requester_id = target;
            }
            for c in t.collaborator_ids.iter_mut().filter(|c| **c == id) {
                *c = target;
            }
            for c in t.comments.iter_mut().filter(|c| c.author_id == id) {
                c.author_id = target;
            }
        }
        for m in d.organization_memberships.iter_mut().filter(|m| m.user_id == id) {
            m.user_id = target;
        }
        ok(StatusCode::OK, json!({"user": user_json(&d.users[into], &base)}))
    })
}

async fn make_primary(State(ctx): State<Ctx>, Path((id, iid)): Path<(u64, u64)>) -> Reply {
    with_data(&ctx, |d, _| {
        let Some(u) = d.users.iter_mut().find(|u| u.id == id) else { return not_found() };
        let Some(pos) = u.identities.iter().position(|i| i.id == iid) else { return not_found() };
        for (k, i) in u.identities.iter_mut().enumerate() {
            i.primary = k == pos;
        }
        u.email = u.identities[pos].value.clone();
        let list: Vec<Value> = u.identities.iter().map(|i| identity_json(u.id, i)).collect();
        ok(StatusCode::OK, json!({"identities": list}))
    })
}

async fn verify_identity(State(ctx): State<Ctx>, Path((id, iid)): Path<(u64, u64)>) -> Reply {
    with_data(&ctx, |d, _| {
        let Some(u) = d.users.iter_mut().find(|u| u.id == id) else { return not_found() };
        let Some(i) = u.identities.iter_mut().find(|i| i.id == iid) else { return not_found() };
        i.verified = true;
        let reply = identity_json(id, i);
        ok(StatusCode::OK, json!({"identity": reply}))
    })
}

async fn list_sessions(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Reply {
    with_data(&ctx, |d, _| {
        let Some(u) = d.users.iter().find(|u| u.id == id) else { return not_found() };
        let sessions: Vec<Value> = (1..=u.sessions)
            .map(|k| json!({"id": u.id * 100 + u64::from(k), "user_id": u.id, "authenticated_at": "2026-11-20T08:00:00Z", "last_seen_at": "2026-11-21T18:30:00Z"}))
            .collect();
        ok(StatusCode::OK, json!({"sessions": sessions}))
    })
}

async fn delete_sessions(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Reply {
    with_data(&ctx, |d, _| {
        let Some(u) = d.users.iter_mut().find(|u| u.id == id) else { return not_found() };
        u.sessions = 0;
        StatusCode::NO_CONTENT.into_response()
    })
}

// ---------------------------------------------------------------- organizations

async fn add_membership(State(ctx): State<Ctx>, JsonBody(body): JsonBody) -> Reply {
    with_data(&ctx, |d, next_id| {
        let m = body.get("organization_membership").unwrap_or(&body);
        let (Some(user_id), Some(org_id)) =
            (m.get("user_id").and_then(Value::as_u64), m.get("organization_id").and_then(Value::as_u64))
        else {
            return invalid("organization_membership", "user_id and organization_id are required");
        };
        if !d.users.iter().any(|u| u.id == user_id) {
            return invalid("user_id", "User: cannot be blank");
        }
        if !d.organizations.iter().any(|o| o.id == org_id) {
            return invalid("organization_id", "Organization: cannot be blank");
        }
        if d.organization_memberships.iter().any(|m| m.user_id == user_id && m.organization_id == org_id) {
            return invalid("user_id", "User: is already a member of this organization");
        }
        let membership = ZdOrgMembership { id: fresh(next_id), user_id, organization_id: org_id };
        if let Some(u) = d.users.iter_mut().find(|u| u.id == user_id) {
            u.organization_id.get_or_insert(org_id);
        }
        d.organization_memberships.push(membership.clone());
        ok(StatusCode::CREATED, json!({"organization_membership": membership}))
    })
}

async fn leave_organization(State(ctx): State<Ctx>, Path((id, org)): Path<(u64, u64)>) -> Reply {
    with_data(&ctx, |d, _| {
        let Some(pos) = d.organization_memberships.iter().position(|m| m.user_id == id && m.organization_id == org) else {
            return not_found();
        };
        d.organization_memberships.remove(pos);
        if let Some(u) = d.users.iter_mut().find(|u| u.id == id && u.organization_id == Some(org)) {
            u.organization_id = None;
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn show_organization(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Reply {
    with_data(&ctx, |d, _| match d.organizations.iter().find(|o| o.id == id) {
        Some(o) => ok(StatusCode::OK, json!({"organization": o})),
        None => not_found(),
    })
}

async fn organization_memberships(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, query: Query) -> Reply {
    with_data(&ctx, |d, _| {
        if !d.organizations.iter().any(|o| o.id == id) {
            return not_found();
        }
        let items = d.organization_memberships.iter().filter(|m| m.organization_id == id).map(|m| json!(m)).collect();
        let path = format!("/api/v2/organizations/{id}/organization_memberships");
        cursor_page(&headers, &path, &query, "organization_memberships", items)
    })
}

// ---------------------------------------------------------------- tickets

async fn list_tickets(State(ctx): State<Ctx>, headers: HeaderMap, query: Query) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| {
        let items = d.tickets.iter().map(|t| ticket_json(d, t, &base)).collect();
        list_page(&headers, "/api/v2/tickets", &query, "tickets", items)
    })
}

async fn show_ticket(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| match d.tickets.iter().find(|t| t.id == id) {
        Some(t) => ok(StatusCode::OK, json!({"ticket": ticket_json(d, t, &base)})),
        None => not_found(),
    })
}

const STATUSES: [&str; 6] = ["new", "open", "pending", "hold", "solved", "closed"];

/// What Zendesk answers to any change of a closed ticket.
fn closed_ticket() -> Reply {
    let body = json!({"error": "RecordInvalid", "description": "Record validation errors",
                      "details": {"status": [{"description": "Status: closed prevents ticket update"}]}});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

async fn update_ticket(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, JsonBody(body): JsonBody) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, next_id| {
        let Some(changes) = body.get("ticket").and_then(Value::as_object) else {
            return error(StatusCode::BAD_REQUEST, "InvalidJSON", "expected {\"ticket\": {...}}");
        };
        let agent = d.agent_id;
        let forms: Vec<u64> = d.ticket_forms.iter().map(|f| f.id).collect();
        let Some(t) = d.tickets.iter_mut().find(|t| t.id == id) else { return not_found() };
        if t.status == "closed" {
            return closed_ticket();
        }
        let status = changes.get("status").and_then(Value::as_str);
        if let Some(s) = status {
            if !STATUSES.contains(&s) {
                return invalid("status", &format!("Status: {s} is not a valid status"));
            }
        }
        if let Some(form) = changes.get("ticket_form_id").and_then(Value::as_u64) {
            if !forms.contains(&form) {
                return invalid("ticket_form_id", &format!("Ticket form: {form} does not exist"));
            }
            t.ticket_form_id = Some(form);
        }
        if let Some(comment) = changes.get("comment") {
            let text = comment.get("body").and_then(Value::as_str).unwrap_or("").to_owned();
            if text.trim().is_empty() {
                return invalid("comment", "Comment: body cannot be blank");
            }
            let public = comment.get("public").and_then(Value::as_bool).unwrap_or(true);
            // An agent may post on an end user's behalf (`comment.author_id`), as Zendesk allows.
            let author_id = comment.get("author_id").and_then(Value::as_u64).unwrap_or(agent);
            t.comments.push(ZdComment { id: fresh(next_id), author_id, body: text, public, created_at: clock::now() });
        }
        if let Some(s) = status {
            t.status = s.to_owned();
        }
        if let Some(tags) = changes.get("tags").and_then(Value::as_array) {
            t.tags = tags.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        }
        if let Some(fields) = changes.get("custom_fields").and_then(Value::as_array) {
            for f in fields {
                let Some(fid) = f.get("id").and_then(Value::as_u64) else { continue };
                let value = f.get("value").cloned().unwrap_or(Value::Null);
                match t.custom_fields.iter_mut().find(|c| c.id == fid) {
                    Some(c) => c.value = value,
                    None => t.custom_fields.push(super::world::ZdCustomField { id: fid, value }),
                }
            }
        }
        let mut audit = shapes::dress(
            &shapes::template(Shape::ZendeskTicketUpdate)["audit"],
            json!({"id": fresh(next_id), "ticket_id": id, "author_id": agent, "created_at": clock::now(), "events": []}),
        );
        let client = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
        audit["metadata"] = json!({"system": {"client": client, "ip_address": "127.0.0.1", "location": "Sandbox",
                                              "latitude": 0.0, "longitude": 0.0}, "custom": {}});
        audit["via"] = json!({"channel": "api", "source": {"from": {}, "to": {}, "rel": null}});
        let ticket = d.tickets.iter().find(|t| t.id == id).map(|t| ticket_json(d, t, &base));
        ok(StatusCode::OK, json!({"ticket": ticket, "audit": audit}))
    })
}

async fn ticket_comments(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, query: Query) -> Reply {
    with_data(&ctx, |d, _| {
        let Some(t) = d.tickets.iter().find(|t| t.id == id) else { return not_found() };
        // Zendesk numbers comments in the order they are written, and Casekit relies on it
        // ("after the request" is a higher id): the opening comment's id is below every comment
        // of the fixture (880 901 and up) and everything the sandbox adds (900 001 and up).
        let opening = ZdComment {
            id: t.id * 10,
            author_id: t.requester_id,
            body: t.description.clone(),
            public: true,
            created_at: t.created_at.clone(),
        };
        let items = std::iter::once(&opening).chain(&t.comments).map(|c| comment_json(c, c.id + 1)).collect();
        cursor_page(&headers, &format!("/api/v2/tickets/{id}/comments"), &query, "comments", items)
    })
}

/// A ticket form in the shape Zendesk's API reference gives (`tests/contract/zendesk/ticket_forms.json`).
fn form_json(f: &ZdTicketForm, position: usize, base: &str) -> Value {
    shapes::dress(
        &shapes::template(Shape::ZendeskTicketForms)["ticket_forms"][0],
        json!({"id": f.id, "url": format!("{base}/api/v2/ticket_forms/{}.json", f.id), "name": f.name, "raw_name": f.name,
               "display_name": f.name, "raw_display_name": f.name, "end_user_visible": true, "position": position + 1,
               "ticket_field_ids": f.ticket_field_ids, "active": f.active, "default": position == 0, "in_all_brands": true,
               "restricted_brand_ids": [], "end_user_conditions": [], "agent_conditions": f.agent_conditions,
               "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "deleted_at": null}),
    )
}

/// A ticket field in the shape Zendesk sends (`tests/contract/zendesk/ticket_fields.json`): the
/// recorded field of the same type, our data laid over (a system field keeps its recorded
/// `system_field_options`).
fn field_json(f: &ZdTicketField, position: usize, base: &str) -> Value {
    let recorded = shapes::template(Shape::ZendeskTicketFields)["ticket_fields"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["type"] == f.kind.as_str()).or_else(|| all.iter().find(|r| r["type"] == "text")));
    let mut v = shapes::dress(
        recorded.unwrap_or(&Value::Null),
        json!({"url": format!("{base}/api/v2/ticket_fields/{}.json", f.id), "id": f.id, "type": f.kind,
               "title": f.title, "raw_title": f.title, "description": f.title, "raw_description": f.title,
               "position": position + 1, "active": f.active, "required": f.required, "title_in_portal": f.title,
               "raw_title_in_portal": f.title, "removable": f.removable,
               "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"}),
    );
    if !f.custom_field_options.is_empty() {
        v["custom_field_options"] = json!(f
            .custom_field_options
            .iter()
            .map(|o| json!({"id": o.id, "name": o.name, "raw_name": o.name, "value": o.value, "default": false}))
            .collect::<Vec<_>>());
    }
    v
}

async fn ticket_forms(State(ctx): State<Ctx>, headers: HeaderMap, query: Query) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| {
        let items = d.ticket_forms.iter().enumerate().map(|(i, f)| form_json(f, i, &base)).collect();
        list_page(&headers, "/api/v2/ticket_forms", &query, "ticket_forms", items)
    })
}

async fn ticket_fields(State(ctx): State<Ctx>, headers: HeaderMap, query: Query) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, |d, _| {
        let items = d.ticket_fields.iter().enumerate().map(|(i, f)| field_json(f, i, &base)).collect();
        list_page(&headers, "/api/v2/ticket_fields", &query, "ticket_fields", items)
    })
}
