use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::ConversationKind;

/// A user's report of a reply, once per reply (a unique index), with a copy of the reply as it
/// was reported and the administrators' decision (see `crate::reports`). Deleted with the
/// reporter's account; the conversation and message ids become NULL when those are deleted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub reporter_id: String,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub assistant: ConversationKind,
    pub reason: ReportReason,
    pub comment: Option<String>,
    /// The reply as it was when reported.
    #[sea_orm(column_type = "Text")]
    pub reply: String,
    /// The user's message the reply answered, as it was when reported (`None`: none found).
    #[sea_orm(column_type = "Text", nullable)]
    pub question: Option<String>,
    pub status: ReportStatus,
    pub created_at: DateTimeUtc,
    /// By when the administrators answer (`REPORT_RESPONSE_DAYS` after it was filed).
    pub due_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    /// The administrator who decided (their id; kept after their account is gone).
    pub decided_by: Option<String>,
    pub reply_hidden: bool,
    pub user_action: UserAction,
    pub restricted_until: Option<DateTimeUtc>,
    /// The administrators' words to the reporter (for a warning, the warning).
    pub note: Option<String>,
}

/// Why a reply is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum ReportReason {
    /// Illegal content.
    #[sea_orm(string_value = "ILLEGAL")]
    Illegal,
    /// Harmful or dangerous advice.
    #[sea_orm(string_value = "HARMFUL")]
    Harmful,
    /// Wrong or misleading.
    #[sea_orm(string_value = "WRONG")]
    Wrong,
    /// It exposes personal information.
    #[sea_orm(string_value = "PRIVACY")]
    Privacy,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// Where a report stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    /// Waiting for an administrator.
    #[sea_orm(string_value = "OPEN")]
    Open,
    /// An administrator acted on it (hid the reply, or warned, restricted or banned the account).
    #[sea_orm(string_value = "ACTIONED")]
    Actioned,
    /// An administrator found nothing to act on.
    #[sea_orm(string_value = "DISMISSED")]
    Dismissed,
}

/// What an administrator did about the account whose conversation holds the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum UserAction {
    #[sea_orm(string_value = "NONE")]
    None,
    /// A warning (the report's note), shown with the outcome.
    #[sea_orm(string_value = "WARN")]
    Warn,
    /// Chat refused until `restricted_until`.
    #[sea_orm(string_value = "RESTRICT")]
    Restrict,
    /// The account suspended (as the admin ban does).
    #[sea_orm(string_value = "BAN")]
    Ban,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
