//! Database access with a deadline on every operation.
//!
//! sqlx bounds connecting and waiting for a pooled connection (`DB_CONNECT_TIMEOUT`), but not a
//! statement: on a connection the pool already holds, a query to a database that stopped
//! answering (a network partition, a stuck failover, a frozen server: TCP still accepts, nothing
//! comes back) waits until the database returns or Function Compute kills the request. [`Db`]
//! and [`Txn`] wrap the pool and its transactions and give each statement, `BEGIN` and `COMMIT`
//! the same deadline; one that passes becomes a connectivity error, which the HTTP layer answers
//! with 503 `database_unavailable`.
//!
//! Both implement sea-orm's `ConnectionTrait`, so every query builder takes them as it takes a
//! plain connection (`User::find().one(&state.db)`).
//!
//! [`schema_state`] tells whether the database has the schema this code needs (health,
//! `/initialize`).

use std::{future::Future, time::Duration};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, TransactionTrait,
};

/// The newest migration this version of the code needs (`migration/`; a test there checks this
/// is its last one). `/api/health` and `/initialize` compare the database's against it.
pub const SCHEMA_VERSION: &str = "m20261206_000010_attachments";

/// An instant as a query parameter. On MySQL it goes as a `DATETIME` (in UTC, as the columns
/// hold them): sqlx sends a `DateTime<Utc>` as a `TIMESTAMP`, and MariaDB's range optimizer
/// finds nothing through an index on a `DATETIME` column for a `TIMESTAMP` outside 1970–2038
/// (an export `since=1900-01-01` returned no accounts once `users.created_at` was indexed).
pub fn instant(backend: DbBackend, at: chrono::DateTime<chrono::Utc>) -> sea_orm::Value {
    match backend {
        DbBackend::MySql => at.naive_utc().into(),
        _ => at.into(),
    }
}

/// `expr` cast to an integer the backend reads back as one: MySQL sums integers into DECIMALs.
pub fn integer(backend: DbBackend, expr: &str) -> String {
    match backend {
        DbBackend::MySql => format!("CAST({expr} AS SIGNED)"),
        _ => format!("CAST({expr} AS INTEGER)"),
    }
}

/// The connection pool, with a deadline on every operation.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    deadline: Duration,
}

/// A transaction of a [`Db`]: statements, commit and rollback keep the pool's deadline. Dropped
/// without [`Txn::commit`], it rolls back.
pub struct Txn {
    txn: DatabaseTransaction,
    deadline: Duration,
}

impl Db {
    pub fn new(conn: DatabaseConnection, deadline: Duration) -> Self {
        Self { conn, deadline }
    }

    /// The longest any one operation may take.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The pool itself, without deadlines (connection management, the backend's pool).
    pub fn raw(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub async fn begin(&self) -> Result<Txn, DbErr> {
        let txn = bounded(self.deadline, self.conn.begin()).await?;
        Ok(Txn { txn, deadline: self.deadline })
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        bounded(self.deadline, self.conn.ping()).await
    }
}

impl Txn {
    pub async fn commit(self) -> Result<(), DbErr> {
        bounded(self.deadline, self.txn.commit()).await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        bounded(self.deadline, self.txn.rollback()).await
    }

    /// A savepoint inside this transaction (sea-orm's nested `begin`).
    pub async fn begin(&self) -> Result<Txn, DbErr> {
        let txn = bounded(self.deadline, self.txn.begin()).await?;
        Ok(Txn { txn, deadline: self.deadline })
    }
}

/// `operation`, or a connectivity error once `deadline` has passed.
pub async fn bounded<T>(deadline: Duration, operation: impl Future<Output = Result<T, DbErr>>) -> Result<T, DbErr> {
    match tokio::time::timeout(deadline, operation).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(deadline)),
    }
}

/// The error of an operation that passed its deadline: a connectivity error (503).
pub fn timed_out(deadline: Duration) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(format!("the database did not answer within {deadline:?}")))
}

/// Whether the database has the schema this version of the code needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaState {
    Current,
    Missing,
    Outdated,
    /// The database did not answer.
    Unknown,
}

impl SchemaState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Missing => "missing",
            Self::Outdated => "outdated",
            Self::Unknown => "unknown",
        }
    }
}

/// Reads the newest applied migration (sea-orm-migration's `seaql_migrations` table) and
/// compares it with [`SCHEMA_VERSION`]. Migration names sort by date, and migrations only
/// add, so a newer schema serves this code too.
pub async fn schema_state(db: &Db) -> Result<SchemaState, sea_orm::DbErr> {
    let newest = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(version) AS version FROM seaql_migrations",
        ))
        .await;
    let newest: Option<String> = match newest {
        Ok(row) => row.and_then(|row| row.try_get("", "version").ok()),
        Err(err) if crate::error::is_missing_schema(&err) => return Ok(SchemaState::Missing),
        Err(err) => {
            if crate::error::is_connectivity_error(&err) {
                return Err(err);
            }
            tracing::warn!(error = %err, "cannot read the applied migrations");
            return Ok(SchemaState::Unknown);
        }
    };
    Ok(match newest {
        None => SchemaState::Missing,
        Some(version) if version.as_str() < SCHEMA_VERSION => SchemaState::Outdated,
        Some(_) => SchemaState::Current,
    })
}

macro_rules! bounded_connection {
    ($type:ty, $field:ident) => {
        #[async_trait::async_trait]
        impl ConnectionTrait for $type {
            fn get_database_backend(&self) -> DbBackend {
                self.$field.get_database_backend()
            }

            async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                bounded(self.deadline, self.$field.execute_raw(stmt)).await
            }

            async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
                bounded(self.deadline, self.$field.execute_unprepared(sql)).await
            }

            async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                bounded(self.deadline, self.$field.query_one_raw(stmt)).await
            }

            async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                bounded(self.deadline, self.$field.query_all_raw(stmt)).await
            }
        }
    };
}

bounded_connection!(Db, conn);
bounded_connection!(Txn, txn);
