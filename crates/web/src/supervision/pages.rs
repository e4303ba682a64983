//! `/supervision`: the list, the issue form, an item's letter (printable) with its history
//! and the forms of the next step, and the letter as a docx.

use super::input::{self, Issue, issuer_orgs};
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use crate::kit::widgets::Choice;
use crate::kit::{AppState, Caller, Id};
use askama::Template;
use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use xiaoan_domain::Permission;
use xiaoan_domain::supervision::{Rung, State as ItemState, Step};
use xiaoan_store::supervision::{self, Filter, Item};

fn rung_word(caller: &Caller, r: Rung) -> String {
    xiaoan_notify::words::rung_name(r.code(), caller.lang.code())
}

/// An item as the list shows it.
struct Line {
    id: i64,
    number: String,
    school: String,
    issuer: String,
    rung: String,
    subject: String,
    deadline: String,
    state: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "supervision/list.html")]
struct ListPage {
    l: Layout,
    lines: Vec<Line>,
    may_issue: bool,
    states: Vec<Choice>,
}

/// The list's filter.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
}

/// `GET /supervision`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let l = caller.lang;
    let state = ItemState::from_code(q.state.trim());
    let items = supervision::list(
        &st.db,
        &caller.scope(Permission::SupervisionRead),
        &Filter {
            state,
            ..Filter::default()
        },
        st.config.district.today(),
        300,
    )
    .await?;
    let lines = items
        .into_iter()
        .map(|i| Line {
            rung: rung_word(&caller, i.rung),
            state: l.t(&format!("supervision.state.{}", i.state.code())),
            deadline: i.deadline.to_string(),
            id: i.id,
            number: i.number,
            school: i.school_name,
            issuer: i.issuer_name,
            subject: i.subject,
            overdue: i.overdue,
        })
        .collect();
    let mut states = vec![Choice {
        value: String::new(),
        label: l.t("supervision.all_states"),
        selected: state.is_none(),
    }];
    states.extend(ItemState::ALL.iter().map(|s| Choice {
        value: s.code().into(),
        label: l.t(&format!("supervision.state.{}", s.code())),
        selected: Some(*s) == state,
    }));
    Ok(render(&ListPage {
        l: Layout::new(&caller, "supervision.title", "/supervision"),
        lines,
        may_issue: caller.may("POST", "/supervision"),
        states,
    }))
}

/// The issue form.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    school_id: String,
    #[serde(default)]
    issuer_org_id: String,
    #[serde(default)]
    rung: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    deadline: String,
    /// The checkbox "publish this notice to all schools as a circular" (`on` when ticked).
    #[serde(default)]
    circular: String,
}

#[derive(Template)]
#[template(path = "supervision/new.html")]
struct NewPage {
    l: Layout,
    error: Option<String>,
    schools: Vec<Choice>,
    issuers: Vec<Choice>,
    rungs: Vec<Choice>,
    f: IssueForm,
    placeholders: String,
    /// The caller may also publish a notice as a circular.
    may_circulate: bool,
}

/// Which rung's template the new form starts from.
#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    rung: String,
}

/// `GET /supervision/new`.
#[tracing::instrument(skip_all)]
pub async fn new_form(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let refused = take_refused(&session, "/supervision/new").await;
    let rung = Rung::from_code(q.rung.trim()).unwrap_or(Rung::Reminder);
    let f = refused
        .as_ref()
        .and_then(|r| r.form::<IssueForm>())
        .unwrap_or_else(|| IssueForm {
            rung: rung.code().into(),
            body: input::template(caller.lang, rung),
            deadline: (st.config.district.today() + chrono::Days::new(7)).to_string(),
            ..IssueForm::default()
        });
    let scope = caller.scope(Permission::SupervisionIssue);
    let schools = crate::kit::widgets::school_choices(&st.db, &scope, &f.school_id).await?;
    let mut issuers = Vec::new();
    for id in issuer_orgs(&caller) {
        if let Ok(o) = xiaoan_store::orgs::get(&st.db, &scope, id).await {
            issuers.push(Choice {
                selected: o.id.to_string() == f.issuer_org_id,
                value: o.id.to_string(),
                label: o.name,
            });
        }
    }
    let rungs = Rung::ALL
        .iter()
        .map(|r| Choice {
            value: r.code().into(),
            label: rung_word(&caller, *r),
            selected: r.code() == f.rung,
        })
        .collect();
    let placeholders = xiaoan_domain::supervision::PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{{{p}}}}}"))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(render(&NewPage {
        l: Layout::new(&caller, "supervision.new", "/supervision"),
        error: refused.map(|r| r.error),
        schools,
        issuers,
        rungs,
        f,
        placeholders,
        may_circulate: caller.can(Permission::AnnouncementPublish),
    }))
}

