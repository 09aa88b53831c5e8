//! The storage quota: the bytes one person's pictures take, each counted from the moment its
//! upload form is issued (at the most its form allows, then at its real size once sent), never
//! more than `ATTACHMENT_QUOTA_BYTES`. One atomic step: the check and the row that counts are
//! written in one transaction that holds the person's upload key locked
//! (`rate_limit::begin_locked`), so concurrent requests, at any instance, are counted one
//! after the other; the forms issued are limited per window on the same key
//! (`RATE_LIMIT_ATTACHMENT_UPLOADS`).

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr};

use crate::{
    config::StorageConfig,
    db::Txn,
    entities::{Attachment, attachment},
    error::{AppError, AppResult},
    rate_limit::{self, Bucket, Meter},
    state::AppState,
};

/// Counts `row` (a new picture, its size the most its form allows) against its owner's quota
/// and the forms they may be issued, and inserts it; 403 `storage_full` or 429 and nothing
/// written when either is used up.
pub async fn reserve(state: &AppState, config: &StorageConfig, row: &attachment::Model) -> AppResult<()> {
    let user_id = row.user_id.as_str();
    let meters: Vec<Meter> =
        Meter::new(Bucket::AttachmentUploads, user_id, state.config.attachment_uploads).into_iter().collect();
    let attempts = rate_limit::CHARGE_ATTEMPTS;
    rate_limit::retry_transaction(attempts, || async {
        let lock = Some((Bucket::AttachmentUploads, user_id));
        let (txn, locked) = rate_limit::begin_locked(&state.db, &state.clock, &meters, lock).await?;
        locked.charge(&txn, None).await?;
        let used = used_bytes(&txn, user_id).await?;
        let wanted = u64::try_from(row.size_bytes).unwrap_or(u64::MAX);
        if used.saturating_add(wanted) > config.quota_bytes {
            return Err(AppError::forbidden(
                "storage_full",
                format!(
                    "your pictures take {used} of your {} bytes; delete conversations with pictures to make room",
                    config.quota_bytes
                ),
            ));
        }
        attachment::ActiveModel::from(row.clone()).insert(&txn).await?;
        txn.commit().await?;
        Ok(())
    })
    .await
    .map_err(|err| match err.is_foreign_key_violation() {
        true => crate::auth::token::invalid_token(),
        false => err,
    })
}

/// The bytes `user_id`'s pictures take now (those being deleted no longer count).
pub async fn used_bytes(txn: &Txn, user_id: &str) -> AppResult<u64> {
    let sum = crate::db::integer(txn.get_database_backend(), "SUM(size_bytes)");
    let used: Option<i64> = Attachment::find()
        .select_only()
        .column_as(Expr::cust(sum), "used")
        .filter(attachment::Column::UserId.eq(user_id))
        .filter(attachment::Column::DeletedAt.is_null())
        .into_tuple::<Option<i64>>()
        .one(txn)
        .await?
        .flatten();
    Ok(used.and_then(|used| u64::try_from(used).ok()).unwrap_or_default())
}
