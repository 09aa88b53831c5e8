//! Streaming replies as Server-Sent Events.
//!
//! Events, in order: `start` (`{conversationId, userMessageId}`), `redFlag` (a
//! [`crate::safety::RedFlagCard`], when the message shows an emergency sign), `thinking`
//! (`{content}`: what the model thinks first, for a reply thought through), then `delta` (`{content}`)
//! for each piece as the model produces it, then either `done` (`{conversationId, messageId,
//! usage, finishReason}`) or `error` (the error JSON, with `conversationId`); after the `done`
//! of a conversation's first reply, `title` (`{conversationId, title}`) when the model wrote
//! one in time.
//!
//! The stream slot and the user's message are settled in the request; the model's part runs in
//! a task of its own: when the client disconnects (closed tab, lost network), before the first
//! piece or midway, the task keeps reading and still saves the complete reply, then frees the
//! user's stream slot. A stop ([`super::stop`], from any instance) is different: the task closes
//! the model's request, saves the reply as far as it got (`stopped`), frees the slot and ends
//! the stream with `finishReason: "stopped"`. Errors before the first piece arrives are
//! ordinary JSON error responses (502/504), so a client can tell them apart without parsing a
//! stream. A reply runs for at most its slot's lease (`reply_too_long` after that).

use std::{convert::Infallible, pin::pin, sync::Arc};

