//! Regression tests for what the API fuzzing (`scripts/fuzz-api.sh`, schemathesis) found.

use axum::{body::Body, http::Request};
use futures::future::join_all;
use test_support::{Backend, PASSWORD, TestApp, json};
use tower::ServiceExt;

/// Concurrent write transactions on SQLite used to fail with "database is locked" (a 500): two
/// transactions that read and then write cannot both upgrade their lock, and waiting does not
/// help. The SQLite pool now has one connection, so they queue instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_on_sqlite_never_fail() {
    let app = TestApp::with_env(Backend::Sqlite, |env| {
        env.insert("RATE_LIMIT_REGISTER_IP".into(), "off".into());
    })
    .await;
    let admin = app.admin_token().await;
    let target = app.register("target@example.com").await;
    let target_id =
        app.get("/api/auth/session").token(&target).send().await.json()["user"]["id"].as_str().unwrap().to_string();

    let mut requests = Vec::new();
    for n in 0..12 {
        let registration = Request::post("/api/auth/register")
            .header("content-type", "application/json")
            .body(Body::from(json!({"email": format!("user{n}@example.com"), "password": PASSWORD}).to_string()))
            .unwrap();
        requests.push(registration);
        let action = if n % 2 == 0 { "ban" } else { "unban" };
        let moderation = Request::post(format!("/api/admin/users/{target_id}/{action}"))
            .header("authorization", format!("Bearer {admin}"))
            .body(Body::empty())
            .unwrap();
        requests.push(moderation);
    }
    let statuses = join_all(requests.into_iter().map(|request| {
        let router = app.router.clone();
        async move { router.oneshot(request).await.unwrap().status() }
    }))
    .await;
    assert!(statuses.iter().all(|status| status.is_success()), "{statuses:?}");
}
