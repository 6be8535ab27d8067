//! `casekit sandbox serve` as a separate process: the services a live profile points at are
//! outside the app under test, reached over loopback like real ones.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The running server; killed when dropped.
pub struct Served {
    pub child: Child,
    /// The JSON line it printed: each service's URL and made-up credentials.
    pub printed: Value,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    pub fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_casekit"))
            .args(["sandbox", "serve"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("casekit sandbox serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let printed: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON line ({e}): {line}"));
        Served { child, printed }
    }

    /// A printed string, e.g. `("gitlab", "url")`.
    pub fn get(&self, service: &str, key: &str) -> String {
        self.printed[service][key].as_str().unwrap_or_else(|| panic!("{service}.{key} in {}", self.printed)).to_owned()
    }
}

impl Served {
    /// Basic auth for the served Zendesk's agent.
    fn zendesk_auth(&self) -> String {
        use base64::Engine as _;
        let basic = format!("{}/token:{}", self.get("zendesk", "email"), self.get("zendesk", "token"));
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(basic))
    }

    /// The ticket's requester replies publicly (Zendesk lets an agent post a comment authored by
    /// the end user, `comment.author_id`); the new comment's id.
    pub fn requester_replies(&self, ticket: u64, body: &str) -> u64 {
        let auth = self.zendesk_auth();
        let url = format!("{}/api/v2/tickets/{ticket}", self.get("zendesk", "url"));
        let t: Value = ureq::get(&url).set("Authorization", &auth).call().unwrap().into_json().unwrap();
        let requester = t["ticket"]["requester_id"].as_u64().unwrap();
        let body = serde_json::json!({"ticket": {"comment": {"body": body, "public": true, "author_id": requester}}});
        ureq::put(&url).set("Authorization", &auth).send_json(body).unwrap();
        let comments: Value =
            ureq::get(&format!("{url}/comments")).set("Authorization", &auth).call().unwrap().into_json().unwrap();
        comments["comments"].as_array().unwrap().last().unwrap()["id"].as_u64().unwrap()
    }

    /// A GitLab user as the served GitLab's admin API shows it.
    pub fn gitlab_user(&self, id: u64) -> Value {
        let url = format!("{}/api/v4/users/{id}", self.get("gitlab", "url"));
        ureq::get(&url).set("PRIVATE-TOKEN", &self.get("gitlab", "admin_token")).call().unwrap().into_json().unwrap()
    }
}
