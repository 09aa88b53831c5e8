//! Each area declares its routes once, with [`api_routes!`], from the handlers'
//! `#[utoipa::path]` annotations (method and path come from there, so a route cannot exist
//! without its description). The declaration yields them in two forms:
//!
//! - [`ApiRoutes::router`], a plain axum `Router`: what the functions, the local stack and the
//!   tests serve. Building it reads only each handler's method and path.
//! - [`ApiRoutes::documented`], a utoipa-axum `OpenApiRouter`: the same routes with their
//!   operations and schemas, for the OpenAPI document (`openapi.json`) and the route-table
//!   checks of `s.yaml`.
//!
//! Keeping the second out of the functions matters at a cold start: building every operation
//! and schema took ~0.6 ms of a ~4 ms start (BENCHMARKS.md), for a document they throw away.

use axum::{Router, handler::Handler, routing::MethodRouter};
use utoipa::openapi::path::HttpMethod;
use utoipa_axum::{PathItemExt, router::OpenApiRouter};

use crate::state::AppState;

/// Routes declared with [`api_routes!`], possibly merged from several areas.
#[derive(Clone, Default)]
pub struct ApiRoutes {
    areas: Vec<Area>,
}

#[derive(Clone, Copy)]
struct Area {
    router: fn() -> Router<AppState>,
    documented: fn() -> OpenApiRouter<AppState>,
}

impl ApiRoutes {
    /// What [`api_routes!`] expands to; use the macro.
    pub(crate) fn new(router: fn() -> Router<AppState>, documented: fn() -> OpenApiRouter<AppState>) -> Self {
        Self { areas: vec![Area { router, documented }] }
    }

    /// These routes and `other`'s, as one set.
    pub fn merge(mut self, other: ApiRoutes) -> Self {
        self.areas.extend(other.areas);
        self
    }

    /// The routes to serve. (The first area's router is the base: merging into an empty router
    /// would insert every route a second time.)
    pub fn router(&self) -> Router<AppState> {
        self.areas.iter().map(|area| (area.router)()).reduce(Router::merge).unwrap_or_default()
    }

    /// The same routes with their OpenAPI operations and schemas.
    pub fn documented(&self) -> OpenApiRouter<AppState> {
        self.areas.iter().fold(OpenApiRouter::new(), |router, area| router.merge((area.documented)()))
    }
}

/// One handler's method router for the methods its annotation names.
pub(crate) fn method_router<H, T>(methods: Vec<HttpMethod>, handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    methods.iter().fold(MethodRouter::new(), |router, method| router.on(method.to_method_filter(), handler.clone()))
}

/// `api_routes![login, session, logout]`: the [`ApiRoutes`] of handlers annotated with
/// `#[utoipa::path]`, named as the module that defines them names them (the macro also uses the
/// `__path_<handler>` type the annotation generates beside each handler).
macro_rules! api_routes {
    ($($handler:ident),+ $(,)?) => {
        $crate::http::ApiRoutes::new(
            || {
                ::axum::Router::new()$(
                    .route(
                        &::utoipa_axum::paste! { <[<__path_ $handler>] as ::utoipa::Path>::path() },
                        $crate::http::routes::method_router(
                            ::utoipa_axum::paste! { <[<__path_ $handler>] as ::utoipa::Path>::methods() },
                            $handler,
                        ),
                    )
                )+
            },
            || ::utoipa_axum::router::OpenApiRouter::new()$(.routes(::utoipa_axum::routes!($handler)))+,
        )
    };
}

pub(crate) use api_routes;
