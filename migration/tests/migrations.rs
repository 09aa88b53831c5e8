//! The migrations on an empty SQLite file and an empty MariaDB database: they apply, produce the
//! schema the app relies on (keys, cascades, column types), roll back completely and re-apply;
//! applying twice is a no-op.

use migration::{Migrator, MigratorTrait, SchemaManager, sea_orm};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement};
use test_support::{Backend, TestDb, both_databases};

const TABLES: [&str; 16] = [
    "users",
    "sessions",
    "conversations",
    "messages",
    "audit_logs",
    "rate_limit_hits",
    "rate_limit_keys",
    "reply_streams",
    "account_tokens",
    "message_feedback",
    "usage_hours",
    "admin_demotions",
    "reports",
    "readings",
    "constitution_assessments",
    "attachments",
];

const COLUMNS: [(&str, &[&str]); 16] = [
    (
        "users",
        &[
            "id",
            "email",
            "password_hash",
            "role",
            "banned_at",
            "created_at",
            "updated_at",
            "email_verified_at",
            "locale",
            "moderation_flagged_at",
            "restricted_until",
            "terms_version",
            "terms_accepted_at",
            "health_consent_at",
        ],
    ),
    ("sessions", &["id", "user_id", "session_token", "expires", "created_at", "ip", "user_agent", "last_used_at"]),
    (
        "conversations",
        &["id", "user_id", "type", "title", "created_at", "updated_at", "active_leaf_id", "title_source"],
    ),
    (
        "messages",
        &[
            "id",
            "conversation_id",
            "role",
            "content",
            "prompt_tokens",
            "completion_tokens",
            "created_at",
            "parent_id",
            "stopped",
            "from_client",
            "withheld",
            "red_flag",
            "thinking",
            "thinking_ms",
            "thinking_tokens",
        ],
    ),
    (
        "audit_logs",
        &[
            "id",
            "actor_id",
            "action",
            "message",
            "ip",
            "user_agent",
            "created_at",
            "subject",
            "repeat_key",
            "occurrences",
        ],
    ),
    ("admin_demotions", &["email", "demoted_at"]),
    ("rate_limit_hits", &["id", "bucket", "key", "created_at"]),
    ("rate_limit_keys", &["bucket", "key", "updated_at"]),
    ("reply_streams", &["id", "user_id", "conversation_id", "started_at", "stop_requested_at"]),
    ("account_tokens", &["id", "user_id", "purpose", "token_hash", "email", "expires_at", "created_at"]),
    (
        "message_feedback",
        &["id", "message_id", "user_id", "assistant", "rating", "comment", "created_at", "updated_at"],
    ),
    (
        "usage_hours",
        &[
            "hour",
            "user_id",
            "assistant",
            "language",
            "user_messages",
            "replies",
            "prompt_tokens",
            "completion_tokens",
            "stopped",
            "model_errors",
            "thinking_tokens",
        ],
    ),
    (
        "reports",
        &[
            "id",
            "reporter_id",
            "conversation_id",
            "message_id",
            "assistant",
            "reason",
            "comment",
            "reply",
            "question",
            "status",
            "created_at",
            "due_at",
            "decided_at",
            "decided_by",
            "reply_hidden",
            "user_action",
            "restricted_until",
            "note",
        ],
    ),
    (
        "readings",
        &[
            "id",
            "user_id",
            "conversation_id",
            "question",
            "method",
            "line_values",
            "primary_number",
            "relating_number",
            "created_at",
        ],
    ),
    ("constitution_assessments", &["id", "user_id", "scale", "sex", "answers", "created_at"]),
    (
        "attachments",
        &[
            "id",
            "user_id",
            "conversation_id",
            "message_id",
            "object_key",
            "upload_key",
            "content_type",
            "size_bytes",
            "position",
            "purpose",
            "observations",
            "created_at",
            "form_expires_at",
            "upload_deleted_at",
            "claimed_until",
            "attached_at",
            "deleted_at",
        ],
    ),
];

