//! Turning a configuration into a channel.

use std::time::Duration;

use crate::email::{EmailChannel, Mailer};
use crate::http::HttpChannel;
use crate::{
    Channel, ChannelConfig, ChannelKind, Message, Outcome, SmtpSettings, config::check_url,
    validate,
};

/// Builds the channel for a configuration. The HTTP client and the SMTP transport are built
/// once and shared; cloning a `Sender` is cheap.
///
/// HTTP requests time out after the given timeout, follow no redirects (a 3xx answer is a
/// failure), and identify themselves as `xiaoan-notify`.
#[derive(Clone)]
pub struct Sender {
    /// The shared client, or why it could not be built.
    http: Result<reqwest::Client, String>,
    /// The SMTP transport, or why it could not be built; `None` when email is not configured.
    mailer: Option<Result<Mailer, String>>,
}

impl Sender {
    /// A sender using `smtp` for email (none: email channels fail with "email is not
    /// configured") and `timeout` for each HTTP request.
    ///
    /// Never panics. If the HTTP client or the SMTP transport cannot be set up (no usable TLS
    /// roots, an invalid sender address), the problem is logged here and every delivery
    /// through the affected channels fails with it as the outcome's error.
    pub fn new(smtp: Option<SmtpSettings>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("xiaoan-notify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                tracing::error!(%error, "HTTP client for notifications could not be built");
                "the HTTP client could not be set up".to_owned()
            });
        let mailer = smtp.map(|settings| {
            Mailer::new(&settings).inspect_err(|why| {
                tracing::error!(host = %settings.host, error = %why, "SMTP transport could not be set up");
            })
        });
        Sender { http, mailer }
    }

    /// The channel `config` describes. A configuration [`validate`] refuses gives a channel
    /// whose every delivery fails with the refusal's code.
    pub fn channel(&self, config: &ChannelConfig) -> Box<dyn Channel> {
        if let Err(refused) = validate(config) {
            return Box::new(Refused(format!(
                "invalid configuration: {}",
                refused.code()
            )));
        }
        if config.kind == ChannelKind::Email {
            let mailer = match &self.mailer {
                Some(mailer) => mailer.clone(),
                None => Err("email is not configured".to_owned()),
            };
            return Box::new(EmailChannel {
                mailer,
                target: config.target().to_owned(),
            });
        }
        let client = match &self.http {
            Ok(client) => client.clone(),
            Err(why) => return Box::new(Refused(why.clone())),
        };
        match check_url(config.target()) {
            Ok(url) => Box::new(HttpChannel {
                kind: config.kind,
                client,
                url,
                secret: config.secret().map(str::to_owned),
            }),
            Err(refused) => Box::new(Refused(format!(
                "invalid configuration: {}",
                refused.code()
            ))),
        }
    }

    /// Delivers `message` once through the channel `config` describes.
    pub async fn send(&self, config: &ChannelConfig, message: &Message, now_ms: i64) -> Outcome {
        self.channel(config).deliver(message, now_ms).await
    }
}

/// A channel that cannot deliver, and says why.
struct Refused(String);

#[async_trait::async_trait]
impl Channel for Refused {
    async fn deliver(&self, _message: &Message, _now_ms: i64) -> Outcome {
        Outcome::failure(None, self.0.clone())
    }
}
