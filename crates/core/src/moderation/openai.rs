//! An OpenAI-compatible moderation endpoint (`POST {base}/moderations`), through async-openai.
//!
//! Its own types are not used: they require every category OpenAI's newest model reports, which
//! compatible servers (and OpenAI's older models) do not all send. The request and the parts
//! of the answer read here are typed below instead (async-openai's bring-your-own-types).

use std::{collections::BTreeMap, sync::OnceLock};

use async_openai::{Client as OpenAiClient, config::OpenAIConfig};
use serde::{Deserialize, Serialize};

use super::{ModerationError, Verdict};
use crate::config::OpenAiModeration;

/// How much of what passed before goes along with a reply's next segment: the endpoint has no
/// session, so context travels with the text.
pub const CONTEXT_CHARS: usize = 600;

pub struct Client {
    config: OpenAiModeration,
    client: OnceLock<Result<OpenAiClient<OpenAIConfig>, String>>,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: Input<'a>,
}

/// Text, or content parts (a picture: `omni-moderation` reads links and `data:` URLs).
#[derive(Serialize)]
#[serde(untagged)]
enum Input<'a> {
    Text(&'a str),
    Parts(Vec<serde_json::Value>),
}

#[derive(Deserialize)]
struct Answer {
    results: Vec<Outcome>,
}

#[derive(Deserialize)]
struct Outcome {
    flagged: bool,
    #[serde(default)]
    categories: BTreeMap<String, Option<bool>>,
}

impl Client {
    pub fn new(config: OpenAiModeration) -> Self {
        Self { config, client: OnceLock::new() }
    }

    pub async fn check(&self, input: &str) -> Result<Verdict, ModerationError> {
        self.send(Input::Text(input)).await
    }

    /// Checks the picture at `url`.
    pub async fn check_image(&self, url: &str) -> Result<Verdict, ModerationError> {
        self.send(Input::Parts(vec![serde_json::json!({"type": "image_url", "image_url": {"url": url}})])).await
    }

    async fn send(&self, input: Input<'_>) -> Result<Verdict, ModerationError> {
        let client = self.client()?;
        let request = Request { model: &self.config.model, input };
        let answer: Answer =
            client.moderations().create_byot(request).await.map_err(|err| ModerationError::Provider(describe(&err)))?;
        let flagged = answer.results.iter().find(|outcome| outcome.flagged);
        Ok(match flagged {
            None => Verdict::Pass,
            Some(outcome) => {
                let label = outcome
                    .categories
                    .iter()
                    .find(|(_, on)| on.unwrap_or(false))
                    .map_or("flagged", |(name, _)| name.as_str());
                Verdict::Block { label: label.to_string() }
            }
        })
    }

    fn client(&self) -> Result<&OpenAiClient<OpenAIConfig>, ModerationError> {
        self.client
            .get_or_init(|| {
                let config = OpenAIConfig::new()
                    .with_api_key(self.config.api_key.clone())
                    .with_api_base(self.config.base_url.clone());
                crate::outbound::https_client()
                    .map(|http| OpenAiClient::build(http, config))
                    .map_err(|err| err.to_string())
            })
            .as_ref()
            .map_err(|err| ModerationError::Provider(format!("no HTTP client: {err}")))
    }
}

/// What went wrong, without the bodies async-openai's messages quote (an echo of the input
/// would put the user's words in the log).
fn describe(err: &async_openai::error::OpenAIError) -> String {
    use async_openai::error::OpenAIError;
    match err {
        OpenAIError::Reqwest(err) => {
            format!("HTTP: {}", err.status().map_or("no answer".to_string(), |status| status.to_string()))
        }
        OpenAIError::ApiError(api) => format!("API error {:?}/{:?}", api.api_error.r#type, api.api_error.code),
        OpenAIError::JSONDeserialize(..) => "an answer that is not moderation JSON".into(),
        _ => "request failed".into(),
    }
}
