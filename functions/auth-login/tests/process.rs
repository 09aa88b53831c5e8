//! The real `auth-login` binary as Function Compute runs it: a process with its port from the
//! environment, listening on 0.0.0.0, FC's log markers and JSON logs on stdout, `/invoke`
//! events, lifecycle hooks, SIGTERM, a lazy database pool, and fast failures for bad
//! configuration. HTTP is spoken over plain sockets (a small HTTP/1.1 client below).

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use test_support::{Backend, TEST_SECRET, TestDb};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

const BINARY: &str = env!("CARGO_BIN_EXE_auth-login");

// ---------------------------------------------------------------------------------------------
// The process
// ---------------------------------------------------------------------------------------------

use test_support::ports::free_port;

/// Collects a child's pipe line by line on a thread of its own.
fn collect(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let sink = Arc::new(Mutex::new(String::new()));
    let writer = sink.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut all = writer.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    sink
}

/// The running binary: its collected stdout and stderr, killed on drop (so a failing test
/// leaves no process behind).
struct Function {
    child: Child,
    port: u16,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Function {
    /// Starts the binary with exactly `env` (nothing inherited).
    fn spawn(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BINARY)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start auth-login");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self { child, port: 0, stdout, stderr }
    }

    /// Starts the binary on a free `FC_CUSTOM_LISTEN_PORT` with a valid configuration for
    /// `database_url` plus `extra`, and waits until it accepts connections.
    async fn start(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let port_text = port.to_string();
        let mut env = vec![
            ("DATABASE_URL", database_url),
            ("JWT_SECRET", TEST_SECRET),
            ("BCRYPT_COST", "4"),
            ("DB_CONNECT_TIMEOUT", "1s"),
            ("FC_CUSTOM_LISTEN_PORT", port_text.as_str()),
        ];
        env.extend_from_slice(extra);
        let mut function = Self::spawn(&env);
        function.port = port;
        function.wait_listening(port).await;
        function
    }

    /// Polls `127.0.0.1:port` for up to 15 s; fails early (with the output) if the process exits.
    async fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("auth-login exited ({status}) before listening on {port}:\n{}", self.output());
            }
            assert!(Instant::now() < deadline, "auth-login did not listen on {port} within 15 s:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn output(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr.lock().unwrap())
    }

    /// Waits up to 5 s for a stdout line equal to `line`; its index among stdout's lines.
    async fn wait_for_line(&self, line: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(at) = self.stdout().lines().position(|l| l == line) {
                return at;
            }
            assert!(Instant::now() < deadline, "no line {line:?} on stdout:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        let mut connection = Connection::open(self.address()).await;
        connection.send(method, path, headers, body).await
    }

    /// `POST /invoke` with `event`, the way FC delivers an event invocation.
    async fn invoke(&self, event: &Value, request_id: &str) -> HttpResponse {
        let headers = [("content-type", "application/octet-stream"), ("x-fc-request-id", request_id)];
        self.request("POST", "/invoke", &headers, event.to_string().as_bytes()).await
    }

    fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit.
    async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client (keep-alive, Content-Length and chunked bodies)
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    /// The routed response inside an `/invoke` answer: (statusCode, the parsed JSON body).
    fn routed(&self) -> (u64, Value) {
        assert_eq!(self.status, 200, "the invocation failed: {}", self.text());
        let answer = self.json();
        let mut keys: Vec<&str> = answer.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["body", "headers", "isBase64Encoded", "statusCode"], "FC's response shape: {answer}");
        assert_eq!(answer["isBase64Encoded"], false, "JSON comes back as text: {answer}");
        let body = serde_json::from_str(answer["body"].as_str().unwrap()).expect("a JSON body");
        (answer["statusCode"].as_u64().unwrap(), body)
    }
}

/// One client connection, usable for several requests in a row.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    async fn open(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.unwrap_or_else(|err| panic!("connect {address}: {err}"));
        Self { reader: BufReader::new(stream) }
    }

    async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        tokio::time::timeout(Duration::from_secs(20), self.exchange(method, path, headers, body))
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no response within 20 s"))
    }

    async fn exchange(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n", body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();

        let status_line = self.line().await;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line().await;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("a header line");
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if method == "HEAD" || status == 204 || status == 304 {
        } else if find("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
            loop {
                let size_line = self.line().await;
                let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16).expect("chunk size");
                if size == 0 {
                    while !self.line().await.is_empty() {}
                    break;
                }
                let mut chunk = vec![0; size];
                self.reader.read_exact(&mut chunk).await.unwrap();
                body.extend_from_slice(&chunk);
                assert!(self.line().await.is_empty(), "CRLF after a chunk");
            }
        } else if let Some(length) = find("content-length") {
            body.resize(length.parse().expect("a content-length"), 0);
            self.reader.read_exact(&mut body).await.unwrap();
        } else {
            self.reader.read_to_end(&mut body).await.unwrap();
        }
        HttpResponse { status, headers, body }
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let read = self.reader.read_line(&mut line).await.expect("read a line");
        assert!(read > 0, "the server closed the connection");
        line.trim_end_matches(['\r', '\n']).to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

