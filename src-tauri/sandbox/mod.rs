//! The built-in sandbox: simulated GitLab, Zendesk (global and US Government), Mailgun and
//! CustomersDot servers on 127.0.0.1, speaking the services' REST shapes, seeded from a fixture,
//! with fault injection per endpoint. The app's Sandbox profile, the tests and
//! `casekit sandbox serve` all run these same servers.

// A handler's early exit is the HTTP answer itself (`Result<_, Response>`): it is moved once
// per request, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod customersdot;
pub mod faults;
mod gitlab;
mod mailgun;
mod shapes;
pub mod world;
mod zendesk;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, State};
use axum::http::{header, HeaderMap, Request, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use self::faults::{Fault, FaultRule, Faults};
use self::world::{CdAuditEvent, Fixture};
pub use crate::service::Service;
use crate::{Error, Result};

/// Where to listen and what to serve.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub bind: IpAddr,
    /// GitLab listens here and the others on the next four ports; 0 picks free ports.
    pub base_port: u16,
    pub fixture: Fixture,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig { bind: IpAddr::V4(Ipv4Addr::LOCALHOST), base_port: 0, fixture: Fixture::builtin() }
    }
}

/// How a client reaches each server: what `casekit sandbox serve` prints.
///
/// The tokens are the sandbox's own, made up at start; they unlock nothing real.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxCredentials {
    pub gitlab: GitLabCredentials,
    pub zendesk: ZendeskCredentials,
    pub zendesk_us_gov: ZendeskCredentials,
    pub mailgun: MailgunCredentials,
    pub customersdot: CustomersDotCredentials,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitLabCredentials {
    pub url: String,
    pub admin_token: String,
    pub user_token: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZendeskCredentials {
    pub url: String,
    pub email: String,
    pub token: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MailgunCredentials {
    pub url: String,
    pub domain: String,
    pub api_key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomersDotCredentials {
    pub url: String,
    pub token: String,
}

/// The state every server shares: one world, so that what one service changes the others see.
struct Shared {
    fixture: Fixture,
    world: Mutex<World>,
    faults: Mutex<Faults>,
    tokens: Tokens,
}

/// The tokens each server accepts.
#[derive(Clone)]
struct Tokens {
    gitlab_admin: String,
    gitlab_user: String,
    zendesk: String,
    zendesk_us_gov: String,
    mailgun: String,
    customersdot: String,
}

/// What the servers change.
struct World {
    gitlab: world::GitLabData,
    zendesk: world::ZendeskData,
    zendesk_us_gov: world::ZendeskData,
    mailgun: world::MailgunData,
    customersdot: world::CustomersDotData,
    cd_audit: Vec<CdAuditEvent>,
    /// What the customers portal emailed (one-time sign-in links): the customer's mailbox.
    cd_mail: Vec<world::PortalMail>,
    next_id: u64,
}

impl World {
    fn from_fixture(f: &Fixture) -> World {
        let mut world = World {
            gitlab: f.gitlab.clone(),
            zendesk: f.zendesk.clone(),
            zendesk_us_gov: f.zendesk_us_gov.clone(),
            mailgun: f.mailgun.clone(),
            customersdot: f.customersdot.clone(),
            cd_audit: Vec::new(),
            cd_mail: Vec::new(),
            next_id: 900_000,
        };
        gitlab::generate_events(&mut world.gitlab, &mut world.next_id);
        zendesk::generate_contacts(&mut world.zendesk, &mut world.next_id);
        zendesk::generate_contacts(&mut world.zendesk_us_gov, &mut world.next_id);
        world
    }

    /// A fresh id for anything the sandbox creates.
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// A running sandbox. Dropping it stops the servers.
pub struct Sandbox {
    shared: Arc<Shared>,
    credentials: SandboxCredentials,
    stop: watch::Sender<bool>,
}

/// The state a server's handlers see.
#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    service: Service,
}

impl Ctx {
    fn world(&self) -> MutexGuard<'_, World> {
        self.shared.world.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An answer, or the early exit of a handler or extractor (which is an answer too).
type Reply = Response<Body>;

impl Sandbox {
    /// Binds the five servers and starts serving on the current Tokio runtime.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox> {
        let tokens = Tokens {
            gitlab_admin: format!("glpat-sbx{}", random_token(17)),
            gitlab_user: format!("glpat-sbx{}", random_token(17)),
            zendesk: random_token(40),
            zendesk_us_gov: random_token(40),
            mailgun: format!("key-{}", random_hex(32)),
            customersdot: format!("cdot_sbx_{}", random_token(32)),
        };
        let shared = Arc::new(Shared {
            world: Mutex::new(World::from_fixture(&config.fixture)),
            faults: Mutex::new(Faults::new(config.fixture.faults.clone())),
            fixture: config.fixture,
            tokens,
        });
        let (stop, _) = watch::channel(false);
        let mut urls = Vec::new();
        for (i, service) in Service::ALL.into_iter().enumerate() {
            let port = if config.base_port == 0 { 0 } else { config.base_port.checked_add(i as u16).unwrap_or(0) };
            let addr = SocketAddr::new(config.bind, port);
            let listener = TcpListener::bind(addr).await.map_err(|e| {
                Error::io(format!("The sandbox {service:?} server could not listen on {addr} (choose another --base-port, or 0 for free ports)"), e)
            })?;
            let local = listener.local_addr().map_err(|e| Error::io("The sandbox could not read its address", e))?;
            urls.push(format!("http://{local}"));
            let ctx = Ctx { shared: shared.clone(), service };
            tokio::spawn(serve(listener, ctx, stop.subscribe()));
        }
        let f = &shared.fixture;
        let email_of =
            |z: &world::ZendeskData| z.users.iter().find(|u| u.id == z.agent_id).map(|u| u.email.clone()).unwrap_or_default();
        let t = &shared.tokens;
        let credentials = SandboxCredentials {
            gitlab: GitLabCredentials {
                url: urls[0].clone(),
                admin_token: t.gitlab_admin.clone(),
                user_token: t.gitlab_user.clone(),
            },
            zendesk: ZendeskCredentials { url: urls[1].clone(), email: email_of(&f.zendesk), token: t.zendesk.clone() },
            zendesk_us_gov: ZendeskCredentials {
                url: urls[2].clone(),
                email: email_of(&f.zendesk_us_gov),
                token: t.zendesk_us_gov.clone(),
            },
            mailgun: MailgunCredentials { url: urls[3].clone(), domain: f.mailgun.domain.clone(), api_key: t.mailgun.clone() },
            customersdot: CustomersDotCredentials { url: urls[4].clone(), token: t.customersdot.clone() },
        };
        tracing::info!(gitlab = %credentials.gitlab.url, "sandbox servers started");
        Ok(Sandbox { shared, credentials, stop })
    }

    /// URLs and tokens of the running servers.
    pub fn credentials(&self) -> &SandboxCredentials {
        &self.credentials
    }

    /// Arms a fault (as `POST /_sandbox/faults` does).
    pub fn arm_fault(&self, rule: FaultRule) {
        self.arm_fault_after(0, rule);
    }

    /// Arms a fault that lets `pass` matching requests through first (as
    /// `POST /_sandbox/faults?after=N` does): the second of two updates of one ticket, say.
    pub fn arm_fault_after(&self, pass: u32, rule: FaultRule) {
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).arm_after(pass, rule);
    }

    /// The faults still armed (a counted one disappears after its last hit).
    pub fn armed_faults(&self) -> Vec<FaultRule> {
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).list()
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Adds a public comment from a ticket's requester (the customer's side of a conversation,
    /// for training and tests); returns the comment id.
    pub fn customer_reply(&self, instance: Service, ticket_id: u64, body: &str) -> Result<u64> {
        self.comment_from(instance, ticket_id, None, body)
    }

    /// Adds a public comment by `author` (the requester when `None`), e.g. an owner CC'd on the
    /// ticket giving permission; returns the comment id.
    pub fn comment_from(&self, instance: Service, ticket_id: u64, author: Option<u64>, body: &str) -> Result<u64> {
        self.add_comment(instance, ticket_id, author, true, body)
    }

    /// Adds a comment by `author` (the requester when `None`), public or internal (an internal
    /// note, as agents and light agents write them); returns the comment id.
    pub fn add_comment(&self, instance: Service, ticket_id: u64, author: Option<u64>, public: bool, body: &str) -> Result<u64> {
        let mut w = self.shared.world.lock().unwrap_or_else(|p| p.into_inner());
        let id = w.id();
        let data = if instance == Service::ZendeskUsGov { &mut w.zendesk_us_gov } else { &mut w.zendesk };
        let ticket = data
            .tickets
            .iter_mut()
            .find(|t| t.id == ticket_id)
            .ok_or_else(|| Error::NotFound(format!("The sandbox has no ticket #{ticket_id} on that instance.")))?;
        if ticket.status == "closed" {
            return Err(Error::InvalidInput(format!("Sandbox ticket #{ticket_id} is closed.")));
        }
        let author_id = author.unwrap_or(ticket.requester_id);
        ticket.comments.push(world::ZdComment { id, author_id, body: body.to_owned(), public, created_at: crate::clock::now() });
        Ok(id)
    }

    /// The customer side of the customers portal: signing in with a GitLab account creates a
    /// portal account linked to it (for training and tests); returns its id.
    pub fn portal_sign_up_with_gitlab(&self, gitlab_user_id: u64) -> Result<u64> {
        let mut w = self.shared.world.lock().unwrap_or_else(|p| p.into_inner());
        let user = w
            .gitlab
            .users
            .iter()
            .find(|u| u.id == gitlab_user_id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("The sandbox has no GitLab user {gitlab_user_id}.")))?;
        if w.customersdot.customers.iter().any(|c| c.uid == Some(user.id) || c.email.eq_ignore_ascii_case(&user.email)) {
            return Err(Error::InvalidInput(format!("{} already has a portal account.", user.email)));
        }
        let id = w.id();
        let (first, last) = user.name.split_once(' ').unwrap_or((&user.name, ""));
        w.customersdot.customers.push(world::CdCustomer {
            id,
            email: user.email.clone(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            confirmed_at: Some(crate::clock::now()),
            login_activated: false,
            uid: Some(user.id),
            created_via: "self_signup".into(),
            created_at: crate::clock::now(),
            confirmation_sent_at: None,
        });
        Ok(id)
    }

    /// Every record the servers can change, as JSON: GitLab, both Zendesk instances, Mailgun,
    /// CustomersDot with its audit events and the portal's mail. Two snapshots compare equal
    /// when nothing was written in between (reads change nothing), which is how the tests show
    /// that a refused attempt touched no account.
    pub fn snapshot(&self) -> serde_json::Value {
        let w = self.shared.world.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::json!({
            "gitlab": w.gitlab,
            "zendesk": w.zendesk,
            "zendesk_us_gov": w.zendesk_us_gov,
            "mailgun": w.mailgun,
            "customersdot": w.customersdot,
            "customersdot_audit": w.cd_audit,
            "portal_mail": w.cd_mail,
        })
    }

    /// Puts every record back as the fixture has it.
    pub fn reset(&self) {
        reset(&self.shared);
    }

    /// Stops accepting and closes open connections.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

fn reset(shared: &Shared) {
    *shared.world.lock().unwrap_or_else(|p| p.into_inner()) = World::from_fixture(&shared.fixture);
    *shared.faults.lock().unwrap_or_else(|p| p.into_inner()) = Faults::new(shared.fixture.faults.clone());
}

fn random_token(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(len).collect()
}

fn random_hex(len: usize) -> String {
    std::iter::repeat_with(|| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0')).take(len).collect()
}

/// Accepts connections until told to stop. Each service's API (its routes check their own
/// credentials) passes the fault table first and leaves with the service's rate-limit headers;
/// the control endpoints pass neither.
async fn serve(listener: TcpListener, ctx: Ctx, mut stop: watch::Receiver<bool>) {
    let api = match ctx.service {
        Service::Gitlab => gitlab::router(&ctx),
        Service::Zendesk | Service::ZendeskUsGov => zendesk::router(&ctx),
        Service::Mailgun => mailgun::router(&ctx),
        Service::Customersdot => customersdot::router(&ctx),
    };
    let router = api
        .layer(middleware::from_fn_with_state(ctx.clone(), inject_fault))
        .layer(middleware::map_response_with_state(ctx.service, rate_limit_headers))
        .merge(control_router())
        .with_state(ctx.clone());
    loop {
        let stream = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "sandbox accept failed");
                    continue;
                }
            },
        };
        let (router, ctx, mut stop) = (router.clone(), ctx.clone(), stop.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, router.clone(), ctx.clone()));
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// A request that should lose its connection rather than get an answer.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sandbox fault: connection dropped")
    }
}

