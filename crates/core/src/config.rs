//! Typed configuration, read once from the environment when a process starts.
//!
//! Every variable the backend reads is listed in [`Config::VARIABLES`] (the deploy checks use it)
//! and documented in the README. A missing or malformed value fails start-up with an error that
//! names the variable, rather than surfacing later as a confusing runtime failure.

use std::{fmt, str::FromStr, time::Duration};

use crate::rate_limit::{Bucket, Limit};

mod mail;
mod moderation;
mod storage;
mod thinking;
mod trust;

pub use mail::{EmailVerification, MailConfig, SmtpServer};
pub use moderation::{
    AliyunModeration, Failure as ModerationFailure, ModerationConfig, OpenAiModeration, Provider as ModerationProvider,
    RiskLevel,
};
pub use storage::{Backend as StorageBackend, MAX_PICTURES_PER_MESSAGE, ObjectStore, StorageConfig};
pub use thinking::{ThinkingConfig, ThinkingMode};
pub use trust::{HealthConsent, TERMS_VERSION_MAX, TrustConfig};

/// The smallest accepted HS256 secret: 32 bytes, as RFC 7518 §3.2 requires for HS256.
pub const MIN_SECRET_BYTES: usize = 32;

/// The longest session accepted. Besides being prudent, it keeps `sessions.expires` inside the
/// range MySQL can store through sqlx (which sends timestamps as TIMESTAMP values, 1970–2038).
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// How long audit rows are kept unless `AUDIT_RETENTION` says otherwise: 180 days, the six
/// months China's Cybersecurity Law (art. 21) asks network logs to be kept at least.
pub const AUDIT_RETENTION_DEFAULT: Duration = Duration::from_secs(180 * 24 * 3600);

/// The longest a streamed reply may run (`CHAT_REPLY_MAX`).
pub const MAX_REPLY: Duration = Duration::from_secs(30 * 60);

