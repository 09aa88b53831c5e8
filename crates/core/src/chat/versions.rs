//! Versions of a conversation: regenerate a reply, edit and resend a message, switch between
//! versions. Nothing is overwritten: a regenerated reply is a sibling of the old one, an edited
//! message a sibling of the original with a new reply under it (see [`super::tree`]). Both are
//! turns like any other (the message quota, the stream cap, streaming or JSON), and the model
//! sees only the branch they continue.

use axum::{Json, extract::State, http::HeaderMap, response::Response};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    accepts_stream, answer,
    history::{self, ConversationDetail},
    service::{self, Placement, Turn},
    tree::Tree,
};
use crate::{
    auth::AuthUser,
    entities::{Conversation, conversation},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, AppPath, ClientMeta, routes::api_routes},
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![regenerate, edit, switch]
}

/// `POST …/messages/{messageId}/regenerate` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegenerateRequest {
    /// `zh*` for a Chinese reply, anything else for English.
    #[serde(default)]
    #[schema(example = "zh-CN", max_length = 35)]
    pub locale: Option<String>,
    /// As in `POST /api/chat` (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub system_hint: Option<String>,
    /// Stream the reply as Server-Sent Events (same as `Accept: text/event-stream`).
    #[serde(default)]
    pub stream: bool,
    /// As in `POST /api/chat`: think it through first.
    #[serde(default)]
    pub think: bool,
}

/// `POST …/messages/{messageId}/edit` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditRequest {
    /// The new text of the message (at most 4,000 characters).
    #[schema(max_length = 4000)]
    pub content: String,
    #[serde(default)]
    #[schema(example = "zh-CN", max_length = 35)]
    pub locale: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub system_hint: Option<String>,
    #[serde(default)]
    pub stream: bool,
    /// As in `POST /api/chat`: think it through first.
    #[serde(default)]
    pub think: bool,
    /// As in `POST /api/chat`: new pictures sent with the edited message (a picture goes with
    /// one message: the original's stay with the original version).
    #[serde(default)]
    #[schema(max_items = 4)]
    pub attachments: Vec<String>,
}

/// `POST …/switch` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchRequest {
    /// The version to show: any message of the conversation (one of a message's `versionIds`).
    pub message_id: String,
}

fn turn(
    conversation_id: String,
    placement: Placement,
    message: Option<String>,
    locale: Option<&str>,
    hint: Option<String>,
    think: bool,
    attachments: Vec<String>,
) -> AppResult<Turn> {
    let (language, system_hint) = service::options(locale, hint)?;
    Ok(Turn {
        kind: None,
        language,
        conversation_id: Some(conversation_id),
        system_hint,
        earlier: Vec::new(),
        message,
        placement,
        blocked: false,
        red_flag: None,
        reading_id: None,
        think,
        attachments: service::attachment_ids(attachments)?,
        pictures: Vec::new(),
    })
}

/// Ask for another reply: a new version beside `messageId` (a reply), or a reply to it (a
/// message of yours whose reply failed). The earlier reply stays as a version. Answers like
/// `POST /api/chat` (JSON, or events with `Accept: text/event-stream` / `"stream": true`).
#[utoipa::path(
    post,
    path = "/api/chat/conversations/{id}/messages/{messageId}/regenerate",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("messageId" = String, Path, description = "The reply to regenerate, or the user message to answer")),
    request_body(content = RegenerateRequest, description = "Every field is optional: `{}` asks for an English JSON answer"),
    responses(
        (status = 200, description = "The new reply (JSON), or its event stream (SSE), as for `POST /api/chat`", body = super::ChatResponse),
        (status = 404, description = "No such conversation of the caller's, or no such message in it", body = ErrorBody),
        (status = 422, description = "`nothing_to_regenerate` (the message answers no message of the user's), `conversation_too_long`, `invalid_locale`, `system_hint_too_long`, `content_blocked` (moderation refused the text) or `message_withheld` (regenerating a message that was not sent)", body = ErrorBody),
        (status = 429, description = "Message quota used up (`rate_limited`), too many streams at once (`too_many_streams`), or chat paused after blocked messages (`moderation_cooldown`)", body = ErrorBody),
        (status = 502, description = "The model failed", body = ErrorBody),
        (status = 503, description = "No model configured, the content check unavailable (`moderation_unavailable`), or the database unavailable", body = ErrorBody),
        (status = 504, description = "The model did not answer in time", body = ErrorBody),
    )
)]
pub async fn regenerate(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
    headers: HeaderMap,
    AppPath((id, message_id)): AppPath<(String, String)>,
    AppJson(request): AppJson<RegenerateRequest>,
) -> AppResult<Response> {
    let wants_stream = request.stream || accepts_stream(&headers);
    let turn = turn(
        id,
        Placement::Regenerate { of: message_id },
        None,
        request.locale.as_deref(),
        request.system_hint,
        request.think,
        Vec::new(),
    )?;
    answer(state, &auth.user, &client, turn, wants_stream).await
}

