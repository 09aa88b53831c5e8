//! Deleting pictures, objects included. What deletes a conversation or an account marks its
//! pictures (`deleted_at`) in its own transaction, so the mark commits or rolls back with it;
//! the objects are deleted after the commit ([`purge`]), and the row once its upload form has
//! expired (a form can upload again until then: each purge deletes what is there). An object
//! that could not be deleted keeps its row marked, and a later purge (the housekeeping's
//! [`sweep`]) deletes it. An unsent picture whose form expired a day ago is marked by the
//! sweep too, and what the form of a sent picture uploaded is deleted once it expired.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::{
    entities::{Attachment, attachment},
    error::{AppError, AppResult},
    housekeeping::Chore,
    rate_limit::{SWEEP_BATCH, SWEEP_BUDGET},
    state::AppState,
};

/// Marks the pictures `which` selects that are not marked yet, at `now`; how many.
async fn mark(db: &impl ConnectionTrait, which: Condition, now: DateTime<Utc>) -> AppResult<u64> {
    let marked = Attachment::update_many()
        .col_expr(attachment::Column::DeletedAt, Expr::value(now))
        .filter(which)
        .filter(attachment::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    Ok(marked.rows_affected)
}

/// Marks the pictures of these conversations.
pub async fn mark_conversations(db: &impl ConnectionTrait, ids: &[String], now: DateTime<Utc>) -> AppResult<()> {
    if !ids.is_empty() {
        mark(db, Condition::all().add(attachment::Column::ConversationId.is_in(ids.iter().cloned())), now).await?;
    }
    Ok(())
}

/// Marks every picture of an account's.
pub async fn mark_user(db: &impl ConnectionTrait, user_id: &str, now: DateTime<Utc>) -> AppResult<()> {
    mark(db, Condition::all().add(attachment::Column::UserId.eq(user_id)), now).await?;
    Ok(())
}

/// Marks an account's tongue photos not sent yet (health information: withdrawing the consent
/// deletes them; sent ones go with their conversations, if the person deletes those).
pub async fn mark_unsent_tongue_photos(db: &impl ConnectionTrait, user_id: &str, now: DateTime<Utc>) -> AppResult<()> {
    let which = Condition::all()
        .add(attachment::Column::UserId.eq(user_id))
        .add(attachment::Column::Purpose.eq(super::Purpose::Tongue.as_str()))
        .add(attachment::Column::MessageId.is_null());
    mark(db, which, now).await?;
    Ok(())
}

/// Deletes `user_id`'s picture `id` if it was not sent with a message: 404 if there is no such
/// picture of theirs, 409 `attachment_sent` if it was sent.
pub async fn unsent(state: &AppState, user_id: &str, id: &str) -> AppResult<()> {
    let which = Condition::all()
        .add(attachment::Column::Id.eq(id))
        .add(attachment::Column::UserId.eq(user_id))
        .add(attachment::Column::MessageId.is_null());
    if mark(&state.db, which, state.clock.now()).await? == 0 {
        let row = Attachment::find_by_id(id).filter(attachment::Column::UserId.eq(user_id)).one(&state.db).await?;
        return match row {
            Some(row) if row.deleted_at.is_none() => Err(AppError::conflict(
                "attachment_sent",
                "this picture was sent with a message: it goes when its conversation is deleted",
            )),
            _ => Err(AppError::NotFound("attachment")),
        };
    }
    purge(state).await;
    Ok(())
}

/// Deletes the objects of marked pictures (where each is, what its form uploaded, and its sent
/// copy), a batch at a time within the sweep budget, and their rows once their forms have
/// expired (until then a form could upload again: the row stays marked, and the next sweep
/// deletes that too); whether work is left for now (a full batch, or a failure: the next purge
/// retries).
pub async fn purge(state: &AppState) -> bool {
    let Some(store) = state.storage.as_ref() else { return false };
    let work = async {
        let rows: Vec<(String, String, String, DateTime<Utc>)> = Attachment::find()
            .select_only()
            .column(attachment::Column::Id)
            .column(attachment::Column::ObjectKey)
            .column(attachment::Column::UploadKey)
            .column(attachment::Column::FormExpiresAt)
            .filter(attachment::Column::DeletedAt.is_not_null())
            .order_by_asc(attachment::Column::DeletedAt)
            .limit(SWEEP_BATCH)
            .into_tuple()
            .all(&state.db)
            .await?;
        let now = state.clock.now();
        let mut left = rows.len() as u64 == SWEEP_BATCH;
        'rows: for (id, object_key, upload_key, form_expires_at) in rows {
            let mut keys = vec![object_key, super::sent_key(&upload_key), upload_key];
            keys.sort();
            keys.dedup();
            for key in keys {
                if let Err(err) = store.delete(&key).await {
                    tracing::warn!(error = %err, key, "a picture's object could not be deleted; kept for a retry");
                    left = true;
                    continue 'rows;
                }
            }
            if form_expires_at + FORM_GRACE > now {
                // Its form may upload again: the next sweep (a minute on) deletes that too. Not
                // work left for now, so it does not make the next request sweep again.
                continue;
            }
            Attachment::delete_by_id(id).exec(&state.db).await?;
        }
        Ok::<bool, AppError>(left)
    };
    // Deleting many objects may take longer than a sweep should: the rest waits for the next.
    match tokio::time::timeout(SWEEP_BUDGET * 8, work).await {
        Ok(Ok(left)) => left,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "purging deleted pictures failed");
            true
        }
        Err(_) => true,
    }
}