use axum::{
    http::{HeaderValue, header::HeaderName},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::StreamExt;
use tokio::{
    sync::{mpsc, oneshot},
    time::{Duration, Instant},
};
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use super::{
    FinishReason, StreamDelta, StreamDone, StreamStart, StreamTitle, UsageView,
    llm::{Chunk, ChunkStream, Llm, LlmError, Thought, Usage},
    reply::{self, Ending},
    service::{self, PreparedTurn, Turn},
    stop::Registration,
    title,
};
use crate::{
    entities::user,
    error::{AppError, AppResult},
    http::ClientMeta,
    moderation::output::{self, Screen, Screened},
    safety::RedFlagCard,
    state::AppState,
};

pub async fn respond(
    state: AppState,
    llm: Arc<Llm>,
    user: &user::Model,
    client: &ClientMeta,
    turn: Turn,
) -> AppResult<Response> {
    // The slot, the user's message and the stop registration are settled here, in the
    // request, in one transaction: short database work that holds no lock once it returns.
    // (In a task of its own it could be frozen by Function Compute, with the instance, while
    // holding the user's quota key.) A client that leaves during it rolls the turn back.
    let window = state.config.chat_stream_lease();
    let deadline = Instant::now() + window;
    let mut prepared = service::prepare(&state, user, turn, true).await?;
    let Some(registration) = prepared.stream.take() else {
        return Err(AppError::internal("a streamed turn was prepared without its registration"));
    };
    let bounds = Bounds { deadline, longest: window, asked: std::time::Instant::now() };
    let conversation_id = prepared.conversation.id.clone();
    let start = event("start", &StreamStart { conversation_id, user_message_id: prepared.user_message_id.clone() });
    let red_flag = prepared.red_flag.map(|flag| RedFlagCard::new(&state.config, flag));
    // From here the turn runs in a task of its own, so that a client that leaves (before the
    // first piece or during the reply) cancels nothing: the reply is completed and saved, and
    // the slot released, whatever the client does.
    let (opened, opening) = oneshot::channel();
    let (sender, receiver) = mpsc::channel(32);
    let turn = run(state, llm, prepared, bounds, registration, opened, sender, client.clone());
    tokio::spawn(turn.instrument(tracing::Span::current()));
    match opening.await {
        Ok(result) => result?,
        Err(_) => return Err(AppError::internal("the reply task ended before the reply started")),
    }
    // An emergency card goes right after `start`, before anything the model writes.
    let card = red_flag.map(|card| event("redFlag", &card));
    let events = futures::stream::iter(std::iter::once(start).chain(card)).chain(ReceiverStream::new(receiver));
    let mut response = Sse::new(events.map(Ok::<_, Infallible>)).keep_alive(KeepAlive::default()).into_response();
    // Ask proxies not to buffer the stream.
    response.headers_mut().insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
    Ok(response)
}

/// How the model's part of a reply went.
struct Outcome {
    /// What is saved: what the client was shown (checked), or for a blocked reply everything
    /// the model wrote (for administrators).
    text: String,
    /// What the model thought first, as far as it was shown (all of it, for a blocked reply).
    thought: Option<Thought>,
    usage: Option<Usage>,
    ending: Result<Ending, AppError>,
    /// Moderation's label, when it blocked the reply.
    blocked: Option<String>,
}

/// The model's part of the turn: wait for the first piece (reporting the outcome through
/// `opened`), relay the rest while the client listens, until the model finishes or the user
/// stops it; save the reply, free the slot, then (for a new conversation) write its title.
#[allow(clippy::too_many_arguments)]
async fn run(
    state: AppState,
    llm: Arc<Llm>,
    prepared: PreparedTurn,
    bounds: Bounds,
    registration: Registration,
    opened: oneshot::Sender<AppResult<()>>,
    sender: mpsc::Sender<Event>,
    client: ClientMeta,
) {
    let conversation_id = prepared.conversation.id.clone();
    let mut listening = false;
    let Some(outcome) = watched(&state, &llm, &prepared, bounds, &registration, opened, &sender, &mut listening).await
    else {
        registration.end().await;
        service::tidy_up(&state).await;
        return;
    };
    if let Some(label) = &outcome.blocked {
        output::blocked(&state, &prepared.conversation.user_id, &client, &conversation_id, label).await;
    }
    let (last, saved) = finish(&state, &prepared, outcome).await;
    let deadline = bounds.deadline;
    // The slot (the registration's row) is free before the client hears the end: a next
    // message may follow at once.
    registration.end().await;
    if listening {
        listening = deliver(&sender, last, deadline).await;
    }
    if let Some(reply) = saved.filter(|_| prepared.first_reply) {
        // Within the reply's deadline too, so the stream never outlives its function's timeout.
        let writing = title::write(&state, &llm, &conversation_id, prepared.language, &prepared.question, &reply);
        let title = tokio::time::timeout_at(deadline, writing).await.ok().flatten();
        if let Some(title) = title.filter(|_| listening) {
            let event = event("title", &StreamTitle { conversation_id, title });
            let _ = tokio::time::timeout(Duration::from_secs(1), sender.send(event)).await;
        }
    }
    service::tidy_up(&state).await;
}

/// The model's part while a stop is watched for: the first piece (its outcome reported through
/// `opened`; `None` when it failed), then the relay. The watch ends with this call.
#[allow(clippy::too_many_arguments)]
async fn watched(
    state: &AppState,
    llm: &Llm,
    prepared: &PreparedTurn,
    bounds: Bounds,
    registration: &Registration,
    opened: oneshot::Sender<AppResult<()>>,
    sender: &mpsc::Sender<Event>,
    listening: &mut bool,
) -> Option<Outcome> {
    let conversation_id = &prepared.conversation.id;
    let mut watch = registration.watch(state);
    let mut stop = pin!(watch.requested());
    let asked = Instant::now();
    let started = tokio::select! {
        biased;
        () = &mut stop => Ok(None),
        started = tokio::time::timeout_at(bounds.deadline, first_piece(llm, prepared)) => match started {
            Ok(Ok(started)) => Ok(Some(started)),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(too_long(bounds.longest)),
        },
    };
    let started = match started {
        Ok(started) => started,
        Err(err) => {
            reply::model_failed(state, prepared).await;
            let _ = opened.send(Err(err.in_conversation(conversation_id)));
            return None;
        }
    };
    // A client gone already (before the first byte) still gets its reply saved.
    *listening = opened.send(Ok(())).is_ok();
    if !*listening {
        tracing::info!(%conversation_id, "client left before the reply started; finishing it to save it");
    }
    let screen = Screen::new(state.moderator.as_deref());
    Some(match started {
        Some((first, rest)) => {
            let bounds = Bounds { asked: asked.into_std(), ..bounds };
            relay(bounds, conversation_id, first, rest, screen, stop, sender, listening).await
        }
        None => Outcome { text: String::new(), thought: None, usage: None, ending: Ok(Ending::Stopped), blocked: None },
    })
}

/// Asks the model and waits for its first piece (of thinking, when it thinks first).
async fn first_piece(llm: &Llm, prepared: &PreparedTurn) -> AppResult<(Chunk, ChunkStream)> {
    let mut chunks = llm.stream(&prepared.prompt, prepared.think).await.map_err(service::llm_error)?;
    match chunks.next().await {
        Some(Ok(chunk)) => Ok((chunk, chunks)),
        Some(Err(err)) => Err(service::llm_error(err)),
        None => Err(service::llm_error(LlmError::Empty)),
    }
}

/// How long a reply may run: until `deadline`, which is `longest` (its slot's lease) after it
/// began, so that a `Retry-After` computed from the leases is true; and when the model was
/// asked (how long it thought is measured from there).
#[derive(Clone, Copy)]
struct Bounds {
    deadline: Instant,
    longest: Duration,
    asked: std::time::Instant,
}

/// Forwards the model's pieces to the client while it listens, as the [`Screen`] lets them
/// through (at once without moderation; checked, segment by segment, with it), until the model
/// finishes, fails or runs past its deadline, moderation blocks the reply, or the user stops
/// it. The model's stream is dropped before this returns: on a stop or a block, that closes
/// its connection, so nothing more is generated.
#[allow(clippy::too_many_arguments)]
async fn relay(
    bounds: Bounds,
    conversation_id: &str,
    first: Chunk,
    mut rest: ChunkStream,
    mut screen: Screen<'_>,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    sender: &mpsc::Sender<Event>,
    listening: &mut bool,
) -> Outcome {
    let Bounds { deadline, longest, asked } = bounds;
    let mut written = String::new();
    let mut usage = None;
    let mut blocked = None;
    let mut pending = Some(first);
    // The thinking, checked like the reply (it is shown too) with a screen of its own, and
    // relayed as `thinking` events until the answer's first piece ends it.
    let mut thinking = Thinking { screen: Screen::new(screen.moderator()), written: String::new(), ms: None };
    let ending = loop {
        let chunk = match pending.take() {
            Some(chunk) => Some(chunk),
            None => tokio::select! {
                biased;
                () = &mut stop => break Ok(Ending::Stopped),
                next = tokio::time::timeout_at(deadline, rest.next()) => match next {
                    Err(_) => break Err(too_long(longest)),
                    Ok(Some(Ok(chunk))) => Some(chunk),
                    Ok(Some(Err(err))) => break Err(service::llm_error(err)),
                    Ok(None) => None,
                },
            },
        };
        let (kind, piece) = match chunk {
            Some(Chunk::Usage(reported)) => {
                usage = Some(reported);
                continue;
            }
            Some(Chunk::Thinking(piece)) if thinking.ms.is_none() => ("thinking", Some(piece)),
            // (Thinking after the answer began is not shown: the answer is what is being read.)
            Some(Chunk::Thinking(_)) => continue,
            Some(Chunk::Text(piece)) => ("delta", Some(piece)),
            None => ("delta", None),
        };
        if kind == "delta" && thinking.ms.is_none() {
            // The answer begins (or the model ends): the thinking is over.
            thinking.ms = Some(Thought::ms_since(asked));
            if !thinking.written.is_empty() {
                let screened = tokio::select! {
                    biased;
                    () = &mut stop => break Ok(Ending::Stopped),
                    screened = tokio::time::timeout_at(deadline, thinking.screen.finish()) => screened,
                };
                match screened {
                    Err(_) => break Err(too_long(longest)),
                    Ok(Err(err)) => break Err(err),
                    Ok(Ok(Screened::Blocked { label })) => {
                        blocked = Some(label);
                        break Ok(Ending::Blocked);
                    }
                    Ok(Ok(Screened::Show(show))) => {
                        if !show.is_empty() && *listening {
                            let event = event("thinking", &StreamDelta { content: show });
                            if !deliver(sender, event, deadline).await {
                                *listening = false;
                            }
                        }
                    }
                }
            }
        }
        let screen_now = if kind == "thinking" { &mut thinking.screen } else { &mut screen };
        if let Some(piece) = &piece {
            if kind == "thinking" { thinking.written.push_str(piece) } else { written.push_str(piece) }
        }
        // The check may wait on the provider: a stop still ends it, and so does the deadline.
        let screened = tokio::select! {
            biased;
            () = &mut stop => break Ok(Ending::Stopped),
            screened = tokio::time::timeout_at(deadline, async {
                match &piece {
                    Some(piece) => screen_now.piece(piece).await,
                    None => screen_now.finish().await,
                }
            }) => match screened {
                Err(_) => break Err(too_long(longest)),
                Ok(Err(err)) => break Err(err),
                Ok(Ok(screened)) => screened,
            },
        };
        let show = match screened {
            Screened::Show(show) => show,
            Screened::Blocked { label } => {
                blocked = Some(label);
                break Ok(Ending::Blocked);
            }
        };
        if !show.is_empty() && *listening {
            let delta = event(kind, &StreamDelta { content: show });
            // A client slow to read can still be stopped (from another tab, say).
            let delivered = tokio::select! {
                biased;
                () = &mut stop => break Ok(Ending::Stopped),
                delivered = deliver(sender, delta, deadline) => delivered,
            };
            if !delivered {
                *listening = false;
                tracing::info!(%conversation_id, "client gone or not reading; finishing the reply to save it");
            }
        }
        if piece.is_none() {
            break Ok(Ending::Completed);
        }
    };
    drop(rest);
    match ending {
        Ok(Ending::Stopped) => {
            tracing::info!(%conversation_id, chars = screen.shown().chars().count(), "reply stopped by the user")
        }
        Ok(Ending::Blocked) => tracing::warn!(%conversation_id, "reply blocked by moderation; its stream is closed"),
        _ => {}
    }
    // What was shown is what is kept, except for a blocked reply, kept whole for administrators.
    let (text, thought) = if blocked.is_some() {
        (written, thinking.written)
    } else {
        (screen.shown().to_string(), thinking.screen.shown().to_string())
    };
    let ms = thinking.ms.unwrap_or_else(|| Thought::ms_since(asked));
    let thought = Some(Thought { text: thought, ms }).filter(|thought| !thought.text.is_empty());
    Outcome { text, thought, usage, ending, blocked }
}

/// The thinking of a reply as it is relayed.
struct Thinking<'a> {
    screen: Screen<'a>,
    /// Everything the model thought (what a blocked reply keeps).
    written: String,
    /// How long it thought: set when the answer began.
    ms: Option<u32>,
}

