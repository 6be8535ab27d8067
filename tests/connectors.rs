//! Every connector call against the sandbox over real HTTP on loopback, the sandbox state it
//! changes, pagination across pages, and each kind of injected fault.

use std::time::{Duration, Instant};

use casekit::connectors::customersdot::{CustomerQuery, CustomersDot};
use casekit::connectors::gitlab::{EventQuery, GitLab, UserEdit};
use casekit::connectors::mailgun::{EventFilter, Mailgun};
use casekit::connectors::zendesk::{NewComment, TicketUpdate, UserUpdate, Zendesk};
use casekit::connectors::{HttpSettings, Service};
use casekit::sandbox::faults::{Fault, FaultRule};
use casekit::sandbox::world::Fixture;
use casekit::sandbox::{Sandbox, SandboxConfig};
use casekit::secrets::Secret;
use casekit::ErrorCode;

fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(10),
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        page_size: 100,
        max_pages: 50,
    }
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.expect("the sandbox starts on free ports")
}

fn gitlab(s: &Sandbox, settings: HttpSettings) -> GitLab {
    let c = &s.credentials().gitlab;
    GitLab::new(&c.url, Secret::new(c.admin_token.clone()), settings).unwrap()
}

fn zendesk(s: &Sandbox, instance: Service) -> Zendesk {
    zendesk_paged(s, instance, settings().page_size)
}

/// The instance's client asking for `page_size` items a page.
fn zendesk_paged(s: &Sandbox, instance: Service, page_size: u32) -> Zendesk {
    let c = if instance == Service::ZendeskUsGov { &s.credentials().zendesk_us_gov } else { &s.credentials().zendesk };
    Zendesk::new(instance, &c.url, &c.email, Secret::new(c.token.clone()), HttpSettings { page_size, ..settings() }).unwrap()
}

fn mailgun(s: &Sandbox, settings: HttpSettings) -> Mailgun {
    let c = &s.credentials().mailgun;
    Mailgun::new(&c.url, &c.domain, Secret::new(c.api_key.clone()), settings).unwrap()
}

fn customersdot(s: &Sandbox) -> CustomersDot {
    let c = &s.credentials().customersdot;
    CustomersDot::new(&c.url, Secret::new(c.token.clone()), settings()).unwrap()
}

fn fault(service: Service, method: &str, path: &str, fault: Fault, times: Option<u32>) -> FaultRule {
    FaultRule { service: Some(service), method: Some(method.into()), path: path.into(), fault, times }
}

fn remaining_hits(s: &Sandbox) -> Vec<Option<u32>> {
    s.armed_faults().into_iter().map(|r| r.times).collect()
}

