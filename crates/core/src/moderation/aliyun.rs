//! Alibaba Cloud Content Moderation 2.0: text moderation PLUS (`TextModerationPlus`, API version
//! 2022-03-02; help.aliyun.com/document_detail/2669858.html), and image moderation (the
//! enhanced `ImageModeration` of the same version, `Service=baselineCheck` by default, which
//! downloads the picture from a link itself: it must be reachable, within 7 s).
//!
//! An RPC-style call: `POST /` to the region's endpoint (`green-cip.cn-shanghai.aliyuncs.com`…)
//! with a form body `Service=…&ServiceParameters={"content":…,"sessionId":…}`, signed with
//! [`super::acs3`]. User input goes to `llm_query_moderation`, model output to
//! `llm_response_moderation`; the pieces of one streamed reply share a `sessionId`, so the
//! service reads each with the ones before it (up to 5,000 characters; doc 2642626).
//!
//! The answer's `Data.RiskLevel` (`none`, `low`, `medium`, `high`) is compared with
//! `MODERATION_ALIYUN_BLOCK_AT`; when it is missing (reported by integrators of older
//! accounts) a label other than `nonLabel` with a confidence of 80 or more counts as `high`.
//! Error bodies are never logged whole: a signature error echoes the signed text, which holds
//! the user's message.

use std::sync::OnceLock;

use serde::Deserialize;

use super::{ModerationError, Stage, Verdict, acs3};
use crate::config::{AliyunModeration, RiskLevel};

pub const ACTION: &str = "TextModerationPlus";
pub const IMAGE_ACTION: &str = "ImageModeration";
pub const VERSION: &str = "2022-03-02";
const FORM: &str = "application/x-www-form-urlencoded";

pub struct Client {
    config: AliyunModeration,
    /// The endpoint's host (signed).
    host: String,
    http: OnceLock<Result<reqwest::Client, String>>,
}

impl Client {
    pub fn new(config: AliyunModeration) -> Self {
        let host = config
            .endpoint
            .split_once("://")
            .map_or(config.endpoint.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        Self { config, host, http: OnceLock::new() }
    }

    pub async fn check(&self, stage: Stage, content: &str, session: Option<&str>) -> Result<Verdict, ModerationError> {
        let service = match stage {
            Stage::Input => &self.config.input_service,
            Stage::Output => &self.config.output_service,
        };
        let mut parameters = serde_json::json!({ "content": content });
        if let (Stage::Output, Some(session)) = (stage, session) {
            parameters["sessionId"] = session.into();
        }
        self.call(ACTION, service, &parameters).await
    }

    /// Checks the picture at `url` (an `https` link the service can fetch; the local
    /// directory's `data:` URLs cannot be checked here: the provider fails).
    pub async fn check_image(&self, url: &str) -> Result<Verdict, ModerationError> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ModerationError::Provider("ImageModeration reads pictures from links only".into()));
        }
        let data_id = uuid::Uuid::new_v4().simple().to_string();
        let parameters = serde_json::json!({ "imageUrl": url, "dataId": data_id });
        self.call(IMAGE_ACTION, &self.config.image_service, &parameters).await
    }

    async fn call(
        &self,
        action: &str,
        service: &str,
        parameters: &serde_json::Value,
    ) -> Result<Verdict, ModerationError> {
        let body = serde_urlencoded::to_string([("Service", service), ("ServiceParameters", &parameters.to_string())])
            .map_err(|err| ModerationError::Provider(format!("cannot encode the request: {err}")))?;
        // The signature carries the real time: the server refuses one more than 15 minutes off
        // (the app's clock may be shifted in tests; this one never is).
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let request = acs3::Request {
            method: "POST",
            host: &self.host,
            path: "/",
            query: &[],
            action,
            version: VERSION,
            date: &date,
            nonce: &nonce,
            content_type: Some(FORM),
            body: body.as_bytes(),
        };
        let headers = acs3::signed_headers(&self.config.credentials, &request);
        let http = self.http()?;
        let mut call = http.post(format!("{}/", self.config.endpoint));
        for (name, value) in headers.iter().filter(|(name, _)| name != "host") {
            call = call.header(name.as_str(), value.as_str());
        }
        let response =
            call.body(body).send().await.map_err(|err| ModerationError::Provider(err.without_url().to_string()))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|err| ModerationError::Provider(err.to_string()))?;
        let answer: Answer = serde_json::from_slice(&bytes)
            .map_err(|_| ModerationError::Provider(format!("HTTP {status}: the answer is not {action} JSON")))?;
        if !status.is_success() || answer.code.as_ref().is_some_and(|code| !code.is_ok()) {
            // Only the code: a message may quote the request.
            return Err(ModerationError::Provider(format!(
                "HTTP {status}, code {}",
                answer.code.map(|code| code.to_string()).unwrap_or_else(|| "none".into())
            )));
        }
        let data = answer.data.ok_or_else(|| ModerationError::Provider("the answer has no Data".into()))?;
        Ok(data.verdict(self.config.block_at))
    }

    fn http(&self) -> Result<&reqwest::Client, ModerationError> {
        self.http
            .get_or_init(|| crate::outbound::https_client().map_err(|err| err.to_string()))
            .as_ref()
            .map_err(|err| ModerationError::Provider(format!("no HTTP client: {err}")))
    }
}

