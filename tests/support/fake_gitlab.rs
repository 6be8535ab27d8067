//! A stateful GitLab for tests, written apart from our sandbox (`src-tauri/sandbox/` shares our
//! reading of the docs; this does not use it). Every answer is a contract fixture
//! (`tests/contract/gitlab/`, GitLab's own shapes) with only its values changed: no key is ever
//! added, so a connector that parses these answers parses GitLab's.
//!
//! It serves what the release-email playbook and its gate lookups call, with GitLab's rules:
//! - `GET /users?search=` as an admin matches the primary or a confirmed secondary email exactly,
//!   or a name or username containing the term, ordered by exact public email, exact username,
//!   exact name, then the rest, by name and id (`User.search`);
//! - the primary address is also a row of the user's emails (`add_primary_email_to_emails!`),
//!   which `GET /users/:id/emails` leaves out (GitLab ≤ 17); so after `PUT /users/:id` changes
//!   the primary, the old one stays as a confirmed secondary;
//! - `PUT /users/:id` answers 409 when another user holds the address (`User.by_any_email`), and
//!   takes only one of the user's own secondary emails (`users.md` 17.x); a confirmed one, or any
//!   with `skip_reconfirmation`, becomes primary, otherwise the change waits for a confirmation
//!   the REST API never shows.
//!
//! Pagination headers are not sent (one page); `per_page` (default 20) truncates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request};
use axum::response::Response;
use serde_json::{json, Value};

use super::contract::json as fixture;

/// A GitLab fixture.
fn gitlab(name: &str) -> Value {
    fixture("gitlab", name)
}

/// `template` with these values: GitLab's shape, our values. A key the template lacks would be
/// a field GitLab never sends, so it panics.
fn with(template: &Value, values: Value) -> Value {
    let mut out = template.clone();
    for (k, v) in values.as_object().expect("values are an object") {
        let slot = out.get_mut(k).unwrap_or_else(|| panic!("GitLab never sends `{k}` here"));
        *slot = v.clone();
    }
    out
}

/// The user `record` (a `user_admin.json` object) as another entity sends it: the template's
/// keys, the record's values.
fn as_shape(template: &Value, record: &Value) -> Value {
    let keys = template.as_object().expect("a user template").keys();
    Value::Object(keys.map(|k| (k.clone(), record.get(k).cloned().unwrap_or(Value::Null))).collect())
}

/// A GitLab answer: status and JSON body.
type Answer = (u16, Value);

fn not_found(what: &str) -> Answer {
    (404, json!({ "message": format!("404 {what} Not Found") }))
}

/// The first `per_page` items (GitLab's default page is 20).
fn page(items: Vec<Value>, query: &HashMap<String, String>) -> Answer {
    let per_page = query.get("per_page").and_then(|n| n.parse().ok()).unwrap_or(20usize).clamp(1, 100);
    (200, Value::Array(items.into_iter().take(per_page).collect()))
}

struct Email {
    id: u64,
    email: String,
    confirmed_at: Option<String>,
}

struct Account {
    /// `user_admin.json` with this user's values.
    user: Value,
    /// Every address, the primary's row included.
    emails: Vec<Email>,
    /// Direct group memberships: group id and access level.
    groups: Vec<(u64, u32)>,
    /// Contribution events, `events.json` items.
    events: Vec<Value>,
}

impl Account {
    fn id(&self) -> u64 {
        self.user["id"].as_u64().unwrap()
    }

    fn primary(&self) -> &str {
        self.user["email"].as_str().unwrap_or_default()
    }

    fn text(&self, key: &str) -> String {
        self.user[key].as_str().unwrap_or_default().to_lowercase()
    }

    fn holds(&self, address: &str) -> bool {
        self.primary() == address || self.emails.iter().any(|e| e.email == address)
    }

    /// The secondary emails as `GET /users/:id/emails` lists them: without the primary.
    fn listed_emails(&self) -> Vec<Value> {
        let template = &gitlab("emails_without_primary")[0];
        self.emails
            .iter()
            .filter(|e| e.email != self.primary())
            .map(|e| with(template, json!({"id": e.id, "email": e.email, "confirmed_at": e.confirmed_at})))
            .collect()
    }

    /// The user as an author or member (`UserBasic`) fills `template`.
    fn basic(&self, template: &Value) -> Value {
        let u = &self.user;
        with(
            template,
            json!({"id": u["id"], "username": u["username"], "name": u["name"], "state": u["state"],
                   "avatar_url": u["avatar_url"], "web_url": u["web_url"]}),
        )
    }
}

