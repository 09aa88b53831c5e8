//! `appctl import --from <old app's Prisma SQLite file>`, run as the real binary against a
//! migrated SQLite file and a MariaDB database that the real router is using.
//!
//! The source is built the way the old app's database was: the DDL Prisma's migration engine
//! generates for the seed's schema (design doc, section 2.3) and rows as Prisma Client writes
//! them: cuid ids, DateTime values as INTEGER milliseconds since the Unix epoch, bcryptjs hashes.
//! A few rows look as if another tool had written them (ISO 8601 and `CURRENT_TIMESTAMP` text,
//! orphans written with foreign keys off).

mod common;

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
};

use app_core::entities::{
    AuditLog, Conversation, ConversationKind, Message, MessageRole, Role, Session, TitleSource, User, audit_log,
    conversation, message, session, user,
};
use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};
use common::{appctl, assert_success, stderr, stdout};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sqlx::{
        self, SqlitePool,
        sqlite::{SqliteConnectOptions, SqlitePoolOptions},
    },
};
use test_support::{TestApp, TestDb, TestResponse, both_databases, json};

/// What `prisma migrate dev` writes into `migration.sql` for the seed's schema on SQLite (the
/// seed omits the back-relation fields, `User.sessions` and `User.conversations`, that Prisma
/// requires; they change no SQL). DateTime is `DATETIME`, String is `TEXT`, `@default(now())`
/// is `DEFAULT CURRENT_TIMESTAMP`, `@updatedAt` has no default (Prisma Client fills it in).
const PRISMA_MIGRATION: &str = r#"
-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "email" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'USER',
    "bannedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Session" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "sessionToken" TEXT NOT NULL,
    "expires" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Conversation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Conversation_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Message" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "conversationId" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Message_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AuditLog" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "actorId" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "ip" TEXT,
    "userAgent" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- CreateIndex
CREATE UNIQUE INDEX "Session_sessionToken_key" ON "Session"("sessionToken");

-- CreateIndex
CREATE INDEX "Session_userId_idx" ON "Session"("userId");

-- CreateIndex
CREATE INDEX "Conversation_userId_idx" ON "Conversation"("userId");

-- CreateIndex
CREATE INDEX "Message_conversationId_idx" ON "Message"("conversationId");

-- CreateIndex
CREATE INDEX "AuditLog_actorId_idx" ON "AuditLog"("actorId");
"#;

/// Prisma's own bookkeeping table, present in every migrated database (the import ignores it).
const PRISMA_MIGRATIONS_TABLE: &str = r#"
CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
);
INSERT INTO "_prisma_migrations" VALUES
    ('0c6f1a2e-6c4b-4d0e-9a57-3f1d2b8e7c11', 'e3b0c44298fc1c149afbf4c8996fb924', 1700000000000,
     '20231114221320_init', NULL, NULL, 1700000000000, 1);
"#;

// bcryptjs 2.4.3 hashes, made once with
//   npm install bcryptjs@2 && node -e 'const b = require("bcryptjs"); console.log(b.hashSync("alice-password-1", 4))'
// (cost 4 keeps the tests fast; LEGACY_HASH is the app's real cost 10).
const ALICE_PASSWORD: &str = "alice-password-1";
const ALICE_HASH: &str = "$2a$04$Bwecy9Ae1B7WCN3ihj1Ii.r8CfLTPLyrD8S0F9lc9Dxo44VCQlQ/q";
const BOB_PASSWORD: &str = "bob-password-2";
const BOB_HASH: &str = "$2a$04$L2WntZSl/om9ARe74OL/lOEV7fo2qFmyYQWdKSnlgW2DAZ5gtvS7q";
const CAROL_PASSWORD: &str = "carol-password-3";
const CAROL_HASH: &str = "$2a$04$YhTsPJd.bL2ZZaACG8b0bOhhUyLBUG4Hn5.h/scsL2XGDmkCTWVj.";
const DAVE_HASH: &str = "$2a$04$HhQUC3rroKloafFSY.v9YexAG7WBamTlZx/bmChLjQH01r9FqtfrW";
const ERIN_HASH: &str = "$2a$04$KmyCpVsq/rBtYbeQSPSY0.O0j9jj1M5pwve0BtyXQramms1cYO9eK";
const FRANK_HASH: &str = "$2a$04$pJ0lQ5r75VYKZLkeQd8dx.KFUicJ7TXgL/JYm.b.Ml3dYLFAJL3Pu";
/// "password123", `bcrypt.hashSync("password123", 10)` with bcryptjs 2.4.
const LEGACY_PASSWORD: &str = "password123";
const LEGACY_HASH: &str = "$2a$10$EnDzkak2bj/Ad3dpbGrYrOWR/XReto6GRAT8lL3lbCLgWgNFE.toW";

