//! `/api/v1/orgs`: the org nodes in the caller's scope, and their administration.

use super::input::SchoolIn;
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Id;
use crate::kit::error::{AppError, AppResult, text_error};
use crate::kit::extract::blank;
use crate::kit::{ApiJson, ApiQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::text::{Code, Name};
use xiaoan_domain::{OrgKind, SchoolType};
use xiaoan_store::orgs::{self, NewOrg, Org, OrgFilter, OrgPatch};

/// An org node. School fields appear for schools only.
#[derive(Serialize, ToSchema)]
pub struct OrgOut {
    pub id: i64,
    pub kind: OrgKind,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub school_type: Option<SchoolType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub students: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boarding: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canteen: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buses: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special_equipment: Option<bool>,
}

impl From<Org> for OrgOut {
    fn from(o: Org) -> Self {
        let f = o.school;
        OrgOut {
            id: o.id,
            kind: o.kind,
            code: o.code,
            name: o.name,
            parent_id: o.parent_id,
            school_type: f.as_ref().map(|f| f.school_type),
            address: f.as_ref().map(|f| f.address.clone()),
            latitude: f.as_ref().and_then(|f| f.latitude),
            longitude: f.as_ref().and_then(|f| f.longitude),
            students: f.as_ref().map(|f| f.students),
            staff: f.as_ref().map(|f| f.staff),
            boarding: f.as_ref().map(|f| f.boarding),
            canteen: f.as_ref().map(|f| f.canteen),
            buses: f.as_ref().map(|f| f.buses),
            labs: f.as_ref().map(|f| f.labs),
            special_equipment: f.as_ref().map(|f| f.special_equipment),
        }
    }
}

/// Filters for the org list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only nodes of this kind.
    #[serde(default, deserialize_with = "blank")]
    pub kind: Option<OrgKind>,
    /// Only direct children of this node.
    pub parent_id: Option<i64>,
    /// Only schools of this type.
    #[serde(default, deserialize_with = "blank")]
    pub school_type: Option<SchoolType>,
    /// Text in the name or code.
    pub q: Option<String>,
}

/// The org nodes in the caller's scope, in tree order.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<OrgOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Vec<OrgOut>>> {
    let filter = OrgFilter {
        kind: q.kind,
        parent_id: q.parent_id,
        school_type: q.school_type,
        q: q.q,
    };
    let list = orgs::list(&st.db, &caller.scope(Permission::OrgRead), &filter).await?;
    Ok(Json(list.into_iter().map(OrgOut::from).collect()))
}

/// One org node (404 when outside the caller's scope).
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = OrgOut), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Json<OrgOut>> {
    let org = orgs::get(&st.db, &caller.scope(Permission::OrgRead), id).await?;
    Ok(Json(org.into()))
}

/// Declares an input struct with the given fields followed by the school-fact fields
/// (flat, so that unknown fields can still be refused: serde cannot combine `flatten` with
/// `deny_unknown_fields`).
macro_rules! with_school_fields {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            pub school_type: Option<SchoolType>,
            pub address: Option<String>,
            pub latitude: Option<f64>,
            pub longitude: Option<f64>,
            pub students: Option<i64>,
            pub staff: Option<i64>,
            pub boarding: Option<bool>,
            pub canteen: Option<bool>,
            pub buses: Option<bool>,
            pub labs: Option<bool>,
            pub special_equipment: Option<bool>,
        }

        impl $name {
            fn school(&self) -> SchoolIn {
                SchoolIn {
                    school_type: self.school_type,
                    address: self.address.clone(),
                    latitude: self.latitude,
                    longitude: self.longitude,
                    students: self.students,
                    staff: self.staff,
                    boarding: self.boarding,
                    canteen: self.canteen,
                    buses: self.buses,
                    labs: self.labs,
                    special_equipment: self.special_equipment,
                }
            }
        }
    };
}

with_school_fields! {
    /// A node to create; school fields are required for schools (`school_type`) and refused
    /// for other kinds.
    pub struct OrgIn {
        pub kind: OrgKind,
        pub code: String,
        pub name: String,
        pub parent_id: Option<i64>,
    }
}

