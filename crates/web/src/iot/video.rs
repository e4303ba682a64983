//! Video surveillance: what each camera covers and its links to the police and bureau
//! platforms (`POST /api/v1/devices/{id}/camera`, the form on a camera's page), a school's
//! coverage with its gaps (`GET /api/v1/video/coverage`, the page `/video`), the check that
//! files the gaps as hazards and writes the video obligation's record
//! (`POST /api/v1/video/check`, `POST /video/check`), and alarms forwarded by a video
//! platform in GB/T 28181's terms (`POST /api/v1/video/alarms`, a gateway's token).

use super::input;
use crate::kit::error::{AppError, AppResult};
use crate::kit::i18n::Lang;
use crate::kit::page::{Layout, form_outcome, refuse_step, render, take_refused};
use crate::kit::widgets::Choice;
use crate::kit::{ApiJson, ApiQuery, AppState, Caller, ErrorBody, Id};
use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_sessions::Session;
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::code::Code;
use xiaoan_domain::iot::video::{KeyArea, Link, priority_severity};
use xiaoan_store::iot::video::{
    self as store, Camera, CameraInfo, SchoolCoverage, VideoChecked, VideoWords,
};

/// What a camera covers and how it is linked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraIn {
    /// Key areas: `outside_gate`, `main_entrance`, `gate_room`, `perimeter`,
    /// `gathering_area`, `teaching_area`, `hidden_spots`, `dorm_entrance`, `dorm_corridor`,
    /// `kindergarten_rooms`, `canteen`, `lab_store`.
    #[serde(default)]
    pub areas: Vec<KeyArea>,
    /// `linked`, `down` or `none`.
    pub police_link: Link,
    /// `linked`, `down` or `none`.
    pub bureau_link: Link,
    /// Days its recorder keeps the video.
    pub retention_days: Option<i64>,
}

async fn set_as(st: &AppState, caller: &Caller, id: i64, b: CameraIn) -> AppResult<Camera> {
    let mut areas = b.areas;
    areas.sort_by_key(|a| KeyArea::CODES.iter().position(|c| *c == a.code()));
    areas.dedup();
    let info = CameraInfo {
        areas,
        police_link: b.police_link,
        bureau_link: b.bureau_link,
        retention_days: b.retention_days,
    };
    Ok(store::set_camera(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::DeviceManage),
        id,
        &info,
    )
    .await?)
}

/// Sets what a camera covers and its links to the police and bureau platforms.
#[utoipa::path(post, path = "/api/v1/devices/{id}/camera", tag = "monitoring", params(("id" = i64, Path)),
    request_body = CameraIn, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn set_camera(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<CameraIn>,
) -> AppResult<Json<Camera>> {
    Ok(Json(set_as(&st, &caller, id, b).await?))
}

/// Which schools' coverage.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CoverageQuery {
    /// One school; absent: every school in scope that has cameras.
    pub school_id: Option<i64>,
}

async fn coverages(
    st: &AppState,
    scope: &xiaoan_domain::Scope,
    school_id: Option<i64>,
) -> AppResult<Vec<SchoolCoverage>> {
    let ids = match school_id {
        Some(id) => vec![id],
        None => store::video_schools(&st.db, scope).await?,
    };
    let min = store::min_retention_days(&st.db).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids.into_iter().take(500) {
        out.push(store::school_coverage_with(&st.db, scope, id, min).await?);
    }
    Ok(out)
}

/// Video coverage of schools in the caller's scope: the key areas each must have on
/// camera, those covered, the gaps, the cameras not linked to the police or bureau
/// platforms, and the hazards open for gaps.
#[utoipa::path(get, path = "/api/v1/video/coverage", tag = "monitoring", params(CoverageQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn coverage(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CoverageQuery>,
) -> AppResult<Json<Vec<SchoolCoverage>>> {
    Ok(Json(
        coverages(&st, &caller.scope(Permission::DeviceRead), q.school_id).await?,
    ))
}

/// A school to check.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub school_id: i64,
}

async fn check_as(st: &AppState, caller: &Caller, school_id: i64) -> AppResult<VideoChecked> {
    let school =
        xiaoan_store::orgs::get(&st.db, &caller.scope(Permission::DeviceManage), school_id)
            .await
            .map_err(|_| AppError::invalid("video_school"))?;
    if school.school.is_none() {
        return Err(AppError::invalid("video_school"));
    }
    let lang = caller.lang.code();
    let gap = |a: KeyArea| xiaoan_notify::words::video_gap(a, lang);
    let words = VideoWords {
        gap: &gap,
        record_note: xiaoan_notify::words::video_record_note(lang),
    };
    Ok(store::check_video(&st.db, school_id, &words, st.config.today()).await?)
}

