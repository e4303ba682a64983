//! Monitoring: devices registered at schools, their batches over HTTP (a device's secret
//! or a gateway's token as the bearer), alarms raised by the rules, acknowledged and closed
//! by people on a live board, silences for maintenance and drills; cameras with the key
//! areas they cover, a school's video coverage and the alarms of a video platform.

mod api;
mod devices;
mod gateways;
mod input;
mod live;
mod pages;
mod silences;
mod video;

use crate::hazards::Tile;
use crate::kit::error::AppResult;
use crate::kit::{AppState, Caller, Routes};
use utoipa_axum::routes;
use xiaoan_domain::Permission::{AlarmAct, AlarmRead, Device, DeviceManage, DeviceRead};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(DeviceRead, routes!(api::list_devices))
        .api(DeviceManage, routes!(api::create_device))
        .api(DeviceManage, routes!(api::update_device))
        .api(DeviceRead, routes!(api::readings))
        // Devices authenticate with their own secret, checked by the handler.
        .api(Device, routes!(api::ingest))
        .api(AlarmRead, routes!(api::list_alarms))
        .api(AlarmRead, routes!(api::get_alarm))
        .api(AlarmAct, routes!(api::ack))
        .api(AlarmAct, routes!(api::close))
        .api(AlarmRead, routes!(silences::list))
        .api(AlarmAct, routes!(silences::create))
        .api(AlarmAct, routes!(silences::end))
        .api(DeviceRead, routes!(gateways::list))
        .api(DeviceManage, routes!(gateways::create))
        .api(DeviceManage, routes!(gateways::retire))
        .api(DeviceManage, routes!(video::set_camera))
        .api(DeviceRead, routes!(video::coverage))
        .api(DeviceManage, routes!(video::check))
        // A video platform authenticates with its gateway's token, checked by the handler.
        .api(Device, routes!(video::alarm))
        .get("/alarms", AlarmRead, pages::board)
        .get("/alarms/events", AlarmRead, live::events)
        .get("/alarms/silences", AlarmRead, silences::page)
        .post("/alarms/silences", AlarmAct, silences::create_page)
        .post("/alarms/silences/{id}/end", AlarmAct, silences::end_page)
        .get("/alarms/{id}", AlarmRead, pages::alarm)
        .post("/alarms/{id}/ack", AlarmAct, pages::ack)
        .post("/alarms/{id}/close", AlarmAct, pages::close)
        .get("/devices", DeviceRead, devices::devices)
        .post("/devices", DeviceManage, devices::register)
        .get("/devices/gateways", DeviceRead, gateways::page)
        .post("/devices/gateways", DeviceManage, gateways::create_page)
        .post(
            "/devices/gateways/{id}/retire",
            DeviceManage,
            gateways::retire_page,
        )
        .get("/devices/{id}", DeviceRead, devices::device)
        .post("/devices/{id}/camera", DeviceManage, video::camera_page)
        .post("/devices/{id}/edit", DeviceManage, devices::edit)
        .get("/video", DeviceRead, video::page)
        .post("/video/check", DeviceManage, video::check_page)
        .post("/devices/{id}/retire", DeviceManage, devices::retire)
}

/// The home page's monitoring tiles for the caller, or `None` when they cannot see alarms
/// or no device is in service in their scope.
pub async fn summary(st: &AppState, caller: &Caller) -> AppResult<Option<Vec<Tile>>> {
    if !caller.can(AlarmRead) {
        return Ok(None);
    }
    let n = xiaoan_store::iot::monitoring_counts(&st.db, &caller.scope(AlarmRead)).await?;
    if n.devices == 0 {
        return Ok(None);
    }
    let t = |key: &str, count, href, alert| Tile {
        label: caller.lang.t(key),
        count,
        href,
        alert,
    };
    let mut tiles = vec![
        t(
            "iot.home.active",
            n.active,
            "/alarms?status=active",
            n.active > 0,
        ),
        t(
            "iot.home.unacked",
            n.unacked,
            "/alarms?status=unacked",
            n.unacked > 0,
        ),
    ];
    // Devices and video coverage only for those who may open their pages.
    if caller.can(DeviceRead) {
        tiles.push(t("iot.home.offline", n.offline, "/devices", false));
        tiles.push(t(
            "iot.home.video_gaps",
            n.video_gaps,
            "/video",
            n.video_gaps > 0,
        ));
    }
    Ok(Some(tiles))
}