impl std::error::Error for DropConnection {}

async fn handle(mut req: Request<hyper::body::Incoming>, router: Router, ctx: Ctx) -> Result<Reply, DropConnection> {
    if matches!(ctx.service, Service::Zendesk | Service::ZendeskUsGov) {
        zendesk::strip_json_suffix(req.uri_mut());
    }
    let request_id = random_token(20);
    let mut resp = match router.oneshot(req.map(Body::new)).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    if resp.extensions().get::<DropConnection>().is_some() {
        return Err(DropConnection);
    }
    if let Ok(v) = request_id.parse() {
        resp.headers_mut().insert("x-request-id", v);
    }
    Ok(resp)
}

/// Answers a request as the fault armed for it says, before its handler runs. A fault that
/// loses the connection answers with a [`DropConnection`] mark, which [`handle`] turns into a
/// closed connection: a router can only answer.
async fn inject_fault(State(ctx): State<Ctx>, req: axum::extract::Request, next: Next) -> Reply {
    let fault =
        ctx.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).take(ctx.service, req.method().as_str(), req.uri().path());
    let dropped = || {
        let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        resp.extensions_mut().insert(DropConnection);
        resp
    };
    match fault {
        None => next.run(req).await,
        Some(Fault::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        Some(Fault::Status { status }) => {
            error_response(ctx.service, StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Some(Fault::RateLimit { retry_after }) => {
            let mut resp = error_response(ctx.service, StatusCode::TOO_MANY_REQUESTS);
            resp.headers_mut().insert(header::RETRY_AFTER, retry_after.into());
            resp
        }
        Some(Fault::Timeout) => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            dropped()
        }
        Some(Fault::Drop) => dropped(),
    }
}

/// The rate-limit headers a service sends on every answer of its API, faults included.
async fn rate_limit_headers(State(service): State<Service>, mut resp: Reply) -> Reply {
    match service {
        Service::Gitlab => gitlab::rate_limit_headers(&mut resp),
        Service::Zendesk | Service::ZendeskUsGov => zendesk::rate_limit_headers(resp.headers_mut()),
        Service::Mailgun | Service::Customersdot => {}
    }
    resp
}

/// The error body each service sends for a bare status.
fn error_response(service: Service, status: StatusCode) -> Reply {
    match service {
        Service::Gitlab => gitlab::error(status, status.canonical_reason().unwrap_or("Error")),
        Service::Zendesk | Service::ZendeskUsGov => zendesk::error_status(status, status.canonical_reason().unwrap_or("Error")),
        Service::Mailgun => mailgun::error(status, status.canonical_reason().unwrap_or("Error")),
        Service::Customersdot => customersdot::error(status, status.canonical_reason().unwrap_or("Error")),
    }
}

// ---------------------------------------------------------------- control endpoint

fn control_router() -> Router<Ctx> {
    Router::new()
        .route("/_sandbox/faults", get(list_faults).post(arm_fault).delete(clear_faults))
        .route("/_sandbox/reset", post(reset_world))
}

async fn list_faults(State(ctx): State<Ctx>) -> Json<Vec<FaultRule>> {
    Json(ctx.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).list())
}

