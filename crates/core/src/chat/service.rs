//! A chat turn, independent of HTTP: charge the quota, save the user's message (before the
//! model is called, so a failed turn loses nothing) and build the prompt. The turn arrives
//! checked ([`super::turn`]); its reply is saved by [`super::reply`].

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

pub use super::turn::{
    MAX_MESSAGE_CHARS, MAX_MESSAGES, Placement, TITLE_CHARS, Turn, attachment_ids, options, user_message, validate,
};
use super::{
    llm::{Llm, LlmError, Prompt},
    persona::{Language, system_prompt},
    stop::{self, Registration},
    tree::{MAX_CONVERSATION_MESSAGES, Tree},
    written::{NewMessage, insert_message},
};
use crate::{
    config::{EmailVerification, ThinkingMode},
    db::Txn,
    entities::{Conversation, ConversationKind, MessageRole, TitleSource, Withheld, conversation, user},
    error::{AppError, AppResult},
    ids::new_id,
    rate_limit::{self, Bucket, Limit, Locked, Meter},
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

fn verified(state: &AppState, user: &user::Model) -> AppResult<()> {
    if state.config.email_verification == EmailVerification::Required && user.email_verified_at.is_none() {
        return Err(AppError::forbidden(
            "email_unverified",
            "confirm your email address first: open the link we mailed you, or ask for a new one",
        ));
    }
    Ok(())
}

/// What [`open`] and [`continue_in`] settled.
struct Placed {
    conversation: conversation::Model,
    user_message_id: String,
    question: String,
    /// The branch the reply continues, oldest first (possibly longer than the window).
    history: Vec<Said>,
    /// No reply has been written yet and the title is still cut from the first message: the
    /// model is to title the conversation after this reply.
    untitled: bool,
    /// When the user message was saved: `None` for a regeneration, or the retry of a failed
    /// turn, which save none. (Messages a new conversation brings from the client's history
    /// are stored but not tallied: they are not turns. The migration's backfill, which cannot
    /// tell them apart, tallies every stored message.)
    new_message_at: Option<DateTime<Utc>>,
    /// Readings of the oracle were linked to the conversation before this turn.
    has_readings: bool,
    /// Pictures were sent in the conversation before this turn.
    has_pictures: bool,
}

/// A message of the branch the model reads.
struct Said {
    id: String,
    role: MessageRole,
    text: String,
}

/// A new conversation: its earlier messages (a client that kept the history itself) as one
/// branch, then the user's message.
async fn open(txn: &Txn, state: &AppState, user: &user::Model, turn: &Turn) -> AppResult<Placed> {
    let missing = || AppError::validation("missing_conversation", "there is no conversation to continue here");
    let kind = turn.kind.ok_or_else(missing)?;
    let message = turn.message.clone().ok_or_else(missing)?;
    let now = state.clock.now();
    let title_source = turn
        .earlier
        .iter()
        .find(|(role, _)| *role == MessageRole::User)
        .map_or(message.as_str(), |(_, content)| content.as_str());
    let user_message_id = new_id();
    let conversation = conversation::Model {
        id: new_id(),
        user_id: user.id.clone(),
        kind,
        title: title_from(title_source),
        created_at: now,
        updated_at: now,
        active_leaf_id: Some(user_message_id.clone()),
        title_source: TitleSource::Message,
    };
    Conversation::insert(conversation::ActiveModel::from(conversation.clone())).exec_without_returning(txn).await?;
    // Earlier messages are stored too, so the history shows them, marked as the client's: a
    // "reply" among them was not written by the model here, so it cannot be rated.
    let mut parent: Option<String> = None;
    // A blocked turn's brought messages are withheld with it: the refusal may be theirs.
    let withheld = turn.blocked.then_some(Withheld::Blocked);
    let mut history = Vec::with_capacity(turn.earlier.len() + 1);
    for (role, content) in &turn.earlier {
        let brought = NewMessage { from_client: true, withheld, ..NewMessage::of(*role, content, parent.as_deref()) };
        let saved = insert_message(txn, state, &conversation.id, brought).await?;
        history.push(Said { id: saved.id.clone(), role: *role, text: content.clone() });
        parent = Some(saved.id);
    }
    let saved = insert_message(
        txn,
        state,
        &conversation.id,
        NewMessage {
            id: Some(user_message_id.clone()),
            withheld,
            red_flag: turn.red_flag.map(|flag| flag.rule),
            ..NewMessage::of(MessageRole::User, &message, parent.as_deref())
        },
    )
    .await?;
    history.push(Said { id: saved.id.clone(), role: MessageRole::User, text: message.clone() });
    Ok(Placed {
        conversation,
        user_message_id: saved.id,
        question: message,
        history,
        untitled: true,
        new_message_at: Some(saved.created_at),
        has_readings: false,
        has_pictures: false,
    })
}

/// A turn in a stored conversation, placed as [`Turn::placement`] says. The user's turns are
/// one after the other already ([`place`] locks their quota key first), so concurrent turns of
/// one conversation place their messages in turn (the second after the first's message: a
/// reply still being written then ends up beside it, kept but off the branch); the
/// conversation's row is written once, at the end. The turn's `charge` is counted with the
/// conversation's read, and charged before anything else is checked.
async fn continue_in(
    txn: &Txn,
    state: &AppState,
    user: &user::Model,
    turn: &Turn,
    id: &str,
    charge: Locked<'_>,
) -> AppResult<Placed> {
    let now = state.clock.now();
    let window = usize::try_from(state.config.chat_history_window).unwrap_or(usize::MAX);
    // The newest texts come with the tree: twice the window, so that the branch's are among
    // them after a few regenerations and edits too (any that are not are read apart); never
    // more than the tree holds (a huge window must not overflow the bound value).
    let texts = state.config.chat_history_window.saturating_mul(2).min(MAX_CONVERSATION_MESSAGES);
    let Some(loaded) = super::loaded::load(txn, &user.id, id, texts, &charge).await? else {
        // Not the user's: a used-up quota still answers first, as for any turn.
        charge.charge(txn, None).await?;
        return Err(AppError::NotFound("conversation"));
    };
    charge.charge(txn, Some(&loaded.counted)).await?;
    let (conversation, tree, mut known) = (loaded.conversation, loaded.tree, loaded.texts);
    if turn.kind.is_some_and(|kind| kind != conversation.kind) {
        return Err(AppError::validation(
            "conversation_type_mismatch",
            "this conversation is with the other assistant; start a new conversation to switch",
        ));
    }
    if tree.len() as u64 >= MAX_CONVERSATION_MESSAGES {
        return Err(AppError::validation(
            "conversation_too_long",
            format!("a conversation holds at most {MAX_CONVERSATION_MESSAGES} messages; please start a new one"),
        ));
    }
    let message_at = |id: &str| tree.find(id).ok_or(AppError::NotFound("message"));
    // `base`: the message the new user message follows (`None`: it is a root); `answered`: the
    // user message to answer when none is added.
    let (base, answered) = match &turn.placement {
        Placement::Append => (tree.leaf(conversation.active_leaf_id.as_deref()), None),
        Placement::Edit { of } => {
            let at = message_at(of)?;
            if tree.node(at).role != MessageRole::User {
                return Err(AppError::validation("not_a_user_message", "only your own messages can be edited"));
            }
            (tree.parent(at), None)
        }
        Placement::Regenerate { of } => {
            let at = message_at(of)?;
            let question = match tree.node(at).role {
                MessageRole::User => Some(at),
                MessageRole::Assistant => tree.parent(at).filter(|&parent| tree.node(parent).role == MessageRole::User),
            };
            let question = question.ok_or_else(|| {
                AppError::validation("nothing_to_regenerate", "this reply does not answer a message of yours")
            })?;
            if tree.node(question).withheld {
                return Err(AppError::validation(
                    "message_withheld",
                    "this message was not sent to the assistant; edit it to send it again",
                ));
            }
            (Some(question), Some(question))
        }
    };
    let branch = base.map(|base| tree.branch(base)).unwrap_or_default();
    let mut history = contents(txn, &tree, &branch[branch.len().saturating_sub(window)..], &mut known).await?;

    let (user_message_id, question, new_message_at) = match (answered, turn.message.as_deref()) {
        (Some(question), _) => {
            let text = history.last().map(|said| said.text.clone()).unwrap_or_default();
            (tree.node(question).id.clone(), text, None)
        }
        (None, Some(message)) => {
            // A retry after a failed turn sends the same message again: it is already saved,
            // as the branch's last message (a user message: so `history.last()` is that one).
            let retry = turn.placement == Placement::Append
                && !turn.blocked
                && base.is_some_and(|base| tree.node(base).role == MessageRole::User)
                && history.last().is_some_and(|said| said.role == MessageRole::User && said.text == message);
            // (A withheld message is no retry's target: the model never saw it.)
            let retry = retry && base.is_some_and(|base| !tree.node(base).withheld);
            // (Nor one that carries other pictures than this turn: a retry sends the same.)
            let retry = retry
                && base.is_some_and(|base| {
                    let id = tree.node(base).id.as_str();
                    turn.pictures.iter().all(|picture| picture.row.message_id.as_deref() == Some(id))
                });
            let (id, saved_at) = match base {
                Some(base) if retry => (tree.node(base).id.clone(), None),
                _ => {
                    let parent = base.map(|base| tree.node(base).id.as_str());
                    let new = NewMessage {
                        withheld: turn.blocked.then_some(Withheld::Blocked),
                        red_flag: turn.red_flag.map(|flag| flag.rule),
                        ..NewMessage::of(MessageRole::User, message, parent)
                    };
                    let saved = insert_message(txn, state, &conversation.id, new).await?;
                    history.push(Said { id: saved.id.clone(), role: MessageRole::User, text: message.to_string() });
                    (saved.id, Some(saved.created_at))
                }
            };
            (id, message.to_string(), saved_at)
        }
        (None, None) => return Err(AppError::validation("empty_message", "the new message is empty")),
    };
    // A new message is shown at once. A regenerated reply is shown when it is saved: until
    // then (and for good, should the model fail) the branch stays as it was.
    let active_leaf_id =
        if answered.is_some() { conversation.active_leaf_id.clone() } else { Some(user_message_id.clone()) };
    let mut update = Conversation::update_many().col_expr(conversation::Column::UpdatedAt, Expr::value(now));
    if answered.is_none() {
        update = update.col_expr(conversation::Column::ActiveLeafId, Expr::value(user_message_id.clone()));
    }
    update.filter(conversation::Column::Id.eq(&conversation.id)).exec(txn).await?;
    let untitled = conversation.title_source == TitleSource::Message && !tree.has_reply();
    let conversation = conversation::Model { updated_at: now, active_leaf_id, ..conversation };
    let (has_readings, has_pictures) = (loaded.has_readings, loaded.has_pictures);
    Ok(Placed {
        conversation,
        user_message_id,
        question,
        history,
        untitled,
        new_message_at,
        has_readings,
        has_pictures,
    })
}

/// The text of these messages of `tree`, in order, as the model reads them: a reply stopped
/// before its first word is left out, and so is every withheld message. Texts already `known`
/// are taken from there; the others are read in one statement.
async fn contents(
    txn: &Txn,
    tree: &Tree,
    indexes: &[usize],
    known: &mut HashMap<String, String>,
) -> AppResult<Vec<Said>> {
    let missing: Vec<usize> =
        indexes.iter().copied().filter(|&index| !known.contains_key(&tree.node(index).id)).collect();
    if !missing.is_empty() {
        known.extend(tree.messages(txn, &missing).await?.into_iter().map(|(_, row)| (row.id, row.content)));
    }
    Ok(indexes
        .iter()
        .map(|&index| tree.node(index))
        .filter(|node| !node.withheld)
        // (A message deleted meanwhile is left out.)
        .filter_map(|node| Some(Said { id: node.id.clone(), role: node.role, text: known.remove(&node.id)? }))
        .filter(|said| !(said.role == MessageRole::Assistant && said.text.trim().is_empty()))
        .collect())
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