/// `POST /supervision`.
#[tracing::instrument(skip_all)]
pub async fn issue(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<IssueForm>,
) -> AppResult<Response> {
    let r = async {
        let school_id = f
            .school_id
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("supervision_school"))?;
        let issuer_org_id = f.issuer_org_id.trim().parse().ok();
        let rung = crate::kit::extract::parse_code::<Rung>(&f.rung)?;
        let deadline = f
            .deadline
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("deadline"))?;
        input::issue(
            &st,
            &caller,
            Issue {
                school_id,
                issuer_org_id,
                rung,
                subject: f.subject.clone(),
                body: f.body.clone(),
                hazard_id: None,
                deadline,
                circular: !f.circular.is_empty(),
            },
        )
        .await
    }
    .await;
    match r {
        Ok(item) => Ok(Redirect::to(&format!("/supervision/{}", item.id)).into_response()),
        Err(e) if e.status.is_client_error() => {
            let refused = Refused::with_form("/supervision/new", e.message(caller.lang), &f);
            Ok(refuse(&session, "/supervision/new", refused).await)
        }
        Err(e) => Err(e),
    }
}

/// A history line.
struct EventLine {
    at: String,
    who: String,
    action: String,
    note: String,
    photos: Vec<i64>,
}

#[derive(Template)]
#[template(path = "supervision/detail.html")]
struct DetailPage {
    l: Layout,
    i: Item,
    rung: String,
    state: String,
    paragraphs: Vec<String>,
    history: Vec<EventLine>,
    error: Option<String>,
    note: String,
    /// Photos uploaded with a refused response, offered again.
    kept: Vec<i64>,
    may_respond: bool,
    may_decide: bool,
    /// The item this one replaced, and the one that replaced it.
    replaced: Option<i64>,
    /// The circular this notice was published as.
    circular: Option<i64>,
}

async fn load(st: &AppState, caller: &Caller, id: i64) -> AppResult<Item> {
    Ok(supervision::get(
        &st.db,
        &caller.scope(Permission::SupervisionRead),
        id,
        st.config.district.today(),
    )
    .await?)
}

/// `GET /supervision/{id}`: the letter, printable, with its history and the next step.
#[tracing::instrument(skip_all)]
pub async fn detail(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
) -> AppResult<Response> {
    let l = caller.lang;
    let path = format!("/supervision/{id}");
    let refused = take_refused(&session, &path).await;
    let i = load(&st, &caller, id).await?;
    let events = supervision::events(&st.db, id).await?;
    let logins: Vec<String> = events.iter().map(|e| e.actor_login.clone()).collect();
    let names = crate::kit::page::display_names(&st.db, &logins).await;
    let history = events
        .into_iter()
        .map(|e| EventLine {
            at: st
                .config
                .district
                .local(e.at)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
            who: if e.actor_login.starts_with("system") {
                l.t("audit.actor.system")
            } else {
                names.get(&e.actor_login).cloned().unwrap_or(e.actor_login)
            },
            action: l.t(&format!("supervision.step.{}", e.action)),
            note: e.note,
            photos: e.attachments,
        })
        .collect();
    let p = input::powers(&caller);
    let awaiting = ItemState::AWAITING.contains(&i.state);
    let may_respond = awaiting && p.respond.contains(&i.school_path);
    let may_decide = i.state == ItemState::Responded && p.issue.contains(&i.issuer_path);
    let replaced = supervision::list(
        &st.db,
        &caller.scope(Permission::SupervisionRead),
        &Filter {
            school_id: Some(i.school_id),
            ..Filter::default()
        },
        st.config.district.today(),
        500,
    )
    .await?
    .into_iter()
    .find(|x| x.escalated_from == Some(i.id))
    .map(|x| x.id);
    Ok(render(&DetailPage {
        l: Layout::new(&caller, "supervision.item", "/supervision"),
        rung: rung_word(&caller, i.rung),
        state: l.t(&format!("supervision.state.{}", i.state.code())),
        paragraphs: i
            .body
            .lines()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        history,
        error: refused.as_ref().map(|r| r.error.clone()),
        kept: refused
            .as_ref()
            .map(|r| r.photos.clone())
            .unwrap_or_default(),
        note: refused
            .and_then(|r| r.fields.get("note").cloned())
            .unwrap_or_default(),
        may_respond,
        may_decide,
        replaced,
        circular: supervision::circular_of(&st.db, i.id).await?,
        i,
    }))
}

