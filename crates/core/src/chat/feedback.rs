//! Feedback on replies: a thumbs up or down on any assistant reply of the caller's (any version,
//! shown or not), with an optional short comment; sent again it changes, deleted it is
//! withdrawn. One per user per reply, held by a unique index: the write is one upsert, so two
//! at once leave one row. It is shown on each reply in the history, counted on the usage
//! dashboard, and part of both exports.

use std::collections::HashMap;

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::history;
use crate::{
    auth::AuthUser,
    db::Db,
    entities::{Message, MessageFeedback, MessageRole, Rating, message, message_feedback},
    error::{AppError, AppResult, DbResultExt, ErrorBody},
    http::{ApiRoutes, AppJson, AppPath, routes::api_routes},
    ids::new_id,
    rate_limit,
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![give, withdraw]
}

/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;

/// `PUT …/feedback` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackRequest {
    /// `up` or `down`.
    pub rating: Rating,
    /// What was good or wrong (at most 500 characters; blank: none).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub comment: Option<String>,
}

/// The caller's feedback on a reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackView {
    pub rating: Rating,
    pub comment: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<message_feedback::Model> for FeedbackView {
    fn from(row: message_feedback::Model) -> Self {
        Self { rating: row.rating, comment: row.comment, updated_at: row.updated_at }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackResponse {
    pub feedback: FeedbackView,
}

/// Rate a reply (thumbs up or down, with an optional comment), or change the rating given.
#[utoipa::path(
    put,
    path = "/api/chat/conversations/{id}/messages/{messageId}/feedback",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("messageId" = String, Path, description = "An assistant reply in it")),
    request_body = FeedbackRequest,
    responses(
        (status = 200, description = "The feedback as stored", body = FeedbackResponse),
        (status = 404, description = "No such conversation of the caller's, or no such message in it", body = ErrorBody),
        (status = 422, description = "`not_a_reply` (a user message, or a reply the client brought along) or `comment_too_long`", body = ErrorBody),
    )
)]
pub async fn give(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath((id, message_id)): AppPath<(String, String)>,
    AppJson(request): AppJson<FeedbackRequest>,
) -> AppResult<Json<FeedbackResponse>> {
    let comment = crate::text::optional(request.comment, MAX_COMMENT_CHARS, "comment_too_long", "the comment")?;
    let conversation = history::owned(&state, &auth, &id).await?;
    let reply = reply_in(&state.db, &conversation.id, &message_id).await?;
    let now = state.clock.now();
    let stored_comment = comment.clone();
    use message_feedback::Column;
    let row = message_feedback::ActiveModel {
        id: Set(new_id()),
        message_id: Set(reply.id.clone()),
        user_id: Set(auth.user.id.clone()),
        assistant: Set(conversation.kind),
        rating: Set(request.rating),
        comment: Set(comment.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let on_conflict = OnConflict::columns([Column::MessageId, Column::UserId])
        .update_columns([Column::Rating, Column::Comment, Column::UpdatedAt])
        .to_owned();
    // InnoDB can deadlock two upserts of one row (a double click): the loser is rolled back
    // whole, so sending it again is safe. A reply (or conversation) deleted meanwhile is 404.
    rate_limit::retry_lock_conflicts(3, || {
        MessageFeedback::insert(row.clone()).on_conflict(on_conflict.clone()).exec_without_returning(&state.db)
    })
    .await
    .on_foreign_key_violation(|| AppError::NotFound("message"))?;
    Ok(Json(FeedbackResponse {
        feedback: FeedbackView { rating: request.rating, comment: stored_comment, updated_at: now },
    }))
}

/// Withdraw your feedback on a reply (nothing happens when there is none).
#[utoipa::path(
    delete,
    path = "/api/chat/conversations/{id}/messages/{messageId}/feedback",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("messageId" = String, Path, description = "An assistant reply in it")),
    responses(
        (status = 204, description = "No feedback of the caller's on this reply now"),
        (status = 404, description = "No such conversation of the caller's, or no such message in it", body = ErrorBody),
    )
)]
pub async fn withdraw(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath((id, message_id)): AppPath<(String, String)>,
) -> AppResult<StatusCode> {
    let conversation = history::owned(&state, &auth, &id).await?;
    let reply = reply_in(&state.db, &conversation.id, &message_id).await?;
    MessageFeedback::delete_many()
        .filter(message_feedback::Column::MessageId.eq(&reply.id))
        .filter(message_feedback::Column::UserId.eq(&auth.user.id))
        .exec(&state.db)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The assistant reply `message_id` of conversation `conversation_id`.
async fn reply_in(db: &Db, conversation_id: &str, message_id: &str) -> AppResult<message::Model> {
    let message = Message::find_by_id(message_id.to_string())
        .filter(message::Column::ConversationId.eq(conversation_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    if message.role != MessageRole::Assistant || message.from_client || message.withheld.is_some() {
        // A reply the client brought along was not written by the model here: rating it would
        // rate nothing of ours (and let a client move the dashboard's thumbs at will).
        // (A withheld reply was never shown: there is nothing to rate.)
        return Err(AppError::validation("not_a_reply", "feedback is given on the assistant's own replies"));
    }
    Ok(message)
}

/// `user_id`'s feedback on these messages, by message id.
pub async fn of(db: &Db, user_id: &str, message_ids: Vec<String>) -> AppResult<HashMap<String, FeedbackView>> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = MessageFeedback::find()
        .filter(message_feedback::Column::UserId.eq(user_id))
        .filter(message_feedback::Column::MessageId.is_in(message_ids))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (row.message_id.clone(), row.into())).collect())
}
