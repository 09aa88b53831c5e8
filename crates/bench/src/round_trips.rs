//! The round-trips figure of `make bench`: how many statements and round trips each kind of
//! request sends to the database, and what they cost when the database is not on this machine.
//!
//! In production the functions reach RDS MySQL over the network. A request that waits for its
//! statements one after another pays a network round trip for each however fast the database
//! is, and a crowd of readers whose replies keep the database busy while they stream loads RDS.
//! Here a proxy of the bench's own ([`crate::mysql_proxy`]) sits between the release binaries
//! and the local MariaDB, delays every byte by 1 ms each way and counts the commands sent.
//!
//! The limits are on as deployed (a chat quota, two streams at once per user, the login and
//! registration limits: each costs statements), with values that don't refuse the bench. Each
//! request is sent one at a time and charged the counters' change from quiet to quiet (no command
//! for 100 ms), so that what it sends after its answer is its own. Then 200 replies stream at
//! once across two `chat` instances: the statements per second while all of them stream are what
//! readers cost the database.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use test_support::{Backend, Behaviour, TestDb, Upstream};

mod crowd;

use crate::{
    HttpClient, PASSWORD,
    fixture::{Fixture, Server},
    format::{ms, percentile},
    load::{request, send},
    mysql_proxy::{Counts, Proxy},
};

/// The proxy's delay, each way.
const DELAY: Duration = Duration::from_millis(1);
const MARIADB: &str = "127.0.0.1:3306";
/// Requests measured per row (logins: [`LOGINS`]).
const REQUESTS: usize = 100;
const LOGINS: usize = 50;
/// Requests of each kind sent first, so that pools and statement caches are warm.
const WARM_UP: usize = 5;
/// Counted turns per conversation (each conversation's first turn is made beforehand).
const TURNS_PER_CONVERSATION: usize = 20;
/// The least wait after a streamed turn's end before it is counted in all (its reply is saved
/// before the last event, its stream's slot freed after).
const SETTLE: Duration = Duration::from_millis(300);

/// What the targets are checked against: the most data statements a request of each kind sent.
pub(crate) struct Outcome {
    /// Time to the first streamed words (`delta`), p50.
    pub(crate) first_words: Duration,
    pub(crate) crowd_statements_per_second: f64,
    pub(crate) turn_before_model: u64,
    /// A streamed turn in all: the usual count (the median), and the most (the turn that runs
    /// an instance's once-a-minute housekeeping, which the budget leaves apart).
    pub(crate) turn_in_all: (u64, u64),
    pub(crate) login: u64,
    pub(crate) register: u64,
    pub(crate) session: u64,
}

