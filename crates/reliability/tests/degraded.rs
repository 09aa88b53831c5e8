//! Degraded, never misreported: an instance flooded with password work keeps serving and says
//! `overloaded` (never a false `database_unavailable`); a database without this version's
//! schema says so; `/invoke` events are capped at what the API needs.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use app_core::entities::User;
use migration::{Migrator, MigratorTrait};
use sea_orm::{Database, EntityTrait, PaginatorTrait};
use serde_json::json;
use test_support::{
    Backend, PASSWORD, TestDb,
    burst::{burst, call, call_json, tally},
    process::FunctionProcess,
};

/// Registrations in the overload burst (`OVERLOAD_BURST`, default 200).
fn overload_burst() -> usize {
    std::env::var("OVERLOAD_BURST").ok().and_then(|n| n.parse().ok()).unwrap_or(200)
}

/// bcrypt's cost in the overload tests (`OVERLOAD_BCRYPT_COST`, default 10: production's).
fn cost() -> String {
    std::env::var("OVERLOAD_BCRYPT_COST").unwrap_or_else(|_| "10".into())
}

async fn registrations(function: &FunctionProcess, n: usize) -> Vec<test_support::burst::Reply> {
    let port = function.port;
    let health = tokio::spawn(async move {
        // The serving thread keeps answering while the hashes queue.
        tokio::time::sleep(Duration::from_millis(200)).await;
        call(port, "GET", "/api/health", &[], b"").await
    });
    let replies = burst(n, |i| async move {
        let body = json!({"email": format!("crowd{i}@example.com"), "password": PASSWORD});
        call_json(port, "POST", "/api/auth/register", &[], &body).await
    })
    .await;
    let health = health.await.unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["database"], "up", "the database was fine all along: {}", health.text());
    assert!(health.elapsed < Duration::from_secs(2), "health took {:?} during the burst", health.elapsed);
    replies
}

/// Finding 9: 200 registrations at once used to answer a third of them `503
/// database_unavailable` though the database was fine (bcrypt threads took every core and the
/// serving thread starved). With room in the queue, all of them succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_registrations_queues_and_all_succeed() {
    let database = TestDb::migrated(Backend::MySql).await;
    let n = overload_burst();
    let (queue, cost) = (n.to_string(), cost());
    let env = [
        ("BCRYPT_COST", cost.as_str()),
        ("DB_CONNECT_TIMEOUT", "2s"),
        ("RATE_LIMIT_REGISTER_IP", "off"),
        ("PASSWORD_HASH_QUEUE", queue.as_str()),
    ];
    let function = FunctionProcess::start_function("auth-register", &database.url, &env);
    let replies = registrations(&function, n).await;
    let counts = tally(&replies);
    assert_eq!(
        counts.get(&201),
        Some(&n),
        "{counts:?}: {:?}",
        replies.iter().find(|r| r.status != 201).map(|r| r.text())
    );
    let db = Database::connect(&database.url).await.unwrap();
    assert_eq!(User::find().count(&db).await.unwrap(), n as u64);
}

/// Beyond the queue a registration gets `503 overloaded` with a `Retry-After`, counts nothing
/// and creates nothing; the rest succeed; none is a `database_unavailable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_queue_registrations_are_told_to_retry() {
    let database = TestDb::migrated(Backend::MySql).await;
    let (n, cost) = (overload_burst(), cost());
    let env = [
        ("BCRYPT_COST", cost.as_str()),
        ("DB_CONNECT_TIMEOUT", "2s"),
        ("RATE_LIMIT_REGISTER_IP", "1000/1h"),
        ("PASSWORD_HASH_QUEUE", "8"),
    ];
    let function = FunctionProcess::start_function("auth-register", &database.url, &env);
    let replies = registrations(&function, n).await;
    let counts = tally(&replies);
    let created = counts.get(&201).copied().unwrap_or_default();
    assert!(created >= 8 && counts.contains_key(&503), "{counts:?}");
    assert_eq!(created + counts.get(&503).unwrap(), n, "only 201 and 503: {counts:?}");
    for reply in replies.iter().filter(|reply| reply.status == 503) {
        assert_eq!(reply.error_code(), "overloaded", "{}", reply.text());
        let retry_after: u64 = reply.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
        assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    }
    let db = Database::connect(&database.url).await.unwrap();
    assert_eq!(User::find().count(&db).await.unwrap(), created as u64);
    // Refused registrations were not charged against the network's limit.
    let charged = app_core::entities::RateLimitHit::find().count(&db).await.unwrap();
    assert_eq!(charged, created as u64);
}

