//! Account mail over SMTP (lettre, on rustls): the password-reset and verification letters.
//!
//! Each delivery opens its own connection (no pool: a Function Compute instance may be frozen
//! between requests, and a pooled connection would be dead when it thaws) and is bounded by
//! `SMTP_TIMEOUT`. Without SMTP configured there is no [`Mailer`], and the routes that would
//! send mail answer 503 `mail_unavailable` ([`unavailable`]); `appctl` covers them.

mod letters;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::authentication::Credentials,
};

pub use letters::Letter;

use crate::{
    config::{MailConfig, SmtpServer},
    error::AppError,
};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    site_url: String,
}

impl Mailer {
    /// The transport `config` describes; nothing is connected until the first delivery.
    pub fn new(config: &MailConfig) -> Result<Self, lettre::transport::smtp::Error> {
        let builder = match &config.smtp {
            SmtpServer::Url(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?,
            SmtpServer::Parts { host, port, username, password } => {
                // Port 465 is TLS from the first byte (DirectMail's SSL port); any other port
                // must upgrade with STARTTLS. A plain relay is only reachable through SMTP_URL.
                let builder = if *port == 465 {
                    AsyncSmtpTransport::<Tokio1Executor>::relay(host)?
                } else {
                    AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
                };
                let builder = builder.port(*port);
                match (username, password) {
                    (Some(username), password) => {
                        builder.credentials(Credentials::new(username.clone(), password.clone().unwrap_or_default()))
                    }
                    (None, _) => builder,
                }
            }
        };
        Ok(Self {
            transport: builder.timeout(Some(config.timeout)).build(),
            from: config.from.clone(),
            site_url: config.site_url.clone(),
        })
    }

    /// The address of a page of the site (`#/reset/<token>`): the token is in the fragment,
    /// which browsers send to no server (no access log or Referer carries it).
    pub fn link(&self, page: &str, token: &str) -> String {
        format!("{}/#/{page}/{token}", self.site_url)
    }

    pub fn site_url(&self) -> &str {
        &self.site_url
    }

    /// Delivers `letter` to `to`. A failure (refused, unreachable, timed out) is logged here and
    /// answered as 502 `mail_failed`.
    pub async fn send(&self, to: &str, letter: Letter) -> Result<(), AppError> {
        let failed = |reason: String| {
            tracing::warn!(%reason, "mail delivery failed");
            AppError::BadGateway {
                code: "mail_failed",
                message: "the mail could not be sent; please try again later".into(),
            }
        };
        let recipient: Mailbox = to.parse().map_err(|err: lettre::address::AddressError| failed(err.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(letter.subject)
            .multipart(MultiPart::alternative_plain_html(letter.text, letter.html))
            .map_err(|err| failed(err.to_string()))?;
        self.transport.send(message).await.map(drop).map_err(|err| failed(err.to_string()))
    }
}

/// 503 `mail_unavailable`: what a route that sends mail answers when SMTP is not configured.
pub fn unavailable() -> AppError {
    AppError::Unavailable {
        code: "mail_unavailable",
        message: "this server does not send mail; ask its operator (appctl reset-password, appctl verify-email)".into(),
    }
}
