//! The model: any OpenAI-compatible chat-completions endpoint (OpenAI, Alibaba DashScope's
//! compatible mode, …), reached over HTTP with async-openai.
//!
//! A call that fails with 429, a 5xx or a broken connection is sent again at most
//! `OPENAI_MAX_RETRIES` times (default 1), with async-openai's backoff (its `Retry-After`, or
//! 100 ms doubling); every attempt is logged with the request's id ([`LoggedAttempts`]), since
//! the provider bills each one it serves. (async-openai's own default is 3 retries, silently.)
//! This module adds the overall timeout and turns failures into [`LlmError`], which the
//! handlers map to 502 (upstream error) and 504 (timeout).
//!
//! **Thinking.** A reply to be thought through goes to the thinking model with
//! `enable_thinking: true` (and `thinking_budget`), the fields DashScope's compatible mode
//! reads (vLLM and SGLang read the same), and its thinking arrives before the answer as
//! `reasoning_content` in the stream's deltas (DashScope, DeepSeek, vLLM). async-openai's types
//! have neither, so streams are sent and read with its bring-your-own-types calls and the
//! small types below; a thought-through reply is always streamed (DashScope streams thinking
//! only), and collected when the caller wants it whole.

use std::{
    pin::Pin,
    sync::OnceLock,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use async_openai::{
    Client,
    config::OpenAIConfig,
    error::OpenAIError,
    middleware::{HttpRequestFactory, ReqwestService, retry::OpenAIRetryLayer},
    types::chat::{
        ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
        ChatCompletionRequestMessageContentPartImage, ChatCompletionRequestMessageContentPartText,
        ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, ChatCompletionRequestUserMessageContent,
        ChatCompletionRequestUserMessageContentPart, ChatCompletionStreamOptions, CompletionUsage,
        CreateChatCompletionRequest, CreateChatCompletionResponse, ImageUrl,
    },
};
use futures::{Stream, StreamExt};

use serde::{Deserialize, Serialize};

use crate::{
    config::{LlmConfig, ThinkingConfig, ThinkingMode},
    entities::MessageRole,
};

/// The longest answer of the tongue model: a JSON object of observations.
const OBSERVATION_TOKENS: u32 = 400;

/// What the model is asked: a system prompt, then the conversation in order.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub system: String,
    pub turns: Vec<(MessageRole, String)>,
    /// Pictures shown with user turns: the turn's index, and the pictures' URLs (signed links,
    /// or `data:` URLs). A prompt with pictures goes to the vision model.
    pub pictures: Vec<(usize, Vec<String>)>,
}

impl Prompt {
    /// A prompt without pictures.
    pub fn text(system: String, turns: Vec<(MessageRole, String)>) -> Self {
        Self { system, turns, pictures: Vec::new() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    /// Every token written, the thinking's included.
    pub completion_tokens: u32,
    /// Of those, the thinking's (`completion_tokens_details.reasoning_tokens`; 0 when the
    /// provider does not say).
    pub thinking_tokens: u32,
}

impl From<CompletionUsage> for Usage {
    fn from(usage: CompletionUsage) -> Self {
        let thinking = usage.completion_tokens_details.and_then(|details| details.reasoning_tokens);
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            thinking_tokens: thinking.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    /// What the model thought before it answered (a thought-through reply).
    pub thought: Option<Thought>,
    pub usage: Option<Usage>,
}

/// What the model thought before a reply, and for how long.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thought {
    pub text: String,
    /// From the request to the answer's first piece (or to the end, if it never answered).
    pub ms: u32,
}

impl Thought {
    /// Milliseconds since `started`, as a thought's duration.
    pub fn ms_since(started: Instant) -> u32 {
        u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX)
    }
}

/// One piece of a streamed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// A piece of the model's thinking (before the answer).
    Thinking(String),
    Text(String),
    Usage(Usage),
}

pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Chunk, LlmError>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the model endpoint failed: {0}")]
    Upstream(String),
    #[error("the model's stream broke off: {0}")]
    Stream(String),
    #[error("the model returned an empty reply")]
    Empty,
}

