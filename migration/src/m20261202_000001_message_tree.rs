//! Versions of a conversation (the conversation-controls issue): messages form a tree, a
//! conversation knows which branch is shown, a reply can be stopped from any instance, and a
//! title knows where it came from.
//!
//! - `messages.parent_id`: the message this one answers or follows. A root names itself; NULL
//!   is a message written before this migration (or by the previous version of the app), whose
//!   parent is the message written just before it, so existing conversations read as one
//!   branch without rewriting a row.
//! - `messages.stopped`: a reply the user stopped, saved as far as it got.
//! - `conversations.active_leaf_id`: the last message of the branch shown and sent to the model
//!   (NULL: the newest message).
//! - `conversations.title_source`: `message` (cut from the first message), `model` (written by
//!   the model) or `user` (renamed): only a `message` title is ever replaced.
//! - `reply_streams`: one row per reply being streamed, so that a stop sent to any instance
//!   reaches the one streaming (it polls its row).
//!
//! Only additions, with defaults: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::{datetime, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000001_message_tree"
    }
}

const ID_LEN: u32 = 191;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            (Messages::Table.into_iden(), ColumnDef::new(Messages::ParentId).string_len(ID_LEN).null().to_owned()),
            (
                Messages::Table.into_iden(),
                ColumnDef::new(Messages::Stopped).boolean().not_null().default(false).to_owned(),
            ),
            (
                Conversations::Table.into_iden(),
                ColumnDef::new(Conversations::ActiveLeafId).string_len(ID_LEN).null().to_owned(),
            ),
            (
                Conversations::Table.into_iden(),
                ColumnDef::new(Conversations::TitleSource).string_len(16).not_null().default("message").to_owned(),
            ),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }

        let mut streams = Table::create()
            .table(ReplyStreams::Table)
            .if_not_exists()
            .col(ColumnDef::new(ReplyStreams::Id).string_len(ID_LEN).not_null().primary_key())
            .col(ColumnDef::new(ReplyStreams::UserId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(ReplyStreams::ConversationId).string_len(ID_LEN).not_null())
            .col(datetime(db, ReplyStreams::StartedAt).not_null())
            .col(datetime(db, ReplyStreams::StopRequestedAt).null())
            .to_owned();
        table_options(db, &mut streams);
        manager.create_table(streams).await?;
        for (name, column) in [
            ("idx_reply_streams_conversation", ReplyStreams::ConversationId),
            ("idx_reply_streams_started", ReplyStreams::StartedAt),
        ] {
            manager.create_index(Index::create().name(name).table(ReplyStreams::Table).col(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReplyStreams::Table).if_exists().to_owned()).await?;
        let columns = [
            (Conversations::Table.into_iden(), Conversations::TitleSource.into_iden()),
            (Conversations::Table.into_iden(), Conversations::ActiveLeafId.into_iden()),
            (Messages::Table.into_iden(), Messages::Stopped.into_iden()),
            (Messages::Table.into_iden(), Messages::ParentId.into_iden()),
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
    ParentId,
    Stopped,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    ActiveLeafId,
    TitleSource,
}

#[derive(DeriveIden)]
enum ReplyStreams {
    Table,
    Id,
    UserId,
    ConversationId,
    StartedAt,
    StopRequestedAt,
}
