//! User pages: the accounts in scope, one account with its roles, and the forms to create
//! accounts, grant and withdraw roles, disable and reset passwords.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::{AppError, AppResult, text_error};
use crate::kit::page::{Layout, Refused, refuse, render, render_checked, role_label, take_refused};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use tower_sessions::Session;
use xiaoan_domain::permission::may_grant;
use xiaoan_domain::text::{Login, Name};
use xiaoan_domain::{Permission, Role};
use xiaoan_store::orgs::{self, OrgFilter};
use xiaoan_store::users::{self, NewUser, RoleAt, User, UserFilter};

/// A user as a table row.
pub struct UserRow {
    pub login: String,
    pub name: String,
    pub org: String,
    pub roles: String,
    pub disabled: bool,
}

async fn org_names(st: &AppState, caller: &Caller) -> AppResult<Vec<(i64, String)>> {
    let list = orgs::list(
        &st.db,
        &caller.scope(Permission::OrgRead),
        &OrgFilter::default(),
    )
    .await?;
    Ok(list.into_iter().map(|o| (o.id, o.name)).collect())
}

fn name_of(names: &[(i64, String)], id: i64) -> String {
    names
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| format!("#{id}"))
}

fn to_row(caller: &Caller, names: &[(i64, String)], u: User) -> UserRow {
    UserRow {
        roles: u
            .roles
            .iter()
            .map(|r| {
                format!(
                    "{}·{}",
                    role_label(caller.lang, r.role),
                    name_of(names, r.org_id)
                )
            })
            .collect::<Vec<_>>()
            .join(caller.lang.list_separator()),
        org: name_of(names, u.org_id),
        login: u.login,
        name: u.display_name,
        disabled: u.disabled,
    }
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct UsersPage {
    l: Layout,
    rows: Vec<UserRow>,
    q: String,
    can_manage: bool,
}

/// Filters of the user list.
#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    org_id: Option<i64>,
}

/// `GET /users`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let names = org_names(&st, &caller).await?;
    let filter = UserFilter {
        q: q.q.clone(),
        org_id: q.org_id,
        include_disabled: true,
    };
    let list = users::list(&st.db, &caller.scope(Permission::UserRead), &filter).await?;
    let page = UsersPage {
        rows: list
            .into_iter()
            .take(1000)
            .map(|u| to_row(&caller, &names, u))
            .collect(),
        q: q.q.unwrap_or_default(),
        can_manage: caller.can(Permission::UserManage),
        l: Layout::new(&caller, "users.title", "/users"),
    };
    Ok(render(&page))
}

/// A role line on the user page, with what the remove button posts.
pub struct RoleItem {
    pub label: String,
    pub role: String,
    pub org_id: i64,
    pub removable: bool,
}

#[derive(Template)]
#[template(path = "users/detail.html")]
struct UserPage {
    l: Layout,
    user: UserRow,
    roles: Vec<RoleItem>,
    can_manage: bool,
    grantable: Vec<Choice>,
    /// The home org choices of the profile form.
    orgs: Vec<Choice>,
    /// The org choices of the add-role form.
    role_orgs: Vec<Choice>,
    /// The profile form's name (as sent, after a refusal).
    name_value: String,
    error: Option<String>,
    one_time_password: Option<String>,
    is_self: bool,
}

/// Session key of a one-time password waiting to be shown once on its user's page.
const ONE_TIME_KEY: &str = "one_time_password";

/// Keeps `pw` for the page of `login` and sends the browser there (Post/Redirect/Get: a
/// reload neither resets the password again nor shows it twice).
async fn show_once(session: &Session, login: &str, pw: &str) -> Response {
    if let Err(e) = session
        .insert(ONE_TIME_KEY, (login.to_string(), pw.to_string()))
        .await
    {
        tracing::warn!(error = %e, "could not keep a one-time password for its page");
    }
    Redirect::to(&format!("/users/{login}")).into_response()
}

/// The one-time password waiting for the page of `login`, taken from the session.
async fn take_once(session: &Session, login: &str) -> Option<String> {
    let (for_login, pw) = session
        .remove::<(String, String)>(ONE_TIME_KEY)
        .await
        .ok()
        .flatten()?;
    (for_login == login).then_some(pw)
}

