//! Reports of replies (art. 15 of the generative-AI measures: a convenient complaint and report
//! channel, a published process and response time, and feedback of the result; art. 14: when
//! illegal content is found, remove it and warn, restrict or suspend the user).
//!
//! A person reports a reply of their own conversations once ([`file`]), with a reason and an
//! optional comment; the report keeps a copy of the reply and of the message it answered, so
//! the record stays readable after the conversation is deleted. Administrators work a queue
//! ([`queue`]): open reports by deadline (`REPORT_RESPONSE_DAYS` after filing), each decided
//! once — dismissed, or actioned by hiding the reply (it leaves its user's history and the
//! model's context: `Withheld::Hidden`) and/or warning, restricting (chat refused for some
//! days: [`restriction_gate`]) or banning the account. The reporter sees the outcome on the
//! account page. Every step is audited; reports are in both exports.
//!
//! Routes: filing under `/api/chat/...` (the `chat` function), the reporter's list under
//! `/api/account/reports` (`auth-login`), the queue under `/api/admin/reports` (`admin-export`).

mod file;
mod queue;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use file::{MAX_COMMENT_CHARS, ReportRequest, reported_of};
pub use queue::{Decision, Outcome};

use crate::{
    entities::{ConversationKind, ReportReason, ReportStatus, UserAction, report, user},
    error::{AppError, AppResult, Extra},
    http::ApiRoutes,
};

/// Filing a report (the `chat` function).
pub fn chat_routes() -> ApiRoutes {
    file::chat_routes()
}

/// The reporter's own reports (the `auth-login` function, beside the account's controls).
pub fn account_routes() -> ApiRoutes {
    file::account_routes()
}

/// The administrators' queue (the `admin-export` function).
pub fn admin_routes() -> ApiRoutes {
    queue::routes()
}

/// How many characters of the reply a reporter's list shows.
pub const EXCERPT_CHARS: usize = 200;

/// A report as its reporter sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnReport {
    pub id: String,
    /// `null` once the conversation is deleted.
    pub conversation_id: Option<String>,
    /// `null` once the reply is deleted.
    pub message_id: Option<String>,
    pub assistant: ConversationKind,
    pub reason: ReportReason,
    pub comment: Option<String>,
    /// The reply's first 200 characters, as reported (empty once the reply is hidden).
    pub excerpt: String,
    pub created_at: DateTime<Utc>,
    /// By when the administrators answer.
    pub due_at: DateTime<Utc>,
    pub status: ReportStatus,
    pub decided_at: Option<DateTime<Utc>>,
    /// The reply was hidden (it left the history and the model's context).
    pub reply_hidden: bool,
    pub user_action: UserAction,
    /// With `userAction: restrict`: until when chat is refused.
    pub restricted_until: Option<DateTime<Utc>>,
    /// The administrators' words to the reporter; with `userAction: warn`, the warning.
    pub note: Option<String>,
}

impl From<&report::Model> for OwnReport {
    fn from(row: &report::Model) -> Self {
        Self {
            id: row.id.clone(),
            conversation_id: row.conversation_id.clone(),
            message_id: row.message_id.clone(),
            assistant: row.assistant,
            reason: row.reason,
            comment: row.comment.clone(),
            // A reply hidden after the report is out of its user's sight here too.
            excerpt: if row.reply_hidden { String::new() } else { row.reply.chars().take(EXCERPT_CHARS).collect() },
            created_at: row.created_at,
            due_at: row.due_at,
            status: row.status,
            decided_at: row.decided_at,
            reply_hidden: row.reply_hidden,
            user_action: row.user_action,
            restricted_until: row.restricted_until,
            note: row.note.clone(),
        }
    }
}

/// Refuses a chat turn of an account an administrator restricted, until the restriction ends.
pub fn restriction_gate(now: DateTime<Utc>, user: &user::Model) -> AppResult<()> {
    match user.restricted_until {
        Some(until) if until > now => Err(AppError::forbidden(
            "chat_restricted",
            format!("an administrator restricted this account's chat until {}", until.format("%Y-%m-%d %H:%M UTC")),
        )
        .with(Extra::Until(until))),
        _ => Ok(()),
    }
}
