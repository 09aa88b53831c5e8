//! Sliding-window rate limits kept in the database, so they hold across every Function Compute
//! instance (an in-memory counter would reset with each cold start and never see the others).
//!
//! Each counted event is a row in `rate_limit_hits`; a limit of `max` per `window` is exceeded
//! when `max` rows for the same bucket and key are younger than `window`. The answer then says
//! how long until the oldest of those rows leaves the window (`Retry-After`).
//!
//! **One atomic step.** [`charge`] checks and counts in one transaction that first locks the
//! key's row in `rate_limit_keys` (an upsert): every other charge of the same key, on any
//! instance, waits for it, and then sees its hit. So a burst of any size admits at most the
//! limit; a refused request rolls back and counts nothing. Counting first and checking in a
//! separate step (what this module did before) let every request of a burst pass the check
//! before any of them was counted.
//!
//! A hit can also stand for something that is still going on (a login being checked): [`release`]
//! takes it back when it should not count after all, and a slot whose holder died stops
//! counting once its window has passed. A streaming reply is counted by its own row instead
//! ([`Events::ReplyStreams`]): the row a stop needs anyway is its slot, so taking and giving
//! back the slot costs no statement of its own.
//!
//! **Housekeeping.** Expired hits and keys are deleted in bounded batches after charges of
//! their bucket ([`sweep`]), so the tables hold only what some limit still counts, without a
//! scheduler of our own.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryResult, QuerySelect,
    sea_query::{Alias, DynIden, Expr, ExprTrait, IntoIden, OnConflict, Order, Query, SelectStatement},
};

use crate::{
    clock::Clock,
    db::{Db, Txn},
    entities::{RateLimitHit, RateLimitKey, ReplyStream, rate_limit_hit, rate_limit_key, reply_stream},
    error::{AppError, AppResult},
};

/// The longest window a limit may have (and so the longest any hit is kept).
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

/// At most `max` events per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

impl Limit {
    /// Parses `7/5m`, `100/1h`, `50/1d`; `off` (or `0`) disables the limit.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") || raw == "0" {
            return Ok(None);
        }
        let (max, window) =
            raw.split_once('/').ok_or_else(|| format!("{raw:?}: expected COUNT/WINDOW such as 7/5m, or off"))?;
        let max: u32 = max.trim().parse().map_err(|_| format!("{raw:?}: {max:?} is not a whole number"))?;
        let window = crate::config::parse_duration(window.trim())?;
        if window > MAX_WINDOW {
            return Err(format!("{raw:?}: the window may be at most 366 days"));
        }
        if max == 0 {
            // Read as "none allowed" by some and "no limit" by others: neither is guessed.
            return Err(format!("{raw:?}: a count of 0 is ambiguous; write `off` for no limit"));
        }
        Ok(Some(Self { max, window }))
    }
}