pub(crate) async fn round_trips(
    bin: &Path,
    fixture: &Fixture,
    client: &HttpClient,
    report: &mut String,
) -> anyhow::Result<Outcome> {
    let database = TestDb::migrated(Backend::MySql).await;
    anyhow::ensure!(database.url.contains(MARIADB), "the test database is not at {MARIADB}: {}", database.url);
    let proxy = Arc::new(Proxy::start(MARIADB.parse::<SocketAddr>()?, DELAY).await?);
    let url = database.url.replace(MARIADB, &proxy.address.to_string());
    let (select_direct, select_proxied) = (select_one(&database.url).await?, select_one(&url).await?);

    let upstream = Upstream::start(Behaviour::reply("ok")).await;
    let env = deployed(&url, &upstream.base_url);
    let register = Server::start_with(bin, "auth-register", fixture, &env).await?;
    let login = Server::start_with(bin, "auth-login", fixture, &env).await?;
    let chat = Server::start_with(bin, "chat", fixture, &env).await?;
    for server in [&register, &login, &chat] {
        server.ready(client, "/api/health", None).await?;
    }
    let email = "roundtrips@example.com";
    let token = register_user(client, &register, email).await?;
    let (login_url, session_url) = (login.url("/api/auth/login"), login.url("/api/auth/session"));
    let chat_url = chat.url("/api/chat");
    let credentials = json!({"email": email, "password": PASSWORD});
    let conversations = REQUESTS.div_ceil(TURNS_PER_CONVERSATION);
    let mut json_conversations = Vec::new();
    let mut stream_conversations = Vec::new();
    for _ in 0..conversations {
        json_conversations.push(new_conversation(client, &chat_url, &token).await?);
        stream_conversations.push(new_conversation(client, &chat_url, &token).await?);
    }
    for i in 0..WARM_UP {
        register_user(client, &register, &format!("warm-{i}@example.com")).await?;
        call(client, Method::POST, &login_url, None, Some(&credentials), StatusCode::OK).await?;
        call(client, Method::GET, &session_url, Some(&token), None, StatusCode::OK).await?;
        let body = turn(Some(&json_conversations[0]), false);
        call(client, Method::POST, &chat_url, Some(&token), Some(&body), StatusCode::OK).await?;
        stream_turn(client, &chat_url, &token, &turn(Some(&stream_conversations[0]), true), &proxy).await?;
    }

    let registrations = each(&proxy, REQUESTS, async |i| {
        register_user(client, &register, &format!("new-{i}@example.com")).await.map(drop)
    })
    .await?;
    let logins = each(&proxy, LOGINS, async |_| {
        call(client, Method::POST, &login_url, None, Some(&credentials), StatusCode::OK).await.map(drop)
    })
    .await?;
    let sessions = each(&proxy, REQUESTS, async |_| {
        call(client, Method::GET, &session_url, Some(&token), None, StatusCode::OK).await.map(drop)
    })
    .await?;
    let replies = each(&proxy, REQUESTS, async |i| {
        let body = turn(Some(&json_conversations[i / TURNS_PER_CONVERSATION]), false);
        call(client, Method::POST, &chat_url, Some(&token), Some(&body), StatusCode::OK).await.map(drop)
    })
    .await?;
    let (before_model, streamed) = streamed_turns(&proxy, client, &chat_url, &token, &stream_conversations).await?;
    drop((register, login, chat));
    let crowd = crowd::crowd(bin, fixture, &proxy, &url, client).await?;

    writeln!(report, "## Round trips to the database\n")?;
    writeln!(
        report,
        "What each request sends to MariaDB, counted by a proxy of the bench's own between the release binaries and\n\
         the database, which also delays every byte by {} ms each way (RDS is over the network in production).\n\
         `SELECT 1` on one connection, p50 of 100:\n\
         {} straight to MariaDB, {} through the proxy. The limits are on as deployed (`CHAT_QUOTA_USER=100000/1d`,\n\
         two streams per user, the login and registration limits at 1000 per window; bcrypt cost 10); titles,\n\
         moderation and the terms gate are off.\n",
        DELAY.as_millis(),
        ms(select_direct),
        ms(select_proxied)
    )?;
    writeln!(
        report,
        "One request at a time, {REQUESTS} of each ({LOGINS} logins), each charged what was sent from quiet to quiet (no\n\
         command for 100 ms). *Statements* are data statements (COM_QUERY and COM_STMT_EXECUTE), BEGIN and COMMIT\n\
         not counted but shown beside them; *round trips* are all the commands the server answers: statements,\n\
         BEGIN/COMMIT, prepares, and the ping sqlx sends on each connection it takes back into the pool (which the\n\
         request need not wait for). A range is min–max over the requests. A streamed turn is timed to its first\n\
         `delta` event (the model answers at once, so this is the turn's own cost before the model's words) and to\n\
         the end of the stream, and counted up to its first `delta` and in all (until quiet, {} ms at least, after\n\
         the stream's end: the save comes before the last event, the stream's slot is freed after).\n",
        SETTLE.as_millis()
    )?;
    writeln!(report, "| request | statements | + BEGIN/COMMIT | round trips | p50 | p99 |\n|---|---|---|---|---|---|")?;
    let rows = [
        ("`POST /api/auth/register` (a new address each)", &registrations),
        ("`POST /api/auth/login`", &logins),
        ("`GET /api/auth/session` (Bearer)", &sessions),
        ("`POST /api/chat`, JSON, in an existing conversation", &replies),
        ("`POST /api/chat`, SSE: before the model (to the first `delta`)", &before_model),
        ("`POST /api/chat`, SSE: in all (to the end of the stream)", &streamed),
    ];
    for (label, row) in rows {
        writeln!(report, "| {label} | {} |", row.cells())?;
    }
    crowd.write(report)?;
    writeln!(report, "<details><summary>The commands of the last request of each row, in order</summary>\n")?;
    for (label, row) in rows.iter().filter(|(label, _)| !label.contains("before the model")) {
        writeln!(report, "{label}:\n")?;
        for (n, line) in row.sample.iter().enumerate() {
            writeln!(report, "{}. {}", n + 1, code(line))?;
        }
        writeln!(report)?;
    }
    writeln!(report, "</details>\n")?;
    Ok(Outcome {
        first_words: percentile(&before_model.sorted_latencies(), 50),
        crowd_statements_per_second: crowd.rate(crowd.counts.statements),
        turn_before_model: before_model.most(),
        turn_in_all: (streamed.usual(), streamed.most()),
        login: logins.most(),
        register: registrations.most(),
        session: sessions.most(),
    })
}

