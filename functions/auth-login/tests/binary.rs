//! The real `auth-login` binary, run the way Function Compute runs it: its port from the
//! environment, on all interfaces, FC's log markers on stdout, `/invoke` events, lifecycle
//! hooks, SIGTERM, and clear failures for bad configuration.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use test_support::{Backend, TEST_SECRET, TestDb};

const BINARY: &str = env!("CARGO_BIN_EXE_auth-login");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The running binary, its collected stdout, and a kill on drop.
struct Function {
    child: Child,
    port: u16,
    stdout: Arc<Mutex<String>>,
}

impl Function {
    fn start(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut child = Command::new(BINARY)
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", TEST_SECRET)
            .env("BCRYPT_COST", "4")
            .env("FC_CUSTOM_LISTEN_PORT", port.to_string())
            .env("DB_CONNECT_TIMEOUT", "1s")
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start auth-login");
        let stdout = Arc::new(Mutex::new(String::new()));
        let sink = stdout.clone();
        let pipe = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let function = Self { child, port, stdout };
        function.wait_until_listening();
        function
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "auth-login did not listen on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One HTTP/1.1 request on a fresh connection: (status, body).
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
        (status, body)
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn wait_for_stdout(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.stdout().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    let function = Function::start(&db.url, &[]);

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
    let mut function = Function::start(&db.url, &[]);
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
    let function = Function::start(&db.url, &[("LOG_FORMAT", "json"), ("RUST_LOG", "info,tower_http=debug")]);
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
    let function = Function::start("mysql://root@127.0.0.1:1/nowhere", &[]);
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