/// Finding 10: without the migrations every request was a 500 and health said `up`. Now health
/// shows the schema's state, requests get 503 `database_schema_outdated`, and the log names
/// `make migrate`; with only the first migration, the same as `outdated`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_without_this_versions_schema_says_so() {
    for (applied, state) in [(0, "missing"), (1, "outdated")] {
        let database = TestDb::empty(Backend::MySql).await;
        if applied > 0 {
            let conn = Database::connect(&database.url).await.unwrap();
            Migrator::up(&conn, Some(applied)).await.unwrap();
        }
        let function = FunctionProcess::start_function("auth-login", &database.url, &[]);
        let health = call(function.port, "GET", "/api/health", &[], b"").await;
        assert_eq!(health.status, 200);
        assert_eq!(health.json(), json!({"status": "ok", "database": "up", "schema": state}), "{applied} applied");
        let login = call_json(
            function.port,
            "POST",
            "/api/auth/login",
            &[],
            &json!({"email": "a@b.co", "password": "whatever1"}),
        )
        .await;
        assert_eq!(login.status, 503, "{state}: {}", login.text());
        assert_eq!(login.error_code(), "database_schema_outdated");
        let initialize = call(function.port, "POST", "/initialize", &[], b"").await;
        assert_eq!(initialize.status, 200, "initialization succeeds and logs");
        assert!(function.wait_for_stdout("make migrate"), "{}", function.stdout());
    }
}

/// Finding 6: `/invoke` read events of up to 6 MB, so 30 connections took an instance to
/// 180 MB. Events are now capped at what the API can use (its 64 KiB body in Base64, FC's
/// headers, the event's JSON): a larger one is refused before it is read, a full-size one
/// works. (`make bench` measures the memory of many such connections at once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_events_are_capped_at_what_the_api_needs() {
    let database = TestDb::migrated(Backend::Sqlite).await;
    let function = FunctionProcess::start_function("auth-register", &database.url, &[]);
    let event = |body: String| {
        json!({
            "version": "v1", "rawPath": "/api/auth/register", "body": body, "isBase64Encoded": false,
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST"}}
        })
        .to_string()
    };
    // A 6 MB event is refused on its declared length, before its body is sent.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", function.port)).await.unwrap();
    let head = format!(
        "POST /invoke HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        6 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read =
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.expect("an answer").unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("event_too_large"), "{answer}");
    // One sent whole, a little over the cap, is refused as the invocation's own 413.
    let over = event("y".repeat(app_core::http::MAX_EVENT_BYTES));
    let refused =
        call(function.port, "POST", "/invoke", &[("content-type", "application/octet-stream")], over.as_bytes()).await;
    assert_eq!(refused.status, 413, "{}", refused.text());
    assert_eq!(refused.error_code(), "event_too_large");
    // The largest body the API takes, padded to its limit, still fits in an event.
    let email = "padded@example.com";
    let padding = " ".repeat(app_core::http::BODY_LIMIT - 200);
    let body = format!("{{\"email\":\"{email}\",\"password\":\"{PASSWORD}\"{padding}}}");
    let fits =
        call(function.port, "POST", "/invoke", &[("content-type", "application/octet-stream")], event(body).as_bytes())
            .await;
    assert_eq!(fits.status, 200, "{}", fits.text());
    assert_eq!(fits.json()["statusCode"], 201, "{}", fits.text());
}

/// A login attempt is charged before its password is checked, and counts only once it has
/// failed: one whose client leaves while the password is being checked is taken back, so a
/// flaky connection cannot lock the owner out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_whose_client_leaves_mid_check_counts_nothing() {
    let database = TestDb::migrated(Backend::Sqlite).await;
    // Cost 13: the check takes long enough (about a second here) to leave in the middle of it.
    let env = [("BCRYPT_COST", "13"), ("RATE_LIMIT_LOGIN_IP", "1/5m"), ("RATE_LIMIT_LOGIN_ACCOUNT", "off")];
    let function = FunctionProcess::start_function("auth-login", &database.url, &env);
    let body = json!({"email": "someone@example.com", "password": "a wrong password"}).to_string();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", function.port)).await.unwrap();
    let request = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(stream);
    let db = Database::connect(&database.url).await.unwrap();
    let charged = async || app_core::entities::RateLimitHit::find().count(&db).await.unwrap();
    assert!(test_support::eventually(Duration::from_secs(5), async || charged().await == 0).await);
    // The one allowed attempt is still there: it is checked (401), and the next is refused.
    let first = call_json(
        function.port,
        "POST",
        "/api/auth/login",
        &[],
        &json!({"email": "someone@example.com", "password": "x"}),
    )
    .await;
    assert_eq!(first.status, 401, "{}", first.text());
    let second = call_json(
        function.port,
        "POST",
        "/api/auth/login",
        &[],
        &json!({"email": "someone@example.com", "password": "y"}),
    )
    .await;
    assert_eq!(second.status, 429, "{}", second.text());
}