fn http_event(method: &str, path: &str, body: Option<&Value>) -> Value {
    json!({
        "version": "v1",
        "rawPath": path,
        "headers": {"content-type": "application/json", "user-agent": "fc-test"},
        "queryParameters": {},
        "body": body.map(Value::to_string),
        "isBase64Encoded": false,
        "requestContext": {
            "accountId": "123456", "domainName": "x.cn-hangzhou.fcapp.run", "domainPrefix": "x",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.5", "userAgent": "fc-test"},
            "requestId": "evt-inner", "time": "2023-09-05T06:41:11Z", "timeEpoch": "1693896071895"
        }
    })
}

fn wrong_credentials() -> Value {
    json!({"email": "nobody@example.com", "password": "not the password"})
}

/// The JSON log lines on stdout (every line but FC's markers must be one).
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with("FC "))
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
            assert!(value.is_object(), "a log line is a JSON object: {line}");
            value
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// Whether /proc/net/tcp lists a socket listening (state 0A) on 0.0.0.0:`port`.
fn listens_on_all_interfaces(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3 && fields[1] == format!("00000000:{port:04X}") && fields[3] == "0A"
    })
}

/// This machine's address on its default route, if it has one (a UDP "connect" sends nothing).
fn non_loopback_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn listens_on_all_interfaces_not_just_loopback() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let function = Function::start(&db.url, &[]).await;
    // FC refuses a server bound to 127.0.0.1 (FunctionNotStarted): the socket must be 0.0.0.0.
    assert!(listens_on_all_interfaces(function.port), "not listening on 0.0.0.0:{}", function.port);
    assert_eq!(function.request("GET", "/api/health", &[], b"").await.status, 200, "via 127.0.0.1");
    // And, where this machine has a non-loopback address, through it too.
    if let Some(ip) = non_loopback_address() {
        let mut connection = Connection::open(SocketAddr::new(ip, function.port)).await;
        assert_eq!(connection.send("GET", "/api/health", &[], b"").await.status, 200, "via {ip}");
    }
}

#[tokio::test]
async fn fc_custom_listen_port_wins_over_fc_server_port() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let other = free_port();
    let other_text = other.to_string();
    let function = Function::start(&db.url, &[("FC_SERVER_PORT", other_text.as_str())]).await;
    assert_eq!(function.request("GET", "/api/health", &[], b"").await.status, 200);
    assert!(
        TcpStream::connect(("127.0.0.1", other)).await.is_err(),
        "FC_SERVER_PORT {other} must be ignored when FC_CUSTOM_LISTEN_PORT is set"
    );
}

#[tokio::test]
async fn fc_server_port_alone_is_used() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let port = free_port();
    let port_text = port.to_string();
    let mut function = Function::spawn(&[
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", TEST_SECRET),
        ("BCRYPT_COST", "4"),
        ("FC_SERVER_PORT", port_text.as_str()),
    ]);
    function.port = port;
    function.wait_listening(port).await;
    let health = function.request("GET", "/api/health", &[], b"").await;
    assert_eq!((health.status, health.json()["database"].as_str()), (200, Some("up")));
}

#[tokio::test]
async fn requests_are_wrapped_in_fc_invoke_markers() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let function = Function::start(&db.url, &[]).await;
    let response = function.request("GET", "/api/health", &[("x-fc-request-id", "abc-123")], b"").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-request-id"), Some("abc-123"), "FC's id becomes the request id");
    let start = function.wait_for_line("FC Invoke Start RequestId: abc-123").await;
    let end = function.wait_for_line("FC Invoke End RequestId: abc-123").await;
    assert!(start < end, "{}", function.output());

    // An event invocation is marked under the invocation's id, and so is the initialize hook.
    function.invoke(&http_event("GET", "/api/health", None), "evt-1").await.routed();
    assert!(
        function.wait_for_line("FC Invoke Start RequestId: evt-1").await
            < function.wait_for_line("FC Invoke End RequestId: evt-1").await
    );
    let initialize = function.request("POST", "/initialize", &[("x-fc-request-id", "init-1")], b"").await;
    assert_eq!(initialize.status, 200);
    function.wait_for_line("FC Initialize End RequestId: init-1").await;

    // Without FC's header there is nothing to group by, so no marker.
    let before = function.stdout().lines().filter(|line| line.starts_with("FC ")).count();
    assert_eq!(function.request("GET", "/api/health", &[], b"").await.status, 200);
    assert_eq!(function.request("GET", "/api/health", &[("x-fc-request-id", "last")], b"").await.status, 200);
    function.wait_for_line("FC Invoke End RequestId: last").await;
    let after = function.stdout().lines().filter(|line| line.starts_with("FC ")).count();
    assert_eq!(after - before, 2, "only the marked request added markers:\n{}", function.output());
}

