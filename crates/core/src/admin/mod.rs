//! Administration: the routes of the `admin-export` function (ADMIN role only) and the account
//! operations the `appctl` CLI shares with them.

mod export;
mod users;

use axum::{
    Json, Router,
    extract::{Path, State},
    response::Response,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use export::{ExportFormat, ExportQuery};
pub use users::{AuditLogQuery, UserQuery, set_banned, set_role};

use crate::{
    auth::AdminUser,
    entities::{Role, audit_log, user},
    error::AppResult,
    http::{AppQuery, ClientMeta},
    state::AppState,
};

/// Routes of the `admin-export` function.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/export", get(export))
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/users/{id}/ban", post(ban))
        .route("/api/admin/users/{id}/unban", post(unban))
        .route("/api/admin/audit-logs", get(list_audit_logs))
}

/// An account as administrators see it (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub banned_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<user::Model> for UserRecord {
    fn from(user: user::Model) -> Self {
        Self {
            id: user.id,
            email: user.email,
            role: user.role,
            banned_at: user.banned_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogRecord {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub message: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<audit_log::Model> for AuditLogRecord {
    fn from(log: audit_log::Model) -> Self {
        Self {
            id: log.id,
            actor_id: log.actor_id,
            action: log.action,
            message: log.message,
            ip: log.ip,
            user_agent: log.user_agent,
            created_at: log.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub users: Vec<UserRecord>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogPage {
    pub audit_logs: Vec<AuditLogRecord>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UserResponse {
    pub user: UserRecord,
}

async fn export(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    client: ClientMeta,
    AppQuery(query): AppQuery<ExportQuery>,
) -> AppResult<Response> {
    export::export(&state, &admin.user, query, &client).await
}

async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<UserQuery>,
) -> AppResult<Json<UserPage>> {
    Ok(Json(users::list_users(&state.db, query).await?))
}

async fn ban(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    client: ClientMeta,
    Path(id): Path<String>,
) -> AppResult<Json<UserResponse>> {
    let user = set_banned(&state.db, &state.clock, Some(&admin.user), &id, true, &client).await?;
    Ok(Json(UserResponse { user: user.into() }))
}

async fn unban(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    client: ClientMeta,
    Path(id): Path<String>,
) -> AppResult<Json<UserResponse>> {
    let user = set_banned(&state.db, &state.clock, Some(&admin.user), &id, false, &client).await?;
    Ok(Json(UserResponse { user: user.into() }))
}

async fn list_audit_logs(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<AuditLogQuery>,
) -> AppResult<Json<AuditLogPage>> {
    Ok(Json(users::list_audit_logs(&state.db, query).await?))
}
