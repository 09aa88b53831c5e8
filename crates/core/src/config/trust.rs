//! The agreement, consent and report settings of [`Config`](super::Config): which terms version
//! an account must have accepted before it chats (`TERMS_VERSION`), whether the TCM assistant
//! needs the separate consent to processing health information (`HEALTH_CONSENT`), and the
//! response time promised to a report (`REPORT_RESPONSE_DAYS`).

use super::{ConfigError, Env};

/// The gates in front of chat, and the report deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustConfig {
    /// The current terms of service and privacy policy (`TERMS_VERSION`, at most 32 printable
    /// ASCII characters, e.g. a date); `None`: no terms gate (the seed's client registers as
    /// before).
    pub terms_version: Option<String>,
    pub health_consent: HealthConsent,
    /// Days the administrators take at most to answer a report (`REPORT_RESPONSE_DAYS`, 1–90,
    /// default 7): each report's deadline, shown to the reporter and in the queue.
    pub report_response_days: u32,
}

/// `HEALTH_CONSENT`: whether the TCM assistant needs the separate consent to processing health
/// information (PIPL art. 28–29) before its first turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthConsent {
    /// No consent step (the default of `make dev`).
    #[default]
    Off,
    /// A TCM turn without the consent is refused with 403 `consent_required`.
    Required,
}

pub const TERMS_VERSION_MAX: usize = 32;

pub(super) fn read(env: &Env<'_, impl Fn(&str) -> Option<String>>) -> Result<TrustConfig, ConfigError> {
    let terms_version = env.get("TERMS_VERSION").map(|raw| raw.trim().to_string());
    if let Some(version) = &terms_version
        && (version.len() > TERMS_VERSION_MAX || !version.bytes().all(|byte| byte.is_ascii_graphic()))
    {
        return Err(ConfigError::Invalid {
            name: "TERMS_VERSION",
            reason: format!("must be 1–{TERMS_VERSION_MAX} printable ASCII characters without spaces, e.g. 2026-12-06"),
        });
    }
    let health_consent = match env.get("HEALTH_CONSENT").map(|raw| raw.trim().to_ascii_lowercase()).as_deref() {
        None | Some("off") => HealthConsent::Off,
        Some("required") => HealthConsent::Required,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "HEALTH_CONSENT",
                reason: format!("expected `required` or `off`, got {other:?}"),
            });
        }
    };
    let report_response_days = env.parsed("REPORT_RESPONSE_DAYS", 7u32)?;
    if !(1..=90).contains(&report_response_days) {
        return Err(ConfigError::Invalid { name: "REPORT_RESPONSE_DAYS", reason: "must be between 1 and 90".into() });
    }
    Ok(TrustConfig { terms_version, health_consent, report_response_days })
}