pub struct Llm {
    /// Built on first use: creating the HTTP client loads the system's TLS roots (several ms),
    /// which functions that never chat should not pay at start. FC's `/initialize` hook warms
    /// it ([`Llm::warm_up`]). An error (kept) means no request can be made.
    client: OnceLock<Result<Client<OpenAIConfig>, String>>,
    openai: OpenAIConfig,
    model: String,
    /// The model for prompts with pictures (`CHAT_VISION_MODEL`).
    vision_model: Option<String>,
    /// The model that observes tongue photos (`CHAT_TONGUE_MODEL`).
    tongue_model: Option<String>,
    max_tokens: u32,
    timeout: Duration,
    title_model: Option<String>,
    max_retries: usize,
    thinking: ThinkingConfig,
}

/// A request: async-openai's, with the thinking fields it does not have.
#[derive(Serialize)]
struct SwitchedRequest {
    #[serde(flatten)]
    base: CreateChatCompletionRequest,
    /// Sent only when thinking is configured: `true` to think, `false` so that a hybrid model
    /// (open Qwen3 thinks by default) does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    enable_thinking: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_budget: Option<u32>,
}

/// A streamed chunk, as far as it is read here.
#[derive(Deserialize)]
struct StreamChunk {
    #[serde(default)]
    choices: Vec<StreamChoice>,
    usage: Option<CompletionUsage>,
}

#[derive(Deserialize)]
struct StreamChoice {
    #[serde(default)]
    delta: StreamDelta,
}

#[derive(Deserialize, Default)]
struct StreamDelta {
    content: Option<String>,
    reasoning_content: Option<String>,
}

/// A user turn: its text, or its pictures and then its text as content parts.
fn user_message(text: &str, pictures: Option<&Vec<String>>) -> ChatCompletionRequestUserMessage {
    let Some(urls) = pictures.filter(|urls| !urls.is_empty()) else {
        return ChatCompletionRequestUserMessage::from(text);
    };
    let mut parts: Vec<ChatCompletionRequestUserMessageContentPart> = urls
        .iter()
        .map(|url| {
            ChatCompletionRequestUserMessageContentPart::ImageUrl(ChatCompletionRequestMessageContentPartImage {
                image_url: ImageUrl { url: url.clone(), detail: None },
                prompt_cache_breakpoint: None,
            })
        })
        .collect();
    parts.push(ChatCompletionRequestUserMessageContentPart::Text(ChatCompletionRequestMessageContentPartText {
        text: text.to_string(),
        prompt_cache_breakpoint: None,
    }));
    ChatCompletionRequestUserMessage { content: ChatCompletionRequestUserMessageContent::Array(parts), name: None }
}

impl Llm {
    pub fn new(config: &LlmConfig) -> Self {
        Self {
            client: OnceLock::new(),
            openai: OpenAIConfig::new().with_api_key(config.api_key.clone()).with_api_base(config.base_url.clone()),
            model: config.model.clone(),
            vision_model: config.vision_model.clone(),
            tongue_model: config.tongue_model.clone(),
            max_tokens: config.max_tokens,
            timeout: config.timeout,
            title_model: config.title_model.clone(),
            max_retries: config.max_retries,
            thinking: config.thinking.clone(),
        }
    }

    /// The HTTP client ([`crate::outbound::https_client`]) with retries and their log.
    fn client(&self) -> Result<&Client<OpenAIConfig>, LlmError> {
        self.client
            .get_or_init(|| {
                let max_retries = self.max_retries;
                crate::outbound::https_client()
                    .map(|http| {
                        let service = tower::ServiceBuilder::new()
                            .layer(OpenAIRetryLayer::new(max_retries))
                            .layer_fn(move |inner| LoggedAttempts { inner, attempt: 0, of: max_retries + 1 })
                            .service(ReqwestService::new(http.clone()));
                        Client::build(http, self.openai.clone()).with_http_service(service)
                    })
                    .map_err(|err| {
                        tracing::error!(error = %err, "cannot build the model's HTTP client");
                        err.to_string()
                    })
            })
            .as_ref()
            .map_err(|err| LlmError::Upstream(format!("no HTTP client: {err}")))
    }

    /// Builds the HTTP client now rather than on the first chat.
    pub fn warm_up(&self) {
        let _ = self.client();
    }