async fn show(
    st: &AppState,
    caller: &Caller,
    login: &str,
    refused: Option<Refused>,
    one_time_password: Option<String>,
) -> AppResult<Response> {
    let l = caller.lang;
    let (error, kept) = match refused {
        Some(r) => (Some(r.error), r.fields),
        None => (None, HashMap::new()),
    };
    let kept_of = |form: &str, name: &str| {
        (kept.get("form").map(String::as_str) == Some(form))
            .then(|| kept.get(name).cloned())
            .flatten()
    };
    let user = users::by_login(&st.db, &caller.scope(Permission::UserRead), login).await?;
    let names = org_names(st, caller).await?;
    let manage_scope = caller.scope(Permission::UserManage);
    let actor_roles = caller.roles();
    let can_manage = caller.can(Permission::UserManage)
        && users::by_login(&st.db, &manage_scope, login).await.is_ok()
        && users::ensure_manageable(&actor_roles, &user).is_ok();
    let roles = user
        .roles
        .iter()
        .map(|r| RoleItem {
            label: format!("{} · {}", role_label(l, r.role), name_of(&names, r.org_id)),
            role: r.role.code().into(),
            org_id: r.org_id,
            removable: can_manage && may_grant(&actor_roles, r.role),
        })
        .collect();
    let grantable = Role::ALL
        .iter()
        .filter(|r| may_grant(&actor_roles, **r))
        .map(|r| Choice {
            value: r.code().into(),
            label: role_label(l, *r),
            selected: kept_of("roles", "role").as_deref() == Some(r.code()),
        })
        .collect();
    let manage_orgs = orgs::list(&st.db, &manage_scope, &OrgFilter::default()).await?;
    let org_choices = |chosen: Option<String>| -> Vec<Choice> {
        let chosen = chosen.unwrap_or_else(|| user.org_id.to_string());
        manage_orgs
            .iter()
            .map(|o| Choice {
                value: o.id.to_string(),
                label: o.name.clone(),
                selected: o.id.to_string() == chosen,
            })
            .collect()
    };
    let orgs = org_choices(kept_of("profile", "org_id"));
    let role_orgs = org_choices(kept_of("roles", "org_id"));
    let name_value =
        kept_of("profile", "display_name").unwrap_or_else(|| user.display_name.clone());
    let is_self = user.id == caller.user.id;
    let page = UserPage {
        l: Layout::new(caller, "users.title", "/users"),
        user: to_row(caller, &names, user),
        roles,
        can_manage,
        grantable,
        orgs,
        role_orgs,
        name_value,
        error,
        one_time_password,
        is_self,
    };
    let bad = page.error.is_some();
    Ok(render_checked(&page, bad))
}

/// `GET /users/{login}`.
#[tracing::instrument(skip_all)]
pub async fn detail(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Path(login): Path<String>,
) -> AppResult<Response> {
    let path = format!("/users/{login}");
    let refused = take_refused(&session, &path).await;
    let once = take_once(&session, &login).await;
    show(&st, &caller, &login, refused, once).await
}

/// Runs a change and goes back to the user page (Post/Redirect/Get): on a client error
/// with the message, `form`'s fields kept and nothing changed.
async fn then_show(
    caller: &Caller,
    session: &Session,
    login: &str,
    r: AppResult<()>,
    form: &str,
    fields: &[(&str, String)],
) -> AppResult<Response> {
    let path = format!("/users/{login}");
    match r {
        Ok(()) => Ok(Redirect::to(&path).into_response()),
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            let mut kept: HashMap<String, String> = fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            kept.insert("form".into(), form.into());
            let refused = Refused {
                path: path.clone(),
                error: e.message(caller.lang),
                fields: kept,
                ..Refused::default()
            };
            Ok(refuse(session, &path, refused).await)
        }
        Err(e) => Err(e),
    }
}

/// The profile form.
#[derive(Deserialize)]
pub struct ProfileForm {
    display_name: String,
    org_id: i64,
}

/// `POST /users/{login}`: name and home org.
#[tracing::instrument(skip_all)]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Path(login): Path<String>,
    Form(f): Form<ProfileForm>,
) -> AppResult<Response> {
    let r = async {
        let name = Name::parse("display_name", &f.display_name).map_err(text_error)?;
        users::update_profile(
            &st.db,
            &caller.actor(),
            &caller.roles(),
            &caller.scope(Permission::UserManage),
            &login,
            Some(name),
            Some(f.org_id),
        )
        .await?;
        Ok(())
    }
    .await;
    let kept = [
        ("display_name", f.display_name.clone()),
        ("org_id", f.org_id.to_string()),
    ];
    then_show(&caller, &session, &login, r, "profile", &kept).await
}

/// The role form: add or remove one assignment.
#[derive(Deserialize)]
pub struct RoleForm {
    action: String,
    role: String,
    org_id: i64,
}

/// `POST /users/{login}/roles`.
#[tracing::instrument(skip_all)]
pub async fn roles(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Path(login): Path<String>,
    Form(f): Form<RoleForm>,
) -> AppResult<Response> {
    let r = async {
        let role = Role::from_code(&f.role).ok_or_else(|| AppError::invalid("role_unknown"))?;
        let user = users::by_login(&st.db, &caller.scope(Permission::UserManage), &login).await?;
        let ra = RoleAt {
            role,
            org_id: f.org_id,
        };
        let mut roles = user.roles.clone();
        match f.action.as_str() {
            "add" if !roles.contains(&ra) => roles.push(ra),
            "add" => return Err(AppError::invalid("role_exists")),
            "remove" => roles.retain(|r| *r != ra),
            _ => return Err(AppError::invalid("bad_fields")),
        }
        users::set_roles(
            &st.db,
            &caller.actor(),
            &caller.roles(),
            &caller.scope(Permission::UserManage),
            &login,
            roles,
        )
        .await?;
        Ok(())
    }
    .await;
    // Only an added role is a choice to keep; a removal is one button.
    let kept = if f.action == "add" {
        vec![("role", f.role.clone()), ("org_id", f.org_id.to_string())]
    } else {
        vec![]
    };
    then_show(&caller, &session, &login, r, "roles", &kept).await
}

