//! [`TestApp`]: the web application over a fresh SQLite database, with the fixture tree,
//! its two people and a reported hazard with a photo, called in-process (no socket).
//!
//! This is the one module that uses the web crate's API (`router`, `AppState`,
//! `WebConfig`, `photos`); the other modules only speak HTTP.

use crate::db::{TestDb, sqlite};
use crate::http::{Resp, api_request, send};
use crate::tree::{self, ADMIN, PW, TARGET, Tree};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::{Role, Scope};
use xiaoan_store::Db;
use xiaoan_web::WebConfig;

/// A running application over its own database.
pub struct TestApp {
    pub app: Router,
    /// The state the application runs over (its settings, limiters and budgets).
    pub state: xiaoan_web::AppState,
    pub db: Db,
    pub tree: Tree,
    /// A hazard reported at school A, with [`TestApp::attachment`] as its photo.
    pub hazard: i64,
    /// A photo stored on disk and attached to [`TestApp::hazard`].
    pub attachment: i64,
    _db: TestDb,
}

impl TestApp {
    /// A fresh database with the tree, an administrator and the target user.
    pub async fn new() -> TestApp {
        TestApp::with_config(WebConfig::default()).await
    }

    /// Like [`TestApp::new`] with web settings of the test's choosing (the storage
    /// directory is always a fresh one).
    pub async fn with_config(mut config: WebConfig) -> TestApp {
        let t = sqlite().await;
        let db = t.db.clone();
        let dir = t.dir().expect("a SQLite test database has a directory");
        config.storage_dir = dir.join("files");
        let storage = config.storage_dir.clone();
        // The hazard is reported on today's date in the default offset, whatever `config` says.
        let today = WebConfig::default().today();
        let (tree, admin_id) = Tree::with_people(&db).await;
        let state = xiaoan_web::AppState::new(db.clone(), config);
        let app = xiaoan_web::router(state.clone());
        let (attachment, hazard) =
            hazard_with_photo(&db, &storage, admin_id, tree.school_a, today).await;
        TestApp {
            app,
            state,
            db,
            tree,
            hazard,
            attachment,
            _db: t,
        }
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
        tree::user_with_password(&self.db, login, display_name, org_id, roles, must_change).await
    }

    /// Creates a user with password [`PW`] holding the one `role` at their home org `org_id`.
    /// A photo uploaded by the user `login`; returns its id.
    pub async fn photo_by(&self, login: &str) -> i64 {
        let id = xiaoan_store::users::id_by_login(&self.db, login)
            .await
            .expect("user lookup")
            .expect("user exists");
        stored_photo(&self.db, &self.state.config.storage_dir, id).await
    }

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

/// A small JPEG, as a phone would upload it.
pub fn jpeg_bytes() -> Vec<u8> {
    jpeg_tinted(120)
}

/// A small JPEG whose bytes differ with `blue`: a photo used nowhere else.
pub fn jpeg_tinted(blue: u8) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(32, 24, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 9) as u8, blue])
    }));
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .expect("encode");
    out
}

/// Stores a photo uploaded by `uploader` and reports a hazard at `school` with it, as
/// the web crate would; returns the ids of the attachment and the hazard.
async fn hazard_with_photo(
    db: &Db,
    storage: &std::path::Path,
    uploader: i64,
    school: i64,
    today: chrono::NaiveDate,
) -> (i64, i64) {
    let attachment = stored_photo(db, storage, uploader).await;
    let actor = Actor {
        user_id: Some(uploader),
        login: ADMIN.into(),
        ..Actor::default()
    };
    hazard_report(db, &actor, uploader, attachment, school, today).await
}

/// Cleans, saves and records a photo uploaded by the user `uploader`, as an upload would;
/// returns its id.
pub async fn stored_photo(db: &Db, storage: &std::path::Path, uploader: i64) -> i64 {
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
    xiaoan_store::attachments::insert(db, &actor, uploader, new)
        .await
        .expect("attachment")
        .id
}

/// Reports the fixture's hazard at `school` with the photo `attachment`.
async fn hazard_report(
    db: &Db,
    actor: &Actor,
    uploader: i64,
    attachment: i64,
    school: i64,
    today: chrono::NaiveDate,
) -> (i64, i64) {
    let report = xiaoan_store::hazards::NewHazard {
        school_id: school,
        category: xiaoan_domain::hazard::Category::FireHeating,
        grade: xiaoan_domain::hazard::Grade::General,
        source: xiaoan_domain::hazard::Source::BureauInspection,
        location: xiaoan_domain::text::Text::line("location", "教學樓一樓走廊", 100)
            .expect("location"),
        title: xiaoan_domain::text::Text::line("title", "滅火器過期", 100).expect("title"),
        description: xiaoan_domain::text::Text::lines(
            "description",
            "一樓走廊兩具滅火器壓力不足",
            2000,
        )
        .expect("description"),
        found_by: xiaoan_domain::text::Name::parse("found_by", "督導組").expect("found_by"),
        found_on: chrono::Utc::now().date_naive(),
        attachments: vec![attachment],
    };
    let hazard =
        xiaoan_store::hazards::create(db, actor, uploader, &Scope::everything(), report, today)
            .await
            .expect("hazard")
            .hazard
            .id;
    (attachment, hazard)
}
