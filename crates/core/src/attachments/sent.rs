//! Pictures sent with messages: attached in the turn's transaction, read back for the history
//! and for the model.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{AttachmentView, Ready, checked::unavailable, tongue::TongueObservations};
use crate::{
    db::Txn,
    entities::{Attachment, attachment},
    error::AppResult,
    state::AppState,
};

/// The most pictures the model is shown in one request (the newest of the branch's): each
/// costs up to 16k tokens on Qwen-VL.
pub const MAX_PICTURES_IN_PROMPT: usize = 8;

/// Attaches `pictures` (checked, unsent) to the new message `message_id`, at their real sizes.
/// One statement per picture; 409 `attachment_in_use` if one was sent or deleted meanwhile
/// (another turn took it first: this one's transaction rolls back).
pub async fn attach(
    txn: &Txn,
    pictures: &[Ready],
    conversation_id: &str,
    message_id: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    for (position, picture) in pictures.iter().enumerate() {
        let attached = Attachment::update_many()
            .set(attachment::ActiveModel {
                object_key: Set(picture.sent_key.clone()),
                conversation_id: Set(Some(conversation_id.to_string())),
                message_id: Set(Some(message_id.to_string())),
                size_bytes: Set(i64::try_from(picture.size).unwrap_or(i64::MAX)),
                position: Set(i16::try_from(position).unwrap_or(i16::MAX)),
                attached_at: Set(Some(now)),
                ..Default::default()
            })
            .filter(attachment::Column::Id.eq(&picture.row.id))
            .filter(attachment::Column::MessageId.is_null())
            .filter(attachment::Column::DeletedAt.is_null())
            .exec(txn)
            .await?;
        if attached.rows_affected != 1 {
            return Err(super::checked::in_use(&picture.row.id));
        }
    }
    Ok(())
}

/// After a turn that sent `pictures` committed: their upload keys are deleted (what their forms
/// uploaded is copied; a later upload with one of them is deleted when it expires:
/// [`super::forget::sweep`]). A failure is only logged.
pub async fn uploads_done(state: &AppState, pictures: &[Ready]) {
    let Some(store) = state.storage.as_ref() else { return };
    for picture in pictures.iter().filter(|picture| picture.is_new()) {
        if let Err(err) = store.delete(&picture.row.upload_key).await {
            tracing::warn!(error = %err, "a sent picture's upload could not be deleted; the housekeeping will");
        }
    }
}

/// The pictures sent with these messages, by message, in the order they were sent.
pub async fn of_messages(
    db: &impl ConnectionTrait,
    message_ids: &[String],
) -> AppResult<HashMap<String, Vec<attachment::Model>>> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = Attachment::find()
        .filter(attachment::Column::MessageId.is_in(message_ids.iter().cloned()))
        .filter(attachment::Column::DeletedAt.is_null())
        .order_by_asc(attachment::Column::Position)
        .all(db)
        .await?;
    Ok(by_message_of(rows))
}

/// The pictures of these messages as the history shows them, by message. (Pictures kept from
/// before `STORAGE` was turned off are not shown: there is nothing to link them with.)
pub async fn views_of(state: &AppState, message_ids: &[String]) -> AppResult<HashMap<String, Vec<AttachmentView>>> {
    let (Some(store), Some(config)) = (state.storage.as_ref(), state.config.storage.as_ref()) else {
        return Ok(HashMap::new());
    };
    let now = state.clock.now();
    Ok(of_messages(&state.db, message_ids)
        .await?
        .into_iter()
        .map(|(id, rows)| (id, rows.iter().map(|row| super::view(store, config, row, now)).collect()))
        .collect())
}

fn by_message_of(rows: Vec<attachment::Model>) -> HashMap<String, Vec<attachment::Model>> {
    let mut by_message: HashMap<String, Vec<attachment::Model>> = HashMap::new();
    for row in rows {
        if let Some(message_id) = row.message_id.clone() {
            by_message.entry(message_id).or_default().push(row);
        }
    }
    by_message
}

/// What the model is shown of the pictures of a branch.
#[derive(Debug, Default)]
pub struct ForModel {
    /// Links valid for `ATTACHMENT_MODEL_URL_TTL` (or the pictures themselves, from the local
    /// directory), by message; the newest [`MAX_PICTURES_IN_PROMPT`] only.
    pub urls: HashMap<String, Vec<String>>,
    /// The observations of its tongue photos, oldest first.
    pub tongue: Vec<TongueObservations>,
}

/// What the model is shown of the pictures of `message_ids` (the branch it reads, oldest first).
pub async fn for_model(state: &AppState, message_ids: &[String]) -> AppResult<ForModel> {
    let by_message = of_messages(&state.db, message_ids).await?;
    let tongue =
        message_ids.iter().filter_map(|id| by_message.get(id)).flatten().filter_map(super::tongue::of_row).collect();
    // The pictures themselves only to a model that sees them (with `CHAT_VISION_MODEL=off`, a
    // conversation that has some goes on in words: what its tongue photos showed included).
    let (Some((store, _)), Some(config)) = (super::offered(state), state.config.storage.as_ref()) else {
        return Ok(ForModel { urls: HashMap::new(), tongue });
    };
    let mut budget = MAX_PICTURES_IN_PROMPT;
    let mut shown = HashMap::new();
    let now = state.clock.now();
    for id in message_ids.iter().rev() {
        let Some(rows) = by_message.get(id) else { continue };
        let mut urls = Vec::new();
        for row in rows.iter().take(budget) {
            let url = store.model_url(&row.object_key, &row.content_type, now, config.model_url_ttl).await;
            urls.push(url.map_err(unavailable)?);
        }
        budget -= urls.len();
        shown.insert(id.clone(), urls);
        if budget == 0 {
            break;
        }
    }
    Ok(ForModel { urls: shown, tongue })
}
