//! Video surveillance (migration 0014): what each camera covers and how its picture reaches
//! the police and bureau platforms, a school's coverage computed from its cameras in
//! service by `domain::iot::video`, and the check that files a hazard for each key area
//! left uncovered (once, until that hazard is closed) and writes the video obligation's
//! record from the inventory.

use super::*;
use crate::hazards::NewHazard;
use crate::plans::StoredPlan;
use crate::records::{self, NewRecord};
use chrono::NaiveDate;
use std::collections::HashMap;
use xiaoan_domain::hazard::{Category, Grade, Source, Status as HazardStatus};
use xiaoan_domain::iot::video::{
    CameraView, Coverage, GapWords, KeyArea, Link, coverage, required_areas,
};
use xiaoan_domain::text::{Name, Text};

/// The plan parameter with the least days of video a recorder keeps (SEC-08).
pub const RETENTION_PARAM: &str = "video_retention_days";
/// The record kind the inventory writes for the video obligation, and its fields.
pub const VIDEO_RECORD_KIND: &str = "video_check";
const VIDEO_FIELDS: [&str; 3] = ["key_areas_covered", "linked_to_police", "cameras_online"];
/// A computed record is written again when it says the same after this many days, so a
/// standing obligation stays current while nothing changes.
const RECORD_REFRESH_DAYS: i64 = 30;

/// A camera: the device and what it covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Camera {
    #[serde(flatten)]
    pub device: Device,
    pub areas: Vec<KeyArea>,
    pub police_link: Link,
    pub bureau_link: Link,
    pub retention_days: Option<i64>,
}

/// What a camera covers and its links, as entered.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraInfo {
    pub areas: Vec<KeyArea>,
    pub police_link: Link,
    pub bureau_link: Link,
    pub retention_days: Option<i64>,
}

