//! Simulated CustomersDot admin API: Casekit's own contract for what the admin screens do
//! (docs/customersdot-api.md), behind `Authorization: Bearer`.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::world::{CdAuditEvent, CdCustomer, CdMembership, CustomersDotData, PortalMail, SignInLinkRecord};
use super::{base_url, bearer, random_token, Ctx, JsonBody, Query, Reply};
use crate::clock;

const BASE: &str = "/admin/api/v1";

/// Every route needs the admin API token ([`authenticate`]).
pub(super) fn router(ctx: &Ctx) -> Router<Ctx> {
    Router::new()
        .route(&format!("{BASE}/whoami"), get(whoami))
        .route(&format!("{BASE}/customers"), get(find_customers))
        .route(&format!("{BASE}/customers/{{id}}"), get(show_customer))
        .route(&format!("{BASE}/customers/{{id}}/resend_confirmation"), post(resend_confirmation))
        .route(&format!("{BASE}/customers/{{id}}/send_one_time_sign_in_link"), post(send_one_time_sign_in_link))
        .route(&format!("{BASE}/customers/{{id}}/unlink_gitlab_user"), post(unlink_gitlab_user))
        .route(&format!("{BASE}/customers/{{id}}/support_audit_events"), get(audit_events))
        .route(&format!("{BASE}/billing_accounts/{{id}}"), get(show_billing_account))
        .route(&format!("{BASE}/billing_account_memberships"), post(add_membership))
        .route(&format!("{BASE}/billing_account_memberships/{{id}}"), delete(remove_membership))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), authenticate))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "No such endpoint") })
}

/// The contract's error body: `{"error": code, "message": text}`.
pub(super) fn error(status: StatusCode, message: &str) -> Reply {
    let code = match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        _ => "server_error",
    };
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

/// Lets a request through to its handler only with `Authorization: Bearer {admin token}`.
async fn authenticate(State(ctx): State<Ctx>, req: Request, next: Next) -> Reply {
    match bearer(req.headers()) {
        Some(t) if t == ctx.shared.tokens.customersdot => next.run(req).await,
        _ => error(StatusCode::UNAUTHORIZED, "Missing or invalid admin API token"),
    }
}

fn customer_json(d: &CustomersDotData, c: &CdCustomer) -> Value {
    let membership = d.billing_account_memberships.iter().find(|m| m.customer_id == c.id);
    json!({"id": c.id, "email": c.email, "first_name": c.first_name, "last_name": c.last_name,
           "confirmed_at": c.confirmed_at, "confirmation_sent_at": c.confirmation_sent_at,
           "login_activated": c.login_activated, "uid": c.uid, "created_via": c.created_via,
           "created_at": c.created_at, "billing_account_membership": membership})
}

/// Runs `f` over the customers, their audit events and the id counter.
fn with_customers(ctx: &Ctx, f: impl FnOnce(&mut CustomersDotData, &mut Vec<CdAuditEvent>, &mut u64) -> Reply) -> Reply {
    let mut w = ctx.world();
    let mut next_id = w.next_id;
    let mut audit = std::mem::take(&mut w.cd_audit);
    let reply = f(&mut w.customersdot, &mut audit, &mut next_id);
    w.cd_audit = audit;
    w.next_id = next_id;
    reply
}

fn not_found() -> Reply {
    error(StatusCode::NOT_FOUND, "Customer not found")
}

async fn whoami(State(ctx): State<Ctx>) -> Reply {
    with_customers(&ctx, |d, _, _| Json(json!({"admin": {"email": d.admin_email}})).into_response())
}

async fn find_customers(State(ctx): State<Ctx>, query: Query) -> Reply {
    with_customers(&ctx, |d, _, _| {
        let matches: Vec<Value> = if let Some(email) = query.get("email") {
            d.customers.iter().filter(|c| c.email.eq_ignore_ascii_case(email.trim())).map(|c| customer_json(d, c)).collect()
        } else if let Some(uid) = query.get("uid") {
            let Ok(uid) = uid.parse::<u64>() else { return error(StatusCode::BAD_REQUEST, "uid must be a number") };
            d.customers.iter().filter(|c| c.uid == Some(uid)).map(|c| customer_json(d, c)).collect()
        } else if let Some(name) = query.get("name") {
            let name = name.trim().to_lowercase();
            d.customers
                .iter()
                .filter(|c| format!("{} {}", c.first_name, c.last_name).to_lowercase().contains(&name))
                .map(|c| customer_json(d, c))
                .collect()
        } else {
            return error(StatusCode::BAD_REQUEST, "Give one of email, name or uid");
        };
        Json(json!({"customers": matches})).into_response()
    })
}

