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
    Json, Router,
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};

pub use history::{ConversationView, MessageView};
pub use service::{MAX_MESSAGE_CHARS, MAX_MESSAGES, TITLE_CHARS};

use crate::{auth::AuthUser, entities::ConversationKind, error::AppResult, http::AppJson, state::AppState};

/// Routes of the `chat` function.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chat", post(chat))
        .route("/api/chat/conversations", get(history::list))
        .route("/api/chat/conversations/{id}", get(history::get).patch(history::rename).delete(history::delete))
}

/// `POST /api/chat` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatRequest {
    /// `oracle` or `tcm`.
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    pub messages: Vec<IncomingMessage>,
    /// `zh*` for Chinese replies, anything else for English.
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// A preference for this reply ("be brief"), added to the system prompt in its own section.
    #[serde(default)]
    pub system_hint: Option<String>,
    /// Stream the reply as Server-Sent Events (same as `Accept: text/event-stream`).
    #[serde(default)]
    pub stream: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IncomingMessage {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// The non-streaming answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatResponse {
    pub reply: String,
    pub conversation_id: String,
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageView>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
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
