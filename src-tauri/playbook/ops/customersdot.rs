//! The customers portal (CustomersDot) behind the sign-in diagnosis: the lookup that gathers
//! every account the requester mentions and proposes the matching scenario, and the admin
//! actions.
//!
//! Two sources, one outcome: in `api` mode the diagnosis reads the admin API (and Mailgun); in
//! `manual` mode — and for the reset mail when the profile has no Mailgun — the agent enters
//! what the admin screens show in a form, validated here. Both set the same facts
//! (`customer_email`, `gitlab_email`, `billing_account_id`, `subscription_email`, the proposed
//! scenario, …), so every later step works the same in both modes.
//!
//! The one-time sign-in link is a credential: CustomersDot emails it to the portal account's own
//! address. Casekit never sees it; it records where it went, when, and the link's last four
//! characters (docs/customersdot-api.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mailgun::event_time;
use super::{fact, Action, Lookup, Need, Run};
use crate::connectors::customersdot::{Customer, CustomerQuery, CustomersDot};
use crate::connectors::mailgun::{EventFilter, Mailgun};
use crate::connectors::session::Connections;
use crate::playbook::effects::{Calls, Fact, Found, Link, PlannedCall};
use crate::playbook::state::CaseState;
use crate::playbook::view::FieldView;
use crate::{clock, validate, Error, Result};

/// At most this many addresses are diagnosed (the requester's and four more).
const MAX_ADDRESSES: usize = 5;
/// What the agent pastes as evidence of a change made in the admin screen.
const MAX_EVIDENCE: usize = 2000;
const FROM_API: &str = "read from the CustomersDot admin API";
const FROM_SCREEN: &str = "entered by the agent from the admin screen";
const FROM_MAILGUN: &str = "read from the Mailgun API";
const FROM_MAILGUN_LOGS: &str = "entered by the agent from the Mailgun logs";

fn manual(state: &CaseState) -> bool {
    state.facts.get("customersdot_mode").map(String::as_str) == Some("manual")
}

fn admin_url(conns: &Connections) -> String {
    let url = &conns.profile().services.customersdot_url;
    if url.is_empty() {
        "https://customers.gitlab.com".to_owned()
    } else {
        url.clone()
    }
}

/// Every address the requester mentions: the ticket's requester and the ones the agent adds
/// (the ones that are not addresses are left out; the checklist refuses them).
fn emails(state: &CaseState) -> Vec<String> {
    let mut out: Vec<String> = state.facts.get("requester_email").map(|e| e.trim().to_lowercase()).into_iter().collect();
    for e in state.facts.get("other_emails").map(String::as_str).unwrap_or("").split([',', ' ', ';', '\n']) {
        let Ok(e) = validate::email("address", e).map(|e| e.to_lowercase()) else { continue };
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&e)) {
            out.push(e);
        }
    }
    out.truncate(MAX_ADDRESSES);
    out
}

/// Where the diagnosis reads from: the admin API and Mailgun, or (`None`) the agent's entries.
struct Sources {
    cd: Option<CustomersDot>,
    mail: Option<Mailgun>,
}

fn sources(conns: &Connections) -> Result<Sources> {
    let cd = conns.customersdot()?;
    let mail = match conns.mailgun() {
        Ok(m) => Some(m),
        Err(Error::NotConfigured(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(Sources { cd, mail })
}

// ---------------------------------------------------------------- what the diagnosis knows

/// One portal account, read from the API or entered by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// The address as mentioned (the admin search is by exact email).
    pub email: String,
    /// The admin screen's customer id (optional when entered).
    pub id: Option<u64>,
    /// `None`: "Confirmed at" is empty.
    pub confirmed_at: Option<String>,
    /// The linked GitLab.com user id ("Uid"); `None` when not linked.
    pub uid: Option<u64>,
    /// The linked GitLab user's email.
    pub gitlab_email: Option<String>,
    /// `self_signup`, `legacy`, `sales` or `unknown`.
    pub created_via: String,
    pub billing_account_id: Option<u64>,
    /// The Sold To contact's email of that billing account.
    pub sold_to_email: Option<String>,
}

/// What the Mailgun logs show for a password reset mail from GitLab.com.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetMail {
    pub address: String,
    /// `delivered`, `failed`, `suppressed` or `none`.
    pub result: String,
    pub at: Option<String>,
}

/// Everything the agent entered, normalized: kept in the evidence (so a refresh can rebuild it)
/// and in the audit log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entered {
    /// Per mentioned address: its portal account, or `None` when the admin search found none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<(String, Option<Account>)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_mail: Option<Vec<ResetMail>>,
}

fn created_via_words(v: &str) -> &str {
    match v {
        "self_signup" => "self sign-up",
        "legacy" => "legacy (before GitLab sign-in)",
        "sales" => "Sales (Zuora callout from the Sold To contact)",
        _ => "not known",
    }
}

/// The scenarios that fit, in the handbook's order, each with its reason.
fn scenarios(requester: &str, found: &[Account], reset_delivered: bool) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    let own = found.iter().find(|c| c.email.eq_ignore_ascii_case(requester));
    if reset_delivered {
        out.push((1, "a password reset mail from GitLab.com (mg.gitlab.com) was delivered: the reset was requested on GitLab.com, not in the portal".into()));
    }
    if let Some(c) = own.filter(|c| c.confirmed_at.is_none() && c.created_via == "self_signup") {
        out.push((2, format!("the portal account {} was never confirmed", c.email)));
    }
    let other_paying = found.iter().find(|c| !c.email.eq_ignore_ascii_case(requester) && c.billing_account_id.is_some());
    if let Some(c) = other_paying.filter(|_| own.is_none_or(|o| o.billing_account_id.is_none())) {
        out.push((
            3,
            format!("the subscription's billing account is on {}, not on the address the requester signs in with", c.email),
        ));
    }
    if let Some(c) = own.filter(|c| c.uid.is_none() && c.created_via == "legacy") {
        out.push((4, format!("{} is a legacy portal account with no GitLab account linked", c.email)));
    }
    if let Some(c) = own.filter(|c| c.uid.is_none() && c.created_via == "sales") {
        let sold_to = match (&c.sold_to_email, c.billing_account_id) {
            (Some(s), Some(b)) if s.eq_ignore_ascii_case(&c.email) => format!(" of billing account {b}"),
            _ => String::new(),
        };
        out.push((
            5,
            format!("{} was created by Sales from the Sold To contact{sold_to} (Zuora callout) and is not linked", c.email),
        ));
    }
    if let Some(c) =
        own.filter(|c| c.uid.is_some() && c.gitlab_email.as_deref().is_some_and(|g| !g.eq_ignore_ascii_case(&c.email)))
    {
        out.push((
            6,
            format!(
                "{} is linked to GitLab user {} whose email is {}",
                c.email,
                c.uid.unwrap_or_default(),
                c.gitlab_email.clone().unwrap_or_default()
            ),
        ));
    }
    out
}

// ---------------------------------------------------------------- the form (manual mode)

