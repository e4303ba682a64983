//! Demo hazards: a few per school in every state of the closed loop — some overdue, some
//! major, some on a rectification plan — with photos, then one escalation round so the
//! centres and the bureau have something to supervise.

use anyhow::Context;
use chrono::{Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{Action, Category, Grade, Source};
use xiaoan_domain::{OrgKind, Scope};
use xiaoan_store::Db;
use xiaoan_store::attachments::{self, NewAttachment};
use xiaoan_store::hazards::{self, NewHazard, Powers};
use xiaoan_store::orgs::{self, OrgFilter};

/// (category, title, location, description, major)
const TEMPLATES: &[(Category, &str, &str, &str, bool)] = &[
    (
        Category::Security,
        "校門口防衝撞設施缺失",
        "學校正門",
        "正門外未設置防衝撞隔離樁，上下學時段車輛可直接駛近人群",
        true,
    ),
    (
        Category::Security,
        "監控攝像頭故障",
        "教學樓西側走廊",
        "走廊兩處攝像頭無畫面，未接入公安監控平台",
        false,
    ),
    (
        Category::Security,
        "門衛未配備防衛器械",
        "門衛室",
        "門衛室缺少鋼叉、防刺背心等防衛器械",
        false,
    ),
    (
        Category::Buildings,
        "樓梯扶手鬆動",
        "教學樓二樓東側樓梯",
        "扶手與立柱連接處鬆動，推動有明顯晃動",
        false,
    ),
    (
        Category::Buildings,
        "圍牆局部開裂",
        "操場北側圍牆",
        "圍牆出現多處裂縫並向外傾斜",
        true,
    ),
    (
        Category::Buildings,
        "宿舍天花板滲水",
        "學生宿舍三樓",
        "雨後天花板滲水，局部抹灰脫落",
        false,
    ),
    (
        Category::TeachingFacilities,
        "籃球架底座鏽蝕",
        "籃球場",
        "籃球架底座鏽蝕嚴重，固定螺栓缺失",
        false,
    ),
    (
        Category::TeachingFacilities,
        "教室插座面板破損",
        "三年級二班教室",
        "講台旁插座面板破損，帶電部分外露",
        false,
    ),
    (
        Category::FireHeating,
        "滅火器壓力不足",
        "實驗樓一樓走廊",
        "兩具乾粉滅火器壓力指針處於紅區",
        false,
    ),
    (
        Category::FireHeating,
        "安全出口被堵塞",
        "食堂東側安全出口",
        "安全出口堆放桌椅雜物，疏散通道寬度不足",
        true,
    ),
    (
        Category::FireHeating,
        "電線私拉亂接",
        "教師辦公室",
        "辦公室多個排插串接，電線沿地面敷設",
        false,
    ),
    (
        Category::CanteenFood,
        "食品留樣不足 125 克",
        "食堂留樣櫃",
        "當日午餐部分菜品留樣不足 125 克，未標註時間",
        false,
    ),
    (
        Category::CanteenFood,
        "從業人員健康證過期",
        "食堂",
        "一名幫廚人員健康證已過期未換發",
        false,
    ),
    (
        Category::TrafficBus,
        "校車安全錘缺失",
        "3 號校車",
        "車內兩處安全錘缺失，滅火器未在有效期內",
        true,
    ),
    (
        Category::TrafficBus,
        "接送區無交通標誌",
        "校門外道路",
        "校門口路段缺少減速帶和學校區域警示標誌",
        false,
    ),
    (
        Category::LabChemicals,
        "危化品未雙人雙鎖",
        "化學實驗室藥品室",
        "易制毒試劑櫃僅一把鎖，領用登記不全",
        true,
    ),
    (
        Category::LabChemicals,
        "氣瓶未固定",
        "物理實驗室",
        "氣瓶直立放置未加固定鏈條",
        false,
    ),
    (
        Category::Surroundings,
        "周邊 200 米內有網吧",
        "學校東側約 150 米",
        "學校周邊 200 米範圍內有一家網吧營業",
        false,
    ),
    (
        Category::Surroundings,
        "校門口流動攤販",
        "學校正門外",
        "上下學時段有無證流動攤販售賣三無食品",
        false,
    ),
    (
        Category::Other,
        "防溺水警示牌缺失",
        "學校南側水塘",
        "學生上學途經水塘，未設防溺水警示牌",
        false,
    ),
];

/// The path through the loop a demo hazard takes.
#[derive(Clone, Copy)]
enum Fate {
    Reported,
    Registered,
    Overdue,
    Rectifying,
    Submitted,
    Closed,
    Dismissed,
    Plan,
}

fn photo(
    storage: &Path,
    seed: u64,
) -> anyhow::Result<(xiaoan_web::attachments::photos::Photo, String)> {
    // Every demo photo differs: the seed is written into the top rows as blocks.
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(160, 120, |x, y| {
        if y < 16 {
            let bit = (seed >> (x / 10)) & 1;
            image::Rgb(if bit == 1 { [255, 255, 255] } else { [0, 0, 0] })
        } else {
            image::Rgb([(x * 3) as u8, (y * 2) as u8, (seed * 53) as u8])
        }
    }));
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Jpeg,
    )?;
    let p = xiaoan_web::attachments::photos::clean(&bytes)
        .map_err(|e| anyhow::anyhow!("demo photo: {e:?}"))?;
    let name = xiaoan_web::attachments::photos::save(storage, p.extension, &p.bytes)?;
    Ok((p, name))
}