/// What is being counted. The string form is stored in `rate_limit_hits.bucket`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Failed logins from one client IP.
    LoginIp,
    /// Failed logins for one email address.
    LoginAccount,
    /// Registration attempts from one client IP.
    RegisterIp,
    /// Chat messages sent by one user.
    ChatMessages,
    /// Streaming replies one user has running: counted from their rows in `reply_streams`
    /// ([`Events::ReplyStreams`]), which the turn inserts and the reply's end deletes.
    ChatStreams,
    /// Password-reset requests from one client IP.
    ResetIp,
    /// Password-reset requests for one email address (known or not).
    ResetAddress,
    /// Verification mails sent to one address.
    VerifyMail,
    /// Messages of one user that moderation blocked (strikes toward a cool-down).
    ModerationStrikes,
    /// Readings one user cast (the oracle's journal).
    OracleCasts,
    /// Constitution questionnaires one user submitted.
    ConstitutionAssessments,
    /// Upload forms one user was issued (their key is also the lock that keeps one user's
    /// storage quota checks one after the other: `attachments::quota`).
    AttachmentUploads,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginIp => "login_ip",
            Self::LoginAccount => "login_account",
            Self::RegisterIp => "register_ip",
            Self::ChatMessages => "chat_messages",
            Self::ChatStreams => "chat_streams",
            Self::ResetIp => "reset_ip",
            Self::ResetAddress => "reset_address",
            Self::VerifyMail => "verify_mail",
            Self::ModerationStrikes => "moderation_strikes",
            Self::OracleCasts => "oracle_casts",
            Self::ConstitutionAssessments => "constitution_assessments",
            Self::AttachmentUploads => "attachment_uploads",
        }
    }

    /// Where the events this bucket counts are kept.
    fn events(self) -> Events {
        match self {
            Self::ChatStreams => Events::ReplyStreams,
            _ => Events::Hits,
        }
    }

    /// The 429 a refused charge answers, `retry_after` being when the window frees a slot.
    fn refusal(self, retry_after: Duration) -> AppError {
        let (code, message) = match self {
            Self::LoginIp | Self::LoginAccount => {
                ("rate_limited", "too many failed logins; please wait before trying again")
            }
            Self::RegisterIp => ("rate_limited", "too many registrations from this network; please try again later"),
            Self::ChatMessages => ("rate_limited", "you have reached your message quota; please try again later"),
            Self::ChatStreams => {
                ("too_many_streams", "too many replies are streaming for this account at once; wait for one to finish")
            }
            Self::ResetIp | Self::ResetAddress => {
                ("rate_limited", "too many password-reset requests; please wait before asking again")
            }
            Self::VerifyMail => ("rate_limited", "too many verification mails; please wait before asking again"),
            Self::OracleCasts => {
                ("rate_limited", "you have cast as many readings as allowed for now; please try again later")
            }
            Self::ConstitutionAssessments => {
                ("rate_limited", "you have taken the questionnaire as often as allowed for now; please try again later")
            }
            Self::AttachmentUploads => {
                ("rate_limited", "you have uploaded as many pictures as allowed for now; please try again later")
            }
            Self::ModerationStrikes => (
                "moderation_cooldown",
                "several of your recent messages broke the content rules; chat is paused for this account for a while",
            ),
        };
        AppError::RateLimited { code, message: message.into(), retry_after: retry_after.max(Duration::from_secs(1)) }
    }
}

/// Where a bucket's events are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Events {
    /// Rows of `rate_limit_hits`, which a charge inserts.
    Hits,
    /// A user's rows in `reply_streams` (the key is the user's id), started within the window.
    /// A charge checks them but inserts nothing: the caller inserts the reply's row in the
    /// charge's transaction ([`begin_locked`]), and deletes it when the reply ends ([`charge`],
    /// which commits by itself, refuses such a meter). One row is
    /// then the stream slot and the stop registration (issue 26: one insert and one delete a
    /// reply fewer).
    ReplyStreams,
}

/// One limit to charge: an event of `key` in `bucket`, at most `limit.max` per `limit.window`.
#[derive(Clone, Copy, Debug)]
pub struct Meter<'a> {
    pub bucket: Bucket,
    pub key: &'a str,
    pub limit: Limit,
}

impl<'a> Meter<'a> {
    /// `None` when the limit is off: there is nothing to charge.
    pub fn new(bucket: Bucket, key: &'a str, limit: Option<Limit>) -> Option<Self> {
        limit.map(|limit| Self { bucket, key, limit })
    }
}

/// A counted event, by id: what [`release`] takes back.
pub type HitId = i64;

/// How often a charge that met a deadlock (MySQL) or a busy database (SQLite) starts again.
pub(crate) const CHARGE_ATTEMPTS: u32 = 5;

/// The most expired rows one [`sweep`] deletes per table.
pub const SWEEP_BATCH: u64 = 200;

/// The longest a request spends sweeping after its charge: housekeeping must not add a
/// database deadline to the request that does it (a slow sweep is cut short, and the next
/// charge sweeps again).
pub const SWEEP_BUDGET: Duration = Duration::from_millis(250);