async fn show_customer(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Reply {
    with_customers(&ctx, |d, _, _| match d.customers.iter().find(|c| c.id == id) {
        Some(c) => Json(json!({"customer": customer_json(d, c)})).into_response(),
        None => not_found(),
    })
}

async fn resend_confirmation(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Reply {
    with_customers(&ctx, |d, audit, next_id| {
        let Some(c) = d.customers.iter_mut().find(|c| c.id == id) else { return not_found() };
        if c.confirmed_at.is_some() {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "The customer is already confirmed");
        }
        c.confirmation_sent_at = Some(clock::now());
        *next_id += 1;
        audit.push(CdAuditEvent {
            id: *next_id,
            customer_id: id,
            action: "resend_confirmation".into(),
            ticket_url: None,
            details: json!({}),
            created_at: clock::now(),
        });
        let c = c.clone();
        (StatusCode::ACCEPTED, Json(json!({"customer": customer_json(d, &c)}))).into_response()
    })
}

/// Emails a new one-time sign-in link to the customer's own address; every earlier link of
/// the customer stops working. The answer never carries the link.
async fn send_one_time_sign_in_link(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    let base = base_url(&headers);
    let mut w = ctx.world();
    let Some(c) = w.customersdot.customers.iter().find(|c| c.id == id).cloned() else { return not_found() };
    let token = random_token(24);
    let last4: String = token[token.len() - 4..].to_owned();
    let url = format!("{base}/customers/sign_in_once/{token}");
    let now = clock::now();
    let expires = clock::rfc3339(std::time::SystemTime::now() + std::time::Duration::from_secs(24 * 3600));
    for m in w.cd_mail.iter_mut() {
        if let Some(l) = m.link.as_mut().filter(|l| l.customer_id == id) {
            l.used = true;
        }
    }
    w.cd_mail.push(PortalMail {
        to: c.email.clone(),
        subject: "Your one-time sign-in link".into(),
        body: format!(
            "Hello {},\n\nUse this link to sign in to the GitLab customers portal. It works once, until {expires}:\n{url}\n",
            c.first_name
        ),
        sent_at: now.clone(),
        link: Some(SignInLinkRecord { customer_id: id, url, expires_at: expires.clone(), used: false }),
    });
    let event_id = w.id();
    w.cd_audit.push(CdAuditEvent {
        id: event_id,
        customer_id: id,
        action: "one_time_sign_in_link_sent".into(),
        ticket_url: None,
        details: json!({"sent_to": c.email, "last4": last4, "expires_at": expires}),
        created_at: now.clone(),
    });
    let sent = json!({"sent_to": c.email, "sent_at": now, "expires_at": expires, "last4": last4});
    (StatusCode::CREATED, Json(json!({"sign_in_link": sent}))).into_response()
}

impl super::Sandbox {
    /// The mails the customers portal sent to `to` (the customer's mailbox), oldest first.
    pub fn portal_mail(&self, to: &str) -> Vec<PortalMail> {
        self.shared
            .world
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .cd_mail
            .iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to))
            .cloned()
            .collect()
    }

    /// The customer opens a one-time sign-in link: it works once, only while it is the newest
    /// link of that customer, until it expires. Returns the portal account's email.
    pub fn portal_sign_in_with_link(&self, url: &str) -> crate::Result<String> {
        let mut w = self.shared.world.lock().unwrap_or_else(|p| p.into_inner());
        let now = clock::now();
        let link = w
            .cd_mail
            .iter_mut()
            .filter_map(|m| m.link.as_mut())
            .find(|l| l.url == url)
            .ok_or_else(|| crate::Error::NotFound("The customers portal does not know that sign-in link.".into()))?;
        if link.used || link.expires_at < now {
            return Err(crate::Error::Rejected(
                "That sign-in link has expired or was replaced by a newer one: request a new one.".into(),
            ));
        }
        link.used = true;
        let id = link.customer_id;
        w.customersdot
            .customers
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.email.clone())
            .ok_or_else(|| crate::Error::NotFound("The portal account is gone.".into()))
    }
}

