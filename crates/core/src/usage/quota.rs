//! The caller's quota state, `GET /api/chat/quota`: how many messages the window has counted,
//! the limit, when the window frees the next one, and how many replies are streaming. Read from
//! the same rows the limits charge (`crate::rate_limit`), so it says what the next charge will
//! see.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::AuthUser,
    config::Config,
    entities::Role,
    error::AppResult,
    http::{ApiRoutes, routes::api_routes},
    rate_limit::{self, Bucket, Limit, Meter},
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![quota]
}

/// The message quota of an account with `role` (`None`: unlimited).
pub fn message_limit(config: &Config, role: Role) -> Option<Limit> {
    match role {
        Role::Admin => config.chat_quota_admin,
        Role::User => config.chat_quota_user,
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaView {
    /// The message quota (`null`: the caller has none).
    pub messages: Option<MessageQuota>,
    /// Replies streaming at once (`null`: no cap).
    pub streams: Option<StreamQuota>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageQuota {
    /// Messages counted in the current window (above `limit` when the limit was lowered since).
    pub used: u32,
    pub limit: u32,
    pub remaining: u32,
    pub window_seconds: u64,
    /// When the window frees its next message (at the limit: when a message may be sent
    /// again); `null` when none is counted.
    pub next_free_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamQuota {
    pub in_use: u32,
    pub limit: u32,
}

/// Your message quota and streams: used, left, and when the next message frees up.
#[utoipa::path(
    get,
    path = "/api/chat/quota",
    tag = "chat",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's quota state", body = QuotaView))
)]
pub async fn quota(State(state): State<AppState>, auth: AuthUser) -> AppResult<Json<QuotaView>> {
    let now = state.clock.now();
    let key = auth.user.id.as_str();
    let messages = match message_limit(&state.config, auth.user.role) {
        None => None,
        Some(limit) => {
            let meter = Meter { bucket: Bucket::ChatMessages, key, limit };
            let counted = rate_limit::counted(&state.db, now, &meter).await?;
            let used = u32::try_from(counted.count).unwrap_or(u32::MAX);
            Some(MessageQuota {
                used,
                limit: limit.max,
                remaining: limit.max.saturating_sub(used),
                window_seconds: limit.window.as_secs(),
                next_free_at: counted.next_free_at,
            })
        }
    };
    let streams = match state.config.chat_max_concurrent_streams {
        0 => None,
        max => {
            let limit = Limit { max, window: state.config.chat_stream_lease() };
            let meter = Meter { bucket: Bucket::ChatStreams, key, limit };
            let counted = rate_limit::counted(&state.db, now, &meter).await?;
            Some(StreamQuota { in_use: u32::try_from(counted.count).unwrap_or(u32::MAX), limit: max })
        }
    };
    Ok(Json(QuotaView { messages, streams }))
}
