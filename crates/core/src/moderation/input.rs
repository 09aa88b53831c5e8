//! The gate a chat turn's user text passes before the model is called: the new message, the
//! `systemHint`, and the messages a new conversation brings along (they reach the model too).
//!
//! A blocked turn is refused with 422 `content_blocked` and a neutral message in the user's
//! language. The chat stores it first (`chat::service`, with `Turn::blocked`): its message is
//! kept, marked withheld so the model never sees it, the quota is charged (probing the filter
//! is not free) and so is a strike; here the account is flagged when its strikes are used up,
//! and the block is audited. An account whose strikes are used up (`MODERATION_STRIKES`) gets
//! 429 `moderation_cooldown` before anything is checked, until its oldest strike ages out.

use super::{Stage, Verdict};
use crate::{
    audit::{self, Action},
    entities::{User, user},
    error::{AppError, AppResult},
    http::ClientMeta,
    language::Language,
    rate_limit::{self, Bucket, Meter},
    state::AppState,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

/// What of a turn goes to the model: its text, as one, and its new pictures (as the model
/// gets them: links, or `data:` URLs).
#[derive(Default)]
pub struct TurnText<'a> {
    pub message: Option<&'a str>,
    pub hint: Option<&'a str>,
    pub brought: Vec<&'a str>,
    pub pictures: Vec<String>,
}

/// Checks a turn's text: `Some(label)` when moderation blocks it (the caller stores the turn
/// blocked and answers with [`refused`]); `None` when it may go to the model (or moderation is
/// off). 429 `moderation_cooldown` for an account in its cool-down; 503 when the provider
/// fails under `MODERATION_FAILURE=closed`.
pub async fn screen(state: &AppState, user: &user::Model, text: TurnText<'_>) -> AppResult<Option<String>> {
    let Some(moderator) = state.moderator.as_deref() else { return Ok(None) };
    if let Some(meter) = strikes(state, &user.id) {
        rate_limit::ensure_room(&state.db, &state.clock, &meter).await?;
    }
    let parts: Vec<&str> = text.brought.into_iter().chain(text.hint).chain(text.message).collect();
    let joined = parts.join("\n\n");
    let words = async {
        match joined.trim().is_empty() {
            true => Ok(Verdict::Pass),
            false => moderator.judge(Stage::Input, &joined).await,
        }
    };
    // The words and each picture at once: a turn waits for its slowest check only.
    let pictures = futures::future::try_join_all(text.pictures.iter().map(|url| moderator.judge_picture(url)));
    let (words, pictures) = futures::future::try_join(words, pictures).await?;
    Ok(std::iter::once(words).chain(pictures).find_map(|verdict| match verdict {
        Verdict::Pass => None,
        Verdict::Block { label } => Some(label),
    }))
}

/// Checks text a person keeps for the model to read in later turns (a reading's question), as a
/// message is checked: when moderation blocks it, nothing is kept, a strike is charged, the
/// block is audited (`what` names the text) and the answer is 422 `content_blocked`.
pub async fn screen_kept(
    state: &AppState,
    user: &user::Model,
    client: &ClientMeta,
    text: &str,
    what: &str,
    language: Language,
) -> AppResult<()> {
    let turn = TurnText { message: Some(text), ..TurnText::default() };
    let Some(label) = screen(state, user, turn).await? else { return Ok(()) };
    if let Some(meter) = strikes(state, &user.id) {
        state.charge(&[meter]).await?;
    }
    record_block(state, user, client, format!("{what} was blocked ({})", audit::quote(&label))).await;
    Err(content_blocked(language))
}

fn strikes<'a>(state: &AppState, user_id: &'a str) -> Option<Meter<'a>> {
    Meter::new(Bucket::ModerationStrikes, user_id, state.config.moderation_strikes)
}

/// After a blocked turn was stored: flags the account when that strike used up its allowance,
/// audits the block, and returns the 422 to answer with.
pub async fn refused(
    state: &AppState,
    user: &user::Model,
    client: &ClientMeta,
    conversation_id: &str,
    label: &str,
    language: Language,
) -> AppError {
    let message = format!("a message was blocked ({}) in conversation {conversation_id}", audit::quote(label));
    record_block(state, user, client, message).await;
    content_blocked(language).in_conversation(conversation_id)
}

/// After a block's strike was charged: flags the account when that strike used up its
/// allowance, and audits the block with `message`.
async fn record_block(state: &AppState, user: &user::Model, client: &ClientMeta, message: String) {
    if let Some(meter) = strikes(state, &user.id) {
        flag_when_used_up(state, &meter).await;
    }
    let entry = audit::Entry::new(Action::ContentBlocked, Some(&user.id), message);
    if let Err(err) = audit::record(&state.db, &state.clock, entry, client).await {
        tracing::warn!(error = %err, "could not audit a blocked message");
    }
}

/// Marks the account for administrators once its strikes are used up (the cool-down begins).
async fn flag_when_used_up(state: &AppState, meter: &Meter<'_>) {
    let now = state.clock.now();
    let used_up = match rate_limit::counted(&state.db, now, meter).await {
        Ok(counted) => counted.count >= u64::from(meter.limit.max),
        Err(err) => {
            tracing::warn!(error = %err, "could not count moderation strikes");
            return;
        }
    };
    if !used_up {
        return;
    }
    let flagged = User::update_many()
        .col_expr(crate::entities::user::Column::ModerationFlaggedAt, Expr::value(now))
        .filter(crate::entities::user::Column::Id.eq(meter.key))
        .exec(&state.db)
        .await;
    if let Err(err) = flagged {
        tracing::warn!(error = %err, "could not flag an account for its moderation strikes");
    }
}

/// 422 `content_blocked`, in the user's language: neutral, saying neither which rule nor which
/// words (that would teach the way around it).
pub fn content_blocked(language: Language) -> AppError {
    let message = match language {
        Language::Chinese => "这条消息未发送给助手：内容不符合使用规范。请修改后再试。",
        Language::English => {
            "This message was not sent to the assistant: it does not meet the content rules. Please rephrase it."
        }
    };
    AppError::validation("content_blocked", message)
}
