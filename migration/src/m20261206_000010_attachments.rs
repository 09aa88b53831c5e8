//! Pictures people attach to messages (issue 27): `attachments`, one row per picture — whose it
//! is, the object's key in the bucket (and the key its upload form writes, until when), its type
//! and size, and the message it was sent with (none yet: an upload form issued, the picture
//! perhaps not uploaded). The size counts against the owner's storage quota from the moment the
//! form is issued.
//!
//! No foreign keys, on purpose: a row must outlive its message, conversation or account for as
//! long as its object is not deleted yet. Deleting those marks their pictures (`deleted_at`) in
//! the same transaction; the objects are deleted after it commits, and the rows with them (the
//! housekeeping retries what failed, and marks any picture whose message is gone).
//!
//! Only additions: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::{datetime, long_text, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000010_attachments"
    }
}

const ID_LEN: u32 = 191;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut attachments = Table::create()
            .table(Attachments::Table)
            .if_not_exists()
            .col(ColumnDef::new(Attachments::Id).string_len(ID_LEN).not_null().primary_key())
            .col(ColumnDef::new(Attachments::UserId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(Attachments::ConversationId).string_len(ID_LEN).null())
            .col(ColumnDef::new(Attachments::MessageId).string_len(ID_LEN).null())
            .col(ColumnDef::new(Attachments::ObjectKey).string_len(ID_LEN).not_null().unique_key())
            .col(ColumnDef::new(Attachments::UploadKey).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(Attachments::ContentType).string_len(32).not_null())
            .col(ColumnDef::new(Attachments::SizeBytes).big_integer().not_null())
            .col(ColumnDef::new(Attachments::Position).small_integer().not_null().default(0))
            .col(ColumnDef::new(Attachments::Purpose).string_len(16).not_null().default("chat"))
            .col(long_text(db, Attachments::Observations).null())
            .col(datetime(db, Attachments::CreatedAt).not_null())
            .col(datetime(db, Attachments::FormExpiresAt).not_null())
            .col(datetime(db, Attachments::UploadDeletedAt).null())
            .col(datetime(db, Attachments::ClaimedUntil).null())
            .col(datetime(db, Attachments::AttachedAt).null())
            .col(datetime(db, Attachments::DeletedAt).null())
            .to_owned();
        table_options(db, &mut attachments);
        manager.create_table(attachments).await?;
        for (name, columns) in [
            ("idx_attachments_user_created", &[Attachments::UserId, Attachments::CreatedAt][..]),
            ("idx_attachments_conversation", &[Attachments::ConversationId][..]),
            ("idx_attachments_message", &[Attachments::MessageId][..]),
            ("idx_attachments_deleted", &[Attachments::DeletedAt][..]),
            ("idx_attachments_form", &[Attachments::UploadDeletedAt, Attachments::FormExpiresAt][..]),
        ] {
            let mut index = Index::create().name(name).table(Attachments::Table).to_owned();
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Attachments::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Attachments {
    Table,
    Id,
    UserId,
    ConversationId,
    MessageId,
    ObjectKey,
    UploadKey,
    ContentType,
    SizeBytes,
    Position,
    Purpose,
    Observations,
    CreatedAt,
    FormExpiresAt,
    UploadDeletedAt,
    ClaimedUntil,
    AttachedAt,
    DeletedAt,
}
