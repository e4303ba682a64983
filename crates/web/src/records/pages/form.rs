//! The record forms: pick a kind, fill in its typed fields (checked by the domain exactly as
//! the API checks them), and, for the author within the editing window, correct or
//! withdraw with a reason. A refused form comes back with the message and the values.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::Id;
use crate::kit::Lang;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use crate::plan::words::{cadence_text, threshold_text, title};
use crate::plan::{
    Active, choice_label, field_error, field_label, kind_label, require_active, writable_orgs,
};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use tower_sessions::Session;
use xiaoan_domain::plan::kinds::{FieldType, RecordKind, from_form, validate};
use xiaoan_domain::{OrgKind, Permission, Scope};
use xiaoan_store::orgs::{self, OrgFilter};
use xiaoan_store::records::{self, NewRecord, Record, RecordPatch};

/// One input of a record form.
pub struct FieldInput {
    pub name: String,
    pub label: String,
    /// `number`, `text`, `textarea`, `date`, `month`, `checkbox`, `select`, `checks`.
    pub widget: &'static str,
    pub required: bool,
    pub value: String,
    pub checked: bool,
    pub options: Vec<Choice>,
    pub min: String,
    pub max: String,
    pub step: &'static str,
    pub unit: String,
}

/// A record form's values.
pub struct FieldsForm {
    pub kind: String,
    pub kind_label: String,
    pub org_id: i64,
    pub occurred_on: String,
    pub note: String,
    pub reason: String,
    pub fields: Vec<FieldInput>,
    /// Photos already uploaded with this form: kept (shown, and sent again) when the form
    /// comes back after a refusal.
    pub photos: Vec<i64>,
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

impl FieldsForm {
    /// Inputs for `kind` holding `values` (field name → value as JSON).
    pub fn new(
        lang: Lang,
        kind: &RecordKind,
        org_id: i64,
        day: String,
        values: &serde_json::Map<String, Value>,
    ) -> Self {
        let fields = kind
            .fields
            .iter()
            .map(|f| {
                let v = values.get(&f.name);
                let picked: Vec<String> = match v {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect(),
                    Some(Value::String(s)) => vec![s.clone()],
                    _ => vec![],
                };
                FieldInput {
                    name: f.name.clone(),
                    label: field_label(lang, f),
                    widget: match f.ty {
                        FieldType::Int | FieldType::Number => "number",
                        FieldType::Text if f.max_len.unwrap_or(500) > 200 => "textarea",
                        FieldType::Text => "text",
                        FieldType::Date => "date",
                        FieldType::Month => "month",
                        FieldType::Bool => "checkbox",
                        FieldType::Choice => "select",
                        FieldType::Multi => "checks",
                        FieldType::List => "textarea",
                    },
                    required: f.required && f.ty != FieldType::Bool,
                    value: text_of(v),
                    checked: v.and_then(Value::as_bool).unwrap_or(false),
                    options: f
                        .options
                        .iter()
                        .map(|o| Choice {
                            value: o.clone(),
                            label: choice_label(lang, o),
                            selected: picked.contains(o),
                        })
                        .collect(),
                    min: f.min.map(|x| x.to_string()).unwrap_or_default(),
                    max: f.max.map(|x| x.to_string()).unwrap_or_default(),
                    step: if f.ty == FieldType::Number {
                        "0.5"
                    } else {
                        "1"
                    },
                    unit: f
                        .unit
                        .map(|u| crate::plan::unit_label(lang, u))
                        .unwrap_or_default(),
                }
            })
            .collect();
        FieldsForm {
            kind: kind.code.clone(),
            kind_label: kind_label(lang, kind),
            org_id,
            occurred_on: day,
            note: String::new(),
            reason: String::new(),
            fields,
            photos: vec![],
        }
    }