    fn request(&self, prompt: &Prompt, stream: bool) -> CreateChatCompletionRequest {
        self.request_of(self.model_for(prompt, false), self.max_tokens, prompt, stream)
    }

    /// Who answers `prompt`: the vision model when it shows pictures, else the thinking model
    /// when the reply is thought through (`think`), else the chat model. (A vision model is
    /// asked to think by the same switch; Qwen3-VL takes it.)
    fn model_for(&self, prompt: &Prompt, think: bool) -> &str {
        match (&self.vision_model, prompt.pictures.is_empty()) {
            (Some(vision), false) => vision,
            _ if think => &self.thinking.model,
            _ => &self.model,
        }
    }

    #[allow(deprecated)] // `max_tokens`: what OpenAI-compatible providers (DashScope…) understand.
    fn request_of(&self, model: &str, max_tokens: u32, prompt: &Prompt, stream: bool) -> CreateChatCompletionRequest {
        let mut messages = Vec::with_capacity(prompt.turns.len() + 1);
        messages.push(ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(
            prompt.system.as_str(),
        )));
        for (at, (role, content)) in prompt.turns.iter().enumerate() {
            let pictures = prompt.pictures.iter().find(|(turn, _)| *turn == at).map(|(_, urls)| urls);
            messages.push(match role {
                MessageRole::User => ChatCompletionRequestMessage::User(user_message(content, pictures)),
                MessageRole::Assistant => ChatCompletionRequestMessage::Assistant(
                    ChatCompletionRequestAssistantMessage::from(content.as_str()),
                ),
            });
        }
        CreateChatCompletionRequest {
            model: model.to_string(),
            messages,
            max_tokens: Some(max_tokens),
            stream: stream.then_some(true),
            stream_options: stream
                .then(|| ChatCompletionStreamOptions { include_usage: Some(true), ..Default::default() }),
            ..Default::default()
        }
    }

    /// The whole reply at once; a reply to be thought through (`think`) is streamed and
    /// collected, its thinking apart.
    pub async fn complete(&self, prompt: &Prompt, think: bool) -> Result<Completion, LlmError> {
        if !think {
            return self.complete_request(self.request(prompt, false)).await;
        }
        let started = Instant::now();
        let mut chunks = self.stream(prompt, true).await?;
        let (mut text, mut thought, mut usage) = (String::new(), Thought::default(), None);
        while let Some(chunk) = chunks.next().await {
            match chunk? {
                Chunk::Thinking(piece) => thought.text.push_str(&piece),
                Chunk::Text(piece) => {
                    if text.is_empty() {
                        thought.ms = Thought::ms_since(started);
                    }
                    text.push_str(&piece);
                }
                Chunk::Usage(reported) => usage = Some(reported),
            }
        }
        if text.trim().is_empty() {
            return Err(LlmError::Empty);
        }
        Ok(Completion { text, thought: Some(thought).filter(|thought| !thought.text.is_empty()), usage })
    }

    /// Whether titles are written by a model (`CHAT_TITLE_MODEL` is not `off`).
    pub fn writes_titles(&self) -> bool {
        self.title_model.is_some()
    }

    /// A short completion by the title model (`None` when titles are off).
    pub async fn complete_title(&self, prompt: &Prompt, max_tokens: u32) -> Option<Result<Completion, LlmError>> {
        let model = self.title_model.as_deref()?;
        Some(self.complete_request(self.request_of(model, max_tokens, prompt, false)).await)
    }

    /// What the tongue model observes in `prompt`'s picture, whole (`None` without one).
    pub async fn observe(&self, prompt: &Prompt) -> Option<Result<Completion, LlmError>> {
        let model = self.tongue_model.as_deref()?;
        Some(self.complete_request(self.request_of(model, OBSERVATION_TOKENS, prompt, false)).await)
    }

    /// A request answered whole, never thought through: where thinking is configured the model
    /// is told so (a hybrid model may think by default, and DashScope streams thinking only).
    async fn complete_request(&self, request: CreateChatCompletionRequest) -> Result<Completion, LlmError> {
        let configured = self.thinking.mode != ThinkingMode::Off;
        let request =
            SwitchedRequest { base: request, enable_thinking: configured.then_some(false), thinking_budget: None };
        let chat = self.client()?.chat();
        let answer = chat.create_byot::<_, CreateChatCompletionResponse>(request);
        let response = tokio::time::timeout(self.timeout, answer)
            .await
            .map_err(|_| LlmError::Timeout(self.timeout))?
            .map_err(|err| from_openai(err, self.timeout))?;
        let text = response
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .filter(|text| !text.trim().is_empty())
            .ok_or(LlmError::Empty)?;
        Ok(Completion { text, thought: None, usage: response.usage.map(Usage::from) })
    }

    /// The reply as it is generated, thought through first when `think` (and thinking is
    /// configured). Each next piece must arrive within the timeout.
    pub async fn stream(&self, prompt: &Prompt, think: bool) -> Result<ChunkStream, LlmError> {
        let configured = self.thinking.mode != ThinkingMode::Off;
        let think = think && configured;
        let model = self.model_for(prompt, think);
        let request = SwitchedRequest {
            base: self.request_of(model, self.max_tokens, prompt, true),
            enable_thinking: configured.then_some(think),
            thinking_budget: self.thinking.budget.filter(|_| think),
        };
        let timeout = self.timeout;
        let chat = self.client()?.chat();
        let upstream = tokio::time::timeout(timeout, chat.create_stream_byot::<_, StreamChunk>(request))
            .await
            .map_err(|_| LlmError::Timeout(timeout))?
            .map_err(|err| from_openai(err, timeout))?;
        let chunks = futures::stream::unfold(Some(upstream), move |state| async move {
            let mut upstream = state?;
            match tokio::time::timeout(timeout, upstream.next()).await {
                Err(_) => Some((vec![Err(LlmError::Timeout(timeout))], None)),
                Ok(None) => None,
                Ok(Some(Err(err))) => Some((vec![Err(from_openai(err, timeout))], None)),
                Ok(Some(Ok(response))) => {
                    let mut pieces = Vec::new();
                    for choice in response.choices {
                        let StreamDelta { content, reasoning_content } = choice.delta;
                        if let Some(thought) = reasoning_content.filter(|thought| !thought.is_empty()) {
                            pieces.push(Ok(Chunk::Thinking(thought)));
                        }
                        if let Some(text) = content.filter(|text| !text.is_empty()) {
                            pieces.push(Ok(Chunk::Text(text)));
                        }
                    }
                    if let Some(usage) = response.usage {
                        pieces.push(Ok(Chunk::Usage(usage.into())));
                    }
                    Some((pieces, Some(upstream)))
                }
            }
        })
        .flat_map(futures::stream::iter);
        Ok(Box::pin(chunks))
    }
}