/// The status form.
#[derive(Deserialize)]
pub struct StatusForm {
    disabled: String,
}

/// `POST /users/{login}/status`: disable (ends sessions) or re-enable.
#[tracing::instrument(skip_all)]
pub async fn status(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Path(login): Path<String>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    let r = users::set_disabled(
        &st.db,
        &caller.actor(),
        &caller.roles(),
        &caller.scope(Permission::UserManage),
        &login,
        f.disabled == "1",
    )
    .await
    .map(|_| ())
    .map_err(AppError::from);
    then_show(&caller, &session, &login, r, "status", &[]).await
}

/// `POST /users/{login}/password`: shows the one-time password once.
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Path(login): Path<String>,
) -> AppResult<Response> {
    match super::input::reset(&st, &caller, &login).await {
        Ok(pw) => Ok(show_once(&session, &login, &pw).await),
        Err(e) => then_show(&caller, &session, &login, Err(e), "password", &[]).await,
    }
}

#[derive(Template)]
#[template(path = "users/new.html")]
struct NewUserPage {
    l: Layout,
    orgs: Vec<Choice>,
    grantable: Vec<Choice>,
    login: String,
    display_name: String,
    error: Option<String>,
}

async fn new_page(
    st: &AppState,
    caller: &Caller,
    f: Option<&NewUserForm>,
    error: Option<String>,
) -> AppResult<Response> {
    let l = caller.lang;
    let manage_orgs = orgs::list(
        &st.db,
        &caller.scope(Permission::UserManage),
        &OrgFilter::default(),
    )
    .await?;
    let org_id = f.map(|f| f.org_id);
    let page = NewUserPage {
        l: Layout::new(caller, "users.new", "/users"),
        orgs: manage_orgs
            .into_iter()
            .map(|o| Choice {
                value: o.id.to_string(),
                label: o.name,
                selected: Some(o.id) == org_id,
            })
            .collect(),
        grantable: Role::ALL
            .iter()
            .filter(|r| may_grant(&caller.roles(), **r))
            .map(|r| Choice {
                value: r.code().into(),
                label: role_label(l, *r),
                selected: f.is_some_and(|f| f.role == r.code()),
            })
            .collect(),
        login: f.map(|f| f.login.clone()).unwrap_or_default(),
        display_name: f.map(|f| f.display_name.clone()).unwrap_or_default(),
        error,
    };
    let bad = page.error.is_some();
    Ok(render_checked(&page, bad))
}

/// `GET /users/new`.
#[tracing::instrument(skip_all)]
pub async fn new_form(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
) -> AppResult<Response> {
    // After a refusal: the form as it was sent, with why.
    if let Some(r) = take_refused(&session, NEW_FORM).await {
        let field = |k: &str| r.fields.get(k).cloned().unwrap_or_default();
        let f = NewUserForm {
            login: field("login"),
            display_name: field("display_name"),
            org_id: field("org_id").parse().unwrap_or(0),
            role: field("role"),
        };
        return new_page(&st, &caller, Some(&f), Some(r.error)).await;
    }
    new_page(&st, &caller, None, None).await
}

/// The page of the new-user form.
const NEW_FORM: &str = "/users/new";

/// The new-user form: one role at the home org to start with.
#[derive(Deserialize)]
pub struct NewUserForm {
    login: String,
    display_name: String,
    org_id: i64,
    #[serde(default)]
    role: String,
}

/// `POST /users`: creates the account and shows its one-time password once, on the new
/// account's page.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<NewUserForm>,
) -> AppResult<Response> {
    let r = async {
        let login = Login::parse(&f.login).map_err(text_error)?;
        let display_name = Name::parse("display_name", &f.display_name).map_err(text_error)?;
        let roles = match f.role.as_str() {
            "" => vec![],
            code => vec![RoleAt {
                role: Role::from_code(code).ok_or_else(|| AppError::invalid("role_unknown"))?,
                org_id: f.org_id,
            }],
        };
        let new = NewUser {
            login,
            display_name,
            org_id: f.org_id,
            password_hash: None,
            must_change_password: true,
            roles,
        };
        users::create(
            &st.db,
            &caller.actor(),
            &caller.roles(),
            &caller.scope(Permission::UserManage),
            new,
        )
        .await
        .map_err(AppError::from)
    }
    .await;
    match r {
        Ok((u, pw)) => Ok(show_once(&session, &u.login, &pw.unwrap_or_default()).await),
        Err(e) if e.status.is_client_error() => {
            let fields = [
                ("login", f.login.clone()),
                ("display_name", f.display_name.clone()),
                ("org_id", f.org_id.to_string()),
                ("role", f.role.clone()),
            ];
            let refused = Refused {
                path: NEW_FORM.to_string(),
                error: e.message(caller.lang),
                fields: fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                ..Refused::default()
            };
            Ok(refuse(&session, NEW_FORM, refused).await)
        }
        Err(e) => Err(e),
    }
}
