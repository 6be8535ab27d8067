//! Zendesk's search syntax as the sandbox reads it, for `GET /api/v2/search` and
//! `GET /api/v2/users/search`: `type:user`, `keyword:value`, bare words, `"quoted phrases"` and
//! the `*` wildcard.
//!
//! Like Zendesk's search engine, values are compared word by word, not as whole strings: an
//! unquoted `email:victim@example.com` is the words `victim`, `example`, `com`, so it also finds
//! `victim@example.com.attacker.io`; `*` stands for any characters, so `victim*@example.com`
//! finds `victim.x@example.com` too. A quoted value keeps its words together and in order (no
//! wildcard inside), which narrows a search but still finds the longer lookalike address:
//! whoever needs one exact address has to compare the results themselves.

/// One `keyword:value` (keyword absent for a bare word or phrase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub keyword: Option<String>,
    pub value: String,
    pub quoted: bool,
}

/// A parsed query: the `type:` it asks for, and every other term (all must match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub kind: Option<String>,
    pub terms: Vec<Term>,
}

impl Query {
    pub fn parse(text: &str) -> Query {
        let mut terms = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (term, after) = next_term(rest);
            if !term.value.is_empty() {
                terms.push(term);
            }
            rest = after.trim_start();
        }
        let kind = terms.iter().position(|t| t.keyword.as_deref() == Some("type")).map(|i| terms.remove(i).value.to_lowercase());
        Query { kind, terms }
    }
}

fn next_term(text: &str) -> (Term, &str) {
    let keyword_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    let (keyword, value_text) = match keyword_end {
        Some(i) if i > 0 && text[i..].starts_with(':') => (Some(text[..i].to_lowercase()), &text[i + 1..]),
        _ => (None, text),
    };
    if let Some(quoted) = value_text.strip_prefix('"') {
        let end = quoted.find('"').unwrap_or(quoted.len());
        let after = quoted.get(end + 1..).unwrap_or("");
        return (Term { keyword, value: quoted[..end].to_owned(), quoted: true }, after);
    }
    let end = value_text.find(char::is_whitespace).unwrap_or(value_text.len());
    (Term { keyword, value: value_text[..end].to_owned(), quoted: false }, &value_text[end..])
}

/// The words of a text as the index keeps them: lower case, split at anything that is not a
/// letter or digit (`@`, `.`, `+`, `-` …). With `keep_star`, `*` stays inside a word.
fn words(text: &str, keep_star: bool) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || (keep_star && c == '*')))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `*` matches any run of characters (none included); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == text;
    }
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(i) => middle = &middle[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `value` (one term's value) matches a field's text, as described in the module.
pub fn matches(term: &Term, text: &str) -> bool {
    if term.quoted {
        let phrase = words(&term.value, false);
        let have = words(text, false);
        return !phrase.is_empty() && have.windows(phrase.len()).any(|w| w == phrase.as_slice());
    }
    let value = term.value.to_lowercase();
    if value.contains('*') {
        let whole = text.to_lowercase();
        return glob(&value, &whole) || words(text, false).iter().any(|w| glob(&value, w));
    }
    let have = words(text, false);
    let wanted = words(&value, false);
    !wanted.is_empty() && wanted.iter().all(|w| have.contains(w))
}

/// Whether a term matches any of several texts (a user's email identities, a ticket's tags).
pub fn matches_any<'a>(term: &Term, texts: impl IntoIterator<Item = &'a str>) -> bool {
    texts.into_iter().any(|t| matches(term, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(text: &str) -> Term {
        Query::parse(text).terms.remove(0)
    }

    #[test]
    fn a_query_splits_into_its_type_keywords_bare_words_and_phrases() {
        let q = Query::parse(r#"type:user email:"a b@x.io" name:Jo* loose"#);
        assert_eq!(q.kind.as_deref(), Some("user"));
        assert_eq!(
            q.terms,
            vec![
                Term { keyword: Some("email".into()), value: "a b@x.io".into(), quoted: true },
                Term { keyword: Some("name".into()), value: "Jo*".into(), quoted: false },
                Term { keyword: None, value: "loose".into(), quoted: false },
            ]
        );
    }

    #[test]
    fn unquoted_addresses_match_by_words_so_lookalikes_match_too() {
        let t = term("email:victim@example.com");
        assert!(matches(&t, "victim@example.com"));
        assert!(matches(&t, "VICTIM@example.com.attacker.io"), "same words, more of them");
        assert!(matches(&t, "com.example@victim.io"), "any order");
        assert!(!matches(&t, "victim@example.org"));
    }

    #[test]
    fn a_star_is_a_wildcard_outside_quotes_only() {
        let t = term("email:victim*@example.com");
        assert!(matches(&t, "victim@example.com"));
        assert!(matches(&t, "victim.other@example.com"));
        assert!(!matches(&t, "victim@example.com.attacker.io"));
        assert!(matches(&term("name:jo*"), "Sam Jones"), "a wildcard word matches one word of the text");
        let quoted = term(r#"email:"victim*@example.com""#);
        assert!(!matches(&quoted, "victim.other@example.com"), "inside quotes * is no wildcard");
    }

    #[test]
    fn a_quoted_phrase_keeps_its_words_in_order_but_not_the_whole_field() {
        let t = term(r#"email:"victim@example.com""#);
        assert!(matches(&t, "victim@example.com"));
        assert!(matches(&t, "victim@example.com.attacker.io"), "a phrase match, not an equality");
        assert!(!matches(&t, "com.example@victim.io"));
    }
}
