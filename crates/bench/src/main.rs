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
//!   one instance ([`reliability`]);
//! - statements and round trips per request, through a MySQL proxy 1 ms away ([`round_trips`]).
//!
//! Benchmarks report; they assert nothing. Every number comes from this run.

mod accounts;
mod cold;
mod controls;
mod fixture;
mod format;
mod load;
mod moderation;
mod mysql_proxy;
mod reliability;
mod round_trips;
mod scale_out;
mod usage;

use std::{
    fmt::Write as _,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::Method;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::json;
use test_support::{Behaviour, Upstream};

use cold::{ColdStart, ColdStarts, cold_starts};
use fixture::{Fixture, Server};
use format::{kib, machine, mib, ms, percentile, zipped_size};
use load::{Load, load, send, timed};

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

    // `BENCH_ONLY=cold,size,load,chat,moderation,memory,burst,stop,accounts,usage,roundtrips` runs some sections (for profiling one); BENCHMARKS.md is
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

    if wants("moderation") {
        moderation::moderation_cost(&bin, &fixture, &client, &mut report).await?;
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

    let mut trips: Option<round_trips::Outcome> = None;
    if wants("roundtrips") {
        trips = Some(round_trips::round_trips(&bin, &fixture, &client, &mut report).await?);
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
    let statements = |at_most: u64, of: fn(&round_trips::Outcome) -> u64| {
        trips.as_ref().map(|outcome| (format!("{} (the most of any request)", of(outcome)), of(outcome) <= at_most))
    };
    target(
        "a streamed turn's first words (`delta`), database 1 ms away each way: ≤ 10 ms p50",
        trips.as_ref().map(|outcome| (ms(outcome.first_words), outcome.first_words <= Duration::from_millis(10))),
    )?;
    target(
        "200 replies streaming at once: ≤ 20 statements/s",
        trips.as_ref().map(|outcome| {
            let rate = outcome.crowd_statements_per_second;
            (format!("{rate:.1} statements/s"), rate <= 20.0)
        }),
    )?;
    target("a streamed turn: ≤ 6 statements before the model", statements(6, |outcome| outcome.turn_before_model))?;
    target(
        "a streamed turn: ≤ 12 statements in all (the minute's housekeeping apart)",
        trips.as_ref().map(|outcome| {
            let (usual, most) = outcome.turn_in_all;
            (format!("{usual} ({most} in a turn that did the minute's housekeeping)"), usual <= 12)
        }),
    )?;
    target("a login: ≤ 8 statements", statements(8, |outcome| outcome.login))?;
    target("a registration: ≤ 8 statements", statements(8, |outcome| outcome.register))?;
    target("a session check: 1 statement", statements(1, |outcome| outcome.session))?;
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
