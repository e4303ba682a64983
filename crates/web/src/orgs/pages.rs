//! Org pages: the tree in the caller's scope, one node with its children and people, and
//! the administrator's forms to create, edit and move nodes.

use super::form::OrgForm;
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::Id;
use crate::kit::error::{AppError, AppResult, text_error};
use crate::kit::page::{
    Layout, Refused, kind_label, refuse, render, render_checked, role_label, take_refused,
};
use crate::kit::widgets::choices;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use xiaoan_domain::text::{Code, Name};
use xiaoan_domain::{OrgKind, Permission, SchoolType};
use xiaoan_store::orgs::{self, NewOrg, Org, OrgFilter, OrgPatch};
use xiaoan_store::users::{self, UserFilter};

/// An org as a table row.
pub struct OrgRow {
    pub id: i64,
    pub depth: usize,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub school_type: String,
    pub students: String,
    pub facts: String,
}

fn row(lang: crate::kit::i18n::Lang, o: &Org, base_depth: usize) -> OrgRow {
    let f = o.school.as_ref();
    let facts = f
        .map(|f| {
            [
                (f.boarding, "fact.boarding"),
                (f.canteen, "fact.canteen"),
                (f.buses, "fact.buses"),
                (f.labs, "fact.labs"),
                (f.special_equipment, "fact.special_equipment"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, k)| lang.t(k))
            .collect::<Vec<_>>()
            .join(lang.list_separator())
        })
        .unwrap_or_default();
    OrgRow {
        id: o.id,
        depth: o
            .path
            .matches('/')
            .count()
            .saturating_sub(2)
            .saturating_sub(base_depth),
        code: o.code.clone(),
        name: o.name.clone(),
        kind: kind_label(lang, o.kind.code()),
        school_type: f
            .map(|f| kind_label(lang, f.school_type.code()))
            .unwrap_or_default(),
        students: f.map(|f| f.students.to_string()).unwrap_or_default(),
        facts,
    }
}

#[derive(Template)]
#[template(path = "orgs/list.html")]
struct OrgsPage {
    l: Layout,
    rows: Vec<OrgRow>,
    kinds: Vec<Choice>,
    types: Vec<Choice>,
    q: String,
    can_manage: bool,
}

/// Filters of the org list.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    kind: Option<String>,
    school_type: Option<String>,
    q: Option<String>,
}

/// `GET /orgs`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let l = caller.lang;
    let kind = q.kind.as_deref().and_then(OrgKind::from_code);
    let school_type = q.school_type.as_deref().and_then(SchoolType::from_code);
    let filter = OrgFilter {
        kind,
        school_type,
        q: q.q.clone(),
        parent_id: None,
    };
    let list = orgs::list(&st.db, &caller.scope(Permission::OrgRead), &filter).await?;
    let base = list
        .iter()
        .map(|o| o.path.matches('/').count().saturating_sub(2))
        .min()
        .unwrap_or(0);
    let page = OrgsPage {
        rows: list.iter().map(|o| row(l, o, base)).collect(),
        kinds: choices(
            &OrgKind::ALL,
            OrgKind::code,
            |k| kind_label(l, k.code()),
            kind,
        ),
        types: choices(
            &SchoolType::ALL,
            SchoolType::code,
            |k| kind_label(l, k.code()),
            school_type,
        ),
        q: q.q.unwrap_or_default(),
        can_manage: caller.can(Permission::OrgManage),
        l: Layout::new(&caller, "orgs.title", "/orgs"),
    };
    Ok(render(&page))
}

/// A person at an org, for the detail page.
pub struct PersonRow {
    pub login: String,
    pub name: String,
    pub roles: String,
    pub disabled: bool,
}

/// One recorded version of a school's facts, as the history table shows it.
pub struct FactsRowView {
    pub from: String,
    pub school_type: String,
    pub students: i64,
    pub staff: i64,
    pub facts: String,
    pub correction: bool,
    pub in_force: bool,
    pub recorded: String,
}

