//! Passwords: change one (knowing the current one), or reset a forgotten one through a link
//! mailed to the address.
//!
//! - A change ends every other session of the account; a reset ends all of them and lifts the
//!   account's failed-login lock (a burst of wrong guesses from elsewhere cannot keep the owner
//!   out once they have proved they read the address's mail).
//! - The forgotten-password request answers the same, at the same moment
//!   ([`FORGOT_ANSWER_AFTER`] after it arrived), whether or not the address has an account:
//!   the mail is handed to SMTP in a task of its own, and the answer waits for the same deadline
//!   either way. It is limited per client IP and per address, charged before the address is
//!   looked up, in the one atomic step every limit uses.
//! - Wrong current passwords (here and when deleting the account) count as failed logins.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{devices, email, links};
use crate::{
    audit::{self, Action},
    auth::{
        AuthResponse, AuthUser, NewSession, banned, end_all_sessions, login_meters, normalize_email,
        password::validate_new_password, start_session, validate_email,
    },
    clock::Clock,
    db::Db,
    entities::{TokenPurpose, User, user},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, ClientMeta, routes::api_routes},
    language::Language,
    mail::Letter,
    rate_limit::{self, Bucket, Held, Meter},
    state::AppState,
};

/// When a forgotten-password request is answered, counted from its arrival: long enough for
/// the database work of either case, so the answer's timing says nothing about the address.
pub const FORGOT_ANSWER_AFTER: Duration = Duration::from_millis(1500);

pub(super) fn routes() -> ApiRoutes {
    api_routes![change_password, forgot_password, reset_password]
}

/// `POST /api/account/password` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    pub current_password: String,
    /// 8+ characters and at most 72 bytes (UTF-8), as at registration.
    #[schema(min_length = 8, max_length = 72)]
    pub new_password: String,
}

/// `POST /api/account/password/forgot` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPassword {
    #[schema(example = "someone@example.com", max_length = 191)]
    pub email: String,
}

/// `POST /api/account/password/reset` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordReset {
    /// The token of the mailed link (`#/reset/<token>`).
    #[schema(min_length = 64, max_length = 64)]
    pub token: String,
    /// 8+ characters and at most 72 bytes (UTF-8).
    #[schema(min_length = 8, max_length = 72)]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    pub accepted: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordChanged {
    /// How many other sessions ended.
    pub revoked: u64,
}

/// Change the password, knowing the current one. Every other session ends.
#[utoipa::path(
    post,
    path = "/api/account/password",
    tag = "account",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; the other sessions ended", body = PasswordChanged),
        (status = 403, description = "The current password is wrong (`wrong_password`)", body = ErrorBody),
        (status = 422, description = "The new password breaks a rule (`password_too_short`, `password_too_long`)", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords (`rate_limited`), as for logins", body = ErrorBody),
        (status = 503, description = "Password checks are overloaded (`overloaded`) or the database is unavailable", body = ErrorBody),
    )
)]
async fn change_password(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: AuthUser,
    AppJson(change): AppJson<PasswordChange>,
) -> AppResult<Json<PasswordChanged>> {
    validate_new_password(&change.new_password)?;
    let confirmed = confirm_password(&state, &auth.user, change.current_password, &client).await?;
    let hash = state.hasher.hash(change.new_password).await?;
    let txn = state.db.begin().await?;
    store_password(&txn, &state.clock, &auth.user, hash).await?;
    let revoked = devices::end_others(&txn, &auth).await?;
    let message = format!("changed the password; {revoked} other sessions ended");
    let entry = audit::Entry::new(Action::PasswordChange, Some(&auth.user.id), message).about(&auth.user.email);
    audit::record(&txn, &state.clock, entry, &client).await?;
    txn.commit().await?;
    confirmed.release().await;
    Ok(Json(PasswordChanged { revoked }))
}

