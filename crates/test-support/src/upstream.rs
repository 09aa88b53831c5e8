//! An OpenAI-compatible chat-completions server the tests start on 127.0.0.1, so the app
//! reaches its model over real HTTP with async-openai. It records every request it receives
//! and answers according to the [`Behaviour`] the test sets.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

/// How the upstream answers the next requests.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer with `pieces` joined (or, when streaming, one SSE chunk per piece, `delay` apart).
    Reply { pieces: Vec<String>, delay: Duration },
    /// An OpenAI-style error with this status.
    Status(u16),
    /// Accept the request and never answer.
    Hang,
    /// A 200 event stream whose data is not JSON.
    MalformedStream,
    /// Stream the first piece, then drop the connection without finishing.
    BrokenStream,
    /// Describe the request back, word by word `delay` apart, in Markdown (which assistant and
    /// language the system prompt was for, and the last user message), for end-to-end tests.
    Echo { delay: Duration },
}

impl Behaviour {
    pub fn reply(text: &str) -> Self {
        Self::Reply { pieces: vec![text.to_string()], delay: Duration::ZERO }
    }

    pub fn pieces(pieces: &[&str], delay: Duration) -> Self {
        Self::Reply { pieces: pieces.iter().map(|piece| piece.to_string()).collect(), delay }
    }
}

/// What the upstream received.
#[derive(Clone, Debug)]
pub struct Received {
    pub authorization: Option<String>,
    pub body: Value,
}

impl Received {
    /// `(role, content)` of every message sent to the model.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .map(|m| {
                        (m["role"].as_str().unwrap_or("").to_string(), m["content"].as_str().unwrap_or("").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    behaviour: Mutex<Option<Behaviour>>,
    received: Mutex<Vec<Received>>,
}

pub struct Upstream {
    /// `http://127.0.0.1:PORT/v1`, the value for `OPENAI_BASE_URL`.
    pub base_url: String,
    shared: Arc<Shared>,
    _server: tokio::task::JoinHandle<()>,
}

pub const UPSTREAM_KEY: &str = "sk-test-upstream-key";
pub const UPSTREAM_MODEL: &str = "test-model";

impl Upstream {
    pub async fn start(behaviour: Behaviour) -> Self {
        Self::start_on(0, behaviour).await
    }

    /// Like [`Upstream::start`], on a given port of 127.0.0.1 (0: any free port).
    pub async fn start_on(port: u16, behaviour: Behaviour) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.behaviour.lock().unwrap() = Some(behaviour);
        let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind the test upstream");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base_url: format!("http://{address}/v1"), shared, _server: server }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = Some(behaviour);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The environment that points the app at this upstream.
    pub fn configure(&self, env: &mut HashMap<String, String>) {
        for (name, value) in self.env() {
            env.insert(name.into(), value.into());
        }
    }

    /// The same as variables for a process (`FunctionProcess`, `Stack`).
    pub fn env(&self) -> [(&'static str, &str); 4] {
        [
            ("OPENAI_API_KEY", UPSTREAM_KEY),
            ("OPENAI_BASE_URL", self.base_url.as_str()),
            ("OPENAI_MODEL", UPSTREAM_MODEL),
            ("OPENAI_TIMEOUT", "2s"),
        ]
    }
}

async fn completions(State(shared): State<Arc<Shared>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let received = Received { authorization, body: body.clone() };
    shared.received.lock().unwrap().push(received.clone());
    let behaviour = shared.behaviour.lock().unwrap().clone().expect("behaviour set");
    let streaming = body["stream"].as_bool().unwrap_or(false);
    let model = body["model"].as_str().unwrap_or_default().to_string();
    match behaviour {
        Behaviour::Status(status) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(json!({"error": {"message": "upstream failure for the test", "type": "server_error", "param": null, "code": null}})),
        )
            .into_response(),
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Behaviour::MalformedStream => sse(futures::stream::iter([Ok::<_, Infallible>(Bytes::from("data: {not json\n\n"))])),
        Behaviour::BrokenStream => {
            let first = Bytes::from(format!("data: {}\n\n", chunk(&model, "partial ")));
            let events = async_stream::stream! {
                yield Ok(first);
                // Let the first piece reach the client before the connection drops.
                tokio::time::sleep(Duration::from_millis(200)).await;
                yield Err(std::io::Error::other("connection dropped"));
            };
            sse(events)
        }
        Behaviour::Reply { pieces, delay } => reply(pieces, delay, streaming, model),
        Behaviour::Echo { delay } => reply(echo(&received), delay, streaming, model),
    }
}

/// A successful completion of `pieces`: one JSON answer, or SSE chunks `delay` apart.
fn reply(pieces: Vec<String>, delay: Duration, streaming: bool, model: String) -> Response {
    if streaming {
        let completion_tokens = pieces.len();
        let events = async_stream::stream! {
            for piece in pieces {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                yield Ok::<_, Infallible>(Bytes::from(format!("data: {}\n\n", chunk(&model, &piece))));
            }
            let usage = json!({
                "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": completion_tokens, "total_tokens": 11 + completion_tokens}
            });
            yield Ok(Bytes::from(format!("data: {usage}\n\n")));
            yield Ok(Bytes::from("data: [DONE]\n\n"));
        };
        return sse(events);
    }
    Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": pieces.concat()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": pieces.len(), "total_tokens": 11 + pieces.len()}
    }))
    .into_response()
}

/// The reply of [`Behaviour::Echo`], split into pieces that keep their spacing.
fn echo(request: &Received) -> Vec<String> {
    let messages = request.messages();
    let system = messages.first().map(|(_, content)| content.as_str()).unwrap_or_default();
    let assistant = if system.contains("I Ching") || system.contains("易经") { "oracle" } else { "tcm" };
    let language = if system.contains("简体中文") { "zh" } else { "en" };
    let last = messages.iter().rev().find(|(role, _)| role == "user").map(|(_, c)| c.as_str()).unwrap_or_default();
    let text = format!(
        "**{assistant}** ({language}) heard: {last}\n\n- history: {} messages\n- `code` and <script>window.__injected = true</script> stay text",
        messages.len().saturating_sub(1)
    );
    text.split_inclusive(' ').map(str::to_string).collect()
}

fn chunk(model: &str, piece: &str) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": null}]
    })
}

fn sse<S, E>(events: S) -> Response
where
    S: futures::Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(events))
        .expect("response")
}
