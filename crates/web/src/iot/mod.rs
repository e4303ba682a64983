//! Monitoring: devices registered at schools, their batches over HTTP (each device's
//! secret as the bearer), alarms raised by the rules, acknowledged and closed by people.

mod api;
mod input;
mod pages;

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{AlarmAct, AlarmRead, Device, DeviceManage, DeviceRead};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(DeviceRead, routes!(api::list_devices))
        .api(DeviceManage, routes!(api::create_device))
        .api(DeviceRead, routes!(api::readings))
        // Devices authenticate with their own secret, checked by the handler.
        .api(Device, routes!(api::ingest))
        .api(AlarmRead, routes!(api::list_alarms))
        .api(AlarmRead, routes!(api::get_alarm))
        .api(AlarmAct, routes!(api::ack))
        .api(AlarmAct, routes!(api::close))
        .get("/alarms", AlarmRead, pages::board)
        .get("/alarms/{id}", AlarmRead, pages::alarm)
        .post("/alarms/{id}/ack", AlarmAct, pages::ack)
        .post("/alarms/{id}/close", AlarmAct, pages::close)
        .get("/devices", DeviceRead, pages::devices)
        .post("/devices", DeviceManage, pages::register)
        .get("/devices/{id}", DeviceRead, pages::device)
        .post("/devices/{id}/retire", DeviceManage, pages::retire)
}
