//! The one HTTP layer every connector uses: auth headers, connect and total timeouts, retries
//! with backoff and jitter for requests that are safe to repeat, `Retry-After`, one pagination
//! loop for every service (links that never leave the configured host, one page limit that is
//! an error when reached, never a silent cut), error mapping, and a trace line per request
//! that names method, path, status, time and request id, never a token, query or body.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::Service;
use crate::secrets::Secret;
use crate::{Error, Result};

/// Timeouts and retry bounds.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// To open a connection.
    pub connect_timeout: Duration,
    /// The most a call may take, retries and waits included.
    pub total_timeout: Duration,
    /// Attempts for a request that is safe to repeat (1 = no retries).
    pub max_attempts: u32,
    /// First backoff; doubles each retry, with jitter.
    pub base_delay: Duration,
    /// Longest backoff between two attempts.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited out: the call fails as rate-limited.
    pub max_retry_after: Duration,
    /// Items asked for per page when a list is followed to its end (each service caps it).
    pub page_size: u32,
    /// Pages read of one list before Casekit stops and says so (see [`Take::All`]).
    pub max_pages: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(30),
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(20),
            page_size: 100,
            max_pages: 50,
        }
    }
}

/// How a connector proves who it is.
#[derive(Clone)]
pub enum Auth {
    /// GitLab: `PRIVATE-TOKEN`.
    PrivateToken(Secret),
    /// `Authorization: Bearer`.
    Bearer(Secret),
    /// `Authorization: Basic` (Zendesk `{email}/token:{token}`, Mailgun `api:{key}`).
    Basic { user: String, password: Secret },
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self, service: Service) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::InvalidResponse(format!(
                "{} answered with data Casekit could not read ({e}). Check that the {} URL in Settings points at the service itself.",
                service.label(),
                service.label()
            ))
        })
    }

    /// The `Link` header's `rel="next"` target.
    fn next_link(&self) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        link.split(',').find_map(|part| {
            let (target, params) = part.split_once(';')?;
            params
                .split(';')
                .any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\""))
                .then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
        })
    }
}

/// How a service says where a list goes on.
#[derive(Debug, Clone, Copy)]
pub enum Paging<'a> {
    /// GitLab: each page is a JSON array; the next page is the `Link: rel="next"` target or,
    /// without one, the `X-Next-Page` number on the same URL.
    LinkHeader,
    /// Zendesk's cursor pagination: items under `items`, `links.next` while `meta.has_more`.
    Cursor { items: &'a str },
    /// Zendesk's offset pagination (searches): items under `items`, `next_page` until it is null.
    NextPage { items: &'a str },
    /// Mailgun: items under `items`, `paging.next` until a page comes back empty (every page
    /// links to a next one, the last included).
    UntilEmpty { items: &'a str },
}

/// How much of a list a caller reads: a named choice at each call, so that a cut list is
/// never mistaken for a whole one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Every item. A list longer than [`HttpSettings::max_pages`] pages is an error, never a
    /// cut: a gate deciding on part of a list (an account or a membership not seen) decides
    /// wrongly.
    All,
    /// The first `n` items in the service's order (the newest events), for a caller that shows
    /// that there may be more.
    First(usize),
}

/// A client for one service at one base URL.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: Url,
    auth: Auth,
    service: Service,
    settings: HttpSettings,
}

