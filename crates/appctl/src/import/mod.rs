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

mod report;
mod skip;
mod source;
mod tables;

use std::{collections::HashMap, path::Path, time::Instant};

use anyhow::Context;
use chrono::Utc;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};

use report::{Report, Stats};
use skip::{Candidate, Reason, Skip};
use source::{Row, Source, Spec};
use tables::{AuditLogs, Conversations, Env, Messages, Sessions, Table, Users};

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