/// Edit one of your messages and resend it: the new text becomes a version beside the original
/// (which keeps its replies), and gets a reply of its own. Answers like `POST /api/chat`.
#[utoipa::path(
    post,
    path = "/api/chat/conversations/{id}/messages/{messageId}/edit",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("messageId" = String, Path, description = "The user message to edit")),
    request_body = EditRequest,
    responses(
        (status = 200, description = "The reply to the edited message (JSON), or its event stream (SSE), as for `POST /api/chat`", body = super::ChatResponse),
        (status = 404, description = "No such conversation of the caller's, no such message in it, or an `attachments` id none of the caller's pictures", body = ErrorBody),
        (status = 409, description = "`attachment_in_use`: a picture was sent with another message (the original's included)", body = ErrorBody),
        (status = 422, description = "`not_a_user_message`, `message_too_long`, `empty_message`, `conversation_too_long`, `invalid_locale`, `system_hint_too_long`, pictures refused (`too_many_pictures`, `duplicate_picture`, `picture_not_uploaded`, `picture_size_mismatch`, `picture_not_an_image`, `tongue_photo_not_tcm`), `content_blocked` (moderation refused the text or a picture) or `message_withheld` (regenerating a message that was not sent)", body = ErrorBody),
        (status = 429, description = "Message quota used up (`rate_limited`), too many streams at once (`too_many_streams`), or chat paused after blocked messages (`moderation_cooldown`)", body = ErrorBody),
        (status = 502, description = "The model failed", body = ErrorBody),
        (status = 503, description = "No model configured, the content check unavailable (`moderation_unavailable`), or the database unavailable", body = ErrorBody),
        (status = 504, description = "The model did not answer in time", body = ErrorBody),
    )
)]
pub async fn edit(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
    headers: HeaderMap,
    AppPath((id, message_id)): AppPath<(String, String)>,
    AppJson(request): AppJson<EditRequest>,
) -> AppResult<Response> {
    let wants_stream = request.stream || accepts_stream(&headers);
    let content = service::user_message(request.content, "`content`")?;
    let placement = Placement::Edit { of: message_id };
    let (locale, hint) = (request.locale.as_deref(), request.system_hint);
    let turn = turn(id, placement, Some(content), locale, hint, request.think, request.attachments)?;
    answer(state, &auth.user, &client, turn, wants_stream).await
}

/// Show another version: the branch through `messageId`, continued where it was last left
/// (its newest message). The model sees this branch from the next turn on. Answers the
/// conversation as `GET /api/chat/conversations/{id}` does.
#[utoipa::path(
    post,
    path = "/api/chat/conversations/{id}/switch",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    request_body = SwitchRequest,
    responses(
        (status = 200, description = "The conversation with the branch now shown (its last 50 messages)", body = ConversationDetail),
        (status = 404, description = "No such conversation of the caller's, or no such message in it", body = ErrorBody),
    )
)]
pub async fn switch(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
    AppJson(request): AppJson<SwitchRequest>,
) -> AppResult<Json<ConversationDetail>> {
    let conversation = history::owned(&state, &auth, &id).await?;
    let tree = Tree::load(&state.db, &conversation.id).await?;
    let at = tree.find(&request.message_id).ok_or(AppError::NotFound("message"))?;
    let leaf = tree.node(tree.newest_under(at)).id.clone();
    Conversation::update_many()
        .col_expr(conversation::Column::ActiveLeafId, Expr::value(leaf.clone()))
        .filter(conversation::Column::Id.eq(&conversation.id))
        .exec(&state.db)
        .await?;
    let conversation = conversation::Model { active_leaf_id: Some(leaf), ..conversation };
    Ok(Json(history::detail(&state, conversation, 50, None).await?))
}