const ACCOUNT_FOUND: &str = "Found";
const ACCOUNT_NONE: &str = "No portal account with this email";
const VIA: &[(&str, &str)] = &[
    ("self_signup", "Self sign-up"),
    ("legacy", "Legacy (created before GitLab sign-in)"),
    ("sales", "Sales (created by the Zuora callout from the Sold To contact)"),
    ("unknown", "Cannot tell from the admin screen"),
];
const MAIL: &[(&str, &str)] = &[("delivered", "Delivered"), ("failed", "Failed or suppressed"), ("none", "None in the logs")];

fn field(id: String, label: String, kind: &str, options: &[&str], required: bool) -> FieldView {
    FieldView {
        id,
        label,
        kind: kind.to_owned(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        required,
        value: String::new(),
    }
}

/// The fields the agent fills in for what this profile cannot read through an API: the portal
/// accounts in manual mode, the reset mail without Mailgun. Empty when everything is fetched.
/// The link is where to start reading: the admin customer search, or the Mailgun logs.
fn form(conns: &Connections, state: &CaseState) -> (Vec<FieldView>, Option<String>) {
    let (cd_manual, mail_manual) = match sources(conns) {
        Ok(s) => (s.cd.is_none(), s.mail.is_none()),
        Err(_) => return (Vec::new(), None),
    };
    let link = if cd_manual {
        Some(format!("{}/admin/customers", admin_url(conns)))
    } else if mail_manual {
        Some("https://app.mailgun.com/app/sending/domains/mg.gitlab.com/logs".to_owned())
    } else {
        None
    };
    let mut out = Vec::new();
    for (i, a) in emails(state).iter().enumerate() {
        if cd_manual {
            let accounts = [ACCOUNT_FOUND, ACCOUNT_NONE];
            let via: Vec<&str> = VIA.iter().map(|(_, l)| *l).collect();
            out.extend([
                field(format!("{i}.account"), format!("{a}: portal account (admin search by email)"), "choice", &accounts, true),
                field(format!("{i}.customer_id"), format!("{a}: customer id (the number in the admin URL)"), "text", &[], false),
                field(
                    format!("{i}.confirmed_at"),
                    format!("{a}: Confirmed at (e.g. 2024-05-01 10:00, or “empty”)"),
                    "text",
                    &[],
                    false,
                ),
                field(
                    format!("{i}.uid"),
                    format!("{a}: Uid — the linked GitLab user id (digits, or “none”)"),
                    "text",
                    &[],
                    false,
                ),
                field(
                    format!("{i}.gitlab_email"),
                    format!("{a}: email of the linked GitLab user (GitLab Groups tab)"),
                    "email",
                    &[],
                    false,
                ),
                field(format!("{i}.created_via"), format!("{a}: how the account was created"), "choice", &via, false),
                field(
                    format!("{i}.billing_account_id"),
                    format!("{a}: billing account id (Billing account memberships; digits, or “none”)"),
                    "text",
                    &[],
                    false,
                ),
                field(format!("{i}.sold_to_email"), format!("{a}: Sold To email of that billing account"), "email", &[], false),
            ]);
        }
        if mail_manual {
            let results: Vec<&str> = MAIL.iter().map(|(_, l)| *l).collect();
            out.push(field(
                format!("{i}.reset_mail"),
                format!("{a}: “Reset password” mail in the Mailgun logs (domain mg.gitlab.com)"),
                "choice",
                &results,
                true,
            ));
            out.push(field(format!("{i}.reset_mail_at"), format!("{a}: when (as the log shows it)"), "text", &[], false));
        }
    }
    (out, link)
}

const EMPTY_WORDS: &[&str] = &["empty", "none", "never", "not confirmed", "not linked", "blank", "-", "—", "n/a", "null", "nil"];

fn is_empty_word(v: &str) -> bool {
    EMPTY_WORDS.iter().any(|w| v.eq_ignore_ascii_case(w))
}

/// A number as the admin screen shows it (`123`, `#123`), or `None` for “none”.
fn number(label: &str, v: &str) -> Result<Option<u64>> {
    let v = v.trim().trim_start_matches('#');
    if is_empty_word(v) {
        return Ok(None);
    }
    if v.is_empty() || v.len() > 12 || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::InvalidInput(format!(
            "{label}: “{v}” is not an id. Enter the digits the admin screen shows, or “none” if the field is empty."
        )));
    }
    v.parse().map(Some).map_err(|_| Error::InvalidInput(format!("{label}: “{v}” is not an id.")))
}

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// A date (and time) as an admin screen or a log shows it, normalized to `YYYY-MM-DD[ HH:MM[:SS]][ zone]`:
/// `2024-05-01`, `2024-05-01 10:00`, `2024-05-01T10:00:00Z`, `May 1, 2024 10:00 UTC`,
/// `1 May 2024`. `None` for “empty”. Never in the future.
pub fn date(label: &str, value: &str) -> Result<Option<String>> {
    let v = value.trim();
    if is_empty_word(v) {
        return Ok(None);
    }
    let bad = || {
        Error::InvalidInput(format!(
            "{label}: “{v}” is not a date. Enter it like 2024-05-01 or 2024-05-01 10:00 (or May 1, 2024 10:00), or “empty” if the field is blank."
        ))
    };
    if v.chars().count() > 40 {
        return Err(bad());
    }
    let lower = v.to_lowercase();
    let mut rest = lower.as_str();
    let mut zone = "";
    for (suffix, z) in [(" utc", " UTC"), ("utc", " UTC"), ("z", " UTC")] {
        if let Some(r) = rest.strip_suffix(suffix) {
            rest = r.trim_end();
            zone = z;
            break;
        }
    }
    let offset = regex::Regex::new(r"^(.*\d)\s*([+-]\d{2}:?\d{2})$").map_err(|e| Error::Internal(e.to_string()))?;
    let owned;
    if zone.is_empty() {
        if let Some(c) = offset.captures(rest) {
            owned = (c[1].to_owned(), format!(" {}", &c[2]));
            rest = &owned.0;
            zone = &owned.1;
        }
    }
    let iso = regex::Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")
        .map_err(|e| Error::Internal(e.to_string()))?;
    let words = regex::Regex::new(
        r"^(?:([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})|(\d{1,2}) ([a-z]+)\.?,? (\d{4}))(?:,? (?:at )?(\d{1,2}):(\d{2})(?::(\d{2}))?)?$",
    )
    .map_err(|e| Error::Internal(e.to_string()))?;
    let num = |s: Option<regex::Match<'_>>| s.map(|m| m.as_str().parse::<u32>().unwrap_or(99));
    let month_of = |name: &str| MONTHS.iter().position(|m| name.starts_with(m)).map(|i| i as u32 + 1);
    let (y, m, d, hh, mm, ss) = if let Some(c) = iso.captures(rest) {
        (num(c.get(1)), num(c.get(2)), num(c.get(3)), num(c.get(4)), num(c.get(5)), num(c.get(6)))
    } else if let Some(c) = words.captures(rest) {
        let (name, day, year) = match c.get(1) {
            Some(name) => (name.as_str(), c.get(2), c.get(3)),
            None => (c.get(5).map_or("", |m| m.as_str()), c.get(4), c.get(6)),
        };
        (num(year), month_of(name), num(day), num(c.get(7)), num(c.get(8)), num(c.get(9)))
    } else {
        return Err(bad());
    };
    let (Some(y), Some(m), Some(d)) = (y, m, d) else { return Err(bad()) };
    if !(2000..=2999).contains(&y) {
        return Err(bad());
    }
    // The calendar checks the day of the month (no 30 February).
    let calendar_day = jiff::civil::Date::new(y as i16, m as i8, d as i8).map_err(|_| bad())?;
    if hh.is_some_and(|h| h > 23) || mm.is_some_and(|x| x > 59) || ss.is_some_and(|x| x > 59) {
        return Err(bad());
    }
    let day = format!("{y:04}-{m:02}-{d:02}");
    if clock::date_is_in_future(calendar_day) {
        return Err(Error::InvalidInput(format!(
            "{label}: {day} is in the future. Check the date the screen shows (year first: 2024-05-01)."
        )));
    }
    let time = match (hh, mm, ss) {
        (Some(h), Some(mi), Some(s)) => format!(" {h:02}:{mi:02}:{s:02}"),
        (Some(h), Some(mi), None) => format!(" {h:02}:{mi:02}"),
        _ => String::new(),
    };
    Ok(Some(format!("{day}{time}{}", if time.is_empty() { "" } else { zone })))
}

