//! The seed's schema (User, Session, Conversation, Message, AuditLog) in snake_case, plus the
//! rate-limit ledger that login, registration and chat quotas share across FC instances.
//!
//! Ids are strings (cuid-style) so rows from the old Prisma app can be imported unchanged.

use sea_orm_migration::prelude::*;

use crate::{datetime, long_text, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000001_create_tables"
    }
}

const ID_LEN: u32 = 191;

fn id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string_len(ID_LEN).not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let created_at = || datetime(db, Alias::new("created_at")).not_null().to_owned();
        let updated_at = || datetime(db, Alias::new("updated_at")).not_null().to_owned();

        let mut users = Table::create()
            .table(Users::Table)
            .if_not_exists()
            .col(id(Users::Id).primary_key())
            .col(ColumnDef::new(Users::Email).string_len(191).not_null().unique_key())
            .col(ColumnDef::new(Users::PasswordHash).string_len(255).not_null())
            .col(ColumnDef::new(Users::Role).string_len(16).not_null().default("USER"))
            .col(datetime(db, Users::BannedAt).null())
            .col(created_at())
            .col(updated_at())
            .to_owned();
        table_options(db, &mut users);
        manager.create_table(users).await?;

        let mut sessions = Table::create()
            .table(Sessions::Table)
            .if_not_exists()
            .col(id(Sessions::Id).primary_key())
            .col(id(Sessions::UserId))
            .col(ColumnDef::new(Sessions::SessionToken).string_len(191).not_null().unique_key())
            .col(datetime(db, Sessions::Expires).not_null())
            .col(created_at())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_sessions_user")
                    .from(Sessions::Table, Sessions::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        table_options(db, &mut sessions);
        manager.create_table(sessions).await?;
        manager
            .create_index(
                Index::create().name("idx_sessions_user").table(Sessions::Table).col(Sessions::UserId).to_owned(),
            )
            .await?;

        let mut conversations = Table::create()
            .table(Conversations::Table)
            .if_not_exists()
            .col(id(Conversations::Id).primary_key())
            .col(id(Conversations::UserId))
            .col(ColumnDef::new(Conversations::Type).string_len(16).not_null())
            .col(ColumnDef::new(Conversations::Title).string_len(255).not_null())
            .col(created_at())
            .col(updated_at())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_conversations_user")
                    .from(Conversations::Table, Conversations::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        table_options(db, &mut conversations);
        manager.create_table(conversations).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversations_user_updated")
                    .table(Conversations::Table)
                    .col(Conversations::UserId)
                    .col(Conversations::UpdatedAt)
                    .to_owned(),
            )
            .await?;

        let mut messages = Table::create()
            .table(Messages::Table)
            .if_not_exists()
            .col(id(Messages::Id).primary_key())
            .col(id(Messages::ConversationId))
            .col(ColumnDef::new(Messages::Role).string_len(16).not_null())
            .col(long_text(db, Messages::Content).not_null())
            .col(ColumnDef::new(Messages::PromptTokens).integer().null())
            .col(ColumnDef::new(Messages::CompletionTokens).integer().null())
            .col(created_at())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_messages_conversation")
                    .from(Messages::Table, Messages::ConversationId)
                    .to(Conversations::Table, Conversations::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        table_options(db, &mut messages);
        manager.create_table(messages).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_conversation_created")
                    .table(Messages::Table)
                    .col(Messages::ConversationId)
                    .col(Messages::CreatedAt)
                    .to_owned(),
            )
            .await?;

        let mut audit_logs = Table::create()
            .table(AuditLogs::Table)
            .if_not_exists()
            .col(id(AuditLogs::Id).primary_key())
            // No foreign key: the trail must outlive the accounts it mentions.
            .col(ColumnDef::new(AuditLogs::ActorId).string_len(ID_LEN).null())
            .col(ColumnDef::new(AuditLogs::Action).string_len(64).not_null())
            .col(ColumnDef::new(AuditLogs::Message).text().not_null())
            .col(ColumnDef::new(AuditLogs::Ip).string_len(64).null())
            .col(ColumnDef::new(AuditLogs::UserAgent).text().null())
            .col(created_at())
            .to_owned();
        table_options(db, &mut audit_logs);
        manager.create_table(audit_logs).await?;
        for (name, cols) in [
            ("idx_audit_logs_actor", vec![AuditLogs::ActorId, AuditLogs::CreatedAt]),
            ("idx_audit_logs_action", vec![AuditLogs::Action, AuditLogs::CreatedAt]),
            ("idx_audit_logs_created", vec![AuditLogs::CreatedAt]),
        ] {
            let mut index = Index::create().name(name).table(AuditLogs::Table).to_owned();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index).await?;
        }

        let mut hits = Table::create()
            .table(RateLimitHits::Table)
            .if_not_exists()
            .col(ColumnDef::new(RateLimitHits::Id).big_integer().not_null().auto_increment().primary_key())
            .col(ColumnDef::new(RateLimitHits::Bucket).string_len(32).not_null())
            .col(ColumnDef::new(RateLimitHits::Key).string_len(255).not_null())
            .col(created_at())
            .to_owned();
        table_options(db, &mut hits);
        manager.create_table(hits).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_hits_lookup")
                    .table(RateLimitHits::Table)
                    .col(RateLimitHits::Bucket)
                    .col(RateLimitHits::Key)
                    .col(RateLimitHits::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RateLimitHits::Table.into_iden(),
            AuditLogs::Table.into_iden(),
            Messages::Table.into_iden(),
            Conversations::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Role,
    BannedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    SessionToken,
    Expires,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    UserId,
    Type,
    Title,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    ConversationId,
    Role,
    Content,
    PromptTokens,
    CompletionTokens,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    ActorId,
    Action,
    Message,
    Ip,
    UserAgent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RateLimitHits {
    Table,
    Id,
    Bucket,
    Key,
    CreatedAt,
}
