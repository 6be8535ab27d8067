use super::*;

/// Lookup: fetch the facts, or build them from what the agent entered.
pub(super) async fn run(cx: &mut Cx<'_>, lookup: &str, input: StepInput) -> Result<Transition> {
    let Cx { env, agent, pb, st, index, step_id, .. } = cx;
    let (env, index, step_id): (&Env<'_>, usize, &str) = (*env, *index, step_id.as_str());
    let found = match &input {
        StepInput::EnterEvidence { fields } => registry::lookup_named(lookup)?.enter(env.conns, st, fields).await?,
        _ => registry::lookup_named(lookup)?.run(env.conns, st).await?,
    };
    // What the agent entered is audited as it was recorded (normalized), marked as theirs.
    let entered = found.evidence.data.get("entered").filter(|v| !v.is_null()).cloned();
    let summary = found.evidence.rows.iter().take(3).map(|r| format!("{}: {}", r.label, r.value)).collect::<Vec<_>>().join("; ");
    let ids: BTreeMap<String, String> =
        found.facts.iter().filter(|(k, _)| k.ends_with("_id")).map(|(k, v)| (k.clone(), v.clone())).collect();
    st.facts.extend(found.facts.clone());
    st.evidence.insert(lookup.to_owned(), found.evidence);
    done(st, step_id, agent, StepStatus::Done, StepData::Lookup { lookup: lookup.to_owned(), summary });
    advance(pb, st, index, None, agent);
    let mut payload = json!({"lookup": lookup, "status": "ok", "ids": ids});
    if let Some(entered) = entered {
        payload["source"] = json!("entered by the agent");
        payload["entered"] = entered;
    }
    Ok(Transition::new("lookup_completed", payload))
}

/// Fetches every lookup again; a gate that no longer passes becomes the current step.
pub(super) async fn refresh(env: &Env<'_>, pb: &Playbook, st: &mut CaseState) -> Result<Transition> {
    let mut refreshed = Vec::new();
    for s in &pb.steps {
        if let StepKind::Lookup { lookup } = &s.kind {
            if st.evidence.contains_key(lookup) {
                let found = registry::lookup_named(lookup)?.run(env.conns, st).await?;
                st.facts.extend(found.facts);
                st.evidence.insert(lookup.to_owned(), found.evidence);
                refreshed.push(lookup.clone());
            }
        }
    }
    let reopened = pb.steps.iter().find(|s| {
        matches!(&s.kind, StepKind::Gate { gates: g } if st.records.get(&s.id).is_some_and(|r| r.status == StepStatus::Done)
            && g.iter().any(|g| !registry::evaluate(&g.gate, st).passed))
    });
    if let Some(gate) = reopened {
        st.records.remove(&gate.id);
        st.cursor = gate.id.clone();
        st.progress.insert(gate.id.clone(), json!({"notice": "The refreshed evidence no longer passes this gate."}));
    }
    Ok(Transition::new("evidence_refreshed", json!({"lookups": refreshed, "reopened_gate": reopened.map(|s| s.id.clone())})))
}
