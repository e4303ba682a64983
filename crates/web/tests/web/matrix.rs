//! The route × role matrix, completeness of the route table against the OpenAPI document,
//! and bearer tokens on every API route.

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use xiaoan_domain::{Permission, Role};
use xiaoan_testkit::TestApp;
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
    ("POST", "/api/v1/hazards", Permission::HazardReport),
    ("GET", "/api/v1/hazards", Permission::HazardRead),
    ("GET", "/api/v1/hazards/counts", Permission::HazardRead),
    (
        "GET",
        "/api/v1/hazards/export.xlsx",
        Permission::HazardExport,
    ),
    ("GET", "/api/v1/hazards/{id}", Permission::HazardRead),
    (
        "POST",
        "/api/v1/hazards/{id}/transitions",
        Permission::HazardRead,
    ),
    ("POST", "/api/v1/attachments", Permission::HazardReport),
    ("GET", "/api/v1/attachments/{id}", Permission::HazardRead),
    ("GET", "/api/v1/obligations", Permission::PlanRead),
    ("GET", "/api/v1/record-kinds", Permission::RecordRead),
    ("GET", "/api/v1/records", Permission::RecordRead),
    ("POST", "/api/v1/records", Permission::RecordWrite),
    ("PATCH", "/api/v1/records/{id}", Permission::RecordWrite),
    ("GET", "/api/v1/compliance", Permission::PlanRead),
    (
        "POST",
        "/api/v1/compliance/recompute",
        Permission::PlanManage,
    ),
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
    let f = TestApp::new().await;
    for role in Role::ALL {
        let org = f.tree.of_kind(role.assignable_at()[0]);
        f.add_role_user(
            &role_login(role),
            &format!("角色 {}", role.code()),
            role,
            org,
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
    let f = TestApp::new().await;
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
    let f = TestApp::new().await;
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
