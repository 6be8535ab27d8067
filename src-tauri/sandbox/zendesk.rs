//! Simulated Zendesk Support API v2, one server per instance (global and US Government):
//! wrapped JSON bodies, Basic `{email}/token:{token}` auth, cursor pagination for comments and
//! memberships, offset pagination for user search, `X-Rate-Limit` headers.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use super::world::{ZdComment, ZdIdentity, ZdOrgMembership, ZdTicket, ZdUser, ZendeskData};
use super::{base_url, basic_auth, parse_json, Ctx, Query, Service, World};
use crate::clock;

type Reply = Response<Body>;

pub(super) fn router() -> Router<Ctx> {
    Router::new()
        .route("/api/v2/users/me", get(me))
        .route("/api/v2/users/search", get(search_users))
        .route("/api/v2/users/{id}", get(show_user).put(update_user))
        .route("/api/v2/users/{id}/identities", get(list_identities).post(add_identity))
        .route("/api/v2/users/{id}/identities/{iid}/make_primary", put(make_primary))
        .route("/api/v2/users/{id}/identities/{iid}/verify", put(verify_identity))
        .route("/api/v2/users/{id}/sessions", get(list_sessions).delete(delete_sessions))
        .route("/api/v2/users/{id}/organizations/{org}", delete(leave_organization))
        .route("/api/v2/organization_memberships", post(add_membership))
        .route("/api/v2/organizations/{id}", get(show_organization))
        .route("/api/v2/organizations/{id}/organization_memberships", get(organization_memberships))
        .route("/api/v2/tickets/{id}", get(show_ticket).put(update_ticket))
        .route("/api/v2/tickets/{id}/comments", get(ticket_comments))
        .route("/api/v2/ticket_forms", get(ticket_forms))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "InvalidEndpoint", "Not found") })
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
    with_rate_headers((status, Json(body)).into_response())
}

/// A 422 with Zendesk's `details` shape.
fn invalid(field: &str, description: &str) -> Reply {
    with_rate_headers(
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "RecordInvalid", "description": "Record validation errors",
                        "details": {field: [{"description": description, "error": "InvalidValue"}]}})),
        )
            .into_response(),
    )
}

fn with_rate_headers(mut resp: Reply) -> Reply {
    let h = resp.headers_mut();
    h.insert("x-rate-limit", HeaderValue::from_static("700"));
    h.insert("x-rate-limit-remaining", HeaderValue::from_static("699"));
    resp
}

fn ok(status: StatusCode, body: Value) -> Reply {
    with_rate_headers((status, Json(body)).into_response())
}

fn data<'w>(ctx: &Ctx, w: &'w mut World) -> &'w mut ZendeskData {
    if ctx.service == Service::ZendeskUsGov {
        &mut w.zendesk_us_gov
    } else {
        &mut w.zendesk
    }
}

/// Checks `Authorization: Basic {agent_email}/token:{api_token}`.
fn authenticate(ctx: &Ctx, headers: &HeaderMap) -> Result<(), Reply> {
    let token = if ctx.service == Service::ZendeskUsGov { &ctx.shared.tokens.zendesk_us_gov } else { &ctx.shared.tokens.zendesk };
    let denied = || error(StatusCode::UNAUTHORIZED, "", "");
    let (user, pass) = basic_auth(headers).ok_or_else(denied)?;
    let email = user.strip_suffix("/token").ok_or_else(denied)?;
    let mut w = ctx.world();
    let d = data(ctx, &mut w);
    let agent_email = d.users.iter().find(|u| u.id == d.agent_id).map(|u| u.email.as_str()).unwrap_or_default();
    if pass == *token && email.eq_ignore_ascii_case(agent_email) {
        Ok(())
    } else {
        Err(denied())
    }
}

