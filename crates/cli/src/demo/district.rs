//! A synthetic district for demonstrations: the bureau with the sections the plan names,
//! eight township centres, schools of every type with plausible names and facts, and users
//! for every role. Pure and deterministic for a given seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType};

/// An org to create; `parent` is the parent's code.
pub struct DemoOrg {
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    pub parent: Option<String>,
    pub school: Option<SchoolFacts>,
}

/// A user to create; roles are held at orgs given by code.
pub struct DemoUser {
    pub login: String,
    pub name: String,
    pub org: String,
    pub roles: Vec<(Role, String)>,
}

/// The generated district.
pub struct District {
    pub orgs: Vec<DemoOrg>,
    pub users: Vec<DemoUser>,
}

/// The bureau's code in the demo.
pub const BUREAU: &str = "BUREAU";

/// The sections named in the plan, with their demo codes and officers' logins.
pub const SECTIONS: [(&str, &str, &str); 10] = [
    ("SEC-OFFICE", "辦公室", "bangongshi"),
    ("SEC-SAFETY", "校安辦", "xiaoanban"),
    ("SEC-EDU", "教育股", "jiaoyugu"),
    ("SEC-INSPECT", "督導室", "dudaoshi"),
    ("SEC-SUPERVISE", "監察室", "jianchashi"),
    ("SEC-HR", "人事股", "renshigu"),
    ("SEC-AID", "資助中心", "zizhu"),
    ("SEC-PROJECT", "項目辦", "xiangmuban"),
    ("SEC-ETC", "電教館", "dianjiaoguan"),
    ("SEC-APPROVAL", "行政審批股", "shenpigu"),
];

const TOWNS: [&str; 8] = [
    "城關鎮",
    "河口鎮",
    "青山鄉",
    "白沙鎮",
    "龍泉鎮",
    "石橋鄉",
    "金溪鎮",
    "柳林鄉",
];
const VILLAGES: [&str; 24] = [
    "東村", "西灣", "南坪", "北嶺", "楊莊", "李家", "王堡", "馬坊", "高橋", "柏樹", "桃園", "新興",
    "紅旗", "太平", "雙河", "三合", "五里", "長嶺", "清水", "茶園", "楓林", "黃土", "花園", "大坪",
];
const ROADS: [&str; 8] = [
    "建設路",
    "人民路",
    "解放路",
    "文化路",
    "學府路",
    "新華路",
    "育才路",
    "和平路",
];
const SURNAMES: [&str; 20] = [
    "王", "李", "張", "劉", "陳", "楊", "黃", "趙", "吳", "周", "徐", "孫", "馬", "朱", "胡", "郭",
    "何", "高", "林", "羅",
];
const GIVEN: [&str; 30] = [
    "偉", "芳", "娜", "敏", "靜", "麗", "強", "磊", "軍", "洋", "勇", "艷", "傑", "娟", "濤", "明",
    "超", "秀英", "華", "慧", "建國", "志強", "海燕", "春梅", "文博", "子涵", "國華", "曉東",
    "紅梅", "立新",
];

/// School-level roles, and the login suffix each gets at the showcase schools.
pub const SCHOOL_ROLES: [(Role, &str); 9] = [
    (Role::Principal, "principal"),
    (Role::SafetyOfficer, "safety"),
    (Role::HeadTeacher, "teacher"),
    (Role::Counsellor, "counsellor"),
    (Role::CanteenManager, "canteen"),
    (Role::LabManager, "lab"),
    (Role::BusManager, "bus"),
    (Role::DutyStaff, "duty"),
    (Role::Staff, "staff"),
];

fn person(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{}{}",
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        GIVEN[rng.random_range(0..GIVEN.len())]
    )
}

