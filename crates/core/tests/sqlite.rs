//! The embedded SQLite as the app opens it (`state::connect`): WAL with `synchronous=NORMAL` and
//! foreign keys on, in a library built with the options `.cargo/config.toml` gives libsqlite3-sys.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use test_support::{Backend, TestDb, config_from, test_env};

/// The first column of every row `sql` returns, as text.
async fn column(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let rows = db.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql)).await.expect(sql);
    rows.iter()
        .map(|row| {
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .expect("a text or integer column")
        })
        .collect()
}

#[tokio::test]
async fn sqlite_connections_use_wal_and_foreign_keys() {
    let database = TestDb::migrated(Backend::Sqlite).await;
    let db = app_core::state::connect(&config_from(&test_env(&database.url)), false).await.expect("connect");
    assert_eq!(column(&db, "PRAGMA journal_mode").await, ["wal"]);
    assert_eq!(column(&db, "PRAGMA synchronous").await, ["1"], "1 is NORMAL");
    assert_eq!(column(&db, "PRAGMA foreign_keys").await, ["1"]);
}

/// `.cargo/config.toml` sets `LIBSQLITE3_FLAGS`; built without it (say, from outside the
/// repository), statements with `LIMIT ?` would be compiled again at every execution.
#[tokio::test]
async fn sqlite_is_built_with_a_stable_query_planner_and_without_memory_statistics() {
    let database = TestDb::migrated(Backend::Sqlite).await;
    let db = app_core::state::connect(&config_from(&test_env(&database.url)), false).await.expect("connect");
    let options = column(&db, "PRAGMA compile_options").await;
    for expected in ["ENABLE_QPSG", "DEFAULT_MEMSTATUS=0"] {
        assert!(options.iter().any(|option| option == expected), "{expected} missing from {options:?}");
    }
}
