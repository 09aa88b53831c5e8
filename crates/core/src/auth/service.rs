//! Login and logout, and the session primitives: the rules, independent of HTTP.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, Query},
};
use serde::Deserialize;

use super::{AuthUser, token::Claims};
use crate::{
    audit::{self, Action},
    config::Config,
    entities::{AccountToken, Session, TokenPurpose, User, account_token, session, user},
    error::{AppError, AppResult},
    housekeeping::{self, Chore},
    http::ClientMeta,
    ids::{new_id, new_token},
    rate_limit::{self, Bucket, Held, Meter},
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

/// A freshly started session: the account and its signed token.
pub struct NewSession {
    pub user: user::Model,
    pub token: String,
    pub expires: DateTime<Utc>,
}

/// Emails compare case-insensitively and ignore surrounding spaces; full-width ASCII (what a
/// Chinese input method types in its full-width mode: `ａ＠ｂ．ｃｏｍ`) is read as ASCII, so it
/// is the same address, not a look-alike of it. The databases then compare bytes.
pub fn normalize_email(raw: &str) -> String {
    let ascii: String = raw
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect();
    ascii.trim().to_lowercase()
}

/// Characters that show nothing (zero-width spaces and joiners, direction marks, the soft
/// hyphen, the byte order mark): in an address they only make a look-alike of another.
fn invisible(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

pub fn validate_email(email: &str) -> AppResult<()> {
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
                && label.chars().all(|c| (c.is_alphanumeric() || c == '-') && !invisible(c))
        });
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !invisible(c) && !"@<>()[],;:\\\"".contains(c));
    if local_ok && domain_ok { Ok(()) } else { Err(invalid()) }
}

pub async fn login(state: &AppState, credentials: Credentials, client: &ClientMeta) -> AppResult<NewSession> {
    let email = normalize_email(&credentials.email);
    if email.len() > MAX_EMAIL_BYTES {
        return Err(AppError::validation("invalid_email", "please enter a valid email address"));
    }
    // Each attempt is charged before the password is checked (a burst cannot all be checked
    // before any is counted). The charges are held: they count once the attempt has failed,
    // and are taken back when it succeeds or ends any other way (the database failing, the
    // client leaving, the instance overloaded).
    let ip_key = client.ip_key();
    let meters = login_meters(&state.config, &ip_key, &email);
    let charges = match state.charge(&meters).await {
        Err(err @ AppError::RateLimited { .. }) => {
            let message = "login refused: too many failed logins";
            let entry = audit::Entry::new(Action::LoginRateLimited, None, message).about(&email);
            audit::record_refusal(state, entry, client).await;
            return Err(err);
        }
        other => Held::new(&state.db, other?),
    };

    let user = User::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?;
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let matches = state.hasher.verify(credentials.password, stored_hash).await?;

    // A failed login names the address it was for, not an actor: whoever tried is unknown, and
    // the account's own download must not carry a stranger's address and browser.
    let failed = || async {
        let entry = audit::Entry::new(Action::LoginFailed, None, "failed login").about(&email);
        audit::record(&state.db, &state.clock, entry, client).await?;
        Err::<NewSession, _>(invalid_credentials())
    };
    let Some(user) = user.filter(|_| matches) else {
        charges.keep();
        return failed().await;
    };

    if user.banned_at.is_some() {
        charges.release().await;
        // A refusal like a rate limit: the right password of a banned account can be sent again
        // and again (it counts as no failure), so its rows are aggregated too.
        let entry = audit::Entry::new(Action::LoginBlocked, Some(&user.id), "banned account tried to log in");
        audit::record_refusal(state, entry.about(&email), client).await;
        return Err(banned());
    }

    let txn = state.db.begin().await?;
    // The password just checked must still be the account's when the session is written: a
    // reset or a password change that committed meanwhile ended every session, and a session
    // started from the old password must not outlive it (nor one of an account banned
    // meanwhile). The session is written only if the account's row still holds that password
    // (one `INSERT … SELECT` that locks the row it reads): one that came first is seen here;
    // one that comes after ends this session too.
    let Some(session) = start_session_if_current(&txn, state, user, client).await? else {
        drop(txn);
        // Rarely here: the account changed while its password was checked.
        let now = User::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?;
        if now.is_some_and(|now| now.banned_at.is_some()) {
            charges.release().await;
            return Err(banned());
        }
        charges.keep();
        return failed().await;
    };
    let entry = audit::Entry::new(Action::Login, Some(&session.user.id), "logged in").about(&email);
    audit::record(&txn, &state.clock, entry, client).await?;
    // The account's failures are forgotten, and this attempt's charges taken back, at once.
    rate_limit::clear(&txn, Bucket::LoginAccount, &email, charges.ids()).await?;
    txn.commit().await?;
    charges.keep();
    sweep_sessions(state).await;
    Ok(session)
}

