//! Administration: the routes of the `admin-export` function (ADMIN role only) and the account
//! operations the `appctl` CLI shares with them.

mod users;

use axum::{Json, extract::State, response::Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::export::{
    AuditLogRecord, ConversationRecord, ExportData, ExportDocument, ExportFormat, ExportLine, ExportQuery,
    FeedbackRecord, MessageRecord, UserRecord,
};
use users::lift_restriction as lift;
pub use users::{AuditLogQuery, PageQuery, UserQuery, set_banned, set_role};
pub(crate) use users::{apply_ban, paging};

use crate::{
    auth::AdminUser,
    error::{AppResult, ErrorBody},
    export,
    http::{ApiRoutes, AppPath, AppQuery, ClientMeta, routes::api_routes},
    state::AppState,
};

/// Routes of the `admin-export` function.
pub fn router() -> ApiRoutes {
    api_routes![export, list_users, ban, unban, lift_restriction, list_audit_logs]
        .merge(crate::usage::dashboard_routes())
        .merge(crate::reports::admin_routes())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub users: Vec<UserRecord>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

/// An audit log entry as the admin list shows it: the record, and who its actor is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogEntry {
    #[serde(flatten)]
    pub record: AuditLogRecord,
    /// The actor's email while that account exists; `null` without an actor (the operator CLI)
    /// or when the account is gone (imported entries).
    pub actor_email: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogPage {
    pub audit_logs: Vec<AuditLogEntry>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    pub user: UserRecord,
}

/// Everything (never a password hash), as one JSON document or as NDJSON, streamed.
///
/// Gzip-compressed when the client accepts it: Function Compute refuses synchronous responses
/// over 32 MB; use `since`/`until` to split larger exports.
#[utoipa::path(
    get,
    path = "/api/admin/export",
    tag = "admin",
    security(("bearer" = [])),
    params(ExportQuery),
    responses(
        (status = 200, description = "The export, as a download", content(
            (ExportDocument = "application/json"),
            (ExportLine = "application/x-ndjson")
        ), headers(("Content-Disposition" = String, description = "attachment; filename=\"export-….json\""))),
    )
)]
async fn export(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    client: ClientMeta,
    AppQuery(query): AppQuery<ExportQuery>,
) -> AppResult<Response> {
    let scope = export::Scope::Everything { since: query.since, until: query.until };
    export::export(&state, &admin.user, scope, query.format, &client).await
}

/// Accounts, newest first, optionally filtered by part of the email.
#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    params(UserQuery),
    responses((status = 200, description = "A page of accounts", body = UserPage))
)]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<UserQuery>,
) -> AppResult<Json<UserPage>> {
    Ok(Json(users::list_users(&state.db, query).await?))
}

/// Suspend an account: its sessions end at once and it can no longer log in.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/ban",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Banned (banning twice is fine)", body = UserResponse),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "Administrators cannot ban themselves (`cannot_ban_self`)", body = ErrorBody),
    )
)]
async fn ban(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    client: ClientMeta,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<UserResponse>> {
    let user = set_banned(&state.db, &state.clock, Some(&admin.user), &id, true, &client).await?;
    Ok(Json(UserResponse { user: user.into() }))
}

/// Lift a suspension.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/unban",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Unbanned", body = UserResponse),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
async fn unban(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    client: ClientMeta,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<UserResponse>> {
    let user = set_banned(&state.db, &state.clock, Some(&admin.user), &id, false, &client).await?;
    Ok(Json(UserResponse { user: user.into() }))
}

/// End an account's chat restriction now (one a report's decision set).
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/lift-restriction",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Not restricted now (lifting twice is fine)", body = UserResponse),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
async fn lift_restriction(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    client: ClientMeta,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<UserResponse>> {
    let user = lift(&state.db, &state.clock, &admin.user, &id, &client).await?;
    Ok(Json(UserResponse { user: user.into() }))
}

/// The audit trail, newest first, optionally filtered by action and actor.
#[utoipa::path(
    get,
    path = "/api/admin/audit-logs",
    tag = "admin",
    security(("bearer" = [])),
    params(AuditLogQuery),
    responses((status = 200, description = "A page of audit-log entries", body = AuditLogPage))
)]
async fn list_audit_logs(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<AuditLogQuery>,
) -> AppResult<Json<AuditLogPage>> {
    Ok(Json(users::list_audit_logs(&state.db, query).await?))
}