/// Runs `f` over this instance's data after authenticating.
fn with_data(ctx: &Ctx, headers: &HeaderMap, f: impl FnOnce(&mut ZendeskData, &mut u64) -> Reply) -> Reply {
    if let Err(r) = authenticate(ctx, headers) {
        return r;
    }
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

fn user_json(u: &ZdUser, base: &str) -> Value {
    json!({"id": u.id, "url": format!("{base}/api/v2/users/{}.json", u.id), "name": u.name, "email": u.email,
           "role": u.role, "suspended": u.suspended, "notes": u.notes, "organization_id": u.organization_id,
           "created_at": u.created_at, "verified": true, "active": true})
}

fn identity_json(user_id: u64, i: &ZdIdentity) -> Value {
    json!({"id": i.id, "user_id": user_id, "type": i.kind, "value": i.value, "verified": i.verified, "primary": i.primary})
}

fn ticket_json(t: &ZdTicket, base: &str) -> Value {
    json!({"id": t.id, "url": format!("{base}/api/v2/tickets/{}.json", t.id), "subject": t.subject,
           "description": t.description, "status": t.status, "requester_id": t.requester_id,
           "submitter_id": t.requester_id, "organization_id": t.organization_id, "ticket_form_id": t.ticket_form_id,
           "tags": t.tags, "custom_fields": t.custom_fields, "collaborator_ids": t.collaborator_ids,
           "created_at": t.created_at, "updated_at": t.comments.last().map_or(t.created_at.as_str(), |c| c.created_at.as_str())})
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

// ---------------------------------------------------------------- users

async fn me(State(ctx): State<Ctx>, headers: HeaderMap) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, &headers, |d, _| match d.users.iter().find(|u| u.id == d.agent_id) {
        Some(u) => ok(StatusCode::OK, json!({"user": user_json(u, &base)})),
        None => not_found(),
    })
}

async fn search_users(State(ctx): State<Ctx>, headers: HeaderMap, query: Query) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, &headers, |d, _| {
        let Some(q) = query.get("query").map(|q| q.trim().to_lowercase()) else {
            return error(StatusCode::BAD_REQUEST, "InvalidSearch", "query is required, e.g. query=email:someone@example.com");
        };
        let per_page = query.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(100).clamp(1, 100);
        let page = query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
        if page * per_page > 10_000 {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidPaginationParameter",
                "offset pagination is limited to 10,000 records",
            );
        }
        let matched: Vec<Value> = d
            .users
            .iter()
            .filter(|u| match q.strip_prefix("email:") {
                Some(email) => u.identities.iter().any(|i| i.kind == "email" && i.value.eq_ignore_ascii_case(email)),
                None => u.name.to_lowercase().contains(&q) || u.email.to_lowercase().contains(&q),
            })
            .map(|u| user_json(u, &base))
            .collect();
        let count = matched.len();
        let users: Vec<Value> = matched.into_iter().skip((page - 1) * per_page).take(per_page).collect();
        let link = |p: usize| {
            let qs = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("query", &q)
                .append_pair("page", &p.to_string())
                .append_pair("per_page", &per_page.to_string())
                .finish();
            json!(format!("{base}/api/v2/users/search.json?{qs}"))
        };
        let next = if page * per_page < count { link(page + 1) } else { Value::Null };
        let prev = if page > 1 { link(page - 1) } else { Value::Null };
        ok(StatusCode::OK, json!({"users": users, "next_page": next, "previous_page": prev, "count": count}))
    })
}

async fn show_user(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, &headers, |d, _| match d.users.iter().find(|u| u.id == id) {
        Some(u) => ok(StatusCode::OK, json!({"user": user_json(u, &base)})),
        None => not_found(),
    })
}

async fn update_user(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, body: Bytes) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, &headers, |d, next_id| {
        let body: Value = match parse_json(&body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidJSON", &e),
        };
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
    with_data(&ctx, &headers, |d, _| {
        let Some(u) = d.users.iter().find(|u| u.id == id) else { return not_found() };
        let items = u.identities.iter().map(|i| identity_json(u.id, i)).collect();
        cursor_page(&headers, &format!("/api/v2/users/{id}/identities"), &query, "identities", items)
    })
}

