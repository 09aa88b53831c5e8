//! The real `local-stack` binary on a fresh SQLite file (which it must migrate) and a static
//! site in a temporary directory, over real HTTP.

use std::{
    fs,
    io::Read,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use app_core::entities::{AuditLog, audit_log};
use axum::{
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const INDEX: &str = "<!doctype html><title>Oracle</title><p>the index page</p>\n";
const NOT_FOUND: &str = "<!doctype html><title>Lost</title><p>the static 404 page</p>\n";
const SCRIPT: &str = "console.log('app');\n";

/// The running binary, its temporary directory, and its log (stdout and stderr). Dropping it
/// kills the process and removes the directory.
struct LocalStack {
    child: Child,
    dir: PathBuf,
    base: String,
    database_url: String,
    client: Client<HttpConnector, Body>,
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl LocalStack {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("local-stack-test-{}", uuid::Uuid::new_v4().simple()));
        let site = dir.join("site");
        fs::create_dir_all(site.join("assets")).unwrap();
        fs::write(site.join("index.html"), INDEX).unwrap();
        fs::write(site.join("404.html"), NOT_FOUND).unwrap();
        fs::write(site.join("assets/app.js"), SCRIPT).unwrap();
        let database = dir.join("dev.db");
        let database_url = format!("sqlite://{}?mode=rwc", database.display());
        let mut attempt = 0;
        loop {
            attempt += 1;
            // A free port: bind to port 0, note the port, let it go. Another process may take it
            // in between, so a failure to listen is retried on a new port.
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let log = fs::File::create(dir.join("log.txt")).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_local-stack"))
                .env_clear()
                .env("DATABASE_URL", &database_url)
                .env("JWT_SECRET", "local-stack-test-secret-0123456789abcdef")
                .env("BCRYPT_COST", "4")
                .env("ADMIN_EMAILS", "admin@example.com")
                .env("PORT", port.to_string())
                .env("HOST", "127.0.0.1")
                .env("STATIC_DIR", &site)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start local-stack");
            let mut stack = Self {
                child,
                dir: dir.clone(),
                base: format!("http://127.0.0.1:{port}"),
                database_url: database_url.clone(),
                client: Client::builder(TokioExecutor::new()).build_http(),
            };
            match stack.wait_until_ready().await {
                Ok(()) => {
                    assert!(database.exists(), "the SQLite file was created");
                    return stack;
                }
                Err(log) if attempt < 3 && log.contains("cannot listen") => {
                    // Keep the directory for the next attempt.
                    stack.dir = PathBuf::new();
                }
                Err(log) => panic!("local-stack did not start:\n{log}"),
            }
        }
    }

    fn log(&self) -> String {
        let mut log = String::new();
        if let Ok(mut file) = fs::File::open(self.dir.join("log.txt")) {
            let _ = file.read_to_string(&mut log);
        }
        log
    }

    /// Polls `/api/health` until the API answers, for at most 60 seconds; the log if the
    /// process exits or never answers.
    async fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exited early ({status}):\n{}", self.log()));
            }
            let request = Request::get(format!("{}/api/health", self.base)).body(Body::empty()).unwrap();
            if let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(2), self.client.request(request)).await
                && response.status() == StatusCode::OK
                && let Ok(body) = response.into_body().collect().await
                && serde_json::from_slice::<Value>(&body.to_bytes()).is_ok_and(|health| health["status"] == "ok")
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("not ready within 60s:\n{}", self.log()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Reply {
        let mut request = Request::builder().method(method).uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = tokio::time::timeout(Duration::from_secs(30), self.client.request(request.body(body).unwrap()))
            .await
            .expect("answered in time")
            .expect("HTTP exchange");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Reply { status, headers, body }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], None).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_site_and_the_api_from_one_process() {
    let stack = LocalStack::start().await;

    // The static site.
    for path in ["/", "/index.html"] {
        let page = stack.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{path}");
        assert_eq!(page.text(), INDEX, "{path}");
    }
    let script = stack.get("/assets/app.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.text(), SCRIPT);
    // Never sniffed into another type; the site's files may be cached, the API's answers not.
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(script.header("cache-control"), None);
    for path in ["/nope.html", "/assets/missing.js", "/deep/er/path", "/apis", "/api-docs"] {
        let missing = stack.get(path).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(missing.text(), NOT_FOUND, "{path}");
    }

    // The API: health, on the freshly migrated database.
    let health = stack.get("/api/health").await;
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(health.header("cache-control"), Some("no-store"));
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.header("content-type"), Some("application/json"));
    assert_eq!(health.json(), json!({"status": "ok", "database": "up", "schema": "current"}));
    assert!(health.header("x-request-id").is_some());

    // Unknown API paths get the API's JSON 404, never the site's page.
    for path in ["/api/unknown", "/api", "/api/", "/api/auth/nope", "/api/admin/users/x/ban/y"] {
        let missing = stack.get(path).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(missing.header("content-type"), Some("application/json"), "{path}: {}", missing.text());
        assert_eq!(missing.json()["error"]["code"], "not_found", "{path}");
    }
    let wrong_method = stack.send(Method::GET, "/api/auth/register", &[], None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.json()["error"]["code"], "method_not_allowed");

    // Register, then use the token: the whole auth flow works on the migrated SQLite file.
    let register = stack
        .send(
            Method::POST,
            "/api/auth/register",
            &[("user-agent", "local-stack-test")],
            Some(json!({"email": "admin@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(register.status, StatusCode::CREATED, "{}", register.text());
    let body = register.json();
    assert_eq!(body["user"]["email"], "admin@example.com");
    assert_eq!(body["user"]["role"], "ADMIN");
    let token = body["token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");
    let session = stack.send(Method::GET, "/api/auth/session", &[("authorization", &bearer)], None).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text());
    assert_eq!(session.json()["user"]["email"], "admin@example.com");

    // Routes with path parameters work through the local dispatch too.
    let users = stack.send(Method::GET, "/api/admin/users", &[("authorization", &bearer)], None).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text());
    let own_id = users.json()["users"][0]["id"].as_str().unwrap().to_string();
    let own_ban =
        stack.send(Method::POST, &format!("/api/admin/users/{own_id}/ban"), &[("authorization", &bearer)], None).await;
    assert_eq!(own_ban.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", own_ban.text());
    assert_eq!(own_ban.json()["error"]["code"], "cannot_ban_self");
    let unknown =
        stack.send(Method::POST, "/api/admin/users/no-such-user/ban", &[("authorization", &bearer)], None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text());

    // Without a proxy, the audit log records the TCP peer as the client IP.
    let db = Database::connect(&stack.database_url).await.unwrap();
    let row = AuditLog::find().filter(audit_log::Column::Action.eq("register")).one(&db).await.unwrap().unwrap();
    assert_eq!(row.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(row.user_agent.as_deref(), Some("local-stack-test"));
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_stops_it_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_local-stack"))
        .env_clear()
        .env("DATABASE_URL", "sqlite::memory:")
        .env("PORT", "not-a-port")
        .env("JWT_SECRET", "local-stack-test-secret-0123456789abcdef")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORT is invalid"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_local-stack"))
        .env_clear()
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}
