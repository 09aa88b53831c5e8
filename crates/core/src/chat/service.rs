//! A chat turn, independent of HTTP: validate it, charge the quota, save the user's message
//! (before the model is called, so a failed turn loses nothing), build the prompt, and save the
//! reply.

use std::sync::Arc;

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    ChatRequest,
    llm::{Llm, LlmError, Prompt, Usage},
    persona::{Language, MAX_HINT_CHARS, system_prompt},
};
use crate::{
    entities::{Conversation, ConversationKind, Message, MessageRole, Role, conversation, message, user},
    error::{AppError, AppResult},
    ids::new_id,
    rate_limit::{self, Bucket, Meter},
    state::AppState,
};

/// The longest single message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4_000;
/// The most messages one request may carry.
pub const MAX_MESSAGES: usize = 50;
/// Conversation titles derived from the first message keep this many characters.
pub const TITLE_CHARS: usize = 60;
const MAX_LOCALE_CHARS: usize = 35;

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct Turn {
    pub kind: ConversationKind,
    pub language: Language,
    pub conversation_id: Option<String>,
    pub system_hint: Option<String>,
    /// Messages before the new one (used only to open a new conversation).
    pub earlier: Vec<(MessageRole, String)>,
    /// The new user message.
    pub message: String,
}

/// A turn whose user message is saved and whose prompt is ready.
pub struct PreparedTurn {
    pub conversation: conversation::Model,
    pub prompt: Prompt,
}

pub fn validate(request: ChatRequest) -> AppResult<Turn> {
    if request.messages.is_empty() {
        return Err(AppError::validation("empty_messages", "`messages` must contain at least the new user message"));
    }
    if request.messages.len() > MAX_MESSAGES {
        return Err(AppError::validation(
            "too_many_messages",
            format!("at most {MAX_MESSAGES} messages per request (the server keeps the history)"),
        ));
    }
    let mut messages = Vec::with_capacity(request.messages.len());
    for (index, message) in request.messages.into_iter().enumerate() {
        let role = match message.role.trim().to_ascii_lowercase().as_str() {
            "user" => MessageRole::User,
            "assistant" => MessageRole::Assistant,
            other => {
                return Err(AppError::validation(
                    "invalid_role",
                    format!("messages[{index}].role must be \"user\" or \"assistant\", got {other:?}"),
                ));
            }
        };
        let length = message.content.chars().count();
        if length > MAX_MESSAGE_CHARS {
            return Err(AppError::validation(
                "message_too_long",
                format!("messages[{index}] has {length} characters; the limit is {MAX_MESSAGE_CHARS}"),
            ));
        }
        messages.push((role, message.content));
    }
    let (last_role, message) = messages.pop().expect("checked non-empty");
    if last_role != MessageRole::User {
        return Err(AppError::validation("last_message_not_user", "the last message must be the user's new message"));
    }
    if message.trim().is_empty() {
        return Err(AppError::validation("empty_message", "the new message is empty"));
    }
    if let Some(hint) = &request.system_hint
        && hint.chars().count() > MAX_HINT_CHARS
    {
        return Err(AppError::validation(
            "system_hint_too_long",
            format!("`systemHint` may have at most {MAX_HINT_CHARS} characters"),
        ));
    }
    if let Some(locale) = &request.locale
        && locale.chars().count() > MAX_LOCALE_CHARS
    {
        return Err(AppError::validation("invalid_locale", "`locale` should be a language tag such as zh-CN or en"));
    }
    let conversation_id = request.conversation_id.filter(|id| !id.trim().is_empty());
    Ok(Turn {
        kind: request.kind,
        language: Language::from_locale(request.locale.as_deref()),
        conversation_id,
        system_hint: request.system_hint,
        earlier: messages,
        message,
    })
}

/// The configured model, or 503 `llm_not_configured`.
pub fn llm(state: &AppState) -> AppResult<Arc<Llm>> {
    state.llm.clone().ok_or_else(|| AppError::Unavailable {
        code: "llm_not_configured",
        message: "the chat assistant is not configured on this server (OPENAI_API_KEY is not set)".into(),
    })
}

pub fn llm_error(err: LlmError) -> AppError {
    match err {
        LlmError::Timeout(after) => AppError::GatewayTimeout {
            code: "upstream_timeout",
            message: format!("the assistant did not answer within {} seconds; please try again", after.as_secs()),
        },
        LlmError::Upstream(detail) => {
            tracing::warn!(%detail, "model endpoint failed");
            AppError::BadGateway {
                code: "upstream_error",
                message: "the assistant is unavailable right now; please try again".into(),
            }
        }
        LlmError::Stream(detail) => {
            tracing::warn!(%detail, "model stream broke off");
            AppError::BadGateway {
                code: "upstream_stream_broken",
                message: "the assistant's reply broke off; please try again".into(),
            }
        }
        LlmError::Empty => AppError::BadGateway {
            code: "upstream_empty_reply",
            message: "the assistant returned an empty reply; please try again".into(),
        },
    }
}