#[derive(Template)]
#[template(path = "orgs/detail.html")]
struct OrgPage {
    l: Layout,
    org: OrgRow,
    history: Vec<FactsRowView>,
    parent: Option<(i64, String)>,
    children: Vec<OrgRow>,
    people: Option<Vec<PersonRow>>,
    form: Option<OrgForm>,
    error: Option<String>,
}

async fn show(
    st: &AppState,
    caller: &Caller,
    org: Org,
    form: Option<OrgForm>,
    error: Option<String>,
) -> AppResult<Response> {
    let l = caller.lang;
    let scope = caller.scope(Permission::OrgRead);
    let parent = match org.parent_id {
        Some(pid) => orgs::get(&st.db, &scope, pid)
            .await
            .ok()
            .map(|p| (p.id, p.name)),
        None => None,
    };
    let children = orgs::list(
        &st.db,
        &scope,
        &OrgFilter {
            parent_id: Some(org.id),
            ..Default::default()
        },
    )
    .await?;
    let people = if caller.can(Permission::UserRead) {
        let us = users::list(
            &st.db,
            &caller.scope(Permission::UserRead),
            &UserFilter {
                org_id: Some(org.id),
                include_disabled: true,
                ..Default::default()
            },
        )
        .await?;
        Some(
            us.into_iter()
                .map(|u| PersonRow {
                    roles: u
                        .roles
                        .iter()
                        .map(|r| role_label(l, r.role))
                        .collect::<Vec<_>>()
                        .join(l.list_separator()),
                    login: u.login,
                    name: u.display_name,
                    disabled: u.disabled,
                })
                .collect(),
        )
    } else {
        None
    };
    let form = match form {
        Some(f) => Some(f.with_choices(st, caller).await?),
        None if caller.can(Permission::OrgManage) => Some(
            OrgForm::from_org(&org)
                .with_today(st.config.today())
                .with_choices(st, caller)
                .await?,
        ),
        None => None,
    };
    let history = orgs::facts_history(&st.db, &scope, org.id)
        .await?
        .into_iter()
        .map(|e| FactsRowView {
            from: e
                .effective_from
                .map_or_else(|| l.t("orgs.from_start"), |d| d.to_string()),
            school_type: kind_label(l, e.school_type.code()),
            students: e.students,
            staff: e.staff,
            facts: [
                (e.boarding, "fact.boarding"),
                (e.canteen, "fact.canteen"),
                (e.buses, "fact.buses"),
                (e.labs, "fact.labs"),
                (e.special_equipment, "fact.special_equipment"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, k)| l.t(k))
            .collect::<Vec<_>>()
            .join(l.list_separator()),
            correction: e.correction,
            in_force: e.in_force,
            recorded: match st.config.district.local(e.recorded_at) {
                Some(t) if e.recorded_at > 0 => {
                    format!("{} {}", t.format("%Y-%m-%d %H:%M"), e.recorded_by)
                }
                _ => e.recorded_by.clone(),
            },
        })
        .collect();
    let page = OrgPage {
        l: Layout::new(caller, "orgs.title", "/orgs"),
        org: row(l, &org, 0),
        history,
        parent,
        children: children
            .iter()
            .map(|o| row(l, o, 0))
            .map(|mut r| {
                r.depth = 0;
                r
            })
            .collect(),
        people,
        form,
        error,
    };
    let bad = page.error.is_some();
    Ok(render_checked(&page, bad))
}

/// `GET /orgs/{id}`.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn detail(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
) -> AppResult<Response> {
    let org = orgs::get(&st.db, &caller.scope(Permission::OrgRead), id).await?;
    // After a refused edit: the form as it was sent, with why.
    if let Some(r) = take_refused(&session, &format!("/orgs/{id}")).await {
        // The edit form does not send the kind; the school's fields show by it.
        let form = r.form::<OrgForm>().map(|f| OrgForm {
            kind: org.kind.code().into(),
            ..f
        });
        return show(&st, &caller, org, form, Some(r.error)).await;
    }
    show(&st, &caller, org, None, None).await
}

