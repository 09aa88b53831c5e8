//! The shared HTTP layer every function serves through: JSON errors for unknown routes and
//! methods, `/api/health`, a database outage, CORS, request ids and body limits.

use std::{collections::HashMap, time::Duration};

use app_core::{AppState, http};
use axum::{
    Router,
    body::{Body, Bytes},
    http::{Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use serde_json::Value;
use test_support::{PASSWORD, TestApp, TestResponse, both_databases, json};
use tower::ServiceExt;

const ORIGIN: &str = "https://app.example.com";

/// Sends `request` to any router (one not built by [`TestApp`]).
async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    TestResponse { status, headers, body }
}

fn json_request(method: Method, path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder().method(method).uri(path).header("content-type", "application/json").body(body.into()).unwrap()
}

/// Every `POST` path the API documents, with `{…}` parameters filled in with `id`.
fn post_routes(id: &str) -> Vec<String> {
    let document: Value = serde_json::from_str(&app_core::openapi::document_json()).unwrap();
    let mut routes: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, item)| item.get("post").is_some())
        .map(|(path, _)| path.replace("{id}", id))
        .collect();
    routes.sort();
    for expected in ["/api/auth/register", "/api/auth/login", "/api/auth/logout", "/api/chat"] {
        assert!(routes.iter().any(|route| route == expected), "{expected} is documented: {routes:?}");
    }
    assert!(routes.iter().any(|route| route.ends_with("/ban")) && routes.iter().any(|route| route.ends_with("/unban")));
    routes
}

fn assert_json_content_type(response: &TestResponse) {
    assert_eq!(response.header("content-type"), Some("application/json"), "{}", response.text());
}

