//! The application state every handler receives: configuration, database pool, clock and the
//! session-token keys. It is cheap to clone (everything inside is shared).

use std::{sync::Arc, time::Duration};

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::{
    auth::{password::Hasher, token::TokenKeys},
    chat::{StopWatcher, llm::Llm},
    clock::Clock,
    config::Config,
    db::Db,
    error::{AppError, AppResult},
    housekeeping::{Chore, Chores},
    mail::{self, Mailer},
    moderation::Moderator,
    rate_limit::{self, Bucket, HitId, Meter},
    storage::Store,
};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The pool, every operation bounded by `DB_CONNECT_TIMEOUT`.
    pub db: Db,
    pub clock: Clock,
    pub tokens: Arc<TokenKeys>,
    /// The chat model, when `OPENAI_API_KEY` is configured.
    pub llm: Option<Arc<Llm>>,
    /// Password hashing, bounded to this instance's cores.
    pub hasher: Arc<Hasher>,
    /// Account mail, when SMTP is configured.
    pub mailer: Option<Arc<Mailer>>,
    /// The content check, when `MODERATION_PROVIDER` is not `off`.
    pub moderator: Option<Arc<Moderator>>,
    /// When this instance last did each periodic chore.
    pub chores: Arc<Chores>,
    /// The instance's one watch for stops of its streaming replies.
    pub stop_watcher: StopWatcher,
    /// Where attached pictures are kept, unless `STORAGE=off`.
    pub storage: Option<Store>,
}

impl AppState {
    /// Builds the state with a lazily connecting pool: an unreachable database makes requests
    /// answer 503 (and `/api/health` say so) instead of stopping the process from starting.
    pub async fn new(config: Config) -> Result<Self, DbErr> {
        let db = connect(&config, true).await?;
        Ok(Self::with_parts(config, db, Clock::system()))
    }

    pub fn with_parts(config: Config, db: DatabaseConnection, clock: Clock) -> Self {
        let tokens = Arc::new(TokenKeys::new(&config.jwt_secret));
        let llm = config.llm.as_ref().map(|llm| Arc::new(Llm::new(llm)));
        let db = Db::new(db, config.db_connect_timeout);
        let hasher = Arc::new(Hasher::new(config.bcrypt_cost, config.password_hash_queue));
        // The configuration was checked with the same constructor at start (`Config`), so this
        // fails only if that check and this one disagree; the mail routes then answer 503.
        let mailer = config.mail.as_ref().and_then(|mail| match Mailer::new(mail) {
            Ok(mailer) => Some(Arc::new(mailer)),
            Err(err) => {
                tracing::error!(error = %err, "cannot set up SMTP; the mail routes answer 503");
                None
            }
        });
        let moderator = config.moderation.as_ref().map(|moderation| Arc::new(Moderator::new(moderation)));
        let storage = config.storage.as_ref().map(|storage| Store::new(storage, &config.jwt_secret));
        Self {
            storage,
            config: Arc::new(config),
            db,
            clock,
            tokens,
            llm,
            hasher,
            mailer,
            moderator,
            chores: Arc::default(),
            stop_watcher: StopWatcher::default(),
        }
    }

    /// The mailer, or 503 `mail_unavailable` when SMTP is not configured.
    pub fn mailer(&self) -> Result<&Mailer, AppError> {
        self.mailer.as_deref().ok_or_else(mail::unavailable)
    }

    /// [`rate_limit::charge`], then a sweep of the charged buckets' expired rows.
    pub async fn charge(&self, meters: &[Meter<'_>]) -> AppResult<Vec<HitId>> {
        let hits = rate_limit::charge(&self.db, &self.clock, meters).await?;
        for meter in meters {
            self.sweep(meter.bucket).await;
        }
        Ok(hits)
    }

    /// Deletes a batch of `bucket`'s expired rows, within [`rate_limit::SWEEP_BUDGET`], at most
    /// once a minute per instance ([`Chores`]) unless the last batch was full or failed: a
    /// charge seldom pays for it, and expired rows still go faster than charges add them. A
    /// failure is only logged (nothing depends on it, and a later charge sweeps again).
    pub async fn sweep(&self, bucket: Bucket) {
        let chore = Chore::RateLimit(bucket);
        let now = self.clock.now();
        if !self.chores.due(chore, now) {
            return;
        }
        let retention = self.config.bucket_retention(bucket);
        let sweep = rate_limit::sweep(&self.db, now, bucket, retention);
        match tokio::time::timeout(rate_limit::SWEEP_BUDGET, sweep).await {
            Ok(Ok(deleted)) if deleted < rate_limit::SWEEP_BATCH => {}
            Ok(Ok(_)) => self.chores.again(chore),
            Ok(Err(err)) => {
                self.chores.again(chore);
                tracing::warn!(error = %err, bucket = bucket.as_str(), "could not sweep expired rate-limit rows")
            }
            Err(_) => {
                self.chores.again(chore);
                tracing::warn!(bucket = bucket.as_str(), "sweeping took too long; the next charge sweeps again")
            }
        }
    }
}

/// A pooled connection idle this long is pinged before use; a busier one is trusted. (Pinging
/// on every checkout, the default, costs a round trip per statement outside a transaction.)
/// After Function Compute thaws a frozen instance its connections have been idle at least this
/// long, so a connection RDS or the network dropped meanwhile is caught and replaced.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(5);

/// Opens the pool described by the configuration.
///
/// SQLite gets a single connection: it allows one writer at a time, and two transactions that
/// read and then write would fail at once with "database is locked" (waiting cannot resolve a
/// lock upgrade). Serializing through one connection is the reliable setup for the embedded,
/// local-use database; MySQL uses the configured pool. SQLite also runs in WAL mode with
/// `synchronous=NORMAL`, its recommended setup for an application database: a commit appends to
/// the log instead of writing and deleting a rollback journal, and a crash of the app never
/// loses a committed transaction (only a power cut may lose the last few).
pub async fn connect(config: &Config, lazy: bool) -> Result<DatabaseConnection, DbErr> {
    let sqlite = config.database_url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(if sqlite { 1 } else { config.db_max_connections })
        .min_connections(0)
        .connect_timeout(config.db_connect_timeout)
        .acquire_timeout(config.db_connect_timeout)
        .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR)
        .connect_lazy(lazy)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite.journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Normal)
        });
    Database::connect(options).await
}

/// Opens a connection of the pool and leaves it there, so that the next query finds it open:
/// what a function does at start. (No ping: the connection has just answered its handshake,
/// and a ping would be one more round trip to the driver for the first request to wait on.)
pub async fn open_a_connection(db: &DatabaseConnection) -> Result<(), DbErr> {
    let opened = match db.get_database_backend() {
        DbBackend::Sqlite => db.get_sqlite_connection_pool().acquire().await.map(drop),
        DbBackend::MySql => db.get_mysql_connection_pool().acquire().await.map(drop),
        _ => return db.ping().await,
    };
    opened.map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(err.into())))
}