/// Charges the quota, saves the user's message (opening the conversation when needed) and
/// builds the prompt from the stored history.
pub async fn prepare(state: &AppState, user: &user::Model, turn: Turn) -> AppResult<PreparedTurn> {
    let quota = match user.role {
        Role::Admin => state.config.chat_quota_admin,
        Role::User => state.config.chat_quota_user,
    };
    // The quota is checked and charged in the transaction that saves the message, which holds
    // the user's quota key locked until it commits: concurrent turns of one user queue there,
    // and a turn that fails (an unknown conversation…) rolls its charge back with it.
    let meters: Vec<Meter> = Meter::new(Bucket::ChatMessages, &user.id, quota).into_iter().collect();
    let (txn, _charged) = rate_limit::begin_charged(&state.db, &state.clock, &meters).await?;
    let now = state.clock.now();
    // `history` is the conversation as the model will see it, oldest first: read from the
    // database for a stored conversation (in the transaction the new message joins), and for a
    // new one exactly what this turn stores, so it needs no read.
    let (conversation, mut history) = match &turn.conversation_id {
        Some(id) => {
            let conversation = Conversation::find_by_id(id.clone())
                .filter(conversation::Column::UserId.eq(&user.id))
                .one(&txn)
                .await?
                .ok_or(AppError::NotFound("conversation"))?;
            if conversation.kind != turn.kind {
                return Err(AppError::validation(
                    "conversation_type_mismatch",
                    "this conversation is with the other assistant; start a new conversation to switch",
                ));
            }
            let mut recent = Message::find()
                .filter(message::Column::ConversationId.eq(&conversation.id))
                .order_by_desc(message::Column::CreatedAt)
                .order_by_desc(message::Column::Id)
                .limit(state.config.chat_history_window)
                .all(&txn)
                .await?;
            recent.reverse();
            let mut active: conversation::ActiveModel = conversation.into();
            active.updated_at = Set(now);
            let conversation = active.update(&txn).await?;
            (conversation, recent.into_iter().map(|message| (message.role, message.content)).collect::<Vec<_>>())
        }
        None => {
            let title_source = turn
                .earlier
                .iter()
                .find(|(role, _)| *role == MessageRole::User)
                .map_or(turn.message.as_str(), |(_, content)| content.as_str());
            let conversation = conversation::Model {
                id: new_id(),
                user_id: user.id.clone(),
                kind: turn.kind,
                title: title_from(title_source),
                created_at: now,
                updated_at: now,
            };
            Conversation::insert(conversation::ActiveModel::from(conversation.clone()))
                .exec_without_returning(&txn)
                .await?;
            // The client's earlier messages open the conversation, so the model sees them
            // and the history shows them.
            for (role, content) in &turn.earlier {
                insert_message(&txn, state, &conversation.id, *role, content, None).await?;
            }
            (conversation, turn.earlier)
        }
    };
    // A retry after a failed turn sends the same message again: it is already saved.
    let already_saved = turn.conversation_id.is_some()
        && history.last().is_some_and(|(role, content)| *role == MessageRole::User && *content == turn.message);
    if !already_saved {
        insert_message(&txn, state, &conversation.id, MessageRole::User, &turn.message, None).await?;
        history.push((MessageRole::User, turn.message));
    }
    txn.commit().await?;
    if !meters.is_empty() {
        state.sweep(Bucket::ChatMessages).await;
    }

    // The model sees the latest `CHAT_HISTORY_WINDOW` messages.
    let window = usize::try_from(state.config.chat_history_window).unwrap_or(usize::MAX);
    let excess = history.len().saturating_sub(window);
    history.drain(..excess);
    let prompt =
        Prompt { system: system_prompt(turn.kind, turn.language, turn.system_hint.as_deref()), turns: history };
    Ok(PreparedTurn { conversation, prompt })
}

/// Saves the assistant's reply and bumps the conversation to the top of the list.
///
/// The reply is what matters: once it is saved the turn has succeeded, so the bump runs after
/// it on its own (no transaction around the two) and a failed bump is only logged.
pub async fn save_reply(
    state: &AppState,
    conversation_id: &str,
    text: &str,
    usage: Option<Usage>,
) -> AppResult<message::Model> {
    let message = insert_message(&state.db, state, conversation_id, MessageRole::Assistant, text, usage).await?;
    let bumped = Conversation::update_many()
        .col_expr(conversation::Column::UpdatedAt, sea_orm::sea_query::Expr::value(message.created_at))
        .filter(conversation::Column::Id.eq(conversation_id))
        .exec(&state.db)
        .await;
    if let Err(err) = bumped {
        tracing::warn!(error = %err, %conversation_id, "reply saved, but the conversation's updatedAt was not bumped");
    }
    Ok(message)
}

async fn insert_message(
    db: &impl sea_orm::ConnectionTrait,
    state: &AppState,
    conversation_id: &str,
    role: MessageRole,
    content: &str,
    usage: Option<Usage>,
) -> AppResult<message::Model> {
    let to_i32 = |tokens: u32| i32::try_from(tokens).ok();
    let message = message::Model {
        id: new_id(),
        conversation_id: conversation_id.to_string(),
        role,
        content: content.to_string(),
        prompt_tokens: usage.and_then(|usage| to_i32(usage.prompt_tokens)),
        completion_tokens: usage.and_then(|usage| to_i32(usage.completion_tokens)),
        created_at: state.clock.now(),
    };
    // Every field is known: no need to read the row back.
    Message::insert(message::ActiveModel::from(message.clone())).exec_without_returning(db).await?;
    Ok(message)
}

/// A title from the first user message: whitespace collapsed, cut at [`TITLE_CHARS`] with "…".
pub fn title_from(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= TITLE_CHARS {
        return collapsed;
    }
    let mut title: String = collapsed.chars().take(TITLE_CHARS - 1).collect();
    title.push('…');
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(title_from("  What   does\nthe hexagram mean? "), "What does the hexagram mean?");
        let long = "问".repeat(100);
        let title = title_from(&long);
        assert_eq!(title.chars().count(), TITLE_CHARS);
        assert!(title.ends_with('…'));
    }
}