#[tokio::test]
async fn json_logs_are_json_and_carry_the_request_id() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    // A failed login logs nothing at `info`; tower_http's debug lines run inside the request span.
    let function = Function::start(&db.url, &[("LOG_FORMAT", "json"), ("RUST_LOG", "info,tower_http=debug")]).await;
    let credentials = wrong_credentials().to_string();
    let response = function
        .request(
            "POST",
            "/api/auth/login",
            &[("content-type", "application/json"), ("x-fc-request-id", "abc-123")],
            credentials.as_bytes(),
        )
        .await;
    assert_eq!(response.status, 401, "{}", response.text());
    function.wait_for_line("FC Invoke End RequestId: abc-123").await;

    // The same through an event: the routed request logs under the invocation's id.
    let event = http_event("POST", "/api/auth/login", Some(&wrong_credentials()));
    assert_eq!(function.invoke(&event, "evt-json").await.routed().0, 401);
    function.wait_for_line("FC Invoke End RequestId: evt-json").await;

    let lines = json_lines(&function.stdout());
    assert!(
        lines.iter().any(|line| line["fields"]["message"] == "listening on 0.0.0.0"),
        "the startup line is JSON too: {lines:#?}"
    );
    for id in ["abc-123", "evt-json"] {
        let tagged: Vec<&Value> = lines.iter().filter(|line| line["span"]["request_id"] == id).collect();
        assert!(
            tagged.iter().any(|line| line["fields"]["message"] == "started processing request"),
            "no start line tagged {id}: {lines:#?}"
        );
        let finished = tagged
            .iter()
            .find(|line| line["fields"]["message"] == "finished processing request")
            .unwrap_or_else(|| panic!("no finish line tagged {id}: {lines:#?}"));
        assert_eq!(finished["fields"]["status"], 401);
        assert_eq!(finished["span"]["path"], "/api/auth/login");
        assert_eq!(finished["span"]["method"], "POST");
    }
}

#[tokio::test]
async fn a_malformed_rust_log_is_reported_and_logging_stays_at_info() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let function = Function::start(&db.url, &[("LOG_FORMAT", "json"), ("RUST_LOG", "info,tower_http=loud")]).await;
    // Once a request's end marker is on stdout, every earlier line is too.
    let response = function.request("GET", "/api/health", &[("x-fc-request-id", "rust-log")], b"").await;
    assert_eq!(response.status, 200, "{}", response.text());
    function.wait_for_line("FC Invoke End RequestId: rust-log").await;
    let lines = json_lines(&function.stdout());
    let warning = lines
        .iter()
        .find(|line| line["fields"]["message"] == "RUST_LOG is not a valid filter; logging at info")
        .unwrap_or_else(|| panic!("no warning about RUST_LOG: {lines:#?}"));
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["fields"]["rust_log"], "info,tower_http=loud");
    assert!(
        lines.iter().any(|line| line["level"] == "INFO" && line["fields"]["message"] == "listening on 0.0.0.0"),
        "info lines still show: {lines:#?}"
    );
}

#[tokio::test]
async fn events_are_routed_through_invoke() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let function = Function::start(&db.url, &[]).await;

    let (status, body) =
        function.invoke(&http_event("POST", "/api/auth/login", Some(&wrong_credentials())), "evt-login").await.routed();
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_credentials");

    let (status, body) = function.invoke(&http_event("GET", "/api/health", None), "evt-health").await.routed();
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok", "database": "up", "schema": "current"}));

    // Another function's route is not served here.
    let (status, _) =
        function.invoke(&http_event("POST", "/api/auth/register", Some(&json!({}))), "evt-404").await.routed();
    assert_eq!(status, 404);

    // A malformed event is a failed invocation, not a crash.
    let bad = function
        .request("POST", "/invoke", &[("content-type", "application/octet-stream")], b"{\"not\":\"an event\"}")
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("x-fc-status"), Some("404"));
    assert_eq!(bad.json()["error"]["code"], "invalid_event");
    assert_eq!(function.request("GET", "/api/health", &[], b"").await.status, 200, "still serving");
}