/// Ask for a password-reset link by mail. The answer is the same whether or not the address
/// has an account.
#[utoipa::path(
    post,
    path = "/api/account/password/forgot",
    tag = "account",
    request_body = ForgotPassword,
    responses(
        (status = 202, description = "If an account has this address, a link is on its way (valid 30 minutes, once)", body = Accepted),
        (status = 422, description = "Not an email address (`invalid_email`)", body = ErrorBody),
        (status = 429, description = "Too many requests from this network or for this address (`rate_limited`)", body = ErrorBody),
        (status = 503, description = "This server sends no mail (`mail_unavailable`), or the database is unavailable", body = ErrorBody),
    )
)]
async fn forgot_password(
    State(state): State<AppState>,
    client: ClientMeta,
    AppJson(request): AppJson<ForgotPassword>,
) -> AppResult<(StatusCode, Json<Accepted>)> {
    let answer_at = tokio::time::Instant::now() + FORGOT_ANSWER_AFTER;
    request_reset(&state, &request.email, &client).await?;
    tokio::time::sleep_until(answer_at).await;
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted: true })))
}

/// Set a new password with a mailed link: every session ends, the failed-login lock lifts,
/// and the caller is logged in with a new session.
#[utoipa::path(
    post,
    path = "/api/account/password/reset",
    tag = "account",
    request_body = PasswordReset,
    responses(
        (status = 200, description = "The password is set; logged in", body = AuthResponse),
        (status = 400, description = "The link is unknown, used, replaced or expired (`invalid_link`)", body = ErrorBody),
        (status = 403, description = "The account is banned (`account_banned`)", body = ErrorBody),
        (status = 422, description = "The password breaks a rule (`password_too_short`, `password_too_long`)", body = ErrorBody),
        (status = 503, description = "Password checks are overloaded (`overloaded`) or the database is unavailable", body = ErrorBody),
    )
)]
async fn reset_password(
    State(state): State<AppState>,
    client: ClientMeta,
    AppJson(reset): AppJson<PasswordReset>,
) -> AppResult<Json<AuthResponse>> {
    validate_new_password(&reset.password)?;
    links::check(&state.db, state.clock.now(), TokenPurpose::PasswordReset, &reset.token).await?;
    let hash = state.hasher.hash(reset.password).await?;
    let session = redeem_reset(&state, &reset.token, hash, &client).await?;
    Ok(Json(session.into()))
}

async fn request_reset(state: &AppState, raw_email: &str, client: &ClientMeta) -> AppResult<()> {
    let mailer = state.mailer.clone().ok_or_else(crate::mail::unavailable)?;
    let email = normalize_email(raw_email);
    validate_email(&email)?;
    let ip_key = client.ip_key();
    let meters: Vec<Meter> = [
        Meter::new(Bucket::ResetIp, &ip_key, state.config.reset_limit_per_ip),
        Meter::new(Bucket::ResetAddress, &email, state.config.reset_limit_per_address),
    ]
    .into_iter()
    .flatten()
    .collect();
    state.charge(&meters).await?;

    let now = state.clock.now();
    let user = User::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?;
    let txn = state.db.begin().await?;
    let link = match &user {
        Some(user) if user.banned_at.is_none() => {
            Some(links::issue(&txn, now, user, TokenPurpose::PasswordReset).await?)
        }
        _ => None,
    };
    // Whoever asked is unknown (no login): the row names the address, not an actor, so the
    // account's own download does not carry a stranger's address and browser.
    let entry = audit::Entry::new(Action::PasswordResetRequest, None, "asked for a password-reset link").about(&email);
    audit::record(&txn, &state.clock, entry, client).await?;
    txn.commit().await?;
    links::sweep(state).await;

    if let (Some(user), Some(token)) = (user, link) {
        let letter = Letter::password_reset(
            Language::from_locale(Some(&user.locale)),
            &user.email,
            &mailer.link("reset", &token),
            links::RESET_LINK_TTL.num_minutes(),
        );
        // Delivered beside the answer, which waits for its fixed moment either way; a failure
        // is logged by the mailer (the user can ask again).
        tokio::spawn(async move {
            let _ = mailer.send(&user.email, letter).await;
        });
    }
    Ok(())
}