// cuid() ids (Prisma's `@default(cuid())`, made with the `cuid` npm package, v1 format).
const ALICE: &str = "cmwvp9kda0000au7db8zb1x3q";
const BOB: &str = "cmwvp9kdc0001au7d43x46yrf";
const CAROL: &str = "cmwvp9kdc0002au7d7rov9w9v";
const DAVE: &str = "cmwvp9kdc0003au7d6prk3y72";
const ERIN: &str = "cmwvp9kdc0004au7d415whucm";
const FRANK: &str = "cmwvp9kdc0005au7dch92ej84";
const LEGACY: &str = "cmwvp9kdc0006au7d8kp9gulp";
const GONE_USER: &str = "cmwvp0000000zau7dgone0000";

const S_ALICE: &str = "cmwvp9kdc0007au7d80139nt0";
const S_ALICE_EXPIRED: &str = "cmwvp9kdc0008au7dhfxe9vs9";
const S_CAROL: &str = "cmwvp9kdc0009au7d2opc1acy";
const S_ORPHAN: &str = "cmwvp9kdc000aau7dg7av60ub";
const S_FRANK: &str = "cmwvp9kdc000bau7d03zt1fxq";
const S_FOREVER: &str = "cmwvpjp1w00046h7dhg6u9j7b";

const C_ORACLE: &str = "cmwvp9kdc000cau7d7g0f0y0z";
const C_TCM: &str = "cmwvp9kdc000dau7d5lkgglw7";
const C_BAD_TYPE: &str = "cmwvp9kdc000eau7d9ao1b8zp";
const C_CAROL: &str = "cmwvp9kdc000fau7d48ql3est";
const C_BULK: &str = "cmwvp9kdd000gau7d55ek8g7c";
const GONE_CONVERSATION: &str = "cmwvp0000001zau7dgone0000";

const M_QUESTION: &str = "cmwvp9kdd000hau7ddqwb7v3g";
const M_ANSWER: &str = "cmwvp9kdd000iau7d0mp6a489";
const M_SYSTEM: &str = "cmwvp9kdd000jau7d017ke33v";
const M_CAROL: &str = "cmwvp9kdd000kau7d2l0j1vji";
const M_BAD_TYPE: &str = "cmwvp9kdd000lau7d752aer4p";
const M_ORPHAN: &str = "cmwvp9kdd000mau7dely2havg";
/// Enough messages for three pages of 500.
const BULK_MESSAGES: usize = 1200;

const A_LOGIN: &str = "cmwvpjp1u00006h7debw1gtsk";
const A_GONE_ACTOR: &str = "cmwvpjp1w00016h7d91d2a5hx";
const A_NO_ACTOR: &str = "cmwvpjp1w00026h7dfh1482l9";
const A_BAD_TIME: &str = "cmwvpjp1w00036h7dhyzjgmam";

/// 2037-01-01T00:00:00Z: sessions that are still valid.
const FAR_FUTURE_MS: i64 = 2_114_380_800_000;
/// 2100-01-01T00:00:00Z: past what the app can store on MySQL (TIMESTAMP parameters end in 2038).
const BEYOND_2038_MS: i64 = 4_102_444_800_000;
const TOKEN_ALICE: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// Messages and replies in the usage tallies.
async fn tallied(app: &TestApp) -> i64 {
    use app_core::entities::UsageHour;
    UsageHour::find().all(&app.db).await.unwrap().iter().map(|row| row.user_messages + row.replies).sum()
}

fn ms(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).expect("valid milliseconds")
}

fn bulk_id(i: usize) -> String {
    format!("cmwvqbulk{i:016}")
}

/// A Prisma SQLite file in the temp directory, removed when dropped.
struct PrismaFile {
    path: PathBuf,
}

impl PrismaFile {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("prisma-{}-{nanos}-{}.db", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        Self { path: std::env::temp_dir().join(name) }
    }

