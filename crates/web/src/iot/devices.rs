//! The device pages: the devices in scope with their health, registering a device (its
//! secret shown once), one device with its readings as an SVG chart (and a camera's key
//! areas), changing and retiring it.

use super::api::DeviceIn;
use super::input;
use super::pages::when;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, Refused, form_outcome, refuse, refuse_step, render, take_refused};
use crate::kit::widgets::{Choice, school_choices};
use crate::kit::{AppState, Caller, Id};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use xiaoan_domain::Permission;
use xiaoan_domain::code::Code;
use xiaoan_domain::iot::{DeviceKind, Overrides};
use xiaoan_domain::now_millis;
use xiaoan_store::iot::{self, Device, Reading};

/// A device as a line of the list.
struct DeviceLine {
    d: Device,
    kind: String,
    last_seen: String,
    /// The hazard category its alarms are filed under, in words.
    category: String,
}

#[derive(Template)]
#[template(path = "iot/devices.html")]
struct DevicesPage {
    l: Layout,
    lines: Vec<DeviceLine>,
    schools: Vec<Choice>,
    kinds: Vec<Choice>,
    categories: Vec<Choice>,
    f: RegisterForm,
    may_register: bool,
    error: Option<String>,
}

/// The register form.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    school_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    key_area: String,
    #[serde(default)]
    raise_above: String,
    #[serde(default)]
    clear_below: String,
    #[serde(default)]
    category: String,
}

fn device_line(st: &AppState, caller: &Caller, d: Device) -> DeviceLine {
    DeviceLine {
        kind: caller.lang.t(&format!("iot.kind.{}", d.kind.code())),
        last_seen: when(st, d.last_seen_at),
        category: match d.category {
            Some(c) => caller.lang.t(&format!("hazard.category.{}", c.code())),
            None => caller.lang.t("iot.category_by_alarm"),
        },
        d,
    }
}

/// `GET /devices`: the devices in scope with their health, and the register form.
#[tracing::instrument(skip_all)]
pub async fn devices(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
) -> AppResult<Response> {
    let refused = take_refused(&session, "/devices").await;
    let f = refused
        .as_ref()
        .and_then(|r| r.form::<RegisterForm>())
        .unwrap_or_default();
    let list = iot::list(&st.db, &caller.scope(Permission::DeviceRead), None, false).await?;
    let may_register = caller.can(Permission::DeviceManage);
    let schools = if may_register {
        school_choices(
            &st.db,
            &caller.scope(Permission::DeviceManage),
            &f.school_id,
        )
        .await?
    } else {
        vec![]
    };
    let kinds = DeviceKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.code().to_string(),
            label: caller.lang.t(&format!("iot.kind.{}", k.code())),
            selected: k.code() == f.kind,
        })
        .collect();
    Ok(render(&DevicesPage {
        l: Layout::new(&caller, "iot.devices", "/devices"),
        lines: list
            .into_iter()
            .map(|d| device_line(&st, &caller, d))
            .collect(),
        schools,
        kinds,
        categories: category_choices(&caller, &f.category),
        f,
        may_register,
        error: refused.map(|r| r.error),
    }))
}

#[derive(Template)]
#[template(path = "iot/registered.html")]
struct RegisteredPage {
    l: Layout,
    x: DeviceLine,
    secret: String,
}

fn optional_number(raw: &str) -> AppResult<Option<f64>> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Some)
        .ok_or_else(|| AppError::invalid("device_rule_number"))
}

/// `POST /devices`: registers a device and shows its secret this once.
#[tracing::instrument(skip_all)]
pub async fn register(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<RegisterForm>,
) -> AppResult<Response> {
    let r = async {
        let body = DeviceIn {
            school_id: f
                .school_id
                .trim()
                .parse()
                .map_err(|_| AppError::invalid("device_school"))?,
            code: f.code.clone(),
            kind: crate::kit::extract::parse_code::<DeviceKind>(&f.kind)?,
            location: f.location.clone(),
            key_area: f.key_area.clone(),
            overrides: Overrides {
                raise_above: optional_number(&f.raise_above)?,
                clear_below: optional_number(&f.clear_below)?,
                ..Overrides::default()
            },
            category: match f.category.trim() {
                "" => None,
                c => Some(crate::kit::extract::parse_code(c)?),
            },
        };
        input::register(&st, &caller, body).await
    }
    .await;
    match r {
        Ok((d, secret)) => Ok(render(&RegisteredPage {
            l: Layout::new(&caller, "iot.registered", "/devices"),
            x: device_line(&st, &caller, d),
            secret,
        })),
        Err(e) if e.status.is_client_error() => {
            let refused = Refused::with_form("/devices", e.message(caller.lang), &f);
            Ok(refuse(&session, "/devices", refused).await)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "iot/device.html")]
struct DevicePage {
    l: Layout,
    x: DeviceLine,
    chart: Option<Chart>,
    recent: Vec<(String, Reading)>,
    may_retire: bool,
    /// A camera's key areas and links, with their form when the caller may change them.
    camera: Option<super::video::CameraSection>,
    /// The edit form (what was refused, else what is stored) and its category choices.
    e: EditForm,
    categories: Vec<Choice>,
    /// Whether its kind has threshold levels to set (a camera or a smoke detector has none).
    thresholds: bool,
    error: Option<String>,
}

/// The edit form of a device's page.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct EditForm {
    /// `edit`: tells its refusal from the other forms' on the same page.
    #[serde(default)]
    form: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    key_area: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    raise_above: String,
    #[serde(default)]
    clear_below: String,
}

