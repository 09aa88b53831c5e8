//! Moderation: what a user sends is checked before the model sees it, and what the model writes
//! is checked before the user sees it.
//!
//! The provider is configuration (`MODERATION_PROVIDER`): `off` (nothing is checked; the
//! process says so loudly at start), `aliyun` (Alibaba Cloud Content Moderation 2.0,
//! `TextModerationPlus`: [`aliyun`]) or `openai` (an OpenAI-compatible `/v1/moderations`:
//! [`openai`]). Every call is bounded by `MODERATION_TIMEOUT`; when the provider fails,
//! `MODERATION_FAILURE` decides: `closed` (the default) refuses the turn with 503
//! `moderation_unavailable`, `open` lets the text through and logs it.
//!
//! Where it applies: [`input`] gates a chat turn's user text and pictures (a blocked message is stored,
//! marked, charged and audited, and strikes toward a cool-down); [`output`] checks a streamed
//! reply in segments as it streams; whole replies and titles go through [`Moderator::judge`].

pub mod acs3;
mod aliyun;
pub mod input;
mod openai;
pub mod output;

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures::StreamExt;

use crate::{
    config::{ModerationConfig, ModerationFailure, ModerationProvider},
    error::AppError,
};

/// What is being checked: the user's words, or the model's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Input,
    Output,
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Blocked, with the provider's label for why (for the audit log and administrators).
    Block {
        label: String,
    },
}

impl Verdict {
    pub fn is_blocked(&self) -> bool {
        matches!(self, Self::Block { .. })
    }
}

/// The provider could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    #[error("the moderation provider did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the moderation provider failed: {0}")]
    Provider(String),
}

/// Several pieces of one reply checked in order, so the provider can read each with what came
/// before (`sessionId` for Alibaba; for the OpenAI form, the tail of what passed is sent along).
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    /// What passed so far (its tail is context for the OpenAI form).
    passed: String,
}

impl Session {
    pub fn new() -> Self {
        Self { id: uuid::Uuid::new_v4().simple().to_string(), passed: String::new() }
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

/// How many pieces of one text are checked at once.
const PARALLEL_CHECKS: usize = 4;

enum Backend {
    Aliyun(aliyun::Client),
    OpenAi(openai::Client),
}

/// The configured provider, with its failure policy and counters.
pub struct Moderator {
    backend: Backend,
    failure: ModerationFailure,
    timeout: Duration,
    /// Calls made (each is billed), and calls that failed and were let through (`open`).
    calls: AtomicU64,
    failed_open: AtomicU64,
}

impl Moderator {
    pub fn new(config: &ModerationConfig) -> Self {
        let backend = match &config.provider {
            ModerationProvider::Aliyun(aliyun) => Backend::Aliyun(aliyun::Client::new(aliyun.clone())),
            ModerationProvider::OpenAi(openai) => Backend::OpenAi(openai::Client::new(openai.clone())),
        };
        Self {
            backend,
            failure: config.failure,
            timeout: config.timeout,
            calls: AtomicU64::new(0),
            failed_open: AtomicU64::new(0),
        }
    }

    /// Provider calls made by this instance.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Checks made by this instance that failed and were let through (`MODERATION_FAILURE=open`).
    pub fn failed_open(&self) -> u64 {
        self.failed_open.load(Ordering::Relaxed)
    }

    /// Checks `text` whole (in as many calls as the provider's length limit needs, a few at a
    /// time), applying the failure policy: blocked, passed, or 503 `moderation_unavailable`.
    /// The whole check is bounded by twice `MODERATION_TIMEOUT`, however long the text (a new
    /// conversation may bring 50 messages along).
    pub async fn judge(&self, stage: Stage, text: &str) -> Result<Verdict, AppError> {
        let pieces = pieces(text, self.piece_chars(stage));
        let budget = self.timeout.saturating_mul(2);
        let judged = async {
            // Whole texts need no session: each piece is read on its own.
            let mut checks = futures::stream::iter(pieces)
                .map(|piece| async move { self.call(stage, &mut Session::new(), &piece).await })
                .buffered(PARALLEL_CHECKS);
            while let Some(outcome) = checks.next().await {
                if let blocked @ Verdict::Block { .. } = outcome? {
                    return Ok(blocked);
                }
            }
            Ok(Verdict::Pass)
        };
        let outcome = tokio::time::timeout(budget, judged).await.unwrap_or(Err(ModerationError::Timeout(budget)));
        self.policy(outcome)
    }

    /// Checks the picture at `url` (a link the provider fetches, or a `data:` URL), applying the
    /// failure policy. The provider downloads it first: the check may take three
    /// `MODERATION_TIMEOUT`s.
    pub async fn judge_picture(&self, url: &str) -> Result<Verdict, AppError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let budget = self.timeout.saturating_mul(3);
        let call = async {
            match &self.backend {
                Backend::Aliyun(client) => client.check_image(url).await,
                Backend::OpenAi(client) => client.check_image(url).await,
            }
        };
        let outcome = tokio::time::timeout(budget, call).await.unwrap_or(Err(ModerationError::Timeout(budget)));
        self.policy(outcome)
    }

    /// Checks the next segment of a streamed reply, with what passed before it.
    pub async fn judge_segment(&self, session: &mut Session, segment: &str) -> Result<Verdict, AppError> {
        let limit = self.piece_chars(Stage::Output);
        for piece in pieces(segment, limit) {
            match self.policy(self.call(Stage::Output, session, &piece).await)? {
                Verdict::Pass => session.passed.push_str(&piece),
                blocked => return Ok(blocked),
            }
        }
        Ok(Verdict::Pass)
    }

    /// The most characters one call may carry.
    fn piece_chars(&self, stage: Stage) -> usize {
        match (&self.backend, stage) {
            // Content Moderation's limits: 2,000 characters for `llm_query_moderation`,
            // 5,000 for `llm_response_moderation`.
            (Backend::Aliyun(_), Stage::Input) => 2_000,
            (Backend::Aliyun(_), Stage::Output) => 5_000,
            (Backend::OpenAi(_), _) => 8_000,
        }
    }

    async fn call(&self, stage: Stage, session: &mut Session, piece: &str) -> Result<Verdict, ModerationError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let call = async {
            match &self.backend {
                Backend::Aliyun(client) => client.check(stage, piece, Some(&session.id)).await,
                Backend::OpenAi(client) => {
                    let context = tail(&session.passed, openai::CONTEXT_CHARS);
                    client.check(&format!("{context}{piece}")).await
                }
            }
        };
        tokio::time::timeout(self.timeout, call).await.map_err(|_| ModerationError::Timeout(self.timeout))?
    }

