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

#[cfg(test)]
mod tests {
    use super::*;

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