/// Checks a school's coverage now: files a hazard for each uncovered key area that has none
/// open and writes the video obligation's record from the inventory (the daily round does
/// the same for every school with cameras).
#[utoipa::path(post, path = "/api/v1/video/check", tag = "monitoring", request_body = CheckIn, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn check(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<CheckIn>,
) -> AppResult<Json<VideoChecked>> {
    Ok(Json(check_as(&st, &caller, b.school_id).await?))
}

/// An alarm from a video platform (a GB/T 28181 `Notify`/`Alarm`, as such platforms
/// forward it by webhook): `DeviceID` the camera's code (its 20-digit channel id) at the
/// gateway's school, `SN` the sender's sequence number (repeats are ignored),
/// `AlarmPriority` 1–4, `AlarmMethod` and `AlarmType` as the platform reports them, or
/// `event` naming ours; `state` `cleared` ends it.
/// Fields a platform adds (`AlarmDescription`, `Longitude`, a snapshot's URL …) are
/// accepted and not stored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VideoAlarmIn {
    #[serde(rename = "DeviceID")]
    pub device_id: String,
    #[serde(rename = "SN")]
    #[schema(value_type = Object)]
    pub sn: Value,
    #[serde(rename = "AlarmPriority")]
    pub priority: i64,
    #[serde(rename = "AlarmMethod", default)]
    pub method: Option<i64>,
    #[serde(rename = "AlarmType", default)]
    pub alarm_type: Option<i64>,
    /// Milliseconds since the epoch; absent: now.
    #[serde(default)]
    pub ts: Option<i64>,
    /// `AlarmTime` as GB/T 28181 writes it (`2026-12-04T16:23:32`, the district's time).
    #[serde(rename = "AlarmTime", default)]
    pub alarm_time: Option<String>,
    /// `intrusion`, `video_loss`, `tamper` or `fault`; overrides the method and type.
    #[serde(default)]
    pub event: Option<String>,
    /// `active` (default) or `cleared`.
    #[serde(default)]
    pub state: Option<String>,
}

/// Our event for a platform's alarm method and type: device alarms (method 2) of type 1
/// are video loss and of type 2 tampering, other device alarms and device faults (method
/// 6) faults; video analytics (method 5) intrusion.
fn event_of(a: &VideoAlarmIn) -> Result<String, AppError> {
    if let Some(e) = &a.event {
        return Ok(e.clone());
    }
    match (a.method, a.alarm_type) {
        (Some(5), _) => Ok("intrusion".into()),
        (Some(2), Some(1)) => Ok("video_loss".into()),
        (Some(2), Some(2)) => Ok("tamper".into()),
        (Some(2 | 6), _) => Ok("fault".into()),
        _ => Err(AppError::invalid("video_alarm_method")),
    }
}

/// What a forwarded alarm came to.
#[derive(Serialize, ToSchema)]
pub struct VideoAlarmOut {
    pub accepted: usize,
    pub duplicates: usize,
}

