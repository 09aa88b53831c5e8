//! Accounts people run themselves (the accounts issue): verified addresses, the language mail is
//! written in, where each session started and was last used, and single-use links by mail.
//!
//! - `users.email_verified_at`: when the owner followed a verification link (or an operator ran
//!   `appctl verify-email`); NULL: not verified.
//! - `users.locale`: `zh` or `en`, the language of the mail the account receives.
//! - `sessions.ip`, `sessions.user_agent`: where the session started; `sessions.last_used_at`:
//!   when it last authenticated a request (written at most every few minutes).
//! - `account_tokens`: a password-reset or verification link, stored only as the SHA-256 of
//!   the token the mail carries; deleted when used, voided by a newer one of the same purpose.
//!
//! Only additions, with defaults: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::{datetime, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000002_accounts"
    }
}

const ID_LEN: u32 = 191;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            (Users::Table.into_iden(), datetime(db, Users::EmailVerifiedAt).null().to_owned()),
            (Users::Table.into_iden(), ColumnDef::new(Users::Locale).string_len(8).not_null().default("zh").to_owned()),
            (Sessions::Table.into_iden(), ColumnDef::new(Sessions::Ip).string_len(64).null().to_owned()),
            (Sessions::Table.into_iden(), ColumnDef::new(Sessions::UserAgent).text().null().to_owned()),
            (Sessions::Table.into_iden(), datetime(db, Sessions::LastUsedAt).null().to_owned()),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }

        let mut tokens = Table::create()
            .table(AccountTokens::Table)
            .if_not_exists()
            .col(ColumnDef::new(AccountTokens::Id).string_len(ID_LEN).not_null().primary_key())
            .col(ColumnDef::new(AccountTokens::UserId).string_len(ID_LEN).not_null())
            .col(ColumnDef::new(AccountTokens::Purpose).string_len(16).not_null())
            .col(ColumnDef::new(AccountTokens::TokenHash).string_len(64).not_null().unique_key())
            .col(ColumnDef::new(AccountTokens::Email).string_len(191).not_null())
            .col(datetime(db, AccountTokens::ExpiresAt).not_null())
            .col(datetime(db, AccountTokens::CreatedAt).not_null())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_account_tokens_user")
                    .from(AccountTokens::Table, AccountTokens::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        table_options(db, &mut tokens);
        manager.create_table(tokens).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_account_tokens_user")
                    .table(AccountTokens::Table)
                    .col(AccountTokens::UserId)
                    .col(AccountTokens::Purpose)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_account_tokens_expires")
                    .table(AccountTokens::Table)
                    .col(AccountTokens::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccountTokens::Table).if_exists().to_owned()).await?;
        let columns = [
            (Sessions::Table.into_iden(), Sessions::LastUsedAt.into_iden()),
            (Sessions::Table.into_iden(), Sessions::UserAgent.into_iden()),
            (Sessions::Table.into_iden(), Sessions::Ip.into_iden()),
            (Users::Table.into_iden(), Users::Locale.into_iden()),
            (Users::Table.into_iden(), Users::EmailVerifiedAt.into_iden()),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    EmailVerifiedAt,
    Locale,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Ip,
    UserAgent,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum AccountTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    Email,
    ExpiresAt,
    CreatedAt,
}