/// Checks every meter and, when none is used up, counts one event on each: one atomic step
/// (see the module docs). Fails with the first used-up meter's 429, having counted nothing.
pub async fn charge(db: &Db, clock: &Clock, meters: &[Meter<'_>]) -> AppResult<Vec<HitId>> {
    if meters.is_empty() {
        return Ok(Vec::new());
    }
    // Committed here, such a meter would be checked and never counted.
    if meters.iter().any(|meter| meter.bucket.events() != Events::Hits) {
        return Err(AppError::internal("a meter counted by the caller's own rows was charged without them"));
    }
    let (txn, hits) = begin_charged(db, clock, meters).await?;
    txn.commit().await?;
    Ok(hits)
}

/// [`charge`], leaving its transaction open for the caller to add what the charge pays for (a
/// cast reading, a submitted questionnaire): the meters' keys stay locked until the caller
/// commits. A meter whose events are not hits ([`Events::ReplyStreams`]) is checked only: the
/// caller inserts its row before committing. The hits returned are those of the other meters,
/// in order.
pub async fn begin_charged(db: &Db, clock: &Clock, meters: &[Meter<'_>]) -> AppResult<(Txn, Vec<HitId>)> {
    // A deadlock rolled the transaction back, or SQLite was busy: nothing was counted, so
    // starting again is safe.
    retry_transaction(CHARGE_ATTEMPTS, || async {
        let (txn, locked) = begin_locked(db, clock, meters, None).await?;
        match locked.charge(&txn, None).await {
            Ok(hits) => Ok((txn, hits)),
            Err(err) => {
                txn.rollback().await?;
                Err(err)
            }
        }
    })
    .await
}

/// A charge whose keys are locked and whose meters are still to be counted and charged
/// ([`begin_locked`]): for a caller whose own first read in the transaction can carry the
/// counts ([`Locked::count_in`]), as a chat turn's read of its conversation does (issue 26: a
/// round trip to RDS fewer). Until [`Locked::charge`] nothing is counted; the transaction's
/// end releases the keys.
pub struct Locked<'a> {
    meters: &'a [Meter<'a>],
    /// The time once the keys were ours: the charges that held them before are all older, so
    /// the window is measured from after them (and every hit is younger than those it follows).
    now: DateTime<Utc>,
}

/// Begins a transaction and locks the keys of `meters` in it, and `also` although no meter
/// charges it (a chat turn locks the user's quota key even when the quota is off: it keeps
/// their turns one after the other): the first half of [`begin_charged`]. A lock conflict is
/// the caller's to retry, from the `BEGIN`.
pub async fn begin_locked<'a>(
    db: &Db,
    clock: &Clock,
    meters: &'a [Meter<'a>],
    also: Option<(Bucket, &str)>,
) -> Result<(Txn, Locked<'a>), DbErr> {
    let txn = db.begin().await?;
    // Every key in one upsert, always in the same order, so two charges of overlapping keys
    // cannot each hold one the other waits for.
    let mut keys: Vec<(&str, &str)> = meters.iter().map(|meter| (meter.bucket.as_str(), meter.key)).collect();
    keys.extend(also.map(|(bucket, key)| (bucket.as_str(), key)));
    keys.sort_unstable();
    keys.dedup();
    lock_keys(&txn, clock.now(), &keys).await?;
    Ok((txn, Locked { meters, now: clock.now() }))
}

impl Locked<'_> {
    /// Adds what each meter counts to `query`, as a column of its own (`rate_limit_count{i}`: a
    /// scalar subquery each, read once however many rows `query` returns). Plain reads, not
    /// locking ones (and not an `INSERT … SELECT`, which locks what it reads on InnoDB, gaps
    /// included, and would make charges of neighbouring keys deadlock): the keys' locks keep
    /// every other charge of them out until this one commits.
    pub fn count_in(&self, query: &mut SelectStatement) {
        for (index, meter) in self.meters.iter().enumerate() {
            let (mut count, at) = in_window(meter, self.now);
            count.expr(Expr::col(at).count());
            query.expr_as(Expr::SubQuery(None, Box::new(count.into())), Alias::new(format!("rate_limit_count{index}")));
        }
    }

    /// Checks the counts `row` carries (a row of a query given [`Locked::count_in`]; without
    /// one they are read here) and, when no meter is used up, counts one event on each: a hit
    /// for each meter of [`Events::Hits`], returned in order (the others are counted by the
    /// row the caller inserts). Refuses with the first used-up meter's 429, having counted
    /// nothing; the transaction is the caller's to end (dropping it rolls it back).
    pub async fn charge(self, txn: &Txn, row: Option<&QueryResult>) -> AppResult<Vec<HitId>> {
        let counts = match row {
            Some(row) => read_counts(row, self.meters.len())?,
            None => counts(txn, self.now, self.meters).await?,
        };
        for (meter, &count) in self.meters.iter().zip(&counts) {
            if count >= u64::from(meter.limit.max) {
                let retry_after = used_up(txn, self.now, meter).await?.unwrap_or(meter.limit.window);
                return Err(meter.bucket.refusal(retry_after));
            }
        }
        let mut hits = Vec::with_capacity(self.meters.len());
        for meter in self.meters.iter().filter(|meter| meter.bucket.events() == Events::Hits) {
            let id = RateLimitHit::insert(rate_limit_hit::ActiveModel {
                bucket: Set(meter.bucket.as_str().to_string()),
                key: Set(meter.key.to_string()),
                created_at: Set(self.now),
                ..Default::default()
            })
            .exec(txn)
            .await?
            .last_insert_id;
            hits.push(id);
        }
        Ok(hits)
    }
}

