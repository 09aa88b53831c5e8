//! Labels of generated content (《人工智能生成合成内容标识办法》 and GB 45438-2025): the site
//! marks every reply it shows as AI-generated (and copies it with the mark) and says which model
//! serves the assistants (and, when configured, the service's filing number:
//! `MODEL_DISCLOSURE`), from `GET /api/chat/about`.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    http::{ApiRoutes, routes::api_routes},
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![about]
}

/// What the chat page discloses about the assistants.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AboutView {
    /// The model that writes the replies (`OPENAI_MODEL`); `null` when no model is configured.
    pub model: Option<String>,
    /// The operator's disclosure (`MODEL_DISCLOSURE`): the model's public name and the service's
    /// filing number, as the operator words it; `null` when not set.
    pub disclosure: Option<String>,
    /// The terms of service and privacy policy version to accept (`TERMS_VERSION`); `null`:
    /// no terms gate.
    pub terms_version: Option<String>,
    /// Whether the TCM adviser needs the separate consent to processing health information.
    pub health_consent: crate::config::HealthConsent,
    /// Days the administrators take at most to answer a report.
    pub report_response_days: u32,
    /// Whether the model thinks before it answers: `off`, `offered` (the site shows a "think
    /// deeply" switch: `think` on a turn) or `always`.
    pub thinking: crate::config::ThinkingMode,
    /// The model that writes the replies thought through (`CHAT_THINKING_MODEL`); `null` when
    /// thinking is off. With `always`, it writes every reply.
    pub thinking_model: Option<String>,
    /// Pictures may be sent with messages (`null`: not here), and their limits.
    pub pictures: Option<crate::attachments::PicturesOffer>,
    /// The model that looks at pictures (`CHAT_VISION_MODEL`); `null` when pictures are not
    /// offered.
    pub vision_model: Option<String>,
}

/// Which model writes the replies, and the operator's disclosure (filing number), for the
/// label the chat page shows; which terms and consent the site asks for, and the report
/// response time. Public: it says nothing about any account.
#[utoipa::path(
    get,
    path = "/api/chat/about",
    tag = "chat",
    responses((status = 200, description = "The model and the operator's disclosure", body = AboutView))
)]
pub async fn about(State(state): State<AppState>) -> Json<AboutView> {
    Json(AboutView {
        model: state.config.llm.as_ref().map(|llm| llm.model.clone()),
        disclosure: state.config.model_disclosure.clone(),
        terms_version: state.config.trust.terms_version.clone(),
        health_consent: state.config.trust.health_consent,
        report_response_days: state.config.trust.report_response_days,
        thinking: state.config.llm.as_ref().map(|llm| llm.thinking.mode).unwrap_or_default(),
        thinking_model: state
            .config
            .llm
            .as_ref()
            .filter(|llm| llm.thinking.mode != crate::config::ThinkingMode::Off)
            .map(|llm| llm.thinking.model.clone()),
        pictures: crate::attachments::offer(&state),
        vision_model: crate::attachments::offered(&state)
            .and(state.config.llm.as_ref())
            .and_then(|llm| llm.vision_model.clone()),
    })
}

/// The implicit label GB 45438-2025 (Annex E) defines for files that carry generated content:
/// a metadata field named `AIGC` holding these seven strings. Written on every reply in the
/// exports (and, for the JSON export, on the file as a whole).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AigcLabel {
    /// "1": the content is AI-generated (2: possibly; 3: suspected).
    #[serde(rename = "Label")]
    pub label: String,
    /// The generating service's provider (`SERVICE_PROVIDER`).
    #[serde(rename = "ContentProducer")]
    pub content_producer: String,
    /// The provider's id of the content (a reply's message id; the export's id for the file).
    #[serde(rename = "ProduceID")]
    pub produce_id: String,
    /// For the provider's own integrity checks: the SHA-256 of the reply's text (hex).
    #[serde(rename = "ReservedCode1")]
    pub reserved_code1: String,
    /// The propagating service's provider: on first writing, the producer (Annex E, note 1).
    #[serde(rename = "ContentPropagator")]
    pub content_propagator: String,
    #[serde(rename = "PropagateID")]
    pub propagate_id: String,
    #[serde(rename = "ReservedCode2")]
    pub reserved_code2: String,
}

impl AigcLabel {
    /// The label of generated content `id` with this text (`None`: a file, no single text).
    pub fn generated(producer: &str, id: &str, text: Option<&str>) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            label: "1".into(),
            content_producer: producer.into(),
            produce_id: id.into(),
            reserved_code1: text.map(|text| hex::encode(Sha256::digest(text.as_bytes()))).unwrap_or_default(),
            content_propagator: producer.into(),
            propagate_id: id.into(),
            reserved_code2: String::new(),
        }
    }
}
