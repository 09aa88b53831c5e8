//! The audit trail: one row per security-relevant action (register, login, failed login,
//! refused by a limit, logout, ban, unban, export, an admin-only call by a non-admin, a deleted
//! conversation, an operator's `appctl` command, a password changed or reset, a verified
//! address, an account's own export or deletion), with the actor, the address it is about,
//! the client IP and user agent.
//!
//! The trail is bounded: refusals are aggregated per client and hour ([`record_refusal`]),
//! what a message quotes of a client is cut short ([`quote`]), and rows older than
//! `AUDIT_RETENTION` (default 180 days: public services in China keep network logs at least
//! six months) are deleted in batches ([`sweep`]).

use chrono::TimeDelta;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::{
    clock::Clock,
    entities::{AuditLog, audit_log},
    error::AppResult,
    housekeeping,
    housekeeping::Chore,
    http::ClientMeta,
    ids::new_id,
    rate_limit,
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
    /// Moderation blocked a user's message (a strike).
    ContentBlocked,
    /// Moderation blocked a reply as it was written.
    ReplyBlocked,
    /// The account accepted the terms of service and privacy policy (its version in the message).
    TermsAccepted,
    /// The account consented to the processing of health information.
    HealthConsentGiven,
    /// The account withdrew that consent.
    HealthConsentWithdrawn,
    /// A user reported a reply.
    ReportFiled,
    /// An administrator decided a report (actioned or dismissed, and what was done).
    ReportDecided,
    /// An administrator hid a reported reply.
    ReplyHidden,
    /// An administrator warned an account after a report.
    UserWarned,
    /// An administrator restricted an account's chat after a report.
    UserRestricted,
    /// An administrator lifted an account's chat restriction early.
    RestrictionLifted,
}

impl Action {
    pub const ALL: [Action; 32] = [
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
        Self::ContentBlocked,
        Self::ReplyBlocked,
        Self::TermsAccepted,
        Self::HealthConsentGiven,
        Self::HealthConsentWithdrawn,
        Self::ReportFiled,
        Self::ReportDecided,
        Self::ReplyHidden,
        Self::UserWarned,
        Self::UserRestricted,
        Self::RestrictionLifted,
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
            Self::ContentBlocked => "content_blocked",
            Self::ReplyBlocked => "reply_blocked",
            Self::TermsAccepted => "terms_accepted",
            Self::HealthConsentGiven => "health_consent_given",
            Self::HealthConsentWithdrawn => "health_consent_withdrawn",
            Self::ReportFiled => "report_filed",
            Self::ReportDecided => "report_decided",
            Self::ReplyHidden => "reply_hidden",
            Self::UserWarned => "user_warned",
            Self::UserRestricted => "user_restricted",
            Self::RestrictionLifted => "restriction_lifted",
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

/// The longest message kept. Messages are ours, but some quote what a client sent (a path, a
/// title): a short bound keeps a row small whatever the client sends.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// The longest subject and repeat key kept (their columns are VARCHAR(191)).
const MAX_KEY_CHARS: usize = 191;

/// The longest piece of client input (a request path) a message quotes: [`quote`] cuts it.
pub const MAX_QUOTED_CHARS: usize = 120;

/// `text` cut to [`MAX_QUOTED_CHARS`], for quoting client input in a message.
pub fn quote(text: &str) -> String {
    truncated(text, MAX_QUOTED_CHARS)
}

/// How long, in seconds, one row counts the refusals of its kind from its client: one row per
/// kind, client and hour, with a count ([`record_refusal`]).
pub const REFUSALS_AGGREGATED_PER: i64 = 3600;

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

/// One row of the trail: what happened, who did it, and which address it was about.
///
/// The address goes in `subject`, never in the message: deleting that account then clears
/// exactly its address, through an index (`account::own_data`), without touching the rows
/// of anyone whose address merely contains it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub action: Action,
    pub actor_id: Option<String>,
    pub subject: Option<String>,
    pub message: String,
}

impl Entry {
    pub fn new(action: Action, actor_id: Option<&str>, message: impl Into<String>) -> Self {
        Self { action, actor_id: actor_id.map(str::to_string), subject: None, message: message.into() }
    }