/// Saves the reply (complete, or stopped as far as it got) and makes the stream's last event.
/// The saved text is returned for the title.
async fn finish(state: &AppState, prepared: &PreparedTurn, outcome: Outcome) -> (Event, Option<String>) {
    let conversation_id = &prepared.conversation.id;
    let failed = |err: AppError| (error_event(err.in_conversation(conversation_id)), None);
    let ending = match outcome.ending {
        Err(err) => {
            reply::model_failed(state, prepared).await;
            return failed(err);
        }
        Ok(Ending::Completed) if outcome.text.trim().is_empty() => {
            reply::model_failed(state, prepared).await;
            return failed(service::llm_error(LlmError::Empty));
        }
        Ok(ending) => ending,
    };
    let thought = outcome.thought.as_ref();
    match reply::save_reply(state, prepared, &outcome.text, thought, outcome.usage, ending).await {
        Ok(message) => {
            let done = StreamDone {
                conversation_id: conversation_id.clone(),
                message_id: message.id,
                usage: outcome.usage.map(UsageView::from),
                finish_reason: FinishReason::from(ending),
                thinking_ms: thought.filter(|_| ending != Ending::Blocked).map(|thought| thought.ms),
            };
            // A blocked reply gets no title: its words are not to be shown.
            (event("done", &done), (ending != Ending::Blocked).then_some(outcome.text))
        }
        Err(err) => {
            // Nowhere to save it (its conversation was deleted meanwhile): what it cost still counts.
            reply::reply_unsaved(state, prepared, outcome.usage).await;
            failed(err)
        }
    }
}

