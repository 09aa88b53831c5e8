//! An OpenAI-compatible chat-completions server the tests start on 127.0.0.1, so the app
//! reaches its model over real HTTP with async-openai. It records every request it receives
//! and answers according to the [`Behaviour`] the test sets: one for the chat model, one for
//! the title model ([`UPSTREAM_TITLE_MODEL`]). It also records how each stream it sent ended,
//! so a test can see the app close one (a stop).

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
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
    /// A model that thinks when asked (`enable_thinking: true`), as DashScope's Qwen3: it
    /// streams `thoughts` as `reasoning_content` first, then `pieces`; asked to think without
    /// streaming it answers 400, as DashScope does. Not asked, it answers `pieces` only.
    Thinking { thoughts: Vec<String>, pieces: Vec<String>, delay: Duration },
}

impl Behaviour {
    pub fn reply(text: &str) -> Self {
        Self::Reply { pieces: vec![text.to_string()], delay: Duration::ZERO }
    }

    pub fn pieces(pieces: &[&str], delay: Duration) -> Self {
        Self::Reply { pieces: pieces.iter().map(|piece| piece.to_string()).collect(), delay }
    }

    pub fn thinking(thoughts: &[&str], pieces: &[&str], delay: Duration) -> Self {
        let owned = |texts: &[&str]| texts.iter().map(|text| text.to_string()).collect();
        Self::Thinking { thoughts: owned(thoughts), pieces: owned(pieces), delay }
    }
}

/// What the upstream received.
#[derive(Clone, Debug)]
pub struct Received {
    pub authorization: Option<String>,
    pub body: Value,
    /// When the request arrived (to tell what an app did before it called the model).
    pub at: std::time::Instant,
}

impl Received {
    /// The request's `enable_thinking` (`None`: not sent).
    pub fn enable_thinking(&self) -> Option<bool> {
        self.body["enable_thinking"].as_bool()
    }

    /// `(role, content)` of every message sent to the model (of content parts, the text's).
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .map(|m| (m["role"].as_str().unwrap_or("").to_string(), text_of(&m["content"])))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `image_url` parts of every message sent to the model, in order (empty for most).
    pub fn pictures(&self) -> Vec<Vec<String>> {
        self.body["messages"]
            .as_array()
            .map(|messages| messages.iter().map(|m| pictures_of(&m["content"])).collect())
            .unwrap_or_default()
    }

    /// The model asked for.
    pub fn model(&self) -> &str {
        self.body["model"].as_str().unwrap_or_default()
    }
}

/// A message's text: its content, or the text of its content parts.
pub fn text_of(content: &Value) -> String {
    match content {
        Value::Array(parts) => parts
            .iter()
            .filter(|part| part["type"] == "text")
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        content => content.as_str().unwrap_or_default().to_string(),
    }
}

/// The URLs of a message's `image_url` content parts.
pub fn pictures_of(content: &Value) -> Vec<String> {
    content
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter(|part| part["type"] == "image_url")
                .filter_map(|part| part["image_url"]["url"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// How a streamed answer went, as the upstream saw it.
#[derive(Clone, Debug, Default)]
pub struct StreamLog {
    /// Pieces of text handed to the connection.
    pub pieces_sent: usize,
    /// It ran to its `[DONE]`.
    pub finished: bool,
    /// When the connection was closed under it before it finished (the app stopped reading).
    pub cut_at: Option<Instant>,
}

/// Records the end of a stream when the server drops it: finished, or cut.
struct StreamGuard(Arc<Mutex<StreamLog>>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut log = self.0.lock().unwrap();
        if !log.finished {
            log.cut_at = Some(Instant::now());
        }
    }
}

struct Shared {
    behaviour: Mutex<Option<Behaviour>>,
    title_behaviour: Mutex<Behaviour>,
    tongue_behaviour: Mutex<Behaviour>,
    received: Mutex<Vec<Received>>,
    title_received: Mutex<Vec<Received>>,
    tongue_received: Mutex<Vec<Received>>,
    streams: Mutex<Vec<Arc<Mutex<StreamLog>>>>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            behaviour: Mutex::default(),
            title_behaviour: Mutex::new(Behaviour::reply(TEST_TITLE)),
            tongue_behaviour: Mutex::new(Behaviour::reply(TEST_TONGUE)),
            received: Mutex::default(),
            title_received: Mutex::default(),
            tongue_received: Mutex::default(),
            streams: Mutex::default(),
        }
    }
}

pub struct Upstream {
    /// `http://127.0.0.1:PORT/v1`, the value for `OPENAI_BASE_URL`.
    pub base_url: String,
    shared: Arc<Shared>,
    _server: tokio::task::JoinHandle<()>,
}

