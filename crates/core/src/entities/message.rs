use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub conversation_id: String,
    pub role: MessageRole,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// Token usage of an assistant reply, when the provider reports it.
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub created_at: DateTimeUtc,
    /// The message this one follows in its conversation's tree: itself for a root; NULL for a
    /// message from before versions, whose parent is the message written just before it (see
    /// `chat::tree`).
    pub parent_id: Option<String>,
    /// A reply the user stopped, saved as far as it got.
    pub stopped: bool,
    /// Brought along by the client when it opened the conversation (a history it kept itself),
    /// not written in this app: such a "reply" is not the model's, so it cannot be rated and
    /// does not count as a reply.
    pub from_client: bool,
    /// Kept out of the model's context (and, for a reply, out of its user's sight); `None` for
    /// an ordinary message.
    pub withheld: Option<Withheld>,
    /// The red-flag rule a user's message matched (`safety::red_flags`): its card is shown
    /// with the turn.
    pub red_flag: Option<String>,
    /// What the model thought before this reply (a reply thought through): shown folded,
    /// never sent back to the model.
    #[sea_orm(column_type = "Text", nullable)]
    pub thinking: Option<String>,
    /// How long it thought, in milliseconds.
    pub thinking_ms: Option<i32>,
    /// Of `completion_tokens`, the thinking's.
    pub thinking_tokens: Option<i32>,
}

/// Why a message is withheld.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum Withheld {
    /// Moderation refused it: a user's message (never sent to the model), or a reply as it
    /// streamed (kept for administrators, never shown to its user).
    #[sea_orm(string_value = "BLOCKED")]
    Blocked,
    /// An administrator hid the reply after a report: it leaves its user's history and the
    /// model's context, and stays readable to administrators.
    #[sea_orm(string_value = "HIDDEN")]
    Hidden,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    #[sea_orm(string_value = "USER")]
    User,
    #[sea_orm(string_value = "ASSISTANT")]
    Assistant,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::conversation::Entity",
        from = "Column::ConversationId",
        to = "super::conversation::Column::Id",
        on_delete = "Cascade"
    )]
    Conversation,
}

impl Related<super::conversation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// A reply moderation withheld: its words are for administrators only, never shown to its
    /// user (history, the account's own download). A message the client brought along is the
    /// user's own text, shown to them even when withheld with a blocked turn.
    pub fn hidden_from_its_user(&self) -> bool {
        self.role == MessageRole::Assistant && self.withheld.is_some() && !self.from_client
    }
}