const INDEXES: [(&str, &str); 34] = [
    ("attachments", "idx_attachments_form"),
    ("attachments", "idx_attachments_user_created"),
    ("attachments", "idx_attachments_conversation"),
    ("attachments", "idx_attachments_message"),
    ("attachments", "idx_attachments_deleted"),
    ("sessions", "idx_sessions_user"),
    ("conversations", "idx_conversations_user_updated"),
    ("messages", "idx_messages_conversation_created"),
    ("audit_logs", "idx_audit_logs_actor"),
    ("audit_logs", "idx_audit_logs_action"),
    ("rate_limit_hits", "idx_rate_limit_hits_lookup"),
    ("rate_limit_hits", "idx_rate_limit_hits_created"),
    ("rate_limit_keys", "idx_rate_limit_keys_updated"),
    ("sessions", "idx_sessions_expires"),
    ("reply_streams", "idx_reply_streams_conversation"),
    ("reply_streams", "idx_reply_streams_started"),
    ("reply_streams", "idx_reply_streams_user_started"),
    ("account_tokens", "idx_account_tokens_user"),
    ("account_tokens", "idx_account_tokens_expires"),
    ("message_feedback", "idx_message_feedback_one_per_user"),
    ("message_feedback", "idx_message_feedback_user"),
    ("message_feedback", "idx_message_feedback_updated"),
    ("users", "idx_users_created"),
    ("usage_hours", "idx_usage_hours_user"),
    ("audit_logs", "idx_audit_logs_subject"),
    ("audit_logs", "idx_audit_logs_repeat_key"),
    ("reports", "idx_reports_once_per_reply"),
    ("reports", "idx_reports_queue"),
    ("reports", "idx_reports_reporter"),
    ("reports", "idx_reports_created"),
    ("readings", "idx_readings_user_created"),
    ("readings", "idx_readings_conversation"),
    ("readings", "idx_readings_created"),
    ("constitution_assessments", "idx_constitution_assessments_user_created"),
];