    /// A connection as Prisma has one: foreign keys enforced.
    async fn open(&self) -> SqlitePool {
        let options = SqliteConnectOptions::new().filename(&self.path).create_if_missing(true);
        SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("open the Prisma file")
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for PrismaFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_user(
    pool: &SqlitePool,
    id: &str,
    email: &str,
    hash: &str,
    role: &str,
    banned_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
) {
    sqlx::query(
        r#"INSERT INTO "User" ("id", "email", "passwordHash", "role", "bannedAt", "createdAt", "updatedAt")
           VALUES (?, ?, ?, ?, ?, ?, ?)"#,
    )
    .bind(id)
    .bind(email)
    .bind(hash)
    .bind(role)
    .bind(banned_at)
    .bind(created_at)
    .bind(updated_at)
    .execute(pool)
    .await
    .expect("insert User");
}

async fn insert_session(pool: &SqlitePool, id: &str, user_id: &str, token: &str, expires: i64, created_at: i64) {
    sqlx::query(
        r#"INSERT INTO "Session" ("id", "userId", "sessionToken", "expires", "createdAt") VALUES (?, ?, ?, ?, ?)"#,
    )
    .bind(id)
    .bind(user_id)
    .bind(token)
    .bind(expires)
    .bind(created_at)
    .execute(pool)
    .await
    .expect("insert Session");
}

async fn insert_conversation(pool: &SqlitePool, id: &str, user_id: &str, kind: &str, title: &str, at: (i64, i64)) {
    sqlx::query(
        r#"INSERT INTO "Conversation" ("id", "userId", "type", "title", "createdAt", "updatedAt")
           VALUES (?, ?, ?, ?, ?, ?)"#,
    )
    .bind(id)
    .bind(user_id)
    .bind(kind)
    .bind(title)
    .bind(at.0)
    .bind(at.1)
    .execute(pool)
    .await
    .expect("insert Conversation");
}

async fn insert_message<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Sqlite>,
    id: &str,
    conversation_id: &str,
    role: &str,
    content: &str,
    created_at: i64,
) {
    sqlx::query(
        r#"INSERT INTO "Message" ("id", "conversationId", "role", "content", "createdAt") VALUES (?, ?, ?, ?, ?)"#,
    )
    .bind(id)
    .bind(conversation_id)
    .bind(role)
    .bind(content)
    .bind(created_at)
    .execute(conn)
    .await
    .expect("insert Message");
}

#[allow(clippy::too_many_arguments)]
async fn insert_audit(
    pool: &SqlitePool,
    id: &str,
    actor_id: &str,
    action: &str,
    message: &str,
    ip: Option<&str>,
    user_agent: Option<&str>,
    created_at: i64,
) {
    sqlx::query(
        r#"INSERT INTO "AuditLog" ("id", "actorId", "action", "message", "ip", "userAgent", "createdAt")
           VALUES (?, ?, ?, ?, ?, ?, ?)"#,
    )
    .bind(id)
    .bind(actor_id)
    .bind(action)
    .bind(message)
    .bind(ip)
    .bind(user_agent)
    .bind(created_at)
    .execute(pool)
    .await
    .expect("insert AuditLog");
}

const ORACLE_TITLE: &str = "易经问卦：今年的事业";
const QUESTION: &str = "我想问问今年的事业运势 🙏";
const ANSWER: &str = "乾卦 ☰ — 元亨利贞。\n\nThe Creative: sublime success, furthering through perseverance.";
const UA: &str = concat!(
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) ",
    "Version/17.1 Safari/605.1.15"
);

fn long_tcm_title() -> String {
    "舌苔厚腻".repeat(75) // 300 characters: more than our 255.
}

