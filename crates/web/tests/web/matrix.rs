//! The route × role matrix, completeness of the route table against the OpenAPI document,
//! and bearer tokens on every API route.

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use xiaoan_domain::{Permission, Role};
use xiaoan_testkit::TestApp;
use xiaoan_web::kit::routes::RouteRule;

const LOGOUT: &str = "/api/v1/auth/logout";

/// API routes on objects of one person or one item, which the fixture's id does not name.
const PERSONAL: [&str; 8] = [
    "/api/v1/devices/{id}",
    "/api/v1/gateways/{id}",
    "/api/v1/silences/{id}",
    "/api/v1/alarms/{id}",
    "/api/v1/inbox/{id}",
    "/api/v1/announcements/{id}",
    "/api/v1/notification-channels/{id}",
    "/api/v1/supervision/{id}",
];

fn all_routes() -> Vec<RouteRule> {
    xiaoan_web::route_table().rules().to_vec()
}

fn api_routes() -> Vec<RouteRule> {
    all_routes()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect()
}

fn page_routes() -> Vec<RouteRule> {
    all_routes()
        .into_iter()
        .filter(|r| !r.path.starts_with("/api/"))
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

#[test]
fn the_route_table_is_the_reviewed_one() {
    // Every route with the permission it needs, as the features declare them. A change to
    // any route or permission changes this snapshot and shows in review.
    insta::assert_snapshot!("route_table", xiaoan_web::route_table().describe());
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
        .filter(|r| !(r.method == "POST" && r.path == LOGOUT))
        .collect();
    let has_logout = ordered.len() < routes.len();
    ordered.extend(
        routes
            .iter()
            .filter(|r| r.method == "POST" && r.path == LOGOUT),
    );

    let (mut denied, mut allowed) = (0, 0);
    for role in Role::ALL {
        let token = f.token(&role_login(role)).await;
        for rule in &ordered {
            let path = f.concrete(&rule.path);
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
            // A device's route takes the device's secret, which no person's token is.
            if rule.permission == Permission::Device {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                continue;
            }
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
                // either succeeds or only complains about the empty body. Objects that
                // belong to one person or item (an inbox entry, an announcement received,
                // a channel, a supervision item) are not the fixture's id: not found, or
                // in the wrong state for the step, is their allowed answer.
                let personal = PERSONAL.iter().any(|p| rule.path.starts_with(p));
                assert!(
                    r.status.is_success()
                        || r.status == StatusCode::BAD_REQUEST
                        || (personal
                            && matches!(r.status, StatusCode::NOT_FOUND | StatusCode::CONFLICT)),
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
    for rule in &routes {
        let path = f.concrete(&rule.path);
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
    let doc = xiaoan_web::openapi();
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
    let table: BTreeSet<(String, String)> = all_routes()
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

/// Whether a page response is the "not allowed" error page.
fn is_forbidden_page(r: &xiaoan_testkit::Resp) -> bool {
    r.status == StatusCode::FORBIDDEN
}

#[tokio::test]
async fn every_page_route_answers_every_role_as_the_permission_table_says() {
    use xiaoan_testkit::{csrf_of, page, post_form, sign_in_page};
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
    let routes = page_routes();
    assert!(
        routes.len() >= 40,
        "suspiciously few page routes in the table: {}",
        routes.len()
    );
    // Signing out ends the session, so it goes last for each role.
    let mut ordered: Vec<&RouteRule> = routes
        .iter()
        .filter(|r| !(r.method == "POST" && r.path == "/logout"))
        .collect();
    ordered.extend(
        routes
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/logout"),
    );
    let (mut denied, mut allowed) = (0, 0);
    for role in Role::ALL {
        let cookie = sign_in_page(&f, &role_login(role), xiaoan_testkit::PW).await;
        let csrf = csrf_of(&f.send(page("/account", Some(&cookie))).await.text());
        for rule in &ordered {
            let path = f.concrete(&rule.path);
            let r = match rule.method {
                "GET" => f.send(page(&path, Some(&cookie))).await,
                "POST" => post_form(&f, &path, &cookie, &[("_csrf", &csrf)]).await,
                m => panic!("a page route with method {m}: {}", rule.path),
            };
            let what = format!("{role:?} → {} {path}: {}", rule.method, r.status);
            let open = matches!(
                rule.permission,
                Permission::Public | Permission::SelfService
            );
            if !open && !rule.permission.granted_to(role) {
                assert!(is_forbidden_page(&r), "{what}");
                denied += 1;
            } else {
                assert!(!is_forbidden_page(&r), "{what} {}", r.text());
                assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                assert!(!r.status.is_server_error(), "{what} {}", r.text());
                let to_login = r
                    .header("location")
                    .is_some_and(|l| l.starts_with("/login"));
                assert!(
                    !to_login || rule.path == "/logout",
                    "{what}: sent to sign in"
                );
                allowed += 1;
            }
        }
    }
    assert!(
        denied > 0 && allowed > 0,
        "the matrix checked nothing (denied {denied}, allowed {allowed})"
    );
}

#[tokio::test]
async fn a_wrong_method_answers_405_with_the_allowed_ones() {
    let f = TestApp::new().await;
    let r = f.api("DELETE", "/api/v1/hazards", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text());
    assert_eq!(r.error_code(), "method_not_allowed");
    let allow = r.header("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

#[test]
fn the_openapi_document_says_where_each_parameter_goes_and_what_each_answer_can_be() {
    let doc = serde_json::to_value(xiaoan_web::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let what = format!("{method} {path}");
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    p["in"].as_str().unwrap() == "path",
                    in_path,
                    "{what}: parameter {name} is declared in {}",
                    p["in"]
                );
            }
            let responses = op["responses"].as_object().unwrap();
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{what} lacks 401");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(responses.contains_key(status), "{what} lacks {status}");
                }
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{what} lacks 404");
            }
        }
    }
    assert!(operations >= 25, "{operations}");
    assert!(paths["/api/v1/auth/login"]["post"]["responses"]["429"].is_object());
    // Codes list their allowed values, from the domain's own enums.
    let schemas = &doc["components"]["schemas"];
    let categories = schemas["Category"]["enum"].as_array().unwrap();
    assert!(
        categories.iter().any(|c| c == "canteen_food"),
        "{categories:?}"
    );
    assert!(schemas["HazardStatus"]["enum"].as_array().unwrap().len() >= 6);
    for (schema, code) in [
        ("OrgKind", "centre"),
        ("SchoolType", "vocational"),
        ("Role", "safety_officer"),
        ("ComplianceStatus", "not_applicable"),
        ("Escalation", "listed"),
    ] {
        let values = schemas[schema]["enum"].as_array();
        assert!(
            values.is_some_and(|v| v.iter().any(|c| c == code)),
            "{schema} lacks {code}: {values:?}"
        );
    }
    // A step names its action; each action carries its own fields.
    let steps = serde_json::to_string(&schemas["TransitionIn"]).unwrap();
    for action in ["register", "send_back", "plan", "reopen"] {
        assert!(
            steps.contains(&format!("\"{action}\"")),
            "{action}: {steps}"
        );
    }
    // Two answers with the same type name would silently share one schema.
    let created = serde_json::to_string(&schemas["HazardCreatedOut"]).unwrap();
    assert!(created.contains("possible_duplicates"), "{created}");
    let account = serde_json::to_string(&schemas["CreatedOut"]).unwrap();
    assert!(account.contains("one_time_password"), "{account}");
    let list = paths["/api/v1/hazards"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let status = list.iter().find(|p| p["name"] == "status").unwrap();
    assert_eq!(status["in"], "query");
}