/// A video platform's alarm for a camera of the gateway's school (the gateway's token as
/// the bearer); answered once it is durable.
#[utoipa::path(post, path = "/api/v1/video/alarms", tag = "monitoring", request_body = VideoAlarmIn,
    responses((status = 200, body = VideoAlarmOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn alarm(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<Json<VideoAlarmOut>> {
    // Who sends it is known before what it says is read.
    let gateway = super::api::bearer_gateway(&st, &headers).await?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|_| AppError::invalid("video_alarm_json"))?;
    let a: VideoAlarmIn = crate::kit::extract::from_json(value)?;
    let severity =
        priority_severity(a.priority).ok_or_else(|| AppError::invalid("video_alarm_priority"))?;
    let sn = match &a.sn {
        Value::String(s) if !s.trim().is_empty() && s.len() <= 80 => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return Err(AppError::invalid("ingest_msg_id")),
    };
    let ts = match (&a.ts, &a.alarm_time) {
        (Some(ts), _) => *ts,
        (None, Some(t)) => chrono::NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%dT%H:%M:%S")
            .ok()
            .and_then(|t| t.and_local_timezone(st.config.district.offset()).single())
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| AppError::invalid("ingest_ts"))?,
        (None, None) => xiaoan_domain::now_millis(),
    };
    let record = json!({
        "device": a.device_id.trim(),
        "type": "event",
        "msg_id": format!("gb28181-{sn}"),
        "ts": ts,
        "event": event_of(&a)?,
        "state": a.state.as_deref().unwrap_or("active"),
        "severity": severity.code(),
    });
    let body = Value::Array(vec![record]).to_string();
    let out = input::ingest(&st, &input::Sender::Gateway(gateway), body.as_bytes()).await?;
    if let Some(r) = out.rejected.first() {
        return Err(AppError::invalid(r.code));
    }
    Ok(Json(VideoAlarmOut {
        accepted: out.accepted,
        duplicates: out.duplicates,
    }))
}

// ---- pages ----

/// A key area's line: who covers it, or the gap and its hazard.
struct AreaLine {
    label: String,
    cameras: Vec<String>,
    hazard_id: Option<i64>,
}

/// A camera's line.
struct CameraLine {
    c: Camera,
    areas: String,
    police: String,
    bureau: String,
    /// Its recorder keeps fewer days than the plan's minimum.
    short: bool,
}

/// A school's summary line (the bureau's view).
struct SchoolLine {
    school_id: i64,
    name: String,
    cameras: usize,
    covered: usize,
    required: usize,
    gaps: usize,
    unlinked: usize,
}

#[derive(Template)]
#[template(path = "iot/video.html")]
struct VideoPage {
    l: Layout,
    schools: Vec<SchoolLine>,
    school: Option<(i64, String)>,
    areas: Vec<AreaLine>,
    cameras: Vec<CameraLine>,
    complete: bool,
    linked: bool,
    short_retention: usize,
    min_retention: Option<i64>,
    may_check: bool,
    message: Option<String>,
    error: Option<String>,
}

/// Which school the page shows.
#[derive(Deserialize)]
pub struct VideoQuery {
    #[serde(default)]
    school_id: Option<String>,
    #[serde(default)]
    checked: Option<String>,
}

fn area_label(lang: Lang, a: KeyArea) -> String {
    lang.t(&format!("iot.area.{}", a.code()))
}

fn link_label(lang: Lang, l: Link) -> String {
    lang.t(&format!("iot.link.{}", l.code()))
}

fn camera_line(lang: Lang, c: Camera, min_retention: Option<i64>) -> CameraLine {
    CameraLine {
        short: matches!((c.retention_days, min_retention), (Some(d), Some(m)) if d < m),
        areas: c
            .areas
            .iter()
            .map(|a| area_label(lang, *a))
            .collect::<Vec<_>>()
            .join(lang.list_separator()),
        police: link_label(lang, c.police_link),
        bureau: link_label(lang, c.bureau_link),
        c,
    }
}

/// `GET /video`: every school with cameras and its coverage; one school's areas, gaps and
/// cameras when one is chosen (or the caller is at one school).
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Query(q): Query<VideoQuery>,
) -> AppResult<Response> {
    let refused = take_refused(&session, "/video").await;
    let scope = caller.scope(Permission::DeviceRead);
    let lang = caller.lang;
    let chosen = match q.school_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| AppError::invalid("video_school"))?,
        ),
    };
    let all = store::video_schools(&st.db, &scope).await?;
    let chosen = chosen.or(if all.len() == 1 {
        all.first().copied()
    } else {
        None
    });
    let mut page = VideoPage {
        l: Layout::new(&caller, "iot.video", "/devices"),
        schools: vec![],
        school: None,
        areas: vec![],
        cameras: vec![],
        complete: false,
        linked: false,
        short_retention: 0,
        min_retention: None,
        may_check: false,
        message: q
            .checked
            .as_deref()
            .map(|n| lang.t1("iot.video.checked", "n", n)),
        error: refused.map(|r| r.error),
    };
    if let Some(id) = chosen {
        let c = store::school_coverage(&st.db, &scope, id).await?;
        page.may_check = !c.cameras.is_empty()
            && caller
                .scope(Permission::DeviceManage)
                .contains(&c.cameras[0].device.school_path);
        page.areas = c
            .required
            .iter()
            .map(|a| AreaLine {
                label: area_label(lang, *a),
                cameras: c
                    .cameras
                    .iter()
                    .filter(|k| k.areas.contains(a))
                    .map(|k| format!("{} {}", k.device.code, k.device.location))
                    .collect(),
                hazard_id: c
                    .gap_hazards
                    .iter()
                    .find(|g| g.area == a.code())
                    .map(|g| g.hazard_id),
            })
            .collect();
        page.complete = c.coverage.complete();
        page.linked = c.coverage.linked();
        page.school = Some((c.school_id, c.school_name.clone()));
        page.short_retention = c.coverage.short_retention;
        page.min_retention = c.min_retention_days;
        let min = c.min_retention_days;
        page.cameras = c
            .cameras
            .into_iter()
            .map(|k| camera_line(lang, k, min))
            .collect();
    } else {
        for c in coverages(&st, &scope, None).await? {
            page.schools.push(SchoolLine {
                school_id: c.school_id,
                name: c.school_name,
                cameras: c.coverage.cameras,
                covered: c.coverage.covered.len(),
                required: c.required.len(),
                gaps: c.coverage.gaps.len(),
                unlinked: c.coverage.unlinked_police.max(c.coverage.unlinked_bureau),
            });
        }
    }
    Ok(render(&page))
}

