//! The HTTP layer shared by every function: the middleware stack, the JSON extractors that turn
//! client mistakes into our error JSON, client metadata, and `/api/health`.
//!
//! Each area module (`auth`, `admin`, `chat`) exposes its own `Router<AppState>`; [`app`] wraps
//! whichever routers a binary serves with the same stack, so a route behaves identically in a
//! single function, in the local stack and in tests.

mod extract;

use std::time::Duration;

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderName, HeaderValue, Method, Request, header},
    response::IntoResponse,
};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use extract::{AppJson, AppQuery, ClientMeta};

use crate::{error::AppError, state::AppState};

/// Request bodies larger than this get 413. The largest legitimate body (a chat turn with its
/// history) is far below it.
pub const BODY_LIMIT: usize = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const FC_REQUEST_ID: HeaderName = HeaderName::from_static("x-fc-request-id");

/// Wraps `routes` (plus `/api/health`) with the middleware every function shares.
pub fn app(state: AppState, routes: OpenApiRouter<AppState>) -> Router {
    let cors = cors_layer(&state.config.allowed_origins);
    let (routes, _openapi) = routes.merge(health_router()).split_for_parts();
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(|_panic| AppError::internal("a handler panicked").into_response()))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, FcOrRandomRequestId))
}

/// Uses Function Compute's `x-fc-request-id` when present (so our log lines match FC's), else
/// a fresh UUID.
#[derive(Clone, Copy)]
struct FcOrRandomRequestId;

impl MakeRequestId for FcOrRandomRequestId {
    fn make_request_id<B>(&mut self, request: &Request<B>) -> Option<RequestId> {
        let id = request.headers().get(FC_REQUEST_ID).cloned().unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a valid header")
        });
        Some(RequestId::new(id))
    }
}

/// CORS from `ALLOWED_ORIGINS`. Tokens travel in the `Authorization` header, never in cookies,
/// so credentials are never allowed; `*` therefore is safe to offer, and an empty list means
/// same-origin only (no CORS headers at all).
fn cors_layer(allowed_origins: &[String]) -> CorsLayer {
    let origins = if allowed_origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            allowed_origins.iter().filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::RETRY_AFTER, REQUEST_ID, header::CONTENT_DISPOSITION])
        .max_age(Duration::from_secs(600))
}

/// `GET /api/health`, served by every function.
pub fn health_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process is serving.
    #[schema(example = "ok")]
    pub status: String,
    /// `up` or `down`.
    #[schema(example = "up")]
    pub database: String,
}

/// Liveness and database status. Always 200 (so FC's health check never recycles an instance
/// because the database blinked), with the database's state in the body.
#[utoipa::path(get, path = "/api/health", tag = "health", responses((status = 200, description = "The process serves", body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    let database = match state.db.execute_unprepared("SELECT 1").await {
        Ok(_) => "up",
        Err(err) => {
            tracing::warn!(error = %err, "health check: database unreachable");
            "down"
        }
    };
    Json(Health { status: "ok".into(), database: database.into() })
}

async fn not_found() -> AppError {
    AppError::NotFound("route")
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
