//! The product as processes: a migrated database with a user and an admin, and each function
//! binary started the way Function Compute runs it.

use std::{
    io::{Read, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use hyper::{Method, StatusCode};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::json;
use test_support::{Backend, TEST_SECRET, TestDb, Upstream};

use crate::{ColdStart, HttpClient, PASSWORD, send};

/// A migrated SQLite database with a user and an admin, and the environment the binaries get.
pub(crate) struct Fixture {
    pub(crate) env: Vec<(String, String)>,
    pub(crate) user_token: String,
    pub(crate) admin_token: String,
    pub(crate) db_location: &'static str,
    pub(crate) _db: TestDb,
}

impl Fixture {
    pub(crate) async fn new(bin: &Path, upstream: &Upstream) -> anyhow::Result<Self> {
        // tmpfs when there is one, so disk flushes don't blur the CPU cost being measured.
        let shm = Path::new("/dev/shm").is_dir();
        if shm {
            // SAFETY: set before any other thread of this program reads the environment.
            unsafe { std::env::set_var("TMPDIR", "/dev/shm") };
        }
        let db = TestDb::migrated(Backend::Sqlite).await;
        let env: Vec<(String, String)> = [
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", TEST_SECRET),
            ("BCRYPT_COST", "10"),
            ("ADMIN_EMAILS", "admin@example.com"),
            ("OPENAI_API_KEY", "bench"),
            ("OPENAI_BASE_URL", upstream.base_url.as_str()),
            ("OPENAI_MODEL", "bench-model"),
            ("CHAT_QUOTA_USER", "off"),
            ("CHAT_MAX_CONCURRENT_STREAMS", "0"),
            ("RATE_LIMIT_LOGIN_IP", "off"),
            ("RATE_LIMIT_LOGIN_ACCOUNT", "off"),
            ("RUST_LOG", "error"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut fixture = Self {
            env,
            user_token: String::new(),
            admin_token: String::new(),
            db_location: if shm { "tmpfs (/dev/shm)" } else { "the temp dir" },
            _db: db,
        };
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let server = Server::start(bin, "auth-register", &fixture).await?;
        server.ready(&client, "/api/health", None).await?;
        for (email, slot) in [("user@example.com", 0), ("admin@example.com", 1)] {
            let body = json!({"email": email, "password": PASSWORD}).to_string();
            let (status, body) =
                send(&client, Method::POST, &server.url("/api/auth/register"), None, Some(body)).await?;
            if status != StatusCode::CREATED {
                bail!("registering {email} failed: {status} {}", String::from_utf8_lossy(&body));
            }
            let token =
                serde_json::from_slice::<serde_json::Value>(&body)?["token"].as_str().unwrap_or_default().to_string();
            if slot == 0 { fixture.user_token = token } else { fixture.admin_token = token }
        }
        Ok(fixture)
    }

    /// Each function's first request: an authenticated one where the function has one.
    pub(crate) fn first_requests(&self) -> [(&'static str, &'static str, Option<&str>); 4] {
        [
            ("auth-login", "/api/auth/session", Some(self.user_token.as_str())),
            ("auth-register", "/api/health", None),
            ("chat", "/api/chat/conversations", Some(self.user_token.as_str())),
            ("admin-export", "/api/admin/users", Some(self.admin_token.as_str())),
        ]
    }
}

/// A function binary running as FC runs it (its own port, the fixture's environment).
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

impl Server {
    pub(crate) async fn start(bin: &Path, name: &str, fixture: &Fixture) -> anyhow::Result<Self> {
        Self::start_with(bin, name, fixture, &[]).await
    }

    /// Like [`Server::start`], with `extra` variables over the fixture's.
    pub(crate) async fn start_with(
        bin: &Path,
        name: &str,
        fixture: &Fixture,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new(bin.join(name))
            .envs(fixture.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .env("FC_CUSTOM_LISTEN_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {name}"))?;
        Ok(Self { child, port })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Polls until `path` answers 200; returns how long that took from now.
    pub(crate) async fn ready(&self, client: &HttpClient, path: &str, token: Option<&str>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let url = self.url(path);
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok((StatusCode::OK, _)) = send(client, Method::GET, &url, token, None).await {
                return Ok(start.elapsed());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        bail!("{url} did not answer 200 within 10 s")
    }

    /// One cold start, probed from this thread: a connection attempt every 100 µs (an OS sleep;
    /// tokio's timer would round each wait up to a whole millisecond and blur a start by as
    /// much), then one HTTP/1.1 request on the connection that got through, until `path`
    /// answers 200. Times are from `start`; the process's usage is read once it has answered.
    pub(crate) fn first_ok(&self, path: &str, token: Option<&str>, start: Instant) -> anyhow::Result<ColdStart> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{authorization}\r\n");
        while start.elapsed() < Duration::from_secs(10) {
            let Ok(mut stream) = TcpStream::connect(address) else {
                std::thread::sleep(Duration::from_micros(100));
                continue;
            };
            let listening = start.elapsed();
            stream.write_all(request.as_bytes())?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            if response.starts_with(b"HTTP/1.1 200 ") {
                let answered = start.elapsed();
                let (cpu, faults) = self.usage()?;
                return Ok(ColdStart { listening, answered, cpu, faults });
            }
        }
        bail!("{path} did not answer 200 within 10 s")
    }

    /// CPU time of all the process's threads so far (`/proc/<pid>/task/*/schedstat`, in ns) and
    /// its minor page faults (`/proc/<pid>/stat`, which counts every thread's).
    pub(crate) fn usage(&self) -> anyhow::Result<(Duration, u64)> {
        let proc = Path::new("/proc").join(self.child.id().to_string());
        let mut cpu = Duration::ZERO;
        for task in std::fs::read_dir(proc.join("task"))? {
            let schedstat = std::fs::read_to_string(task?.path().join("schedstat"))?;
            let ns = schedstat.split_whitespace().next().context("schedstat: no run time")?;
            cpu += Duration::from_nanos(ns.parse()?);
        }
        let stat = std::fs::read_to_string(proc.join("stat"))?;
        // The fields after the command name (which may hold spaces), from field 3 (`state`) on;
        // `minflt` is field 10.
        let fields = stat.rsplit_once(") ").context("/proc/<pid>/stat: no command name")?.1;
        let faults = fields.split_whitespace().nth(7).context("/proc/<pid>/stat: no minflt")?.parse()?;
        Ok((cpu, faults))
    }

    pub(crate) fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:")).context("no VmRSS")?;
        Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(test_support::ports::free_port())
}