async fn attach(
    db: &Db,
    storage: &Path,
    actor: &Actor,
    uploader: i64,
    seed: u64,
) -> anyhow::Result<i64> {
    let (p, stored_name) = photo(storage, seed)?;
    let new = NewAttachment {
        stored_name,
        original_name: format!("IMG_{seed:04}.jpg"),
        mime: p.mime.into(),
        size: p.bytes.len() as i64,
        width: p.width.into(),
        height: p.height.into(),
        source_sha256: p.source_sha256,
    };
    Ok(attachments::insert(db, actor, uploader, new).await?.id)
}

/// Creates the demo hazards; returns how many.
pub async fn populate(
    db: &Db,
    storage: &Path,
    seed: u64,
    today: NaiveDate,
    listing_days: i64,
) -> anyhow::Result<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4841_5A41);
    let schools = orgs::list(
        db,
        &Scope::everything(),
        &OrgFilter {
            kind: Some(OrgKind::School),
            ..Default::default()
        },
    )
    .await?;
    let mut made = 0;
    let mut n = 0u64;
    for school in schools {
        let code = school.code.to_lowercase();
        let (Some(safety), Some(principal)) = (
            xiaoan_store::users::id_by_login(db, &format!("{code}.safety")).await?,
            xiaoan_store::users::id_by_login(db, &format!("{code}.principal")).await?,
        ) else {
            continue;
        };
        let scope = Scope::subtree(&school.path);
        let safety_actor = Actor {
            user_id: Some(safety),
            login: format!("{code}.safety"),
            ..Actor::default()
        };
        let principal_actor = Actor {
            user_id: Some(principal),
            login: format!("{code}.principal"),
            ..Actor::default()
        };
        let safety_powers = Powers {
            user_id: safety,
            manage: scope.clone(),
            verify: scope.clone(),
        };
        let principal_powers = Powers {
            user_id: principal,
            manage: scope.clone(),
            verify: scope.clone(),
        };
        // Schools with a full set of demo accounts get a full set of hazards to try.
        let showcase = xiaoan_store::users::id_by_login(db, &format!("{code}.staff"))
            .await?
            .is_some();
        let count = if showcase {
            rng.random_range(6..10)
        } else {
            rng.random_range(0..6)
        };
        for _ in 0..count {
            n += 1;
            let (category, title, location, description, major) =
                TEMPLATES[rng.random_range(0..TEMPLATES.len())];
            let age = rng.random_range(1..90u64);
            let found_on = today - Days::new(age);
            let fate = match rng.random_range(0..20) {
                0..=4 => Fate::Closed,
                5..=7 => Fate::Reported,
                8..=9 => Fate::Registered,
                10..=11 => Fate::Overdue,
                12..=14 => Fate::Rectifying,
                15..=16 => Fate::Submitted,
                17 => Fate::Dismissed,
                _ => Fate::Plan,
            };
            let before = attach(db, storage, &safety_actor, safety, n).await?;
            let report = NewHazard {
                school_id: school.id,
                category,
                grade: if major { Grade::Major } else { Grade::General },
                source: [
                    Source::SelfInspection,
                    Source::Patrol,
                    Source::BureauInspection,
                    Source::PublicReport,
                ][rng.random_range(0..4)],
                location: xiaoan_domain::text::Text::line("location", location, 100)
                    .context("location")?,
                title: xiaoan_domain::text::Text::line("title", title, 100).context("title")?,
                description: xiaoan_domain::text::Text::lines("description", description, 2000)
                    .context("description")?,
                found_by: xiaoan_domain::text::Name::parse("found_by", "安全專幹")
                    .context("found_by")?,
                found_on,
                attachments: vec![before],
            };
            let h = hazards::create(db, &safety_actor, safety, &scope, report, found_on)
                .await
                .context("demo hazard")?
                .hazard;
            made += 1;
            let step = |who: &'static str, action: Action, on: NaiveDate| {
                let (actor, powers) = if who == "principal" {
                    (&principal_actor, &principal_powers)
                } else {
                    (&safety_actor, &safety_powers)
                };
                hazards::transition(db, actor, powers, &scope, h.id, action, on)
            };
            if let Fate::Reported = fate {
                continue;
            }
            if let Fate::Dismissed = fate {
                step(
                    "safety",
                    Action::Dismiss {
                        reason: "經核實為重複上報".into(),
                    },
                    found_on,
                )
                .await?;
                continue;
            }
            let deadline = match fate {
                // Registered weeks ago with a deadline that has passed.
                Fate::Overdue => found_on + Days::new(rng.random_range(3..20)),
                _ => today + Days::new(rng.random_range(3..30)),
            };
            let deadline = if deadline >= today && matches!(fate, Fate::Overdue) {
                today - Days::new(2)
            } else {
                deadline
            };
            let registered_on = found_on.min(deadline);
            let register = Action::Register {
                owner_id: safety,
                measures: "落實專人整改，完成前設置警示標誌".into(),
                deadline,
                grade: None,
            };
            step("safety", register, registered_on).await?;
            if matches!(fate, Fate::Registered | Fate::Overdue) {
                continue;
            }
            step("safety", Action::Start, registered_on).await?;
            if let Fate::Plan = fate {
                let plan = Action::Plan {
                    interim_measures: "設置圍擋和警示牌，安排專人值守".into(),
                    deadline: deadline + Days::new(180),
                };
                step("safety", plan, registered_on).await?;
                continue;
            }
            if let Fate::Rectifying = fate {
                continue;
            }
            n += 1;
            let after = attach(db, storage, &safety_actor, safety, n).await?;
            step(
                "safety",
                Action::Submit {
                    note: "已按措施完成整改".into(),
                    attachments: vec![after],
                },
                registered_on,
            )
            .await?;
            if let Fate::Closed = fate {
                step(
                    "principal",
                    Action::Verify {
                        note: "經現場查驗，整改到位".into(),
                    },
                    registered_on,
                )
                .await?;
            }
        }
    }
    hazards::escalate(db, today, listing_days).await?;
    Ok(made)
}
