//! The application state every handler receives: configuration, database pool, clock and the
//! session-token keys. It is cheap to clone (everything inside is shared).

use std::sync::Arc;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::{auth::token::TokenKeys, chat::llm::Llm, clock::Clock, config::Config};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub clock: Clock,
    pub tokens: Arc<TokenKeys>,
    /// The chat model, when `OPENAI_API_KEY` is configured.
    pub llm: Option<Arc<Llm>>,
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
        Self { config: Arc::new(config), db, clock, tokens, llm }
    }
}

/// Opens the pool described by the configuration.
///
/// SQLite gets a single connection: it allows one writer at a time, and two transactions that
/// read and then write would fail at once with "database is locked" (waiting cannot resolve a
/// lock upgrade). Serializing through one connection is the reliable setup for the embedded,
/// local-use database; MySQL uses the configured pool.
pub async fn connect(config: &Config, lazy: bool) -> Result<DatabaseConnection, DbErr> {
    let sqlite = config.database_url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(if sqlite { 1 } else { config.db_max_connections })
        .min_connections(0)
        .connect_timeout(config.db_connect_timeout)
        .acquire_timeout(config.db_connect_timeout)
        .connect_lazy(lazy)
        .sqlx_logging(false);
    Database::connect(options).await
}
