//! A chat turn, independent of HTTP: charge the quota, save the user's message (before the
//! model is called, so a failed turn loses nothing; where it goes: [`super::placement`]) and
//! build the prompt. The turn arrives checked ([`super::turn`]); its reply is saved by
//! [`super::reply`].

use std::sync::Arc;

pub use super::turn::{
    MAX_MESSAGE_CHARS, MAX_MESSAGES, Placement, TITLE_CHARS, Turn, attachment_ids, options, user_message, validate,
};
use super::{
    llm::{Llm, LlmError, Prompt},
    persona::{Language, system_prompt},
    placement::{Placed, continue_in, open},
    stop::{self, Registration},
};
use crate::{
    config::{EmailVerification, ThinkingMode},
    entities::{ConversationKind, conversation, user},
    error::{AppError, AppResult},
    rate_limit::{self, Bucket, Limit, Meter},
    safety::{self, red_flags::RedFlag},
    state::AppState,
    usage::tally::{self, Tally},
};

/// A turn whose user message is saved and whose prompt is ready.
pub struct PreparedTurn {
    pub conversation: conversation::Model,
    pub prompt: Prompt,
    pub language: Language,
    /// The user message the reply answers (its parent in the tree).
    pub user_message_id: String,
    /// The user message's text (for the title).
    pub question: String,
    /// The conversation's first reply (it is new, or its first reply failed): its title is to
    /// be written after this one.
    pub first_reply: bool,
    /// The card to show before the reply.
    pub red_flag: Option<RedFlag>,
    /// A streamed reply's registration, taken in the turn's transaction: its stream slot
    /// (counted by the `chat_streams` limit) and what a stop finds it by.
    pub stream: Option<Registration>,
    /// The reply is to be thought through first.
    pub think: bool,
}

/// Whether a turn's reply is thought through: asked for (`asked`) where it is offered, or
/// always; asking where it is off is refused (422 `thinking_not_offered`).
pub fn thinks(state: &AppState, asked: bool) -> AppResult<bool> {
    let Some(thinking) = state.config.llm.as_ref().map(|llm| &llm.thinking) else {
        return Ok(false); // no model: the turn is refused later (`llm_not_configured`)
    };
    if asked && thinking.mode == ThinkingMode::Off {
        return Err(AppError::validation(
            "thinking_not_offered",
            "this server does not offer thinking first (`think`); ask without it",
        ));
    }
    Ok(thinking.thinks(asked))
}

/// The configured model, or 503 `llm_not_configured`.
pub fn llm(state: &AppState) -> AppResult<Arc<Llm>> {
    state.llm.clone().ok_or_else(|| AppError::Unavailable {
        code: "llm_not_configured",
        message: "the chat assistant is not configured on this server (OPENAI_API_KEY is not set)".into(),
    })
}

pub fn llm_error(err: LlmError) -> AppError {
    match err {
        LlmError::Timeout(after) => AppError::GatewayTimeout {
            code: "upstream_timeout",
            message: format!("the assistant did not answer within {} seconds; please try again", after.as_secs()),
        },
        LlmError::Upstream(detail) => {
            tracing::warn!(%detail, "model endpoint failed");
            AppError::BadGateway {
                code: "upstream_error",
                message: "the assistant is unavailable right now; please try again".into(),
            }
        }
        LlmError::Stream(detail) => {
            tracing::warn!(%detail, "model stream broke off");
            AppError::BadGateway {
                code: "upstream_stream_broken",
                message: "the assistant's reply broke off; please try again".into(),
            }
        }
        LlmError::Empty => AppError::BadGateway {
            code: "upstream_empty_reply",
            message: "the assistant returned an empty reply; please try again".into(),
        },
    }
}

