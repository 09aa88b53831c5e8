//! Bursts of concurrent requests against real processes, over real sockets: one HTTP/1.1
//! request per connection (as many clients would send them), all released at the same moment,
//! and a tally of what came back.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Barrier,
};

/// The longest a test waits for one answer: far above every deadline under test, so a hang
/// shows as a failure instead of a stuck suite.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer as the client saw it, and how long it took.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    /// `error.code` of our error JSON (panics on anything else: every error must be JSON).
    pub fn error_code(&self) -> String {
        let body = self.json();
        body["error"]["code"].as_str().unwrap_or_else(|| panic!("no error.code in {body}")).to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// One request on a fresh connection to `127.0.0.1:port`; a connection that fails or an answer
/// that takes longer than [`ANSWER_TIMEOUT`] is status 0 (with the reason as body).
pub async fn call(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let started = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(request_head(method, path, headers, body.len()).as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(err)) => return failed(format!("connection failed: {err}"), started),
        Err(_) => return failed(format!("no answer within {ANSWER_TIMEOUT:?}"), started),
    };
    parse(&raw).map_or_else(
        || failed("not an HTTP response".into(), started),
        |mut reply| {
            reply.elapsed = started.elapsed();
            reply
        },
    )
}

/// The head of a one-request HTTP/1.1 exchange (`Connection: close`) with a body of `length`.
pub fn request_head(method: &str, path: &str, headers: &[(&str, &str)], length: usize) -> String {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// A request whose answer is read as it arrives: a streamed reply, to act on midway.
pub struct Streaming {
    stream: TcpStream,
    /// Everything received so far (head and body, as text).
    pub received: String,
}

impl Streaming {
    /// Sends a JSON POST and leaves the answer unread.
    pub async fn open(port: u16, path: &str, headers: &[(&str, &str)], body: &Value) -> Self {
        let body = body.to_string();
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        stream.write_all(request_head("POST", path, &all, body.len()).as_bytes()).await.expect("send the head");
        stream.write_all(body.as_bytes()).await.expect("send the body");
        Self { stream, received: String::new() }
    }

    /// Reads until `needle` has arrived (true), or the answer ends or [`ANSWER_TIMEOUT`] passes.
    pub async fn read_until(&mut self, needle: &str) -> bool {
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        let mut buffer = vec![0; 8192];
        while !self.received.contains(needle) {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buffer)).await {
                Ok(Ok(read)) if read > 0 => self.received.push_str(&String::from_utf8_lossy(&buffer[..read])),
                _ => return false,
            }
        }
        true
    }

    /// Reads the rest of the answer (until the server closes the connection).
    pub async fn read_to_end(&mut self) {
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(ANSWER_TIMEOUT, self.stream.read_to_end(&mut rest)).await;
        self.received.push_str(&String::from_utf8_lossy(&rest));
    }
}

/// `call` with a JSON body.
pub async fn call_json(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    call(port, method, path, &all, body.to_string().as_bytes()).await
}

fn failed(reason: String, started: Instant) -> Reply {
    Reply { status: 0, headers: Vec::new(), body: reason.into_bytes(), elapsed: started.elapsed() }
}

fn parse(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(name, value)| name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    Some(Reply { status, headers, body, elapsed: Duration::ZERO })
}

/// The payload of a chunked body (as far as it arrived).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = raw.windows(2).position(|window| window == b"\r\n") {
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|line| usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|size| *size > 0) else { break };
        let start = end + 2;
        let stop = (start + size).min(raw.len());
        body.extend_from_slice(&raw[start..stop]);
        raw = raw.get(stop + 2..).unwrap_or_default();
    }
    body
}

/// Runs `n` requests made by `make(i)` at once: each waits at a barrier until all are ready,
/// so they reach the server together. Answers in the order of `i`.
pub async fn burst<F, Fut, T>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let request = make(i);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                request.await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for task in tasks {
        answers.push(task.await.expect("a burst request panicked"));
    }
    answers
}

/// How many replies had each status (0: no answer).
pub fn tally(replies: &[Reply]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for reply in replies {
        *counts.entry(reply.status).or_default() += 1;
    }
    counts
}

/// A binary of the workspace, built by `cargo nextest run --workspace` (what `make test` runs)
/// into the same target directory as the running test.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let binary = profile_dir.join(name);
    assert!(
        binary.exists(),
        "{} is not built: run the suite with `cargo nextest run --workspace` (make test), which builds every binary",
        binary.display()
    );
    binary
}
