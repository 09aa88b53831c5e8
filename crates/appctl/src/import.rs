//! `appctl import --from old.db`: copies the original app's Prisma SQLite database into
//! `DATABASE_URL` (MySQL or SQLite, migrations applied).
//!
//! The source is read as Prisma's migration engine created it: tables named after the models
//! (`User`, `Session`, `Conversation`, `Message`, `AuditLog`), columns named after the fields
//! (`passwordHash`, `userId`, `createdAt`…). It is opened read-only and never changed.
//!
//! - **Ids are kept**, so rows keep their identity and a second run changes nothing: a row whose
//!   id is already in the target is left exactly as it is there, even when its content differs,
//!   and counted as "already present". Nothing is ever overwritten.
//! - **Pages of [`PAGE`] rows**, read in id order and written in one transaction per page, so
//!   memory stays flat and an interrupted import resumes cleanly when run again.
//! - **Rows that cannot be imported are skipped and reported**, never silently changed: unknown
//!   enum values (role, conversation type, message role), unreadable timestamps, emails that
//!   collide after normalization (trim + lower-case) with an account imported before or already
//!   in the target, rows whose user or conversation was skipped or does not exist (the target has
//!   foreign keys), expired sessions. Fix the source and run the import again.
//! - Normalized on the way: emails (trimmed, lower-cased), enum spellings (`admin` → `ADMIN`),
//!   an empty `AuditLog.actorId` (no account) becomes NULL. Free text longer than our columns
//!   (conversation titles, audit log fields) is shortened and reported as a note.
//! - Password hashes are copied verbatim: bcryptjs's `$2a$` hashes verify unchanged.
//! - Timestamps must lie between 1970-01-01 00:00:01 and 2038-01-19 03:14:07 UTC, what the app
//!   can store on MySQL (see [`storable`]); rows with others are skipped as invalid.
//!
//! DateTime columns: Prisma's native SQLite connector stores a `DateTime` as an INTEGER of
//! milliseconds since the Unix epoch in a column declared `DATETIME` (prisma-engines, quaint's
//! SQLite `ToSql`: `value.timestamp_millis()`), and reads back integers as milliseconds and text
//! as `YYYY-MM-DD HH:MM:SS` (SQLite's `CURRENT_TIMESTAMP`, e.g. from a column default), RFC 3339
//! or RFC 2822. Prisma's SQLite driver adapters write ISO 8601 text instead. [`parse_timestamp`]
//! accepts all of these; text without an offset is UTC, as SQLite's own functions assume.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    io::IsTerminal,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use app_core::{
    auth::normalize_email,
    entities::{
        AuditLog, Conversation, ConversationKind, Message, MessageRole, Role, Session, TitleSource, User, audit_log,
        conversation, message, session, user,
    },
};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, SqlxSqliteConnector, Statement, TransactionTrait, Value,
    sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

/// Rows read (and written, in one transaction) at a time.
pub const PAGE: usize = 500;
/// A multi-row INSERT is split once its values pass this size, well under MySQL's
/// `max_allowed_packet` (16 MiB on MariaDB, 64 MiB on MySQL 8), however long the messages are.
const INSERT_BYTES: usize = 4 << 20;
/// Skipped rows listed one per line for each table and reason; the rest are only counted.
const LISTED: u64 = 20;

/// Column sizes of our schema (`migration/`), in characters unless said otherwise.
const ID_CHARS: usize = 191;
const EMAIL_BYTES: usize = 191;
const PASSWORD_HASH_CHARS: usize = 255;
const TOKEN_CHARS: usize = 191;
const TITLE_CHARS: usize = 255;
const ACTION_CHARS: usize = 64;
const IP_CHARS: usize = 64;
/// MySQL TEXT and MEDIUMTEXT hold this many bytes.
const TEXT_BYTES: usize = 65_535;
const MEDIUMTEXT_BYTES: usize = 16_777_215;

/// Imports everything from the Prisma SQLite file at `from` into `target`.
pub async fn run(target: &DatabaseConnection, from: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let source = Source::open(from).await?;
    let counts = [
        source.count(&Users::SPEC).await?,
        source.count(&Sessions::SPEC).await?,
        source.count(&Conversations::SPEC).await?,
        source.count(&Messages::SPEC).await?,
        source.count(&AuditLogs::SPEC).await?,
    ];
    let backend = match target.get_database_backend() {
        DbBackend::MySql => "MySQL",
        DbBackend::Sqlite => "SQLite",
        _ => "target",
    };
    println!("Importing {} ({} rows) into the {backend} database", from.display(), counts.iter().sum::<u64>());

    let mut report = Report::new(counts.iter().sum());
    let env = Env { source: &source, now: Utc::now() };
    let result = async {
        import_table::<Users>(&env, target, &mut report).await?;
        import_table::<Sessions>(&env, target, &mut report).await?;
        import_table::<Conversations>(&env, target, &mut report).await?;
        import_table::<Messages>(&env, target, &mut report).await?;
        import_table::<AuditLogs>(&env, target, &mut report).await
    }
    .await;
    report.bar.finish_and_clear();
    // Also after a failure: the pages counted as imported are committed.
    report.print_summary(started.elapsed(), result.is_ok());
    source.db.close().await.ok();
    result
}

