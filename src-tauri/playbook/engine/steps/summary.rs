use super::*;

/// Summary: the case is finished.
pub(super) fn run(cx: &mut Cx<'_>) -> Result<Transition> {
    let Cx { agent, st, step_id, .. } = cx;
    let step_id: &str = step_id.as_str();
    done(st, step_id, agent, StepStatus::Done, StepData::Finished { summary: "case finished".into() });
    st.cursor.clear();
    let mut t = Transition::new("case_finished", json!({"outcome": "completed"}));
    t.finish = Some(CaseOutcome::Completed);
    Ok(t)
}
