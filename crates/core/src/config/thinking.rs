//! Thinking (issue 27): whether the model reasons out loud before it answers, and which model
//! does. `CHAT_THINKING` is `off` (the default: no request carries the thinking fields, so a
//! provider that knows none of them is never sent one), `offered` (the person switches "think
//! deeply" per message) or `always`; `CHAT_THINKING_MODEL` names the model that thinks (default
//! `OPENAI_MODEL`: Qwen3 on DashScope thinks or not by a switch in the request); and
//! `CHAT_THINKING_BUDGET` caps the tokens it may think (DashScope's `thinking_budget`; unset:
//! the provider's default).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ConfigError, Env};

/// `CHAT_THINKING`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThinkingMode {
    /// The model never thinks out loud.
    #[default]
    Off,
    /// The person asks for it per message (`think: true`).
    Offered,
    /// Every reply is thought through first.
    Always,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThinkingConfig {
    pub mode: ThinkingMode,
    /// The model asked when a reply is to be thought through.
    pub model: String,
    /// The most tokens it may think (`thinking_budget`).
    pub budget: Option<u32>,
}

impl ThinkingConfig {
    /// Whether a reply asked with `asked` (the person's switch) is thought through.
    pub fn thinks(&self, asked: bool) -> bool {
        match self.mode {
            ThinkingMode::Off => false,
            ThinkingMode::Offered => asked,
            ThinkingMode::Always => true,
        }
    }
}

pub(super) fn read(
    env: &Env<'_, impl Fn(&str) -> Option<String>>,
    chat_model: &str,
) -> Result<ThinkingConfig, ConfigError> {
    let mode = match env.get("CHAT_THINKING").map(|raw| raw.trim().to_ascii_lowercase()).as_deref() {
        None | Some("off") => ThinkingMode::Off,
        Some("offered") => ThinkingMode::Offered,
        Some("always") => ThinkingMode::Always,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "CHAT_THINKING",
                reason: format!("expected `off`, `offered` or `always`, got {other:?}"),
            });
        }
    };
    let model = env.get("CHAT_THINKING_MODEL").map(|raw| raw.trim().to_string()).unwrap_or_else(|| chat_model.into());
    if model.is_empty() {
        return Err(ConfigError::Invalid { name: "CHAT_THINKING_MODEL", reason: "must name a model".into() });
    }
    let budget = match env.get("CHAT_THINKING_BUDGET") {
        None => None,
        Some(_) => match env.parsed("CHAT_THINKING_BUDGET", 0u32)? {
            0 => {
                return Err(ConfigError::Invalid {
                    name: "CHAT_THINKING_BUDGET",
                    reason: "must be at least 1 (leave it unset for the provider's default)".into(),
                });
            }
            budget => Some(budget),
        },
    };
    Ok(ThinkingConfig { mode, model, budget })
}
