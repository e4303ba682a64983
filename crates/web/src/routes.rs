//! The one declarative table of every route and the permission it needs. The authorisation
//! middleware looks each request's matched route up here before any handler runs; a route
//! missing from the table is refused (and fails the route × role test).

use xiaoan_domain::Permission::{self, *};

/// One route: method, axum path pattern, required permission.
#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub permission: Permission,
}

const fn r(method: &'static str, path: &'static str, permission: Permission) -> RouteRule {
    RouteRule {
        method,
        path,
        permission,
    }
}

/// Every route of the application.
pub const ROUTES: &[RouteRule] = &[
    // Health and API description.
    r("GET", "/healthz", Public),
    r("GET", "/api/v1/openapi.json", Public),
    // API: authentication and the caller.
    r("POST", "/api/v1/auth/login", Public),
    r("POST", "/api/v1/auth/logout", SelfService),
    r("GET", "/api/v1/me", SelfService),
    r("POST", "/api/v1/me/password", SelfService),
    // API: org tree.
    r("GET", "/api/v1/orgs", OrgRead),
    r("POST", "/api/v1/orgs", OrgManage),
    r("GET", "/api/v1/orgs/{id}", OrgRead),
    r("PATCH", "/api/v1/orgs/{id}", OrgManage),
    // API: users.
    r("GET", "/api/v1/users", UserRead),
    r("POST", "/api/v1/users", UserManage),
    r("GET", "/api/v1/users/{login}", UserRead),
    r("PATCH", "/api/v1/users/{login}", UserManage),
    r("POST", "/api/v1/users/{login}/password", UserManage),
    // API: audit log.
    r("GET", "/api/v1/audit", AuditRead),
    r("GET", "/api/v1/audit/verify", AuditRead),
    // API: hazards and their photos.
    r("POST", "/api/v1/hazards", HazardReport),
    r("GET", "/api/v1/hazards", HazardRead),
    r("GET", "/api/v1/hazards/counts", HazardRead),
    r("GET", "/api/v1/hazards/export.xlsx", HazardExport),
    r("GET", "/api/v1/hazards/{id}", HazardRead),
    r("POST", "/api/v1/hazards/{id}/transitions", HazardRead),
    r("POST", "/api/v1/attachments", HazardReport),
    r("GET", "/api/v1/attachments/{id}", HazardRead),
    // API: campaign plan, records and compliance.
    r("GET", "/api/v1/obligations", PlanRead),
    r("GET", "/api/v1/record-kinds", RecordRead),
    r("GET", "/api/v1/records", RecordRead),
    r("POST", "/api/v1/records", RecordWrite),
    r("PATCH", "/api/v1/records/{id}", RecordWrite),
    r("GET", "/api/v1/compliance", PlanRead),
    r("POST", "/api/v1/compliance/recompute", PlanManage),
    // Pages.
    r("GET", "/static/app.css", Public),
    r("GET", "/login", Public),
    r("POST", "/login", Public),
    r("POST", "/logout", SelfService),
    r("GET", "/", SelfService),
    r("GET", "/account", SelfService),
    r("POST", "/account/password", SelfService),
    r("GET", "/orgs", OrgRead),
    r("GET", "/orgs/new", OrgManage),
    r("POST", "/orgs", OrgManage),
    r("GET", "/orgs/{id}", OrgRead),
    r("POST", "/orgs/{id}", OrgManage),
    r("GET", "/users", UserRead),
    r("GET", "/users/new", UserManage),
    r("POST", "/users", UserManage),
    r("GET", "/users/{login}", UserRead),
    r("POST", "/users/{login}", UserManage),
    r("POST", "/users/{login}/roles", UserManage),
    r("POST", "/users/{login}/status", UserManage),
    r("POST", "/users/{login}/password", UserManage),
    r("GET", "/audit", AuditRead),
    r("GET", "/hazards", HazardRead),
    r("POST", "/hazards", HazardReport),
    r("GET", "/hazards/new", HazardReport),
    r("GET", "/hazards/lists", HazardExport),
    r("GET", "/hazards/export.xlsx", HazardExport),
    r("GET", "/hazards/{id}", HazardRead),
    r("POST", "/hazards/{id}/transitions", HazardRead),
    r("GET", "/attachments/{id}", HazardRead),
    r("GET", "/due", PlanRead),
    r("GET", "/compliance", PlanRead),
    r("GET", "/compliance/cell", PlanRead),
    r("POST", "/compliance/recompute", PlanManage),
    r("GET", "/campaign", PlanRead),
    r("GET", "/campaign/sections", PlanRead),
    r("GET", "/calendar", PlanRead),
    r("POST", "/calendar/terms", CalendarManage),
    r("POST", "/calendar/terms/remove", CalendarManage),
    r("POST", "/calendar/days", CalendarManage),
    r("POST", "/calendar/days/remove", CalendarManage),
    r("GET", "/records", RecordRead),
    r("POST", "/records", RecordWrite),
    r("GET", "/records/new", RecordWrite),
    r("GET", "/records/{id}", RecordRead),
    r("POST", "/records/{id}", RecordWrite),
    r("POST", "/records/{id}/withdraw", RecordWrite),
    r("POST", "/records/{id}/hazards", HazardReport),
];

/// The rule for a method and matched path, if the table has one.
/// HEAD is answered wherever GET is, under the GET rule.
pub fn lookup(method: &str, path: &str) -> Option<&'static RouteRule> {
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}
