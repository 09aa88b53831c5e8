//! Sliding-window rate limits kept in the database, so they hold across every Function Compute
//! instance (an in-memory counter would reset with each cold start and never see the others).
//!
//! Each counted event is a row in `rate_limit_hits`; a limit of `max` per `window` is exceeded
//! when `max` rows for the same bucket and key are younger than `window`. The answer then says
//! how long until the oldest of those rows leaves the window (`Retry-After`).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use crate::{
    clock::Clock,
    entities::{RateLimitHit, rate_limit_hit},
    error::{AppError, AppResult},
};

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
        Ok((max > 0).then_some(Self { max, window }))
    }
}

/// What is being counted. The string form is stored in `rate_limit_hits.bucket`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// Failed logins from one client IP.
    LoginIp,
    /// Failed logins for one email address.
    LoginAccount,
    /// Registration attempts from one client IP.
    RegisterIp,
    /// Chat messages sent by one user.
    ChatMessages,
    /// Streaming replies one user has running (leases, see [`acquire`]).
    ChatStreams,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginIp => "login_ip",
            Self::LoginAccount => "login_account",
            Self::RegisterIp => "register_ip",
            Self::ChatMessages => "chat_messages",
            Self::ChatStreams => "chat_streams",
        }
    }
}

/// Fails with 429 when `key` has used up `limit` in `bucket`. `None` means unlimited.
pub async fn check(
    db: &impl ConnectionTrait,
    clock: &Clock,
    bucket: Bucket,
    key: &str,
    limit: Option<Limit>,
    message: &str,
) -> AppResult<()> {
    let Some(limit) = limit else { return Ok(()) };
    let now = clock.now();
    let in_window = || hits_in_window(bucket, key, now, limit.window);
    let count = in_window().count(db).await?;
    if count < u64::from(limit.max) {
        return Ok(());
    }
    // The window frees up once the hit that keeps the count at `max` has aged out.
    let blocking_hit = in_window()
        .order_by_asc(rate_limit_hit::Column::CreatedAt)
        .offset(count - u64::from(limit.max))
        .one(db)
        .await?;
    let retry_after = blocking_hit
        .map(|hit| (hit.created_at + to_delta(limit.window) - now).to_std().unwrap_or_default())
        .unwrap_or(limit.window);
    Err(AppError::RateLimited {
        code: "rate_limited",
        message: message.to_string(),
        retry_after: retry_after.max(Duration::from_secs(1)),
    })
}

/// Counts one event of `key` toward `limit` (with no limit there is nothing to count).
pub async fn record(
    db: &impl ConnectionTrait,
    clock: &Clock,
    bucket: Bucket,
    key: &str,
    limit: Option<Limit>,
) -> AppResult<()> {
    if let Some(limit) = limit {
        insert_hit(db, clock, bucket, key, limit.window).await?;
    }
    Ok(())
}

/// Inserts a hit (returning its id) and drops that key's hits that have left `window`, so the
/// table only holds what some limit still counts.
async fn insert_hit(
    db: &impl ConnectionTrait,
    clock: &Clock,
    bucket: Bucket,
    key: &str,
    window: Duration,
) -> AppResult<i64> {
    let now = clock.now();
    let id = RateLimitHit::insert(rate_limit_hit::ActiveModel {
        bucket: Set(bucket.as_str().to_string()),
        key: Set(key.to_string()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    RateLimitHit::delete_many()
        .filter(rate_limit_hit::Column::Bucket.eq(bucket.as_str()))
        .filter(rate_limit_hit::Column::Key.eq(key))
        .filter(rate_limit_hit::Column::CreatedAt.lte(now - to_delta(window)))
        .exec(db)
        .await?;
    Ok(id)
}

/// Takes one of `limit.max` concurrent slots of `key` (a stream running, say), or fails with
/// 429. The slot is a hit row: [`release`] frees it, and should its holder die, it stops
/// counting once `limit.window` has passed. Recording first and counting after means two racing
/// requests can at worst both be refused, never both admitted over the limit.
pub async fn acquire(
    db: &impl ConnectionTrait,
    clock: &Clock,
    bucket: Bucket,
    key: &str,
    limit: Limit,
    message: &str,
) -> AppResult<i64> {
    let id = insert_hit(db, clock, bucket, key, limit.window).await?;
    let held = hits_in_window(bucket, key, clock.now(), limit.window).count(db).await?;
    if held > u64::from(limit.max) {
        release(db, id).await?;
        return Err(AppError::RateLimited {
            code: "too_many_streams",
            message: message.to_string(),
            retry_after: Duration::from_secs(5),
        });
    }
    Ok(id)
}

/// Frees a slot taken with [`acquire`].
pub async fn release(db: &impl ConnectionTrait, id: i64) -> AppResult<()> {
    RateLimitHit::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Forgets every hit of `key` in `bucket` (a successful login clears that account's failures).
pub async fn clear(db: &impl ConnectionTrait, bucket: Bucket, key: &str) -> AppResult<()> {
    RateLimitHit::delete_many()
        .filter(rate_limit_hit::Column::Bucket.eq(bucket.as_str()))
        .filter(rate_limit_hit::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// The hits of `key` in `bucket` younger than `window` at `now`: what a limit counts.
fn hits_in_window(bucket: Bucket, key: &str, now: DateTime<Utc>, window: Duration) -> Select<RateLimitHit> {
    RateLimitHit::find()
        .filter(rate_limit_hit::Column::Bucket.eq(bucket.as_str()))
        .filter(rate_limit_hit::Column::Key.eq(key))
        .filter(rate_limit_hit::Column::CreatedAt.gt(now - to_delta(window)))
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
        assert_eq!(Limit::parse("0/1h"), Ok(None));
        assert!(Limit::parse("seven/5m").is_err());
        assert!(Limit::parse("7").is_err());
        assert!(Limit::parse("7/never").is_err());
    }
}