#[derive(Clone)]
pub struct Config {
    /// `mysql://user:pass@host:3306/db` or `sqlite://path/to/file.db?mode=rwc`.
    pub database_url: String,
    /// Connections per instance; mind RDS's limit × the number of FC instances.
    pub db_max_connections: u32,
    pub db_connect_timeout: Duration,
    /// HMAC key for session tokens (`JWT_SECRET`, or the seed's `NEXTAUTH_SECRET`).
    pub jwt_secret: Vec<u8>,
    pub session_ttl: Duration,
    pub bcrypt_cost: u32,
    /// Lower-cased emails that get the ADMIN role: at registration, or with mail configured once
    /// verified ([`Config::admin_at_registration`]).
    pub admin_emails: Vec<String>,
    /// Origins allowed by CORS; empty means same-origin only, `*` any origin (no credentials).
    pub allowed_origins: Vec<String>,
    pub login_limit_per_ip: Option<Limit>,
    pub login_limit_per_account: Option<Limit>,
    pub register_limit_per_ip: Option<Limit>,
    /// The chat model; `None` when `OPENAI_API_KEY` is unset (chat answers 503, the rest runs).
    pub llm: Option<LlmConfig>,
    /// Chat messages a USER may send per window (`CHAT_QUOTA_USER`, default 50/1d).
    pub chat_quota_user: Option<Limit>,
    /// Chat messages an ADMIN may send per window (`CHAT_QUOTA_ADMIN`, default off).
    pub chat_quota_admin: Option<Limit>,
    /// Streaming replies one user may have running at once, across all instances.
    pub chat_max_concurrent_streams: u32,
    /// How many stored messages (newest) the model sees as history.
    pub chat_history_window: u64,
    /// The longest a streamed reply may run (`CHAT_REPLY_MAX`); `None`: ten model timeouts.
    pub chat_reply_max: Option<Duration>,
    /// How many proxies in front of us append to `X-Forwarded-For` (`TRUST_PROXY_HOPS`, default
    /// 1: Function Compute's gateway). The client is the entry that many hops from the right;
    /// 0 ignores the header and takes the TCP peer.
    pub trust_proxy_hops: usize,
    /// Password checks that may wait for a CPU at once (`PASSWORD_HASH_QUEUE`); beyond it, 503
    /// `overloaded`.
    pub password_hash_queue: usize,
    /// Account mail (password reset, verification); `None` without SMTP: those answer 503.
    pub mail: Option<MailConfig>,
    pub email_verification: EmailVerification,
    /// Password-reset requests from one client IP (`RATE_LIMIT_RESET_IP`, default 10/1h).
    pub reset_limit_per_ip: Option<Limit>,
    /// Password-reset requests for one address (`RATE_LIMIT_RESET_ADDRESS`, default 3/1h).
    pub reset_limit_per_address: Option<Limit>,
    /// Verification mails one address may be sent (`RATE_LIMIT_VERIFY_MAIL`, default 5/1h).
    pub verify_mail_limit: Option<Limit>,
    /// How long audit rows are kept (`AUDIT_RETENTION`, default 180 days; `off`: for ever).
    pub audit_retention: Option<Duration>,
    /// Checks of what goes to the model and comes back; `None` (`MODERATION_PROVIDER=off`):
    /// nothing is checked (said loudly at start).
    pub moderation: Option<ModerationConfig>,
    /// Blocked messages one user may send per window before chat is refused for a while
    /// (`MODERATION_STRIKES`, default 5/1h).
    pub moderation_strikes: Option<Limit>,
    /// Readings one user may cast per window (`RATE_LIMIT_ORACLE_CASTS`, default 30/1d).
    pub oracle_casts: Option<Limit>,
    /// Constitution questionnaires one user may submit per window
    /// (`RATE_LIMIT_CONSTITUTION_ASSESSMENTS`, default 10/1d).
    pub constitution_assessments: Option<Limit>,
    /// The number a red-flag card says to call (`EMERGENCY_NUMBER`, default 120).
    pub emergency_number: String,
    /// The hotline of the self-harm card (`CRISIS_HOTLINE`, default 12356: China's national
    /// psychological assistance hotline).
    pub crisis_hotline: String,
    /// What the chat page says about the model and the service's filing (`MODEL_DISCLOSURE`,
    /// at most 200 characters), beside its AI label.
    pub model_disclosure: Option<String>,
    /// The service provider's name or code written as `ContentProducer` in the implicit AI
    /// labels of the exports (`SERVICE_PROVIDER`, default `oracle-tcm-chat`).
    pub service_provider: String,
    /// The terms and health-consent gates, and the report deadline (`TERMS_VERSION`,
    /// `HEALTH_CONSENT`, `REPORT_RESPONSE_DAYS`).
    pub trust: TrustConfig,
    /// Where attached pictures are kept (`STORAGE…`, `ATTACHMENT_…`); `None` (`STORAGE=off`): no
    /// pictures.
    pub storage: Option<StorageConfig>,
    /// Upload forms one user may be issued per window (`RATE_LIMIT_ATTACHMENT_UPLOADS`, default
    /// 100/1d).
    pub attachment_uploads: Option<Limit>,
}

/// An OpenAI-compatible chat-completions endpoint (OpenAI, DashScope, a local server…).
#[derive(Clone)]
pub struct LlmConfig {
    pub api_key: String,
    /// Including the version path, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    /// Upper bound on the reply's length (`max_tokens`).
    pub max_tokens: u32,
    /// How long to wait for the whole reply, or, when streaming, for each next piece.
    pub timeout: Duration,
    /// The model that writes conversation titles (`CHAT_TITLE_MODEL`; default the chat model);
    /// `None` (`off`): titles are cut from the first message.
    pub title_model: Option<String>,
    /// How often a call that failed with 429, a 5xx or a broken connection is sent again
    /// (`OPENAI_MAX_RETRIES`, default 1, at most [`MAX_OPENAI_RETRIES`]).
    pub max_retries: usize,
    /// Whether replies are thought through first, and by which model (`CHAT_THINKING*`).
    pub thinking: ThinkingConfig,
    /// The model that answers a turn whose branch shows pictures (`CHAT_VISION_MODEL`, default
    /// `OPENAI_MODEL`; `off`: pictures are not offered).
    pub vision_model: Option<String>,
    /// The model that observes a tongue photo (`CHAT_TONGUE_MODEL`, default the vision model).
    pub tongue_model: Option<String>,
}

/// The most retries `OPENAI_MAX_RETRIES` allows: each is a call the provider may bill.
pub const MAX_OPENAI_RETRIES: usize = 5;

pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is not set: {hint}")]
    Missing { name: &'static str, hint: &'static str },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    /// Every environment variable this struct reads.
    pub const VARIABLES: &'static [&'static str] = &[
        "DATABASE_URL",
        "DB_MAX_CONNECTIONS",
        "DB_CONNECT_TIMEOUT",
        "JWT_SECRET",
        "NEXTAUTH_SECRET",
        "SESSION_TTL",
        "BCRYPT_COST",
        "ADMIN_EMAILS",
        "ALLOWED_ORIGINS",
        "RATE_LIMIT_LOGIN_IP",
        "RATE_LIMIT_LOGIN_ACCOUNT",
        "RATE_LIMIT_REGISTER_IP",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_MODEL",
        "OPENAI_MAX_TOKENS",
        "OPENAI_TIMEOUT",
        "OPENAI_MAX_RETRIES",
        "CHAT_TITLE_MODEL",
        "CHAT_THINKING",
        "CHAT_THINKING_MODEL",
        "CHAT_THINKING_BUDGET",
        "CHAT_QUOTA_USER",
        "CHAT_QUOTA_ADMIN",
        "CHAT_MAX_CONCURRENT_STREAMS",
        "CHAT_HISTORY_WINDOW",
        "CHAT_REPLY_MAX",
        "TRUST_PROXY_HOPS",
        "PASSWORD_HASH_QUEUE",
        "SMTP_URL",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_TIMEOUT",
        "MAIL_FROM",
        "SITE_URL",
        "EMAIL_VERIFICATION",
        "RATE_LIMIT_RESET_IP",
        "RATE_LIMIT_RESET_ADDRESS",
        "RATE_LIMIT_VERIFY_MAIL",
        "AUDIT_RETENTION",
        "MODERATION_PROVIDER",
        "MODERATION_FAILURE",
        "MODERATION_TIMEOUT",
        "MODERATION_STRIKES",
        "MODERATION_ALIYUN_ENDPOINT",
        "MODERATION_ALIYUN_INPUT_SERVICE",
        "MODERATION_ALIYUN_OUTPUT_SERVICE",
        "MODERATION_ALIYUN_BLOCK_AT",
        "MODERATION_ALIYUN_IMAGE_SERVICE",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        "MODERATION_OPENAI_BASE_URL",
        "MODERATION_OPENAI_API_KEY",
        "MODERATION_OPENAI_MODEL",
        "RATE_LIMIT_ORACLE_CASTS",
        "RATE_LIMIT_CONSTITUTION_ASSESSMENTS",
        "TERMS_VERSION",
        "HEALTH_CONSENT",
        "REPORT_RESPONSE_DAYS",
        "EMERGENCY_NUMBER",
        "CRISIS_HOTLINE",
        "MODEL_DISCLOSURE",
        "SERVICE_PROVIDER",
        "CHAT_VISION_MODEL",
        "CHAT_TONGUE_MODEL",
        "STORAGE",
        "STORAGE_DIR",
        "STORAGE_BUCKET",
        "STORAGE_REGION",
        "STORAGE_ENDPOINT",
        "STORAGE_INTERNAL_ENDPOINT",
        "STORAGE_PATH_STYLE",
        "STORAGE_PREFIX",
        "STORAGE_ACCESS_KEY_ID",
        "STORAGE_SECRET_ACCESS_KEY",
        "STORAGE_SESSION_TOKEN",
        "ATTACHMENT_MAX_BYTES",
        "ATTACHMENT_QUOTA_BYTES",
        "ATTACHMENT_URL_TTL",
        "ATTACHMENT_MODEL_URL_TTL",
        "RATE_LIMIT_ATTACHMENT_UPLOADS",
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the process environment in production, a map
    /// in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);

        let database_url =
            env.required("DATABASE_URL", "set it to mysql://user:pass@host:3306/db or sqlite://file.db?mode=rwc")?;
        if !(database_url.starts_with("mysql://") || database_url.starts_with("sqlite:")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "expected a mysql:// or sqlite: URL".into(),
            });
        }

        let (secret_name, secret) = match (env.get("JWT_SECRET"), env.get("NEXTAUTH_SECRET")) {
            (Some(secret), _) => ("JWT_SECRET", secret),
            (None, Some(secret)) => ("NEXTAUTH_SECRET", secret),
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "JWT_SECRET",
                    hint: "set JWT_SECRET (or NEXTAUTH_SECRET) to 32+ random bytes, e.g. `openssl rand -hex 32`",
                });
            }
        };
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: secret_name,
                reason: format!("must be at least {MIN_SECRET_BYTES} bytes, got {}", secret.len()),
            });
        }

        let bcrypt_cost: u32 = env.parsed("BCRYPT_COST", 10)?;
        if !(4..=31).contains(&bcrypt_cost) {
            return Err(ConfigError::Invalid {
                name: "BCRYPT_COST",
                reason: format!("must be between 4 and 31, got {bcrypt_cost}"),
            });
        }

        let db_max_connections: u32 = env.parsed("DB_MAX_CONNECTIONS", 5)?;
        if db_max_connections == 0 {
            return Err(ConfigError::Invalid { name: "DB_MAX_CONNECTIONS", reason: "must be at least 1".into() });
        }

        let llm = match env.get("OPENAI_API_KEY") {
            None => None,
            Some(api_key) => {
                let base_url = env.get("OPENAI_BASE_URL").unwrap_or_else(|| DEFAULT_OPENAI_BASE_URL.to_string());
                if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                    return Err(ConfigError::Invalid {
                        name: "OPENAI_BASE_URL",
                        reason: format!("{base_url:?} is not an http(s) URL"),
                    });
                }
                let max_tokens: u32 = env.parsed("OPENAI_MAX_TOKENS", 1024)?;
                if max_tokens == 0 {
                    return Err(ConfigError::Invalid {
                        name: "OPENAI_MAX_TOKENS",
                        reason: "must be at least 1".into(),
                    });
                }
                let model = env.get("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".to_string());
                let title_model = match env.get("CHAT_TITLE_MODEL") {
                    None => Some(model.clone()),
                    Some(value) if value.eq_ignore_ascii_case("off") => None,
                    Some(value) => Some(value),
                };
                let thinking = thinking::read(&env, &model)?;
                let vision_model = match env.get("CHAT_VISION_MODEL") {
                    None => Some(model.clone()),
                    Some(value) if value.eq_ignore_ascii_case("off") => None,
                    Some(value) => Some(value),
                };
                let tongue_model = env.get("CHAT_TONGUE_MODEL").or_else(|| vision_model.clone());
                Some(LlmConfig {
                    thinking,
                    tongue_model,
                    vision_model,
                    api_key,
                    base_url: base_url.trim_end_matches('/').to_string(),
                    model,
                    max_tokens,
                    timeout: env.duration("OPENAI_TIMEOUT", Duration::from_secs(60))?,
                    title_model,
                    max_retries: match env.parsed("OPENAI_MAX_RETRIES", 1usize)? {
                        retries if retries > MAX_OPENAI_RETRIES => {
                            return Err(ConfigError::Invalid {
                                name: "OPENAI_MAX_RETRIES",
                                reason: format!("must be at most {MAX_OPENAI_RETRIES}"),
                            });
                        }
                        retries => retries,
                    },
                })
            }
        };
        let chat_reply_max = match env.get("CHAT_REPLY_MAX") {
            None => None,
            Some(raw) => match parse_duration(&raw) {
                Ok(longest) if longest <= MAX_REPLY => Some(longest),
                Ok(_) => {
                    return Err(ConfigError::Invalid {
                        name: "CHAT_REPLY_MAX",
                        reason: "must be at most 30 minutes".into(),
                    });
                }
                Err(reason) => return Err(ConfigError::Invalid { name: "CHAT_REPLY_MAX", reason }),
            },
        };
        let chat_history_window: u64 = env.parsed("CHAT_HISTORY_WINDOW", 20)?;
        if chat_history_window == 0 {
            return Err(ConfigError::Invalid { name: "CHAT_HISTORY_WINDOW", reason: "must be at least 1".into() });
        }

        let mail = mail::read(&env)?;
        let moderation = moderation::read(&env)?;
        let moderation_strikes = moderation::strikes(&env)?;
        let email_verification = mail::verification(&env, mail.as_ref())?;

        Ok(Self {
            database_url,
            db_max_connections,
            db_connect_timeout: env.duration("DB_CONNECT_TIMEOUT", Duration::from_secs(5))?,
            jwt_secret: secret.into_bytes(),
            session_ttl: match env.duration("SESSION_TTL", Duration::from_secs(7 * 24 * 3600))? {
                ttl if ttl > MAX_SESSION_TTL => {
                    return Err(ConfigError::Invalid {
                        name: "SESSION_TTL",
                        reason: "must be at most 366 days".into(),
                    });
                }
                ttl => ttl,
            },
            bcrypt_cost,
            admin_emails: env.list("ADMIN_EMAILS").into_iter().map(|email| email.to_lowercase()).collect(),
            allowed_origins: env.list("ALLOWED_ORIGINS"),
            login_limit_per_ip: env.limit("RATE_LIMIT_LOGIN_IP", "7/5m")?,
            login_limit_per_account: env.limit("RATE_LIMIT_LOGIN_ACCOUNT", "100/1h")?,
            register_limit_per_ip: env.limit("RATE_LIMIT_REGISTER_IP", "5/1h")?,
            llm,
            chat_quota_user: env.limit("CHAT_QUOTA_USER", "50/1d")?,
            chat_quota_admin: env.limit("CHAT_QUOTA_ADMIN", "off")?,
            chat_max_concurrent_streams: env.parsed("CHAT_MAX_CONCURRENT_STREAMS", 2)?,
            chat_history_window,
            chat_reply_max,
            trust_proxy_hops: env.parsed("TRUST_PROXY_HOPS", 1)?,
            password_hash_queue: env.parsed("PASSWORD_HASH_QUEUE", 64)?,
            mail,
            email_verification,
            reset_limit_per_ip: env.limit("RATE_LIMIT_RESET_IP", "10/1h")?,
            reset_limit_per_address: env.limit("RATE_LIMIT_RESET_ADDRESS", "3/1h")?,
            verify_mail_limit: env.limit("RATE_LIMIT_VERIFY_MAIL", "5/1h")?,
            audit_retention: match env.get("AUDIT_RETENTION") {
                Some(raw) if raw.trim().eq_ignore_ascii_case("off") => None,
                _ => Some(env.duration("AUDIT_RETENTION", AUDIT_RETENTION_DEFAULT)?),
            },
            moderation,
            moderation_strikes,
            oracle_casts: env.limit("RATE_LIMIT_ORACLE_CASTS", "30/1d")?,
            constitution_assessments: env.limit("RATE_LIMIT_CONSTITUTION_ASSESSMENTS", "10/1d")?,
            emergency_number: phone(&env, "EMERGENCY_NUMBER", "120")?,
            crisis_hotline: phone(&env, "CRISIS_HOTLINE", "12356")?,
            model_disclosure: match env.get("MODEL_DISCLOSURE") {
                Some(text) if text.chars().count() > 200 => {
                    return Err(ConfigError::Invalid {
                        name: "MODEL_DISCLOSURE",
                        reason: "must be at most 200 characters".into(),
                    });
                }
                text => text,
            },
            service_provider: env.get("SERVICE_PROVIDER").unwrap_or_else(|| "oracle-tcm-chat".into()),
            trust: trust::read(&env)?,
            storage: storage::read(&env)?,
            attachment_uploads: env.limit("RATE_LIMIT_ATTACHMENT_UPLOADS", "100/1d")?,
        })
    }

    /// How long a streaming reply may hold its slot: its lease, and the longest it may run (the
    /// relay ends it then), so a `Retry-After` computed from the leases is true.
    /// `CHAT_REPLY_MAX`, else ten waits on the model; at most 30 minutes.
    pub fn chat_stream_lease(&self) -> Duration {
        let per_chunk = self.llm.as_ref().map_or(Duration::from_secs(60), |llm| llm.timeout);
        self.chat_reply_max.unwrap_or_else(|| per_chunk.saturating_mul(10)).min(MAX_REPLY)
    }

    /// How long hits of `bucket` count under this configuration (the longest window that
    /// applies to it); `None` when no limit uses the bucket, so none of its hits count.
    pub fn bucket_retention(&self, bucket: Bucket) -> Option<Duration> {
        let window = |limit: Option<Limit>| limit.map(|limit| limit.window);
        match bucket {
            Bucket::LoginIp => window(self.login_limit_per_ip),
            Bucket::LoginAccount => window(self.login_limit_per_account),
            Bucket::RegisterIp => window(self.register_limit_per_ip),
            Bucket::ChatMessages => window(self.chat_quota_user).max(window(self.chat_quota_admin)),
            Bucket::ChatStreams => (self.chat_max_concurrent_streams > 0).then(|| self.chat_stream_lease()),
            Bucket::ResetIp => window(self.reset_limit_per_ip),
            Bucket::ResetAddress => window(self.reset_limit_per_address),
            Bucket::VerifyMail => window(self.verify_mail_limit),
            Bucket::ModerationStrikes => window(self.moderation_strikes),
            Bucket::OracleCasts => window(self.oracle_casts),
            Bucket::ConstitutionAssessments => window(self.constitution_assessments),
            Bucket::AttachmentUploads => window(self.attachment_uploads),
        }
    }

    /// Whether `ADMIN_EMAILS` makes an account an administrator at registration. With mail
    /// configured it waits for the address to be verified instead (whoever registers a listed
    /// address first would otherwise get the role).
    pub fn admin_at_registration(&self, normalized_email: &str) -> bool {
        self.mail.is_none() && self.is_admin_email(normalized_email)
    }

    pub fn is_admin_email(&self, normalized_email: &str) -> bool {
        self.admin_emails.iter().any(|admin| admin == normalized_email)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("db_max_connections", &self.db_max_connections)
            .field("jwt_secret", &"<redacted>")
            .field("session_ttl", &self.session_ttl)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("admin_emails", &self.admin_emails)
            .field("allowed_origins", &self.allowed_origins)
            .field("llm", &self.llm.as_ref().map(|llm| (&llm.base_url, &llm.model, "api_key: <redacted>")))
            .field("mail", &self.mail)
            .field("email_verification", &self.email_verification)
            .field("moderation", &self.moderation)
            .finish_non_exhaustive()
    }
}

