//! Registration: a new account, its first session, and (when verification is on) the first
//! verification mail. The `auth-register` function's one route. It lives with the account's
//! other controls, above `auth`, whose session primitives it uses.

use axum::{Json, extract::State, http::StatusCode};
use sea_orm::EntityTrait;
use serde::Deserialize;

use super::email;
use crate::{
    audit::{self, Action},
    auth::{
        AuthResponse, NewSession, admin_emails, normalize_email, password, start_session, sweep_sessions,
        validate_email,
    },
    entities::{Role, User, user},
    error::{AppError, AppResult, DbResultExt, ErrorBody},
    http::{ApiRoutes, AppJson, ClientMeta, routes::api_routes},
    ids::new_id,
    language::Language,
    rate_limit::{Bucket, Held, Meter},
    state::AppState,
};

/// Routes of the `auth-register` function.
pub fn router() -> ApiRoutes {
    api_routes![register]
}

/// `POST /api/auth/register` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewAccount {
    /// Stored lower-cased; at most 191 bytes (UTF-8).
    #[schema(example = "someone@example.com", format = IdnEmail, max_length = 191)]
    pub email: String,
    /// 8+ characters and at most 72 bytes (UTF-8).
    #[schema(example = "correct horse battery", min_length = 8, max_length = 72)]
    pub password: String,
    /// The language of the account's mail: `zh*` is Chinese, anything else English (default).
    #[schema(example = "zh-CN", max_length = 35)]
    #[serde(default)]
    pub locale: Option<String>,
    /// The terms version the person accepted (terms of service and privacy policy): the
    /// server's `termsVersion` (`GET /api/chat/about`). Required when the server has one.
    #[serde(default, rename = "acceptTerms")]
    #[schema(example = "2026-12-06", max_length = 32)]
    pub accept_terms: Option<String>,
}

/// Create an account and start a session.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    request_body = NewAccount,
    responses(
        (status = 201, description = "Account created and logged in", body = AuthResponse),
        (status = 403, description = "`terms_required`: the server has terms (`TERMS_VERSION`) and `acceptTerms` is not their version (`error.termsVersion` names it)", body = ErrorBody),
        (status = 409, description = "An account with this email exists (`email_taken`)", body = ErrorBody),
        (status = 422, description = "Invalid email (`invalid_email`) or password (`password_too_short`, `password_too_long`: over 72 bytes)", body = ErrorBody),
        (status = 429, description = "Too many registrations from this network (`rate_limited`); see `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "More password checks are waiting than the instance can run (`overloaded`, with `Retry-After`), or the database is unavailable (`database_unavailable`, `database_schema_outdated`)", body = ErrorBody),
    )
)]
async fn register(
    State(state): State<AppState>,
    client: ClientMeta,
    AppJson(credentials): AppJson<NewAccount>,
) -> AppResult<(StatusCode, Json<AuthResponse>)> {
    let session = register_account(&state, credentials, &client).await?;
    Ok((StatusCode::CREATED, Json(session.into())))
}

pub async fn register_account(state: &AppState, credentials: NewAccount, client: &ClientMeta) -> AppResult<NewSession> {
    let email = normalize_email(&credentials.email);
    validate_email(&email)?;
    password::validate_new_password(&credentials.password)?;
    let terms = crate::consent::accepted_at_registration(&state.config.trust, credentials.accept_terms.as_deref())?;

    let ip_key = client.ip_key();
    let meters: Vec<Meter> =
        Meter::new(Bucket::RegisterIp, &ip_key, state.config.register_limit_per_ip).into_iter().collect();
    let hits = match state.charge(&meters).await {
        Err(err @ AppError::RateLimited { .. }) => {
            let message = format!("registration refused: too many from {ip_key}");
            let entry = audit::Entry::new(Action::RegisterRateLimited, None, message).about(&email);
            audit::record_refusal(state, entry, client).await;
            return Err(err);
        }
        other => other?,
    };

    let password_hash = match state.hasher.hash(credentials.password).await {
        Ok(hash) => hash,
        Err(err) => {
            // Not attempted after all (overloaded): it does not count against the network.
            Held::new(&state.db, hits).release().await;
            return Err(err);
        }
    };
    let now = state.clock.now();
    // ADMIN_EMAILS grants the role here, at registration, only without mail configured (see
    // `admin_emails`); an operator's demotion sticks.
    let listed = state.config.admin_at_registration(&email);
    let role = if admin_emails::promotes(&state.db, listed, &email).await? { Role::Admin } else { Role::User };
    let locale = Language::from_locale(credentials.locale.as_deref()).code();

    let txn = state.db.begin().await?;
    let user = user::Model {
        id: new_id(),
        email: email.clone(),
        password_hash,
        role,
        banned_at: None,
        email_verified_at: None,
        locale: locale.to_string(),
        created_at: now,
        updated_at: now,
        moderation_flagged_at: None,
        restricted_until: None,
        terms_accepted_at: terms.is_some().then_some(now),
        terms_version: terms.clone(),
        health_consent_at: None,
    };
    // Every field is known: no need to read the row back (MySQL would, in a second statement).
    User::insert(user::ActiveModel::from(user.clone()))
        .exec_without_returning(&txn)
        .await
        .on_unique_violation(|| AppError::conflict("email_taken", "an account with this email already exists"))?;
    let session = start_session(&txn, state, user, client).await?;
    let message = match &terms {
        Some(version) => format!("registered, accepting terms version {version}"),
        None => "registered".to_string(),
    };
    let entry = audit::Entry::new(Action::Register, Some(&session.user.id), message).about(&email);
    audit::record(&txn, &state.clock, entry, client).await?;
    txn.commit().await?;
    sweep_sessions(state).await;
    email::after_registration(state, &session.user).await;
    Ok(session)
}