struct Group {
    id: u64,
    path: String,
    plan: String,
}

struct State {
    base: String,
    admin: u64,
    accounts: Vec<Account>,
    groups: Vec<Group>,
    next_email_id: u64,
}

/// How often a seeded account signed in, and when last (also its last active day).
#[derive(Clone, Copy)]
struct Seen<'a> {
    sign_ins: u64,
    at: Option<&'a str>,
}

impl State {
    fn add_user(&mut self, id: u64, username: &str, name: &str, email: &str, seen: Seen<'_>) -> &mut Account {
        let user = with(
            &gitlab("user_admin"),
            json!({
                "id": id, "username": username, "name": name, "email": email,
                "web_url": format!("{}/{username}", self.base), "public_email": "", "commit_email": email,
                "namespace_id": id, "is_admin": id == self.admin, "confirmed_at": "2024-03-01T09:00:00.000Z",
                "sign_in_count": seen.sign_ins, "last_sign_in_at": seen.at, "current_sign_in_at": seen.at,
                "last_activity_on": seen.at.map(|at| &at[..10]),
                "current_sign_in_ip": seen.at.map(|_| "196.165.1.102"), "last_sign_in_ip": seen.at.map(|_| "172.127.2.22"),
            }),
        );
        let row =
            Email { id: self.next_email_id, email: email.to_owned(), confirmed_at: Some("2024-03-01T09:00:00.000Z".into()) };
        self.next_email_id += 1;
        self.accounts.push(Account { user, emails: vec![row], groups: vec![], events: vec![] });
        self.accounts.last_mut().unwrap()
    }

    /// A seeded account.
    fn account(&self, id: u64) -> &Account {
        self.accounts.iter().find(|a| a.id() == id).expect("a seeded user")
    }

    fn index(&self, id: &str) -> Result<usize, Answer> {
        let id: Option<u64> = id.parse().ok();
        self.accounts.iter().position(|a| Some(a.id()) == id).ok_or_else(|| not_found("User"))
    }

    fn group(&self, id: &str) -> Result<&Group, Answer> {
        self.groups.iter().find(|g| id.parse() == Ok(g.id)).ok_or_else(|| not_found("Group"))
    }

    /// `User.search` as an admin sees it.
    fn search(&self, term: &str) -> Vec<&Account> {
        let q = term.strip_prefix('@').unwrap_or(term).to_lowercase();
        if q.is_empty() {
            return vec![];
        }
        let mut hits: Vec<&Account> = self
            .accounts
            .iter()
            .filter(|a| {
                a.primary() == q
                    || a.emails.iter().any(|e| e.confirmed_at.is_some() && e.email == q)
                    || a.text("name").contains(&q)
                    || a.text("username").contains(&q)
            })
            .collect();
        let rank = |a: &Account| ["public_email", "username", "name"].iter().position(|k| a.text(k) == q).unwrap_or(3);
        hits.sort_by_key(|a| (rank(a), a.user["name"].as_str().unwrap_or_default().to_owned(), a.id()));
        hits
    }

