use super::*;

/// Checklist: the ticked items and the recorded fields (validated; a peer review checked).
pub(super) fn run(
    cx: &mut Cx<'_>,
    items: &[ChecklistItem],
    fields: &[Field],
    ticked: Vec<String>,
    values: BTreeMap<String, String>,
) -> Result<Transition> {
    let Cx { env, agent, pb, st, index, step_id, .. } = cx;
    let (env, index, step_id): (&Env<'_>, usize, &str) = (*env, *index, step_id.as_str());
    if let Some(missing) = items.iter().find(|i| i.required && !ticked.contains(&i.id)) {
        return Err(Error::InvalidInput(format!("Tick “{}” first: {}", missing.label, missing.reason)));
    }
    if items.iter().any(|i| !i.required) {
        let open: Vec<String> =
            items.iter().filter(|i| !i.required && !ticked.contains(&i.id)).map(|i| format!("- {}", i.label)).collect();
        let key = step_id.replace('-', "_");
        st.facts.insert(format!("{key}_complete"), if open.is_empty() { "yes" } else { "no" }.to_owned());
        st.facts.insert(format!("{key}_missing"), open.join("\n"));
    }
    let mut recorded = BTreeMap::new();
    for f in fields {
        let value = values.get(&f.id).map(|v| v.trim()).unwrap_or_default();
        if value.is_empty() {
            if f.required {
                return Err(Error::InvalidInput(format!("Enter “{}”.", f.label)));
            }
            continue;
        }
        recorded.insert(f.id.clone(), check_field(f.kind, &f.label, value, &f.options)?);
    }
    let review = review::peer_review(fields, &recorded, env.conns.profile(), st)?;
    st.facts.extend(recorded.clone());
    let summary = recorded.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
    let mut payload = json!({"ticked": ticked, "fields": recorded});
    if let Some(review) = &review {
        payload["review"] = json!(review);
    }
    done(st, step_id, agent, StepStatus::Done, StepData::Checklist { ticked, fields: recorded, review, summary });
    advance(pb, st, index, None, agent);
    Ok(Transition::new("step_completed", payload))
}

fn check_field(kind: FieldKind, label: &str, value: &str, options: &[String]) -> Result<String> {
    match kind {
        FieldKind::Email | FieldKind::ReviewerEmail => validate::email(label, value),
        // Several addresses: each checked, at most five, kept comma-separated.
        FieldKind::Emails => {
            let all: Vec<String> = value
                .split([',', ';', ' ', '\n'])
                .filter(|e| !e.trim().is_empty())
                .map(|e| validate::email(label, e))
                .collect::<Result<_>>()?;
            if all.len() > 4 {
                return Err(Error::InvalidInput(format!("The {label}: list at most four addresses, the ones that matter.")));
            }
            Ok(all.join(", "))
        }
        FieldKind::ReviewerName => validate::text(label, value, 200),
        FieldKind::Username => {
            let v = value.trim().trim_start_matches('@');
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                return Err(Error::InvalidInput(format!(
                    "The {label} “{value}” is not a GitLab username: letters, digits, _ . and - only, without spaces."
                )));
            }
            Ok(v.to_owned())
        }
        FieldKind::Choice => {
            if options.iter().any(|o| o == value) {
                Ok(value.to_owned())
            } else {
                Err(Error::InvalidInput(format!("Choose one of the listed answers for “{label}”.")))
            }
        }
        FieldKind::Text => validate::text(label, value, 2000),
    }
}