pub const UPSTREAM_KEY: &str = "sk-test-upstream-key";
pub const UPSTREAM_MODEL: &str = "test-model";
/// The model the app asks for titles (`CHAT_TITLE_MODEL`).
pub const UPSTREAM_TITLE_MODEL: &str = "test-title-model";
/// What the title model answers unless a test says otherwise.
pub const TEST_TITLE: &str = "A Test Title";
/// The model the app asks to observe tongue photos (`CHAT_TONGUE_MODEL`).
pub const UPSTREAM_TONGUE_MODEL: &str = "test-tongue-model";
/// What the tongue model answers unless a test says otherwise: a pale, swollen tongue with a
/// thin white coating and tooth marks, as a vision model would put it (with words around).
pub const TEST_TONGUE: &str = "{\"usable\": true, \"problem\": null, \"bodyColour\": \"pale\", \"coatingColour\": \"white\", \"coatingThickness\": \"thin\", \"coatingMoisture\": \"moist\", \"shape\": \"swollen\", \"toothMarks\": \"slight\", \"cracks\": \"none\", \"notes\": \"tooth marks along the sides\"}";

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

    /// How the title model answers from now on.
    pub fn set_titles(&self, behaviour: Behaviour) {
        *self.shared.title_behaviour.lock().unwrap() = behaviour;
    }

    /// The requests to the chat model.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The requests to the title model.
    pub fn title_requests(&self) -> Vec<Received> {
        self.shared.title_received.lock().unwrap().clone()
    }

    /// How the tongue model answers from now on.
    pub fn set_tongue(&self, behaviour: Behaviour) {
        *self.shared.tongue_behaviour.lock().unwrap() = behaviour;
    }

    /// The requests to the tongue model.
    pub fn tongue_requests(&self) -> Vec<Received> {
        self.shared.tongue_received.lock().unwrap().clone()
    }

    /// Every stream answered so far, oldest first.
    pub fn streams(&self) -> Vec<StreamLog> {
        self.shared.streams.lock().unwrap().iter().map(|log| log.lock().unwrap().clone()).collect()
    }

    /// The environment that points the app at this upstream.
    pub fn configure(&self, env: &mut HashMap<String, String>) {
        for (name, value) in self.env() {
            env.insert(name.into(), value.into());
        }
    }

    /// The same as variables for a process (`FunctionProcess`, `Stack`).
    pub fn env(&self) -> [(&'static str, &str); 6] {
        [
            ("OPENAI_API_KEY", UPSTREAM_KEY),
            ("OPENAI_BASE_URL", self.base_url.as_str()),
            ("OPENAI_MODEL", UPSTREAM_MODEL),
            ("OPENAI_TIMEOUT", "2s"),
            ("CHAT_TITLE_MODEL", UPSTREAM_TITLE_MODEL),
            ("CHAT_TONGUE_MODEL", UPSTREAM_TONGUE_MODEL),
        ]
    }
}

async fn completions(State(shared): State<Arc<Shared>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let received = Received { authorization, body: body.clone(), at: std::time::Instant::now() };
    let streaming = body["stream"].as_bool().unwrap_or(false);
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let behaviour = if model == UPSTREAM_TITLE_MODEL {
        shared.title_received.lock().unwrap().push(received.clone());
        shared.title_behaviour.lock().unwrap().clone()
    } else if model == UPSTREAM_TONGUE_MODEL {
        shared.tongue_received.lock().unwrap().push(received.clone());
        shared.tongue_behaviour.lock().unwrap().clone()
    } else {
        shared.received.lock().unwrap().push(received.clone());
        shared.behaviour.lock().unwrap().clone().expect("behaviour set")
    };
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
        Behaviour::Reply { pieces, delay } => {
            if !streaming && !delay.is_zero() {
                // A whole answer takes the time its pieces would. (Not even a zero sleep
                // otherwise: a timer costs a millisecond, which `make bench` would measure.)
                tokio::time::sleep(delay * u32::try_from(pieces.len()).unwrap_or(1)).await;
            }
            reply(&shared, Vec::new(), pieces, delay, streaming, model)
        }
        Behaviour::Echo { delay } => reply(&shared, Vec::new(), echo(&received), delay, streaming, model),
        Behaviour::Thinking { thoughts, pieces, delay } => match received.enable_thinking() {
            Some(true) if !streaming => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"message": "thinking is streamed only (stream: true)", "type": "invalid_request_error", "param": "stream", "code": null}})),
            )
                .into_response(),
            Some(true) => reply(&shared, thoughts, pieces, delay, streaming, model),
            _ => reply(&shared, Vec::new(), pieces, delay, streaming, model),
        },
    }
}

/// A successful completion of `pieces` (after `thoughts`, streamed as `reasoning_content`): one
/// JSON answer, or SSE chunks `delay` apart.
fn reply(
    shared: &Shared,
    thoughts: Vec<String>,
    pieces: Vec<String>,
    delay: Duration,
    streaming: bool,
    model: String,
) -> Response {
    if streaming {
        let thinking_tokens = thoughts.len();
        let completion_tokens = pieces.len() + thinking_tokens;
        let log = Arc::new(Mutex::new(StreamLog::default()));
        shared.streams.lock().unwrap().push(log.clone());
        let events = async_stream::stream! {
            let guard = StreamGuard(log);
            for thought in thoughts {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let thinking = json!({
                    "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "reasoning_content": thought}, "finish_reason": null}]
                });
                yield Ok::<_, Infallible>(Bytes::from(format!("data: {thinking}\n\n")));
                guard.0.lock().unwrap().pieces_sent += 1;
            }
            for piece in pieces {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                yield Ok::<_, Infallible>(Bytes::from(format!("data: {}\n\n", chunk(&model, &piece))));
                guard.0.lock().unwrap().pieces_sent += 1;
            }
            let usage = json!({
                "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": completion_tokens, "total_tokens": 11 + completion_tokens,
                    "completion_tokens_details": {"reasoning_tokens": thinking_tokens}}
            });
            yield Ok(Bytes::from(format!("data: {usage}\n\n")));
            guard.0.lock().unwrap().finished = true;
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
    let pictures: usize = request.pictures().iter().map(Vec::len).sum();
    let text = format!(
        "**{assistant}** ({language}) heard: {last}\n\n- history: {} messages\n- pictures: {pictures} (model {})\n- `code` and <script>window.__injected = true</script> stay text",
        messages.len().saturating_sub(1),
        request.model()
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
