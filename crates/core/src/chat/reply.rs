//! A reply's end: saved (complete, stopped or blocked) and shown, or counted when the model
//! failed or the reply had nowhere to go. The turn's beginning is [`super::service`].

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr};

use super::{
    llm::{Thought, Usage},
    service::PreparedTurn,
    written::{NewMessage, insert_message},
};
use crate::{
    entities::{Conversation, MessageRole, Withheld, conversation, message},
    error::{AppError, AppResult, DbResultExt},
    rate_limit,
    state::AppState,
    usage::tally::{self, Tally},
};

/// How a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// The user stopped it: saved as far as it got.
    Stopped,
    /// Moderation refused it as it streamed: saved withheld (for administrators).
    Blocked,
}

/// Saves the assistant's reply (a child of the user message it answers), shows it (unless the
/// user has switched to another branch meanwhile) and bumps the conversation to the top of the
/// list.
///
/// The reply is what matters: once it is saved the turn has succeeded, so the rest runs after
/// it on its own (no transaction around them) and a failure there is only logged.
pub async fn save_reply(
    state: &AppState,
    prepared: &PreparedTurn,
    text: &str,
    thought: Option<&Thought>,
    usage: Option<Usage>,
    ending: Ending,
) -> AppResult<message::Model> {
    let conversation_id = &prepared.conversation.id;
    let new = NewMessage {
        thought,
        usage,
        stopped: ending == Ending::Stopped,
        withheld: (ending == Ending::Blocked).then_some(Withheld::Blocked),
        ..NewMessage::of(MessageRole::Assistant, text, Some(&prepared.user_message_id))
    };
    // A conversation deleted while its reply was written: the reply has nowhere to go.
    let message =
        insert_reply(state, prepared, new).await.on_foreign_key_violation(|| AppError::NotFound("conversation"))?;
    // Shown unless the user has switched elsewhere meanwhile: the branch is still the one the
    // turn left (its new message, or for a regeneration the branch as it was).
    let unchanged = match &prepared.conversation.active_leaf_id {
        Some(leaf) => conversation::Column::ActiveLeafId.eq(leaf),
        None => conversation::Column::ActiveLeafId.is_null(),
    };
    let shown = Conversation::update_many()
        .col_expr(conversation::Column::ActiveLeafId, Expr::value(message.id.clone()))
        .col_expr(conversation::Column::UpdatedAt, Expr::value(message.created_at))
        .filter(conversation::Column::Id.eq(conversation_id))
        .filter(unchanged)
        .exec(&state.db)
        .await;
    let bumped = match shown {
        Ok(result) if result.rows_affected == 1 => Ok(()),
        _ => Conversation::update_many()
            .col_expr(conversation::Column::UpdatedAt, Expr::value(message.created_at))
            .filter(conversation::Column::Id.eq(conversation_id))
            .exec(&state.db)
            .await
            .map(|_| ()),
    };
    if let Err(err) = bumped {
        tracing::warn!(error = %err, %conversation_id, "reply saved, but the conversation was not updated");
    }
    Ok(message)
}

/// Inserts a reply and adds it to its tally, in one transaction (started again should it meet
/// a deadlock on the tally's row).
async fn insert_reply(state: &AppState, prepared: &PreparedTurn, new: NewMessage<'_>) -> Result<message::Model, DbErr> {
    let conversation = &prepared.conversation;
    let tally = Tally { replies: 1, stopped: i64::from(new.stopped), ..tokens(new.usage) };
    rate_limit::retry_lock_conflicts(3, || {
        let new = new.clone();
        async move {
            let txn = state.db.begin().await?;
            let message = insert_message(&txn, state, &conversation.id, new).await?;
            tally::add(&txn, message.created_at, &conversation.user_id, conversation.kind, prepared.language, tally)
                .await?;
            txn.commit().await?;
            Ok(message)
        }
    })
    .await
}

/// The tokens a reply cost, as the provider reported them (none reported: nothing counted).
fn tokens(usage: Option<Usage>) -> Tally {
    let usage = usage.unwrap_or(Usage { prompt_tokens: 0, completion_tokens: 0, thinking_tokens: 0 });
    Tally {
        prompt_tokens: i64::from(usage.prompt_tokens),
        completion_tokens: i64::from(usage.completion_tokens),
        thinking_tokens: i64::from(usage.thinking_tokens),
        ..Tally::default()
    }
}

/// Counts a turn whose model failed (timed out, erred, broke off, answered nothing) in the
/// usage tallies; a failure to count is only logged.
pub async fn model_failed(state: &AppState, prepared: &PreparedTurn) {
    count_apart(state, prepared, Tally::model_error(), "a model failure").await;
}

/// Counts the tokens of a reply that could not be saved (its conversation deleted while it was
/// written) in the usage tallies: the provider billed them. A failure to count is only logged.
pub async fn reply_unsaved(state: &AppState, prepared: &PreparedTurn, usage: Option<Usage>) {
    if usage.is_some() {
        count_apart(state, prepared, tokens(usage), "an unsaved reply's tokens").await;
    }
}

/// Adds `tally` to the turn's hour, outside any transaction (no reply row goes with it); a
/// failure is only logged, naming `what` was not counted.
async fn count_apart(state: &AppState, prepared: &PreparedTurn, tally: Tally, what: &str) {
    let conversation = &prepared.conversation;
    let (now, user_id) = (state.clock.now(), &conversation.user_id);
    if let Err(err) = tally::add(&state.db, now, user_id, conversation.kind, prepared.language, tally).await {
        tracing::warn!(error = %err, conversation_id = %conversation.id, "could not count {what}");
    }
}
