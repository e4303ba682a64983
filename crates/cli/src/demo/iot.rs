//! Demo monitoring: a few devices at the first schools with a day of readings, one
//! dormitory sensor over its threshold (an open alarm on the board), a cold room back to
//! normal, and a gas detector gone quiet; cameras at the first two schools, the first
//! covering every key area it must and linked, the second with a gap (filed as a hazard)
//! and a camera whose police link is down.

use anyhow::Context;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::iot::{DeviceKind, Overrides};
use xiaoan_domain::{OrgKind, Scope, now_millis};
use xiaoan_store::Db;
use xiaoan_store::iot::{self, NewDevice, Payload, Record};
use xiaoan_store::orgs::OrgFilter;

/// Devices at the first three schools by code; returns how many.
pub async fn populate(db: &Db, today: chrono::NaiveDate) -> anyhow::Result<usize> {
    let schools = xiaoan_store::orgs::list(
        db,
        &Scope::everything(),
        &OrgFilter {
            kind: Some(OrgKind::School),
            ..OrgFilter::default()
        },
    )
    .await?;
    // The schools whose accounts the demo prints (S001, S002, …) come first.
    let mut schools = schools;
    schools.sort_by(|a, b| a.code.cmp(&b.code));
    let now = now_millis();
    let mut made = 0;
    for (n, school) in schools.iter().take(3).enumerate() {
        let plan: [(&str, DeviceKind, &str, &str); 3] = [
            (
                "TEMP-D3",
                DeviceKind::Temperature,
                "學生宿舍三樓配電間",
                "dorm",
            ),
            ("COLD-K1", DeviceKind::ColdRoom, "食堂冷庫", "canteen"),
            ("GAS-K2", DeviceKind::Gas, "食堂後廚灶台", "canteen"),
        ];
        for (code, kind, location, area) in plan {
            let new = NewDevice {
                school_id: school.id,
                code: code.into(),
                kind,
                location: location.into(),
                key_area: area.into(),
                overrides: Overrides::default(),
                category: None,
            };
            let (d, _) = iot::create(db, &Actor::system("demo"), &Scope::everything(), &new)
                .await
                .with_context(|| format!("demo device {code}"))?;
            made += 1;
            // A reading every 10 minutes for the last day; the gas detector stopped 3 hours ago.
            let mut records = Vec::new();
            for i in 0..144_i64 {
                let at = now - (144 - i) * 600_000;
                let (metric, value) = match kind {
                    DeviceKind::Temperature => {
                        // The first school's dormitory runs hot in the last half hour.
                        let hot = n == 0 && i >= 141;
                        (
                            "temp_c",
                            if hot {
                                61.0 + (i - 141) as f64
                            } else {
                                28.0 + (i % 12) as f64 * 0.5
                            },
                        )
                    }
                    DeviceKind::ColdRoom => ("temp_c", 3.0 + (i % 6) as f64 * 0.3),
                    _ => {
                        if i > 126 {
                            continue;
                        }
                        ("lel_pct", 1.0 + (i % 5) as f64 * 0.2)
                    }
                };
                records.push(Record {
                    msg_id: format!("demo-{i}"),
                    ts: at,
                    payload: Payload::Telemetry(vec![(metric.into(), value)]),
                });
            }
            let last = records.last().map_or(now, |r| r.ts);
            iot::ingest(db, &d, &records, 0, last).await?;
        }
    }
    for (n, school) in schools.iter().take(2).enumerate() {
        made += cameras(db, school, n == 1, now, today).await?;
    }
    iot::sweep_no_data(db, now).await?;
    Ok(made)
}

/// Cameras covering the key areas `school` must have on camera, three areas a camera; with
/// `flawed` the last area is left uncovered and the second camera's police link is down.
/// Its coverage is then checked, as the daily round would.
async fn cameras(
    db: &Db,
    school: &xiaoan_store::orgs::Org,
    flawed: bool,
    now: i64,
    today: chrono::NaiveDate,
) -> anyhow::Result<usize> {
    use xiaoan_domain::iot::video::{Link, required_areas};
    use xiaoan_store::iot::video::{self, CameraInfo, VideoWords};
    let Some(facts) = &school.school else {
        return Ok(0);
    };
    let mut areas = required_areas(facts);
    if flawed {
        areas.pop();
    }
    let actor = Actor::system("demo");
    let everything = Scope::everything();
    let mut made = 0;
    for (i, group) in areas.chunks(3).enumerate() {
        let code = format!("{}{:02}", CAMERA_PREFIX, i + 1);
        let new = NewDevice {
            school_id: school.id,
            code: code.clone(),
            kind: DeviceKind::Camera,
            location: xiaoan_notify::words::area_name(group[0], "zh-TW"),
            key_area: String::new(),
            overrides: Overrides::default(),
            category: None,
        };
        let (d, _) = iot::create(db, &actor, &everything, &new)
            .await
            .with_context(|| format!("demo camera {code}"))?;
        let info = CameraInfo {
            areas: group.to_vec(),
            police_link: if flawed && i == 1 {
                Link::Down
            } else {
                Link::Linked
            },
            bureau_link: Link::Linked,
            retention_days: Some(30),
        };
        video::set_camera(db, &actor, &everything, d.id, &info).await?;
        let online = Record {
            msg_id: "demo-status".into(),
            ts: now,
            payload: Payload::Status {
                online: true,
                battery: None,
                signal: None,
            },
        };
        iot::ingest(db, &d, &[online], 0, now).await?;
        made += 1;
    }
    let gap = |a| xiaoan_notify::words::video_gap(a, "zh-TW");
    let words = VideoWords {
        gap: &gap,
        record_note: xiaoan_notify::words::video_record_note("zh-TW"),
    };
    video::check_video(db, school.id, &words, today).await?;
    Ok(made)
}

/// The code prefix of demo cameras (the simulator's intrusion comes from the first).
pub const CAMERA_PREFIX: &str = "CAM-";
