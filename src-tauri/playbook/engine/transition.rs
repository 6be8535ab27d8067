//! What a step changes in a case: the record of the step, where the cursor goes next, the
//! audit rows and how the case ends; and whether a change may run at all.

use serde_json::Value;

use super::super::model::{Playbook, StepKind};
use super::super::registry;
use super::super::state::{CaseState, StepData, StepRecord, StepStatus};
use crate::store::columns::CaseOutcome;
use crate::{clock, Error, Result};

/// What a transition writes.
#[derive(Clone)]
pub struct Transition {
    pub audit: Vec<(String, Value)>,
    pub finish: Option<CaseOutcome>,
    pub switch_to: Option<String>,
}

impl Transition {
    pub fn new(kind: &str, payload: Value) -> Transition {
        Transition { audit: vec![(kind.to_owned(), payload)], finish: None, switch_to: None }
    }
}

/// Records how the step ended and what it did; its half-done work is dropped.
pub fn done(st: &mut CaseState, step: &str, agent: &str, status: StepStatus, data: StepData) {
    st.progress.remove(step);
    st.records.insert(step.to_owned(), StepRecord { status, at: clock::now(), agent: agent.to_owned(), data });
}

/// Moves the cursor to `to` (or the step's `next`, or the one after it), marking steps jumped
/// over as skipped.
pub fn advance(pb: &Playbook, st: &mut CaseState, index: usize, to: Option<&str>, agent: &str) {
    let to = to.or(pb.steps[index].next.as_deref());
    let mut target = to.and_then(|t| pb.step(t)).map_or(index + 1, |(i, _)| i);
    // Steps whose condition does not hold are passed over (and recorded as skipped).
    while pb.steps.get(target).is_some_and(|s| s.only_if.iter().any(|(k, v)| st.facts.get(k) != Some(v))) {
        target += 1;
    }
    for s in pb.steps.iter().take(target).skip(index + 1) {
        st.records.entry(s.id.clone()).or_insert_with(|| StepRecord {
            status: StepStatus::Skipped,
            at: clock::now(),
            agent: agent.to_owned(),
            data: StepData::Skipped {},
        });
    }
    st.cursor = pb.steps.get(target).map(|s| s.id.clone()).unwrap_or_default();
}

/// Refuses a change (action, note, manual change) unless every earlier step is complete (a
/// blocked gate only if it branched here), every passed gate still passes on the current
/// evidence, and a permission before it was recorded.
pub fn ensure_ready(pb: &Playbook, st: &CaseState, index: usize) -> Result<()> {
    for s in &pb.steps[..index] {
        let record = st.records.get(&s.id);
        let branched = record.is_some_and(|r| {
            r.status == StepStatus::Blocked
                && matches!(&r.data, StepData::GateBlocked { follow, .. } if follow.starts_with("branch:"))
        });
        match record.map(|r| r.status) {
            Some(StepStatus::Done | StepStatus::Skipped) => {}
            _ if branched => {}
            _ => return Err(Error::OutOfOrder(format!("“{}” is not complete, so this change may not run.", s.title))),
        }
        if let (StepKind::Gate { gates: specs }, Some(StepStatus::Done)) = (&s.kind, st.records.get(&s.id).map(|r| r.status)) {
            if let Some(g) = specs.iter().find(|g| !registry::evaluate(&g.gate, st).passed) {
                return Err(Error::OutOfOrder(format!(
                    "The gate “{}” no longer passes: {}",
                    g.reason,
                    registry::evaluate(&g.gate, st).detail
                )));
            }
        }
    }
    // Permission steps the playbook routed around (skipped by its own conditions) ask nothing.
    let mut permissions =
        pb.permissions_before(index).filter(|p| st.records.get(&p.id).is_none_or(|r| r.status != StepStatus::Skipped)).peekable();
    if permissions.peek().is_some()
        && !permissions.any(|p| {
            st.records
                .get(&p.id)
                .is_some_and(|r| r.status == StepStatus::Done && matches!(r.data, StepData::PermissionConfirmed { .. }))
        })
    {
        return Err(Error::OutOfOrder("No recorded permission from the customer: this change may not run.".into()));
    }
    Ok(())
}
