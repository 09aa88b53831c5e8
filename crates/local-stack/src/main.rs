//! `make dev`: the whole API in one process, routed the way the custom domain routes paths to
//! the four functions, plus the static site from `frontend-dist/`, on `http://127.0.0.1:$PORT`.
//!
//! With a SQLite `DATABASE_URL` the migrations are applied on start, so a fresh checkout needs
//! no other setup. (For MySQL, run `make migrate` first, as in production.)

use std::net::SocketAddr;

use anyhow::Context;
use app_core::{AppState, Config, all_routes, http, openapi, telemetry};
use axum::{Router, extract::Request, http::header, response::IntoResponse, routing::get};
use migration::{Migrator, MigratorTrait};
use tower::ServiceExt;
use tower_http::{
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().with_context(|| format!("PORT is invalid: {port:?} is not a port number"))?,
        Err(_) => 8080,
    };
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_string());
    let static_dir = std::env::var("STATIC_DIR").unwrap_or_else(|_| "frontend-dist".to_string());
    let sqlite = config.database_url.starts_with("sqlite:");
    app_core::moderation::announce(config.moderation.as_ref());

    let state = AppState::new(config).await.context("cannot open the database")?;
    if sqlite {
        Migrator::up(state.db.raw(), None).await.context("applying migrations to SQLite")?;
    }

    // Every function's routes, merged like the custom domain's route table merges them, plus
    // the API's description.
    let description = openapi::document_json();
    let routes = all_routes().router().route(
        "/api/openapi.json",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], description) }),
    );
    let api = http::app(state, routes);
    let site = ServeDir::new(&static_dir).not_found_service(ServeFile::new(format!("{static_dir}/404.html")));
    // `/api/...` goes to the API (whose own fallback is the JSON 404), everything else to the
    // site. A plain dispatch rather than a wildcard route, which would add a path parameter
    // that the API's handlers would then see as their own.
    let app = Router::new().fallback(move |request: Request| {
        let (api, site) = (api.clone(), site.clone());
        async move {
            let path = request.uri().path();
            if path == "/api" || path.starts_with("/api/") {
                api.oneshot(request).await.into_response()
            } else {
                site.oneshot(request).await.into_response()
            }
        }
    });

    // The site's files are never to be sniffed into another type either (the API sets it too).
    let app = app.layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    ));

    let address: SocketAddr = format!("{host}:{port}").parse().with_context(|| format!("HOST is invalid: {host:?}"))?;
    let listener =
        tokio::net::TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!("serving the API and {static_dir}/ on http://{address}");
    axum::serve(fc_runtime::without_nagle(listener), app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(fc_runtime::shutdown_signal())
        .await?;
    Ok(())
}
