//! What the catalog checks before a playbook may run, against the registry: every lookup,
//! gate and action it names exists; every fact a template, an `only_if`, a proposal or an
//! operation reads is produced by an earlier step (or the ticket); every gate comes after the
//! lookup it judges; the ownership gate follows a verification and its peer review; a
//! permission asks a known role. A playbook that fails is refused with the step and the name.

use std::collections::BTreeSet;

use super::model::FieldKind;
use super::model::{Playbook, Step, StepKind, TICKET_FACTS};
use super::ops::{Gate, Need};
use super::review::OwnershipVerified;
use super::{registry, texts};
use crate::{Error, Result};

/// What a case knows before its first step: what Casekit records from the ticket.
const FROM_THE_TICKET: &[&str] = &["ticket_subject", "requester_email"];

/// Checks a parsed playbook against the registry and the order of its steps.
pub fn playbook(p: &Playbook) -> Result<()> {
    let mut known = Known::default();
    known.facts.extend(TICKET_FACTS.iter().chain(FROM_THE_TICKET).map(|f| (*f).to_owned()));
    for (i, s) in p.steps.iter().enumerate() {
        step(p, i, s, &mut known).map_err(|why| Error::Internal(format!("playbook {}: step {}: {why}", p.id, s.id)))?;
    }
    Ok(())
}

/// The facts and evidence earlier steps produce.
#[derive(Default)]
struct Known {
    facts: BTreeSet<String>,
    lookups: BTreeSet<&'static str>,
}

impl Known {
    fn fact(&self, key: &str, used_by: &str) -> std::result::Result<(), String> {
        if self.facts.contains(key) {
            Ok(())
        } else {
            Err(format!("{used_by} needs the fact {key}, which no earlier step produces"))
        }
    }

    fn needs(&self, needs: &[Need], used_by: &str) -> std::result::Result<(), String> {
        needs.iter().try_for_each(|n| match n {
            Need::Fact(f) => self.fact(f, used_by),
            Need::Lookup(l) if self.lookups.contains(l) => Ok(()),
            Need::Lookup(l) => Err(format!("{used_by} judges the evidence of the lookup {l}, which no earlier step runs")),
            Need::AnyLookup(ls) if ls.iter().any(|l| self.lookups.contains(l)) => Ok(()),
            Need::AnyLookup(ls) => Err(format!(
                "{used_by} judges the evidence of one of the lookups {}, and no earlier step runs one",
                ls.join(", ")
            )),
        })
    }

    fn template(&self, template: &str, used_by: &str) -> std::result::Result<(), String> {
        texts::keys(template).try_for_each(|k| self.fact(k, used_by))
    }
}

fn step(p: &Playbook, index: usize, s: &Step, known: &mut Known) -> std::result::Result<(), String> {
    for key in s.only_if.keys() {
        known.fact(key, "its only_if")?;
    }
    match &s.kind {
        StepKind::Checklist { items, fields } => {
            known.facts.extend(fields.iter().map(|f| f.id.clone()));
            if items.iter().any(|i| !i.required) {
                let key = s.id.replace('-', "_");
                known.facts.extend([format!("{key}_complete"), format!("{key}_missing")]);
            }
        }
        StepKind::Lookup { lookup } => {
            let l = registry::lookup_named(lookup).map_err(|_| format!("names an unknown lookup {lookup}"))?;
            known.needs(l.needs, &format!("the lookup {lookup}"))?;
            known.facts.extend(l.produces.iter().map(|f| (*f).to_owned()));
            known.lookups.insert(l.name);
        }
        StepKind::Gate { gates } => {
            for g in gates {
                let entry = registry::gate_named(&g.gate).map_err(|_| format!("names an unknown gate {}", g.gate))?;
                known.needs(entry.needs, &format!("the gate {}", g.gate))?;
                if entry.name == OwnershipVerified::NAME && !reviewed_before(p, index) {
                    return Err(format!(
                        "the gate {} needs a verify step before it and, between the two, a peer-review checklist \
                         (reviewer_name and reviewer_email fields)",
                        g.gate
                    ));
                }
            }
        }
        StepKind::Verify { .. } => {
            known.facts.insert("verification_outcome".into());
        }
        StepKind::Permission { request, .. } => {
            known.template(request, "the permission request")?;
        }
        StepKind::Decision { options, propose_from } => {
            if let Some(f) = propose_from {
                known.fact(f, "the proposal")?;
            }
            for o in options {
                for template in o.sets.values() {
                    known.template(template, &format!("the option {}", o.id))?;
                }
            }
            known.facts.extend(options.iter().flat_map(|o| o.sets.keys().cloned()));
        }
        StepKind::Action { action, .. } => {
            let a = registry::action_named(action).map_err(|_| format!("names an unknown action {action}"))?;
            known.needs(a.needs, &format!("the action {action}"))?;
        }
        StepKind::Manual { link, instructions } => {
            known.template(link, "the link")?;
            known.template(instructions, "the instructions")?;
        }
        StepKind::Note { what } => known.template(what, "the admin note")?,
        StepKind::Reply { template } => known.template(template, "the reply")?,
        StepKind::Summary => {}
    }
    Ok(())
}

