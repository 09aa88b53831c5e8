//! The chat assistants (`oracle`, `tcm`): the routes of the `chat` function.
//!
//! Contract (the seed's `sendChatMessage`): `POST /api/chat` with
//! `{type, messages:[{role,content}], locale, conversationId?, systemHint?}` answers
//! `{reply, conversationId}`; with `Accept: text/event-stream` (or `"stream": true`) the reply
//! streams as Server-Sent Events instead ([`stream`]). The history API lives under
//! `/api/chat/conversations` ([`history`]); a conversation's messages form a tree of versions
//! ([`tree`]), which regenerate, edit and switch work on ([`versions`]); a streamed reply can be
//! stopped from any instance ([`stop`]); titles are written by the model ([`title`]); replies
//! get thumbs up or down ([`feedback`]); the caller's conversations can be searched
//! ([`search`]). The caller's quota state (`GET /api/chat/quota`) comes from [`crate::usage`].

pub mod feedback;
pub(crate) mod history;
pub mod llm;
mod loaded;
pub mod persona;
mod placement;
mod reply;
pub(crate) mod search;
mod service;
mod stop;
mod stream;
pub mod title;
pub mod tree;
mod turn;
mod versions;
mod written;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use history::{ConversationView, MessageView};
pub(crate) use service::verified;
pub use service::{MAX_MESSAGE_CHARS, MAX_MESSAGES, TITLE_CHARS};
pub use stop::{POLL as STOP_POLL, StopResponse, StopWatcher};

use self::service::Turn;
use crate::{
    auth::AuthUser,
    entities::ConversationKind,
    error::{AppError, AppResult, ErrorBody, Extra},
    http::{ApiRoutes, AppJson, ClientMeta, routes::api_routes},
    moderation::{
        Verdict,
        input::{self, TurnText},
        output,
    },
    safety::{RedFlagCard, red_flags},
    state::AppState,
};

/// Routes of the `chat` function.
pub fn router() -> ApiRoutes {
    api_routes![chat]
        .merge(stop::routes())
        .merge(history::routes())
        .merge(versions::routes())
        .merge(feedback::routes())
        .merge(search::routes())
        .merge(crate::usage::quota_routes())
        .merge(crate::safety::labels::routes())
        .merge(crate::reports::chat_routes())
        .merge(crate::oracle::routes())
        .merge(crate::constitution::routes())
        .merge(crate::season::routes())
        .merge(crate::attachments::routes())
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
    /// Ask the oracle about this reading of the caller's journal (`POST /api/oracle/readings`):
    /// it is linked to the turn's conversation, and the model gets its governing texts.
    #[serde(default)]
    pub reading_id: Option<String>,
    /// Think it through first ("think deeply"): the model reasons before it answers, and its
    /// thinking is streamed (`thinking` events) and kept apart from the reply. Only where the
    /// server offers it (`GET /api/chat/about`: `thinking` is `offered`; with `always` every
    /// reply is thought through, with `off` asking is refused: `thinking_not_offered`).
    #[serde(default)]
    pub think: bool,
    /// Pictures to send with the new message (at most 4), by id: each asked for with
    /// `POST /api/attachments` and uploaded. The server checks each (it is there, of the type
    /// and size declared) before the turn is accepted.
    #[serde(default)]
    #[schema(max_items = 4)]
    pub attachments: Vec<String>,
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
    /// The user message this reply answers.
    pub user_message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageView>,
    /// `completed`, or `blocked` when moderation refused the reply: `reply` is then a notice in
    /// the user's language, not the model's words.
    pub finish_reason: FinishReason,
    /// An emergency sign in the message: show this card before (above) the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red_flag: Option<RedFlagCard>,
    /// What the model thought before it answered (a reply thought through, `think`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingView>,
}

/// What the model thought before a reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingView {
    pub content: String,
    /// How long it thought, in milliseconds.
    pub ms: u32,
}

/// Tokens the model reported for a reply.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub prompt_tokens: u32,
    /// Every token written, the thinking's included.
    pub completion_tokens: u32,
    /// Of those, the thinking's; left out when the model did not think (or did not say).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub thinking_tokens: u32,
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

