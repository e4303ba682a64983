//! Test harness for the web crate: a fresh SQLite database in a temporary directory, a
//! small org tree, users created straight through the store, and the application called
//! in-process (no socket).

mod http;
mod pages;

pub use http::{Resp, api_request, send};
pub use pages::{
    SESSION, csrf_of, open_login_form, page, post_form, post_login, sign_in_page, url_encode,
};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::text::{Code, Login, Name};
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_store::Db;
use xiaoan_store::orgs::{self, NewOrg};
use xiaoan_store::users::{self, NewUser, RoleAt};

/// The password every fixture user gets.
pub const PW: &str = "Tide-Lantern-42!";
/// The login of the system administrator every fixture has.
pub const ADMIN: &str = "admin";
/// A plain staff member at school A, the target of `{login}` routes.
pub const TARGET: &str = "target-a";
/// Names that appear in pages.
pub const SCHOOL_A_NAME: &str = "城關第一小學";
pub const SCHOOL_B_NAME: &str = "西山中學";

/// Ids of the fixture's org nodes:
/// bureau → section; bureau → centre A → school A; bureau → centre B → school B.
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    pub bureau: i64,
    pub section: i64,
    pub centre_a: i64,
    pub centre_b: i64,
    pub school_a: i64,
    pub school_b: i64,
}

impl Tree {
    /// The node of `kind` a role user is placed at (the "A" side of the tree).
    pub fn of_kind(&self, kind: OrgKind) -> i64 {
        match kind {
            OrgKind::Bureau => self.bureau,
            OrgKind::Section => self.section,
            OrgKind::Centre => self.centre_a,
            OrgKind::School => self.school_a,
        }
    }
}

/// A running application over its own database.
pub struct Fixture {
    pub app: Router,
    pub db: Db,
    pub tree: Tree,
    /// A hazard reported at school A, with [`Fixture::attachment`] as its photo.
    pub hazard: i64,
    /// A photo stored on disk and attached to [`Fixture::hazard`].
    pub attachment: i64,
    _dir: tempfile::TempDir,
}

/// One Argon2 hash of [`PW`], shared by every fixture user (hashing once keeps tests fast).
fn pw_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| users::hash_password(PW).expect("hash"))
        .clone()
}

fn school(t: SchoolType) -> SchoolFacts {
    SchoolFacts {
        school_type: t,
        address: "一號路".into(),
        latitude: None,
        longitude: None,
        students: 300,
        staff: 30,
        boarding: false,
        canteen: true,
        buses: false,
        labs: false,
        special_equipment: false,
    }
}

async fn org(
    db: &Db,
    kind: OrgKind,
    code: &str,
    name: &str,
    parent: Option<i64>,
    facts: Option<SchoolFacts>,
) -> i64 {
    let new = NewOrg {
        kind,
        code: Code::parse(code).expect("code"),
        name: Name::parse("name", name).expect("name"),
        parent_id: parent,
        school: facts,
    };
    orgs::create(db, &Actor::system("test"), &Scope::everything(), new)
        .await
        .expect("create org")
        .id
}

impl Fixture {
    /// A fresh database with the tree, an administrator and the target user.
    pub async fn new() -> Fixture {
        Fixture::with_config(xiaoan_web::WebConfig::default()).await
    }

