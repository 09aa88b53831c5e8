//! The search and dashboard figures of `make bench`, on real sizes: a messages table of
//! 1,000,000 rows (50,000 conversations of 20 messages over a year, 2,001 users), one of whose
//! users has 10,000 messages, on SQLite and on MariaDB. The rows are generated here in bulk (as
//! the app stores them: ids, timestamps, the tallies the migration's backfill writes), then the
//! real `chat` and `admin-export` binaries answer `GET /api/chat/search` and `GET /api/admin/usage`.

use std::{
    fmt::Write as _,
    path::Path,
    time::{Duration, Instant},
};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};
use test_support::{Backend, TestDb, burst::call};

use super::{Fixture, Server, ms, percentile};

const MESSAGES: usize = 1_000_000;
const PER_CONVERSATION: usize = 20;
const USERS: usize = 2_000;
/// Every 100th conversation is the searcher's: 500 conversations, 10,000 messages.
const SEARCHER_EVERY: usize = 100;
const FEEDBACK_EVERY: usize = 50;
const ROWS_PER_INSERT: usize = 2_000;
const RUNS: usize = 30;

/// Words the generated messages are made of (Chinese and English, as the assistants' are).
const WORDS: [&str; 24] = [
    "最近", "睡眠", "不好", "舌苔", "偏白", "手脚", "冰凉", "气血", "调理", "饮食", "清淡", "卦象", "吉凶", "事业",
    "the", "hexagram", "speaks", "of", "patience", "and", "change", "your", "energy", "balance",
];

/// The searches timed: `(what, query)`.
const SEARCHES: [(&str, &str); 4] = [
    ("Chinese, common (失眠, in ~1 message in 30)", "失眠"),
    ("English, any case (HEXAGRAM)", "HEXAGRAM"),
    ("one Chinese character (气)", "气"),
    ("not found anywhere (every message of the user read)", "zzqx"),
];

/// p50s of the slowest search and of the slowest dashboard range, over both databases.
pub struct Worst {
    pub search: Duration,
    pub dashboard: Duration,
}

pub async fn search_and_dashboard(bin: &Path, fixture: &Fixture, report: &mut String) -> anyhow::Result<Worst> {
    writeln!(report, "## Search and the usage dashboard on 1,000,000 messages\n")?;
    writeln!(
        report,
        "{MESSAGES} messages in {} conversations over the last 365 days, {USERS} users plus the searcher, who has\n\
         {} messages; a reply in {FEEDBACK_EVERY} has feedback. Generated in bulk, tallied by the usage migration's\n\
         backfill. Each figure: {RUNS} requests one after another to the release binary (HTTP included).\n\
         Search walks the caller's conversations newest first (`idx_conversations_user_updated`) and tests\n\
         their messages (`idx_messages_conversation_created`) with `LIKE`, stopping at a page of 20; the\n\
         dashboard sums the hourly tallies (`usage_hours`, by its primary key on the hour).\n",
        MESSAGES / PER_CONVERSATION,
        MESSAGES / SEARCHER_EVERY,
    )?;
    let mut worst = Worst { search: Duration::ZERO, dashboard: Duration::ZERO };
    for backend in [Backend::Sqlite, Backend::MySql] {
        let database = TestDb::migrated(backend).await;
        let db = Database::connect(&database.url).await?;
        let url = database.url.clone();
        let env = [("DATABASE_URL", url.as_str()), ("ADMIN_EMAILS", "admin@example.com")];
        let register = Server::start_with(bin, "auth-register", fixture, &env).await?;
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        register.ready(&client, "/api/health", None).await?;
        let searcher = token(register.port, "searcher@example.com").await?;
        let admin = token(register.port, "admin@example.com").await?;
        drop(register);
        let searcher_id = user_id(&db, "searcher@example.com").await?;

        let seeded = Instant::now();
        seed(&db, &searcher_id).await?;
        let seeding = seeded.elapsed();
        let name = match backend {
            Backend::Sqlite => "SQLite (tmpfs)",
            Backend::MySql => "MariaDB 10.11 (local, default settings)",
        };
        writeln!(report, "### {name}\n\nGenerated and tallied in {:.0} s.\n", seeding.as_secs_f64())?;
        writeln!(report, "| request | p50 | p90 | max | hits / periods |\n|---|---|---|---|---|")?;

        let chat = Server::start_with(bin, "chat", fixture, &env).await?;
        chat.ready(&client, "/api/chat/conversations", Some(&searcher)).await?;
        for (label, query) in SEARCHES {
            let path = format!("/api/chat/search?q={}", encode(query));
            let (times, body) = timed(chat.port, &path, &searcher).await?;
            let hits = body["hits"].as_array().map_or(0, Vec::len);
            let p50 = percentile(&times, 50);
            worst.search = worst.search.max(p50);
            row(report, &format!("search: {label}"), &times, &hits.to_string())?;
        }
        drop(chat);

        let admin_export = Server::start_with(bin, "admin-export", fixture, &env).await?;
        admin_export.ready(&client, "/api/admin/users", Some(&admin)).await?;
        let today = Utc::now().date_naive();
        let ranges = [
            ("usage: last 30 days by day (the default)", String::new()),
            ("usage: last 90 days by day", format!("?from={}", today - TimeDelta::days(89))),
            ("usage: last 365 days by week", format!("?from={}", today - TimeDelta::days(364))),
        ];
        for (label, query) in ranges {
            let (times, body) = timed(admin_export.port, &format!("/api/admin/usage{query}"), &admin).await?;
            anyhow::ensure!(body["totals"]["messages"].as_i64().unwrap_or(0) > 0, "an empty report: {body}");
            let periods = body["periods"].as_array().map_or(0, Vec::len);
            worst.dashboard = worst.dashboard.max(percentile(&times, 50));
            row(report, label, &times, &periods.to_string())?;
        }
        writeln!(report)?;
        drop(admin_export);
        db.close().await?;
    }
    Ok(worst)
}

