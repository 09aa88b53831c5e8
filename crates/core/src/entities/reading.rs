use sea_orm::entity::prelude::*;

/// A casting of the oracle's (see `crate::oracle`): the question, the method, the six line
/// values, and the primary and relating hexagrams' numbers; linked to the conversation that asks
/// about it, deleted with it or with the account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "readings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub conversation_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub question: String,
    /// `coins`, `yarrow` or `manual`.
    pub method: String,
    /// The six values, bottom first, as digits: `779868`.
    pub line_values: String,
    pub primary_number: i16,
    pub relating_number: Option<i16>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