    /// The correction form of an existing record.
    pub fn of_record(lang: Lang, kind: &RecordKind, r: &Record) -> Self {
        let mut f = FieldsForm::new(
            lang,
            kind,
            r.org_id,
            r.occurred_on.to_string(),
            r.fields.as_object().unwrap_or(&Default::default()),
        );
        f.note = r.note.clone();
        f
    }
}

/// The value of input `name` in a posted form.
fn input<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

fn pairs(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Orgs for a `<select>`: the caller's writable orgs when `writable`, else the orgs of their
/// scope when there are few enough to list.
#[tracing::instrument(skip_all)]
pub(crate) async fn org_choices(
    st: &AppState,
    caller: &Caller,
    selected: Option<i64>,
) -> AppResult<Vec<Choice>> {
    let list = orgs::list(
        &st.db,
        &caller.scope(Permission::RecordRead),
        &OrgFilter::default(),
    )
    .await?;
    let list: Vec<_> = list
        .into_iter()
        .filter(|o| o.kind != OrgKind::Section)
        .collect();
    if list.len() > 600 {
        return Ok(vec![]);
    }
    Ok(list
        .into_iter()
        .map(|o| Choice {
            selected: Some(o.id) == selected,
            value: o.id.to_string(),
            label: o.name,
        })
        .collect())
}

async fn writable_choices(st: &AppState, caller: &Caller, selected: i64) -> AppResult<Vec<Choice>> {
    let mut out = Vec::new();
    for id in writable_orgs(caller) {
        let o = orgs::get(&st.db, &Scope::everything(), id).await?;
        out.push(Choice {
            selected: o.id == selected,
            value: o.id.to_string(),
            label: o.name,
        });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "records/new.html")]
struct NewPage {
    l: Layout,
    kinds: Vec<Choice>,
    orgs: Vec<Choice>,
    form: Option<FieldsForm>,
    obligation: String,
    /// What the obligation asks, when the form was opened from one.
    hint: Option<(String, String, String)>,
    error: Option<String>,
    today: String,
}

/// What the new-record page was asked for.
#[derive(Deserialize, Default)]
pub struct NewQuery {
    kind: Option<String>,
    org_id: Option<i64>,
    obligation: Option<String>,
}

async fn new_page(
    st: &AppState,
    caller: &Caller,
    a: &Active,
    q: NewQuery,
    form: Option<FieldsForm>,
    error: Option<String>,
) -> AppResult<Response> {
    let l = caller.lang;
    let plan = &a.plan.plan;
    let writable = writable_orgs(caller);
    let org_id = form
        .as_ref()
        .map(|f| f.org_id)
        .or(q.org_id)
        .filter(|o| writable.contains(o))
        .or(writable.first().copied())
        .unwrap_or(0);
    let kind = form
        .as_ref()
        .map(|f| f.kind.clone())
        .or(q.kind.clone())
        .and_then(|k| plan.kind(&k));
    let ob = q.obligation.as_deref().and_then(|id| plan.obligation(id));
    let form = form.or_else(|| {
        kind.as_ref()
            .map(|k| FieldsForm::new(l, k, org_id, a.today.to_string(), &Default::default()))
    });
    let page = NewPage {
        kinds: plan
            .all_kinds()
            .iter()
            .map(|k| Choice {
                selected: kind.as_ref().is_some_and(|x| x.code == k.code),
                value: k.code.clone(),
                label: kind_label(l, k),
            })
            .collect(),
        orgs: writable_choices(st, caller, org_id).await?,
        form,
        obligation: ob.map(|o| o.id.clone()).unwrap_or_default(),
        hint: ob.map(|o| (title(l, o), cadence_text(l, o), threshold_text(l, plan, o))),
        error,
        today: a.today.to_string(),
        l: Layout::new(caller, "records.new", "/records"),
    };
    Ok(render(&page))
}

/// `GET /records/new`.
#[tracing::instrument(skip_all)]
pub async fn new_form(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let a = require_active(&st).await?;
    if let Some(k) = q.kind.as_deref()
        && a.plan.plan.kind(k).is_none()
    {
        return Err(AppError::invalid("record_kind"));
    }
    // After a refusal: the form as it was sent, photos included, with why.
    if let Some(r) = take_refused(&session, FORM).await
        && let Some(kind) = a.plan.plan.kind(input(&r.pairs, "kind"))
    {
        let form = FieldsForm {
            photos: r.photos,
            ..posted(caller.lang, &kind, &r.pairs)
        };
        return new_page(&st, &caller, &a, q, Some(form), Some(r.error)).await;
    }
    new_page(&st, &caller, &a, q, None, None).await
}

/// The page of the new-record form.
const FORM: &str = "/records/new";

/// The form's values, read back for showing them again after a refusal.
pub(super) fn posted(lang: Lang, kind: &RecordKind, p: &[(String, String)]) -> FieldsForm {
    let values = from_form(kind, p);
    let mut f = FieldsForm::new(
        lang,
        kind,
        input(p, "org_id").parse().unwrap_or(0),
        input(p, "occurred_on").to_string(),
        &values,
    );
    f.note = input(p, "note").to_string();
    f.reason = input(p, "reason").to_string();
    f
}

/// `POST /records`.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    req: axum::extract::Request,
) -> AppResult<Response> {
    let a = require_active(&st).await?;
    // The form is multipart when it carries photos (a drill, a sign-in sheet); plain
    // url-encoded posts are still taken.
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (p, new_photos) = if multipart {
        let m = axum::extract::Multipart::from_request(req, &st).await;
        let form = crate::attachments::read_form(&st, &caller, m).await?;
        (form.pairs, form.photos)
    } else {
        let body = Bytes::from_request(req, &st)
            .await
            .map_err(|_| AppError::invalid("bad_body"))?;
        (pairs(&body), vec![])
    };
    // Photos kept from a refused attempt come back as `photo` ids (the store takes only the
    // caller's own uploads), then those chosen this time; at most five.
    let mut photos: Vec<i64> = p
        .iter()
        .filter(|(k, _)| k == "photo")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    photos.extend(new_photos);
    photos.dedup();
    if photos.len() > 5 {
        return Err(AppError::invalid("too_many_photos"));
    }
    let kind = a
        .plan
        .plan
        .kind(input(&p, "kind"))
        .ok_or_else(|| AppError::invalid("record_kind"))?;
    let r = async {
        let values = from_form(&kind, &p);
        let fields = validate(&kind, &values).map_err(|e| field_error(&kind, e, &values))?;
        let day = crate::records::input::parse_day(input(&p, "occurred_on"))?;
        let org_id = input(&p, "org_id")
            .parse()
            .map_err(|_| AppError::invalid("record_org_required"))?;
        crate::plan::check_writable(&st, &caller, org_id).await?;
        let new = NewRecord {
            org_id,
            kind: kind.code.clone(),
            occurred_on: day,
            fields,
            note: input(&p, "note").to_string(),
            attachment_ids: photos.clone(),
        };
        records::create(
            &st.db,
            &caller.actor(),
            &writable_orgs(&caller),
            &a.plan,
            &a.calendar,
            new,
            st.config.today(),
        )
        .await
        .map_err(AppError::from)
    }
    .await;
    match r {
        Ok(rec) => Ok(Redirect::to(&format!("/records/{}?saved=1", rec.id)).into_response()),
        // An org the caller cannot see answers like a missing one, not with the form.
        // Refused: back to the form (Post/Redirect/Get), every field and photo kept.
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            let to = {
                let mut to = url::form_urlencoded::Serializer::new(format!("{FORM}?"));
                to.append_pair("kind", &kind.code);
                if !input(&p, "obligation").is_empty() {
                    to.append_pair("obligation", input(&p, "obligation"));
                }
                to.finish()
            };
            let refused = Refused {
                path: FORM.to_string(),
                error: e.message(caller.lang),
                fields: Default::default(),
                pairs: p.into_iter().filter(|(k, _)| k != "photo").collect(),
                photos,
            };
            Ok(refuse(&session, &to, refused).await)
        }
        Err(e) => Err(e),
    }
}

