//! Stopping a streamed reply from any instance.
//!
//! Function Compute routes each request anew, so the stop request may reach an instance other
//! than the one streaming. What they share is the database: a reply being streamed has a row in
//! `reply_streams` (which is also its stream slot: the `chat_streams` limit counts these rows);
//! deleting the conversation (or the account) deletes the row, which ends the reply as a stop
//! does; a stop marks the conversation's rows, and the streaming instance, which
//! looks for marks every [`POLL`], ends the reply when it sees one: it closes the model's
//! request, saves the reply as far as it got and frees the stream slot. The stop request waits
//! (at most [`WAIT`]) until the rows are gone, so that when it answers the slot is free.
//!
//! One [`StopWatcher`] per instance looks for all of its streaming replies' marks with one
//! statement per tick, however many replies stream (issue 26: a poll per reply cost RDS five
//! statements a second for each reader), and none while nothing streams.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use tokio::{
    sync::oneshot,
    time::{Duration, Instant},
};
use utoipa::ToSchema;

use crate::{
    auth::AuthUser,
    db::Db,
    entities::{ReplyStream, reply_stream},
    error::{AppResult, ErrorBody},
    housekeeping::{self, Chore},
    http::{ApiRoutes, AppPath, routes::api_routes},
    ids::new_id,
    rate_limit,
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![stop]
}

/// How often a streaming reply looks for a stop.
pub const POLL: Duration = Duration::from_millis(200);
/// How long a stop request waits for the replies it stopped to end.
const WAIT: Duration = Duration::from_secs(3);

/// `POST /api/chat/conversations/{id}/stop` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StopResponse {
    /// Replies that were streaming in this conversation and were asked to stop.
    pub requested: u64,
    /// Of those, how many have ended (saved as stopped, slot freed) by the time of this answer.
    /// Fewer than `requested` only when the streaming instance is unreachable; its reply then
    /// ends by its deadline.
    pub ended: u64,
}

/// The earliest start of a reply still within its lease at `now`: rows started before it are
/// stale (their instance died mid-reply).
fn lease_start(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|lease| now.checked_sub_signed(lease))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A reply being streamed, registered so that it can be stopped; its row is its stream slot.
/// [`Registration::end`] forgets it (freeing the slot) when the reply ends; should the turn end
/// any other way (a panic unwinding its task), dropping it does. Only a killed instance leaves
/// a row behind: it stops counting after its lease, and [`sweep_stale`] deletes it.
pub struct Registration {
    pub id: String,
    db: Db,
    ended: bool,
}

/// Registers a reply as streaming, in the turn's transaction `txn` (`db` forgets it later): the
/// row that the `chat_streams` meter, checked earlier in `txn`, counts as a slot.
pub async fn register(
    txn: &impl ConnectionTrait,
    db: &Db,
    now: DateTime<Utc>,
    user_id: &str,
    conversation_id: &str,
) -> AppResult<Registration> {
    let id = new_id();
    ReplyStream::insert(reply_stream::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        conversation_id: Set(conversation_id.to_string()),
        started_at: Set(now),
        stop_requested_at: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(Registration { id, db: db.clone(), ended: false })
}

impl Registration {
    /// Starts looking for a stop of this reply, with the instance's other replies.
    pub fn watch(&self, state: &AppState) -> StopWatch {
        state.stop_watcher.watch(&state.db, &self.id)
    }

    /// The reply has ended: forget its row (best effort: a row left behind is only ever stale).
    pub async fn end(mut self) {
        self.ended = true;
        forget(&self.db, &self.id).await;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (db, id) = (self.db.clone(), self.id.clone());
            runtime.spawn(async move { forget(&db, &id).await });
        }
    }
}

async fn forget(db: &Db, id: &str) {
    if let Err(err) = ReplyStream::delete_by_id(id.to_string()).exec(db).await {
        tracing::warn!(error = %err, "could not forget an ended reply stream");
    }
}

/// Deletes a batch of rows whose reply outlived its lease (an instance that died mid-reply),
/// at most once a minute per instance, after a reply ends.
pub async fn sweep_stale(state: &AppState) {
    let now = state.clock.now();
    if !state.chores.due(Chore::StaleStreams, now) {
        return;
    }
    let stale =
        Condition::all().add(reply_stream::Column::StartedAt.lt(lease_start(now, state.config.chat_stream_lease())));
    let (id, started) = (reply_stream::Column::Id, reply_stream::Column::StartedAt);
    if housekeeping::sweep::<ReplyStream>(&state.db, id, stale, started, rate_limit::SWEEP_BATCH, "stale reply streams")
        .await
    {
        state.chores.again(Chore::StaleStreams);
    }
}

/// The instance's replies waiting for a stop, and whether a task is polling for them.
#[derive(Default)]
struct Watched {
    waiting: HashMap<String, oneshot::Sender<()>>,
    polling: bool,
}

/// Looks for stops of all the instance's streaming replies at once: every [`POLL`] one
/// statement asks which of their rows are marked. The polling task runs in a task of its own
/// (its statement runs to completion whatever a reply is doing, so none keeps a connection
/// while it is not polled) and only while some reply is watched.
#[derive(Clone, Default)]
pub struct StopWatcher {
    watched: Arc<Mutex<Watched>>,
}

