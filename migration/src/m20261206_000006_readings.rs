//! The oracle's journal (the craft issue): `readings`, one row per casting — the question, how
//! it was cast, the six line values, the primary and relating hexagrams' numbers (for listing
//! and searching without reading the book) — linked to the conversation that asks about it,
//! and deleted with that conversation or with the account.
//!
//! Only additions: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::{datetime, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000006_readings"
    }
}

const ID_LEN: u32 = 191;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut readings = Table::create()
            .table(Readings::Table)
            .if_not_exists()
            .col(ColumnDef::new(Readings::Id).string_len(ID_LEN).not_null().primary_key())
            .col(ColumnDef::new(Readings::UserId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(Readings::ConversationId).string_len(ID_LEN).null())
            .col(ColumnDef::new(Readings::Question).text().not_null())
            .col(ColumnDef::new(Readings::Method).string_len(16).not_null())
            .col(ColumnDef::new(Readings::LineValues).string_len(6).not_null())
            .col(ColumnDef::new(Readings::PrimaryNumber).small_integer().not_null())
            .col(ColumnDef::new(Readings::RelatingNumber).small_integer().null())
            .col(datetime(db, Readings::CreatedAt).not_null())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_readings_user")
                    .from(Readings::Table, Readings::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_readings_conversation")
                    .from(Readings::Table, Readings::ConversationId)
                    .to(Conversations::Table, Conversations::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        table_options(db, &mut readings);
        manager.create_table(readings).await?;
        let indexes = [
            Index::create()
                .name("idx_readings_user_created")
                .table(Readings::Table)
                .col(Readings::UserId)
                .col(Readings::CreatedAt)
                .to_owned(),
            Index::create()
                .name("idx_readings_conversation")
                .table(Readings::Table)
                .col(Readings::ConversationId)
                .to_owned(),
            Index::create().name("idx_readings_created").table(Readings::Table).col(Readings::CreatedAt).to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Readings::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Readings {
    Table,
    Id,
    UserId,
    ConversationId,
    Question,
    Method,
    LineValues,
    PrimaryNumber,
    RelatingNumber,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
}
