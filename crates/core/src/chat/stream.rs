//! Streaming replies as Server-Sent Events.
//!
//! Events, in order: `start` (`{conversationId}`), then `delta` (`{content}`) for each piece
//! as the model produces it, then either `done` (`{conversationId, messageId, usage}`) or
//! `error` (the error JSON, with `conversationId`).
//!
//! The model's stream is read by a task of its own, not by the response body: when the client
//! disconnects midway (closed tab, stop button), the task keeps reading and still saves the
//! complete reply. Errors before the first piece arrives are ordinary JSON error responses
//! (502/504), so a client can tell them apart without parsing a stream.

use std::{convert::Infallible, sync::Arc};

use axum::{
    http::{HeaderValue, header::HeaderName},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use super::{
    StreamDelta, StreamDone, StreamStart, UsageView,
    llm::{Chunk, ChunkStream, Llm, LlmError},
    service::{self, Turn},
};
use crate::{
    entities::user,
    error::{AppError, AppResult},
    rate_limit::{self, Bucket, Limit},
    state::AppState,
};

pub async fn respond(state: AppState, llm: Arc<Llm>, user: &user::Model, turn: Turn) -> AppResult<Response> {
    let lease = match state.config.chat_max_concurrent_streams {
        0 => None,
        max => Some(
            rate_limit::acquire(
                &state.db,
                &state.clock,
                Bucket::ChatStreams,
                &user.id,
                Limit { max, window: service::stream_lease(&state) },
                "too many replies are streaming for this account at once; wait for one to finish",
            )
            .await?,
        ),
    };
    match start(&state, &llm, user, turn).await {
        Ok((conversation_id, first, rest)) => {
            let (sender, receiver) = mpsc::channel(32);
            let opening = event("start", &StreamStart { conversation_id: conversation_id.clone() });
            let relay = relay(state, lease, conversation_id, first, rest, sender);
            tokio::spawn(relay.instrument(tracing::Span::current()));
            let events = futures::stream::once(async { opening }).chain(ReceiverStream::new(receiver));
            let mut response =
                Sse::new(events.map(Ok::<_, Infallible>)).keep_alive(KeepAlive::default()).into_response();
            // Ask proxies not to buffer the stream.
            response.headers_mut().insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
            Ok(response)
        }
        Err(err) => {
            release(&state, lease).await;
            Err(err)
        }
    }
}

/// Saves the user's message and waits for the model's first piece.
async fn start(state: &AppState, llm: &Llm, user: &user::Model, turn: Turn) -> AppResult<(String, Chunk, ChunkStream)> {
    let prepared = service::prepare(state, user, turn).await?;
    let conversation_id = prepared.conversation.id;
    let failed = |err: LlmError| service::llm_error(err).in_conversation(&conversation_id);
    let mut chunks = llm.stream(&prepared.prompt).await.map_err(failed)?;
    let first = match chunks.next().await {
        Some(Ok(chunk)) => chunk,
        Some(Err(err)) => return Err(failed(err)),
        None => return Err(failed(LlmError::Empty)),
    };
    Ok((conversation_id, first, chunks))
}

/// Forwards the model's pieces to the client while it listens, then saves the reply.
async fn relay(
    state: AppState,
    lease: Option<i64>,
    conversation_id: String,
    first: Chunk,
    mut rest: ChunkStream,
    sender: mpsc::Sender<Event>,
) {
    let mut text = String::new();
    let mut usage = None;
    let mut listening = true;
    let mut pending = Some(first);
    let outcome = loop {
        let chunk = match pending.take() {
            Some(chunk) => chunk,
            None => match rest.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(err)) => break Err(err),
                None => break Ok(()),
            },
        };
        match chunk {
            Chunk::Text(piece) => {
                text.push_str(&piece);
                let delta = event("delta", &StreamDelta { content: piece });
                if listening && sender.send(delta).await.is_err() {
                    listening = false;
                    tracing::info!(%conversation_id, "client disconnected; finishing the reply to save it");
                }
            }
            Chunk::Usage(reported) => usage = Some(reported),
        }
    };

    let last = match outcome {
        Err(err) => error_event(service::llm_error(err).in_conversation(&conversation_id)),
        Ok(()) if text.trim().is_empty() => {
            error_event(service::llm_error(LlmError::Empty).in_conversation(&conversation_id))
        }
        Ok(()) => match service::save_reply(&state, &conversation_id, &text, usage).await {
            Ok(message) => event(
                "done",
                &StreamDone { conversation_id, message_id: message.id, usage: usage.map(UsageView::from) },
            ),
            Err(err) => error_event(err.in_conversation(&conversation_id)),
        },
    };
    if listening {
        let _ = sender.send(last).await;
    }
    release(&state, lease).await;
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

async fn release(state: &AppState, lease: Option<i64>) {
    if let Some(lease) = lease
        && let Err(err) = rate_limit::release(&state.db, lease).await
    {
        tracing::warn!(error = %err, "could not release a stream slot; it expires on its own");
    }
}