// ---------------------------------------------------------------------------------------------
// The source: the old app's SQLite file, read-only.

/// A Prisma table and the columns we read from it, in the order [`Row`] holds them (the id first).
pub struct Spec {
    pub prisma: &'static str,
    pub ours: &'static str,
    pub columns: &'static [&'static str],
}

struct Source {
    db: DatabaseConnection,
}

impl Source {
    async fn open(path: &Path) -> anyhow::Result<Self> {
        let metadata = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !metadata.is_file() {
            bail!("{} is not a file", path.display());
        }
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open {} as a SQLite database", path.display()))?;
        let source = Self { db: SqlxSqliteConnector::from_sqlx_sqlite_pool(pool) };
        source.check_schema(path).await?;
        Ok(source)
    }

    /// Fails clearly, before anything is written, when a table or column is missing.
    async fn check_schema(&self, path: &Path) -> anyhow::Result<()> {
        let context = || format!("cannot read {} as a SQLite database", path.display());
        for spec in [&Users::SPEC, &Sessions::SPEC, &Conversations::SPEC, &Messages::SPEC, &AuditLogs::SPEC] {
            let rows = self
                .db
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT name FROM pragma_table_info(?)",
                    [Value::from(spec.prisma)],
                ))
                .await
                .with_context(context)?;
            let present: HashSet<String> =
                rows.iter().filter_map(|row| row.try_get_by_index::<String>(0).ok()).collect();
            if present.is_empty() {
                bail!(
                    "{} is not the old app's Prisma database: it has no table \"{}\" \
                     (expected User, Session, Conversation, Message and AuditLog)",
                    path.display(),
                    spec.prisma
                );
            }
            let missing: Vec<&str> = spec.columns.iter().copied().filter(|c| !present.contains(*c)).collect();
            if !missing.is_empty() {
                bail!(
                    "{}: table \"{}\" has no column {} (is this the old app's Prisma database?)",
                    path.display(),
                    spec.prisma,
                    missing.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
                );
            }
        }
        Ok(())
    }

    async fn count(&self, spec: &Spec) -> anyhow::Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM \"{}\"", spec.prisma);
        let row = self.db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql)).await?;
        let count: i64 = row.map(|row| row.try_get_by_index(0)).transpose()?.unwrap_or(0);
        Ok(count.max(0) as u64)
    }

    /// The next page in id order after `after`. Every value is read as text (`CAST`): SQLite
    /// columns may hold any type, and [`parse_timestamp`] decides what a timestamp's text means.
    async fn page(&self, spec: &Spec, after: Option<&str>) -> anyhow::Result<Vec<Row>> {
        let columns: Vec<String> = spec.columns.iter().map(|c| format!("CAST(\"{c}\" AS TEXT)")).collect();
        let mut sql = format!("SELECT {} FROM \"{}\"", columns.join(", "), spec.prisma);
        let mut values = Vec::new();
        if let Some(after) = after {
            sql.push_str(" WHERE \"id\" > ?");
            values.push(Value::from(after));
        }
        sql.push_str(&format!(" ORDER BY \"id\" LIMIT {PAGE}"));
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values))
            .await
            .with_context(|| format!("cannot read table \"{}\" of the old database", spec.prisma))?;
        rows.iter()
            .map(|row| {
                let values = (0..spec.columns.len())
                    .map(|i| row.try_get_by_index::<Option<String>>(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row { columns: spec.columns, values })
            })
            .collect()
    }

    /// Which of `ids` exist in a source table (to tell a skipped parent from a missing one).
    async fn existing(&self, table: &str, ids: &[&str]) -> anyhow::Result<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!("SELECT \"id\" FROM \"{table}\" WHERE \"id\" IN ({placeholders})");
        let values = ids.iter().map(|id| Value::from(*id));
        let rows = self.db.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
        Ok(rows.iter().filter_map(|row| row.try_get_by_index::<String>(0).ok()).collect())
    }
}

/// One source row, every value as text (NULL as `None`).
struct Row {
    columns: &'static [&'static str],
    values: Vec<Option<String>>,
}

impl Row {
    fn id(&self) -> Option<&str> {
        self.values[0].as_deref()
    }

    fn optional(&self, i: usize) -> Option<String> {
        self.values[i].clone()
    }

    fn required(&self, i: usize) -> Result<String, Skip> {
        self.optional(i).ok_or_else(|| Skip::invalid(format!("{} is NULL", self.columns[i])))
    }

    /// A required value that must fit a column of `max` characters (ids, tokens).
    fn bounded(&self, i: usize, max: usize) -> Result<String, Skip> {
        let value = self.required(i)?;
        if value.is_empty() {
            return Err(Skip::invalid(format!("{} is empty", self.columns[i])));
        }
        if value.chars().count() > max {
            return Err(Skip::invalid(format!("{} is longer than {max} characters", self.columns[i])));
        }
        Ok(value)
    }