/// Locks `keys` (`(bucket, key)`, sorted) with one upsert of their rows in `rate_limit_keys`:
/// every other transaction that locks one of them waits until this one ends.
async fn lock_keys(txn: &Txn, at: DateTime<Utc>, keys: &[(&str, &str)]) -> Result<(), DbErr> {
    if keys.is_empty() {
        return Ok(());
    }
    let rows = keys.iter().map(|(bucket, key)| rate_limit_key::ActiveModel {
        bucket: Set(bucket.to_string()),
        key: Set(key.to_string()),
        updated_at: Set(at),
    });
    RateLimitKey::insert_many(rows)
        .on_conflict(
            OnConflict::columns([rate_limit_key::Column::Bucket, rate_limit_key::Column::Key])
                .update_column(rate_limit_key::Column::UpdatedAt)
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// What each meter counts at `now`, in one statement (a scalar subquery per meter).
async fn counts(db: &impl ConnectionTrait, now: DateTime<Utc>, meters: &[Meter<'_>]) -> Result<Vec<u64>, DbErr> {
    if meters.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = Query::select();
    Locked { meters, now }.count_in(&mut select);
    let row = db
        .query_one(&select)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the counts of a rate-limit charge".into()))?;
    read_counts(&row, meters.len())
}

/// The counts [`Locked::count_in`] added to the query `row` comes from.
fn read_counts(row: &QueryResult, meters: usize) -> Result<Vec<u64>, DbErr> {
    (0..meters)
        .map(|index| {
            let count: i64 = row.try_get("", &format!("rate_limit_count{index}"))?;
            Ok(u64::try_from(count).unwrap_or_default())
        })
        .collect()
}

/// When `meter` is used up at `now`: how long until the window frees a slot.
async fn used_up(db: &impl ConnectionTrait, now: DateTime<Utc>, meter: &Meter<'_>) -> Result<Option<Duration>, DbErr> {
    let counted = counted(db, now, meter).await?;
    if counted.count < u64::from(meter.limit.max) {
        return Ok(None);
    }
    Ok(Some(
        counted
            .next_free_at
            .map(|at| (at - now).to_std().unwrap_or_default())
            .unwrap_or(meter.limit.window)
            .min(meter.limit.window),
    ))
}

/// The pause before attempt `attempt + 1` of something that met a lock conflict: longer each
/// time, with jitter so that the transactions that collided do not collide again.
async fn lock_conflict_pause(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5 + rand::random_range(0..10))).await;
}

/// Runs `run` until it succeeds, fails otherwise than on a lock conflict, or has failed
/// `attempts` times, pausing between attempts. For a statement or transaction the database
/// rolled back whole on a deadlock (so running it again cannot count anything twice).
pub(crate) async fn retry_lock_conflicts<T, F: Future<Output = Result<T, DbErr>>>(
    attempts: u32,
    mut run: impl FnMut() -> F,
) -> Result<T, DbErr> {
    let mut attempt = 1;
    loop {
        match run().await {
            Err(err) if attempt < attempts && is_lock_conflict(&err) => {
                tracing::debug!(error = %err, attempt, "lock conflict; retrying");
                lock_conflict_pause(attempt).await;
                attempt += 1;
            }
            done => return done,
        }
    }
}

/// As [`retry_lock_conflicts`], for a whole transaction written with [`AppResult`]: run again
/// (from its `BEGIN`) when the database rolled it back for a lock conflict.
pub(crate) async fn retry_transaction<T, F: Future<Output = AppResult<T>>>(
    attempts: u32,
    mut run: impl FnMut() -> F,
) -> AppResult<T> {
    let mut attempt = 1;
    loop {
        match run().await {
            Err(AppError::Internal(err))
                if attempt < attempts && err.downcast_ref::<DbErr>().is_some_and(is_lock_conflict) =>
            {
                tracing::debug!(error = %err, attempt, "lock conflict; retrying the transaction");
                lock_conflict_pause(attempt).await;
                attempt += 1;
            }
            done => return done,
        }
    }
}

/// A deadlock (MySQL rolled the transaction back), a lock wait that timed out, or SQLite busy.
fn is_lock_conflict(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx))) = err else {
        return false;
    };
    match sqlx.as_ref() {
        sqlx::Error::Database(db_err) => {
            if db_err.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // BUSY (5) and LOCKED (6), with their extended codes.
                let code = db_err.code().and_then(|code| code.parse::<i32>().ok()).unwrap_or_default();
                return matches!(code & 0xff, 5 | 6);
            }
            // SQLSTATE 40001: a deadlock; MySQL's lock wait timeout (1205, SQLSTATE HY000) by its
            // message.
            db_err.code().as_deref() == Some("40001") || db_err.message().contains("Lock wait timeout")
        }
        _ => false,
    }
}