impl Http {
    /// A client for `service` at `base` (its root URL, e.g. `https://gitlab.com`).
    pub fn new(service: Service, base: &str, auth: Auth, settings: HttpSettings) -> Result<Http> {
        let mut base = Url::parse(base.trim()).map_err(|e| {
            Error::InvalidInput(format!(
                "The {} URL '{base}' is not a URL ({e}). Enter it like https://gitlab.example.com.",
                service.label()
            ))
        })?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("Casekit/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Internal(format!("could not set up the HTTP client: {e}")))?;
        Ok(Http { client, base, auth, service, settings })
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// Items per page for lists followed to the end, within the service's cap.
    pub fn page_size(&self, cap: u32) -> String {
        self.settings.page_size.clamp(1, cap).to_string()
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `path` (relative to the base, without a leading slash) with query pairs.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url> {
        let mut url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Internal(format!("bad {} path {path}: {e}", self.service.label())))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Checks that a link the service handed back (next page) stays on the configured host,
    /// so the token is never sent anywhere else.
    fn same_origin(&self, link: &str) -> Result<Url> {
        let url = Url::parse(link).map_err(|e| {
            Error::InvalidResponse(format!("{} sent a next-page link that is not a URL ({e}).", self.service.label()))
        })?;
        if url.origin() != self.base.origin() {
            tracing::warn!(service = self.service.label(), "a pagination link points at another host; not followed");
            return Err(Error::InvalidResponse(format!(
                "{} sent a next-page link on another host ({}) than the one configured ({}); Casekit does not send the token there. \
                 Set the {} URL in Settings to the address the service answers on.",
                self.service.label(),
                url.origin().ascii_serialization(),
                self.base.origin().ascii_serialization(),
                self.service.label()
            )));
        }
        Ok(url)
    }

    /// GET a path and read JSON; retried when safe.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        self.execute(Method::GET, self.url(path, query)?, None).await?.json(self.service)
    }

    /// GET a path; `None` on 404.
    pub async fn get_optional<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<Option<T>> {
        match self.execute(Method::GET, self.url(path, query)?, None).await {
            Ok(reply) => reply.json(self.service).map(Some),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A list read page by page from `first`, following the service's next-page links on this
    /// host only, as far as `take` says. `what` names the list for the agent ("memberships of
    /// user 101"). Reaching [`HttpSettings::max_pages`] before the end is an error that says so.
    pub async fn paginate<T: DeserializeOwned>(&self, what: &str, first: Url, paging: Paging<'_>, take: Take) -> Result<Vec<T>> {
        let label = self.service.label();
        let max_pages = self.settings.max_pages.max(1);
        let mut url = first;
        let mut out = Vec::new();
        for _ in 0..max_pages {
            let reply = self.execute(Method::GET, url.clone(), None).await?;
            let mut body: Value = reply.json(self.service)?;
            let items = match paging {
                Paging::LinkHeader => body.take(),
                Paging::Cursor { items } | Paging::NextPage { items } | Paging::UntilEmpty { items } => {
                    body.get_mut(items).map(Value::take).ok_or_else(|| {
                        Error::InvalidResponse(format!("{label} sent a page of {what} without its “{items}” list."))
                    })?
                }
            };
            let mut page: Vec<T> = serde_json::from_value(items)
                .map_err(|e| Error::InvalidResponse(format!("{label} sent {what} Casekit could not read ({e}).")))?;
            let next = if page.is_empty() && matches!(paging, Paging::UntilEmpty { .. }) {
                None
            } else {
                self.next_page(paging, &reply, &body, &url)?
            };
            out.append(&mut page);
            if let Take::First(n) = take {
                if out.len() >= n {
                    out.truncate(n);
                    return Ok(out);
                }
            }
            match next {
                Some(next) => url = next,
                None => return Ok(out),
            }
        }
        tracing::warn!(service = label, path = url.path(), pages = max_pages, "a list is longer than Casekit reads");
        Err(Error::InvalidResponse(format!(
            "{label} has more {what} than Casekit reads: it stopped after {max_pages} pages ({} items) rather than go on with \
             part of the list. Narrow what is asked for if you can, or look at the whole list in {label} itself.",
            out.len()
        )))
    }

    /// Where the list goes on after this page, if anywhere.
    fn next_page(&self, paging: Paging<'_>, reply: &Reply, body: &Value, url: &Url) -> Result<Option<Url>> {
        let link = match paging {
            Paging::LinkHeader => match reply.next_link() {
                Some(link) => Some(link),
                None => match reply.headers.get("x-next-page").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()) {
                    Some(page) => {
                        let mut next = url.clone();
                        let pairs: Vec<(String, String)> = url
                            .query_pairs()
                            .filter(|(k, _)| k != "page")
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect();
                        next.query_pairs_mut().clear().extend_pairs(pairs).append_pair("page", page);
                        return Ok(Some(next));
                    }
                    None => None,
                },
            },
            Paging::Cursor { .. } => {
                let more = body.pointer("/meta/has_more").and_then(Value::as_bool).unwrap_or(false);
                body.pointer("/links/next").and_then(Value::as_str).filter(|_| more).map(str::to_owned)
            }
            Paging::NextPage { .. } => body.get("next_page").and_then(Value::as_str).map(str::to_owned),
            Paging::UntilEmpty { .. } => body.pointer("/paging/next").and_then(Value::as_str).map(str::to_owned),
        };
        link.map(|link| self.same_origin(&link)).transpose()
    }

    /// A change: sent once, never repeated by this layer. After a network error the caller
    /// re-reads the state to learn whether it happened.
    pub async fn send<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&Value>) -> Result<T> {
        self.execute(method, self.url(path, &[])?, body).await?.json(self.service)
    }

    /// A change whose answer has no body worth reading (204).
    pub async fn send_empty(&self, method: Method, path: &str, body: Option<&Value>) -> Result<()> {
        self.execute(method, self.url(path, &[])?, body).await.map(drop)
    }

    /// One call with the retry policy: only GET is repeated, on 429/502/503/504 and on
    /// network failures, within the total timeout. A status other than 2xx is an error.
    pub async fn execute(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Reply> {
        let reply = self.exchange(method.clone(), url, body).await?;
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(self.status_error(&method, &reply))
        }
    }

    /// As [`Http::execute`], but the last answer comes back whatever its status, for a connector
    /// that reads a refusal's body itself (and hands the rest to [`Http::status_error`]).
    pub async fn exchange(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Reply> {
        let repeatable = method == Method::GET || method == Method::HEAD;
        let started = Instant::now();
        let deadline = started + self.settings.total_timeout;
        let mut attempt = 1;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.timeout_error());
            }
            let outcome = self.once(&method, &url, body, remaining, attempt).await;
            let wait = match &outcome {
                Ok(reply) if matches!(reply.status.as_u16(), 429 | 502 | 503 | 504) => match retry_after(&reply.headers) {
                    Some(wait) if wait > self.settings.max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(self.backoff(attempt)),
                },
                Err(Error::Unreachable(_) | Error::Timeout(_)) => Some(self.backoff(attempt)),
                _ => None,
            };
            let retry = repeatable && attempt < self.settings.max_attempts && wait.is_some_and(|w| Instant::now() + w < deadline);
            if let (true, Some(wait)) = (retry, wait) {
                tracing::info!(service = self.service.label(), attempt, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return outcome;
        }
    }

    async fn once(&self, method: &Method, url: &Url, body: Option<&Value>, timeout: Duration, attempt: u32) -> Result<Reply> {
        let started = Instant::now();
        let mut req = self.client.request(method.clone(), url.clone()).timeout(timeout).header("accept", "application/json");
        req = match &self.auth {
            Auth::PrivateToken(t) => req.header("private-token", sensitive(t.expose())?),
            Auth::Bearer(t) => req.header(AUTHORIZATION, sensitive(&format!("Bearer {}", t.expose()))?),
            Auth::Basic { user, password } => req.basic_auth(user, Some(password.expose())),
        };
        if let Some(body) = body {
            req = req.json(body);
        }
        let result = req.send().await;
        let path = url.path();
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                let ms = started.elapsed().as_millis() as u64;
                tracing::warn!(service = self.service.label(), method = %method, path, ms, attempt, error = %kind_of(&e), "request failed");
                return Err(self.transport_error(&e));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.transport_error(&e))?;
        let request_id = ["x-request-id", "x-zendesk-request-id", "x-gitlab-meta"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
            .unwrap_or("-")
            .to_owned();
        tracing::info!(
            service = self.service.label(), method = %method, path, status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64, request_id, attempt, "request"
        );
        Ok(Reply { status, headers, body })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.settings.base_delay.saturating_mul(1 << (attempt - 1).min(16));
        let capped = exp.min(self.settings.max_delay);
        // Jitter: between half and all of the capped delay.
        capped.mul_f64(0.5 + fastrand::f64() * 0.5)
    }

    fn timeout_error(&self) -> Error {
        Error::Timeout(format!(
            "{} did not answer within {} s. Check the network or the service's status page, then try again; nothing was lost.",
            self.service.label(),
            self.settings.total_timeout.as_secs_f64().round()
        ))
    }

    fn transport_error(&self, e: &reqwest::Error) -> Error {
        let label = self.service.label();
        let host = self.base.host_str().unwrap_or("the configured host").to_owned();
        if e.is_timeout() {
            self.timeout_error()
        } else if e.is_connect() {
            Error::Unreachable(format!(
                "Could not connect to {label} at {host}. Check the {label} URL in Settings and your network or VPN, then try again."
            ))
        } else {
            Error::Unreachable(format!(
                "The connection to {label} at {host} was dropped before it answered. Try again; if it keeps happening, check the network."
            ))
        }
    }

    /// The error for an answer that is not a success, saying what the agent can do about it.
    pub fn status_error(&self, method: &Method, reply: &Reply) -> Error {
        let label = self.service.label();
        let said = service_message(&reply.body);
        let code = reply.status.as_u16();
        match code {
            401 => Error::Unauthorized(format!(
                "{label} did not accept the token (401). Replace the {label} token in Settings → Profiles, then test the connection."
            )),
            403 => Error::Forbidden(format!(
                "{label} refused this call for the token's account (403){}. {}",
                said.map(|s| format!(": {s}")).unwrap_or_default(),
                self.service.permission_hint()
            )),
            404 => Error::NotFound(format!("{label} has no such record (404){}.", said.map(|s| format!(": {s}")).unwrap_or_default())),
            429 => {
                let wait = retry_after(&reply.headers).map(|w| format!(" Try again in {} s.", w.as_secs().max(1))).unwrap_or_default();
                Error::RateLimited(format!("{label} is limiting the request rate (429).{wait}"))
            }
            400 | 409 | 422 => Error::Rejected(format!(
                "{label} refused the {method} request ({code}){}. Check the values and try again.",
                said.map(|s| format!(": {s}")).unwrap_or_default()
            )),
            500..=599 => Error::ServiceFailed(format!("{label} failed to answer ({code}). Try again in a moment; nothing was lost.")),
            _ => Error::InvalidResponse(format!("{label} answered with an unexpected status {code}.")),
        }
    }
}

/// A header value marked sensitive so that the HTTP stack never prints it.
fn sensitive(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::InvalidInput("The stored token contains characters that cannot be sent. Replace it in Settings.".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// What kind of transport failure, without the URL (which can carry query values).
fn kind_of(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "connection dropped"
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// The service's own explanation from an error body, shortened; it is shown as text.
fn service_message(body: &[u8]) -> Option<String> {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let pick = |k: &str| v.get(k).filter(|x| !x.is_null());
            match (pick("message"), pick("error"), pick("description"), pick("details")) {
                (Some(Value::String(s)), ..) => s.clone(),
                (Some(other), ..) => other.to_string(),
                (_, _, _, Some(details)) => details.to_string(),
                (_, _, Some(Value::String(d)), _) => d.clone(),
                (_, Some(Value::String(e)), ..) => e.clone(),
                _ => return None,
            }
        }
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let text: String = crate::secrets::redact(&text).chars().filter(|c| !c.is_control()).take(300).collect();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past means now");
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn the_next_link_is_found_among_several_relations() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static("<https://g.example/api/v4/users?page=1>; rel=\"prev\", <https://g.example/api/v4/users?page=3>; rel=\"next\", <https://g.example/api/v4/users?page=9>; rel=\"last\""),
        );
        let reply = Reply { status: StatusCode::OK, headers, body: bytes::Bytes::new() };
        assert_eq!(reply.next_link().as_deref(), Some("https://g.example/api/v4/users?page=3"));
    }

    #[test]
    fn without_a_link_header_gitlab_s_next_page_number_goes_on_the_same_url() {
        let http =
            Http::new(Service::Gitlab, "https://gitlab.example.com", Auth::Bearer(Secret::new("x")), HttpSettings::default())
                .unwrap();
        let url = http.url("api/v4/users", &[("search", "a b".into()), ("page", "1".into()), ("per_page", "4".into())]).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-next-page", HeaderValue::from_static("2"));
        let reply = Reply { status: StatusCode::OK, headers, body: bytes::Bytes::new() };
        let next = http.next_page(Paging::LinkHeader, &reply, &Value::Null, &url).unwrap().unwrap();
        assert_eq!(next.as_str(), "https://gitlab.example.com/api/v4/users?search=a+b&per_page=4&page=2");
        let last = Reply { status: StatusCode::OK, headers: HeaderMap::new(), body: bytes::Bytes::new() };
        assert_eq!(http.next_page(Paging::LinkHeader, &last, &Value::Null, &url).unwrap(), None);
    }

    #[test]
    fn a_link_to_another_host_is_refused() {
        let http =
            Http::new(Service::Gitlab, "https://gitlab.example.com", Auth::Bearer(Secret::new("x")), HttpSettings::default())
                .unwrap();
        assert!(http.same_origin("https://gitlab.example.com/api/v4/users?page=2").is_ok());
        let err = http.same_origin("https://evil.example/api/v4/users?page=2").unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidResponse);
        assert!(err.to_string().contains("does not send the token there"), "{err}");
    }

    #[test]
    fn service_messages_are_shortened_and_scrubbed() {
        assert_eq!(service_message(br#"{"message":"403 Forbidden"}"#).as_deref(), Some("403 Forbidden"));
        assert_eq!(
            service_message(br#"{"message":{"email":["has already been taken"]}}"#).as_deref(),
            Some(r#"{"email":["has already been taken"]}"#)
        );
        let long = format!("{{\"error\":\"{}\"}}", "x".repeat(1000));
        assert_eq!(service_message(long.as_bytes()).unwrap().len(), 300);
        assert!(!service_message(b"bad token glpat-abcdefghijklmnop1234").unwrap().contains("abcdefghijkl"));
    }
}