/// The environment over the fixture's: the database through the proxy, the model, the limits.
fn deployed<'a>(database: &'a str, model: &'a str) -> [(&'static str, &'a str); 9] {
    [
        ("DATABASE_URL", database),
        ("OPENAI_BASE_URL", model),
        ("CHAT_QUOTA_USER", "100000/1d"),
        ("CHAT_MAX_CONCURRENT_STREAMS", "2"),
        ("RATE_LIMIT_LOGIN_IP", "1000/5m"),
        ("RATE_LIMIT_LOGIN_ACCOUNT", "1000/5m"),
        ("RATE_LIMIT_REGISTER_IP", "1000/1h"),
        ("CHAT_TITLE_MODEL", "off"),
        ("RUST_LOG", "error"),
    ]
}

/// The counts and latencies of one row's requests, and the commands of the last one.
#[derive(Default)]
struct Row {
    counts: Vec<Counts>,
    latencies: Vec<Duration>,
    sample: Vec<String>,
}

impl Row {
    fn cells(&self) -> String {
        let span = |of: fn(&Counts) -> u64| {
            let (low, high) = (self.counts.iter().map(of).min(), self.counts.iter().map(of).max());
            match (low, high) {
                (Some(low), Some(high)) if low < high => format!("{low}–{high}"),
                (Some(low), _) => low.to_string(),
                _ => "–".into(),
            }
        };
        let latencies = self.sorted_latencies();
        format!(
            "{} | {} | {} | {} | {}",
            span(|c| c.statements),
            span(|c| c.transaction),
            span(|c| c.round_trips),
            ms(percentile(&latencies, 50)),
            ms(percentile(&latencies, 99))
        )
    }

    fn most(&self) -> u64 {
        self.counts.iter().map(|counts| counts.statements).max().unwrap_or_default()
    }

    /// The median count.
    fn usual(&self) -> u64 {
        let mut counts: Vec<u64> = self.counts.iter().map(|counts| counts.statements).collect();
        counts.sort_unstable();
        counts.get(counts.len() / 2).copied().unwrap_or_default()
    }

    fn sorted_latencies(&self) -> Vec<Duration> {
        let mut latencies = self.latencies.clone();
        latencies.sort();
        latencies
    }
}

/// `count` requests one at a time, made by `request(i)`, each charged the change of the
/// counters from quiet before it to quiet after it.
async fn each(
    proxy: &Proxy,
    count: usize,
    mut request: impl AsyncFnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<Row> {
    let mut row = Row::default();
    let mut before = proxy.quiet().await;
    for i in 0..count {
        proxy.take_log();
        let started = Instant::now();
        request(i).await?;
        row.latencies.push(started.elapsed());
        let after = proxy.quiet().await;
        row.counts.push(after - before);
        row.sample = proxy.take_log().into_iter().map(|(_, line)| line).collect();
        before = after;
    }
    Ok(row)
}

/// [`REQUESTS`] streamed turns one at a time: the counts at the first `delta`, and in all.
async fn streamed_turns(
    proxy: &Proxy,
    client: &HttpClient,
    url: &str,
    token: &str,
    conversations: &[String],
) -> anyhow::Result<(Row, Row)> {
    let (mut before_model, mut in_all) = (Row::default(), Row::default());
    for i in 0..REQUESTS {
        let before = proxy.quiet().await;
        proxy.take_log();
        let body = turn(Some(&conversations[i / TURNS_PER_CONVERSATION]), true);
        let started = Instant::now();
        let streamed = stream_turn(client, url, token, &body, proxy).await?;
        tokio::time::sleep(SETTLE).await;
        let after = proxy.quiet().await;
        before_model.counts.push(streamed.at_first - before);
        before_model.latencies.push(streamed.first - started);
        in_all.counts.push(after - before);
        in_all.latencies.push(streamed.end - started);
        in_all.sample = proxy.take_log().into_iter().map(|(_, line)| line).collect();
    }
    Ok((before_model, in_all))
}

/// A streamed reply as the client saw it: when its first words (`delta` events) came and its
/// last, with the proxy's counters at each moment, and when the stream ended (after the save).
struct Streamed {
    first: Instant,
    at_first: Counts,
    last: Instant,
    at_last: Counts,
    end: Instant,
}

async fn stream_turn(
    client: &HttpClient,
    url: &str,
    token: &str,
    body: &Value,
    proxy: &Proxy,
) -> anyhow::Result<Streamed> {
    let response = client.request(request(Method::POST, url, Some(token), Some(body.to_string()))?).await?;
    if response.status() != StatusCode::OK {
        bail!("{url} answered {}", response.status());
    }
    let mut body = response.into_body();
    // What came since the last `delta` event (a marker may be cut between frames), and the
    // beginning of the stream, for the error when no words came.
    let (mut recent, mut beginning) = (Vec::new(), String::new());
    let (mut first, mut last) = (None, None);
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else { continue };
        if beginning.len() < 2000 {
            beginning.push_str(&String::from_utf8_lossy(data));
        }
        recent.extend_from_slice(data);
        let marker = [&b"event: delta"[..], b"event:delta"].iter().find_map(|marker| {
            recent.windows(marker.len()).rposition(|window| window == *marker).map(|at| at + marker.len())
        });
        if let Some(after) = marker {
            let now = (Instant::now(), proxy.snapshot());
            first.get_or_insert(now);
            last = Some(now);
            recent.drain(..after);
        }
    }
    let end = Instant::now();
    let ((first, at_first), (last, at_last)) = first.zip(last).ok_or_else(|| anyhow!("no delta: {beginning}"))?;
    Ok(Streamed { first, at_first, last, at_last, end })
}