/// `GET /supervision/{id}/letter.docx`.
#[tracing::instrument(skip_all)]
pub async fn letter(State(st): State<AppState>, caller: Caller, Id(id): Id) -> AppResult<Response> {
    let l = caller.lang;
    let i = load(&st, &caller, id).await?;
    let rung = rung_word(&caller, i.rung);
    let letter = xiaoan_reports::Letter {
        issuer: i.issuer_name.clone(),
        title: l.t1("supervision.letter_title", "rung", &rung),
        number: i.number.clone(),
        recipient: format!("{}：", i.school_name),
        paragraphs: i.body.lines().map(str::to_string).collect(),
        items: vec![
            (l.t("supervision.subject"), i.subject.clone()),
            (l.t("supervision.deadline"), i.deadline.to_string()),
        ],
        deadline_line: Some(l.t1(
            "supervision.deadline_line",
            "deadline",
            &i.deadline.to_string(),
        )),
        seal_label: l.t("supervision.seal"),
        date_line: st
            .config
            .district
            .local(i.created_at)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        footer: format!("{} · {}", l.t("app.name"), i.number),
    };
    let bytes = xiaoan_reports::letter_docx(&letter).map_err(|e| {
        tracing::error!(error = %e, "cannot write a letter");
        AppError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal")
    })?;
    let name = format!("{}.docx", i.number);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                    .to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The note of a step.
#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

async fn step_page(
    st: &AppState,
    caller: &Caller,
    session: &Session,
    id: i64,
    step: Step,
    note: &str,
    photos: Vec<i64>,
) -> AppResult<Response> {
    let path = format!("/supervision/{id}");
    match input::act(st, caller, id, step, note, &photos).await {
        Ok(_) => Ok(Redirect::to(&path).into_response()),
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            let mut refused = Refused {
                path: path.clone(),
                error: e.message(caller.lang),
                ..Refused::default()
            };
            refused.fields.insert("note".into(), note.to_string());
            refused.photos = photos;
            Ok(refuse(session, &path, refused).await)
        }
        Err(e) => Err(e),
    }
}

/// `POST /supervision/{id}/respond`: the response's text and photos (multipart; photos kept
/// from a refused attempt come back by id).
#[tracing::instrument(skip_all)]
pub async fn respond(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let path = format!("/supervision/{id}");
    let form = match crate::attachments::form::read(&st, &caller, multipart).await {
        Ok(f) => f,
        // A photo that is not one, or too large: said on the page, nothing written.
        Err(e) if e.status.is_client_error() => {
            let refused = Refused {
                path: path.clone(),
                error: e.message(caller.lang),
                ..Refused::default()
            };
            return Ok(refuse(&session, &path, refused).await);
        }
        Err(e) => return Err(e),
    };
    step_page(
        &st,
        &caller,
        &session,
        id,
        Step::Respond,
        &form.get("note"),
        form.photos,
    )
    .await
}

/// `POST /supervision/{id}/accept`.
#[tracing::instrument(skip_all)]
pub async fn accept(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Form(f): Form<NoteForm>,
) -> AppResult<Response> {
    step_page(&st, &caller, &session, id, Step::Accept, &f.note, vec![]).await
}

/// `POST /supervision/{id}/return`.
#[tracing::instrument(skip_all)]
pub async fn send_back(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Form(f): Form<NoteForm>,
) -> AppResult<Response> {
    step_page(&st, &caller, &session, id, Step::Return, &f.note, vec![]).await
}
