//! The caller's quota state, `GET /api/chat/quota`: how many messages the window has counted,
//! the limit, when the window frees the next one, and how many replies are streaming. Read from
//! the same rows the limits charge (`crate::rate_limit`), so it says what the next charge will
//! see.

use axum::{Json, extract::State};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::AuthUser,
    config::Config,
    entities::Role,
    error::AppResult,
    http::{ApiRoutes, routes::api_routes},
    rate_limit::{self, Bucket, Limit},
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
    /// Messages counted in the current window.
    pub used: u32,
    pub limit: u32,
    pub remaining: u32,
    pub window_seconds: u64,
    /// When the window frees its next message (the oldest counted one ages out); `null` when
    /// none is counted.
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
            let counted = rate_limit::counted(&state.db, now, Bucket::ChatMessages, key, limit.window).await?;
            let used = u32::try_from(counted.count).unwrap_or(u32::MAX).min(limit.max);
            let window = TimeDelta::from_std(limit.window).unwrap_or(TimeDelta::MAX);
            Some(MessageQuota {
                used,
                limit: limit.max,
                remaining: limit.max - used,
                window_seconds: limit.window.as_secs(),
                next_free_at: counted.oldest.and_then(|oldest| oldest.checked_add_signed(window)),
            })
        }
    };
    let streams = match state.config.chat_max_concurrent_streams {
        0 => None,
        limit => {
            let lease = state.config.chat_stream_lease();
            let counted = rate_limit::counted(&state.db, now, Bucket::ChatStreams, key, lease).await?;
            Some(StreamQuota { in_use: u32::try_from(counted.count).unwrap_or(u32::MAX).min(limit), limit })
        }
    };
    Ok(Json(QuotaView { messages, streams }))
}
