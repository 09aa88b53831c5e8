//! Where the account is signed in: its sessions, each with the client it started from and when
//! it was last used, and signing one or all others out.
//!
//! "Last used" is written by the [`AuthUser`] extractor through [`touch`], at most once every
//! [`LAST_USED_EVERY`] per session (one conditional UPDATE), not on every request.

use std::time::Duration;

use axum::{Json, extract::State};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    audit::{self, Action},
    auth::AuthUser,
    entities::{Session, session},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppPath, ClientMeta, routes::api_routes},
    state::AppState,
};

/// How stale `sessions.last_used_at` may get before a request writes it again.
pub const LAST_USED_EVERY: Duration = Duration::from_secs(5 * 60);

/// The longest list returned: sessions beyond it (the oldest) are not shown.
const MAX_LISTED: u64 = 200;

pub(super) fn routes() -> ApiRoutes {
    api_routes![list_sessions, end_session, end_other_sessions]
}

/// One signed-in device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: String,
    /// The client address the session started from (as the proxies in front report it).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (to within five minutes).
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires: DateTime<Utc>,
    /// The session of this request: "this device".
    pub current: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// Newest first; expired sessions are not listed.
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// How many sessions ended.
    pub revoked: u64,
}

/// The account's sessions, "this device" marked.
#[utoipa::path(
    get,
    path = "/api/account/sessions",
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The account's live sessions, newest first", body = SessionList))
)]
async fn list_sessions(State(state): State<AppState>, auth: AuthUser) -> AppResult<Json<SessionList>> {
    let rows = Session::find()
        .filter(session::Column::UserId.eq(&auth.user.id))
        .filter(session::Column::Expires.gt(state.clock.now()))
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::Id)
        .limit(MAX_LISTED)
        .all(&state.db)
        .await?;
    let sessions = rows
        .into_iter()
        .map(|row| SessionView {
            current: row.id == auth.session_id,
            id: row.id,
            ip: row.ip,
            user_agent: row.user_agent,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires: row.expires,
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// Sign one session out (this one included: that is a logout).
#[utoipa::path(
    delete,
    path = "/api/account/sessions/{id}",
    tag = "account",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A session id from the list")),
    responses(
        (status = 200, description = "The session ended", body = Revoked),
        (status = 404, description = "No such session of this account (`not_found`)", body = ErrorBody),
    )
)]
async fn end_session(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<Revoked>> {
    let revoked = Session::delete_many()
        .filter(session::Column::Id.eq(&id))
        .filter(session::Column::UserId.eq(&auth.user.id))
        .exec(&state.db)
        .await?
        .rows_affected;
    if revoked == 0 {
        return Err(AppError::NotFound("session"));
    }
    let which = if id == auth.session_id { "this session" } else { "another session" };
    audit::record(&state.db, &state.clock, Some(&auth.user.id), Action::Logout, format!("signed out {which}"), &client)
        .await?;
    Ok(Json(Revoked { revoked }))
}

/// Sign every other session of the account out; this one stays.
#[utoipa::path(
    post,
    path = "/api/account/sessions/revoke-others",
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The other sessions ended", body = Revoked))
)]
async fn end_other_sessions(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: AuthUser,
) -> AppResult<Json<Revoked>> {
    let revoked = end_others(&state.db, &auth).await?;
    let message = format!("signed out {revoked} other sessions");
    audit::record(&state.db, &state.clock, Some(&auth.user.id), Action::Logout, message, &client).await?;
    Ok(Json(Revoked { revoked }))
}

/// Deletes every session of the caller's account but the caller's (a password change too).
pub async fn end_others(db: &impl ConnectionTrait, auth: &AuthUser) -> AppResult<u64> {
    Ok(Session::delete_many()
        .filter(session::Column::UserId.eq(&auth.user.id))
        .filter(session::Column::Id.ne(&auth.session_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// Records that `session` was used now, if its last use is older than [`LAST_USED_EVERY`]: one
/// UPDATE whose condition makes concurrent requests write once. A failure is only logged (the
/// request goes on).
pub async fn touch(state: &AppState, session: &session::Model) {
    let now = state.clock.now();
    let stale_before = now - TimeDelta::from_std(LAST_USED_EVERY).unwrap_or(TimeDelta::minutes(5));
    if session.last_used_at.is_some_and(|used| used > stale_before) {
        return;
    }
    let result = Session::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .filter(session::Column::Id.eq(&session.id))
        .filter(
            Condition::any()
                .add(session::Column::LastUsedAt.is_null())
                .add(session::Column::LastUsedAt.lte(stale_before)),
        )
        .exec(&state.db)
        .await;
    if let Err(err) = result {
        tracing::warn!(error = %err, "could not record a session's last use");
    }
}