    fn time(&self, i: usize) -> Result<DateTime<Utc>, Skip> {
        let raw = self.required(i)?;
        let time = parse_timestamp(&raw)
            .ok_or_else(|| Skip::invalid(format!("{} is not a readable timestamp: {raw:?}", self.columns[i])))?;
        if !storable(time) {
            return Err(Skip::invalid(format!(
                "{} {} is outside 1970-01-01 00:00:01 – 2038-01-19 03:14:07 UTC, the range the app can store on MySQL",
                self.columns[i],
                time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            )));
        }
        Ok(time)
    }

    fn optional_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, Skip> {
        match self.optional(i) {
            None => Ok(None),
            Some(_) => self.time(i).map(Some),
        }
    }

    /// An enum value, matched case-insensitively after trimming; anything else is refused.
    fn choice<T: Copy>(&self, i: usize, options: &[(&str, T)]) -> Result<T, Skip> {
        let raw = self.required(i)?;
        let wanted = raw.trim().to_ascii_uppercase();
        options.iter().find(|(name, _)| *name == wanted).map(|(_, value)| *value).ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            Skip::invalid(format!("{} {raw:?} is not one of {}", self.columns[i], names.join(", ")))
        })
    }
}

/// Reads a Prisma SQLite DateTime value (as text, see [`Source::page`]) into UTC.
///
/// Accepted: integer milliseconds since the Unix epoch (what Prisma writes; numeric strings and
/// fractional milliseconds too), RFC 3339 / ISO 8601 with `T` or a space, with or without
/// fractional seconds and offset (no offset means UTC), a bare date, and RFC 2822. Years outside
/// 1000–9999 (MySQL DATETIME's range) are refused.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let text = raw.trim();
    let fractional = || text.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) && text.parse::<f64>().is_ok();
    let parsed = if let Ok(millis) = text.parse::<i64>() {
        DateTime::from_timestamp_millis(millis)
    } else if fractional() {
        let micros = (text.parse::<f64>().unwrap_or(f64::NAN) * 1000.0).round();
        (micros.is_finite() && micros.abs() < 9.0e18).then(|| DateTime::from_timestamp_micros(micros as i64)).flatten()
    } else {
        parse_text_timestamp(text)
    };
    parsed.filter(|time| (1000..=9999).contains(&time.year()))
}

fn parse_text_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.to_utc());
    }
    // `Z` spelled as an offset, so one set of formats covers both.
    let text = match text.strip_suffix(['Z', 'z']) {
        Some(rest) => format!("{}+00:00", rest.trim_end()),
        None => text.to_string(),
    };
    for format in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f %#z"] {
        if let Ok(time) = DateTime::parse_from_str(&text, format) {
            return Some(time.to_utc());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(&text, format) {
            return Some(time.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|time| time.and_utc());
    }
    DateTime::parse_from_rfc2822(&text).ok().map(|time| time.to_utc())
}

/// Whether the app can store `time` on every target. Our columns are DATETIME(6), but SeaORM
/// binds a `DateTime<Utc>` as a MySQL TIMESTAMP parameter, which MySQL/MariaDB turn into NULL
/// outside TIMESTAMP's range (a NOT NULL column then refuses the row; a nullable one, like
/// `banned_at`, would silently lose the value). The same rule applies on SQLite so an import
/// gives the same result on either target.
fn storable(time: DateTime<Utc>) -> bool {
    let first = DateTime::from_timestamp(1, 0);
    let last = DateTime::from_timestamp(i64::from(i32::MAX), 999_999_999);
    first.is_some_and(|first| time >= first) && last.is_some_and(|last| time <= last)
}

/// `value` cut to `max_chars` characters and `max_bytes` bytes (on a character boundary), and
/// whether anything was cut.
fn shorten(value: String, max_chars: usize, max_bytes: usize) -> (String, bool) {
    let mut end = value.len().min(max_bytes);
    if let Some((index, _)) = value.char_indices().nth(max_chars) {
        end = end.min(index);
    }
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    if end == value.len() { (value, false) } else { (value[..end].to_string(), true) }
}

// ---------------------------------------------------------------------------------------------
// Why a row is skipped.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Its id is already in the target (imported before, or the same row): left untouched.
    AlreadyPresent,
    /// A session that has already expired.
    Expired,
    /// A value our schema cannot hold or that is not one of the allowed values.
    Invalid,
    /// Its normalized email belongs to another account already (imported before it, or in the target).
    EmailTaken,
    /// Its user or conversation is in the source but was skipped.
    ParentSkipped,
    /// Its user or conversation does not exist in the source at all.
    Orphan,
    /// The target refused it for a unique key or foreign key (e.g. a session token in use).
    Conflict,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::AlreadyPresent => "already present",
            Reason::Expired => "expired",
            Reason::Invalid => "invalid",
            Reason::EmailTaken => "email taken",
            Reason::ParentSkipped => "parent skipped",
            Reason::Orphan => "orphan",
            Reason::Conflict => "conflict",
        }
    }

    /// Reasons expected in bulk (a second run, old sessions) are counted, not listed.
    fn listed(self) -> bool {
        !matches!(self, Reason::AlreadyPresent | Reason::Expired)
    }
}

#[derive(Debug)]
struct Skip {
    reason: Reason,
    detail: String,
}

impl Skip {
    fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into() }
    }

    fn invalid(detail: impl Into<String>) -> Self {
        Self::new(Reason::Invalid, detail)
    }
}

