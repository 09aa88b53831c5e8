//! Where the account is signed in: its sessions, each with the client it started from and when
//! it was last used, and signing one or all others out.
//!
//! "Last used" is written by the [`AuthUser`] extractor, at most once every
//! [`crate::auth::LAST_USED_EVERY`] per session (one conditional UPDATE), not on every request.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    audit::{self, Action},
    auth::{AuthUser, void_reset_links},
    entities::{Session, session},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppPath, ClientMeta, routes::api_routes},
    state::AppState,
};

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
    let entry = audit::Entry::new(Action::Logout, Some(&auth.user.id), format!("signed out {which}"));
    audit::record(&state.db, &state.clock, entry, &client).await?;
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
    audit::record(&state.db, &state.clock, audit::Entry::new(Action::Logout, Some(&auth.user.id), message), &client)
        .await?;
    Ok(Json(Revoked { revoked }))
}

/// Deletes every session of the caller's account but the caller's (a password change too), and
/// voids its outstanding reset links (see [`void_reset_links`]).
pub async fn end_others(db: &impl ConnectionTrait, auth: &AuthUser) -> AppResult<u64> {
    void_reset_links(db, &auth.user.id).await?;
    Ok(Session::delete_many()
        .filter(session::Column::UserId.eq(&auth.user.id))
        .filter(session::Column::Id.ne(&auth.session_id))
        .exec(db)
        .await?
        .rows_affected)
}