impl From<llm::Usage> for UsageView {
    fn from(usage: llm::Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            thinking_tokens: usage.thinking_tokens,
        }
    }
}

/// `event: start` of a streamed reply.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamStart {
    pub conversation_id: String,
    /// The user message being answered (new, or the one regenerated for).
    pub user_message_id: String,
}

/// `event: delta`: the next piece of the reply; `event: thinking` (before the first `delta`):
/// the next piece of what the model thinks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamDelta {
    pub content: String,
}

/// `event: done`: the reply is saved: complete, or as far as it got when the user stopped it.
/// (`event: error` carries an [`ErrorBody`].)
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamDone {
    pub conversation_id: String,
    pub message_id: String,
    pub usage: Option<UsageView>,
    pub finish_reason: FinishReason,
    /// How long the model thought, in milliseconds (a reply thought through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_ms: Option<u32>,
}

/// How a reply ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// The model finished it.
    Completed,
    /// The user stopped it (`POST /api/chat/conversations/{id}/stop`); saved as far as it got.
    Stopped,
    /// Moderation refused it: the model's request was closed, and the site shows a notice in
    /// its place (the reply is kept for administrators only).
    Blocked,
}

impl From<reply::Ending> for FinishReason {
    fn from(ending: reply::Ending) -> Self {
        match ending {
            reply::Ending::Completed => Self::Completed,
            reply::Ending::Stopped => Self::Stopped,
            reply::Ending::Blocked => Self::Blocked,
        }
    }
}

/// `event: title`: the title the model wrote for a new conversation, sent after `done` when it
/// is ready in time (otherwise the conversation list has it later).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamTitle {
    pub conversation_id: String,
    pub title: String,
}

/// One Server-Sent Event of a streamed reply, as an event-stream parser reads it: `event` is
/// `start`, `redFlag`, `thinking`, `delta`, `done`, `error` or `title`, and `data` the JSON of
/// `StreamStart`, `RedFlagCard`, `StreamDelta` (both `thinking` and `delta`), `StreamDone`,
/// `ErrorBody` or `StreamTitle`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Send a message to an assistant and get its reply, whole (JSON) or streamed (SSE).
///
/// Streaming (`Accept: text/event-stream` or `"stream": true`): events `start` (`StreamStart`),
/// `redFlag` (`RedFlagCard`: an emergency sign in the message; show it above the reply),
/// `delta` (`StreamDelta`) as the reply is generated, then `done` (`StreamDone`, whose
/// `finishReason` is `completed`, or `stopped` when the user stopped the reply through
/// `POST /api/chat/conversations/{id}/stop`) or `error` (`ErrorBody`); for a new conversation,
/// `title` (`StreamTitle`) may follow `done`. Failures before the first piece are ordinary JSON
/// errors. A client that disconnects cancels nothing: the reply is completed and saved, and its
/// stream slot freed. A stopped reply counts against the message quota like any other.
#[utoipa::path(
    post,
    path = "/api/chat",
    tag = "chat",
    security(("bearer" = [])),
    request_body = ChatRequest,
    responses(
        (status = 200, description = "The reply (JSON), or its event stream (SSE)", content(
            (ChatResponse = "application/json"),
            (SseEvent = "text/event-stream", example = json!("event: start\ndata: {\"conversationId\":\"c1\",\"userMessageId\":\"m1\"}\n\nevent: delta\ndata: {\"content\":\"Hello\"}\n\nevent: done\ndata: {\"conversationId\":\"c1\",\"messageId\":\"m2\",\"usage\":null,\"finishReason\":\"completed\"}\n\nevent: title\ndata: {\"conversationId\":\"c1\",\"title\":\"Greetings\"}\n\n"))
        )),
        (status = 403, description = "`terms_required` (accept the current terms first; `error.termsVersion`), `chat_restricted` (an administrator restricted the account; `error.until`), `consent_required` (the TCM adviser needs the health-information consent), or `email_unverified`", body = ErrorBody),
        (status = 404, description = "`conversationId` is not one of the caller's conversations, `readingId` none of the caller's readings, or an `attachments` id none of the caller's pictures", body = ErrorBody),
        (status = 409, description = "`reading_elsewhere`: the reading belongs to another conversation; `attachment_in_use`: a picture was sent with another message", body = ErrorBody),
        (status = 422, description = "Invalid message (`message_too_long`, `empty_message`…), `conversation_too_long`, `reading_not_oracle` (a reading in a TCM conversation), pictures refused (`too_many_pictures`, `duplicate_picture`, `picture_not_uploaded`, `picture_size_mismatch`, `picture_not_an_image`, `tongue_photo_not_tcm`), or `content_blocked`: moderation refused the message or a picture (stored, marked, not sent to the model; `error.conversationId` names the turn)", body = ErrorBody),
        (status = 429, description = "Message quota used up (`rate_limited`), too many streams at once (`too_many_streams`), or chat paused after blocked messages (`moderation_cooldown`); see `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 502, description = "The model failed (`upstream_error`, `upstream_stream_broken`, `upstream_empty_reply`); `error.conversationId` names the saved turn", body = ErrorBody),
        (status = 503, description = "No model configured (`llm_not_configured`), the content check unavailable (`moderation_unavailable`), pictures not taken here (`pictures_not_offered`) or not readable now (`storage_unavailable`), or the database unavailable", body = ErrorBody),
        (status = 504, description = "The model did not answer in time (`upstream_timeout`); in a stream's `error` event also `reply_too_long` (the reply ran longer than its stream slot's lease)", body = ErrorBody),
    )
)]
async fn chat(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientMeta,
    headers: HeaderMap,
    AppJson(request): AppJson<ChatRequest>,
) -> AppResult<Response> {
    let wants_stream = request.stream || accepts_stream(&headers);
    let turn = service::validate(request)?;
    answer(state, &auth.user, &client, turn, wants_stream).await
}