impl StopWatcher {
    /// Watches the reply whose row is `id`. Dropping the watch forgets it.
    pub fn watch(&self, db: &Db, id: &str) -> StopWatch {
        let (signal, receiver) = oneshot::channel();
        let start = {
            let mut watched = self.lock();
            watched.waiting.insert(id.to_string(), signal);
            !std::mem::replace(&mut watched.polling, true)
        };
        if start {
            let (watcher, db) = (self.clone(), db.clone());
            tokio::spawn(async move { watcher.poll(db).await });
        }
        StopWatch { receiver, watcher: self.clone(), id: id.to_string() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every [`POLL`] while replies are watched: which of them were asked to stop. Ends (and
    /// says so, under the lock a new watch takes) when none is left.
    async fn poll(self, db: Db) {
        loop {
            tokio::time::sleep(POLL).await;
            let ids: Vec<String> = {
                let mut watched = self.lock();
                if watched.waiting.is_empty() {
                    watched.polling = false;
                    return;
                }
                watched.waiting.keys().cloned().collect()
            };
            let mut stopped = Vec::new();
            // One statement per tick; a list of ids stays bounded past a few hundred replies.
            // It asks which replies may go on: a row marked, or gone (its conversation or its
            // account deleted meanwhile), ends its reply.
            for batch in ids.chunks(500) {
                let running: Result<Vec<String>, _> = ReplyStream::find()
                    .select_only()
                    .column(reply_stream::Column::Id)
                    .filter(reply_stream::Column::Id.is_in(batch.to_vec()))
                    .filter(reply_stream::Column::StopRequestedAt.is_null())
                    .into_tuple()
                    .all(&db)
                    .await;
                match running {
                    Ok(running) => stopped.extend(batch.iter().filter(|id| !running.contains(id)).cloned()),
                    // The database briefly away: the replies go on, and so does the watch.
                    Err(err) => tracing::debug!(error = %err, "could not look for stops; trying again"),
                }
            }
            let mut watched = self.lock();
            for id in stopped {
                if let Some(signal) = watched.waiting.remove(&id) {
                    let _ = signal.send(());
                }
            }
        }
    }
}

/// A watch for a stop ([`Registration::watch`]).
pub struct StopWatch {
    receiver: oneshot::Receiver<()>,
    watcher: StopWatcher,
    id: String,
}

impl StopWatch {
    /// Resolves when a stop is requested (never, if the watch ended otherwise).
    pub async fn requested(&mut self) {
        if (&mut self.receiver).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for StopWatch {
    fn drop(&mut self) {
        self.watcher.lock().waiting.remove(&self.id);
    }
}

/// Replies of the conversation asked to stop that have not ended yet.
async fn stopping(db: &Db, user_id: &str, conversation_id: &str, since: DateTime<Utc>) -> AppResult<u64> {
    Ok(ReplyStream::find()
        .filter(reply_stream::Column::StopRequestedAt.is_not_null())
        .filter(reply_stream::Column::UserId.eq(user_id))
        .filter(reply_stream::Column::ConversationId.eq(conversation_id))
        .filter(reply_stream::Column::StartedAt.gte(since))
        .count(db)
        .await?)
}

/// Stop the reply being streamed in a conversation.
///
/// Works from any instance: the streaming one notices within a fraction of a second, closes
/// the model's request (no more tokens are generated or billed), saves the reply as far as it
/// got, marked `stopped`, frees the stream slot and ends the stream with `done` carrying
/// `finishReason: "stopped"`. This call answers once that has happened (or after 3 seconds).
/// Nothing streaming is not an error: `requested` is then 0. Only streamed replies can be
/// stopped; a client that merely disconnects still gets its reply completed and saved.
#[utoipa::path(
    post,
    path = "/api/chat/conversations/{id}/stop",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "Stopped (see `ended`)", body = StopResponse),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    )
)]
pub async fn stop(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<StopResponse>> {
    let conversation = super::history::owned(&state, &auth, &id).await?;
    let now = state.clock.now();
    let since = lease_start(now, state.config.chat_stream_lease());
    let requested = ReplyStream::update_many()
        .col_expr(reply_stream::Column::StopRequestedAt, Expr::value(now))
        .filter(reply_stream::Column::UserId.eq(&auth.user.id))
        .filter(reply_stream::Column::ConversationId.eq(&conversation.id))
        .filter(reply_stream::Column::StartedAt.gte(since))
        .exec(&state.db)
        .await?
        .rows_affected;
    let deadline = Instant::now() + WAIT;
    let mut remaining = requested;
    while remaining > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        remaining = stopping(&state.db, &auth.user.id, &conversation.id, since).await?;
    }
    if remaining > 0 {
        tracing::warn!(conversation_id = %conversation.id, remaining, "a stopped reply has not ended yet");
    }
    let ended = requested.saturating_sub(remaining);
    Ok(Json(StopResponse { requested, ended }))
}
