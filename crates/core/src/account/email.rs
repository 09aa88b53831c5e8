//! Address verification: a link mailed at registration (when `EMAIL_VERIFICATION` is not
//! `off`) and on request, which proves the account's owner reads the address.
//!
//! A link is redeemed only by the account it was sent for, logged in: the link proves the
//! address, the session proves the password, and only both together prove that the one who
//! chose the password reads the address. (A link alone would let whoever registered someone
//! else's address first have it verified, and with it the ADMIN role of a listed address, by
//! the real owner opening "confirm your address"; see `auth::admin_emails`.) Verifying is when
//! `ADMIN_EMAILS` takes effect for a server that sends mail.

use axum::{Json, extract::State, http::StatusCode};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};

use super::{AccountView, links, password::Accepted};
use crate::{
    audit::{self, Action},
    auth::{AuthUser, admin_emails},
    clock::Clock,
    config::EmailVerification,
    entities::{Role, TokenPurpose, User, user},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppJson, ClientMeta, routes::api_routes},
    language::Language,
    mail::Letter,
    rate_limit::{Bucket, Held, Meter},
    state::AppState,
};

pub(super) fn routes() -> ApiRoutes {
    api_routes![send_verification, verify_email]
}

/// `POST /api/account/email/verify` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct VerifyEmail {
    /// The token of the mailed link (`#/verify/<token>`).
    #[schema(min_length = 64, max_length = 64)]
    pub token: String,
}

/// Mail a new verification link to the account's address (older links stop working).
#[utoipa::path(
    post,
    path = "/api/account/email/verification",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The mail was handed to the mail server", body = Accepted),
        (status = 409, description = "The address is already verified (`already_verified`)", body = ErrorBody),
        (status = 429, description = "Too many verification mails (`rate_limited`)", body = ErrorBody),
        (status = 502, description = "The mail server refused or failed (`mail_failed`)", body = ErrorBody),
        (status = 503, description = "This server sends no mail (`mail_unavailable`), or the database is unavailable", body = ErrorBody),
    )
)]
async fn send_verification(State(state): State<AppState>, auth: AuthUser) -> AppResult<(StatusCode, Json<Accepted>)> {
    send_link(&state, &auth.user).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted: true })))
}

/// Verify the account's address with a mailed link, logged into that account: the link proves
/// the address, the login the password.
#[utoipa::path(
    post,
    path = "/api/account/email/verify",
    tag = "account",
    security(("bearer" = [])),
    request_body = VerifyEmail,
    responses(
        (status = 200, description = "The address is verified", body = AccountView),
        (status = 400, description = "The link is unknown, used, replaced or expired (`invalid_link`)", body = ErrorBody),
        (status = 403, description = "The link belongs to another account than the one logged in (`wrong_account`)", body = ErrorBody),
    )
)]
async fn verify_email(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: AuthUser,
    AppJson(body): AppJson<VerifyEmail>,
) -> AppResult<Json<AccountView>> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let link = links::redeem(&txn, now, TokenPurpose::VerifyEmail, &body.token).await?;
    if link.user_id != auth.user.id {
        // Rolled back: the link stays for its own account.
        return Err(AppError::forbidden(
            "wrong_account",
            "this link confirms the address of another account: log in as that account to use it",
        ));
    }
    let user = User::find_by_id(link.user_id.clone()).one(&txn).await?.ok_or_else(links::invalid_link)?;
    // A link proves the address it was sent to, not one the account has since changed to.
    if link.email != user.email {
        return Err(links::invalid_link());
    }
    let user = mark_verified(&txn, &state, user, &client).await?;
    txn.commit().await?;
    Ok(Json(AccountView::new(&state, &user)))
}

/// After a registration: the first verification link, when verification is on. Failures are
/// logged, not returned: the account exists, and the owner can ask for another link.
pub async fn after_registration(state: &AppState, user: &user::Model) {
    if state.config.email_verification == EmailVerification::Off {
        return;
    }
    if let Err(err) = send_link(state, user).await {
        tracing::warn!(code = err.code(), error = %err, "could not send the verification mail of a new account");
    }
}

/// Mails `user` a verification link, charged to the account's verification-mail limit (taken
/// back when the mail could not be sent).
async fn send_link(state: &AppState, user: &user::Model) -> AppResult<()> {
    let mailer = state.mailer()?;
    if user.email_verified_at.is_some() {
        return Err(AppError::conflict("already_verified", "this address is already verified"));
    }
    // Counted per address, not per account: deleting the account and registering again must
    // not give the address a fresh allowance.
    let meters: Vec<Meter> =
        Meter::new(Bucket::VerifyMail, &user.email, state.config.verify_mail_limit).into_iter().collect();
    let charges = Held::new(&state.db, state.charge(&meters).await?);
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let token = links::issue(&txn, now, user, TokenPurpose::VerifyEmail).await?;
    txn.commit().await?;
    links::sweep(state).await;
    let letter = Letter::verify_email(
        Language::from_locale(Some(&user.locale)),
        &user.email,
        &mailer.link("verify", &token),
        links::VERIFY_LINK_TTL.num_hours(),
    );
    match mailer.send(&user.email, letter).await {
        Ok(()) => {
            charges.keep();
            Ok(())
        }
        Err(err) => {
            charges.release().await;
            Err(err)
        }
    }
}

/// Marks `user`'s address verified (if it was not) and, the first time, gives an address on
/// `ADMIN_EMAILS` the ADMIN role. Both are audited.
pub async fn mark_verified(
    db: &impl ConnectionTrait,
    state: &AppState,
    user: user::Model,
    client: &ClientMeta,
) -> AppResult<user::Model> {
    let listed = state.config.is_admin_email(&user.email);
    mark_verified_with(db, &state.clock, listed, user, client).await
}

/// [`mark_verified`] for callers without the app's state (`appctl verify-email`): `listed`
/// says whether the address is on `ADMIN_EMAILS` (which an operator's demotion overrides).
pub async fn mark_verified_with(
    db: &impl ConnectionTrait,
    clock: &Clock,
    listed: bool,
    user: user::Model,
    client: &ClientMeta,
) -> AppResult<user::Model> {
    if user.email_verified_at.is_some() {
        return Ok(user);
    }
    let now = clock.now();
    let email = user.email.clone();
    let promoted = user.role == Role::User && admin_emails::promotes(db, listed, &email).await?;
    let mut active: user::ActiveModel = user.into();
    active.email_verified_at = Set(Some(now));
    if promoted {
        active.role = Set(Role::Admin);
    }
    active.updated_at = Set(now);
    let user = active.update(db).await?;
    let entry = audit::Entry::new(Action::EmailVerified, Some(&user.id), "verified the address").about(&email);
    audit::record(db, clock, entry, client).await?;
    if promoted {
        let message = "set to Admin: on ADMIN_EMAILS and now verified";
        audit::record(db, clock, audit::Entry::new(Action::Promote, Some(&user.id), message).about(&email), client)
            .await?;
    }
    Ok(user)
}
