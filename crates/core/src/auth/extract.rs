//! `AuthUser` and `AdminUser`: the one place that checks a bearer token, its session row, the
//! session's expiry and the account's ban status. A handler that takes one is authenticated.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, sea_query::Expr};

use super::{service::banned, token::invalid_token};
use crate::{
    audit::{self, Action},
    entities::{Role, Session, User, session, user},
    error::AppError,
    http::ClientMeta,
    state::AppState,
};

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: user::Model,
    pub session_id: String,
    pub expires: DateTime<Utc>,
}

/// An [`AuthUser`] whose role is ADMIN (403 otherwise).
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(parts)?;
        let claims = state.tokens.verify(token)?;
        let (session, user) = Session::find_by_id(claims.sid.clone())
            .find_also_related(User)
            .one(&state.db)
            .await?
            .ok_or_else(invalid_token)?;
        let user = user.filter(|user| user.id == claims.sub && session.user_id == user.id).ok_or_else(invalid_token)?;
        if session.expires <= state.clock.now() {
            return Err(invalid_token());
        }
        if user.banned_at.is_some() {
            return Err(banned());
        }
        touch(state, &session).await;
        Ok(Self { user, session_id: session.id, expires: session.expires })
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        if auth.user.role != Role::Admin {
            let client = ClientMeta::from_parts(parts, state.config.trust_proxy_hops);
            let message = format!("{} {} refused: not an administrator", parts.method, audit::quote(parts.uri.path()));
            let entry = audit::Entry::new(Action::AdminDenied, Some(&auth.user.id), message).about(&auth.user.email);
            audit::record_refusal(state, entry, &client).await;
            return Err(AppError::forbidden("admin_only", "this action needs an administrator account"));
        }
        Ok(Self(auth))
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, AppError> {
    let missing =
        || AppError::unauthorized("missing_token", "log in first: this request needs `Authorization: Bearer <token>`");
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| invalid_token())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(invalid_token)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(invalid_token());
    }
    Ok(token.trim())
}

/// How stale `sessions.last_used_at` may get before a request writes it again (the account's
/// device list shows it).
pub const LAST_USED_EVERY: Duration = Duration::from_secs(5 * 60);

/// Records that `session` was used now, if its last use is older than [`LAST_USED_EVERY`]: one
/// UPDATE whose condition makes concurrent requests write once. A failure is only logged (the
/// request goes on).
async fn touch(state: &AppState, session: &session::Model) {
    let now = state.clock.now();
    let stale_before = now - TimeDelta::from_std(LAST_USED_EVERY).unwrap_or(TimeDelta::minutes(5));
    if session.last_used_at.is_some_and(|used| used > stale_before) {
        return;
    }
    let result = Session::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .filter(session::Column::Id.eq(&session.id))
        .filter(
            Condition::any()
                .add(session::Column::LastUsedAt.is_null())
                .add(session::Column::LastUsedAt.lte(stale_before)),
        )
        .exec(&state.db)
        .await;
    if let Err(err) = result {
        tracing::warn!(error = %err, "could not record a session's last use");
    }
}
