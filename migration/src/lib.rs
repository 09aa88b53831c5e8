//! Database schema migrations, shared by `make migrate`, the local stack and the tests.
//!
//! Every migration runs on MySQL 8 / MariaDB (production, RDS) and on SQLite (local use), so
//! backend differences are handled here and nowhere else (see [`datetime`] and [`table_options`]).

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_tables;
mod m20261201_000001_rate_limit_keys;
mod m20261202_000001_message_tree;
mod m20261202_000002_accounts;
mod m20261203_000001_usage;
mod m20261206_000001_audit_subjects;
mod m20261206_000002_exact_addresses;
mod m20261206_000003_moderation;
mod m20261206_000004_red_flags;
mod m20261206_000005_reports_consent;
mod m20261206_000006_readings;
mod m20261206_000007_constitution;
mod m20261206_000008_stream_slots;
mod m20261206_000009_thinking;
mod m20261206_000010_attachments;

pub use m20261203_000001_usage::tally_messages_sql;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tables::Migration),
            Box::new(m20261201_000001_rate_limit_keys::Migration),
            Box::new(m20261202_000001_message_tree::Migration),
            Box::new(m20261202_000002_accounts::Migration),
            Box::new(m20261203_000001_usage::Migration),
            Box::new(m20261206_000001_audit_subjects::Migration),
            Box::new(m20261206_000002_exact_addresses::Migration),
            Box::new(m20261206_000003_moderation::Migration),
            Box::new(m20261206_000004_red_flags::Migration),
            Box::new(m20261206_000005_reports_consent::Migration),
            Box::new(m20261206_000006_readings::Migration),
            Box::new(m20261206_000007_constitution::Migration),
            Box::new(m20261206_000008_stream_slots::Migration),
            Box::new(m20261206_000009_thinking::Migration),
            Box::new(m20261206_000010_attachments::Migration),
        ]
    }
}

/// A timestamp column with microsecond precision on MySQL (a bare `DATETIME` rounds to whole
/// seconds, which would make messages written in the same second unordered), and SQLite's
/// text timestamps elsewhere.
pub(crate) fn datetime(backend: sea_orm::DatabaseBackend, name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    match backend {
        sea_orm::DatabaseBackend::MySql => column.custom("DATETIME(6)"),
        _ => column.date_time(),
    };
    column
}

/// Text that may be long (a model reply): MEDIUMTEXT (16 MiB) on MySQL, where TEXT stops at
/// 64 KiB, so a value is never cut off or refused for its size.
pub(crate) fn long_text(backend: sea_orm::DatabaseBackend, name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    match backend {
        sea_orm::DatabaseBackend::MySql => column.custom("MEDIUMTEXT"),
        _ => column.text(),
    };
    column
}

/// utf8mb4 on MySQL so every Unicode character (emoji, rare CJK) round-trips.
pub(crate) fn table_options(backend: sea_orm::DatabaseBackend, table: &mut TableCreateStatement) {
    if backend == sea_orm::DatabaseBackend::MySql {
        table.character_set("utf8mb4").collate("utf8mb4_unicode_ci");
    }
}
