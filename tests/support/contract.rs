//! Contract fixtures (`tests/contract/<service>/`, the services' own recorded shapes), a server
//! that replays them over loopback, and the shape diff between a real answer and ours.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A fixture's text.
pub fn text(service: &str, name: &str) -> String {
    let path = format!("{}/tests/contract/{service}/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture as JSON.
pub fn json(service: &str, name: &str) -> Value {
    serde_json::from_str(&text(service, name)).unwrap_or_else(|e| panic!("{service}/{name}.json: {e}"))
}

/// A loopback server that answers `"METHOD /path"` (query ignored) with a status and a body,
/// and 404 otherwise: a service that speaks exactly the recorded shapes, written apart from
/// our sandbox.
pub struct Replay {
    pub url: String,
    /// Every request body received, as `("METHOD /path", body)`.
    pub received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Replay {
    /// `routes` gets the server's own URL, for bodies that link back to it (next pages).
    pub async fn start(routes: impl FnOnce(&str) -> Vec<(String, u16, String)>) -> Replay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let table: Arc<HashMap<String, (u16, String)>> =
            Arc::new(routes(&url).into_iter().map(|(route, status, body)| (route, (status, body))).collect());
        let received: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let log = received.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let (table, log) = (table.clone(), log.clone());
            async move {
                let key = format!("{} {}", req.method(), req.uri().path());
                let bytes = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
                if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
                    log.lock().unwrap().push((key.clone(), body));
                }
                match table.get(&key) {
                    Some((status, body)) => Response::builder()
                        .status(*status)
                        .header("content-type", "application/json")
                        .body(Body::from(body.clone()))
                        .unwrap(),
                    None => (StatusCode::NOT_FOUND, format!("{{\"message\":\"no fixture for {key}\"}}")).into_response(),
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Replay { url, received }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where `ours` differs in shape from `real`: keys missing or invented, and JSON types that
/// differ. A null on either side matches any type (the services send null for unset values);
/// each item of one of our lists is compared with the real item it is closest to.
pub fn shape_diff(real: &Value, ours: &Value, at: &str) -> Vec<String> {
    match (real, ours) {
        (Value::Null, _) | (_, Value::Null) => vec![],
        (Value::Object(r), Value::Object(o)) => {
            let mut out = Vec::new();
            for k in r.keys().filter(|k| !o.contains_key(*k)) {
                out.push(format!("{at}.{k}: missing (the real service sends it)"));
            }
            for k in o.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{at}.{k}: invented (the real service never sends it)"));
            }
            for (k, rv) in r {
                if let Some(ov) = o.get(k) {
                    out.extend(shape_diff(rv, ov, &format!("{at}.{k}")));
                }
            }
            out
        }
        (Value::Array(r), Value::Array(o)) if !r.is_empty() => o
            .iter()
            .enumerate()
            .flat_map(|(i, item)| {
                r.iter()
                    .map(|real_item| shape_diff(real_item, item, &format!("{at}[{i}]")))
                    .min_by_key(Vec::len)
                    .unwrap_or_default()
            })
            .collect(),
        (Value::Array(_), Value::Array(_)) => vec![],
        (r, o) if kind(r) != kind(o) => vec![format!("{at}: {} where the real service sends {}", kind(o), kind(r))],
        _ => vec![],
    }
}

/// Panics with every difference, naming the fixture.
pub fn assert_same_shape(fixture: &str, real: &Value, ours: &Value) {
    if let (Value::Array(r), Value::Array(o)) = (real, ours) {
        assert!(!r.is_empty() && !o.is_empty(), "{fixture}: both lists need an item, or the shapes are not compared");
    }
    let diff = shape_diff(real, ours, "$");
    assert!(diff.is_empty(), "the sandbox's answer drifts from {fixture}:\n  {}", diff.join("\n  "));
}