/// A converted row and what was changed to make it fit (printed once it is imported).
struct Candidate<M> {
    model: M,
    notes: Vec<String>,
}

impl<M> Candidate<M> {
    fn new(model: M) -> Self {
        Self { model, notes: Vec::new() }
    }
}

// ---------------------------------------------------------------------------------------------
// The five tables.

/// What the import of one table needs to know; [`import_table`] does the rest.
trait Table {
    type Model: Clone;
    type Entity: EntityTrait<Model = Self::Model, ActiveModel: From<Self::Model>>;
    /// The primary key.
    const ID: <Self::Entity as EntityTrait>::Column;
    const SPEC: Spec;

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip>;
    fn id(model: &Self::Model) -> &str;
    /// Roughly how many bytes the row takes in an INSERT.
    fn size(model: &Self::Model) -> usize;
    /// Which of `ids` are already in the target.
    async fn present(txn: &DatabaseTransaction, ids: Vec<String>) -> Result<HashSet<String>, DbErr> {
        let found: Vec<String> = Self::Entity::find()
            .select_only()
            .column(Self::ID)
            .filter(Self::ID.is_in(ids))
            .into_tuple()
            .all(txn)
            .await?;
        Ok(found.into_iter().collect())
    }
    /// Skips that depend on the target or the rest of the page, one entry per model.
    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>>;
    async fn insert(txn: &DatabaseTransaction, models: Vec<Self::Model>) -> Result<u64, DbErr> {
        Self::Entity::insert_many(models.into_iter().map(<Self::Entity as EntityTrait>::ActiveModel::from))
            .exec_without_returning(txn)
            .await
    }
}

struct Env<'a> {
    source: &'a Source,
    now: DateTime<Utc>,
}

struct Users;
struct Sessions;
struct Conversations;
struct Messages;
struct AuditLogs;

impl Table for Users {
    type Model = user::Model;
    type Entity = User;
    const ID: user::Column = user::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "User",
        ours: "users",
        columns: &["id", "email", "passwordHash", "role", "bannedAt", "createdAt", "updatedAt"],
    };

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        let email = normalize_email(&row.required(1)?);
        if email.is_empty() {
            return Err(Skip::invalid("email is empty"));
        }
        if email.len() > EMAIL_BYTES {
            return Err(Skip::invalid(format!("email is longer than {EMAIL_BYTES} bytes")));
        }
        let password_hash = row.bounded(2, PASSWORD_HASH_CHARS)?;
        let bcrypt =
            password_hash.len() == 60 && ["$2a$", "$2b$", "$2y$", "$2x$"].iter().any(|v| password_hash.starts_with(v));
        let mut candidate = Candidate::new(user::Model {
            id: row.bounded(0, ID_CHARS)?,
            email,
            password_hash,
            role: row.choice(3, &[("USER", Role::User), ("ADMIN", Role::Admin)])?,
            banned_at: row.optional_time(4)?,
            created_at: row.time(5)?,
            updated_at: row.time(6)?,
            // The old app never verified addresses; its users were Chinese-speaking.
            email_verified_at: None,
            locale: "zh".into(),
        });
        if !bcrypt {
            candidate
                .notes
                .push("passwordHash is not a bcrypt hash: the account cannot log in until it is reset".into());
        }
        Ok(candidate)
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        model.id.len() + model.email.len() + model.password_hash.len() + 64
    }

    /// An email already used by another account (in the target, or earlier in this page) keeps
    /// its first owner: ids are read in order, which for Prisma's `cuid()` ids is creation order.
    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>> {
        let emails: Vec<&str> = models.iter().map(|m| m.email.as_str()).collect();
        let owners: Vec<(String, String)> = User::find()
            .select_only()
            .columns([user::Column::Email, user::Column::Id])
            .filter(user::Column::Email.is_in(emails))
            .into_tuple()
            .all(txn)
            .await?;
        let mut owners: HashMap<String, String> = owners.into_iter().collect();
        let mut verdicts = Vec::with_capacity(models.len());
        for model in models {
            let verdict = match owners.get(&model.email) {
                Some(owner) => {
                    let old = !env.source.existing(Users::SPEC.prisma, &[owner.as_str()]).await?.is_empty();
                    let whose = if old {
                        format!("old user {owner} (imported before it)")
                    } else {
                        format!("account {owner} in this database")
                    };
                    Some(Skip::new(Reason::EmailTaken, format!("email {} already belongs to {whose}", model.email)))
                }
                None => {
                    owners.insert(model.email.clone(), model.id.clone());
                    None
                }
            };
            verdicts.push(verdict);
        }
        Ok(verdicts)
    }
}