impl Default for CameraInfo {
    fn default() -> Self {
        CameraInfo {
            areas: vec![],
            police_link: Link::Never,
            bureau_link: Link::Never,
            retention_days: None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct InfoRow {
    device_id: i64,
    areas: String,
    police_link: String,
    bureau_link: String,
    retention_days: Option<i64>,
}

fn info(r: &InfoRow) -> CameraInfo {
    CameraInfo {
        areas: r.areas.split(',').filter_map(KeyArea::from_code).collect(),
        police_link: Link::from_code(&r.police_link).unwrap_or(Link::Never),
        bureau_link: Link::from_code(&r.bureau_link).unwrap_or(Link::Never),
        retention_days: r.retention_days,
    }
}

fn camera(device: Device, i: CameraInfo) -> Camera {
    Camera {
        device,
        areas: i.areas,
        police_link: i.police_link,
        bureau_link: i.bureau_link,
        retention_days: i.retention_days,
    }
}

async fn infos(db: &Db, ids: &[i64]) -> StoreResult<HashMap<i64, CameraInfo>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut sql = Sql::new(
            db.backend(),
            "SELECT device_id, areas, police_link, bureau_link, retention_days FROM cameras WHERE device_id IN ",
        );
        sql.list(chunk.iter().copied());
        let (text, args) = sql.build();
        let rows: Vec<InfoRow> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
        out.extend(rows.iter().map(|r| (r.device_id, info(r))));
    }
    Ok(out)
}

/// Where a camera's retention may lie (days).
const RETENTION: std::ops::RangeInclusive<i64> = 1..=3650;

/// Sets what camera `id` (a device of kind camera in `scope`, in service) covers and its
/// links, in one transaction with its audit entry.
pub async fn set_camera(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    id: i64,
    new: &CameraInfo,
) -> StoreResult<Camera> {
    let d = get(db, scope, id).await?;
    if d.kind != DeviceKind::Camera {
        return Err(StoreError::Invalid("camera_kind"));
    }
    if d.retired_at.is_some() {
        return Err(StoreError::Conflict("device_retired"));
    }
    if new.retention_days.is_some_and(|r| !RETENTION.contains(&r)) {
        return Err(StoreError::Invalid("camera_retention"));
    }
    let areas: Vec<&str> = new.areas.iter().map(|a| a.code()).collect();
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM cameras WHERE device_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let q = match new.retention_days {
        Some(r) => sqlx::query(
            "INSERT INTO cameras (device_id, areas, police_link, bureau_link, updated_at, retention_days) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(areas.join(","))
        .bind(new.police_link.code().to_string())
        .bind(new.bureau_link.code().to_string())
        .bind(now)
        .bind(r),
        None => sqlx::query(
            "INSERT INTO cameras (device_id, areas, police_link, bureau_link, updated_at, retention_days) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(id)
        .bind(areas.join(","))
        .bind(new.police_link.code().to_string())
        .bind(new.bureau_link.code().to_string())
        .bind(now),
    };
    q.execute(&mut *tx).await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            "camera.update",
            "device",
            id,
            serde_json::json!({"areas": areas, "police_link": new.police_link,
                "bureau_link": new.bureau_link, "retention_days": new.retention_days}),
        ),
    )
    .await?;
    tx.commit().await?;
    get_camera(db, scope, id).await
}

/// Camera `id` in `scope` with what it covers (nothing yet when never set).
pub async fn get_camera(db: &Db, scope: &Scope, id: i64) -> StoreResult<Camera> {
    let d = get(db, scope, id).await?;
    if d.kind != DeviceKind::Camera {
        return Err(StoreError::NotFound);
    }
    let i = infos(db, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(camera(d, i))
}

/// The cameras in service at `school_id` in `scope`.
pub async fn cameras(db: &Db, scope: &Scope, school_id: i64) -> StoreResult<Vec<Camera>> {
    let devices: Vec<Device> = list(db, scope, Some(school_id), false)
        .await?
        .into_iter()
        .filter(|d| d.kind == DeviceKind::Camera)
        .collect();
    let ids: Vec<i64> = devices.iter().map(|d| d.id).collect();
    let mut i = infos(db, &ids).await?;
    Ok(devices
        .into_iter()
        .map(|d| {
            let info = i.remove(&d.id).unwrap_or_default();
            camera(d, info)
        })
        .collect())
}

/// A school's video coverage and the hazards open for its gaps.
#[derive(Debug, Clone, Serialize)]
pub struct SchoolCoverage {
    pub school_id: i64,
    pub school_name: String,
    /// The areas its facts require on camera.
    pub required: Vec<KeyArea>,
    /// The least days of video the active plan asks a recorder to keep, if it says.
    pub min_retention_days: Option<i64>,
    #[serde(flatten)]
    pub coverage: Coverage,
    pub cameras: Vec<Camera>,
    /// Hazards filed for uncovered areas and not yet closed.
    pub gap_hazards: Vec<GapHazard>,
}

/// A hazard filed for an uncovered key area.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct GapHazard {
    pub area: String,
    pub hazard_id: i64,
    pub status: String,
}

/// The least days of video the active plan asks a recorder to keep (its parameter
/// [`RETENTION_PARAM`]), if it says.
pub async fn min_retention_days(db: &Db) -> StoreResult<Option<i64>> {
    Ok(crate::plans::active(db)
        .await?
        .and_then(|p| retention_of(&p)))
}

/// The retention minimum `plan` sets, if it does (and in range).
fn retention_of(plan: &StoredPlan) -> Option<i64> {
    plan.plan
        .params
        .iter()
        .find(|x| x.name == RETENTION_PARAM)
        .map(|x| x.value)
        .filter(|v| v.is_finite() && *v >= 1.0 && *v <= 3650.0)
        .map(|v| v.round() as i64)
}

/// The coverage of school `school_id` in `scope` by its cameras in service.
pub async fn school_coverage(
    db: &Db,
    scope: &Scope,
    school_id: i64,
) -> StoreResult<SchoolCoverage> {
    let min = min_retention_days(db).await?;
    school_coverage_with(db, scope, school_id, min).await
}

/// [`school_coverage`] with the plan's retention minimum already read (a list of schools
/// reads it once).
pub async fn school_coverage_with(
    db: &Db,
    scope: &Scope,
    school_id: i64,
    min_retention_days: Option<i64>,
) -> StoreResult<SchoolCoverage> {
    let school = crate::orgs::get(db, scope, school_id).await?;
    let facts = school.school.as_ref().ok_or(StoreError::NotFound)?;
    let required = required_areas(facts);
    let cameras = cameras(db, scope, school_id).await?;
    let views: Vec<CameraView> = cameras
        .iter()
        .map(|c| CameraView {
            areas: c.areas.clone(),
            online: c.device.online,
            police: c.police_link,
            bureau: c.bureau_link,
            retention_days: c.retention_days,
        })
        .collect();
    let mut sql = Sql::new(
        db.backend(),
        "SELECT g.area, g.hazard_id, h.status FROM video_gaps g JOIN hazards h ON h.id = g.hazard_id \
         WHERE g.school_id = ",
    );
    sql.bind(school_id)
        .push(" AND h.status NOT IN ")
        .list(HazardStatus::DONE.iter().map(|s| s.code().to_string()))
        .push(" ORDER BY g.area");
    let (text, args) = sql.build();
    let gap_hazards: Vec<GapHazard> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    Ok(SchoolCoverage {
        school_id,
        school_name: school.name,
        coverage: coverage(&required, &views, min_retention_days),
        min_retention_days,
        required,
        cameras,
        gap_hazards,
    })
}

/// The schools in `scope` with at least one camera in service, by path.
pub async fn video_schools(db: &Db, scope: &Scope) -> StoreResult<Vec<i64>> {
    let mut sql = Sql::new(
        db.backend(),
        "SELECT DISTINCT d.school_id, o.path FROM devices d JOIN orgs o ON o.id = d.school_id \
         WHERE d.kind = 'camera' AND d.retired_at IS NULL AND ",
    );
    sql.scope("o.path", scope).push(" ORDER BY o.path");
    let (text, args) = sql.build();
    let rows: Vec<(i64, String)> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(|(id, _)| id).collect())
}

