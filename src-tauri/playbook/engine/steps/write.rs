use super::*;

/// Action: previewed, confirmed, re-read, run and verified; the intent is on disk before the first write.
pub(super) async fn action(cx: &mut Cx<'_>, action: &str, destructive: bool, confirmation: String) -> Result<Transition> {
    let Cx { env, agent, row, pb, st, index, step_id } = cx;
    let (env, index, step_id): (&Env<'_>, usize, &str) = (*env, *index, step_id.as_str());
    ensure_ready(pb, st, index)?;
    let op = registry::action_named(action)?;
    if let Some(expected) = destructive.then(|| op.confirmation(st)).flatten() {
        if !confirmation.trim().eq_ignore_ascii_case(&expected) {
            return Err(Error::InvalidInput(format!("Type {expected} exactly to confirm this change.")));
        }
    }
    let planned = op.plan(st)?;
    op.preflight(env.conns, st).await?;
    // The intent is on disk before the first write, so a crash leaves a visible unknown outcome.
    st.progress.insert(step_id.to_owned(), json!({"attempt": {"calls": [], "error": {"code": "internal", "retryable": true,
        "message": "The last attempt stopped before its outcome was recorded. Running it again re-reads the account first and skips what is already done."}}}));
    commit(env, agent, row, pb, st, step_id, Transition::new("action_started", json!({"action": action, "calls": planned})))?;
    let outcome = op.run(env, row.id, st, &confirmation).await;
    finish_write(pb, st, step_id, index, agent, action, outcome)
}

/// Note: the admin note line appended to the account.
pub(super) async fn note(cx: &mut Cx<'_>, what: &str) -> Result<Transition> {
    let Cx { env, agent, row, pb, st, index, step_id } = cx;
    let (env, index, step_id): (&Env<'_>, usize, &str) = (*env, *index, step_id.as_str());
    ensure_ready(pb, st, index)?;
    let line = texts::admin_note_line(what, row, &st.facts);
    let outcome = append_admin_note(env.conns, st, &line).await;
    finish_write(pb, st, step_id, index, agent, "admin_note", outcome)
}

/// Records an action's or note's result: done with its calls and checks, or failed with the
/// error (the step stays current; running it again re-reads and skips what already happened).
fn finish_write(
    pb: &Playbook,
    st: &mut CaseState,
    step_id: &str,
    index: usize,
    agent: &str,
    name: &str,
    outcome: Outcome,
) -> Result<Transition> {
    match outcome.result {
        Ok(checks) => {
            let summary =
                outcome.calls.iter().map(|c| format!("{} {} {}", c.method, c.path, c.result)).collect::<Vec<_>>().join("; ");
            let verified: Vec<String> = checks.iter().map(|c| format!("{}: {}", c.label, c.value)).collect();
            let t = Transition::new(
                "action_result",
                json!({"action": name, "status": "verified", "calls": outcome.calls, "verified": verified}),
            );
            let data = StepData::Written { action: name.to_owned(), calls: outcome.calls, verified: checks, summary };
            done(st, step_id, agent, StepStatus::Done, data);
            advance(pb, st, index, None, agent);
            Ok(t)
        }
        Err(e) => {
            let error = IpcError::from(e);
            st.progress.insert(step_id.to_owned(), json!({"attempt": {"calls": outcome.calls, "error": error}}));
            Ok(Transition::new(
                "action_failed",
                json!({"action": name, "calls": outcome.calls, "code": error.code, "message": error.message}),
            ))
        }
    }
}
