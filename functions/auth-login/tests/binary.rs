//! The real `auth-login` binary, run the way Function Compute runs it: its port from the
//! environment, on all interfaces, FC's log markers on stdout, `/invoke` events, lifecycle
//! hooks, SIGTERM, and clear failures for bad configuration.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use test_support::{Backend, TEST_SECRET, TestDb, process::FunctionProcess};

const BINARY: &str = env!("CARGO_BIN_EXE_auth-login");

fn login_event(email: &str, password: &str) -> Vec<u8> {
    json!({
        "version": "v1", "rawPath": "/api/auth/login",
        "headers": {"content-type": "application/json"}, "queryParameters": {},
        "body": json!({"email": email, "password": password}).to_string(), "isBase64Encoded": false,
        "requestContext": {"http": {"method": "POST", "path": "/api/auth/login", "sourceIp": "203.0.113.5"}, "requestId": "evt-1"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn serves_fc_requests_events_and_hooks_with_log_markers() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let function = FunctionProcess::start(BINARY, &db.url, &[]);

    // Listening on every interface (FC refuses loopback-only servers): /proc/net/tcp lists the
    // listening socket (state 0A) with local address 00000000 (0.0.0.0).
    let port_hex = format!(":{:04X}", function.port);
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let listening = table.lines().find(|line| line.contains(&port_hex) && line.split_whitespace().nth(3) == Some("0A"));
    assert!(
        listening.is_some_and(|line| line.split_whitespace().nth(1).unwrap().starts_with("00000000:")),
        "not listening on 0.0.0.0:{}",
        function.port
    );

    // A request with FC's id gets the start/end markers around it.
    let (status, body) = function.request("GET", "/api/health", &[("x-fc-request-id", "req-abc-123")], b"");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["database"], "up");
    assert!(function.wait_for_stdout("FC Invoke End RequestId: req-abc-123"), "{}", function.stdout());
    let out = function.stdout();
    let start = out.find("FC Invoke Start RequestId: req-abc-123").expect("start marker");
    assert!(start < out.find("FC Invoke End RequestId: req-abc-123").unwrap());

    // An event invocation runs through the same router.
    let (status, body) = function.request(
        "POST",
        "/invoke",
        &[("content-type", "application/octet-stream"), ("x-fc-request-id", "req-evt")],
        &login_event("nobody@example.com", "wrong password"),
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["statusCode"], 401);
    assert_eq!(
        serde_json::from_str::<Value>(answer["body"].as_str().unwrap()).unwrap()["error"]["code"],
        "invalid_credentials"
    );
    assert!(function.wait_for_stdout("FC Invoke End RequestId: req-evt"));

    // Lifecycle hooks.
    let (status, _) = function.request("POST", "/initialize", &[("x-fc-request-id", "init-1")], b"");
    assert_eq!(status, 200);
    assert!(function.wait_for_stdout("FC Initialize End RequestId: init-1"), "{}", function.stdout());
    assert_eq!(function.request("GET", "/pre-stop", &[], b"").0, 200);
}

#[tokio::test]
async fn sigterm_stops_the_process_cleanly() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let mut function = FunctionProcess::start(BINARY, &db.url, &[]);
    let status = Command::new("kill").args(["-TERM", &function.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = function.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let function =
        FunctionProcess::start(BINARY, &db.url, &[("LOG_FORMAT", "json"), ("RUST_LOG", "info,tower_http=debug")]);
    let (status, _) = function.request("GET", "/api/auth/session", &[("x-fc-request-id", "json-req-9")], b"");
    assert_eq!(status, 401);
    assert!(function.wait_for_stdout("FC Invoke End RequestId: json-req-9"));
    let lines: Vec<Value> = function
        .stdout()
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
        .collect();
    let tagged = lines.iter().filter(|line| line["span"]["request_id"] == "json-req-9").count();
    assert!(tagged >= 1, "no JSON log line carries the request id: {lines:?}");
}

#[tokio::test]
async fn an_unreachable_database_still_starts_and_answers_503() {
    let function = FunctionProcess::start(BINARY, "mysql://root@127.0.0.1:1/nowhere", &[]);
    let (status, body) = function.request("GET", "/api/health", &[], b"");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["database"], "down");
    let credentials = json!({"email": "a@example.com", "password": "whatever pw"}).to_string();
    let (status, body) =
        function.request("POST", "/api/auth/login", &[("content-type", "application/json")], credentials.as_bytes());
    assert_eq!(status, 503, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "database_unavailable");
}

#[test]
fn bad_configuration_fails_fast_naming_the_variable() {
    for (env, variable) in [
        (vec![("JWT_SECRET", TEST_SECRET)], "DATABASE_URL"),
        (vec![("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", "too short")], "JWT_SECRET"),
        (vec![("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", TEST_SECRET), ("BCRYPT_COST", "99")], "BCRYPT_COST"),
    ] {
        let started = Instant::now();
        let output = Command::new(BINARY).env_clear().envs(env).output().unwrap();
        assert!(!output.status.success());
        assert!(started.elapsed() < Duration::from_secs(5));
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(printed.contains(variable), "{variable} not named in: {printed}");
    }
}
