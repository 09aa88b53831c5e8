//! The audit trail: one row per security-relevant action (register, login, failed login,
//! logout, ban, unban, export), with the actor, client IP and user agent.

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::{
    clock::Clock,
    entities::{AuditLog, audit_log},
    error::AppResult,
    http::ClientMeta,
    ids::new_id,
};

/// The actions written to `audit_logs.action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Register,
    Login,
    LoginFailed,
    LoginBlocked,
    Logout,
    Ban,
    Unban,
    Export,
    Promote,
    Demote,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Self::Register,
        Self::Login,
        Self::LoginFailed,
        Self::LoginBlocked,
        Self::Logout,
        Self::Ban,
        Self::Unban,
        Self::Export,
        Self::Promote,
        Self::Demote,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::LoginBlocked => "login_blocked",
            Self::Logout => "logout",
            Self::Ban => "ban",
            Self::Unban => "unban",
            Self::Export => "export",
            Self::Promote => "promote",
            Self::Demote => "demote",
        }
    }
}

pub async fn record(
    db: &impl ConnectionTrait,
    clock: &Clock,
    actor_id: Option<&str>,
    action: Action,
    message: impl Into<String>,
    client: &ClientMeta,
) -> AppResult<()> {
    AuditLog::insert(audit_log::ActiveModel {
        id: Set(new_id()),
        actor_id: Set(actor_id.map(str::to_string)),
        action: Set(action.as_str().to_string()),
        message: Set(message.into()),
        ip: Set(client.ip.map(|ip| ip.to_string())),
        user_agent: Set(client.user_agent.clone()),
        created_at: Set(clock.now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}