fn valid_ticket_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && s.contains("/tickets/")
}

async fn unlink_gitlab_user(State(ctx): State<Ctx>, Path(id): Path<u64>, JsonBody(body): JsonBody) -> Reply {
    with_customers(&ctx, |d, audit, next_id| {
        let Some(ticket_url) = body.get("ticket_url").and_then(Value::as_str).filter(|u| valid_ticket_url(u)) else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "ticket_url is required: the Zendesk ticket link that asked for the unlink",
            );
        };
        let Some(c) = d.customers.iter_mut().find(|c| c.id == id) else { return not_found() };
        let Some(uid) = c.uid.take() else {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "The customer has no linked GitLab user");
        };
        *next_id += 1;
        audit.push(CdAuditEvent {
            id: *next_id,
            customer_id: id,
            action: "unlink_gitlab_user".into(),
            ticket_url: Some(ticket_url.to_owned()),
            details: json!({"uid": uid}),
            created_at: clock::now(),
        });
        let c = c.clone();
        Json(json!({"customer": customer_json(d, &c)})).into_response()
    })
}

async fn audit_events(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Reply {
    with_customers(&ctx, |d, audit, _| {
        if !d.customers.iter().any(|c| c.id == id) {
            return not_found();
        }
        let events: Vec<&CdAuditEvent> = audit.iter().filter(|e| e.customer_id == id).collect();
        Json(json!({"events": events})).into_response()
    })
}

async fn show_billing_account(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Reply {
    with_customers(&ctx, |d, _, _| {
        let Some(b) = d.billing_accounts.iter().find(|b| b.id == id) else {
            return error(StatusCode::NOT_FOUND, "Billing account not found");
        };
        let memberships: Vec<&CdMembership> =
            d.billing_account_memberships.iter().filter(|m| m.billing_account_id == id).collect();
        let mut v = json!(b);
        v["memberships"] = json!(memberships);
        Json(json!({"billing_account": v})).into_response()
    })
}

async fn add_membership(State(ctx): State<Ctx>, JsonBody(body): JsonBody) -> Reply {
    with_customers(&ctx, |d, audit, next_id| {
        let (Some(customer_id), Some(billing_account_id)) =
            (body.get("customer_id").and_then(Value::as_u64), body.get("billing_account_id").and_then(Value::as_u64))
        else {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "customer_id and billing_account_id are required");
        };
        if !d.customers.iter().any(|c| c.id == customer_id) {
            return not_found();
        }
        if !d.billing_accounts.iter().any(|b| b.id == billing_account_id) {
            return error(StatusCode::NOT_FOUND, "Billing account not found");
        }
        if d.billing_account_memberships.iter().any(|m| m.customer_id == customer_id) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The customer already has a billing account membership (at most one)",
            );
        }
        *next_id += 1;
        let m = CdMembership { id: *next_id, customer_id, billing_account_id, created_at: clock::now() };
        *next_id += 1;
        audit.push(CdAuditEvent {
            id: *next_id,
            customer_id,
            action: "billing_account_membership_added".into(),
            ticket_url: None,
            details: json!({"billing_account_id": billing_account_id}),
            created_at: clock::now(),
        });
        d.billing_account_memberships.push(m.clone());
        (StatusCode::CREATED, Json(json!({"billing_account_membership": m}))).into_response()
    })
}

async fn remove_membership(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Reply {
    with_customers(&ctx, |d, audit, next_id| {
        let Some(pos) = d.billing_account_memberships.iter().position(|m| m.id == id) else {
            return error(StatusCode::NOT_FOUND, "Billing account membership not found");
        };
        let m = d.billing_account_memberships.remove(pos);
        *next_id += 1;
        audit.push(CdAuditEvent {
            id: *next_id,
            customer_id: m.customer_id,
            action: "billing_account_membership_removed".into(),
            ticket_url: None,
            details: json!({"billing_account_id": m.billing_account_id}),
            created_at: clock::now(),
        });
        StatusCode::NO_CONTENT.into_response()
    })
}
