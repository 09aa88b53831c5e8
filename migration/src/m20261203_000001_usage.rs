//! See and find (the usage issue): feedback on replies, and the tallies the usage dashboard
//! reads.
//!
//! - `message_feedback`: one thumbs up or down per user per assistant reply, with an optional
//!   comment. It names the reply's assistant (a conversation never changes assistant), so the
//!   dashboard's ratio per assistant needs no join.
//! - `usage_hours`: what each user did in each hour (whole hours since 1970, UTC) per assistant
//!   and reply language: messages sent, replies saved, their tokens, replies stopped, model
//!   failures. Each chat turn adds to its row in the transaction that saves the message, so the
//!   dashboard sums a few rows per user and hour instead of scanning every message (on
//!   1,000,000 messages a grouped scan of `messages` took 0.8 s for 30 days and 15 s for a
//!   year on MariaDB; see BENCHMARKS.md). Hours, not days, so that a day can be read in any
//!   whole-hour time zone.
//! - `idx_users_created`: registrations per day.
//!
//! The existing messages are tallied here once (their language is not known: `unknown`).
//! Only additions: the previous version of the app keeps working on this schema (its turns are
//! not tallied while it still runs).

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

use crate::{datetime, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000001_usage"
    }
}

const ID_LEN: u32 = 191;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut feedback = Table::create()
            .table(MessageFeedback::Table)
            .if_not_exists()
            .col(ColumnDef::new(MessageFeedback::Id).string_len(ID_LEN).not_null().primary_key())
            .col(ColumnDef::new(MessageFeedback::MessageId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(MessageFeedback::UserId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(MessageFeedback::Assistant).string_len(16).not_null())
            .col(ColumnDef::new(MessageFeedback::Rating).string_len(8).not_null())
            .col(ColumnDef::new(MessageFeedback::Comment).text().null())
            .col(datetime(db, MessageFeedback::CreatedAt).not_null())
            .col(datetime(db, MessageFeedback::UpdatedAt).not_null())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_message_feedback_message")
                    .from(MessageFeedback::Table, MessageFeedback::MessageId)
                    .to(Messages::Table, Messages::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_message_feedback_user")
                    .from(MessageFeedback::Table, MessageFeedback::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        table_options(db, &mut feedback);
        manager.create_table(feedback).await?;
        let indexes = [
            Index::create()
                .name("idx_message_feedback_one_per_user")
                .table(MessageFeedback::Table)
                .col(MessageFeedback::MessageId)
                .col(MessageFeedback::UserId)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_message_feedback_user")
                .table(MessageFeedback::Table)
                .col(MessageFeedback::UserId)
                .to_owned(),
            Index::create()
                .name("idx_message_feedback_updated")
                .table(MessageFeedback::Table)
                .col(MessageFeedback::UpdatedAt)
                .to_owned(),
            Index::create().name("idx_users_created").table(Users::Table).col(Users::CreatedAt).to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }

        let count = |name: UsageHours| ColumnDef::new(name).big_integer().not_null().default(0).to_owned();
        let mut usage = Table::create()
            .table(UsageHours::Table)
            .if_not_exists()
            .col(ColumnDef::new(UsageHours::Hour).big_integer().not_null())
            .col(ColumnDef::new(UsageHours::UserId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(UsageHours::Assistant).string_len(16).not_null())
            .col(ColumnDef::new(UsageHours::Language).string_len(8).not_null())
            .col(count(UsageHours::UserMessages))
            .col(count(UsageHours::Replies))
            .col(count(UsageHours::PromptTokens))
            .col(count(UsageHours::CompletionTokens))
            .col(count(UsageHours::Stopped))
            .col(count(UsageHours::ModelErrors))
            .primary_key(
                Index::create()
                    .col(UsageHours::Hour)
                    .col(UsageHours::UserId)
                    .col(UsageHours::Assistant)
                    .col(UsageHours::Language),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_usage_hours_user")
                    .from(UsageHours::Table, UsageHours::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        table_options(db, &mut usage);
        manager.create_table(usage).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_hours_user")
                    .table(UsageHours::Table)
                    .col(UsageHours::UserId)
                    .col(UsageHours::Hour)
                    .to_owned(),
            )
            .await?;

        // The messages written so far, tallied once.
        let backfill = tally_messages_sql(db, None);
        manager.get_connection().execute_unprepared(&backfill).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UsageHours::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(MessageFeedback::Table).if_exists().to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_users_created").table(Users::Table).to_owned()).await?;
        Ok(())
    }
}

/// `INSERT … SELECT` of the tallies of the messages in `messages` (language `unknown`), added
/// to any tally already there: every message (`ids: None`, the backfill, and `make bench` for
/// the messages it generates) or those whose ids are bound to the `ids` placeholders (`appctl
/// import`, for each batch it inserts).
pub fn tally_messages_sql(db: DatabaseBackend, ids: Option<usize>) -> String {
    let hour = match db {
        DatabaseBackend::MySql => "TIMESTAMPDIFF(HOUR, '1970-01-01 00:00:00', m.created_at)",
        _ => "CAST(strftime('%s', m.created_at) AS INTEGER) / 3600",
    };
    let only = ids.map_or_else(String::new, |count| format!(" AND m.id IN ({})", vec!["?"; count].join(", ")));
    let counts = ["user_messages", "replies", "prompt_tokens", "completion_tokens", "stopped"];
    let added = match db {
        DatabaseBackend::MySql => format!(
            "ON DUPLICATE KEY UPDATE {}",
            counts.map(|count| format!("{count} = usage_hours.{count} + VALUES({count})")).join(", ")
        ),
        _ => format!(
            "ON CONFLICT (hour, user_id, assistant, language) DO UPDATE SET {}",
            counts.map(|count| format!("{count} = usage_hours.{count} + excluded.{count}")).join(", ")
        ),
    };
    // (`WHERE` is needed before SQLite's `ON CONFLICT` in an `INSERT … SELECT`; the columns are
    // qualified because `messages` has some of the same names.)
    format!(
        "INSERT INTO usage_hours \
           (hour, user_id, assistant, language, user_messages, replies, prompt_tokens, completion_tokens, \
            stopped, model_errors) \
         SELECT {hour} AS tallied_hour, c.user_id, c.type, 'unknown', \
           SUM(CASE WHEN m.role = 'USER' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN m.role = 'ASSISTANT' THEN 1 ELSE 0 END), \
           COALESCE(SUM(m.prompt_tokens), 0), COALESCE(SUM(m.completion_tokens), 0), \
           SUM(CASE WHEN m.stopped THEN 1 ELSE 0 END), 0 \
         FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE 1 = 1{only} \
         GROUP BY tallied_hour, c.user_id, c.type {added}"
    )
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MessageFeedback {
    Table,
    Id,
    MessageId,
    UserId,
    Assistant,
    Rating,
    Comment,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UsageHours {
    Table,
    Hour,
    UserId,
    Assistant,
    Language,
    UserMessages,
    Replies,
    PromptTokens,
    CompletionTokens,
    Stopped,
    ModelErrors,
}