/// Charged hits that are taken back when they are dropped, unless [`Held::keep`] says they
/// count: a login attempt, which counts only once it has failed (not when the database erred
/// or the client left half-way); a mail asked for, until it is sent.
pub struct Held {
    db: Db,
    hits: Vec<HitId>,
}

impl Held {
    pub fn new(db: &Db, hits: Vec<HitId>) -> Self {
        Self { db: db.clone(), hits }
    }

    /// The held hits (to take back in a statement of the caller's, before [`Held::keep`]).
    pub fn ids(&self) -> &[HitId] {
        &self.hits
    }

    /// They count: nothing is taken back.
    pub fn keep(mut self) {
        self.hits.clear();
    }

    /// Takes them back now; a failure is only logged (they stop counting after their window).
    pub async fn release(mut self) {
        let hits = std::mem::take(&mut self.hits);
        if let Err(err) = release(&self.db, &hits).await {
            tracing::warn!(error = %err, "could not take back rate-limit hits; they expire on their own");
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let hits = std::mem::take(&mut self.hits);
        if hits.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let db = self.db.clone();
            runtime.spawn(async move {
                if let Err(err) = release(&db, &hits).await {
                    tracing::warn!(error = %err, "could not take back rate-limit hits; they expire on their own");
                }
            });
        }
    }
}

/// Takes back counted events (a login that succeeded, a mail that was not sent).
pub async fn release(db: &impl ConnectionTrait, hits: &[HitId]) -> AppResult<()> {
    if !hits.is_empty() {
        RateLimitHit::delete_many().filter(rate_limit_hit::Column::Id.is_in(hits.iter().copied())).exec(db).await?;
    }
    Ok(())
}

/// Forgets every hit of `key` in `bucket` (a successful login clears that account's failures),
/// and the hits `also` (the attempt's own charges, held until now) in the same statement.
pub async fn clear(db: &impl ConnectionTrait, bucket: Bucket, key: &str, also: &[HitId]) -> AppResult<()> {
    let of_key = Condition::all()
        .add(rate_limit_hit::Column::Bucket.eq(bucket.as_str()))
        .add(rate_limit_hit::Column::Key.eq(key));
    let mut condition = Condition::any().add(of_key);
    if !also.is_empty() {
        condition = condition.add(rate_limit_hit::Column::Id.is_in(also.iter().copied()));
    }
    RateLimitHit::delete_many().filter(condition).exec(db).await?;
    Ok(())
}