/// How long after a form's expiry an upload it began may still be arriving (a bucket checks
/// the expiry when the request begins).
pub const FORM_GRACE: TimeDelta = TimeDelta::minutes(5);

/// Deletes what the forms of sent pictures uploaded, once the forms expired: an upload after the
/// picture was sent (its copy is what was checked) must not stay in the bucket uncounted.
async fn clear_expired_uploads(state: &AppState, store: &crate::storage::Store) -> Result<bool, AppError> {
    let now = state.clock.now();
    let rows: Vec<(String, String)> = Attachment::find()
        .select_only()
        .column(attachment::Column::Id)
        .column(attachment::Column::UploadKey)
        .filter(attachment::Column::UploadDeletedAt.is_null())
        .filter(attachment::Column::FormExpiresAt.lte(now - FORM_GRACE))
        .filter(attachment::Column::MessageId.is_not_null())
        .filter(attachment::Column::DeletedAt.is_null())
        .limit(SWEEP_BATCH)
        .into_tuple()
        .all(&state.db)
        .await?;
    let full = rows.len() as u64 == SWEEP_BATCH;
    for (id, upload_key) in rows {
        if store.delete(&upload_key).await.is_err() {
            return Ok(true);
        }
        Attachment::update_many()
            .col_expr(attachment::Column::UploadDeletedAt, Expr::value(now))
            .filter(attachment::Column::Id.eq(id))
            .exec(&state.db)
            .await?;
    }
    Ok(full)
}

/// How long an unsent picture is kept: its form expired long before.
pub const UNSENT_KEPT: TimeDelta = TimeDelta::days(1);

/// The housekeeping of pictures, at most once a minute per instance: unsent pictures older than
/// [`UNSENT_KEPT`] are marked, marked ones purged, and what expired forms of sent pictures
/// uploaded deleted.
pub async fn sweep(state: &AppState) {
    let now = state.clock.now();
    if !state.chores.due(Chore::Pictures, now) {
        return;
    }
    let stale = Attachment::find()
        .select_only()
        .column(attachment::Column::Id)
        .filter(attachment::Column::MessageId.is_null())
        .filter(attachment::Column::DeletedAt.is_null())
        .filter(attachment::Column::CreatedAt.lte(now - UNSENT_KEPT))
        .limit(SWEEP_BATCH)
        .into_tuple::<String>()
        .all(&state.db)
        .await;
    let mut left = false;
    match stale {
        Ok(ids) if !ids.is_empty() => {
            left |= ids.len() as u64 == SWEEP_BATCH;
            // By primary key, and only if still unsent (a turn may have sent it meanwhile).
            let which =
                Condition::all().add(attachment::Column::Id.is_in(ids)).add(attachment::Column::MessageId.is_null());
            let marked = mark(&state.db, which, now).await;
            if let Err(err) = marked {
                tracing::warn!(error = %err, "marking unsent pictures failed");
                left = true;
            }
        }
        Ok(_) => {}
        Err(err) => {
            tracing::warn!(error = %err, "reading unsent pictures failed");
            left = true;
        }
    }
    left |= purge(state).await;
    if let Some(store) = state.storage.as_ref() {
        left |= clear_expired_uploads(state, store).await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "clearing expired uploads failed");
            true
        });
    }
    if left {
        state.chores.again(Chore::Pictures);
    }
}
