//! Issuing and answering, shared by the API and the pages.

use crate::kit::error::{AppError, AppResult};
use crate::kit::{AppState, Caller, Lang};
use chrono::NaiveDate;
use xiaoan_domain::supervision::{PLACEHOLDERS, Rung, Step};
use xiaoan_domain::{OrgKind, Permission};
use xiaoan_store::StoreError;
use xiaoan_store::supervision::{self, Item, NewItem, Powers};

/// Where the caller acts.
pub fn powers(caller: &Caller) -> Powers {
    Powers {
        user_id: caller.user.id,
        respond: caller.scope(Permission::SupervisionRespond),
        issue: caller.scope(Permission::SupervisionIssue),
    }
}

/// The orgs the caller issues from: where they hold an issuing role.
pub fn issuer_orgs(caller: &Caller) -> Vec<i64> {
    let mut v: Vec<i64> = caller
        .assignments
        .iter()
        .filter(|a| Permission::SupervisionIssue.granted_to(a.role))
        .map(|a| a.org_id)
        .collect();
    v.dedup();
    v
}

/// The default letter of a rung, in `lang`, with its placeholders.
pub fn template(lang: Lang, rung: Rung) -> String {
    lang.t(&format!("supervision.template.{}", rung.code()))
}

/// What an item to issue says, as sent.
pub struct Issue {
    pub school_id: i64,
    pub issuer_org_id: Option<i64>,
    pub rung: Rung,
    pub subject: String,
    pub body: String,
    pub hazard_id: Option<i64>,
    pub deadline: NaiveDate,
    /// A notice only: publish it to every school under the issuer as a circular.
    pub circular: bool,
}

fn text(field: &'static str, raw: &str, max: usize) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(AppError::invalid(field));
    }
    Ok(t.to_string())
}

/// Issues `i` as `caller`.
pub async fn issue(st: &AppState, caller: &Caller, i: Issue) -> AppResult<Item> {
    let subject = text("supervision_subject", &i.subject, 200)?;
    let body = text("supervision_body", &i.body, 8000)?;
    xiaoan_reports::check(&body, &PLACEHOLDERS).map_err(|e| {
        AppError::invalid(e.code()).arg("name", e.name().unwrap_or_default().to_string())
    })?;
    let issuer = match i.issuer_org_id {
        Some(o) => o,
        None => *issuer_orgs(caller)
            .first()
            .ok_or_else(|| AppError::invalid("supervision_issuer"))?,
    };
    let today = st.config.district.today();
    let school = xiaoan_store::orgs::get(
        &st.db,
        &caller.scope(Permission::SupervisionIssue),
        i.school_id,
    )
    .await
    .map_err(|_| AppError::invalid("supervision_school"))?;
    if school.kind != OrgKind::School {
        return Err(AppError::invalid("supervision_school"));
    }
    let issuer_org =
        xiaoan_store::orgs::get(&st.db, &caller.scope(Permission::SupervisionIssue), issuer)
            .await
            .map_err(|_| AppError::invalid("supervision_issuer"))?;
    if i.circular {
        if i.rung != Rung::Notice {
            return Err(AppError::invalid("supervision_circular"));
        }
        // A circular is an announcement: the caller must be able to publish from the issuer.
        if !caller
            .scope(Permission::AnnouncementPublish)
            .contains(&issuer_org.path)
        {
            return Err(AppError::forbidden("supervision_circular_forbidden"));
        }
    }
    let hazard = match i.hazard_id {
        Some(h) => Some(
            xiaoan_store::hazards::get(
                &st.db,
                &xiaoan_domain::Scope::subtree(&school.path),
                h,
                today,
            )
            .await
            .map_err(|_| AppError::invalid("supervision_hazard"))?
            .number,
        ),
        None => None,
    };
    let l = caller.lang;
    let values: Vec<(&str, String)> = vec![
        ("issuer", issuer_org.name.clone()),
        ("school", school.name.clone()),
        ("date", today.to_string()),
        ("deadline", i.deadline.to_string()),
        ("subject", subject.clone()),
        ("hazard", hazard.unwrap_or_default()),
        (
            "rung",
            xiaoan_notify::words::rung_name(i.rung.code(), l.code()),
        ),
    ];
    let fill = move |number: &str| {
        let mut v: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v.push(("number", number));
        xiaoan_reports::fill(&body, &v).unwrap_or_else(|_| body.clone())
    };
    let circular = i.circular.then(|| {
        format!(
            "{}：{subject}",
            xiaoan_notify::words::rung_name(i.rung.code(), l.code())
        )
    });
    let new = NewItem {
        school_id: school.id,
        issuer_org_id: issuer,
        rung: i.rung,
        subject,
        hazard_id: i.hazard_id,
        deadline: i.deadline,
        fill: &fill,
        circular,
    };
    Ok(supervision::issue(&st.db, &caller.actor(), &powers(caller), &new, today).await?)
}

/// Takes `step` on item `id` with `note` and (for a response) the caller's uploaded photos.
pub async fn act(
    st: &AppState,
    caller: &Caller,
    id: i64,
    step: Step,
    note: &str,
    attachments: &[i64],
) -> AppResult<Item> {
    let note = note.trim();
    if note.chars().count() > 8000 || (note.is_empty() && step != Step::Accept) {
        return Err(AppError::invalid(match step {
            Step::Respond => "supervision_response",
            _ => "supervision_reason",
        }));
    }
    supervision::act(
        &st.db,
        &caller.actor(),
        &powers(caller),
        &caller.scope(Permission::SupervisionRead),
        id,
        step,
        supervision::Said { note, attachments },
        st.config.district.today(),
    )
    .await
    .map_err(|e| match e {
        StoreError::Illegal { from, .. } => AppError::conflict("supervision_state")
            .arg_key("state", format!("supervision.state.{from}")),
        e => e.into(),
    })
}