/// The old app's database with every case the import has to handle.
async fn build_prisma_database(file: &PrismaFile) {
    let pool = file.open().await;
    sqlx::raw_sql(PRISMA_MIGRATION).execute(&pool).await.expect("Prisma's migration applies");
    sqlx::raw_sql(PRISMA_MIGRATIONS_TABLE).execute(&pool).await.expect("_prisma_migrations");

    // Users. Alice's email was stored as typed; Carol's differs only in case and spaces (SQLite's
    // unique index is case-sensitive, so the old app let both in); Bob's role is lower-case.
    insert_user(&pool, ALICE, "  Alice@Example.COM ", ALICE_HASH, "USER", None, 1_700_000_000_123, 1_700_000_100_456)
        .await;
    insert_user(
        &pool,
        BOB,
        "bob@example.com",
        BOB_HASH,
        "admin",
        Some(1_700_000_500_789),
        1_700_000_001_000,
        1_700_000_500_789,
    )
    .await;
    insert_user(&pool, CAROL, "ALICE@example.com ", CAROL_HASH, "USER", None, 1_700_000_002_000, 1_700_000_002_000)
        .await;
    insert_user(&pool, DAVE, "dave@example.com", DAVE_HASH, "superuser", None, 1_700_000_003_000, 1_700_000_003_000)
        .await;
    insert_user(&pool, ERIN, "Taken@Example.com", ERIN_HASH, "USER", None, 1_700_000_004_000, 1_700_000_004_000).await;
    insert_user(&pool, FRANK, "frank@example.com", FRANK_HASH, "USER", None, 1_700_000_005_000, 1_700_000_005_000)
        .await;
    insert_user(&pool, LEGACY, "legacy@example.com", LEGACY_HASH, "USER", None, 0, 0).await;
    // Written by another tool: ISO 8601 text and SQLite's CURRENT_TIMESTAMP format.
    sqlx::query(r#"UPDATE "User" SET "createdAt" = ?, "updatedAt" = ? WHERE "id" = ?"#)
        .bind("2023-11-14T09:30:00.123Z")
        .bind("2023-11-14 09:30:00")
        .bind(LEGACY)
        .execute(&pool)
        .await
        .unwrap();

    insert_session(&pool, S_ALICE, ALICE, TOKEN_ALICE, FAR_FUTURE_MS, 1_700_000_200_000).await;
    insert_session(&pool, S_ALICE_EXPIRED, ALICE, "expired-token", 1_700_003_600_000, 1_700_000_000_200).await;
    insert_session(&pool, S_CAROL, CAROL, "carol-token", FAR_FUTURE_MS, 1_700_000_002_100).await;
    insert_session(&pool, S_FRANK, FRANK, "frank-token", FAR_FUTURE_MS, 1_700_000_005_100).await;
    insert_session(&pool, S_FOREVER, ALICE, "forever-token", BEYOND_2038_MS, 1_700_000_000_300).await;

    insert_conversation(&pool, C_ORACLE, ALICE, "ORACLE", ORACLE_TITLE, (1_700_000_300_000, 1_700_000_301_000)).await;
    insert_conversation(&pool, C_TCM, ALICE, "tcm", &long_tcm_title(), (1_700_000_400_000, 1_700_000_400_000)).await;
    insert_conversation(&pool, C_BAD_TYPE, BOB, "ASTROLOGY", "星座", (1_700_000_450_000, 1_700_000_450_000)).await;
    insert_conversation(&pool, C_CAROL, CAROL, "ORACLE", "Carol's", (1_700_000_460_000, 1_700_000_460_000)).await;
    insert_conversation(&pool, C_BULK, LEGACY, "ORACLE", "Long talk", (1_700_001_000_000, 1_700_002_199_000)).await;

    insert_message(&pool, M_QUESTION, C_ORACLE, "USER", QUESTION, 1_700_000_300_001).await;
    insert_message(&pool, M_ANSWER, C_ORACLE, "assistant", ANSWER, 1_700_000_300_999).await;
    insert_message(&pool, M_SYSTEM, C_ORACLE, "SYSTEM", "You are an oracle.", 1_700_000_300_000).await;
    insert_message(&pool, M_CAROL, C_CAROL, "USER", "hello", 1_700_000_460_001).await;
    insert_message(&pool, M_BAD_TYPE, C_BAD_TYPE, "USER", "我的星座", 1_700_000_450_001).await;
    let mut tx = pool.begin().await.unwrap();
    for i in 0..BULK_MESSAGES {
        let role = if i % 2 == 0 { "USER" } else { "ASSISTANT" };
        let at = 1_700_001_000_000 + i as i64 * 1_000;
        insert_message(&mut *tx, &bulk_id(i), C_BULK, role, &format!("message {i}"), at).await;
    }
    tx.commit().await.unwrap();

    insert_audit(
        &pool,
        A_LOGIN,
        ALICE,
        "LOGIN",
        "login alice@example.com",
        Some("203.0.113.7"),
        Some(UA),
        1_700_000_200_001,
    )
    .await;
    insert_audit(&pool, A_GONE_ACTOR, GONE_USER, "DELETE_ACCOUNT", "account deleted", None, None, 1_700_000_600_000)
        .await;
    insert_audit(
        &pool,
        A_NO_ACTOR,
        "",
        "LOGIN_FAILED",
        "failed login for nobody@example.com",
        None,
        None,
        1_700_000_700_000,
    )
    .await;
    insert_audit(&pool, A_BAD_TIME, ALICE, "LOGOUT", "logout", None, None, 0).await;
    sqlx::query(r#"UPDATE "AuditLog" SET "createdAt" = 'yesterday' WHERE "id" = ?"#)
        .bind(A_BAD_TIME)
        .execute(&pool)
        .await
        .unwrap();

    // Orphans can only exist if something wrote with foreign keys off (a manual fix, a copy).
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&pool).await.unwrap();
    insert_session(&pool, S_ORPHAN, GONE_USER, "orphan-token", FAR_FUTURE_MS, 1_700_000_000_000).await;
    insert_message(&pool, M_ORPHAN, GONE_CONVERSATION, "USER", "lost", 1_700_000_000_000).await;
    sqlx::query("PRAGMA foreign_keys = ON").execute(&pool).await.unwrap();

    // The file really stores DateTime the way Prisma does.
    let kinds: Vec<(String, String)> = sqlx::query_as(
        r#"SELECT typeof("createdAt"), typeof("bannedAt") FROM "User" WHERE "id" IN (?, ?) ORDER BY "id""#,
    )
    .bind(ALICE)
    .bind(LEGACY)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(kinds, [("integer".to_string(), "null".to_string()), ("text".to_string(), "null".to_string())]);
    pool.close().await;
}

#[track_caller]
fn assert_lines(out: &str, expected: &[&str]) {
    for line in expected {
        assert!(out.lines().any(|l| l.trim() == *line), "missing line {line:?} in:\n{out}");
    }
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<user::Model>,
    sessions: Vec<session::Model>,
    conversations: Vec<conversation::Model>,
    messages: Vec<message::Model>,
    audit_logs: Vec<audit_log::Model>,
}

async fn snapshot(db: &DatabaseConnection) -> Snapshot {
    Snapshot {
        users: User::find().order_by_asc(user::Column::Id).all(db).await.unwrap(),
        sessions: Session::find().order_by_asc(session::Column::Id).all(db).await.unwrap(),
        conversations: Conversation::find().order_by_asc(conversation::Column::Id).all(db).await.unwrap(),
        messages: Message::find().order_by_asc(message::Column::Id).all(db).await.unwrap(),
        // The import's own audit row ("import", written by each run) is not imported data.
        audit_logs: AuditLog::find()
            .filter(audit_log::Column::Action.ne("import"))
            .order_by_asc(audit_log::Column::Id)
            .all(db)
            .await
            .unwrap(),
    }
}

async fn login(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.post("/api/auth/login").json(&json!({"email": email, "password": password})).send().await
}

both_databases! {
    async fn imports_the_old_prisma_database(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let url = app.state.config.database_url.clone();
        // Already in the new app: an account with Erin's email, and Frank's id with other content.
        app.register("taken@example.com").await;
        let taken = User::find().all(&app.db).await.unwrap().remove(0);
        let frank_here = user::Model {
            id: FRANK.into(),
            email: "frank.new@example.com".into(),
            password_hash: ALICE_HASH.into(),
            role: Role::Admin,
            banned_at: None,
            created_at: ms(1_750_000_000_000),
            updated_at: ms(1_750_000_000_000),
            email_verified_at: None,
            locale: "zh".into(),
            moderation_flagged_at: None,
            restricted_until: None,
            terms_version: None,
            terms_accepted_at: None,
            health_consent_at: None,
        };
        User::insert(user::ActiveModel::from(frank_here.clone())).exec_without_returning(&app.db).await.unwrap();

        let file = PrismaFile::new();
        build_prisma_database(&file).await;
        let source_bytes = std::fs::read(&file.path).unwrap();

        let output = appctl(&url, &["import", "--from", file.arg()]).await;
        assert_success(&output);
        let out = stdout(&output);
        // stdout is not a terminal here: no progress bar anywhere.
        assert_eq!(stderr(&output), "", "stdout:\n{out}");
        assert_lines(&out, &[
            "users: read 7, imported 3, skipped 4 (already present: 1, invalid: 1, email taken: 2)",
            "sessions: read 6, imported 2, skipped 4 (expired: 1, invalid: 1, parent skipped: 1, orphan: 1)",
            "conversations: read 5, imported 3 (notes: 1), skipped 2 (invalid: 1, parent skipped: 1)",
            "messages: read 1206, imported 1202, skipped 4 (invalid: 1, parent skipped: 2, orphan: 1)",
            "audit_logs: read 4, imported 3, skipped 1 (invalid: 1)",
            &format!(
                "skipped User {CAROL}: email alice@example.com already belongs to old user {ALICE} (imported before it)"
            ),
            &format!(
                "skipped User {ERIN}: email taken@example.com already belongs to account {} in this database",
                taken.id
            ),
            &format!("skipped User {DAVE}: role \"superuser\" is not one of USER, ADMIN"),
            &format!("skipped Session {S_CAROL}: its user {CAROL} was skipped"),
            &format!(
                "skipped Session {S_FOREVER}: expires 2100-01-01T00:00:00Z is outside 1970-01-01 00:00:01 – \
                 2038-01-19 03:14:07 UTC, the range the app can store on MySQL"
            ),
            &format!("skipped Session {S_ORPHAN}: its user {GONE_USER} does not exist in the old database"),
            &format!("skipped Conversation {C_BAD_TYPE}: type \"ASTROLOGY\" is not one of ORACLE, TCM"),
            &format!("skipped Conversation {C_CAROL}: its user {CAROL} was skipped"),
            &format!("note Conversation {C_TCM}: title shortened to 255 characters"),
            &format!("skipped Message {M_SYSTEM}: role \"SYSTEM\" is not one of USER, ASSISTANT"),
            &format!("skipped Message {M_CAROL}: its conversation {C_CAROL} was skipped"),
            &format!("skipped Message {M_BAD_TYPE}: its conversation {C_BAD_TYPE} was skipped"),
            &format!(
                "skipped Message {M_ORPHAN}: its conversation {GONE_CONVERSATION} does not exist in the old database"
            ),
            &format!("skipped AuditLog {A_BAD_TIME}: createdAt is not a readable timestamp: \"yesterday\""),
        ]);
        // Bulk reasons are counted, not listed.
        assert!(!out.contains(S_ALICE_EXPIRED), "{out}");
        assert!(!out.contains(&format!("User {FRANK}")), "{out}");
        assert_eq!(std::fs::read(&file.path).unwrap(), source_bytes, "the old database is never written");

        // Users, field by field: ids kept, emails normalized, hashes verbatim, roles normalized,
        // timestamps to the millisecond.
        let find_user = |id: &'static str| User::find_by_id(id).one(&app.db);
        assert_eq!(find_user(ALICE).await.unwrap(), Some(user::Model {
            id: ALICE.into(),
            email: "alice@example.com".into(),
            password_hash: ALICE_HASH.into(),
            role: Role::User,
            banned_at: None,
            created_at: ms(1_700_000_000_123),
            updated_at: ms(1_700_000_100_456),
            email_verified_at: None,
            locale: "zh".into(),
            moderation_flagged_at: None,
            restricted_until: None,
            terms_version: None,
            terms_accepted_at: None,
            health_consent_at: None,
        }));
        assert_eq!(find_user(BOB).await.unwrap(), Some(user::Model {
            id: BOB.into(),
            email: "bob@example.com".into(),
            password_hash: BOB_HASH.into(),
            role: Role::Admin,
            banned_at: Some(ms(1_700_000_500_789)),
            created_at: ms(1_700_000_001_000),
            updated_at: ms(1_700_000_500_789),
            email_verified_at: None,
            locale: "zh".into(),
            moderation_flagged_at: None,
            restricted_until: None,
            terms_version: None,
            terms_accepted_at: None,
            health_consent_at: None,
        }));
        let legacy = find_user(LEGACY).await.unwrap().expect("legacy imported");
        let half_past_nine = Utc.with_ymd_and_hms(2023, 11, 14, 9, 30, 0).unwrap();
        assert_eq!(legacy.created_at, half_past_nine + chrono::TimeDelta::milliseconds(123));
        assert_eq!(legacy.updated_at, half_past_nine);
        assert_eq!(legacy.password_hash, LEGACY_HASH);
        for skipped in [CAROL, DAVE, ERIN] {
            assert_eq!(find_user(skipped).await.unwrap(), None, "{skipped}");
        }
        // An existing row is left exactly as it was.
        assert_eq!(find_user(FRANK).await.unwrap(), Some(frank_here));
        assert_eq!(User::find().count(&app.db).await.unwrap(), 5); // taken, frank + 3 imported

        // Sessions.
        assert_eq!(Session::find_by_id(S_ALICE).one(&app.db).await.unwrap(), Some(session::Model {
            id: S_ALICE.into(),
            user_id: ALICE.into(),
            session_token: TOKEN_ALICE.into(),
            expires: ms(FAR_FUTURE_MS),
            created_at: ms(1_700_000_200_000),
            ip: None,
            user_agent: None,
            last_used_at: None,
        }));
        assert!(Session::find_by_id(S_FRANK).one(&app.db).await.unwrap().is_some(), "Frank's account exists here");
        for skipped in [S_ALICE_EXPIRED, S_CAROL, S_ORPHAN, S_FOREVER] {
            assert_eq!(Session::find_by_id(skipped).one(&app.db).await.unwrap(), None, "{skipped}");
        }

        // Conversations: type normalized, an over-long title shortened (and reported above).
        assert_eq!(Conversation::find_by_id(C_ORACLE).one(&app.db).await.unwrap(), Some(conversation::Model {
            id: C_ORACLE.into(),
            user_id: ALICE.into(),
            kind: ConversationKind::Oracle,
            title: ORACLE_TITLE.into(),
            created_at: ms(1_700_000_300_000),
            updated_at: ms(1_700_000_301_000),
            active_leaf_id: None,
            title_source: TitleSource::Message,
        }));
        let tcm = Conversation::find_by_id(C_TCM).one(&app.db).await.unwrap().expect("tcm imported");
        assert_eq!(tcm.kind, ConversationKind::Tcm);
        assert_eq!(tcm.title, long_tcm_title().chars().take(255).collect::<String>());

        // Messages: content byte for byte, role normalized, every page of the bulk conversation.
        assert_eq!(Message::find_by_id(M_QUESTION).one(&app.db).await.unwrap(), Some(message::Model {
            id: M_QUESTION.into(),
            conversation_id: C_ORACLE.into(),
            role: MessageRole::User,
            content: QUESTION.into(),
            prompt_tokens: None,
            completion_tokens: None,
            created_at: ms(1_700_000_300_001),
            parent_id: None,
            stopped: false,
            from_client: false,
            withheld: None,
            red_flag: None,
            thinking: None,
            thinking_ms: None,
            thinking_tokens: None,
        }));
        assert_eq!(Message::find_by_id(M_ANSWER).one(&app.db).await.unwrap(), Some(message::Model {
            id: M_ANSWER.into(),
            conversation_id: C_ORACLE.into(),
            role: MessageRole::Assistant,
            content: ANSWER.into(),
            prompt_tokens: None,
            completion_tokens: None,
            created_at: ms(1_700_000_300_999),
            parent_id: None,
            stopped: false,
            from_client: false,
            withheld: None,
            red_flag: None,
            thinking: None,
            thinking_ms: None,
            thinking_tokens: None,
        }));
        let last = BULK_MESSAGES - 1;
        let bulk_last = Message::find_by_id(bulk_id(last)).one(&app.db).await.unwrap().expect("last bulk message");
        assert_eq!(
            (bulk_last.role, bulk_last.content.as_str(), bulk_last.created_at),
            (MessageRole::Assistant, format!("message {last}").as_str(), ms(1_700_001_000_000 + last as i64 * 1_000))
        );
        assert_eq!(Message::find().count(&app.db).await.unwrap(), BULK_MESSAGES as u64 + 2);
        // Every imported message is tallied for the usage dashboard, once.
        assert_eq!(tallied(&app).await, BULK_MESSAGES as i64 + 2);

        // Audit logs: the actor is kept even when that account no longer exists; empty means none.
        assert_eq!(AuditLog::find_by_id(A_LOGIN).one(&app.db).await.unwrap(), Some(audit_log::Model {
            id: A_LOGIN.into(),
            actor_id: Some(ALICE.into()),
            action: "LOGIN".into(),
            message: "login alice@example.com".into(),
            ip: Some("203.0.113.7".into()),
            user_agent: Some(UA.into()),
            created_at: ms(1_700_000_200_001),
            subject: None,
            repeat_key: None,
            occurrences: 1,
        }));
        let gone = AuditLog::find_by_id(A_GONE_ACTOR).one(&app.db).await.unwrap().expect("imported");
        assert_eq!((gone.actor_id.as_deref(), gone.ip, gone.user_agent), (Some(GONE_USER), None, None));
        let anonymous = AuditLog::find_by_id(A_NO_ACTOR).one(&app.db).await.unwrap().expect("imported");
        assert_eq!(anonymous.actor_id, None);
        assert_eq!(AuditLog::find_by_id(A_BAD_TIME).one(&app.db).await.unwrap(), None);

        // A second run adds nothing, changes nothing, and says everything is already there.
        let before = snapshot(&app.db).await;
        let output = appctl(&url, &["import", "--from", file.arg()]).await;
        assert_success(&output);
        let out = stdout(&output);
        assert_lines(&out, &[
            "users: read 7, imported 0, skipped 7 (already present: 4, invalid: 1, email taken: 2)",
            "sessions: read 6, imported 0, skipped 6 \
             (already present: 2, expired: 1, invalid: 1, parent skipped: 1, orphan: 1)",
            "conversations: read 5, imported 0, skipped 5 (already present: 3, invalid: 1, parent skipped: 1)",
            "messages: read 1206, imported 0, skipped 1206 \
             (already present: 1202, invalid: 1, parent skipped: 2, orphan: 1)",
            "audit_logs: read 4, imported 0, skipped 4 (already present: 3, invalid: 1)",
        ]);
        assert!(!out.contains("note "), "notes only for rows imported now:\n{out}");
        assert_eq!(snapshot(&app.db).await, before);
        assert_eq!(tallied(&app).await, BULK_MESSAGES as i64 + 2, "a second run tallies nothing again");
        // Each run is in the audit trail, as every appctl command is.
        let runs = AuditLog::find().filter(audit_log::Column::Action.eq("import")).all(&app.db).await.unwrap();
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert!(runs.iter().all(|run| run.user_agent.as_deref() == Some("appctl") && run.actor_id.is_none()));

        // The bcryptjs hashes work with the real login route (emails typed any way).
        let response = login(&app, " ALICE@example.com", ALICE_PASSWORD).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let body = response.json();
        assert_eq!(body["user"]["id"], ALICE);
        assert_eq!(body["user"]["email"], "alice@example.com");
        let token = body["token"].as_str().unwrap();
        let session = app.get("/api/auth/session").token(token).send().await;
        assert_eq!(session.status, StatusCode::OK, "{}", session.text());
        let response = login(&app, "legacy@example.com", LEGACY_PASSWORD).await;
        assert_eq!(response.status, StatusCode::OK, "cost-10 bcryptjs hash: {}", response.text());
        assert_eq!(response.json()["user"]["id"], LEGACY);
        // Bob's ban came along: the right password is answered with 403.
        let banned = login(&app, "bob@example.com", BOB_PASSWORD).await;
        assert_eq!(banned.assert_error(StatusCode::FORBIDDEN), "account_banned");
        // Carol was skipped: her password does not open Alice's account.
        login(&app, "alice@example.com", CAROL_PASSWORD).await.assert_error(StatusCode::UNAUTHORIZED);
    }

    async fn fails_clearly_on_what_it_cannot_read(backend: Backend) {
        let target = TestDb::migrated(backend).await;
        let missing = std::env::temp_dir().join("no-such-prisma-file.db");
        let output = appctl(&target.url, &["import", "--from", missing.to_str().unwrap()]).await;
        assert!(!output.status.success());
        let message = stderr(&output);
        assert!(message.contains("cannot read") && message.contains("no-such-prisma-file.db"), "{message}");

        let not_sqlite = PrismaFile::new();
        std::fs::write(&not_sqlite.path, "id,email\n1,a@example.com\n".repeat(100)).unwrap();
        let output = appctl(&target.url, &["import", "--from", not_sqlite.arg()]).await;
        assert!(!output.status.success());
        assert!(stderr(&output).contains("as a SQLite database"), "{}", stderr(&output));

        let other_app = PrismaFile::new();
        let pool = other_app.open().await;
        sqlx::raw_sql(r#"CREATE TABLE "users" ("id" TEXT PRIMARY KEY, "email" TEXT)"#).execute(&pool).await.unwrap();
        pool.close().await;
        let output = appctl(&target.url, &["import", "--from", other_app.arg()]).await;
        assert!(!output.status.success());
        assert!(stderr(&output).contains("has no table \"User\""), "{}", stderr(&output));

        let old_schema = PrismaFile::new();
        let pool = old_schema.open().await;
        let without_role = PRISMA_MIGRATION.replace("\"role\" TEXT NOT NULL DEFAULT 'USER',", "");
        sqlx::raw_sql(sqlx::AssertSqlSafe(without_role)).execute(&pool).await.unwrap();
        pool.close().await;
        let output = appctl(&target.url, &["import", "--from", old_schema.arg()]).await;
        assert!(!output.status.success());
        assert!(stderr(&output).contains("table \"User\" has no column \"role\""), "{}", stderr(&output));

        // Nothing was written by the failed runs.
        let db = sea_orm::Database::connect(&target.url).await.unwrap();
        assert_eq!(User::find().count(&db).await.unwrap(), 0);

        // A target without our tables is a real failure too (exit code non-zero).
        let unmigrated = TestDb::empty(backend).await;
        let file = PrismaFile::new();
        build_prisma_database(&file).await;
        let output = appctl(&unmigrated.url, &["import", "--from", file.arg()]).await;
        assert!(!output.status.success(), "{}", stdout(&output));
        assert!(stderr(&output).contains("migrations"), "{}", stderr(&output));
        assert!(stdout(&output).contains("The import stopped on an error"), "{}", stdout(&output));
    }

    async fn rows_the_database_refuses_are_skipped_one_by_one(backend: Backend) {
        // A damaged copy of the old database without the unique index on session tokens: two
        // sessions share a token. The page's insert fails on the target's unique key, and the
        // rows are retried one at a time so only the second one is left out.
        let app = TestApp::spawn(backend).await;
        let file = PrismaFile::new();
        let pool = file.open().await;
        let without_index = PRISMA_MIGRATION.replace(
            r#"CREATE UNIQUE INDEX "Session_sessionToken_key" ON "Session"("sessionToken");"#,
            "",
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(without_index)).execute(&pool).await.unwrap();
        insert_user(&pool, ALICE, "alice@example.com", ALICE_HASH, "USER", None, 1_700_000_000_000, 1_700_000_000_000)
            .await;
        insert_session(&pool, S_ALICE, ALICE, "same-token", FAR_FUTURE_MS, 1_700_000_000_000).await;
        insert_session(&pool, S_ALICE_EXPIRED, ALICE, "same-token", FAR_FUTURE_MS, 1_700_000_000_001).await;
        insert_session(&pool, S_FRANK, ALICE, "other-token", FAR_FUTURE_MS, 1_700_000_000_002).await;
        pool.close().await;

        let output = appctl(&app.state.config.database_url, &["import", "--from", file.arg()]).await;
        assert_success(&output);
        let out = stdout(&output);
        assert_lines(&out, &["sessions: read 3, imported 2, skipped 1 (conflict: 1)"]);
        let refused = format!("skipped Session {S_ALICE_EXPIRED}: refused by the database: ");
        assert!(out.lines().any(|line| line.starts_with(&refused)), "{out}");
        let sessions = Session::find().order_by_asc(session::Column::Id).all(&app.db).await.unwrap();
        assert_eq!(sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [S_ALICE, S_FRANK]);
    }
}