/// The client asked for Server-Sent Events.
fn accepts_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// Runs a validated turn (a new message, a regeneration, an edit) and answers with its reply.
async fn answer(
    state: AppState,
    user: &crate::entities::user::Model,
    client: &ClientMeta,
    turn: Turn,
    wants_stream: bool,
) -> AppResult<Response> {
    let llm = service::llm(&state)?;
    // Emergency signs in the new message (a new one or an edit): a card before the reply, and
    // on any refusal of the turn (terms, consent, a restriction, the quota, moderation): a
    // person in crisis sees the numbers to call whatever stops the turn. Found before
    // moderation, so that a message moderation blocks (self-harm is risky content to a filter)
    // still keeps its card: stored with it, the history shows it under the message.
    let red_flag = turn.message.as_deref().and_then(red_flags::check);
    let with_card = |err: AppError| match red_flag {
        Some(flag) => err.with(Extra::RedFlag(Box::new(RedFlagCard::new(&state.config, flag)))),
        None => err,
    };
    let turn = Turn { think: service::thinks(&state, turn.think).map_err(with_card)?, ..turn };
    // What would refuse the turn anyway is asked first: a check is a paid call.
    service::may_chat(&state, user, turn.kind, turn.conversation_id.as_deref()).await.map_err(with_card)?;
    // Its pictures are in the bucket, of their types: read there, before the turn's transaction.
    let pictures = crate::attachments::ready(&state, &user.id, &turn.attachments).await.map_err(with_card)?;
    let claimed: Vec<String> =
        pictures.iter().filter(|picture| picture.is_new()).map(|picture| picture.row.id.clone()).collect();
    let turn = Turn { pictures, ..turn };
    // A turn refused before it placed its message gives back the pictures it claimed.
    let answered = async {
        let text = TurnText {
            message: turn.message.as_deref(),
            hint: turn.system_hint.as_deref(),
            // Earlier messages are used (and so checked) only when they open a conversation: a
            // client that resends its whole history with `conversationId` has it ignored.
            brought: match turn.conversation_id {
                None => turn.earlier.iter().map(|(_, content)| content.as_str()).collect(),
                Some(_) => Vec::new(),
            },
            // Its new pictures, as the model will see them (one sent before was checked then).
            pictures: crate::attachments::checked::for_moderation(&state, &turn.pictures).await.map_err(with_card)?,
        };
        // (Placing the turn checks it against the conversation; a turn that names its assistant
        // is refused here already, before the paid checks.)
        if let Some(kind) = turn.kind {
            crate::attachments::tongue::only_with_tcm(&turn.pictures, kind).map_err(with_card)?;
        }
        if let Some(label) = input::screen(&state, user, text).await.map_err(with_card)? {
            let language = turn.language;
            let prepared = service::prepare(&state, user, Turn { blocked: true, red_flag, ..turn }, false)
                .await
                .map_err(with_card)?;
            service::tidy_up(&state).await;
            return Err(with_card(
                input::refused(&state, user, client, &prepared.conversation.id, &label, language).await,
            ));
        }
        let turn = Turn { red_flag, ..turn };
        if wants_stream {
            // Refusals before the stream begins are JSON errors: they carry the card too.
            return stream::respond(state.clone(), llm, user, client, turn).await.map_err(with_card);
        }
        let prepared = service::prepare(&state, user, turn, false).await.map_err(with_card)?;
        let conversation_id = prepared.conversation.id.clone();
        // A reply thought through is streamed from the model and collected: the timeout bounds
        // each next piece, so the whole has the deadline of a streamed reply (`CHAT_REPLY_MAX`).
        let longest = state.config.chat_stream_lease();
        let answered = tokio::time::timeout(longest, llm.complete(&prepared.prompt, prepared.think)).await;
        let completion = match answered {
            Ok(Ok(completion)) => completion,
            failed => {
                reply::model_failed(&state, &prepared).await;
                let err = match failed {
                    Ok(Err(err)) => service::llm_error(err),
                    _ => stream::too_long(longest),
                };
                return Err(err.in_conversation(&conversation_id));
            }
        };
        // The thinking is shown too: it is checked like the reply.
        let thought = completion.thought.as_ref();
        let mut shown = vec![completion.text.as_str()];
        shown.extend(thought.map(|thought| thought.text.as_str()));
        let verdict = match output::judge_all(&state, &shown).await {
            Ok(verdict) => verdict,
            Err(err) => {
                reply::model_failed(&state, &prepared).await;
                return Err(err.in_conversation(&conversation_id));
            }
        };
        let ending = if verdict.is_blocked() { reply::Ending::Blocked } else { reply::Ending::Completed };
        let message = reply::save_reply(&state, &prepared, &completion.text, thought, completion.usage, ending)
            .await
            .map_err(|err| err.in_conversation(&conversation_id))?;
        service::tidy_up(&state).await;
        if let Verdict::Block { label } = verdict {
            output::blocked(&state, &prepared.conversation.user_id, client, &conversation_id, &label).await;
            return Ok(Json(ChatResponse {
                reply: output::notice(prepared.language).to_string(),
                conversation_id,
                message_id: message.id,
                user_message_id: message.parent_id.unwrap_or_default(),
                usage: completion.usage.map(Into::into),
                finish_reason: FinishReason::Blocked,
                red_flag: prepared.red_flag.map(|flag| RedFlagCard::new(&state.config, flag)),
                thinking: None,
            })
            .into_response());
        }
        if prepared.first_reply {
            // Not awaited: the answer does not wait for its title (the list shows it when ready).
            let (state, reply) = (state.clone(), completion.text.clone());
            tokio::spawn(async move {
                title::write(&state, &llm, &prepared.conversation.id, prepared.language, &prepared.question, &reply)
                    .await;
            });
        }
        Ok(Json(ChatResponse {
            reply: completion.text,
            conversation_id,
            message_id: message.id,
            user_message_id: message.parent_id.unwrap_or_default(),
            usage: completion.usage.map(Into::into),
            finish_reason: FinishReason::Completed,
            red_flag: prepared.red_flag.map(|flag| RedFlagCard::new(&state.config, flag)),
            thinking: completion.thought.map(|thought| ThinkingView { content: thought.text, ms: thought.ms }),
        })
        .into_response())
    }
    .await;
    if answered.is_err() {
        crate::attachments::checked::release(&state, &claimed).await;
    }
    answered
}
