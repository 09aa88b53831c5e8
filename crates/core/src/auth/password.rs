//! Password rules and bcrypt, run on the blocking thread pool so a slow hash never stalls the
//! async workers that serve other requests.
//!
//! [`Hasher`] bounds that work: at most one hash per core runs at a time, and a bounded queue
//! waits for them. Without the bound, a burst of registrations started a bcrypt thread each;
//! they took every core, the serving thread starved, and requests that never touched bcrypt
//! timed out waiting for a database connection (a false 503 `database_unavailable`). Past the
//! queue a request gets 503 `overloaded` with a `Retry-After` from the measured hash time.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// Runs password hashes and checks one per core, with at most `queue` waiting.
pub struct Hasher {
    cost: u32,
    cores: Arc<Semaphore>,
    core_count: usize,
    queue: usize,
    /// Requests holding or waiting for a core.
    in_line: AtomicUsize,
    /// The last hash's duration, for `Retry-After`.
    last_micros: Arc<AtomicU64>,
}

impl Hasher {
    /// `queue` requests may wait beyond the ones running (one per core this process may use).
    pub fn new(cost: u32, queue: usize) -> Self {
        let core_count = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            cost,
            cores: Arc::new(Semaphore::new(core_count)),
            core_count,
            queue,
            in_line: AtomicUsize::new(0),
            last_micros: Arc::new(AtomicU64::new(50_000)),
        }
    }

    /// Hashes a password that passed [`validate_new_password`] (see [`hash`]).
    pub async fn hash(&self, password: String) -> AppResult<String> {
        let cost = self.cost;
        self.bounded(move || hash_now(&password, cost)).await?
    }

    /// See [`verify`].
    pub async fn verify(&self, password: String, stored_hash: Option<String>) -> AppResult<bool> {
        let cost = self.cost;
        self.bounded(move || verify_now(&password, stored_hash.as_deref(), cost)).await
    }

    /// Runs `work` on the blocking pool once a core is free. The core is held by the blocking
    /// thread itself, not by the request: a client that leaves mid-hash cannot free it while
    /// bcrypt still runs.
    async fn bounded<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let ahead = self.in_line.fetch_add(1, Ordering::SeqCst);
        let _in_line = InLine(&self.in_line);
        if ahead >= self.core_count + self.queue {
            let rounds = (ahead / self.core_count + 1) as u64;
            let retry_after = Duration::from_micros(self.last_micros.load(Ordering::Relaxed).saturating_mul(rounds));
            return Err(AppError::Overloaded { retry_after });
        }
        let core = self.cores.clone().acquire_owned().await.map_err(|err| AppError::Internal(err.into()))?;
        let last_micros = self.last_micros.clone();
        tokio::task::spawn_blocking(move || {
            let _core = core;
            let started = Instant::now();
            let result = work();
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            last_micros.store(took, Ordering::Relaxed);
            result
        })
        .await
        .map_err(|err| AppError::Internal(err.into()))
    }
}

/// Leaves the line when the request is done or dropped (its client went away).
struct InLine<'a>(&'a AtomicUsize);

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub const MIN_PASSWORD_CHARS: usize = 8;
/// bcrypt only reads 72 bytes; longer passwords are refused rather than silently cut.
pub const MAX_PASSWORD_BYTES: usize = 72;

pub fn validate_new_password(password: &str) -> AppResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::validation(
            "password_too_short",
            format!("the password must be at least {MIN_PASSWORD_CHARS} characters long"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::validation(
            "password_too_long",
            format!("the password must be at most {MAX_PASSWORD_BYTES} bytes long (UTF-8)"),
        ));
    }
    Ok(())
}

/// Hashes a password that passed [`validate_new_password`], on the blocking pool (without the
/// [`Hasher`]'s bound: for tools and tests).
///
/// bcrypt's key is the password plus a NUL terminator, capped at 72 bytes, so a password of
/// exactly 72 bytes still has every byte used; only the terminator is dropped. The bcrypt
/// crate's `non_truncating_hash` counts the terminator and would refuse such a password, so the
/// 72-byte rule is enforced here instead, and nothing of the password is ever cut off.
pub async fn hash(password: String, cost: u32) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_now(&password, cost))
        .await
        .map_err(|err| AppError::Internal(err.into()))?
}

