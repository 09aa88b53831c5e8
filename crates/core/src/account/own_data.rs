//! The account's own data: a download of everything it owns, and deleting the account.
//!
//! Deleting removes the account and, through the schema's cascades, its sessions,
//! conversations, messages and links, in one transaction. The audit trail keeps its rows (they
//! are the operator's record, and the deletion itself is one), but the address is replaced
//! wherever it is a row's subject, so the trail no longer carries it; the account's id stays as
//! an opaque reference. The address can register again; its per-address limits stay.

use axum::{Json, extract::State, response::Response};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::password::confirm_password;
use crate::{
    audit::{self, Action},
    auth::AuthUser,
    entities::{AuditLog, ReplyStream, User, audit_log, reply_stream},
    error::{AppResult, ErrorBody},
    export::{self, ExportDocument, ExportFormat, ExportLine, Scope},
    http::{ApiRoutes, AppJson, AppQuery, ClientMeta, routes::api_routes},
    state::AppState,
};

/// What replaces the address in the audit trail of a deleted account.
pub const DELETED_ADDRESS: &str = "[deleted account]";

pub(super) fn routes() -> ApiRoutes {
    api_routes![export_own_data, delete_account]
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OwnExportQuery {
    /// `json` (default) or `ndjson`.
    #[serde(default)]
    #[param(inline)]
    pub format: ExportFormat,
}

/// `POST /api/account/delete` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteAccount {
    /// The account's password, to confirm.
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    pub deleted: bool,
}

/// Download everything the account owns: the account, its conversations, every message of
/// every version, and its audit rows; streamed.
#[utoipa::path(
    get,
    path = "/api/account/export",
    tag = "account",
    security(("bearer" = [])),
    params(OwnExportQuery),
    responses(
        (status = 200, description = "The account's data, as a download", content(
            (ExportDocument = "application/json"),
            (ExportLine = "application/x-ndjson")
        ), headers(("Content-Disposition" = String, description = "attachment; filename=\"my-data-….json\""))),
    )
)]
async fn export_own_data(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: AuthUser,
    AppQuery(query): AppQuery<OwnExportQuery>,
) -> AppResult<Response> {
    let scope = Scope::Owner(auth.user.id.clone());
    export::export(&state, &auth.user, scope, query.format, &client).await
}

/// Delete the account and everything it owns, confirmed with its password. Cannot be undone.
#[utoipa::path(
    post,
    path = "/api/account/delete",
    tag = "account",
    security(("bearer" = [])),
    request_body = DeleteAccount,
    responses(
        (status = 200, description = "The account and its data are gone", body = Deleted),
        (status = 403, description = "The password is wrong (`wrong_password`)", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords (`rate_limited`), as for logins", body = ErrorBody),
    )
)]
async fn delete_account(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: AuthUser,
    AppJson(body): AppJson<DeleteAccount>,
) -> AppResult<Json<Deleted>> {
    let confirmed = confirm_password(&state, &auth.user, body.password, &client).await?;
    let user = &auth.user;
    let txn = state.db.begin().await?;
    // The rows about the address, by anyone (an admin's ban, a failed login): exactly those
    // whose subject it is, found through the subject's index.
    AuditLog::update_many()
        .col_expr(audit_log::Column::Subject, Expr::value(DELETED_ADDRESS))
        .filter(audit_log::Column::Subject.eq(&user.email))
        .exec(&txn)
        .await?;
    // Rows from before subjects had a column quoted the address in their text; those the
    // account wrote itself are rewritten (through the actor's index). Rows written since have
    // a subject and never quote an address, so they are left alone.
    AuditLog::update_many()
        .col_expr(
            audit_log::Column::Message,
            Expr::cust_with_values("REPLACE(message, ?, ?)", [user.email.as_str(), DELETED_ADDRESS]),
        )
        .filter(audit_log::Column::ActorId.eq(&user.id))
        .filter(audit_log::Column::Subject.is_null())
        .exec(&txn)
        .await?;
    ReplyStream::delete_many().filter(reply_stream::Column::UserId.eq(&user.id)).exec(&txn).await?;
    crate::attachments::forget::mark_user(&txn, &user.id, state.clock.now()).await?;
    // The per-address limits (failed logins, reset and verification mails) stay: they belong
    // to the address, and deleting the account must not give it a fresh allowance.
    User::delete_by_id(user.id.clone()).exec(&txn).await?;
    let entry = audit::Entry::new(Action::AccountDelete, Some(&user.id), "deleted their account");
    audit::record(&txn, &state.clock, entry, &client).await?;
    txn.commit().await?;
    crate::attachments::forget::purge(&state).await;
    confirmed.release().await; // the right password: not a failed login
    Ok(Json(Deleted { deleted: true }))
}