fn category_choices(caller: &Caller, selected: &str) -> Vec<Choice> {
    crate::kit::widgets::code_choices(
        xiaoan_domain::hazard::Category::CODES,
        "hazard.category",
        caller.lang,
        selected,
    )
}

/// One metric's last 24 hours as an SVG polyline.
struct Chart {
    metric: String,
    points: String,
    min: String,
    max: String,
}

const CHART_W: f64 = 600.0;
const CHART_H: f64 = 160.0;

fn chart(readings: &[Reading], from: i64, to: i64) -> Option<Chart> {
    let metric = readings.first()?.metric.clone();
    let series: Vec<&Reading> = readings.iter().filter(|r| r.metric == metric).collect();
    let lo = series.iter().map(|r| r.value).fold(f64::INFINITY, f64::min);
    let hi = series
        .iter()
        .map(|r| r.value)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let width = (to - from).max(1) as f64;
    let points = series
        .iter()
        .map(|r| {
            let x = (r.at - from) as f64 / width * CHART_W;
            let y = CHART_H - (r.value - lo) / span * (CHART_H - 10.0) - 5.0;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    Some(Chart {
        metric,
        points,
        min: format!("{lo}"),
        max: format!("{hi}"),
    })
}

/// `GET /devices/{id}`: health, the last 24 hours as a chart, the latest readings.
#[tracing::instrument(skip_all)]
pub async fn device(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
) -> AppResult<Response> {
    let path = format!("/devices/{id}");
    let refused = take_refused(&session, &path).await;
    let d = iot::get(&st.db, &caller.scope(Permission::DeviceRead), id).await?;
    let to = now_millis();
    let from = to - 86_400_000;
    let readings = iot::readings(&st.db, d.id, from, to, 20_000).await?;
    let recent = readings
        .iter()
        .rev()
        .take(30)
        .map(|r| (when(&st, Some(r.at)), r.clone()))
        .collect();
    let may_retire = d.retired_at.is_none()
        && caller
            .scope(Permission::DeviceManage)
            .contains(&d.school_path);
    let number = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let e = refused
        .as_ref()
        .and_then(|r| r.form::<EditForm>())
        .filter(|f| f.form == "edit")
        .unwrap_or_else(|| EditForm {
            form: "edit".into(),
            location: d.location.clone(),
            key_area: d.key_area.clone(),
            category: d.category.map(|c| c.code().to_string()).unwrap_or_default(),
            raise_above: number(d.overrides.raise_above),
            clear_below: number(d.overrides.clear_below),
        });
    let categories = category_choices(&caller, &e.category);
    let camera = if d.kind == DeviceKind::Camera {
        // The camera form's own refusal (its link selects always send a value), not the
        // edit form's.
        let form = refused
            .as_ref()
            .and_then(|r| r.form::<super::video::CameraForm>())
            .filter(|f| !f.police_link.is_empty());
        Some(super::video::section(&st, &caller, d.id, form).await?)
    } else {
        None
    };
    Ok(render(&DevicePage {
        l: Layout::new(&caller, "iot.device", "/devices"),
        chart: chart(&readings, from, to),
        recent,
        may_retire,
        camera,
        e,
        categories,
        thresholds: !xiaoan_domain::iot::defaults(d.kind).thresholds.is_empty(),
        error: refused.map(|r| r.error),
        x: device_line(&st, &caller, d),
    }))
}

/// `POST /devices/{id}/edit`: location, key area, hazard category and threshold levels.
#[tracing::instrument(skip_all)]
pub async fn edit(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Form(f): Form<EditForm>,
) -> AppResult<Response> {
    let path = format!("/devices/{id}");
    let r = async {
        let d = iot::get(&st.db, &caller.scope(Permission::DeviceManage), id).await?;
        let b = super::api::DeviceChangeIn {
            location: Some(f.location.clone()),
            key_area: Some(f.key_area.clone()),
            category: Some(f.category.clone()),
            overrides: Some(Overrides {
                raise_above: optional_number(&f.raise_above)?,
                clear_below: optional_number(&f.clear_below)?,
                ..d.overrides
            }),
        };
        input::update(&st, &caller, id, b).await.map(|_| ())
    }
    .await;
    form_outcome(&session, &path, &path, caller.lang, &f, r).await
}

/// `POST /devices/{id}/retire`.
#[tracing::instrument(skip_all)]
pub async fn retire(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
) -> AppResult<Response> {
    let path = format!("/devices/{id}");
    match iot::retire(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::DeviceManage),
        id,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&path).into_response()),
        Err(xiaoan_store::StoreError::Conflict(code)) => {
            let error = AppError::conflict(code).message(caller.lang);
            Ok(refuse_step(&session, &path, error).await)
        }
        Err(e) => Err(e.into()),
    }
}
