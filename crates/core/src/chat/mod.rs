//! The chat assistants (`oracle`, `tcm`): the routes of the `chat` function.
//!
//! Contract (the seed's `sendChatMessage`): `POST /api/chat` with
//! `{type, messages:[{role,content}], locale, conversationId?, systemHint?}` answers
//! `{reply, conversationId}`; with `Accept: text/event-stream` (or `"stream": true`) the reply
//! streams as Server-Sent Events instead ([`stream`]). The history API lives under
//! `/api/chat/conversations` ([`history`]).

mod history;
pub mod llm;
pub mod persona;
mod service;
mod stream;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use history::{ConversationView, MessageView};
pub use service::{MAX_MESSAGE_CHARS, MAX_MESSAGES, TITLE_CHARS};

use crate::{
    auth::AuthUser,
    entities::ConversationKind,
    error::{AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, routes::api_routes},
    state::AppState,
};

/// Routes of the `chat` function.
pub fn router() -> ApiRoutes {
    api_routes![chat].merge(history::routes())
}

/// `POST /api/chat` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatRequest {
    /// `oracle` or `tcm`.
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    /// The conversation so far, ending with the user's new message (at most 50 messages of at
    /// most 4,000 characters). With `conversationId` only the last one is used: the server
    /// keeps the history.
    #[schema(min_items = 1, max_items = 50)]
    pub messages: Vec<IncomingMessage>,
    /// `zh*` for Chinese replies, anything else for English.
    #[serde(default)]
    #[schema(example = "zh-CN", max_length = 35)]
    pub locale: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// A preference for this reply ("be brief"), added to the system prompt in its own section
    /// (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub system_hint: Option<String>,
    /// Stream the reply as Server-Sent Events (same as `Accept: text/event-stream`).
    #[serde(default)]
    pub stream: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct IncomingMessage {
    /// `user` or `assistant`.
    #[schema(value_type = crate::entities::MessageRole, example = "user")]
    pub role: String,
    /// At most 4,000 characters.
    #[schema(max_length = 4000)]
    pub content: String,
}

/// The non-streaming answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatResponse {
    pub reply: String,
    pub conversation_id: String,
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageView>,
}

/// Tokens the model reported for a reply.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

impl From<llm::Usage> for UsageView {
    fn from(usage: llm::Usage) -> Self {
        Self { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens }
    }
}

/// `event: start` of a streamed reply.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamStart {
    pub conversation_id: String,
}

/// `event: delta`: the next piece of the reply.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamDelta {
    pub content: String,
}

/// `event: done`: the reply is complete and saved. (`event: error` carries an [`ErrorBody`].)
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamDone {
    pub conversation_id: String,
    pub message_id: String,
    pub usage: Option<UsageView>,
}

/// Send a message to an assistant and get its reply, whole (JSON) or streamed (SSE).
///
/// Streaming (`Accept: text/event-stream` or `"stream": true`): events `start` (`StreamStart`),
/// `delta` (`StreamDelta`) as the reply is generated, then `done` (`StreamDone`) or `error`
/// (`ErrorBody`). Failures before the first piece are ordinary JSON errors. A client that
/// disconnects cancels nothing: the reply is completed and saved, and its stream slot freed.
#[utoipa::path(
    post,
    path = "/api/chat",
    tag = "chat",
    security(("bearer" = [])),
    request_body = ChatRequest,
    responses(
        (status = 200, description = "The reply (JSON), or its event stream (SSE)", content(
            (ChatResponse = "application/json"),
            (String = "text/event-stream", example = json!("event: start\ndata: {\"conversationId\":\"c1\"}\n\nevent: delta\ndata: {\"content\":\"Hello\"}\n\nevent: done\ndata: {\"conversationId\":\"c1\",\"messageId\":\"m2\",\"usage\":null}\n\n"))
        )),
        (status = 404, description = "`conversationId` is not one of the caller's conversations", body = ErrorBody),
        (status = 429, description = "Message quota used up (`rate_limited`) or too many streams at once (`too_many_streams`); see `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 502, description = "The model failed (`upstream_error`, `upstream_stream_broken`, `upstream_empty_reply`); `error.conversationId` names the saved turn", body = ErrorBody),
        (status = 503, description = "No model configured (`llm_not_configured`) or the database is unavailable", body = ErrorBody),
        (status = 504, description = "The model did not answer in time (`upstream_timeout`); in a stream's `error` event also `reply_too_long` (the reply ran longer than its stream slot's lease)", body = ErrorBody),
    )
)]
async fn chat(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    AppJson(request): AppJson<ChatRequest>,
) -> AppResult<Response> {
    let wants_stream = request.stream
        || headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/event-stream"));
    let turn = service::validate(request)?;
    let llm = service::llm(&state)?;
    if wants_stream {
        return stream::respond(state, llm, &auth.user, turn).await;
    }
    let prepared = service::prepare(&state, &auth.user, turn).await?;
    let conversation_id = prepared.conversation.id.clone();
    let completion = llm
        .complete(&prepared.prompt)
        .await
        .map_err(|err| service::llm_error(err).in_conversation(&conversation_id))?;
    let message = service::save_reply(&state, &conversation_id, &completion.text, completion.usage)
        .await
        .map_err(|err| err.in_conversation(&conversation_id))?;
    Ok(Json(ChatResponse {
        reply: completion.text,
        conversation_id,
        message_id: message.id,
        usage: completion.usage.map(Into::into),
    })
    .into_response())
}