/// `POST /orgs/{id}`: edit or move.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Form(f): Form<OrgForm>,
) -> AppResult<Response> {
    let org = orgs::get(&st.db, &caller.scope(Permission::OrgManage), id).await?;
    let attempt = async {
        let school = if org.kind == OrgKind::School {
            Some(
                f.school(&caller)?
                    .merge(org.school.clone())
                    .map_err(AppError::invalid)?,
            )
        } else {
            None
        };
        let correction = f.correction.is_some();
        let (effective_from, correction) = super::input::effective(
            Some(f.effective_from.as_str()).filter(|_| !correction),
            correction,
            st.config.today(),
        )?;
        let patch = OrgPatch {
            effective_from,
            correction,
            name: Some(Name::parse("name", &f.name).map_err(text_error)?),
            code: Some(Code::parse(&f.code).map_err(text_error)?)
                .filter(|c| c.as_str() != org.code),
            parent_id: f.parent_id,
            school,
        };
        orgs::update(
            &st.db,
            &caller.actor(),
            &caller.scope(Permission::OrgManage),
            id,
            patch,
        )
        .await
        .map_err(AppError::from)
    };
    match attempt.await {
        Ok(o) => Ok(Redirect::to(&format!("/orgs/{}", o.id)).into_response()),
        // Refused: back to the page (Post/Redirect/Get), every field kept.
        Err(e) if e.status.is_client_error() => {
            let path = format!("/orgs/{id}");
            let refused = Refused::with_form(&path, e.message(caller.lang), &f);
            Ok(refuse(&session, &path, refused).await)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "orgs/new.html")]
struct NewOrgPage {
    l: Layout,
    form: OrgForm,
    error: Option<String>,
}

/// `GET /orgs/new`.
#[tracing::instrument(skip_all)]
pub async fn new_form(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    // After a refusal: the form as it was sent, with why.
    let (form, error) = match take_refused(&session, NEW_FORM).await {
        Some(r) => (r.form::<OrgForm>().unwrap_or_default(), Some(r.error)),
        None => (
            OrgForm {
                kind: q.kind.unwrap_or_else(|| "school".into()),
                parent_id: q.parent_id,
                ..Default::default()
            },
            None,
        ),
    };
    let form = OrgForm {
        is_new: true,
        ..form
    }
    .with_choices(&st, &caller)
    .await?;
    let page = NewOrgPage {
        l: Layout::new(&caller, "orgs.new", "/orgs"),
        form,
        error,
    };
    let bad = page.error.is_some();
    Ok(render_checked(&page, bad))
}

/// The page of the new-org form.
const NEW_FORM: &str = "/orgs/new";

/// Presets for the new-org form.
#[derive(Deserialize)]
pub struct NewQuery {
    kind: Option<String>,
    parent_id: Option<i64>,
}

/// `POST /orgs`.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<OrgForm>,
) -> AppResult<Response> {
    let attempt = async {
        let kind = OrgKind::from_code(&f.kind).ok_or_else(|| AppError::invalid("org_kind"))?;
        let school = if kind == OrgKind::School {
            Some(f.school(&caller)?.merge(None).map_err(AppError::invalid)?)
        } else {
            None
        };
        let new = NewOrg {
            kind,
            code: Code::parse(&f.code).map_err(text_error)?,
            name: Name::parse("name", &f.name).map_err(text_error)?,
            parent_id: f.parent_id,
            school,
        };
        orgs::create(
            &st.db,
            &caller.actor(),
            &caller.scope(Permission::OrgManage),
            new,
        )
        .await
        .map_err(AppError::from)
    };
    match attempt.await {
        Ok(o) => Ok(Redirect::to(&format!("/orgs/{}", o.id)).into_response()),
        // Refused: back to the form (Post/Redirect/Get), every field kept.
        Err(e) if e.status.is_client_error() => {
            let refused = Refused::with_form(NEW_FORM, e.message(caller.lang), &f);
            Ok(refuse(&session, NEW_FORM, refused).await)
        }
        Err(e) => Err(e),
    }
}