/// p50 of 100 `SELECT 1`s on one connection to `url`, held by a transaction: a pool pings a
/// connection as it takes it back (sqlx), which a query per checkout would also wait for.
async fn select_one(url: &str) -> anyhow::Result<Duration> {
    let mut options = ConnectOptions::new(url.to_string());
    options.max_connections(1).test_before_acquire(false).sqlx_logging(false);
    let db = Database::connect(options).await?;
    let connection = db.begin().await?;
    let statement = Statement::from_string(DatabaseBackend::MySql, "SELECT 1");
    connection.query_one_raw(statement.clone()).await?;
    let mut times = Vec::with_capacity(100);
    for _ in 0..100 {
        let started = Instant::now();
        connection.query_one_raw(statement.clone()).await?;
        times.push(started.elapsed());
    }
    connection.commit().await?;
    db.close().await?;
    times.sort();
    Ok(percentile(&times, 50))
}

/// A chat turn's body, streamed or not, in `conversation` or a new one.
fn turn(conversation: Option<&str>, stream: bool) -> Value {
    let mut body = json!({"type": "oracle", "locale": "en", "stream": stream,
        "messages": [{"role": "user", "content": "What does the hexagram say about patience?"}]});
    if let Some(conversation) = conversation {
        body["conversationId"] = json!(conversation);
    }
    body
}

/// A conversation with one turn (the first turn writes its title: not one of those measured).
async fn new_conversation(client: &HttpClient, url: &str, token: &str) -> anyhow::Result<String> {
    let reply = call(client, Method::POST, url, Some(token), Some(&turn(None, false)), StatusCode::OK).await?;
    let reply: Value = serde_json::from_slice(&reply)?;
    reply["conversationId"].as_str().map(str::to_string).context("no conversationId")
}

/// Registers `email` through `server`; returns its token.
async fn register_user(client: &HttpClient, server: &Server, email: &str) -> anyhow::Result<String> {
    let body = json!({"email": email, "password": PASSWORD});
    let reply =
        call(client, Method::POST, &server.url("/api/auth/register"), None, Some(&body), StatusCode::CREATED).await?;
    let reply: Value = serde_json::from_slice(&reply)?;
    reply["token"].as_str().map(str::to_string).context("no token")
}

/// A command as inline code (its SQL quotes names with backticks).
fn code(line: &str) -> String {
    format!("`` {line} ``")
}

async fn call(
    client: &HttpClient,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    expected: StatusCode,
) -> anyhow::Result<Bytes> {
    let (status, reply) = send(client, method, url, token, body.map(Value::to_string)).await?;
    if status != expected {
        bail!("{url} answered {status}: {}", String::from_utf8_lossy(&reply));
    }
    Ok(reply)
}