fn facts(rng: &mut ChaCha8Rng, t: SchoolType, town: usize, rural: bool) -> SchoolFacts {
    let students = match t {
        SchoolType::Primary => rng.random_range(150..1600),
        SchoolType::Middle => rng.random_range(400..2200),
        SchoolType::NineYear => rng.random_range(300..1500),
        SchoolType::Kindergarten => rng.random_range(60..420),
        SchoolType::Vocational => rng.random_range(800..3200),
    };
    let staff = (students / if t == SchoolType::Kindergarten { 8 } else { 14 }).max(6);
    let boarding = matches!(
        t,
        SchoolType::Middle | SchoolType::NineYear | SchoolType::Vocational
    ) && rng.random_bool(0.55);
    let canteen = boarding
        || (t != SchoolType::Kindergarten && rng.random_bool(0.7))
        || (t == SchoolType::Kindergarten && students > 150);
    let labs = match t {
        SchoolType::Middle | SchoolType::NineYear | SchoolType::Vocational => true,
        SchoolType::Primary => rng.random_bool(0.35),
        SchoolType::Kindergarten => false,
    };
    SchoolFacts {
        school_type: t,
        address: format!(
            "{}{}{}號",
            TOWNS[town],
            ROADS[rng.random_range(0..ROADS.len())],
            rng.random_range(1..300)
        ),
        latitude: Some(30.45 + town as f64 * 0.031 + rng.random_range(-0.012..0.012)),
        longitude: Some(114.21 + (town % 4) as f64 * 0.047 + rng.random_range(-0.015..0.015)),
        students,
        staff,
        boarding,
        canteen,
        buses: rural && t != SchoolType::Vocational && rng.random_bool(0.4),
        labs,
        special_equipment: boarding || rng.random_bool(0.15),
    }
}

