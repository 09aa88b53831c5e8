//! The checks of a turn's pictures, before the turn is accepted: each is the caller's, not
//! deleted, and its object is in the bucket, no larger than its form allowed and, by its first
//! bytes, of the type it was declared as (a browser's `Content-Type` is only a claim). They
//! read the bucket, so they run before the turn's transaction, never inside it.
//!
//! An upload form stays valid until it expires, sent picture or not: so the object is first
//! copied to its sent key, which no form can write ([`super::sent_key`]), and the checks read
//! that copy. What the model, the moderation and the history see is what was checked; a later
//! upload with the same form lands on the old key, which is deleted once the form expired.
//! One turn at a time copies a picture: it claims it first (a conditional update of its row, for
//! [`CLAIM`]); a turn that finds it claimed or sent answers 409 `attachment_in_use` at once, and
//! a turn refused before it placed its message gives its claims back ([`release`]).

use futures::future::try_join_all;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, sea_query::Expr};

use super::{PictureType, require};
use crate::{
    entities::{Attachment, attachment},
    error::{AppError, AppResult},
    state::AppState,
    storage::{StorageError, Store},
};

/// A picture that passed the checks.
#[derive(Debug, Clone)]
pub struct Ready {
    pub row: attachment::Model,
    /// Its real size, in bytes.
    pub size: u64,
    /// Where it is kept once sent (its copy, checked).
    pub sent_key: String,
}

impl Ready {
    /// Not sent with a message before this turn (claimed by it, copied and checked now).
    pub fn is_new(&self) -> bool {
        self.row.message_id.is_none()
    }
}

/// How many first bytes tell the types apart.
const MAGIC_BYTES: usize = 16;
/// How long a turn holds a picture it is sending (ample for a copy and two reads).
pub const CLAIM: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// 409 `attachment_in_use`: picture `id` is sent (or being sent) with another message, or was
/// deleted meanwhile.
pub fn in_use(id: &str) -> AppError {
    AppError::conflict("attachment_in_use", format!("picture {id} was sent with another message, or deleted"))
}

pub fn unavailable(err: StorageError) -> AppError {
    tracing::warn!(error = %err, "object storage failed");
    AppError::Unavailable {
        code: "storage_unavailable",
        message: "pictures cannot be read right now; please try again".into(),
    }
}

/// The pictures `ids` of `user_id`'s (as a turn names them: at most four, each once, checked by
/// `chat::turn::attachment_ids`), checked, in the order given. A picture sent already (with a
/// message) is returned as it is: the caller decides whether it may be sent again.
pub async fn ready(state: &AppState, user_id: &str, ids: &[String]) -> AppResult<Vec<Ready>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (store, _) = require(state)?;
    let rows = Attachment::find()
        .filter(attachment::Column::Id.is_in(ids.iter().cloned()))
        .filter(attachment::Column::UserId.eq(user_id))
        .filter(attachment::Column::DeletedAt.is_null())
        .all(&state.db)
        .await?;
    let mut ordered = Vec::with_capacity(ids.len());
    for id in ids {
        let row = rows.iter().find(|row| &row.id == id).ok_or(AppError::NotFound("attachment"))?;
        ordered.push(row.clone());
    }
    // Each unsent picture is claimed for this turn first: one turn at a time copies it.
    let now = state.clock.now();
    let mut claimed = Vec::new();
    for row in ordered.iter().filter(|row| row.message_id.is_none()) {
        let taken = Attachment::update_many()
            .col_expr(attachment::Column::ClaimedUntil, Expr::value(now + CLAIM))
            .filter(attachment::Column::Id.eq(&row.id))
            .filter(attachment::Column::MessageId.is_null())
            .filter(attachment::Column::DeletedAt.is_null())
            .filter(
                Condition::any()
                    .add(attachment::Column::ClaimedUntil.is_null())
                    .add(attachment::Column::ClaimedUntil.lt(now)),
            )
            .exec(&state.db)
            .await?;
        if taken.rows_affected != 1 {
            release(state, &claimed).await;
            return Err(in_use(&row.id));
        }
        claimed.push(row.id.clone());
    }
    let checked = try_join_all(ordered.into_iter().map(|row| check(store, row))).await;
    if checked.is_err() {
        release(state, &claimed).await;
    }
    checked
}

/// Gives back the claims on `ids` that a turn refused before it placed its message held (a sent
/// picture keeps its row as the turn left it). A failure is only logged: the claims lapse.
pub async fn release(state: &AppState, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let released = Attachment::update_many()
        .col_expr(attachment::Column::ClaimedUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .filter(attachment::Column::Id.is_in(ids.iter().cloned()))
        .filter(attachment::Column::MessageId.is_null())
        .exec(&state.db)
        .await;
    if let Err(err) = released {
        tracing::warn!(error = %err, "pictures' claims not given back; they lapse");
    }
}

async fn check(store: &Store, row: attachment::Model) -> AppResult<Ready> {
    let allowed = u64::try_from(row.size_bytes).unwrap_or_default();
    if row.message_id.is_some() {
        return Ok(Ready { size: allowed, sent_key: row.object_key.clone(), row });
    }
    let not_uploaded = || {
        AppError::validation("picture_not_uploaded", format!("picture {} has not been uploaded (or not yet)", row.id))
    };
    let sent_key = super::sent_key(&row.upload_key);
    if !store.copy(&row.upload_key, &sent_key).await.map_err(unavailable)? {
        return Err(not_uploaded());
    }
    let head = store.head(&sent_key).await.map_err(unavailable)?.ok_or_else(not_uploaded)?;
    if head.size == 0 || head.size > allowed {
        return Err(AppError::validation(
            "picture_size_mismatch",
            format!("picture {} has {} bytes, not the 1 to {allowed} its form allowed", row.id, head.size),
        ));
    }
    let kind = PictureType::parse(&row.content_type).ok_or_else(|| AppError::internal("a stored picture type"))?;
    let first = store.first_bytes(&sent_key, MAGIC_BYTES).await.map_err(unavailable)?;
    if !kind.matches(&first) {
        return Err(AppError::validation(
            "picture_not_an_image",
            format!("picture {} is not the {} image it was declared as", row.id, kind.mime()),
        ));
    }
    Ok(Ready { size: head.size, sent_key, row })
}

/// What a content check is given of `pictures` not sent before: links (or `data:` URLs) as the
/// model gets them. Empty when moderation is off: nothing is read for it.
pub async fn for_moderation(state: &AppState, pictures: &[Ready]) -> AppResult<Vec<String>> {
    let (Some(_), Some(store), Some(config)) = (&state.moderator, &state.storage, &state.config.storage) else {
        return Ok(Vec::new());
    };
    let now = state.clock.now();
    let unsent = pictures.iter().filter(|picture| picture.is_new());
    try_join_all(unsent.map(|picture| async move {
        store.model_url(&picture.sent_key, &picture.row.content_type, now, config.model_url_ttl).await
    }))
    .await
    .map_err(unavailable)
}