    /// Like [`Fixture::new`] with web settings of the test's choosing.
    pub async fn with_config(mut config: xiaoan_web::WebConfig) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        config.storage_dir = dir.path().join("files");
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let bureau = org(&db, OrgKind::Bureau, "BUR", "城關區教育局", None, None).await;
        let section = org(&db, OrgKind::Section, "SEC", "安全科", Some(bureau), None).await;
        let centre_a = org(
            &db,
            OrgKind::Centre,
            "CEN-A",
            "東區中心",
            Some(bureau),
            None,
        )
        .await;
        let centre_b = org(
            &db,
            OrgKind::Centre,
            "CEN-B",
            "西區中心",
            Some(bureau),
            None,
        )
        .await;
        let school_a = org(
            &db,
            OrgKind::School,
            "SCH-A",
            SCHOOL_A_NAME,
            Some(centre_a),
            Some(school(SchoolType::Primary)),
        )
        .await;
        let school_b = org(
            &db,
            OrgKind::School,
            "SCH-B",
            SCHOOL_B_NAME,
            Some(centre_b),
            Some(school(SchoolType::Middle)),
        )
        .await;
        let tree = Tree {
            bureau,
            section,
            centre_a,
            centre_b,
            school_a,
            school_b,
        };
        let storage = config.storage_dir.clone();
        let app = xiaoan_web::router(xiaoan_web::AppState::new(db.clone(), config));
        let mut f = Fixture {
            app,
            db,
            tree,
            hazard: 0,
            attachment: 0,
            _dir: dir,
        };
        f.add_user(
            ADMIN,
            "系統管理員",
            bureau,
            &[(Role::SystemAdmin, bureau)],
            false,
        )
        .await;
        f.add_user(
            TARGET,
            "王小明",
            school_a,
            &[(Role::Staff, school_a)],
            false,
        )
        .await;
        let admin_id = users::id_by_login(&f.db, ADMIN)
            .await
            .expect("admin")
            .expect("admin");
        let (attachment, hazard) = hazard_with_photo(&f.db, &storage, admin_id, school_a).await;
        f.attachment = attachment;
        f.hazard = hazard;
        f
    }

    /// Creates a user with password [`PW`] at home org `org_id` holding `roles`.
    pub async fn add_user(
        &self,
        login: &str,
        display_name: &str,
        org_id: i64,
        roles: &[(Role, i64)],
        must_change: bool,
    ) -> i64 {
        let new = NewUser {
            login: Login::parse(login).expect("login"),
            display_name: Name::parse("display_name", display_name).expect("display name"),
            org_id,
            password_hash: Some(pw_hash()),
            must_change_password: must_change,
            roles: roles
                .iter()
                .map(|(role, org_id)| RoleAt {
                    role: *role,
                    org_id: *org_id,
                })
                .collect(),
        };
        let (user, _) = users::create(
            &self.db,
            &Actor::system("test"),
            &[Role::SystemAdmin],
            &Scope::everything(),
            new,
        )
        .await
        .expect("create user");
        user.id
    }

    /// Creates a user with password [`PW`] holding the one `role` at their home org `org_id`.
    pub async fn add_role_user(&self, login: &str, display_name: &str, role: Role, org_id: i64) {
        self.add_user(login, display_name, org_id, &[(role, org_id)], false)
            .await;
    }

    /// `pattern` with `{id}` → the fixture's hazard, attachment or school A (by the path's
    /// resource) and `{login}` → the target user's login.
    pub fn concrete(&self, pattern: &str) -> String {
        let id = if pattern.starts_with("/api/v1/hazards/") || pattern.starts_with("/hazards/") {
            self.hazard
        } else if pattern.starts_with("/api/v1/attachments/")
            || pattern.starts_with("/attachments/")
        {
            self.attachment
        } else {
            self.tree.school_a
        };
        pattern
            .replace("{id}", &id.to_string())
            .replace("{login}", TARGET)
    }

    /// Sends a request to the application.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        send(&self.app, req).await
    }

    /// An API call with an optional bearer token and an optional JSON body.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let b = api_request(method, path, token);
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        };
        self.send(req.expect("request")).await
    }

    /// `POST path` with a bearer token and a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.api("POST", path, Some(token), Some(body)).await
    }

    /// `PATCH path` with a bearer token and a JSON body.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.api("PATCH", path, Some(token), Some(body)).await
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.api("GET", path, Some(token), None).await
    }

    /// `POST /api/v1/auth/login`.
    pub async fn login(&self, login: &str, password: &str) -> Resp {
        self.api(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&serde_json::json!({"username": login, "password": password})),
        )
        .await
    }

    /// A bearer token for `login` with [`PW`]; panics unless sign-in succeeds.
    pub async fn token(&self, login: &str) -> String {
        let r = self.login(login, PW).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "sign-in of {login} failed: {}",
            r.text()
        );
        r.json()["token"]
            .as_str()
            .expect("token in login answer")
            .to_string()
    }
}

/// The `id`s of a JSON array of objects.
pub fn ids(list: &Value) -> BTreeSet<i64> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|o| o["id"].as_i64().expect("id"))
        .collect()
}

/// A small JPEG, as a phone would upload it.
pub fn jpeg_bytes() -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(32, 24, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 9) as u8, 120])
    }));
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .expect("encode");
    out
}

/// Stores a photo uploaded by `uploader` and reports a hazard at `school` with it.
async fn hazard_with_photo(
    db: &Db,
    storage: &std::path::Path,
    uploader: i64,
    school: i64,
) -> (i64, i64) {
    let photo = xiaoan_web::attachments::photos::clean(&jpeg_bytes()).expect("clean");
    let stored_name = xiaoan_web::attachments::photos::save(storage, photo.extension, &photo.bytes)
        .expect("save");
    let actor = Actor {
        user_id: Some(uploader),
        login: ADMIN.into(),
        ..Actor::default()
    };
    let new = xiaoan_store::attachments::NewAttachment {
        stored_name,
        original_name: "p.jpg".into(),
        mime: photo.mime.into(),
        size: photo.bytes.len() as i64,
        width: photo.width.into(),
        height: photo.height.into(),
        source_sha256: photo.source_sha256,
    };
    let attachment = xiaoan_store::attachments::insert(db, &actor, uploader, new)
        .await
        .expect("attachment")
        .id;
    let report = xiaoan_store::hazards::NewHazard {
        school_id: school,
        category: xiaoan_domain::hazard::Category::FireHeating,
        grade: xiaoan_domain::hazard::Grade::General,
        source: xiaoan_domain::hazard::Source::BureauInspection,
        location: "教學樓一樓走廊".into(),
        title: "滅火器過期".into(),
        description: "一樓走廊兩具滅火器壓力不足".into(),
        found_by: "督導組".into(),
        found_on: chrono::Utc::now().date_naive(),
        attachments: vec![attachment],
    };
    let today = xiaoan_web::WebConfig::default().today();
    let hazard =
        xiaoan_store::hazards::create(db, &actor, uploader, &Scope::everything(), report, today)
            .await
            .expect("hazard")
            .hazard
            .id;
    (attachment, hazard)
}
