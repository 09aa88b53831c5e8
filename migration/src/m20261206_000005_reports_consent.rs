//! Reports and consent (the trust issue):
//!
//! - `reports`: a user's report of a reply (once per reply, held by a unique index), with a copy
//!   of the reply as it was reported (the record stays readable after the conversation is
//!   deleted: the message and conversation ids then become NULL), its deadline and the
//!   administrators' decision. Deleted with the reporter's account.
//! - `users.restricted_until`: an administrator's restriction (chat refused until then);
//!   `users.terms_version` / `terms_accepted_at`: the terms the account accepted, and when;
//!   `users.health_consent_at`: the separate consent to processing health information (NULL:
//!   none, or withdrawn).
//!
//! Only additions, NULL or defaulted: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::{datetime, long_text, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000005_reports_consent"
    }
}

const ID_LEN: u32 = 191;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut reports = Table::create()
            .table(Reports::Table)
            .if_not_exists()
            .col(ColumnDef::new(Reports::Id).string_len(ID_LEN).not_null().primary_key())
            .col(ColumnDef::new(Reports::ReporterId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(Reports::ConversationId).string_len(ID_LEN).null())
            .col(ColumnDef::new(Reports::MessageId).string_len(ID_LEN).null())
            .col(ColumnDef::new(Reports::Assistant).string_len(16).not_null())
            .col(ColumnDef::new(Reports::Reason).string_len(16).not_null())
            .col(ColumnDef::new(Reports::Comment).text().null())
            .col(long_text(db, Reports::Reply).not_null())
            .col(long_text(db, Reports::Question).null())
            .col(ColumnDef::new(Reports::Status).string_len(16).not_null())
            .col(datetime(db, Reports::CreatedAt).not_null())
            .col(datetime(db, Reports::DueAt).not_null())
            .col(datetime(db, Reports::DecidedAt).null())
            .col(ColumnDef::new(Reports::DecidedBy).string_len(ID_LEN).null())
            .col(ColumnDef::new(Reports::ReplyHidden).boolean().not_null().default(false))
            .col(ColumnDef::new(Reports::UserAction).string_len(16).not_null().default("NONE"))
            .col(datetime(db, Reports::RestrictedUntil).null())
            .col(ColumnDef::new(Reports::Note).text().null())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_reports_reporter")
                    .from(Reports::Table, Reports::ReporterId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_reports_conversation")
                    .from(Reports::Table, Reports::ConversationId)
                    .to(Conversations::Table, Conversations::Id)
                    .on_delete(ForeignKeyAction::SetNull),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_reports_message")
                    .from(Reports::Table, Reports::MessageId)
                    .to(Messages::Table, Messages::Id)
                    .on_delete(ForeignKeyAction::SetNull),
            )
            .to_owned();
        table_options(db, &mut reports);
        manager.create_table(reports).await?;
        let indexes = [
            Index::create()
                .name("idx_reports_once_per_reply")
                .table(Reports::Table)
                .col(Reports::MessageId)
                .col(Reports::ReporterId)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_reports_queue")
                .table(Reports::Table)
                .col(Reports::Status)
                .col(Reports::DueAt)
                .to_owned(),
            Index::create()
                .name("idx_reports_reporter")
                .table(Reports::Table)
                .col(Reports::ReporterId)
                .col(Reports::CreatedAt)
                .to_owned(),
            Index::create().name("idx_reports_created").table(Reports::Table).col(Reports::CreatedAt).to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        let columns = [
            datetime(db, Users::RestrictedUntil).null().to_owned(),
            ColumnDef::new(Users::TermsVersion).string_len(32).null().to_owned(),
            datetime(db, Users::TermsAcceptedAt).null().to_owned(),
            datetime(db, Users::HealthConsentAt).null().to_owned(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table(Users::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Reports::Table).to_owned()).await?;
        for column in [Users::RestrictedUntil, Users::TermsVersion, Users::TermsAcceptedAt, Users::HealthConsentAt] {
            manager.alter_table(Table::alter().table(Users::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    ReporterId,
    ConversationId,
    MessageId,
    Assistant,
    Reason,
    Comment,
    Reply,
    Question,
    Status,
    CreatedAt,
    DueAt,
    DecidedAt,
    DecidedBy,
    ReplyHidden,
    UserAction,
    RestrictedUntil,
    Note,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    RestrictedUntil,
    TermsVersion,
    TermsAcceptedAt,
    HealthConsentAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
}
