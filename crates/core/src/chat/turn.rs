//! A chat turn as the client asked for it, checked: the new message (or the one to answer
//! again), its conversation, locale and hint, and where it goes in the conversation's tree.
//! [`super::service`] runs it.

use super::{
    ChatRequest,
    persona::{Language, MAX_HINT_CHARS},
};
use crate::{
    config::MAX_PICTURES_PER_MESSAGE,
    entities::{ConversationKind, MessageRole},
    error::{AppError, AppResult},
    safety::red_flags::RedFlag,
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
    /// The assistant asked for; `None`: the conversation's (regenerate, edit).
    pub kind: Option<ConversationKind>,
    pub language: Language,
    pub conversation_id: Option<String>,
    pub system_hint: Option<String>,
    /// Messages before the new one (used only to open a new conversation).
    pub earlier: Vec<(MessageRole, String)>,
    /// The new user message (`None` when regenerating a reply).
    pub message: Option<String>,
    pub placement: Placement,
    /// Moderation refused the turn's text: its message is stored withheld (never sent to the
    /// model), the quota and a moderation strike are charged, and no reply is asked for.
    pub blocked: bool,
    /// The emergency sign the new message shows (`safety::red_flags`): stored with it, its card
    /// shown before the reply, and the model told.
    pub red_flag: Option<RedFlag>,
    /// A reading of the oracle's the turn asks about (`crate::oracle::prompt`).
    pub reading_id: Option<String>,
    /// The reply is to be thought through first (the person's switch, or `CHAT_THINKING=always`;
    /// settled by `service::thinks`).
    pub think: bool,
    /// The pictures the new message carries, by id, as asked.
    pub attachments: Vec<String>,
    /// The same, checked (`attachments::ready`, before the turn is placed).
    pub pictures: Vec<crate::attachments::Ready>,
}

/// Where in the conversation's tree a turn goes (see [`super::tree`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A new message after the branch shown (`POST /api/chat`).
    Append,
    /// A new version of the user message `of`, with the turn's message (edit and resend).
    Edit { of: String },
    /// A new reply at `of`: another version of it when it is a reply, a reply to it when it is
    /// a user message (one whose reply failed or was never written).
    Regenerate { of: String },
}

/// The reply options every turn accepts: a locale and a hint.
pub fn options(locale: Option<&str>, system_hint: Option<String>) -> AppResult<(Language, Option<String>)> {
    if let Some(hint) = &system_hint
        && hint.chars().count() > MAX_HINT_CHARS
    {
        return Err(AppError::validation(
            "system_hint_too_long",
            format!("`systemHint` may have at most {MAX_HINT_CHARS} characters"),
        ));
    }
    if let Some(locale) = locale
        && locale.chars().count() > MAX_LOCALE_CHARS
    {
        return Err(AppError::validation("invalid_locale", "`locale` should be a language tag such as zh-CN or en"));
    }
    Ok((Language::from_locale(locale), system_hint))
}

/// A new user message: not empty, at most [`MAX_MESSAGE_CHARS`].
pub fn user_message(content: String, field: &str) -> AppResult<String> {
    let length = content.chars().count();
    if length > MAX_MESSAGE_CHARS {
        return Err(AppError::validation(
            "message_too_long",
            format!("{field} has {length} characters; the limit is {MAX_MESSAGE_CHARS}"),
        ));
    }
    if content.trim().is_empty() {
        return Err(AppError::validation("empty_message", "the new message is empty"));
    }
    Ok(content)
}

/// The pictures a message names: at most [`MAX_PICTURES_PER_MESSAGE`], each once.
pub fn attachment_ids(ids: Vec<String>) -> AppResult<Vec<String>> {
    if ids.len() > MAX_PICTURES_PER_MESSAGE {
        return Err(AppError::validation(
            "too_many_pictures",
            format!("a message may carry at most {MAX_PICTURES_PER_MESSAGE} pictures"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if !ids.iter().all(|id| seen.insert(id.as_str())) {
        return Err(AppError::validation("duplicate_picture", "a picture is named twice"));
    }
    Ok(ids)
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
    let message = user_message(message, "the new message")?;
    let (language, system_hint) = options(request.locale.as_deref(), request.system_hint)?;
    let conversation_id = request.conversation_id.filter(|id| !id.trim().is_empty());
    Ok(Turn {
        kind: Some(request.kind),
        language,
        conversation_id,
        system_hint,
        earlier: messages,
        message: Some(message),
        placement: Placement::Append,
        blocked: false,
        red_flag: None,
        reading_id: request.reading_id.filter(|id| !id.trim().is_empty()),
        think: request.think,
        attachments: attachment_ids(request.attachments)?,
        pictures: Vec::new(),
    })
}