async fn arm_fault(State(ctx): State<Ctx>, query: Query, body: Bytes) -> Reply {
    let pass = query.get("after").and_then(|n| n.parse().ok()).unwrap_or(0);
    match serde_json::from_slice::<FaultRule>(&body) {
        Ok(mut rule) => {
            rule.service.get_or_insert(ctx.service);
            ctx.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).arm_after(pass, rule.clone());
            (StatusCode::CREATED, Json(rule)).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": format!("not a fault rule: {e}"),
                "example": {"method": "GET", "path": "/api/v4/users/*", "fault": {"kind": "rate_limit", "retry_after": 1}, "times": 2}})),
        )
            .into_response(),
    }
}

async fn clear_faults(State(ctx): State<Ctx>) -> StatusCode {
    ctx.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
    StatusCode::NO_CONTENT
}

async fn reset_world(State(ctx): State<Ctx>) -> StatusCode {
    reset(&ctx.shared);
    StatusCode::NO_CONTENT
}

// ---------------------------------------------------------------- shared helpers

/// `http://host:port` as the client reached this server, for `Link` and `next` URLs.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The credentials of an `Authorization: Basic` header.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// A JSON answer.
fn ok(status: StatusCode, body: serde_json::Value) -> Reply {
    (status, Json(body)).into_response()
}

/// Query parameters (repeated keys keep the last).
type Query = axum::extract::Query<std::collections::HashMap<String, String>>;

/// A JSON request body. One that does not parse is answered with the service's own 400 before
/// the handler runs.
struct JsonBody(serde_json::Value);

impl FromRequest<Ctx> for JsonBody {
    type Rejection = Reply;

    async fn from_request(req: axum::extract::Request, ctx: &Ctx) -> std::result::Result<Self, Reply> {
        let body = Bytes::from_request(req, ctx).await.map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&body).map(JsonBody).map_err(|e| {
            let message = format!("invalid JSON body: {e}");
            match ctx.service {
                Service::Zendesk | Service::ZendeskUsGov => zendesk::invalid_json(&message),
                Service::Customersdot => customersdot::error(StatusCode::BAD_REQUEST, &message),
                // GitLab reads forms too (`gitlab::Params`); Mailgun's endpoints here take no body.
                Service::Gitlab | Service::Mailgun => error_response(ctx.service, StatusCode::BAD_REQUEST),
            }
        })
    }
}