fn choice<'a>(label: &str, v: &str, options: &'a [(&'a str, &'a str)]) -> Result<&'a str> {
    options.iter().find(|(id, l)| v.eq_ignore_ascii_case(l) || v.eq_ignore_ascii_case(id)).map(|(id, _)| *id).ok_or_else(|| {
        Error::InvalidInput(format!(
            "{label}: choose one of {}.",
            options.iter().map(|(_, l)| format!("“{l}”")).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Checks and normalizes what the agent entered in the form; says what to fix otherwise.
pub fn parse_entries(
    addresses: &[String],
    cd_manual: bool,
    mail_manual: bool,
    values: &BTreeMap<String, String>,
) -> Result<Entered> {
    if values.len() > 20 * MAX_ADDRESSES {
        return Err(Error::InvalidInput("Too many fields: reload the case and fill in the form it shows.".into()));
    }
    let known: Vec<String> = (0..addresses.len())
        .flat_map(|i| {
            let mut ids = Vec::new();
            if cd_manual {
                ids.extend(
                    [
                        "account",
                        "customer_id",
                        "confirmed_at",
                        "uid",
                        "gitlab_email",
                        "created_via",
                        "billing_account_id",
                        "sold_to_email",
                    ]
                    .map(|f| format!("{i}.{f}")),
                );
            }
            if mail_manual {
                ids.extend(["reset_mail", "reset_mail_at"].map(|f| format!("{i}.{f}")));
            }
            ids
        })
        .collect();
    if let Some(k) = values.keys().find(|k| !known.contains(k)) {
        return Err(Error::InvalidInput(format!(
            "“{k}” is not a field of this step (the addresses may have changed): reload the case and fill in the form it shows."
        )));
    }
    let get = |i: usize, f: &str| -> Result<String> {
        let v = values.get(&format!("{i}.{f}")).map(|v| v.trim()).unwrap_or("");
        if v.chars().count() > 254 {
            return Err(Error::InvalidInput(format!(
                "{}: the {} is too long (at most 254 characters): enter only what the field shows.",
                addresses[i],
                f.replace('_', " ")
            )));
        }
        if v.chars().any(char::is_control) {
            return Err(Error::InvalidInput(format!(
                "{}: the {} holds a line break: enter it on one line.",
                addresses[i],
                f.replace('_', " ")
            )));
        }
        Ok(v.to_owned())
    };
    let mut entered = Entered::default();
    if cd_manual {
        let mut accounts = Vec::new();
        for (i, a) in addresses.iter().enumerate() {
            let account = get(i, "account")?;
            let label = |what: &str| format!("{a}, {what}");
            if account.is_empty() {
                return Err(Error::InvalidInput(format!("{a}: say whether the admin search (by email) found a portal account.")));
            }
            let found =
                choice(&label("portal account"), &account, &[("found", ACCOUNT_FOUND), ("none", ACCOUNT_NONE)])? == "found";
            let details =
                ["customer_id", "confirmed_at", "uid", "gitlab_email", "created_via", "billing_account_id", "sold_to_email"];
            if !found {
                if let Some(f) = details.iter().find(|f| get(i, f).is_ok_and(|v| !v.is_empty())) {
                    return Err(Error::InvalidInput(format!(
                        "{a}: you chose “{ACCOUNT_NONE}” but entered the {}. Choose “{ACCOUNT_FOUND}”, or clear that field.",
                        f.replace('_', " ")
                    )));
                }
                accounts.push((a.clone(), None));
                continue;
            }
            let need = |f: &str, what: &str| -> Result<String> {
                let v = get(i, f)?;
                if v.is_empty() {
                    return Err(Error::InvalidInput(format!("{a}: enter {what}.")));
                }
                Ok(v)
            };
            let id = match get(i, "customer_id")? {
                v if v.is_empty() => None,
                v => number(&label("customer id"), &v)?,
            };
            let confirmed_at =
                date(&label("Confirmed at"), &need("confirmed_at", "Confirmed at as the screen shows it, or “empty”")?)?;
            let uid = number(&label("Uid"), &need("uid", "the Uid (the linked GitLab user id), or “none”")?)?;
            let gitlab_email = match get(i, "gitlab_email")? {
                v if v.is_empty() => None,
                v => Some(validate::email(&label("linked GitLab user's email"), &v)?),
            };
            match (uid, &gitlab_email) {
                (Some(_), None) => {
                    return Err(Error::InvalidInput(format!(
                        "{a}: a GitLab user is linked (Uid {}): enter its email from the GitLab Groups tab (or GitLab admin).",
                        uid.unwrap_or_default()
                    )))
                }
                (None, Some(_)) => {
                    return Err(Error::InvalidInput(format!(
                        "{a}: you entered a linked GitLab user's email but the Uid “none”: enter the Uid, or clear the email."
                    )))
                }
                _ => {}
            }
            let created_via =
                choice(&label("how the account was created"), &need("created_via", "how the account was created")?, VIA)?;
            let billing_account_id = number(
                &label("billing account id"),
                &need("billing_account_id", "the billing account id from Billing account memberships, or “none”")?,
            )?;
            let sold_to_email = match get(i, "sold_to_email")? {
                v if v.is_empty() => None,
                v => Some(validate::email(&label("Sold To email"), &v)?),
            };
            if sold_to_email.is_some() && billing_account_id.is_none() {
                return Err(Error::InvalidInput(format!(
                    "{a}: a Sold To email belongs to a billing account: enter the billing account id, or clear the Sold To email."
                )));
            }
            accounts.push((
                a.clone(),
                Some(Account {
                    email: a.clone(),
                    id,
                    confirmed_at,
                    uid,
                    gitlab_email,
                    created_via: created_via.to_owned(),
                    billing_account_id,
                    sold_to_email,
                }),
            ));
        }
        entered.accounts = Some(accounts);
    }
    if mail_manual {
        let mut mails = Vec::new();
        for (i, a) in addresses.iter().enumerate() {
            let v = get(i, "reset_mail")?;
            if v.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "{a}: say what the Mailgun logs (domain mg.gitlab.com) show for a “Reset password” mail to it."
                )));
            }
            let result = choice(&format!("{a}, reset mail"), &v, MAIL)?;
            let at = match get(i, "reset_mail_at")? {
                v if v.is_empty() => None,
                v => date(&format!("{a}, reset mail time"), &v)?,
            };
            if result == "none" && at.is_some() {
                return Err(Error::InvalidInput(format!(
                    "{a}: you chose “None in the logs” but entered a time: choose what the log shows, or clear the time."
                )));
            }
            mails.push(ResetMail { address: a.clone(), result: result.to_owned(), at });
        }
        entered.reset_mail = Some(mails);
    }
    Ok(entered)
}