fn hash_now(password: &str, cost: u32) -> AppResult<String> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::internal("refusing to hash a password bcrypt would truncate"));
    }
    bcrypt::hash(password, cost).map_err(|err| AppError::Internal(err.into()))
}

/// Checks `password` against `stored_hash`, or, when there is no such user, against a dummy
/// hash of the same cost so that unknown emails take as long as wrong passwords (on the
/// blocking pool, without the [`Hasher`]'s bound).
///
/// Passwords over 72 bytes never match: no account can have one (registration refuses them),
/// and comparing a truncated prefix would accept a password the user never chose.
pub async fn verify(password: String, stored_hash: Option<String>, cost: u32) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || verify_now(&password, stored_hash.as_deref(), cost))
        .await
        .map_err(|err| AppError::Internal(err.into()))
}

fn verify_now(password: &str, stored_hash: Option<&str>, cost: u32) -> bool {
    let too_long = password.len() > MAX_PASSWORD_BYTES;
    let candidate = if too_long { &password.as_bytes()[..MAX_PASSWORD_BYTES] } else { password.as_bytes() };
    match stored_hash {
        Some(hash) => {
            // `verify` (not `non_truncating_verify`) so hashes made by bcryptjs in the old
            // app keep working; the length check above keeps it from truncating.
            let matches = bcrypt::verify(candidate, hash).unwrap_or_else(|err| {
                tracing::warn!(error = %err, "stored password hash is unreadable");
                false
            });
            matches && !too_long
        }
        None => {
            let _ = bcrypt::verify(candidate, dummy_hash(cost));
            false
        }
    }
}

fn dummy_hash(cost: u32) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| bcrypt::hash("not a real password", cost).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert_eq!(validate_new_password("short").unwrap_err().code(), "password_too_short");
        assert!(validate_new_password("long enough").is_ok());
        // 8 characters but 24 bytes: characters count for the minimum.
        assert!(validate_new_password("密码密码密码密码").is_ok());
        assert!(validate_new_password(&"a".repeat(72)).is_ok());
        assert_eq!(validate_new_password(&"a".repeat(73)).unwrap_err().code(), "password_too_long");
        // 25 three-byte characters = 75 bytes.
        assert_eq!(validate_new_password(&"密".repeat(25)).unwrap_err().code(), "password_too_long");
    }

    #[tokio::test]
    async fn hashes_verify_and_long_passwords_never_match() {
        let password = "a".repeat(72);
        let hash = hash(password.clone(), 4).await.unwrap();
        assert!(verify(password.clone(), Some(hash.clone()), 4).await.unwrap());
        assert!(!verify(format!("{password}b"), Some(hash.clone()), 4).await.unwrap());
        assert!(!verify("wrong password".into(), Some(hash), 4).await.unwrap());
        assert!(!verify("whatever".into(), None, 4).await.unwrap());
        assert!(matches!(super::hash("a".repeat(73), 4).await, Err(AppError::Internal(_))));
    }

    #[tokio::test]
    async fn bcryptjs_hashes_verify() {
        // Made by bcryptjs 2.4 (`$2a$`), the library the seed's app hashed with.
        let ascii = "$2a$10$EnDzkak2bj/Ad3dpbGrYrOWR/XReto6GRAT8lL3lbCLgWgNFE.toW".to_string();
        assert!(verify("password123".into(), Some(ascii.clone()), 4).await.unwrap());
        assert!(!verify("password124".into(), Some(ascii), 4).await.unwrap());
        let unicode = "$2a$04$u.5I6DEZUlkw0QuMl1agrOXhbtfU.Awx4lnWj4qor3rkbetv3tu9S".to_string();
        assert!(verify("密码是秘密的password".into(), Some(unicode), 4).await.unwrap());
    }
}