/// Whether school `school_id` has a camera in service (its video record is then computed).
pub async fn has_cameras(db: &Db, school_id: i64) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM devices WHERE school_id = $1 AND kind = 'camera' AND retired_at IS NULL",
    )
    .bind(school_id)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}

/// The words a check writes: each gap's hazard, and the note of the computed record.
pub struct VideoWords<'a> {
    pub gap: &'a (dyn Fn(KeyArea) -> GapWords + Sync),
    pub record_note: String,
}

/// A hazard a check filed for an uncovered area.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FiledGap {
    pub area: KeyArea,
    pub hazard_id: i64,
}

/// What a check did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VideoChecked {
    /// Hazards filed now.
    pub filed: Vec<FiledGap>,
    /// The computed record written now, if one was.
    pub record_id: Option<i64>,
}

/// Checks school `school_id`'s video coverage on `today`: files a hazard (security,
/// general) for each uncovered key area that has none open, and writes the video
/// obligation's record from the inventory when the active plan has that kind and what it
/// says changed (or it is a month old). A rerun the same day changes nothing.
pub async fn check_video(
    db: &Db,
    school_id: i64,
    words: &VideoWords<'_>,
    today: NaiveDate,
) -> StoreResult<VideoChecked> {
    let everything = Scope::everything();
    let school = crate::orgs::get(db, &everything, school_id).await?;
    // The plan is read once: for the retention minimum and for the record it asks for.
    let plan = crate::plans::active(db).await?;
    let min = plan.as_ref().and_then(retention_of);
    let c = school_coverage_with(db, &everything, school_id, min).await?;
    let mut done = VideoChecked::default();
    if c.cameras.is_empty() {
        return Ok(done);
    }
    let open: Vec<&str> = c.gap_hazards.iter().map(|g| g.area.as_str()).collect();
    let actor = Actor::system("video");
    for area in c.coverage.gaps.iter().filter(|a| !open.contains(&a.code())) {
        let Some(reporter) = super::school_reporter(db, school_id, None).await? else {
            break;
        };
        let w = (words.gap)(*area);
        let new = NewHazard {
            school_id,
            category: Category::Security,
            grade: Grade::General,
            source: Source::SelfInspection,
            location: Text::line("location", &clip(&w.location, 100), 100)
                .map_err(|_| StoreError::Invalid("hazard_location"))?,
            title: Text::line("title", &clip(&w.title, 100), 100)
                .map_err(|_| StoreError::Invalid("hazard_title"))?,
            description: Text::lines("description", &clip(&w.description, 2000), 2000)
                .map_err(|_| StoreError::Invalid("hazard_description"))?,
            found_by: Name::parse("found_by", &clip(&w.found_by, 50))
                .map_err(|_| StoreError::Invalid("hazard_found_by"))?,
            found_on: today,
            attachments: vec![],
        };
        // The hazard and the gap's row in one transaction: a crash files neither, and a
        // second check racing this one finds the row taken (its hazard still open) and
        // rolls its own hazard back.
        let mut tx = db.begin_write().await?;
        let (id, _) = crate::hazards::insert_on(
            &mut tx,
            db.backend(),
            &school,
            &actor,
            reporter,
            &new,
            today,
        )
        .await?;
        let mut sql = Sql::new(
            db.backend(),
            "INSERT INTO video_gaps (school_id, area, hazard_id, filed_at) VALUES (",
        );
        sql.bind(school_id)
            .push(", ")
            .bind(area.code().to_string())
            .push(", ")
            .bind(id)
            .push(", ")
            .bind(now_millis())
            .push(
                ") ON CONFLICT (school_id, area) DO UPDATE SET hazard_id = excluded.hazard_id, \
                 filed_at = excluded.filed_at WHERE (SELECT h.status FROM hazards h WHERE h.id = video_gaps.hazard_id) IN ",
            )
            .list(HazardStatus::DONE.iter().map(|s| s.code().to_string()));
        let (text, args) = sql.build();
        if sqlx::query_with(text, args)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 0
        {
            tx.rollback().await?;
            continue;
        }
        tx.commit().await?;
        done.filed.push(FiledGap {
            area: *area,
            hazard_id: id,
        });
    }
    if let Some(plan) = &plan {
        done.record_id =
            write_record(db, plan, school_id, &c.coverage, &words.record_note, today).await?;
    }
    Ok(done)
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The obligation's record from the inventory, unless the last computed one says the same
/// and is recent.
async fn write_record(
    db: &Db,
    plan: &StoredPlan,
    school_id: i64,
    c: &Coverage,
    note: &str,
    today: NaiveDate,
) -> StoreResult<Option<i64>> {
    let Some(kind) = plan.plan.kind(VIDEO_RECORD_KIND) else {
        return Ok(None);
    };
    if VIDEO_FIELDS.iter().any(|f| kind.field(f).is_none()) {
        return Ok(None);
    }
    let serde_json::Value::Object(fields) = serde_json::json!({
        "key_areas_covered": c.complete(),
        "linked_to_police": c.linked(),
        "cameras_online": c.online,
    }) else {
        return Ok(None);
    };
    let new = NewRecord {
        org_id: school_id,
        kind: VIDEO_RECORD_KIND.into(),
        occurred_on: today,
        fields,
        note: clip(note, 1000),
        attachment_ids: vec![],
    };
    let (fields, note) = records::checked(plan, &new, today)?;
    let org = crate::orgs::get(db, &Scope::everything(), school_id).await?;
    let calendar = crate::calendar::load(db).await?;
    let actor = Actor::system("video");
    // The comparison and the write in one transaction, the school's row locked on
    // PostgreSQL (SQLite's write transaction is exclusive already): two checks at once
    // write one record.
    let mut tx = db.begin_write().await?;
    if db.backend() == crate::Backend::Postgres {
        sqlx::query("SELECT id FROM orgs WHERE id = $1 FOR UPDATE")
            .bind(school_id)
            .fetch_optional(&mut *tx)
            .await?;
    }
    let last: Option<(String, String)> = sqlx::query_as(
        "SELECT fields, occurred_on FROM records WHERE org_id = $1 AND kind = $2 AND author_login = $3 \
         AND withdrawn = 0 ORDER BY occurred_on DESC, id DESC LIMIT 1",
    )
    .bind(school_id)
    .bind(VIDEO_RECORD_KIND.to_string())
    .bind(actor.login.clone())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((f, day)) = last {
        let same = serde_json::from_str::<serde_json::Value>(&f).ok()
            == Some(serde_json::Value::Object(fields.clone()));
        let recent = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
            .is_ok_and(|d| (today - d).num_days() < RECORD_REFRESH_DAYS);
        if same && recent {
            return Ok(None);
        }
    }
    let id = records::insert_on(
        &mut tx,
        &actor,
        plan,
        &calendar,
        &org,
        &new,
        fields,
        note,
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}
