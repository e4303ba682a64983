//! Test harness for the web crate: a fresh SQLite database in a temporary directory, a
//! small org tree, users created straight through the store, and the application called
//! in-process (no socket).
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header, request};
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::OnceLock;
use tower::ServiceExt;
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
    pub async fn with_config(config: xiaoan_web::WebConfig) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
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
        let app = xiaoan_web::router(xiaoan_web::AppState::new(db.clone(), config));
        let f = Fixture {
            app,
            db,
            tree,
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

    /// `pattern` with `{id}` → school A's id and `{login}` → the target user's login.
    pub fn concrete(&self, pattern: &str) -> String {
        pattern
            .replace("{id}", &self.tree.school_a.to_string())
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

/// A request builder for an API call.
pub fn api_request(method: &str, path: &str, token: Option<&str>) -> request::Builder {
    let b = Request::builder().method(method).uri(path);
    match token {
        Some(t) => b.header(header::AUTHORIZATION, format!("Bearer {t}")),
        None => b,
    }
}

/// A collected response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of the cookie `name` this response sets, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|c| c.split(';').next())
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// The full `Set-Cookie` line for cookie `name`.
    pub fn set_cookie_line(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.trim_start().starts_with(&format!("{name}=")))
            .map(String::from)
    }

    /// The `error.code` of an API error body.
    pub fn error_code(&self) -> String {
        let v = self.json();
        let e = &v["error"];
        assert!(e.is_object(), "not an error body: {}", self.text());
        assert!(
            e["message"].is_string(),
            "error without a message: {}",
            self.text()
        );
        e["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without a code: {}", self.text()))
            .to_string()
    }
}

/// Sends `req` to `app` and collects the answer, checking the headers every response
/// must carry.
pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let what = format!("{} {}", req.method(), req.uri());
    let res = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes().to_vec();
    assert_eq!(
        parts
            .headers
            .get(header::X_CONTENT_TYPE_OPTIONS)
            .and_then(|v| v.to_str().ok()),
        Some("nosniff"),
        "{what} ({}) lacks x-content-type-options: nosniff",
        parts.status
    );
    assert!(
        parts
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .is_some_and(|v| !v.is_empty()),
        "{what} ({}) lacks a content-security-policy",
        parts.status
    );
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}
