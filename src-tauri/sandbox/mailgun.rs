//! Simulated Mailgun: the events API with `paging.next` URLs, bounces (suppressions), and the
//! domain, behind Basic `api:{key}` auth.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use super::shapes::{self, Shape};
use super::{base_url, basic_auth, Ctx, Query, Reply};

/// Every route names a domain and needs the account's API key ([`authenticate`]).
pub(super) fn router(ctx: &Ctx) -> Router<Ctx> {
    Router::new()
        .route("/v3/domains/{domain}", get(show_domain))
        .route("/v3/{domain}/events", get(events))
        .route("/v3/{domain}/events/{page}", get(events_page))
        .route("/v3/{domain}/bounces/{address}", get(show_bounce).delete(delete_bounce))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), authenticate))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
}

/// Mailgun's error body: `{"message": …}` (a bare `Forbidden` for bad credentials).
pub(super) fn error(status: StatusCode, message: &str) -> Reply {
    if status == StatusCode::UNAUTHORIZED {
        return (status, [(header::CONTENT_TYPE, "text/plain")], "Forbidden").into_response();
    }
    (status, Json(json!({ "message": message }))).into_response()
}

/// Lets a request through to its handler only with Basic `api:{key}` and for the account's
/// own domain.
async fn authenticate(State(ctx): State<Ctx>, Path(params): Path<HashMap<String, String>>, req: Request, next: Next) -> Reply {
    match basic_auth(req.headers()) {
        Some((user, key)) if user == "api" && key == ctx.shared.tokens.mailgun => {}
        _ => return error(StatusCode::UNAUTHORIZED, ""),
    }
    let domain = params.get("domain").map_or("", String::as_str);
    if !ctx.world().mailgun.domain.eq_ignore_ascii_case(domain) {
        return error(StatusCode::NOT_FOUND, &format!("Domain not found: {domain}"));
    }
    next.run(req).await
}

async fn show_domain(Path(domain): Path<String>) -> Reply {
    let data = json!({"domain": {"name": domain, "state": "active", "type": "custom", "created_at": "Tue, 14 Jan 2020 09:00:00 GMT",
                                 "spam_action": "disabled", "wildcard": false, "id": "5e1d8a7e0000000000000000",
                                 "smtp_login": format!("postmaster@{domain}"), "is_disabled": false}});
    Json(shapes::shaped(Shape::MailgunDomain, data)).into_response()
}

const MAX_LIMIT: usize = 300;

/// An event of the world in Mailgun's full shape for its kind (delivered, failed, accepted…);
/// the template's sample routing, tags and variables are replaced by this event's.
fn dress_event(e: Value) -> Value {
    let recipient = e.get("recipient").and_then(Value::as_str).unwrap_or_default().to_owned();
    let kind = e.get("event").and_then(Value::as_str).unwrap_or_default().to_owned();
    let template = shapes::item(Shape::MailgunEvents, "event", &kind);
    let domain = recipient.rsplit_once('@').map_or("", |(_, d)| d).to_owned();
    let routing = json!({"recipient-domain": domain, "tags": [], "campaigns": [], "user-variables": {},
                         "envelope": {"targets": recipient}, "storage": null});
    shapes::dress(&shapes::dress_known(template, routing), e)
}