/// Creates an org node (system administrators).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = OrgIn, security(("bearer" = [])),
    responses((status = 201, body = OrgOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OrgIn>,
) -> AppResult<(StatusCode, Json<OrgOut>)> {
    let kind = body.kind;
    let school = if kind == OrgKind::School {
        Some(body.school().merge(None).map_err(AppError::invalid)?)
    } else if !body.school().is_empty() {
        return Err(AppError::invalid("school_facts_not_allowed"));
    } else {
        None
    };
    let new = NewOrg {
        kind,
        code: Code::parse(&body.code).map_err(text_error)?,
        name: Name::parse("name", &body.name).map_err(text_error)?,
        parent_id: body.parent_id,
        school,
    };
    let org = orgs::create(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::OrgManage),
        new,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

with_school_fields! {
    /// Changes to a node; absent fields stay as they are. `parent_id` moves the node.
    /// A change of school type, head counts or facts applies from `effective_from`
    /// (`YYYY-MM-DD`, not in the future; default today in the district): periods due
    /// before it keep the facts they had. `correction: true` instead corrects a data-entry
    /// mistake in the version in force, from that version's own start (from the start for
    /// a school whose facts never changed); it takes no `effective_from`.
    pub struct OrgPatchIn {
        pub code: Option<String>,
        pub name: Option<String>,
        pub parent_id: Option<i64>,
        pub effective_from: Option<String>,
        pub correction: Option<bool>,
    }
}

/// Edits or moves an org node (system administrators).
#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)), request_body = OrgPatchIn,
    security(("bearer" = [])),
    responses((status = 200, body = OrgOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The code is taken, or the move would make a cycle", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(body): ApiJson<OrgPatchIn>,
) -> AppResult<Json<OrgOut>> {
    let current = orgs::get(&st.db, &caller.scope(Permission::OrgManage), id).await?;
    let school = if body.school().is_empty() {
        None
    } else if current.kind != OrgKind::School {
        return Err(AppError::invalid("school_facts_not_allowed"));
    } else {
        Some(
            body.school()
                .merge(current.school)
                .map_err(AppError::invalid)?,
        )
    };
    let (effective_from, correction) = super::input::effective(
        body.effective_from.as_deref(),
        body.correction.unwrap_or(false),
        st.config.today(),
    )?;
    let patch = OrgPatch {
        effective_from,
        correction,
        name: body
            .name
            .as_deref()
            .map(|n| Name::parse("name", n))
            .transpose()
            .map_err(text_error)?,
        code: body
            .code
            .as_deref()
            .map(Code::parse)
            .transpose()
            .map_err(text_error)?,
        parent_id: body.parent_id,
        school,
    };
    let org = orgs::update(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::OrgManage),
        id,
        patch,
    )
    .await?;
    Ok(Json(org.into()))
}

/// One recorded version of a school's facts.
#[derive(Serialize, ToSchema)]
pub struct FactsOut {
    /// The first day the facts apply; `null`: from the start.
    #[schema(value_type = Option<String>, format = Date)]
    pub effective_from: Option<chrono::NaiveDate>,
    pub school_type: SchoolType,
    pub students: i64,
    pub staff: i64,
    pub boarding: bool,
    pub canteen: bool,
    pub buses: bool,
    pub labs: bool,
    pub special_equipment: bool,
    /// The entry corrected a data-entry mistake in the one it replaced.
    pub correction: bool,
    /// False once a later entry for the same first day replaced it.
    pub in_force: bool,
    pub recorded_at: xiaoan_domain::Millis,
    pub recorded_by: String,
}

impl From<orgs::FactsEntry> for FactsOut {
    fn from(e: orgs::FactsEntry) -> Self {
        FactsOut {
            effective_from: e.effective_from,
            school_type: e.school_type,
            students: e.students,
            staff: e.staff,
            boarding: e.boarding,
            canteen: e.canteen,
            buses: e.buses,
            labs: e.labs,
            special_equipment: e.special_equipment,
            correction: e.correction,
            in_force: e.in_force,
            recorded_at: e.recorded_at,
            recorded_by: e.recorded_by,
        }
    }
}

/// The history of a school's facts, oldest first, replaced entries included (empty for
/// other kinds of org; 404 when outside the caller's scope).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/facts", tag = "orgs", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<FactsOut>), (status = 404, body = ErrorBody)))]
pub async fn facts(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Json<Vec<FactsOut>>> {
    let h = orgs::facts_history(&st.db, &caller.scope(Permission::OrgRead), id).await?;
    Ok(Json(h.into_iter().map(FactsOut::from).collect()))
}
