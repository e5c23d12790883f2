//! The client's one error type: what kind of failure, on which host, with the server's reply.

use std::fmt;

use super::receipt::RecipientResult;
use crate::reply::Reply;

/// What kind of failure (gen_smtp's `temporary_failure`, `permanent_failure`,
/// `missing_requirement`, `unexpected_response`, `network_failure`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Connecting, reading or writing failed (refused, reset, closed).
    Network,
    /// A deadline passed.
    Timeout,
    /// The TLS handshake failed (including certificate verification).
    Tls,
    /// DNS could not say where to deliver (transient or permanent: see the message).
    Dns,
    /// The server answered 4xx: try again later.
    Transient,
    /// The server answered 5xx: do not retry this message as it is.
    Permanent,
    /// Something required is missing: TLS (policy `Required`), AUTH, SMTPUTF8, or the
    /// message is larger than the server's SIZE.
    MissingRequirement,
    /// The server said something that is not SMTP, or not the expected reply.
    UnexpectedReply,
    /// The connection was lost after the final dot: the server may or may not have the
    /// message. Never retried automatically (that could deliver it twice).
    StatusUnknown,
    /// The message or options cannot be sent as given (bad address, CR/LF in a name,
    /// credentials that would go out without TLS).
    InvalidInput,
}

/// A failed send: kind, host, the server's reply when there was one, and the per-recipient
/// results known so far.
#[derive(Debug)]
pub struct Error {
    // Boxed: an `Err` stays one pointer wide on every path.
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    host: Option<String>,
    reply: Option<Reply>,
    message: String,
    recipients: Vec<RecipientResult>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                host: None,
                reply: None,
                message: message.into(),
                recipients: Vec::new(),
                source: None,
            }),
        }
    }

    /// An error from a server reply: 4xx transient, 5xx permanent, anything else unexpected.
    pub(crate) fn from_reply(what: &str, reply: Reply) -> Self {
        let kind = match reply.code {
            400..=499 => ErrorKind::Transient,
            500..=599 => ErrorKind::Permanent,
            _ => ErrorKind::UnexpectedReply,
        };
        let mut e = Error::new(kind, format!("{what}: {reply}"));
        e.inner.reply = Some(reply);
        e
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// Adds what happened before this error (" (after ...)") to its message.
    pub(crate) fn with_context(mut self, context: &str) -> Self {
        self.inner.message.push_str(context);
        self
    }

    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.inner.kind = kind;
        self
    }

    pub(crate) fn with_host(mut self, host: &str) -> Self {
        if self.inner.host.is_none() {
            self.inner.host = Some(host.to_string());
        }
        self
    }

    pub(crate) fn with_recipients(mut self, recipients: Vec<RecipientResult>) -> Self {
        self.inner.recipients = recipients;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The host it happened on, when a host was involved.
    pub fn host(&self) -> Option<&str> {
        self.inner.host.as_deref()
    }

    /// The server's reply, when the failure was a reply.
    pub fn reply(&self) -> Option<&Reply> {
        self.inner.reply.as_ref()
    }

    /// Per-recipient results known when the send failed (refused recipients, or the
    /// recipients of a message whose data was refused).
    pub fn recipients(&self) -> &[RecipientResult] {
        &self.inner.recipients
    }

    /// Worth trying again later (network, timeout, TLS, DNS trouble, 4xx).
    pub fn is_transient(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Tls | ErrorKind::Transient => true,
            ErrorKind::Dns => !self.inner.message.contains("permanent"),
            _ => false,
        }
    }

    /// Will fail again as it is (5xx, missing requirement, invalid input).
    pub fn is_permanent(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Permanent | ErrorKind::MissingRequirement | ErrorKind::InvalidInput => true,
            ErrorKind::Dns => self.inner.message.contains("permanent"),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = &self.inner.host {
            write!(f, "{h}: ")?;
        }
        f.write_str(&self.inner.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