fn row(report: &mut String, label: &str, times: &[Duration], count: &str) -> anyhow::Result<()> {
    let max = times.last().copied().unwrap_or_default();
    writeln!(
        report,
        "| {label} | {} | {} | {} | {count} |",
        ms(percentile(times, 50)),
        ms(percentile(times, 90)),
        ms(max)
    )?;
    Ok(())
}

/// `RUNS` GETs of `path`, sorted, and the last answer.
async fn timed(port: u16, path: &str, token: &str) -> anyhow::Result<(Vec<Duration>, serde_json::Value)> {
    let authorization = format!("Bearer {token}");
    let mut times = Vec::with_capacity(RUNS);
    let mut last = serde_json::Value::Null;
    for _ in 0..RUNS {
        let started = Instant::now();
        let reply = call(port, "GET", path, &[("authorization", &authorization)], b"").await;
        times.push(started.elapsed());
        anyhow::ensure!(reply.status == 200, "{path}: {} {}", reply.status, reply.text());
        last = reply.json();
    }
    times.sort();
    Ok((times, last))
}

async fn token(port: u16, email: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({"email": email, "password": test_support::PASSWORD});
    let reply = test_support::burst::call_json(port, "POST", "/api/auth/register", &[], &body).await;
    anyhow::ensure!(reply.status == 201, "register {email}: {} {}", reply.status, reply.text());
    Ok(reply.json()["token"].as_str().unwrap_or_default().to_string())
}

async fn user_id(db: &DatabaseConnection, email: &str) -> anyhow::Result<String> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM users WHERE email = '{email}'"),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("{email} is not registered"))?;
    Ok(row.try_get("", "id")?)
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A timestamp literal as the app stores it on `backend`.
fn at(backend: DatabaseBackend, instant: DateTime<Utc>) -> String {
    match backend {
        DatabaseBackend::MySql => instant.format("'%Y-%m-%d %H:%M:%S%.6f'").to_string(),
        _ => format!("'{}'", instant.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
    }
}

/// Deterministic pseudo-random numbers (the same tables on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below
    }
}

