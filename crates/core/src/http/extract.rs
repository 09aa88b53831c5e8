//! Extractors that answer client mistakes with our error JSON instead of axum's plain text.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts},
    http::{header, request::Parts},
};

use crate::error::AppError;

/// `axum::Json`, but rejections become [`AppError`] (400 malformed JSON, 422 wrong shape, 413
/// too large, 415 wrong content type).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct AppJson<T>(pub T);

/// `axum::extract::Query` with [`AppError`] rejections (400 `invalid_query`).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct AppQuery<T>(pub T);

/// `axum::extract::Path` with [`AppError`] rejections (JSON, never axum's plain text).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct AppPath<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for AppJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Who is calling, for the audit log and per-IP rate limits.
///
/// The IP is the first `X-Forwarded-For` hop (Function Compute puts the client's address
/// there), else the TCP peer (the local stack). Only a parseable IP address is kept.
#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    /// The key per-IP limits count under (all clients without a known IP share one).
    pub fn ip_key(&self) -> String {
        self.ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .and_then(|first| first.trim().parse::<IpAddr>().ok());
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        // Not `to_str`, which refuses any non-ASCII byte: such an agent is kept (lossily decoded)
        // rather than silently dropped from the audit trail.
        let user_agent =
            parts.headers.get(header::USER_AGENT).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        Ok(Self { ip: forwarded.or(peer), user_agent })
    }
}
