//! The real services' response shapes. Each template is a contract fixture recorded from, or
//! written from, the service's own records (`tests/contract/<service>/`, sources in each
//! folder's SOURCES.md). The sandbox answers in these shapes with its own data laid over, so
//! every field a real service sends is there with its real JSON type, and `tests/contract.rs`
//! checks that no answer drifts from them.

use std::sync::LazyLock;

use serde_json::{Map, Value};

macro_rules! templates {
    ($($name:ident = $service:literal / $file:literal;)*) => {
        /// A response shape by name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub enum Shape { $($name),* }

        fn source(shape: Shape) -> &'static str {
            match shape {
                $(Shape::$name => include_str!(concat!("../../tests/contract/", $service, "/", $file, ".json"))),*
            }
        }

        static PARSED: LazyLock<Vec<(Shape, Value)>> = LazyLock::new(|| {
            vec![$((Shape::$name, serde_json::from_str(source(Shape::$name)).expect(concat!($file, " is JSON")))),*]
        });
    };
}

templates! {
    GitlabTokenSelf = "gitlab" / "personal_access_token_self";
    GitlabUserAdmin = "gitlab" / "user_admin";
    GitlabUserEdited = "gitlab" / "user_edited";
    GitlabCurrentUser = "gitlab" / "current_user";
    GitlabUsersAdmin = "gitlab" / "users_search_admin";
    GitlabUsersPublic = "gitlab" / "users_by_username_nonadmin";
    GitlabAssociations = "gitlab" / "associations_count";
    GitlabMemberships = "gitlab" / "memberships";
    GitlabEvents = "gitlab" / "events";
    GitlabEmails = "gitlab" / "emails_without_primary";
    GitlabEmailCreated = "gitlab" / "email_created";
    GitlabMember = "gitlab" / "group_member_all";
    GitlabGroup = "gitlab" / "group";
    GitlabProject = "gitlab" / "project";
    GitlabNamespace = "gitlab" / "namespace";
    GitlabKeys = "gitlab" / "keys";
    GitlabGpgKeys = "gitlab" / "gpg_keys";
    GitlabSupportPin = "gitlab" / "support_pin";
    MailgunEvents = "mailgun" / "events_page";
    MailgunBounce = "mailgun" / "bounce";
    MailgunDomain = "mailgun" / "domain";
    ZendeskTicket = "zendesk" / "ticket";
    ZendeskTicketUpdate = "zendesk" / "ticket_update";
    ZendeskUser = "zendesk" / "user";
    ZendeskTicketFields = "zendesk" / "ticket_fields";
    ZendeskTicketForms = "zendesk" / "ticket_forms";
    ZendeskIdentities = "zendesk" / "identities";
    ZendeskComments = "zendesk" / "ticket_comments";
}

/// The template itself (for a list, the list).
pub fn template(shape: Shape) -> &'static Value {
    &PARSED.iter().find(|(s, _)| *s == shape).expect("every shape is parsed").1
}

/// One item of a list template (or of a page's list, `items`, `comments`…): the first whose
/// `key` equals `value`, else the first.
pub fn item(shape: Shape, key: &str, value: &str) -> &'static Value {
    let t = template(shape);
    let list =
        t.as_array().or_else(|| t.as_object().and_then(|o| o.values().find_map(Value::as_array))).expect("a list template");
    list.iter().find(|i| i[key].as_str() == Some(value)).unwrap_or(&list[0])
}

/// `data` laid over `base`: objects merge key by key (nested objects too); any other value
/// replaces the template's. A key the template lacks is added, and the contract test reports
/// it: the sandbox must not invent fields the real service never sends.
pub fn dress(base: &Value, data: Value) -> Value {
    match (base, data) {
        (Value::Object(b), Value::Object(d)) => {
            let mut out: Map<String, Value> = b.clone();
            for (k, v) in d {
                let merged = match out.get(&k) {
                    Some(existing @ Value::Object(_)) if v.is_object() => dress(existing, v),
                    _ => v,
                };
                out.insert(k, merged);
            }
            Value::Object(out)
        }
        (_, data) => data,
    }
}

/// `data` laid over `base`, keeping only the keys `base` has: for data written once for
/// several shapes (a user's admin and public views), so that no shape gains a field.
pub fn dress_known(base: &Value, data: Value) -> Value {
    let Value::Object(data) = data else { return dress(base, data) };
    let known: Map<String, Value> = data.into_iter().filter(|(k, _)| base.get(k).is_some()).collect();
    dress(base, Value::Object(known))
}

/// A template dressed with `data`.
pub fn shaped(shape: Shape, data: Value) -> Value {
    dress(template(shape), data)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn data_lays_over_the_real_shape_key_by_key() {
        let base = json!({"id": 1, "name": "x", "namespace": {"id": 2, "path": "a", "kind": "group"}, "tags": ["t"]});
        let out = dress(&base, json!({"id": 9, "namespace": {"path": "b"}, "tags": []}));
        assert_eq!(out, json!({"id": 9, "name": "x", "namespace": {"id": 2, "path": "b", "kind": "group"}, "tags": []}));
    }

    #[test]
    fn every_template_parses() {
        assert!(template(Shape::GitlabUserAdmin)["id"].is_u64());
        assert!(template(Shape::GitlabEvents).is_array());
        assert_eq!(item(Shape::GitlabEvents, "action_name", "no such").as_object().map(|o| o.is_empty()), Some(false));
    }
}