impl Table for Sessions {
    type Model = session::Model;
    type Entity = Session;
    const ID: session::Column = session::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "Session",
        ours: "sessions",
        columns: &["id", "userId", "sessionToken", "expires", "createdAt"],
    };

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        Ok(Candidate::new(session::Model {
            id: row.bounded(0, ID_CHARS)?,
            user_id: row.bounded(1, ID_CHARS)?,
            session_token: row.bounded(2, TOKEN_CHARS)?,
            expires: row.time(3)?,
            created_at: row.time(4)?,
            ip: None,
            user_agent: None,
            last_used_at: None,
        }))
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        model.id.len() + model.user_id.len() + model.session_token.len() + 64
    }

    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>> {
        let user_ids: Vec<&str> = models.iter().map(|m| m.user_id.as_str()).collect();
        let parents = Parents::find::<Users>(env, txn, &user_ids, "user").await?;
        let tokens: Vec<&str> = models.iter().map(|m| m.session_token.as_str()).collect();
        let holders: Vec<(String, String)> = Session::find()
            .select_only()
            .columns([session::Column::SessionToken, session::Column::Id])
            .filter(session::Column::SessionToken.is_in(tokens))
            .into_tuple()
            .all(txn)
            .await?;
        let holders: HashMap<String, String> = holders.into_iter().collect();
        Ok(models
            .iter()
            .map(|model| {
                if model.expires <= env.now {
                    Some(Skip::new(Reason::Expired, format!("expired at {}", model.expires.to_rfc3339())))
                } else if let Some(skip) = parents.skip(&model.user_id) {
                    Some(skip)
                } else {
                    holders.get(&model.session_token).map(|other| {
                        Skip::new(Reason::Conflict, format!("its sessionToken is used by session {other}"))
                    })
                }
            })
            .collect())
    }
}

impl Table for Conversations {
    type Model = conversation::Model;
    type Entity = Conversation;
    const ID: conversation::Column = conversation::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "Conversation",
        ours: "conversations",
        columns: &["id", "userId", "type", "title", "createdAt", "updatedAt"],
    };

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        let (title, cut) = shorten(row.required(3)?, TITLE_CHARS, usize::MAX);
        let mut candidate = Candidate::new(conversation::Model {
            id: row.bounded(0, ID_CHARS)?,
            user_id: row.bounded(1, ID_CHARS)?,
            kind: row.choice(2, &[("ORACLE", ConversationKind::Oracle), ("TCM", ConversationKind::Tcm)])?,
            title,
            created_at: row.time(4)?,
            updated_at: row.time(5)?,
            // The old app's conversations are one branch each: their messages have no parent,
            // and read in order (see `chat::tree`).
            active_leaf_id: None,
            title_source: TitleSource::Message,
        });
        if cut {
            candidate.notes.push(format!("title shortened to {TITLE_CHARS} characters"));
        }
        Ok(candidate)
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        model.id.len() + model.user_id.len() + model.title.len() + 64
    }

    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>> {
        let user_ids: Vec<&str> = models.iter().map(|m| m.user_id.as_str()).collect();
        let parents = Parents::find::<Users>(env, txn, &user_ids, "user").await?;
        Ok(models.iter().map(|model| parents.skip(&model.user_id)).collect())
    }
}

impl Table for Messages {
    type Model = message::Model;
    type Entity = Message;
    const ID: message::Column = message::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "Message",
        ours: "messages",
        columns: &["id", "conversationId", "role", "content", "createdAt"],
    };

    /// The rows, and their tallies for the usage dashboard (in the same transaction).
    async fn insert(txn: &DatabaseTransaction, models: Vec<Self::Model>) -> Result<u64, DbErr> {
        let ids: Vec<Value> = models.iter().map(|model| model.id.clone().into()).collect();
        let inserted = Message::insert_many(models.into_iter().map(message::ActiveModel::from))
            .exec_without_returning(txn)
            .await?;
        let backend = txn.get_database_backend();
        let tally = migration::tally_messages_sql(backend, Some(ids.len()));
        txn.execute_raw(Statement::from_sql_and_values(backend, tally, ids)).await?;
        Ok(inserted)
    }

    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        let content = row.required(3)?;
        if content.len() > MEDIUMTEXT_BYTES {
            return Err(Skip::invalid(format!("content is longer than {MEDIUMTEXT_BYTES} bytes")));
        }
        Ok(Candidate::new(message::Model {
            id: row.bounded(0, ID_CHARS)?,
            conversation_id: row.bounded(1, ID_CHARS)?,
            role: row.choice(2, &[("USER", MessageRole::User), ("ASSISTANT", MessageRole::Assistant)])?,
            content,
            prompt_tokens: None,
            completion_tokens: None,
            created_at: row.time(4)?,
            parent_id: None,
            stopped: false,
            // The old app's replies were its model's, as ours are.
            from_client: false,
        }))
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        model.id.len() + model.conversation_id.len() + model.content.len() + 64
    }

    async fn check(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        models: &[&Self::Model],
    ) -> anyhow::Result<Vec<Option<Skip>>> {
        let conversation_ids: Vec<&str> = models.iter().map(|m| m.conversation_id.as_str()).collect();
        let parents = Parents::find::<Conversations>(env, txn, &conversation_ids, "conversation").await?;
        Ok(models.iter().map(|model| parents.skip(&model.conversation_id)).collect())
    }
}

impl Table for AuditLogs {
    type Model = audit_log::Model;
    type Entity = AuditLog;
    const ID: audit_log::Column = audit_log::Column::Id;
    const SPEC: Spec = Spec {
        prisma: "AuditLog",
        ours: "audit_logs",
        columns: &["id", "actorId", "action", "message", "ip", "userAgent", "createdAt"],
    };

