//! Validation of what agents type (names, emails), with messages that say how to fix it.

use crate::{Error, Result};

/// A trimmed, non-empty piece of text of at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::InvalidInput(format!("Enter the {field}.")));
    }
    if v.chars().count() > max {
        return Err(Error::InvalidInput(format!("The {field} is too long: keep it to {max} characters.")));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!("The {field} contains a line break or control character: remove it.")));
    }
    Ok(v.to_owned())
}

/// An email address: one `@`, a local part, a dotted domain, no spaces; returned trimmed and
/// with the domain lower-cased (the local part is kept as typed).
pub fn email(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    let bad = |why: &str| Err(Error::InvalidInput(format!("The {field} \"{v}\" is not an email address: {why}.")));
    if v.is_empty() {
        return Err(Error::InvalidInput(format!("Enter the {field}.")));
    }
    if v.len() > 254 {
        return bad("it is longer than 254 characters");
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains a space");
    }
    let Some((local, domain)) = v.rsplit_once('@') else {
        return bad("it has no @");
    };
    if local.is_empty() || local.contains('@') {
        return bad("it needs exactly one @ with a name before it");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-')) {
        return bad("the part after @ must be a domain such as example.com");
    }
    if !domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
        return bad("the domain may only hold letters, digits, dots and hyphens");
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// A service's base URL: `https://…`, or `http://` only to this machine (the sandbox, a
/// training room). Returned without a trailing slash; empty input stays empty (not set up).
pub fn service_url(field: &str, value: &str) -> Result<String> {
    let v = value.trim().trim_end_matches('/');
    if v.is_empty() {
        return Ok(String::new());
    }
    let bad = |why: &str| Err(Error::InvalidInput(format!("The {field} \"{v}\" {why}.")));
    let Ok(url) = url::Url::parse(v) else {
        return bad("is not a URL: enter it like https://gitlab.example.com");
    };
    let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return bad("uses http: Casekit sends tokens only over https (http is allowed for 127.0.0.1)"),
        _ => return bad("must start with https://"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("has no host name");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry a user name or password: tokens go in the token fields");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return bad("must not have ? or # parts: enter only the address of the service");
    }
    Ok(v.to_owned())
}

/// A Zendesk instance: a subdomain (`gitlab` → `https://gitlab.zendesk.com`) or a full URL.
pub fn zendesk_url(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    let is_subdomain = !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !v.starts_with('-');
    if is_subdomain {
        return Ok(format!("https://{}.zendesk.com", v.to_ascii_lowercase()));
    }
    service_url(field, v)
}

/// A DNS domain such as `mg.gitlab.com`; empty stays empty.
pub fn domain(field: &str, value: &str) -> Result<String> {
    let v = value.trim().to_ascii_lowercase();
    if v.is_empty() {
        return Ok(v);
    }
    let labels: Vec<&str> = v.split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty() && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(v)
    } else {
        Err(Error::InvalidInput(format!("The {field} \"{v}\" is not a domain: enter it like mg.example.com.")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls_must_be_https_except_on_this_machine() {
        assert_eq!(service_url("GitLab URL", " https://gitlab.com/ ").unwrap(), "https://gitlab.com");
        assert_eq!(service_url("GitLab URL", "http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(service_url("GitLab URL", "").unwrap(), "");
        let err = service_url("GitLab URL", "http://gitlab.example.com").unwrap_err().to_string();
        assert!(err.contains("only over https"), "{err}");
        assert!(service_url("GitLab URL", "gitlab.com").is_err());
        assert!(service_url("GitLab URL", "https://user:pw@gitlab.com").is_err());
    }

    #[test]
    fn a_zendesk_subdomain_becomes_its_url_and_domains_are_checked() {
        assert_eq!(zendesk_url("Zendesk", "GitLab").unwrap(), "https://gitlab.zendesk.com");
        assert_eq!(zendesk_url("Zendesk", "https://gitlab-federal.zendesk.com").unwrap(), "https://gitlab-federal.zendesk.com");
        assert_eq!(domain("Mailgun domain", "MG.GitLab.com").unwrap(), "mg.gitlab.com");
        assert!(domain("Mailgun domain", "mg gitlab").is_err());
    }

    #[test]
    fn accepts_plain_and_plus_addresses_and_lowercases_the_domain() {
        assert_eq!(email("email", " Jane.Doe+release@Example.COM ").unwrap(), "Jane.Doe+release@example.com");
    }

    #[test]
    fn rejects_what_is_not_an_address_with_the_reason() {
        for (input, why) in [
            ("", "Enter the email"),
            ("jane", "no @"),
            ("@example.com", "exactly one @"),
            ("jane@example", "domain such as"),
            ("jane doe@example.com", "space"),
            ("jane@exa_mple.com", "letters, digits"),
        ] {
            let err = email("email", input).unwrap_err().to_string();
            assert!(err.contains(why), "{input:?}: {err}");
        }
    }

    #[test]
    fn text_is_trimmed_bounded_and_single_line() {
        assert_eq!(text("name", "  Ada  ", 10).unwrap(), "Ada");
        assert!(text("name", "   ", 10).unwrap_err().to_string().contains("Enter the name"));
        assert!(text("name", "abcdefghijk", 10).unwrap_err().to_string().contains("10 characters"));
        assert!(text("name", "a\nb", 10).is_err());
    }
}
