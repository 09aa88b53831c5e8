//! The crowd of the round-trips figure: 200 replies streaming at once across two `chat`
//! instances, and what the database receives while all of them stream — what a crowd of readers
//! costs RDS, whose load grows with the statements a streaming reply sends per second.

use std::{
    collections::HashMap,
    fmt::Write as _,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow};
use test_support::{Behaviour, Upstream};

use super::{code, deployed, register_user, stream_turn, turn};
use crate::{
    HttpClient,
    fixture::{Fixture, Server},
    format::ms,
    mysql_proxy::{Counts, Proxy},
};

/// Readers of the crowd, each with two replies streaming.
const READERS: usize = 100;
/// The crowd's replies: pieces 200 ms apart (80: 16 s), doubled while the window is too short.
const PIECES: usize = 80;
const PIECE_EVERY: Duration = Duration::from_millis(200);
const MIN_WINDOW: Duration = Duration::from_secs(3);

/// The crowd: replies streaming at once, and the counters while all of them stream: from the
/// moment the last one's first words came to the moment the first one's last words came (its
/// model's reply over; the save follows, and the stream's last event after it).
pub(super) struct Crowd {
    streams: usize,
    failed: Vec<String>,
    pieces: usize,
    /// From sending to the last reply's first words.
    ramp: Duration,
    window: Duration,
    pub(super) counts: Counts,
    /// The commands in the window, most frequent first.
    commands: Vec<(String, usize)>,
}

impl Crowd {
    pub(super) fn rate(&self, count: u64) -> f64 {
        count as f64 / self.window.as_secs_f64().max(f64::EPSILON)
    }

    pub(super) fn write(&self, report: &mut String) -> anyhow::Result<()> {
        writeln!(report, "\n### {} replies streaming at once\n", 2 * READERS)?;
        writeln!(
            report,
            "{READERS} users each stream two replies (new conversations), sent all at once and alternating between two\n\
             `chat` instances on the same database through the proxy; the model streams {} pieces {} ms apart ({:.0} s).\n\
             The window, while all of them stream, runs from the moment the last reply's first words (`delta`) came\n\
             ({} after sending) to the moment the first reply's last words came: its model's reply was over, and its\n\
             save and last event (`done`) were still to come.\n",
            self.pieces,
            PIECE_EVERY.as_millis(),
            (PIECE_EVERY * u32::try_from(self.pieces)?).as_secs_f64(),
            ms(self.ramp),
        )?;
        writeln!(
            report,
            "| streams running | window | statements | statements/s | BEGIN/COMMIT/s | round trips/s |\n|---|---|---|---|---|---|"
        )?;
        writeln!(
            report,
            "| {} of {} | {:.2} s | {} | {:.1} | {:.1} | {:.1} |\n",
            self.streams,
            2 * READERS,
            self.window.as_secs_f64(),
            self.counts.statements,
            self.rate(self.counts.statements),
            self.rate(self.counts.transaction),
            self.rate(self.counts.round_trips)
        )?;
        if let Some(failure) = self.failed.first() {
            writeln!(report, "{} streams failed; the first: {failure}\n", self.failed.len())?;
        }
        writeln!(report, "The commands in the window, most frequent first:\n")?;
        for (line, count) in &self.commands {
            writeln!(report, "- {count} × {}", code(line))?;
        }
        writeln!(report)?;
        Ok(())
    }
}

pub(super) async fn crowd(
    bin: &Path,
    fixture: &Fixture,
    proxy: &Arc<Proxy>,
    url: &str,
    client: &HttpClient,
) -> anyhow::Result<Crowd> {
    let slow = |pieces: usize| Behaviour::Reply {
        pieces: (0..pieces).map(|n| format!("w{n} ")).collect(),
        delay: PIECE_EVERY,
    };
    let upstream = Upstream::start(slow(PIECES)).await;
    let env = deployed(url, &upstream.base_url);
    let mut cheap = env.to_vec();
    cheap.push(("BCRYPT_COST", "4"));
    let register = Server::start_with(bin, "auth-register", fixture, &cheap).await?;
    register.ready(client, "/api/health", None).await?;
    let mut tokens = Vec::with_capacity(READERS);
    for i in 0..READERS {
        tokens.push(register_user(client, &register, &format!("reader-{i}@example.com")).await?);
    }
    drop(register);
    let instances =
        [Server::start_with(bin, "chat", fixture, &env).await?, Server::start_with(bin, "chat", fixture, &env).await?];
    for instance in &instances {
        instance.ready(client, "/api/health", None).await?;
    }
    let mut pieces = PIECES;
    loop {
        upstream.set(slow(pieces));
        proxy.quiet().await;
        let started = Instant::now();
        proxy.take_log();
        let limit = PIECE_EVERY * u32::try_from(pieces)? + Duration::from_secs(60);
        let tasks: Vec<_> = (0..2 * READERS)
            .map(|i| {
                let (client, proxy, token) = (client.clone(), proxy.clone(), tokens[i / 2].clone());
                let url = instances[i % 2].url("/api/chat");
                tokio::spawn(async move {
                    let body = turn(None, true);
                    let reply = stream_turn(&client, &url, &token, &body, &proxy);
                    tokio::time::timeout(limit, reply).await.map_err(|_| anyhow!("no end within {limit:?}"))?
                })
            })
            .collect();
        let (mut streamed, mut failed) = (Vec::new(), Vec::new());
        for task in tasks {
            match task.await? {
                Ok(reply) => streamed.push(reply),
                Err(err) => failed.push(err.to_string()),
            }
        }
        let log = proxy.take_log();
        let last_first = streamed.iter().max_by_key(|reply| reply.first).context("no reply streamed")?;
        let first_done = streamed.iter().min_by_key(|reply| reply.last).context("no reply streamed")?;
        let (start, end) = (last_first.first, first_done.last);
        let mut commands: HashMap<String, usize> = HashMap::new();
        for (_, line) in log.into_iter().filter(|(at, _)| (start..end).contains(at)) {
            *commands.entry(line).or_default() += 1;
        }
        let mut commands: Vec<_> = commands.into_iter().collect();
        commands.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let crowd = Crowd {
            streams: streamed.iter().filter(|reply| reply.first <= start && reply.last >= end).count(),
            failed,
            pieces,
            ramp: start.saturating_duration_since(started),
            window: end.saturating_duration_since(start),
            counts: first_done.at_last - last_first.at_first,
            commands,
        };
        if crowd.window >= MIN_WINDOW || pieces >= 4 * PIECES {
            return Ok(crowd);
        }
        pieces *= 2;
    }
}