    /// The actor is kept even when that account is gone (the trail has no foreign key).
    fn convert(row: &Row) -> Result<Candidate<Self::Model>, Skip> {
        let actor_id = row.optional(1).filter(|actor| !actor.is_empty());
        if actor_id.as_ref().is_some_and(|actor| actor.chars().count() > ID_CHARS) {
            return Err(Skip::invalid(format!("actorId is longer than {ID_CHARS} characters")));
        }
        let mut notes = Vec::new();
        let mut fit = |name: &str, value: String, max_chars: usize, max_bytes: usize| {
            let (value, cut) = shorten(value, max_chars, max_bytes);
            if cut {
                notes.push(format!("{name} shortened to fit the column"));
            }
            value
        };
        let action = fit("action", row.required(2)?, ACTION_CHARS, usize::MAX);
        let message = fit("message", row.required(3)?, usize::MAX, TEXT_BYTES);
        let ip = row.optional(4).map(|ip| fit("ip", ip, IP_CHARS, usize::MAX));
        let user_agent = row.optional(5).map(|agent| fit("userAgent", agent, usize::MAX, TEXT_BYTES));
        let model = audit_log::Model {
            id: row.bounded(0, ID_CHARS)?,
            actor_id,
            action,
            message,
            ip,
            user_agent,
            created_at: row.time(6)?,
            // The old app quoted addresses in its messages; they stay as they were.
            subject: None,
            repeat_key: None,
            occurrences: 1,
        };
        Ok(Candidate { model, notes })
    }

    fn id(model: &Self::Model) -> &str {
        &model.id
    }

    fn size(model: &Self::Model) -> usize {
        let optional = |value: &Option<String>| value.as_ref().map_or(0, String::len);
        model.id.len()
            + optional(&model.actor_id)
            + model.action.len()
            + model.message.len()
            + optional(&model.ip)
            + optional(&model.user_agent)
            + 64
    }

    async fn check(_: &Env<'_>, _: &DatabaseTransaction, models: &[&Self::Model]) -> anyhow::Result<Vec<Option<Skip>>> {
        Ok(models.iter().map(|_| None).collect())
    }
}

/// The parents (users or conversations) a page refers to: present in the target, or else
/// skipped (in the source) or missing (not even in the source).
struct Parents {
    noun: &'static str,
    present: HashSet<String>,
    in_source: HashSet<String>,
}

impl Parents {
    async fn find<P: Table>(
        env: &Env<'_>,
        txn: &DatabaseTransaction,
        ids: &[&str],
        noun: &'static str,
    ) -> anyhow::Result<Self> {
        let unique: HashSet<&str> = ids.iter().copied().collect();
        let present = P::present(txn, unique.iter().map(|id| id.to_string()).collect()).await?;
        let absent: Vec<&str> = unique.into_iter().filter(|id| !present.contains(*id)).collect();
        let in_source = env.source.existing(P::SPEC.prisma, &absent).await?;
        Ok(Self { noun, present, in_source })
    }

