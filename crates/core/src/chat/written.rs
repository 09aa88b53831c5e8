//! The messages a turn writes (the user's, and the reply), as one insert each: every field is
//! known beforehand, so no row is read back.

use sea_orm::EntityTrait;

use super::llm::{Thought, Usage};
use crate::{
    entities::{Message, MessageRole, Withheld, message},
    ids::new_id,
    state::AppState,
};

/// A message to insert.
#[derive(Clone)]
pub(super) struct NewMessage<'a> {
    /// Chosen beforehand when something must point at it (a new conversation's leaf).
    pub(super) id: Option<String>,
    pub(super) role: MessageRole,
    pub(super) content: &'a str,
    /// `None`: a root.
    pub(super) parent: Option<&'a str>,
    pub(super) usage: Option<Usage>,
    /// What the model thought first (a reply thought through).
    pub(super) thought: Option<&'a Thought>,
    pub(super) stopped: bool,
    /// Brought along by the client (a new conversation's earlier messages).
    pub(super) from_client: bool,
    pub(super) withheld: Option<Withheld>,
    pub(super) red_flag: Option<&'static str>,
}

impl<'a> NewMessage<'a> {
    pub(super) fn of(role: MessageRole, content: &'a str, parent: Option<&'a str>) -> Self {
        Self {
            id: None,
            role,
            content,
            parent,
            usage: None,
            thought: None,
            stopped: false,
            from_client: false,
            withheld: None,
            red_flag: None,
        }
    }
}

pub(super) async fn insert_message(
    db: &impl sea_orm::ConnectionTrait,
    state: &AppState,
    conversation_id: &str,
    new: NewMessage<'_>,
) -> Result<message::Model, sea_orm::DbErr> {
    let to_i32 = |tokens: u32| i32::try_from(tokens).ok();
    let id = new.id.unwrap_or_else(new_id);
    let message = message::Model {
        parent_id: Some(new.parent.unwrap_or(&id).to_string()),
        id,
        conversation_id: conversation_id.to_string(),
        role: new.role,
        content: new.content.to_string(),
        prompt_tokens: new.usage.and_then(|usage| to_i32(usage.prompt_tokens)),
        completion_tokens: new.usage.and_then(|usage| to_i32(usage.completion_tokens)),
        created_at: state.clock.now(),
        stopped: new.stopped,
        from_client: new.from_client,
        withheld: new.withheld,
        red_flag: new.red_flag.map(str::to_string),
        thinking: new.thought.map(|thought| thought.text.clone()),
        thinking_ms: new.thought.and_then(|thought| i32::try_from(thought.ms).ok()),
        thinking_tokens: new
            .usage
            .filter(|usage| usage.thinking_tokens > 0)
            .and_then(|usage| to_i32(usage.thinking_tokens)),
    };
    // Every field is known: no need to read the row back.
    Message::insert(message::ActiveModel::from(message.clone())).exec_without_returning(db).await?;
    Ok(message)
}