async fn add_identity(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, body: Bytes) -> Reply {
    with_data(&ctx, &headers, |d, next_id| {
        let body: Value = match parse_json(&body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidJSON", &e),
        };
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

async fn make_primary(State(ctx): State<Ctx>, headers: HeaderMap, Path((id, iid)): Path<(u64, u64)>) -> Reply {
    with_data(&ctx, &headers, |d, _| {
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

async fn verify_identity(State(ctx): State<Ctx>, headers: HeaderMap, Path((id, iid)): Path<(u64, u64)>) -> Reply {
    with_data(&ctx, &headers, |d, _| {
        let Some(u) = d.users.iter_mut().find(|u| u.id == id) else { return not_found() };
        let Some(i) = u.identities.iter_mut().find(|i| i.id == iid) else { return not_found() };
        i.verified = true;
        let reply = identity_json(id, i);
        ok(StatusCode::OK, json!({"identity": reply}))
    })
}

async fn list_sessions(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    with_data(&ctx, &headers, |d, _| {
        let Some(u) = d.users.iter().find(|u| u.id == id) else { return not_found() };
        let sessions: Vec<Value> = (1..=u.sessions)
            .map(|k| json!({"id": u.id * 100 + u64::from(k), "user_id": u.id, "authenticated_at": "2026-11-20T08:00:00Z", "last_seen_at": "2026-11-21T18:30:00Z"}))
            .collect();
        ok(StatusCode::OK, json!({"sessions": sessions}))
    })
}

async fn delete_sessions(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    with_data(&ctx, &headers, |d, _| {
        let Some(u) = d.users.iter_mut().find(|u| u.id == id) else { return not_found() };
        u.sessions = 0;
        with_rate_headers(StatusCode::NO_CONTENT.into_response())
    })
}

// ---------------------------------------------------------------- organizations

async fn add_membership(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Reply {
    with_data(&ctx, &headers, |d, next_id| {
        let body: Value = match parse_json(&body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidJSON", &e),
        };
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

async fn leave_organization(State(ctx): State<Ctx>, headers: HeaderMap, Path((id, org)): Path<(u64, u64)>) -> Reply {
    with_data(&ctx, &headers, |d, _| {
        let Some(pos) = d.organization_memberships.iter().position(|m| m.user_id == id && m.organization_id == org) else {
            return not_found();
        };
        d.organization_memberships.remove(pos);
        if let Some(u) = d.users.iter_mut().find(|u| u.id == id && u.organization_id == Some(org)) {
            u.organization_id = None;
        }
        with_rate_headers(StatusCode::NO_CONTENT.into_response())
    })
}

async fn show_organization(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    with_data(&ctx, &headers, |d, _| match d.organizations.iter().find(|o| o.id == id) {
        Some(o) => ok(StatusCode::OK, json!({"organization": o})),
        None => not_found(),
    })
}

async fn organization_memberships(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, query: Query) -> Reply {
    with_data(&ctx, &headers, |d, _| {
        if !d.organizations.iter().any(|o| o.id == id) {
            return not_found();
        }
        let items = d.organization_memberships.iter().filter(|m| m.organization_id == id).map(|m| json!(m)).collect();
        let path = format!("/api/v2/organizations/{id}/organization_memberships");
        cursor_page(&headers, &path, &query, "organization_memberships", items)
    })
}

// ---------------------------------------------------------------- tickets

async fn show_ticket(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, &headers, |d, _| match d.tickets.iter().find(|t| t.id == id) {
        Some(t) => ok(StatusCode::OK, json!({"ticket": ticket_json(t, &base)})),
        None => not_found(),
    })
}

const STATUSES: [&str; 6] = ["new", "open", "pending", "hold", "solved", "closed"];

async fn update_ticket(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, body: Bytes) -> Reply {
    let base = base_url(&headers);
    with_data(&ctx, &headers, |d, next_id| {
        let body: Value = match parse_json(&body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidJSON", &e),
        };
        let Some(changes) = body.get("ticket").and_then(Value::as_object) else {
            return error(StatusCode::BAD_REQUEST, "InvalidJSON", "expected {\"ticket\": {...}}");
        };
        let agent = d.agent_id;
        let forms: Vec<u64> = d.ticket_forms.iter().map(|f| f.id).collect();
        let Some(t) = d.tickets.iter_mut().find(|t| t.id == id) else { return not_found() };
        if t.status == "closed" {
            return invalid("status", "Status: closed prevents ticket update");
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
        ok(
            StatusCode::OK,
            json!({"ticket": ticket_json(t, &base), "audit": {"id": fresh(next_id), "ticket_id": id, "author_id": agent}}),
        )
    })
}

async fn ticket_comments(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>, query: Query) -> Reply {
    with_data(&ctx, &headers, |d, _| {
        let Some(t) = d.tickets.iter().find(|t| t.id == id) else { return not_found() };
        let opening = json!({"id": t.id * 1000, "author_id": t.requester_id, "body": t.description, "public": true, "created_at": t.created_at});
        let items = std::iter::once(opening).chain(t.comments.iter().map(|c| json!(c))).collect();
        cursor_page(&headers, &format!("/api/v2/tickets/{id}/comments"), &query, "comments", items)
    })
}

async fn ticket_forms(State(ctx): State<Ctx>, headers: HeaderMap) -> Reply {
    with_data(&ctx, &headers, |d, _| ok(StatusCode::OK, json!({"ticket_forms": d.ticket_forms, "count": d.ticket_forms.len()})))
}