// ---------------------------------------------------------------- the diagnosis

/// What `customersdot_diagnosis` found, whatever its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisData {
    /// `api` or `manual`.
    pub mode: Option<String>,
    pub addresses: Vec<String>,
    pub accounts: Vec<Account>,
    /// The admin API's records (api mode).
    pub customers: Vec<Customer>,
    pub reset_mail: Vec<ResetMail>,
    pub reset_delivered: bool,
    /// The handbook scenarios that fit, best first.
    pub scenarios: Vec<u8>,
    /// What the agent entered (normalized), kept so a refresh can rebuild the diagnosis.
    pub entered: Option<Entered>,
}

/// `customersdot_diagnosis`: every portal account the requester mentions, the reset mails, and
/// the handbook scenario that fits.
pub struct Diagnosis;

impl Lookup for Diagnosis {
    const NAME: &'static str = "customersdot_diagnosis";
    const NEEDS: &'static [Need] = &[Need::Fact("requester_email")];
    const PRODUCES: &'static [&'static str] = &[
        "customersdot_mode",
        "proposed_scenario",
        "proposed_scenario_reason",
        "customer_id",
        "customer_email",
        "gitlab_email",
        "gitlab_uid",
        "billing_account_id",
        "sign_in_link_last_sent",
        "subscription_email",
    ];
    type Data = DiagnosisData;

    /// From the APIs; in manual mode, from the entries kept with the evidence (a refresh), else
    /// it says to fill in the form.
    async fn run(conns: &Connections, state: &CaseState) -> Result<Found> {
        let src = sources(conns)?;
        if src.cd.is_none() || src.mail.is_none() {
            let kept = match state.evidence.get(Self::NAME) {
                Some(e) => {
                    serde_json::from_value::<DiagnosisData>(e.data.clone())
                        .map_err(|_| {
                            Error::OutOfOrder(
                                "The diagnosis was recorded by an older Casekit: enter what the admin screens show again.".into(),
                            )
                        })?
                        .entered
                }
                None => None,
            };
            return match kept {
                Some(entered) => conclude(conns, state, src, Some(entered)).await,
                None => Err(Error::InvalidInput(
                    "This profile has no API for part of the diagnosis (CustomersDot in manual mode, or no Mailgun): open the admin screens from the links, enter what they show in the form, then record it."
                        .into(),
                )),
            };
        }
        conclude(conns, state, src, None).await
    }

    fn form(conns: &Connections, state: &CaseState) -> (Vec<FieldView>, Option<String>) {
        form(conns, state)
    }

    /// From what the agent entered (and the APIs the profile has).
    async fn enter(conns: &Connections, state: &CaseState, values: &BTreeMap<String, String>) -> Result<Found> {
        let src = sources(conns)?;
        if src.cd.is_some() && src.mail.is_some() {
            return Err(Error::InvalidInput(
                "This profile reads CustomersDot and Mailgun through their APIs: fetch the facts instead of entering them."
                    .into(),
            ));
        }
        fact(state, "requester_email")?;
        let entered = parse_entries(&emails(state), src.cd.is_none(), src.mail.is_none(), values)?;
        conclude(conns, state, src, Some(entered)).await
    }
}

fn rows_for(c: &Account, source: &str) -> Vec<Fact> {
    let mut rows = vec![
        Fact::new(
            &format!("Portal account {}", c.email),
            format!(
                "{}created via {} — {source}",
                c.id.map_or(String::new(), |id| format!("id {id}, ")),
                created_via_words(&c.created_via)
            ),
        ),
        Fact::judged(
            "  Confirmed at",
            c.confirmed_at.clone().unwrap_or_else(|| "not confirmed".into()),
            c.confirmed_at.is_some(),
        ),
        Fact::judged(
            "  Linked GitLab user",
            match (c.uid, &c.gitlab_email) {
                (Some(uid), Some(e)) => format!("uid {uid}, email {e}"),
                (Some(uid), None) => format!("uid {uid}"),
                (None, _) => "not linked".to_owned(),
            },
            c.uid.is_some() && c.gitlab_email.as_deref().is_none_or(|e| e.eq_ignore_ascii_case(&c.email)),
        ),
        Fact::new(
            "  Billing account",
            match (c.billing_account_id, &c.sold_to_email) {
                (Some(b), Some(s)) => format!("member of billing account {b} (Sold To {s})"),
                (Some(b), None) => format!("member of billing account {b}"),
                (None, _) => "no membership".to_owned(),
            },
        ),
    ];
    if c.created_via == "sales" {
        rows.push(Fact::new("  Created by", "Sales: the Zuora callout, from the Sold To contact"));
    }
    rows
}

async fn from_api(
    cd: &CustomersDot,
    conns: &Connections,
    addresses: &[String],
) -> Result<(Vec<(String, Option<Account>)>, Vec<Customer>)> {
    let gl = conns.gitlab()?;
    let mut out = Vec::new();
    let mut customers = Vec::new();
    for email in addresses {
        let found = cd.find_customers(&CustomerQuery::Email(email.clone())).await?;
        if found.is_empty() {
            out.push((email.clone(), None));
        }
        for c in found {
            // A record that is gone reads as none; a failed call stops the diagnosis (a
            // network error must never look like "no linked account").
            let gitlab_email = match c.uid {
                Some(uid) => unless_gone(gl.user(uid).await)?.and_then(|u| u.email),
                None => None,
            };
            let billing = c.billing_account_membership.as_ref().map(|m| m.billing_account_id);
            let sold_to_email = match billing {
                Some(b) => unless_gone(cd.billing_account(b).await)?.map(|b| b.sold_to.email),
                None => None,
            };
            out.push((
                email.clone(),
                Some(Account {
                    email: c.email.clone(),
                    id: Some(c.id),
                    confirmed_at: c.confirmed_at.clone(),
                    uid: c.uid,
                    gitlab_email,
                    created_via: c.created_via.clone(),
                    billing_account_id: billing,
                    sold_to_email,
                }),
            ));
            customers.push(c);
        }
    }
    Ok((out, customers))
}