/// The check form.
#[derive(Deserialize)]
pub struct CheckForm {
    school_id: String,
}

/// `POST /video/check`.
#[tracing::instrument(skip_all)]
pub async fn check_page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<CheckForm>,
) -> AppResult<Response> {
    let r = async {
        let id: i64 = f
            .school_id
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("video_school"))?;
        check_as(&st, &caller, id).await.map(|c| (id, c))
    }
    .await;
    match r {
        Ok((id, c)) => Ok(Redirect::to(&format!(
            "/video?school_id={id}&checked={}",
            c.filed.len()
        ))
        .into_response()),
        Err(e) if e.status.is_client_error() => {
            Ok(refuse_step(&session, "/video", e.message(caller.lang)).await)
        }
        Err(e) => Err(e),
    }
}

/// The camera form of a device's page.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CameraForm {
    #[serde(default)]
    pub areas: Vec<String>,
    #[serde(default)]
    pub police_link: String,
    #[serde(default)]
    pub bureau_link: String,
    #[serde(default)]
    pub retention_days: String,
}

/// The camera section of a device's page: its form's choices, filled from what was
/// refused or else what is stored.
pub struct CameraSection {
    pub areas: Vec<Choice>,
    pub police: Vec<Choice>,
    pub bureau: Vec<Choice>,
    pub retention_days: String,
    summary: CameraLine,
}

impl CameraSection {
    pub fn summary_areas(&self) -> &str {
        &self.summary.areas
    }
    pub fn summary_police(&self) -> &str {
        &self.summary.police
    }
    pub fn summary_bureau(&self) -> &str {
        &self.summary.bureau
    }
    pub fn summary_retention(&self) -> Option<i64> {
        self.summary.c.retention_days
    }
}

fn link_choices(lang: Lang, selected: &str) -> Vec<Choice> {
    Link::ALL
        .iter()
        .map(|k| Choice {
            value: k.code().to_string(),
            label: link_label(lang, *k),
            selected: k.code() == selected,
        })
        .collect()
}

/// The camera section for camera `id`, `refused` the form sent back with an error.
pub async fn section(
    st: &AppState,
    caller: &Caller,
    id: i64,
    refused: Option<CameraForm>,
) -> AppResult<CameraSection> {
    let c = store::get_camera(&st.db, &caller.scope(Permission::DeviceRead), id).await?;
    let f = refused.unwrap_or_else(|| CameraForm {
        areas: c.areas.iter().map(|a| a.code().to_string()).collect(),
        police_link: c.police_link.code().to_string(),
        bureau_link: c.bureau_link.code().to_string(),
        retention_days: c.retention_days.map(|r| r.to_string()).unwrap_or_default(),
    });
    let lang = caller.lang;
    Ok(CameraSection {
        areas: KeyArea::ALL
            .iter()
            .map(|a| Choice {
                value: a.code().to_string(),
                label: area_label(lang, *a),
                selected: f.areas.iter().any(|x| x == a.code()),
            })
            .collect(),
        police: link_choices(lang, &f.police_link),
        bureau: link_choices(lang, &f.bureau_link),
        retention_days: f.retention_days,
        summary: camera_line(lang, c, None),
    })
}

/// `POST /devices/{id}/camera`.
#[tracing::instrument(skip_all)]
pub async fn camera_page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Form(f): Form<CameraForm>,
) -> AppResult<Response> {
    let path = format!("/devices/{id}");
    let r = async {
        let areas = f
            .areas
            .iter()
            .map(|a| crate::kit::extract::parse_code::<KeyArea>(a))
            .collect::<Result<Vec<_>, _>>()?;
        let retention_days = match f.retention_days.trim() {
            "" => None,
            s => Some(
                s.parse::<i64>()
                    .map_err(|_| AppError::invalid("camera_retention"))?,
            ),
        };
        let b = CameraIn {
            areas,
            police_link: crate::kit::extract::parse_code::<Link>(&f.police_link)?,
            bureau_link: crate::kit::extract::parse_code::<Link>(&f.bureau_link)?,
            retention_days,
        };
        set_as(&st, &caller, id, b).await.map(|_| ())
    }
    .await;
    form_outcome(&session, &path, &path, caller.lang, &f, r).await
}