/// The filters of an events query and where the next page starts.
fn page_token(filters: &BTreeMap<String, String>, offset: usize) -> String {
    let raw = json!({"f": filters, "o": offset}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn read_token(token: &str) -> Option<(BTreeMap<String, String>, usize)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    let filters = serde_json::from_value(v.get("f")?.clone()).ok()?;
    Some((filters, v.get("o")?.as_u64()? as usize))
}

/// A time filter: epoch seconds or an RFC 2822 date.
fn parse_time(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().or_else(|| {
        let t = httpdate::parse_http_date(s).ok()?;
        Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
    })
}

async fn events(State(ctx): State<Ctx>, headers: HeaderMap, Path(domain): Path<String>, query: Query) -> Reply {
    let filters: BTreeMap<String, String> = query.0.into_iter().collect();
    serve_events(&ctx, &headers, &domain, filters, 0)
}

async fn events_page(State(ctx): State<Ctx>, headers: HeaderMap, Path((domain, page)): Path<(String, String)>) -> Reply {
    match read_token(&page) {
        Some((filters, offset)) => serve_events(&ctx, &headers, &domain, filters, offset),
        None => error(StatusCode::BAD_REQUEST, "Invalid page token"),
    }
}

fn serve_events(ctx: &Ctx, headers: &HeaderMap, domain: &str, filters: BTreeMap<String, String>, offset: usize) -> Reply {
    let limit = match filters.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "Parameter 'limit' must be between 1 and 300"),
    };
    let mut bounds = [None, None];
    for (i, key) in ["begin", "end"].into_iter().enumerate() {
        if let Some(v) = filters.get(key) {
            match parse_time(v) {
                Some(t) => bounds[i] = Some(t),
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!("Parameter '{key}' is not a valid date (epoch seconds or RFC 2822)"),
                    )
                }
            }
        }
    }
    let text = |e: &Value, ptr: &str| e.pointer(ptr).and_then(Value::as_str).unwrap_or("").to_lowercase();
    let mut items: Vec<Value> = ctx
        .world()
        .mailgun
        .events
        .iter()
        .filter(|e| filters.get("recipient").is_none_or(|r| text(e, "/recipient") == r.to_lowercase()))
        .filter(|e| {
            filters.get("event").is_none_or(|ev| ev.split(" OR ").any(|one| text(e, "/event") == one.trim().to_lowercase()))
        })
        .filter(|e| filters.get("subject").is_none_or(|s| text(e, "/message/headers/subject").contains(&s.to_lowercase())))
        .filter(|e| {
            let ts = e.get("timestamp").and_then(Value::as_f64).unwrap_or(0.0);
            bounds[0].is_none_or(|b| ts >= b) && bounds[1].is_none_or(|b| ts <= b)
        })
        .cloned()
        .collect();
    let ts = |e: &Value| e.get("timestamp").and_then(Value::as_f64).unwrap_or(0.0);
    items.sort_by(|a, b| ts(b).total_cmp(&ts(a)));
    if filters.get("ascending").map(String::as_str) == Some("yes") {
        items.reverse();
    }
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).map(dress_event).collect();
    let base = format!("{}/v3/{domain}/events", base_url(headers));
    let next = format!("{base}/{}", page_token(&filters, offset + page.len()));
    let first = format!("{base}/{}", page_token(&filters, 0));
    let previous = format!("{base}/{}", page_token(&filters, offset.saturating_sub(limit)));
    Json(json!({"items": page, "paging": {"next": next, "previous": previous, "first": first, "last": first}})).into_response()
}

async fn show_bounce(State(ctx): State<Ctx>, Path((_, address)): Path<(String, String)>) -> Reply {
    let w = ctx.world();
    match w.mailgun.bounces.iter().find(|b| b.address.eq_ignore_ascii_case(&address)) {
        Some(b) => Json(shapes::shaped(Shape::MailgunBounce, json!(b))).into_response(),
        None => error(StatusCode::NOT_FOUND, "Address not found in bounces table"),
    }
}

async fn delete_bounce(State(ctx): State<Ctx>, Path((_, address)): Path<(String, String)>) -> Reply {
    let mut w = ctx.world();
    let before = w.mailgun.bounces.len();
    w.mailgun.bounces.retain(|b| !b.address.eq_ignore_ascii_case(&address));
    if w.mailgun.bounces.len() == before {
        return error(StatusCode::NOT_FOUND, "Address not found in bounces table");
    }
    Json(json!({"message": "Bounced addresses for this domain have been removed", "address": address})).into_response()
}