async fn reset_mail_from_api(mg: &Mailgun, addresses: &[String]) -> Result<Vec<ResetMail>> {
    let mut out = Vec::new();
    for address in addresses {
        let resets: Vec<_> = mg
            .events(&EventFilter {
                recipient: Some(address.clone()),
                subject: Some("Reset password".into()),
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|e| e.event == "delivered" || e.event == "failed")
            .collect();
        let delivered = resets.iter().find(|e| e.is_delivered());
        out.push(match (delivered, resets.first()) {
            (Some(e), _) => ResetMail { address: address.clone(), result: "delivered".into(), at: Some(event_time(e.timestamp)) },
            (None, None) => ResetMail { address: address.clone(), result: "none".into(), at: None },
            (None, Some(e)) if e.is_suppression() => {
                ResetMail { address: address.clone(), result: "suppressed".into(), at: Some(event_time(e.timestamp)) }
            }
            (None, Some(e)) => ResetMail { address: address.clone(), result: "failed".into(), at: Some(event_time(e.timestamp)) },
        });
    }
    Ok(out)
}

/// The rows, links and facts from the accounts and reset mails, whatever their source.
async fn conclude(conns: &Connections, state: &CaseState, src: Sources, entered: Option<Entered>) -> Result<Found> {
    let requester = fact(state, "requester_email")?.to_lowercase();
    let addresses = emails(state);
    let base = admin_url(conns);
    let mut rows = Vec::new();
    let mut links = Vec::new();
    let mut facts = BTreeMap::new();
    let entered = entered.unwrap_or_default();

    let (accounts, source, customers) = match &src.cd {
        Some(cd) => {
            let (accounts, customers) = from_api(cd, conns, &addresses).await?;
            facts.insert("customersdot_mode".to_owned(), "api".to_owned());
            (accounts, FROM_API, customers)
        }
        None => {
            let accounts = entered.accounts.clone().ok_or_else(|| {
                Error::InvalidInput("CustomersDot is in manual mode: enter what the admin screen shows for each address.".into())
            })?;
            facts.insert("customersdot_mode".to_owned(), "manual".to_owned());
            (accounts, FROM_SCREEN, Vec::new())
        }
    };
    if accounts.iter().any(|(a, _)| !addresses.contains(a)) {
        return Err(Error::InvalidInput(
            "The entries are for other addresses than this case's: enter what the admin screen shows again.".into(),
        ));
    }
    rows.push(Fact::new(
        "CustomersDot",
        if src.cd.is_some() {
            "api mode: read from the admin API"
        } else {
            "manual mode: entered by the agent from the admin screen"
        },
    ));
    for email in &addresses {
        let mine: Vec<&Account> = accounts.iter().filter(|(a, _)| a == email).filter_map(|(_, c)| c.as_ref()).collect();
        if mine.is_empty() {
            rows.push(Fact::new(&format!("Portal account for {email}"), format!("none — {source}")));
        }
        for c in &mine {
            rows.extend(rows_for(c, source));
        }
        match (&src.cd, mine.first().and_then(|c| c.id)) {
            (Some(_), Some(id)) => {
                links.push(Link { label: format!("CustomersDot admin: {email}"), url: format!("{base}/admin/customers/{id}") })
            }
            (Some(_), None) => {}
            (None, Some(id)) => {
                links.push(Link { label: format!("CustomersDot admin: {email}"), url: format!("{base}/admin/customers/{id}") })
            }
            (None, None) => links.push(Link {
                label: format!("CustomersDot admin: search {email}"),
                url: format!("{base}/admin/customers?search={email}"),
            }),
        }
    }
    let found: Vec<Account> = accounts.iter().filter_map(|(_, c)| c.clone()).collect();

    let (mails, mail_source, mail_domain) = match &src.mail {
        Some(mg) => (reset_mail_from_api(mg, &addresses).await?, FROM_MAILGUN, mg.domain_name().to_owned()),
        None => {
            let domain = match conns.profile().services.mailgun_domain.as_str() {
                "" => "mg.gitlab.com".to_owned(),
                d => d.to_owned(),
            };
            let mails = entered.reset_mail.clone().ok_or_else(|| {
                Error::InvalidInput("This profile has no Mailgun: enter what the Mailgun logs show for each address.".into())
            })?;
            (mails, FROM_MAILGUN_LOGS, domain)
        }
    };
    let reset_delivered = mails.iter().any(|m| m.result == "delivered");
    for m in &mails {
        let label = format!("Password reset mail from GitLab.com to {}", m.address);
        let at = m.at.clone().unwrap_or_else(|| "time not noted".into());
        rows.push(match m.result.as_str() {
            "none" => Fact::new(&label, format!("none in the retention period — {mail_source}")),
            "suppressed" => Fact::judged(
                &label,
                format!("suppressed at {at}: not delivering to a previously bounced address — {mail_source}"),
                false,
            ),
            "delivered" => Fact::judged(&label, format!("delivered at {at} — {mail_source}"), true),
            _ => Fact::judged(&label, format!("failed at {at} — {mail_source}"), false),
        });
    }
    links.push(Link {
        label: format!("Mailgun logs ({mail_domain})"),
        url: format!("https://app.mailgun.com/app/sending/domains/{mail_domain}/logs"),
    });

    let proposed = scenarios(&requester, &found, reset_delivered);
    if let Some((n, reason)) = proposed.first() {
        facts.insert("proposed_scenario".to_owned(), format!("scenario-{n}"));
        facts.insert("proposed_scenario_reason".to_owned(), reason.clone());
    }
    rows.push(Fact::new(
        "Matching scenarios",
        if proposed.is_empty() {
            "none from the evidence: choose from what the customer describes".to_owned()
        } else {
            proposed.iter().map(|(n, r)| format!("{n}: {r}")).collect::<Vec<_>>().join("; ")
        },
    ));
    let primary = found.iter().find(|c| c.email.eq_ignore_ascii_case(&requester)).or(found.first());
    if let Some(c) = primary {
        if let Some(id) = c.id {
            facts.insert("customer_id".to_owned(), id.to_string());
        }
        facts.insert("customer_email".to_owned(), c.email.clone());
        if let Some(g) = &c.gitlab_email {
            facts.insert("gitlab_email".to_owned(), g.clone());
        }
        if let Some(uid) = c.uid {
            facts.insert("gitlab_uid".to_owned(), uid.to_string());
        }
        if let Some(b) = c.billing_account_id {
            facts.insert("billing_account_id".to_owned(), b.to_string());
        }
        // The last one-time sign-in link CustomersDot emailed: sending another stops it working.
        if let (Some(cd), Some(id)) = (&src.cd, c.id) {
            let events = cd.support_audit_events(id).await?;
            if let Some(e) = events.iter().rev().find(|e| e.action == "one_time_sign_in_link_sent") {
                let last4 = e.details.get("last4").and_then(Value::as_str).unwrap_or("????");
                let sent = format!("{} (link ending …{last4})", e.created_at);
                rows.push(Fact::new("  Last one-time sign-in link emailed", sent.clone()));
                facts.insert("sign_in_link_last_sent".to_owned(), sent);
            }
        }
    }
    if let Some(c) = found.iter().find(|c| c.billing_account_id.is_some()) {
        facts.insert("subscription_email".to_owned(), c.email.clone());
    }
    let data = DiagnosisData {
        mode: facts.get("customersdot_mode").cloned(),
        addresses,
        accounts: found,
        customers,
        reset_mail: mails,
        reset_delivered,
        scenarios: proposed.iter().map(|(n, _)| *n).collect(),
        entered: (entered.accounts.is_some() || entered.reset_mail.is_some()).then_some(entered),
    };
    let title = if src.cd.is_some() {
        "Customers portal sign-in"
    } else {
        "Customers portal sign-in (entered by the agent from the admin screen)"
    };
    let mut found = Found::new(title, &data, rows, links)?;
    found.facts = facts;
    Ok(found)
}

// ---------------------------------------------------------------- the actions

/// What sending a new sign-in link does to the previous one, for the preview.
fn link_warning(state: &CaseState) -> String {
    match state.facts.get("sign_in_link_last_sent") {
        Some(last) => format!("; the link emailed {last} stops working"),
        None => "; any earlier link stops working".to_owned(),
    }
}

/// The preview of a portal action: the API call, or in manual mode the admin screen to use.
fn preview(state: &CaseState, name: &str, method: &str, path: String, change: String) -> Result<Vec<PlannedCall>> {
    if manual(state) {
        let paste = if name == OneTimeSignInUrl::NAME {
            "use the screen's option that emails the link; paste the confirmation it shows, never the link itself"
        } else {
            "paste what the screen shows to confirm"
        };
        return Ok(vec![PlannedCall::new("MANUAL", "CustomersDot admin screen", format!("{change}; {paste}"))]);
    }
    Ok(vec![PlannedCall::new(method, path, change)])
}

/// The customer id for previews (`:id` until known).
fn customer_id(state: &CaseState) -> &str {
    fact(state, "customer_id").unwrap_or(":id")
}

/// What to type to confirm a change to a portal account (API mode); manual mode asks for
/// pasted evidence instead.
fn confirm_customer(state: &CaseState) -> Option<String> {
    (!manual(state)).then(|| state.facts.get("customer_email").cloned()).flatten()
}

/// Manual mode: the agent made the change in the admin screen; what they pasted is recorded.
fn done_by_hand(name: &str, state: &CaseState, evidence: &str, calls: &mut Calls) -> Result<Vec<Fact>> {
    let evidence = manual_evidence(name, evidence)?;
    calls.record("MANUAL", "CustomersDot admin screen", format!("done by the agent: {evidence}"));
    let label = if name == OneTimeSignInUrl::NAME {
        format!("One-time sign-in link emailed to {} (admin screen)", fact(state, "customer_email")?)
    } else {
        "Done in the admin screen".to_owned()
    };
    Ok(vec![Fact::judged(&label, evidence, true)])
}

/// API mode: the admin client, the case's portal account id, and the account re-read now.
async fn reread(run: &Run<'_>) -> Result<(CustomersDot, u64, Customer)> {
    let cd = run.env.conns.customersdot()?.ok_or_else(|| Error::NotConfigured("CustomersDot is in manual mode.".into()))?;
    let id: u64 = fact(run.state, "customer_id")?.parse().map_err(|_| Error::Internal("customer_id is not a number".into()))?;
    let before = cd.customer(id).await?;
    Ok((cd, id, before))
}

/// What the agent pastes after doing the change in the admin screen: required, at most
/// 2000 characters; for the sign-in link, never the link itself (it signs the customer in).
pub fn manual_evidence(name: &str, evidence: &str) -> Result<String> {
    let evidence = evidence.trim();
    if evidence.is_empty() {
        return Err(Error::InvalidInput(
            "Manual mode: do it in the CustomersDot admin screen, then paste what it shows to confirm.".into(),
        ));
    }
    if evidence.chars().count() > MAX_EVIDENCE {
        return Err(Error::InvalidInput(format!(
            "The pasted evidence is too long: keep it to {MAX_EVIDENCE} characters (the lines that show the change)."
        )));
    }
    if evidence.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::InvalidInput("The pasted evidence holds control characters: paste it as plain text.".into()));
    }
    let lower = evidence.to_lowercase();
    if name == "one_time_sign_in_url"
        && (lower.contains("http://") || lower.contains("https://") || lower.contains("sign_in_once"))
    {
        return Err(Error::InvalidInput(
            "Do not paste the sign-in link: it signs the customer in, so it must not be kept in the case or the audit log. Have the admin screen email it to the customer, then paste the confirmation it shows (e.g. “Sign-in link sent to … at 10:02”)."
                .into(),
        ));
    }
    Ok(evidence.to_owned())
}

