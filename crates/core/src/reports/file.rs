//! Filing a report, and the reporter's own list.

use std::collections::HashSet;

use axum::{Json, extract::State, http::StatusCode};
use chrono::TimeDelta;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, SqlErr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::OwnReport;
use crate::{
    audit::{self, Action},
    auth::AuthUser,
    chat::{history, tree::Tree},
    db::Db,
    entities::{Message, MessageRole, Report, ReportReason, ReportStatus, UserAction, message, report},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, AppPath, AppQuery, ClientMeta, routes::api_routes},
    ids::new_id,
    rate_limit,
    state::AppState,
};

pub(super) fn chat_routes() -> ApiRoutes {
    api_routes![file_report]
}

pub(super) fn account_routes() -> ApiRoutes {
    api_routes![own_reports]
}

/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// `POST …/report` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    /// `illegal`, `harmful`, `wrong`, `privacy` or `other`.
    pub reason: ReportReason,
    /// What is wrong with the reply (at most 1,000 characters; blank: none).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportResponse {
    pub report: OwnReport,
}

/// Report a reply to the administrators (once per reply). They see the reply and the message
/// it answered, and answer within `reportResponseDays` (`GET /api/chat/about`); the outcome
/// shows in `GET /api/account/reports`.
#[utoipa::path(
    post,
    path = "/api/chat/conversations/{id}/messages/{messageId}/report",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("messageId" = String, Path, description = "An assistant reply in it")),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "Reported", body = ReportResponse),
        (status = 404, description = "No such conversation of the caller's, or no such message in it", body = ErrorBody),
        (status = 409, description = "`already_reported`: the caller reported this reply before", body = ErrorBody),
        (status = 422, description = "`not_a_reply` (a user message, a reply the client brought along, or a withheld reply) or `comment_too_long`", body = ErrorBody),
    )
)]
pub(super) async fn file_report(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
    AppPath((id, message_id)): AppPath<(String, String)>,
    AppJson(request): AppJson<ReportRequest>,
) -> AppResult<(StatusCode, Json<ReportResponse>)> {
    let comment = crate::text::optional(request.comment, MAX_COMMENT_CHARS, "comment_too_long", "the comment")?;
    let conversation = history::owned(&state, &auth, &id).await?;
    let reply = Message::find_by_id(message_id)
        .filter(message::Column::ConversationId.eq(&conversation.id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    if reply.role != MessageRole::Assistant || reply.from_client || reply.withheld.is_some() {
        // Only what the model wrote here and its user saw can be reported.
        return Err(AppError::validation("not_a_reply", "reports are about the assistant's own replies"));
    }
    let question = question_of(&state.db, &conversation.id, &reply.id).await?;
    let now = state.clock.now();
    let due_at = now + TimeDelta::days(i64::from(state.config.trust.report_response_days));
    let row = report::ActiveModel {
        id: Set(new_id()),
        reporter_id: Set(auth.user.id.clone()),
        conversation_id: Set(Some(conversation.id.clone())),
        message_id: Set(Some(reply.id.clone())),
        assistant: Set(conversation.kind),
        reason: Set(request.reason),
        comment: Set(comment),
        reply: Set(reply.content),
        question: Set(question),
        status: Set(ReportStatus::Open),
        created_at: Set(now),
        due_at: Set(due_at),
        decided_at: Set(None),
        decided_by: Set(None),
        reply_hidden: Set(false),
        user_action: Set(UserAction::None),
        restricted_until: Set(None),
        note: Set(None),
    };
    let message = format!("reported reply {} ({})", reply.id, reason_name(request.reason));
    // A deadlock with a concurrent deletion of the conversation runs it again.
    let saved =
        rate_limit::retry_transaction(3, || save(&state, row.clone(), &auth.user.id, &message, &client)).await?;
    Ok((StatusCode::CREATED, Json(ReportResponse { report: OwnReport::from(&saved) })))
}

/// Files the report and audits it, in one transaction.
async fn save(
    state: &AppState,
    row: report::ActiveModel,
    reporter_id: &str,
    message: &str,
    client: &ClientMeta,
) -> AppResult<report::Model> {
    let txn = state.db.begin().await?;
    // One report per person and reply: a unique index decides between two at once. A reply
    // deleted since it was read is a 404, like one never there.
    let saved = row.insert(&txn).await.map_err(|err| match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            AppError::conflict("already_reported", "you have reported this reply already")
        }
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => AppError::NotFound("message"),
        _ => err.into(),
    })?;
    let entry = audit::Entry::new(Action::ReportFiled, Some(reporter_id), message);
    audit::record(&txn, &state.clock, entry, client).await?;
    txn.commit().await?;
    Ok(saved)
}

fn reason_name(reason: ReportReason) -> &'static str {
    match reason {
        ReportReason::Illegal => "illegal",
        ReportReason::Harmful => "harmful",
        ReportReason::Wrong => "wrong",
        ReportReason::Privacy => "privacy",
        ReportReason::Other => "other",
    }
}

/// The user's message `reply_id` answers (its parent in the conversation's tree).
async fn question_of(db: &Db, conversation_id: &str, reply_id: &str) -> AppResult<Option<String>> {
    let tree = Tree::load(db, conversation_id).await?;
    let Some(parent) = tree.find(reply_id).and_then(|at| tree.parent(at)) else { return Ok(None) };
    let rows = tree.messages(db, &[parent]).await?;
    Ok(rows.into_iter().next().map(|(_, row)| row.content))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnReportPage {
    pub reports: Vec<OwnReport>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

/// The caller's reports, newest first, with the administrators' decisions.
#[utoipa::path(
    get,
    path = "/api/account/reports",
    tag = "account",
    security(("bearer" = [])),
    params(crate::admin::PageQuery),
    responses((status = 200, description = "A page of the caller's reports", body = OwnReportPage))
)]
pub(super) async fn own_reports(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(query): AppQuery<crate::admin::PageQuery>,
) -> AppResult<Json<OwnReportPage>> {
    let (page, page_size) = crate::admin::paging(query.page, query.page_size)?;
    let select = Report::find().filter(report::Column::ReporterId.eq(&auth.user.id));
    let (created_at, id) = (report::Column::CreatedAt, report::Column::Id);
    let (rows, total) = crate::owned::newest_page(&state.db, select, created_at, id, (page, page_size)).await?;
    Ok(Json(OwnReportPage { reports: rows.iter().map(OwnReport::from).collect(), total, page, page_size }))
}

/// Which of `message_ids` `user_id` has reported (for the history's `reported`).
pub async fn reported_of(db: &Db, user_id: &str, message_ids: Vec<String>) -> AppResult<HashSet<String>> {
    if message_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Option<String>> = Report::find()
        .select_only()
        .column(report::Column::MessageId)
        .filter(report::Column::ReporterId.eq(user_id))
        .filter(report::Column::MessageId.is_in(message_ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().flatten().collect())
}