/// Charges the quota, saves the user's message (opening the conversation when needed) and shows
/// it, and builds the prompt from the branch it ends. A regeneration saves no message and
/// leaves the branch shown as it is until its reply is saved. A streamed turn (`stream`) also
/// takes a stream slot and registers its reply for a stop, in the same transaction.
pub async fn prepare(state: &AppState, user: &user::Model, turn: Turn, stream: bool) -> AppResult<PreparedTurn> {
    verified(state, user)?;
    let quota = crate::usage::message_limit(&state.config, user.role);
    // The quota is checked and charged in the transaction that saves the message, which holds
    // the user's quota key locked until it commits: concurrent turns of one user queue there,
    // and a turn that fails (an unknown conversation…) rolls its charge back with it.
    let mut meters: Vec<Meter> = Meter::new(Bucket::ChatMessages, &user.id, quota).into_iter().collect();
    if turn.blocked {
        // A blocked message is a strike: the last one a cool-down allows is refused here
        // (429 `moderation_cooldown`), atomically with the rest of the turn.
        meters.extend(Meter::new(Bucket::ModerationStrikes, &user.id, state.config.moderation_strikes));
    }
    // A streamed reply holds one of the user's stream slots until it ends: its registration's
    // row, inserted in the same transaction, is the slot the meter counts.
    if stream && state.config.chat_max_concurrent_streams > 0 {
        let limit = Limit { max: state.config.chat_max_concurrent_streams, window: state.config.chat_stream_lease() };
        meters.push(Meter { bucket: Bucket::ChatStreams, key: &user.id, limit });
    }
    // A deadlock with a deletion of the conversation at another instance rolls the whole
    // transaction back: it runs again, and then finds the conversation (or not: 404). A
    // foreign key broken by a deletion that committed first means the conversation, or the
    // account, is gone.
    let attempts = rate_limit::CHARGE_ATTEMPTS;
    let (placed, stream) = rate_limit::retry_transaction(attempts, || place(state, user, &turn, &meters, stream))
        .await
        .map_err(|err| match (err.is_foreign_key_violation(), turn.conversation_id.is_some()) {
            (true, true) => AppError::NotFound("conversation"),
            (true, false) => crate::auth::token::invalid_token(),
            (false, _) => err,
        })?;
    crate::attachments::sent::uploads_done(state, &turn.pictures).await;
    // A tongue photo is observed before the reply (once; kept with the picture), now that the
    // turn is placed: the TCM adviser's, with the consent read under its lock.
    if let (false, Some(llm)) = (turn.blocked, state.llm.as_deref()) {
        crate::attachments::tongue::observe(state, llm, &turn.pictures).await?;
    }
    let Placed { conversation, user_message_id, question, mut history, untitled, has_readings, has_pictures, .. } =
        placed;
    // The model sees the latest `CHAT_HISTORY_WINDOW` messages of the branch.
    let window = usize::try_from(state.config.chat_history_window).unwrap_or(usize::MAX);
    let excess = history.len().saturating_sub(window);
    history.drain(..excess);
    let mut system = system_prompt(conversation.kind, turn.language, turn.system_hint.as_deref());
    // The TCM adviser knows the season (the solar term now, computed, never remembered).
    if conversation.kind == ConversationKind::Tcm {
        system = format!("{system}\n\n---\n{}", crate::season::prompt_note(state.clock.now(), turn.language));
        // …and the person's newest constitution self-assessment, if they took one.
        if let Some(section) =
            crate::constitution::prompt::section(&state.db, &user.id, state.clock.now(), turn.language).await?
        {
            system = format!("{system}\n\n---\n{section}");
        }
    }
    // The oracle's readings of this conversation, their governing texts verbatim (read only
    // when it has some: linked before, or by this turn).
    if conversation.kind == ConversationKind::Oracle
        && (has_readings || turn.reading_id.is_some())
        && let Some(section) = crate::oracle::prompt::section(&state.db, &conversation.id, turn.language).await?
    {
        system = format!("{system}\n\n---\n{section}");
    }
    if let Some(flag) = turn.red_flag {
        system = format!("{system}\n\n---\n{}", safety::prompt_note(&state.config, flag, turn.language));
    }
    // The pictures of the branch the model reads (read only when the conversation has some),
    // and what its tongue photos showed.
    let mut shown = match has_pictures || !turn.pictures.is_empty() {
        true => {
            let ids: Vec<String> = history.iter().map(|said| said.id.clone()).collect();
            crate::attachments::sent::for_model(state, &ids).await?
        }
        false => Default::default(),
    };
    if let Some(section) = crate::attachments::tongue::section(&shown.tongue, turn.language) {
        system = format!("{system}\n\n---\n{section}");
    }
    let pictures =
        history.iter().enumerate().filter_map(|(at, said)| Some((at, shown.urls.remove(&said.id)?))).collect();
    let turns = history.into_iter().map(|said| (said.role, said.text)).collect();
    let prompt = Prompt { system, turns, pictures };
    Ok(PreparedTurn {
        conversation,
        prompt,
        language: turn.language,
        user_message_id,
        question,
        first_reply: untitled,
        red_flag: turn.red_flag,
        stream,
        think: turn.think,
    })
}

