//! Sessions: login, the session check and logout (the `auth-login` function's own routes), the
//! extractors every other route authenticates with, and the primitives the account area builds
//! on (starting and ending sessions, password rules and hashing, who becomes an administrator).
//! Registration is the account area's (`account::registration`), as it sends the first mail.
//!
//! Contract (the seed's `src/lib/api.ts`): `POST /api/auth/register` and `POST /api/auth/login`
//! take `{email,password}` and answer `{user:{id,email,role},token}`; the token goes back as
//! `Authorization: Bearer …`.

pub mod admin_emails;
mod extract;
pub mod password;
mod service;
pub mod token;

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use extract::{AdminUser, AuthUser, LAST_USED_EVERY};
pub use service::{
    Credentials, MAX_EMAIL_BYTES, NewSession, banned, end_all_sessions, login_meters, normalize_email, start_session,
    sweep_sessions, validate_email, void_reset_links,
};

use crate::{
    entities::{Role, user},
    error::AppResult,
    error::ErrorBody,
    http::{ApiRoutes, AppJson, AppQuery, ClientMeta, routes::api_routes},
    state::AppState,
};

/// Routes of the `auth-login` function.
pub fn login_router() -> ApiRoutes {
    api_routes![login, session, logout]
}

/// The public view of an account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// Whether the owner has confirmed the address (a verification link or the operator).
    #[serde(rename = "emailVerified")]
    pub email_verified: bool,
    /// The terms version the account accepted (`null`: none); the site asks again when
    /// `GET /api/chat/about` names another.
    #[serde(rename = "acceptedTerms")]
    pub accepted_terms: Option<String>,
    /// When the account consented to the processing of health information (`null`: not given).
    #[serde(rename = "healthConsentAt")]
    pub health_consent_at: Option<DateTime<Utc>>,
    /// An administrator restricted the account's chat until then.
    #[serde(rename = "restrictedUntil")]
    pub restricted_until: Option<DateTime<Utc>>,
}

impl From<&user::Model> for UserView {
    fn from(user: &user::Model) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            role: user.role,
            email_verified: user.email_verified_at.is_some(),
            accepted_terms: user.terms_version.clone(),
            health_consent_at: user.health_consent_at,
            restricted_until: user.restricted_until,
        }
    }
}

/// A new session: the account and its bearer token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    pub token: String,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    pub user: UserView,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutQuery {
    /// End every session of the account, not just this one.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogoutResponse {
    /// How many sessions ended.
    pub revoked: u64,
}

/// Log in with email and password.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in", body = AuthResponse),
        (status = 401, description = "Wrong email or password (`invalid_credentials`); the same answer for unknown emails", body = ErrorBody),
        (status = 403, description = "The account is banned (`account_banned`)", body = ErrorBody),
        (status = 429, description = "Too many failed logins (`rate_limited`); see `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "More password checks are waiting than the instance can run (`overloaded`, with `Retry-After`), or the database is unavailable (`database_unavailable`, `database_schema_outdated`)", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    client: ClientMeta,
    AppJson(credentials): AppJson<Credentials>,
) -> AppResult<Json<AuthResponse>> {
    let session = service::login(&state, credentials, &client).await?;
    Ok(Json(session.into()))
}

/// The current session's account and expiry.
#[utoipa::path(
    get,
    path = "/api/auth/session",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The session is valid", body = SessionResponse))
)]
async fn session(auth: AuthUser) -> Json<SessionResponse> {
    Json(SessionResponse { user: UserView::from(&auth.user), expires: auth.expires })
}

/// End this session (or, with `all=true`, every session of the account).
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    params(LogoutQuery),
    responses((status = 200, description = "Sessions ended", body = LogoutResponse))
)]
async fn logout(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: AuthUser,
    AppQuery(query): AppQuery<LogoutQuery>,
) -> AppResult<Json<LogoutResponse>> {
    let revoked = service::logout(&state, &auth, query.all, &client).await?;
    Ok(Json(LogoutResponse { revoked }))
}

impl From<service::NewSession> for AuthResponse {
    fn from(session: service::NewSession) -> Self {
        Self { user: UserView::from(&session.user), token: session.token, expires: session.expires }
    }
}