both_databases! {
    async fn unknown_routes_and_wrong_methods_answer_json(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/api/nope", "/nope", "/", "/api", "/api/admin/users/x/ban/extra", "/api/auth/login/"] {
            let response = app.get(path).send().await;
            assert_eq!(response.assert_error(StatusCode::NOT_FOUND), "not_found", "{path}");
            assert_json_content_type(&response);
        }
        let post = app.post("/api/nope").json(&json!({})).send().await;
        assert_eq!(post.assert_error(StatusCode::NOT_FOUND), "not_found");

        for (method, path, allowed) in [
            (Method::GET, "/api/auth/login", "POST"),
            (Method::PUT, "/api/auth/register", "POST"),
            (Method::POST, "/api/admin/export", "GET"),
            (Method::DELETE, "/api/health", "GET"),
            (Method::GET, "/api/admin/users/someone/ban", "POST"),
        ] {
            let response = app.request(method.clone(), path).send().await;
            assert_eq!(response.assert_error(StatusCode::METHOD_NOT_ALLOWED), "method_not_allowed", "{method} {path}");
            assert_json_content_type(&response);
            let allow = response.header("allow").unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
            assert!(allow.contains(allowed), "{method} {path}: Allow: {allow}");
        }
    }

    async fn health_reports_the_database(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.get("/api/health").send().await;
        assert_eq!(response.status, StatusCode::OK);
        assert_json_content_type(&response);
        assert_eq!(response.json(), json!({"status": "ok", "database": "up", "schema": "current"}));
        // HEAD works too (load balancers use it).
        let head = app.request(Method::HEAD, "/api/health").send().await;
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.body.is_empty());
    }

    async fn cors_allows_the_configured_origin_only(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/api/auth/login", "/api/admin/users/abc/ban", "/api/chat", "/api/health"] {
            let preflight = app
                .request(Method::OPTIONS, path)
                .header("origin", ORIGIN)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type,authorization")
                .send()
                .await;
            assert!(preflight.status.is_success(), "{path}: {}", preflight.status);
            assert_eq!(preflight.header("access-control-allow-origin"), Some(ORIGIN), "{path}");
            let methods = preflight.header("access-control-allow-methods").unwrap_or_default().to_ascii_uppercase();
            for method in ["GET", "POST", "PATCH", "DELETE"] {
                assert!(methods.contains(method), "{path}: {methods}");
            }
            let headers = preflight.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
            assert!(headers.contains("content-type") && headers.contains("authorization"), "{path}: {headers}");
            assert_eq!(preflight.header("access-control-allow-credentials"), None);
            assert!(preflight.header("access-control-max-age").is_some());
        }

        // Actual requests: the origin is echoed, and the headers the client needs are exposed.
        let health = app.get("/api/health").header("origin", ORIGIN).send().await;
        assert_eq!(health.header("access-control-allow-origin"), Some(ORIGIN));
        let exposed = health.header("access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
        for header in ["x-request-id", "retry-after", "content-disposition"] {
            assert!(exposed.contains(header), "{exposed}");
        }
        let vary: Vec<_> = health.headers.get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
        assert!(vary.iter().any(|vary| vary.to_ascii_lowercase().contains("origin")), "{vary:?}");

        // Another origin gets no CORS grant, for a preflight or a request.
        let evil = "https://evil.example.net";
        let preflight = app
            .request(Method::OPTIONS, "/api/auth/login")
            .header("origin", evil)
            .header("access-control-request-method", "POST")
            .send()
            .await;
        assert_eq!(preflight.header("access-control-allow-origin"), None);
        let request = app.get("/api/health").header("origin", evil).send().await;
        assert_eq!(request.status, StatusCode::OK);
        assert_eq!(request.header("access-control-allow-origin"), None);
        // A look-alike (prefix, other scheme, other port) is another origin.
        for origin in ["https://app.example.com.evil.net", "http://app.example.com", "https://app.example.com:8443"] {
            let response = app.get("/api/health").header("origin", origin).send().await;
            assert_eq!(response.header("access-control-allow-origin"), None, "{origin}");
        }

        // Error responses carry the grant too, or the browser hides them from the app.
        let token = app.register("someone@example.com").await;
        let errors = [
            app.get("/api/auth/session").header("origin", ORIGIN).send().await,
            app.get("/api/nope").header("origin", ORIGIN).send().await,
            app.request(Method::PUT, "/api/auth/login").header("origin", ORIGIN).send().await,
            app.post("/api/auth/login").header("origin", ORIGIN).raw_json(vec![b' '; 70 * 1024]).send().await,
            app.post("/api/auth/login").header("origin", ORIGIN).raw_json("{").send().await,
            app.get("/api/admin/users").token(&token).header("origin", ORIGIN).send().await,
        ];
        let statuses: Vec<u16> = errors.iter().map(|response| response.status.as_u16()).collect();
        assert_eq!(statuses, [401, 404, 405, 413, 400, 403]);
        for response in &errors {
            assert_eq!(response.header("access-control-allow-origin"), Some(ORIGIN), "{}", response.status);
        }
    }

    async fn cors_wildcard_allows_any_origin_without_credentials(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("ALLOWED_ORIGINS".into(), "*".into());
        })
        .await;
        for origin in ["https://anything.example", "http://localhost:3000"] {
            let preflight = app
                .request(Method::OPTIONS, "/api/auth/login")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
                .send()
                .await;
            assert!(preflight.status.is_success());
            assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
            assert_eq!(preflight.header("access-control-allow-credentials"), None);
            let response = app.get("/api/nope").header("origin", origin).send().await;
            assert_eq!(response.status, StatusCode::NOT_FOUND);
            assert_eq!(response.header("access-control-allow-origin"), Some("*"));
            assert_eq!(response.header("access-control-allow-credentials"), None);
        }
    }

    async fn cors_origins_are_matched_without_a_trailing_slash_and_empty_means_none(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("ALLOWED_ORIGINS".into(), "https://a.example/, https://b.example".into());
        })
        .await;
        for origin in ["https://a.example", "https://b.example"] {
            let response = app.get("/api/health").header("origin", origin).send().await;
            assert_eq!(response.header("access-control-allow-origin"), Some(origin));
        }
        let same_origin_only = TestApp::with_env(backend, |env| {
            env.remove("ALLOWED_ORIGINS");
        })
        .await;
        let response = same_origin_only.get("/api/health").header("origin", ORIGIN).send().await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("access-control-allow-origin"), None);
    }

    async fn every_response_has_a_request_id(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let responses = [
            app.get("/api/health").send().await,
            app.get("/api/nope").send().await,
            app.get("/api/auth/session").send().await,
            app.request(Method::DELETE, "/api/health").send().await,
            app.post("/api/auth/login").raw_json(vec![b' '; 70 * 1024]).send().await,
            app.post("/api/auth/login").raw_json("{").send().await,
            app.request(Method::OPTIONS, "/api/health")
                .header("origin", ORIGIN)
                .header("access-control-request-method", "GET")
                .send()
                .await,
        ];
        let mut ids = Vec::new();
        for response in &responses {
            let id = response.header("x-request-id").unwrap_or_else(|| panic!("{}: no x-request-id", response.status));
            assert!(uuid::Uuid::parse_str(id).is_ok(), "a fresh UUID: {id}");
            ids.push(id.to_string());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), responses.len(), "each request gets its own id");

        // Behind Function Compute, FC's request id is used, so our logs match FC's.
        let fc = app.get("/api/health").header("x-fc-request-id", "1-6789abcd-0123456789abcdef").send().await;
        assert_eq!(fc.header("x-request-id"), Some("1-6789abcd-0123456789abcdef"));
        let fc_error = app.get("/api/nope").header("x-fc-request-id", "fc-error-id").send().await;
        assert_eq!(fc_error.header("x-request-id"), Some("fc-error-id"));
        // …even when the client sends an id of its own.
        let spoofed = app
            .get("/api/health")
            .header("x-fc-request-id", "fc-real-id")
            .header("x-request-id", "client-chosen")
            .send()
            .await;
        assert_eq!(spoofed.header("x-request-id"), Some("fc-real-id"));
        // Without FC, a client's id is kept (it correlates the client's logs with ours).
        let client = app.get("/api/health").header("x-request-id", "client-chosen").send().await;
        assert_eq!(client.header("x-request-id"), Some("client-chosen"));
    }

    async fn bodies_over_64_kib_are_refused_on_every_post_route(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token().await;
        let user = app.register("target@example.com").await;
        let target = app.get("/api/auth/session").token(&user).send().await.json()["user"]["id"].as_str().unwrap().to_string();
        let too_big = vec![b' '; http::BODY_LIMIT + 1];

        for path in post_routes(&target) {
            // The local directory's upload target takes a picture: its own, larger limit.
            let too_big = match path == app_core::storage::local::UPLOAD_PATH {
                true => vec![b' '; app_core::attachments::local::UPLOAD_BODY_LIMIT as usize + 1],
                false => too_big.clone(),
            };
            for token in [None, Some(&admin)] {
                let mut request = app.post(&path).raw_json(too_big.clone());
                if let Some(token) = token {
                    request = request.token(token);
                }
                let response = request.send().await;
                assert_eq!(
                    response.assert_error(StatusCode::PAYLOAD_TOO_LARGE),
                    "payload_too_large",
                    "POST {path} (token: {})",
                    token.is_some()
                );
            }
        }
        // Nothing was done with the refused requests: the user is not banned, still logged in.
        assert_eq!(app.get("/api/auth/session").token(&user).send().await.status, StatusCode::OK);
        assert_eq!(app.get("/api/auth/session").token(&admin).send().await.status, StatusCode::OK);

        // Exactly the limit is accepted (and then judged on its content).
        let mut at_limit = json!({"email": "nobody@example.com", "password": PASSWORD}).to_string().into_bytes();
        at_limit.resize(http::BODY_LIMIT, b' ');
        let response = app.post("/api/auth/login").raw_json(at_limit).send().await;
        assert_eq!(response.assert_error(StatusCode::UNAUTHORIZED), "invalid_credentials");

        // A body of unknown length (chunked) is cut off at the limit while it is read.
        let chunks: Vec<Result<Bytes, std::io::Error>> = (0..80).map(|_| Ok(Bytes::from(vec![b' '; 1024]))).collect();
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/auth/register")
            .header("content-type", "application/json")
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .unwrap();
        let response = send(&app.router, request).await;
        assert_eq!(response.assert_error(StatusCode::PAYLOAD_TOO_LARGE), "payload_too_large");

        // A declared length over the limit is refused before the body is read.
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/auth/login")
            .header("content-type", "application/json")
            .header("content-length", (http::BODY_LIMIT + 1).to_string())
            .body(Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>()))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(5), send(&app.router, request))
            .await
            .expect("answered without waiting for the body");
        assert_eq!(response.assert_error(StatusCode::PAYLOAD_TOO_LARGE), "payload_too_large");
    }

    async fn json_routes_refuse_malformed_json_and_other_content_types(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.register("someone@example.com").await;
        for path in ["/api/auth/register", "/api/auth/login", "/api/chat"] {
            for body in ["{", "{\"email\": \"a@example.com\",}", "not json", "{\"email\": \"unterminated"] {
                let response = app.post(path).token(&token).raw_json(body).send().await;
                assert_eq!(response.assert_error(StatusCode::BAD_REQUEST), "malformed_json", "{path}: {body}");
            }
            let empty = app.post(path).token(&token).raw_json("").send().await;
            assert_eq!(empty.assert_error(StatusCode::BAD_REQUEST), "malformed_json", "{path}: empty body");

            let no_type = app.post(path).token(&token).send().await;
            assert_eq!(no_type.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE), "unsupported_media_type", "{path}");
            for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                let response = app
                    .post(path)
                    .token(&token)
                    .header("content-type", content_type)
                    .send()
                    .await;
                assert_eq!(
                    response.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE),
                    "unsupported_media_type",
                    "{path}: {content_type}"
                );
            }
            // A JSON media type with parameters is fine.
            let request = Request::builder()
                .method(Method::POST)
                .uri(path)
                .header("content-type", "application/json; charset=utf-8")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from("{"))
                .unwrap();
            let response = send(&app.router, request).await;
            assert_eq!(response.assert_error(StatusCode::BAD_REQUEST), "malformed_json", "{path} with charset");
        }
    }
}

