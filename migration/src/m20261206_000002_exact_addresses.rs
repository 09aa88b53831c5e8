//! Addresses compare byte for byte on MySQL, as they do on SQLite.
//!
//! The tables use `utf8mb4_unicode_ci`, under which `bóss@example.com`, `ｂｏｓｓ@example.com`
//! and `boss@example.com` with a zero-width space are all equal to `boss@example.com`: a
//! look-alike registered first took the real address (409 `email_taken`), a login or a reset
//! request for the real address found the look-alike's account (and mailed its link there), and
//! deleting the look-alike cleared the real address's audit rows. Every column that holds an
//! address (or a rate-limit key, which may be one) gets `utf8mb4_bin`; the app stores addresses
//! lower-cased, so case-insensitive matching is kept. SQLite already compares bytes.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000002_exact_addresses"
    }
}

/// (table, column, type, NULL or NOT NULL)
const COLUMNS: [(&str, &str, &str, &str); 6] = [
    ("users", "email", "VARCHAR(191)", "NOT NULL"),
    ("account_tokens", "email", "VARCHAR(191)", "NOT NULL"),
    ("admin_demotions", "email", "VARCHAR(191)", "NOT NULL"),
    ("audit_logs", "subject", "VARCHAR(191)", "NULL"),
    ("rate_limit_keys", "key", "VARCHAR(255)", "NOT NULL"),
    ("rate_limit_hits", "key", "VARCHAR(255)", "NOT NULL"),
];

async fn collate(manager: &SchemaManager<'_>, collation: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::MySql {
        return Ok(());
    }
    for (table, column, kind, null) in COLUMNS {
        let sql =
            format!("ALTER TABLE `{table}` MODIFY `{column}` {kind} CHARACTER SET utf8mb4 COLLATE {collation} {null}");
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        collate(manager, "utf8mb4_bin").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        collate(manager, "utf8mb4_unicode_ci").await
    }
}