/// Scenario 6: the portal account joining the billing account must be the new account of the
/// GitLab user that was unlinked — linked to that same GitLab user id, or (when the case has no
/// id, as in manual mode) holding that user's email. Anyone else's portal account is refused.
fn same_gitlab_user(state: &CaseState, uid: Option<u64>, email: &str) -> Result<()> {
    let unlinked_email = fact(state, "gitlab_email")?;
    let unlinked_uid: Option<u64> = state.facts.get("gitlab_uid").and_then(|u| u.parse().ok());
    let same = match unlinked_uid {
        Some(id) => uid == Some(id),
        None => email.eq_ignore_ascii_case(unlinked_email),
    };
    if same {
        return Ok(());
    }
    let linked = match uid {
        Some(u) => format!("GitLab user {u}"),
        None => "no GitLab user".to_owned(),
    };
    Err(Error::Rejected(format!(
        "The portal account {email} is linked to {linked}, not to the GitLab account that was unlinked ({unlinked_email}{}): \
         only that account's new portal account may join the billing account. Check the address with the customer.",
        unlinked_uid.map(|u| format!(", user {u}")).unwrap_or_default()
    )))
}

/// Manual mode, where Casekit cannot read the new account: its address must at least be the
/// unlinked GitLab account's (signing in with that account creates the portal account with it).
fn same_address_as_unlinked(state: &CaseState) -> Result<()> {
    let new_email = fact(state, "new_customer_email")?;
    let unlinked = fact(state, "gitlab_email")?;
    if new_email.eq_ignore_ascii_case(unlinked) {
        return Ok(());
    }
    Err(Error::Rejected(format!(
        "The new portal account must be the one created by signing in with the unlinked GitLab account ({unlinked}), not {new_email}."
    )))
}

/// `resend_confirmation`: the portal sends its confirmation email again.
pub struct ResendConfirmation;

