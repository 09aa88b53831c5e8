//! Deleting rows that no longer serve (expired sessions and links, audit rows past their
//! retention) without a scheduler: a request now and then deletes one bounded batch, within a
//! short time budget, after its own work is done. A failure or a slow database is only logged:
//! nothing depends on the sweep, and the next one goes on where it stopped.
//!
//! Rows are found by a read and deleted by primary key: a ranged `DELETE … WHERE expires <= ?`
//! would take gap locks on InnoDB's index and deadlock with concurrent inserts.

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::rate_limit::SWEEP_BUDGET;

/// Deletes up to `batch` rows of `E` that match `stale`, oldest `order` first, by their string
/// primary key `id`, within [`SWEEP_BUDGET`]. `what` names them in the log.
pub async fn sweep<E: EntityTrait>(
    db: &impl ConnectionTrait,
    id: E::Column,
    stale: Condition,
    order: E::Column,
    batch: u64,
    what: &str,
) {
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
        if !ids.is_empty() {
            E::delete_many().filter(id.is_in(ids)).exec(db).await?;
        }
        Ok::<_, DbErr>(())
    };
    match tokio::time::timeout(SWEEP_BUDGET, sweep).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "could not delete {what}"),
        Err(_) => tracing::warn!("deleting {what} took too long; the next sweep goes on"),
    }
}
