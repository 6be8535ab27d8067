//! A token or password in memory: prints as `[redacted]`, cannot be serialized, is zeroed on
//! drop, and is remembered so that `redact` can scrub its value from any text by accident.

use std::borrow::Cow;
use std::sync::{LazyLock, RwLock};

use regex::Regex;
use zeroize::Zeroizing;

/// What a secret prints as.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not scrubbed by value (they would match ordinary words).
const MIN_SCRUB_LEN: usize = 6;

/// Every secret value created in this process, so that a value that escaped its wrapper
/// (formatted into a URL, an error body) is still scrubbed from logs and exports.
static KNOWN: LazyLock<RwLock<Vec<Zeroizing<String>>>> = LazyLock::new(|| RwLock::new(Vec::new()));

/// Credential shapes scrubbed even when the value was never wrapped: auth headers, GitLab
/// tokens, Mailgun keys, `token:`/`api_key=` pairs.
static PATTERNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?P<keep>\b(?:authorization|proxy-authorization)\s*[:=]\s*(?:bearer|basic|token)?\s*)[^\s,;]+",
        r"|(?P<keep2>\bprivate-token\s*[:=]\s*)[^\s,;]+",
        r"|(?P<keep3>[?&](?:private_token|access_token|api_key|token)=)[^&\s]+",
        r"|\bgl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|agent|soat|ffct)-[A-Za-z0-9_\-.]{8,}",
        r"|\bkey-[0-9a-f]{32}\b",
    ))
    .expect("valid redaction pattern")
});

/// A secret string. `Debug` and `Display` print `[redacted]`; there is no `Serialize`, so it
/// can reach the webview, SQLite or a log only through `expose`, at the one place that needs it.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value and registers it for redaction.
    pub fn new(value: impl Into<String>) -> Self {
        let value = Zeroizing::new(value.into());
        if value.len() >= MIN_SCRUB_LEN {
            let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
            if !known.iter().any(|k| **k == *value) {
                known.push(value.clone());
            }
        }
        Secret(value)
    }

    /// The value, for the one call that must send it (an auth header, the keychain).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        *self.0 == *other.0
    }
}

impl Eq for Secret {}

/// `text` with every known secret value and every credential-shaped substring replaced by
/// `[redacted]`. Borrows when nothing matched (the common case on the logging hot path).
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    {
        let known = KNOWN.read().unwrap_or_else(|p| p.into_inner());
        for value in known.iter() {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), REDACTED));
            }
        }
    }
    if PATTERNS.is_match(&out) {
        let replaced = PATTERNS
            .replace_all(&out, |c: &regex::Captures<'_>| {
                let keep = c.name("keep").or(c.name("keep2")).or(c.name("keep3")).map_or("", |m| m.as_str());
                format!("{keep}{REDACTED}")
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("s3cr3t-value-123");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "s3cr3t-value-123");
    }

    #[test]
    fn a_wrapped_value_is_scrubbed_from_text_it_escaped_into() {
        let s = Secret::new("zx81-escaped-token");
        let line = format!("GET /users?x={} failed", s.expose());
        assert_eq!(redact(&line), "GET /users?x=[redacted] failed");
    }

    #[test]
    fn credential_shapes_are_scrubbed_without_being_wrapped() {
        let cases = [
            ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer [redacted]"),
            ("authorization=Basic dXNlcjpwYXNz, next", "authorization=Basic [redacted], next"),
            ("PRIVATE-TOKEN: abcdefgh1234", "PRIVATE-TOKEN: [redacted]"),
            ("url /api?private_token=abc123&page=2", "url /api?private_token=[redacted]&page=2"),
            ("token glpat-AbCdEf0123456789xyz used", "token [redacted] used"),
            ("mailgun key-0123456789abcdef0123456789abcdef ok", "mailgun [redacted] ok"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        assert!(matches!(redact("opened case 12 for ticket 3456"), Cow::Borrowed(_)));
    }
}
