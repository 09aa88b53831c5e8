//! Helpers shared by the test suites: a fresh database per test (SQLite file or a new MariaDB
//! database), the real router built on it, and request helpers.
//!
//! MariaDB is reached at `TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`); `make test`
//! starts the server when it is not running.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use app_core::{AppState, Config, clock::Clock, http};
use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;
use tower::ServiceExt;

pub use app_core::all_routes;
pub use serde_json::json;
pub use upstream::{
    Behaviour, Received, StreamLog, TEST_TITLE, TEST_TONGUE, UPSTREAM_KEY, UPSTREAM_MODEL, UPSTREAM_TITLE_MODEL,
    UPSTREAM_TONGUE_MODEL, Upstream,
};

pub mod burst;
pub mod fault;
pub mod mail;
pub mod moderation;
pub mod pictures;
pub mod ports;
pub mod process;
pub mod s3;
pub mod stack;
mod upstream;

pub const TEST_SECRET: &str = "test-secret-0123456789abcdef0123456789";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery";

/// Runs the test body once against SQLite and once against MariaDB:
///
/// ```ignore
/// both_databases! {
///     async fn logs_in(backend: Backend) { let app = TestApp::spawn(backend).await; … }
/// }
/// ```
#[macro_export]
macro_rules! both_databases {
    ($($(#[$meta:meta])* async fn $name:ident($backend:ident: Backend) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                run($crate::Backend::MySql).await
            }

            async fn run($backend: $crate::Backend) $body
        }
    )*};
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
}

/// A database that exists for one test and is removed when dropped.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    MySqlDatabase {
        server_url: String,
        name: String,
    },
    /// A database the test's own server holds; it goes with the server.
    Nothing,
}

pub fn mysql_server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
}

