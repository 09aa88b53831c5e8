//! The one error type of the HTTP layer and how it becomes a response.
//!
//! Every failure a client can see is `{"error":{"code":"snake_case","message":"human text"}}`
//! with the matching status. Internal failures are logged (inside the request's span, so with
//! its request id) and answered with a generic 500 that leaks nothing.

use std::time::Duration;

use axum::{
    Json,
    extract::rejection::{PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{DbErr, RuntimeErr, SqlErr};
use serde::Serialize;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request could not be understood (malformed JSON, bad query string).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 422: well-formed, but a value breaks a rule (email format, password length…).
    #[error("{message}")]
    Validation { code: &'static str, message: String },
    /// 401: no valid credentials.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated, but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body is larger than the limit")]
    PayloadTooLarge,
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 429 with `Retry-After`.
    #[error("{message}")]
    RateLimited { code: &'static str, message: String, retry_after: Duration },
    /// 503: a dependency (the database, the model) is not available.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// 503 `overloaded` with `Retry-After`: more password checks are waiting than this
    /// instance can run in time.
    #[error("the server is busy; please retry in a moment")]
    Overloaded { retry_after: Duration },
    /// 502: the upstream model answered with an error.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// 504: the upstream model did not answer in time.
    #[error("{message}")]
    GatewayTimeout { code: &'static str, message: String },
    /// 500: a bug or an unexpected failure; details go to the log only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    /// Any error that happened after a chat turn was saved: the body also names the
    /// conversation, so the client can retry in it.
    #[error("{0}")]
    InConversation(Box<AppError>, String),
    /// An error whose body says more: what to accept, or until when (see [`Extra`]).
    #[error("{0}")]
    WithExtra(Box<AppError>, Extra),
}

/// What a refusal adds to its body for the client to act on.
#[derive(Debug, Clone)]
pub enum Extra {
    /// The terms version to accept (`terms_required`, `terms_outdated`).
    TermsVersion(String),
    /// When a restriction ends (`chat_restricted`).
    Until(chrono::DateTime<chrono::Utc>),
    /// The emergency card of a chat turn's message, which a refusal still shows.
    RedFlag(Box<crate::safety::RedFlagCard>),
}

/// Every error response: `{"error":{"code","message"}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `invalid_credentials`.
    #[schema(value_type = String, example = "invalid_credentials")]
    pub code: &'static str,
    /// Human-readable text.
    pub message: String,
    /// Present when a chat turn failed after it was saved: retry in this conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// With `terms_required` / `terms_outdated`: the version of the terms to accept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_version: Option<String>,
    /// With `chat_restricted`: when the restriction ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// A refused chat turn whose message shows an emergency sign: show this card all the same
    /// (whatever stops the turn, a person in crisis sees the numbers to call).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub red_flag: Option<crate::safety::RedFlagCard>,
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }
    pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation { code, message: message.into() }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized { code, message: message.into() }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into() }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(anyhow::anyhow!(message.into()))
    }
    pub fn in_conversation(self, conversation_id: impl Into<String>) -> Self {
        match self {
            Self::InConversation(inner, _) => Self::InConversation(inner, conversation_id.into()),
            other => Self::InConversation(Box::new(other), conversation_id.into()),
        }
    }
    pub fn with(self, extra: Extra) -> Self {
        Self::WithExtra(Box::new(self), extra)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } | Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InConversation(inner, _) | Self::WithExtra(inner, _) => inner.status(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Validation { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::RateLimited { code, .. }
            | Self::Unavailable { code, .. }
            | Self::BadGateway { code, .. }
            | Self::GatewayTimeout { code, .. } => code,
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Overloaded { .. } => "overloaded",
            Self::Internal(_) => "internal_error",
            Self::InConversation(inner, _) | Self::WithExtra(inner, _) => inner.code(),
        }
    }

    /// The body clients see; internal details are replaced by a generic message.
    pub fn body(&self) -> ErrorBody {
        let detail = |message: String| ErrorDetail {
            code: self.code(),
            message,
            conversation_id: None,
            terms_version: None,
            until: None,
            red_flag: None,
        };
        match self {
            Self::InConversation(inner, conversation_id) => {
                let mut body = inner.body();
                body.error.conversation_id = Some(conversation_id.clone());
                body
            }
            Self::WithExtra(inner, extra) => {
                let mut body = inner.body();
                match extra {
                    Extra::TermsVersion(version) => body.error.terms_version = Some(version.clone()),
                    Extra::Until(until) => body.error.until = Some(*until),
                    Extra::RedFlag(card) => body.error.red_flag = Some(card.as_ref().clone()),
                }
                body
            }
            Self::Internal(_) => ErrorBody { error: detail("internal server error".into()) },
            other => ErrorBody { error: detail(other.to_string()) },
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Overloaded { retry_after } => Some(*retry_after),
            Self::InConversation(inner, _) | Self::WithExtra(inner, _) => inner.retry_after(),
            _ => None,
        }
    }

    fn log(&self) {
        match self {
            Self::Internal(err) => tracing::error!(error = ?err, "internal error"),
            Self::Unavailable { message, .. }
            | Self::BadGateway { message, .. }
            | Self::GatewayTimeout { message, .. } => {
                tracing::warn!(code = self.code(), %message, "dependency failure")
            }
            Self::InConversation(inner, _) | Self::WithExtra(inner, _) => inner.log(),
            _ => {}
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Some(retry_after) = self.retry_after() {
            // Whole seconds, rounded up, and never 0 (which would invite an immediate retry).
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

/// Database failures: connectivity problems are 503 (the client may retry), anything else is a
/// bug and a 500. Constraint violations that a client can cause are mapped at the call site with
/// [`DbResultExt`].
impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if is_connectivity_error(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Self::Unavailable {
                code: "database_unavailable",
                message: "the database is unavailable, please retry shortly".into(),
            };
        }
        if is_missing_schema(&err) {
            tracing::error!(error = %err, "the database lacks this version's schema: apply the migrations (`make migrate`)");
            return Self::Unavailable {
                code: "database_schema_outdated",
                message: "the database is not set up for this version of the service yet; please retry later".into(),
            };
        }
        // An update of a row that a concurrent request deleted (an account deleted in another
        // tab while this one changes it): the thing is gone, which is not a server error.
        if matches!(err, DbErr::RecordNotUpdated) {
            return Self::NotFound("record");
        }
        Self::Internal(err.into())
    }
}

/// A table or column this code uses does not exist: the migrations were not applied (or not
/// all of them). MySQL reports SQLSTATE 42S02 / 42S22, SQLite "no such table / column".
pub fn is_missing_schema(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx))) = err else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(db_err) = sqlx.as_ref() else { return false };
    let code = db_err.code();
    matches!(code.as_deref(), Some("42S02" | "42S22"))
        || db_err.message().starts_with("no such table")
        || db_err.message().starts_with("no such column")
}