    fn answer(&mut self, method: &Method, path: &str, query: &HashMap<String, String>, body: &Value) -> Answer {
        let segments: Vec<&str> = path.strip_prefix("/api/v4/").unwrap_or_default().split('/').collect();
        let listed = |accounts: Vec<&Account>| {
            let template = &gitlab("users_search_admin")[0];
            page(accounts.into_iter().map(|a| as_shape(template, &a.user)).collect(), query)
        };
        let result = match (method.as_str(), segments.as_slice()) {
            ("GET", ["personal_access_tokens", "self"]) => {
                Ok((200, with(&gitlab("personal_access_token_self"), json!({"user_id": self.admin}))))
            }
            ("GET", ["user"]) => Ok((200, as_shape(&gitlab("current_user"), &self.account(self.admin).user))),
            ("GET", ["users"]) => Ok(match (query.get("username"), query.get("search")) {
                (Some(name), _) => listed(self.accounts.iter().filter(|a| a.text("username") == name.to_lowercase()).collect()),
                (None, Some(term)) => listed(self.search(term)),
                (None, None) => listed(self.accounts.iter().collect()),
            }),
            ("GET", ["users", id]) => self.index(id).map(|i| (200, self.accounts[i].user.clone())),
            ("PUT", ["users", id]) => self.index(id).and_then(|i| self.edit(i, body)),
            ("GET", ["users", id, "associations_count"]) => self.index(id).map(|i| {
                let a = &self.accounts[i];
                let opened =
                    |kind: &str| a.events.iter().filter(|e| e["action_name"] == "opened" && e["target_type"] == kind).count();
                let counts = json!({"groups_count": a.groups.len(), "projects_count": 0,
                                    "issues_count": opened("Issue"), "merge_requests_count": opened("MergeRequest")});
                (200, with(&gitlab("associations_count"), counts))
            }),
            ("GET", ["users", id, "memberships"]) => self.index(id).map(|i| {
                let template = &gitlab("memberships")[1];
                let items = self.accounts[i]
                    .groups
                    .iter()
                    .map(|(g, level)| {
                        with(template, json!({"source_id": g, "source_name": self.path_of(*g), "access_level": level}))
                    })
                    .collect();
                page(items, query)
            }),
            ("GET", ["users", id, "events"]) => self.index(id).map(|i| {
                let mut events = self.accounts[i].events.clone();
                events.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
                page(events, query)
            }),
            ("GET", ["users", id, "emails"]) => self.index(id).map(|i| page(self.accounts[i].listed_emails(), query)),
            ("POST", ["users", id, "emails"]) => self.index(id).map(|i| self.add_email(i, body)),
            ("DELETE", ["users", id, "emails", email_id]) => self.index(id).and_then(|i| {
                let a = &mut self.accounts[i];
                let primary = a.primary().to_owned();
                let at = a.emails.iter().position(|e| email_id.parse() == Ok(e.id) && e.email != primary);
                let at = at.ok_or_else(|| not_found("Email"))?;
                a.emails.remove(at);
                Ok((204, Value::Null))
            }),
            ("GET", ["namespaces", id]) => self.group(id).map(|g| (200, self.namespace(g))),
            ("GET", ["groups", id]) => self.group(id).map(|g| {
                let values = json!({"id": g.id, "name": g.path, "path": g.path, "full_name": g.path, "full_path": g.path,
                                    "web_url": format!("{}/groups/{}", self.base, g.path), "description": "",
                                    "projects": [], "shared_projects": []});
                (200, with(&gitlab("group"), values))
            }),
            ("GET", ["groups", id, "members", "all", user_id]) => self.group(id).and_then(|g| {
                let member = &self.accounts[self.index(user_id)?];
                let level = member.groups.iter().find(|(gid, _)| *gid == g.id).map(|(_, level)| *level);
                let level = level.ok_or((404, json!({"message": "404 Not found"})))?;
                let template = gitlab("group_member_all");
                let values = json!({"access_level": level, "locked": member.user["locked"], "email": member.primary(),
                                    "created_by": self.account(self.admin).basic(&template["created_by"])});
                Ok((200, with(&member.basic(&template), values)))
            }),
            _ => Err((404, json!({"error": "404 Not Found"}))),
        };
        result.unwrap_or_else(|refused| refused)
    }

    fn path_of(&self, group: u64) -> &str {
        self.groups.iter().find(|g| g.id == group).map_or("", |g| g.path.as_str())
    }

    fn namespace(&self, g: &Group) -> Value {
        let members = self.accounts.iter().filter(|a| a.groups.iter().any(|(id, _)| *id == g.id)).count();
        let values = json!({"id": g.id, "name": g.path, "path": g.path, "kind": "group", "full_path": g.path,
                            "web_url": format!("{}/groups/{}", self.base, g.path), "plan": g.plan,
                            "members_count_with_descendants": members, "billable_members_count": members,
                            "seats_in_use": members, "max_seats_used": members});
        with(&gitlab("namespace"), values)
    }

    /// `POST /users/:id/emails`: 400 when any account already has the address.
    fn add_email(&mut self, i: usize, body: &Value) -> Answer {
        let address = body["email"].as_str().unwrap_or_default().to_lowercase();
        if self.accounts.iter().any(|a| a.holds(&address)) {
            return (400, gitlab("error_400_email_taken"));
        }
        let confirmed_at = (body["skip_confirmation"] == true).then(casekit::clock::now);
        let row = Email { id: self.next_email_id, email: address, confirmed_at };
        self.next_email_id += 1;
        let answer = with(&gitlab("email_created"), json!({"id": row.id, "email": row.email, "confirmed_at": row.confirmed_at}));
        self.accounts[i].emails.push(row);
        (201, answer)
    }