    fn skip(&self, id: &str) -> Option<Skip> {
        if self.present.contains(id) {
            None
        } else if self.in_source.contains(id) {
            Some(Skip::new(Reason::ParentSkipped, format!("its {} {id} was skipped", self.noun)))
        } else {
            Some(Skip::new(Reason::Orphan, format!("its {} {id} does not exist in the old database", self.noun)))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The loop every table goes through.

async fn import_table<T: Table>(env: &Env<'_>, target: &DatabaseConnection, report: &mut Report) -> anyhow::Result<()> {
    let spec = &T::SPEC;
    report.bar.set_prefix(spec.ours);
    report.stats.push(Stats::new(spec.ours));
    let mut after: Option<String> = None;
    loop {
        let page = env.source.page(spec, after.as_deref()).await?;
        let Some(last) = page.last() else { break };
        after = last.id().map(str::to_string);
        let read = page.len();
        report.table().read += read as u64;

        let mut candidates = Vec::with_capacity(read);
        for row in &page {
            match T::convert(row) {
                Ok(candidate) => candidates.push(candidate),
                Err(skip) => report.skip(spec, row.id().unwrap_or("(no id)"), skip),
            }
        }
        drop(page);
        if !candidates.is_empty() {
            import_page::<T>(env, target, report, candidates).await?;
        }
        report.bar.inc(read as u64);
        if read < PAGE {
            break;
        }
    }
    Ok(())
}

/// Writes one page's converted rows in one transaction, skipping what the target already has
/// or cannot take.
async fn import_page<T: Table>(
    env: &Env<'_>,
    target: &DatabaseConnection,
    report: &mut Report,
    mut candidates: Vec<Candidate<T::Model>>,
) -> anyhow::Result<()> {
    let spec = &T::SPEC;
    let txn = target.begin().await.context("cannot start a transaction in DATABASE_URL")?;
    let ids = candidates.iter().map(|c| T::id(&c.model).to_string()).collect();
    let present = T::present(&txn, ids)
        .await
        .with_context(|| format!("cannot read table {} (are the migrations applied?)", spec.ours))?;
    candidates.retain(|candidate| {
        let id = T::id(&candidate.model);
        let keep = !present.contains(id);
        if !keep {
            report.skip(spec, id, Skip::new(Reason::AlreadyPresent, "left as it is"));
        }
        keep
    });
    if candidates.is_empty() {
        txn.commit().await?;
        return Ok(());
    }
    let models: Vec<&T::Model> = candidates.iter().map(|c| &c.model).collect();
    let verdicts = T::check(env, &txn, &models).await?;
    let mut accepted = Vec::with_capacity(candidates.len());
    for (candidate, verdict) in candidates.into_iter().zip(verdicts) {
        match verdict {
            Some(skip) => report.skip(spec, T::id(&candidate.model), skip),
            None => accepted.push(candidate),
        }
    }

    for chunk in chunks_by_size::<T>(accepted) {
        let refused =
            insert_chunk::<T>(&txn, &chunk).await.with_context(|| format!("cannot write to {}", spec.ours))?;
        for candidate in chunk {
            let id = T::id(&candidate.model);
            match refused.get(id) {
                Some(message) => {
                    report.skip(spec, id, Skip::new(Reason::Conflict, format!("refused by the database: {message}")))
                }
                None => report.imported(spec, id, &candidate.notes),
            }
        }
    }
    txn.commit().await.with_context(|| format!("cannot write to {}", spec.ours))?;
    Ok(())
}

fn chunks_by_size<T: Table>(candidates: Vec<Candidate<T::Model>>) -> Vec<Vec<Candidate<T::Model>>> {
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    let mut bytes = 0;
    for candidate in candidates {
        let size = T::size(&candidate.model);
        if !chunk.is_empty() && bytes + size > INSERT_BYTES {
            chunks.push(std::mem::take(&mut chunk));
            bytes = 0;
        }
        bytes += size;
        chunk.push(candidate);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

/// Inserts the chunk in one statement. If the database refuses it for a key (a row written
/// concurrently, or a uniqueness only the target's collation sees), each row is tried on its
/// own so only the refused ones are skipped; returns their ids and the database's message.
/// Any other error fails the import.
async fn insert_chunk<T: Table>(
    txn: &DatabaseTransaction,
    chunk: &[Candidate<T::Model>],
) -> Result<HashMap<String, String>, DbErr> {
    let mut refused = HashMap::new();
    let savepoint = txn.begin().await?;
    match T::insert(&savepoint, chunk.iter().map(|c| c.model.clone()).collect()).await {
        Ok(_) => {
            savepoint.commit().await?;
            return Ok(refused);
        }
        Err(err) if err.sql_err().is_some() => savepoint.rollback().await?,
        Err(err) => return Err(err),
    }
    for candidate in chunk {
        let savepoint = txn.begin().await?;
        match T::insert(&savepoint, vec![candidate.model.clone()]).await {
            Ok(_) => savepoint.commit().await?,
            Err(err) => match err.sql_err() {
                Some(sql_err) => {
                    savepoint.rollback().await?;
                    refused.insert(T::id(&candidate.model).to_string(), sql_err.to_string());
                }
                None => return Err(err),
            },
        }
    }
    Ok(refused)
}

// ---------------------------------------------------------------------------------------------
// Progress and the report.

struct Stats {
    table: &'static str,
    read: u64,
    imported: u64,
    noted: u64,
    skipped: BTreeMap<Reason, u64>,
}

impl Stats {
    fn new(table: &'static str) -> Self {
        Self { table, read: 0, imported: 0, noted: 0, skipped: BTreeMap::new() }
    }

    /// `users: read 6, imported 3 (notes: 1), skipped 3 (invalid: 1, email taken: 2)`
    fn line(&self) -> String {
        let skipped: u64 = self.skipped.values().sum();
        let mut line = format!("{}: read {}, imported {}", self.table, self.read, self.imported);
        if self.noted > 0 {
            line.push_str(&format!(" (notes: {})", self.noted));
        }
        line.push_str(&format!(", skipped {skipped}"));
        if skipped > 0 {
            let reasons: Vec<String> =
                self.skipped.iter().map(|(reason, count)| format!("{}: {count}", reason.label())).collect();
            line.push_str(&format!(" ({})", reasons.join(", ")));
        }
        line
    }
}

struct Report {
    bar: ProgressBar,
    stats: Vec<Stats>,
    listed: HashMap<(&'static str, Reason), u64>,
}

impl Report {
    /// The bar is drawn only when stdout is a terminal (not in scripts, CI or tests, where the
    /// report lines alone are printed).
    fn new(total: u64) -> Self {
        let target =
            if std::io::stdout().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) = ProgressStyle::with_template("{prefix:>13} [{bar:40}] {pos}/{len} rows ({eta} left)") {
            bar.set_style(style.progress_chars("=> "));
        }
        if !bar.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Self { bar, stats: Vec::new(), listed: HashMap::new() }
    }

    fn table(&mut self) -> &mut Stats {
        self.stats.last_mut().expect("a table is being imported")
    }

    fn say(&self, line: String) {
        self.bar.suspend(|| println!("{line}"));
    }

    fn skip(&mut self, spec: &Spec, id: &str, skip: Skip) {
        *self.table().skipped.entry(skip.reason).or_default() += 1;
        if !skip.reason.listed() {
            return;
        }
        let listed = self.listed.entry((spec.prisma, skip.reason)).or_default();
        *listed += 1;
        if *listed <= LISTED {
            self.say(format!("skipped {} {id}: {}", spec.prisma, skip.detail));
        } else if *listed == LISTED + 1 {
            self.say(format!("… more {} rows skipped as {} are only counted", spec.prisma, skip.reason.label()));
        }
    }

    fn imported(&mut self, spec: &Spec, id: &str, notes: &[String]) {
        let stats = self.table();
        stats.imported += 1;
        if !notes.is_empty() {
            stats.noted += 1;
            for note in notes {
                self.say(format!("note {} {id}: {note}", spec.prisma));
            }
        }
    }

    fn print_summary(&self, elapsed: Duration, finished: bool) {
        if !finished {
            println!(
                "The import stopped on an error (below). The rows counted as imported are saved; run the \
                 import again to continue."
            );
        }
        println!("Summary ({:.1} s):", elapsed.as_secs_f64());
        for stats in &self.stats {
            println!("  {}", stats.line());
        }
        let problems = self.stats.iter().any(|s| s.skipped.keys().any(|reason| reason.listed()));
        println!("Rows already present were left as they are; nothing was overwritten.");
        if problems {
            println!(
                "Skipped rows are listed above. Fix them in the old database if they matter and run the import \
                 again: it only adds what is missing."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + chrono::TimeDelta::milliseconds(ms.into())
    }

    #[test]
    fn timestamps_in_every_form_prisma_and_other_tools_write() {
        let expected = utc(2023, 11, 14, 22, 13, 20, 123);
        // Prisma's native SQLite connector: integer milliseconds (read as text, see `page`).
        assert_eq!(parse_timestamp("1700000000123"), Some(expected));
        assert_eq!(parse_timestamp(" 1700000000123 "), Some(expected));
        assert_eq!(parse_timestamp("1700000000123.0"), Some(expected));
        assert_eq!(parse_timestamp("1.700000000123e12"), Some(expected));
        // ISO 8601 / RFC 3339 (driver adapters, JavaScript's toISOString, other tools).
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123Z"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123+00:00"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-15T06:13:20.123+08:00"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14 22:13:20.123Z"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14 22:13:20.123 +00:00"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14 22:13:20.123"), Some(expected));
        // SQLite's CURRENT_TIMESTAMP (a column default written without Prisma), UTC.
        assert_eq!(parse_timestamp("2023-11-14 22:13:20"), Some(utc(2023, 11, 14, 22, 13, 20, 0)));
        // Prisma's DDL spelling of a literal default.
        assert_eq!(parse_timestamp("1900-01-01 00:00:00 +00:00"), Some(utc(1900, 1, 1, 0, 0, 0, 0)));
        assert_eq!(parse_timestamp("2023-11-14"), Some(utc(2023, 11, 14, 0, 0, 0, 0)));
        assert_eq!(parse_timestamp("Tue, 14 Nov 2023 22:13:20 +0000"), Some(utc(2023, 11, 14, 22, 13, 20, 0)));
        assert_eq!(parse_timestamp("-1000"), Some(utc(1969, 12, 31, 23, 59, 59, 0)));
    }

    #[test]
    fn unreadable_or_out_of_range_timestamps_are_refused() {
        for raw in ["", "yesterday", "NaN", "inf", "2023-13-01", "2023-11-14T25:00:00Z", "99999999999999999", "1e300"] {
            assert_eq!(parse_timestamp(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn only_timestamps_mysql_can_take_are_storable() {
        assert!(storable(utc(1970, 1, 1, 0, 0, 1, 0)));
        assert!(storable(utc(2038, 1, 19, 3, 14, 7, 999)));
        assert!(!storable(utc(1969, 12, 31, 23, 59, 59, 0)));
        assert!(!storable(utc(2038, 1, 19, 3, 14, 8, 0)));
        assert!(!storable(utc(2100, 1, 1, 0, 0, 0, 0)));
    }

    #[test]
    fn shorten_cuts_on_character_boundaries() {
        assert_eq!(shorten("abc".into(), 5, 5), ("abc".into(), false));
        assert_eq!(shorten("abcdef".into(), 3, usize::MAX), ("abc".into(), true));
        // 3-byte characters: 7 bytes allow two of them.
        assert_eq!(shorten("易经问卦".into(), usize::MAX, 7), ("易经".into(), true));
        assert_eq!(shorten("易经问卦".into(), 4, 12), ("易经问卦".into(), false));
    }

    #[test]
    fn summary_lines() {
        let mut stats = Stats::new("users");
        stats.read = 6;
        stats.imported = 3;
        assert_eq!(stats.line(), "users: read 6, imported 3, skipped 0");
        stats.noted = 1;
        stats.skipped.insert(Reason::EmailTaken, 2);
        stats.skipped.insert(Reason::Invalid, 1);
        assert_eq!(stats.line(), "users: read 6, imported 3 (notes: 1), skipped 3 (invalid: 1, email taken: 2)");
    }
}