/// The parts of the answer read here (field names as in Alibaba's SDK models).
#[derive(Debug, Deserialize)]
struct Answer {
    /// 200 on success; a string such as `InvalidAccessKeyId.NotFound` on an RPC-layer error.
    #[serde(rename = "Code")]
    code: Option<Code>,
    #[serde(rename = "Data")]
    data: Option<Data>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Code {
    Number(i64),
    Text(String),
}

impl Code {
    fn is_ok(&self) -> bool {
        matches!(self, Self::Number(200))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(code) => write!(f, "{code}"),
            Self::Text(code) => f.write_str(code),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Data {
    #[serde(rename = "RiskLevel")]
    risk_level: Option<String>,
    #[serde(rename = "Result", default)]
    result: Vec<Hit>,
}

#[derive(Debug, Deserialize)]
struct Hit {
    #[serde(rename = "Label")]
    label: Option<String>,
    #[serde(rename = "Confidence")]
    confidence: Option<f64>,
}

impl Data {
    fn verdict(&self, block_at: RiskLevel) -> Verdict {
        let labelled = || self.result.iter().filter_map(|hit| hit.label.as_deref().map(|label| (label, hit)));
        let risky = |label: &str| !label.is_empty() && label != "nonLabel";
        let level = match self.risk_level.as_deref().and_then(RiskLevel::parse) {
            Some(level) => level,
            None if labelled().any(|(label, hit)| risky(label) && hit.confidence.unwrap_or(0.0) >= 80.0) => {
                RiskLevel::High
            }
            None => RiskLevel::None,
        };
        if level < block_at {
            return Verdict::Pass;
        }
        let label = labelled().map(|(label, _)| label).find(|label| risky(label)).unwrap_or("risk");
        Verdict::Block { label: label.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(json: &str) -> Data {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn risk_levels_block_from_the_configured_level() {
        let high = data(r#"{"RiskLevel":"high","Result":[{"Label":"political_entity","Confidence":91.5}]}"#);
        assert_eq!(high.verdict(RiskLevel::High), Verdict::Block { label: "political_entity".into() });
        let medium = data(r#"{"RiskLevel":"medium","Result":[{"Label":"pornographic_adult","Confidence":60}]}"#);
        assert_eq!(medium.verdict(RiskLevel::High), Verdict::Pass);
        assert!(medium.verdict(RiskLevel::Medium).is_blocked());
        let none = data(r#"{"RiskLevel":"none","Result":[{"Label":"nonLabel"}]}"#);
        assert_eq!(none.verdict(RiskLevel::Low), Verdict::Pass);
    }

    #[test]
    fn a_missing_risk_level_falls_back_to_confident_labels() {
        let confident = data(r#"{"Result":[{"Label":"violent_extremist","Confidence":85}]}"#);
        assert!(confident.verdict(RiskLevel::High).is_blocked());
        let unsure = data(r#"{"Result":[{"Label":"violent_extremist","Confidence":40}]}"#);
        assert_eq!(unsure.verdict(RiskLevel::High), Verdict::Pass);
        let clean = data(r#"{"Result":[{"Label":"nonLabel","Confidence":99}]}"#);
        assert_eq!(clean.verdict(RiskLevel::High), Verdict::Pass);
    }

    #[test]
    fn codes_may_be_numbers_or_strings() {
        let ok: Answer = serde_json::from_str(r#"{"Code":200,"Data":{"RiskLevel":"none"}}"#).unwrap();
        assert!(ok.code.unwrap().is_ok());
        let denied: Answer = serde_json::from_str(r#"{"Code":"InvalidAccessKeyId.NotFound","Message":"x"}"#).unwrap();
        assert_eq!(denied.code.unwrap().to_string(), "InvalidAccessKeyId.NotFound");
    }
}
