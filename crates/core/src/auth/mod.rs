//! Accounts and sessions: the routes of the `auth-register` and `auth-login` functions and the
//! extractors every other route authenticates with.
//!
//! Contract (the seed's `src/lib/api.ts`): `POST /api/auth/register` and `POST /api/auth/login`
//! take `{email,password}` and answer `{user:{id,email,role},token}`; the token goes back as
//! `Authorization: Bearer …`.

mod extract;
pub mod password;
mod service;
pub mod token;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use extract::{AdminUser, AuthUser};
pub use service::{Credentials, end_all_sessions, normalize_email};

use crate::{
    entities::{Role, user},
    error::AppResult,
    http::{AppJson, AppQuery, ClientMeta},
    state::AppState,
};

/// Routes of the `auth-login` function.
pub fn login_router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/session", get(session))
        .route("/api/auth/logout", post(logout))
}

/// Routes of the `auth-register` function.
pub fn register_router() -> Router<AppState> {
    Router::new().route("/api/auth/register", post(register))
}

/// The public view of an account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: Role,
}

impl From<&user::Model> for UserView {
    fn from(user: &user::Model) -> Self {
        Self { id: user.id.clone(), email: user.email.clone(), role: user.role }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AuthResponse {
    pub user: UserView,
    pub token: String,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SessionResponse {
    pub user: UserView,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LogoutQuery {
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LogoutResponse {
    /// How many sessions ended.
    pub revoked: u64,
}

async fn register(
    State(state): State<AppState>,
    client: ClientMeta,
    AppJson(credentials): AppJson<Credentials>,
) -> AppResult<(StatusCode, Json<AuthResponse>)> {
    let session = service::register(&state, credentials, &client).await?;
    Ok((StatusCode::CREATED, Json(session.into())))
}

async fn login(
    State(state): State<AppState>,
    client: ClientMeta,
    AppJson(credentials): AppJson<Credentials>,
) -> AppResult<Json<AuthResponse>> {
    let session = service::login(&state, credentials, &client).await?;
    Ok(Json(session.into()))
}

async fn session(auth: AuthUser) -> Json<SessionResponse> {
    Json(SessionResponse { user: UserView::from(&auth.user), expires: auth.expires })
}

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