/// Generates a district with about `schools` schools (at least one of each type).
pub fn generate(seed: u64, schools: usize) -> District {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut orgs = vec![DemoOrg {
        code: BUREAU.into(),
        name: "示範區教育局".into(),
        kind: OrgKind::Bureau,
        parent: None,
        school: None,
    }];
    for (code, name, _) in SECTIONS {
        orgs.push(DemoOrg {
            code: code.into(),
            name: name.into(),
            kind: OrgKind::Section,
            parent: Some(BUREAU.into()),
            school: None,
        });
    }
    for (i, town) in TOWNS.iter().enumerate() {
        orgs.push(DemoOrg {
            code: format!("C{:02}", i + 1),
            name: format!("{town}教管中心"),
            kind: OrgKind::Centre,
            parent: Some(BUREAU.into()),
            school: None,
        });
    }
    // Schools run directly by the bureau.
    let direct = [
        ("區第一中學", SchoolType::Middle),
        ("區實驗小學", SchoolType::Primary),
        ("區職業技術學校", SchoolType::Vocational),
        ("區實驗幼兒園", SchoolType::Kindergarten),
        ("區衛生職業學校", SchoolType::Vocational),
    ];
    let mut n = 0usize;
    let next_code = |n: &mut usize| {
        *n += 1;
        format!("S{:03}", *n)
    };
    for (name, t) in direct.iter().take(schools.max(5)) {
        let code = next_code(&mut n);
        orgs.push(DemoOrg {
            code,
            name: (*name).into(),
            kind: OrgKind::School,
            parent: Some(BUREAU.into()),
            school: Some(facts(&mut rng, *t, 0, false)),
        });
    }
    let mut used = std::collections::HashSet::new();
    let mut i = 0usize;
    while n < schools.max(5) {
        let town_ix = i % TOWNS.len();
        let town = TOWNS[town_ix];
        let per_town = i / TOWNS.len();
        let t = match per_town {
            0 => SchoolType::Primary,
            1 => SchoolType::Kindergarten,
            2 => SchoolType::Middle,
            3 if town_ix.is_multiple_of(2) => SchoolType::NineYear,
            _ => match rng.random_range(0..20) {
                0..=9 => SchoolType::Primary,
                10..=14 => SchoolType::Kindergarten,
                15..=17 => SchoolType::Middle,
                _ => SchoolType::NineYear,
            },
        };
        let village = VILLAGES[rng.random_range(0..VILLAGES.len())];
        let name = match (t, per_town) {
            (SchoolType::Primary, 0) => format!("{town}中心小學"),
            (SchoolType::Kindergarten, 1) => format!("{town}中心幼兒園"),
            (SchoolType::Middle, 2) => format!("{town}中學"),
            (SchoolType::Primary, _) => format!("{town}{village}小學"),
            (SchoolType::Kindergarten, _) => format!("{town}{village}幼兒園"),
            (SchoolType::Middle, _) => format!("{town}第二中學"),
            (SchoolType::NineYear, _) => format!("{town}{village}九年一貫制學校"),
            (SchoolType::Vocational, _) => format!("{town}職業學校"),
        };
        i += 1;
        if !used.insert(name.clone()) {
            continue;
        }
        let code = next_code(&mut n);
        let rural = !town.starts_with("城關");
        orgs.push(DemoOrg {
            code,
            name,
            kind: OrgKind::School,
            parent: Some(format!("C{:02}", town_ix + 1)),
            school: Some(facts(&mut rng, t, town_ix, rural)),
        });
    }

    let mut users = vec![DemoUser {
        login: "admin".into(),
        name: "系統管理員".into(),
        org: BUREAU.into(),
        roles: vec![(Role::SystemAdmin, BUREAU.into())],
    }];
    for (code, _, login) in SECTIONS {
        let role = match code {
            "SEC-SAFETY" => Role::BureauSafety,
            "SEC-INSPECT" | "SEC-SUPERVISE" => Role::Supervisor,
            _ => Role::SectionOfficer,
        };
        users.push(DemoUser {
            login: login.into(),
            name: person(&mut rng),
            org: code.into(),
            roles: vec![(role, code.into())],
        });
    }
    for i in 1..=TOWNS.len() {
        let code = format!("C{i:02}");
        users.push(DemoUser {
            login: format!("centre{i:02}"),
            name: person(&mut rng),
            org: code.clone(),
            roles: vec![(Role::CentreOfficer, code)],
        });
    }
    // Every school has a principal and a safety officer; the first school of each type
    // has every school role, so each role can be tried at each kind of school.
    let mut showcased = std::collections::HashSet::new();
    for o in orgs.iter().filter(|o| o.kind == OrgKind::School) {
        let t = o.school.as_ref().map(|f| f.school_type);
        let full = showcased.insert(t);
        let prefix = o.code.to_lowercase();
        for (role, suffix) in SCHOOL_ROLES {
            if full || matches!(role, Role::Principal | Role::SafetyOfficer) {
                users.push(DemoUser {
                    login: format!("{prefix}.{suffix}"),
                    name: person(&mut rng),
                    org: o.code.clone(),
                    roles: vec![(role, o.code.clone())],
                });
            }
        }
    }
    District { orgs, users }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_complete() {
        let a = generate(7, 120);
        let b = generate(7, 120);
        assert_eq!(
            a.orgs.iter().map(|o| &o.name).collect::<Vec<_>>(),
            b.orgs.iter().map(|o| &o.name).collect::<Vec<_>>()
        );
        let schools: Vec<&DemoOrg> = a
            .orgs
            .iter()
            .filter(|o| o.kind == OrgKind::School)
            .collect();
        assert_eq!(schools.len(), 120);
        for t in SchoolType::ALL {
            assert!(
                schools
                    .iter()
                    .any(|s| s.school.as_ref().unwrap().school_type == t),
                "{t:?} missing"
            );
        }
        for role in Role::ALL {
            assert!(
                a.users
                    .iter()
                    .any(|u| u.roles.iter().any(|(r, _)| *r == role)),
                "{role:?} missing"
            );
        }
        let codes: std::collections::HashSet<&String> = a.orgs.iter().map(|o| &o.code).collect();
        assert_eq!(codes.len(), a.orgs.len(), "codes unique");
        let names: std::collections::HashSet<&String> = a.orgs.iter().map(|o| &o.name).collect();
        assert_eq!(names.len(), a.orgs.len(), "names unique");
        assert_ne!(generate(8, 120).users[12].name, a.users[12].name);
    }
}
