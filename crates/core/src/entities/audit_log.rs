use sea_orm::entity::prelude::*;

/// Who did what, from where. `actor_id` is empty for actions without a known account (a failed
/// login for an unknown email) and deliberately not a foreign key, so the trail outlives users.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub ip: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
    /// The address the row is about (a login tried for it, a ban of it), kept out of `message`
    /// so that deleting that account clears exactly it (`account::own_data`).
    pub subject: Option<String>,
    /// Set on an aggregated refusal: its kind, client and hour (see `audit::record_refusal`).
    pub repeat_key: Option<String>,
    /// How many times this happened: 1, or the refusals an aggregated row stands for.
    pub occurrences: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
