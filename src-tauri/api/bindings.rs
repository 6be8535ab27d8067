//! Generates `ui/src/lib/bindings.ts`: the TypeScript form of every IPC type, the services'
//! names, and one typed function per command, from the Rust types. `make bindings` writes it; a test fails when the
//! committed file differs from what the Rust types produce.

use ts_rs::{Config, TS};

use crate::connectors::check::ConnectionCheck;
use crate::error::{ErrorCode, IpcError};
use crate::playbook::consent::{Answerer, Role};
use crate::playbook::effects::{CallRecord, PlannedCall};
use crate::playbook::effects::{Fact, Link};
use crate::playbook::engine::{ChallengeResult, NewCase, StepInput, TicketComment, TicketInstance, TicketPreview};
use crate::playbook::view::{
    AttemptView, CaseView, ChallengeView, EvidenceView, FieldView, GateView, ItemView, OptionView, PermissionView, RiskLevel,
    StepLine, StepView,
};
use crate::playbook::PlaybookInfo;
use crate::service::Service;
use crate::store::audit::{AuditRow, BadRow, Verification};
use crate::store::cases::CaseListItem;
use crate::store::columns::{CaseOutcome, CaseStatus, OutboxState};
use crate::store::outbox::OutboxItem;
use crate::store::profiles::{CustomersDotMode, Profile, ProfileInput, ProfileKind, ServiceSettings};
use crate::store::search::{AuditFilter, AuditPage};
use crate::summary::outbox::{Flushed, Posted};
use crate::summary::CaseSummary;

use super::handlers::AppInfo;

/// Where the generated file lives, relative to the repository root.
pub const BINDINGS_PATH: &str = "ui/src/lib/bindings.ts";

/// One command as the UI calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSignature {
    pub name: &'static str,
    pub doc: &'static str,
    pub args: Vec<(&'static str, String)>,
    pub reply: String,
    /// `blocking` (this computer: SQLite, keychain) or `network` (the services): how long the
    /// UI waits for the answer before it says so (`ui/src/lib/ipc.ts`).
    pub wait: &'static str,
}

impl CommandSignature {
    /// A command replying with `R`.
    pub fn new<R: TS>(name: &'static str, doc: &'static str, wait: &'static str, args: Vec<(&'static str, String)>) -> Self {
        CommandSignature { name, doc: doc.trim(), args, reply: R::name(&config()), wait }
    }

    /// An argument of type `T`.
    pub fn arg<T: TS>(name: &'static str) -> (&'static str, String) {
        (name, T::name(&config()))
    }
}

// Ids and counts stay far below 2^53, so 64-bit integers are plain numbers in the UI.
fn config() -> Config {
    Config::new().with_large_int("number")
}

fn declaration<T: TS>(cfg: &Config) -> String {
    let doc = T::docs().map(|d| format!("{}\n", d.trim_end())).unwrap_or_default();
    format!("{doc}export {}\n", T::decl(cfg))
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Every service in the order Casekit lists them, with the name an agent knows it by.
fn service_labels() -> String {
    let rows: Vec<String> = Service::ALL
        .iter()
        .map(|&s| {
            let id = serde_json::to_string(&s).expect("a service serializes");
            let label = serde_json::to_string(s.label()).expect("a label serializes");
            format!("  {{ id: {id}, label: {label} }},\n")
        })
        .collect();
    format!(
        "/** Every service, in the order Casekit lists them, with the name an agent knows it by (`Service::label`). */\n\
         export const SERVICE_LABELS: readonly {{ id: Service; label: string }}[] = [\n{}];\n",
        rows.concat()
    )
}

/// The whole generated file.
pub fn typescript() -> String {
    let cfg = config();
    let mut out = String::from(
        "// Generated from the Rust types in src-tauri/ by `make bindings`. Do not edit by hand.\n\n\
         import { call } from './ipc';\n\n",
    );
    for decl in [
        declaration::<ErrorCode>(&cfg),
        declaration::<IpcError>(&cfg),
        declaration::<Service>(&cfg),
        service_labels(),
        declaration::<ProfileKind>(&cfg),
        declaration::<CustomersDotMode>(&cfg),
        declaration::<ServiceSettings>(&cfg),
        declaration::<Profile>(&cfg),
        declaration::<ProfileInput>(&cfg),
        declaration::<ConnectionCheck>(&cfg),
        declaration::<PlaybookInfo>(&cfg),
        declaration::<TicketInstance>(&cfg),
        declaration::<CaseStatus>(&cfg),
        declaration::<CaseOutcome>(&cfg),
        declaration::<OutboxState>(&cfg),
        declaration::<TicketPreview>(&cfg),
        declaration::<NewCase>(&cfg),
        declaration::<TicketComment>(&cfg),
        declaration::<ChallengeResult>(&cfg),
        declaration::<StepInput>(&cfg),
        declaration::<Fact>(&cfg),
        declaration::<Link>(&cfg),
        declaration::<PlannedCall>(&cfg),
        declaration::<CallRecord>(&cfg),
        declaration::<StepLine>(&cfg),
        declaration::<EvidenceView>(&cfg),
        declaration::<ItemView>(&cfg),
        declaration::<FieldView>(&cfg),
        declaration::<GateView>(&cfg),
        declaration::<PermissionView>(&cfg),
        declaration::<Role>(&cfg),
        declaration::<Answerer>(&cfg),
        declaration::<ChallengeView>(&cfg),
        declaration::<RiskLevel>(&cfg),
        declaration::<OptionView>(&cfg),
        declaration::<AttemptView>(&cfg),
        declaration::<StepView>(&cfg),
        declaration::<CaseView>(&cfg),
        declaration::<CaseSummary>(&cfg),
        declaration::<Posted>(&cfg),
        declaration::<OutboxItem>(&cfg),
        declaration::<Flushed>(&cfg),
        declaration::<AuditFilter>(&cfg),
        declaration::<AuditRow>(&cfg),
        declaration::<AuditPage>(&cfg),
        declaration::<BadRow>(&cfg),
        declaration::<Verification>(&cfg),
        declaration::<CaseListItem>(&cfg),
        declaration::<AppInfo>(&cfg),
    ] {
        out.push_str(&decl);
        out.push('\n');
    }
    for sig in super::signatures() {
        let params: Vec<String> = sig.args.iter().map(|(n, t)| format!("{}: {t}", camel_case(n))).collect();
        let payload = if sig.args.is_empty() {
            "{}".to_owned()
        } else {
            let keys: Vec<String> = sig.args.iter().map(|(n, _)| camel_case(n)).collect();
            format!("{{ {} }}", keys.join(", "))
        };
        out.push_str(&format!(
            "/** {doc} Rejects with an `IpcError`. */\nexport function {f}({params}): Promise<{reply}> {{\n  return call<{reply}>('{name}', {payload}, '{wait}');\n}}\n\n",
            wait = sig.wait,
            doc = sig.doc,
            f = camel_case(sig.name),
            params = params.join(", "),
            reply = sig.reply,
            name = sig.name,
        ));
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
