//! Moderation (the trust issue):
//!
//! - `messages.withheld`: a message kept out of the model's context: `BLOCKED` (moderation
//!   refused a user's message, or a reply as it streamed: such a reply is kept for
//!   administrators, never shown to its user), later `HIDDEN` (an administrator acting on a
//!   report). NULL for every ordinary message.
//! - `users.moderation_flagged_at`: when the account last used up its moderation strikes (the
//!   cool-down began), for administrators to see.
//!
//! Only additions, NULL by default: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::datetime;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000003_moderation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let columns = [
            (Messages::Table.into_iden(), ColumnDef::new(Messages::Withheld).string_len(16).null().to_owned()),
            (Users::Table.into_iden(), datetime(db, Users::ModerationFlaggedAt).null().to_owned()),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            (Messages::Table.into_iden(), Messages::Withheld.into_iden()),
            (Users::Table.into_iden(), Users::ModerationFlaggedAt.into_iden()),
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
    Withheld,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    ModerationFlaggedAt,
}
