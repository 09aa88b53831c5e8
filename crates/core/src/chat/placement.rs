//! Where a turn's message goes, in the turn's transaction: a new conversation (its earlier
//! messages, then the user's: [`open`]) or a stored one, placed as the turn's [`Placement`] says
//! ([`continue_in`]); and the branch the model then reads, with each message's id (its pictures
//! are found by it). [`super::service::prepare`] runs them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use super::{
    service::title_from,
    tree::{MAX_CONVERSATION_MESSAGES, Tree},
    turn::{Placement, Turn},
    written::{NewMessage, insert_message},
};
use crate::{
    db::Txn,
    entities::{Conversation, MessageRole, TitleSource, Withheld, conversation, user},
    error::{AppError, AppResult},
    ids::new_id,
    rate_limit::Locked,
    state::AppState,
};

/// What [`open`] and [`continue_in`] settled.
pub(super) struct Placed {
    pub(super) conversation: conversation::Model,
    pub(super) user_message_id: String,
    pub(super) question: String,
    /// The branch the reply continues, oldest first (possibly longer than the window).
    pub(super) history: Vec<Said>,
    /// No reply has been written yet and the title is still cut from the first message: the
    /// model is to title the conversation after this reply.
    pub(super) untitled: bool,
    /// When the user message was saved: `None` for a regeneration, or the retry of a failed
    /// turn, which save none. (Messages a new conversation brings from the client's history
    /// are stored but not tallied: they are not turns. The migration's backfill, which cannot
    /// tell them apart, tallies every stored message.)
    pub(super) new_message_at: Option<DateTime<Utc>>,
    /// Readings of the oracle were linked to the conversation before this turn.
    pub(super) has_readings: bool,
    /// Pictures were sent in the conversation before this turn.
    pub(super) has_pictures: bool,
}

/// A message of the branch the model reads.
pub(super) struct Said {
    pub(super) id: String,
    pub(super) role: MessageRole,
    pub(super) text: String,
}

/// A new conversation: its earlier messages (a client that kept the history itself) as one
/// branch, then the user's message.
pub(super) async fn open(txn: &Txn, state: &AppState, user: &user::Model, turn: &Turn) -> AppResult<Placed> {
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
pub(super) async fn continue_in(
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
