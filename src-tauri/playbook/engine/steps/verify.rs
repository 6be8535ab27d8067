use super::*;

/// Verify: the risk level and each challenge sent with whether its answer matched.
pub(super) fn run(
    cx: &mut Cx<'_>,
    challenges: &[Challenge],
    required_passes: &BTreeMap<String, u32>,
    risk: String,
    results: Vec<ChallengeResult>,
) -> Result<Transition> {
    let Cx { agent, pb, st, index, step_id, .. } = cx;
    let (index, step_id): (usize, &str) = (*index, step_id.as_str());
    let Some(required) = required_passes.get(&risk) else {
        return Err(Error::InvalidInput(format!(
            "Choose a risk level: {}.",
            required_passes.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    };
    if results.is_empty() {
        return Err(Error::InvalidInput("Record at least one challenge that was sent and how it was answered.".into()));
    }
    review::check_challenges(challenges, &results)?;
    let passes = results.iter().filter(|r| r.passed).count() as u32;
    let outcome = if passes >= *required { "passed" } else { "failed" };
    st.facts.insert("verification_outcome".into(), outcome.into());
    let judged: Vec<Judged> = results.iter().map(|r| Judged { challenge: r.id.clone(), passed: r.passed }).collect();
    let summary = format!("{passes} of {} challenges passed, {required} required at {risk} risk: {outcome}", results.len());
    let payload = json!({"risk": risk, "results": judged, "passes": passes, "required": required, "outcome": outcome,
                         "summary": summary});
    let data = StepData::Verified { risk, results: judged, passes, required: *required, outcome: outcome.into(), summary };
    done(st, step_id, agent, StepStatus::Done, data);
    advance(pb, st, index, None, agent);
    Ok(Transition::new("verification_judged", payload))
}
