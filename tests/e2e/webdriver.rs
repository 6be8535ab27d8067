//! A small W3C WebDriver client: just the commands the end-to-end tests use, over HTTP to
//! tauri-driver, which hands them to WebKitWebDriver driving the real Casekit window.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `wait_*` polls before failing the test.
pub const WAIT: Duration = Duration::from_secs(20);

/// WebDriver's code for the Control key.
pub const CONTROL: &str = "\u{E009}";

/// One WebDriver session: one running Casekit process.
pub struct Session {
    base: String,
    agent: ureq::Agent,
}

/// A found element.
pub struct Element<'s> {
    session: &'s Session,
    id: String,
}

impl Session {
    /// Starts the app at `application` through the driver at `driver_url`.
    pub fn start(driver_url: &str, application: &Path) -> Session {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": application},
        }}});
        // WebKitWebDriver is started by tauri-driver on the first request; a connection it drops
        // while starting is tried again, a refusal with an HTTP status is not.
        let url = format!("{driver_url}/session");
        let mut attempt = 1;
        let reply = loop {
            match try_call(&agent, "POST", &url, Some(caps.clone())) {
                Ok(reply) => break reply,
                Err(e) if attempt < 3 && !e.contains("HTTP ") => {
                    eprintln!("WebDriver session attempt {attempt} failed ({e}); trying again");
                    attempt += 1;
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => panic!("WebDriver: {e}"),
            }
        };
        let id = reply["sessionId"].as_str().expect("session id").to_owned();
        Session { base: format!("{driver_url}/session/{id}"), agent }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(&self.agent, method, &format!("{}{path}", self.base), body)
    }

    fn try_find(&self, css: &str) -> Option<Element<'_>> {
        let body = json!({"using": "css selector", "value": css});
        let reply = try_call(&self.agent, "POST", &format!("{}/element", self.base), Some(body)).ok()?;
        Some(Element { session: self, id: reply[ELEMENT_KEY].as_str()?.to_owned() })
    }

    /// Waits until an element matching `css` exists.
    pub fn wait_for(&self, css: &str) -> Element<'_> {
        let start = Instant::now();
        loop {
            if let Some(e) = self.try_find(css) {
                return e;
            }
            assert!(start.elapsed() < WAIT, "no element {css} after {WAIT:?}; page text:\n{}", self.page_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the element matching `css`, finding it again if it was re-rendered meanwhile.
    pub fn click(&self, css: &str) {
        let start = Instant::now();
        loop {
            if let Some(e) = self.try_find(css) {
                let url = format!("{}/element/{}/click", self.base, e.id);
                match try_call(&self.agent, "POST", &url, Some(json!({}))) {
                    Ok(_) => return,
                    Err(err) => assert!(start.elapsed() < WAIT, "could not click {css}: {err}"),
                }
            }
            assert!(start.elapsed() < WAIT, "no element {css} after {WAIT:?}; page text:\n{}", self.page_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the element matching `css` shows text containing `needle`, ignoring case
    /// (the text is as rendered, after CSS `text-transform`); returns the text.
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        let start = Instant::now();
        let needle_lower = needle.to_lowercase();
        loop {
            // The element may be re-rendered between finding and reading it: read again then.
            let text = self.try_find(css).and_then(|e| e.try_text()).unwrap_or_default();
            if text.to_lowercase().contains(&needle_lower) {
                return text;
            }
            assert!(start.elapsed() < WAIT, "{css} never showed {needle:?}; it shows {text:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The visible text of the whole page.
    pub fn page_text(&self) -> String {
        self.try_find("body").and_then(|b| b.try_text()).unwrap_or_default()
    }

    /// Presses keys together (e.g. `[CONTROL, "2"]`) and releases them in reverse order.
    pub fn chord(&self, keys: &[&str]) {
        let mut actions: Vec<Value> = keys.iter().map(|k| json!({"type": "keyDown", "value": k})).collect();
        actions.extend(keys.iter().rev().map(|k| json!({"type": "keyUp", "value": k})));
        self.cmd("POST", "/actions", Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})));
        self.cmd("DELETE", "/actions", None);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = try_call(&self.agent, "DELETE", &self.base, None);
    }
}

impl Element<'_> {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.session.cmd(method, &format!("/element/{}{path}", self.id), body)
    }

    /// Replaces an input's value with `text`.
    pub fn fill(&self, text: &str) {
        self.cmd("POST", "/clear", Some(json!({})));
        self.cmd("POST", "/value", Some(json!({"text": text})));
    }

    /// Scrolls its scrolling container (not the window) so that it is at the top (screenshots).
    pub fn scroll_into_view(&self) {
        let script = "const el = arguments[0], box = el.closest('main') || document.scrollingElement; \
                      box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - 12;";
        self.session.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": [{ELEMENT_KEY: self.id}]})));
    }

    /// Its visible text, or `None` when it went stale (re-rendered) meanwhile.
    fn try_text(&self) -> Option<String> {
        let url = format!("{}/element/{}/text", self.session.base, self.id);
        try_call(&self.session.agent, "GET", &url, None).ok().map(|v| v.as_str().unwrap_or_default().to_owned())
    }

    /// Its visible text.
    pub fn text(&self) -> String {
        self.cmd("GET", "/text", None).as_str().unwrap_or_default().to_owned()
    }

    /// An input's current value.
    pub fn value(&self) -> String {
        self.cmd("GET", "/property/value", None).as_str().unwrap_or_default().to_owned()
    }
}

fn try_call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let req = agent.request(method, url);
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match res {
        Ok(r) => Ok(r.into_json::<Value>().map_err(|e| e.to_string())?["value"].take()),
        Err(ureq::Error::Status(code, r)) => Err(format!("{method} {url}: HTTP {code}: {}", r.into_string().unwrap_or_default())),
        Err(e) => Err(format!("{method} {url}: {e}")),
    }
}

fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Value {
    try_call(agent, method, url, body).unwrap_or_else(|e| panic!("WebDriver: {e}"))
}