/// With the database unreachable the process still serves: health says so (200, for FC's health
/// check) and requests that need the database answer 503, never 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_503_not_500() {
    let mut env: HashMap<String, String> = test_support::test_env("mysql://root@127.0.0.1:1/unreachable");
    env.insert("DB_CONNECT_TIMEOUT".into(), "1s".into());
    let state = AppState::new(test_support::config_from(&env)).await.expect("a lazy pool starts without the database");
    let router = http::app(state, app_core::all_routes().router());

    let health = send(&router, Request::get("/api/health").body(Body::empty()).unwrap()).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json(), json!({"status": "ok", "database": "down", "schema": "unknown"}));
    assert!(health.header("x-request-id").is_some());

    let credentials = json!({"email": "someone@example.com", "password": PASSWORD}).to_string();
    for path in ["/api/auth/login", "/api/auth/register"] {
        let response = send(&router, json_request(Method::POST, path, credentials.clone())).await;
        assert_eq!(response.assert_error(StatusCode::SERVICE_UNAVAILABLE), "database_unavailable", "{path}");
        assert!(!response.text().contains("127.0.0.1"), "no connection details leak: {}", response.text());
    }

    // A well-signed token still needs its session row: 503 as well.
    let keys = app_core::auth::token::TokenKeys::new(test_support::TEST_SECRET.as_bytes());
    let now = chrono::Utc::now().timestamp();
    let token = keys
        .sign(&app_core::auth::token::Claims {
            sub: "someone".into(),
            sid: "session".into(),
            role: app_core::entities::Role::Admin,
            iat: now,
            exp: now + 3600,
        })
        .unwrap();
    let request = Request::get("/api/admin/users")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = send(&router, request).await;
    assert_eq!(response.assert_error(StatusCode::SERVICE_UNAVAILABLE), "database_unavailable");

    // What needs no database still works.
    let missing = send(&router, Request::get("/api/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let no_token = send(&router, Request::get("/api/auth/session").body(Body::empty()).unwrap()).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
}

both_databases! {
    /// No API answer may be cached (they carry accounts, tokens and conversations) or sniffed
    /// into another type: `Cache-Control: no-store` and `X-Content-Type-Options: nosniff` on
    /// authenticated JSON, on errors, on the health check.
    async fn api_answers_are_never_cached_or_sniffed(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.register("private@example.com").await;
        let session = app.get("/api/auth/session").token(&token).send().await;
        let missing = app.get("/api/nowhere").send().await;
        let health = app.get("/api/health").send().await;
        let refused = app.get("/api/admin/users").token(&token).send().await;
        for (what, response) in [("session", &session), ("404", &missing), ("health", &health), ("403", &refused)] {
            assert_eq!(response.header("cache-control"), Some("no-store"), "{what}");
            assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{what}");
        }
        assert_eq!(session.status, StatusCode::OK);
        assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "admin_only");
    }
}
