//! Registration, login and logout: the rules, independent of HTTP.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::Deserialize;

use super::{AuthUser, password, token::Claims};
use crate::{
    audit::{self, Action},
    entities::{Role, Session, User, session, user},
    error::{AppError, AppResult, DbResultExt},
    http::ClientMeta,
    ids::{new_id, new_token},
    rate_limit::{self, Bucket},
    state::AppState,
};

/// The longest email we store (the column is VARCHAR(191), the utf8mb4 index limit Prisma uses).
pub const MAX_EMAIL_BYTES: usize = 191;

/// `POST /api/auth/login` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// Compared case-insensitively.
    #[schema(example = "someone@example.com", max_length = 191)]
    pub email: String,
    /// The password as it was set (any length is compared).
    #[schema(example = "correct horse battery")]
    pub password: String,
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
}

/// A freshly started session: the account and its signed token.
pub struct NewSession {
    pub user: user::Model,
    pub token: String,
    pub expires: DateTime<Utc>,
}

/// Emails compare case-insensitively and ignore surrounding spaces.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

fn validate_email(email: &str) -> AppResult<()> {
    let invalid = || AppError::validation("invalid_email", "please enter a valid email address");
    if email.len() > MAX_EMAIL_BYTES {
        return Err(AppError::validation(
            "invalid_email",
            format!("the email address must be at most {MAX_EMAIL_BYTES} bytes long"),
        ));
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[],;:\\\"".contains(c));
    if local_ok && domain_ok { Ok(()) } else { Err(invalid()) }
}

pub async fn register(state: &AppState, credentials: NewAccount, client: &ClientMeta) -> AppResult<NewSession> {
    let email = normalize_email(&credentials.email);
    validate_email(&email)?;
    password::validate_new_password(&credentials.password)?;

    let ip_key = client.ip_key();
    rate_limit::check(
        &state.db,
        &state.clock,
        Bucket::RegisterIp,
        &ip_key,
        state.config.register_limit_per_ip,
        "too many registrations from this network; please try again later",
    )
    .await?;
    rate_limit::record(&state.db, &state.clock, Bucket::RegisterIp, &ip_key, state.config.register_limit_per_ip)
        .await?;

    let password_hash = password::hash(credentials.password, state.config.bcrypt_cost).await?;
    let now = state.clock.now();
    let role = if state.config.is_admin_email(&email) { Role::Admin } else { Role::User };

    let txn = state.db.begin().await?;
    let user = user::ActiveModel {
        id: Set(new_id()),
        email: Set(email.clone()),
        password_hash: Set(password_hash),
        role: Set(role),
        banned_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| AppError::conflict("email_taken", "an account with this email already exists"))?;
    let session = start_session(&txn, state, user).await?;
    audit::record(&txn, &state.clock, Some(&session.user.id), Action::Register, format!("registered {email}"), client)
        .await?;
    txn.commit().await?;
    Ok(session)
}

