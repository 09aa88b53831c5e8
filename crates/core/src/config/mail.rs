//! The mail settings of [`Config`](super::Config): where to send (SMTP), as whom, the site the
//! links point at, and whether addresses must be verified.
//!
//! SMTP is configured either as one URL (`SMTP_URL`, lettre's form: `smtps://user:pass@host:465`
//! for TLS from the first byte, `smtp://host:587?tls=required` for STARTTLS, `smtp://host:25`
//! for a plain relay on a trusted network) or by parts (`SMTP_HOST`, `SMTP_PORT`,
//! `SMTP_USERNAME`, `SMTP_PASSWORD`: TLS on port 465, STARTTLS on any other), which spares
//! percent-encoding a password. Alibaba Cloud DirectMail: `SMTP_HOST=smtpdm.aliyun.com`,
//! `SMTP_PORT=465` (README).

use std::{fmt, time::Duration};

use lettre::message::Mailbox;

use super::{ConfigError, Env};

/// Mail is configured: the email features work.
#[derive(Clone)]
pub struct MailConfig {
    pub smtp: SmtpServer,
    /// `MAIL_FROM`, e.g. `Oracle <noreply@mail.example.com>` (a DirectMail sender address).
    pub from: Mailbox,
    /// `SITE_URL`: the site's public address, the start of every link in a mail.
    pub site_url: String,
    /// How long one delivery may take (`SMTP_TIMEOUT`, default 10 s).
    pub timeout: Duration,
}

#[derive(Clone)]
pub enum SmtpServer {
    /// `SMTP_URL`, checked by lettre's parser at start.
    Url(String),
    Parts {
        host: String,
        port: u16,
        username: Option<String>,
        password: Option<String>,
    },
}

/// `EMAIL_VERIFICATION`: what an unverified address may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmailVerification {
    /// No verification mail; every account works as before.
    #[default]
    Off,
    /// A verification mail at registration and on request; unverified accounts work.
    Optional,
    /// As `optional`, and unverified accounts cannot chat (403 `email_unverified`).
    Required,
}

pub(super) fn read(env: &Env<'_, impl Fn(&str) -> Option<String>>) -> Result<Option<MailConfig>, ConfigError> {
    let smtp = match (env.get("SMTP_URL"), env.get("SMTP_HOST")) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                name: "SMTP_URL",
                reason: "set either SMTP_URL or SMTP_HOST (with SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD), not both"
                    .into(),
            });
        }
        (Some(url), None) => {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
                .map_err(|err| ConfigError::Invalid { name: "SMTP_URL", reason: err.to_string() })?;
            SmtpServer::Url(url)
        }
        (None, Some(host)) => SmtpServer::Parts {
            host: {
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::relay(&host)
                    .map_err(|err| ConfigError::Invalid { name: "SMTP_HOST", reason: err.to_string() })?;
                host
            },
            port: env.parsed("SMTP_PORT", 465)?,
            username: env.get("SMTP_USERNAME"),
            password: env.get("SMTP_PASSWORD"),
        },
    };
    let from = env
        .required("MAIL_FROM", "set the sender of account mail, e.g. `Oracle <noreply@mail.example.com>`")?
        .parse::<Mailbox>()
        .map_err(|err| ConfigError::Invalid { name: "MAIL_FROM", reason: err.to_string() })?;
    let site_url = env.required("SITE_URL", "set the site's public address (links in mail point there)")?;
    if !(site_url.starts_with("https://") || site_url.starts_with("http://")) {
        return Err(ConfigError::Invalid { name: "SITE_URL", reason: format!("{site_url:?} is not an http(s) URL") });
    }
    Ok(Some(MailConfig {
        smtp,
        from,
        site_url: site_url.trim_end_matches('/').to_string(),
        timeout: env.duration("SMTP_TIMEOUT", Duration::from_secs(10))?,
    }))
}

pub(super) fn verification(
    env: &Env<'_, impl Fn(&str) -> Option<String>>,
    mail: Option<&MailConfig>,
) -> Result<EmailVerification, ConfigError> {
    let name = "EMAIL_VERIFICATION";
    let mode = match env.get(name).map(|raw| raw.to_ascii_lowercase()).as_deref() {
        None | Some("off") => EmailVerification::Off,
        Some("optional") => EmailVerification::Optional,
        Some("required") => EmailVerification::Required,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("{other:?}: expected off, optional or required"),
            });
        }
    };
    if mode != EmailVerification::Off && mail.is_none() {
        return Err(ConfigError::Invalid {
            name,
            reason: "verification sends mail: configure SMTP_URL (or SMTP_HOST), MAIL_FROM and SITE_URL".into(),
        });
    }
    Ok(mode)
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = match &self.smtp {
            SmtpServer::Url(url) => super::redact_url(url),
            SmtpServer::Parts { host, port, .. } => format!("{host}:{port}"),
        };
        f.debug_struct("MailConfig")
            .field("smtp", &server)
            .field("from", &self.from.to_string())
            .field("site_url", &self.site_url)
            .finish_non_exhaustive()
    }
}