#[tokio::test]
async fn lifecycle_hooks_answer_200() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let function = Function::start(&db.url, &[]).await;
    let initialize = function.request("POST", "/initialize", &[("x-fc-request-id", "init-db")], b"").await;
    assert_eq!(initialize.status, 200, "initialize pings the database: {}", initialize.text());
    let pre_stop = function.request("GET", "/pre-stop", &[("x-fc-request-id", "stop-1")], b"").await;
    assert_eq!(pre_stop.status, 200);
}

#[tokio::test]
async fn sigterm_exits_0_promptly_even_with_an_idle_keep_alive_connection() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let mut function = Function::start(&db.url, &[]).await;
    // FC keeps its connection open between requests; that must not hold up the exit.
    let mut connection = Connection::open(function.address()).await;
    assert_eq!(connection.send("GET", "/api/health", &[], b"").await.status, 200);
    assert_eq!(connection.send("GET", "/api/health", &[], b"").await.status, 200, "keep-alive works");

    let signalled = Instant::now();
    function.terminate();
    let status = function.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}:\n{}", function.output());
    assert!(signalled.elapsed() < Duration::from_secs(10));
    assert!(function.stdout().contains("shutdown requested"), "{}", function.output());
    assert!(TcpStream::connect(function.address()).await.is_err(), "nothing listens after the exit");
}

/// Runs the binary with exactly `env` and waits (at most 10 s) for it to exit: its status,
/// everything it printed (stdout and stderr), and how long it ran.
fn run_to_exit(env: &[(&str, &str)]) -> (ExitStatus, String, Duration) {
    use std::io::Read;

    let started = Instant::now();
    let mut child = Command::new(BINARY)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start auth-login");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running 10 s later with {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    // The process has exited: its pipes hold everything it wrote, then EOF.
    let mut output = String::new();
    child.stdout.take().unwrap().read_to_string(&mut output).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut output).unwrap();
    (status, output, elapsed)
}

#[test]
fn bad_configuration_exits_non_zero_quickly_naming_the_variable() {
    let port = free_port().to_string();
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        ("DATABASE_URL", vec![("JWT_SECRET", TEST_SECRET)]),
        ("DATABASE_URL", vec![("DATABASE_URL", "postgres://localhost/db"), ("JWT_SECRET", TEST_SECRET)]),
        ("JWT_SECRET", vec![("DATABASE_URL", "sqlite::memory:")]),
        ("JWT_SECRET", vec![("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", "only-20-bytes-long!!")]),
    ];
    for (variable, mut env) in cases {
        env.push(("FC_CUSTOM_LISTEN_PORT", &port));
        let (status, output, elapsed) = run_to_exit(&env);
        assert!(!status.success(), "{variable}: exited {status}");
        assert!(elapsed < Duration::from_secs(5), "{variable}: took {elapsed:?}");
        assert!(output.contains(variable), "{variable} not named in:\n{output}");
        assert!(output.contains("configuration error"), "{variable}:\n{output}");
    }
}

#[tokio::test]
async fn an_unreachable_database_still_starts_and_degrades_cleanly() {
    // Nothing listens on port 1: the pool is lazy, so the process starts anyway.
    let function = Function::start("mysql://root@127.0.0.1:1/nope", &[]).await;

    let health = function.request("GET", "/api/health", &[], b"").await;
    assert_eq!(health.status, 200, "the health check itself never fails");
    assert_eq!(health.json(), json!({"status": "ok", "database": "down", "schema": "unknown"}));

    let credentials = wrong_credentials().to_string();
    let login = function
        .request("POST", "/api/auth/login", &[("content-type", "application/json")], credentials.as_bytes())
        .await;
    assert_eq!(login.status, 503, "{}", login.text());
    assert_eq!(login.json()["error"]["code"], "database_unavailable");

    // The same through an event. The initialize hook succeeds (a failed one makes FC count the
    // instance start as failed, and clients would get FC's error instead of our 503) and logs.
    let (status, body) =
        function.invoke(&http_event("POST", "/api/auth/login", Some(&wrong_credentials())), "evt-down").await.routed();
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("database_unavailable")));
    let initialize = function.request("POST", "/initialize", &[], b"").await;
    assert_eq!(initialize.status, 200, "initialization never fails on the database: {}", initialize.text());
    assert!(function.output().contains("initialize: the database is not reachable"), "{}", function.output());
}
