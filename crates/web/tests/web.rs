//! Integration tests of the web crate: the application is built over a fresh SQLite
//! database and called in-process.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{ADMIN, Fixture, PW, Resp, SCHOOL_A_NAME, TARGET, api_request};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use xiaoan_domain::{Permission, Role};
use xiaoan_web::routes::{ROUTES, RouteRule};

const LOGOUT: &str = "/api/v1/auth/logout";

fn api_routes() -> Vec<&'static RouteRule> {
    ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect()
}

/// The minimal body sent to a route: `{}` for writes, nothing for reads.
fn minimal_body(method: &str) -> Option<Value> {
    matches!(method, "POST" | "PATCH" | "PUT").then(|| json!({}))
}

/// A login for a role user: `u-<role code>` with dashes.
fn role_login(role: Role) -> String {
    format!("u-{}", role.code().replace('_', "-"))
}

// ---------------------------------------------------------------------------------------
// 1. Route × role matrix and completeness of the route table.
// ---------------------------------------------------------------------------------------

/// What each API route should need, written down independently of `ROUTES` so that a
/// weakened entry in the table is caught (the matrix below trusts the table).
const EXPECTED_API_PERMISSIONS: &[(&str, &str, Permission)] = &[
    ("GET", "/api/v1/openapi.json", Permission::Public),
    ("POST", "/api/v1/auth/login", Permission::Public),
    ("POST", "/api/v1/auth/logout", Permission::SelfService),
    ("GET", "/api/v1/me", Permission::SelfService),
    ("POST", "/api/v1/me/password", Permission::SelfService),
    ("GET", "/api/v1/orgs", Permission::OrgRead),
    ("POST", "/api/v1/orgs", Permission::OrgManage),
    ("GET", "/api/v1/orgs/{id}", Permission::OrgRead),
    ("PATCH", "/api/v1/orgs/{id}", Permission::OrgManage),
    ("GET", "/api/v1/users", Permission::UserRead),
    ("POST", "/api/v1/users", Permission::UserManage),
    ("GET", "/api/v1/users/{login}", Permission::UserRead),
    ("PATCH", "/api/v1/users/{login}", Permission::UserManage),
    (
        "POST",
        "/api/v1/users/{login}/password",
        Permission::UserManage,
    ),
    ("GET", "/api/v1/audit", Permission::AuditRead),
    ("GET", "/api/v1/audit/verify", Permission::AuditRead),
];

#[test]
fn the_api_routes_need_the_expected_permissions() {
    let table: BTreeSet<(&str, &str, String)> = api_routes()
        .iter()
        .map(|r| (r.method, r.path, format!("{:?}", r.permission)))
        .collect();
    let expected: BTreeSet<(&str, &str, String)> = EXPECTED_API_PERMISSIONS
        .iter()
        .map(|(m, p, perm)| (*m, *p, format!("{perm:?}")))
        .collect();
    let unexpected: Vec<_> = table.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&table).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "ROUTES differs from the expected API permissions.\nin ROUTES only: {unexpected:?}\nexpected only: {missing:?}"
    );
    // Spot checks of what that means for people.
    assert!(!Permission::UserRead.granted_to(Role::SectionOfficer));
    assert!(!Permission::AuditRead.granted_to(Role::Principal));
    assert!(!Permission::OrgManage.granted_to(Role::BureauSafety));
    assert!(Permission::UserManage.granted_to(Role::Principal));
}

#[tokio::test]
async fn every_api_route_answers_every_role_as_the_permission_table_says() {
    let f = Fixture::new().await;
    for role in Role::ALL {
        let org = f.tree.of_kind(role.assignable_at()[0]);
        f.add_user(
            &role_login(role),
            &format!("角色 {}", role.code()),
            org,
            &[(role, org)],
            false,
        )
        .await;
    }
    let routes = api_routes();
    assert!(
        routes.len() >= 15,
        "suspiciously few /api/ routes in the table: {}",
        routes.len()
    );
    // Logout ends the token, so it goes last for each role.
    let mut ordered: Vec<&RouteRule> = routes
        .iter()
        .copied()
        .filter(|r| !(r.method == "POST" && r.path == LOGOUT))
        .collect();
    let has_logout = ordered.len() < routes.len();
    ordered.extend(
        routes
            .iter()
            .copied()
            .filter(|r| r.method == "POST" && r.path == LOGOUT),
    );

    let (mut denied, mut allowed) = (0, 0);
    for role in Role::ALL {
        let token = f.token(&role_login(role)).await;
        for rule in &ordered {
            let path = f.concrete(rule.path);
            let r = f
                .api(
                    rule.method,
                    &path,
                    Some(&token),
                    minimal_body(rule.method).as_ref(),
                )
                .await;
            let what = format!(
                "{role:?} → {} {path}: {} {}",
                rule.method,
                r.status,
                r.text()
            );
            let open = matches!(
                rule.permission,
                Permission::Public | Permission::SelfService
            );
            if !open && !rule.permission.granted_to(role) {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
                assert_eq!(r.error_code(), "forbidden", "{what}");
                denied += 1;
            } else {
                assert_ne!(r.status, StatusCode::FORBIDDEN, "{what}");
                assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                // Every target of the matrix lies in every role's scope, so an allowed call
                // either succeeds or only complains about the empty body.
                assert!(
                    r.status.is_success() || r.status == StatusCode::BAD_REQUEST,
                    "{what}"
                );
                allowed += 1;
            }
        }
        if has_logout {
            let r = f.get("/api/v1/me", &token).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{role:?}: token still works after logout: {}",
                r.text()
            );
        }
    }
    assert!(
        denied > 0 && allowed > 0,
        "the matrix checked nothing (denied {denied}, allowed {allowed})"
    );
}