impl TestDb {
    /// An empty database (no tables).
    pub async fn empty(backend: Backend) -> Self {
        let unique = format!("t_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{unique}.db"));
                Self { url: format!("sqlite://{}?mode=rwc", path.display()), cleanup: Cleanup::File(path) }
            }
            Backend::MySql => {
                let server_url = mysql_server_url();
                let server = Database::connect(&server_url).await.unwrap_or_else(|err| {
                    panic!(
                        "cannot reach MariaDB at {server_url} ({err}). Start it with \
                         `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` \
                         (what `make test` does) or set TEST_MYSQL_URL"
                    )
                });
                server
                    .execute_unprepared(&format!(
                        "CREATE DATABASE `{unique}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    ))
                    .await
                    .expect("create the test database");
                let _ = server.close().await;
                Self {
                    url: format!("{}/{unique}", server_url.trim_end_matches('/')),
                    cleanup: Cleanup::MySqlDatabase { server_url, name: unique },
                }
            }
        }
    }

    /// `url` (a fault test's own server) with every migration applied; nothing is removed on
    /// drop.
    pub async fn migrated_at(url: &str) -> Self {
        let conn = Database::connect(url).await.expect("connect to the test database");
        Migrator::up(&conn, None).await.expect("migrations apply");
        let _ = conn.close().await;
        Self { url: url.to_string(), cleanup: Cleanup::Nothing }
    }

    /// A database with every migration applied.
    pub async fn migrated(backend: Backend) -> Self {
        let db = Self::empty(backend).await;
        let conn = Database::connect(&db.url).await.expect("connect to the test database");
        Migrator::up(&conn, None).await.expect("migrations apply");
        let _ = conn.close().await;
        db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Nothing => {}
            Cleanup::MySqlDatabase { server_url, name } => {
                let (server_url, name) = (server_url.clone(), name.clone());
                // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                    if let Ok(runtime) = runtime {
                        runtime.block_on(async {
                            if let Ok(server) = Database::connect(&server_url).await {
                                let _ = server.execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`")).await;
                                let _ = server.close().await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// The environment a test app is configured from; tweak it before [`TestApp::with_env`].
pub fn test_env(database_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("JWT_SECRET", TEST_SECRET),
        ("BCRYPT_COST", "4"),
        ("ADMIN_EMAILS", ADMIN_EMAIL),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
        ("DB_CONNECT_TIMEOUT", "3s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub fn config_from(env: &HashMap<String, String>) -> Config {
    Config::from_lookup(|name| env.get(name).cloned()).expect("test configuration is valid")
}

/// The real router on a fresh, migrated database, with a manual clock.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: Clock,
    pub db: DatabaseConnection,
    pub backend: Backend,
    /// Every statement sent through the app's pool (and `db`), in order.
    pub statements: StatementLog,
    _database: TestDb,
}

/// The statements a pool sent, as SQL text with how many values were bound to it, recorded by
/// sea-orm's metric callback (which sees every query and execute, in or out of a transaction;
/// `BEGIN` and `COMMIT` are not among them).
#[derive(Clone, Default)]
pub struct StatementLog(std::sync::Arc<std::sync::Mutex<Vec<(String, usize, std::time::Instant)>>>);

impl StatementLog {
    fn record(&self, sql: &str, values: usize) {
        let at = std::time::Instant::now();
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((sql.to_string(), values, at));
    }

    /// How many statements so far: a mark for [`StatementLog::since`].
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The statements after `mark`.
    pub fn since(&self, mark: usize) -> Vec<(String, usize)> {
        let log = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        log[mark..].iter().map(|(sql, values, _)| (sql.clone(), *values)).collect()
    }

    /// How many of the statements after `mark` had completed by `at`.
    pub fn since_until(&self, mark: usize, at: std::time::Instant) -> usize {
        let log = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        log[mark..].iter().filter(|(_, _, done)| *done <= at).count()
    }

    /// Waits until no statement has been added for `quiet` (the tail of a streamed reply, saved
    /// after its last event), at most 5 s.
    pub async fn settle(&self, quiet: std::time::Duration) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut seen = self.len();
        while std::time::Instant::now() < deadline {
            tokio::time::sleep(quiet).await;
            let now = self.len();
            if now == seen {
                return;
            }
            seen = now;
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::with_env(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], after `adjust` has changed the environment.
    pub async fn with_env(backend: Backend, adjust: impl FnOnce(&mut HashMap<String, String>)) -> Self {
        let database = TestDb::migrated(backend).await;
        let mut env = test_env(&database.url);
        adjust(&mut env);
        let config = config_from(&env);
        let mut db = app_core::state::connect(&config, false).await.expect("connect");
        let statements = StatementLog::default();
        let log = statements.clone();
        db.set_metric_callback(move |info| {
            log.record(&info.statement.sql, info.statement.values.as_ref().map_or(0, |values| values.0.len()))
        });
        let clock = Clock::manual(chrono::Utc::now());
        let state = AppState::with_parts(config, db.clone(), clock.clone());
        let router = http::app(state.clone(), all_routes().router());
        Self { state, router, clock, db, backend, statements, _database: database }
    }

    /// An app whose model is `upstream`, with its titles off (cut from the first message, no
    /// title requests: for the tests that are not about titles), and `extra` variables.
    pub async fn with_upstream(backend: Backend, upstream: &Upstream, extra: &[(&str, &str)]) -> Self {
        Self::with_env(backend, |env| {
            upstream.configure(env);
            env.insert("CHAT_TITLE_MODEL".into(), "off".into());
            for (name, value) in extra {
                env.insert(name.to_string(), value.to_string());
            }
        })
        .await
    }

    /// An app that sends mail to `mail` (SMTP_URL, MAIL_FROM, SITE_URL), and `extra` variables.
    pub async fn with_mail(backend: Backend, mail: &mail::MailServer, extra: &[(&str, &str)]) -> Self {
        Self::with_env(backend, |env| {
            mail.configure(env);
            for (name, value) in extra {
                env.insert(name.to_string(), value.to_string());
            }
        })
        .await
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder { app: self, method, path: path.to_string(), headers: HeaderMap::new(), body: Body::empty() }
    }

    pub fn get(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::DELETE, path)
    }

    /// Logs `email` in with `password` and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let response = self.post("/api/auth/login").json(&json!({"email": email, "password": password})).send().await;
        assert_eq!(response.status, StatusCode::OK, "login {email}: {}", response.text());
        response.json()["token"].as_str().expect("token").to_string()
    }

    /// Registers `email` and returns its token.
    pub async fn register(&self, email: &str) -> String {
        let response =
            self.post("/api/auth/register").json(&json!({"email": email, "password": PASSWORD})).send().await;
        assert_eq!(response.status, StatusCode::CREATED, "register {email}: {}", response.text());
        response.json()["token"].as_str().expect("token").to_string()
    }

    /// `POST /api/account/password/forgot` for `email`.
    pub async fn forgot_password(&self, email: &str) -> TestResponse {
        self.post("/api/account/password/forgot").json(&json!({"email": email})).send().await
    }

    /// `POST /api/account/password/reset` with a mailed link's `token`.
    pub async fn reset_password(&self, token: &str, password: &str) -> TestResponse {
        self.post("/api/account/password/reset").json(&json!({"token": token, "password": password})).send().await
    }

    /// Registers the configured admin email and returns its token.
    pub async fn admin_token(&self) -> String {
        self.register(ADMIN_EMAIL).await
    }
}

pub struct RequestBuilder<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Body,
}

impl RequestBuilder<'_> {
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.insert(name, value.parse().expect("valid header value"));
        self
    }

    pub fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn ip(self, ip: &str) -> Self {
        self.header("x-forwarded-for", ip)
    }

    pub fn json(mut self, value: &Value) -> Self {
        self.headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        self.body = Body::from(value.to_string());
        self
    }

    /// A body of any type.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.headers.insert(header::CONTENT_TYPE, content_type.parse().expect("a content type"));
        self.body = Body::from(body.into());
        self
    }

    /// A raw body with the JSON content type (for malformed-input tests).
    pub fn raw_json(mut self, body: impl Into<Bytes>) -> Self {
        self.headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        self.body = Body::from(body.into());
        self
    }

    pub async fn send(self) -> TestResponse {
        let mut request = Request::builder().method(self.method).uri(&self.path).body(self.body).expect("request");
        *request.headers_mut() = self.headers;
        let response = self.app.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        TestResponse { status, headers, body }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    /// Asserts the status and our error shape, returning the error code.
    pub fn assert_error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let body = self.json();
        let code = body["error"]["code"].as_str().unwrap_or_else(|| panic!("no error.code in {body}"));
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "no message in {body}");
        code.to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A streamed `POST /api/chat` of `body` by `token`, to send through the router with
/// `tower::ServiceExt::oneshot`, whose body a test then reads as it comes ([`read_sse_until`]).
pub fn streaming_chat(token: &str, body: &Value) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post("/api/chat")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(axum::body::Body::from(body.to_string()))
        .expect("a request")
}

/// Reads SSE text from `body` into `text` until it contains `needle` (or the body ends); fails
/// when the stream goes quiet for 10 seconds.
pub async fn read_sse_until(
    body: &mut (impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    text: &mut String,
    needle: &str,
) {
    use futures::StreamExt;
    while !text.contains(needle) {
        match tokio::time::timeout(Duration::from_secs(10), body.next()).await.expect("the stream went quiet") {
            Some(Ok(bytes)) => text.push_str(&String::from_utf8_lossy(&bytes)),
            _ => return,
        }
    }
}

/// Parses a Server-Sent Events body into `(event, data as JSON)` pairs.
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = "message".to_string();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(text) = line.strip_prefix("data:") {
                    data.push_str(text.trim_start());
                }
            }
            (!data.is_empty()).then(|| (event, serde_json::from_str(&data).expect("event data is JSON")))
        })
        .collect()
}

/// A man's answers to every question of `questionnaire` (`GET /api/constitution/questionnaire`),
/// all "sometimes" (3): a submission body for `POST /api/constitution/assessments`.
pub fn all_sometimes(questionnaire: &Value) -> Value {
    let answers: serde_json::Map<String, Value> = questionnaire["items"]
        .as_array()
        .expect("the questionnaire's items")
        .iter()
        .filter(|item| item["sex"].is_null() || item["sex"] == "male")
        .map(|item| (item["id"].as_str().expect("an item id").to_string(), json!(3)))
        .collect();
    json!({"sex": "male", "answers": answers})
}