pub fn is_connectivity_error(err: &DbErr) -> bool {
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            matches!(
                sqlx.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::Tls(_)
                    | sea_orm::sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    }
}

impl AppError {
    /// A database error breaking a foreign key: what an insert meets when a deletion that
    /// committed first took the row it refers to.
    pub fn is_foreign_key_violation(&self) -> bool {
        let Self::Internal(err) = self else { return false };
        err.downcast_ref::<DbErr>()
            .is_some_and(|err| matches!(err.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))))
    }
}

/// Maps constraint violations a client can cause to the error they deserve, at the call site:
/// `insert(...).await.on_unique_violation(|| AppError::conflict("email_taken", "..."))?`.
pub trait DbResultExt<T> {
    fn on_unique_violation(self, to_error: impl FnOnce() -> AppError) -> AppResult<T>;
    fn on_foreign_key_violation(self, to_error: impl FnOnce() -> AppError) -> AppResult<T>;
}

impl<T> DbResultExt<T> for Result<T, DbErr> {
    fn on_unique_violation(self, to_error: impl FnOnce() -> AppError) -> AppResult<T> {
        self.map_err(|err| match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => to_error(),
            _ => err.into(),
        })
    }

    fn on_foreign_key_violation(self, to_error: impl FnOnce() -> AppError) -> AppResult<T> {
        self.map_err(|err| match err.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => to_error(),
            _ => err.into(),
        })
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        let detail = match &rejection {
            QueryRejection::FailedToDeserializeQueryString(err) => source_text(err),
            other => other.body_text(),
        };
        Self::bad_request("invalid_query", format!("invalid query string: {detail}"))
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            // The route and the extractor disagree: a bug, not the client's doing.
            PathRejection::FailedToDeserializePathParams(err) if err.status().is_server_error() => {
                Self::internal(err.body_text())
            }
            PathRejection::MissingPathParams(err) => Self::internal(err.body_text()),
            other => Self::bad_request("invalid_path", other.body_text()),
        }
    }
}

/// The innermost cause's text (serde's "missing field `email` at line 1 column 2"), without
/// axum's generic prefix.
fn source_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_deleted_under_an_update_is_not_found_not_a_server_error() {
        let err = AppError::from(DbErr::RecordNotUpdated);
        assert_eq!((err.status(), err.code()), (StatusCode::NOT_FOUND, "not_found"));
        let other = AppError::from(DbErr::Custom("boom".into()));
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