fn invalid_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "the email or password is incorrect")
}

/// The failed-login limits of a password check for `email` from `ip_key`: the login form's, and
/// every other place a password is checked (changing it, deleting the account).
pub fn login_meters<'a>(config: &Config, ip_key: &'a str, email: &'a str) -> Vec<Meter<'a>> {
    [
        Meter::new(Bucket::LoginIp, ip_key, config.login_limit_per_ip),
        Meter::new(Bucket::LoginAccount, email, config.login_limit_per_account),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Ends the caller's session, or every session of the caller with `all`.
pub async fn logout(state: &AppState, auth: &AuthUser, all: bool, client: &ClientMeta) -> AppResult<u64> {
    let revoked = if all {
        end_all_sessions(&state.db, &auth.user.id).await?
    } else {
        Session::delete_by_id(auth.session_id.clone()).exec(&state.db).await?.rows_affected
    };
    let scope = if all { "all sessions" } else { "this session" };
    let entry = audit::Entry::new(Action::Logout, Some(&auth.user.id), format!("logged out of {scope}"));
    audit::record(&state.db, &state.clock, entry, client).await?;
    Ok(revoked)
}

/// Deletes a batch of expired sessions (they no longer authenticate anyone), after each new
/// session, and now and then a batch of audit rows past their retention: housekeeping without
/// a scheduler. A failure is only logged.
pub async fn sweep_sessions(state: &AppState) {
    audit::sweep(state).await;
    let now = state.clock.now();
    if !state.chores.due(Chore::ExpiredSessions, now) {
        return;
    }
    let expired = Condition::all().add(session::Column::Expires.lte(now));
    let (id, expires) = (session::Column::Id, session::Column::Expires);
    if housekeeping::sweep::<Session>(&state.db, id, expired, expires, rate_limit::SWEEP_BATCH, "expired sessions")
        .await
    {
        state.chores.again(Chore::ExpiredSessions);
    }
}

/// Deletes every session of a user: their tokens stop working at once (logout everywhere, bans,
/// a password set anew). Outstanding reset links go too ([`void_reset_links`]).
pub async fn end_all_sessions(db: &impl ConnectionTrait, user_id: &str) -> AppResult<u64> {
    void_reset_links(db, user_id).await?;
    Ok(Session::delete_many().filter(session::Column::UserId.eq(user_id)).exec(db).await?.rows_affected)
}

/// Voids every outstanding password-reset link of the account: whatever ends sessions to lock
/// someone out (a password change or reset, "sign out everywhere", a ban) must not leave a link
/// mailed before it able to set the password afterwards. Found by a read and deleted by primary
/// key (a ranged DELETE would lock index gaps on InnoDB, as in `account::links`).
pub async fn void_reset_links(db: &impl ConnectionTrait, user_id: &str) -> AppResult<()> {
    let outstanding: Vec<String> = AccountToken::find()
        .select_only()
        .column(account_token::Column::Id)
        .filter(account_token::Column::UserId.eq(user_id))
        .filter(account_token::Column::Purpose.eq(TokenPurpose::PasswordReset))
        .into_tuple()
        .all(db)
        .await?;
    if !outstanding.is_empty() {
        AccountToken::delete_many().filter(account_token::Column::Id.is_in(outstanding)).exec(db).await?;
    }
    Ok(())
}

/// A new session of `user`, remembering the client it started from (the account's device list).
pub async fn start_session(
    db: &impl ConnectionTrait,
    state: &AppState,
    user: user::Model,
    client: &ClientMeta,
) -> AppResult<NewSession> {
    let session = new_session(state, &user, client);
    // Every field is known: no need to read the row back (MySQL would, in a second statement).
    Session::insert(session::ActiveModel::from(session.clone())).exec_without_returning(db).await?;
    signed(state, user, session)
}

/// [`start_session`] for an account whose password and standing `user` holds as it was read
/// before its password was checked: `None` (nothing written) when its row no longer holds that
/// password or it is banned or gone.
async fn start_session_if_current(
    db: &impl ConnectionTrait,
    state: &AppState,
    user: user::Model,
    client: &ClientMeta,
) -> AppResult<Option<NewSession>> {
    use session::Column;
    let session = new_session(state, &user, client);
    let values = Query::select()
        .exprs([
            Expr::val(session.id.clone()),
            Expr::val(session.user_id.clone()),
            Expr::val(session.session_token.clone()),
            Expr::val(session.expires),
            Expr::val(session.created_at),
            Expr::val(session.ip.clone()),
            Expr::val(session.user_agent.clone()),
            Expr::val(session.last_used_at),
        ])
        .from(User)
        .and_where(user::Column::Id.eq(&user.id))
        .and_where(user::Column::PasswordHash.eq(&user.password_hash))
        .and_where(user::Column::BannedAt.is_null())
        // A locking read, whatever the isolation level (RDS may run READ COMMITTED, where an
        // `INSERT … SELECT` reads without locking): a reset or a ban that holds the row is
        // waited for and then seen; one that comes later waits for this session, and ends it.
        // (SQLite writes one at a time, and has no such clause.)
        .lock_shared()
        .to_owned();
    let insert = Query::insert()
        .into_table(Session)
        .columns([
            Column::Id,
            Column::UserId,
            Column::SessionToken,
            Column::Expires,
            Column::CreatedAt,
            Column::Ip,
            Column::UserAgent,
            Column::LastUsedAt,
        ])
        .select_from(values)
        .map_err(|err| AppError::internal(format!("the session insert: {err}")))?
        .to_owned();
    if db.execute(&insert).await?.rows_affected() == 0 {
        return Ok(None);
    }
    signed(state, user, session).map(Some)
}

fn new_session(state: &AppState, user: &user::Model, client: &ClientMeta) -> session::Model {
    let now = state.clock.now();
    session::Model {
        id: new_id(),
        user_id: user.id.clone(),
        session_token: new_token(),
        expires: now + TimeDelta::from_std(state.config.session_ttl).unwrap_or(TimeDelta::days(7)),
        created_at: now,
        ip: client.ip.map(|ip| ip.to_string()),
        user_agent: client.user_agent.as_deref().map(audit::user_agent),
        last_used_at: Some(now),
    }
}

/// The token of a session just written.
fn signed(state: &AppState, user: user::Model, session: session::Model) -> AppResult<NewSession> {
    let token = state.tokens.sign(&Claims {
        sub: user.id.clone(),
        sid: session.id,
        role: user.role,
        iat: session.created_at.timestamp(),
        exp: session.expires.timestamp(),
    })?;
    Ok(NewSession { user, token, expires: session.expires })
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
        for look_alike in
            ["zw\u{200b}user@example.com", "a\u{feff}@example.com", "rtl\u{202e}@example.com", "a@exa\u{ad}mple.com"]
        {
            assert!(validate_email(&normalize_email(look_alike)).is_err(), "{look_alike:?}");
        }
        assert_eq!(normalize_email("\u{3000}ＢＯＳＳ＠Ｅｘａｍｐｌｅ．ｃｏｍ "), "boss@example.com");
        assert_eq!(normalize_email("bóss@example.com"), "bóss@example.com", "another address, not folded");
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_BYTES));
        assert!(validate_email(&long).is_err());
        assert_eq!(normalize_email("  Someone@Example.COM "), "someone@example.com");
    }
}