/// Logs each attempt of a call to the model (its number, the status or error, how long it
/// took), in the span of the request that made it, so the log shows its request id. It sits
/// under the retry layer, which keeps one instance for all the attempts of one call (and a
/// fresh clone, `attempt: 0`, for the next call).
#[derive(Clone)]
struct LoggedAttempts<S> {
    inner: S,
    attempt: usize,
    of: usize,
}

impl<S> tower::Service<HttpRequestFactory> for LoggedAttempts<S>
where
    S: tower::Service<HttpRequestFactory, Response = reqwest::Response, Error = OpenAIError>,
    S::Future: Send + 'static,
{
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        self.attempt += 1;
        let (attempt, of) = (self.attempt, self.of);
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            let ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(answer) if answer.status().is_success() => {
                    tracing::info!(attempt, of, status = answer.status().as_u16(), ms, "model call")
                }
                Ok(answer) => tracing::warn!(attempt, of, status = answer.status().as_u16(), ms, "model call failed"),
                Err(err) => tracing::warn!(attempt, of, error = %err, ms, "model call failed"),
            }
            result
        })
    }
}

fn from_openai(err: OpenAIError, timeout: Duration) -> LlmError {
    match err {
        OpenAIError::Reqwest(err) if err.is_timeout() => LlmError::Timeout(timeout),
        OpenAIError::StreamError(err) => LlmError::Stream(err.to_string()),
        OpenAIError::JSONDeserialize(err, _) => LlmError::Upstream(format!("unreadable response: {err}")),
        other => LlmError::Upstream(other.to_string()),
    }
}
