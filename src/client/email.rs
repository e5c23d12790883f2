//! What the client sends (an envelope and a message) and what it learns (a receipt).

use super::error::{Error, ErrorKind};
use crate::address::Mailbox;
use crate::reply::Reply;

/// A message to send: the envelope (reverse path and recipients) and the message bytes
/// (headers and body, any line endings: they are normalised to CRLF on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The reverse path; `None` is the null sender `<>` (bounces).
    pub from: Option<Mailbox>,
    /// Recipients, in order.
    pub to: Vec<Mailbox>,
    /// The message.
    pub message: Vec<u8>,
}

impl Email {
    /// Builds an email from address strings (`""` or `"<>"` for the null sender). Addresses are
    /// checked now: a CR, LF or anything else that is not an RFC 5321 mailbox is refused
    /// before anything is sent.
    pub fn new(from: &str, to: &[&str], message: impl Into<Vec<u8>>) -> Result<Email, Error> {
        let parse = |s: &str| {
            let s = s.trim();
            let s = s
                .strip_prefix('<')
                .and_then(|s| s.strip_suffix('>'))
                .unwrap_or(s);
            Mailbox::parse(s).map_err(|e| {
                Error::new(ErrorKind::InvalidInput, format!("bad address {s:?}: {e}"))
                    .with_source(e)
            })
        };
        let from = match from.trim() {
            "" | "<>" => None,
            f => Some(parse(f)?),
        };
        if to.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "no recipient"));
        }
        let to = to.iter().map(|t| parse(t)).collect::<Result<Vec<_>, _>>()?;
        Ok(Email {
            from,
            to,
            message: message.into(),
        })
    }

    /// True when an address needs SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        self.from.iter().chain(&self.to).any(|m| !m.is_ascii())
    }

    /// True when the message has 8-bit bytes (BODY=8BITMIME is wanted).
    pub fn is_8bit(&self) -> bool {
        !self.message.is_ascii()
    }
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient.
    pub mailbox: Mailbox,
    /// For an accepted recipient, the final reply to the message (LMTP: its own reply after
    /// DATA); for a refused one, its RCPT reply.
    pub reply: Reply,
    /// The server took responsibility for the message for this recipient.
    pub delivered: bool,
}

/// How a send ended overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every recipient was accepted.
    Delivered,
    /// Some recipients were accepted, others refused.
    Partial,
}

/// A successful send: at least one recipient has the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The host that took the message.
    pub host: String,
    /// The server's final reply (SMTP: the reply after DATA; LMTP: the first accepted
    /// recipient's reply).
    pub reply: Reply,
    /// Every recipient, in the order given.
    pub recipients: Vec<RecipientResult>,
}

impl Receipt {
    /// Delivered to all, or only some.
    pub fn status(&self) -> Status {
        if self.recipients.iter().all(|r| r.delivered) {
            Status::Delivered
        } else {
            Status::Partial
        }
    }

    /// The recipients that were refused.
    pub fn refused(&self) -> impl Iterator<Item = &RecipientResult> {
        self.recipients.iter().filter(|r| !r.delivered)
    }
}