impl Action for ResendConfirmation {
    const NAME: &'static str = "resend_confirmation";
    const NEEDS: &'static [Need] = &[Need::Fact("customer_email")];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        let id = customer_id(state);
        let change = format!("confirmation email sent again to {}", fact(state, "customer_email")?);
        preview(state, Self::NAME, "POST", format!("/admin/api/v1/customers/{id}/resend_confirmation"), change)
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        if manual(run.state) {
            return done_by_hand(Self::NAME, run.state, run.typed, calls);
        }
        let (cd, id, before) = reread(run).await?;

        if before.confirmed_at.is_some() {
            calls.record(
                "POST",
                format!("/admin/api/v1/customers/{id}/resend_confirmation"),
                "skipped: the account is confirmed now",
            );
            return Ok(vec![Fact::judged("Confirmed at", before.confirmed_at.unwrap_or_default(), true)]);
        }
        let after = cd.resend_confirmation(id).await?;
        calls.record("POST", format!("/admin/api/v1/customers/{id}/resend_confirmation"), "done");
        Ok(vec![Fact::judged("Confirmation email sent", after.confirmation_sent_at.unwrap_or_default(), true)])
    }
}

/// `one_time_sign_in_url`: CustomersDot emails a one-time sign-in link to the account's own
/// address (Casekit never sees the link).
pub struct OneTimeSignInUrl;

impl Action for OneTimeSignInUrl {
    const NAME: &'static str = "one_time_sign_in_url";
    const NEEDS: &'static [Need] = &[Need::Fact("customer_email")];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        let id = customer_id(state);
        let change = format!(
            "CustomersDot emails a new one-time sign-in link to {} (the account's own address; it works once, for 24 hours){}",
            fact(state, "customer_email")?,
            link_warning(state)
        );
        preview(state, Self::NAME, "POST", format!("/admin/api/v1/customers/{id}/send_one_time_sign_in_link"), change)
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let state = run.state;
        if manual(state) {
            return done_by_hand(Self::NAME, state, run.typed, calls);
        }
        let (cd, id, before) = reread(run).await?;

        let path = format!("/admin/api/v1/customers/{id}/send_one_time_sign_in_link");
        let email = fact(state, "customer_email")?;
        if !before.email.eq_ignore_ascii_case(email) {
            return Err(Error::Rejected(format!(
                "The portal account's email is {} now, not {email} as in the evidence: refresh the evidence before sending a link.",
                before.email
            )));
        }
        // A link already emailed during this case (a retry after an unknown outcome) is not
        // replaced: a second one would stop the first working in the customer's mailbox.
        let since = state.records.values().map(|r| clock::parse(&r.at)).collect::<Result<Vec<_>>>()?.into_iter().min();
        let events = cd.support_audit_events(id).await?;
        let mut sent_during_case = None;
        for e in events.iter().rev().filter(|e| e.action == "one_time_sign_in_link_sent") {
            let at = clock::parse(&e.created_at)?;
            if since.is_none_or(|since| at >= since) {
                sent_during_case = Some(e);
                break;
            }
        }
        if let Some(e) = sent_during_case {
            let last4 = e.details.get("last4").and_then(Value::as_str).unwrap_or("????");
            calls.record("POST", path, format!("skipped: a link was already emailed during this case at {}", e.created_at));
            return Ok(vec![Fact::judged(
                "One-time sign-in link",
                format!("emailed by CustomersDot to {email} at {} (link ending …{last4})", e.created_at),
                true,
            )]);
        }
        let sent = cd.send_one_time_sign_in_link(id).await?;
        calls.record("POST", path, format!("done: emailed to {}, link ending …{}", sent.sent_to, sent.last4));
        let logged = cd.support_audit_events(id).await?.iter().any(|e| e.action == "one_time_sign_in_link_sent");
        Ok(vec![
            Fact::judged(
                "One-time sign-in link",
                format!(
                    "emailed by CustomersDot to {} at {}, valid until {} (link ending …{})",
                    sent.sent_to, sent.sent_at, sent.expires_at, sent.last4
                ),
                sent.sent_to.eq_ignore_ascii_case(email),
            ),
            Fact::judged("Support Audit Event", if logged { "logged" } else { "not found" }, logged),
        ])
    }
}

/// `unlink_gitlab_user`: the portal account's linked GitLab user is removed, with the ticket
/// link.
pub struct UnlinkGitlabUser;

impl Action for UnlinkGitlabUser {
    const NAME: &'static str = "unlink_gitlab_user";
    const NEEDS: &'static [Need] = &[Need::Fact("customer_email"), Need::Fact("gitlab_email")];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        let id = customer_id(state);
        fact(state, "customer_email")?;
        let change = format!("linked GitLab user ({}) → none, with the ticket link", fact(state, "gitlab_email")?);
        preview(state, Self::NAME, "POST", format!("/admin/api/v1/customers/{id}/unlink_gitlab_user"), change)
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        confirm_customer(state)
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let state = run.state;
        if manual(state) {
            return done_by_hand(Self::NAME, state, run.typed, calls);
        }
        let (cd, id, before) = reread(run).await?;

        let path = format!("/admin/api/v1/customers/{id}/unlink_gitlab_user");
        let seen = state.facts.get("gitlab_email").cloned().unwrap_or_default();
        if before.uid.is_none() {
            calls.record("POST", path, "skipped: no GitLab user is linked now");
        } else {
            let ticket = fact(state, "ticket_url")?;
            cd.unlink_gitlab_user(id, ticket).await?;
            calls.record("POST", path, "done");
        }
        let after = cd.customer(id).await?;
        let logged = cd.support_audit_events(id).await?.iter().any(|e| e.action == "unlink_gitlab_user");
        if after.uid.is_some() {
            return Err(Error::InvalidResponse("CustomersDot still shows a linked GitLab user.".into()));
        }
        Ok(vec![
            Fact::judged("Linked GitLab user", format!("none (was {seen})"), true),
            Fact::judged("Support Audit Event", if logged { "logged with the ticket link" } else { "not found" }, logged),
        ])
    }
}

/// `add_billing_account_membership` (scenario 6): the unlinked GitLab user's new portal
/// account joins the billing account.
pub struct AddBillingAccountMembership;

