use super::*;

/// Gate: every gate passed; continue.
pub(super) fn pass(cx: &mut Cx<'_>, specs: &[GateSpec]) -> Result<Transition> {
    let Cx { agent, pb, st, index, step_id, .. } = cx;
    let (index, step_id): (usize, &str) = (*index, step_id.as_str());
    let verdicts: Vec<GateResult> = specs
        .iter()
        .map(|g| {
            let v = registry::evaluate(&g.gate, st);
            GateResult { gate: g.gate.clone(), passed: v.passed, detail: v.detail }
        })
        .collect();
    if let Some(blocked) = verdicts.iter().find(|v| !v.passed) {
        return Err(Error::OutOfOrder(format!(
            "The gate is blocked ({}); follow the block instead of continuing.",
            blocked.detail
        )));
    }
    let payload = json!({"gates": verdicts});
    done(st, step_id, agent, StepStatus::Done, StepData::GatesPassed { gates: verdicts, summary: "all gates passed".into() });
    advance(pb, st, index, None, agent);
    Ok(Transition::new("gate_passed", payload))
}

/// Gate: follow the first block (end, switch playbook, or branch).
pub(super) fn follow_block(cx: &mut Cx<'_>, specs: &[GateSpec]) -> Result<Transition> {
    let Cx { agent, pb, st, index, step_id, .. } = cx;
    let (index, step_id): (usize, &str) = (*index, step_id.as_str());
    let Some((spec, verdict)) = specs.iter().map(|g| (g, registry::evaluate(&g.gate, st))).find(|(_, v)| !v.passed) else {
        return Err(Error::OutOfOrder("Every gate passes: continue instead.".into()));
    };
    let follow = match &spec.on_fail {
        OnFail::Stop => "stop".to_owned(),
        OnFail::Switch(p) => format!("switch:{p}"),
        OnFail::Branch(s) => format!("branch:{s}"),
    };
    let summary = format!("blocked by {}: {}", spec.gate, verdict.detail);
    let mut t = Transition::new(
        "gate_blocked",
        json!({"gate": spec.gate, "detail": verdict.detail, "follow": follow, "summary": summary}),
    );
    done(
        st,
        step_id,
        agent,
        StepStatus::Blocked,
        StepData::GateBlocked { gate: spec.gate.clone(), detail: verdict.detail, follow, summary },
    );
    match &spec.on_fail {
        OnFail::Stop => {
            st.cursor.clear();
            t.finish = Some(CaseOutcome::Blocked);
        }
        OnFail::Switch(target) => {
            st.cursor.clear();
            t.finish = Some(CaseOutcome::Switched);
            t.switch_to = Some(target.clone());
        }
        OnFail::Branch(to) => advance(pb, st, index, Some(to), agent),
    }
    Ok(t)
}