async fn existing_tables(db: &DatabaseConnection) -> Vec<&'static str> {
    let manager = SchemaManager::new(db);
    let mut found = Vec::new();
    for table in TABLES {
        if manager.has_table(table).await.unwrap() {
            found.push(table);
        }
    }
    found
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<u64, sea_orm::DbErr> {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.map(|result| result.rows_affected())
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

async fn applied(db: &DatabaseConnection) -> Vec<String> {
    Migrator::get_applied_migrations(db).await.unwrap().iter().map(|m| m.name().to_string()).collect()
}

/// What the app relies on beyond the tables existing: the unique email, the cascades from users
/// to their sessions, conversations and messages, and an audit trail that outlives users.
async fn check_constraints(db: &DatabaseConnection) {
    let at = "'2026-01-02 03:04:05.123456'";
    exec(db, &format!(
        "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES ('u1', 'a@example.com', 'h', 'USER', {at}, {at})"
    ))
    .await
    .unwrap();
    let duplicate = exec(db, &format!(
        "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES ('u2', 'a@example.com', 'h', 'USER', {at}, {at})"
    ))
    .await;
    assert!(duplicate.is_err(), "emails are unique");
    // Unique byte for byte: a look-alike (an accent, which MySQL's unicode_ci ignores) is another.
    exec(db, &format!(
        "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES ('u4', 'á@example.com', 'h', 'USER', {at}, {at})"
    ))
    .await
    .expect("a look-alike address is another address");
    let found: i64 = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM users WHERE email = 'a@example.com'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap();
    assert_eq!(found, 1, "an address finds itself, not its look-alikes");
    exec(db, "DELETE FROM users WHERE id = 'u4'").await.unwrap();
    exec(db, &format!(
        "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ('u3', 'b@example.com', 'h', {at}, {at})"
    ))
    .await
    .unwrap();
    let role: String = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT role FROM users WHERE id = 'u3'"))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "role")
        .unwrap();
    assert_eq!(role, "USER", "role defaults to USER");

    exec(db, &format!("INSERT INTO sessions (id, user_id, session_token, expires, created_at) VALUES ('s1', 'u1', 't1', {at}, {at})"))
        .await
        .unwrap();
    exec(db, &format!("INSERT INTO conversations (id, user_id, type, title, created_at, updated_at) VALUES ('c1', 'u1', 'ORACLE', 't', {at}, {at})"))
        .await
        .unwrap();
    exec(db, &format!("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES ('m1', 'c1', 'USER', 'hi', {at})"))
        .await
        .unwrap();
    exec(db, &format!("INSERT INTO audit_logs (id, actor_id, action, message, created_at) VALUES ('l1', 'u1', 'register', 'x', {at})"))
        .await
        .unwrap();
    // `key` is reserved in MySQL; SQLite accepts the backticks too.
    exec(db, &format!("INSERT INTO rate_limit_hits (bucket, `key`, created_at) VALUES ('login_ip', 'k', {at})"))
        .await
        .unwrap();
    let orphan = exec(db, &format!("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES ('m2', 'nope', 'USER', 'hi', {at})")).await;
    assert!(orphan.is_err(), "messages need a conversation");

    exec(db, &format!("INSERT INTO account_tokens (id, user_id, purpose, token_hash, email, expires_at, created_at) VALUES ('t1', 'u1', 'reset', 'h1', 'a@example.com', {at}, {at})"))
        .await
        .unwrap();
    let duplicate_link = exec(db, &format!("INSERT INTO account_tokens (id, user_id, purpose, token_hash, email, expires_at, created_at) VALUES ('t2', 'u1', 'reset', 'h1', 'a@example.com', {at}, {at})")).await;
    assert!(duplicate_link.is_err(), "token hashes are unique");
    let locale: String = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT locale FROM users WHERE id = 'u3'"))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "locale")
        .unwrap();
    assert_eq!(locale, "zh", "accounts from before the accounts migration get Chinese mail");

    // A reply is reported once per person; the report outlives the message (its id becomes NULL)
    // and goes with the reporter.
    exec(db, &format!("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES ('m3', 'c1', 'ASSISTANT', 'a reply', {at})"))
        .await
        .unwrap();
    let report = |id: &str| {
        format!(
            "INSERT INTO reports (id, reporter_id, conversation_id, message_id, assistant, reason, reply, status, created_at, due_at) \
         VALUES ('{id}', 'u1', 'c1', 'm3', 'ORACLE', 'WRONG', 'a reply', 'OPEN', {at}, {at})"
        )
    };
    exec(db, &report("r1")).await.unwrap();
    assert!(exec(db, &report("r2")).await.is_err(), "one report per person and reply");
    exec(db, "DELETE FROM messages WHERE id = 'm3'").await.unwrap();
    let kept: Option<String> = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT message_id FROM reports WHERE id = 'r1'",
        ))
        .await
        .unwrap()
        .expect("the report outlives the message")
        .try_get("", "message_id")
        .unwrap();
    assert_eq!(kept, None);

    // A reading goes with its conversation (and with the account).
    exec(db, &format!("INSERT INTO readings (id, user_id, conversation_id, question, method, line_values, primary_number, created_at) VALUES ('g1', 'u1', 'c1', 'q', 'coins', '777888', 11, {at})"))
        .await
        .unwrap();
    exec(db, &format!("INSERT INTO conversations (id, user_id, type, title, created_at, updated_at) VALUES ('c2', 'u1', 'ORACLE', 't', {at}, {at})"))
        .await
        .unwrap();
    exec(db, &format!("INSERT INTO readings (id, user_id, conversation_id, question, method, line_values, primary_number, created_at) VALUES ('g2', 'u1', 'c2', 'q', 'coins', '777888', 11, {at})"))
        .await
        .unwrap();
    exec(db, "DELETE FROM conversations WHERE id = 'c2'").await.unwrap();
    assert_eq!(count(db, "readings").await, 1, "a reading goes with its conversation");

    exec(db, &format!("INSERT INTO constitution_assessments (id, user_id, scale, sex, answers, created_at) VALUES ('k1', 'u1', 'ZYYXH/T157-2009', 'female', '{}', {at})", "3".repeat(60)))
        .await
        .unwrap();

    exec(db, "DELETE FROM users WHERE id = 'u1'").await.unwrap();
    for table in
        ["sessions", "conversations", "messages", "account_tokens", "reports", "readings", "constitution_assessments"]
    {
        assert_eq!(count(db, table).await, 0, "deleting the user cascades to {table}");
    }
    assert_eq!(count(db, "audit_logs").await, 1, "the audit trail has no foreign key");
}

