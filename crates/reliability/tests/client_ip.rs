//! Finding 13: the client IP was the first `X-Forwarded-For` hop, which any client can write.
//! Now it is the hop our own proxies added (`TRUST_PROXY_HOPS` from the right, default 1: FC's
//! gateway), the same way for HTTP requests and `/invoke` events, and IPv6 clients count by
//! their /64: a client that forges a new first hop on every attempt stays under one limit.

use app_core::entities::{AuditLog, audit_log};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use test_support::{
    Backend, TestDb,
    burst::{Reply, call, call_json},
    process::FunctionProcess,
};

const LIMIT: &[(&str, &str)] = &[("RATE_LIMIT_LOGIN_IP", "3/5m"), ("RATE_LIMIT_LOGIN_ACCOUNT", "off")];

fn wrong(i: usize) -> Value {
    json!({"email": "someone@example.com", "password": format!("guess {i}")})
}

/// `wrong(i)` as an FC HTTP-trigger event, with a forged header inside the event.
fn event(i: usize, forged: &str) -> String {
    json!({
        "version": "v1", "rawPath": "/api/auth/login", "body": wrong(i).to_string(), "isBase64Encoded": false,
        "headers": {"content-type": "application/json", "x-forwarded-for": forged},
        "requestContext": {"http": {"method": "POST", "sourceIp": forged}}
    })
    .to_string()
}

/// The routed status inside an `/invoke` answer.
fn routed_status(reply: &Reply) -> u64 {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["statusCode"].as_u64().expect("statusCode")
}

async fn failed_login_ips(database_url: &str) -> Vec<Option<String>> {
    let db = Database::connect(database_url).await.unwrap();
    let rows = AuditLog::find().filter(audit_log::Column::Action.eq("login_failed")).all(&db).await.unwrap();
    rows.into_iter().map(|row| row.ip).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_first_hops_share_the_real_clients_limit() {
    let database = TestDb::migrated(Backend::Sqlite).await;
    let function = FunctionProcess::start_function("auth-login", &database.url, LIMIT);

    // Over HTTP: a new forged first hop each time, the same hop from FC's gateway.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let forwarded = format!("6.6.6.{i}, 203.0.113.9");
        let reply =
            call_json(function.port, "POST", "/api/auth/login", &[("x-forwarded-for", &forwarded)], &wrong(i)).await;
        statuses.push(reply.status);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429]);

    // Through /invoke: the event's own header and sourceIp are the caller's to write; the
    // invocation's header is FC's, and its last hop counts.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let forged = format!("7.7.7.{i}");
        let outer = format!("{forged}, 198.51.100.20");
        let headers = [("content-type", "application/octet-stream"), ("x-forwarded-for", outer.as_str())];
        let reply = call(function.port, "POST", "/invoke", &headers, event(i, &forged).as_bytes()).await;
        statuses.push(routed_status(&reply));
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429]);

    // IPv6 clients count by their /64, whatever the host part.
    let mut statuses = Vec::new();
    for i in 0..5 {
        let forwarded = format!("2001:db8:aa:bb:{i}::1");
        let reply =
            call_json(function.port, "POST", "/api/auth/login", &[("x-forwarded-for", &forwarded)], &wrong(i)).await;
        statuses.push(reply.status);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);

    let mut ips = failed_login_ips(&database.url).await;
    ips.sort();
    let ips: Vec<&str> = ips.iter().map(|ip| ip.as_deref().unwrap_or("-")).collect();
    assert_eq!(ips.iter().filter(|ip| **ip == "203.0.113.9").count(), 3, "{ips:?}");
    assert_eq!(ips.iter().filter(|ip| **ip == "198.51.100.20").count(), 3, "{ips:?}");
    assert!(ips.iter().all(|ip| !ip.starts_with("6.6.6.") && !ip.starts_with("7.7.7.")), "{ips:?}");
}

/// Behind one more proxy (a CDN in front of FC), two hops are trusted: the CDN's entry names
/// the client. With none trusted, the header is ignored for the TCP peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_number_of_trusted_hops_is_configurable() {
    for (hops, expected) in [("2", "203.0.113.77"), ("0", "127.0.0.1")] {
        let database = TestDb::migrated(Backend::Sqlite).await;
        let mut env = LIMIT.to_vec();
        env.push(("TRUST_PROXY_HOPS", hops));
        let function = FunctionProcess::start_function("auth-login", &database.url, &env);
        let forwarded = "6.6.6.6, 203.0.113.77, 10.9.9.9";
        let reply =
            call_json(function.port, "POST", "/api/auth/login", &[("x-forwarded-for", forwarded)], &wrong(0)).await;
        assert_eq!(reply.status, 401, "{}", reply.text());
        assert_eq!(failed_login_ips(&database.url).await, [Some(expected.to_string())], "TRUST_PROXY_HOPS={hops}");
    }
}
