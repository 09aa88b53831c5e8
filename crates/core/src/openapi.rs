//! The OpenAPI 3.1 description of every route of the four functions, generated from the
//! handlers' `#[utoipa::path]` annotations and the types they use. The routers are built from
//! the same annotations (utoipa-axum), so a route cannot exist without its description.
//!
//! Errors every route can answer (malformed input, authentication, database outage…) are
//! added here once, by [`add_common_errors`], rather than repeated on each handler.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        Ref, RefOr, ResponseBuilder,
        content::ContentBuilder,
        path::Operation,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_axum::router::OpenApiRouter;

use crate::{
    chat::{StreamDelta, StreamDone, StreamStart, StreamTitle},
    error::ErrorBody,
    http,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Oracle & TCM chat API",
        description = "The backend of a chat app with two assistants, `oracle` (an I Ching-style divination guide) and `tcm` (a Traditional Chinese Medicine wellness adviser). Served by four Function Compute functions behind one domain: `auth-register`, `auth-login`, `chat`, `admin-export`.\n\nErrors are always `{\"error\":{\"code\",\"message\"}}`.",
        version = env!("CARGO_PKG_VERSION"),
        license(name = "MIT")
    ),
    components(schemas(ErrorBody, StreamStart, StreamDelta, StreamDone, StreamTitle)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions (functions `auth-register`, `auth-login`)"),
        (name = "account", description = "The account's own controls: password, address verification, devices, its data (function `auth-login`)"),
        (name = "chat", description = "The assistants and the conversation history (function `chat`)"),
        (name = "oracle", description = "The oracle's castings and journal (function `chat`)"),
        (name = "constitution", description = "The TCM constitution self-assessment (function `chat`)"),
        (name = "attachments", description = "Pictures sent with messages: upload forms, deletion (function `chat`)"),
        (name = "admin", description = "Administration, ADMIN role only (function `admin-export`)"),
        (name = "health", description = "Served by every function"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The `token` from register or login"))
                    .build(),
            ),
        );
    }
}

/// The whole description, as served at `/api/openapi.json` and committed as `openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::all_routes().merge(http::health_routes()).documented())
        .split_for_parts();
    add_common_errors(&mut document);
    document
}

/// The document as pretty-printed JSON with a trailing newline (the committed file's form).
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// Adds the error responses that follow from an operation's shape, unless it documents them
/// itself: 400/413/415/422 for request bodies, 400 for parameters, 401/403 for authenticated
/// routes, and 500/503 everywhere.
fn add_common_errors(document: &mut utoipa::openapi::OpenApi) {
    for (path, item) in document.paths.paths.iter_mut() {
        let admin = path.starts_with("/api/admin/");
        let operations =
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten();
        for operation in operations {
            let has_body = operation.request_body.is_some();
            let has_params = operation.parameters.as_ref().is_some_and(|params| !params.is_empty());
            let secured = operation.security.as_ref().is_some_and(|security| !security.is_empty());
            if has_body || has_params {
                add(operation, 400, "Malformed JSON body (`malformed_json`) or query string (`invalid_query`)");
            }
            if has_body {
                add(operation, 413, "The body is larger than 64 KiB (`payload_too_large`)");
                add(operation, 415, "The body is not `application/json` (`unsupported_media_type`)");
                add(operation, 422, "The body does not have the expected shape (`invalid_body`) or breaks a rule");
            }
            if secured {
                add(operation, 401, "Missing, invalid or expired session token (`missing_token`, `invalid_token`)");
                let forbidden = if admin {
                    "Not an administrator (`admin_only`), or the account is banned (`account_banned`)"
                } else {
                    "The account is banned (`account_banned`)"
                };
                add(operation, 403, forbidden);
            }
            add(operation, 500, "Internal error (`internal_error`); details are in the logs under the request id");
            add(operation, 503, "The database is unavailable (`database_unavailable`); retry shortly");
        }
    }
}

fn add(operation: &mut Operation, status: u16, description: &str) {
    let error = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    operation.responses.responses.entry(status.to_string()).or_insert_with(|| {
        RefOr::T(ResponseBuilder::new().description(description).content("application/json", error).build())
    });
}
