use super::*;

/// Permission: the request is sent (posted by Casekit, or copied by the agent), with who must answer.
pub(super) async fn request(cx: &mut Cx<'_>, request: &str, from: Role, post: bool) -> Result<Transition> {
    let Cx { env, row, st, step_id, .. } = cx;
    let (env, step_id): (&Env<'_>, &str) = (*env, step_id.as_str());
    // Who must answer is decided before anything is sent, and kept with the request.
    let who = consent::answerer(from, st)?;
    let text = texts::render(request, &st.facts)?;
    let (comment_id, after) = if post {
        let id = post_public(env, row, &text).await?;
        (Some(id), id)
    } else {
        // Copied and sent by the agent: nothing written before now counts as the answer.
        let zd = zendesk(env, row.ticket_instance)?;
        (None, zd.comments(row.ticket_id as u64).await?.iter().map(|c| c.id).max().unwrap_or(0))
    };
    let requested_at = clock::now();
    st.progress.insert(
        step_id.to_owned(),
        json!({"requested_at": requested_at, "posted_comment_id": comment_id, "after_comment_id": after,
               "text": text, "answerer": who}),
    );
    Ok(Transition::new(
        "permission_requested",
        json!({"posted": post, "comment_id": comment_id, "after_comment_id": after, "text": text,
               "answerer": {"role": who.role, "user_id": who.user_id, "name": who.name, "email": who.email, "why": who.why}}),
    ))
}

/// Permission: the customer's reply, picked from the ticket's comments and judged.
pub(super) async fn confirm(cx: &mut Cx<'_>, comment_id: u64) -> Result<Transition> {
    let Cx { env, agent, row, pb, st, index, step_id } = cx;
    let (env, index, step_id): (&Env<'_>, usize, &str) = (*env, *index, step_id.as_str());
    let progress = st.progress.get(step_id).cloned().unwrap_or(Value::Null);
    let Some(requested_at) = progress.get("requested_at").and_then(Value::as_str).map(str::to_owned) else {
        return Err(Error::OutOfOrder("Send the permission request first, then pick the customer's reply.".into()));
    };
    let Some((who, after)) = consent::recorded(&progress) else {
        return Err(Error::OutOfOrder(
            "This request was recorded before Casekit kept who must answer it: send the request again.".into(),
        ));
    };
    let zd = zendesk(env, row.ticket_instance)?;
    let comments = zd.comments(row.ticket_id as u64).await?;
    let Some(c) = comments.iter().find(|c| c.id == comment_id) else {
        return Err(Error::NotFound(format!("Comment {comment_id} is not on ticket #{}. Reload the comments.", row.ticket_id)));
    };
    let requester: u64 = st.facts.get("requester_id").and_then(|v| v.parse().ok()).unwrap_or(0);
    let candidate = consent::Candidate { id: c.id, author_id: c.author_id, public: c.public, body: &c.body };
    consent::judge(&candidate, &who, requester, after)?;
    let quote: String = c.body.chars().take(300).collect();
    let payload = json!({"comment_id": c.id, "author_id": c.author_id, "role": who.role, "quote": quote, "at": c.created_at});
    let data = StepData::PermissionConfirmed {
        text: progress.get("text").and_then(Value::as_str).map(str::to_owned),
        requested_at,
        posted_comment_id: progress.get("posted_comment_id").and_then(Value::as_u64),
        after_comment_id: after,
        summary: format!("{} <{}> confirmed in comment {} at {}: “{}”", who.name, who.email, c.id, c.created_at, quote),
        answerer: who,
        comment_id: c.id,
        author_id: c.author_id,
        quote,
        confirmed_at: c.created_at.clone(),
    };
    done(st, step_id, agent, StepStatus::Done, data);
    advance(pb, st, index, None, agent);
    Ok(Transition::new("permission_confirmed", payload))
}