    /// `PUT /users/:id` with `email`, `skip_reconfirmation` and `note`.
    fn edit(&mut self, i: usize, body: &Value) -> Result<Answer, Answer> {
        if let Some(address) = body["email"].as_str().map(str::to_lowercase) {
            let id = self.accounts[i].id();
            if self.accounts.iter().any(|a| a.id() != id && a.holds(&address)) {
                return Err((409, gitlab("error_409_email_taken")));
            }
            let a = &mut self.accounts[i];
            if a.primary() != address {
                let Some(row) = a.emails.iter_mut().find(|e| e.email == address) else {
                    let refused = with(
                        &gitlab("error_400_email_taken"),
                        json!({"message": {"email": ["is not a secondary email of this user"]}}),
                    );
                    return Err((400, refused));
                };
                if row.confirmed_at.is_some() || body["skip_reconfirmation"] == true {
                    row.confirmed_at.get_or_insert_with(casekit::clock::now);
                    // An unset commit email is sent as the primary, so it follows it.
                    if a.user["commit_email"] == a.user["email"] {
                        a.user["commit_email"] = json!(address);
                    }
                    a.user["email"] = json!(address);
                }
            }
        }
        if let Some(note) = body.get("note").filter(|n| n.is_string()) {
            self.accounts[i].user["note"] = note.clone();
        }
        Ok((200, as_shape(&gitlab("user_edited"), &self.accounts[i].user)))
    }
}

/// A GitLab on loopback with its admin token.
pub struct FakeGitLab {
    pub url: String,
    pub token: String,
    state: Arc<Mutex<State>>,
}

impl FakeGitLab {
    /// Seeded with:
    /// - 1 `fake-admin`, the token's user;
    /// - 501 `quiet-quinn`, quinn@example.com: confirmed, never signed in, no activity;
    /// - 502 `quinn-lookalike`, *named* "quinn@example.com", another address, active: GitLab's
    ///   search ranks it first for quinn@example.com;
    /// - 503 `member-pat`, pat@acme.example (the requester of sandbox ticket 8002): signed in,
    ///   a push, Developer (30) of group 60 `acme-fake` (premium).
    pub async fn start() -> FakeGitLab {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let token = format!("glpat-fake-{:x}", std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos());
        let mut st = State { base: url.clone(), admin: 1, accounts: vec![], groups: vec![], next_email_id: 9001 };
        let active = Seen { sign_ins: 12, at: Some("2025-01-20T08:15:00.000Z") };
        st.add_user(1, "fake-admin", "Fake Admin", "admin@fake-gitlab.test", Seen { sign_ins: 40, ..active });
        st.add_user(501, "quiet-quinn", "Quinn Quiet", "quinn@example.com", Seen { sign_ins: 0, at: None });
        st.add_user(502, "quinn-lookalike", "quinn@example.com", "lookalike@example.net", active);
        st.groups.push(Group { id: 60, path: "acme-fake".into(), plan: "premium".into() });
        let pat = st.add_user(503, "member-pat", "Pat Member", "pat@acme.example", active);
        pat.groups.push((60, 30));
        let push = gitlab("events").as_array().unwrap().iter().find(|e| e["action_name"] == "pushed").unwrap().clone();
        let author = pat.basic(&push["author"]);
        let values = json!({"id": 7001, "project_id": 61, "author_id": 503, "author": author,
                            "author_username": "member-pat", "created_at": "2025-01-20T08:20:00.000Z"});
        pat.events.push(with(&push, values));

        let state = Arc::new(Mutex::new(st));
        let (shared, expected) = (state.clone(), token.clone());
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let (state, expected) = (shared.clone(), expected.clone());
            async move {
                let authorized = req.headers().get("private-token").is_some_and(|t| t.as_bytes() == expected.as_bytes());
                let (method, uri) = (req.method().clone(), req.uri().clone());
                let query: HashMap<String, String> =
                    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
                let bytes = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let (status, body) = if authorized {
                    state.lock().unwrap().answer(&method, uri.path(), &query, &body)
                } else {
                    (401, gitlab("error_401"))
                };
                let reply = Response::builder().status(status);
                match status {
                    204 => reply.body(Body::empty()),
                    _ => reply.header("content-type", "application/json").body(Body::from(body.to_string())),
                }
                .unwrap()
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeGitLab { url, token, state }
    }

    /// The user now, as `GET /users/:id` answers.
    pub fn user(&self, id: u64) -> Value {
        self.state.lock().unwrap().account(id).user.clone()
    }

    /// The user's addresses other than the primary, as `GET /users/:id/emails` lists them.
    pub fn emails(&self, id: u64) -> Vec<String> {
        let listed = self.state.lock().unwrap().account(id).listed_emails();
        listed.iter().map(|e| e["email"].as_str().unwrap().to_owned()).collect()
    }
}