/// Deletes up to [`SWEEP_BATCH`] hits of `bucket` that have left `window` (all of them when the
/// limit is off), and as many keys unused for that long. Returns how many rows went.
pub async fn sweep(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    bucket: Bucket,
    window: Option<Duration>,
) -> AppResult<u64> {
    let cutoff = now - window.map_or(TimeDelta::zero(), to_delta);
    let expired: Vec<HitId> = RateLimitHit::find()
        .select_only()
        .column(rate_limit_hit::Column::Id)
        .filter(rate_limit_hit::Column::CreatedAt.lte(cutoff))
        .filter(rate_limit_hit::Column::Bucket.eq(bucket.as_str()))
        .limit(SWEEP_BATCH)
        .into_tuple()
        .all(db)
        .await?;
    let mut deleted = 0;
    if !expired.is_empty() {
        deleted +=
            RateLimitHit::delete_many().filter(rate_limit_hit::Column::Id.is_in(expired)).exec(db).await?.rows_affected;
    }
    let idle: Vec<String> = RateLimitKey::find()
        .select_only()
        .column(rate_limit_key::Column::Key)
        .filter(rate_limit_key::Column::UpdatedAt.lte(cutoff))
        .filter(rate_limit_key::Column::Bucket.eq(bucket.as_str()))
        .limit(SWEEP_BATCH)
        .into_tuple()
        .all(db)
        .await?;
    if !idle.is_empty() {
        // The cutoff again: a key charged since it was read stays.
        deleted += RateLimitKey::delete_many()
            .filter(rate_limit_key::Column::Bucket.eq(bucket.as_str()))
            .filter(rate_limit_key::Column::Key.is_in(idle))
            .filter(rate_limit_key::Column::UpdatedAt.lte(cutoff))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(deleted)
}

/// The 429 `meter`'s charge would answer now, without charging: for a check that only reads a
/// limit another step charges (a cool-down that blocked messages fill). Not atomic with that
/// charge, and not meant to be: the charge itself refuses what gets past this.
pub async fn ensure_room(db: &impl ConnectionTrait, clock: &Clock, meter: &Meter<'_>) -> AppResult<()> {
    match used_up(db, clock.now(), meter).await? {
        None => Ok(()),
        Some(wait) => Err(meter.bucket.refusal(wait)),
    }
}

/// What `meter` counts at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Events in the window (more than the limit when the limit was lowered since).
    pub count: u64,
    /// When the window frees its next slot: once the event that keeps the count at the limit
    /// has aged out (below the limit: the oldest one). `None`: nothing is counted.
    pub next_free_at: Option<DateTime<Utc>>,
}

/// What `meter` counts now: what a charge checks (refusing once the count reaches the limit),
/// and what the quota view shows.
pub async fn counted(db: &impl ConnectionTrait, now: DateTime<Utc>, meter: &Meter<'_>) -> Result<Counted, DbErr> {
    let (in_window, at) = in_window(meter, now);
    let count = counts(db, now, std::slice::from_ref(meter)).await?[0];
    if count == 0 {
        return Ok(Counted { count, next_free_at: None });
    }
    let keeping = count.saturating_sub(u64::from(meter.limit.max));
    let mut oldest_kept = in_window;
    oldest_kept.expr_as(Expr::col(at.clone()), Alias::new("at")).order_by(at, Order::Asc).limit(1).offset(keeping);
    let at: Option<DateTime<Utc>> = match db.query_one(&oldest_kept).await? {
        Some(row) => Some(row.try_get("", "at")?),
        None => None,
    };
    Ok(Counted { count, next_free_at: at.map(|at| at + to_delta(meter.limit.window)) })
}

/// The events `meter` counts at `now` (younger than its window), as a query that selects
/// nothing yet, and the column saying when each happened.
fn in_window(meter: &Meter<'_>, now: DateTime<Utc>) -> (SelectStatement, DynIden) {
    let since = now - to_delta(meter.limit.window);
    let mut query = Query::select();
    match meter.bucket.events() {
        Events::Hits => {
            query
                .from(RateLimitHit)
                .and_where(rate_limit_hit::Column::Bucket.eq(meter.bucket.as_str()))
                .and_where(rate_limit_hit::Column::Key.eq(meter.key))
                .and_where(rate_limit_hit::Column::CreatedAt.gt(since));
            (query, rate_limit_hit::Column::CreatedAt.into_iden())
        }
        Events::ReplyStreams => {
            query
                .from(ReplyStream)
                .and_where(reply_stream::Column::UserId.eq(meter.key))
                .and_where(reply_stream::Column::StartedAt.gt(since));
            (query, reply_stream::Column::StartedAt.into_iden())
        }
    }
}

fn to_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limits() {
        assert_eq!(Limit::parse("7/5m"), Ok(Some(Limit { max: 7, window: Duration::from_secs(300) })));
        assert_eq!(Limit::parse(" 100 / 1h "), Ok(Some(Limit { max: 100, window: Duration::from_secs(3600) })));
        assert_eq!(Limit::parse("off"), Ok(None));
        assert_eq!(Limit::parse("0"), Ok(None));
        assert!(Limit::parse("0/1h").unwrap_err().contains("write `off`"));
        assert!(Limit::parse("seven/5m").is_err());
        assert!(Limit::parse("7").is_err());
        assert!(Limit::parse("7/never").is_err());
        assert!(Limit::parse("7/1000000y").is_err());
        assert!(Limit::parse("7/18446744073709551615").is_err());
    }
}
