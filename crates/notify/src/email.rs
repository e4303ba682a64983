//! Email over SMTP.

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::config::recipients;
use crate::{Channel, Message, Outcome};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP, no TLS (a relay on the same host or network only).
    None,
    /// Plain connection upgraded with STARTTLS, usually port 587; refuses servers without it.
    #[default]
    StartTls,
    /// TLS from the first byte ("SMTPS"), usually port 465.
    Tls,
}

impl SmtpSecurity {
    /// The lowercase name used in configuration files: `none`, `starttls` or `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "none",
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
        }
    }

    /// The mode named by [`as_str`](Self::as_str)'s spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [
            SmtpSecurity::None,
            SmtpSecurity::StartTls,
            SmtpSecurity::Tls,
        ]
        .into_iter()
        .find(|mode| mode.as_str() == s)
    }
}

/// The SMTP server email goes out through. `Debug` output hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// The server's host name (also the name its TLS certificate must carry).
    pub host: String,
    /// The server's port (25, 465 or 587, typically).
    pub port: u16,
    /// The sender, `noreply@school.example` or `校安 <noreply@school.example>`.
    pub from: String,
    /// How the connection is protected.
    pub security: SmtpSecurity,
    /// The login, when the server requires one (together with `password`).
    pub username: Option<String>,
    /// The password for `username`.
    pub password: Option<String>,
    /// How long one step (connecting, each SMTP command) may take; a whole message may take
    /// up to three times as long.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A ready SMTP transport and sender.
#[derive(Clone)]
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    deadline: Duration,
}

impl Mailer {
    /// The transport for `settings`, or why there cannot be one (safe to show and log).
    pub(crate) fn new(settings: &SmtpSettings) -> Result<Self, String> {
        let from: Mailbox = settings
            .from
            .trim()
            .parse()
            .map_err(|_| "the email sender address is not valid".to_owned())?;
        let host = settings.host.trim();
        let builder = match settings.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|error| format!("smtp tls setup failed: {error}"))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|error| format!("smtp tls setup failed: {error}"))?,
        };
        let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
        if let (Some(username), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            deadline: settings.timeout.saturating_mul(3),
        })
    }
}

/// An email channel: the mailer (or why there is none) and the recipients as configured.
pub(crate) struct EmailChannel {
    pub(crate) mailer: Result<Mailer, String>,
    pub(crate) target: String,
}

#[async_trait::async_trait]
impl Channel for EmailChannel {
    async fn deliver(&self, message: &Message, _now_ms: i64) -> Outcome {
        let outcome = self.send(message).await;
        if !outcome.ok {
            tracing::debug!(
                status = outcome.status,
                error = outcome.error.as_deref().unwrap_or(""),
                "email not delivered"
            );
        }
        outcome
    }
}

impl EmailChannel {
    async fn send(&self, message: &Message) -> Outcome {
        let mailer = match &self.mailer {
            Ok(mailer) => mailer,
            Err(why) => return Outcome::failure(None, why.clone()),
        };
        let Ok(to) = recipients(&self.target) else {
            return Outcome::failure(None, "a recipient address is not valid");
        };
        let mut text = message.body.clone();
        if let Some(link) = message
            .link
            .as_deref()
            .map(str::trim)
            .filter(|link| !link.is_empty())
        {
            text.push_str("\n\n");
            text.push_str(link);
        }
        let mut email = lettre::Message::builder().from(mailer.from.clone());
        for address in to {
            email = email.to(Mailbox::new(None, address));
        }
        let email = email
            .subject(message.title.trim())
            .header(ContentType::TEXT_PLAIN)
            .body(text);
        let email = match email {
            Ok(email) => email,
            Err(error) => {
                return Outcome::failure(None, format!("could not build the email: {error}"));
            }
        };
        match tokio::time::timeout(mailer.deadline, mailer.transport.send(email)).await {
            Ok(Ok(response)) => Outcome::success(Some(u16::from(response.code()))),
            Ok(Err(error)) => {
                Outcome::failure(error.status().map(u16::from), format!("smtp: {error}"))
            }
            Err(_) => Outcome::failure(None, "smtp: timed out"),
        }
    }
}
