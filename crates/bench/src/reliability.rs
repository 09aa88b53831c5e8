//! The reliability figures of `make bench`: an instance's memory while many large or unfinished
//! bodies and events arrive at once (the guarantees issue's 128 MB bound), and the latency of a
//! burst of registrations on one instance (bcrypt bounded to the cores, the rest queued).

use std::{fmt::Write as _, path::Path, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{Fixture, Server, kib, ms, percentile};

/// Connections held open at once in the memory section.
const HELD: usize = 100;

/// Opens `count` connections that each declare a `declared`-byte body for `path` and send all
/// but its last byte (so the server has buffered as much as it ever will), and keeps them open.
async fn unfinished(port: u16, path: &str, declared: usize, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    let mut held = Vec::with_capacity(count);
    let chunk = vec![b' '; declared.saturating_sub(1)];
    for _ in 0..count {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&chunk).await?;
        held.push(stream);
    }
    Ok(held)
}

/// Sends `count` events that declare 6 MB (finding 6's attack) and reads each refusal.
async fn oversized_events(port: u16, count: usize) -> anyhow::Result<usize> {
    let mut refused = 0;
    for _ in 0..count {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let head = format!("POST /invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n", 6 * 1024 * 1024);
        stream.write_all(head.as_bytes()).await?;
        let mut answer = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await??;
        refused += usize::from(answer[..read].starts_with(b"HTTP/1.1 413"));
    }
    Ok(refused)
}

/// Writes the memory table; returns the peak RSS (KiB).
pub async fn memory_under_bodies(bin: &Path, fixture: &Fixture, report: &mut String) -> anyhow::Result<u64> {
    writeln!(report, "## Memory under many large or unfinished bodies\n")?;
    writeln!(
        report,
        "One `auth-register` instance. Each scenario holds {HELD} connections open at once, each having sent\n\
         all but the last byte of the largest body its route accepts (so the server buffers the most it can),\n\
         then reads the process's RSS (`/proc/<pid>/status` VmRSS) while they are held. The events path caps\n\
         an event at `MAX_EVENT_BYTES` (400 KiB); an API route at its 64 KiB body limit. FC gives the\n\
         function 256 MB; the bound is 128 MB.\n"
    )?;
    writeln!(report, "| scenario | RSS before | RSS while held |\n|---|---|---|")?;
    let mut peak = 0;
    let scenarios = [
        ("/invoke", app_core::http::MAX_EVENT_BYTES, "`/invoke` events of 400 KiB, unfinished"),
        ("/api/auth/register", app_core::http::BODY_LIMIT, "`POST /api/auth/register` bodies of 64 KiB, unfinished"),
    ];
    for (path, declared, label) in scenarios {
        let server = Server::start(bin, "auth-register", fixture).await?;
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        server.ready(&client, "/api/health", None).await?;
        let before = server.rss_kib()?;
        let held = unfinished(server.port, path, declared, HELD).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let during = server.rss_kib()?;
        drop(held);
        peak = peak.max(during);
        writeln!(report, "| {HELD} × {label} | {} | {} |", kib(before), kib(during))?;
    }
    let server = Server::start(bin, "auth-register", fixture).await?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    server.ready(&client, "/api/health", None).await?;
    let before = server.rss_kib()?;
    let refused = oversized_events(server.port, 30).await?;
    let after = server.rss_kib()?;
    peak = peak.max(after);
    writeln!(
        report,
        "| 30 × `/invoke` declaring 6 MB (refused on the length: {refused} × 413) | {} | {} |\n",
        kib(before),
        kib(after)
    )?;
    Ok(peak)
}

/// What a burst of registrations got back: created, overloaded, anything else, and latencies.
pub struct RegistrationOutcome {
    pub created: usize,
    overloaded: usize,
    other: usize,
    latencies: Vec<Duration>,
}

impl RegistrationOutcome {
    pub fn of(replies: &[test_support::burst::Reply]) -> Self {
        let created = replies.iter().filter(|reply| reply.status == 201).count();
        let overloaded =
            replies.iter().filter(|reply| reply.status == 503 && reply.text().contains("\"overloaded\"")).count();
        let mut latencies: Vec<Duration> = replies.iter().map(|reply| reply.elapsed).collect();
        latencies.sort();
        Self { created, overloaded, other: replies.len() - created - overloaded, latencies }
    }

    /// `201 | 503 overloaded | other | p50 | p99 | max`, as table cells.
    pub fn cells(&self) -> String {
        format!(
            "{} | {} | {} | {} | {} | {}",
            self.created,
            self.overloaded,
            self.other,
            ms(percentile(&self.latencies, 50)),
            ms(percentile(&self.latencies, 99)),
            ms(self.latencies.last().copied().unwrap_or_default()),
        )
    }
}

/// Writes the registration-burst table.
pub async fn registration_burst(bin: &Path, fixture: &Fixture, report: &mut String) -> anyhow::Result<()> {
    const BURST: usize = 200;
    writeln!(report, "## A burst of {BURST} registrations on one instance\n")?;
    writeln!(
        report,
        "One `auth-register` instance, bcrypt cost 10, `DB_CONNECT_TIMEOUT=2s`, the per-IP limit off; {BURST}\n\
         connections send a registration at the same moment. Hashes run one per core; the rest wait in the\n\
         queue (`PASSWORD_HASH_QUEUE`), and past it get `503 overloaded` with `Retry-After`. Latency is per\n\
         request, from its send to its answer.\n"
    )?;
    writeln!(
        report,
        "| `PASSWORD_HASH_QUEUE` | 201 | 503 overloaded | other | p50 | p99 | max |\n|---|---|---|---|---|---|---|"
    )?;
    for queue in ["64", "200"] {
        let extra = [("RATE_LIMIT_REGISTER_IP", "off"), ("PASSWORD_HASH_QUEUE", queue), ("DB_CONNECT_TIMEOUT", "2s")];
        let server = Server::start_with(bin, "auth-register", fixture, &extra).await?;
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        server.ready(&client, "/api/health", None).await?;
        let port = server.port;
        let replies = test_support::burst::burst(BURST, |i| async move {
            let body =
                serde_json::json!({"email": format!("burst{queue}-{i}@example.com"), "password": super::PASSWORD});
            test_support::burst::call_json(port, "POST", "/api/auth/register", &[], &body).await
        })
        .await;
        writeln!(report, "| {queue} | {} |", RegistrationOutcome::of(&replies).cells())?;
    }
    writeln!(report)?;
    Ok(())
}