async fn redeem_reset(state: &AppState, token: &str, hash: String, client: &ClientMeta) -> AppResult<NewSession> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let link = links::redeem(&txn, now, TokenPurpose::PasswordReset, token).await?;
    let user = User::find_by_id(link.user_id.clone()).one(&txn).await?.ok_or_else(links::invalid_link)?;
    if user.banned_at.is_some() {
        return Err(banned());
    }
    let (user, ended) = replace_password(&txn, &state.clock, &user, hash).await?;
    // The link reached the address: that verifies it, as a verification link would.
    let user = if link.email == user.email { email::mark_verified(&txn, state, user, client).await? } else { user };
    let message = format!("reset the password by mail; {ended} sessions ended");
    let entry = audit::Entry::new(Action::PasswordReset, Some(&user.id), message).about(&user.email);
    audit::record(&txn, &state.clock, entry, client).await?;
    let session = start_session(&txn, state, user, client).await?;
    txn.commit().await?;
    Ok(session)
}

/// Checks the caller's password for a sensitive action (a change, deleting the account). A
/// wrong one counts as a failed login of the account and the client (so guessing here is no
/// faster than at the login form) and answers 403 `wrong_password`; a right one returns the
/// held charges, to release once the action is done.
pub(super) async fn confirm_password(
    state: &AppState,
    user: &user::Model,
    password: String,
    client: &ClientMeta,
) -> AppResult<Held> {
    let ip_key = client.ip_key();
    let meters = login_meters(&state.config, &ip_key, &user.email);
    let charges = Held::new(&state.db, state.charge(&meters).await?);
    if state.hasher.verify(password, Some(user.password_hash.clone())).await? {
        return Ok(charges);
    }
    charges.keep();
    let entry = audit::Entry::new(Action::LoginFailed, Some(&user.id), "wrong password given").about(&user.email);
    audit::record(&state.db, &state.clock, entry, client).await?;
    Err(AppError::forbidden("wrong_password", "the password is incorrect"))
}

async fn store_password(
    db: &impl sea_orm::ConnectionTrait,
    clock: &Clock,
    user: &user::Model,
    hash: String,
) -> AppResult<user::Model> {
    let mut active: user::ActiveModel = user.clone().into();
    active.password_hash = Set(hash);
    active.updated_at = Set(clock.now());
    Ok(active.update(db).await?)
}

/// A password set without the old one (a reset link, the operator): stored, every session
/// ended, and the account's failed-login lock lifted. Returns the account and how many
/// sessions ended.
async fn replace_password(
    db: &impl sea_orm::ConnectionTrait,
    clock: &Clock,
    user: &user::Model,
    hash: String,
) -> AppResult<(user::Model, u64)> {
    let user = store_password(db, clock, user, hash).await?;
    let ended = end_all_sessions(db, &user.id).await?;
    rate_limit::clear(db, Bucket::LoginAccount, &user.email, &[]).await?;
    Ok((user, ended))
}

/// What `appctl reset-password` does: sets the password (already hashed) of the account with
/// `email`, ends every session and lifts its failed-login lock.
pub async fn set_password(
    db: &Db,
    clock: &Clock,
    email: &str,
    hash: String,
    client: &ClientMeta,
) -> AppResult<user::Model> {
    let email = normalize_email(email);
    let txn = db.begin().await?;
    let user =
        User::find().filter(user::Column::Email.eq(&email)).one(&txn).await?.ok_or(AppError::NotFound("user"))?;
    let (user, ended) = replace_password(&txn, clock, &user, hash).await?;
    let message = format!("operator set the password; {ended} sessions ended");
    audit::record(&txn, clock, audit::Entry::new(Action::PasswordReset, None, message).about(&email), client).await?;
    txn.commit().await?;
    Ok(user)
}
