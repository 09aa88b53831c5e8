//! The audit trail: one row per security-relevant action (register, login, failed login,
//! refused by a limit, logout, ban, unban, export, an admin-only call by a non-admin, a deleted
//! conversation, an operator's `appctl` command, a password changed or reset, a verified
//! address, an account's own export or deletion), with the actor, client IP and user agent.

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::{
    clock::Clock,
    entities::{AuditLog, audit_log},
    error::AppResult,
    http::ClientMeta,
    ids::new_id,
    state::AppState,
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
    /// A login refused by a failed-login limit (429).
    LoginRateLimited,
    /// A registration refused by the per-network limit (429).
    RegisterRateLimited,
    /// A non-admin called an admin-only route (403 `admin_only`).
    AdminDenied,
    ConversationDelete,
    /// `appctl import`.
    Import,
    PasswordChange,
    /// A forgotten-password link was asked for (the actor is empty for an unknown address).
    PasswordResetRequest,
    /// A password set through a mailed link or by `appctl reset-password`.
    PasswordReset,
    EmailVerified,
    /// The owner downloaded their data.
    AccountExport,
    /// The owner deleted their account (the row keeps the id, not the address).
    AccountDelete,
}

impl Action {
    pub const ALL: [Action; 21] = [
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
        Self::LoginRateLimited,
        Self::RegisterRateLimited,
        Self::AdminDenied,
        Self::ConversationDelete,
        Self::Import,
        Self::PasswordChange,
        Self::PasswordResetRequest,
        Self::PasswordReset,
        Self::EmailVerified,
        Self::AccountExport,
        Self::AccountDelete,
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
            Self::LoginRateLimited => "login_rate_limited",
            Self::RegisterRateLimited => "register_rate_limited",
            Self::AdminDenied => "admin_denied",
            Self::ConversationDelete => "conversation_delete",
            Self::Import => "import",
            Self::PasswordChange => "password_change",
            Self::PasswordResetRequest => "password_reset_request",
            Self::PasswordReset => "password_reset",
            Self::EmailVerified => "email_verified",
            Self::AccountExport => "account_export",
            Self::AccountDelete => "account_delete",
        }
    }
}

/// The longest user agent kept; a longer one is cut (on a character boundary). Real ones are a
/// few hundred bytes, and MySQL's TEXT column refuses more than 64 KiB, which would fail the
/// request being audited (a registration, a login) with a 500.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// A client's user agent as it is stored (here and in `sessions`): at most
/// [`MAX_USER_AGENT_CHARS`] characters.
pub fn user_agent(agent: &str) -> String {
    truncated(agent, MAX_USER_AGENT_CHARS)
}

/// The longest message kept, for the same reason (messages quote client input).
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// `text` if it has at most `max_chars` characters, else its first `max_chars - 1` and "…", so
/// a reader of the audit log sees that it was shortened.
fn truncated(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some(_) => {
            let mut kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
            kept.push('…');
            kept
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
        message: Set(truncated(&message.into(), MAX_MESSAGE_CHARS)),
        ip: Set(client.ip.map(|ip| ip.to_string())),
        user_agent: Set(client.user_agent.as_deref().map(user_agent)),
        created_at: Set(clock.now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Records a refusal (a rate-limited attempt, an admin-only call by a non-admin) without
/// letting the audit change the answer: a failed write is logged, and the client still gets
/// its 429 or 403 rather than a 503.
pub async fn record_refusal(
    state: &AppState,
    action: Action,
    actor_id: Option<&str>,
    message: String,
    client: &ClientMeta,
) {
    if let Err(err) = record(&state.db, &state.clock, actor_id, action, message, client).await {
        tracing::warn!(error = %err, action = action.as_str(), "could not audit a refusal");
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_USER_AGENT_CHARS, truncated};

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncated("short", 10), "short");
        assert_eq!(truncated("exactly", 7), "exactly");
        assert_eq!(truncated("abcdef", 3), "ab…");
        assert_eq!(truncated("😀😀😀", 2), "😀…");
        assert_eq!(truncated("", 0), "");
        assert_eq!(truncated(&"x".repeat(600), MAX_USER_AGENT_CHARS).chars().count(), MAX_USER_AGENT_CHARS);
    }
}
