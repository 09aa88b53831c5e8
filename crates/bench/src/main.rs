//! `make bench`: measures the release binaries the way Function Compute runs them and writes
//! the results to `BENCHMARKS.md` (and stdout), with the machine and the command.
//!
//! - cold start: exec of each function binary → its first authenticated 200 (SQLite), median of
//!   many runs, beside `hello`, a bare hyper server built in the same run (the floor);
//! - binary and zip size per function; RSS idle and after 10k requests;
//! - `/api/auth/session` throughput and p50/p99 latency under concurrency, alone and while
//!   logins (bcrypt) run;
//! - chat overhead: latency added over a zero-latency local upstream, non-streaming and to the
//!   first streamed byte;
//! - memory under many large or unfinished bodies and events, and a burst of registrations on
//!   one instance ([`reliability`]).
//!
//! Benchmarks report; they assert nothing. Every number comes from this run.

mod accounts;
mod controls;
mod reliability;
mod scale_out;
mod usage;

use std::{
    fmt::Write as _,
    io::{Read, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::json;
use test_support::{Backend, Behaviour, TEST_SECRET, TestDb, Upstream};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

const FUNCTIONS: [&str; 4] = ["auth-login", "auth-register", "chat", "admin-export"];
const COLD_START_RUNS: usize = 40;
const PASSWORD: &str = "benchmark password";
/// Where BENCHMARKS.md's hand-written part begins; a run rewrites everything before it.
const NOTES_HEADING: &str = "## Notes (written by hand";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    // `BENCH_BIN=target/profiling` measures another build (e.g. one with symbols for `perf`).
    let bin = root.join(std::env::var("BENCH_BIN").unwrap_or_else(|_| "target/release".into()));
    for name in FUNCTIONS.iter().chain(&["hello"]) {
        if !bin.join(name).exists() {
            bail!("{} is missing: run `make bench` (it builds the release binaries first)", bin.join(name).display());
        }
    }
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let upstream = Upstream::start(Behaviour::reply("ok")).await;
    let fixture = Fixture::new(&bin, &upstream).await?;

    // `BENCH_ONLY=cold,size,load,chat,memory,burst,stop,accounts,usage` runs some sections (for profiling one); BENCHMARKS.md is
    // written only by a full run.
    let only = std::env::var("BENCH_ONLY").ok();
    let wants = |section: &str| only.as_deref().is_none_or(|only| only.split(',').any(|s| s.trim() == section));
    let mut report = String::new();
    writeln!(report, "# Benchmarks\n")?;
    writeln!(
        report,
        "Produced by `make bench`: `make release` (the four functions, built on their own as they ship), then\n\
         `cargo build --release -p bench` and `target/release/bench`."
    )?;
    writeln!(report, "Every number below comes from one run on this machine; rerun to refresh.\n")?;
    writeln!(report, "{}\n", machine())?;
    writeln!(
        report,
        "The database is SQLite on {} (what `make dev` uses; production uses RDS MySQL).\n",
        fixture.db_location
    )?;

    // The worst value of each target's measure; `None` when its section did not run.
    let mut worst_cold_ratio: Option<f64> = None;
    if wants("cold") {
        writeln!(report, "## Cold start: exec → first authenticated 200\n")?;
        writeln!(
            report,
            "Median of {COLD_START_RUNS} runs of each, taken in turns (one start of every binary per round, so a\nslow spell of the machine weighs on all alike); `hello` is a bare hyper server on the same\nsingle-threaded runtime (the floor). The probe tries to connect every 100 µs, then sends the request.\n\"Listening\" is when a connection first got through, \"answered\" when the 200 came back; CPU (all\nthreads) and page faults are the process's own, read from `/proc` once it has answered.\n"
        )?;
        writeln!(
            report,
            "| binary | request | listening | answered | answered p90 | CPU | page faults | × hello |\n|---|---|---|---|---|---|---|---|"
        )?;
        let mut subjects = vec![("hello", "/", None)];
        subjects.extend(fixture.first_requests());
        let starts = cold_starts(&bin, &subjects, &fixture).await?;
        let hello = starts[0].percentile(50, |start| start.answered);
        let row = |name: &str, path: &str, bearer: bool, starts: &ColdStarts, ratio: f64| {
            format!(
                "| {name} | `GET {path}`{} | {} | {} | {} | {} | {} | {ratio:.2} |",
                if bearer { " (Bearer)" } else { "" },
                ms(starts.percentile(50, |start| start.listening)),
                ms(starts.percentile(50, |start| start.answered)),
                ms(starts.percentile(90, |start| start.answered)),
                ms(starts.percentile(50, |start| start.cpu)),
                starts.percentile(50, |start| start.faults),
            )
        };
        for ((name, path, token), starts) in subjects.iter().zip(&starts).skip(1) {
            let ratio = starts.percentile(50, |start| start.answered).as_secs_f64() / hello.as_secs_f64();
            worst_cold_ratio = Some(worst_cold_ratio.unwrap_or(0.0).max(ratio));
            writeln!(report, "{}", row(name, path, token.is_some(), starts, ratio))?;
        }
        writeln!(report, "{}\n", row("hello", "/", false, &starts[0], 1.0))?;
    }

    let (mut worst_zip, mut worst_rss): (Option<u64>, Option<u64>) = (None, None);
    if wants("size") {
        writeln!(report, "## Size and memory\n")?;
        writeln!(
            report,
            "Zip: `dist/<function>.zip` from `make package` (what FC uploads) when present, else the binary as\n`bootstrap` in a deflate zip. RSS from `/proc/<pid>/status`.\n"
        )?;
        writeln!(report, "| function | binary | zip | RSS idle | RSS after 10k requests |\n|---|---|---|---|---|")?;
        for (name, path, token) in fixture.first_requests() {
            let binary = std::fs::metadata(bin.join(name))?.len();
            let packaged = root.join(format!("dist/{name}.zip"));
            let zip =
                if packaged.exists() { std::fs::metadata(&packaged)?.len() } else { zipped_size(&bin.join(name))? };
            let server = Server::start(&bin, name, &fixture).await?;
            server.ready(&client, path, token).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let idle = server.rss_kib()?;
            load(&client, &server.url(path), token, 16, Load::Requests(10_000)).await?;
            let loaded = server.rss_kib()?;
            worst_zip = worst_zip.max(Some(zip));
            worst_rss = worst_rss.max(Some(idle.max(loaded)));
            writeln!(report, "| {name} | {} | {} | {} | {} |", mib(binary), mib(zip), kib(idle), kib(loaded))?;
        }
        writeln!(report)?;
    }

    if wants("load") {
        writeln!(report, "## `GET /api/auth/session` under load\n")?;
        writeln!(
            report,
            "32 keep-alive connections for 5 s against one `auth-login` instance (in-repo load generator).\nThe functions serve on a single-threaded runtime (`app_core::serve_function`), so this is one core's\nthroughput; bcrypt runs on the blocking pool, beside it.\n"
        )?;
        writeln!(report, "| scenario | requests/s | p50 | p99 |\n|---|---|---|---|")?;
        let server = Server::start(&bin, "auth-login", &fixture).await?;
        server.ready(&client, "/api/auth/session", Some(&fixture.user_token)).await?;
        let url = server.url("/api/auth/session");
        let alone = load(&client, &url, Some(&fixture.user_token), 32, Load::For(Duration::from_secs(5))).await?;
        writeln!(report, "| sessions alone | {:.0} | {} | {} |", alone.rate(), ms(alone.p(50)), ms(alone.p(99)))?;
        let logins_done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let login_tasks: Vec<_> = (0..2)
            .map(|_| {
                let (client, url, done, stop) =
                    (client.clone(), server.url("/api/auth/login"), logins_done.clone(), stop.clone());
                let body = json!({"email": "user@example.com", "password": PASSWORD}).to_string();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        if send(&client, Method::POST, &url, None, Some(body.clone())).await.is_ok() {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let mixed = load(&client, &url, Some(&fixture.user_token), 32, Load::For(Duration::from_secs(5))).await?;
        stop.store(true, Ordering::Relaxed);
        for task in login_tasks {
            let _ = task.await;
        }
        let logins = logins_done.load(Ordering::Relaxed) as f64 / mixed.elapsed.as_secs_f64();
        writeln!(
            report,
            "| sessions while 2 clients log in nonstop (bcrypt cost 10, {logins:.0} logins/s) | {:.0} | {} | {} |\n",
            mixed.rate(),
            ms(mixed.p(50)),
            ms(mixed.p(99))
        )?;
        drop(server);
    }

    let mut worst_overhead: Option<Duration> = None;
    if wants("chat") {
        writeln!(report, "## Chat overhead over a zero-latency upstream\n")?;
        writeln!(
            report,
            "500 sequential turns, each in a new conversation; the upstream is an in-process OpenAI-compatible server"
        )?;
        writeln!(
            report,
            "answering at once. Overhead = through `chat` minus straight to the upstream (p50). Titles are off\n\
             (`CHAT_TITLE_MODEL=off`): a title is a second model call after the reply, which would run beside the next turn.\n"
        )?;
        writeln!(report, "| measure | straight to upstream | through `chat` | overhead |\n|---|---|---|---|")?;
        let server = Server::start_with(&bin, "chat", &fixture, &[("CHAT_TITLE_MODEL", "off")]).await?;
        server.ready(&client, "/api/chat/conversations", Some(&fixture.user_token)).await?;
        let direct_body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let chat_body = json!({"type": "oracle", "locale": "en", "messages": [{"role": "user", "content": "hi"}]});
        let completions = format!("{}/chat/completions", upstream.base_url);
        for (label, stream) in [("reply (JSON), p50", false), ("first streamed byte (SSE), p50", true)] {
            let mut direct_body = direct_body.clone();
            let mut chat_body = chat_body.clone();
            if stream {
                direct_body["stream"] = json!(true);
                chat_body["stream"] = json!(true);
            }
            let direct = timed(&client, &completions, None, &direct_body, stream, 500).await?;
            let through =
                timed(&client, &server.url("/api/chat"), Some(&fixture.user_token), &chat_body, stream, 500).await?;
            let (direct, through) = (percentile(&direct, 50), percentile(&through, 50));
            worst_overhead = worst_overhead.max(Some(through.saturating_sub(direct)));
            writeln!(
                report,
                "| {label} | {} | {} | {} |",
                ms(direct),
                ms(through),
                ms(through.saturating_sub(direct))
            )?;
        }
        writeln!(report)?;
        drop(server);
    }

    let mut worst_body_rss: Option<u64> = None;
    if wants("memory") {
        worst_body_rss = Some(reliability::memory_under_bodies(&bin, &fixture, &mut report).await?);
    }
    let mut scaled_out: Option<(usize, usize)> = None;
    if wants("burst") {
        reliability::registration_burst(&bin, &fixture, &mut report).await?;
        scaled_out =
            Some(scale_out::registrations_across_instances(&root, &bin, &fixture, &client, &mut report).await?);
    }
    let mut worst_stop: Option<Duration> = None;
    if wants("stop") {
        worst_stop = Some(controls::stop_latency(&bin, &fixture, &upstream, &mut report).await?);
    }
    let mut forgot_gap: Option<Duration> = None;
    if wants("accounts") {
        forgot_gap = Some(accounts::forgot_timing(&bin, &fixture, &mut report).await?);
    }

    let mut worst_usage: Option<usage::Worst> = None;
    if wants("usage") {
        worst_usage = Some(usage::search_and_dashboard(&bin, &fixture, &mut report).await?);
    }

    writeln!(report, "## Against the targets\n")?;
    writeln!(report, "| target | this run | met |\n|---|---|---|")?;
    let mut target = |name: &str, measured: Option<(String, bool)>| match measured {
        Some((value, met)) => writeln!(report, "| {name} | {value} | {} |", if met { "yes" } else { "no" }),
        None => writeln!(report, "| {name} | not measured | – |"),
    };
    target(
        "cold start ≤ 2× the bare binary",
        worst_cold_ratio.map(|ratio| (format!("{ratio:.2}× (worst function)"), ratio <= 2.0)),
    )?;
    target("RSS ≤ 20 MB", worst_rss.map(|rss| (format!("{} (worst)", kib(rss)), rss * 1024 <= 20_000_000)))?;
    target(
        "RSS ≤ 128 MB under 100 large or unfinished bodies",
        worst_body_rss.map(|rss| (format!("{} (worst)", kib(rss)), rss * 1024 <= 128_000_000)),
    )?;
    target(
        "a stop closes the model's request in < 1 s",
        worst_stop.map(|stop| (format!("{} (worst of 20)", ms(stop)), stop < Duration::from_secs(1))),
    )?;
    target(
        "a forgotten-password answer takes as long for any address (p50s within 20 ms)",
        forgot_gap.map(|gap| (format!("{} apart", ms(gap)), gap <= Duration::from_millis(20))),
    )?;
    target(
        "search of a user's 10,000 messages in a 1,000,000-message table: p50 < 50 ms",
        worst_usage.as_ref().map(|worst| {
            (format!("{} (slowest query, worse database)", ms(worst.search)), worst.search < Duration::from_millis(50))
        }),
    )?;
    target(
        "the usage dashboard on 1,000,000 messages: < 500 ms",
        worst_usage.as_ref().map(|worst| {
            (
                format!("{} p50 (slowest range, worse database)", ms(worst.dashboard)),
                worst.dashboard < Duration::from_millis(500),
            )
        }),
    )?;
    target(
        "a burst of registrations, scaled out as s.yaml sizes auth-register: every one 201",
        scaled_out.map(|(created, of)| (format!("{created} of {of}"), created == of)),
    )?;
    target("zip ≤ 5 MB", worst_zip.map(|zip| (format!("{} (largest)", mib(zip)), zip <= 5_000_000)))?;
    target(
        "chat overhead ≤ 1 ms p50",
        worst_overhead.map(|overhead| {
            (format!("{} (worse of JSON and SSE)", ms(overhead)), overhead <= Duration::from_millis(1))
        }),
    )?;
    writeln!(report)?;

    print!("{report}");
    if only.is_some() {
        eprintln!("BENCH_ONLY is set: BENCHMARKS.md left as it was");
        return Ok(());
    }
    // The hand-written notes at the end of the file (from `NOTES_HEADING` on) are kept.
    let path = root.join("BENCHMARKS.md");
    let previous = std::fs::read_to_string(&path).unwrap_or_default();
    if let Some(at) = previous.find(NOTES_HEADING) {
        report.push_str(&previous[at..]);
    }
    std::fs::write(&path, &report).context("write BENCHMARKS.md")?;
    eprintln!("written to BENCHMARKS.md");
    Ok(())
}

/// A migrated SQLite database with a user and an admin, and the environment the binaries get.
struct Fixture {
    env: Vec<(String, String)>,
    user_token: String,
    admin_token: String,
    db_location: &'static str,
    _db: TestDb,
}

impl Fixture {
    async fn new(bin: &Path, upstream: &Upstream) -> anyhow::Result<Self> {
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
    fn first_requests(&self) -> [(&'static str, &'static str, Option<&str>); 4] {
        [
            ("auth-login", "/api/auth/session", Some(self.user_token.as_str())),
            ("auth-register", "/api/health", None),
            ("chat", "/api/chat/conversations", Some(self.user_token.as_str())),
            ("admin-export", "/api/admin/users", Some(self.admin_token.as_str())),
        ]
    }
}

/// A function binary running as FC runs it (its own port, the fixture's environment).
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    async fn start(bin: &Path, name: &str, fixture: &Fixture) -> anyhow::Result<Self> {
        Self::start_with(bin, name, fixture, &[]).await
    }

    /// Like [`Server::start`], with `extra` variables over the fixture's.
    async fn start_with(bin: &Path, name: &str, fixture: &Fixture, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
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

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Polls until `path` answers 200; returns how long that took from now.
    async fn ready(&self, client: &HttpClient, path: &str, token: Option<&str>) -> anyhow::Result<Duration> {
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
    fn first_ok(&self, path: &str, token: Option<&str>, start: Instant) -> anyhow::Result<ColdStart> {
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
    fn usage(&self) -> anyhow::Result<(Duration, u64)> {
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

    fn rss_kib(&self) -> anyhow::Result<u64> {
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

/// One exec → first 200: when the port first accepted a connection, when the 200 came back,
/// and what the process had used by then.
struct ColdStart {
    listening: Duration,
    answered: Duration,
    cpu: Duration,
    faults: u64,
}

/// The cold starts of one binary.
#[derive(Default)]
struct ColdStarts(Vec<ColdStart>);

impl ColdStarts {
    /// The `p`th percentile of one measure over the runs.
    fn percentile<T: Ord + Copy + Default>(&self, p: usize, measure: impl Fn(&ColdStart) -> T) -> T {
        let mut values: Vec<T> = self.0.iter().map(measure).collect();
        values.sort();
        percentile(&values, p)
    }
}

/// Exec → first 200 of each `(binary, path, token)`, `COLD_START_RUNS` times, in turns.
async fn cold_starts(
    bin: &Path,
    subjects: &[(&str, &str, Option<&str>)],
    fixture: &Fixture,
) -> anyhow::Result<Vec<ColdStarts>> {
    let mut starts: Vec<ColdStarts> = subjects.iter().map(|_| ColdStarts::default()).collect();
    for _ in 0..COLD_START_RUNS {
        for ((name, path, token), starts) in subjects.iter().zip(&mut starts) {
            let start = Instant::now();
            let server = Server::start(bin, name, fixture).await?;
            starts.0.push(tokio::task::block_in_place(|| server.first_ok(path, *token, start))?);
        }
    }
    Ok(starts)
}

enum Load {
    Requests(u64),
    For(Duration),
}

struct LoadResult {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl LoadResult {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
    fn p(&self, p: usize) -> Duration {
        percentile(&self.latencies, p)
    }
}

/// `connections` concurrent keep-alive clients sending `GET url` until the load is done; any
/// non-200 answer is an error.
async fn load(
    client: &HttpClient,
    url: &str,
    token: Option<&str>,
    connections: usize,
    load: Load,
) -> anyhow::Result<LoadResult> {
    let remaining = Arc::new(AtomicU64::new(match load {
        Load::Requests(n) => n,
        Load::For(_) => u64::MAX,
    }));
    let deadline = match load {
        Load::For(duration) => Some(Instant::now() + duration),
        Load::Requests(_) => None,
    };
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, token, remaining) =
                (client.clone(), url.to_string(), token.map(str::to_string), remaining.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while deadline.is_none_or(|deadline| Instant::now() < deadline)
                    && remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
                {
                    let sent = Instant::now();
                    let (status, _) = send(&client, Method::GET, &url, token.as_deref(), None).await?;
                    if status != StatusCode::OK {
                        bail!("{url} answered {status} under load");
                    }
                    latencies.push(sent.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Ok(LoadResult { latencies, elapsed })
}

/// `count` sequential POSTs of `body`, timed to the complete answer, or to the first body byte
/// when `first_byte`.
async fn timed(
    client: &HttpClient,
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
    first_byte: bool,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let request = request(Method::POST, url, token, Some(body.to_string()))?;
        let start = Instant::now();
        let response = client.request(request).await?;
        if response.status() != StatusCode::OK {
            bail!("{url} answered {}", response.status());
        }
        let mut body = response.into_body();
        if first_byte {
            while let Some(frame) = body.frame().await {
                if frame?.data_ref().is_some_and(|data| !data.is_empty()) {
                    break;
                }
            }
            times.push(start.elapsed());
            // Drain the rest so the connection is reusable and the reply is saved.
            while body.frame().await.is_some() {}
        } else {
            body.collect().await?;
            times.push(start.elapsed());
        }
    }
    times.sort();
    Ok(times)
}

fn request(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut builder = Request::builder().method(method).uri(url);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    Ok(builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?)
}

async fn send(
    client: &HttpClient,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let response = client.request(request(method, url, token, body)?).await?;
    let status = response.status();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

fn zipped_size(binary: &Path) -> anyhow::Result<u64> {
    let out = std::env::temp_dir().join(format!("bench-{}.zip", std::process::id()));
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z: z.write(sys.argv[1], 'bootstrap')";
    let status = Command::new("python3").arg("-c").arg(script).arg(binary).arg(&out).status()?;
    if !status.success() {
        bail!("zipping {} failed", binary.display());
    }
    let size = std::fs::metadata(&out)?.len();
    std::fs::remove_file(&out)?;
    Ok(size)
}

fn free_port() -> std::io::Result<u16> {
    Ok(test_support::ports::free_port())
}

fn percentile<T: Copy + Default>(sorted: &[T], p: usize) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() - 1) * p).div_ceil(100)]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1024.0 / 1024.0)
}

fn kib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or("?".into(), |kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("Machine: {cpu}, {cores} cores, {memory} RAM, Linux {}. Run: {date}.", kernel.trim())
}