/// The turn's transaction: charges `meters` (and locks the user's turns: the quota key, even
/// when the quota is off), reads the consent again under a lock, saves the message in a new or
/// stored conversation, links the reading it names, tallies it and, for a `stream`, registers
/// the reply (its stream slot, and what a stop finds). Every statement here is a round trip to
/// RDS before the model is called: what `tests/statements.rs` counts.
async fn place(
    state: &AppState,
    user: &user::Model,
    turn: &Turn,
    meters: &[Meter<'_>],
    stream: bool,
) -> AppResult<(Placed, Option<Registration>)> {
    let turns_key = Some((Bucket::ChatMessages, user.id.as_str()));
    let (txn, charge) = rate_limit::begin_locked(&state.db, &state.clock, meters, turns_key).await?;
    let consented = crate::consent::lock_for_turn(&txn, state, user, turn.kind).await?;
    let placed = match turn.conversation_id.as_deref() {
        None => {
            charge.charge(&txn, None).await?;
            open(&txn, state, user, turn).await?
        }
        // The counts come with the conversation's read.
        Some(id) => continue_in(&txn, state, user, turn, id, charge).await?,
    };
    crate::consent::still_given(consented, placed.conversation.kind)?;
    crate::attachments::tongue::only_with_tcm(&turn.pictures, placed.conversation.kind)?;
    if let Some(reading_id) = turn.reading_id.as_deref() {
        crate::oracle::prompt::attach(&txn, &user.id, reading_id, &placed.conversation).await?;
    }
    if let Some(at) = placed.new_message_at {
        let (conversation_id, message_id) = (&placed.conversation.id, &placed.user_message_id);
        crate::attachments::sent::attach(&txn, &turn.pictures, conversation_id, message_id, at).await?;
        tally::add(&txn, at, &user.id, placed.conversation.kind, turn.language, Tally::user_message()).await?;
    }
    let registration = match stream {
        true => Some(stop::register(&txn, &state.db, state.clock.now(), &user.id, &placed.conversation.id).await?),
        false => None,
    };
    txn.commit().await?;
    Ok((placed, registration))
}

/// A turn's housekeeping, once its reply is out (or the turn refused), never on the way to the
/// model: the expired rows of the buckets a turn charges, the registrations of replies whose
/// instance died, and deleted or long-unsent pictures, each at most once a minute per instance.
pub async fn tidy_up(state: &AppState) {
    for bucket in [Bucket::ChatMessages, Bucket::ChatStreams, Bucket::ModerationStrikes] {
        state.sweep(bucket).await;
    }
    stop::sweep_stale(state).await;
    crate::attachments::forget::sweep(state).await;
}

/// Refuses a user who may not chat now (terms not accepted, an administrator's restriction, an
/// unverified address where verification is required, a TCM turn without the health consent, a
/// used-up quota), before anything costly is done for the turn (a moderation check). The
/// quota is only read here: [`prepare`] charges it atomically, and refuses what gets past this.
pub async fn may_chat(
    state: &AppState,
    user: &user::Model,
    kind: Option<ConversationKind>,
    conversation_id: Option<&str>,
) -> AppResult<()> {
    crate::consent::terms_gate(&state.config.trust, user)?;
    crate::reports::restriction_gate(state.clock.now(), user)?;
    verified(state, user)?;
    crate::consent::health_gate(state, user, kind, conversation_id).await?;
    if state.moderator.is_none() {
        return Ok(()); // nothing costly comes before `prepare`: no read needed
    }
    let quota = crate::usage::message_limit(&state.config, user.role);
    if let Some(meter) = Meter::new(Bucket::ChatMessages, &user.id, quota) {
        rate_limit::ensure_room(&state.db, &state.clock, &meter).await?;
    }
    Ok(())
}

/// 403 `email_unverified` where verification is required and the address is not verified.
pub(crate) fn verified(state: &AppState, user: &user::Model) -> AppResult<()> {
    if state.config.email_verification == EmailVerification::Required && user.email_verified_at.is_none() {
        return Err(AppError::forbidden(
            "email_unverified",
            "confirm your email address first: open the link we mailed you, or ask for a new one",
        ));
    }
    Ok(())
}

/// A title from the first user message: whitespace collapsed, cut at [`TITLE_CHARS`] with "…".
pub fn title_from(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= TITLE_CHARS {
        return collapsed;
    }
    let mut title: String = collapsed.chars().take(TITLE_CHARS - 1).collect();
    title.push('…');
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(title_from("  What   does\nthe hexagram mean? "), "What does the hexagram mean?");
        let long = "问".repeat(100);
        let title = title_from(&long);
        assert_eq!(title.chars().count(), TITLE_CHARS);
        assert!(title.ends_with('…'));
    }
}
