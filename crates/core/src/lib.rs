//! The shared core of the chat backend: configuration, database entities, the domain (auth,
//! admin, chat, account, usage) and the HTTP layer. Each Function Compute binary in `functions/` picks the
//! routers it serves and hands them to [`serve_function`].

pub mod account;
pub mod admin;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod clock;
pub mod config;
pub mod consent;
pub mod constitution;
pub mod db;
pub mod entities;
pub mod error;
pub mod export;
pub mod housekeeping;
pub mod http;
pub mod ids;
pub mod language;
pub mod mail;
pub mod moderation;
pub mod openapi;
pub mod oracle;
pub mod outbound;
pub mod owned;
pub mod rate_limit;
pub mod reports;
pub mod safety;
pub mod season;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod text;
pub mod usage;

use std::process::ExitCode;

pub use config::Config;
pub use db::SchemaState;
pub use error::{AppError, AppResult};
pub use http::ApiRoutes;
pub use state::AppState;

/// What each Function Compute function serves: its binary in `functions/` passes these to
/// [`serve_function`], and the deploy checks match them against `s.yaml`'s route table.
pub mod functions {
    use crate::{ApiRoutes, account, admin, auth, chat};

    pub fn chat() -> ApiRoutes {
        chat::router()
    }

    /// Login, session and logout, and the account's own controls.
    pub fn auth_login() -> ApiRoutes {
        auth::login_router().merge(account::router())
    }

    pub fn auth_register() -> ApiRoutes {
        account::registration::router()
    }

    pub fn admin_export() -> ApiRoutes {
        admin::router()
    }
}

/// Every function's routes, merged the way the custom domain's route table merges them: what
/// the local stack serves and the OpenAPI document describes.
pub fn all_routes() -> ApiRoutes {
    functions::auth_login().merge(functions::auth_register()).merge(functions::chat()).merge(functions::admin_export())
}

/// What every function binary's `main` does: read the configuration, open the (lazy) database
/// pool, wrap `routes` with the shared middleware and serve them as an FC custom runtime (or on
/// AWS Lambda when `AWS_LAMBDA_RUNTIME_API` is set).
///
/// The server runs on a single-threaded tokio runtime. An instance gets a fraction of a vCPU
/// (`s.yaml`), and its work is waiting on the database and the model: worker threads would add
/// a thread hand-off to every wake-up and more threads to start, and buy nothing. bcrypt still
/// runs on the blocking pool's threads, off the serving thread.
pub fn serve_function(routes: ApiRoutes) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(routes))
}

async fn serve(routes: ApiRoutes) -> ExitCode {
    // The configuration and the (lazy) pool come first, so that the first database connection
    // starts opening before everything else: it is the longest step of a cold start (a driver
    // thread, the file and its schema for SQLite; TCP and TLS handshakes for MySQL), and the
    // logging setup, the app and the listener are built while it opens.
    let state = match Config::from_env() {
        Ok(config) => AppState::new(config).await.map_err(|err| format!("cannot set up the database pool: {err}")),
        Err(err) => Err(format!("configuration error: {err}")),
    };
    let state = match state {
        Ok(state) => state,
        Err(message) => {
            telemetry::init();
            tracing::error!("{message}");
            return ExitCode::FAILURE;
        }
    };
    // A database that is down only logs here; requests answer 503 until it is back.
    let db = state.db.clone();
    tokio::spawn(async move {
        let result = db::bounded(db.deadline(), state::open_a_connection(db.raw())).await;
        // Log on a later turn of the (single-threaded) runtime: by then `serve` has set up
        // logging, even when opening failed at its first poll.
        tokio::task::yield_now().await;
        if let Err(err) = result {
            tracing::warn!(error = %err, "database not reachable at start");
        }
    });
    // Let the task start the connection (a driver thread for SQLite, a socket for MySQL) before
    // building the app and binding the port.
    tokio::task::yield_now().await;
    telemetry::init();
    moderation::announce(state.config.moderation.as_ref());
    let warm = state.clone();
    let app = http::app(state, routes.router());
    // FC's `/initialize` hook: open a database connection and build the model client before
    // the first request needs them. It always succeeds: a failed hook makes FC count the
    // instance start as failed, and clients would get FC's own error (without CORS) instead of
    // our 503 JSON. A database that is down is logged; requests answer 503 until it is back.
    let runtime = fc_runtime::Runtime::new(app).max_event_bytes(http::MAX_EVENT_BYTES).on_initialize(move || {
        let state = warm.clone();
        async move {
            if let Some(llm) = &state.llm {
                llm.warm_up();
            }
            match db::schema_state(&state.db).await {
                Ok(SchemaState::Current) => {}
                Ok(schema) => tracing::error!(
                    schema = schema.as_str(),
                    "initialize: the database lacks this version's schema; apply the migrations (`make migrate`)"
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "initialize: the database is not reachable; requests answer 503 until it is")
                }
            }
            Ok(())
        }
    });
    match runtime.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("server error: {err}");
            ExitCode::FAILURE
        }
    }
}