    /// The address this row is about.
    pub fn about(mut self, email: &str) -> Self {
        self.subject = Some(truncated(email, MAX_KEY_CHARS));
        self
    }

    fn row(self, clock: &Clock, client: &ClientMeta) -> audit_log::ActiveModel {
        audit_log::ActiveModel {
            id: Set(new_id()),
            actor_id: Set(self.actor_id),
            action: Set(self.action.as_str().to_string()),
            message: Set(truncated(&self.message, MAX_MESSAGE_CHARS)),
            ip: Set(client.ip.map(|ip| ip.to_string())),
            user_agent: Set(client.user_agent.as_deref().map(user_agent)),
            created_at: Set(clock.now()),
            subject: Set(self.subject),
            repeat_key: Set(None),
            occurrences: Set(1),
        }
    }
}

pub async fn record(db: &impl ConnectionTrait, clock: &Clock, entry: Entry, client: &ClientMeta) -> AppResult<()> {
    AuditLog::insert(entry.row(clock, client)).exec_without_returning(db).await?;
    Ok(())
}

/// Records a refusal (a rate-limited attempt, an admin-only call by a non-admin, a banned
/// account's login), aggregated: the first refusal of its kind from a client (the account
/// when there is one, else the network, as the per-IP limits count it) in an hour is a row,
/// and the others of that hour add to its `occurrences` (one upsert on a unique key), so a
/// flood of refusals adds at most one row per client and hour. A failed write is logged and
/// does not change the answer: the client still gets its 429 or 403 rather than a 503.
pub async fn record_refusal(state: &AppState, entry: Entry, client: &ClientMeta) {
    let action = entry.action;
    let who = entry.actor_id.clone().unwrap_or_else(|| client.ip_key());
    let mut row = entry.row(&state.clock, client);
    let hour = state.clock.now().timestamp().div_euclid(REFUSALS_AGGREGATED_PER);
    row.repeat_key = Set(Some(truncated(&format!("{}|{hour}|{who}", action.as_str()), MAX_KEY_CHARS)));
    let counted = OnConflict::column(audit_log::Column::RepeatKey)
        .value(audit_log::Column::Occurrences, Expr::col(audit_log::Column::Occurrences).add(1))
        .to_owned();
    // InnoDB can deadlock two upserts of one key (a burst refused at two instances at once):
    // the loser is rolled back whole, so sending it again counts it once.
    let upsert = || AuditLog::insert(row.clone()).on_conflict(counted.clone()).exec_without_returning(&state.db);
    if let Err(err) = rate_limit::retry_lock_conflicts(5, upsert).await {
        tracing::warn!(error = %err, action = action.as_str(), "could not audit a refusal");
    }
    sweep(state).await;
}

/// Deletes a batch of rows older than `AUDIT_RETENTION` (found by a read through
/// `idx_audit_logs_created`, deleted by primary key: a ranged DELETE would lock index gaps on
/// InnoDB), at most once a minute per instance and within [`rate_limit::SWEEP_BUDGET`]:
/// housekeeping without a scheduler, paid for by a login or a refusal now and then. Every
/// batch frees more than a minute of any realistic audit traffic, so old rows never pile up.
pub async fn sweep(state: &AppState) {
    let Some(retention) = state.config.audit_retention else { return };
    let now = state.clock.now();
    if !state.chores.due(Chore::AuditRetention, now) {
        return;
    }
    let cutoff = now - TimeDelta::from_std(retention).unwrap_or(TimeDelta::MAX);
    let old = Condition::all().add(audit_log::Column::CreatedAt.lt(cutoff));
    let (id, created) = (audit_log::Column::Id, audit_log::Column::CreatedAt);
    let what = "audit rows past AUDIT_RETENTION";
    if housekeeping::sweep::<AuditLog>(&state.db, id, old, created, AUDIT_SWEEP_BATCH, what).await {
        state.chores.again(Chore::AuditRetention);
    }
}

/// The most rows one [`sweep`] deletes.
pub const AUDIT_SWEEP_BATCH: u64 = 500;

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
