//! User pages: the accounts in scope, one account with its roles, and the forms to create
//! accounts, grant and withdraw roles, disable and reset passwords.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::{AppError, AppResult, text_error};
use crate::kit::page::{Layout, render, render_checked, role_label};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
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
    orgs: Vec<Choice>,
    error: Option<String>,
    one_time_password: Option<String>,
    is_self: bool,
}

async fn show(
    st: &AppState,
    caller: &Caller,
    login: &str,
    error: Option<String>,
    one_time_password: Option<String>,
) -> AppResult<Response> {
    let l = caller.lang;
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
            selected: false,
        })
        .collect();
    let manage_orgs = orgs::list(&st.db, &manage_scope, &OrgFilter::default()).await?;
    let orgs = manage_orgs
        .into_iter()
        .map(|o| Choice {
            value: o.id.to_string(),
            label: o.name,
            selected: o.id == user.org_id,
        })
        .collect();
    let is_self = user.id == caller.user.id;
    let page = UserPage {
        l: Layout::new(caller, "users.title", "/users"),
        user: to_row(caller, &names, user),
        roles,
        can_manage,
        grantable,
        orgs,
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
    Path(login): Path<String>,
) -> AppResult<Response> {
    show(&st, &caller, &login, None, None).await
}

/// Runs a change and shows the user page again: on success by redirect, on a client
/// error with the message and nothing changed.
async fn then_show(
    st: &AppState,
    caller: &Caller,
    login: &str,
    r: AppResult<()>,
) -> AppResult<Response> {
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/users/{login}")).into_response()),
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            show(st, caller, login, Some(e.message(caller.lang)), None).await
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
    Path(login): Path<String>,
    Form(f): Form<ProfileForm>,
) -> AppResult<Response> {
    let _l = caller.lang;
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
    then_show(&st, &caller, &login, r).await
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
    Path(login): Path<String>,
    Form(f): Form<RoleForm>,
) -> AppResult<Response> {
    let _l = caller.lang;
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
    then_show(&st, &caller, &login, r).await
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
    Path(login): Path<String>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    let _l = caller.lang;
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
    then_show(&st, &caller, &login, r).await
}

/// `POST /users/{login}/password`: shows the one-time password once.
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    State(st): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> AppResult<Response> {
    match super::input::reset(&st, &caller, &login).await {
        Ok(pw) => show(&st, &caller, &login, None, Some(pw)).await,
        Err(e) => {
            let status = e.status;
            let mut r = then_show(&st, &caller, &login, Err(e)).await?;
            if status.is_client_error() {
                *r.status_mut() = status;
            }
            Ok(r)
        }
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
    created: Option<(String, String)>,
}

async fn new_page(
    st: &AppState,
    caller: &Caller,
    f: Option<&NewUserForm>,
    error: Option<String>,
    created: Option<(String, String)>,
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
        created,
    };
    let bad = page.error.is_some();
    Ok(render_checked(&page, bad))
}

/// `GET /users/new`.
#[tracing::instrument(skip_all)]
pub async fn new_form(State(st): State<AppState>, caller: Caller) -> AppResult<Response> {
    new_page(&st, &caller, None, None, None).await
}

/// The new-user form: one role at the home org to start with.
#[derive(Deserialize)]
pub struct NewUserForm {
    login: String,
    display_name: String,
    org_id: i64,
    #[serde(default)]
    role: String,
}

/// `POST /users`: creates the account and shows its one-time password once.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Form(f): Form<NewUserForm>,
) -> AppResult<Response> {
    let _l = caller.lang;
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
        Ok((u, pw)) => {
            new_page(
                &st,
                &caller,
                None,
                None,
                Some((u.login, pw.unwrap_or_default())),
            )
            .await
        }
        Err(e) if e.status.is_client_error() => {
            new_page(&st, &caller, Some(&f), Some(e.message(caller.lang)), None).await
        }
        Err(e) => Err(e),
    }
}