both_databases! {
    async fn migrations_apply_roll_back_and_reapply(backend: Backend) {
        let database = TestDb::empty(backend).await;
        let db = Database::connect(&database.url).await.unwrap();
        assert!(existing_tables(&db).await.is_empty());
        assert_eq!(Migrator::get_pending_migrations(&db).await.unwrap().len(), Migrator::migrations().len());

        Migrator::up(&db, None).await.expect("migrations apply to an empty database");
        assert_eq!(existing_tables(&db).await, TABLES);
        let manager = SchemaManager::new(&db);
        for (table, columns) in COLUMNS {
            for column in columns {
                assert!(manager.has_column(table, column).await.unwrap(), "{table}.{column}");
            }
        }
        for (table, index) in INDEXES {
            assert!(manager.has_index(table, index).await.unwrap(), "{table}: {index}");
        }
        let names = applied(&db).await;
        assert_eq!(names, [
            "m20261125_000001_create_tables",
            "m20261201_000001_rate_limit_keys",
            "m20261202_000001_message_tree",
            "m20261202_000002_accounts",
            "m20261203_000001_usage",
            "m20261206_000001_audit_subjects",
            "m20261206_000002_exact_addresses",
            "m20261206_000003_moderation",
            "m20261206_000004_red_flags",
            "m20261206_000005_reports_consent",
            "m20261206_000006_readings",
            "m20261206_000007_constitution",
            "m20261206_000008_stream_slots",
            "m20261206_000009_thinking",
            "m20261206_000010_attachments"
        ]);
        // The code's idea of the newest schema (health, `/initialize`) is the last migration.
        assert_eq!(names.last().map(String::as_str), Some(app_core::db::SCHEMA_VERSION));
        assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());

        // Applying again changes nothing (and keeps the data).
        check_constraints(&db).await;
        Migrator::up(&db, None).await.expect("a second `up` is a no-op");
        assert_eq!(applied(&db).await, names);
        assert_eq!(count(&db, "users").await, 1);
        assert_eq!(count(&db, "audit_logs").await, 1);

        // Rolling everything back drops every table, and forgets the migration.
        Migrator::down(&db, None).await.expect("migrations roll back");
        assert!(existing_tables(&db).await.is_empty(), "left behind: {:?}", existing_tables(&db).await);
        assert!(applied(&db).await.is_empty());
        // …and a second rollback has nothing to do.
        Migrator::down(&db, None).await.expect("rolling back nothing is fine");

        // They apply again from scratch, to an empty, working schema.
        Migrator::up(&db, None).await.expect("migrations re-apply");
        assert_eq!(existing_tables(&db).await, TABLES);
        assert_eq!(applied(&db).await, names);
        for table in TABLES {
            assert_eq!(count(&db, table).await, 0, "{table} starts empty");
        }
        check_constraints(&db).await;
        Migrator::up(&db, None).await.unwrap();
        db.close().await.unwrap();
    }
}

both_databases! {
    /// Conversations written before versions (by the previous schema, as the previous version
    /// of the app writes them) get the defaults that read as one branch: no parent, not
    /// stopped, no branch chosen, a title cut from the first message. Nothing is rewritten.
    async fn rows_from_before_versions_get_their_defaults(backend: Backend) {
        let database = TestDb::empty(backend).await;
        let db = Database::connect(&database.url).await.unwrap();
        Migrator::up(&db, Some(2)).await.expect("the schema before versions");
        let at = "'2026-01-02 03:04:05.123456'";
        for sql in [
            format!("INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES ('u1', 'a@example.com', 'h', 'USER', {at}, {at})"),
            format!("INSERT INTO conversations (id, user_id, type, title, created_at, updated_at) VALUES ('c1', 'u1', 'ORACLE', 'Old', {at}, {at})"),
            format!("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES ('m1', 'c1', 'USER', 'hi', {at})"),
        ] {
            exec(&db, &sql).await.unwrap();
        }
        Migrator::up(&db, None).await.expect("the versions migration applies over existing rows");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT m.parent_id AS parent_id, m.stopped AS stopped, c.active_leaf_id AS leaf, c.title_source AS source \
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<Option<String>>("", "parent_id").unwrap(), None);
        assert!(!row.try_get::<bool>("", "stopped").unwrap());
        assert_eq!(row.try_get::<Option<String>>("", "leaf").unwrap(), None);
        assert_eq!(row.try_get::<String>("", "source").unwrap(), "message");
        // And the previous version of the app can still write its rows (every new column has
        // a default or takes NULL).
        exec(&db, &format!("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES ('m2', 'c1', 'ASSISTANT', 'hello', {at})")).await.unwrap();
        db.close().await.unwrap();
    }
}

