//! Route registration. A feature declares each route once — method, path, the permission it
//! needs and its handler — through [`Routes`]; API routes take their method and path from the
//! handler's OpenAPI annotation. The application's [`RouteTable`] is assembled from what the
//! features declared, never written by hand, and the authorisation middleware looks every
//! request's matched route up in it before any handler runs.

use crate::kit::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use utoipa::openapi::path::PathItem;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use xiaoan_domain::Permission;

/// One route: method, axum path pattern, required permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: String,
    pub permission: Permission,
}

/// Every route of the application, as the features declared them.
#[derive(Clone, Default)]
pub struct RouteTable(Vec<RouteRule>);

impl std::fmt::Debug for RouteTable {
    // Callers carry the table; their debug output shows its size, not every route.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RouteTable({} routes)", self.0.len())
    }
}

/// What the table says about a method at a matched path.
pub enum Lookup<'a> {
    /// The route and its rule.
    Found(&'a RouteRule),
    /// The path exists, but not with this method; the methods it has.
    WrongMethod(Vec<&'static str>),
    /// The path is not in the table.
    Missing,
}

impl RouteTable {
    /// The rules, in declaration order.
    pub fn rules(&self) -> &[RouteRule] {
        &self.0
    }

    /// The rule for a method and matched path. HEAD is answered wherever GET is, under the
    /// GET rule.
    pub fn lookup(&self, method: &str, path: &str) -> Lookup<'_> {
        let method = if method == "HEAD" { "GET" } else { method };
        if let Some(r) = self.0.iter().find(|r| r.method == method && r.path == path) {
            return Lookup::Found(r);
        }
        let mut allowed: Vec<&'static str> = self
            .0
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.method)
            .collect();
        if allowed.is_empty() {
            return Lookup::Missing;
        }
        if allowed.contains(&"GET") {
            allowed.push("HEAD");
        }
        Lookup::WrongMethod(allowed)
    }

    /// The table as text, one `METHOD path permission` line per route sorted by path then
    /// method: what the snapshot test keeps, so that every permission change shows in review.
    pub fn describe(&self) -> String {
        let mut lines: Vec<String> = self
            .0
            .iter()
            .map(|r| format!("{:<6} {:<40} {:?}", r.method, r.path, r.permission))
            .collect();
        lines.sort_by(|a, b| a[7..].cmp(&b[7..]).then(a.cmp(b)));
        lines.join("\n") + "\n"
    }
}

/// A feature's routes under construction: the axum router, the OpenAPI router of its API
/// routes, and the rule of each route.
pub struct Routes {
    pages: Router<AppState>,
    api: OpenApiRouter<AppState>,
    rules: Vec<RouteRule>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

fn method_name(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        _ => "HEAD",
    }
}

/// The methods an OpenAPI path item documents.
fn documented_methods(item: &PathItem) -> Vec<&'static str> {
    [
        ("GET", item.get.is_some()),
        ("PUT", item.put.is_some()),
        ("POST", item.post.is_some()),
        ("DELETE", item.delete.is_some()),
        ("OPTIONS", item.options.is_some()),
        ("HEAD", item.head.is_some()),
        ("PATCH", item.patch.is_some()),
        ("TRACE", item.trace.is_some()),
    ]
    .into_iter()
    .filter_map(|(m, present)| present.then_some(m))
    .collect()
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Routes {
        Routes {
            pages: Router::new(),
            api: OpenApiRouter::new(),
            rules: Vec::new(),
        }
    }

    /// A route answering `method` at `path` with `handler` (already a method router, e.g.
    /// with a body limit layered on), open to holders of `permission`.
    pub fn route(
        mut self,
        method: axum::http::Method,
        path: &'static str,
        permission: Permission,
        handler: MethodRouter<AppState>,
    ) -> Routes {
        self.rules.push(RouteRule {
            method: method_name(&method),
            path: path.to_string(),
            permission,
        });
        self.pages = self.pages.route(path, handler);
        self
    }

    /// `GET path` for holders of `permission`.
    pub fn get<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(
            axum::http::Method::GET,
            path,
            permission,
            on(MethodFilter::GET, handler),
        )
    }

    /// `POST path` for holders of `permission`.
    pub fn post<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(
            axum::http::Method::POST,
            path,
            permission,
            on(MethodFilter::POST, handler),
        )
    }

    /// An API route for holders of `permission`: one handler from `utoipa_axum::routes!`,
    /// whose method and path come from its `#[utoipa::path]` annotation.
    pub fn api(mut self, permission: Permission, route: UtoipaMethodRouter<AppState>) -> Routes {
        for (path, item) in &route.1.paths {
            for method in documented_methods(item) {
                self.rules.push(RouteRule {
                    method,
                    path: path.clone(),
                    permission,
                });
            }
        }
        self.api = self.api.routes(route);
        self
    }

    /// These routes and `other`'s.
    pub fn merge(mut self, other: Routes) -> Routes {
        self.pages = self.pages.merge(other.pages);
        self.api = self.api.merge(other.api);
        self.rules.extend(other.rules);
        self
    }

    /// The axum router of every route, the OpenAPI document of the API routes (merged into
    /// `doc`), and the route table.
    pub fn into_parts(
        self,
        doc: utoipa::openapi::OpenApi,
    ) -> (Router<AppState>, utoipa::openapi::OpenApi, RouteTable) {
        let (api, mut doc) = OpenApiRouter::with_openapi(doc)
            .merge(self.api)
            .split_for_parts();
        let table = RouteTable(self.rules);
        super::openapi::complete(&mut doc, &table);
        (self.pages.merge(api), doc, table)
    }
}