    fn policy(&self, outcome: Result<Verdict, ModerationError>) -> Result<Verdict, AppError> {
        match outcome {
            Ok(verdict) => Ok(verdict),
            Err(err) => match self.failure {
                ModerationFailure::Closed => {
                    tracing::warn!(error = %err, "moderation failed; refusing (MODERATION_FAILURE=closed)");
                    Err(unavailable())
                }
                ModerationFailure::Open => {
                    self.failed_open.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %err, "moderation failed; letting the text through (MODERATION_FAILURE=open)");
                    Ok(Verdict::Pass)
                }
            },
        }
    }
}

/// 503 `moderation_unavailable`.
pub fn unavailable() -> AppError {
    AppError::Unavailable {
        code: "moderation_unavailable",
        message: "the content check is unavailable right now, so nothing was sent; please try again shortly".into(),
    }
}

/// `text` in pieces of at most `limit` characters.
fn pieces(text: &str, limit: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    chars.chunks(limit.max(1)).map(|chunk| chunk.iter().collect()).collect()
}

/// The last `limit` characters of `text`.
fn tail(text: &str, limit: usize) -> &str {
    let count = text.chars().count();
    match text.char_indices().nth(count.saturating_sub(limit)) {
        Some((start, _)) if count > limit => &text[start..],
        _ => text,
    }
}

/// Says at start what moderation does here: loudly when nothing is checked.
pub fn announce(config: Option<&ModerationConfig>) {
    match config {
        None => tracing::warn!(
            "MODERATION_PROVIDER=off: user messages and model replies are NOT checked. Set MODERATION_PROVIDER=aliyun \
             (or openai) before opening the service to the public"
        ),
        Some(config) => tracing::info!(provider = ?config.provider, failure = ?config.failure, "moderation on"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_respect_the_limit_and_keep_every_character() {
        let text = "问".repeat(4_500);
        let parts = pieces(&text, 2_000);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), [2_000, 2_000, 500]);
        assert_eq!(parts.concat(), text);
        assert!(pieces("", 10).is_empty());
    }

    #[test]
    fn tails_are_whole_characters() {
        assert_eq!(tail("你好世界", 2), "世界");
        assert_eq!(tail("abc", 5), "abc");
    }
}