both_databases! {
    /// The usage migration tallies the messages written before it, per user, hour and
    /// assistant (language `unknown`), from timestamps as each database stores them.
    async fn existing_messages_are_tallied_once(backend: Backend) {
        let database = TestDb::empty(backend).await;
        let db = Database::connect(&database.url).await.unwrap();
        Migrator::up(&db, Some(4)).await.expect("the schema before usage");
        // The second timestamp as each database gets it from the app (sqlx writes RFC 3339 to
        // SQLite).
        let early = "'2026-01-02 03:04:05.123456'";
        let later = match backend {
            Backend::MySql => "'2026-01-02 04:00:00'",
            Backend::Sqlite => "'2026-01-02T04:00:00+00:00'",
        };
        for sql in [
            format!("INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES ('u1', 'a@example.com', 'h', 'USER', {early}, {early})"),
            format!("INSERT INTO conversations (id, user_id, type, title, created_at, updated_at) VALUES ('c1', 'u1', 'ORACLE', 'Old', {early}, {early})"),
            format!("INSERT INTO conversations (id, user_id, type, title, created_at, updated_at) VALUES ('c2', 'u1', 'TCM', 'Old', {early}, {early})"),
            format!("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES ('m1', 'c1', 'USER', 'hi', {early})"),
            format!("INSERT INTO messages (id, conversation_id, role, content, prompt_tokens, completion_tokens, created_at) VALUES ('m2', 'c1', 'ASSISTANT', 'hello', 10, 5, {early})"),
            format!("INSERT INTO messages (id, conversation_id, role, content, stopped, created_at) VALUES ('m3', 'c1', 'ASSISTANT', 'hel', TRUE, {early})"),
            format!("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES ('m4', 'c1', 'USER', 'again', {later})"),
            format!("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES ('m5', 'c2', 'USER', 'tcm', {early})"),
        ] {
            exec(&db, &sql).await.unwrap();
        }
        Migrator::up(&db, None).await.expect("the usage migration applies over existing rows");
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT hour, assistant, language, user_messages, replies, prompt_tokens, completion_tokens, stopped \
                 FROM usage_hours ORDER BY hour, assistant",
            ))
            .await
            .unwrap();
        let tallies: Vec<(i64, String, String, [i64; 5])> = rows
            .iter()
            .map(|row| {
                let n = |column: &str| row.try_get::<i64>("", column).unwrap();
                (
                    n("hour"),
                    row.try_get("", "assistant").unwrap(),
                    row.try_get("", "language").unwrap(),
                    [n("user_messages"), n("replies"), n("prompt_tokens"), n("completion_tokens"), n("stopped")],
                )
            })
            .collect();
        // 2026-01-02 03:00 UTC is hour 490,923 since 1970.
        let hour = 490_923;
        assert_eq!(tallies, vec![
            (hour, "ORACLE".into(), "unknown".into(), [1, 2, 10, 5, 1]),
            (hour, "TCM".into(), "unknown".into(), [1, 0, 0, 0, 0]),
            (hour + 1, "ORACLE".into(), "unknown".into(), [1, 0, 0, 0, 0]),
        ]);
        db.close().await.unwrap();
    }
}

/// The MySQL-specific column types: microsecond timestamps, MEDIUMTEXT message bodies, utf8mb4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_schema_details() {
    let database = TestDb::empty(Backend::MySql).await;
    let db = Database::connect(&database.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let column = async |table: &str, column: &str| -> (String, Option<i64>) {
        let row = db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::MySql,
                format!(
                    "SELECT DATA_TYPE AS data_type, CAST(DATETIME_PRECISION AS SIGNED) AS precision_digits \
                     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                     AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}'"
                ),
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{table}.{column} exists"));
        (row.try_get("", "data_type").unwrap(), row.try_get("", "precision_digits").unwrap())
    };
    for (table, columns) in COLUMNS {
        for name in columns.iter().filter(|name| name.ends_with("_at") || **name == "expires") {
            assert_eq!(column(table, name).await, ("datetime".to_string(), Some(6)), "{table}.{name}");
        }
    }
    assert_eq!(column("messages", "content").await.0, "mediumtext");

    let rows = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::MySql,
            "SELECT TABLE_NAME AS name, TABLE_COLLATION AS collation FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'seaql_migrations'",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), TABLES.len());
    for row in rows {
        let name: String = row.try_get("", "name").unwrap();
        let collation: String = row.try_get("", "collation").unwrap();
        assert!(collation.starts_with("utf8mb4_"), "{name}: {collation}");
    }
    db.close().await.unwrap();
}
