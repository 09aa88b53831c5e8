//! The usage tallies: each chat turn adds what it did to one row of `usage_hours` (its user,
//! hour, assistant and reply language), in the same statement sequence that saves its message,
//! so the dashboard sums those rows instead of scanning every message.
//!
//! One upsert per event: the row is created by the first event of its hour and incremented by
//! the others (`ON DUPLICATE KEY UPDATE` on MySQL, `ON CONFLICT … DO UPDATE` on SQLite), so
//! concurrent turns of one user queue on the row and none of them is lost.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::{
    entities::{ConversationKind, UsageHour, usage_hour},
    language::Language,
};

/// What one event adds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub user_messages: i64,
    pub replies: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub stopped: i64,
    pub model_errors: i64,
    /// Of `completion_tokens`, the thinking's.
    pub thinking_tokens: i64,
}

impl Tally {
    pub fn user_message() -> Self {
        Self { user_messages: 1, ..Self::default() }
    }

    pub fn model_error() -> Self {
        Self { model_errors: 1, ..Self::default() }
    }
}

/// Whole hours since 1970-01-01 00:00 UTC.
pub fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// Adds `tally` to the row of `user_id`'s hour of `at` with `assistant` in `language`.
pub async fn add(
    db: &impl ConnectionTrait,
    at: DateTime<Utc>,
    user_id: &str,
    assistant: ConversationKind,
    language: Language,
    tally: Tally,
) -> Result<(), DbErr> {
    use usage_hour::Column;
    let counts = [
        (Column::UserMessages, tally.user_messages),
        (Column::Replies, tally.replies),
        (Column::PromptTokens, tally.prompt_tokens),
        (Column::CompletionTokens, tally.completion_tokens),
        (Column::Stopped, tally.stopped),
        (Column::ModelErrors, tally.model_errors),
        (Column::ThinkingTokens, tally.thinking_tokens),
    ];
    let mut on_conflict = OnConflict::columns([Column::Hour, Column::UserId, Column::Assistant, Column::Language]);
    let added: Vec<_> = counts.iter().filter(|(_, added)| *added != 0).collect();
    if added.is_empty() {
        return Ok(());
    }
    for (column, added) in added {
        on_conflict.value(*column, Expr::col(*column).add(*added));
    }
    let row = usage_hour::ActiveModel {
        hour: Set(hour_of(at)),
        user_id: Set(user_id.to_string()),
        assistant: Set(assistant),
        language: Set(language.code().to_string()),
        user_messages: Set(tally.user_messages),
        replies: Set(tally.replies),
        prompt_tokens: Set(tally.prompt_tokens),
        completion_tokens: Set(tally.completion_tokens),
        stopped: Set(tally.stopped),
        model_errors: Set(tally.model_errors),
        thinking_tokens: Set(tally.thinking_tokens),
    };
    UsageHour::insert(row).on_conflict(on_conflict.to_owned()).exec_without_returning(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_count_from_1970_in_utc() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:59:59.999+00:00").unwrap().to_utc();
        assert_eq!(hour_of(at), 490_923);
        let at = DateTime::parse_from_rfc3339("2026-01-02T12:00:00+08:00").unwrap().to_utc();
        assert_eq!(hour_of(at), 490_924);
    }
}
