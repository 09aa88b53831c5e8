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
}

/// Which model writes the replies, and the operator's disclosure (filing number), for the
/// label the chat page shows. Public: it says nothing about any account.
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
    })
}
