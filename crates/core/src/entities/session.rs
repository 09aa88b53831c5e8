use sea_orm::entity::prelude::*;

/// A login. A session token (JWT) is honoured only while its row exists and is unexpired, so
/// deleting rows is how logout and bans take effect immediately.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    /// Random and unique; kept from the seed's schema (NextAuth) so imported rows fit.
    #[sea_orm(unique)]
    pub session_token: String,
    pub expires: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// The client that logged in (as `ClientMeta` reads it), for the account's device list.
    pub ip: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub user_agent: Option<String>,
    /// When the session last authenticated a request, to within `auth::LAST_USED_EVERY`.
    pub last_used_at: Option<DateTimeUtc>,
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

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