pub async fn login(state: &AppState, credentials: Credentials, client: &ClientMeta) -> AppResult<NewSession> {
    let email = normalize_email(&credentials.email);
    if email.len() > MAX_EMAIL_BYTES {
        return Err(AppError::validation("invalid_email", "please enter a valid email address"));
    }
    let ip_key = client.ip_key();
    let limits = &state.config;
    let too_many = "too many failed logins; please wait before trying again";
    rate_limit::check(&state.db, &state.clock, Bucket::LoginIp, &ip_key, limits.login_limit_per_ip, too_many).await?;
    rate_limit::check(&state.db, &state.clock, Bucket::LoginAccount, &email, limits.login_limit_per_account, too_many)
        .await?;

    let user = User::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?;
    let matches = password::verify(
        credentials.password,
        user.as_ref().map(|user| user.password_hash.clone()),
        state.config.bcrypt_cost,
    )
    .await?;

    let known_account = user.as_ref().map(|user| user.id.clone());
    let Some(mut user) = user.filter(|_| matches) else {
        rate_limit::record(&state.db, &state.clock, Bucket::LoginIp, &ip_key, limits.login_limit_per_ip).await?;
        rate_limit::record(&state.db, &state.clock, Bucket::LoginAccount, &email, limits.login_limit_per_account)
            .await?;
        audit::record(
            &state.db,
            &state.clock,
            known_account.as_deref(),
            Action::LoginFailed,
            format!("failed login for {email}"),
            client,
        )
        .await?;
        return Err(AppError::unauthorized("invalid_credentials", "the email or password is incorrect"));
    };

    if user.banned_at.is_some() {
        audit::record(
            &state.db,
            &state.clock,
            Some(&user.id),
            Action::LoginBlocked,
            format!("banned account {email} tried to log in"),
            client,
        )
        .await?;
        return Err(banned());
    }

    let txn = state.db.begin().await?;
    if state.config.is_admin_email(&email) && user.role != Role::Admin {
        let mut active: user::ActiveModel = user.into();
        active.role = Set(Role::Admin);
        active.updated_at = Set(state.clock.now());
        user = active.update(&txn).await?;
        audit::record(
            &txn,
            &state.clock,
            Some(&user.id),
            Action::Promote,
            format!("{email} promoted by ADMIN_EMAILS"),
            client,
        )
        .await?;
    }
    let session = start_session(&txn, state, user).await?;
    audit::record(&txn, &state.clock, Some(&session.user.id), Action::Login, format!("logged in {email}"), client)
        .await?;
    rate_limit::clear(&txn, Bucket::LoginAccount, &email).await?;
    txn.commit().await?;
    Ok(session)
}

/// Ends the caller's session, or every session of the caller with `all`.
pub async fn logout(state: &AppState, auth: &AuthUser, all: bool, client: &ClientMeta) -> AppResult<u64> {
    let revoked = if all {
        end_all_sessions(&state.db, &auth.user.id).await?
    } else {
        Session::delete_by_id(auth.session_id.clone()).exec(&state.db).await?.rows_affected
    };
    let scope = if all { "all sessions" } else { "this session" };
    audit::record(
        &state.db,
        &state.clock,
        Some(&auth.user.id),
        Action::Logout,
        format!("logged out of {scope}"),
        client,
    )
    .await?;
    Ok(revoked)
}

/// Deletes every session of a user: their tokens stop working at once (logout everywhere, bans).
pub async fn end_all_sessions(db: &impl ConnectionTrait, user_id: &str) -> AppResult<u64> {
    Ok(Session::delete_many().filter(session::Column::UserId.eq(user_id)).exec(db).await?.rows_affected)
}

async fn start_session(db: &impl ConnectionTrait, state: &AppState, user: user::Model) -> AppResult<NewSession> {
    let now = state.clock.now();
    let expires = now + TimeDelta::from_std(state.config.session_ttl).unwrap_or(TimeDelta::days(7));
    let session = session::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user.id.clone()),
        session_token: Set(new_token()),
        expires: Set(expires),
        created_at: Set(now),
    };
    let session = Session::insert(session).exec_with_returning(db).await?;
    let token = state.tokens.sign(&Claims {
        sub: user.id.clone(),
        sid: session.id,
        role: user.role,
        iat: now.timestamp(),
        exp: expires.timestamp(),
    })?;
    Ok(NewSession { user, token, expires })
}

pub fn banned() -> AppError {
    AppError::forbidden("account_banned", "this account has been suspended")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        for ok in ["a@b.co", "first.last+tag@example.com", "用户@例子.中国", "x@sub-domain.example.org"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@b..com",
            "a@-b.com",
            ".a@b.com",
            "a@@b.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_BYTES));
        assert!(validate_email(&long).is_err());
        assert_eq!(normalize_email("  Someone@Example.COM "), "someone@example.com");
    }
}