/// `mysql://user:secret@host/db` → `mysql://user:***@host/db`, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|value| value.trim().to_string()).filter(|value| !value.is_empty())
    }

    fn required(&self, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, hint })
    }

    fn parsed<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => {
                raw.parse().map_err(|err: T::Err| ConfigError::Invalid { name, reason: format!("{raw:?}: {err}") })
            }
        }
    }

    fn duration(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => parse_duration(&raw).map_err(|reason| ConfigError::Invalid { name, reason }),
        }
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|raw| raw.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn limit(&self, name: &'static str, default: &str) -> Result<Option<Limit>, ConfigError> {
        let raw = self.get(name).unwrap_or_else(|| default.to_string());
        Limit::parse(&raw).map_err(|reason| ConfigError::Invalid { name, reason })
    }

    /// An `http(s)://host[:port]` origin, no path (a trailing `/` is dropped); `example` shows
    /// one in the error.
    fn origin(&self, name: &'static str, example: &str) -> Result<Option<String>, ConfigError> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        let rest =
            raw.split_once("://").filter(|(scheme, _)| matches!(*scheme, "http" | "https")).map(|(_, rest)| rest);
        match rest {
            Some(host) if !host.trim_end_matches('/').contains('/') && !host.is_empty() => {
                Ok(Some(raw.trim_end_matches('/').to_string()))
            }
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("{raw:?} is not an http(s) origin (no path) such as {example}"),
            }),
        }
    }

    /// The credentials that sign Alibaba Cloud calls: a RAM user's AccessKey, or on Function
    /// Compute the function role's temporary credentials, which FC sets in these variables.
    fn alibaba_credentials(&self) -> Result<crate::moderation::acs3::Credentials, ConfigError> {
        let hint = "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (on Function Compute, give the function a role: it sets them)";
        Ok(crate::moderation::acs3::Credentials {
            access_key_id: self.required("ALIBABA_CLOUD_ACCESS_KEY_ID", hint)?,
            access_key_secret: self.required("ALIBABA_CLOUD_ACCESS_KEY_SECRET", hint)?,
            security_token: self.get("ALIBABA_CLOUD_SECURITY_TOKEN"),
        })
    }
}

/// A number to call: digits, spaces, `+` and `-`, at most 20 characters.
fn phone(
    env: &Env<'_, impl Fn(&str) -> Option<String>>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let value = env.get(name).unwrap_or_else(|| default.to_string());
    let valid = value.chars().count() <= 20
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-'));
    if !valid {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("{value:?} is not a phone number such as {default}"),
        });
    }
    Ok(value)
}

/// `90s`, `15m`, `7d`, `1h 30m` (humantime), or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let duration = match raw.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(raw).map_err(|err| format!("{raw:?}: {err}"))?,
    };
    if duration.is_zero() {
        return Err(format!("{raw:?}: must be longer than zero"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests;
