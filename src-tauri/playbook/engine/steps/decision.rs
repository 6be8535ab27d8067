use super::*;

/// The longest reason a decision records.
const DECISION_REASON_MAX: usize = 500;

/// Decision: the option chosen and why.
pub(super) fn run(
    cx: &mut Cx<'_>,
    options: &[DecisionOption],
    propose_from: &Option<String>,
    option: String,
    reason: String,
) -> Result<Transition> {
    let Cx { agent, pb, st, index, step_id, .. } = cx;
    let (index, step_id): (usize, &str) = (*index, step_id.as_str());
    let Some(o) = options.iter().find(|o| o.id == option) else {
        return Err(Error::InvalidInput("Choose one of the listed options.".into()));
    };
    let proposed = propose_from.as_ref().and_then(|f| st.facts.get(f)).cloned();
    // Every choice records why: the agent's words, or (accepting what the evidence
    // proposes) the evidence's own reason.
    let because = propose_from.as_ref().and_then(|f| st.facts.get(&format!("{f}_reason"))).filter(|r| !r.trim().is_empty());
    let (reason, reason_from) = match (reason.trim(), because) {
        ("", Some(because)) if proposed.as_ref() == Some(&o.id) => (format!("as the evidence shows: {because}"), "evidence"),
        ("", _) if proposed.as_ref().is_some_and(|p| p != &o.id) => {
            return Err(Error::InvalidInput(format!(
                "The evidence points to “{}”: say why you choose otherwise (it is recorded).",
                options.iter().find(|x| Some(&x.id) == proposed.as_ref()).map_or("another option", |x| x.label.as_str())
            )))
        }
        ("", _) => {
            return Err(Error::InvalidInput(format!(
                "Say why you choose “{}”: the reason is recorded in the audit log and the case summary.",
                o.label
            )))
        }
        (typed, _) => (validate::text("reason for this choice", typed, DECISION_REASON_MAX)?, "agent"),
    };
    let data = StepData::Decided {
        option: o.id.clone(),
        label: o.label.clone(),
        reason: reason.clone(),
        reason_from: reason_from.into(),
        summary: format!("{} — {reason}", o.label),
    };
    let overridden = proposed.as_ref().map(|p| p != &o.id);
    let mut t = Transition::new(
        "decision_made",
        json!({"option": o.id, "label": o.label, "reason": reason, "reason_from": reason_from, "proposed": proposed,
               "overridden": overridden}),
    );
    if let Some(why) = &o.blocks {
        done(st, step_id, agent, StepStatus::Blocked, data);
        st.cursor.clear();
        t.audit.push(("case_blocked".into(), json!({"why": why})));
        t.finish = Some(CaseOutcome::Blocked);
    } else {
        for (k, template) in &o.sets {
            st.facts.insert(k.clone(), texts::render(template, &st.facts)?);
        }
        done(st, step_id, agent, StepStatus::Done, data);
        advance(pb, st, index, o.next.as_deref(), agent);
    }
    Ok(t)
}
