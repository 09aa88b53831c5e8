//! The moderation settings of [`Config`](super::Config): which provider checks what goes to the
//! model and what comes back (`MODERATION_PROVIDER`: `off`, `aliyun`, `openai`), what happens
//! when it cannot answer (`MODERATION_FAILURE`), how long it may take, and how many blocked
//! messages put an account in a cool-down (`MODERATION_STRIKES`).

use std::time::Duration;

use super::{ConfigError, Env};
use crate::{moderation::acs3::Credentials, rate_limit::Limit};

/// Moderation is on: every message and reply is checked.
#[derive(Clone, Debug)]
pub struct ModerationConfig {
    pub provider: Provider,
    pub failure: Failure,
    /// The longest one check may take (`MODERATION_TIMEOUT`, default 3 s).
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub enum Provider {
    Aliyun(AliyunModeration),
    OpenAi(OpenAiModeration),
}

/// Alibaba Cloud Content Moderation 2.0, `TextModerationPlus` (API version 2022-03-02).
#[derive(Clone, Debug)]
pub struct AliyunModeration {
    /// `MODERATION_ALIYUN_ENDPOINT`, default `https://green-cip.cn-shanghai.aliyuncs.com`.
    pub endpoint: String,
    /// The service for user input (`MODERATION_ALIYUN_INPUT_SERVICE`, default `llm_query_moderation`).
    pub input_service: String,
    /// The service for model output (`MODERATION_ALIYUN_OUTPUT_SERVICE`, default `llm_response_moderation`).
    pub output_service: String,
    /// The service for pictures (`MODERATION_ALIYUN_IMAGE_SERVICE`, default `baselineCheck`; for
    /// the international sites `baselineCheck_global`).
    pub image_service: String,
    /// The lowest `RiskLevel` that blocks (`MODERATION_ALIYUN_BLOCK_AT`, default `high`).
    pub block_at: RiskLevel,
    pub credentials: Credentials,
}

/// Content Moderation's risk levels, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskLevel {
    None,
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }
}

/// An OpenAI-compatible `POST {base}/moderations`.
#[derive(Clone)]
pub struct OpenAiModeration {
    /// `MODERATION_OPENAI_BASE_URL`, default `OPENAI_BASE_URL`.
    pub base_url: String,
    /// `MODERATION_OPENAI_API_KEY`, default `OPENAI_API_KEY`.
    pub api_key: String,
    /// `MODERATION_OPENAI_MODEL`, default `omni-moderation-latest`.
    pub model: String,
}

impl std::fmt::Debug for OpenAiModeration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiModeration").field("base_url", &self.base_url).field("model", &self.model).finish()
    }
}

/// `MODERATION_FAILURE`: what a turn does when the provider fails or is late.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 503 `moderation_unavailable`: nothing goes to the model, nothing unchecked is shown.
    Closed,
    /// Logged and counted; the text passes unchecked.
    Open,
}

pub const DEFAULT_ALIYUN_ENDPOINT: &str = "https://green-cip.cn-shanghai.aliyuncs.com";

pub(super) fn read(env: &Env<'_, impl Fn(&str) -> Option<String>>) -> Result<Option<ModerationConfig>, ConfigError> {
    let provider = match env.get("MODERATION_PROVIDER").map(|raw| raw.to_ascii_lowercase()).as_deref() {
        None | Some("off") => return Ok(None),
        Some("aliyun") => Provider::Aliyun(aliyun(env)?),
        Some("openai") => Provider::OpenAi(openai(env)?),
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "MODERATION_PROVIDER",
                reason: format!("{other:?}: expected off, aliyun or openai"),
            });
        }
    };
    let failure = match env.get("MODERATION_FAILURE").map(|raw| raw.to_ascii_lowercase()).as_deref() {
        None | Some("closed") => Failure::Closed,
        Some("open") => Failure::Open,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "MODERATION_FAILURE",
                reason: format!("{other:?}: expected closed or open"),
            });
        }
    };
    let timeout = env.duration("MODERATION_TIMEOUT", Duration::from_secs(3))?;
    if timeout > Duration::from_secs(60) {
        return Err(ConfigError::Invalid { name: "MODERATION_TIMEOUT", reason: "must be at most 60 seconds".into() });
    }
    Ok(Some(ModerationConfig { provider, failure, timeout }))
}

fn aliyun(env: &Env<'_, impl Fn(&str) -> Option<String>>) -> Result<AliyunModeration, ConfigError> {
    let endpoint = env
        .origin("MODERATION_ALIYUN_ENDPOINT", DEFAULT_ALIYUN_ENDPOINT)?
        .unwrap_or_else(|| DEFAULT_ALIYUN_ENDPOINT.to_string());
    let block_at = match env.get("MODERATION_ALIYUN_BLOCK_AT") {
        None => RiskLevel::High,
        Some(raw) => match RiskLevel::parse(&raw) {
            Some(RiskLevel::None) | None => {
                return Err(ConfigError::Invalid {
                    name: "MODERATION_ALIYUN_BLOCK_AT",
                    reason: format!("{raw:?}: expected high, medium or low"),
                });
            }
            Some(level) => level,
        },
    };
    Ok(AliyunModeration {
        endpoint,
        input_service: env.get("MODERATION_ALIYUN_INPUT_SERVICE").unwrap_or_else(|| "llm_query_moderation".into()),
        output_service: env.get("MODERATION_ALIYUN_OUTPUT_SERVICE").unwrap_or_else(|| "llm_response_moderation".into()),
        image_service: env.get("MODERATION_ALIYUN_IMAGE_SERVICE").unwrap_or_else(|| "baselineCheck".into()),
        block_at,
        credentials: env.alibaba_credentials()?,
    })
}

fn openai(env: &Env<'_, impl Fn(&str) -> Option<String>>) -> Result<OpenAiModeration, ConfigError> {
    let base_url = env
        .get("MODERATION_OPENAI_BASE_URL")
        .or_else(|| env.get("OPENAI_BASE_URL"))
        .unwrap_or_else(|| super::DEFAULT_OPENAI_BASE_URL.to_string());
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ConfigError::Invalid {
            name: "MODERATION_OPENAI_BASE_URL",
            reason: format!("{base_url:?} is not an http(s) URL"),
        });
    }
    let api_key =
        env.get("MODERATION_OPENAI_API_KEY").or_else(|| env.get("OPENAI_API_KEY")).ok_or(ConfigError::Missing {
            name: "MODERATION_OPENAI_API_KEY",
            hint: "set MODERATION_OPENAI_API_KEY (or OPENAI_API_KEY) for MODERATION_PROVIDER=openai",
        })?;
    Ok(OpenAiModeration {
        base_url: base_url.trim_end_matches('/').to_string(),
        api_key,
        model: env.get("MODERATION_OPENAI_MODEL").unwrap_or_else(|| "omni-moderation-latest".into()),
    })
}

/// `MODERATION_STRIKES`: blocked messages per window before the cool-down (default 5/1h).
pub(super) fn strikes(env: &Env<'_, impl Fn(&str) -> Option<String>>) -> Result<Option<Limit>, ConfigError> {
    env.limit("MODERATION_STRIKES", "5/1h")
}
