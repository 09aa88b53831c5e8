//! Closing the audit's holes (the hardening issue):
//!
//! - `audit_logs.subject`: the address a row is about (a login tried for it, a ban of it), in a
//!   column of its own instead of inside `message`, so that deleting an account clears exactly
//!   that address, through `idx_audit_logs_subject`, and nobody else's.
//! - `audit_logs.repeat_key`, `audit_logs.occurrences`: refusals (a rate-limited login, an
//!   admin-only call by a non-admin) are aggregated: one row per kind, client and hour, whose
//!   count goes up, so a flood of refusals cannot grow the table faster than one row per client
//!   per hour. The unique index holds the aggregation across instances (NULL for every other
//!   row, and NULLs never collide).
//! - `messages.from_client`: a message a client brought along when it opened a conversation (a
//!   history it kept itself), as opposed to one written in this app; such a "reply" was never
//!   written by the model, so it cannot be rated or counted as one.
//! - `admin_demotions`: addresses an operator demoted (`appctl demote`), which `ADMIN_EMAILS` no
//!   longer promotes, across deletion and registering again; `appctl promote` lifts it.
//!
//! Only additions, with defaults: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::{datetime, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000001_audit_subjects"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            (AuditLogs::Table.into_iden(), ColumnDef::new(AuditLogs::Subject).string_len(191).null().to_owned()),
            (AuditLogs::Table.into_iden(), ColumnDef::new(AuditLogs::RepeatKey).string_len(191).null().to_owned()),
            (
                AuditLogs::Table.into_iden(),
                ColumnDef::new(AuditLogs::Occurrences).integer().not_null().default(1).to_owned(),
            ),
            (
                Messages::Table.into_iden(),
                ColumnDef::new(Messages::FromClient).boolean().not_null().default(false).to_owned(),
            ),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }
        let indexes = [
            Index::create().name("idx_audit_logs_subject").table(AuditLogs::Table).col(AuditLogs::Subject).to_owned(),
            Index::create()
                .name("idx_audit_logs_repeat_key")
                .table(AuditLogs::Table)
                .col(AuditLogs::RepeatKey)
                .unique()
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }

        let mut demotions = Table::create()
            .table(AdminDemotions::Table)
            .if_not_exists()
            .col(ColumnDef::new(AdminDemotions::Email).string_len(191).not_null().primary_key())
            .col(datetime(db, AdminDemotions::DemotedAt).not_null())
            .to_owned();
        table_options(db, &mut demotions);
        manager.create_table(demotions).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AdminDemotions::Table).if_exists().to_owned()).await?;
        for name in ["idx_audit_logs_repeat_key", "idx_audit_logs_subject"] {
            manager.drop_index(Index::drop().name(name).table(AuditLogs::Table).to_owned()).await?;
        }
        let columns = [
            (Messages::Table.into_iden(), Messages::FromClient.into_iden()),
            (AuditLogs::Table.into_iden(), AuditLogs::Occurrences.into_iden()),
            (AuditLogs::Table.into_iden(), AuditLogs::RepeatKey.into_iden()),
            (AuditLogs::Table.into_iden(), AuditLogs::Subject.into_iden()),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Subject,
    RepeatKey,
    Occurrences,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    FromClient,
}

#[derive(DeriveIden)]
enum AdminDemotions {
    Table,
    Email,
    DemotedAt,
}