// ---------------------------------------------------------------- GitLab

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_lookups_return_what_the_release_gates_read() {
    let s = sandbox().await;
    let gl = gitlab(&s, settings());

    let token = gl.token_self().await.unwrap();
    assert!(token.scopes.contains(&"api".to_owned()) && token.active);
    assert_eq!(gl.current_user().await.unwrap().is_admin, Some(true));

    let quinn = gl.user_by_username("Quiet-Quinn").await.unwrap().expect("username match is case-insensitive");
    assert_eq!(quinn.email.as_deref(), Some("quinn@example.com"));
    assert_eq!(quinn.sign_in_count, None, "a list answers without sign-in counts, as GitLab's does");
    let quinn = gl.user(quinn.id).await.unwrap();
    assert_eq!(quinn.sign_in_count, Some(0), "the single-user admin answer has them");
    assert!(quinn.last_sign_in_at.is_none());
    // GitLab's admin search also matches display names, and an exact name ranks first: the
    // account named "quinn@example.com" comes before the address's owner.
    let found = gl.search_users("QUINN@example.com").await.unwrap();
    assert_eq!(found.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["quinn-lookalike", "quiet-quinn"]);
    let exact = gl.users_with_email("Quinn@EXAMPLE.com").await.unwrap();
    assert_eq!(
        exact.iter().map(|u| u.id).collect::<Vec<_>>(),
        [quinn.id],
        "only the address's owner, in any case, as GitLab stores it"
    );
    assert!(gl.users_with_email("quinn+x@example.com").await.unwrap().is_empty(), "no +tag folding");
    assert!(gl.users_with_email("quinn@example.co").await.unwrap().is_empty());
    let by_secondary = gl.search_users("tess.work@example.com").await.unwrap();
    assert_eq!(by_secondary[0].username, "two-emails-tess", "admins find users by a confirmed secondary email");
    assert!(gl.search_users("tess.old@example.com").await.unwrap().is_empty(), "not by an unconfirmed one");

    let counts = gl.associations_count(quinn.id).await.unwrap();
    assert_eq!((counts.groups_count, counts.projects_count, counts.issues_count, counts.merge_requests_count), (0, 0, 0, 0));
    assert!(gl.memberships(quinn.id).await.unwrap().is_empty());
    assert!(gl.events(quinn.id, &EventQuery { per_page: 1, ..Default::default() }).await.unwrap().is_empty());

    let casey = gl.user_by_username("one-comment-casey").await.unwrap().unwrap();
    let events = gl.events(casey.id, &EventQuery { per_page: 1, ..Default::default() }).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action_name, "commented on");
    let only_pushes = EventQuery { action: Some("pushed".into()), per_page: 20, ..Default::default() };
    assert!(gl.events(casey.id, &only_pushes).await.unwrap().is_empty());

    let tess = gl.user_by_username("two-emails-tess").await.unwrap().unwrap();
    let emails = gl.emails(tess.id).await.unwrap();
    let confirmed: Vec<bool> = emails.iter().map(|e| e.confirmed_at.is_some()).collect();
    assert_eq!(confirmed, [true, false], "one verified and one unverified secondary email");

    let mario = gl.user_by_username("maint-mario").await.unwrap().unwrap();
    let m = gl.memberships(mario.id).await.unwrap();
    assert_eq!((m[0].source_type.as_str(), m[0].access_level), ("Project", 40));
    let olga = gl.user_by_username("owner-olga").await.unwrap().unwrap();
    assert_eq!(gl.project_member(11, olga.id).await.unwrap().unwrap().access_level, 50, "owner of the parent group");
    let ivy = gl.user_by_username("inherited-ivy").await.unwrap().unwrap();
    assert_eq!(gl.group_member(21, ivy.id).await.unwrap().unwrap().access_level, 30, "inherited from northwind");
    assert!(gl.memberships(ivy.id).await.unwrap().iter().all(|m| m.source_id != 21), "direct memberships only");
    assert!(gl.project_member(11, ivy.id).await.unwrap().is_none());

    let pat = gl.user_by_username("paid-pat").await.unwrap().unwrap();
    assert_eq!(gl.support_pin(pat.id).await.unwrap().unwrap().pin, "472913");
    assert!(gl.support_pin(olga.id).await.unwrap().is_none());
    assert_eq!(gl.keys(pat.id).await.unwrap().len(), 1);
    assert!(gl.gpg_keys(pat.id).await.unwrap().is_empty());

    let missing = gl.user(999_999).await.unwrap_err();
    assert_eq!(missing.code(), ErrorCode::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_an_email_really_removes_it_from_the_account() {
    let s = sandbox().await;
    let gl = gitlab(&s, settings());
    let quinn = gl.user_by_username("quiet-quinn").await.unwrap().unwrap();

    let taken = gl.add_email(quinn.id, "tess@example.com", true).await.unwrap_err();
    assert_eq!(taken.code(), ErrorCode::Rejected);
    assert!(taken.to_string().contains("has already been taken"), "{taken}");
    let not_secondary = gl
        .edit_user(
            quinn.id,
            &UserEdit { email: Some("elsewhere@example.com".into()), skip_reconfirmation: Some(true), note: None },
        )
        .await;
    assert_eq!(not_secondary.unwrap_err().code(), ErrorCode::Rejected);

    let added = gl.add_email(quinn.id, "quinn+release@example.com", true).await.unwrap();
    assert!(added.confirmed_at.is_some());
    let note = "2026-11-22 | email released (+release) | user requested | https://gitlab-sandbox.zendesk.com/agent/tickets/8001";
    let edited = gl
        .edit_user(
            quinn.id,
            &UserEdit { email: Some(added.email.clone()), skip_reconfirmation: Some(true), note: Some(note.into()) },
        )
        .await
        .unwrap();
    assert_eq!(edited.email.as_deref(), Some("quinn+release@example.com"));
    assert_eq!(edited.note.as_deref(), Some(note));

    let emails = gl.emails(quinn.id).await.unwrap();
    let old = emails.iter().find(|e| e.email == "quinn@example.com").expect("the old primary stays as a secondary until deleted");
    gl.delete_email(quinn.id, old.id).await.unwrap();
    assert!(gl.emails(quinn.id).await.unwrap().iter().all(|e| e.email != "quinn@example.com"));
    assert!(gl.users_with_email("quinn@example.com").await.unwrap().is_empty(), "the address is free");
    assert_eq!(gl.delete_email(quinn.id, old.id).await.unwrap_err().code(), ErrorCode::NotFound);

    let pat = gl.user_by_username("paid-pat").await.unwrap().unwrap();
    gl.disable_two_factor(pat.id).await.unwrap();
    assert_eq!(gl.user(pat.id).await.unwrap().two_factor_enabled, Some(false));
    assert_eq!(gl.disable_two_factor(pat.id).await.unwrap_err().code(), ErrorCode::Rejected);

    s.reset();
    assert_eq!(gl.user(quinn.id).await.unwrap().email.as_deref(), Some("quinn@example.com"), "reset restores the fixture");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_lists_are_followed_across_pages_on_the_base_url_the_client_used() {
    let s = sandbox().await;
    // Reached as "localhost": the sandbox must build its Link headers on that name.
    let url = s.credentials().gitlab.url.replace("127.0.0.1", "localhost");
    let gl =
        GitLab::new(&url, Secret::new(s.credentials().gitlab.admin_token.clone()), HttpSettings { page_size: 20, ..settings() })
            .unwrap();
    let ava = gl.user_by_username("active-ava").await.unwrap().unwrap();
    let events = gl.all_events(ava.id, &EventQuery::default()).await.unwrap();
    assert_eq!(events.len(), 65, "4 pages of 20");
    assert!(events.windows(2).all(|w| w[0].created_at >= w[1].created_at), "newest first");
    let mut ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 65, "no page repeated");

    let everyone =
        GitLab::new(&url, Secret::new(s.credentials().gitlab.admin_token.clone()), HttpSettings { page_size: 4, ..settings() })
            .unwrap()
            .search_users("")
            .await
            .unwrap();
    assert_eq!(everyone.len(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_address_match_among_more_search_hits_than_casekit_reads_is_an_error() {
    // Twenty more accounts named like Quinn's address: 22 hits, of which Casekit reads 20.
    let mut fixture = Fixture::builtin();
    let lookalike = fixture.gitlab.users.iter().find(|u| u.username == "quinn-lookalike").unwrap().clone();
    for i in 0..20 {
        let mut u = lookalike.clone();
        (u.id, u.username, u.email) = (900 + i, format!("quinn-lookalike-{i}"), format!("lookalike{i}@example.net"));
        fixture.gitlab.users.push(u);
    }
    let s = Sandbox::start(SandboxConfig { fixture, ..SandboxConfig::default() }).await.unwrap();
    let gl = gitlab(&s, settings());
    assert_eq!(gl.search_users("quinn@example.com").await.unwrap().len(), 22);
    let e = gl.users_with_email("quinn@example.com").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidResponse);
    assert!(e.to_string().contains("matched 22 accounts") && e.to_string().contains("Admin area"), "{e}");
    assert_eq!(gl.users_with_email("ivy@example.com").await.unwrap().len(), 1, "a search with few hits is read whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_refuses_wrong_and_non_admin_tokens_with_codes_an_agent_can_act_on() {
    let s = sandbox().await;
    let c = &s.credentials().gitlab;
    let wrong = GitLab::new(&c.url, Secret::new("glpat-not-the-right-token"), settings()).unwrap();
    let e = wrong.current_user().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unauthorized);
    assert!(e.to_string().contains("Replace the GitLab token"), "{e}");

    let user = GitLab::new(&c.url, Secret::new(c.user_token.clone()), settings()).unwrap();
    assert_eq!(user.token_self().await.unwrap().scopes, ["read_user"]);
    let e = user.memberships(101).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden);
    assert!(e.to_string().contains("administrator"), "{e}");
    let quinn = user.user(101).await.unwrap();
    assert_eq!(quinn.email, None, "a non-admin token does not see private emails");
}

// ---------------------------------------------------------------- Zendesk

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_tickets_users_and_organizations_change_as_the_api_says() {
    let s = sandbox().await;
    let zd = zendesk(&s, Service::Zendesk);
    assert_eq!(zd.me().await.unwrap().role, "agent");

    let ticket = zd.ticket(8009).await.unwrap();
    assert_eq!((ticket.status.as_str(), ticket.requester_id), ("new", 6003));
    let before = zd.comments(8009).await.unwrap();
    assert_eq!(before.len(), 2);
    let note = TicketUpdate { comment: Some(NewComment { body: "Casekit summary".into(), public: false }), ..Default::default() };
    zd.update_ticket(8009, &note).await.unwrap();
    let after = zd.comments(8009).await.unwrap();
    assert_eq!(after.len(), 3);
    assert!(!after[2].public && after[2].body == "Casekit summary");

    let mallory = zd.users_by_email("MALLORY@spam.example").await.unwrap();
    assert_eq!(mallory.len(), 1);
    let id = mallory[0].id;
    zd.update_user(id, &UserUpdate { suspended: Some(true), notes: Some("Banned: ticket 8009, spam".into()) }).await.unwrap();
    let u = zd.user(id).await.unwrap();
    assert!(u.suspended);
    assert_eq!(u.notes.as_deref(), Some("Banned: ticket 8009, spam"));
    assert_eq!(zd.sessions(id).await.unwrap().len(), 3);
    zd.delete_sessions(id).await.unwrap();
    assert!(zd.sessions(id).await.unwrap().is_empty());

    zd.update_ticket(8009, &TicketUpdate { status: Some("closed".into()), ..Default::default() }).await.unwrap();
    let again = zd.update_ticket(8009, &note).await.unwrap_err();
    assert_eq!(again.code(), ErrorCode::TicketClosed, "{again}");
    assert!(!again.retryable());
    assert!(again.to_string().contains("#8009 is closed") && again.to_string().contains("follow-up ticket"), "{again}");
    assert_eq!(zd.comments(8009).await.unwrap().len(), 3, "nothing was added to the closed ticket");

    let tess = zd.users_by_email("tess@example.com").await.unwrap()[0].id;
    let added = zd.add_email_identity(tess, "tess.second@example.com", false).await.unwrap();
    assert!(!added.primary && !added.verified);
    zd.verify_identity(tess, added.id).await.unwrap();
    let dup = zd.add_email_identity(tess, "mallory@spam.example", false).await.unwrap_err();
    assert_eq!(dup.code(), ErrorCode::Rejected);
    let ids = zd.identities(tess).await.unwrap();
    assert_eq!(ids.iter().filter(|i| i.primary).count(), 1);
    assert!(ids.iter().any(|i| i.value == "tess.second@example.com" && i.verified));

    let globex = zd.organization_memberships(7002).await.unwrap();
    assert_eq!(globex.len(), 30, "Globex is at the 30-contact limit");
    assert_eq!(zd.organization(7001).await.unwrap().organization_fields["account_manager_email"], "am.acme@gitlab.example");
    let m = zd.add_organization_membership(6014, 7001).await.unwrap();
    assert_eq!(m.organization_id, 7001);
    assert_eq!(zd.add_organization_membership(6014, 7001).await.unwrap_err().code(), ErrorCode::Rejected);
    zd.remove_organization_membership(6014, 7001).await.unwrap();
    assert_eq!(zd.organization_memberships(7001).await.unwrap().len(), 2);

    let forms = zd.ticket_forms().await.unwrap();
    assert!(forms.iter().any(|f| f.id == 360002));
    let moved = zd
        .update_ticket(
            8008,
            &TicketUpdate { ticket_form_id: Some(360004), tags: Some(vec!["self_managed".into()]), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!((moved.ticket_form_id, moved.tags.as_slice()), (Some(360004), ["self_managed".to_owned()].as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_cursor_pages_are_followed_and_the_instances_are_separate() {
    let s = sandbox().await;
    let small = zendesk_paged(&s, Service::Zendesk, 7);
    let members = small.organization_memberships(7002).await.unwrap();
    assert_eq!(members.len(), 30, "5 pages of 7");
    let mut ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30);

    let gov = zendesk(&s, Service::ZendeskUsGov);
    assert_eq!(gov.ticket(9001).await.unwrap().requester_id, 6101);
    assert_eq!(zendesk(&s, Service::Zendesk).ticket(9001).await.unwrap_err().code(), ErrorCode::NotFound);
    assert!(gov.ticket_link(9001).ends_with("/agent/tickets/9001"));

    let c = &s.credentials().zendesk;
    let wrong =
        Zendesk::new(Service::Zendesk, &c.url, &c.email, Secret::new(s.credentials().zendesk_us_gov.token.clone()), settings())
            .unwrap();
    assert_eq!(wrong.me().await.unwrap_err().code(), ErrorCode::Unauthorized, "one instance's token does not open the other");
}

/// A GET as a public Zendesk client sends it (zenpy, and the API reference's curl examples,
/// write `.json` paths), with the agent's `{email}/token:{token}`: status and JSON body.
async fn zendesk_get(s: &Sandbox, path_or_url: &str) -> (u16, serde_json::Value) {
    let c = &s.credentials().zendesk;
    let url = if path_or_url.starts_with("http") { path_or_url.to_owned() } else { format!("{}{path_or_url}", c.url) };
    let reply = reqwest::Client::new().get(url).basic_auth(format!("{}/token", c.email), Some(&c.token)).send().await.unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

/// Follows `next_page` links from `path` to the end; the ids under `key`, and the links followed.
async fn zendesk_offset_ids(s: &Sandbox, path: &str, key: &str) -> (Vec<u64>, Vec<String>) {
    let (mut ids, mut links) = (Vec::new(), Vec::new());
    let (status, mut page) = zendesk_get(s, path).await;
    assert_eq!(status, 200, "{path}: {page}");
    loop {
        ids.extend(page[key].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()));
        let Some(next) = page["next_page"].as_str().map(str::to_owned) else { return (ids, links) };
        links.push(next.clone());
        page = zendesk_get(s, &next).await.1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_answers_the_json_paths_of_its_api_reference_as_it_answers_bare_paths() {
    let s = sandbox().await;
    for (bare, suffixed) in [
        ("/api/v2/tickets/8001", "/api/v2/tickets/8001.json"),
        ("/api/v2/tickets/8009/comments", "/api/v2/tickets/8009/comments.json"),
        ("/api/v2/users/6001", "/api/v2/users/6001.json"),
        ("/api/v2/users/6001/identities", "/api/v2/users/6001/identities.json"),
        ("/api/v2/users/me", "/api/v2/users/me.json"),
        ("/api/v2/organizations/7001", "/api/v2/organizations/7001.json"),
        ("/api/v2/ticket_forms", "/api/v2/ticket_forms.json"),
        ("/api/v2/ticket_fields", "/api/v2/ticket_fields.json"),
        ("/api/v2/users/search?query=quinn", "/api/v2/users/search.json?query=quinn"),
    ] {
        let (plain, json) = (zendesk_get(&s, bare).await, zendesk_get(&s, suffixed).await);
        assert_eq!(plain.0, 200, "{bare}: {}", plain.1);
        assert_eq!(json, plain, "{suffixed} answers as {bare}");
    }
    let c = &s.credentials().zendesk;
    let put = reqwest::Client::new()
        .put(format!("{}/api/v2/tickets/8001.json", c.url))
        .basic_auth(format!("{}/token", c.email), Some(&c.token))
        .json(&serde_json::json!({"ticket": {"comment": {"body": "from a .json path", "public": false}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let zd = zendesk(&s, Service::Zendesk);
    assert!(zd.comments(8001).await.unwrap().iter().any(|c| c.body == "from a .json path"), "the write landed");

    // A rule on the bare path covers the suffixed one; armed over HTTP to let one request through first.
    let armed = reqwest::Client::new()
        .post(format!("{}/_sandbox/faults?after=1", c.url))
        .json(&serde_json::json!({"method": "GET", "path": "/api/v2/tickets/8001", "fault": {"kind": "status", "status": 503}, "times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(armed.status(), 201);
    assert_eq!(zendesk_get(&s, "/api/v2/tickets/8001.json").await.0, 200, "let through");
    assert_eq!(zendesk_get(&s, "/api/v2/tickets/8001.json").await.0, 503, "then hit");
    assert!(remaining_hits(&s).is_empty());
    let (status, body) = zendesk_get(&s, "/api/v2/no_such_thing.json").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("InvalidEndpoint")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_lists_tickets_by_offset_and_by_cursor() {
    let s = sandbox().await;
    let (status, first) = zendesk_get(&s, "/api/v2/tickets.json?per_page=5").await;
    assert_eq!(status, 200);
    assert_eq!((first["count"].as_u64(), first["tickets"].as_array().unwrap().len()), (Some(20), 5));
    assert!(first["previous_page"].is_null());
    for key in ["url", "via", "raw_subject", "requester_id", "custom_fields", "fields", "ticket_form_id", "brand_id", "is_public"]
    {
        assert!(first["tickets"][0].get(key).is_some(), "a listed ticket carries {key}, as recorded ones do");
    }
    let (ids, links) = zendesk_offset_ids(&s, "/api/v2/tickets.json?per_page=5", "tickets").await;
    assert_eq!(links.len(), 3, "20 tickets, 5 a page");
    assert!(links.iter().all(|l| l.contains("/api/v2/tickets.json?") && l.contains("per_page=5")), "{links:?}");
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!((ids.len(), unique.len()), (20, 20));

    let (_, cursor) = zendesk_get(&s, "/api/v2/tickets?page%5Bsize%5D=10").await;
    assert_eq!(cursor["tickets"].as_array().unwrap().len(), 10);
    assert_eq!(cursor["meta"]["has_more"], true);
    let (_, rest) = zendesk_get(&s, cursor["links"]["next"].as_str().unwrap()).await;
    assert_eq!((rest["tickets"].as_array().unwrap().len(), &rest["meta"]["has_more"]), (10, &serde_json::json!(false)));

    assert_eq!(zendesk_get(&s, "/api/v2/tickets.json?page=101&per_page=100").await.0, 400, "offset lists stop at 10,000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_search_reads_zendesk_syntax_and_answers_in_the_recorded_shape() {
    let s = sandbox().await;
    let q = |query: &str, extra: &str| {
        format!("/api/v2/search.json?query={}{extra}", url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>())
    };
    let (status, users) = zendesk_get(&s, &q(r#"type:user email:"mallory@spam.example""#, "")).await;
    assert_eq!(status, 200);
    assert_eq!((users["count"].as_u64(), users["results"][0]["id"].as_u64()), (Some(1), Some(6003)));
    assert_eq!(users["results"][0]["result_type"], "user");
    assert!(users["facets"].is_null() && users["next_page"].is_null() && users["previous_page"].is_null());

    let (_, mallory) = zendesk_get(&s, &q("type:ticket requester:mallory@spam.example status:new", "")).await;
    let found: Vec<(u64, &str)> = mallory["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_u64().unwrap(), r["result_type"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [(8009, "ticket")]);

    let (ids, links) = zendesk_offset_ids(&s, &q("type:ticket tags:customers_portal", "&per_page=4"), "results").await;
    assert_eq!(ids, [8004, 8011, 8012, 8013, 8014, 8015]);
    assert!(links[0].contains("/api/v2/search.json?") && links[0].contains("page=2"), "{links:?}");

    let (_, both) = zendesk_get(&s, &q("globex", "")).await;
    let kinds: Vec<&str> = both["results"].as_array().unwrap().iter().filter_map(|r| r["result_type"].as_str()).collect();
    assert!(kinds.contains(&"ticket") && kinds.contains(&"user"), "no type: tickets and users, {kinds:?}");

    let (status, over) = zendesk_get(&s, &q("type:ticket", "&page=11&per_page=100")).await;
    assert_eq!(status, 422, "searches reach 1,000 results");
    assert!(over["description"].as_str().unwrap().contains("Search Response Limits"), "{over}");
    let (status, cursor) = zendesk_get(&s, &q("type:ticket", "&page%5Bsize%5D=1")).await;
    assert_eq!((status, cursor["error"]["title"].as_str()), (400, Some("Invalid attribute")), "searches page by offset only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_user_lookups_take_the_address_exactly_not_as_search_reads_it() {
    let s = sandbox().await;
    let ids =
        |v: &serde_json::Value| v["users"].as_array().unwrap().iter().map(|u| u["id"].as_u64().unwrap()).collect::<Vec<_>>();
    // The query Casekit used to send, the address unquoted, also finds the lookalike, listed first;
    // an address with a `*` in it is a wildcard.
    let (_, loose) = zendesk_get(&s, "/api/v2/users/search.json?query=email:olga@acme.example").await;
    assert_eq!(ids(&loose), [5999, 6002]);
    let (_, wild) = zendesk_get(&s, "/api/v2/users/search.json?query=email:o*@acme.example").await;
    assert_eq!(ids(&wild), [6002]);

    let zd = zendesk(&s, Service::Zendesk);
    let found = |users: Vec<casekit::connectors::zendesk::User>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(found(zd.users_by_email("olga@acme.example").await.unwrap()), [6002]);
    assert_eq!(found(zd.users_by_email(" OLGA@Acme.Example ").await.unwrap()), [6002], "case-insensitively");
    assert!(zd.users_by_email("o*@acme.example").await.unwrap().is_empty(), "a * is not a wildcard for Casekit");
    assert_eq!(found(zd.users_by_email("olga@acme.example.attacker.example").await.unwrap()), [5999]);
    assert_eq!(zd.users_by_email("o\"lga@acme.example").await.unwrap_err().code(), ErrorCode::InvalidInput);

    // A secondary address counts once it is verified.
    let added = zd.add_email_identity(6002, "olga.alt@acme.example", false).await.unwrap();
    assert!(zd.users_by_email("olga.alt@acme.example").await.unwrap().is_empty(), "not while unverified");
    zd.verify_identity(6002, added.id).await.unwrap();
    assert_eq!(found(zd.users_by_email("olga.alt@acme.example").await.unwrap()), [6002]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_ticket_fields_tell_zendesks_own_fields_from_custom_ones() {
    let s = sandbox().await;
    let small = zendesk_paged(&s, Service::Zendesk, 4);
    let fields = small.ticket_fields().await.unwrap();
    assert_eq!(fields.len(), 17, "5 cursor pages");
    let system: Vec<&str> = fields.iter().filter(|f| f.is_system()).map(|f| f.kind.as_str()).collect();
    assert_eq!(system, ["subject", "description", "status", "tickettype", "priority", "group", "assignee"]);
    assert!(fields.iter().any(|f| f.kind == "priority" && f.removable), "priority is removable, yet Zendesk's own");
    let forms = small.ticket_forms().await.unwrap();
    let sm = forms.iter().find(|f| f.id == 360004).unwrap();
    assert!(sm.ticket_field_ids.starts_with(&[1, 2, 3]), "forms list system fields too");
    let condition = &sm.agent_conditions[0];
    assert_eq!((condition.parent_field_id, &condition.value), (1007, &serde_json::json!("runner")));
    assert!(condition.child_fields[0].id == 1008 && condition.child_fields[0].is_required);
}

// ---------------------------------------------------------------- Mailgun

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailgun_events_are_paged_and_a_suppression_is_seen_and_lifted() {
    let s = sandbox().await;
    let mg = mailgun(&s, HttpSettings { page_size: 2, ..settings() });
    assert_eq!(mg.domain().await.unwrap().state, "active");

    let ravi = mg.events(&EventFilter { recipient: Some("ravi@example.com".into()), ..Default::default() }).await.unwrap();
    assert_eq!(ravi.len(), 5, "3 pages of at most 2");
    let reset = ravi.iter().find(|e| e.subject() == Some("Reset password instructions") && e.event == "delivered").unwrap();
    assert!(reset.is_delivered());
    let delivered_only = mg
        .events(&EventFilter {
            recipient: Some("ravi@example.com".into()),
            event: Some("delivered".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(delivered_only.len(), 2);

    let bo = mg.events(&EventFilter { recipient: Some("bo.bounced@example.com".into()), ..Default::default() }).await.unwrap();
    assert!(bo[0].is_suppression(), "newest first: the suppressed attempt");
    assert!(mg.bounce("bo.bounced@example.com").await.unwrap().is_some());
    mg.delete_bounce("bo.bounced@example.com").await.unwrap();
    assert!(mg.bounce("bo.bounced@example.com").await.unwrap().is_none());

    let c = &s.credentials().mailgun;
    let other = Mailgun::new(&c.url, "mg.example.org", Secret::new(c.api_key.clone()), settings()).unwrap();
    assert_eq!(other.domain().await.unwrap_err().code(), ErrorCode::NotFound);
}

// ---------------------------------------------------------------- page limit

/// The error for a list longer than `pages` pages: names the list and says what to do.
fn assert_too_long(e: casekit::Error, what: &str, pages: u32) {
    let text = e.to_string();
    assert_eq!(e.code(), ErrorCode::InvalidResponse, "{text}");
    assert!(text.contains(what), "names the list, {what}: {text}");
    assert!(text.contains(&format!("stopped after {pages} pages")), "{text}");
    assert!(text.contains("Narrow what is asked for") && text.contains("whole list in"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_s_lists_are_read_to_the_end_and_one_longer_than_the_page_limit_is_an_error() {
    let s = sandbox().await;
    let limited = |page_size: u32, max_pages: u32| HttpSettings { page_size, max_pages, ..settings() };

    // GitLab, by Link headers: 16 users in 4 pages of 4.
    assert_eq!(gitlab(&s, limited(4, 4)).search_users("").await.unwrap().len(), 16, "exactly at the limit");
    assert_too_long(gitlab(&s, limited(4, 3)).search_users("").await.unwrap_err(), "GitLab has more users matching “”", 3);
    // The newest events are the one named cut: 20 of Ava's 65 in one page, whatever the limit.
    let gl = gitlab(&s, limited(20, 1));
    let ava = gl.user_by_username("active-ava").await.unwrap().unwrap();
    assert_eq!(gl.events(ava.id, &EventQuery { per_page: 20, ..Default::default() }).await.unwrap().len(), 20);
    assert_too_long(gl.all_events(ava.id, &EventQuery::default()).await.unwrap_err(), "contribution events of user 112", 1);

    // Zendesk, by cursor: Globex's 30 members in 5 pages of 7.
    let zd = |page_size, max_pages| {
        let c = &s.credentials().zendesk;
        Zendesk::new(Service::Zendesk, &c.url, &c.email, Secret::new(c.token.clone()), limited(page_size, max_pages)).unwrap()
    };
    assert_eq!(zd(7, 5).organization_memberships(7002).await.unwrap().len(), 30);
    assert_too_long(
        zd(7, 4).organization_memberships(7002).await.unwrap_err(),
        "Zendesk has more members of organization 7002",
        4,
    );
    // Zendesk, by offset (the user search): the address and its lookalike, one a page.
    let olga: Vec<u64> = zd(1, 2).users_by_email("olga@acme.example").await.unwrap().iter().map(|u| u.id).collect();
    assert_eq!(olga, [6002], "both pages read, the lookalike dropped");
    assert_too_long(zd(1, 1).users_by_email("olga@acme.example").await.unwrap_err(), "users matching “olga@acme.example”", 1);

    // Mailgun, until an empty page: Ravi's 5 events in 3 pages of 2, then the empty one.
    let ravi = EventFilter { recipient: Some("ravi@example.com".into()), ..Default::default() };
    assert_eq!(mailgun(&s, limited(2, 4)).events(&ravi).await.unwrap().len(), 5);
    assert_too_long(
        mailgun(&s, limited(2, 3)).events(&ravi).await.unwrap_err(),
        "Mailgun has more events for ravi@example.com",
        3,
    );
}

// ---------------------------------------------------------------- CustomersDot

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customersdot_admin_contract_changes_links_and_memberships() {
    let s = sandbox().await;
    let cd = customersdot(&s);
    assert_eq!(cd.whoami().await.unwrap(), "agent@casekit.test");

    let lena = cd.find_customers(&CustomerQuery::Uid(111)).await.unwrap();
    assert_eq!(lena[0].email, "lena.billing@example.com");
    assert_eq!(cd.find_customers(&CustomerQuery::Name("sold-to".into())).await.unwrap()[0].created_via, "sales");
    let casey = &cd.find_customers(&CustomerQuery::Email("Casey.Portal@example.com".into())).await.unwrap()[0];
    assert!(casey.confirmed_at.is_none());
    cd.resend_confirmation(casey.id).await.unwrap();
    assert_eq!(cd.resend_confirmation(lena[0].id).await.unwrap_err().code(), ErrorCode::Rejected, "already confirmed");
    let link = cd.send_one_time_sign_in_link(casey.id).await.unwrap();
    assert_eq!((link.sent_to.as_str(), link.last4.len()), ("casey.portal@example.com", 4), "emailed, never returned");

    let no_ticket = cd.unlink_gitlab_user(lena[0].id, "not a link").await.unwrap_err();
    assert!(no_ticket.to_string().contains("ticket_url is required"), "{no_ticket}");
    let ticket = "https://gitlab-sandbox.zendesk.com/agent/tickets/8004";
    let unlinked = cd.unlink_gitlab_user(lena[0].id, ticket).await.unwrap();
    assert_eq!(unlinked.uid, None);
    assert!(cd.find_customers(&CustomerQuery::Uid(111)).await.unwrap().is_empty());
    let audit = cd.support_audit_events(lena[0].id).await.unwrap();
    assert_eq!((audit[0].action.as_str(), audit[0].ticket_url.as_deref()), ("unlink_gitlab_user", Some(ticket)));
    assert_eq!(cd.unlink_gitlab_user(lena[0].id, ticket).await.unwrap_err().code(), ErrorCode::Rejected);

    let hooli = cd.billing_account(2).await.unwrap();
    assert_eq!(hooli.sold_to.email, "lena.billing@example.com");
    let leo = &cd.find_customers(&CustomerQuery::Email("leo.legacy@example.com".into())).await.unwrap()[0];
    let m = cd.add_billing_account_membership(leo.id, 2).await.unwrap();
    assert_eq!(cd.billing_account(2).await.unwrap().memberships.len(), 2);
    assert_eq!(cd.add_billing_account_membership(leo.id, 1).await.unwrap_err().code(), ErrorCode::Rejected, "one per customer");
    cd.remove_billing_account_membership(m.id).await.unwrap();
    assert!(cd.customer(leo.id).await.unwrap().billing_account_membership.is_none());
}

// ---------------------------------------------------------------- faults

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_through_rate_limits_outages_and_dropped_connections() {
    let s = sandbox().await;
    let gl = gitlab(&s, settings());

    s.arm_fault(fault(Service::Gitlab, "GET", "/api/v4/users/101", Fault::RateLimit { retry_after: 1 }, Some(2)));
    assert_eq!(gl.user(101).await.unwrap().username, "quiet-quinn");
    assert!(remaining_hits(&s).is_empty(), "both 429s were answered before the success");

    s.arm_fault(fault(Service::Gitlab, "GET", "/api/v4/users/*", Fault::Status { status: 503 }, Some(2)));
    gl.associations_count(101).await.unwrap();
    s.arm_fault(fault(Service::Gitlab, "GET", "/api/v4/users/101", Fault::Drop, Some(1)));
    gl.user(101).await.unwrap();
    s.arm_fault(fault(Service::Gitlab, "GET", "/api/v4/user", Fault::Latency { ms: 150 }, Some(1)));
    gl.current_user().await.unwrap();
    assert!(remaining_hits(&s).is_empty());

    s.arm_fault(fault(Service::Gitlab, "GET", "/api/v4/users/101", Fault::Status { status: 500 }, None));
    assert_eq!(gl.user(101).await.unwrap_err().code(), ErrorCode::ServiceError, "a 500 is not retried");
    s.clear_faults();

    s.arm_fault(fault(Service::Gitlab, "GET", "/api/v4/users/101", Fault::RateLimit { retry_after: 60 }, None));
    let limited = gl.user(101).await.unwrap_err();
    assert_eq!(limited.code(), ErrorCode::RateLimited);
    assert!(limited.to_string().contains("Try again in 60 s"), "{limited}");
    assert!(limited.retryable());
    s.clear_faults();

    s.arm_fault(fault(Service::Mailgun, "GET", "/v3/mg.gitlab.com/events*", Fault::Status { status: 502 }, Some(1)));
    s.arm_fault(fault(Service::Customersdot, "GET", "/admin/api/v1/whoami", Fault::Drop, Some(1)));
    s.arm_fault(fault(Service::Zendesk, "GET", "/api/v2/users/me", Fault::RateLimit { retry_after: 0 }, Some(1)));
    mailgun(&s, settings()).events(&EventFilter::default()).await.unwrap();
    customersdot(&s).whoami().await.unwrap();
    zendesk(&s, Service::Zendesk).me().await.unwrap();
    assert!(remaining_hits(&s).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_sent_once_and_never_repeated_by_the_http_layer() {
    let s = sandbox().await;
    let gl = gitlab(&s, settings());

    s.arm_fault(fault(Service::Gitlab, "POST", "/api/v4/users/101/emails", Fault::Status { status: 503 }, Some(3)));
    let e = gl.add_email(101, "quinn+release@example.com", true).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceError);
    assert_eq!(remaining_hits(&s), [Some(2)], "exactly one POST reached the server");
    s.clear_faults();

    s.arm_fault(fault(Service::Gitlab, "POST", "/api/v4/users/101/emails", Fault::Drop, Some(3)));
    let e = gl.add_email(101, "quinn+release@example.com", true).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unreachable);
    assert_eq!(remaining_hits(&s), [Some(2)]);
    s.clear_faults();
    assert!(gl.emails(101).await.unwrap().is_empty(), "the caller re-reads: nothing was added");

    s.arm_fault(fault(Service::Zendesk, "PUT", "/api/v2/tickets/8001", Fault::RateLimit { retry_after: 0 }, Some(2)));
    let zd = zendesk(&s, Service::Zendesk);
    let note = TicketUpdate { comment: Some(NewComment { body: "once".into(), public: false }), ..Default::default() };
    assert_eq!(zd.update_ticket(8001, &note).await.unwrap_err().code(), ErrorCode::RateLimited);
    assert_eq!(remaining_hits(&s), [Some(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_answers_fails_as_timeout_within_the_bound() {
    let s = sandbox().await;
    let bound = Duration::from_millis(1500);
    let gl = gitlab(&s, HttpSettings { total_timeout: bound, ..settings() });
    s.arm_fault(fault(Service::Gitlab, "GET", "/api/v4/users/101", Fault::Timeout, None));
    let started = Instant::now();
    let e = gl.user(101).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert!(e.to_string().contains("did not answer within 2 s"), "{e}");
    assert!(took < bound * 3, "gave up after {took:?}, bound {bound:?}: retries must stay inside the bound");

    s.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let down = gl.current_user().await.unwrap_err();
    assert_eq!(down.code(), ErrorCode::Unreachable);
    assert!(down.to_string().contains("Check the GitLab URL in Settings"), "{down}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_can_be_armed_over_http_on_the_control_endpoint() {
    let s = sandbox().await;
    let base = &s.credentials().zendesk.url;
    let http = reqwest::Client::new();
    let armed = http
        .post(format!("{base}/_sandbox/faults"))
        .json(&serde_json::json!({"method": "GET", "path": "/api/v2/users/me", "fault": {"kind": "status", "status": 503}}))
        .send()
        .await
        .unwrap();
    assert_eq!(armed.status(), 201);
    let listed: Vec<FaultRule> = http.get(format!("{base}/_sandbox/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0].service, Some(Service::Zendesk), "a rule posted to a server applies to that server");
    let e = zendesk(&s, Service::Zendesk).me().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceError, "503 on every attempt");
    let bad = http.post(format!("{base}/_sandbox/faults")).body("{\"fault\": 1}").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(http.delete(format!("{base}/_sandbox/faults")).send().await.unwrap().status(), 204);
    zendesk(&s, Service::Zendesk).me().await.unwrap();
}
