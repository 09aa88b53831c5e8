//! Single-use links sent by mail: a password reset or an address verification.
//!
//! The mail carries a random token; the database keeps only its SHA-256 (`account_tokens`),
//! so reading the table (a backup, an export) opens no account. [`issue`] voids the account's
//! older links of the same purpose in the same transaction that stores the new one, and
//! [`redeem`] deletes the link it accepts with one `DELETE` by id that must affect one row: two
//! requests racing with the same link cannot both get it, on any number of instances.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr,
};
use sha2::{Digest, Sha256};

use crate::{
    entities::{AccountToken, TokenPurpose, User, account_token, user},
    error::{AppError, AppResult},
    housekeeping::{self, Chore},
    ids::{new_id, new_token},
    rate_limit,
    state::AppState,
};

/// How long a password-reset link works.
pub const RESET_LINK_TTL: TimeDelta = TimeDelta::minutes(30);
/// How long a verification link works.
pub const VERIFY_LINK_TTL: TimeDelta = TimeDelta::hours(24);

/// The longest token looked up: ours are 64 hex digits; anything else is refused unhashed.
const TOKEN_CHARS: usize = 64;

/// Stores a new link for `user` (voiding older ones of `purpose`) and returns the token for
/// the mail. Run it in a transaction (the one that decides the link should exist).
pub async fn issue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user: &user::Model,
    purpose: TokenPurpose,
) -> AppResult<String> {
    // Concurrent requests for one account queue on its row (an UPDATE that changes nothing
    // still locks it), and the older links are found by a read and deleted by primary key: a
    // ranged DELETE on the (user, purpose) index would take gap locks, on which two such
    // transactions deadlock on InnoDB.
    User::update_many()
        .col_expr(user::Column::UpdatedAt, Expr::col(user::Column::UpdatedAt))
        .filter(user::Column::Id.eq(&user.id))
        .exec(db)
        .await?;
    let older: Vec<String> = AccountToken::find()
        .select_only()
        .column(account_token::Column::Id)
        .filter(account_token::Column::UserId.eq(&user.id))
        .filter(account_token::Column::Purpose.eq(purpose))
        .into_tuple()
        .all(db)
        .await?;
    if !older.is_empty() {
        AccountToken::delete_many().filter(account_token::Column::Id.is_in(older)).exec(db).await?;
    }
    let token = new_token();
    let ttl = match purpose {
        TokenPurpose::PasswordReset => RESET_LINK_TTL,
        TokenPurpose::VerifyEmail => VERIFY_LINK_TTL,
    };
    AccountToken::insert(account_token::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user.id.clone()),
        purpose: Set(purpose),
        token_hash: Set(digest(&token)),
        email: Set(user.email.clone()),
        expires_at: Set(now + ttl),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// Whether `token` is a live link of `purpose`, without taking it: a cheap read that lets a
/// request with a dead link fail before any slow work (hashing the new password).
pub async fn check(db: &impl ConnectionTrait, now: DateTime<Utc>, purpose: TokenPurpose, token: &str) -> AppResult<()> {
    find(db, purpose, token).await?.filter(|link| link.expires_at > now).map(drop).ok_or_else(invalid_link)
}

async fn find(
    db: &impl ConnectionTrait,
    purpose: TokenPurpose,
    token: &str,
) -> AppResult<Option<account_token::Model>> {
    let token = token.trim();
    if token.len() != TOKEN_CHARS || !token.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let link = AccountToken::find()
        .filter(account_token::Column::TokenHash.eq(digest(&token.to_ascii_lowercase())))
        .one(db)
        .await?;
    Ok(link.filter(|link| link.purpose == purpose))
}

/// Takes the link `token` if it is a live one of `purpose`: the row is deleted, so run this in
/// the transaction that acts on it (a rollback gives the link back). 400 `invalid_link`
/// otherwise: unknown, used, replaced by a newer link, expired, or for another purpose.
pub async fn redeem(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    purpose: TokenPurpose,
    token: &str,
) -> AppResult<account_token::Model> {
    let link = find(db, purpose, token).await?.ok_or_else(invalid_link)?;
    let taken = AccountToken::delete_by_id(link.id.clone()).exec(db).await?.rows_affected;
    if taken != 1 || link.expires_at <= now {
        return Err(invalid_link());
    }
    Ok(link)
}

/// Deletes a batch of expired links (housekeeping after a new one, at most once a minute).
pub async fn sweep(state: &AppState) {
    let now = state.clock.now();
    if !state.chores.due(Chore::ExpiredLinks, now) {
        return;
    }
    let expired = Condition::all().add(account_token::Column::ExpiresAt.lte(now));
    let (id, expires) = (account_token::Column::Id, account_token::Column::ExpiresAt);
    let what = "expired account links";
    if housekeeping::sweep::<AccountToken>(&state.db, id, expired, expires, rate_limit::SWEEP_BATCH, what).await {
        state.chores.again(Chore::ExpiredLinks);
    }
}

pub fn invalid_link() -> AppError {
    AppError::bad_request("invalid_link", "this link is not valid: it was used, replaced by a newer one, or expired")
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}
