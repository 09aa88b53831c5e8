use sea_orm::entity::prelude::*;

/// A reply being streamed: the row through which a stop sent to any instance reaches the one
/// streaming, which polls it (see `chat::stop`). Deleted when the reply ends.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reply_streams")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub conversation_id: String,
    pub started_at: DateTimeUtc,
    /// Set by a stop request; the streaming instance ends the reply when it sees it.
    pub stop_requested_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