/// Whether a verify step comes before step `index`, followed by a peer-review checklist (a
/// field of each reviewer type) before `index`.
fn reviewed_before(p: &Playbook, index: usize) -> bool {
    let before = &p.steps[..index];
    let is_review = |s: &Step| {
        matches!(&s.kind, StepKind::Checklist { fields, .. }
            if [FieldKind::ReviewerName, FieldKind::ReviewerEmail].iter().all(|k| fields.iter().any(|f| f.kind == *k)))
    };
    before.iter().rposition(|s| matches!(s.kind, StepKind::Verify { .. })).is_some_and(|v| before[v + 1..].iter().any(is_review))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::model::tests::file;

    fn check(step: &str) -> std::result::Result<(), String> {
        playbook(&Playbook::parse(&file(step)).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
    }

    fn steps(steps: &[&str]) -> std::result::Result<(), String> {
        check(&steps.join(", "))
    }

    const ASK_EMAIL: &str =
        r#"{"id": "ask", "title": "Ask", "kind": "checklist", "fields": [{"id": "email", "label": "E", "type": "email"}]}"#;
    const LOOK: &str = r#"{"id": "look", "title": "Look", "kind": "lookup", "lookup": "gitlab_account"}"#;

    #[test]
    fn an_unknown_name_is_refused_with_the_step() {
        let err = check(r#"{"id": "a", "title": "A", "kind": "lookup", "lookup": "nope"}"#).unwrap_err();
        assert!(err.contains("step a: names an unknown lookup nope"), "{err}");
        let err =
            steps(&[ASK_EMAIL, LOOK, r#"{"id": "g", "title": "G", "kind": "gate", "gates": [{"gate": "nope", "reason": "r"}]}"#])
                .unwrap_err();
        assert!(err.contains("step g: names an unknown gate nope"), "{err}");
        let err = check(r#"{"id": "x", "title": "X", "kind": "action", "action": "delete_everything"}"#).unwrap_err();
        assert!(err.contains("names an unknown action delete_everything"), "{err}");
        let err = check(r#"{"id": "p", "title": "P", "kind": "permission", "request": "r", "from": "anyone"}"#).unwrap_err();
        assert!(err.contains("unknown variant `anyone`"), "{err}");
    }

    #[test]
    fn a_fact_no_earlier_step_produces_is_refused() {
        let err = check(LOOK).unwrap_err();
        assert!(err.contains("step look: the lookup gitlab_account needs the fact email"), "{err}");
        assert!(steps(&[ASK_EMAIL, LOOK]).is_ok());
        let reply =
            r#"{"id": "r", "title": "R", "kind": "reply", "template": "Hello {requester_name}, {gitlab_usrname} is released."}"#;
        let err = steps(&[ASK_EMAIL, LOOK, reply]).unwrap_err();
        assert!(err.contains("step r: the reply needs the fact gitlab_usrname"), "{err}");
        assert!(steps(&[ASK_EMAIL, LOOK, &reply.replace("usrname", "username")]).is_ok());
        let only_if =
            r#"{"id": "o", "title": "O", "kind": "manual", "link": "", "instructions": "i", "only_if": {"suppressed": "true"}}"#;
        assert!(steps(&[ASK_EMAIL, only_if]).unwrap_err().contains("step o: its only_if needs the fact suppressed"));
    }

    #[test]
    fn a_gate_before_its_lookup_is_refused() {
        let gate = r#"{"id": "g", "title": "G", "kind": "gate", "gates": [{"gate": "never_signed_in", "reason": "r"}]}"#;
        let err = steps(&[ASK_EMAIL, gate, LOOK]).unwrap_err();
        assert!(err.contains("step g: the gate never_signed_in judges the evidence of the lookup gitlab_account"), "{err}");
        assert!(steps(&[ASK_EMAIL, LOOK, gate]).is_ok());
    }

    #[test]
    fn every_shipped_playbook_passes_and_every_registered_name_dispatches() {
        let catalog = crate::playbook::Catalog::builtin();
        let named: BTreeSet<String> = catalog
            .playbooks()
            .flat_map(|p| &p.steps)
            .flat_map(|s| match &s.kind {
                StepKind::Lookup { lookup } => vec![lookup.clone()],
                StepKind::Action { action, .. } => vec![action.clone()],
                StepKind::Gate { gates } => gates.iter().map(|g| g.gate.clone()).collect(),
                _ => Vec::new(),
            })
            .collect();
        for name in registry::LOOKUPS
            .iter()
            .map(|l| l.name)
            .chain(registry::GATES.iter().map(|g| g.name))
            .chain(registry::ACTIONS.iter().map(|a| a.name))
        {
            assert!(named.contains(name), "{name} is registered but no shipped playbook uses it");
        }
        for name in &named {
            let found = registry::lookup_named(name).is_ok()
                || registry::gate_named(name).is_ok()
                || registry::action_named(name).is_ok();
            assert!(found, "{name} is named by a playbook but not registered");
        }
        let names: Vec<&str> = registry::LOOKUPS
            .iter()
            .map(|l| l.name)
            .chain(registry::GATES.iter().map(|g| g.name))
            .chain(registry::ACTIONS.iter().map(|a| a.name))
            .collect();
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "a name is registered twice");
        // Every gate judges a fresh case without evidence as blocked, never as passed.
        let empty = crate::playbook::state::CaseState::default();
        for g in registry::GATES {
            assert!(!registry::evaluate(g.name, &empty).passed, "{} passes without evidence", g.name);
        }
    }
}