impl Action for AddBillingAccountMembership {
    const NAME: &'static str = "add_billing_account_membership";
    const NEEDS: &'static [Need] = &[
        Need::Fact("customer_email"),
        Need::Fact("billing_account_id"),
        Need::Fact("new_customer_email"),
        Need::Fact("gitlab_email"),
    ];

    fn plan(state: &CaseState) -> Result<Vec<PlannedCall>> {
        fact(state, "customer_email")?;
        let change = format!("billing account {}: + {}", fact(state, "billing_account_id")?, fact(state, "new_customer_email")?);
        preview(state, Self::NAME, "POST", "/admin/api/v1/billing_account_memberships".to_owned(), change)
    }

    fn confirmation(state: &CaseState) -> Option<String> {
        confirm_customer(state)
    }

    /// The portal account joining must be the unlinked GitLab user's (nothing is recorded when
    /// it is not).
    async fn preflight(conns: &Connections, state: &CaseState) -> Result<()> {
        let new_email = fact(state, "new_customer_email")?;
        if manual(state) {
            return same_address_as_unlinked(state);
        }
        let cd = conns.customersdot()?.ok_or_else(|| Error::NotConfigured("CustomersDot is in manual mode.".into()))?;
        match cd.find_customers(&CustomerQuery::Email(new_email.to_owned())).await?.into_iter().next() {
            Some(new) => same_gitlab_user(state, new.uid, &new.email),
            // Not created yet: the run says so (and the step can be retried once it exists).
            None => Ok(()),
        }
    }

    async fn run(run: &Run<'_>, calls: &mut Calls) -> Result<Vec<Fact>> {
        let state = run.state;
        if manual(state) {
            same_address_as_unlinked(state)?;
            return done_by_hand(Self::NAME, state, run.typed, calls);
        }
        let (cd, _, _) = reread(run).await?;

        let account: u64 =
            fact(state, "billing_account_id")?.parse().map_err(|_| Error::Internal("billing_account_id".into()))?;
        let new_email = fact(state, "new_customer_email")?;
        let Some(new) = cd.find_customers(&CustomerQuery::Email(new_email.to_owned())).await?.into_iter().next() else {
            return Err(Error::NotFound(format!(
                "No portal account has {new_email} yet: the customer must first create it by signing in with that GitLab account."
            )));
        };
        same_gitlab_user(state, new.uid, &new.email)?;
        let path = "/admin/api/v1/billing_account_memberships".to_owned();
        match &new.billing_account_membership {
            Some(m) if m.billing_account_id == account => calls.record("POST", path, "skipped: already a member"),
            Some(m) => {
                return Err(Error::Rejected(format!(
                    "{new_email} is already a member of billing account {}: a customer has at most one.",
                    m.billing_account_id
                )))
            }
            None => {
                let m = cd.add_billing_account_membership(new.id, account).await?;
                calls.record("POST", path, format!("done: membership {}", m.id));
            }
        }
        let members = cd.billing_account(account).await?.memberships;
        let ok = members.iter().any(|m| m.customer_id == new.id);
        if !ok {
            return Err(Error::InvalidResponse("The billing account does not list the new portal account.".into()));
        }
        Ok(vec![Fact::judged("Billing account members", format!("{} (incl. {new_email})", members.len()), true)])
    }
}

/// `None` for a record the service no longer has (404), the error for anything else.
fn unless_gone<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == crate::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_as_the_screens_show_them_and_never_in_the_future() {
        assert_eq!(date("Confirmed at", "2024-05-01").unwrap().as_deref(), Some("2024-05-01"));
        assert_eq!(date("Confirmed at", "2024-5-1 9:07").unwrap().as_deref(), Some("2024-05-01 09:07"));
        assert_eq!(date("Confirmed at", "2021-03-01T10:00:00Z").unwrap().as_deref(), Some("2021-03-01 10:00:00 UTC"));
        assert_eq!(date("Confirmed at", "2021-03-01T10:00:00.123+02:00").unwrap().as_deref(), Some("2021-03-01 10:00:00 +02:00"));
        assert_eq!(date("Confirmed at", "March 1, 2021 10:00 UTC").unwrap().as_deref(), Some("2021-03-01 10:00 UTC"));
        assert_eq!(date("Confirmed at", "1 Mar 2021").unwrap().as_deref(), Some("2021-03-01"));
        assert_eq!(date("Confirmed at", "empty").unwrap(), None);
        for bad in ["2021-02-30", "yesterday", "2021-13-01", "01/03/2021", "2021-03-01 25:00", "2999-01-01"] {
            let e = date("Confirmed at", bad).unwrap_err().to_string();
            assert!(e.contains("Confirmed at") && (e.contains("like 2024-05-01") || e.contains("future")), "{bad}: {e}");
        }
    }

    #[test]
    fn ids_are_digits_or_none() {
        assert_eq!(number("Uid", "#111").unwrap(), Some(111));
        assert_eq!(number("Uid", "none").unwrap(), None);
        assert!(number("Uid", "@lena").unwrap_err().to_string().contains("digits"));
        assert!(number("Uid", "1234567890123").is_err());
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn entries_are_checked_with_what_to_fix() {
        let addresses = vec!["lena.billing@example.com".to_owned()];
        let ok = values(&[
            ("0.account", "Found"),
            ("0.confirmed_at", "2021-03-01 10:00"),
            ("0.uid", "111"),
            ("0.gitlab_email", "lena.gitlab@example.com"),
            ("0.created_via", "Self sign-up"),
            ("0.billing_account_id", "2"),
        ]);
        let e = parse_entries(&addresses, true, false, &ok).unwrap();
        let (_, account) = &e.accounts.unwrap()[0];
        let account = account.clone().unwrap();
        assert_eq!((account.uid, account.billing_account_id, account.created_via.as_str()), (Some(111), Some(2), "self_signup"));

        let mut no_email = ok.clone();
        no_email.remove("0.gitlab_email");
        let err = parse_entries(&addresses, true, false, &no_email).unwrap_err().to_string();
        assert!(err.contains("Uid 111") && err.contains("GitLab Groups tab"), "{err}");

        let mut none_but_details = ok.clone();
        none_but_details.insert("0.account".into(), ACCOUNT_NONE.into());
        let err = parse_entries(&addresses, true, false, &none_but_details).unwrap_err().to_string();
        assert!(err.contains("clear that field"), "{err}");

        let mut unknown = ok.clone();
        unknown.insert("1.account".into(), "Found".into());
        assert!(parse_entries(&addresses, true, false, &unknown).unwrap_err().to_string().contains("reload the case"));

        let mut long = ok.clone();
        long.insert("0.sold_to_email".into(), format!("{}@example.com", "a".repeat(300)));
        assert!(parse_entries(&addresses, true, false, &long).unwrap_err().to_string().contains("too long"));

        let err = parse_entries(&addresses, false, true, &values(&[])).unwrap_err().to_string();
        assert!(err.contains("Mailgun logs"), "{err}");
        let mail = parse_entries(
            &addresses,
            false,
            true,
            &values(&[("0.reset_mail", "Delivered"), ("0.reset_mail_at", "2026-11-20 09:00")]),
        )
        .unwrap();
        assert_eq!(mail.reset_mail.unwrap()[0].result, "delivered");
    }

    #[test]
    fn the_sign_in_link_itself_is_never_accepted_as_evidence() {
        let err = manual_evidence("one_time_sign_in_url", "https://customers.gitlab.com/customers/sign_in_once/abc").unwrap_err();
        assert!(err.to_string().contains("Do not paste the sign-in link"));
        assert!(manual_evidence("one_time_sign_in_url", "Sign-in link sent to leo.legacy@example.com at 10:02").is_ok());
        assert!(manual_evidence("resend_confirmation", &"x".repeat(MAX_EVIDENCE + 1)).is_err());
        assert!(manual_evidence("resend_confirmation", "  ").unwrap_err().to_string().contains("paste what it shows"));
    }
}
