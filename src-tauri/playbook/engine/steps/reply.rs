use super::*;

/// Reply: the text was sent (posted by Casekit, or copied by the agent).
pub(super) async fn run(cx: &mut Cx<'_>, template: &str, post: bool) -> Result<Transition> {
    let Cx { env, agent, row, pb, st, index, step_id } = cx;
    let (env, index, step_id): (&Env<'_>, usize, &str) = (*env, *index, step_id.as_str());
    let text = texts::render(template, &st.facts)?;
    let comment_id = if post { Some(post_public(env, row, &text).await?) } else { None };
    let how = if post { "posted to the ticket" } else { "copied and sent by the agent" };
    done(st, step_id, agent, StepStatus::Done, StepData::ReplySent { text, comment_id, summary: how.into() });
    advance(pb, st, index, None, agent);
    Ok(Transition::new("reply_sent", json!({"posted": post, "comment_id": comment_id})))
}
