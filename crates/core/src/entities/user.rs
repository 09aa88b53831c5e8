use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Trimmed and lower-cased; unique.
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub banned_at: Option<DateTimeUtc>,
    /// When the owner proved the address is theirs (a verification link, `appctl verify-email`).
    pub email_verified_at: Option<DateTimeUtc>,
    /// `zh` or `en`: the language of the mail this account receives.
    pub locale: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the account last used up its moderation strikes (a cool-down began).
    pub moderation_flagged_at: Option<DateTimeUtc>,
    /// An administrator's restriction after a report: chat is refused until then.
    pub restricted_until: Option<DateTimeUtc>,
    /// The terms of service (and privacy policy) version the account accepted (`TERMS_VERSION`).
    pub terms_version: Option<String>,
    pub terms_accepted_at: Option<DateTimeUtc>,
    /// The separate consent to processing health information (PIPL art. 29); `None`: never
    /// given, or withdrawn.
    pub health_consent_at: Option<DateTimeUtc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    #[sea_orm(string_value = "USER")]
    User,
    #[sea_orm(string_value = "ADMIN")]
    Admin,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
    #[sea_orm(has_many = "super::conversation::Entity")]
    Conversation,
    #[sea_orm(has_many = "super::account_token::Entity")]
    AccountToken,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::conversation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
