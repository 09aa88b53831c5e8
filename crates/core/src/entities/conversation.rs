use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    #[sea_orm(column_name = "type")]
    pub kind: ConversationKind,
    pub title: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The last message of the branch shown and sent to the model (NULL: the newest message).
    pub active_leaf_id: Option<String>,
    pub title_source: TitleSource,
}

/// Where a conversation's title came from. Only a [`TitleSource::Message`] title is replaced
/// (by the model's); a title the user chose never is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum TitleSource {
    /// Cut from the first message.
    #[sea_orm(string_value = "message")]
    Message,
    /// Written by the model after the first reply.
    #[sea_orm(string_value = "model")]
    Model,
    /// Renamed by the user.
    #[sea_orm(string_value = "user")]
    User,
}

/// Which assistant a conversation is with. The API spells these `oracle` / `tcm`; the database
/// keeps the seed's `ORACLE` / `TCM`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    #[sea_orm(string_value = "ORACLE")]
    Oracle,
    #[sea_orm(string_value = "TCM")]
    Tcm,
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
    #[sea_orm(has_many = "super::message::Entity")]
    Message,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::message::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Message.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