#[tokio::test]
async fn every_non_public_api_route_needs_a_token() {
    let f = Fixture::new().await;
    let routes = api_routes();
    assert!(!routes.is_empty());
    let mut checked = 0;
    for rule in routes {
        let path = f.concrete(rule.path);
        for token in [
            None,
            Some("xa_0000000000000000000000000000000000000000000000000000000000000000"),
        ] {
            let r = f
                .api(
                    rule.method,
                    &path,
                    token,
                    minimal_body(rule.method).as_ref(),
                )
                .await;
            let what = format!(
                "{} {path} with token {token:?}: {} {}",
                rule.method,
                r.status,
                r.text()
            );
            if rule.permission == Permission::Public {
                assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                assert_ne!(r.status, StatusCode::FORBIDDEN, "{what}");
            } else {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                assert_eq!(r.error_code(), "unauthenticated", "{what}");
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

#[tokio::test]
async fn route_table_and_openapi_document_list_the_same_api_routes() {
    let doc = xiaoan_web::api::openapi();
    let mut documented = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", item.get.is_some()),
            ("PUT", item.put.is_some()),
            ("POST", item.post.is_some()),
            ("DELETE", item.delete.is_some()),
            ("OPTIONS", item.options.is_some()),
            ("HEAD", item.head.is_some()),
            ("PATCH", item.patch.is_some()),
            ("TRACE", item.trace.is_some()),
            ("QUERY", item.query.is_some()),
        ];
        for (method, present) in ops {
            if present {
                documented.insert((method.to_string(), path.clone()));
            }
        }
    }
    assert!(
        documented.len() >= 10,
        "the OpenAPI document lists too few operations: {documented:?}"
    );
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let undocumented_in_table: Vec<_> = documented.difference(&table).collect();
    assert!(
        undocumented_in_table.is_empty(),
        "documented operations missing from ROUTES: {undocumented_in_table:?}"
    );
    let missing_from_doc: Vec<_> = api_routes()
        .into_iter()
        .filter(|r| r.path != "/api/v1/openapi.json")
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .filter(|k| !documented.contains(k))
        .collect();
    assert!(
        missing_from_doc.is_empty(),
        "API routes in ROUTES but not in the OpenAPI document: {missing_from_doc:?}"
    );
    // The document served over HTTP is the same one.
    let f = Fixture::new().await;
    let r = f.api("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let served = r.json();
    for (method, path) in &documented {
        assert!(
            served["paths"][path][method.to_lowercase()].is_object(),
            "served openapi.json lacks {method} {path}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. Login contract.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn login_gives_a_token_and_one_answer_for_every_failure() {
    let f = Fixture::new().await;
    let r = f.login(ADMIN, PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let token = v["token"].as_str().expect("token").to_string();
    assert!(token.len() >= 32, "token too short: {token}");
    let expires =
        chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().expect("expires_at"))
            .expect("RFC 3339 expires_at");
    let hours =
        (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!(
        (11.0..=12.1).contains(&hours),
        "token should live about 12 h, lives {hours} h"
    );
    assert_eq!(f.get("/api/v1/me", &token).await.status, StatusCode::OK);
    // The login is case-insensitive and trimmed like everywhere else.
    assert_eq!(f.login(" ADMIN ", PW).await.status, StatusCode::OK);

    let wrong = f.login(ADMIN, "Wrong-Password-99!").await;
    let unknown = f.login("nobody-here", PW).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text());
    assert_eq!(
        unknown.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unknown.text()
    );
    assert_eq!(wrong.error_code(), "invalid_credentials");
    assert_eq!(
        wrong.body, unknown.body,
        "wrong password and unknown user must answer alike"
    );

    // Five failures lock the account: the right password is then refused, with the same body.
    f.add_user(
        "lock-me",
        "鎖定測試",
        f.tree.school_a,
        &[(Role::Staff, f.tree.school_a)],
        false,
    )
    .await;
    for i in 0..5 {
        let r = f.login("lock-me", &format!("Wrong-Password-{i}!")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let locked = f.login("lock-me", PW).await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "a locked account signed in: {}",
        locked.text()
    );
    assert_eq!(
        locked.body, wrong.body,
        "a locked account must not be told apart from a wrong password"
    );
    // Other accounts are not affected.
    assert_eq!(f.login(TARGET, PW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn four_failures_do_not_lock_and_a_success_resets_the_count() {
    let f = Fixture::new().await;
    f.add_user(
        "almost",
        "差一點",
        f.tree.school_a,
        &[(Role::Staff, f.tree.school_a)],
        false,
    )
    .await;
    for _ in 0..4 {
        assert_eq!(
            f.login("almost", "Wrong-Password-1!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        f.login("almost", PW).await.status,
        StatusCode::OK,
        "four failures must not lock"
    );
    for _ in 0..4 {
        assert_eq!(
            f.login("almost", "Wrong-Password-1!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        f.login("almost", PW).await.status,
        StatusCode::OK,
        "a success must reset the failure count"
    );
}

// ---------------------------------------------------------------------------------------
// 3. Scope.
// ---------------------------------------------------------------------------------------

fn ids(list: &Value) -> BTreeSet<i64> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|o| o["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn a_centre_officer_sees_only_their_centre_and_a_move_applies_at_once() {
    let f = Fixture::new().await;
    let t = f.tree;
    f.add_user(
        "officer-a",
        "東區幹事",
        t.centre_a,
        &[(Role::CentreOfficer, t.centre_a)],
        false,
    )
    .await;
    let officer = f.token("officer-a").await;
    let admin = f.token(ADMIN).await;

    let r = f.get("/api/v1/orgs", &officer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        ids(&r.json()),
        BTreeSet::from([t.centre_a, t.school_a]),
        "{}",
        r.text()
    );
    let all = f.get("/api/v1/orgs", &admin).await;
    assert_eq!(
        ids(&all.json()).len(),
        6,
        "the admin sees the whole tree: {}",
        all.text()
    );

    assert_eq!(
        f.get(&format!("/api/v1/orgs/{}", t.school_a), &officer)
            .await
            .status,
        StatusCode::OK
    );
    let hidden = f
        .get(&format!("/api/v1/orgs/{}", t.school_b), &officer)
        .await;
    let absent = f.get("/api/v1/orgs/999999", &officer).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text());
    assert_eq!(absent.status, StatusCode::NOT_FOUND, "{}", absent.text());
    assert_eq!(
        hidden.body, absent.body,
        "out of scope must look exactly like absent"
    );
    assert_eq!(hidden.error_code(), "not_found");
    // Nor may the officer reach school B's people.
    let users = f.get("/api/v1/users", &officer).await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(
        users
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["org_id"] != json!(t.school_b) && u["org_id"] != json!(t.centre_b)),
        "{}",
        users.text()
    );

    // The admin moves school B under centre A; the officer's next request sees it.
    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/orgs/{}", t.school_b),
            Some(&admin),
            Some(&json!({"parent_id": t.centre_a})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["parent_id"], json!(t.centre_a));
    let moved = f
        .get(&format!("/api/v1/orgs/{}", t.school_b), &officer)
        .await;
    assert_eq!(
        moved.status,
        StatusCode::OK,
        "the move did not take effect: {}",
        moved.text()
    );
    assert_eq!(moved.json()["parent_id"], json!(t.centre_a));
    let r = f.get("/api/v1/orgs", &officer).await;
    assert_eq!(
        ids(&r.json()),
        BTreeSet::from([t.centre_a, t.school_a, t.school_b]),
        "{}",
        r.text()
    );
    // And centre B's officer would no longer see it: the admin checks via the parent filter.
    let r = f
        .get(&format!("/api/v1/orgs?parent_id={}", t.centre_b), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        ids(&r.json()).is_empty(),
        "school B still listed under centre B: {}",
        r.text()
    );
}

#[tokio::test]
async fn a_school_role_sees_only_its_school() {
    let f = Fixture::new().await;
    let t = f.tree;
    f.add_user(
        "head-a",
        "班主任",
        t.school_a,
        &[(Role::HeadTeacher, t.school_a)],
        false,
    )
    .await;
    let tok = f.token("head-a").await;
    let r = f.get("/api/v1/orgs", &tok).await;
    assert_eq!(ids(&r.json()), BTreeSet::from([t.school_a]), "{}", r.text());
    assert_eq!(
        f.get(&format!("/api/v1/orgs/{}", t.centre_a), &tok)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------------------------------
// 4. The caller and the user list.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn me_and_the_user_list_describe_accounts() {
    let f = Fixture::new().await;
    let t = f.tree;
    f.add_user(
        "two-hats",
        "兩頂帽子",
        t.school_a,
        &[
            (Role::Principal, t.school_a),
            (Role::SafetyOfficer, t.school_a),
        ],
        false,
    )
    .await;
    let tok = f.token("two-hats").await;
    let r = f.get("/api/v1/me", &tok).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let me = r.json();
    assert_eq!(me["login"], "two-hats");
    assert_eq!(me["display_name"], "兩頂帽子");
    let roles: BTreeSet<(String, i64)> = me["roles"]
        .as_array()
        .expect("roles array")
        .iter()
        .map(|r| {
            (
                r["role"].as_str().expect("role").to_string(),
                r["org_id"].as_i64().expect("org_id"),
            )
        })
        .collect();
    assert_eq!(
        roles,
        BTreeSet::from([
            ("principal".to_string(), t.school_a),
            ("safety_officer".to_string(), t.school_a)
        ])
    );

    let admin = f.token(ADMIN).await;
    let r = f.get("/api/v1/users", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let list = r.json();
    let list = list.as_array().expect("array");
    let logins: BTreeSet<&str> = list
        .iter()
        .map(|u| u["login"].as_str().expect("login"))
        .collect();
    assert_eq!(logins, BTreeSet::from([ADMIN, TARGET, "two-hats"]));
    for u in list {
        assert!(u["display_name"].is_string(), "{u}");
        assert!(u["disabled"].is_boolean(), "{u}");
        assert!(u["roles"].is_array(), "{u}");
        let text = u.to_string();
        assert!(
            !text.contains("argon2") && !text.contains("password_hash"),
            "a password hash leaked: {text}"
        );
    }
    let target = list.iter().find(|u| u["login"] == TARGET).unwrap();
    assert_eq!(target["display_name"], "王小明");
    assert_eq!(target["disabled"], false);
    assert_eq!(
        target["roles"],
        json!([{"role": "staff", "org_id": t.school_a}])
    );
    let a = list.iter().find(|u| u["login"] == ADMIN).unwrap();
    assert_eq!(
        a["roles"],
        json!([{"role": "system_admin", "org_id": t.bureau}])
    );
}

// ---------------------------------------------------------------------------------------
// 5. Bad input.
// ---------------------------------------------------------------------------------------

async fn post_org(f: &Fixture, token: &str, body: &str, lang: Option<&str>) -> Resp {
    let mut b = api_request("POST", "/api/v1/orgs", Some(token))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(l) = lang {
        b = b.header(header::ACCEPT_LANGUAGE, l);
    }
    f.send(b.body(Body::from(body.to_string())).unwrap()).await
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let f = Fixture::new().await;
    let admin = f.token(ADMIN).await;
    let before = ids(&f.get("/api/v1/orgs", &admin).await.json()).len();
    let bureau = f.tree.bureau;

    let r = post_org(&f, &admin, r#"{"kind": "centre", "code": "C-9","#, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "bad_json");

    let r = post_org(&f, &admin, &json!({"kind": "centre", "code": "C-9", "name": "新中心", "parent_id": bureau, "colour": "red"}).to_string(), None).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "unknown field accepted: {}",
        r.text()
    );
    assert_eq!(r.error_code(), "bad_fields");

    let long =
        json!({"kind": "centre", "code": "C-9", "name": "校".repeat(65), "parent_id": bureau})
            .to_string();
    let zh = post_org(&f, &admin, &long, None).await;
    assert_eq!(zh.status, StatusCode::BAD_REQUEST, "{}", zh.text());
    assert_eq!(zh.error_code(), "field_too_long");
    let zh_msg = zh.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        has_cjk(&zh_msg) && zh_msg.contains("64"),
        "default message should be Chinese and name the limit: {zh_msg}"
    );
    assert!(
        zh_msg.contains("名稱"),
        "message should name the field in Traditional Chinese: {zh_msg}"
    );

    let en = post_org(&f, &admin, &long, Some("en")).await;
    assert_eq!(en.status, StatusCode::BAD_REQUEST);
    assert_eq!(en.error_code(), "field_too_long");
    let en_msg = en.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        !has_cjk(&en_msg) && en_msg.contains("at most 64"),
        "English message expected: {en_msg}"
    );
    assert!(!en_msg.contains("%{"), "unfilled placeholder: {en_msg}");

    // Error bodies have exactly the documented shape.
    let v = en.json();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    assert_eq!(v["error"].as_object().unwrap().len(), 2, "{v}");

    // A 64-character name is fine (the limit is inclusive), proving the refusals above were
    // about the length only.
    let ok = json!({"kind": "centre", "code": "C-9", "name": "校".repeat(64), "parent_id": bureau})
        .to_string();
    let after_bad = ids(&f.get("/api/v1/orgs", &admin).await.json()).len();
    assert_eq!(after_bad, before, "a refused request created something");
    let r = post_org(&f, &admin, &ok, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        ids(&f.get("/api/v1/orgs", &admin).await.json()).len(),
        before + 1
    );

    // A body without the JSON content type is refused with 415.
    let r = f
        .send(
            api_request("POST", "/api/v1/orgs", Some(&admin))
                .body(Body::from(ok.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text());
    assert_eq!(r.error_code(), "json_content_type");
}

// ---------------------------------------------------------------------------------------
// 6. Audit.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_audit_chain_stays_intact_and_records_writes_and_denials() {
    let f = Fixture::new().await;
    let t = f.tree;
    let admin = f.token(ADMIN).await;
    let r = f
        .api("POST", "/api/v1/orgs", Some(&admin), Some(&json!({"kind": "school", "code": "SCH-C", "name": "南門小學", "parent_id": t.centre_a, "school_type": "primary", "students": 120})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let new_school = r.json()["id"].as_i64().unwrap();
    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/orgs/{new_school}"),
            Some(&admin),
            Some(&json!({"name": "南門實驗小學", "canteen": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["canteen"], true);
    let r = f
        .api("POST", "/api/v1/users", Some(&admin), Some(&json!({"login": "new-staff", "display_name": "新同事", "org_id": new_school, "roles": [{"role": "staff", "org_id": new_school}]})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert!(r.json()["one_time_password"].is_string());
    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/users/{TARGET}"),
            Some(&admin),
            Some(&json!({"display_name": "王大明"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A denied request is recorded too.
    let staff = f.token(TARGET).await;
    assert_eq!(
        f.get("/api/v1/audit", &staff).await.status,
        StatusCode::FORBIDDEN
    );

    let r = f.get("/api/v1/audit/verify", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["intact"], true, "{v}");
    let entries = v["entries"].as_i64().expect("entries");

    let r = f.get("/api/v1/audit?limit=500", &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        items.len() as i64,
        entries,
        "the log lists as many entries as the chain check counted"
    );
    assert_eq!(items[0]["seq"].as_i64(), Some(entries), "newest first");
    let actions: Vec<(&str, &str)> = items
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    for want in [
        ("org.create", "ok"),
        ("org.update", "ok"),
        ("user.create", "ok"),
        ("user.update", "ok"),
        ("access.denied", "denied"),
        ("auth.login", "ok"),
    ] {
        assert!(
            actions.contains(&want),
            "audit log lacks {want:?}: {actions:?}"
        );
    }
    let denied = items
        .iter()
        .find(|e| e["action"] == "access.denied")
        .unwrap();
    assert_eq!(denied["actor_login"], TARGET);
}

// ---------------------------------------------------------------------------------------
// 7. Pages.
// ---------------------------------------------------------------------------------------

const SESSION: &str = "xiaoan_session";

fn page(path: &str, cookie: Option<&str>) -> Request<Body> {
    let b = Request::builder().method("GET").uri(path);
    let b = match cookie {
        Some(c) => b.header(header::COOKIE, format!("{SESSION}={c}")),
        None => b,
    };
    b.body(Body::empty()).unwrap()
}

fn form_post(path: &str, cookie: &str) -> axum::http::request::Builder {
    Request::builder()
        .method("POST")
        .uri(path)
        .header(header::COOKIE, format!("{SESSION}={cookie}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

fn url_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the hidden `_csrf` input of a page.
fn csrf_of(html: &str) -> String {
    let marker = r#"type="hidden" name="_csrf" value=""#;
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no hidden _csrf input in: {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

async fn post_login(
    f: &Fixture,
    cookie: &str,
    fields: &[(&str, &str)],
    extra: Option<(&str, &str)>,
) -> Resp {
    let mut b = form_post("/login", cookie);
    if let Some((k, v)) = extra {
        b = b.header(k, v);
    }
    f.send(b.body(Body::from(url_encode(fields))).unwrap())
        .await
}

#[tokio::test]
async fn pages_sign_in_with_a_form_token_and_render_in_the_chosen_language() {
    let f = Fixture::new().await;

    // Not signed in: sent to the login page, remembering where to come back.
    let r = f.send(page("/", None)).await;
    assert!(
        matches!(r.status.as_u16(), 302 | 303 | 307),
        "{} {}",
        r.status,
        r.text()
    );
    assert_eq!(r.header("location"), Some("/login?next=%2F"));
    let r = f.send(page("/orgs?kind=school", None)).await;
    assert!(r.status.is_redirection());
    assert_eq!(
        r.header("location"),
        Some("/login?next=%2Forgs%3Fkind%3Dschool")
    );

    // The login page: Traditional Chinese by default, a form token, a session cookie.
    let r = f.send(page("/login", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    let html = r.text();
    assert!(html.contains(r#"lang="zh-TW""#), "{html}");
    let csrf = csrf_of(&html);
    assert!(csrf.len() >= 32, "weak form token: {csrf:?}");
    let line = r
        .set_cookie_line(SESSION)
        .expect("the login page starts a session");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax"),
        "{line}"
    );
    let anon = r.set_cookie(SESSION).unwrap();

    let good = [
        ("_csrf", csrf.as_str()),
        ("login", ADMIN),
        ("password", PW),
        ("next", "/"),
    ];
    // Wrong, missing and cross-site: all refused before any sign-in.
    let r = post_login(
        &f,
        &anon,
        &[
            ("_csrf", "0123456789abcdef"),
            ("login", ADMIN),
            ("password", PW),
        ],
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "wrong form token accepted: {}",
        r.status
    );
    let r = post_login(&f, &anon, &[("login", ADMIN), ("password", PW)], None).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "missing form token accepted: {}",
        r.status
    );
    let r = post_login(&f, &anon, &good, Some(("sec-fetch-site", "cross-site"))).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "cross-site post accepted: {}",
        r.status
    );
    let r = post_login(&f, &anon, &good, Some(("origin", "https://evil.example"))).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "post from a foreign origin accepted: {}",
        r.status
    );
    // Without a session there is no form token to match.
    let r = f
        .send(
            Request::builder()
                .method("POST")
                .uri("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(url_encode(&good)))
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "sign-in without a session accepted: {}",
        r.status
    );

    // A wrong password: the form again with 401, still anonymous.
    let r = post_login(
        &f,
        &anon,
        &[
            ("_csrf", &csrf),
            ("login", ADMIN),
            ("password", "Not-The-One-77!"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());

    // The right form: redirect home with a new session id.
    let r = post_login(&f, &anon, &good, Some(("sec-fetch-site", "same-origin"))).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    assert_eq!(r.header("location"), Some("/"));
    let signed = r
        .set_cookie(SESSION)
        .expect("a session cookie after sign-in");
    assert_ne!(signed, anon, "the session id must change at sign-in");

    // The old, pre-sign-in id does not carry the sign-in.
    let r = f.send(page("/", Some(&anon))).await;
    assert!(
        r.status.is_redirection(),
        "the pre-sign-in session id is signed in (session fixation): {}",
        r.status
    );

    let r = f.send(page("/orgs", Some(&signed))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let html = r.text();
    assert!(html.contains(SCHOOL_A_NAME), "{html}");
    assert!(html.contains(r#"lang="zh-TW""#));
    assert!(!html.contains("Organisations"));

    let r = f.send(page("/orgs?lang=en", Some(&signed))).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(html.contains("Organisations"), "{html}");
    assert!(html.contains(r#"lang="en""#));

    // Pages the admin may see, and the pages' own form token for later posts.
    let r = f.send(page("/", Some(&signed))).await;
    assert_eq!(r.status, StatusCode::OK);
    let page_csrf = csrf_of(&r.text());
    // Signing out needs the token as well; afterwards the cookie is worthless.
    let r = f
        .send(form_post("/logout", &signed).body(Body::from("")).unwrap())
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "logout without a form token: {}",
        r.status
    );
    let r = f
        .send(
            form_post("/logout", &signed)
                .body(Body::from(url_encode(&[("_csrf", &page_csrf)])))
                .unwrap(),
        )
        .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    let r = f.send(page("/orgs", Some(&signed))).await;
    assert!(
        r.status.is_redirection(),
        "still signed in after logout: {}",
        r.status
    );
}

#[tokio::test]
async fn static_and_error_responses_carry_the_security_headers_too() {
    let f = Fixture::new().await;
    // `send` checks nosniff and CSP on each of these.
    assert_eq!(
        f.send(page("/static/app.css", None)).await.status,
        StatusCode::OK
    );
    assert_eq!(f.send(page("/healthz", None)).await.status, StatusCode::OK);
    let r = f.send(page("/no/such/page", None)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = f.api("GET", "/api/v1/no-such-thing", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");
    assert_eq!(
        f.api("GET", "/api/v1/orgs", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

// ---------------------------------------------------------------------------------------
// 8. Password change via the API.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_one_time_password_must_be_changed_and_the_change_ends_old_tokens() {
    let f = Fixture::new().await;
    let t = f.tree;
    f.add_user(
        "fresh-one",
        "新來的",
        t.school_a,
        &[(Role::Staff, t.school_a)],
        true,
    )
    .await;
    let r = f.login("fresh-one", PW).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["must_change_password"], true);
    let old = r.json()["token"].as_str().unwrap().to_string();

    let r = f.get("/api/v1/orgs", &old).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(r.error_code(), "password_change_required");
    let r = f.get("/api/v1/me", &old).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["must_change_password"], true);

    // Wrong current password, and a weak new one: refused, nothing changes.
    let r = f.api("POST", "/api/v1/me/password", Some(&old), Some(&json!({"current_password": "Nope-Nope-123!", "new_password": "Harbour-Lantern-73!"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "current_password_wrong");
    let r = f
        .api(
            "POST",
            "/api/v1/me/password",
            Some(&old),
            Some(&json!({"current_password": PW, "new_password": "short"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "password_too_short");
    assert_eq!(f.get("/api/v1/me", &old).await.status, StatusCode::OK);

    let new_pw = "Harbour-Lantern-73!";
    let r = f
        .api(
            "POST",
            "/api/v1/me/password",
            Some(&old),
            Some(&json!({"current_password": PW, "new_password": new_pw})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = f.get("/api/v1/me", &old).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the old token still works: {}",
        r.text()
    );

    assert_eq!(
        f.login("fresh-one", PW).await.status,
        StatusCode::UNAUTHORIZED,
        "the old password still works"
    );
    let r = f.login("fresh-one", new_pw).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["must_change_password"], false);
    let tok = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(f.get("/api/v1/orgs", &tok).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// 9. Disabling.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_disabled_user_is_signed_out_at_once_and_cannot_sign_in() {
    let f = Fixture::new().await;
    let admin = f.token(ADMIN).await;
    let user = f.token(TARGET).await;
    assert_eq!(f.get("/api/v1/orgs", &user).await.status, StatusCode::OK);

    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/users/{TARGET}"),
            Some(&admin),
            Some(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["disabled"], true);

    let r = f.get("/api/v1/orgs", &user).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user's token still works: {}",
        r.text()
    );
    assert_eq!(
        f.get("/api/v1/me", &user).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.login(TARGET, PW).await.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user signed in"
    );

    // An admin cannot disable themselves.
    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/users/{ADMIN}"),
            Some(&admin),
            Some(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "disable_self");

    // Re-enabled, the user can sign in again.
    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/users/{TARGET}"),
            Some(&admin),
            Some(&json!({"disabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(f.login(TARGET, PW).await.status, StatusCode::OK);

    // Even when the flag is set without ending the user's tokens (another tool writing to
    // the database), a disabled user's token is refused on the next request.
    let again = f.token(TARGET).await;
    assert_eq!(f.get("/api/v1/me", &again).await.status, StatusCode::OK);
    sqlx::query("UPDATE users SET disabled = 1 WHERE login = $1")
        .bind(TARGET)
        .execute(f.db.pool())
        .await
        .unwrap();
    assert_eq!(
        f.get("/api/v1/me", &again).await.status,
        StatusCode::UNAUTHORIZED
    );
}

// ---------------------------------------------------------------------------------------
// The org tree: moves and order.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn moving_a_centre_moves_its_schools_along() {
    let f = Fixture::new().await;
    let t = f.tree;
    let admin = f.token(ADMIN).await;
    let r = f
        .api(
            "POST",
            "/api/v1/orgs",
            Some(&admin),
            Some(&json!({"kind": "bureau", "code": "BUR-2", "name": "新區教育局", "parent_id": t.bureau})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let bureau2 = r.json()["id"].as_i64().unwrap();
    f.add_user(
        "safety-2",
        "新區安全員",
        bureau2,
        &[(Role::BureauSafety, bureau2)],
        false,
    )
    .await;
    let watcher = f.token("safety-2").await;
    assert_eq!(
        ids(&f.get("/api/v1/orgs", &watcher).await.json()),
        BTreeSet::from([bureau2])
    );

    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/orgs/{}", t.centre_b),
            Some(&admin),
            Some(&json!({"parent_id": bureau2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = f.get("/api/v1/orgs", &watcher).await;
    assert_eq!(
        ids(&r.json()),
        BTreeSet::from([bureau2, t.centre_b, t.school_b]),
        "the centre's school did not move with it: {}",
        r.text()
    );
    // A school cannot sit under a section, nor a node under its own descendant.
    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/orgs/{}", t.school_a),
            Some(&admin),
            Some(&json!({"parent_id": t.section})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "org_parent_kind");
    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/orgs/{}", t.bureau),
            Some(&admin),
            Some(&json!({"parent_id": bureau2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "org_parent_cycle");
    // Naming the current parent is no move at all.
    let r = f
        .api(
            "PATCH",
            &format!("/api/v1/orgs/{bureau2}"),
            Some(&admin),
            Some(&json!({"parent_id": t.bureau})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = f.get("/api/v1/orgs", &watcher).await;
    assert_eq!(
        ids(&r.json()),
        BTreeSet::from([bureau2, t.centre_b, t.school_b])
    );
}

#[tokio::test]
async fn the_org_list_is_in_tree_order() {
    let f = Fixture::new().await;
    let t = f.tree;
    let admin = f.token(ADMIN).await;
    // Enough schools that ids reach two digits, alternating between the centres.
    for i in 0..8 {
        let parent = if i % 2 == 0 { t.centre_b } else { t.centre_a };
        let body = json!({"kind": "school", "code": format!("X-{i}"), "name": format!("學校{i}"), "parent_id": parent, "school_type": "primary"});
        let r = f
            .api("POST", "/api/v1/orgs", Some(&admin), Some(&body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let list = f.get("/api/v1/orgs", &admin).await.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 14);
    let order: Vec<i64> = list.iter().map(|o| o["id"].as_i64().unwrap()).collect();
    let parent: std::collections::HashMap<i64, Option<i64>> = list
        .iter()
        .map(|o| (o["id"].as_i64().unwrap(), o["parent_id"].as_i64()))
        .collect();
    let is_below = |mut node: i64, ancestor: i64| loop {
        match parent[&node] {
            Some(p) if p == ancestor => return true,
            Some(p) => node = p,
            None => return false,
        }
    };
    // Pre-order: each node comes right before its whole subtree, as one block.
    for (i, id) in order.iter().enumerate() {
        let block = order[i + 1..]
            .iter()
            .take_while(|n| is_below(**n, *id))
            .count();
        let total = order.iter().filter(|n| is_below(**n, *id)).count();
        assert_eq!(
            block, total,
            "the subtree of {id} is not listed right after it: {order:?}"
        );
        if let Some(p) = parent[id] {
            assert!(
                order[..i].contains(&p),
                "{id} listed before its parent {p}: {order:?}"
            );
        }
    }
    // Siblings come in the order they were created (2 before 10).
    for p in [t.centre_a, t.centre_b] {
        let children: Vec<i64> = order
            .iter()
            .copied()
            .filter(|n| parent[n] == Some(p))
            .collect();
        let mut sorted = children.clone();
        sorted.sort();
        assert_eq!(children, sorted, "children of {p} out of order: {order:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Sessions, one-time passwords, rate limits and languages.
// ---------------------------------------------------------------------------------------

/// Signs in through the login form; returns the signed-in session cookie.
async fn sign_in_page(f: &Fixture, login: &str, password: &str) -> String {
    let r = f.send(page("/login", None)).await;
    let anon = r.set_cookie(SESSION).expect("session cookie");
    let csrf = csrf_of(&r.text());
    let r = post_login(
        f,
        &anon,
        &[("_csrf", &csrf), ("login", login), ("password", password)],
        None,
    )
    .await;
    assert!(
        r.status.is_redirection(),
        "page sign-in of {login} failed: {} {}",
        r.status,
        r.text()
    );
    r.set_cookie(SESSION)
        .expect("a session cookie after sign-in")
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn activity_extends_a_page_session_and_idleness_ends_it() {
    let f = Fixture::new().await;
    let cookie = sign_in_page(&f, ADMIN, PW).await;
    assert_eq!(
        f.send(page("/", Some(&cookie))).await.status,
        StatusCode::OK
    );
    // As if the user had been idle until two seconds before the idle limit...
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(now_secs() + 2)
        .execute(f.db.pool())
        .await
        .unwrap();
    // ...and then did something.
    assert_eq!(
        f.send(page("/orgs", Some(&cookie))).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let r = f.send(page("/", Some(&cookie))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "activity did not extend the session: {} {:?}",
        r.status,
        r.header("location")
    );
    // A session idle past its limit is over.
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(now_secs() - 1)
        .execute(f.db.pool())
        .await
        .unwrap();
    let r = f.send(page("/", Some(&cookie))).await;
    assert!(
        r.status.is_redirection(),
        "an expired session still works: {}",
        r.status
    );
    assert_eq!(r.header("location"), Some("/login?next=%2F"));
}

#[tokio::test]
async fn a_password_change_on_the_account_page_ends_every_session_and_token() {
    let f = Fixture::new().await;
    let here = sign_in_page(&f, TARGET, PW).await;
    let elsewhere = sign_in_page(&f, TARGET, PW).await;
    assert_ne!(here, elsewhere);
    let token = f.token(TARGET).await;
    let r = f.send(page("/account", Some(&here))).await;
    assert_eq!(r.status, StatusCode::OK);
    let csrf = csrf_of(&r.text());
    let new_pw = "Harbour-Lantern-73!";

    // Mismatched confirmation: refused, nothing ends.
    let fields = [
        ("_csrf", csrf.as_str()),
        ("current_password", PW),
        ("new_password", new_pw),
        ("confirm_password", "Harbour-Lantern-74!"),
    ];
    let r = f
        .send(
            form_post("/account/password", &here)
                .body(Body::from(url_encode(&fields)))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(
        f.send(page("/", Some(&elsewhere))).await.status,
        StatusCode::OK
    );

    let fields = [
        ("_csrf", csrf.as_str()),
        ("current_password", PW),
        ("new_password", new_pw),
        ("confirm_password", new_pw),
    ];
    let r = f
        .send(
            form_post("/account/password", &here)
                .body(Body::from(url_encode(&fields)))
                .unwrap(),
        )
        .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    assert_eq!(r.header("location"), Some("/login?changed=1"));

    for (name, cookie) in [("this", &here), ("another", &elsewhere)] {
        let r = f.send(page("/", Some(cookie))).await;
        assert!(
            r.status.is_redirection(),
            "{name} session survived the password change: {}",
            r.status
        );
    }
    assert_eq!(
        f.get("/api/v1/me", &token).await.status,
        StatusCode::UNAUTHORIZED,
        "a token survived the password change"
    );
    let again = sign_in_page(&f, TARGET, new_pw).await;
    assert_eq!(f.send(page("/", Some(&again))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unused_one_time_password_expires() {
    let f = Fixture::new().await;
    let admin = f.token(ADMIN).await;
    let r = f
        .api(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(
                &json!({"login": "otp-user", "display_name": "一次性", "org_id": f.tree.school_a}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let otp = r.json()["one_time_password"]
        .as_str()
        .expect("a generated password")
        .to_string();
    assert_eq!(r.json()["user"]["must_change_password"], true);
    let r = f.login("otp-user", &otp).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["must_change_password"], true);

    sqlx::query("UPDATE users SET password_expires_at = 1 WHERE login = 'otp-user'")
        .execute(f.db.pool())
        .await
        .unwrap();
    let expired = f.login("otp-user", &otp).await;
    assert_eq!(
        expired.status,
        StatusCode::UNAUTHORIZED,
        "an expired one-time password still works"
    );
    let wrong = f.login("otp-user", "Wrong-Password-99!").await;
    assert_eq!(
        expired.body, wrong.body,
        "an expired one-time password must look like any failure"
    );
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let f = Fixture::with_config(xiaoan_web::WebConfig {
        login_attempts_per_minute: 3,
        ..Default::default()
    })
    .await;
    assert_eq!(
        f.login(ADMIN, "Wrong-Password-99!").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.login("nobody-here", PW).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(f.login(ADMIN, PW).await.status, StatusCode::OK);
    let r = f.login(ADMIN, PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert_eq!(r.error_code(), "rate_limited");
    // The sign-in form shares the budget.
    let r = f.send(page("/login", None)).await;
    let anon = r.set_cookie(SESSION).unwrap();
    let csrf = csrf_of(&r.text());
    let r = post_login(
        &f,
        &anon,
        &[("_csrf", &csrf), ("login", ADMIN), ("password", PW)],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.set_cookie(SESSION).is_none_or(|c| c == anon),
        "a rate-limited sign-in started a session"
    );
}

#[tokio::test]
async fn a_language_chosen_once_is_remembered() {
    let f = Fixture::new().await;
    let r = f.send(page("/login?lang=en", None)).await;
    assert!(r.text().contains(r#"lang="en""#));
    let lang = r
        .set_cookie("lang")
        .expect("the choice is kept in a cookie");
    assert_eq!(lang, "en");
    let r = f
        .send(
            Request::builder()
                .uri("/login")
                .header(header::COOKIE, "lang=en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        r.text().contains(r#"lang="en""#),
        "the lang cookie was ignored"
    );
    let r = f
        .send(
            Request::builder()
                .uri("/login")
                .header(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        r.text().contains(r#"lang="zh-TW""#),
        "pages default to Traditional Chinese whatever the browser says"
    );
    // The API follows Accept-Language.
    let r = f
        .send(
            api_request("GET", "/api/v1/me", None)
                .header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let cn = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        include_str!("../locales/zh-CN.yml").contains(&format!("error.unauthenticated: \"{cn}\"")),
        "not the Simplified Chinese message: {cn}"
    );
    let r = f.api("GET", "/api/v1/me", None, None).await;
    let tw = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        include_str!("../locales/zh-TW.yml").contains(&format!("error.unauthenticated: \"{tw}\"")),
        "not the Traditional Chinese message: {tw}"
    );
    assert_ne!(cn, tw);
}

#[tokio::test]
async fn the_api_ignores_page_sessions() {
    let f = Fixture::new().await;
    let cookie = sign_in_page(&f, ADMIN, PW).await;
    let r = f
        .send(
            api_request("GET", "/api/v1/me", None)
                .header(header::COOKIE, format!("{SESSION}={cookie}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a page session cookie authenticated an API call"
    );
}

// ---------------------------------------------------------------------------------------
// Known product bugs (these tests fail until the product is fixed).
// ---------------------------------------------------------------------------------------

/// HTTP requires HEAD wherever GET is served; the permission table only knows GET, so the
/// authorisation middleware refuses every HEAD request with 403.
#[tokio::test]
async fn head_is_answered_wherever_get_is() {
    let f = Fixture::new().await;
    let admin = f.token(ADMIN).await;
    let mut wrong = vec![];
    for (path, token) in [
        ("/healthz", None),
        ("/login", None),
        ("/static/app.css", None),
        ("/api/v1/me", Some(admin.as_str())),
    ] {
        let get = f.api("GET", path, token, None).await;
        let head = f.api("HEAD", path, token, None).await;
        if head.status != get.status || !head.body.is_empty() {
            wrong.push(format!(
                "HEAD {path}: {} (GET gives {}) {}",
                head.status,
                get.status,
                head.text()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "HEAD not answered like GET:\n{}",
        wrong.join("\n")
    );
}

/// After sign-in the browser is sent to `next`; it must stay on this site whatever `next`
/// holds. Browsers drop tabs and newlines from a URL before resolving it.
#[tokio::test]
async fn sign_in_never_sends_the_browser_off_site() {
    let f = Fixture::new().await;
    let mut wrong = vec![];
    for next in [
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/orgs",
    ] {
        let r = f.send(page("/login", None)).await;
        let anon = r.set_cookie(SESSION).unwrap();
        let csrf = csrf_of(&r.text());
        let r = post_login(
            &f,
            &anon,
            &[
                ("_csrf", &csrf),
                ("login", ADMIN),
                ("password", PW),
                ("next", next),
            ],
            None,
        )
        .await;
        if !r.status.is_redirection() {
            wrong.push(format!("next={next:?}: {} instead of a redirect", r.status));
            continue;
        }
        let location = r.header("location").unwrap_or_default();
        let resolved: String = location
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect();
        if !resolved.starts_with('/') || resolved.starts_with("//") || resolved.starts_with("/\\") {
            wrong.push(format!(
                "next={next:?}: Location {location:?} leaves the site"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "unsafe redirects after sign-in:\n{}",
        wrong.join("\n")
    );
}
