//! What exact limits and housekeeping need (the guarantees issue): one lock row per rate-limit
//! key, and the indexes that let expired hits and sessions be deleted a bounded batch at a time.
//!
//! `rate_limit_keys` holds a row per (bucket, key) that has ever been counted. Checking a limit
//! and charging it lock that row first (an upsert), so every check-and-charge of one key runs
//! one after the other, on every instance; the hits themselves stay in `rate_limit_hits`.
//! Only additions: the previous version of the app keeps working on this schema.

use sea_orm_migration::prelude::*;

use crate::{datetime, table_options};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000001_rate_limit_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut keys = Table::create()
            .table(RateLimitKeys::Table)
            .if_not_exists()
            .col(ColumnDef::new(RateLimitKeys::Bucket).string_len(32).not_null())
            .col(ColumnDef::new(RateLimitKeys::Key).string_len(255).not_null())
            .col(datetime(db, RateLimitKeys::UpdatedAt).not_null())
            .primary_key(Index::create().col(RateLimitKeys::Bucket).col(RateLimitKeys::Key))
            .to_owned();
        table_options(db, &mut keys);
        manager.create_table(keys).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_keys_updated")
                    .table(RateLimitKeys::Table)
                    .col(RateLimitKeys::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_hits_created")
                    .table(RateLimitHits::Table)
                    .col(RateLimitHits::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_sessions_expires").table(Sessions::Table).col(Sessions::Expires).to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_sessions_expires").table(Sessions::Table).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("idx_rate_limit_hits_created").table(RateLimitHits::Table).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(RateLimitKeys::Table).if_exists().to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum RateLimitKeys {
    Table,
    Bucket,
    Key,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RateLimitHits {
    Table,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Expires,
}
