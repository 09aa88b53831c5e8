//! Thinking (issue 27): a reply thought through keeps what the model thought apart from what
//! it answered — `messages.thinking` (the text, shown folded in the history and never sent back
//! to the model), `messages.thinking_ms` (how long it thought, for "Thought for 12 s") and
//! `messages.thinking_tokens` (of its completion tokens, the thinking's) — and the hourly
//! tallies sum the thinking's tokens (`usage_hours.thinking_tokens`).
//!
//! Only additions, NULL or 0 by default: the previous version of the app keeps working.

use sea_orm_migration::prelude::*;

use crate::long_text;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000009_thinking"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        // One column a statement: SQLite alters no more at once.
        let columns = [
            (Messages::Table.into_iden(), long_text(db, Messages::Thinking).null().to_owned()),
            (Messages::Table.into_iden(), ColumnDef::new(Messages::ThinkingMs).integer().null().to_owned()),
            (Messages::Table.into_iden(), ColumnDef::new(Messages::ThinkingTokens).integer().null().to_owned()),
            (
                UsageHours::Table.into_iden(),
                ColumnDef::new(UsageHours::ThinkingTokens).big_integer().not_null().default(0).to_owned(),
            ),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            (Messages::Table.into_iden(), Messages::Thinking.into_iden()),
            (Messages::Table.into_iden(), Messages::ThinkingMs.into_iden()),
            (Messages::Table.into_iden(), Messages::ThinkingTokens.into_iden()),
            (UsageHours::Table.into_iden(), UsageHours::ThinkingTokens.into_iden()),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Thinking,
    ThinkingMs,
    ThinkingTokens,
}

#[derive(DeriveIden)]
enum UsageHours {
    Table,
    ThinkingTokens,
}
