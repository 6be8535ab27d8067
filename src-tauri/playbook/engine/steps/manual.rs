use super::*;

/// Manual: done in the other tool; what the agent pastes back as evidence.
pub(super) fn run(cx: &mut Cx<'_>, evidence: String) -> Result<Transition> {
    let Cx { agent, pb, st, index, step_id, .. } = cx;
    let (index, step_id): (usize, &str) = (*index, step_id.as_str());
    ensure_ready(pb, st, index)?;
    let evidence = evidence.trim().to_owned();
    let summary = if evidence.is_empty() { "done in the other tool".to_owned() } else { format!("done: {evidence}") };
    done(st, step_id, agent, StepStatus::Done, StepData::ManualDone { evidence: evidence.clone(), summary });
    advance(pb, st, index, None, agent);
    Ok(Transition::new("manual_done", json!({"evidence": evidence})))
}