async fn change(
    st: &AppState,
    caller: &Caller,
    session: &Session,
    id: i64,
    p: &[(String, String)],
    withdraw: bool,
) -> AppResult<Response> {
    let a = require_active(st).await?;
    let rid = id;
    let scope = caller.scope(Permission::RecordRead);
    let current = records::get(&st.db, &scope, rid).await?;
    let kind = a
        .plan
        .plan
        .kind(&current.kind)
        .ok_or_else(|| AppError::invalid("record_kind"))?;
    let r = async {
        if input(p, "reason").is_empty() {
            return Err(AppError::invalid("record_reason"));
        }
        let patch = if withdraw {
            RecordPatch {
                withdraw: true,
                reason: input(p, "reason").to_string(),
                ..RecordPatch::default()
            }
        } else {
            let values = from_form(&kind, p);
            let fields = validate(&kind, &values).map_err(|e| field_error(&kind, e, &values))?;
            RecordPatch {
                occurred_on: Some(crate::records::input::parse_day(input(p, "occurred_on"))?),
                fields: Some(fields),
                note: Some(input(p, "note").to_string()),
                withdraw: false,
                reason: input(p, "reason").to_string(),
            }
        };
        records::update(
            &st.db,
            &caller.actor(),
            &scope,
            &a.plan,
            &a.calendar,
            rid,
            patch,
            st.config.today(),
        )
        .await
        .map_err(AppError::from)
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&format!("/records/{rid}?saved=1")).into_response()),
        // Refused: back to the record (Post/Redirect/Get), the form's fields kept.
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            let form = if withdraw { "withdraw" } else { "correct" };
            let kept = super::refused(id, form, e.message(caller.lang), p);
            Ok(refuse(session, &super::page_of(id), kept).await)
        }
        Err(e) => Err(e),
    }
}

/// `POST /records/{id}`: a correction.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn correct(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    body: Bytes,
) -> AppResult<Response> {
    change(&st, &caller, &session, id, &pairs(&body), false).await
}

/// `POST /records/{id}/withdraw`.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn withdraw(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    body: Bytes,
) -> AppResult<Response> {
    change(&st, &caller, &session, id, &pairs(&body), true).await
}
