use sea_orm::entity::prelude::*;

use super::ConversationKind;

/// What one user did in one hour with one assistant in one language: the tallies the usage
/// dashboard sums (see `crate::usage::tally`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_hours")]
pub struct Model {
    /// Whole hours since 1970-01-01 00:00 UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub assistant: ConversationKind,
    /// `zh`, `en`, or `unknown` (messages from before the tallies).
    #[sea_orm(primary_key, auto_increment = false)]
    pub language: String,
    pub user_messages: i64,
    pub replies: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub stopped: i64,
    pub model_errors: i64,
    /// Of `completion_tokens`, the thinking's.
    pub thinking_tokens: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}
