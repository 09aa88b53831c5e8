//! Deleting rows that no longer serve (expired sessions and links, rate-limit hits and keys out
//! of their window, audit rows past their retention) without a scheduler: a request now and
//! then deletes one bounded batch, within a short time budget, after its own work is done —
//! each kind at most once a minute per instance ([`Chores`]), and again at once while a batch
//! comes back full, so rows go faster than requests add them. A failure or a slow database is
//! only logged: nothing depends on the sweep, and the next one goes on where it stopped.
//!
//! Rows are found by a read and deleted by primary key: a ranged `DELETE … WHERE expires <= ?`
//! would take gap locks on InnoDB's index and deadlock with concurrent inserts.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::rate_limit::{Bucket, SWEEP_BUDGET};

/// Housekeeping an instance does now and then rather than on every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Chore {
    /// Deleting audit rows past `AUDIT_RETENTION` (`audit::sweep`).
    AuditRetention,
    /// Deleting expired sessions (`auth::sweep_sessions`).
    ExpiredSessions,
    /// Deleting expired account links (`account::links::sweep`).
    ExpiredLinks,
    /// Deleting reply-stream rows that outlived their lease (`chat::stop::sweep_stale`).
    StaleStreams,
    /// Deleting a rate-limit bucket's hits and keys out of its window (`AppState::sweep`).
    RateLimit(Bucket),
    /// Deleting unsent pictures of a day ago and the objects of deleted ones
    /// (`attachments::forget::sweep`).
    Pictures,
}

/// When each [`Chore`] last ran on this instance, so that it runs at most once per
/// [`Chores::EVERY`] (by the app's clock) unless it left work behind.
#[derive(Debug, Default)]
pub struct Chores {
    last_run: Mutex<HashMap<Chore, i64>>,
}

impl Chores {
    pub const EVERY: TimeDelta = TimeDelta::minutes(1);

    /// Whether `chore` should run now; if so, it counts as run (one caller of many wins).
    pub fn due(&self, chore: Chore, now: DateTime<Utc>) -> bool {
        let mut last_run = self.last_run.lock().unwrap_or_else(PoisonError::into_inner);
        let now = now.timestamp();
        match last_run.get(&chore) {
            Some(&last) if (0..Self::EVERY.num_seconds()).contains(&(now - last)) => false,
            _ => {
                last_run.insert(chore, now);
                true
            }
        }
    }

    /// `chore` left work behind (a full batch, a failure): the next request does it again.
    pub fn again(&self, chore: Chore) {
        self.last_run.lock().unwrap_or_else(PoisonError::into_inner).remove(&chore);
    }
}

/// Deletes up to `batch` rows of `E` that match `stale`, oldest `order` first, by their string
/// primary key `id`, within [`SWEEP_BUDGET`]. `what` names them in the log. Whether some may be
/// left: the batch was full, or the sweep failed.
pub async fn sweep<E: EntityTrait>(
    db: &impl ConnectionTrait,
    id: E::Column,
    stale: Condition,
    order: E::Column,
    batch: u64,
    what: &str,
) -> bool {
    let sweep = async {
        let ids: Vec<String> = E::find()
            .select_only()
            .column(id)
            .filter(stale)
            .order_by_asc(order)
            .limit(batch)
            .into_tuple()
            .all(db)
            .await?;
        let found = ids.len() as u64;
        if !ids.is_empty() {
            E::delete_many().filter(id.is_in(ids)).exec(db).await?;
        }
        Ok::<_, DbErr>(found)
    };
    match tokio::time::timeout(SWEEP_BUDGET, sweep).await {
        Ok(Ok(found)) => found >= batch,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "could not delete {what}");
            true
        }
        Err(_) => {
            tracing::warn!("deleting {what} took too long; the next sweep goes on");
            true
        }
    }
}