/// Hands an event to the response body; false when the client is gone, or has stopped reading
/// (the body's buffer stays full) until the reply's deadline: a client that holds the
/// connection open without reading cannot keep the reply, and its slot, going past it.
async fn deliver(sender: &mpsc::Sender<Event>, event: Event, deadline: Instant) -> bool {
    matches!(tokio::time::timeout_at(deadline, sender.send(event)).await, Ok(Ok(())))
}

/// A reply that ran for as long as its slot is leased.
pub(super) fn too_long(longest: Duration) -> AppError {
    AppError::GatewayTimeout {
        code: "reply_too_long",
        message: format!("the reply ran longer than the {} seconds a reply may take", longest.as_secs()),
    }
}

fn error_event(err: AppError) -> Event {
    // Logged like any error response.
    let status = err.status();
    tracing::warn!(%status, code = err.code(), "chat stream ended with an error");
    event("error", &err.body())
}

fn event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default().event(name).data(serde_json::to_string(data).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use sea_orm::{EntityTrait, PaginatorTrait};

    use super::*;
    use crate::{
        chat::stop,
        clock::Clock,
        config::Config,
        entities::{RateLimitHit, ReplyStream},
        rate_limit::{self, Bucket, Limit, Meter},
    };

    /// A task that panics while its reply streams (a bug mid-reply) still frees its slot:
    /// the slot is the registration's row, and dropping the registration during the unwind
    /// forgets it. The slot is counted from that row alone: the charge inserts no hit.
    #[tokio::test]
    async fn a_slot_is_freed_when_its_task_panics() {
        let db = test_support::TestDb::migrated(test_support::Backend::Sqlite).await;
        let env: HashMap<&str, String> =
            [("DATABASE_URL", db.url.clone()), ("JWT_SECRET", "0123456789abcdef0123456789abcdef".to_string())].into();
        let config = Config::from_lookup(|name| env.get(name).cloned()).unwrap();
        let conn = crate::state::connect(&config, false).await.unwrap();
        let state = AppState::with_parts(config, conn, Clock::system());
        let held = || async {
            assert_eq!(RateLimitHit::find().count(state.db.raw()).await.unwrap(), 0, "a slot is not a hit");
            ReplyStream::find().count(state.db.raw()).await.unwrap()
        };
        let take = move |state: AppState| async move {
            let limit = Limit { max: 1, window: Duration::from_secs(60) };
            let meter = Meter { bucket: Bucket::ChatStreams, key: "user-1", limit };
            let (txn, _) = rate_limit::begin_charged(&state.db, &state.clock, &[meter]).await?;
            let registration = stop::register(&txn, &state.db, state.clock.now(), "user-1", "conversation-1").await?;
            txn.commit().await?;
            AppResult::Ok(registration)
        };

        let holder = state.clone();
        let task = tokio::spawn(async move {
            let _taken = take(holder).await.unwrap();
            panic!("a bug while the reply streams");
        });
        assert!(task.await.unwrap_err().is_panic());
        let deadline = Instant::now() + Duration::from_secs(5);
        while held().await > 0 {
            assert!(Instant::now() < deadline, "the registration, and with it the slot, was not given back");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The slot can be taken again at once, and only once.
        let registration = take(state.clone()).await.unwrap();
        assert_eq!(held().await, 1);
        let refused = take(state.clone()).await.err().expect("a second slot of one");
        assert_eq!(refused.code(), "too_many_streams");
        registration.end().await;
        assert_eq!(held().await, 0);
        // A charge that commits by itself would count no slot: it refuses such a meter.
        let limit = Limit { max: 1, window: Duration::from_secs(60) };
        let meter = Meter { bucket: Bucket::ChatStreams, key: "user-1", limit };
        assert_eq!(state.charge(&[meter]).await.err().map(|err| err.code()), Some("internal_error"));
    }
}