/// Users, conversations, messages, feedback and their tallies, in multi-row INSERTs.
async fn seed(db: &DatabaseConnection, searcher_id: &str) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    let start = Utc::now() - TimeDelta::days(365);
    let step = TimeDelta::microseconds(365 * 24 * 3600 * 1_000_000 / MESSAGES as i64);
    let mut random = Lcg(17);
    let mut insert = Batches::new(db);

    for user in 0..USERS {
        let created = at(backend, start + TimeDelta::hours(user as i64 * 4));
        insert
            .row(
                "users (id, email, password_hash, role, created_at, updated_at)",
                format!("('u{user:06}', 'user{user}@bench.example', 'x', 'USER', {created}, {created})"),
            )
            .await?;
    }
    insert.flush().await?;
    for conversation in 0..MESSAGES / PER_CONVERSATION {
        let owner = owner(conversation, searcher_id);
        let first = start + step * (conversation * PER_CONVERSATION) as i32;
        let last = at(backend, first + step * PER_CONVERSATION as i32);
        let kind = kind(conversation);
        let title = format!("{} {} {conversation}", WORDS[random.next(WORDS.len())], WORDS[random.next(WORDS.len())]);
        insert
            .row(
                "conversations (id, user_id, type, title, created_at, updated_at, title_source)",
                format!(
                    "('c{conversation:07}', '{owner}', '{kind}', '{title}', {}, {last}, 'message')",
                    at(backend, first)
                ),
            )
            .await?;
    }
    insert.flush().await?;
    for message in 0..MESSAGES {
        let conversation = message / PER_CONVERSATION;
        let reply = message % 2 == 1;
        let mut words: Vec<&str> = (0..8 + random.next(24)).map(|_| WORDS[random.next(WORDS.len())]).collect();
        if random.next(30) == 0 {
            let at = random.next(words.len());
            words.insert(at, "失眠");
        }
        let content = words.join(if random.next(2) == 0 { "" } else { " " });
        let parent = if message % PER_CONVERSATION == 0 { message } else { message - 1 };
        let (role, tokens) = if reply { ("ASSISTANT", "180, 60") } else { ("USER", "NULL, NULL") };
        let created = at(backend, start + step * message as i32);
        insert
            .row(
                "messages (id, conversation_id, role, content, prompt_tokens, completion_tokens, created_at, parent_id, stopped)",
                format!(
                    "('m{message:07}', 'c{conversation:07}', '{role}', '{content}', {tokens}, {created}, 'm{parent:07}', {})",
                    if reply && message % 97 == 1 { "TRUE" } else { "FALSE" }
                ),
            )
            .await?;
        if reply && message % (2 * FEEDBACK_EVERY) == 1 {
            let (owner, kind) = (owner(conversation, searcher_id), kind(conversation));
            let rating = if random.next(4) == 0 { "down" } else { "up" };
            insert
                .row(
                    "message_feedback (id, message_id, user_id, assistant, rating, comment, created_at, updated_at)",
                    format!("('f{message:07}', 'm{message:07}', '{owner}', '{kind}', '{rating}', NULL, {created}, {created})"),
                )
                .await?;
        }
    }
    insert.flush().await?;
    db.execute_unprepared(&migration::tally_messages_sql(backend, None)).await?;
    if backend == DatabaseBackend::MySql {
        db.execute_unprepared("ANALYZE TABLE users, conversations, messages, message_feedback, usage_hours").await?;
    } else {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

/// Who has conversation number `conversation`.
fn owner(conversation: usize, searcher_id: &str) -> String {
    match conversation % SEARCHER_EVERY {
        0 => searcher_id.to_string(),
        _ => format!("u{:06}", conversation % USERS),
    }
}

fn kind(conversation: usize) -> &'static str {
    if conversation.is_multiple_of(2) { "ORACLE" } else { "TCM" }
}

/// Rows gathered into multi-row INSERTs of one table at a time, each batch its own statement.
struct Batches<'a> {
    db: &'a DatabaseConnection,
    table: String,
    values: Vec<String>,
}

impl<'a> Batches<'a> {
    fn new(db: &'a DatabaseConnection) -> Self {
        Self { db, table: String::new(), values: Vec::new() }
    }

    async fn row(&mut self, table: &str, values: String) -> anyhow::Result<()> {
        if self.table != table || self.values.len() >= ROWS_PER_INSERT {
            self.flush().await?;
            self.table = table.to_string();
        }
        self.values.push(values);
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.values.is_empty() {
            let sql = format!("INSERT INTO {} VALUES {}", self.table, self.values.join(", "));
            self.db.execute_unprepared(&sql).await?;
            self.values.clear();
        }
        Ok(())
    }
}
