//! The engine: playbooks as data, the per-case state machine that decides what may happen
//! next, the named lookups, gates and actions behind the steps, and what the UI is shown.
//! Every transition is written with its audit rows in one SQLite transaction before the UI
//! hears of it.

pub mod check;
pub mod consent;
pub mod effects;
pub mod engine;
pub mod model;
pub mod ops;
pub mod registry;
pub mod review;
pub mod state;
pub mod texts;
pub mod view;

use std::sync::LazyLock;

use serde::Serialize;
use ts_rs::TS;

use self::model::Playbook;
use crate::{Error, Result};

/// The playbooks Casekit ships, from `src-tauri/playbooks/`.
pub struct Catalog {
    playbooks: Vec<Playbook>,
}

/// A playbook in the picker.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookInfo {
    pub id: String,
    pub title: String,
    pub use_when: String,
    pub version: String,
    pub source: String,
    pub steps: usize,
}

const FILES: &[&str] = &[
    include_str!("../playbooks/release-email.json"),
    include_str!("../playbooks/account-ownership-verification.json"),
    include_str!("../playbooks/confirmation-email.json"),
    include_str!("../playbooks/account-access.json"),
    include_str!("../playbooks/project-group-change.json"),
    include_str!("../playbooks/customersdot-sign-in.json"),
    include_str!("../playbooks/malicious-user.json"),
    include_str!("../playbooks/association-request.json"),
    include_str!("../playbooks/portal-troubleshooting.json"),
    include_str!("../playbooks/secondary-email.json"),
    include_str!("../playbooks/incorrect-form.json"),
];

static BUILTIN: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::load(FILES).unwrap_or_else(|e| panic!("a built-in playbook is broken: {e}")));

impl Catalog {
    /// The shipped playbooks (checked by a test, so a broken file never ships).
    pub fn builtin() -> &'static Catalog {
        &BUILTIN
    }

    /// Loads and checks playbook files against the registry's lookups, gates and actions.
    pub fn load(files: &[&str]) -> Result<Catalog> {
        let playbooks = files.iter().map(|f| Playbook::parse(f)).collect::<Result<Vec<_>>>()?;
        playbooks.iter().try_for_each(check::playbook)?;
        for p in &playbooks {
            for s in &p.steps {
                if let model::StepKind::Gate { gates } = &s.kind {
                    for g in gates {
                        if let model::OnFail::Switch(to) = &g.on_fail {
                            if !playbooks.iter().any(|q| &q.id == to) {
                                return Err(Error::Internal(format!(
                                    "playbook {}: gate {} switches to unknown {to}",
                                    p.id, g.gate
                                )));
                            }
                        }
                    }
                }
            }
        }
        Ok(Catalog { playbooks })
    }

    pub fn get(&self, id: &str) -> Result<&Playbook> {
        self.playbooks
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| Error::NotFound(format!("There is no playbook “{id}”. Pick one from the list.")))
    }

    /// Every playbook.
    pub fn playbooks(&self) -> impl Iterator<Item = &Playbook> {
        self.playbooks.iter()
    }

    /// The picker's list.
    pub fn list(&self) -> Vec<PlaybookInfo> {
        self.playbooks
            .iter()
            .map(|p| PlaybookInfo {
                id: p.id.clone(),
                title: p.title.clone(),
                use_when: p.use_when.clone(),
                version: p.version.clone(),
                source: p.source.clone(),
                steps: p.steps.len(),
            })
            .collect()
    }
}
