//! Fault injection: per service, method and path, armed from the fixture or at run time
//! through `/_sandbox/faults` on any sandbox server.

use serde::{Deserialize, Serialize};

use super::Service;

/// One armed fault.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Which server; posted to a server's own control endpoint it defaults to that server.
    #[serde(default)]
    pub service: Option<Service>,
    /// `GET`, `POST`, …; any method when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// The request path, exactly, or a prefix ending in `*` (`/api/v4/users/*`). Zendesk paths
    /// are matched without the optional `.json` suffix, so one rule covers both spellings.
    pub path: String,
    pub fault: Fault,
    /// How many requests it hits before it disarms itself; every request when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

/// What happens to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Answer normally, this much later.
    Latency { ms: u64 },
    /// Answer with this status and the service's error body.
    Status { status: u16 },
    /// 429 with `Retry-After` in seconds (and GitLab's `RateLimit-*` headers).
    RateLimit { retry_after: u64 },
    /// Never answer (the connection stays open until the client gives up).
    Timeout,
    /// Close the connection without an answer.
    Drop,
}

impl FaultRule {
    fn matches(&self, service: Service, method: &str, path: &str) -> bool {
        self.service.is_none_or(|s| s == service)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && match self.path.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == self.path,
            }
    }
}

/// The armed faults of a running sandbox, each with how many matching requests it still lets
/// through before it hits.
#[derive(Debug, Default)]
pub struct Faults(Vec<(FaultRule, u32)>);

impl Faults {
    pub fn new(rules: Vec<FaultRule>) -> Self {
        Faults(rules.into_iter().map(|r| (r, 0)).collect())
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.0.iter().map(|(r, _)| r.clone()).collect()
    }

    pub fn arm(&mut self, rule: FaultRule) {
        self.arm_after(0, rule);
    }

    /// Arms `rule` to let `pass` matching requests through first (the second of two updates of
    /// one ticket, say).
    pub fn arm_after(&mut self, pass: u32, rule: FaultRule) {
        self.0.push((rule, pass));
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The fault for this request, if one is armed; counts it against the requests every
    /// matching rule still lets through, and against the hitting rule's `times`.
    pub fn take(&mut self, service: Service, method: &str, path: &str) -> Option<Fault> {
        let i = self.0.iter_mut().position(|(r, pass)| {
            if !r.matches(service, method, path) {
                return false;
            }
            if *pass > 0 {
                *pass -= 1;
                return false;
            }
            true
        })?;
        let rule = &mut self.0[i].0;
        let fault = rule.fault;
        if let Some(n) = rule.times.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.0.remove(i);
            }
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str, times: Option<u32>) -> FaultRule {
        FaultRule {
            service: Some(Service::Gitlab),
            method: Some("GET".into()),
            path: path.into(),
            fault: Fault::Status { status: 503 },
            times,
        }
    }

    #[test]
    fn a_rule_armed_after_n_lets_that_many_matching_requests_through_first() {
        let mut faults = Faults::default();
        faults.arm_after(1, rule("/api/v4/users/1", Some(1)));
        assert_eq!(faults.take(Service::Gitlab, "GET", "/api/v4/users/2"), None);
        assert_eq!(faults.take(Service::Gitlab, "GET", "/api/v4/users/1"), None, "the first match passes");
        assert!(faults.take(Service::Gitlab, "GET", "/api/v4/users/1").is_some(), "the second is hit");
        assert_eq!(faults.take(Service::Gitlab, "GET", "/api/v4/users/1"), None, "and the rule is spent");
    }

    #[test]
    fn a_counted_fault_disarms_after_its_hits_and_matches_only_its_service_method_and_path() {
        let mut faults = Faults::new(vec![rule("/api/v4/users/*", Some(2))]);
        assert_eq!(faults.take(Service::Zendesk, "GET", "/api/v4/users/1"), None);
        assert_eq!(faults.take(Service::Gitlab, "POST", "/api/v4/users/1"), None);
        assert_eq!(faults.take(Service::Gitlab, "GET", "/api/v4/user"), None);
        assert!(faults.take(Service::Gitlab, "get", "/api/v4/users/1").is_some());
        assert!(faults.take(Service::Gitlab, "GET", "/api/v4/users/2/events").is_some());
        assert_eq!(faults.take(Service::Gitlab, "GET", "/api/v4/users/1"), None);
    }

    #[test]
    fn an_exact_path_does_not_match_longer_paths() {
        let mut faults = Faults::new(vec![rule("/api/v4/users", None)]);
        assert_eq!(faults.take(Service::Gitlab, "GET", "/api/v4/users/1"), None);
        assert!(faults.take(Service::Gitlab, "GET", "/api/v4/users").is_some());
        assert!(faults.take(Service::Gitlab, "GET", "/api/v4/users").is_some(), "no `times` means every request");
    }
}
