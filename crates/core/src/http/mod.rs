//! The HTTP layer shared by every function: the middleware stack, the JSON extractors that turn
//! client mistakes into our error JSON, client metadata, and `/api/health`.
//!
//! Each area module (`auth`, `admin`, `chat`) declares its routes ([`ApiRoutes`]); [`app`] wraps
//! whichever routes a binary serves with the same stack, so a route behaves identically in a
//! single function, in the local stack and in tests.

mod extract;
pub mod routes;

use std::time::Duration;

use axum::{
    Json, Router,
    body::{Body, HttpBody},
    extract::{DefaultBodyLimit, State},
    http::{HeaderName, HeaderValue, Method, Request, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use utoipa::ToSchema;

pub use extract::{AppJson, AppPath, AppQuery, ClientMeta};
pub use routes::ApiRoutes;

use crate::{db, error::AppError, state::AppState};

/// Request bodies larger than this get 413. The largest legitimate body (a chat turn with its
/// history) is far below it.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The largest `/invoke` event accepted: a [`BODY_LIMIT`] body as the event carries it (as
/// Base64, 4/3 of it, or as a JSON string, where escaping can make a character six: `\u0001`),
/// FC's 8 KiB of headers and the event's JSON around them, rounded up to 400 KiB. (FC itself
/// would pass up to 32 MB; buffering that much per connection is what an instance cannot afford.)
pub const MAX_EVENT_BYTES: usize = 400 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const FC_REQUEST_ID: HeaderName = HeaderName::from_static("x-fc-request-id");

/// Wraps `routes` (plus `/api/health`) with the middleware every function shares.
///
/// The middleware wraps the router once, as one service, outermost first. (`Router::layer`
/// would wrap every route's handlers one by one, building routes × layers boxed services at
/// each cold start; the requests see the same stack either way, 404s and 405s included.)
pub fn app(state: AppState, routes: Router<AppState>) -> Router {
    let cors = cors_layer(&state.config.allowed_origins);
    let routes = routes
        .merge(health_routes().router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    let service = ServiceBuilder::new()
        .layer(middleware::map_request(use_fc_request_id))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // No API answer is for caches (they carry accounts, tokens, conversations), and none
        // is to be sniffed into another type.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(cors)
        .layer(CatchPanicLayer::custom(|_panic| AppError::internal("a handler panicked").into_response()))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(refuse_oversized_bodies))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .service(routes);
    Router::new().fallback_service(service)
}

/// Behind Function Compute, FC's `x-fc-request-id` becomes the request id (so our log lines
/// match FC's), replacing any `x-request-id` the client sent. Elsewhere a client's
/// `x-request-id` is kept, and a request without one gets a fresh UUID (`SetRequestIdLayer`).
async fn use_fc_request_id(mut request: Request<Body>) -> Request<Body> {
    if let Some(fc_request_id) = request.headers().get(FC_REQUEST_ID).cloned() {
        request.headers_mut().insert(REQUEST_ID, fc_request_id);
    }
    request
}

/// Refuses a request whose declared size (`Content-Length`, or the body's exact size) is over
/// [`BODY_LIMIT`] before routing and extractors run, so every route answers 413 (even one that
/// never reads its body) and nothing is done on its behalf. A body of unknown length (chunked)
/// is cut off at the limit by `DefaultBodyLimit` as it is read.
async fn refuse_oversized_bodies(request: Request<Body>, next: Next) -> Response {
    // The local directory's upload target takes a picture: it reads its body as a stream with
    // limits of its own (`attachments::local`).
    let limit = match request.uri().path() == crate::storage::local::UPLOAD_PATH {
        true => crate::attachments::local::UPLOAD_BODY_LIMIT,
        false => BODY_LIMIT as u64,
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .and_then(|length| length.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let size = declared.max(request.body().size_hint().lower());
    if size > limit {
        return AppError::PayloadTooLarge.into_response();
    }
    next.run(request).await
}

/// The methods CORS allows: every method a route serves (the deploy checks read the route table
/// and fail when one is missing here), and OPTIONS for the preflights.
pub const CORS_METHODS: [Method; 6] =
    [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];

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
        .allow_methods(CORS_METHODS)
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::RETRY_AFTER, REQUEST_ID, header::CONTENT_DISPOSITION])
        .max_age(Duration::from_secs(600))
}

/// `GET /api/health`, served by every function.
pub fn health_routes() -> ApiRoutes {
    routes::api_routes![health]
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process is serving.
    #[schema(example = "ok")]
    pub status: String,
    /// `up` or `down`.
    #[schema(example = "up")]
    pub database: String,
    /// `current`, `missing` (no migrations applied), `outdated` (older than this version needs)
    /// or `unknown` (the database did not answer). Not `current`: run `make migrate`.
    #[schema(example = "current")]
    pub schema: String,
}

/// The longest `/api/health` waits for the database: below FC's health-check timeout (1–3 s),
/// so a database that does not answer shows as `down` instead of failing the check.
pub const HEALTH_DEADLINE: Duration = Duration::from_millis(1500);

/// Liveness and database status. Always 200 (so FC's health check never recycles an instance
/// because the database blinked), within 1.5 s, with the database's and schema's state in the
/// body.
#[utoipa::path(get, path = "/api/health", tag = "health", responses((status = 200, description = "The process serves", body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    let deadline = HEALTH_DEADLINE.min(state.db.deadline());
    let schema = match db::bounded(deadline, db::schema_state(&state.db)).await {
        Ok(schema) => schema,
        Err(err) => {
            tracing::warn!(error = %err, "health check: database unreachable");
            db::SchemaState::Unknown
        }
    };
    let database = if schema == db::SchemaState::Unknown { "down" } else { "up" };
    Json(Health { status: "ok".into(), database: database.into(), schema: schema.as_str().into() })
}

async fn not_found() -> AppError {
    AppError::NotFound("route")
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
